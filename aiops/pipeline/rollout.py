"""The rollout watch: observe a Deployment, decide (`aiops.recommend.rollout.decide`), act, stop.

Each observation is a `Snapshot` of the namespace — the live cluster (`LiveSource`, only the kinds
the decision reads, every `interval` seconds) or, offline, one `--snapshot` file per observation in
the order given (a replay, judged at each file's own time). Optional Prometheus figures of the new
ReplicaSet's pods (error rate, p95 latency, request rate) are instant queries at the observation's
time, through the metrics adapter's configured session (token, CA, retries). Every decision is
handed to `emit` (the CLI prints its reasoning when it changes); the watch stops on done, halt or
undo, or when `timeout` has passed (wall clock live, snapshot clock offline). With `act`, a halt
pauses the Deployment and an undo rolls it back to the previous ReplicaSet's template
(`aiops.apply.rollout_actions`). No printing and no exit codes here.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiops.errors import InputError, UnreachableError
from aiops.model import Snapshot, format_time
from aiops.recommend.rollout import (
    MetricFigures,
    Observation,
    RolloutDecision,
    RolloutThresholds,
    decide,
    find_replicasets,
    rollback_template,
)
from aiops.settings import Settings, load_settings

__all__ = [
    "READ_KINDS",
    "WatchOutcome",
    "WatchRequest",
    "parse_duration",
    "parse_target",
    "prometheus_figures",
    "redact_decision",
    "watch",
]

READ_KINDS = ("Pod", "Event", "Deployment", "ReplicaSet", "ConfigMap", "Node", "PersistentVolumeClaim")
"""What one live observation lists: the decision's objects and what the pod analyzers cite."""

_TARGET_KINDS = ("deploy", "deployment", "deployments", "deployment.apps", "deployments.apps")

# PromQL over the new ReplicaSet's pods (`<replicaset>-<5 chars>`), conventional HTTP metric names.
REQUESTS_QUERY = "sum(rate(http_requests_total{{{sel}}}[1m]))"
ERRORS_QUERY = (
    'sum(rate(http_requests_total{{{sel},code=~"5.."}}[1m])) / sum(rate(http_requests_total{{{sel}}}[1m]))'
)
LATENCY_QUERY = (
    "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{{{sel}}}[1m]))) * 1000"
)


def parse_target(text: str) -> str:
    """`deploy/NAME` (also `deployment/NAME`, `deployments.apps/NAME`) → NAME."""
    kind, sep, name = text.partition("/")
    if not sep or kind.lower() not in _TARGET_KINDS or not name or "/" in name:
        raise InputError(
            f"{text}: expected deploy/NAME (only Deployments have rolling updates to watch)",
            hint="e.g. aiops rollout watch deploy/todo-backend -n todo",
        )
    return name


def parse_duration(text: str, flag: str = "--timeout") -> float:
    """`600`, `90s`, `10m`, `1h`, `5m30s` → seconds (> 0)."""
    raw = text.strip().lower()
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
        number = ""
        units = {"h": 3600.0, "m": 60.0, "s": 1.0}
        for ch in raw:
            if ch.isdigit() or ch == ".":
                number += ch
            elif ch in units and number:
                value += float(number) * units[ch]
                number = ""
            else:
                raise InputError(f"{flag} {text}: not a duration (use 600, 90s, 10m or 1h)") from None
        if number:
            raise InputError(f"{flag} {text}: a number without unit at the end (use 90s, 10m)") from None
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"{flag} {text}: must be a positive duration")
    return value


@dataclass(frozen=True)
class WatchRequest:
    """What `aiops rollout watch` was asked (flags of the CLI, names kept)."""

    target: str
    namespace: str | None = None
    snapshots: tuple[str, ...] = ()
    logs: str | None = None
    kubeconfig: str | None = None
    context: str | None = None
    live: bool = False
    timeout: float = 600.0
    interval: float = 10.0
    act: bool = False
    prometheus: str | None = None
    config_path: str | None = None


@dataclass(frozen=True)
class WatchOutcome:
    """The last decision, the watch's timeline and what `--act` did."""

    decision: RolloutDecision
    timeline: tuple[RolloutDecision, ...]
    timed_out: bool = False
    action: dict[str, Any] | None = None
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision.to_dict(),
            "observations": len(self.timeline),
            "timed_out": self.timed_out,
            "timeline": [
                {
                    "at": format_time(d.at),
                    "decision": d.decision,
                    "progress": d.progress,
                    "new_replicaset": d.new_replicaset,
                    "rules": [r.rule for r in d.reasons],
                }
                for d in self.timeline
            ],
            "action": self.action,
            "notes": list(self.notes),
        }


Emit = Callable[[RolloutDecision, bool], None]


