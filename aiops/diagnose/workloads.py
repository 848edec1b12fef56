"""Analyzer family 'workloads': rollouts that stopped progressing (`RolloutStuck`, DESIGN §4.2).

- Deployment: the controller's own verdict, condition `Progressing=False` reason
  `ProgressDeadlineExceeded`; evidence names the new ReplicaSet and the state of its pods.
- StatefulSet / DaemonSet have no such condition: a rolling update (update revision differs from
  the current one / not every node runs the new generation) is stuck when a pod of the new revision
  has been not-Ready for longer than `ROLLOUT_DEADLINE` at `snapshot.at` (the Deployment default
  `progressDeadlineSeconds`).

A rollout progressing within its deadline and a completed rollout whose pods later broke give
nothing here (the pods' own findings explain them). Pure: no I/O, never the wall clock.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from aiops.diagnose.common import clip, condition, describe_event, owner_of
from aiops.model import Cause, Finding, K8sObject, ObjectRef, Severity, Snapshot, format_time, parse_time
from aiops.model.k8s import annotations_of, dig, labels_of, meta, name_of, namespace_of
from aiops.model.snapshot import event_first_time

ROLLOUT_DEADLINE = timedelta(seconds=600)
"""StatefulSet/DaemonSet: a new-revision pod not Ready for this long stalls the rollout."""

_RS_IN_MESSAGE = re.compile(r'ReplicaSet "([^"]+)"')
_MAX_PODS = 3


def _controller_uid(obj: K8sObject) -> str | None:
    for ref in meta(obj).get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller") and ref.get("uid"):
            return str(ref["uid"])
    return None


def _is_ready(pod: K8sObject) -> bool:
    cond = condition(pod, "Ready")
    return cond is not None and cond.get("status") == "True"


def _unready_since(pod: K8sObject) -> datetime | None:
    cond = condition(pod, "Ready")
    t = parse_time(cond.get("lastTransitionTime")) if cond else None
    return t or parse_time(meta(pod).get("creationTimestamp"))


def pod_state(pod: K8sObject) -> str:
    """A short human description of why a pod is not serving (for evidence lines)."""
    status = pod.get("status") or {}
    phase = status.get("phase") or "?"
    if meta(pod).get("deletionTimestamp"):
        return f"{phase}, terminating"
    if status.get("reason"):
        return f"{phase} ({status.get('reason')})"
    sched = condition(pod, "PodScheduled")
    if sched is not None and sched.get("status") == "False":
        return f"{phase}, unschedulable: {clip(str(sched.get('message', '')), 160)}".rstrip(": ")
    for key in ("initContainerStatuses", "containerStatuses"):
        for cs in status.get(key) or []:
            if not isinstance(cs, dict):
                continue
            init = " (init)" if key == "initContainerStatuses" else ""
            waiting = dig(cs, "state", "waiting", "reason")
            if waiting and waiting not in ("PodInitializing", "ContainerCreating"):
                restarts = cs.get("restartCount", 0)
                return f"{phase}, container {cs.get('name')}{init} waiting {waiting} (restarts {restarts})"
            term = dig(cs, "state", "terminated")
            if isinstance(term, dict) and term.get("exitCode") not in (0, None):
                how = f"{term.get('reason')} exit {term.get('exitCode')}"
                return f"{phase}, container {cs.get('name')}{init} terminated {how}"
    for cs in status.get("containerStatuses") or []:
        if isinstance(cs, dict) and not cs.get("ready"):
            waiting = dig(cs, "state", "waiting", "reason")
            if waiting:
                return f"{phase}, container {cs.get('name')} waiting {waiting}"
            return f"{phase}, container {cs.get('name')} running but not ready"
    return f"{phase}, Ready={'True' if _is_ready(pod) else 'False'}"


class _Index:
    """Controller-owner indexes, built on first use (only when some rollout looks stuck):
    pods and ReplicaSets by their controller's uid."""

    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot

    @cached_property
    def pods(self) -> dict[str, list[K8sObject]]:
        return self._by_controller("Pod")

    @cached_property
    def replicasets(self) -> dict[str, list[K8sObject]]:
        return self._by_controller("ReplicaSet")

    def _by_controller(self, kind: str) -> dict[str, list[K8sObject]]:
        out: dict[str, list[K8sObject]] = defaultdict(list)
        for obj in self._snapshot.of_kind(kind):
            uid = _controller_uid(obj)
            if uid:
                out[uid].append(obj)
        return out

    @cached_property
    def pods_by_owner_name(self) -> dict[tuple[str, str, str], list[K8sObject]]:
        out: dict[tuple[str, str, str], list[K8sObject]] = defaultdict(list)
        for pod in self._snapshot.of_kind("Pod"):
            for ref in meta(pod).get("ownerReferences") or []:
                if isinstance(ref, dict) and ref.get("controller"):
                    out[(namespace_of(pod), str(ref.get("kind")), str(ref.get("name")))].append(pod)
        return out

    def pods_of(self, obj: K8sObject) -> list[K8sObject]:
        return self.pods.get(str(meta(obj).get("uid") or ""), [])

    def pods_named(self, namespace: str, kind: str, name: str) -> list[K8sObject]:
        return self.pods_by_owner_name.get((namespace, kind, name), [])


