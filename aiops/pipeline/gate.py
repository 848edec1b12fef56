"""`aiops gate`: the approval gate of one PR (DESIGN §4.6, §4.10) on GitHub or the local forge.

Reads what the PR really is — its files (tier recomputed by `aiops.policy.evaluate`, labels
ignored), reviews, head commit, the marker's `requested_by` and `sizing`, the authors of its
commits, team membership (GitHub: `get_team_membership`, state active; local: the policy's
`approvals.members`) and who added the `emergency` label — under the policy of the *base* branch
(`merge.policy_of`, so a PR cannot loosen its own gate). Then it acts on the one decision: a wrong
`risk:` label is corrected, ONE commit status `aiops/approval-gate` is posted on the head commit
(skipped when the same one is already there), ONE explanatory comment is upserted, and a trivial
PR that passed is merged by the App when `approvals.auto_merge_trivial` is on. Idempotent: a
second run with nothing new posts nothing and writes no comment.

Stricter than `policy.decide` alone in two ways, both fail-closed: a person who pushed commits to
the PR cannot approve it (self-approval by pushing onto the bot's branch), and an aiops PR whose
`aiops:meta` marker was altered or removed fails (the requester could otherwise hide).
Must not: check out or run PR code, trust labels, or read the policy from the PR's head.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from aiops.errors import AiopsError
from aiops.gitops.forge import CommitStatus, Forge, Proposal, Review
from aiops.gitops.local import META_FILE, PROPOSAL_REFS, LocalForge
from aiops.model.changes import ChangeSet
from aiops.pipeline.merge import change_set_of, policy_of, reverted_change
from aiops.policy import GateResult, evaluate
from aiops.policy.approval import Decision
from aiops.settings import Settings

STATUS_CONTEXT = "aiops/approval-gate"
COMMENT_NAME = "gate"
EMERGENCY_LABEL = "emergency"
RISK_PREFIX = "risk:"
MAX_REASONS = 25


class GateHost(Protocol):
    """What the gate needs besides the `Forge` port: membership, label actors, commit authors, merge."""

    def active_members(self, slug: str, logins: Sequence[str]) -> set[str]:
        """Which of `logins` are active members of team `slug` (org/team)."""
        ...

    def label_added_by(self, number: int, label: str) -> list[str]:
        """Who added `label` (now on the PR); empty when unknown."""
        ...

    def commit_authors(self, number: int) -> list[str]:
        """Authors of the PR's commits."""
        ...

    def merge(self, number: int, sha: str, *, message: str) -> str | None:
        """Merge as the aiops App / bot, only if the head is still `sha`; the merge sha."""
        ...


class LocalHost:
    """The local forge: members from `approvals.members`, label events from the proposal record."""

    def __init__(self, forge: LocalForge, settings: Settings) -> None:
        self.forge = forge
        self.settings = settings

    def active_members(self, slug: str, logins: Sequence[str]) -> set[str]:
        members = {m.lower() for m in self.settings.approvals.members.get(slug, ())}
        return {login for login in logins if login.lower() in members}

    def label_added_by(self, number: int, label: str) -> list[str]:
        """From `label_events` [{label, action: labeled|unlabeled, actor}] of the proposal, if recorded."""
        import json

        text = self.forge.git.show(f"{PROPOSAL_REFS}{number}", META_FILE)
        events = (json.loads(text).get("label_events") if text else None) or []
        actor: str | None = None
        for ev in events:
            if not isinstance(ev, dict) or str(ev.get("label", "")).lower() != label.lower():
                continue
            actor = str(ev.get("actor") or "") or None if ev.get("action") == "labeled" else None
        return [actor] if actor else []

    def commit_authors(self, number: int) -> list[str]:
        from aiops.pipeline.merge import commit_authors

        return list(commit_authors(self.forge, self.forge.get_proposal(number)))

    def merge(self, number: int, sha: str, *, message: str) -> str | None:
        from aiops.gitops.git import BOT_NAME

        if self.forge.get_proposal(number).head_sha != sha:
            return None
        return self.forge.merge(number, by=BOT_NAME, message_extra=message).merge_sha


