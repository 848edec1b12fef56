"""The rolling-update decision: continue, halt, undo or done for one Deployment (rightsizing.md §5).

`decide(snapshot, namespace, name, ...)` follows the Deployment's **new ReplicaSet** (the one whose
`deployment.kubernetes.io/revision` annotation equals the Deployment's; else the one whose pod
template, minus `pod-template-hash`, is the Deployment's; else the one its Progressing condition
names; else the highest revision) and judges only that ReplicaSet's pods:

- **undo** — the controller's verdict `Progressing=False reason=ProgressDeadlineExceeded` (H1): the
  rollout will not finish on its own, roll back to the previous ReplicaSet's template;
- **halt** (pause, a person decides; `kubectl rollout undo` is recommended) — any of: an OOMKill
  (H2), a crash/image/config state (H3), restarts (H4: a container restarted ≥ 2 times, or the new
  pods' restarts sum to ≥ max(2, ⌈10 % of replicas⌉)), a pod unschedulable for > 120 s (H5),
  `ReplicaFailure=True` (H6), a pod not Ready for longer than its readiness budget since its
  containers started or it dropped out of Ready (probe initialDelay + failureThreshold × period +
  60 s, 180 s without a probe) or flapping Ready more than twice in
  10 min (H7), no increase of available new replicas for min(progressDeadlineSeconds, 300 s) across
  observations (H1, our own budget), and — when Prometheus figures are given — the new pods' error
  rate over `prometheus.error_rate_threshold` or p95 latency over `latency_p95_ms_threshold` for two
  consecutive observations (M1/M2; < 0.1 req/s is inconclusive, not a pass), or four consecutive
  metric query errors (M6, inconclusive → pause);
- **done** — `kubectl rollout status` would say "successfully rolled out" (observed generation,
  every replica updated and available, no old replicas, `NewReplicaSetAvailable`) and nothing fired;
- **continue** — otherwise (still progressing within its budgets, paused, or waiting for the
  controller to observe the spec).

Failure signatures of the new pods come from the diagnosis findings (`aiops.diagnose.run_all`) —
codes, causes and evidence — never re-derived here; only counts, timings and conditions that are
rollout rules (restarts, readiness budget, deadline, replica failure) are read from the objects.
Old-ReplicaSet pods never count against the new one (they are listed as notes).

Pure: no I/O, never the wall clock (everything is judged at `snapshot.at`); the result is a
frozen `RolloutDecision` whose `to_dict()` later stages write into history.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from aiops.diagnose import run_all
from aiops.diagnose.common import condition
from aiops.diagnose.workloads import pod_state
from aiops.errors import InputError
from aiops.model import Diagnosis, Finding, ObjectRef, Severity, Snapshot, format_time, parse_time
from aiops.model.k8s import K8sObject, annotations_of, dig, meta, name_of, namespace_of

__all__ = [
    "DECISIONS",
    "REVISION",
    "MetricFigures",
    "Observation",
    "Reason",
    "RolloutDecision",
    "RolloutThresholds",
    "decide",
    "find_replicasets",
    "rollback_template",
]

Decision = Literal["continue", "halt", "undo", "done"]
DECISIONS: tuple[Decision, ...] = ("continue", "halt", "undo", "done")
REVISION = "deployment.kubernetes.io/revision"
HASH_LABEL = "pod-template-hash"

# Finding codes (DESIGN §4.2) of a new-ReplicaSet pod → the rule they fire.
_FINDING_RULES: Mapping[str, str] = {
    "OOMKilled": "H2-oom",
    "CrashLoopBackOff": "H3-crash",
    "RunContainerError": "H3-crash",
    "InitContainerFailure": "H3-crash",
    "LivenessProbeFailure": "H3-crash",
    "ImagePullBackOff": "H3-image",
    "CreateContainerConfigError": "H3-config",
    "FailedMount": "H3-config",
    "StartupProbeFailure": "H7-readiness",
    "ReadinessProbeFailure": "H7-readiness",
}
# These fire whatever their severity (an OOMKill is one even when the container runs again;
# ReadinessProbeFailure is a warning by design, but in a rollout it is the readiness signal).
_ANY_SEVERITY = frozenset({"OOMKilled", "ReadinessProbeFailure"})


RECENT_RESTART_S = 3600.0
"""Restarts whose last termination is older than this, of a container running now, are history."""


# ---- inputs ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RolloutThresholds:
    """Budgets and thresholds of rightsizing.md §5.4; metric thresholds from settings `prometheus`."""

    error_rate: float | None = 0.05
    latency_p95_ms: float | None = None
    min_request_rate: float = 0.1
    bad_intervals: int = 2
    metric_error_limit: int = 4
    container_restarts: int = 2
    unschedulable_s: float = 120.0
    readiness_slack_s: float = 60.0
    readiness_without_probe_s: float = 180.0
    stall_s: float = 300.0
    max_ready_flips: int = 2
    flip_window_s: float = 600.0

    @classmethod
    def from_settings(cls, prometheus: Any) -> RolloutThresholds:
        """From the settings' `prometheus` section (`error_rate_threshold`, `latency_p95_ms_threshold`)."""
        return cls(
            error_rate=getattr(prometheus, "error_rate_threshold", 0.05),
            latency_p95_ms=getattr(prometheus, "latency_p95_ms_threshold", None),
        )


