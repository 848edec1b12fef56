"""`aiops apply`: apply `main` HEAD; account for every PR merged since the last applied commit.

DESIGN §1 (5–6), §4.5, §4.10.

One run:
1. **What to apply** — the last applied commit (`refs/aiops/applied` in the repository, else the
   newest execution record's `applied_commit`, pending records PRs included) up to the base head;
   every first-parent commit in between that touches `manifests/` must be the merge (or squash)
   commit of a merged PR, found among the forge's merged proposals or by the `#N` its message names
   and confirmed by the PR's `merge_sha`. Commits touching only `history/` (records) are skipped.
2. **Refusals (exit 4, nothing applied)** — a commit that did not come through a PR, or a PR whose
   `aiops/approval-gate` status on its head is missing, not `success`, or not posted by the aiops
   App (`approvals.bots`); on the local forge a PR merged without a posted status has its gate
   decision re-evaluated from its recorded reviews. A kube context other than the policy's
   `cluster` is refused too.
3. **Per affected release** (`apply.releases`, skipping held ones): pre metrics; apply (`helm
   upgrade --install --wait` with the Helm 3/4 rollback flag, or server-side apply of `helm
   template`, or — argocd/flux/`--observe` — wait for the engine's synced revision); watch each
   Deployment with the rollout monitor's rules (halt/undo = failure); wait the stabilization window;
   post metrics; the verdict.
4. **Failure path** — a failed apply, a halted rollout or a regressed verdict rolls the release back
   (helm rollback, or re-apply of the previous commit; argocd/flux: git-first, nothing written to
   the cluster), puts it on **hold** (a `history/holds/` record + the dashboard's `holds` section;
   the next run skips it until the revert merges or `--resume RELEASE`) and opens the revert PR of the
   newest PR involved (`aiops rollback`'s pipeline; when several PRs touching the release were
   merged since the last apply, the others are named on the hold — the re-apply after the revert
   tells whether the newest one was the culprit).
5. **Reporting** — one metrics comment per PR (`<!-- aiops:comment:metrics -->`) and one
   `execution` record per PR (approvals from the forge's reviews, `approved_at`, `merged_at`,
   `applied_at`, pre/post metrics, verdict, outcome), pushed per `apply.records`: a commit on the
   base branch by the aiops bot touching only `history/`, or a records PR.

The cluster, the clock and sleeping are injected (`ApplyRuntime`) so tests run without waiting.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiops.errors import AiopsError, InputError, PolicyRefusal
from aiops.gitops.forge import Forge, Proposal
from aiops.gitops.git import BOT_EMAIL, Git, GitError
from aiops.model import Snapshot, format_time, parse_time
from aiops.model.changes import FileChange
from aiops.model.phr import PhrRecord, decision_id
from aiops.settings import Settings

APPLIED_REF = "refs/aiops/applied"
WATCHED_KINDS = frozenset(
    {
        "Pod",
        "Event",
        "Deployment",
        "ReplicaSet",
        "PodMetrics",
        "ConfigMap",
        "Service",
        "Endpoints",
        "PersistentVolumeClaim",
        "HorizontalPodAutoscaler",
        "Node",
    }
)
"""What a measurement and a rollout decision read (the rollout monitor's findings need these)."""
GATE_CONTEXT = "aiops/approval-gate"
METRICS_COMMENT = "metrics"
HOLDS_DIR = "history/holds"
HOLDS_SECTION = "holds"
RECORD_KEYS = (
    "kind",
    "tier",
    "target",
    "codes",
    "failure_started_at",
    "detected_at",
    "recommended_at",
    "confidence",
    "cost",
    "sizing",
)
_PR_REF = re.compile(r"(?:Merge (?:pull request|proposal) #(?P<a>\d+)\b|\(#(?P<b>\d+)\)\s*$)", re.M)


# ---- options and runtime ------------------------------------------------------------------------


@dataclass(frozen=True)
class ApplyOptions:
    repo: str = "."
    kubeconfig: str | None = None
    context: str | None = None
    releases: tuple[str, ...] = ()
    resume: str | None = None
    dry_run: bool = False
    observe: bool = False
    helm: str | None = None
    actor: str | None = None


@dataclass
class ApplyRuntime:
    """The clock, sleeping and the cluster readers/writers (injected by tests)."""

    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    poll_s: float = 5.0
    watch_timeout_s: float = 600.0
    stabilization_s: float | None = None  # None: settings apply.stabilization_minutes
    read_snapshot: Callable[[str], Snapshot] | None = None  # namespace → live snapshot


# ---- results ------------------------------------------------------------------------------------


@dataclass
class ReleaseResult:
    release: str
    namespace: str
    mode: str
    applied: bool = False
    outcome: str = "pending"  # success | failed | rolled-back | pending | held | skipped
    detail: str = ""
    pre: dict[str, Any] | None = None
    post: dict[str, Any] | None = None
    verdict: str | None = None
    verdict_reasons: tuple[str, ...] = ()
    rollout: list[dict[str, Any]] = field(default_factory=list)
    commands: list[dict[str, Any]] = field(default_factory=list)
    rollback: str | None = None
    reverts: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "release": self.release,
            "namespace": self.namespace,
            "mode": self.mode,
            "applied": self.applied,
            "outcome": self.outcome,
            "detail": self.detail,
            "verdict": self.verdict,
            "verdict_reasons": list(self.verdict_reasons),
            "pre_metrics": self.pre,
            "post_metrics": self.post,
            "rollout": self.rollout,
            "commands": self.commands,
            "rollback": self.rollback,
            "reverts": self.reverts,
        }