class GitHubHost:
    """GitHub: membership, issue events, PR commits and the App's merge through `GitHubAdmin`."""

    def __init__(self, admin: Any) -> None:
        self.admin = admin

    def active_members(self, slug: str, logins: Sequence[str]) -> set[str]:
        return {login for login in logins if self.admin.is_active_member(slug, login)}

    def label_added_by(self, number: int, label: str) -> list[str]:
        return list(self.admin.label_added_by(number, label))

    def commit_authors(self, number: int) -> list[str]:
        return list(self.admin.commit_authors(number))

    def merge(self, number: int, sha: str, *, message: str) -> str | None:
        result = self.admin.merge(number, sha, title=message.splitlines()[0] if message else None)
        return str(result) if result else None


@dataclass(frozen=True)
class GateOutcome:
    """What the gate decided and what it did about it."""

    number: int
    head_sha: str
    open: bool
    result: GateResult | None = None
    status_posted: bool = False
    comment_changed: bool = False
    label_correction: tuple[tuple[str, ...], str] | None = None
    merged_sha: str | None = None
    extra_reasons: tuple[str, ...] = ()
    url: str = ""
    comment: str = ""

    @property
    def decision(self) -> Decision | None:
        return self.result.decision if self.result else None

    @property
    def exit_code(self) -> int:
        return 1 if self.decision is not None and self.decision.state == "failure" else 0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "pr": self.number,
            "head_sha": self.head_sha,
            "open": self.open,
            "context": STATUS_CONTEXT,
            "status_posted": self.status_posted,
            "comment_changed": self.comment_changed,
            "label_corrected": (
                {"from": list(self.label_correction[0]), "to": self.label_correction[1]}
                if self.label_correction
                else None
            ),
            "merged_sha": self.merged_sha,
            "gate_notes": list(self.extra_reasons),
        }
        if self.result is not None:
            out.update(self.result.to_dict())
        return out


def _key(login: str) -> str:
    return login.strip().lower()


def _is_bot(login: str, settings: Settings) -> bool:
    k = _key(login)
    return k.endswith("[bot]") or any(k == _key(b) for b in settings.approvals.bots)


def _membership(host: GateHost, settings: Settings, logins: Sequence[str]) -> dict[str, tuple[str, ...]]:
    people = sorted({x for x in logins if x and not _is_bot(x, settings)}, key=_key)
    slugs = dict.fromkeys(settings.approvals.teams.values())
    return {slug: tuple(sorted(host.active_members(slug, people), key=_key)) for slug in slugs}


def _marker_problem(forge: Forge, p: Proposal, settings: Settings, cs: ChangeSet) -> str | None:
    """An aiops PR must carry its intact marker (who requested it, the sizing evidence), and the
    marker must agree with the recommendation record the bot committed: a PR body can be edited
    without a commit, so an edited `requested_by` or `sizing` would otherwise go unseen."""
    if not _is_bot(p.author, settings):
        return None
    from aiops.phr.render import MarkerError, decode_marker, parse_record

    meta: Mapping[str, Any] | None
    if forge.name == "github":
        try:
            meta = decode_marker(p.body)
        except MarkerError as exc:
            return f"{exc.message}: the requester and sizing evidence cannot be trusted"
        if meta is None:
            return "the aiops:meta marker was removed from the PR body: the requester cannot be known"
    else:
        meta = p.meta
    record_id = str(meta.get("id") or "")
    for f in cs.files:
        if not (record_id and f.old_text is None and f.new_text is not None):
            continue
        if not f.path.endswith(f"/{record_id}--recommendation.md"):
            continue
        try:
            front = parse_record(f.new_text, where=f.path).front
        except AiopsError:
            return f"{f.path}: the recommendation record does not parse; the marker cannot be checked"
        for key in ("requested_by", "sizing"):
            if key in front and front.get(key) != meta.get(key):
                return (
                    f"the PR body's aiops:meta `{key}` differs from the committed record {f.path}:"
                    " the marker was edited"
                )
    return None


@dataclass(frozen=True)
class Evaluated:
    """One PR as the gate read and judged it (no writes made)."""

    proposal: Proposal
    result: GateResult
    notes: tuple[str, ...]
    change_set: ChangeSet


