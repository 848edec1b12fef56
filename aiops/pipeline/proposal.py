"""The propose flow (DESIGN §4.4–§4.8): recommendations become proposals (pull requests) on a forge.

For each recommendation it plans the file changes against the forge's base branch (files are read
through the `Forge` port, so the GitHub forge needs no checkout), refuses changes to paths the
policy keeps out of reach of automation (exit 4), classifies the tier, writes the recommendation
PHR and the PR body with its `aiops:meta` marker, and then opens, updates or leaves alone the one
proposal per key, by the rules of DESIGN §4.4/§4.8: an open proposal changes only when a proposed
value moved by more than the hysteresis or the set of keys changed; a person's commits on the
branch are never overwritten (a comment, once); a proposal closed unmerged is "snoozed" until the
proposal changes or `snooze_days` pass; a `cleared` skip closes the open proposal of its key; the
rate limits defer, they are not errors. It keeps the `proposals` section of the dashboard issue
(built from state, not from actions). Running it twice writes nothing the second time.

It talks only to the `Forge` protocol (local git or GitHub) and to the pure planner, policy and
PHR renderer; it never touches a work tree and, with `dry_run`, writes nothing at all.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from aiops.errors import InputError, PolicyRefusal
from aiops.gitops.forge import Forge, Proposal
from aiops.model.changes import ChangeSet, FileChange
from aiops.model.findings import Finding
from aiops.model.k8s import parse_time
from aiops.model.phr import decision_id, record_path
from aiops.model.quantity import parse_cpu, parse_memory
from aiops.model.recommendations import Recommendation, Skipped
from aiops.model.snapshot import Snapshot
from aiops.redact import redact
from aiops.settings import Settings

DEFAULT_BOT = "aiops-bot[bot]"
BLOCKED_COMMENT = "update-blocked"
DASHBOARD_SECTION = "proposals"
CLEARED_COMMENT = "cleared"


# ---- small pure rules -----------------------------------------------------------------------


def forbidden_path(path: str) -> str | None:
    """Why the planner may never write `path` (policy refusal, exit 4), or None when it may.

    Automation writes values and manifests only: never the tool, the workflows and the policy
    (`.github/`, `aiops/`, `CODEOWNERS`), never git internals, never a record it did not create
    in this same proposal (`history/`), and nothing outside the repository.
    """
    raw = path.replace("\\", "/")
    parts = raw.split("/")
    if not raw or raw.startswith("/") or ".." in parts or "" in parts or "." in parts or raw != path:
        return f"{path}: not a plain relative path inside the repository"
    low = raw.lower()
    if low.startswith(".github/"):
        return f"{path}: under .github/ (workflows and the aiops policy)"
    if low.startswith("aiops/"):
        return f"{path}: under aiops/ (the tool and its gate)"
    if low.startswith(".git/") or parts[0].lower() == ".git":
        return f"{path}: git internals"
    if parts[-1].lower() == "codeowners":
        return f"{path}: CODEOWNERS decides who must review"
    if low.startswith("history/"):
        return f"{path}: records under history/ are written by aiops' own stages only"
    return None


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def _number(value: Any, key: str) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        return None
    last = key.rsplit(".", 1)[-1].lower()
    try:
        if last == "cpu":
            return parse_cpu(value, field=key)
        if last in ("memory", "ephemeral-storage", "storage"):
            return parse_memory(value, field=key)
    except InputError:
        return None
    return None


def real_change(old: Mapping[str, Any] | None, new: Mapping[str, Any], hysteresis: float) -> str | None:
    """Why an open proposal carrying `old` must be updated to `new` (DESIGN §4.4), or None.

    A real change is a different set of keys, or a value that moved by more than the hysteresis
    (numbers and Kubernetes quantities, relative to the old value), or any other value that differs.
    """
    a, b = _flatten(dict(old or {})), _flatten(dict(new))
    if set(a) != set(b):
        added, gone = sorted(set(b) - set(a)), sorted(set(a) - set(b))
        what = [f"+{k}" for k in added] + [f"-{k}" for k in gone]
        return "the set of changed keys differs: " + ", ".join(what)
    for key in sorted(b):
        x, y = a[key], b[key]
        nx, ny = _number(x, key), _number(y, key)
        if nx is not None and ny is not None:
            base = abs(nx) if nx else 0.0
            moved = abs(ny - nx) / base if base else (math.inf if ny != nx else 0.0)
            if moved > hysteresis + 1e-12:
                return f"{key}: {x} → {y} ({moved:.0%} > {hysteresis:.0%})"
            continue
        if x != y:
            return f"{key}: {x!r} → {y!r}"
    return None


def needs_text(tier: str, settings: Settings) -> list[str]:
    """What approval a tier needs, in words, from the policy."""
    if tier == "trivial":
        return ["no approval (trivial tier)"]
    rule = settings.approvals.tiers.get(tier)
    if rule is None:
        return [f"tier {tier}: see the policy"]
    out = [
        f"one approval from a member of {team} ({settings.approvals.teams.get(team, team)})"
        for team in rule.require
    ]
    if rule.distinct_people > 1:
        out.append(f"{rule.distinct_people} distinct people, neither the author, the requester nor a bot")
    out.append(f"SLA {rule.sla_minutes} min")
    return out


def reviewers_for(tier: str, settings: Settings) -> list[str]:
    """Team slugs to request reviews from (the policy's teams for the tier)."""
    if tier == "trivial":
        return []
    rule = settings.approvals.tiers.get(tier)
    teams = rule.require if rule else tuple(settings.approvals.teams)
    return [settings.approvals.teams.get(t, t) for t in teams]


def bot_login(settings: Settings) -> str:
    return settings.approvals.bots[0] if settings.approvals.bots else DEFAULT_BOT


def default_requester(forge: Forge, login: str | None) -> str | None:
    """`--as`, else GITHUB_ACTOR on GitHub, else the local forge's identity (git user.name)."""
    if login:
        return login
    if forge.name == "github":
        return os.environ.get("GITHUB_ACTOR") or None
    actor = getattr(forge, "actor", None)
    return str(actor) if actor else None


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def _when(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        t = parse_time(text)
    except (InputError, ValueError):
        return None
    return _aware(t) if t is not None else None


# ---- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProposalLine:
    """What happened to one recommendation (or skip): one output line."""

    action: str  # opened updated unchanged commented snoozed deferred skipped closed refused (+ would-…)
    key: str
    kind: str
    target: str
    reason: str = ""
    number: int | None = None
    id: str | None = None
    tier: str | None = None
    url: str | None = None
    branch: str | None = None
    tier_reasons: tuple[str, ...] = ()
    diff: str = ""
    body: str = ""
    files: tuple[str, ...] = ()
    recommendation: Mapping[str, Any] | None = None  # with `id`, `tier` and `changes` filled

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "action": self.action,
            "key": self.key,
            "kind": self.kind,
            "target": self.target,
            "number": self.number,
            "id": self.id,
            "tier": self.tier,
            "reason": self.reason,
            "url": self.url,
            "branch": self.branch,
            "files": list(self.files),
        }
        if self.tier_reasons:
            out["tier_reasons"] = list(self.tier_reasons)
        if self.diff:
            out["diff"] = self.diff
        if self.body:
            out["body"] = self.body
        if self.recommendation is not None:
            out["recommendation"] = dict(self.recommendation)
        return out

    def line(self) -> str:
        verb = self.action.replace("-", " ")
        head = f"{verb} #{self.number}" if self.number is not None else verb
        text = f"{head}: {self.kind} {self.target}"
        if self.tier:
            text += f" [{self.tier}]"
        if self.reason:
            text += f" — {self.reason}"
        return text


@dataclass(frozen=True)
class ProposeResult:
    lines: tuple[ProposalLine, ...]
    dry_run: bool = False
    notes: tuple[str, ...] = ()

    @property
    def refused(self) -> tuple[ProposalLine, ...]:
        return tuple(ln for ln in self.lines if ln.action == "refused")

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "proposals": [ln.to_dict() for ln in self.lines],
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class ProposeOptions:
    dry_run: bool = False
    requested_by: str | None = None
    now: datetime | None = None
    render: bool = True  # the rendered `helm template` diff when helm is available


# ---- reading through the forge ------------------------------------------------------------------


class ForgeReader:
    """Reads base-branch files through the forge, each at most once per run."""

    def __init__(self, forge: Forge) -> None:
        self.forge = forge
        self._cache: dict[str, str | None] = {}

    def __call__(self, path: str) -> str | None:
        if path not in self._cache:
            self._cache[path] = self.forge.read_file(path)
        return self._cache[path]

    def tree(self, directory: str) -> dict[str, str | bytes] | None:
        prefix = directory.rstrip("/") + "/"
        paths = self.forge.list_files(prefix)
        if not paths:
            return None
        out: dict[str, str | bytes] = {}
        for p in paths:
            text = self(p)
            if text is not None:
                out[p[len(prefix) :] if p.startswith(prefix) else p] = text
        return out


# ---- the flow -----------------------------------------------------------------------------------


@dataclass
class _State:
    """Proposals known at the start of the run, and what this run added (rate limits, ids)."""

    proposals: list[Proposal]
    opened_now: set[int] = field(default_factory=set)  # numbers opened by this run
    dry_opened: int = 0  # proposals a dry run would open
    ids: set[str] = field(default_factory=set)

    def of_key(self, key: str, state: str) -> list[Proposal]:
        return [p for p in self.proposals if p.key == key and p.state == state]


@dataclass(frozen=True)
class _Built:
    rec: Recommendation
    record_id: str
    tier: str
    tier_reasons: tuple[str, ...]
    files: dict[str, str | None]
    body: str
    meta: dict[str, Any]
    message: str
    title: str
    diff: str


def _target_text(rec: Recommendation | Skipped) -> str:
    t = rec.target
    return f"{t.namespace}/{t.name}" if t.namespace else t.name


def _line(rec: Recommendation | Skipped, action: str, reason: str = "", **kw: Any) -> ProposalLine:
    return ProposalLine(
        action=action, key=rec.key, kind=rec.kind, target=_target_text(rec), reason=reason, **kw
    )


def run_propose(
    recommendations: Sequence[Recommendation],
    skipped: Sequence[Skipped],
    *,
    forge: Forge,
    settings: Settings,
    snapshot: Snapshot | None = None,
    findings: Sequence[Finding] = (),
    options: ProposeOptions = ProposeOptions(),
) -> ProposeResult:
    """Turn recommendations and skips into proposal actions on `forge` (see the module docstring)."""
    from aiops.gitops.plan import plan

    now = _aware(options.now or datetime.now(UTC))
    requester = default_requester(forge, options.requested_by)
    reader = ForgeReader(forge)
    state = _State(proposals=list(forge.find_proposals(state="all")))
    state.ids = {p.id for p in state.proposals if p.id}
    lines: list[ProposalLine] = []
    notes: list[str] = []
    base_sha: str | None = None

    for rec in recommendations:
        live = snapshot.get(rec.target.kind, rec.target.namespace, rec.target.name) if snapshot else None
        planned = plan(
            rec, settings=settings, read_file=reader, live=live, at=snapshot.at if snapshot else now
        )
        if isinstance(planned, Skipped):
            lines.append(_line(rec, "skipped", f"{planned.cause}: {planned.reason}"))
            if planned.snippet:
                notes.append(f"{rec.key}: map it with:\n{planned.snippet}")
            continue
        changes = tuple(planned)
        refusals = [r for r in (forbidden_path(p) for fc in changes for p in _paths(fc)) if r]
        if refusals:
            lines.append(_line(rec, "refused", "; ".join(refusals)))
            continue
        open_now = state.of_key(rec.key, "open")
        if not changes:
            if open_now:
                p = open_now[0]
                lines.append(
                    _line(
                        rec,
                        "unchanged",
                        f"{forge_base(forge)} already holds these values",
                        number=p.number,
                        id=p.id,
                        url=p.url,
                        branch=p.branch,
                    )
                )
            else:
                lines.append(_line(rec, "skipped", f"{forge_base(forge)} already holds these values"))
            continue
        hysteresis = settings.rightsizing.hysteresis
        if open_now:
            lines.append(
                _update(
                    rec,
                    changes,
                    open_now[0],
                    forge=forge,
                    settings=settings,
                    reader=reader,
                    requester=requester,
                    now=now,
                    options=options,
                    findings=findings,
                    hysteresis=hysteresis,
                )
            )
            continue
        snooze = _snoozed(rec, state, forge=forge, settings=settings, now=now)
        if snooze is not None:
            lines.append(snooze)
            continue
        deferred = _rate_limited(state, settings, now)
        if deferred:
            lines.append(_line(rec, "deferred", deferred))
            continue
        if base_sha is None:
            base_sha = forge.base_sha()
        record_id = _new_id(rec.key, now, state, reader)
        built = _build(
            rec,
            changes,
            record_id=record_id,
            settings=settings,
            reader=reader,
            requester=requester,
            now=now,
            base_sha=base_sha,
            findings=findings,
            render=options.render,
        )
        branch = f"aiops/{rec.key}"
        if options.dry_run:
            lines.append(_built_line(built, "would-open", "", branch=branch))
            state.dry_opened += 1
            continue
        p = forge.propose(
            branch=branch,
            title=built.title,
            body=built.body,
            files=built.files,
            message=built.message,
            labels=[f"risk:{built.tier}"],
            reviewers=reviewers_for(built.tier, settings),
            meta=built.meta,
        )
        state.opened_now.add(p.number)
        state.ids.add(record_id)
        state.proposals.append(p)
        lines.append(_built_line(built, "opened", "", number=p.number, url=p.url, branch=p.branch))

    for sk in skipped:
        if sk.cause != "cleared":
            lines.append(_line(sk, "skipped", f"{sk.cause}: {sk.reason}"))
            continue
        closing = state.of_key(sk.key, "open")
        if not closing:
            lines.append(_line(sk, "skipped", f"cleared: {sk.reason}"))
            continue
        for p in closing:
            text = (
                f"<!-- aiops:comment:{CLEARED_COMMENT} -->\n"
                f"Closed by aiops: the condition this proposal addressed has cleared — {redact(sk.reason)}"
            )
            if not options.dry_run:
                forge.close_proposal(p.number, comment=text)
            lines.append(
                _line(
                    sk,
                    "would-close" if options.dry_run else "closed",
                    f"cleared: {sk.reason}",
                    number=p.number,
                    id=p.id,
                    url=p.url,
                    branch=p.branch,
                )
            )
    if not options.dry_run and not any(ln.action == "refused" for ln in lines):
        forge.upsert_dashboard(DASHBOARD_SECTION, dashboard_section(state, lines))
    return ProposeResult(tuple(lines), options.dry_run, tuple(notes))


def dashboard_section(state: _State, lines: Sequence[ProposalLine]) -> str:
    """The `proposals` section of the dashboard issue: open proposals, then what waits and why.

    Built from state, not from this run's actions, so an unchanged run renders the same text (and
    the forge's upsert writes nothing).
    """
    from aiops.phr import cell

    closed_now = {ln.number for ln in lines if ln.action == "closed"}
    tiers = {ln.number: ln.tier for ln in lines if ln.action == "updated"}
    rows = []
    for p in sorted(state.proposals, key=lambda q: q.number):
        if p.state != "open" or p.number in closed_now:
            continue
        t = p.meta.get("target")
        where = (
            f"{t.get('namespace')}/{t.get('name')}"
            if isinstance(t, Mapping) and t.get("namespace")
            else p.title
        )
        tier = tiers.get(p.number) or p.meta.get("tier") or "-"
        kind = p.meta.get("kind") or "-"
        rows.append(f"| #{p.number} | {cell(kind)} | {cell(where)} | {cell(tier)} | {cell(p.branch)} |")
    out = ["### Proposals", ""]
    if rows:
        out += ["| # | Kind | Target | Tier | Branch |", "|---|---|---|---|---|", *rows]
    else:
        out.append("No open proposals.")
    waiting = [ln for ln in lines if ln.action in ("snoozed", "deferred")]
    if waiting:
        out += ["", "Waiting:", ""]
        out += [f"- {ln.action}: {cell(ln.kind)} {cell(ln.target)}: {cell(ln.reason)}" for ln in waiting]
    return "\n".join(out) + "\n"


def forge_base(forge: Forge) -> str:
    return str(getattr(forge, "base", None) or "the base branch")


def _paths(fc: FileChange) -> list[str]:
    return [fc.path, *([fc.old_path] if fc.old_path and fc.old_path != fc.path else [])]


def _built_line(built: _Built, action: str, reason: str, **kw: Any) -> ProposalLine:
    return _line(
        built.rec,
        action,
        reason,
        id=built.record_id,
        tier=built.tier,
        tier_reasons=built.tier_reasons,
        diff=built.diff,
        body=built.body,
        files=tuple(sorted(built.files)),
        recommendation=built.rec.to_dict(),
        **kw,
    )


def _new_id(key: str, now: datetime, state: _State, reader: ForgeReader) -> str:
    """`<yyyymmdd>-<key>`; a later decision on the same key the same day gets `-2`, `-3`, …"""
    base = decision_id(now, key)
    n = 1
    while True:
        candidate = base if n == 1 else f"{base}-{n}"
        if candidate not in state.ids and reader(record_path(candidate, "recommendation", now)) is None:
            return candidate
        n += 1


def _snoozed(
    rec: Recommendation, state: _State, *, forge: Forge, settings: Settings, now: datetime
) -> ProposalLine | None:
    # a "no" is a proposal closed unmerged, or a merged one whose revert was merged (rolled back)
    ended: list[tuple[Proposal, datetime | None]] = [
        (p, _when(p.closed_at)) for p in state.of_key(rec.key, "closed")
    ]
    for p in state.of_key(rec.key, "merged"):
        for r in state.proposals:
            if r.state == "merged" and r.meta.get("revert_of") == p.number:
                ended.append((p, _when(r.merged_at)))
    if not ended:
        return None
    latest, closed_at = max(ended, key=lambda e: (e[1] or datetime.max.replace(tzinfo=UTC), e[0].number))
    days = settings.proposals.snooze_days
    if closed_at is not None and now - closed_at >= timedelta(days=days):
        return None
    if latest.state == "closed" and any(
        f"aiops:comment:{CLEARED_COMMENT}" in c.body for c in forge.comments(latest.number)
    ):
        return None  # aiops closed it because the condition cleared: not a person's "no"
    proposed = latest.meta.get("proposed")
    change = real_change(
        proposed if isinstance(proposed, Mapping) else None, rec.proposed, settings.rightsizing.hysteresis
    )
    if change is not None:
        return None
    until = (closed_at + timedelta(days=days)).strftime("%Y-%m-%d") if closed_at else "the proposal changes"
    return _line(
        rec,
        "snoozed",
        f"#{latest.number} was {'closed unmerged' if latest.state == 'closed' else 'rolled back'};"
        f" snoozed until {until} or a real change",
        number=latest.number,
        id=latest.id,
        url=latest.url,
        branch=latest.branch,
    )


def _rate_limited(state: _State, settings: Settings, now: datetime) -> str | None:
    limits = settings.proposals
    open_count = sum(1 for p in state.proposals if p.state == "open") + state.dry_opened
    if open_count >= limits.max_open:
        return f"proposals.max_open {limits.max_open} reached ({open_count} open)"
    hour_ago = now - timedelta(hours=1)
    recent = state.dry_opened + sum(
        1
        for p in state.proposals
        if p.number in state.opened_now or (_when(p.created_at) or hour_ago) > hour_ago
    )
    if recent >= limits.max_per_hour:
        return f"proposals.max_per_hour {limits.max_per_hour} reached ({recent} in the last hour)"
    return None


def _update(
    rec: Recommendation,
    changes: tuple[FileChange, ...],
    p: Proposal,
    *,
    forge: Forge,
    settings: Settings,
    reader: ForgeReader,
    requester: str | None,
    now: datetime,
    options: ProposeOptions,
    findings: Sequence[Finding],
    hysteresis: float,
) -> ProposalLine:
    proposed = p.meta.get("proposed")
    why = real_change(proposed if isinstance(proposed, Mapping) else None, rec.proposed, hysteresis)
    common = {"number": p.number, "url": p.url, "branch": p.branch}
    if why is None:
        return _line(
            rec,
            "unchanged",
            "no value moved beyond the hysteresis",
            id=p.id,
            tier=str(p.meta.get("tier") or "") or None,
            **common,
        )
    record_id = p.id or decision_id(now, rec.key)
    built = _build(
        rec,
        changes,
        record_id=record_id,
        settings=settings,
        reader=reader,
        requester=str(p.meta.get("requested_by") or "") or requester,
        now=now,
        base_sha=forge.base_sha(),
        findings=findings,
        render=options.render,
    )
    if options.dry_run:
        return _built_line(built, "would-update", why, **common)
    try:
        forge.update_proposal(
            p.number,
            title=built.title,
            body=built.body,
            files=built.files,
            message=built.message,
            labels=[f"risk:{built.tier}"],
            meta=built.meta,
        )
    except PolicyRefusal:
        # a person pushed to the branch: never overwrite their work; say so once (upserted)
        body = (
            f"aiops would update this proposal ({redact(why)}), but the branch `{p.branch}` has "
            "commits made by a person, which aiops never overwrites. The current recommendation:\n\n"
            "```json\n" + json.dumps(dict(rec.proposed), indent=2, sort_keys=True, default=str) + "\n```\n"
        )
        changed = forge.upsert_comment(p.number, BLOCKED_COMMENT, body)
        return _line(
            rec,
            "commented" if changed else "unchanged",
            "branch has a person's commits; "
            + ("commented instead of updating" if changed else "already commented"),
            id=p.id,
            **common,
        )
    return _built_line(built, "updated", why, **common)


def _build(
    rec: Recommendation,
    changes: tuple[FileChange, ...],
    *,
    record_id: str,
    settings: Settings,
    reader: ForgeReader,
    requester: str | None,
    now: datetime,
    base_sha: str,
    findings: Sequence[Finding],
    render: bool,
) -> _Built:
    from aiops.phr import pr_title, recommendation_record, render_pr_body, render_record
    from aiops.policy import ClassifyContext, classify

    path = record_path(record_id, "recommendation", now)
    placeholder = FileChange(path=path, old_text=None, new_text="record\n")
    tier_result = classify(
        ChangeSet(files=(*changes, placeholder), author=bot_login(settings)),
        ClassifyContext.from_settings(settings),
    )
    tier = tier_result.tier
    full = replace(rec, changes=changes, tier=tier, id=record_id)
    started, detected = _times(rec, findings)
    record = recommendation_record(
        full,
        record_id=record_id,
        created=now,
        cluster=settings.cluster,
        tier=tier,
        tier_reasons=tier_result.reasons,
        needs=needs_text(tier, settings),
        requested_by=requester,
        detected_at=detected,
        failure_started_at=started,
    )
    record_text = render_record(record)
    diff = "".join(fc.diff() for fc in changes)
    rendered = _rendered(changes, settings, reader) if render else None
    body = render_pr_body(
        full,
        record,
        diff,
        tier=tier,
        tier_reasons=tier_result.reasons,
        requested_by=requester,
        base_sha=base_sha,
        rendered_diff=rendered,
    )
    from aiops.phr import build_meta

    meta = build_meta(full, record_id=record_id, tier=tier, requested_by=requester, base_sha=base_sha)
    files: dict[str, str | None] = {fc.path: fc.new_text for fc in changes}
    files[record.path] = record_text
    title = pr_title(full)
    first = redact(rec.rationale.strip().splitlines()[0]) if rec.rationale.strip() else ""
    message = f"{title}\n\n" + (f"{first}\n\n" if first else "") + f"Aiops-Id: {record_id}\n"
    return _Built(full, record_id, tier, tuple(tier_result.reasons), files, body, meta, message, title, diff)


def _times(rec: Recommendation, findings: Sequence[Finding]) -> tuple[datetime | None, datetime | None]:
    mine = [f for f in findings if f.workload == rec.target and (not rec.findings or f.code in rec.findings)]
    started = [f.started_at for f in mine if f.started_at is not None]
    detected = [f.detected_at for f in mine if f.detected_at is not None]
    return (min(started) if started else None, min(detected) if detected else None)


def _rendered(changes: Sequence[FileChange], settings: Settings, reader: ForgeReader) -> str | None:
    from pathlib import Path

    from aiops.gitops.helm import find_helm, render_diff

    helm = find_helm(None, repo_dir=Path.cwd())  # $AIOPS_HELM, PATH, or ./tools/bin/helm
    if helm is None:
        return None
    try:
        diffs = render_diff(changes, settings=settings, read_file=reader, read_tree=reader.tree, helm=helm)
    except InputError:
        return None
    text = "".join(d.diff for d in diffs if d.available and d.diff)
    return text or None


# ---- the whole command ------------------------------------------------------------------------


def propose(
    request: Any,
    *,
    forge_name: str | None,
    repo: str,
    options: ProposeOptions,
) -> ProposeResult:
    """`aiops propose`: recommend (cluster + usage), then `run_propose` against the chosen forge."""
    from aiops.pipeline.forges import open_forge
    from aiops.pipeline.recommendation import recommend

    if request.config_path is None:
        candidate = os.path.join(repo, ".github", "aiops.yaml")
        if os.path.isfile(candidate):
            request = replace(request, config_path=candidate)
    forge = open_forge(forge_name, repo=repo, actor=options.requested_by)
    outcome = recommend(request)
    result = run_propose(
        outcome.result.recommendations,
        outcome.result.skipped,
        forge=forge,
        settings=outcome.settings,
        snapshot=outcome.snapshot,
        findings=outcome.diagnosis.findings,
        options=options,
    )
    return replace(result, notes=(*outcome.notes, *result.notes))
