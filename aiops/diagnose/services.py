"""Analyzer family 'services': Services that route to nothing (`ServiceNoEndpoints`, DESIGN §4.2).

A Service with a selector (not ExternalName) is a finding when no ready pod backs it: its
Endpoints object lists no ready address, or, when the snapshot has no Endpoints for it, no ready
pod matches its selector. The evidence says why: no pod carries the selector's labels (with the
values pods do carry, to spot a typo), matching pods exist but none is Ready, or a named
`targetPort` no pod declares. Selectorless and ExternalName Services, Services created less than
`GRACE` ago, and Services whose workload is intentionally scaled to zero give nothing.

Selector matching is linear: one label index per namespace ((key, value) → pods), built once.
Pure: no I/O, never the wall clock.
"""

from __future__ import annotations

import difflib
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiops.diagnose.common import condition, owner_of
from aiops.model import Cause, Finding, K8sObject, ObjectRef, OwnerRef, Severity, Snapshot, parse_time
from aiops.model.k8s import annotations_of, dig, labels_of, meta, name_of, namespace_of

GRACE = timedelta(seconds=60)
_TRIGGER = "endpoints.kubernetes.io/last-change-trigger-time"
_MAX_NAMES = 3
_MAX_SUGGEST = 50
"""Typo suggestions compare against at most this many label values (the most common ones)."""


def _is_ready(pod: K8sObject) -> bool:
    cond = condition(pod, "Ready")
    return cond is not None and cond.get("status") == "True"


@dataclass
class _Namespace:
    """Pods of one namespace that can back a Service, indexed by label pair."""

    pods: list[K8sObject] = field(default_factory=list)
    by_label: dict[tuple[str, str], list[int]] = field(default_factory=lambda: defaultdict(list))
    values: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))

    def add(self, pod: K8sObject) -> None:
        i = len(self.pods)
        self.pods.append(pod)
        for key, value in labels_of(pod).items():
            self.by_label[(key, str(value))].append(i)
            self.values[key][str(value)] += 1

    def matching(self, selector: Mapping[str, str]) -> list[K8sObject]:
        lists = [self.by_label.get((k, str(v)), []) for k, v in selector.items()]
        if not lists or any(not lst for lst in lists):
            return []
        lists.sort(key=len)
        result = set(lists[0])
        for other in lists[1:]:
            result.intersection_update(other)
            if not result:
                return []
        return [self.pods[i] for i in sorted(result)]