def evaluate_pr(
    forge: Forge,
    host: GateHost,
    number: int,
    settings: Settings | None = None,
    *,
    proposal: Proposal | None = None,
) -> Evaluated:
    """The gate decision of PR N (no writes): the proposal, the result, the gate's notes, the change set."""
    p = proposal if proposal is not None and proposal.number == number else forge.get_proposal(number)
    settings = settings or policy_of(forge)
    cs = change_set_of(forge, p)
    complete_fn = getattr(forge, "changed_files_complete", None)
    complete = bool(complete_fn(number)) if callable(complete_fn) else True
    reviews = forge.reviews(number)
    authors = host.commit_authors(number)
    others = [a for a in authors if _key(a) != _key(p.author)]
    pushers = {_key(a) for a in others if not _is_bot(a, settings)}
    notes: list[str] = []
    counted: list[Review] = []
    for r in reviews:
        if _key(r.login) in pushers and r.state.upper() == "APPROVED":
            notes.append(f"{r.login}'s approval does not count: {r.login} pushed commits to this PR")
            continue
        counted.append(r)
    emergency_by: list[str] = []
    if any(label.lower() == EMERGENCY_LABEL for label in p.labels):
        emergency_by = host.label_added_by(number, EMERGENCY_LABEL)
        if not emergency_by:
            notes.append("emergency label: who added it is not recorded, so it is ignored")
    candidates = [r.login for r in counted if r.state.upper() in ("APPROVED", "CHANGES_REQUESTED")]
    membership = _membership(host, settings, [*candidates, *emergency_by])
    sizing = p.meta.get("sizing")
    requested_by = str(p.meta.get("requested_by") or "") or None
    result = evaluate(
        cs,
        settings=settings,
        reviews=counted,
        membership=membership,
        head_sha=p.head_sha,
        requested_by=requested_by,
        sizing=sizing if isinstance(sizing, Mapping) else None,
        # risk labels are corrected and said by the gate itself (one stable line in the comment)
        labels=[label for label in p.labels if not label.lower().startswith(RISK_PREFIX)],
        emergency_label_by=emergency_by,
        commit_authors=others,
        reverted=reverted_change(forge, cs),
        complete=complete,
    )
    problem = _marker_problem(forge, p, settings, cs)
    if problem is not None:
        d = result.decision
        result = replace(
            result, decision=replace(d, state="failure", approved=False, blockers=(*d.blockers, problem))
        )
    return Evaluated(p, result, tuple(notes), cs)


def own_logins(forge: Forge) -> set[str]:
    """The login aiops posts and comments as (a status or comment by anyone else is not ours)."""
    if isinstance(forge, LocalForge):
        from aiops.gitops.git import BOT_NAME

        return {_key(BOT_NAME)}
    login = getattr(forge, "bot_login", None)
    return {_key(login)} if isinstance(login, str) and login else set()


def _risk_labels(labels: Sequence[str]) -> list[str]:
    return [label for label in labels if label.lower().startswith(RISK_PREFIX)]


def render_comment(
    outcome_tier: str,
    result: GateResult,
    *,
    notes: Sequence[str] = (),
    correction_line: str | None = None,
    merged: bool = False,
) -> str:
    """The explanatory comment (deterministic: the same decision gives the same bytes)."""
    from aiops.phr.render import escape_text

    d = result.decision
    lines = [f"### aiops approval gate: {d.state} ({outcome_tier} tier)", ""]
    lines.append(f"`{STATUS_CONTEXT}` is **{d.state}**: {escape_text(d.description)}")
    lines.append("")
    if d.blockers:
        lines.append("**Blocking**")
        lines.extend(f"- {escape_text(b)}" for b in d.blockers)
        lines.append("")
    if d.missing:
        lines.append("**Still needed**")
        lines.extend(f"- {escape_text(m)}" for m in d.missing)
        lines.append("")
    elif not d.blockers:
        lines.append("**Still needed**: nothing." + (" Merged by the aiops App." if merged else ""))
        lines.append("")
    if d.approvers:
        lines.append(
            "**Approvals counted**: " + ", ".join(f"{escape_text(a.login)} ({a.team})" for a in d.approvers)
        )
        lines.append("")
    if correction_line:
        lines.append(correction_line)
        lines.append("")
    if d.sla_minutes is not None:
        sla = f"**SLA**: {d.sla_minutes} min"
        if d.emergency:
            sla += " (emergency label by a tier-team member)"
        lines.append(sla)
        lines.append("")
    lines.append(f"**Why {outcome_tier}** (computed from the files, most restrictive first):")
    reasons = list(result.tier.reasons)
    lines.extend(f"- {escape_text(r)}" for r in reasons[:MAX_REASONS])
    if len(reasons) > MAX_REASONS:
        lines.append(f"- … and {len(reasons) - MAX_REASONS} more")
    extra = [*notes, *result.tier.notes, *d.reasons]
    if result.safety is not None:
        extra.extend(f"safety: {p}" for p in result.safety.problems if f"safety: {p}" not in d.blockers)
    if extra:
        lines.append("")
        lines.append("<details><summary>Review notes</summary>")
        lines.append("")
        lines.extend(f"- {escape_text(x)}" for x in dict.fromkeys(extra))
        lines.append("")
        lines.append("</details>")
    return "\n".join(lines) + "\n"