@dataclass(frozen=True)
class MetricFigures:
    """The new ReplicaSet's pods as Prometheus saw them at one observation (None = no data)."""

    error_rate: float | None = None
    latency_p95_ms: float | None = None
    request_rate: float | None = None
    source: str = ""
    error: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MetricFigures:
        def num(key: str) -> float | None:
            value = data.get(key)
            return float(value) if isinstance(value, int | float) else None

        return cls(
            error_rate=num("error_rate"),
            latency_p95_ms=num("latency_p95_ms"),
            request_rate=num("request_rate"),
            source=str(data.get("source") or ""),
            error=str(data["error"]) if data.get("error") else None,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "error_rate": self.error_rate,
            "latency_p95_ms": self.latency_p95_ms,
            "request_rate": self.request_rate,
            "source": self.source,
            "error": self.error,
        }


@dataclass(frozen=True)
class Observation:
    """What one decision saw, kept so later decisions can count across polls."""

    at: datetime
    new_replicaset: str | None
    available: int
    complete: bool
    ready: tuple[tuple[str, bool], ...] = ()
    metrics: MetricFigures | None = None
    error_rate_over: bool = False
    latency_over: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": format_time(self.at),
            "new_replicaset": self.new_replicaset,
            "available": self.available,
            "complete": self.complete,
            "ready": dict(self.ready),
            "metrics": self.metrics.to_dict() if self.metrics else None,
        }


# ---- outputs -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Reason:
    """One rule that fired: its id (H1…H7, M1/M2/M6), the finding code when one backs it, the object."""

    rule: str
    object: str
    summary: str
    evidence: tuple[str, ...] = ()
    code: str | None = None
    container: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Reason:
        return cls(
            rule=str(data["rule"]),
            object=str(data.get("object") or ""),
            summary=str(data.get("summary") or ""),
            evidence=tuple(str(e) for e in data.get("evidence") or ()),
            code=str(data["code"]) if data.get("code") else None,
            container=str(data["container"]) if data.get("container") else None,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "code": self.code,
            "object": self.object,
            "container": self.container,
            "summary": self.summary,
            "evidence": list(self.evidence),
        }