@dataclass
class ApplyReport:
    head: str
    last_applied: str | None
    prs: list[int] = field(default_factory=list)
    releases: list[ReleaseResult] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    records: list[str] = field(default_factory=list)
    records_pushed: str | None = None
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False
    up_to_date: bool = False

    @property
    def failed(self) -> bool:
        return any(r.outcome in ("failed", "rolled-back") for r in self.releases)

    def to_dict(self) -> dict[str, Any]:
        return {
            "head": self.head,
            "last_applied": self.last_applied,
            "up_to_date": self.up_to_date,
            "dry_run": self.dry_run,
            "prs": self.prs,
            "releases": [r.to_dict() for r in self.releases],
            "skipped": self.skipped,
            "records": self.records,
            "records_pushed": self.records_pushed,
            "notes": self.notes,
        }

    def lines(self) -> list[str]:
        out = [
            f"main {self.head[:12]} (last applied {self.last_applied[:12] if self.last_applied else 'none'})"
        ]
        if self.up_to_date:
            out.append("up to date: nothing to apply")
        if self.prs:
            out.append("merged PRs accounted: " + ", ".join(f"#{n}" for n in self.prs))
        for r in self.releases:
            line = f"{r.release}: {r.outcome}"
            if r.verdict:
                line += f", verdict {r.verdict}"
            if r.detail:
                line += f" — {r.detail}"
            out.append(line)
            out.extend(f"  revert proposal #{x.get('number')} ({x.get('action')})" for x in r.reverts)
        out.extend(f"skipped: {s}" for s in self.skipped)
        out.extend(f"record: {p}" for p in self.records)
        if self.records_pushed:
            out.append(f"records pushed: {self.records_pushed}")
        out.extend(f"note: {n}" for n in self.notes)
        return out


# ---- git helpers ----------------------------------------------------------------------------------


def _first_parent_commits(git: Git, since: str | None, head: str) -> list[str]:
    rng = f"{since}..{head}" if since else head
    args = ["rev-list", "--first-parent", "--reverse", rng]
    if not since:
        args = ["rev-list", "--first-parent", "--reverse", "--max-count=1", head]
    out = git.run(*args)
    return [ln for ln in out.splitlines() if ln]


_REVERT_BODY = re.compile(r"^Reverts (?P<repo>[\w.-]+/[\w.-]+)?#(?P<num>\d+)\b", re.M)
_REVERT_HEAD = re.compile(r"^revert-(?P<num>\d+)-")


def button_revert_of(p: Proposal) -> int | None:
    """The PR a revert made with GitHub's Revert button undoes (body `Reverts o/r#N`, branch
    `revert-N-…`), so its merge lifts a hold like an `aiops rollback` revert does."""
    m = _REVERT_BODY.search(p.body or "") or _REVERT_HEAD.match(p.branch or "")
    return int(m.group("num")) if m else None


def _bootstrap_base(git: Git, head: str, by_merge: Mapping[str, Proposal]) -> str | None:
    """No applied state yet: start before the oldest PR merge on main's first-parent line (so every
    merged PR is accounted and any later direct commit is refused); None when there is none."""
    line = [ln for ln in git.run("rev-list", "--first-parent", head).splitlines() if ln]
    merges = [c for c in line if c in by_merge]
    return git.rev(f"{merges[-1]}^1") if merges else None


def _changed_paths(git: Git, commit: str) -> list[str]:
    parent = git.rev(f"{commit}^1")
    if parent is None:
        return git.ls_files(commit)
    out: list[str] = []
    for _, path, old in git.diff_name_status(parent, commit):
        out.extend(x for x in (path, old) if x)
    return out


def _range_paths(git: Git, since: str | None, head: str) -> list[str]:
    if since is None:
        return _changed_paths(git, head)
    rows = git.diff_name_status(since, head)
    return sorted({p for _, path, old in rows for p in (path, old) if p})


def _touches_manifests(paths: Sequence[str]) -> bool:
    return any(p.startswith("manifests/") for p in paths)


# ---- what was applied, what is held ---------------------------------------------------------------


def _record_texts(forge: Forge, prefix: str) -> dict[str, str]:
    """Files under `prefix` on the base branch plus those in open records PRs (not merged yet)."""
    out: dict[str, str] = {}
    for path in forge.list_files(prefix):
        text = forge.read_file(path)
        if text is not None:
            out[path] = text
    for p in forge.find_proposals(state="open"):
        if p.meta.get("kind") != "records":
            continue
        for path, _old_path, _old, new in forge.changed_files(p.number):
            if new is not None and path.startswith(prefix):
                out.setdefault(path, new)
    return out


def last_applied(forge: Forge, git: Git) -> str | None:
    """The last commit applied: `refs/aiops/applied`, else the newest execution record's."""
    sha = git.rev(APPLIED_REF)
    if sha:
        return sha
    from aiops.phr import parse_record

    best: tuple[str, str] | None = None
    for path, text in _record_texts(forge, "history/prompts").items():
        if not path.endswith("--execution.md"):
            continue
        try:
            rec = parse_record(text, where=path)
        except InputError:
            continue
        commit = rec.front.get("applied_commit")
        at = str(rec.front.get("applied_at") or "")
        if isinstance(commit, str) and git.rev(commit) and (best is None or at > best[0]):
            best = (at, commit)
    return best[1] if best else None


@dataclass(frozen=True)
class Hold:
    release: str
    state: str  # held | lifted
    at: str
    reason: str
    prs: tuple[int, ...]
    by: str
    path: str


def _parse_hold(path: str, text: str) -> Hold | None:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    body = text.split("---", 2)
    if not text.startswith("---") or len(body) < 3:
        return None
    try:
        data = YAML(typ="safe", pure=True).load(body[1])
    except YAMLError:
        return None
    if not isinstance(data, dict) or not data.get("release"):
        return None
    prs = tuple(int(x) for x in data.get("prs") or [] if isinstance(x, int))
    return Hold(
        str(data["release"]),
        str(data.get("state") or "held"),
        str(data.get("at") or ""),
        str(data.get("reason") or ""),
        prs,
        str(data.get("by") or ""),
        path,
    )