class _Index:
    """Per-namespace pod label indexes and scaled-to-zero workload templates, built once."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.namespaces: dict[str, _Namespace] = defaultdict(_Namespace)
        for pod in snapshot.of_kind("Pod"):
            if dig(pod, "status", "phase") in ("Succeeded", "Failed"):
                continue
            self.namespaces[namespace_of(pod)].add(pod)
        self.zero: dict[str, list[tuple[K8sObject, dict[str, str]]]] = defaultdict(list)
        for kind in ("Deployment", "StatefulSet", "ReplicaSet"):
            for wl in snapshot.of_kind(kind):
                if dig(wl, "spec", "replicas", default=1) == 0:
                    labels = dig(wl, "spec", "template", "metadata", "labels", default={}) or {}
                    self.zero[namespace_of(wl)].append((wl, {k: str(v) for k, v in labels.items()}))

    def scaled_to_zero(self, namespace: str, selector: Mapping[str, str]) -> K8sObject | None:
        for wl, labels in self.zero.get(namespace, ()):
            if all(labels.get(k) == str(v) for k, v in selector.items()):
                return wl
        return None


def analyze(snapshot: Snapshot) -> Iterator[Finding]:
    """One finding per selector Service that has no ready endpoint."""
    services = snapshot.of_kind("Service")
    if not services:
        return
    index: _Index | None = None
    has_pods = snapshot.has_kind("Pod")
    for svc in services:
        selector = dig(svc, "spec", "selector", default={}) or {}
        if not isinstance(selector, dict) or not selector:
            continue
        if dig(svc, "spec", "type") == "ExternalName":
            continue
        ns, name = namespace_of(svc), name_of(svc)
        created = parse_time(meta(svc).get("creationTimestamp"))
        if created is not None and snapshot.at - created < GRACE:
            continue
        ep = snapshot.get("Endpoints", ns, name)
        ready_addresses = 0
        not_ready_names: list[str] = []
        if ep is not None:
            for subset in ep.get("subsets") or []:
                if not isinstance(subset, dict):
                    continue
                ready_addresses += len(subset.get("addresses") or [])
                for addr in subset.get("notReadyAddresses") or []:
                    if isinstance(addr, dict):
                        not_ready_names.append(
                            str(dig(addr, "targetRef", "name", default=addr.get("ip", "?")))
                        )
            if ready_addresses > 0:
                continue
        elif not has_pods:
            continue  # neither Endpoints nor pods: nothing to judge by
        if index is None:
            index = _Index(snapshot)
        f = _judge(
            snapshot,
            svc=svc,
            selector=selector,
            ep=ep,
            not_ready_names=not_ready_names,
            index=index,
            has_pods=has_pods,
        )
        if f is not None:
            yield f


def _selector_text(selector: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))


def _named_ports_missing(svc: K8sObject, pods: Sequence[K8sObject]) -> list[str]:
    """Named targetPorts of the Service that none of `pods` declares."""
    named = [
        p.get("targetPort")
        for p in dig(svc, "spec", "ports", default=[])
        if isinstance(p, dict) and isinstance(p.get("targetPort"), str) and not str(p["targetPort"]).isdigit()
    ]
    if not named:
        return []
    declared: set[str] = set()
    for pod in pods:
        for c in dig(pod, "spec", "containers", default=[]):
            for p in c.get("ports") or [] if isinstance(c, dict) else []:
                if isinstance(p, dict) and p.get("name"):
                    declared.add(str(p["name"]))
    missing = []
    for port in dig(svc, "spec", "ports", default=[]):
        target = port.get("targetPort") if isinstance(port, dict) else None
        if isinstance(target, str) and not target.isdigit() and target not in declared:
            missing.append(target)
    return missing


def _judge(
    snapshot: Snapshot,
    *,
    svc: K8sObject,
    selector: Mapping[str, str],
    ep: K8sObject | None,
    not_ready_names: list[str],
    index: _Index,
    has_pods: bool,
) -> Finding | None:
    ns, name = namespace_of(svc), name_of(svc)
    space = index.namespaces.get(ns) or _Namespace()
    matching = space.matching(selector) if has_pods else []
    publish = bool(dig(svc, "spec", "publishNotReadyAddresses"))
    ready = [p for p in matching if publish or _is_ready(p)]
    missing_ports = _named_ports_missing(svc, ready) if ready else []
    if ready and not missing_ports:
        if ep is None:
            return None
        became_ready = [t for t in (_ready_since(p) for p in ready) if t is not None]
        if became_ready and snapshot.at - max(became_ready) < GRACE:
            return None  # a pod just became Ready: the Endpoints controller has not caught up yet
    if not matching and index.scaled_to_zero(ns, selector) is not None:
        return None  # intentionally scaled to zero
    if (
        matching
        and not ready
        and all(
            (t := parse_time(meta(p).get("creationTimestamp"))) is not None and snapshot.at - t < GRACE
            for p in matching
        )
    ):
        return None  # every backing pod is seconds old: still starting

    sel = _selector_text(selector)
    evidence = [
        f"spec.selector {sel}"
        + (f", spec.type={dig(svc, 'spec', 'type')}" if dig(svc, "spec", "type") else "")
    ]
    if ep is not None:
        nr = f", notReadyAddresses: {', '.join(not_ready_names[:_MAX_NAMES])}" if not_ready_names else ""
        more = f" (+{len(not_ready_names) - _MAX_NAMES})" if len(not_ready_names) > _MAX_NAMES else ""
        evidence.append(f"Endpoints {name}: 0 ready addresses{nr}{more}")
    else:
        evidence.append(f"no Endpoints object for {name} in the snapshot; judged from pods")

    cause: Cause | None = None
    owner: OwnerRef | None = owner_of(snapshot, svc)
    started: datetime | None = None
    if has_pods and not matching:
        unmatched: dict[str, str] = {}
        pod_values: dict[str, list[str]] = {}
        for k, v in sorted(selector.items()):
            if not space.by_label.get((k, str(v))):
                unmatched[k] = str(v)
                pod_values[k] = [val for val, _ in space.values.get(k, Counter()).most_common(5)]
        if unmatched:
            parts = []
            for k, v in unmatched.items():
                seen = pod_values[k]
                parts.append(
                    f"no pod in {ns} has {k}={v}"
                    + (f" (pods have {k}={', '.join(seen)})" if seen else f" (no pod has the label {k})")
                )
            evidence.append("; ".join(parts))
        else:
            evidence.append(f"each label of the selector is on some pod in {ns}, but no pod has all of them")
        suggested = _suggest(space, selector, unmatched)
        candidates = space.matching({**selector, **suggested}) if suggested else _candidates(space, selector)
        if suggested and candidates:
            fix = ",".join(f"{k}={v}" for k, v in sorted(suggested.items()))
            evidence.append(
                f"did you mean {fix}? it matches {len(candidates)} pod(s): "
                + ", ".join(name_of(p) for p in candidates[:_MAX_NAMES])
            )
        elif candidates:
            evidence.append("closest pods: " + ", ".join(name_of(p) for p in candidates[:_MAX_NAMES]))
        if candidates and owner is None:
            owner = owner_of(snapshot, candidates[0])
        mismatch: dict[str, Any] = {
            "selector": dict(selector),
            "unmatched": unmatched,
            "pod_values": pod_values,
        }
        if suggested and candidates:
            mismatch["suggested"] = suggested
        cause = Cause("selector-mismatch", mismatch)
        summary = f"Service {name} has no endpoints: no pod in {ns} matches its selector {sel}."
        remediation = (
            "Make spec.selector match the pod template labels (fix the typo on one side); "
            "a Service selects pods by every label of its selector."
        )
    elif missing_ports:
        evidence.append(
            f"{len(ready)} Ready pod(s) match, but targetPort {', '.join(missing_ports)} is not a named "
            "containerPort of them"
        )
        if owner is None:
            owner = owner_of(snapshot, ready[0])
        cause = Cause("target-port-mismatch", {"ports": missing_ports})
        summary = (
            f"Service {name} has no endpoints: its targetPort {', '.join(missing_ports)} names no port "
            "of the matching pods."
        )
        remediation = "Set targetPort to a containerPort name the pods declare (or to the port number)."
    elif matching and not ready:
        unready_lines = []
        for p in matching[:_MAX_NAMES]:
            cond = condition(p, "Ready")
            if cond:
                why = f"Ready={cond.get('status')} reason={cond.get('reason')}: {cond.get('message', '')}"
            else:
                why = f"phase={dig(p, 'status', 'phase', default='?')}"
            unready_lines.append(f"pod {name_of(p)}: {why.rstrip(': ')}")
        evidence.append(f"{len(matching)} pod(s) match the selector, 0 Ready")
        evidence.extend(unready_lines)
        if owner is None:
            owner = owner_of(snapshot, matching[0])
        since = [t for t in (_unready_since(p) for p in matching) if t is not None]
        started = max(since) if since else None
        summary = (
            f"Service {name} has no ready endpoints: all {len(matching)} pod(s) matching {sel} are not Ready."
        )
        remediation = (
            "Fix the pods so they pass their readiness probe (see the pods' findings); the Service sends "
            "traffic only to Ready pods."
        )
    else:
        # Endpoints empty although pods look ready (or pods not in the snapshot).
        if ready:
            evidence.append(
                f"{len(ready)} Ready pod(s) match the selector, but the Endpoints list none of them"
            )
            if owner is None:
                owner = owner_of(snapshot, ready[0])
        summary = f"Service {name} has no ready endpoints."
        remediation = (
            "Check that the selected pods are Ready and expose the Service's targetPort; "
            "kubectl get endpoints shows what the Service routes to."
        )
    if started is None and ep is not None:
        started = parse_time(annotations_of(ep).get(_TRIGGER))
    if started is None:
        started = parse_time(meta(svc).get("creationTimestamp"))
    return Finding(
        code="ServiceNoEndpoints",
        severity=Severity.CRITICAL,
        object=ObjectRef("Service", ns, name),
        summary=summary,
        evidence=tuple(evidence),
        remediation=remediation,
        owner=owner,
        detected_at=snapshot.at,
        started_at=started,
        cause=cause,
    )


def _ready_since(pod: K8sObject) -> datetime | None:
    cond = condition(pod, "Ready")
    return parse_time(cond.get("lastTransitionTime")) if cond and cond.get("status") == "True" else None


def _unready_since(pod: K8sObject) -> datetime | None:
    cond = condition(pod, "Ready")
    t = parse_time(cond.get("lastTransitionTime")) if cond else None
    return t or parse_time(meta(pod).get("creationTimestamp"))


def _candidates(space: _Namespace, selector: Mapping[str, str]) -> list[K8sObject]:
    """Pods matching the most selector pairs (at least one), for a near-miss hint."""
    score: Counter[int] = Counter()
    for k, v in selector.items():
        for i in space.by_label.get((k, str(v)), []):
            score[i] += 1
    if not score:
        return []
    best = max(score.values())
    return [space.pods[i] for i in sorted(i for i, s in score.items() if s == best)]


def _suggest(space: _Namespace, selector: Mapping[str, str], unmatched: Mapping[str, str]) -> dict[str, str]:
    """For each unmatched selector value, the most similar value pods carry under that key (a typo)."""
    out: dict[str, str] = {}
    for k, v in unmatched.items():
        values = [val for val, _ in space.values.get(k, Counter()).most_common(_MAX_SUGGEST)]
        close = difflib.get_close_matches(v, values, n=1, cutoff=0.6)
        if not close:
            return {}
        out[k] = close[0]
    return out
