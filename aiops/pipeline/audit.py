"""`aiops audit`: the KPIs of DESIGN §4.11 from `git log` + the records under `history/`.

Reading (through `aiops.gitops.git.Git`): every PHR file under `history/prompts/` at the audited
ref, and the first-parent history of that ref with each commit's parents, author, time, subject,
`Aiops-Id` trailer and the paths it changed (merges diffed against their first parent). Proposal
states (closed = snoozed) come from a forge when one is given (`--forge`, or the local forge's
refs in the repository) — without one, `actionable` says it could not tell closed from open.

Each KPI is computed by a pure function over those rows and states its basis: how many records
or commits it was computed from, of how many, and the window. An empty history gives zeros with
that basis, never an error. Definitions (DESIGN §4.11):
- MTTD = detected_at − failure_started_at; MTTR = recovered_at − approved_at (per decision; a
  rolled-back decision's recovery counts under rollbacks, not MTTR);
- approval latency = approved_at − recommended_at, per tier, against the tier's SLA;
- compliance = merged medium/critical decisions with a recommendation and an execution record
  and approvals recorded, over all merged medium/critical decisions (merged: `merged_at` in a
  record, or a merge commit on the ref carrying the decision's `Aiops-Id`);
- actionable = merged / (merged + closed) recommendations;
- rollbacks: rollback_requested_at → recovered_at, against 5 minutes;
- savings = Σ cost.monthly_before − Σ cost.monthly_after of merged decisions not rolled back;
- toil = commits on the ref touching `manifests/` made by aiops (merges of `aiops/` proposals,
  `Aiops-Id` trailers, the aiops bot) vs by hand;
- config incidents = decisions with a config code (CreateContainerConfigError, FailedMount,
  RunContainerError, ImagePullBackOff) whose failure started within 24 h after an apply to the
  same target.
Audit gaps: a merged manifests/ change without records, a record modified or deleted after it
landed, a manifests/ change on the ref that came through no PR.
`--retention` lists records older than `retention_days` (for archiving; nothing is deleted).
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiops.errors import InputError
from aiops.model.k8s import parse_time
from aiops.settings import Settings

PROMPTS = "history/prompts/"
RECORD_DIRS = ("history/prompts/", "history/reports/")
MANIFESTS = "manifests/"
TARGETS = {"mttd": 5.0, "mttr": 15.0, "rollback": 5.0, "compliance": 100.0, "actionable": 80.0}
TARGET_TEXT = {
    "mttd": "< 5 min",
    "mttr": "< 15 min",
    "approval_latency": "< 30 min routine, < 5 min emergency (tier SLAs)",
    "compliance": "100 %",
    "actionable": ">= 80 %",
    "rollbacks": "100 % within 5 min",
    "savings": "-20 % cost",
    "toil": "-50 % manual changes",
    "config_incidents": "0",
}
CONFIG_CODES = frozenset(
    {"CreateContainerConfigError", "FailedMount", "RunContainerError", "ImagePullBackOff"}
)
INCIDENT_WINDOW = timedelta(hours=24)
_PR_RE = re.compile(r"^Merge (?:pull request|proposal) #(?P<n>\d+) from (?P<branch>\S+)|\(#(?P<sq>\d+)\)$")
_BOTS = ("aiops-bot[bot]", "aiops[bot]")
_REPORT_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:-\d+)?\.md$")


@dataclass(frozen=True)
class Commit:
    sha: str
    parents: tuple[str, ...]
    author: str
    email: str
    at: datetime
    subject: str
    aiops_ids: tuple[str, ...]
    changes: tuple[tuple[str, str], ...]  # (status letter, path) against the first parent
    tier: str | None = None  # of a merge without records: `aiops.policy.classify` of its diff

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(p for _, p in self.changes)

    @property
    def pr(self) -> int | None:
        m = _PR_RE.search(self.subject)
        if not m:
            return None
        return int(m.group("n") or m.group("sq"))

    @property
    def via_pr(self) -> bool:
        return len(self.parents) > 1 or self.pr is not None

    def by_aiops(self, bots: Sequence[str]) -> bool:
        m = _PR_RE.search(self.subject)
        branch = (m.group("branch") or "") if m else ""
        return bool(self.aiops_ids) or "aiops/" in branch or self.author in bots or self.author in _BOTS


@dataclass(frozen=True)
class Record:
    path: str
    id: str
    stage: str
    created: datetime
    front: Mapping[str, Any]


@dataclass
class Decision:
    id: str
    records: list[Record] = field(default_factory=list)

    @property
    def stages(self) -> set[str]:
        return {r.stage for r in self.records}

    def get(self, key: str) -> Any:
        """The newest non-null value of a front-matter key over the decision's records."""
        for r in sorted(self.records, key=lambda r: (r.created, r.stage), reverse=True):
            v = r.front.get(key)
            if v not in (None, "", [], {}):
                return v
        return None

    def time(self, key: str) -> datetime | None:
        return parse_time(self.get(key))

    @property
    def created(self) -> datetime:
        return min(r.created for r in self.records)