def holds(forge: Forge) -> dict[str, Hold]:
    """The current hold of each release (the newest hold/lift record wins)."""
    latest: dict[str, Hold] = {}
    for path, text in sorted(_record_texts(forge, HOLDS_DIR).items()):
        h = _parse_hold(path, text)
        if h is None:
            continue
        if h.release not in latest or (h.at, h.path) >= (latest[h.release].at, latest[h.release].path):
            latest[h.release] = h
    return {r: h for r, h in latest.items() if h.state == "held"}


def hold_file(
    release: str, state: str, at: datetime, reason: str, *, prs: Sequence[int], by: str
) -> tuple[str, str]:
    """A hold or lift record: `history/holds/<release>/<stamp>-<state>.md` (append-only)."""
    import io

    from ruamel.yaml import YAML

    from aiops.phr.render import escape_text

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    stamp = at.strftime("%Y%m%dT%H%M%SZ")
    path = f"{HOLDS_DIR}/{release}/{stamp}-{state}.md"
    front = {
        "release": release,
        "state": state,
        "at": format_time(at),
        "reason": reason,
        "prs": list(prs),
        "by": by,
    }
    verb = "held" if state == "held" else "hold lifted"
    buf = io.StringIO()
    yaml.dump(front, buf)
    text = f"---\n{buf.getvalue()}---\n\n# {escape_text(release)}: {verb}\n\n{escape_text(reason)}\n"
    return path, text


def holds_dashboard(current: Mapping[str, Hold]) -> str:
    from aiops.phr.render import escape_text

    lines = ["## Releases on hold", ""]
    if not current:
        lines.append("None: `aiops apply` applies every release.")
        return "\n".join(lines) + "\n"
    lines.append("`aiops apply` skips these until their revert merges or `aiops apply --resume RELEASE`.")
    lines.append("")
    for r, h in sorted(current.items()):
        prs = ", ".join(f"#{n}" for n in h.prs) or "—"
        lines.append(f"- **{escape_text(r)}** since {h.at} (PRs {prs}): {escape_text(h.reason)}")
    return "\n".join(lines) + "\n"


# ---- accounting of merged PRs ---------------------------------------------------------------------


def _pr_for_commit(forge: Forge, by_merge: Mapping[str, Proposal], git: Git, commit: str) -> Proposal | None:
    p = by_merge.get(commit)
    if p is not None:
        return p
    message = git.run("log", "-1", "--format=%B", commit)
    for m in _PR_REF.finditer(message):
        n = int(m.group("a") or m.group("b"))
        try:
            cand = forge.get_proposal(n)
        except (InputError, AiopsError):
            continue
        if cand.state == "merged" and cand.merge_sha == commit:
            return cand
    return None


def gate_problem(forge: Forge, p: Proposal, settings: Settings) -> str | None:
    """Why PR p may not be applied (its gate status), or None when its gate passed.

    The status must come from the aiops App itself — the forge's own login when it knows it (the
    GitHub App's `<slug>[bot]`), else `approvals.bots[0]`: other bots such as
    `github-actions[bot]` — any workflow's GITHUB_TOKEN — never count."""
    own = getattr(forge, "bot_login", None)
    app = (own if isinstance(own, str) and own else _bot(settings)).lower()
    gate = [s for s in forge.statuses(p.head_sha) if s.context == GATE_CONTEXT]
    if gate:
        s = gate[-1]
        if s.state != "success":
            return f"#{p.number}: {GATE_CONTEXT} is {s.state} on {p.head_sha[:12]} ({s.description})"
        if not s.creator or s.creator.lower() != app:
            return (
                f"#{p.number}: {GATE_CONTEXT} was posted by {s.creator or 'an unknown account'},"
                " not the aiops App"
            )
        return None
    if forge.name == "local":
        from aiops.gitops.local import LocalForge
        from aiops.pipeline.gate import LocalHost, evaluate_pr

        if isinstance(forge, LocalForge):
            d = evaluate_pr(forge, LocalHost(forge, settings), p.number, settings).result.decision
            if d.approved and d.state == "success":
                return None
            return (
                f"#{p.number}: no {GATE_CONTEXT} status, and its gate decision now is"
                f" {d.state}: {d.description}"
            )
    return f"#{p.number}: no {GATE_CONTEXT} status on its head {p.head_sha[:12]}"


# ---- records ---------------------------------------------------------------------------------------


def _approvals(forge: Forge, p: Proposal, settings: Settings) -> list[dict[str, Any]]:
    bots = {b.lower() for b in settings.approvals.bots}
    latest: dict[str, Any] = {}
    for r in forge.reviews(p.number):
        if r.state.upper() == "COMMENTED":
            continue
        latest[r.login.lower()] = r
    teams: dict[str, str] = {}
    for team, slug in settings.approvals.teams.items():
        for m in settings.approvals.members.get(slug, ()):
            teams.setdefault(m.lower(), team)
    out = []
    for key, r in sorted(latest.items()):
        if r.state.upper() != "APPROVED" or key in bots or key.endswith("[bot]") or key == p.author.lower():
            continue
        out.append({"login": r.login, "team": teams.get(key), "at": r.submitted_at, "commit": r.commit_sha})
    return out


def _recommendation_front(forge: Forge, record_id: str) -> dict[str, Any]:
    from aiops.phr import parse_record

    for path in forge.list_files("history/prompts"):
        if path.endswith(f"/{record_id}--recommendation.md"):
            text = forge.read_file(path)
            if text:
                try:
                    return dict(parse_record(text, where=path).front)
                except InputError:
                    return {}
    return {}