def _signature(d: RolloutDecision) -> tuple[Any, ...]:
    return (
        d.decision,
        d.progress,
        d.new_replicaset,
        tuple((r.rule, r.object, r.summary) for r in d.reasons),
        d.notes,
        d.evidence,
    )


def watch(
    req: WatchRequest,
    *,
    emit: Emit | None = None,
    settings: Settings | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> WatchOutcome:
    """Observe until done/halt/undo or the timeout; act when asked. `emit(decision, changed)`."""
    name = parse_target(req.target)
    if req.snapshots and (req.kubeconfig or req.context or req.live):
        raise InputError("--snapshot and --kubeconfig/--context/--live exclude each other")
    if req.logs and not req.snapshots:
        raise InputError("--logs needs --snapshot (live reads fetch previous logs themselves)")
    if req.act and req.snapshots:
        raise InputError("--act needs a live cluster: a replay of --snapshot files cannot pause or undo")
    if req.interval <= 0:
        raise InputError(f"--interval {req.interval:g}: must be positive")
    for path in (*req.snapshots, *((req.logs,) if req.logs else ())):
        if path != "-" and not os.path.isfile(path):
            flag = "--logs" if path == req.logs else "--snapshot"
            raise InputError(f"{flag} {path}: no such file")  # before any observation is printed
    if settings is None:
        settings = load_settings(req.config_path, required=req.config_path is not None)
    thresholds = RolloutThresholds.from_settings(settings.prometheus)
    url = req.prometheus or (settings.prometheus.url if not req.snapshots else None)
    prom = _prometheus(url, settings) if url else None

    timeline: list[RolloutDecision] = []
    seen: list[Observation] = []
    last_sig: tuple[Any, ...] | None = None
    timed_out = False
    namespace = req.namespace
    snapshot: Snapshot | None = None

    def observe(snap: Snapshot, ns: str) -> RolloutDecision:
        nonlocal last_sig
        metrics = None
        if prom is not None:
            metrics = _figures_for(prom, snap, ns, name, thresholds, first=not timeline)
        d = redact_decision(decide(snap, ns, name, previous=seen, metrics=metrics, thresholds=thresholds))
        if d.observation is not None:
            seen.append(d.observation)
        timeline.append(d)
        sig = _signature(d)
        if emit is not None:
            emit(d, sig != last_sig)
        last_sig = sig
        return d

    if req.snapshots:
        from aiops.cluster.files import FileSource

        start_at: datetime | None = None
        for path in req.snapshots:
            snapshot = FileSource(paths=(path,), logs_path=req.logs).read()
            namespace = namespace or _namespace_in(snapshot, name, path)
            if start_at is None:
                start_at = snapshot.at
            elif (snapshot.at - start_at).total_seconds() > req.timeout:
                timed_out = True
                break
            if observe(snapshot, namespace).stops:
                break
    else:
        from aiops.cluster.live import KINDS, LiveSource

        namespace = namespace or _default_namespace(settings)
        source = LiveSource(
            kubeconfig=req.kubeconfig,
            context=req.context,
            namespaces=[namespace],
            kinds=tuple(k for k in KINDS if k.kind in READ_KINDS),
        )
        started = clock()
        while True:
            snapshot = source.read()
            if observe(snapshot, namespace).stops:
                break
            if clock() - started + req.interval > req.timeout:
                timed_out = True
                break
            sleep(req.interval)

    if not timeline:
        raise InputError("--snapshot: no observation read (the first file is past --timeout?)")
    final = timeline[-1]
    action = None
    if req.act and final.failed and snapshot is not None and namespace is not None:
        action = _act(req, snapshot, namespace, name, final)
    notes = (
        (f"timed out after {req.timeout:g}s while the rollout was still progressing",) if timed_out else ()
    )
    return WatchOutcome(final, tuple(timeline), timed_out, action, notes)


def redact_decision(d: RolloutDecision) -> RolloutDecision:
    """Every text a decision can carry (finding evidence quotes logs and events), redacted."""
    from aiops.redact import redact

    return dataclasses.replace(
        d,
        reasons=tuple(
            dataclasses.replace(r, summary=redact(r.summary), evidence=tuple(redact(e) for e in r.evidence))
            for r in d.reasons
        ),
        evidence=tuple(redact(e) for e in d.evidence),
        notes=tuple(redact(n) for n in d.notes),
    )


def _namespace_in(snapshot: Snapshot, name: str, path: str) -> str:
    found = sorted(
        {
            str((d.get("metadata") or {}).get("namespace") or "")
            for d in snapshot.of_kind("Deployment")
            if (d.get("metadata") or {}).get("name") == name
        }
    )
    if len(found) == 1:
        return found[0]
    if not found:
        raise InputError(f"{path}: no Deployment {name} in this snapshot")
    raise InputError(f"{path}: Deployment {name} is in several namespaces ({', '.join(found)}): pass -n")


def _default_namespace(settings: Settings) -> str:
    ns = tuple(settings.namespaces or ())
    return ns[0] if len(ns) == 1 else "default"


def _act(
    req: WatchRequest, snapshot: Snapshot, namespace: str, name: str, final: RolloutDecision
) -> dict[str, Any]:
    from aiops.apply.rollout_actions import RolloutActions

    actions = RolloutActions(req.kubeconfig, req.context)
    if final.decision == "undo":
        back = rollback_template(snapshot, namespace, name)
        dep = snapshot.get("Deployment", namespace, name) or {}
        expect = ((dep.get("metadata") or {}).get("annotations") or {}).get(
            "deployment.kubernetes.io/revision"
        )
        if back is not None:
            rs, revision, template = back
            result = actions.undo(namespace, name, template, to_revision=revision, expect_revision=expect)
            data = result.to_dict()
            data["replicaset"] = rs
            return data
        paused = actions.pause(namespace, name).to_dict()
        paused["detail"] += " (no previous revision to undo to: paused instead)"
        return paused
    return actions.pause(namespace, name).to_dict()


# ---- Prometheus -------------------------------------------------------------------------------
def _prometheus(url: str, settings: Settings) -> Any:
    from aiops.metrics.prometheus import PrometheusSource

    return PrometheusSource.from_settings(url, settings.prometheus, timeout=15.0)


def _figures_for(
    prom: Any, snap: Snapshot, namespace: str, name: str, thresholds: RolloutThresholds, *, first: bool
) -> MetricFigures | None:
    dep = snap.get("Deployment", namespace, name)
    if dep is None:
        return None
    _, rs, _ = find_replicasets(snap, dep)
    if rs is None:
        return None
    try:
        return prometheus_figures(
            prom,
            namespace,
            rs,
            snap.at,
            latency=thresholds.latency_p95_ms is not None,
        )
    except UnreachableError as exc:
        if first:
            raise  # a wrong --prometheus shows at once (exit 3), not after four polls
        return MetricFigures(source=f"prometheus {prom.url}", error=exc.message)


def prometheus_figures(
    prom: Any, namespace: str, replicaset: str, at: datetime, *, latency: bool = True
) -> MetricFigures:
    """Request rate, 5xx ratio and (when asked) p95 latency of `<replicaset>-xxxxx` pods at `at`.

    `prom` is a `PrometheusSource` (its session carries token, CA and retries). A 4xx answer or a
    body that is not a vector becomes `MetricFigures.error`; unreachable raises `UnreachableError`.
    """
    sel = f'namespace="{_escape(namespace)}",pod=~"{_escape(replicaset)}-[a-z0-9]{{5}}"'
    source = f"prometheus {prom.url}"
    try:
        requests_rate = _instant(prom, REQUESTS_QUERY.format(sel=sel), at)
        errors = _instant(prom, ERRORS_QUERY.format(sel=sel), at)
        p95 = _instant(prom, LATENCY_QUERY.format(sel=sel), at) if latency else None
    except _QueryError as exc:
        return MetricFigures(source=source, error=str(exc))
    return MetricFigures(error_rate=errors, latency_p95_ms=p95, request_rate=requests_rate, source=source)


class _QueryError(Exception):
    pass


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _instant(prom: Any, query: str, at: datetime) -> float | None:
    """One instant query (`/api/v1/query` at `time`): the first sample's value, None when empty/NaN."""
    import requests

    endpoint = f"{prom.url}/api/v1/query"
    try:
        resp = prom.session.get(
            endpoint,
            params={"query": query, "time": f"{at.timestamp():.3f}"},
            timeout=(prom.connect_timeout, prom.timeout),
        )
    except requests.exceptions.RequestException as exc:
        text = str(exc).lower()
        why = (
            "connection refused"
            if "refused" in text
            else "timed out"
            if "timed out" in text or isinstance(exc, requests.exceptions.Timeout)
            else type(exc).__name__
        )
        raise UnreachableError(f"Prometheus {prom.url} unreachable: {why}") from None
    if resp.status_code >= 500:
        raise UnreachableError(f"Prometheus {prom.url} unreachable: HTTP {resp.status_code} after retries")
    try:
        body = resp.json()
    except ValueError:
        body = None
    if resp.status_code >= 400:
        detail = body.get("error") if isinstance(body, dict) else None
        raise _QueryError(f"HTTP {resp.status_code}" + (f" ({detail})" if detail else ""))
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict) or data.get("resultType") not in ("vector", "scalar"):
        raise _QueryError(f"{endpoint} did not answer a vector (is --prometheus the Prometheus base URL?)")
    result = data.get("result")
    if data.get("resultType") == "scalar":
        value = result[1] if isinstance(result, list) and len(result) == 2 else None
    else:
        value = result[0].get("value", [None, None])[1] if isinstance(result, list) and result else None
    try:
        number = float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
    return number if number is not None and math.isfinite(number) else None