@dataclass(frozen=True)
class RolloutDecision:
    """The decision on one Deployment at `at`, with what it rests on (written into history later)."""

    decision: Decision
    deployment: ObjectRef
    at: datetime
    progress: str
    revision: str | None = None
    new_replicaset: str | None = None
    previous_replicaset: str | None = None
    previous_revision: str | None = None
    replicas: Mapping[str, int] = field(default_factory=dict)
    reasons: tuple[Reason, ...] = ()
    evidence: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    findings: tuple[str, ...] = ()
    metrics: MetricFigures | None = None
    paused: bool = False
    observation: Observation | None = None

    @property
    def stops(self) -> bool:
        """Whether a watch ends here (done, halt or undo)."""
        return self.decision != "continue"

    @property
    def failed(self) -> bool:
        return self.decision in ("halt", "undo")

    @property
    def headline(self) -> str:
        """One line: the decision and why."""
        target = f"deploy/{self.deployment.name}"
        rs = f" {self.new_replicaset}" if self.new_replicaset else ""
        rev = f" (revision {self.revision}{rs})" if self.revision else (f" ({rs.strip()})" if rs else "")
        if self.reasons:
            why = "; ".join(
                f"{r.rule} {r.object}" + (f" ({r.code})" if r.code else "") for r in self.reasons[:3]
            )
            more = f"; and {len(self.reasons) - 3} more" if len(self.reasons) > 3 else ""
            return f"{self.decision.upper()} {target}{rev}: {why}{more}"
        return f"{self.decision.upper()} {target}{rev}: {self.progress}"

    def lines(self) -> list[str]:
        """The reasoning, as the watch prints it: headline, rules with evidence, pod states, notes."""
        out = [self.headline]
        if self.reasons:
            out.append(f"  progress: {self.progress}")
        for r in self.reasons:
            out.append(f"  {r.rule} {r.object}: {r.summary}")
            out.extend(f"    {e}" for e in r.evidence)
        out.extend(f"  {e}" for e in self.evidence)
        if self.metrics is not None:
            out.append(f"  metrics: {_metrics_text(self.metrics)}")
        out.extend(f"  note: {n}" for n in self.notes)
        if self.decision == "undo" and self.previous_replicaset:
            out.append(
                f"  undo: roll back to revision {self.previous_revision} "
                f"(ReplicaSet {self.previous_replicaset})"
            )
        elif self.decision == "halt":
            out.append(
                "  halt: pause the rollout (kubectl rollout pause); then fix forward or "
                f"kubectl rollout undo deployment/{self.deployment.name}"
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "deployment": self.deployment.to_dict(),
            "at": format_time(self.at),
            "progress": self.progress,
            "revision": self.revision,
            "new_replicaset": self.new_replicaset,
            "previous": {"replicaset": self.previous_replicaset, "revision": self.previous_revision},
            "paused": self.paused,
            "replicas": dict(self.replicas),
            "reasons": [r.to_dict() for r in self.reasons],
            "evidence": list(self.evidence),
            "findings": list(self.findings),
            "metrics": self.metrics.to_dict() if self.metrics else None,
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RolloutDecision:
        """Read a record back (from history); the per-watch `observation` is not part of it."""
        raw = str(data.get("decision"))
        decision = next((d for d in DECISIONS if d == raw), None)
        if decision is None:
            raise InputError(f"rollout record: decision {raw!r} is not one of {', '.join(DECISIONS)}")
        at = parse_time(data.get("at"))
        if at is None:
            raise InputError("rollout record: `at` is missing or not a time")
        previous = data.get("previous") or {}
        metrics = data.get("metrics")
        return cls(
            decision=decision,
            deployment=ObjectRef.from_dict(data["deployment"]),
            at=at,
            progress=str(data.get("progress") or ""),
            revision=data.get("revision"),
            new_replicaset=data.get("new_replicaset"),
            previous_replicaset=previous.get("replicaset"),
            previous_revision=previous.get("revision"),
            replicas={str(k): int(v) for k, v in (data.get("replicas") or {}).items()},
            reasons=tuple(Reason.from_dict(r) for r in data.get("reasons") or ()),
            evidence=tuple(str(e) for e in data.get("evidence") or ()),
            notes=tuple(str(n) for n in data.get("notes") or ()),
            findings=tuple(str(c) for c in data.get("findings") or ()),
            metrics=MetricFigures.from_dict(metrics) if isinstance(metrics, Mapping) else None,
            paused=bool(data.get("paused")),
        )


# ---- ReplicaSets -------------------------------------------------------------------------------
def _revision_of(obj: K8sObject) -> int:
    try:
        return int(annotations_of(obj).get(REVISION, "0"))
    except (TypeError, ValueError):
        return 0


def _controller(obj: K8sObject) -> dict[str, Any] | None:
    refs = meta(obj).get("ownerReferences") or []
    for ref in refs:
        if isinstance(ref, dict) and ref.get("controller"):
            return ref
    return None


def _owned_by(obj: K8sObject, owner: K8sObject, kind: str) -> bool:
    ref = _controller(obj)
    if ref is None or ref.get("kind") != kind:
        return False
    uid = meta(owner).get("uid")
    if uid and ref.get("uid"):
        return bool(ref.get("uid") == uid)
    return bool(ref.get("name") == name_of(owner))


def _template_without_hash(template: Any) -> Any:
    if not isinstance(template, dict):
        return template
    out = dict(template)
    md = dict(out.get("metadata") or {})
    labels = {k: v for k, v in (md.get("labels") or {}).items() if k != HASH_LABEL}
    if labels:
        md["labels"] = labels
    else:
        md.pop("labels", None)
    out["metadata"] = md
    return out


def find_replicasets(
    snapshot: Snapshot, dep: K8sObject
) -> tuple[K8sObject | None, str | None, list[K8sObject]]:
    """(new ReplicaSet or None, its name when known even if absent, the other owned ReplicaSets)."""
    ns = namespace_of(dep)
    owned = [
        rs
        for rs in snapshot.of_kind("ReplicaSet")
        if namespace_of(rs) == ns and _owned_by(rs, dep, "Deployment")
    ]
    rev = annotations_of(dep).get(REVISION)
    new: K8sObject | None = None
    if rev:
        new = next((rs for rs in owned if annotations_of(rs).get(REVISION) == rev), None)
    if new is None:
        want = _template_without_hash(dig(dep, "spec", "template", default={}))
        new = next(
            (rs for rs in owned if _template_without_hash(dig(rs, "spec", "template", default={})) == want),
            None,
        )
    name: str | None = name_of(new) if new is not None else None
    if new is None:
        cond = condition(dep, "Progressing") or {}
        msg = str(cond.get("message") or "")
        start = msg.find('ReplicaSet "')
        if start >= 0:
            rest = msg[start + len('ReplicaSet "') :]
            name = rest.split('"', 1)[0] or None
            new = next((rs for rs in owned if name_of(rs) == name), None)
    if new is None and name is None and owned:
        new = max(owned, key=_revision_of)
        name = name_of(new)
    others = [rs for rs in owned if rs is not new]
    return new, name, others


def _previous(new_rev: int, others: Sequence[K8sObject]) -> K8sObject | None:
    """The ReplicaSet `kubectl rollout undo` goes back to: the highest revision below the new one."""
    older = [rs for rs in others if 0 < _revision_of(rs) < new_rev] if new_rev else list(others)
    return max(older, key=_revision_of) if older else None


def rollback_template(
    snapshot: Snapshot, namespace: str, name: str
) -> tuple[str, str, dict[str, Any]] | None:
    """(previous ReplicaSet, its revision, its pod template minus `pod-template-hash`) — what
    `kubectl rollout undo` writes back into the Deployment; None when there is no previous revision."""
    dep = snapshot.get("Deployment", namespace, name)
    if dep is None:
        return None
    new, _, others = find_replicasets(snapshot, dep)
    new_rev = _revision_of(new) if new is not None else _revision_of(dep)
    prev = _previous(new_rev, others)
    if prev is None or not isinstance(dig(prev, "spec", "template"), dict):
        return None
    template = _template_without_hash(dig(prev, "spec", "template"))
    return name_of(prev), str(_revision_of(prev)), template


def _pods_of(
    snapshot: Snapshot, namespace: str, rs: K8sObject | None, rs_name: str | None
) -> list[K8sObject]:
    out: list[K8sObject] = []
    for pod in snapshot.of_kind("Pod"):
        if namespace_of(pod) != namespace:
            continue
        ref = _controller(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            continue
        if rs is not None and ref.get("uid") and meta(rs).get("uid"):
            if ref.get("uid") == meta(rs).get("uid"):
                out.append(pod)
        elif rs_name and ref.get("name") == rs_name:
            out.append(pod)
    return out


# ---- pod rules ---------------------------------------------------------------------------------
def _is_ready(pod: K8sObject) -> bool:
    cond = condition(pod, "Ready")
    return cond is not None and cond.get("status") == "True"


def _terminating(pod: K8sObject) -> bool:
    return bool(meta(pod).get("deletionTimestamp"))


def _readiness_budget(pod: K8sObject, thresholds: RolloutThresholds) -> float:
    budget = 0.0
    any_probe = False
    for c in dig(pod, "spec", "containers", default=()) or ():
        if not isinstance(c, dict):
            continue
        total = 0.0
        for key in ("startupProbe", "readinessProbe"):
            probe = c.get(key)
            if isinstance(probe, dict):
                any_probe = any_probe or key == "readinessProbe"
                total += float(probe.get("initialDelaySeconds") or 0) + float(
                    probe.get("failureThreshold") or 3
                ) * float(probe.get("periodSeconds") or 10)
        budget = max(budget, total)
    if not any_probe:
        return max(budget + thresholds.readiness_slack_s, thresholds.readiness_without_probe_s)
    return budget + thresholds.readiness_slack_s


def _containers_started(pod: K8sObject) -> datetime | None:
    """When the last of the pod's containers started running (its readiness clock), or None while
    one is still being created or waits (pulling, initializing: other rules judge those)."""
    latest: datetime | None = None
    statuses = dig(pod, "status", "containerStatuses", default=()) or ()
    for cs in statuses:
        if not isinstance(cs, dict):
            continue
        started = parse_time(dig(cs, "state", "running", "startedAt"))
        if started is None:
            return None
        latest = started if latest is None or started > latest else latest
    return latest


def _unschedulable(pod: K8sObject) -> bool:
    sched = condition(pod, "PodScheduled")
    return sched is not None and sched.get("status") == "False"


def _restarts(pod: K8sObject, at: datetime | None = None) -> list[tuple[str, int]]:
    """(container, restartCount); with `at`, only containers failing now or whose last termination
    is within RECENT_RESTART_S (an old, long-Ready pod's restarts are history, as in the diagnosis)."""
    out: list[tuple[str, int]] = []
    for key in ("initContainerStatuses", "containerStatuses"):
        for cs in dig(pod, "status", key, default=()) or ():
            if not isinstance(cs, dict):
                continue
            n = int(cs.get("restartCount") or 0)
            if at is not None and n:
                finished = parse_time(dig(cs, "lastState", "terminated", "finishedAt"))
                waiting = dig(cs, "state", "waiting", "reason")
                running_ok = bool(cs.get("ready")) or not waiting
                if finished is not None and running_ok and (at - finished).total_seconds() > RECENT_RESTART_S:
                    continue
            out.append((str(cs.get("name", "")), n))
    return out


def _seconds(at: datetime, since: datetime | None) -> float | None:
    return None if since is None else (at - since).total_seconds()


def _dur(seconds: float) -> str:
    s = int(max(seconds, 0))
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def _finding_reasons(
    findings: Sequence[Finding], at: datetime, thresholds: RolloutThresholds
) -> tuple[list[Reason], list[str]]:
    reasons: list[Reason] = []
    notes: list[str] = []
    for f in findings:
        obj = f"pod {f.object.name}"
        if f.code.startswith("Unschedulable."):
            age = _seconds(at, f.started_at)
            if age is None or age > thresholds.unschedulable_s:
                since = f" for {_dur(age)}" if age is not None else ""
                reasons.append(
                    Reason("H5-scheduling", obj, f"{f.code}{since}: {f.summary}", f.evidence, code=f.code)
                )
            else:
                notes.append(
                    f"{obj} {f.code} for {_dur(age)} (halts after {_dur(thresholds.unschedulable_s)}): "
                    f"{f.summary}"
                )
            continue
        rule = _FINDING_RULES.get(f.code)
        if rule is None:
            notes.append(f"{obj}: {f.code} ({f.severity.value}): {f.summary}")
            continue
        if f.severity is not Severity.CRITICAL and f.code not in _ANY_SEVERITY:
            notes.append(f"{obj}: {f.code} ({f.severity.value}, not a halt on its own): {f.summary}")
            continue
        evidence = list(f.evidence)
        if f.cause is not None:
            detail = ", ".join(f"{k}={v}" for k, v in f.cause.detail.items())
            evidence.append(f"cause {f.cause.type}" + (f" ({detail})" if detail else ""))
        reasons.append(Reason(rule, obj, f"{f.code}: {f.summary}", tuple(evidence), f.code, f.container))
    return reasons, notes


def _restart_reasons(
    pods: Sequence[K8sObject], replicas: int, thresholds: RolloutThresholds, at: datetime
) -> list[Reason]:
    reasons: list[Reason] = []
    total = 0
    per: list[str] = []
    for pod in pods:
        for cname, n in _restarts(pod, at):
            total += n
            if n:
                per.append(f"pod {name_of(pod)} container {cname}: restartCount={n}")
            if n >= thresholds.container_restarts:
                reasons.append(
                    Reason(
                        "H4-restarts",
                        f"pod {name_of(pod)}",
                        f"container {cname} restarted {n} times (halt at {thresholds.container_restarts})",
                        (f"status.containerStatuses[{cname}].restartCount={n}",),
                        container=cname,
                    )
                )
    limit = max(2, math.ceil(0.1 * replicas))
    if total >= limit and not reasons:
        reasons.append(
            Reason(
                "H4-restarts",
                "new ReplicaSet",
                f"its pods restarted {total} times in all "
                f"(halt at max(2, ceil(10 % of {replicas})) = {limit})",
                tuple(per),
            )
        )
    return reasons


def _readiness_reasons(
    pods: Sequence[K8sObject],
    at: datetime,
    thresholds: RolloutThresholds,
    already: set[str],
    previous: Sequence[Observation],
) -> tuple[list[Reason], list[str]]:
    reasons: list[Reason] = []
    notes: list[str] = []
    for pod in pods:
        pname = name_of(pod)
        if _terminating(pod) or _unschedulable(pod) or _is_ready(pod):
            continue
        if dig(pod, "status", "phase") in ("Succeeded", "Failed"):
            continue
        started = _containers_started(pod)
        if started is None:
            if f"pod {pname}" not in already:
                notes.append(f"pod {pname} still starting: {pod_state(pod)}")
            continue
        # not Ready since its containers started, or since it dropped out of Ready, whichever is later
        dropped = parse_time((condition(pod, "Ready") or {}).get("lastTransitionTime"))
        since = max(started, dropped) if dropped is not None else started
        age = (at - since).total_seconds()
        budget = _readiness_budget(pod, thresholds)
        if age > budget and f"pod {pname}" not in already:
            reasons.append(
                Reason(
                    "H7-readiness",
                    f"pod {pname}",
                    f"not Ready for {_dur(age)} since {format_time(since)} (budget {_dur(budget)})",
                    (f"pod {pname}: {pod_state(pod)}",),
                )
            )
        elif age <= budget:
            notes.append(
                f"pod {pname} not Ready yet after {_dur(age)} (budget {_dur(budget)}): {pod_state(pod)}"
            )
    # flapping: Ready → not Ready more than max_ready_flips times within the window
    window = [o for o in previous if (at - o.at).total_seconds() <= thresholds.flip_window_s]
    if window:
        current = {name_of(p): _is_ready(p) for p in pods}
        for pname, now_ready in current.items():
            seq = [dict(o.ready)[pname] for o in window if pname in dict(o.ready)] + [now_ready]
            flips = sum(1 for a, b in itertools.pairwise(seq) if a and not b)
            if flips > thresholds.max_ready_flips:
                reasons.append(
                    Reason(
                        "H7-readiness",
                        f"pod {pname}",
                        f"went from Ready to not Ready {flips} times in "
                        f"{_dur(thresholds.flip_window_s)} (halt above {thresholds.max_ready_flips})",
                    )
                )
    return reasons, notes


# ---- metric rules ------------------------------------------------------------------------------
def _metrics_text(m: MetricFigures) -> str:
    if m.error:
        return f"query failed: {m.error}"
    parts = []
    if m.error_rate is not None:
        parts.append(f"error rate {m.error_rate:.2%}")
    if m.latency_p95_ms is not None:
        parts.append(f"p95 latency {m.latency_p95_ms:.0f} ms")
    if m.request_rate is not None:
        parts.append(f"{m.request_rate:.2f} req/s")
    text = ", ".join(parts) or "no data for the new pods"
    return f"{text} ({m.source})" if m.source else text


def _consecutive(previous: Sequence[Observation], rs: str | None, pick: str) -> int:
    n = 0
    for o in reversed(previous):
        if o.new_replicaset != rs or not getattr(o, pick):
            break
        n += 1
    return n


def _metric_reasons(
    m: MetricFigures | None,
    previous: Sequence[Observation],
    rs: str | None,
    thresholds: RolloutThresholds,
) -> tuple[list[Reason], list[str], bool, bool]:
    """(reasons, notes, error rate over now, latency over now)."""
    if m is None:
        return [], [], False, False
    reasons: list[Reason] = []
    notes: list[str] = []
    if m.error:
        errors = 1
        for o in reversed(previous):
            if o.metrics is None or not o.metrics.error:
                break
            errors += 1
        if errors >= thresholds.metric_error_limit:
            reasons.append(
                Reason(
                    "M6-metrics",
                    "Prometheus",
                    f"{errors} consecutive metric queries failed: inconclusive, a person decides",
                    (m.error,),
                )
            )
        else:
            notes.append(f"metric query failed ({errors}/{thresholds.metric_error_limit}): {m.error}")
        return reasons, notes, False, False
    if m.request_rate is not None and m.request_rate < thresholds.min_request_rate:
        notes.append(
            f"new pods serve {m.request_rate:.3f} req/s (< {thresholds.min_request_rate:g}): error rate and "
            "latency are inconclusive (no traffic is not a pass)"
        )
        return reasons, notes, False, False
    err_over = (
        thresholds.error_rate is not None
        and m.error_rate is not None
        and m.error_rate > thresholds.error_rate
    )
    lat_over = (
        thresholds.latency_p95_ms is not None
        and m.latency_p95_ms is not None
        and m.latency_p95_ms > thresholds.latency_p95_ms
    )
    for over, pick, rule, what, value, limit in (
        (err_over, "error_rate_over", "M1-error-rate", "error rate", m.error_rate, thresholds.error_rate),
        (lat_over, "latency_over", "M2-latency", "p95 latency", m.latency_p95_ms, thresholds.latency_p95_ms),
    ):
        if not over or value is None or limit is None:
            continue
        shown = f"{value:.2%} > {limit:.2%}" if rule == "M1-error-rate" else f"{value:.0f} ms > {limit:g} ms"
        n = 1 + _consecutive(previous, rs, pick)
        if n >= thresholds.bad_intervals:
            reasons.append(
                Reason(
                    rule,
                    "new ReplicaSet",
                    f"{what} {shown} in {n} consecutive observations",
                    (_metrics_text(m),),
                )
            )
        else:
            notes.append(f"{what} {shown} ({n}/{thresholds.bad_intervals} consecutive observations to halt)")
    return reasons, notes, err_over, lat_over


# ---- the decision ------------------------------------------------------------------------------
def _progress(dep: K8sObject, replicas: int, observed: bool) -> tuple[str, bool]:
    """kubectl rollout status's message (rollout_status.go order) and whether it is complete."""
    status = dep.get("status") or {}
    updated = int(status.get("updatedReplicas") or 0)
    total = int(status.get("replicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    name = name_of(dep)
    if not observed:
        return "waiting for the deployment spec update to be observed", False
    cond = condition(dep, "Progressing") or {}
    if cond.get("reason") == "ProgressDeadlineExceeded":
        return f'deployment "{name}" exceeded its progress deadline', False
    if updated < replicas:
        return f"{updated} out of {replicas} new replicas have been updated", False
    if total > updated:
        return f"{total - updated} old replicas are pending termination", False
    if available < updated:
        return f"{available} of {updated} updated replicas are available", False
    if replicas and cond and cond.get("reason") != "NewReplicaSetAvailable":
        return f"all {updated} replicas updated and available; waiting for NewReplicaSetAvailable", False
    return f'deployment "{name}" successfully rolled out', True


def _stall_reason(
    previous: Sequence[Observation],
    at: datetime,
    *,
    rs: str | None,
    available: int,
    deadline: float,
    thresholds: RolloutThresholds,
) -> Reason | None:
    budget = min(deadline, thresholds.stall_s)
    since: datetime | None = None
    for o in reversed(previous):
        if o.new_replicaset != rs or o.available != available:
            break
        since = o.at
    if since is None:
        return None
    stalled = (at - since).total_seconds()
    if stalled < budget:
        return None
    return Reason(
        "H1-stalled",
        "new ReplicaSet",
        f"available new replicas stayed at {available} for {_dur(stalled)} "
        f"(budget min(progressDeadlineSeconds, {thresholds.stall_s:g}s) = {_dur(budget)})",
        (f"first seen at {available} available: {format_time(since)}",),
    )


def decide(
    snapshot: Snapshot,
    namespace: str,
    name: str,
    *,
    diagnosis: Diagnosis | None = None,
    previous: Sequence[Observation] = (),
    metrics: MetricFigures | None = None,
    thresholds: RolloutThresholds | None = None,
) -> RolloutDecision:
    """Decide continue / halt / undo / done for Deployment `namespace/name` at `snapshot.at`.

    `diagnosis` is `run_all(snapshot)` when not given; `previous` are earlier observations of this
    watch (oldest first); `metrics` the new pods' Prometheus figures at this observation.
    Raises `InputError` when the Deployment is not in the snapshot.
    """
    th = thresholds or RolloutThresholds()
    at = snapshot.at
    dep = snapshot.get("Deployment", namespace, name)
    if dep is None:
        raise InputError(
            f"deploy/{name}: no Deployment {name} in namespace {namespace or '(none)'}",
            hint="check the name and -n NAMESPACE (kubectl get deployments -n NAMESPACE)",
        )
    ref = ObjectRef("Deployment", namespace, name)
    status = dep.get("status") or {}
    spec_replicas = dig(dep, "spec", "replicas")
    replicas = int(spec_replicas) if isinstance(spec_replicas, int) else 1
    generation = meta(dep).get("generation")
    observed_gen = status.get("observedGeneration")
    observed = not (
        isinstance(generation, int) and isinstance(observed_gen, int) and generation > observed_gen
    )
    paused = bool(dig(dep, "spec", "paused"))
    progress, complete = _progress(dep, replicas, observed)
    counts = {
        "desired": replicas,
        "updated": int(status.get("updatedReplicas") or 0),
        "total": int(status.get("replicas") or 0),
        "ready": int(status.get("readyReplicas") or 0),
        "available": int(status.get("availableReplicas") or 0),
    }
    new_rs, rs_name, others = find_replicasets(snapshot, dep)
    revision = (
        annotations_of(new_rs).get(REVISION) if new_rs is not None else annotations_of(dep).get(REVISION)
    )
    prev = _previous(_revision_of(new_rs) if new_rs is not None else _revision_of(dep), others)
    new_pods = _pods_of(snapshot, namespace, new_rs, rs_name)
    new_names = {name_of(p) for p in new_pods}
    new_available = (
        int(dig(new_rs, "status", "availableReplicas", default=0)) if new_rs else counts["available"]
    )

    base = RolloutDecision(
        decision="continue",
        deployment=ref,
        at=at,
        progress=progress,
        revision=revision,
        new_replicaset=rs_name,
        previous_replicaset=name_of(prev) if prev is not None else None,
        previous_revision=str(_revision_of(prev)) if prev is not None else None,
        replicas=counts,
        paused=paused,
        metrics=metrics,
    )
    ready_now = tuple(sorted((name_of(p), _is_ready(p)) for p in new_pods))
    if not observed:
        obs = Observation(at, rs_name, new_available, False, ready_now, metrics)
        return dataclasses.replace(
            base,
            notes=(
                f"metadata.generation={generation} > status.observedGeneration={observed_gen}: the "
                "controller has not picked up the new template yet",
            ),
            observation=obs,
        )

    diag = diagnosis if diagnosis is not None else run_all(snapshot, namespaces=[namespace])
    reasons: list[Reason] = []
    notes: list[str] = []
    evidence: list[str] = []

    # H1: the controller's verdict → undo (no deadline applies while paused)
    cond = condition(dep, "Progressing") or {}
    deadline_exceeded = (
        cond.get("status") == "False" and cond.get("reason") == "ProgressDeadlineExceeded" and not paused
    )
    deadline = float(dig(dep, "spec", "progressDeadlineSeconds", default=600) or 600)
    undo_reasons: list[Reason] = []
    if deadline_exceeded:
        stuck = next(
            (f for f in diag.findings if f.code == "RolloutStuck" and f.object == ref),
            None,
        )
        ev = (
            stuck.evidence
            if stuck is not None
            else (
                "status.conditions[Progressing]: status=False reason=ProgressDeadlineExceeded since "
                f"{format_time(parse_time(cond.get('lastTransitionTime'))) or '?'}: "
                f"{cond.get('message', '')}",
            )
        )
        undo_reasons.append(
            Reason(
                "H1-deadline",
                f"deploy/{name}",
                f"progress deadline exceeded (progressDeadlineSeconds={int(deadline)}): {progress}",
                tuple(ev),
                code="RolloutStuck" if stuck is not None else None,
            )
        )

    # H6: the new ReplicaSet cannot create pods
    for obj, label in ((new_rs, f"ReplicaSet {rs_name}"), (dep, f"deploy/{name}")):
        if obj is None:
            continue
        failure = condition(obj, "ReplicaFailure")
        if failure is not None and failure.get("status") == "True":
            reasons.append(
                Reason(
                    "H6-create-failure",
                    label,
                    f"ReplicaFailure {failure.get('reason')}: {failure.get('message', '')}",
                    (f"status.conditions[ReplicaFailure] since {failure.get('lastTransitionTime')}",),
                )
            )
            break

    # H2/H3/H5/H7 from the diagnosis of the new pods; old-RS pods are notes only
    mine = [f for f in diag.findings if f.object.kind == "Pod" and f.object.namespace == namespace]
    new_findings = [f for f in mine if f.object.name in new_names]
    old_names = {name_of(p) for rs in others for p in _pods_of(snapshot, namespace, rs, name_of(rs))}
    for f in mine:
        if f.object.name in old_names:
            notes.append(
                f"old-ReplicaSet pod {f.object.name}: {f.code} (not counted against the new ReplicaSet)"
            )
    f_reasons, f_notes = _finding_reasons(new_findings, at, th)
    reasons.extend(f_reasons)
    notes.extend(f_notes)

    # H4 restarts, H7 readiness budget and flapping (counts and timings, not signatures)
    active = [p for p in new_pods if not _terminating(p)]
    reasons.extend(_restart_reasons(active, replicas, th, at))
    fired = {
        r.object for r in reasons if r.rule in ("H7-readiness", "H3-crash", "H3-image", "H3-config", "H2-oom")
    }
    fired |= {r.object for r in reasons if r.rule == "H5-scheduling"}
    r_reasons, r_notes = _readiness_reasons(active, at, th, fired, previous)
    reasons.extend(r_reasons)
    notes.extend(r_notes)

    # H1 (our own budget): no progress across observations
    if not complete and not paused and not deadline_exceeded:
        stall = _stall_reason(
            previous, at, rs=rs_name, available=new_available, deadline=deadline, thresholds=th
        )
        if stall is not None:
            reasons.append(stall)

    # M1/M2/M6
    m_reasons, m_notes, err_over, lat_over = _metric_reasons(metrics, previous, rs_name, th)
    reasons.extend(m_reasons)
    notes.extend(m_notes)

    # evidence: the state of the new pods, in a line each
    for pod in sorted(new_pods, key=name_of)[:10]:
        state = "Ready" if _is_ready(pod) else pod_state(pod)
        restarts = sum(n for _, n in _restarts(pod))
        shown = f", restarts {restarts}" if restarts and "restarts" not in state else ""
        evidence.append(f"new pod {name_of(pod)}: {state}{shown}")
    if len(new_pods) > 10:
        evidence.append(f"... and {len(new_pods) - 10} more new pods")
    if new_rs is None and rs_name is None:
        notes.append("no ReplicaSet of this Deployment in the snapshot: pod rules not applied")
    if paused:
        notes.append("the rollout is paused (spec.paused=true): no deadline applies until it is resumed")

    if undo_reasons:
        decision: Decision = "undo"
        reasons = undo_reasons + reasons
    elif reasons:
        decision = "halt"
    elif complete:
        decision = "done"
    else:
        decision = "continue"
    obs = Observation(at, rs_name, new_available, complete, ready_now, metrics, err_over, lat_over)
    return dataclasses.replace(
        base,
        decision=decision,
        reasons=tuple(_dedupe(reasons)),
        evidence=tuple(evidence),
        notes=tuple(dict.fromkeys(notes)),
        findings=tuple(dict.fromkeys(f.code for f in new_findings)),
        observation=obs,
    )


def _dedupe(reasons: Iterable[Reason]) -> list[Reason]:
    seen: set[tuple[str, str, str | None, str]] = set()
    out: list[Reason] = []
    for r in reasons:
        key = (r.rule, r.object, r.container, r.summary)
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out