@dataclass(frozen=True)
class History:
    ref: str
    records: tuple[Record, ...]
    commits: tuple[Commit, ...]
    unreadable: tuple[str, ...] = ()
    proposal_states: Mapping[str, str] | None = None  # decision id → open|closed|merged
    reports: tuple[str, ...] = ()  # paths under history/reports/ (dated by their file name)


# ---- reading --------------------------------------------------------------------------------------


def _parse_log(out: str) -> list[Commit]:
    commits: list[Commit] = []
    for chunk in out.split("\x1e"):
        if not chunk.strip():
            continue
        parts = chunk.split("\x1f")
        if len(parts) < 8:
            continue
        sha, parents, author, email, at, subject, trailers, rest = parts[:8]
        changes: list[tuple[str, str]] = []
        for line in rest.strip("\n").splitlines():
            cols = line.split("\t")
            if len(cols) >= 2 and cols[0]:
                changes.append((cols[0][0], cols[-1]))
                if cols[0][0] in "RC" and len(cols) >= 3:
                    changes.append(("D", cols[1]))
        when = parse_time(at) or datetime(1970, 1, 1, tzinfo=UTC)
        ids = tuple(t.strip() for t in trailers.replace("\n", ",").split(",") if t.strip())
        commits.append(
            Commit(
                sha, tuple(parents.split()), author, email, when, subject, ids, tuple(dict.fromkeys(changes))
            )
        )
    return commits


def _unrecorded_merge(c: Commit, recorded: set[str]) -> bool:
    touches = any(p.startswith(MANIFESTS) for p in c.paths)
    return touches and len(c.parents) > 1 and not set(c.aiops_ids) & recorded


def _with_tier(git: Any, c: Commit, settings: Settings) -> Commit:
    """The risk tier of a merge's changes against its first parent (pure classifier, DESIGN §4.6)."""
    import dataclasses

    from aiops.model.changes import ChangeSet, FileChange
    from aiops.policy.tiers import ClassifyContext, classify

    files = tuple(
        FileChange(path, git.show(c.parents[0], path), git.show(c.sha, path)) for _, path in c.changes
    )
    try:
        tier = classify(ChangeSet(files, author=c.author), ClassifyContext.from_settings(settings)).tier
    except InputError:
        tier = "critical"  # unreadable YAML in manifests/: the classifier's own rule for unknown files
    return dataclasses.replace(c, tier=tier)


