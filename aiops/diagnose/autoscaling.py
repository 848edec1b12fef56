"""Analyzer family 'autoscaling': HPAs that cannot read their metrics (`HPAMetricsUnavailable`).

An HPA whose `ScalingActive` condition is `False` with a `FailedGet*Metric` reason (autoscaling/v2
status, or the autoscaling/v1 `autoscaling.alpha.kubernetes.io/conditions` annotation) for longer
than `GRACE` at `snapshot.at` cannot scale. The message gives the structured cause: the metrics
API is missing (metrics-server / adapter), a target container has no request for the resource, or
no pod reported metrics. `ScalingLimited/TooFewReplicas` at minReplicas and `ScalingDisabled`
(target scaled to zero) are healthy. The owner is the HPA's scale target. Pure: no I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from aiops.diagnose.common import describe_event
from aiops.model import (
    Cause,
    Finding,
    K8sObject,
    ObjectRef,
    OwnerRef,
    Severity,
    Snapshot,
    format_time,
    parse_time,
)
from aiops.model.k8s import annotations_of, dig, name_of, namespace_of
from aiops.model.snapshot import event_first_time, event_last_time

GRACE = timedelta(seconds=120)
"""A new HPA (or a new pod) has no metrics for its first scrape interval(s): not a finding yet."""

EVENT_RECENT = timedelta(minutes=10)
"""Without conditions, only failure events this recent count."""

_V1_CONDITIONS = "autoscaling.alpha.kubernetes.io/conditions"
_FAILED_EVENTS = (
    "FailedGetResourceMetric",
    "FailedGetContainerResourceMetric",
    "FailedGetPodsMetric",
    "FailedGetObjectMetric",
    "FailedGetExternalMetric",
    "FailedComputeMetricsReplicas",
)
_MISSING_REQUEST = re.compile(r"missing request for (\S+?) in container (\S+?) of Pod (\S+?)(?:[\s,;]|$)")
_METRICS_API = re.compile(r"\(get (pods\.metrics\.k8s\.io|[\w.-]+\.(?:custom|external)\.metrics\.k8s\.io)\)")


def _conditions(hpa: K8sObject) -> list[dict[str, Any]]:
    conds = dig(hpa, "status", "conditions", default=[])
    if isinstance(conds, list) and conds:
        return [c for c in conds if isinstance(c, dict)]
    raw = annotations_of(hpa).get(_V1_CONDITIONS)
    if raw:
        try:
            parsed = json.loads(raw)
        except ValueError:
            return []
        if isinstance(parsed, list):
            return [c for c in parsed if isinstance(c, dict)]
    return []


def _failing(cond: dict[str, Any]) -> bool:
    reason = str(cond.get("reason") or "")
    return cond.get("status") == "False" and (
        reason.startswith("FailedGet") or reason == "InvalidMetricSourceType"
    )


def _metric_specs(hpa: K8sObject) -> list[str]:
    out: list[str] = []
    for m in dig(hpa, "spec", "metrics", default=[]) or []:
        if not isinstance(m, dict):
            continue
        mtype = str(m.get("type") or "")
        body = m.get(mtype[:1].lower() + mtype[1:]) if mtype else None
        if not isinstance(body, dict):
            out.append(mtype or "?")
            continue
        target = body.get("target") or {}
        what = body.get("name") or dig(body, "metric", "name") or "?"
        goal = (
            f"{target.get('averageUtilization')}%"
            if target.get("averageUtilization") is not None
            else str(target.get("averageValue") or target.get("value") or "?")
        )
        out.append(f"{mtype} {what} target {goal}")
    cpu = dig(hpa, "spec", "targetCPUUtilizationPercentage")
    if cpu is not None:
        out.append(f"Resource cpu target {cpu}%")
    return out


def analyze(snapshot: Snapshot) -> Iterator[Finding]:
    """One finding per HPA that has been unable to get its metrics for longer than GRACE."""
    for hpa in snapshot.of_kind("HorizontalPodAutoscaler"):
        f = _hpa(snapshot, hpa)
        if f is not None:
            yield f


def _hpa(snapshot: Snapshot, hpa: K8sObject) -> Finding | None:
    ns, name = namespace_of(hpa), name_of(hpa)
    conds = _conditions(hpa)
    active = next((c for c in conds if c.get("type") == "ScalingActive"), None)
    events = [
        e
        for e in snapshot.events_for("HorizontalPodAutoscaler", ns, name)
        if e.get("reason") in _FAILED_EVENTS
    ]
    message = ""
    since: datetime | None = None
    if active is not None:
        if not _failing(active):
            return None
        message = str(active.get("message") or "")
        since = parse_time(active.get("lastTransitionTime"))
    else:
        recent = [
            e
            for e in events
            if e.get("type") == "Warning"
            and (t := event_last_time(e)) is not None
            and snapshot.at - t <= EVENT_RECENT
        ]
        if not recent:
            return None
        message = str(recent[-1].get("message") or "")
    first_events = [t for t in (event_first_time(e) for e in events) if t is not None]
    started = min([since, *first_events] if since is not None else first_events, default=None)
    if started is not None and snapshot.at - started < GRACE:
        return None

    target_kind = str(dig(hpa, "spec", "scaleTargetRef", "kind", default="") or "")
    target_name = str(dig(hpa, "spec", "scaleTargetRef", "name", default="") or "")
    owner = OwnerRef(target_kind, target_name) if target_kind and target_name else None
    status = hpa.get("status") or {}
    evidence: list[str] = []
    if active is not None:
        evidence.append(
            f"status.conditions[ScalingActive]: status=False reason={active.get('reason')} since "
            f"{format_time(since) or '?'}: {message}"
        )
    specs = _metric_specs(hpa)
    if specs:
        evidence.append("metrics: " + "; ".join(specs))
    evidence.append(
        f"status.currentReplicas={status.get('currentReplicas', '?')} status.desiredReplicas="
        f"{status.get('desiredReplicas', '?')} (minReplicas={dig(hpa, 'spec', 'minReplicas', default=1)}, "
        f"maxReplicas={dig(hpa, 'spec', 'maxReplicas', default='?')})"
    )
    seen: set[tuple[str, str]] = set()
    for ev in reversed(events):
        key = (str(ev.get("reason")), str(ev.get("message")))
        if key not in seen:
            seen.add(key)
            evidence.append(describe_event(ev))
        if len(seen) >= 3:
            break

    text = message + " " + " ".join(str(e.get("message") or "") for e in events[-3:])
    cause: Cause | None = None
    missing = _MISSING_REQUEST.search(text)
    api = _METRICS_API.search(text)
    if missing:
        resource, ctr, pod = missing.group(1), missing.group(2), missing.group(3)
        lacking = _containers_without_request(snapshot, ns, target_kind, target_name, resource)
        if lacking:
            evidence.append(
                f"{target_kind} {target_name}: no resources.requests.{resource} "
                f"on container(s) {', '.join(lacking)}"
            )
        cause = Cause(
            "missing-resource-request",
            {"resource": resource, "container": ctr, "pod": pod, "containers": lacking or [ctr]},
        )
        summary = (
            f"HPA {name} cannot scale {target_kind} {target_name}: container {ctr} has no {resource} "
            f"request, so {resource} utilization cannot be computed."
        )
        remediation = (
            f"Set resources.requests.{resource} on every container of {target_kind} {target_name} (sidecars "
            "included); utilization targets are a percentage of the request."
        )
    elif api or "resource metrics api" in text.lower() or "unable to fetch metrics" in text.lower():
        api_name = api.group(1) if api else "metrics.k8s.io"
        group = api_name.split(".", 1)[1] if api_name.startswith("pods.") else api_name
        cause = Cause("metrics-api-unavailable", {"api": group})
        summary = f"HPA {name} cannot scale {target_kind} {target_name}: the {group} API serves no metrics."
        if "custom" in group or "external" in group:
            remediation = (
                "Install or repair the metrics adapter serving this API (e.g. prometheus-adapter, KEDA)."
            )
        else:
            remediation = (
                "Install or repair metrics-server (kubectl get apiservice v1beta1.metrics.k8s.io; "
                "minikube addons enable metrics-server)."
            )
    elif "did not receive metrics" in text or "no metrics returned" in text:
        cause = Cause("no-pod-metrics", {"target": f"{target_kind}/{target_name}"})
        summary = (
            f"HPA {name} cannot scale {target_kind} {target_name}: no metrics were reported for its pods."
        )
        remediation = (
            "The target's pods are not Ready or not scraped yet: fix the pods (see their findings) and check "
            "metrics-server logs for scrape errors."
        )
    else:
        reason = str(active.get("reason")) if active is not None else "FailedGetMetric"
        summary = (
            f"HPA {name} cannot scale {target_kind} {target_name}: it cannot read its metrics ({reason})."
        )
        remediation = (
            "Check the metric source named in the message (metrics API, adapter, metric name/selector)."
        )
    return Finding(
        code="HPAMetricsUnavailable",
        severity=Severity.WARNING,
        object=ObjectRef("HorizontalPodAutoscaler", ns, name),
        summary=summary,
        evidence=tuple(evidence),
        remediation=remediation,
        owner=owner,
        detected_at=snapshot.at,
        started_at=started,
        cause=cause,
    )


def _containers_without_request(
    snapshot: Snapshot, namespace: str, kind: str, name: str, resource: str
) -> list[str]:
    target = snapshot.get(kind, namespace, name) if kind and name else None
    if target is None:
        return []
    containers: Sequence[Any] = dig(target, "spec", "template", "spec", "containers", default=[]) or []
    return [
        str(c.get("name"))
        for c in containers
        if isinstance(c, dict) and resource not in (dig(c, "resources", "requests", default={}) or {})
    ]