def analyze(snapshot: Snapshot) -> Iterator[Finding]:
    """One finding per Deployment/StatefulSet/DaemonSet whose rollout is stuck."""
    kinds = ("Deployment", "StatefulSet", "DaemonSet")
    if not any(snapshot.has_kind(k) for k in kinds):
        return
    index = _Index(snapshot)
    for dep in snapshot.of_kind("Deployment"):
        f = _deployment(snapshot, dep, index)
        if f is not None:
            yield f
    for sts in snapshot.of_kind("StatefulSet"):
        f = _statefulset(snapshot, sts, index)
        if f is not None:
            yield f
    for ds in snapshot.of_kind("DaemonSet"):
        f = _daemonset(snapshot, ds, index)
        if f is not None:
            yield f


def _counts(status: dict[str, Any], keys: Sequence[str]) -> str:
    return " ".join(f"status.{k}={status.get(k, 0)}" for k in keys)


def _pod_lines(pods: Sequence[K8sObject]) -> list[str]:
    bad = [p for p in pods if not _is_ready(p)]
    out = [f"pod {name_of(p)}: {pod_state(p)}" for p in bad[:_MAX_PODS]]
    if len(bad) > _MAX_PODS:
        out.append(f"... and {len(bad) - _MAX_PODS} more not-ready pods")
    return out