def read_history(
    repo: str, ref: str | None = None, *, forge: Any = None, settings: Settings | None = None
) -> History:
    """Records at `ref` (default: main, else HEAD) and its first-parent log, through real git."""
    from aiops.gitops.git import Git
    from aiops.phr.render import parse_record

    git = Git(repo)
    if ref is None:
        ref = "main" if git.rev("refs/heads/main") else "HEAD"
    if git.rev(ref) is None:
        if ref == "HEAD":
            return History(ref, (), ())  # an empty repository: zeros, not an error
        raise InputError(f"--ref {ref}: no such commit in {repo}")
    fmt = "%x1e%H%x1f%P%x1f%an%x1f%ae%x1f%cI%x1f%s%x1f%(trailers:key=Aiops-Id,valueonly,separator=%x2C)%x1f"
    out = git.run("log", "--first-parent", "-m", "--name-status", "--no-renames", f"--format={fmt}", ref)
    commits = _parse_log(out)
    records: list[Record] = []
    unreadable: list[str] = []
    paths = git.ls_files(ref, PROMPTS)
    recorded = {p.rsplit("/", 1)[-1].split("--", 1)[0] for p in paths}
    commits = [
        _with_tier(git, c, settings) if _unrecorded_merge(c, recorded) and settings is not None else c
        for c in commits
    ]
    for path in paths:
        if not path.endswith(".md"):
            continue
        text = git.show(ref, path) or ""
        try:
            rec = parse_record(text, where=path)
        except InputError as exc:
            unreadable.append(str(exc))
            continue
        records.append(Record(path, rec.id, rec.stage, rec.created, dict(rec.front)))
    states: dict[str, str] | None = None
    if forge is None:
        try:
            from aiops.gitops.local import LocalForge

            if git.for_each_ref("refs/aiops/proposals/"):
                forge = LocalForge(repo)
        except InputError:
            forge = None
    if forge is not None:
        states = {}
        for p in forge.find_proposals(state="all"):
            if p.id:
                states[p.id] = p.state
    reports = tuple(p for p in git.ls_files(ref, "history/reports") if p.endswith(".md"))
    return History(ref, tuple(records), tuple(commits), tuple(unreadable), states, reports)


# ---- figures ----------------------------------------------------------------------------------------


def _minutes(a: datetime | None, b: datetime | None) -> float | None:
    if a is None or b is None:
        return None
    return (b - a).total_seconds() / 60.0


def _stats(values: Sequence[float], target: float | None) -> dict[str, Any]:
    vals = sorted(values)
    out: dict[str, Any] = {
        "count": len(vals),
        "median_minutes": round(statistics.median(vals), 2) if vals else 0.0,
        "mean_minutes": round(statistics.fmean(vals), 2) if vals else 0.0,
        "max_minutes": round(vals[-1], 2) if vals else 0.0,
    }
    if target is not None:
        out["target_minutes"] = target
        out["within_target"] = sum(1 for v in vals if v < target)
    return out


def _rolled_back(d: Decision) -> bool:
    return (
        "rollback" in d.stages
        or d.get("rollback_requested_at") is not None
        or d.get("outcome") == "rolled-back"
    )


def _merged(d: Decision, merged_ids: set[str]) -> bool:
    return d.get("merged_at") is not None or d.id in merged_ids


def _window_text(since: datetime | None, decisions: Sequence[Decision]) -> str:
    if decisions:
        first = min(d.created for d in decisions).strftime("%Y-%m-%d")
        last = max(d.created for d in decisions).strftime("%Y-%m-%d")
        span = f"records {first} → {last}"
    else:
        span = "no records"
    return f"since {since:%Y-%m-%d}, {span}" if since else f"all history, {span}"


def decisions_of(records: Iterable[Record]) -> list[Decision]:
    by: dict[str, Decision] = {}
    for r in records:
        by.setdefault(r.id, Decision(r.id)).records.append(r)
    return [by[k] for k in sorted(by)]


