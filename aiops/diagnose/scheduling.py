"""Analyzer family 'scheduling': pods the scheduler cannot place (`Unschedulable.*`, DESIGN §4.2).

Reads the `PodScheduled=False/Unschedulable` condition and the `FailedScheduling` events of
Pending pods without a node, parses the scheduler's FitError ("0/5 nodes are available: 3
Insufficient cpu, 2 node(s) had untolerated taint {...}.") and names the reason with the largest
node count, citing the others in evidence. Nodes in the snapshot add context (largest allocatable,
labels matching the pod's node selector, taints the pod does not tolerate). A pod unschedulable
for less than `GRACE` at `snapshot.at` is not a finding (the scheduler retries; autoscalers add
nodes). Pure: no I/O, never the wall clock.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiops.diagnose.common import condition, describe_event, owner_of, pod_events
from aiops.errors import InputError
from aiops.model import Cause, Finding, K8sObject, ObjectRef, Severity, Snapshot, format_time, parse_time
from aiops.model.k8s import dig, labels_of, meta, name_of, namespace_of
from aiops.model.quantity import format_cpu, format_memory, parse_quantity
from aiops.model.snapshot import event_first_time

GRACE = timedelta(seconds=60)
"""A pod unschedulable for less than this (at snapshot time) is still being placed: no finding."""

INSUFFICIENT = "Unschedulable.InsufficientResources"
AFFINITY = "Unschedulable.NodeAffinity"
TAINTS = "Unschedulable.Taints"
UNBOUND_PVC = "Unschedulable.UnboundPVC"

# Ties between reasons with the same node count go to the most actionable one.
_PRECEDENCE = (UNBOUND_PVC, INSUFFICIENT, AFFINITY, TAINTS)

CONDITION_TAINTS = frozenset(
    {
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
        "node.kubernetes.io/memory-pressure",
        "node.kubernetes.io/disk-pressure",
        "node.kubernetes.io/pid-pressure",
        "node.kubernetes.io/network-unavailable",
        "node.kubernetes.io/unschedulable",
        "node.cloudprovider.kubernetes.io/uninitialized",
    }
)
"""Taints the node lifecycle controller/kubelet set from node conditions: the node is the root cause."""

_FIT_RE = re.compile(r"^\s*0/(?P<total>\d+) nodes are available:\s*(?P<body>.*)$", re.S)
_LEGACY_RE = re.compile(
    r"No nodes are available that match all of the (?:following )?predicates:+\s*(?P<body>.*)$"
)
_LEGACY_PART = re.compile(r"([A-Za-z][^,()]*?)\s*\((\d+)\)")
_SPLIT = re.compile(r",\s+(?=\d+ )")
_COUNTED = re.compile(r"^(\d+)\s+(.*)$", re.S)
_TAINT_IN_TEXT = re.compile(r"\{([^{}]*)\}")
_CLAIM_IN_TEXT = re.compile(r'persistentvolumeclaim "([^"]+)"')


# ---- FitError parsing (also used by the storage analyzer) -----------------------------------------
@dataclass(frozen=True)
class Reason:
    """One `<count> <reason>` pair of a scheduler message, classified into a finding code."""

    count: int | None
    text: str
    code: str | None
    resource: str | None = None


@dataclass(frozen=True)
class FitError:
    """A parsed FailedScheduling / PodScheduled message."""

    message: str
    total: int | None
    reasons: tuple[Reason, ...]

    def primary(self, *, pinned: bool = False) -> Reason | None:
        """The reason with the largest node count (ties: the most actionable code); None if unknown.

        `pinned`: the pod may only run on one node (a DaemonSet pod), so "didn't match Pod's node
        affinity/selector" on every other node is by design and never the reason, if another is given.
        """
        known = [r for r in self.reasons if r.code is not None]
        if pinned:
            real = [r for r in known if not _is_selector_mismatch(r.text)]
            known = real or known
        if not known:
            return None
        default = self.total if self.total is not None else 0
        return max(
            known,
            key=lambda r: (
                r.count if r.count is not None else default,
                -_PRECEDENCE.index(r.code) if r.code in _PRECEDENCE else -99,
            ),
        )


def _is_selector_mismatch(text: str) -> bool:
    t = text.lower()
    return "node affinity/selector" in t or "node selector" in t or "prefilter result" in t


def pinned_node(pod: K8sObject) -> str | None:
    """The one node a pod is pinned to by required `matchFields metadata.name` (DaemonSet pods), or None."""
    terms = dig(
        pod,
        "spec",
        "affinity",
        "nodeAffinity",
        "requiredDuringSchedulingIgnoredDuringExecution",
        "nodeSelectorTerms",
        default=[],
    )
    names: set[str] = set()
    for term in terms if isinstance(terms, list) else []:
        for expr in (term.get("matchFields") or []) if isinstance(term, dict) else []:
            if isinstance(expr, dict) and expr.get("key") == "metadata.name" and expr.get("operator") == "In":
                names.update(str(v) for v in expr.get("values") or [])
    return next(iter(names)) if len(names) == 1 else None


def classify_reason(text: str) -> tuple[str | None, str | None]:
    """Map one scheduler reason string to (code, resource); (None, None) when unknown."""
    t = text.strip().lower()
    if t.startswith("insufficient "):
        return INSUFFICIENT, text.strip()[len("insufficient ") :].strip().rstrip(".")
    if t.startswith(("podfitsresources", "too many pods")):
        return INSUFFICIENT, "pods" if "pods" in t else None
    if "free ports" in t or t.startswith("podfitshostports"):
        return INSUFFICIENT, None
    if "taint" in t or "were unschedulable" in t or t.startswith("checknodeunschedulable"):
        return TAINTS, None
    if (
        "affinity" in t
        or "node selector" in t
        or "matchnodeselector" in t
        or "topology spread" in t
        or "prefilter result" in t
        or "volume node affinity" in t
        or "novolumezoneconflict" in t
    ):
        return AFFINITY, None
    if (
        "unbound immediate persistentvolumeclaims" in t
        or "persistent volumes to bind" in t
        or "persistentvolumeclaim" in t
        or "non-existent persistentvolume" in t
        or "binding volumes" in t
        or "volumebinding" in t
    ):
        return UNBOUND_PVC, None
    return None, None


def parse_fit_error(message: str) -> FitError:
    """Parse `0/N nodes are available: <count> <reason>, ...[. preemption: ...]` (and older forms)."""
    msg = message.strip()
    m = _FIT_RE.match(msg)
    if m:
        total: int | None = int(m.group("total"))
        body = m.group("body")
        cut = body.find(" preemption:")
        if cut >= 0:
            body = body[:cut]
        body = body.strip().rstrip(".").strip()
        parts = [p.strip().rstrip(".").strip() for p in _SPLIT.split(body) if p.strip()]
        reasons: list[Reason] = []
        for part in parts:
            cm = _COUNTED.match(part)
            count, text = (int(cm.group(1)), cm.group(2).strip()) if cm else (None, part)
            code, resource = classify_reason(text)
            reasons.append(Reason(count, text, code, resource))
        return FitError(msg, total, tuple(reasons))
    lm = _LEGACY_RE.search(msg)
    if lm:
        reasons = []
        for text, count in _LEGACY_PART.findall(lm.group("body")):
            code, resource = classify_reason(text)
            reasons.append(Reason(int(count), text.strip(), code, resource))
        return FitError(msg, None, tuple(reasons))
    code, resource = classify_reason(msg)
    return FitError(msg, None, (Reason(None, msg.rstrip("."), code, resource),))


# ---- small readers -----------------------------------------------------------------------------------
def _event_lines(events: Sequence[K8sObject], limit: int = 3) -> list[str]:
    """Newest first, one line per distinct (reason, message), at most `limit`."""
    seen: set[tuple[str, str]] = set()
    out: list[str] = []
    for ev in reversed(events):
        key = (str(ev.get("reason") or ""), str(ev.get("message") or ""))
        if key in seen:
            continue
        seen.add(key)
        out.append(describe_event(ev))
        if len(out) >= limit:
            break
    return out


def pod_claims(pod: K8sObject) -> list[str]:
    """PersistentVolumeClaims a pod mounts: explicit claims and generic ephemeral volumes."""
    out: list[str] = []
    for vol in dig(pod, "spec", "volumes", default=[]):
        if not isinstance(vol, dict):
            continue
        claim = dig(vol, "persistentVolumeClaim", "claimName")
        if claim:
            out.append(str(claim))
        elif isinstance(vol.get("ephemeral"), dict):
            out.append(f"{name_of(pod)}-{vol.get('name', '')}")
    return out


def unschedulable_message(snapshot: Snapshot, pod: K8sObject) -> tuple[str, list[K8sObject]] | None:
    """The current scheduler message of a Pending, unplaced pod and its FailedScheduling events.

    None when the pod is placed, not Pending, gated, or shows no scheduling failure.
    """
    status = pod.get("status") or {}
    if status.get("phase") not in ("Pending", None) or dig(pod, "spec", "nodeName"):
        return None
    if meta(pod).get("deletionTimestamp"):
        return None
    cond = condition(pod, "PodScheduled")
    if cond is not None and cond.get("status") == "True":
        return None
    if cond is not None and cond.get("reason") == "SchedulingGated":
        return None
    events = [e for e in pod_events(snapshot, pod) if e.get("reason") == "FailedScheduling"]
    message = ""
    if cond is not None and cond.get("status") == "False" and cond.get("reason") == "Unschedulable":
        message = str(cond.get("message") or "")
    if not message and events:
        message = str(events[-1].get("message") or "")
    if not message:
        return None
    return message, events


# ---- node context ----------------------------------------------------------------------------------
def _quantity(value: Any) -> float | None:
    try:
        return parse_quantity(value)
    except InputError:
        return None


def _format(resource: str, amount: float) -> str:
    if resource == "cpu":
        return format_cpu(amount)
    if resource in ("memory", "ephemeral-storage") or resource.startswith("hugepages-"):
        return format_memory(amount)
    return f"{amount:g}"


def pod_requests(pod: K8sObject) -> dict[str, float]:
    """Effective pod requests: max(sum of containers, largest init container) + overhead."""
    total: dict[str, float] = {}
    for c in dig(pod, "spec", "containers", default=[]):
        for res, val in (dig(c, "resources", "requests", default={}) or {}).items():
            q = _quantity(val)
            if q is not None:
                total[res] = total.get(res, 0.0) + q
    for c in dig(pod, "spec", "initContainers", default=[]):
        for res, val in (dig(c, "resources", "requests", default={}) or {}).items():
            q = _quantity(val)
            if q is not None and q > total.get(res, 0.0):
                total[res] = q
    for res, val in (dig(pod, "spec", "overhead", default={}) or {}).items():
        q = _quantity(val)
        if q is not None:
            total[res] = total.get(res, 0.0) + q
    return total


@dataclass
class _Nodes:
    """Node facts computed once per analysis (nodes are few; pods are many)."""

    nodes: list[K8sObject]
    largest: dict[str, tuple[float, str]]

    @classmethod
    def of(cls, snapshot: Snapshot) -> _Nodes:
        nodes = list(snapshot.of_kind("Node"))
        largest: dict[str, tuple[float, str]] = {}
        for n in nodes:
            for res, val in (dig(n, "status", "allocatable", default={}) or {}).items():
                q = _quantity(val)
                if q is not None and (res not in largest or q > largest[res][0]):
                    largest[res] = (q, name_of(n))
        return cls(nodes, largest)


def _tolerates(tol: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    effect = tol.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    op = tol.get("operator") or "Equal"
    key = tol.get("key") or ""
    if not key:
        return op == "Exists"
    if key != taint.get("key"):
        return False
    if op == "Exists":
        return True
    return str(tol.get("value") or "") == str(taint.get("value") or "")


def _untolerated(pod: K8sObject, nodes: Iterable[K8sObject]) -> Counter[str]:
    tols = [t for t in dig(pod, "spec", "tolerations", default=[]) if isinstance(t, dict)]
    counts: Counter[str] = Counter()
    for n in nodes:
        for taint in dig(n, "spec", "taints", default=[]):
            if not isinstance(taint, dict) or taint.get("effect") not in ("NoSchedule", "NoExecute"):
                continue
            if not any(_tolerates(t, taint) for t in tols):
                value = taint.get("value")
                label = f"{taint.get('key')}={value}" if value else str(taint.get("key"))
                counts[f"{label}:{taint.get('effect')}"] += 1
    return counts


def _expr_matches(expr: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key = str(expr.get("key", ""))
    op = expr.get("operator")
    values = [str(v) for v in expr.get("values") or []]
    present = key in labels
    if op == "In":
        return present and labels[key] in values
    if op == "NotIn":
        return not present or labels[key] not in values
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt") and present and values:
        try:
            have, want = int(labels[key]), int(values[0])
        except ValueError:
            return False
        return have > want if op == "Gt" else have < want
    return False


def _term_matches(term: Mapping[str, Any], node: K8sObject) -> bool:
    labels = labels_of(node)
    fields = {"metadata.name": name_of(node)}
    exprs = [e for e in term.get("matchExpressions") or [] if isinstance(e, dict)]
    field_exprs = [e for e in term.get("matchFields") or [] if isinstance(e, dict)]
    if not exprs and not field_exprs:
        return False  # an empty term matches nothing (API semantics)
    return all(_expr_matches(e, labels) for e in exprs) and all(_expr_matches(e, fields) for e in field_exprs)


def _render_term(term: Mapping[str, Any]) -> str:
    parts = []
    for e in list(term.get("matchExpressions") or []) + list(term.get("matchFields") or []):
        if not isinstance(e, dict):
            continue
        vals = e.get("values") or []
        parts.append(
            f"{e.get('key')} {e.get('operator')}" + (f" [{', '.join(map(str, vals))}]" if vals else "")
        )
    return " and ".join(parts) or "(empty term)"


# ---- the analyzer ------------------------------------------------------------------------------------
def analyze(snapshot: Snapshot) -> Iterator[Finding]:
    """One finding per Pending pod the scheduler has failed to place for longer than GRACE."""
    nodes: _Nodes | None = None
    for pod in snapshot.of_kind("Pod"):
        found = unschedulable_message(snapshot, pod)
        if found is None:
            continue
        message, events = found
        started = _started_at(pod, events)
        if started is not None and snapshot.at - started < GRACE:
            continue
        fit = parse_fit_error(message)
        primary = fit.primary(pinned=pinned_node(pod) is not None)
        if primary is None or primary.code is None:
            continue
        if nodes is None:
            nodes = _Nodes.of(snapshot)
        yield _finding(
            snapshot, pod=pod, fit=fit, primary=primary, events=events, started=started, nodes=nodes
        )


def _started_at(pod: K8sObject, events: Sequence[K8sObject]) -> datetime | None:
    times: list[datetime] = []
    cond = condition(pod, "PodScheduled")
    if cond is not None:
        t = parse_time(cond.get("lastTransitionTime"))
        if t is not None:
            times.append(t)
    for ev in events:
        t = event_first_time(ev)
        if t is not None:
            times.append(t)
    if not times:
        created = parse_time(meta(pod).get("creationTimestamp"))
        return created
    return min(times)


def _finding(
    snapshot: Snapshot,
    *,
    pod: K8sObject,
    fit: FitError,
    primary: Reason,
    events: Sequence[K8sObject],
    started: datetime | None,
    nodes: _Nodes,
) -> Finding:
    ns, name = namespace_of(pod), name_of(pod)
    code = str(primary.code)
    total = fit.total if fit.total is not None else len(nodes.nodes) or None
    count = primary.count if primary.count is not None else total
    of_nodes = f"{count} of {total} nodes" if count is not None and total else "the nodes"

    evidence: list[str] = []
    cond = condition(pod, "PodScheduled")
    if cond is not None and cond.get("status") == "False":
        evidence.append(
            f"status.conditions[PodScheduled]: status=False reason={cond.get('reason')} "
            f"since {format_time(parse_time(cond.get('lastTransitionTime'))) or '?'}: "
            f"{cond.get('message', '')}"
        )
    evidence.append("status.phase=Pending, spec.nodeName unset")
    pin = pinned_node(pod)
    if pin is not None:
        evidence.append(
            f"pod is pinned to node {pin} (matchFields metadata.name): "
            "not matching the other nodes is by design"
        )
    ranked = sorted(
        fit.reasons,
        key=lambda r: -(r.count if r.count is not None else (total or 0)),
    )
    if len(ranked) > 1 or primary.count is not None:
        cited = ", ".join(
            (f"{r.count} " if r.count is not None else "") + r.text + (" (primary)" if r is primary else "")
            for r in ranked
        )
        evidence.append(f"scheduler reasons by node count: {cited}")
    evidence.extend(_event_lines(events))

    cause: Cause | None = None
    if code == INSUFFICIENT:
        summary, remediation, cause = _insufficient(
            pod, fit=fit, primary=primary, of_nodes=of_nodes, nodes=nodes, evidence=evidence
        )
    elif code == AFFINITY:
        summary, remediation, cause = _affinity(pod, primary, of_nodes, nodes, evidence)
    elif code == TAINTS:
        summary, remediation, cause = _taints(pod, fit, of_nodes, nodes, evidence)
    else:
        summary, remediation, cause = _unbound(snapshot, pod, fit, evidence)

    return Finding(
        code=code,
        severity=Severity.CRITICAL,
        object=ObjectRef("Pod", ns, name),
        summary=summary,
        evidence=tuple(evidence),
        remediation=remediation,
        owner=owner_of(snapshot, pod),
        detected_at=snapshot.at,
        started_at=started,
        cause=cause,
    )


def _insufficient(
    pod: K8sObject,
    *,
    fit: FitError,
    primary: Reason,
    of_nodes: str,
    nodes: _Nodes,
    evidence: list[str],
) -> tuple[str, str, Cause | None]:
    name = name_of(pod)
    counts: dict[str, int] = {}
    for r in fit.reasons:
        if r.code == INSUFFICIENT and r.resource:
            counts[r.resource] = max(counts.get(r.resource, 0), r.count if r.count is not None else 0)
    resource = primary.resource
    requests = pod_requests(pod)
    req_text = {res: _format(res, requests[res]) for res in counts if res in requests}
    if req_text:
        evidence.append("pod requests: " + ", ".join(f"{k}={v}" for k, v in sorted(req_text.items())))
    never_fits: list[str] = []
    for res in counts:
        if res in nodes.largest:
            amount, node_name = nodes.largest[res]
            evidence.append(f"largest node allocatable {res}={_format(res, amount)} (node {node_name})")
            if res in requests and requests[res] > amount:
                never_fits.append(res)
    if resource is None:
        summary = f"Pod {name} cannot be scheduled: {of_nodes} have no free host port it requests."
        remediation = (
            "Drop the hostPort (use a Service), or add nodes where the port is free; "
            "two replicas with the same hostPort cannot share a node."
        )
        return summary, remediation, None
    detail: dict[str, Any] = {
        "resource": resource,
        "nodes": primary.count,
        "total_nodes": fit.total,
        "resources": dict(sorted(counts.items())),
    }
    if req_text:
        detail["requested"] = dict(sorted(req_text.items()))
    if never_fits:
        detail["fits_no_node"] = sorted(never_fits)
    others = sorted(r for r in counts if r != resource)
    also = f" (also {', '.join(others)})" if others else ""
    if resource in never_fits:
        req = req_text.get(resource, "?")
        summary = (
            f"Pod {name} cannot be scheduled: it requests {resource}={req}, more than any node can offer "
            f"({of_nodes} report Insufficient {resource}{also})."
        )
        remediation = (
            f"Lower the pod's {resource} request below the largest node's allocatable, or add a larger node."
        )
    else:
        summary = f"Pod {name} cannot be scheduled: {of_nodes} have insufficient {resource}{also}."
        remediation = (
            f"Lower the {resource} requests to what the workload uses (aiops recommend right-sizes them), "
            "scale down other workloads, or add node capacity."
        )
        if resource == "pods":
            remediation = (
                "The nodes are at their pod limit (status.allocatable.pods): add nodes or raise maxPods."
            )
        elif "/" in resource:
            remediation = (
                f"No node offers enough {resource}: check the device plugin (node status.allocatable) "
                "or add nodes that have the device."
            )
    return summary, remediation, Cause("insufficient-resources", detail)


def _affinity(
    pod: K8sObject,
    primary: Reason,
    of_nodes: str,
    nodes: _Nodes,
    evidence: list[str],
) -> tuple[str, str, Cause | None]:
    name = name_of(pod)
    selector = dig(pod, "spec", "nodeSelector", default={}) or {}
    unmatched: dict[str, str] = {}
    seen_values: dict[str, list[str]] = {}
    for key, value in sorted(selector.items()):
        if nodes.nodes:
            have = Counter(labels_of(n).get(key) for n in nodes.nodes)
            matching = have.get(str(value), 0)
            present = sorted(str(v) for v in have if v is not None)
            hint = f" (values on nodes: {', '.join(present)})" if present else " (no node has this label)"
            evidence.append(
                f"spec.nodeSelector {key}={value} matches {matching} of {len(nodes.nodes)} nodes"
                + (hint if matching == 0 else "")
            )
            if matching == 0:
                unmatched[key] = str(value)
                seen_values[key] = present
        else:
            evidence.append(f"spec.nodeSelector {key}={value}")
    terms = dig(
        pod,
        "spec",
        "affinity",
        "nodeAffinity",
        "requiredDuringSchedulingIgnoredDuringExecution",
        "nodeSelectorTerms",
        default=[],
    )
    terms = [t for t in terms if isinstance(t, dict)]
    if terms:
        rendered = " or ".join(f"({_render_term(t)})" for t in terms)
        if nodes.nodes:
            matching = sum(1 for n in nodes.nodes if any(_term_matches(t, n) for t in terms))
            evidence.append(
                f"required node affinity {rendered} matches {matching} of {len(nodes.nodes)} nodes"
            )
        else:
            evidence.append(f"required node affinity {rendered}")
    text = primary.text.lower()
    if "volume node affinity" in text or "persistentvolume's node affinity" in text:
        summary = (
            f"Pod {name} cannot be scheduled: its volumes are pinned to nodes it cannot use ({of_nodes})."
        )
        remediation = (
            "The PersistentVolume's node affinity (zone) excludes every node the pod may use: "
            "add nodes in that zone or recreate the volume where the pod can run."
        )
        return summary, remediation, None
    if "pod affinity" in text or "anti-affinity" in text or "topology spread" in text:
        rule = (
            "pod anti-affinity rules"
            if "anti-affinity" in text
            else "topology spread constraints"
            if "topology spread" in text
            else "pod affinity rules"
        )
        summary = f"Pod {name} cannot be scheduled: {of_nodes} would violate its {rule}."
        remediation = (
            "Required pod anti-affinity/spread allows at most one replica per topology domain: "
            "add nodes, lower replicas, or use preferredDuringScheduling rules."
        )
        return summary, remediation, None
    summary = f"Pod {name} cannot be scheduled: {of_nodes} do not match its node selector/affinity."
    if unmatched:
        key, value = next(iter(unmatched.items()))
        summary = (
            f"Pod {name} cannot be scheduled: no node has the label {key}={value} its nodeSelector requires."
        )
    remediation = (
        "Fix spec.nodeSelector / nodeAffinity in the pod template (look for a typo against the node labels), "
        "or label a node: kubectl label node NODE key=value."
    )
    detail: dict[str, Any] = {"nodeSelector": dict(selector)}
    if unmatched:
        detail["unmatched"] = unmatched
        detail["node_values"] = seen_values
    return summary, remediation, Cause("node-selector-mismatch", detail)


def _taints(
    pod: K8sObject,
    fit: FitError,
    of_nodes: str,
    nodes: _Nodes,
    evidence: list[str],
) -> tuple[str, str, Cause | None]:
    name = name_of(pod)
    taints: list[str] = []
    if nodes.nodes:
        counted = _untolerated(pod, nodes.nodes)
        for taint, n in counted.most_common():
            evidence.append(f"taint {taint} on {n} node(s), not tolerated by the pod")
            taints.append(taint)
    if not taints:
        for r in fit.reasons:
            if r.code == TAINTS:
                for inner in _TAINT_IN_TEXT.findall(r.text):
                    key, _, value = inner.partition(":")
                    value = value.strip()
                    taints.append(f"{key.strip()}={value}" if value else key.strip())
                if "were unschedulable" in r.text:
                    taints.append("node.kubernetes.io/unschedulable")
    keys = sorted({t.split("=")[0].split(":")[0] for t in taints})
    condition_keys = [k for k in keys if k in CONDITION_TAINTS]
    shown = ", ".join(keys) or "a taint"
    summary = f"Pod {name} cannot be scheduled: {of_nodes} have taints it does not tolerate ({shown})."
    if condition_keys and len(condition_keys) == len(keys):
        remediation = (
            f"The nodes are tainted because of their condition ({', '.join(condition_keys)}): fix the node "
            "(see its NodeNotReady/NodePressure finding, or uncordon it) rather than tolerating the taint."
        )
    else:
        remediation = (
            "Add a matching toleration to the pod template if the pod belongs on those nodes, remove the "
            "taint (kubectl taint nodes NODE KEY-), or add untainted nodes."
        )
    detail = {"taints": taints, "condition_taints": condition_keys}
    return summary, remediation, Cause("untolerated-taint", detail)


def _unbound(
    snapshot: Snapshot,
    pod: K8sObject,
    fit: FitError,
    evidence: list[str],
) -> tuple[str, str, Cause | None]:
    ns, name = namespace_of(pod), name_of(pod)
    claims = pod_claims(pod)
    for claim in _CLAIM_IN_TEXT.findall(fit.message):
        if claim not in claims:
            claims.append(claim)
    pending: list[str] = []
    missing: list[str] = []
    for claim in claims:
        pvc = snapshot.get("PersistentVolumeClaim", ns, claim)
        if pvc is None:
            if snapshot.has_kind("PersistentVolumeClaim") or f'"{claim}" not found' in fit.message:
                missing.append(claim)
                evidence.append(f"PersistentVolumeClaim {claim}: not found")
            continue
        phase = dig(pvc, "status", "phase", default="?")
        sc = dig(pvc, "spec", "storageClassName", default="(default)")
        evidence.append(f"PersistentVolumeClaim {claim}: status.phase={phase}, spec.storageClassName={sc}")
        if phase != "Bound":
            pending.append(claim)
    named = pending + missing
    if missing and not pending:
        summary = (
            f"Pod {name} cannot be scheduled: its PersistentVolumeClaim {', '.join(missing)} does not exist."
        )
        remediation = (
            "Create the PersistentVolumeClaim (or fix claimName / the StatefulSet volumeClaimTemplates)."
        )
    elif named:
        summary = (
            f"Pod {name} cannot be scheduled: its PersistentVolumeClaim {', '.join(named)} is not bound."
        )
        remediation = (
            "Make the claim bind: fix its StorageClass or provisioner (see the PVCPending finding), "
            "or create a matching PersistentVolume."
        )
    else:
        summary = f"Pod {name} cannot be scheduled: its PersistentVolumeClaims cannot be bound."
        remediation = "Check the pod's PersistentVolumeClaims, their StorageClass and the volume provisioner."
    cause = Cause("unbound-pvc", {"claims": named or claims, "missing": missing}) if claims else None
    return summary, remediation, cause