def _deployment(snapshot: Snapshot, dep: K8sObject, index: _Index) -> Finding | None:
    cond = condition(dep, "Progressing")
    if cond is None or cond.get("status") != "False" or cond.get("reason") != "ProgressDeadlineExceeded":
        return None
    if dig(dep, "spec", "paused"):
        return None
    ns, name = namespace_of(dep), name_of(dep)
    status = dep.get("status") or {}
    desired = dig(dep, "spec", "replicas", default=1)
    available = int(status.get("availableReplicas") or 0)
    deadline = dig(dep, "spec", "progressDeadlineSeconds", default=600)
    message = str(cond.get("message") or "")
    evidence = [
        f"status.conditions[Progressing]: status=False reason=ProgressDeadlineExceeded since "
        f"{format_time(parse_time(cond.get('lastTransitionTime'))) or '?'}: {message}",
        f"spec.replicas={desired} "
        + _counts(status, ("updatedReplicas", "readyReplicas", "availableReplicas", "unavailableReplicas")),
    ]
    avail_cond = condition(dep, "Available")
    if avail_cond is not None and avail_cond.get("status") != "True":
        evidence.append(
            f"status.conditions[Available]: status={avail_cond.get('status')} "
            f"reason={avail_cond.get('reason')}: {avail_cond.get('message', '')}"
        )
    owned = index.replicasets.get(str(meta(dep).get("uid") or ""), [])
    new_rs: K8sObject | None = None
    m = _RS_IN_MESSAGE.search(message)
    if m:
        new_rs = snapshot.get("ReplicaSet", ns, m.group(1))
    if new_rs is None and owned:
        new_rs = max(owned, key=_revision)
    rs_name = m.group(1) if m else (name_of(new_rs) if new_rs is not None else None)
    cause: Cause | None = None
    first_failure: list[datetime] = []
    if new_rs is not None:
        rs_status = new_rs.get("status") or {}
        rev = annotations_of(new_rs).get("deployment.kubernetes.io/revision", "?")
        evidence.append(
            f"new ReplicaSet {name_of(new_rs)} (revision {rev}, created "
            f"{format_time(parse_time(meta(new_rs).get('creationTimestamp'))) or '?'}): "
            f"{rs_status.get('readyReplicas', 0)}/{dig(new_rs, 'spec', 'replicas', default=0)} ready"
        )
        failure = condition(new_rs, "ReplicaFailure")
        if failure is not None and failure.get("status") == "True":
            evidence.append(
                f"ReplicaSet {name_of(new_rs)} status.conditions[ReplicaFailure]: "
                f"reason={failure.get('reason')}: {failure.get('message', '')}"
            )
            cause = Cause(
                "replica-create-failed",
                {"replicaset": name_of(new_rs), "message": str(failure.get("message") or "")},
            )
        warnings = [
            e for e in snapshot.events_for("ReplicaSet", ns, name_of(new_rs)) if e.get("type") == "Warning"
        ]
        evidence.extend(describe_event(e) for e in warnings[-2:])
        first_failure.extend(t for t in (event_first_time(e) for e in warnings) if t is not None)
        evidence.extend(_pod_lines(index.pods_of(new_rs)))
    elif rs_name:
        # ReplicaSets not in the snapshot: its pods still name it in their ownerReferences.
        evidence.extend(_pod_lines(index.pods_named(ns, "ReplicaSet", rs_name)))
    started = parse_time(cond.get("lastTransitionTime"))
    if first_failure and (started is None or min(first_failure) < started):
        started = min(first_failure)
    which = f"new ReplicaSet {rs_name}" if rs_name else "the new ReplicaSet"
    summary = (
        f"Deployment {name} rollout is stuck: {which} did not become available within "
        f"progressDeadlineSeconds={deadline} ({available}/{desired} replicas available)."
    )
    remediation = (
        f"Fix what keeps the new pods from becoming ready (see their findings) or roll back "
        f"(kubectl rollout undo deployment/{name}, or revert the change in git); raise "
        "progressDeadlineSeconds only for slow starters."
    )
    if cause is not None:
        remediation = (
            f"The ReplicaSet cannot create pods ({cause.detail.get('message')}): fix that (quota, "
            f"ServiceAccount, admission policy) or roll back (kubectl rollout undo deployment/{name})."
        )
    return Finding(
        code="RolloutStuck",
        severity=Severity.CRITICAL if available == 0 else Severity.WARNING,
        object=ObjectRef("Deployment", ns, name),
        summary=summary,
        evidence=tuple(evidence),
        remediation=remediation,
        owner=owner_of(snapshot, dep),
        detected_at=snapshot.at,
        started_at=started,
        cause=cause,
    )


def _revision(rs: K8sObject) -> int:
    try:
        return int(annotations_of(rs).get("deployment.kubernetes.io/revision", "0"))
    except ValueError:
        return 0


def _stalled(snapshot: Snapshot, pods: Sequence[K8sObject]) -> tuple[list[K8sObject], datetime | None]:
    """New-revision pods not Ready for at least ROLLOUT_DEADLINE, and since when the oldest is."""
    stalled: list[K8sObject] = []
    since: datetime | None = None
    for pod in pods:
        if _is_ready(pod) or dig(pod, "status", "phase") == "Succeeded":
            continue
        t = _unready_since(pod)
        if t is None or snapshot.at - t < ROLLOUT_DEADLINE:
            continue
        stalled.append(pod)
        since = t if since is None or t < since else since
    return stalled, since