def compute(history: History, settings: Settings, *, since: datetime | None = None) -> dict[str, Any]:
    """Every KPI with its basis, plus audit gaps (pure over the history rows)."""
    all_decisions = decisions_of(history.records)
    decisions = [d for d in all_decisions if since is None or d.created >= since]
    commits = [c for c in history.commits if since is None or c.at >= since]
    window = _window_text(since, decisions)
    n = len(decisions)
    merged_ids = {i for c in history.commits if len(c.parents) > 1 for i in c.aiops_ids}
    out: dict[str, Any] = {"ref": history.ref, "window": window, "decisions": n}

    # MTTD / MTTR
    mttd = [
        m
        for d in decisions
        if (m := _minutes(d.time("failure_started_at"), d.time("detected_at"))) is not None and m >= 0
    ]
    out["mttd"] = {
        **_stats(mttd, TARGETS["mttd"]),
        "target": TARGET_TEXT["mttd"],
        "basis": f"{len(mttd)} of {n} decisions with failure_started_at and detected_at; {window}",
    }
    fixed = [d for d in decisions if not _rolled_back(d)]  # a rollback's recovery is in `rollbacks`
    mttr = [
        m
        for d in fixed
        if (m := _minutes(d.time("approved_at"), d.time("recovered_at"))) is not None and m >= 0
    ]
    out["mttr"] = {
        **_stats(mttr, TARGETS["mttr"]),
        "target": TARGET_TEXT["mttr"],
        "basis": f"{len(mttr)} of {n} decisions with approved_at and recovered_at (rolled-back ones "
        f"excluded); {window}",
    }

    # approval latency per tier
    tiers: dict[str, Any] = {}
    for tier in ("trivial", "low", "medium", "critical"):
        vals = [
            m
            for d in decisions
            if d.get("tier") == tier
            and (m := _minutes(d.time("recommended_at"), d.time("approved_at"))) is not None
            and m >= 0
        ]
        rule = settings.approvals.tiers.get(tier)
        sla = float(rule.sla_minutes) if rule else None
        entry = _stats(vals, None)
        entry["sla_minutes"] = sla
        entry["within_sla"] = sum(1 for v in vals if sla is None or v <= sla)
        entry["basis"] = f"{len(vals)} {tier}-tier decisions with recommended_at and approved_at; {window}"
        tiers[tier] = entry
    total_latency = sum(t["count"] for t in tiers.values())
    out["approval_latency"] = {
        "tiers": tiers,
        "target": TARGET_TEXT["approval_latency"],
        "basis": f"{total_latency} of {n} decisions with recommended_at and approved_at; {window}",
    }

    # compliance
    risky = [d for d in decisions if d.get("tier") in ("medium", "critical") and _merged(d, merged_ids)]
    compliant = [
        d
        for d in risky
        if {"recommendation", "execution"} <= d.stages
        and any(r.front.get("approvals") for r in d.records if r.stage == "execution")
    ]
    missing = [
        {"id": d.id, "missing": sorted({"recommendation", "execution"} - d.stages) or ["approvals"]}
        for d in risky
        if d not in compliant
    ]
    recorded_ids = {r.id for r in history.records}
    unrecorded = [
        c
        for c in commits
        if c.tier in ("medium", "critical") and len(c.parents) > 1 and not set(c.aiops_ids) & recorded_ids
    ]
    missing += [{"commit": c.sha, "missing": ["recommendation", "execution"]} for c in unrecorded]
    total = len(risky) + len(unrecorded)
    out["compliance"] = {
        "value_percent": round(100.0 * len(compliant) / total, 1) if total else 0.0,
        "compliant": len(compliant),
        "count": total,
        "non_compliant": missing,
        "target": TARGET_TEXT["compliance"],
        "basis": f"{len(risky)} merged medium/critical decisions of {n} + {len(unrecorded)} merged "
        f"medium/critical changes without records; {window}",
    }

    # actionable
    merged = [d for d in decisions if _merged(d, merged_ids)]
    states = history.proposal_states
    if states is not None:
        closed = [d for d in decisions if states.get(d.id) == "closed" and not _merged(d, merged_ids)]
        open_ = [d for d in decisions if states.get(d.id) == "open" and not _merged(d, merged_ids)]
        concluded = len(merged) + len(closed)
        out["actionable"] = {
            "value_percent": round(100.0 * len(merged) / concluded, 1) if concluded else 0.0,
            "merged": len(merged),
            "closed": len(closed),
            "open": len(open_),
            "count": concluded,
            "target": TARGET_TEXT["actionable"],
            "basis": f"{concluded} concluded recommendations (merged + closed/snoozed) of {n}; "
            f"proposal states from the forge; {window}",
        }
    else:
        out["actionable"] = {
            "value_percent": 0.0,
            "merged": len(merged),
            "closed": None,
            "open": None,
            "count": len(merged),
            "target": TARGET_TEXT["actionable"],
            "basis": f"{len(merged)} merged of {n} recommendations; closed proposals unknown without a "
            f"forge (--forge); {window}",
        }

    # rollbacks
    rb_vals: list[float] = []
    rb_open: list[str] = []
    rb_total = 0
    for d in decisions:
        req = d.time("rollback_requested_at")
        if req is None and "rollback" not in d.stages:
            continue
        rb_total += 1
        rec = next(
            (
                t
                for r in sorted(d.records, key=lambda r: r.created)
                if (t := parse_time(r.front.get("recovered_at"))) is not None and req is not None and t >= req
            ),
            None,
        )
        m = _minutes(req, rec)
        if m is None:
            rb_open.append(d.id)
        else:
            rb_vals.append(m)
    out["rollbacks"] = {
        **_stats(rb_vals, TARGETS["rollback"]),
        "total": rb_total,
        "without_recovery": rb_open,
        "target": TARGET_TEXT["rollbacks"],
        "basis": f"{len(rb_vals)} of {rb_total} rolled-back decisions with rollback_requested_at and "
        f"recovered_at; {window}",
    }

    # savings
    before = after = 0.0
    counted = 0
    for d in merged:
        cost = d.get("cost")
        if _rolled_back(d) or not isinstance(cost, Mapping):
            continue
        try:
            b, a = float(cost["monthly_before"]), float(cost["monthly_after"])
        except (KeyError, TypeError, ValueError):
            continue
        before, after, counted = before + b, after + a, counted + 1
    out["savings"] = {
        "monthly_before": round(before, 2),
        "monthly_after": round(after, 2),
        "monthly_saved": round(before - after, 2),
        "percent": round(100.0 * (before - after) / before, 1) if before else 0.0,
        "count": counted,
        "target": TARGET_TEXT["savings"],
        "basis": f"{counted} merged, not rolled-back decisions with a cost (requests at configured prices) "
        f"of {len(merged)} merged; {window}",
    }

    # toil
    touching = [c for c in commits if any(p.startswith(MANIFESTS) for p in c.paths)]
    bots = settings.approvals.bots
    by_aiops = [c for c in touching if c.by_aiops(bots)]
    out["toil"] = {
        "aiops_changes": len(by_aiops),
        "manual_changes": len(touching) - len(by_aiops),
        "manual_percent": round(100.0 * (len(touching) - len(by_aiops)) / len(touching), 1)
        if touching
        else 0.0,
        "count": len(touching),
        "target": TARGET_TEXT["toil"],
        "basis": f"{len(touching)} first-parent commits on {history.ref} touching manifests/ "
        f"({'since ' + since.strftime('%Y-%m-%d') if since else 'all history'})",
    }

    # config incidents
    applies: list[tuple[str, datetime]] = []
    for d in all_decisions:
        t = d.time("applied_at")
        if t is not None:
            applies.append((_target_key(d.get("target")), t))
    incidents: list[str] = []
    config_decisions = [d for d in decisions if CONFIG_CODES & {str(c) for c in d.get("codes") or ()}]
    for d in config_decisions:
        started = d.time("failure_started_at") or d.time("detected_at")
        key = _target_key(d.get("target"))
        if started is not None and any(k == key and t <= started <= t + INCIDENT_WINDOW for k, t in applies):
            incidents.append(d.id)
    out["config_incidents"] = {
        "count": len(incidents),
        "decisions": incidents,
        "target": TARGET_TEXT["config_incidents"],
        "basis": f"{len(config_decisions)} decisions with config codes ({', '.join(sorted(CONFIG_CODES))}), "
        f"{len(incidents)} starting within 24 h after an apply to the same target; {window}",
    }
    out["gaps"] = gaps(history, decisions, commits)
    out["unreadable_records"] = list(history.unreadable)
    return out