def run_gate(
    forge: Forge,
    host: GateHost,
    number: int,
    *,
    settings: Settings | None = None,
    target_url: str | None = None,
    dry_run: bool = False,
) -> GateOutcome:
    """Decide PR N, correct its risk label, post the status and the comment, merge trivial ones."""
    settings = settings or policy_of(forge)
    p0 = forge.get_proposal(number)
    if p0.state != "open":
        return GateOutcome(number=number, head_sha=p0.head_sha, open=False, url=p0.url)
    ev = evaluate_pr(forge, host, number, settings, proposal=p0)
    p, result, notes = ev.proposal, ev.result, ev.notes
    d = result.decision
    tier = d.tier
    wanted = f"{RISK_PREFIX}{tier}"
    current = _risk_labels(p.labels)
    correction: tuple[tuple[str, ...], str] | None = None
    if current != [wanted]:
        correction = (tuple(current), wanted)
        if not dry_run:
            keep = [label for label in p.labels if not label.lower().startswith(RISK_PREFIX)]
            forge.set_labels(number, [*keep, wanted])
    url = target_url or p.url or None
    status = CommitStatus(STATUS_CONTEXT, d.state, d.description, target_url=url)
    posted = False
    if not dry_run:
        own = own_logins(forge)
        latest = [
            s
            for s in forge.statuses(p.head_sha)
            if s.context == STATUS_CONTEXT and (not own or _key(s.creator or "") in own)
        ]
        same = latest and (latest[-1].state, latest[-1].description, latest[-1].target_url or None) == (
            status.state,
            status.description,
            status.target_url,
        )
        if not same:
            forge.set_status(p.head_sha, status)
            posted = True
    merged_sha: str | None = None
    if not dry_run and tier == "trivial" and d.state == "success" and settings.approvals.auto_merge_trivial:
        try:
            merged_sha = host.merge(
                number, p.head_sha, message=f"aiops: merge trivial #{number} (the approval gate passed)"
            )
        except AiopsError as exc:  # the status is posted; say why it is not merged, do not fail the run
            notes = (*notes, f"auto-merge of this trivial PR failed: {exc.message}")
        if merged_sha is None and not any(n.startswith("auto-merge") for n in notes):
            notes = (*notes, "auto-merge skipped: the head moved since it was judged")
    if correction is not None:
        line: str | None = correction_text(correction)
    else:
        line = _previous_correction(forge, number, wanted)
    body = render_comment(tier, result, notes=notes, correction_line=line, merged=merged_sha is not None)
    changed = False if dry_run else forge.upsert_comment(number, COMMENT_NAME, body)
    return GateOutcome(
        number=number,
        head_sha=p.head_sha,
        open=True,
        result=result,
        status_posted=posted,
        comment_changed=changed,
        label_correction=correction,
        merged_sha=merged_sha,
        extra_reasons=notes,
        url=p.url,
        comment=body,
    )


def correction_text(correction: tuple[Sequence[str], str]) -> str:
    """The comment line that says a wrong `risk:` label was corrected."""
    from aiops.phr.render import inline_code

    old = ", ".join(inline_code(x) for x in correction[0]) or "no risk label"
    return (
        f"**Label corrected**: {old} → {inline_code(correction[1])}"
        " (the tier is computed from the diff; labels are not read)."
    )


def _previous_correction(forge: Forge, number: int, wanted: str) -> str | None:
    """Keep saying a correction an earlier run made, so a re-run leaves the comment unchanged."""
    from aiops.phr.render import comment_marker, inline_code

    marker = comment_marker(COMMENT_NAME)
    own = own_logins(forge)
    for c in forge.comments(number):
        if marker not in c.body or (own and _key(c.author) not in own):
            continue
        for line in c.body.splitlines():
            if line.startswith("**Label corrected**:") and f"→ {inline_code(wanted)} (" in line:
                return line
    return None
