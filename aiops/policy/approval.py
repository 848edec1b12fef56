"""The approval decision (DESIGN §4.6): one pure function shared by the local `merge` and the gate.

`decide(tier, reviews, membership, context)` folds the reviews to each reviewer's latest
non-comment state, counts only APPROVED reviews of the head commit by people who are neither the
author, the person who requested the recommendation, nor a bot, and assigns approvers to the
tier's required teams by a bipartite matching (one person counts once, whatever teams they are
in). A CHANGES_REQUESTED by a policy-team member, or a failed medium-tier safety check, fails;
missing approvals leave it pending. The `emergency` label shortens the SLA only, and only when a
tier-team member added it; `risk:` labels are never read. Logins compare case-insensitively.
Pure: membership, reviews and label events are given; nothing is fetched here.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from aiops.model.k8s import parse_time
from aiops.policy.safety import SafetyResult
from aiops.settings import Approvals, Settings, TierRule

DecisionState = Literal["success", "pending", "failure"]
DEFAULT_RULES: Mapping[str, TierRule] = Approvals().tiers
_IGNORED_STATES = frozenset({"COMMENTED", "PENDING"})
_KNOWN_STATES = frozenset({"APPROVED", "CHANGES_REQUESTED", "DISMISSED", *_IGNORED_STATES})


class ReviewLike(Protocol):
    """A review as forges report it (`aiops.gitops.forge.Review` has this shape)."""

    @property
    def login(self) -> str: ...

    @property
    def state(self) -> str: ...

    @property
    def commit_sha(self) -> str | None: ...

    @property
    def submitted_at(self) -> Any: ...


@dataclass(frozen=True)
class Review:
    """One submitted review: who, which state, on which commit, when (ISO 8601 or datetime)."""

    login: str
    state: str
    commit_sha: str | None = None
    submitted_at: Any = None


@dataclass(frozen=True)
class ApprovalContext:
    """Everything `decide` needs besides the reviews and the membership.

    `head_sha`: the PR's head commit; `author`: who opened it; `requested_by`: who asked for the
    recommendation (from the marker); `emergency_label_by`: the logins that added the `emergency`
    label now on the PR (from issue events); `labels`: the PR's labels (only reported, never
    trusted); `safety`: the medium-tier safety result for this diff.
    """

    head_sha: str
    author: str | None = None
    requested_by: str | None = None
    bots: tuple[str, ...] = ("aiops-bot[bot]", "github-actions[bot]")
    teams: Mapping[str, str] = field(
        default_factory=lambda: {"architects": "org/architects", "security": "org/security"}
    )
    tiers: Mapping[str, TierRule] = field(default_factory=lambda: dict(DEFAULT_RULES))
    emergency_label_by: tuple[str, ...] = ()
    emergency_sla_minutes: int = 5
    labels: tuple[str, ...] = ()
    safety: SafetyResult | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        head_sha: str,
        author: str | None = None,
        requested_by: str | None = None,
        emergency_label_by: Sequence[str] = (),
        labels: Sequence[str] = (),
        safety: SafetyResult | None = None,
    ) -> ApprovalContext:
        a = settings.approvals
        return cls(
            head_sha=head_sha,
            author=author,
            requested_by=requested_by,
            bots=tuple(a.bots),
            teams=dict(a.teams),
            tiers=dict(a.tiers),
            emergency_label_by=tuple(emergency_label_by),
            emergency_sla_minutes=a.emergency_sla_minutes,
            labels=tuple(labels),
            safety=safety,
        )


@dataclass(frozen=True)
class Approver:
    """An approval that counts: the person, the team it counts for, and when it was given."""

    login: str
    team: str
    at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"login": self.login, "team": self.team, "at": self.at}


@dataclass(frozen=True)
class Decision:
    """The outcome: state, whether approvals are complete, what is missing and why, in words."""

    tier: str
    state: DecisionState
    approved: bool
    missing: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    approvers: tuple[Approver, ...] = ()
    sla_minutes: int | None = None
    emergency: bool = False
    blockers: tuple[str, ...] = ()

    @property
    def description(self) -> str:
        """One line for the commit status (GitHub shows ~140 characters)."""
        if self.state == "failure":
            text = f"{self.tier}: " + "; ".join(self.blockers)
        elif self.state == "pending":
            text = f"{self.tier}: " + "; ".join(self.missing)
        elif self.approvers:
            text = f"{self.tier}: approved by " + ", ".join(f"{a.login} ({a.team})" for a in self.approvers)
        else:
            text = f"{self.tier}: no approval needed"
        return text if len(text) <= 140 else text[:139] + "…"

    def to_dict(self) -> dict[str, Any]:
        return {
            "tier": self.tier,
            "state": self.state,
            "approved": self.approved,
            "missing": list(self.missing),
            "blockers": list(self.blockers),
            "reasons": list(self.reasons),
            "approvers": [a.to_dict() for a in self.approvers],
            "sla_minutes": self.sla_minutes,
            "emergency": self.emergency,
            "description": self.description,
        }


def _key(login: str) -> str:
    return login.strip().lower()


def _time_text(value: Any) -> str | None:
    if value is None:
        return None
    t = parse_time(value)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ") if t is not None else str(value)


def fold_reviews(reviews: Sequence[ReviewLike]) -> dict[str, ReviewLike]:
    """Each reviewer's latest review that is not a plain comment (by submitted_at, else list order)."""
    indexed = list(enumerate(reviews))
    times = [parse_time(r.submitted_at) for _, r in indexed]
    if all(t is not None for t in times):
        indexed.sort(key=lambda pair: (times[pair[0]], pair[0]))
    latest: dict[str, ReviewLike] = {}
    for _, r in indexed:
        state = str(r.state).strip().upper()
        if state in _IGNORED_STATES or state not in _KNOWN_STATES:
            continue
        latest[_key(r.login)] = r
    return latest