def _target_key(target: Any) -> str:
    if not isinstance(target, Mapping):
        return ""
    return "/".join(str(target.get(k) or "") for k in ("cluster", "namespace", "kind", "name"))


def gaps(history: History, decisions: Sequence[Decision], commits: Sequence[Commit]) -> list[dict[str, Any]]:
    """Audit gaps: merged manifests/ changes without records, records edited after landing,
    manifests/ changes that came through no PR."""
    out: list[dict[str, Any]] = []
    with_records = {d.id for d in decisions if "recommendation" in d.stages}
    all_ids = {r.id for r in history.records}
    for c in commits:
        touches = any(p.startswith(MANIFESTS) for p in c.paths)
        if touches and not c.via_pr:
            out.append(
                {
                    "type": "no-pr",
                    "commit": c.sha,
                    "detail": f"{c.sha[:12]} by {c.author} changed manifests/ on {history.ref} without a PR",
                }
            )
        if touches and len(c.parents) > 1 and c.aiops_ids and not set(c.aiops_ids) & all_ids:
            out.append(
                {
                    "type": "merged-without-records",
                    "commit": c.sha,
                    "detail": f"merge {c.sha[:12]} (Aiops-Id {', '.join(c.aiops_ids)}) has no record "
                    "under history/prompts/",
                }
            )
        elif touches and len(c.parents) > 1 and not c.aiops_ids and c.tier in ("medium", "critical"):
            out.append(
                {
                    "type": "merged-without-records",
                    "commit": c.sha,
                    "detail": f"merge {c.sha[:12]} ({c.tier} tier) changed manifests/ and carries no "
                    "Aiops-Id: no record",
                }
            )
        for status, path in c.changes:
            if status in "MD" and path.startswith(RECORD_DIRS):
                what = "deleted" if status == "D" else "edited"
                out.append(
                    {
                        "type": "record-modified",
                        "commit": c.sha,
                        "detail": f"{path} {what} after it landed, in {c.sha[:12]} by {c.author}",
                    }
                )
    for d in decisions:
        if d.get("tier") in ("medium", "critical") and d.get("merged_at") and d.id not in with_records:
            out.append(
                {
                    "type": "merged-without-records",
                    "commit": None,
                    "detail": f"{d.id}: no recommendation record",
                }
            )
    return out


