"""Analyzer family 'nodes': nodes that are down or under pressure (`NodeNotReady`, `NodePressure`).

- `NodeNotReady`: condition `Ready` is `False` (kubelet reports a problem: CNI, PLEG, runtime) or
  `Unknown` (kubelet stopped posting status), for longer than `GRACE` at `snapshot.at` (a booting
  node is briefly NotReady).
- `NodePressure`: an active `MemoryPressure`, `DiskPressure` or `PIDPressure` condition.

One finding per node, the most causal first: a NotReady node's pressure conditions go into its
evidence. Node findings have namespace "" and no owner; the evidence counts the pods the node
strands or evicted. Pure: no I/O, never the wall clock.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from aiops.diagnose.common import describe_event
from aiops.model import Cause, Finding, K8sObject, ObjectRef, Severity, Snapshot, format_time, parse_time
from aiops.model.k8s import dig, meta, name_of
from aiops.model.snapshot import event_last_time

GRACE = timedelta(seconds=60)

PRESSURES = {
    "MemoryPressure": ("memory", "node.kubernetes.io/memory-pressure"),
    "DiskPressure": ("ephemeral-storage", "node.kubernetes.io/disk-pressure"),
    "PIDPressure": ("pid", "node.kubernetes.io/pid-pressure"),
}
_NODE_EVENTS = (
    "NodeNotReady",
    "NodeHasInsufficientMemory",
    "NodeHasDiskPressure",
    "NodeHasInsufficientPID",
    "EvictionThresholdMet",
    "FreeDiskSpaceFailed",
    "ImageGCFailed",
    "ContainerGCFailed",
    "SystemOOM",
    "Rebooted",
)


def _conditions(node: K8sObject) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for cond in dig(node, "status", "conditions", default=[]):
        if isinstance(cond, dict) and cond.get("type"):
            out[str(cond["type"])] = cond
    return out


def _cond_line(cond: dict[str, Any]) -> str:
    since = format_time(parse_time(cond.get("lastTransitionTime"))) or "?"
    beat = format_time(parse_time(cond.get("lastHeartbeatTime")))
    hb = f", lastHeartbeatTime={beat}" if beat else ""
    return (
        f"status.conditions[{cond.get('type')}]: status={cond.get('status')} reason={cond.get('reason')} "
        f"since {since}{hb}: {cond.get('message', '')}"
    ).rstrip(": ")


def _component(message: str, reason: str, status: str) -> str:
    """Which part of the node failed, from the kubelet's NotReady message."""
    text = message.lower()
    if status == "Unknown" or reason == "NodeStatusUnknown":
        return "kubelet"
    if "cni" in text or "network plugin" in text or "networkready=false" in text:
        return "cni"
    if "pleg" in text:
        return "pleg"
    if "container runtime" in text or "runtimeready=false" in text:
        return "runtime"
    if "csinode" in text or "csi" in text:
        return "csi"
    return "kubelet"


_REMEDIATION = {
    "kubelet": (
        "The kubelet stopped reporting: check the machine is up and reachable, then "
        "`systemctl status kubelet` / `journalctl -u kubelet` on it (minikube: `minikube ssh`); "
        "replace the node if it is gone."
    ),
    "cni": (
        "The pod network (CNI) is not ready on the node: check the CNI DaemonSet pods on it "
        "(kube-system) and /etc/cni/net.d; reinstall or restart the CNI plugin."
    ),
    "pleg": (
        "The container runtime is too slow to list pods (PLEG): check runtime health and node load, "
        "restart containerd/docker and the kubelet; drain and replace the node if it recurs."
    ),
    "runtime": ("The container runtime is down: restart containerd/docker on the node and check its logs."),
    "csi": "A CSI node plugin is not registered: check the CSI driver pods on the node.",
}

_PRESSURE_REMEDIATION = {
    "MemoryPressure": (
        "Memory is nearly exhausted: find the biggest consumers (kubectl top pods --sort-by=memory), "
        "set memory limits on unbounded pods, or add memory/nodes."
    ),
    "DiskPressure": (
        "Disk (nodefs/imagefs) is nearly full: remove unused images (crictl rmi --prune), rotate logs, "
        "set ephemeral-storage limits, or grow the disk."
    ),
    "PIDPressure": (
        "Process IDs are nearly exhausted: find the pod leaking processes/threads and set the kubelet's "
        "podPidsLimit."
    ),
}


def analyze(snapshot: Snapshot) -> Iterator[Finding]:
    """One finding per node that is NotReady (past GRACE) or under resource pressure."""
    failing = [n for n in snapshot.of_kind("Node") if _is_failing(snapshot, n)]
    if not failing:
        return
    names = {name_of(n) for n in failing}
    pods_on: dict[str, int] = Counter()
    stranded: dict[str, list[str]] = defaultdict(list)
    evicted: dict[str, list[str]] = defaultdict(list)
    for pod in snapshot.of_kind("Pod"):
        node = dig(pod, "spec", "nodeName")
        if not node or node not in names:
            continue
        node = str(node)
        status = pod.get("status") or {}
        if status.get("reason") == "Evicted":
            evicted[node].append(f"{meta(pod).get('namespace', '')}/{name_of(pod)}")
            continue
        if status.get("phase") in ("Succeeded", "Failed"):
            continue
        pods_on[node] += 1
        ready = next(
            (c for c in status.get("conditions") or [] if isinstance(c, dict) and c.get("type") == "Ready"),
            None,
        )
        if meta(pod).get("deletionTimestamp") or (ready is not None and ready.get("status") != "True"):
            stranded[node].append(f"{meta(pod).get('namespace', '')}/{name_of(pod)}")
    for node in failing:
        f = _node(snapshot, node, pods_on.get(name_of(node), 0), stranded, evicted)
        if f is not None:
            yield f