def record_id_of(p: Proposal) -> str:
    if p.id:
        return p.id
    merged = parse_time(p.merged_at) or datetime.now(UTC)
    return decision_id(merged, f"pr-{p.number}")


def execution_record(
    forge: Forge,
    p: Proposal,
    results: Sequence[ReleaseResult],
    *,
    settings: Settings,
    head: str,
    now: datetime,
    held: Sequence[str] = (),
) -> PhrRecord:
    from aiops.phr.render import fence

    rid = record_id_of(p)
    base = _recommendation_front(forge, rid)
    approvals = _approvals(forge, p, settings)
    outcome = "pending" if held and not results else _combined_outcome(results)
    verdicts = [r.verdict for r in results if r.verdict]
    verdict = (
        "regressed"
        if "regressed" in verdicts
        else ("improved" if "improved" in verdicts else (verdicts[0] if verdicts else None))
    )
    front: dict[str, Any] = {k: base.get(k) for k in RECORD_KEYS if base.get(k) is not None}
    front.setdefault("kind", p.meta.get("kind"))
    front.setdefault("tier", p.meta.get("tier"))
    target = base.get("target") or p.meta.get("target")
    if isinstance(target, Mapping):
        target = {"cluster": settings.cluster, **dict(target)}
    front.update(
        title=p.title,
        target=target,
        pr={"number": p.number, "url": p.url},
        approvals=approvals,
        approved_at=max((a["at"] for a in approvals if a.get("at")), default=None),
        merged_at=p.merged_at,
        merge_sha=p.merge_sha,
        applied_at=format_time(now),
        applied_commit=head,
        releases=[r.release for r in results],
        mode=results[0].mode if results else settings.apply.mode,
        pre_metrics={r.release: r.pre for r in results} if results else None,
        post_metrics={r.release: r.post for r in results} if results else None,
        verdict=verdict,
        outcome=outcome,
    )
    lines = []
    for r in results:
        lines.append(f"- **{r.release}** ({r.mode}, namespace {r.namespace}): {r.outcome}")
        if r.detail:
            lines.append(f"  - {r.detail}")
        if r.verdict:
            lines.append(f"  - verdict {r.verdict}: {'; '.join(r.verdict_reasons)}")
        if r.rollback:
            lines.append(f"  - rollback: {r.rollback}")
        for x in r.reverts:
            lines.append(f"  - revert proposal #{x.get('number')} ({x.get('action')})")
    if not results:
        lines.append(
            f"- not applied: {', '.join(held)} on hold (applied when the hold is lifted)"
            if held
            else "- no release of this PR needed applying"
        )
    commands = [c for r in results for c in r.commands]
    execution = "\n".join(lines)
    if commands:
        execution += "\n\n" + fence(
            "\n".join(f"{c.get('command')}  # exit {c.get('exit_code')}" for c in commands)
        )
    sections = {
        "Execution": execution,
        "Change": f"Merged as {p.merge_sha}; `main` applied at {head}.",
        "Risk & approval": ", ".join(
            f"{a['login']} ({a.get('team') or 'team unknown'}) at {a['at']}" for a in approvals
        )
        or "no approval recorded",
        "Rollback procedure": f"`aiops rollback --pr {p.number}` (opens the revert PR; records are kept).",
    }
    return PhrRecord(id=rid, stage="execution", created=now, front=front, sections=sections)


def revert_number(p: Proposal) -> int | None:
    """The PR a revert undoes: the marker's `revert_of` (aiops rollback) or GitHub's button conventions."""
    n = p.meta.get("revert_of")
    if isinstance(n, int) and not isinstance(n, bool):
        return n
    return button_revert_of(p)


def recovery_record(forge: Forge, p: Proposal, execution: PhrRecord, now: datetime) -> PhrRecord | None:
    """For an applied revert: the `validation` record of the decision it undoes, carrying
    `recovered_at` (rollback time = rollback_requested_at → recovered_at, DESIGN §4.11); None when
    p is not a revert. The revert shares the reverted decision's id, so its apply closes that
    decision instead of writing a second execution record of it."""
    n = revert_number(p)
    if n is None:
        return None
    try:
        original = forge.get_proposal(n)
        rid = record_id_of(original)
    except AiopsError:
        rid = execution.id
    ok = execution.front.get("outcome") == "success"
    front = dict(execution.front)
    front.update(
        revert_of=n,
        revert_pr={"number": p.number, "url": p.url},
        outcome="rolled-back" if ok else execution.front.get("outcome"),
        recovered_at=format_time(now) if ok else None,
    )
    sections = {
        "Validation": (
            f"Revert #{p.number} of #{n} applied at {format_time(now)}: "
            + ("the service runs the previous state again." if ok else f"{execution.front.get('outcome')}.")
        ),
        **{k: v for k, v in execution.sections.items() if k != "Validation"},
    }
    return PhrRecord(id=rid, stage="validation", created=now, front=front, sections=sections)


def _combined_outcome(results: Sequence[ReleaseResult]) -> str:
    outs = [r.outcome for r in results]
    for o in ("failed", "rolled-back", "pending"):
        if o in outs:
            return o
    return "success"


