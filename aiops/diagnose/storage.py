"""Analyzer family 'storage': PersistentVolumeClaims that do not bind (`PVCPending`, DESIGN §4.2).

A claim is a finding when it is Pending for longer than `GRACE` at `snapshot.at` and either its
events show a provisioning/binding failure (`ProvisioningFailed`, `FailedBinding`, a provisioner
that has not answered for `PROVISIONING_SLOW`) or a pod is unschedulable because of it (the
finding then sits next to that pod's `Unschedulable.UnboundPVC`). A claim waiting for its first
consumer (`WaitForFirstConsumer`) is Pending by design and gives nothing. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from aiops.diagnose.common import describe_event, owner_of
from aiops.diagnose.scheduling import UNBOUND_PVC, parse_fit_error, pod_claims, unschedulable_message
from aiops.model import (
    Cause,
    Finding,
    K8sObject,
    ObjectRef,
    OwnerRef,
    Severity,
    Snapshot,
    parse_time,
)
from aiops.model.k8s import dig, meta, name_of, namespace_of
from aiops.model.snapshot import event_first_time

GRACE = timedelta(seconds=60)
PROVISIONING_SLOW = timedelta(minutes=5)
"""An external provisioner that has not created the volume after this long is failing."""

_FAILED = ("ProvisioningFailed", "FailedBinding", "ClaimLost", "ClaimMisbound", "VolumeMismatch")
_WAITING = ("ExternalProvisioning", "Provisioning")
_SC_NOT_FOUND = re.compile(r'storageclass\.storage\.k8s\.io "([^"]+)" not found')
_PROVISIONER = re.compile(r"""provisioner ['"]([^'"]+)['"]""")


def analyze(snapshot: Snapshot) -> Iterator[Finding]:
    """One finding per Pending claim that fails to bind (or blocks a pod) for longer than GRACE."""
    pvcs = [p for p in snapshot.of_kind("PersistentVolumeClaim") if dig(p, "status", "phase") == "Pending"]
    if not pvcs:
        return
    # Consumers of each claim, one pass over the pods.
    wanted = {(namespace_of(p), name_of(p)) for p in pvcs}
    users: dict[tuple[str, str], list[K8sObject]] = defaultdict(list)
    for pod in snapshot.of_kind("Pod"):
        ns = namespace_of(pod)
        for claim in pod_claims(pod):
            if (ns, claim) in wanted:
                users[(ns, claim)].append(pod)
    for pvc in pvcs:
        if meta(pvc).get("deletionTimestamp"):
            continue
        finding = _check(snapshot, pvc, users.get((namespace_of(pvc), name_of(pvc)), []))
        if finding is not None:
            yield finding


def _blocked_pods(snapshot: Snapshot, pods: Sequence[K8sObject]) -> list[K8sObject]:
    out = []
    for pod in pods:
        found = unschedulable_message(snapshot, pod)
        if found is None:
            continue
        primary = parse_fit_error(found[0]).primary()
        if primary is not None and primary.code == UNBOUND_PVC:
            out.append(pod)
    return out


def _check(snapshot: Snapshot, pvc: K8sObject, consumers: Sequence[K8sObject]) -> Finding | None:
    ns, name = namespace_of(pvc), name_of(pvc)
    created = parse_time(meta(pvc).get("creationTimestamp"))
    if created is not None and snapshot.at - created < GRACE:
        return None
    events = snapshot.events_for("PersistentVolumeClaim", ns, name)
    latest = events[-1] if events else None
    latest_reason = str(latest.get("reason") or "") if latest else ""
    failed = [e for e in events if e.get("reason") in _FAILED]
    waiting = [e for e in events if e.get("reason") in _WAITING]
    blocked = _blocked_pods(snapshot, consumers)

    slow_since: datetime | None = None
    if waiting and latest_reason in _WAITING:
        slow_since = min((t for t in (event_first_time(e) for e in waiting) if t is not None), default=None)
    slow = slow_since is not None and snapshot.at - slow_since >= PROVISIONING_SLOW
    if not (failed or blocked or slow):
        return None  # e.g. WaitForFirstConsumer: Pending by design until a pod using it is scheduled

    sc = dig(pvc, "spec", "storageClassName")
    size = dig(pvc, "spec", "resources", "requests", "storage", default="?")
    modes = ",".join(dig(pvc, "spec", "accessModes", default=[]) or []) or "?"
    sc_text = sc if sc is not None else "(unset: cluster default)"
    evidence = [
        f"status.phase=Pending, spec.storageClassName={sc_text}, requests.storage={size}, accessModes={modes}"
    ]
    if dig(pvc, "spec", "volumeName"):
        evidence.append(f"spec.volumeName={dig(pvc, 'spec', 'volumeName')} (pre-bound to a volume)")
    seen: set[tuple[str, str]] = set()
    for ev in reversed(events):
        key = (str(ev.get("reason") or ""), str(ev.get("message") or ""))
        if key not in seen:
            seen.add(key)
            evidence.append(describe_event(ev))
        if len(seen) >= 4:
            break
    for pod in blocked[:5]:
        evidence.append(f"pod {name_of(pod)} is Pending, unschedulable until this claim binds")
    if len(blocked) > 5:
        evidence.append(f"... and {len(blocked) - 5} more pods waiting on this claim")

    text = " ".join(str(e.get("message") or "") for e in failed[-1:] or events[-1:])
    cause: Cause | None = None
    sc_missing = _SC_NOT_FOUND.search(text)
    if sc_missing:
        cause = Cause("missing-storageclass", {"storageclass": sc_missing.group(1)})
        summary = (
            f"PersistentVolumeClaim {name} is Pending: its StorageClass {sc_missing.group(1)} does not exist."
        )
        remediation = (
            "Set spec.storageClassName to an existing StorageClass (kubectl get storageclass) "
            "or create it; storageClassName is immutable, so recreate the claim."
        )
    elif "no persistent volumes available" in text or "no storage class is set" in text:
        cause = Cause("no-matching-volume", {"storageclass": sc})
        summary = (
            f"PersistentVolumeClaim {name} is Pending: no PersistentVolume matches it "
            "and nothing provisions one."
        )
        remediation = (
            "Create a PersistentVolume that matches the claim (size, access modes, class) "
            "or set a StorageClass with a provisioner (mark one default)."
        )
    elif failed:
        cause = Cause("provisioning-failed", {"storageclass": sc, "reason": str(failed[-1].get("reason"))})
        why = failed[-1].get("reason")
        summary = f"PersistentVolumeClaim {name} is Pending: volume provisioning failed ({why})."
        remediation = (
            "Fix the provisioner error in the event (CSI driver logs, quotas, parameters of the "
            "StorageClass); the claim binds on the next retry."
        )
    elif slow:
        prov = _PROVISIONER.search(text)
        detail: dict[str, Any] = {"storageclass": sc}
        if prov:
            detail["provisioner"] = prov.group(1)
        cause = Cause("provisioner-not-responding", detail)
        who = f" {prov.group(1)}" if prov else ""
        summary = f"PersistentVolumeClaim {name} is Pending: the external provisioner{who} created no volume."
        remediation = (
            "Check that the provisioner (CSI controller) is running and registered for this StorageClass "
            "and read its logs."
        )
    else:
        summary = (
            f"PersistentVolumeClaim {name} is Pending and blocks pod {name_of(blocked[0])} from scheduling."
        )
        remediation = (
            "Check the claim's StorageClass (exists, has a running provisioner) or create a matching "
            "PersistentVolume."
        )

    owner: OwnerRef | None = owner_of(snapshot, pvc)
    if owner is None:
        for pod in list(blocked) + list(consumers):
            owner = owner_of(snapshot, pod)
            if owner is not None:
                break
    times = [t for t in (event_first_time(e) for e in failed or events) if t is not None]
    started = min(times) if times else created
    return Finding(
        code="PVCPending",
        severity=Severity.CRITICAL if blocked else Severity.WARNING,
        object=ObjectRef("PersistentVolumeClaim", ns, name),
        summary=summary,
        evidence=tuple(evidence),
        remediation=remediation,
        owner=owner,
        detected_at=snapshot.at,
        started_at=started,
        cause=cause,
    )