def _not_ready(snapshot: Snapshot, ready: dict[str, Any] | None) -> bool:
    """Ready is not True, and has not been for at least GRACE (a booting node is briefly NotReady)."""
    if ready is None or ready.get("status") == "True":
        return False
    since = parse_time(ready.get("lastTransitionTime"))
    return since is None or snapshot.at - since >= GRACE


def _is_failing(snapshot: Snapshot, node: K8sObject) -> bool:
    conds = _conditions(node)
    if _not_ready(snapshot, conds.get("Ready")):
        return True
    return any(conds.get(t, {}).get("status") == "True" for t in PRESSURES)


def _node(
    snapshot: Snapshot,
    node: K8sObject,
    pod_count: int,
    stranded: dict[str, list[str]],
    evicted: dict[str, list[str]],
) -> Finding | None:
    name = name_of(node)
    conds = _conditions(node)
    ready = conds.get("Ready")
    pressures = [t for t in PRESSURES if conds.get(t, {}).get("status") == "True"]
    not_ready = _not_ready(snapshot, ready)
    if not not_ready and not pressures:
        return None

    evidence: list[str] = []
    taints = [t for t in dig(node, "spec", "taints", default=[]) if isinstance(t, dict)]
    taint_text = ", ".join(f"{t.get('key')}:{t.get('effect')}" for t in taints)
    # Node events are cluster-scoped references ("" namespace); some recorders file them under "default".
    raw = snapshot.events_for("Node", "", name) + snapshot.events_for("Node", "default", name)
    events = sorted(
        (e for e in raw if e.get("reason") in _NODE_EVENTS),
        key=lambda e: event_last_time(e) or snapshot.at,
    )
    seen: set[tuple[str, str]] = set()
    event_lines: list[str] = []
    for ev in reversed(events):
        key = (str(ev.get("reason")), str(ev.get("message")))
        if key not in seen:
            seen.add(key)
            event_lines.append(describe_event(ev))
        if len(event_lines) >= 3:
            break
    stuck = stranded.get(name, [])
    gone = evicted.get(name, [])

    if not_ready and ready is not None:
        status = str(ready.get("status"))
        reason = str(ready.get("reason") or "")
        message = str(ready.get("message") or "")
        component = _component(message, reason, status)
        evidence.append(_cond_line(ready))
        beat = parse_time(ready.get("lastHeartbeatTime"))
        if status == "Unknown" and beat is not None:
            minutes = int((snapshot.at - beat).total_seconds() // 60)
            evidence.append(f"last heartbeat {minutes} min before the snapshot ({format_time(beat)})")
        evidence.extend(_cond_line(conds[t]) for t in pressures)
        if dig(node, "spec", "unschedulable"):
            evidence.append("spec.unschedulable=true (cordoned)")
        if taint_text:
            evidence.append(f"spec.taints: {taint_text}")
        evidence.extend(event_lines)
        evidence.append(f"{pod_count} pod(s) assigned to the node, {len(stuck)} not Ready or terminating")
        if stuck:
            evidence.append("affected pods: " + ", ".join(stuck[:5]) + (" ..." if len(stuck) > 5 else ""))
        if status == "Unknown":
            summary = f"Node {name} is NotReady: the kubelet stopped posting status ({reason or 'Unknown'})."
        else:
            first = message.split(";", maxsplit=1)[0].strip()[:160]
            summary = f"Node {name} is NotReady ({reason or 'False'}): {first}."
        detail: dict[str, Any] = {"status": status, "reason": reason, "component": component}
        if pressures:
            detail["pressures"] = pressures
        return Finding(
            code="NodeNotReady",
            severity=Severity.CRITICAL,
            object=ObjectRef("Node", "", name),
            summary=summary,
            evidence=tuple(evidence),
            remediation=_REMEDIATION[component],
            detected_at=snapshot.at,
            started_at=parse_time(ready.get("lastTransitionTime")),
            cause=Cause("node-not-ready", detail),
        )

    started: datetime | None = None
    for t in pressures:
        cond = conds[t]
        evidence.append(_cond_line(cond))
        res = PRESSURES[t][0]
        if res != "pid":
            alloc = dig(node, "status", "allocatable", res)
            cap = dig(node, "status", "capacity", res)
            if alloc or cap:
                evidence.append(f"status.capacity.{res}={cap or '?'} status.allocatable.{res}={alloc or '?'}")
        else:
            evidence.append(f"status.capacity.pods={dig(node, 'status', 'capacity', 'pods', default='?')}")
        began = parse_time(cond.get("lastTransitionTime"))
        if began is not None and (started is None or began < started):
            started = began
    if taint_text:
        evidence.append(f"spec.taints: {taint_text}")
    evidence.extend(event_lines)
    if gone:
        evidence.append(
            f"{len(gone)} pod(s) evicted from the node: "
            + ", ".join(gone[:5])
            + (" ..." if len(gone) > 5 else "")
        )
    names = ", ".join(pressures)
    summary = f"Node {name} is under {names}: the kubelet evicts pods and the scheduler avoids it."
    remediation = " ".join(_PRESSURE_REMEDIATION[t] for t in pressures)
    return Finding(
        code="NodePressure",
        severity=Severity.CRITICAL if gone else Severity.WARNING,
        object=ObjectRef("Node", "", name),
        summary=summary,
        evidence=tuple(evidence),
        remediation=remediation,
        detected_at=snapshot.at,
        started_at=started,
        cause=Cause(
            "node-pressure",
            {
                "node": name,
                "condition": pressures[0],
                "resource": PRESSURES[pressures[0]][0],
                "conditions": pressures,
                "resources": [PRESSURES[t][0] for t in pressures],
            },
        ),
    )