def metrics_comment(
    p: Proposal, results: Sequence[ReleaseResult], head: str, held: Sequence[str] = ()
) -> str:
    from aiops.phr.render import escape_text

    lines = [f"### aiops apply: {_combined_outcome(results)}", "", f"`main` {head[:12]} applied."]
    for r in results:
        lines += [
            "",
            f"**{escape_text(r.release)}** ({r.mode}): {r.outcome}"
            + (f", verdict **{r.verdict}**" if r.verdict else ""),
        ]
        if r.verdict_reasons:
            lines.append("")
            lines.extend(f"- {escape_text(x)}" for x in r.verdict_reasons)
        lines += ["", "| metric | before | after |", "|---|---|---|"]
        for label, fn in _METRIC_ROWS:
            lines.append(f"| {label} | {fn(r.pre)} | {fn(r.post)} |")
        if r.rollback:
            lines += ["", f"Rolled back: {escape_text(r.rollback)}"]
        for x in r.reverts:
            lines.append(f"Revert proposal #{x.get('number')} ({x.get('action')}).")
    if not results:
        lines += [
            "",
            f"Not applied: {', '.join(held)} is on hold after a failed change; "
            "`aiops apply --resume RELEASE` or the merged revert lifts it."
            if held
            else "No release of this PR needed applying.",
        ]
    return "\n".join(lines) + "\n"


def _replicas(m: Mapping[str, Any] | None) -> str:
    if not m:
        return "—"
    w = m.get("workloads") or {}
    return (
        ", ".join(f"{k.split('/')[-1]} {v.get('available')}/{v.get('desired')}" for k, v in w.items()) or "—"
    )


def _res(name: str) -> Callable[[Mapping[str, Any] | None], str]:
    def fn(m: Mapping[str, Any] | None) -> str:
        r = (m or {}).get(name)
        if not isinstance(r, Mapping):
            return "—"
        ratio = r.get("ratio")
        pct = f" ({ratio:.0%})" if isinstance(ratio, float) else ""
        return f"{r.get('usage')}{r.get('unit')} of {r.get('requests')}{r.get('unit')}{pct}"

    return fn


def _val(key: str, fmt: str = "{}") -> Callable[[Mapping[str, Any] | None], str]:
    def fn(m: Mapping[str, Any] | None) -> str:
        v = (m or {}).get(key)
        return "—" if v is None else fmt.format(v)

    return fn


_METRIC_ROWS: tuple[tuple[str, Callable[[Mapping[str, Any] | None], str]], ...] = (
    ("available replicas", _replicas),
    ("restarts", _val("restarts")),
    ("OOM kills", _val("oom_kills")),
    ("pods not ready", _val("not_ready")),
    ("CPU usage of requests", _res("cpu")),
    ("memory usage of requests", _res("memory")),
    ("p95 latency", _val("latency_p95_ms", "{:.0f} ms")),
    ("error rate", _val("error_rate", "{:.2%}")),
)


def push_records(
    forge: Forge, git: Git, files: Mapping[str, str], message: str, *, settings: Settings, stamp: str
) -> str:
    """Records to the base branch (`apply.records: commit`) or as a records PR (`pr`); what was done."""
    from aiops.pipeline.proposal import bot_login

    if not files:
        return "nothing to record"
    if any(not p.startswith("history/") for p in files):
        raise InputError("records: only history/ files may be pushed by apply")
    if settings.apply.records == "commit":
        base = str(getattr(forge, "base", "main"))
        if forge.name == "local":
            old = forge.base_sha()
            sha = git.commit_files(old, files, message, author=(bot_login(settings), BOT_EMAIL))
            _advance(git, base, sha, old)
            return f"commit {sha[:12]} on {base}"
        try:
            git.run("fetch", "--quiet", "origin", base)
            old = git.run("rev-parse", "FETCH_HEAD")
            sha = git.commit_files(old, files, message, author=(bot_login(settings), BOT_EMAIL))
            git.run("push", "--quiet", "origin", f"{sha}:refs/heads/{base}")
            return f"commit {sha[:12]} pushed to {base}"
        except GitError as exc:
            note = f"push to {base} refused ({exc.message}); opened a records PR instead"
            return note + ": " + _records_pr(forge, files, message, settings=settings, stamp=stamp)
    return _records_pr(forge, files, message, settings=settings, stamp=stamp)


def _records_pr(
    forge: Forge, files: Mapping[str, str], message: str, *, settings: Settings, stamp: str
) -> str:
    key = f"records-{stamp.lower()}"
    p = forge.propose(
        branch=f"aiops/{key}",
        title=message.splitlines()[0],
        body="Execution, validation and hold records written by `aiops apply` / `aiops validate`.\n",
        files=dict(files),
        message=message,
        labels=["risk:trivial", "records"],
        meta={"id": key, "key": key, "kind": "records", "tier": "trivial"},
    )
    return f"records PR #{p.number}"


def _advance(git: Git, base: str, new: str, old: str) -> None:
    if not git.is_bare() and git.current_branch() == base:
        try:
            git.run("merge", "--ff-only", "--quiet", new)
            return
        except GitError as exc:
            raise InputError(
                f"{git.repo}: cannot fast-forward the checked-out {base} to the records commit:"
                f" {exc.message}",
                hint="commit or stash local changes, then retry",
            ) from exc
    git.update_ref(f"refs/heads/{base}", new, old)


# ---- the cluster side ------------------------------------------------------------------------------


def _materialize(git: Git, commit: str, prefixes: Sequence[str], dest: Path) -> None:
    for prefix in prefixes:
        for path in git.ls_files(commit, prefix):
            text = git.show(commit, path)
            if text is None:
                continue
            target = dest / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8", newline="")


def _release_deployments(snapshot: Snapshot, release: str, namespace: str) -> list[str]:
    from aiops.model.k8s import annotations_of, labels_of, name_of, namespace_of

    return sorted(
        name_of(d)
        for d in snapshot.of_kind("Deployment")
        if namespace_of(d) == namespace
        and (
            labels_of(d).get("app.kubernetes.io/instance") == release
            or annotations_of(d).get("meta.helm.sh/release-name") == release
        )
    )