def retention(history: History, settings: Settings, now: datetime) -> dict[str, Any]:
    """Records (by `created`) and reports (by the date in their file name) older than
    `retention_days`, listed for archiving; nothing is deleted."""
    limit = now - timedelta(days=settings.retention_days)
    old = [r.path for r in history.records if r.created < limit]
    day = limit.strftime("%Y-%m-%d")
    old_reports = [
        p
        for p in history.reports
        if _REPORT_DATE.match(p.rsplit("/", 1)[-1]) and p.rsplit("/", 1)[-1][:10] < day
    ]
    total = len(history.records) + len(history.reports)
    return {
        "retention_days": settings.retention_days,
        "older_than": limit.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "records": sorted(old + old_reports),
        "basis": f"{len(old) + len(old_reports)} of {total} records and reports created before the limit; "
        "nothing is deleted",
    }


def audit(
    repo: str,
    settings: Settings,
    *,
    since: datetime | None = None,
    ref: str | None = None,
    forge: Any = None,
    now: datetime | None = None,
    with_retention: bool = False,
) -> dict[str, Any]:
    history = read_history(repo, ref, forge=forge, settings=settings)
    out = compute(history, settings, since=since)
    if with_retention:
        out["retention"] = retention(history, settings, now or datetime.now(UTC))
    return out