def _statefulset(snapshot: Snapshot, sts: K8sObject, index: _Index) -> Finding | None:
    status = sts.get("status") or {}
    update_rev = status.get("updateRevision")
    current_rev = status.get("currentRevision")
    if dig(sts, "spec", "updateStrategy", "type") == "OnDelete":
        return None
    if not update_rev or update_rev == current_rev:
        return None
    desired = int(dig(sts, "spec", "replicas", default=1) or 0)
    if (
        int(status.get("updatedReplicas") or 0) >= desired
        and int(status.get("readyReplicas") or 0) >= desired
    ):
        return None
    pods = index.pods_of(sts)
    updated = [p for p in pods if labels_of(p).get("controller-revision-hash") == update_rev]
    stalled, since = _stalled(snapshot, updated)
    if not stalled:
        return None
    ns, name = namespace_of(sts), name_of(sts)
    evidence = [
        f"status.currentRevision={current_rev} status.updateRevision={update_rev}",
        f"spec.replicas={desired} "
        + _counts(status, ("updatedReplicas", "readyReplicas", "currentReplicas")),
        f"{len(stalled)} pod(s) of revision {update_rev} not Ready for more than "
        f"{int(ROLLOUT_DEADLINE.total_seconds())} s",
    ]
    evidence.extend(_pod_lines(stalled))
    policy = dig(sts, "spec", "podManagementPolicy", default="OrderedReady")
    summary = (
        f"StatefulSet {name} rollout is stuck: pod {name_of(stalled[0])} of the new revision is not Ready, "
        f"so the rolling update stopped ({status.get('updatedReplicas', 0)}/{desired} updated)."
    )
    remediation = (
        "Fix the new revision (see the pod's findings) or revert the template; with "
        f"podManagementPolicy={policy} the StatefulSet does not replace a broken pod by itself after a "
        f"revert: delete it (kubectl delete pod {name_of(stalled[0])} -n {ns})."
    )
    return Finding(
        code="RolloutStuck",
        severity=Severity.CRITICAL if int(status.get("readyReplicas") or 0) == 0 else Severity.WARNING,
        object=ObjectRef("StatefulSet", ns, name),
        summary=summary,
        evidence=tuple(evidence),
        remediation=remediation,
        owner=owner_of(snapshot, sts),
        detected_at=snapshot.at,
        started_at=since,
    )


def _daemonset(snapshot: Snapshot, ds: K8sObject, index: _Index) -> Finding | None:
    status = ds.get("status") or {}
    if dig(ds, "spec", "updateStrategy", "type") == "OnDelete":
        return None
    desired = int(status.get("desiredNumberScheduled") or 0)
    updated_n = int(status.get("updatedNumberScheduled") or 0)
    if desired == 0 or updated_n >= desired:
        return None  # fully rolled out: unavailable pods are the pods' own findings
    generation = str(meta(ds).get("generation") or "")
    pods = index.pods_of(ds)
    updated = [p for p in pods if generation and labels_of(p).get("pod-template-generation") == generation]
    stalled, since = _stalled(snapshot, updated)
    if not stalled:
        return None
    ns, name = namespace_of(ds), name_of(ds)
    evidence = [
        f"status.desiredNumberScheduled={desired} "
        + _counts(status, ("updatedNumberScheduled", "numberReady", "numberUnavailable")),
        f"{len(stalled)} pod(s) of template generation {generation} not Ready for more than "
        f"{int(ROLLOUT_DEADLINE.total_seconds())} s",
    ]
    evidence.extend(_pod_lines(stalled))
    summary = (
        f"DaemonSet {name} rollout is stuck: {len(stalled)} updated pod(s) are not Ready, so the rolling "
        f"update stopped ({updated_n}/{desired} nodes updated)."
    )
    remediation = (
        "Fix the new pod template (see the pods' findings) or roll back "
        f"(kubectl rollout undo daemonset/{name}, or revert the change in git)."
    )
    return Finding(
        code="RolloutStuck",
        severity=Severity.CRITICAL if int(status.get("numberReady") or 0) == 0 else Severity.WARNING,
        object=ObjectRef("DaemonSet", ns, name),
        summary=summary,
        evidence=tuple(evidence),
        remediation=remediation,
        owner=owner_of(snapshot, ds),
        detected_at=snapshot.at,
        started_at=since,
    )