class _Cluster:
    """The cluster-facing steps of one run (reads through LiveSource, writes through the apply adapters)."""

    def __init__(self, opts: ApplyOptions, settings: Settings, rt: ApplyRuntime, git: Git) -> None:
        self.opts, self.settings, self.rt, self.git = opts, settings, rt, git
        self._helm: Any = None

    def snapshot(self, namespace: str) -> Snapshot:
        if self.rt.read_snapshot is not None:
            return self.rt.read_snapshot(namespace)
        from aiops.cluster.live import KINDS, LiveSource

        kinds = tuple(k for k in KINDS if k.kind in WATCHED_KINDS)
        return LiveSource(
            kubeconfig=self.opts.kubeconfig, context=self.opts.context, namespaces=[namespace], kinds=kinds
        ).read()

    def measure(self, release: str, namespace: str) -> dict[str, Any]:
        from aiops.apply.measure import PrometheusProbe, measure_release

        snap = self.snapshot(namespace)
        prom: dict[str, Any] | None = None
        p = self.settings.prometheus
        if p.url:
            import os

            token = os.environ.get(p.bearer_token_env) if p.bearer_token_env else None
            prom = PrometheusProbe(p.url, token=token, ca_file=p.ca_file).figures(release, namespace)
        return measure_release(snap, release, namespace, prometheus=prom)

    def helm_binary(self) -> tuple[str, str]:
        from aiops.gitops.helm import NOT_AVAILABLE, find_helm, helm_version

        binary = find_helm(self.opts.helm, repo_dir=Path(self.opts.repo))
        if binary is None:
            raise InputError(f"apply.mode {self.settings.apply.mode}: {NOT_AVAILABLE}")
        return binary, helm_version(binary).rollback_flag

    def applier(self) -> Any:
        if self._helm is None:
            from aiops.apply.helm_apply import HelmApplier

            binary, flag = self.helm_binary()
            self._helm = HelmApplier(binary, flag, kubeconfig=self.opts.kubeconfig, context=self.opts.context)
        return self._helm

    def apply_release(self, name: str, commit: str, res: ReleaseResult) -> bool:
        rel = self.settings.apply.releases[name]
        mode = res.mode
        if mode == "observe":
            res.detail = "observe mode: applied by someone else; watching and measuring only"
            return True
        if mode in ("argocd", "flux"):
            from aiops.apply.gitops_engines import SyncWatcher

            watcher = SyncWatcher(
                mode,
                kubeconfig=self.opts.kubeconfig,
                context=self.opts.context,
                timeout_s=self.rt.watch_timeout_s,
                poll_s=self.rt.poll_s,
                clock=self.rt.monotonic,
                sleep=self.rt.sleep,
            )
            state = watcher.wait(name, commit)
            res.commands.append(
                {
                    "command": f"observe {mode} {name}",
                    "exit_code": 0 if not state.failed else 1,
                    "detail": state.detail,
                }
            )
            res.detail = state.detail
            return not state.failed
        with tempfile.TemporaryDirectory(prefix="aiops-apply-") as tmp:
            root = Path(tmp)
            _materialize(self.git, commit, [rel.chart.rstrip("/") + "/", *rel.values], root)
            chart = root / rel.chart
            values = [root / v for v in rel.values]
            if mode == "helm":
                run = self.applier().upgrade(
                    name,
                    chart,
                    namespace=rel.namespace,
                    values=values,
                    description=f"aiops apply {commit[:12]}",
                )
                res.commands.append(run.to_dict())
                res.detail = "helm upgrade succeeded" if run.ok else f"helm upgrade failed: {run.detail}"
                return bool(run.ok)
            from aiops.apply.kube_apply import KubeApplier
            from aiops.gitops.helm import template

            binary, _ = self.helm_binary()
            rendered = template(binary, name, chart, namespace=rel.namespace, values=values)
            results = KubeApplier(self.opts.kubeconfig, self.opts.context).apply(rendered, rel.namespace)
            ok = bool(results) and all(r.ok for r in results)
            res.commands.append(
                {
                    "command": f"server-side apply {name} ({len(results)} objects, field manager aiops)",
                    "exit_code": 0 if ok else 1,
                }
            )
            bad = [r for r in results if not r.ok]
            res.detail = (
                f"server-side applied {len(results)} objects"
                if ok
                else f"server-side apply failed: {bad[0].kind}/{bad[0].name}: {bad[0].detail}"
                if bad
                else "nothing rendered"
            )
            return ok

    def watch(self, name: str, namespace: str, res: ReleaseResult) -> bool:
        """The rollout monitor's rules over each Deployment of the release: False on halt/undo/timeout."""
        from aiops.recommend.rollout import Observation, RolloutThresholds, decide

        thresholds = RolloutThresholds.from_settings(self.settings.prometheus)
        start = self.rt.monotonic()
        snap = self.snapshot(namespace)
        pending = _release_deployments(snap, name, namespace)
        history: dict[str, list[Observation]] = {d: [] for d in pending}
        while True:
            for dep in list(pending):
                decision = decide(snap, namespace, dep, previous=history[dep], thresholds=thresholds)
                if decision.observation is not None:
                    history[dep].append(decision.observation)
                if decision.stops:
                    pending.remove(dep)
                    res.rollout.append(
                        {"deployment": dep, "decision": decision.decision, "headline": decision.headline}
                    )
                    if decision.failed:
                        return False
            if not pending:
                return True
            if self.rt.monotonic() - start >= self.rt.watch_timeout_s:
                res.rollout.append(
                    {
                        "deployment": ",".join(pending),
                        "decision": "timeout",
                        "headline": "rollout not done in time",
                    }
                )
                return False
            self.rt.sleep(self.rt.poll_s)
            snap = self.snapshot(namespace)

    def roll_back(self, name: str, previous: str | None, res: ReleaseResult) -> bool:
        rel = self.settings.apply.releases[name]
        if res.mode in ("argocd", "flux", "observe"):
            res.rollback = "git-first: the revert PR restores the previous state when the engine syncs it"
            return True
        if res.mode == "helm":
            h = self.applier()
            revision = h.previous_revision(name, namespace=rel.namespace)
            run = h.rollback(name, namespace=rel.namespace, revision=revision)
            res.commands.append(run.to_dict())
            res.rollback = (
                f"helm rollback to revision {revision if revision is not None else 'previous'}: {run.detail}"
            )
            return bool(run.ok)
        if previous is None:
            res.rollback = "no previously applied commit to re-apply"
            return False
        ok = self.apply_release(name, previous, ReleaseResult(name, rel.namespace, res.mode))
        res.rollback = f"re-applied {previous[:12]} (server-side apply): {'done' if ok else 'failed'}"
        return ok