def _is_bot(login: str, bots: Collection[str]) -> bool:
    k = _key(login)
    return k.endswith("[bot]") or any(k == _key(b) for b in bots)


def _match(teams: Sequence[str], candidates: Mapping[str, set[str]]) -> dict[str, str]:
    """Maximum bipartite matching team → person (Kuhn's augmenting paths; deterministic order)."""
    owner: dict[str, str] = {}  # person -> team

    def augment(team: str, seen: set[str]) -> bool:
        for person, their in candidates.items():
            if team not in their or person in seen:
                continue
            seen.add(person)
            if person not in owner or augment(owner[person], seen):
                owner[person] = team
                return True
        return False

    for team in teams:
        augment(team, set())
    return {team: person for person, team in owner.items()}


def decide(
    tier: str,
    reviews: Sequence[ReviewLike],
    membership: Mapping[str, Collection[str]],
    context: ApprovalContext,
) -> Decision:
    """Approved? What is still missing? (DESIGN §4.6). `membership`: team name or slug → logins."""
    reasons: list[str] = []
    blockers: list[str] = []
    if tier not in ("trivial", "low", "medium", "critical"):
        reasons.append(f"unknown tier {tier!r}: treated as critical")
        tier = "critical"
    rule = context.tiers.get(tier) or DEFAULT_RULES.get(tier) or TierRule()
    if tier == "trivial":
        rule = TierRule(require=(), sla_minutes=0, distinct_people=0)
    required = list(rule.require)

    def slug(team: str) -> str:
        return context.teams.get(team, team)

    def members(team: str) -> set[str]:
        found = membership.get(slug(team))
        if found is None:
            found = membership.get(team, ())
        return {_key(m) for m in found}

    policy_teams = list(context.teams) or required
    team_members = {t: members(t) for t in dict.fromkeys([*policy_teams, *required])}

    for label in context.labels:
        if label.lower().startswith("risk:") and label.lower() != f"risk:{tier}":
            reasons.append(f"label {label} ignored: the tier is {tier}, computed from the diff")

    author = _key(context.author) if context.author else None
    requester = _key(context.requested_by) if context.requested_by else None
    head = (context.head_sha or "").strip().lower()
    candidates: dict[str, set[str]] = {}
    display: dict[str, str] = {}
    when: dict[str, str | None] = {}
    for k, r in fold_reviews(reviews).items():
        who = r.login.strip()
        rstate = str(r.state).strip().upper()
        in_teams = {t for t, m in team_members.items() if k in m}
        if rstate == "DISMISSED":
            reasons.append(f"{who}'s review was dismissed: it does not count")
            continue
        if rstate == "CHANGES_REQUESTED":
            if _is_bot(who, context.bots):
                reasons.append(f"{who} (a bot) requested changes: noted, not blocking")
            elif in_teams:
                blockers.append(f"changes requested by {who} ({', '.join(sorted(in_teams))})")
            else:
                reasons.append(f"{who} requested changes but is in no policy team: noted, not blocking")
            continue
        # APPROVED
        if _is_bot(who, context.bots):
            reasons.append(f"{who}'s approval does not count: bots never approve")
            continue
        if author is not None and k == author:
            reasons.append(f"{who}'s approval does not count: {who} opened the PR")
            continue
        if requester is not None and k == requester:
            reasons.append(f"{who}'s approval does not count: {who} requested the recommendation")
            continue
        sha = (r.commit_sha or "").strip().lower()
        if not head or sha != head:
            reasons.append(
                f"{who} approved {sha[:7] or 'an unknown commit'}, not the head {head[:7]}:"
                " re-approve the head commit"
            )
            continue
        eligible = {t for t in in_teams if t in required} if required else in_teams
        if not eligible:
            wanted = ", ".join(required) if required else "any policy team"
            reasons.append(f"{who}'s approval does not count: not a member of {wanted}")
            continue
        candidates[k] = eligible
        display[k] = who
        when[k] = _time_text(r.submitted_at)

    matched = _match(required, candidates)
    approvers = [Approver(display[p], t, when[p]) for t in required if (p := matched.get(t))]
    used = set(matched.values())
    need = max(len(required), rule.distinct_people)
    extras = [p for p in candidates if p not in used]
    for p in extras[: max(0, need - len(used))]:
        approvers.append(Approver(display[p], sorted(candidates[p])[0], when[p]))

    missing: list[str] = []
    for t in required:
        if t in matched:
            continue
        why = ""
        shared = [display[p] for p in candidates if t in candidates[p]]
        if shared:
            why = f": {', '.join(shared)} already counted for another team (one person counts once)"
        missing.append(f"needs 1 approval from {t} ({slug(t)}){why}")
    if len(approvers) < need and len(matched) == len(required):
        more = need - len(approvers)
        missing.append(
            f"needs {more} more approval{'s' if more > 1 else ''} ({need} distinct people required)"
        )
    for a in approvers:
        reasons.append(f"{a.login} approved as {a.team}")

    if tier == "medium" and context.safety is not None:
        blockers.extend(f"safety: {p}" for p in context.safety.problems)
        reasons.extend(f"safety note: {n}" for n in context.safety.notes)

    emergency = False
    if context.emergency_label_by:
        tier_teams = required or policy_teams
        valid = [
            w
            for w in context.emergency_label_by
            if not _is_bot(w, context.bots) and any(_key(w) in team_members.get(t, set()) for t in tier_teams)
        ]
        if valid:
            emergency = True
            reasons.append(f"emergency label added by {valid[0]}: SLA shortened; approvals unchanged")
        else:
            who = ", ".join(context.emergency_label_by)
            reasons.append(
                f"emergency label added by {who}, not a member of {', '.join(tier_teams)}: ignored"
            )
    sla: int | None = None
    if tier != "trivial":
        sla = min(rule.sla_minutes, context.emergency_sla_minutes) if emergency else rule.sla_minutes

    approved = not missing
    state: DecisionState = "failure" if blockers else ("success" if approved else "pending")
    return Decision(
        tier=tier,
        state=state,
        approved=approved and not blockers,
        missing=tuple(missing),
        reasons=tuple(reasons),
        approvers=tuple(approvers),
        sla_minutes=sla,
        emergency=emergency,
        blockers=tuple(blockers),
    )