# ---- the run -----------------------------------------------------------------------------------------


def check_context(opts: ApplyOptions, settings: Settings) -> str | None:
    from aiops.kube import current_context

    ctx = current_context(opts.kubeconfig, opts.context)
    if ctx == "in-cluster" and (opts.observe or settings.apply.mode in ("argocd", "flux")):
        return ctx
    if ctx != settings.cluster:
        raise PolicyRefusal(
            f"--context: kube context {ctx!r} is not the policy's cluster {settings.cluster!r}"
            " (.github/aiops.yaml `cluster`)",
            hint="pass --context with the cluster's context, or fix `cluster` in the policy",
        )
    return ctx


def run_apply(
    forge: Forge,
    git: Git,
    opts: ApplyOptions,
    rt: ApplyRuntime | None = None,
    settings: Settings | None = None,
) -> ApplyReport:
    from aiops.gitops.helm import affected_releases
    from aiops.pipeline.merge import policy_of

    rt = rt or ApplyRuntime()
    settings = settings or policy_of(forge)
    head = forge.base_sha()
    if git.rev(head) is None:
        raise InputError(f"--repo {git.repo}: does not hold {head[:12]} (the base head); fetch it first")
    since = last_applied(forge, git)
    report = ApplyReport(head=head, last_applied=since, dry_run=opts.dry_run)
    for r in opts.releases:
        if r not in settings.apply.releases:
            raise InputError(f"--release {r}: not in apply.releases ({', '.join(settings.apply.releases)})")
    if opts.resume and opts.resume not in settings.apply.releases:
        raise InputError(
            f"--resume {opts.resume}: not in apply.releases ({', '.join(settings.apply.releases)})"
        )

    # 1. every commit since the last applied one: through a merged PR with a passing gate, or refused
    by_merge = {p.merge_sha: p for p in forge.find_proposals(state="merged") if p.merge_sha}
    if since is None:
        since = _bootstrap_base(git, head, by_merge)
        if since is not None:
            report.notes.append(f"first apply: accounting from the first merged PR on (after {since[:12]})")
    commits = _first_parent_commits(git, since, head) if since != head else []
    prs: list[Proposal] = []
    refusals: list[str] = []
    for c in commits:
        paths = _changed_paths(git, c)
        if not _touches_manifests(paths):
            continue
        p = _pr_for_commit(forge, by_merge, git, c)
        if p is None:
            refusals.append(f"commit {c[:12]} changes manifests/ but did not come through a merged PR")
            continue
        problem = gate_problem(forge, p, settings)
        if problem:
            refusals.append(problem)
            continue
        prs.append(p)
    if refusals:
        raise PolicyRefusal(
            "apply refused, nothing applied: " + "; ".join(refusals),
            hint=(
                "changes to manifests/ reach main only through a PR the approval gate passed;"
                " revert the commit by a PR"
            ),
        )
    report.prs = [p.number for p in prs]
    check_context(opts, settings)

    now = rt.now()
    bot = opts.actor or _bot(settings)
    current_holds = holds(forge)
    record_files: dict[str, str] = {}
    # 2. holds: lifted by --resume or by the merged revert of a held PR
    merged_reverts = {
        int(p.meta["revert_of"])
        for p in forge.find_proposals(state="merged")
        if isinstance(p.meta.get("revert_of"), int)
    }
    merged_reverts.update(n for p in prs if (n := button_revert_of(p)) is not None)
    for name, h in list(current_holds.items()):
        reason = None
        if opts.resume == name:
            reason = f"resumed by {opts.actor or 'aiops apply --resume'}"
        elif h.prs and all(n in merged_reverts for n in h.prs):
            reason = "the revert of " + ", ".join(f"#{n}" for n in h.prs) + " merged"
        if reason:
            path, text = hold_file(name, "lifted", now, reason, prs=h.prs, by=bot)
            record_files[path] = text
            del current_holds[name]
            report.notes.append(f"hold on {name} lifted: {reason}")
            resumed = _resume_engine(opts, settings, name)
            if resumed:
                report.notes.append(resumed)
    # 3. which releases changed since the last applied commit
    paths = _range_paths(git, since, head) if since != head else []
    changes = [FileChange(path=p, old_text=None, new_text="") for p in paths]
    wanted = affected_releases(changes, settings)
    if opts.resume and opts.resume not in wanted and opts.resume not in current_holds:
        wanted.append(opts.resume)  # a resumed release is re-applied from HEAD
    if opts.releases:
        wanted = [r for r in wanted if r in opts.releases]
    todo: list[str] = []
    for name in wanted:
        if name in current_holds:
            report.skipped.append(
                f"{name}: on hold since {current_holds[name].at} ({current_holds[name].reason})"
            )
        else:
            todo.append(name)
    if not prs and not todo:
        report.up_to_date = True
    mode = "observe" if opts.observe and settings.apply.mode in ("helm", "kubectl") else settings.apply.mode
    if opts.dry_run:
        for name in todo:
            rel = settings.apply.releases[name]
            report.releases.append(ReleaseResult(name, rel.namespace, mode, detail="would apply"))
        return report

    # 4. apply, watch, measure, judge; the failure path
    cluster = _Cluster(opts, settings, rt, git)
    stabilize = (
        rt.stabilization_s if rt.stabilization_s is not None else settings.apply.stabilization_minutes * 60.0
    )
    from aiops.recommend.verdict import judge

    for name in todo:
        rel = settings.apply.releases[name]
        res = ReleaseResult(name, rel.namespace, mode)
        report.releases.append(res)
        res.pre = cluster.measure(name, rel.namespace)
        ok = cluster.apply_release(name, head, res)
        res.applied = ok
        if ok:
            ok = cluster.watch(name, rel.namespace, res)
            if not ok:
                res.detail = (
                    (res.detail + "; " if res.detail else "") + "rollout: " + str(res.rollout[-1]["headline"])
                )
        if ok and stabilize > 0:
            rt.sleep(stabilize)
        res.post = cluster.measure(name, rel.namespace)
        v = judge(
            res.pre,
            res.post,
            error_rate_threshold=settings.prometheus.error_rate_threshold,
            latency_p95_ms_threshold=settings.prometheus.latency_p95_ms_threshold,
        )
        res.verdict, res.verdict_reasons = v.verdict, v.reasons
        if ok and v.verdict != "regressed":
            res.outcome = "success"
            continue
        why = res.detail if not ok else f"verdict regressed: {v.reason}"
        back = cluster.roll_back(name, since, res)
        res.outcome = "rolled-back" if back else "failed"
        involved = [p for p in prs if name in _releases_of(forge, p, settings)] or prs
        if len(involved) > 1:  # the newest change is reverted first; a re-apply tells whether it was all
            why += "; also merged since the last apply: " + ", ".join(f"#{p.number}" for p in involved[:-1])
            involved = involved[-1:]
        path, text = hold_file(name, "held", now, why, prs=[p.number for p in involved], by=bot)
        record_files[path] = text
        current_holds[name] = Hold(
            name, "held", format_time(now) or "", why, tuple(p.number for p in involved), bot, path
        )
        for p in involved:
            res.reverts.append(_open_revert(forge, p, settings, now, bot))

    # 5. comments, records, state
    for p in prs:
        touched = _releases_of(forge, p, settings)
        mine = [r for r in report.releases if r.release in touched]
        held = [r for r in touched if r in current_holds and r not in {x.release for x in mine}]
        forge.upsert_comment(p.number, METRICS_COMMENT, metrics_comment(p, mine, head, held))
        rec = execution_record(forge, p, mine, settings=settings, head=head, now=now, held=held)
        from aiops.phr import render_record

        recovery = recovery_record(forge, p, rec, now)
        if recovery is not None:
            # the decision's validation record may exist (a regression found by `aiops validate`):
            # the recovery then gets its own file next to it, never an edit of a landed record
            alt = recovery.path.removesuffix(".md") + f"-revert-{p.number}.md"
            free = [x for x in (recovery.path, alt) if forge.read_file(x) is None]
            if not free:
                report.notes.append(f"{alt} exists already; the revert #{p.number} is recorded there")
            else:
                record_files[free[0]] = render_record(recovery)
            continue
        if forge.read_file(rec.path) is not None:
            report.notes.append(f"{rec.path} exists already; not rewritten (records are append-only)")
            continue
        record_files[rec.path] = render_record(rec)
    if current_holds != holds(forge) or any(p.startswith(HOLDS_DIR) for p in record_files):
        forge.upsert_dashboard(HOLDS_SECTION, holds_dashboard(current_holds))
    report.records = sorted(record_files)
    if record_files:
        nums = ", ".join(f"#{p.number}" for p in prs) or "holds"
        message = f"aiops apply: records of {nums}\n\nApplied {head}.\n\n" + "".join(
            f"Aiops-Id: {record_id_of(p)}\n" for p in prs
        )
        report.records_pushed = push_records(
            forge, git, record_files, message, settings=settings, stamp=now.strftime("%Y%m%dT%H%M%SZ")
        )
    if forge.name == "local" or git.rev(APPLIED_REF) is not None:
        git.update_ref(APPLIED_REF, head)
    return report


def _resume_engine(opts: ApplyOptions, settings: Settings, name: str) -> str | None:
    """After an emergency suspended Argo CD/Flux for `name`, give the engine its auto-sync back."""
    if opts.dry_run or settings.apply.mode not in ("argocd", "flux"):
        return None
    from aiops.apply.gitops_engines import SyncWatcher

    try:
        return SyncWatcher(settings.apply.mode, kubeconfig=opts.kubeconfig, context=opts.context).resume(name)
    except InputError:  # the engine has no object of that name: nothing was suspended
        return None


def _bot(settings: Settings) -> str:
    from aiops.pipeline.proposal import bot_login

    return bot_login(settings)


def _releases_of(forge: Forge, p: Proposal, settings: Settings) -> list[str]:
    from aiops.gitops.helm import affected_releases

    files = [
        FileChange(path=path, old_text=None, new_text="", old_path=old)
        for path, old, _o, _n in forge.changed_files(p.number)
    ]
    return affected_releases(files, settings)


def _open_revert(forge: Forge, p: Proposal, settings: Settings, now: datetime, bot: str) -> dict[str, Any]:
    from aiops.pipeline.rollback import rollback

    try:
        out = rollback(forge, p.number, settings=settings, requested_by=bot, now=now)
    except AiopsError as exc:
        return {"number": None, "action": f"not opened: {exc.message}", "revert_of": p.number}
    return {"number": out.number, "action": out.action, "revert_of": p.number, "url": out.url}


def within(at: str | None, now: datetime, minutes: float) -> bool:
    t = parse_time(at)
    return t is not None and now - t <= timedelta(minutes=minutes)
