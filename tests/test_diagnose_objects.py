"""Object-level analyzers (DESIGN §4.2): scheduling, storage, workloads, services, nodes, autoscaling.

Every code has an obvious case and a tricky one, and healthy look-alikes that must give nothing.
Fixtures are API-shaped objects validated through the official client's models; every snapshot
is judged at an explicit time (`at=`), never the wall clock.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from factories import (
    back_off_message,
    condition,
    container,
    container_status,
    event,
    micro,
    pod,
    running,
    scheduler_event,
    terminated,
    ts,
    waiting,
)
from objfactories import (
    APP,
    claim_volume,
    daemonset,
    deployment,
    endpoints,
    hpa,
    hpa_condition,
    hpa_v1,
    node,
    pvc,
    replicaset,
    service,
    snapshot,
    statefulset,
    taint,
    validate,
    with_labels,
)

from aiops.diagnose import autoscaling, nodes, scheduling, services, storage, workloads
from aiops.diagnose.scheduling import AFFINITY, INSUFFICIENT, TAINTS, UNBOUND_PVC, parse_fit_error
from aiops.model import CAUSE_TYPES, CODES, Finding, OwnerRef, Severity, Snapshot, format_time, parse_time

NOW = ts(0)
PREEMPT = " preemption: 0/{n} nodes are available: {n} Preemption is not helpful for scheduling."
RS = "todo-backend-7c9f6d5b8"


def run(module: Any, snap: Snapshot) -> list[Finding]:
    return list(module.analyze(snap))


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, [f.to_dict() for f in findings]
    return findings[0]


def pending(
    name: str,
    message: str,
    *,
    since: str | None = None,
    owner: tuple[str, str] | None = ("ReplicaSet", RS),
    **kw: Any,
) -> dict[str, Any]:
    """A Pending pod the scheduler could not place, as `kubectl get pod -o yaml` shows it."""
    since = since or ts(-15)
    return pod(
        name,
        owner=owner,
        phase="Pending",
        node_name=None,
        created=since,
        conditions=[condition("PodScheduled", "False", reason="Unschedulable", message=message, at=since)],
        **kw,
    )


def worker(name: str, **kw: Any) -> dict[str, Any]:
    return node(name, control_plane=False, **kw)


# ==== Unschedulable.* ============================================================================
def test_mixed_reasons_pick_the_largest_node_count_and_cite_the_others() -> None:
    msg = (
        "0/5 nodes are available: 2 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
        "3 Insufficient cpu." + PREEMPT.format(n=5)
    )
    p = pending("todo-backend-7c9f6d5b8-x2x9k", msg, containers=[container("backend", requests_cpu="1500m")])
    cp = [node(f"cp-{i}", taints=[taint("node-role.kubernetes.io/control-plane")]) for i in (1, 2)]
    workers = [worker(f"worker-{i}", cpu="2") for i in (1, 2, 3)]
    ev = scheduler_event(p, "FailedScheduling", msg, at=micro(-14), series_count=9, series_last=micro(-1))
    f = only(run(scheduling, snapshot(p, ev, *cp, *workers, at=NOW)))

    assert f.code == INSUFFICIENT
    assert f.severity is Severity.CRITICAL
    assert f.owner == OwnerRef("Deployment", "todo-backend")
    assert f.object.name == "todo-backend-7c9f6d5b8-x2x9k" and f.object.kind == "Pod"
    assert "3 of 5 nodes have insufficient cpu" in f.summary
    assert f.cause is not None and f.cause.type == "insufficient-resources"
    assert f.cause.detail["resource"] == "cpu"
    assert f.cause.detail["nodes"] == 3 and f.cause.detail["total_nodes"] == 5
    assert f.cause.detail["requested"] == {"cpu": "1500m"}
    reasons = next(e for e in f.evidence if e.startswith("scheduler reasons"))
    assert "3 Insufficient cpu (primary)" in reasons
    assert "2 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }" in reasons
    assert any("FailedScheduling ×9" in e for e in f.evidence)
    assert any(
        e.startswith("status.conditions[PodScheduled]: status=False reason=Unschedulable") for e in f.evidence
    )
    assert f.started_at == parse_time(ts(-15))
    assert f.detected_at == parse_time(NOW)


def test_request_larger_than_any_node_says_so_and_takes_the_dominant_resource() -> None:
    msg = "0/3 nodes are available: 1 Insufficient cpu, 3 Insufficient memory." + PREEMPT.format(n=3)
    p = pending(
        "report-worker-0",
        msg,
        owner=("StatefulSet", "report-worker"),
        containers=[container("worker", requests_cpu="500m", requests_memory="12Gi", limits_memory="12Gi")],
    )
    nodes_ = [worker(f"w{i}") for i in range(3)]  # 8029656Ki allocatable each (~7.7Gi)
    f = only(run(scheduling, snapshot(p, *nodes_, at=NOW)))
    assert f.code == INSUFFICIENT
    assert f.owner == OwnerRef("StatefulSet", "report-worker")
    assert f.cause is not None
    assert f.cause.detail["resource"] == "memory"
    assert f.cause.detail["resources"] == {"cpu": 1, "memory": 3}
    assert f.cause.detail["fits_no_node"] == ["memory"]
    assert "memory=12Gi, more than any node can offer" in f.summary
    assert "(also cpu)" in f.summary
    assert any(e.startswith("largest node allocatable memory=") for e in f.evidence)
    assert "Lower the pod's memory request" in f.remediation


def test_too_many_pods_is_insufficient_resources_on_pods() -> None:
    p = pending("todo-frontend-6f7d8c9b5-q8w7e", "0/1 nodes are available: 1 Too many pods.", since=ts(-4))
    f = only(run(scheduling, snapshot(p, node(), at=NOW)))
    assert f.code == INSUFFICIENT
    assert f.cause is not None and f.cause.detail["resource"] == "pods"
    assert "maxPods" in f.remediation


def test_node_selector_typo_names_the_missing_label_and_the_values_nodes_have() -> None:
    msg = "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector." + PREEMPT.format(
        n=3
    )
    p = pending("todo-backend-7c9f6d5b8-n4m5b", msg, node_selector={"disktype": "sdd"})
    nodes_ = [
        worker("w1", labels={"disktype": "ssd"}),
        worker("w2", labels={"disktype": "ssd"}),
        worker("w3", labels={"disktype": "hdd"}),
    ]
    f = only(run(scheduling, snapshot(p, *nodes_, at=NOW)))
    assert f.code == AFFINITY
    assert "no node has the label disktype=sdd" in f.summary
    assert "spec.nodeSelector disktype=sdd matches 0 of 3 nodes (values on nodes: hdd, ssd)" in f.evidence
    assert f.cause is not None and f.cause.type == "node-selector-mismatch"
    assert f.cause.detail["unmatched"] == {"disktype": "sdd"}
    assert f.cause.detail["node_values"] == {"disktype": ["hdd", "ssd"]}


def test_required_zone_affinity_wins_over_the_control_plane_taint_and_is_evaluated_on_nodes() -> None:
    msg = (
        "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
        "2 node(s) didn't match Pod's node affinity/selector." + PREEMPT.format(n=3)
    )
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["eu-west-1c"]}
                        ]
                    }
                ]
            }
        }
    }
    p = pending("todo-backend-7c9f6d5b8-z7z7z", msg, affinity=affinity)
    nodes_ = [
        node("cp", taints=[taint("node-role.kubernetes.io/control-plane")]),
        worker("w-a", labels={"topology.kubernetes.io/zone": "eu-west-1a"}),
        worker("w-b", labels={"topology.kubernetes.io/zone": "eu-west-1b"}),
    ]
    f = only(run(scheduling, snapshot(p, *nodes_, at=NOW)))
    assert f.code == AFFINITY
    assert "2 of 3 nodes do not match its node selector/affinity" in f.summary
    assert (
        "required node affinity (topology.kubernetes.io/zone In [eu-west-1c]) matches 0 of 3 nodes"
        in f.evidence
    )
    assert any("1 node(s) had untolerated taint" in e for e in f.evidence)


def test_pod_anti_affinity_is_a_placement_constraint_without_a_selector_cause() -> None:
    msg = "0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules." + PREEMPT.format(n=2)
    p = pending("todo-backend-7c9f6d5b8-aa111", msg)
    f = only(run(scheduling, snapshot(p, worker("w1"), worker("w2"), at=NOW)))
    assert f.code == AFFINITY
    assert "anti-affinity" in f.summary
    assert f.cause is None


def test_untolerated_custom_taint_lists_it_from_the_nodes() -> None:
    msg = "0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}." + PREEMPT.format(n=1)
    p = pending("todo-backend-7c9f6d5b8-t1t1t", msg)
    n = node(taints=[taint("dedicated", value="gpu")])
    f = only(run(scheduling, snapshot(p, n, at=NOW)))
    assert f.code == TAINTS
    assert "taint dedicated=gpu:NoSchedule on 1 node(s), not tolerated by the pod" in f.evidence
    assert f.cause is not None and f.cause.detail == {
        "taints": ["dedicated=gpu:NoSchedule"],
        "condition_taints": [],
    }
    assert "toleration" in f.remediation


def test_old_taint_wording_without_nodes_still_wins_by_count() -> None:
    msg = (
        "0/3 nodes are available: 1 Insufficient memory, "
        "2 node(s) had taint {node-role.kubernetes.io/master: }, "
        "that the pod didn't tolerate."
    )
    p = pending("todo-backend-7c9f6d5b8-old01", msg)
    f = only(run(scheduling, snapshot(p, at=NOW)))
    assert f.code == TAINTS
    assert f.cause is not None and f.cause.detail["taints"] == ["node-role.kubernetes.io/master"]
    assert any("1 Insufficient memory" in e for e in f.evidence)
    assert "2 of 3 nodes" in f.summary


def test_condition_taint_points_at_the_node_which_gets_its_own_pressure_finding() -> None:
    msg = "0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/disk-pressure: }."
    p = pending("todo-backend-7c9f6d5b8-dp001", msg + PREEMPT.format(n=1))
    n = node(
        pressure={"DiskPressure": ts(-20)}, taints=[taint("node.kubernetes.io/disk-pressure", added=ts(-20))]
    )
    snap = snapshot(p, n, at=NOW)
    f = only(run(scheduling, snap))
    assert f.code == TAINTS
    assert f.cause is not None and f.cause.detail["condition_taints"] == ["node.kubernetes.io/disk-pressure"]
    assert "NodePressure" in f.remediation
    node_finding = only(run(nodes, snap))
    assert node_finding.code == "NodePressure" and node_finding.object.namespace == ""


def test_unbound_pvc_pod_and_its_pending_claim_are_reported_side_by_side() -> None:
    msg = "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims." + PREEMPT.format(n=1)
    p = pending(
        "db-0",
        msg,
        owner=("StatefulSet", "db"),
        since=ts(-25),
        volumes=[claim_volume("data", "data-db-0")],
    )
    claim = pvc("data-db-0", phase="Pending", storage_class="fast-ssd", created=ts(-25), labels={APP: "db"})
    prov = event(
        claim,
        "ProvisioningFailed",
        'storageclass.storage.k8s.io "fast-ssd" not found',
        count=23,
        first=ts(-25),
        last=ts(-0.5),
        component="persistentvolume-controller",
        host=None,
    )
    snap = snapshot(
        p, claim, prov, statefulset("db", replicas=1, ready=0, claim_template="data"), node(), at=NOW
    )

    f = only(run(scheduling, snap))
    assert f.code == UNBOUND_PVC
    assert f.owner == OwnerRef("StatefulSet", "db")
    assert "PersistentVolumeClaim data-db-0 is not bound" in f.summary
    assert (
        "PersistentVolumeClaim data-db-0: status.phase=Pending, spec.storageClassName=fast-ssd" in f.evidence
    )
    assert f.cause is not None and f.cause.detail["claims"] == ["data-db-0"]

    c = only(run(storage, snap))
    assert c.code == "PVCPending"
    assert c.object.kind == "PersistentVolumeClaim" and c.object.name == "data-db-0"
    assert c.severity is Severity.CRITICAL  # it blocks a pod
    assert c.owner == OwnerRef("StatefulSet", "db")
    assert c.cause is not None and c.cause.type == "missing-storageclass"
    assert c.cause.detail == {"storageclass": "fast-ssd"}
    assert any("ProvisioningFailed ×23" in e for e in c.evidence)
    assert "pod db-0 is Pending, unschedulable until this claim binds" in c.evidence
    assert c.started_at == parse_time(ts(-25))


def test_missing_claim_is_named_from_the_scheduler_message() -> None:
    msg = '0/1 nodes are available: persistentvolumeclaim "uploads" not found.' + PREEMPT.format(n=1)
    p = pending("todo-backend-7c9f6d5b8-up001", msg, volumes=[claim_volume("uploads", "uploads")])
    other = pvc("cache", phase="Bound")
    f = only(run(scheduling, snapshot(p, other, node(), at=NOW)))
    assert f.code == UNBOUND_PVC
    assert "PersistentVolumeClaim uploads does not exist" in f.summary
    assert f.cause is not None and f.cause.detail["missing"] == ["uploads"]


def test_old_counted_pvc_wording_is_unbound_pvc() -> None:
    fit = parse_fit_error("0/3 nodes are available: 3 pod has unbound immediate PersistentVolumeClaims.")
    primary = fit.primary()
    assert primary is not None and primary.code == UNBOUND_PVC and primary.count == 3


def test_legacy_predicate_format_is_parsed() -> None:
    fit = parse_fit_error(
        "No nodes are available that match all of the following predicates:: Insufficient cpu (9), "
        "MatchNodeSelector (18)."
    )
    primary = fit.primary()
    assert primary is not None and primary.code == AFFINITY and primary.count == 18
    assert [r.code for r in fit.reasons] == [INSUFFICIENT, AFFINITY]


def test_tie_goes_to_insufficient_resources_over_control_plane_taint() -> None:
    fit = parse_fit_error(
        "0/2 nodes are available: 1 Insufficient memory, 1 node(s) had untolerated taint "
        "{node-role.kubernetes.io/control-plane: }." + PREEMPT.format(n=2)
    )
    primary = fit.primary()
    assert primary is not None and primary.code == INSUFFICIENT and primary.resource == "memory"


def test_unknown_scheduler_reason_gives_no_code() -> None:
    fit = parse_fit_error("0/3 nodes are available: 3 node(s) were rejected by the example.com/quota plugin.")
    assert fit.primary() is None
    p = pending("x-7c9f6d5b8-unk01", fit.message)
    assert run(scheduling, snapshot(p, at=NOW)) == []


def test_scheduling_healthy_lookalikes_give_nothing() -> None:
    msg = "0/1 nodes are available: 1 Insufficient cpu." + PREEMPT.format(n=1)
    just_created = pending("todo-backend-7c9f6d5b8-new01", msg, since=ts(-0.3))  # 18 s Pending
    gated = pod(
        "todo-backend-7c9f6d5b8-gated",
        owner=("ReplicaSet", RS),
        phase="Pending",
        node_name=None,
        created=ts(-30),
        conditions=[
            condition(
                "PodScheduled",
                "False",
                reason="SchedulingGated",
                message="Scheduling is blocked due to non-empty scheduling gates",
                at=ts(-30),
            )
        ],
    )
    # Placed after an earlier FailedScheduling (the event outlives the problem).
    placed = pod("todo-backend-7c9f6d5b8-ok001", owner=("ReplicaSet", RS), created=ts(-40))
    old_event = scheduler_event(placed, "FailedScheduling", msg, at=micro(-39))
    snap = snapshot(just_created, gated, placed, old_event, node(), at=NOW)
    assert run(scheduling, snap) == []


def test_event_only_pod_uses_the_latest_failed_scheduling_message() -> None:
    """No PodScheduled condition yet (status trimmed), only the scheduler's events."""
    p = pod(
        "web-5f6d7c8b9-ev001",
        owner=("ReplicaSet", "web-5f6d7c8b9"),
        phase="Pending",
        node_name=None,
        created=ts(-12),
        conditions=[],
    )
    old = scheduler_event(
        p, "FailedScheduling", "0/1 nodes are available: 1 Insufficient cpu.", at=micro(-12)
    )
    new = scheduler_event(
        p,
        "FailedScheduling",
        "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector.",
        at=micro(-2),
    )
    f = only(run(scheduling, snapshot(p, old, new, at=NOW)))
    assert f.code == AFFINITY
    assert f.started_at == parse_time(ts(-12))
    assert sum(e.startswith("event Warning FailedScheduling") for e in f.evidence) == 2


# ==== PVCPending ===================================================================================
def test_claim_without_class_and_without_volumes_is_pending_with_a_warning() -> None:
    claim = pvc("exports", phase="Pending", storage_class=None, created=ts(-45))
    ev = event(
        claim,
        "FailedBinding",
        "no persistent volumes available for this claim and no storage class is set",
        type_="Normal",
        count=182,
        first=ts(-45),
        last=ts(-0.2),
        component="persistentvolume-controller",
        host=None,
    )
    c = only(run(storage, snapshot(claim, ev, at=NOW)))
    assert c.code == "PVCPending"
    assert c.severity is Severity.WARNING
    assert c.cause is not None and c.cause.type == "no-matching-volume"
    assert "spec.storageClassName=(unset: cluster default)" in c.evidence[0]
    assert c.owner is None


def test_slow_external_provisioner_is_reported_only_after_five_minutes() -> None:
    msg = (
        "Waiting for a volume to be created either by the external provisioner 'ebs.csi.aws.com' or manually "
        "by the system administrator. If volume creation is delayed, please verify that the provisioner is "
        "running "
        "and correctly registered."
    )

    def case(first: float) -> list[Finding]:
        claim = pvc("data", phase="Pending", storage_class="gp3", created=ts(first))
        ev = event(
            claim,
            "ExternalProvisioning",
            msg,
            type_="Normal",
            count=40,
            first=ts(first),
            last=ts(-0.1),
            component="persistentvolume-controller",
            host=None,
        )
        return run(storage, snapshot(claim, ev, at=NOW))

    c = only(case(-12))
    assert c.cause is not None and c.cause.type == "provisioner-not-responding"
    assert c.cause.detail["provisioner"] == "ebs.csi.aws.com"
    assert case(-2) == []


def test_storage_healthy_lookalikes_give_nothing() -> None:
    wffc = pvc("cache", phase="Pending", storage_class="local-path", created=ts(-30))
    wffc_ev = event(
        wffc,
        "WaitForFirstConsumer",
        "waiting for first consumer to be created before binding",
        type_="Normal",
        count=121,
        first=ts(-30),
        last=ts(-0.2),
        component="persistentvolume-controller",
        host=None,
    )
    bound = pvc("data", phase="Bound")
    fresh = pvc("scratch", phase="Pending", storage_class="nope", created=ts(-0.25))
    fresh_ev = event(
        fresh,
        "ProvisioningFailed",
        'storageclass.storage.k8s.io "nope" not found',
        first=ts(-0.25),
        last=ts(-0.1),
        component="persistentvolume-controller",
        host=None,
    )
    silent = pvc("quiet", phase="Pending", created=ts(-120))  # no events, no consumer: cannot tell
    assert run(storage, snapshot(wffc, wffc_ev, bound, fresh, fresh_ev, silent, at=NOW)) == []


# ==== RolloutStuck =================================================================================
def _crashing_pod(name: str, rs: str, *, since: str) -> dict[str, Any]:
    ns = "todo"
    return pod(
        name,
        owner=("ReplicaSet", rs),
        created=since,
        container_statuses=[
            container_status(
                "backend",
                "ghcr.io/example/todo-backend:1.5.0",
                state=waiting("CrashLoopBackOff", back_off_message("backend", name, ns)),
                last_state=terminated("Error", 1),
                restart_count=7,
            )
        ],
    )


def test_deployment_past_its_progress_deadline_names_the_new_replicaset_and_its_pods() -> None:
    new = "todo-backend-5d8f7c6b9"
    dep = deployment(
        "todo-backend",
        replicas=3,
        updated=1,
        ready=2,
        new_rs=new,
        revision=3,
        progressing=("False", "ProgressDeadlineExceeded"),
        progressing_since=ts(-5),
    )
    new_rs = replicaset(new, replicas=1, ready=0, revision=3, created=ts(-16))
    old_rs = replicaset(RS, replicas=2, revision=2)
    bad = _crashing_pod(f"{new}-k8s7d", new, since=ts(-16))
    good = [pod(f"{RS}-a{i}", owner=("ReplicaSet", RS)) for i in (1, 2)]
    snap = snapshot(dep, new_rs, old_rs, bad, *good, at=NOW)
    f = only(run(workloads, snap))
    assert f.code == "RolloutStuck"
    assert f.object.kind == "Deployment" and f.object.name == "todo-backend"
    assert f.severity is Severity.WARNING  # two old replicas still serve
    assert "new ReplicaSet todo-backend-5d8f7c6b9" in f.summary and "(2/3 replicas available)" in f.summary
    assert any(
        e.startswith("status.conditions[Progressing]: status=False reason=ProgressDeadlineExceeded")
        for e in f.evidence
    )
    assert any(e.startswith(f"new ReplicaSet {new} (revision 3") and "0/1 ready" in e for e in f.evidence)
    assert any(
        f"pod {new}-k8s7d: Running, container backend waiting CrashLoopBackOff" in e for e in f.evidence
    )
    assert f.started_at == parse_time(ts(-5))
    assert "kubectl rollout undo deployment/todo-backend" in f.remediation


def test_replicaset_that_cannot_create_pods_is_the_cause_and_dates_the_failure() -> None:
    new = "todo-backend-5d8f7c6b9"
    quota = (
        'pods "todo-backend-5d8f7c6b9-" is forbidden: exceeded quota: compute-quota, requested: '
        "limits.memory=512Mi, used: limits.memory=1792Mi, limited: limits.memory=2Gi"
    )
    dep = deployment(
        "todo-backend",
        replicas=1,
        updated=0,
        ready=0,
        new_rs=new,
        progressing=("False", "ProgressDeadlineExceeded"),
        progressing_since=ts(-8),
    )
    rs = replicaset(new, replicas=1, ready=0, failure=quota, failure_since=ts(-19))
    ev = event(
        rs,
        "FailedCreate",
        f"Error creating: {quota}",
        count=14,
        first=ts(-19),
        last=ts(-1),
        component="replicaset-controller",
        host=None,
    )
    f = only(run(workloads, snapshot(dep, rs, ev, at=NOW)))
    assert f.severity is Severity.CRITICAL  # nothing available
    assert f.cause is not None and f.cause.type == "replica-create-failed"
    assert "exceeded quota" in f.cause.detail["message"]
    assert f.started_at == parse_time(ts(-19))
    assert any("FailedCreate ×14" in e for e in f.evidence)


def test_statefulset_rolling_update_stuck_on_a_broken_pod() -> None:
    sts = statefulset(
        "db", replicas=3, ready=2, updated=1, current_revision="db-6d4b8f9c7", update_revision="db-7f9c5d4b6"
    )
    ok = [
        with_labels(pod(f"db-{i}", owner=("StatefulSet", "db")), {"controller-revision-hash": "db-6d4b8f9c7"})
        for i in (0, 1)
    ]
    broken = with_labels(
        _crashing_pod("db-2", "x", since=ts(-25)), {"controller-revision-hash": "db-7f9c5d4b6"}
    )
    broken["metadata"]["ownerReferences"] = [ok[0]["metadata"]["ownerReferences"][0]]
    f = only(run(workloads, snapshot(sts, *ok, broken, at=NOW)))
    assert f.code == "RolloutStuck" and f.object.kind == "StatefulSet"
    assert "pod db-2" in f.summary
    assert "kubectl delete pod db-2 -n todo" in f.remediation
    assert f.started_at == parse_time(ts(-25))

    # The same pod broken for only 4 minutes is still within the deadline.
    young = with_labels(
        _crashing_pod("db-2", "x", since=ts(-4)), {"controller-revision-hash": "db-7f9c5d4b6"}
    )
    young["metadata"]["ownerReferences"] = [ok[0]["metadata"]["ownerReferences"][0]]
    assert run(workloads, snapshot(sts, *ok, young, at=NOW)) == []


def test_daemonset_rollout_stuck_on_updated_pods() -> None:
    ds = daemonset("fluent-bit", desired=3, updated=1, ready=2, generation=4)
    new = pod(
        "fluent-bit-7xk2p",
        "kube-system",
        owner=("DaemonSet", "fluent-bit"),
        created=ts(-30),
        container_statuses=[
            container_status(
                "fluent-bit",
                state=waiting("CrashLoopBackOff"),
                last_state=terminated("Error", 1),
                restart_count=9,
            )
        ],
    )
    with_labels(new, {"pod-template-generation": "4"})
    old = [
        with_labels(
            pod(f"fluent-bit-{s}", "kube-system", owner=("DaemonSet", "fluent-bit")),
            {"pod-template-generation": "3"},
        )
        for s in ("a1b2c", "d3e4f")
    ]
    f = only(run(workloads, snapshot(ds, new, *old, at=NOW)))
    assert f.object == f.object.__class__("DaemonSet", "kube-system", "fluent-bit")
    assert "1/3 nodes updated" in f.summary


def test_rollouts_within_their_deadline_or_complete_give_nothing() -> None:
    new = "todo-backend-5d8f7c6b9"
    in_progress = deployment(
        "todo-backend",
        replicas=2,
        updated=1,
        ready=1,
        new_rs=new,
        progressing=("True", "ReplicaSetUpdated"),
        progressing_since=ts(-3),
    )
    crashing_new = _crashing_pod(f"{new}-p1p1p", new, since=ts(-3))
    # Completed rollout whose pods later broke: the pods' own findings explain it.
    done = deployment("todo-frontend", replicas=1, ready=0, new_rs="todo-frontend-6f7d8c9b5")
    paused = deployment(
        "todo-worker", replicas=1, progressing=("False", "ProgressDeadlineExceeded"), paused=True
    )
    sts_done = statefulset("db", replicas=3)
    on_delete = statefulset(
        "cache",
        replicas=1,
        ready=0,
        updated=0,
        current_revision="cache-1",
        update_revision="cache-2",
        on_delete=True,
    )
    ds_done = daemonset("node-exporter", desired=2, ready=1)
    snap = snapshot(in_progress, crashing_new, done, paused, sts_done, on_delete, ds_done, at=NOW)
    assert run(workloads, snap) == []


# ==== ServiceNoEndpoints ============================================================================
def _backend_pods(n: int = 2, *, ready: bool = True) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        name = f"{RS}-r{i}x{i}"
        if ready:
            out.append(pod(name, owner=("ReplicaSet", RS)))
        else:
            out.append(
                pod(
                    name,
                    owner=("ReplicaSet", RS),
                    container_statuses=[container_status("backend", state=running(ts(-50)), ready=False)],
                    conditions=[
                        condition(
                            "Ready",
                            "False",
                            reason="ContainersNotReady",
                            message="containers with unready status: [backend]",
                            at=ts(-20 + i),
                        ),
                        condition(
                            "ContainersReady",
                            "False",
                            reason="ContainersNotReady",
                            message="containers with unready status: [backend]",
                            at=ts(-20 + i),
                        ),
                        condition("PodScheduled", "True", at=ts(-120)),
                    ],
                )
            )
    return out


def test_selector_typo_suggests_the_label_pods_carry_and_names_the_workload() -> None:
    svc = service("todo-backend", selector={APP: "todo-backnd"})
    ep = endpoints("todo-backend")
    front = pod("todo-frontend-6f7d8c9b5-f1f1f", owner=("ReplicaSet", "todo-frontend-6f7d8c9b5"))
    f = only(run(services, snapshot(svc, ep, *_backend_pods(), front, at=NOW)))
    assert f.code == "ServiceNoEndpoints"
    assert f.severity is Severity.CRITICAL
    assert f.object.kind == "Service" and f.object.namespace == "todo"
    assert f.owner == OwnerRef("Deployment", "todo-backend")
    assert "no pod in todo matches its selector app.kubernetes.io/name=todo-backnd" in f.summary
    assert "Endpoints todo-backend: 0 ready addresses" in f.evidence
    assert any(
        e.startswith("did you mean app.kubernetes.io/name=todo-backend? it matches 2 pod(s)")
        for e in f.evidence
    )
    assert f.cause is not None and f.cause.type == "selector-mismatch"
    assert f.cause.detail["unmatched"] == {APP: "todo-backnd"}
    assert f.cause.detail["suggested"] == {APP: "todo-backend"}
    assert set(f.cause.detail["pod_values"][APP]) == {"todo-backend", "todo-frontend"}


def test_matching_pods_that_are_not_ready_leave_only_not_ready_addresses() -> None:
    pods = _backend_pods(2, ready=False)
    svc = service("todo-backend")
    ep = endpoints("todo-backend", not_ready=pods, changed=ts(-19))
    f = only(run(services, snapshot(svc, ep, *pods, at=NOW)))
    assert "all 2 pod(s) matching app.kubernetes.io/name=todo-backend are not Ready" in f.summary
    assert any(
        e.startswith("Endpoints todo-backend: 0 ready addresses, notReadyAddresses: ") for e in f.evidence
    )
    assert any(
        "reason=ContainersNotReady: containers with unready status: [backend]" in e for e in f.evidence
    )
    assert f.owner == OwnerRef("Deployment", "todo-backend")
    assert f.started_at == parse_time(ts(-19))  # the last pod to go unready took the last endpoint
    assert f.cause is None


def test_without_endpoints_objects_pods_decide() -> None:
    svc = service("todo-backend")
    assert run(services, snapshot(svc, *_backend_pods(), at=NOW)) == []
    f = only(run(services, snapshot(svc, *_backend_pods(ready=False), at=NOW)))
    assert "no Endpoints object for todo-backend in the snapshot; judged from pods" in f.evidence


def test_named_target_port_that_no_pod_declares() -> None:
    svc = service("todo-backend", target_port="http")  # pods name their port "port-8080"
    f = only(run(services, snapshot(svc, endpoints("todo-backend"), *_backend_pods(), at=NOW)))
    assert f.cause is not None and f.cause.type == "target-port-mismatch"
    assert f.cause.detail == {"ports": ["http"]}


def test_services_healthy_lookalikes_give_nothing() -> None:
    pods = _backend_pods()
    healthy = service("todo-backend")
    healthy_ep = endpoints("todo-backend", ready=pods)
    external = service("payments", type_="ExternalName", selector={})
    manual = service("legacy-db", selector={})
    manual_ep = endpoints("legacy-db")
    zero = deployment("todo-worker", replicas=0, ready=0)
    zero_svc = service("todo-worker")
    zero_ep = endpoints("todo-worker")
    unready = [with_labels(p, {APP: "db"}) for p in _backend_pods(1, ready=False)]
    for p in unready:
        p["metadata"]["labels"] = {APP: "db"}
    headless = service("db", headless=True, publish_not_ready=True)
    fresh = service("todo-new", created=ts(-0.5))
    snap = snapshot(
        *pods,
        healthy,
        healthy_ep,
        external,
        manual,
        manual_ep,
        zero,
        zero_svc,
        zero_ep,
        *unready,
        headless,
        fresh,
        at=NOW,
    )
    assert run(services, snap) == []


# ==== NodeNotReady / NodePressure ==================================================================
def test_unreachable_node_is_not_ready_with_stale_heartbeat_and_stranded_pods() -> None:
    n = worker(
        "worker-2",
        ready="Unknown",
        ready_since=ts(-12),
        heartbeat=ts(-13),
        taints=[
            taint("node.kubernetes.io/unreachable", "NoSchedule", added=ts(-12)),
            taint("node.kubernetes.io/unreachable", "NoExecute", added=ts(-12)),
        ],
    )
    stranded = pod(
        f"{RS}-w2w2w",
        owner=("ReplicaSet", RS),
        node_name="worker-2",
        conditions=[
            condition("Ready", "False", reason="NodeNotReady", message="Node is not ready", at=ts(-12)),
            condition("PodScheduled", "True", at=ts(-120)),
        ],
    )
    ev = event(
        n,
        "NodeNotReady",
        "Node worker-2 status is now: NodeNotReady",
        type_="Normal",
        first=ts(-12),
        last=ts(-12),
        component="node-controller",
        host=None,
    )
    f = only(run(nodes, snapshot(n, stranded, ev, worker("worker-1"), at=NOW)))
    assert f.code == "NodeNotReady"
    assert f.severity is Severity.CRITICAL
    assert f.object.kind == "Node" and f.object.namespace == "" and f.object.name == "worker-2"
    assert f.owner is None
    assert "kubelet stopped posting status" in f.summary
    assert "last heartbeat 13 min before the snapshot (2026-11-25T09:47:00Z)" in f.evidence
    assert "affected pods: todo/todo-backend-7c9f6d5b8-w2w2w" in f.evidence
    assert any("NodeNotReady" in e and e.startswith("event Normal") for e in f.evidence)
    assert f.cause is not None and f.cause.detail["component"] == "kubelet"
    assert f.started_at == parse_time(ts(-12))
    assert f.to_dict()["object"]["namespace"] == ""


def test_cni_not_ready_node_under_disk_pressure_gives_one_not_ready_finding() -> None:
    n = worker("worker-3", ready="False", ready_since=ts(-7), pressure={"DiskPressure": ts(-9)})
    f = only(run(nodes, snapshot(n, at=NOW)))
    assert f.code == "NodeNotReady"
    assert f.cause is not None
    assert f.cause.detail["component"] == "cni"
    assert f.cause.detail["pressures"] == ["DiskPressure"]
    assert "cni plugin not initialized" in f.summary
    assert any(e.startswith("status.conditions[DiskPressure]: status=True") for e in f.evidence)
    assert "CNI" in f.remediation


def test_disk_pressure_with_evictions_is_critical() -> None:
    n = node(
        pressure={"DiskPressure": ts(-8)}, taints=[taint("node.kubernetes.io/disk-pressure", added=ts(-8))]
    )
    reclaim = event(
        n,
        "EvictionThresholdMet",
        "Attempting to reclaim ephemeral-storage",
        count=3,
        first=ts(-8),
        last=ts(-2),
    )
    evicted = pod(
        f"{RS}-ev1ct",
        owner=("ReplicaSet", RS),
        phase="Failed",
        reason="Evicted",
        message="The node was low on resource: ephemeral-storage. Threshold quantity: 2146223340, available: "
        "1883424Ki. Container backend was using 10304Ki, request is 0, has larger consumption of "
        "ephemeral-storage. ",
        container_statuses=[container_status("backend", state=terminated("Error", 137), ready=False)],
    )
    f = only(run(nodes, snapshot(n, reclaim, evicted, at=NOW)))
    assert f.code == "NodePressure"
    assert f.severity is Severity.CRITICAL
    assert f.cause is not None and f.cause.detail == {
        "node": "minikube",
        "condition": "DiskPressure",
        "resource": "ephemeral-storage",
        "conditions": ["DiskPressure"],
        "resources": ["ephemeral-storage"],
    }
    assert any(e.startswith("1 pod(s) evicted from the node: todo/") for e in f.evidence)
    assert any("EvictionThresholdMet ×3" in e for e in f.evidence)
    assert (
        "status.capacity.ephemeral-storage=102626232Ki status.allocatable.ephemeral-storage=102626232Ki"
        in f.evidence
    )
    assert f.started_at == parse_time(ts(-8))


def test_memory_and_pid_pressure_make_one_finding_per_node() -> None:
    n = worker("worker-1", pressure={"MemoryPressure": ts(-3), "PIDPressure": ts(-6)})
    f = only(run(nodes, snapshot(n, at=NOW)))
    assert f.code == "NodePressure"
    assert f.severity is Severity.WARNING
    assert "MemoryPressure, PIDPressure" in f.summary
    assert f.started_at == parse_time(ts(-6))
    assert "memory limits" in f.remediation and "podPidsLimit" in f.remediation


def test_nodes_healthy_lookalikes_give_nothing() -> None:
    booting = worker("worker-new", ready="False", ready_since=ts(-0.3))  # joined 18 s ago
    cordoned = worker("worker-1", unschedulable=True)
    recovered = worker("worker-2")  # pressure cleared; evicted pods linger
    leftover = pod(
        f"{RS}-old01",
        owner=("ReplicaSet", RS),
        node_name="worker-2",
        phase="Failed",
        reason="Evicted",
        message="The node was low on resource: memory. ",
    )
    assert run(nodes, snapshot(booting, cordoned, recovered, leftover, node(), at=NOW)) == []


# ==== HPAMetricsUnavailable =======================================================================
METRICS_SERVER_GONE = (
    "the HPA was unable to compute the replica count: failed to get cpu utilization: unable to get metrics "
    "for resource cpu: unable to fetch metrics from resource metrics API: the server could not find the "
    "requested "
    "resource (get pods.metrics.k8s.io)"
)


def test_hpa_without_metrics_server() -> None:
    h = hpa(
        "todo-backend",
        current_cpu=None,
        desired=0,
        conditions=[
            hpa_condition(
                "AbleToScale",
                "True",
                "SucceededGetScale",
                "the HPA controller was able to get the target's current scale",
                since=ts(-30),
            ),
            hpa_condition(
                "ScalingActive", "False", "FailedGetResourceMetric", METRICS_SERVER_GONE, since=ts(-30)
            ),
        ],
    )
    ev1 = event(
        h,
        "FailedGetResourceMetric",
        METRICS_SERVER_GONE.split(": ", 1)[1],
        count=121,
        first=ts(-30),
        last=ts(-0.2),
        component="horizontal-pod-autoscaler",
        host=None,
    )
    ev2 = event(
        h,
        "FailedComputeMetricsReplicas",
        "invalid metrics (1 invalid out of 1), first error is: failed to get cpu resource metric value: "
        "failed to get cpu utilization: unable to get metrics for resource cpu",
        count=121,
        first=ts(-30),
        last=ts(-0.2),
        component="horizontal-pod-autoscaler",
        host=None,
    )
    f = only(run(autoscaling, snapshot(h, ev1, ev2, at=NOW)))
    assert f.code == "HPAMetricsUnavailable"
    assert f.severity is Severity.WARNING
    assert f.object.kind == "HorizontalPodAutoscaler"
    assert f.owner == OwnerRef("Deployment", "todo-backend")
    assert f.cause is not None and f.cause.type == "metrics-api-unavailable"
    assert f.cause.detail == {"api": "metrics.k8s.io"}
    assert "metrics-server" in f.remediation
    assert any("FailedGetResourceMetric ×121" in e for e in f.evidence)
    assert "metrics: Resource cpu target 70%" in f.evidence
    assert f.started_at == parse_time(ts(-30))


def test_sidecar_without_cpu_request_is_named_from_the_target() -> None:
    dep = deployment(
        "todo-backend",
        containers=[
            container("backend", requests_cpu="100m"),
            container("istio-proxy", "docker.io/istio/proxyv2:1.24.0", requests_cpu=None, ports=(15090,)),
        ],
    )
    msg = (
        "the HPA was unable to compute the replica count: failed to get cpu utilization: "
        "missing request for cpu "
        "in container istio-proxy of Pod todo-backend-7c9f6d5b8-4kq2z"
    )
    h = hpa(
        "todo-backend",
        conditions=[hpa_condition("ScalingActive", "False", "FailedGetResourceMetric", msg, since=ts(-40))],
    )
    f = only(run(autoscaling, snapshot(dep, h, at=NOW)))
    assert f.cause is not None and f.cause.type == "missing-resource-request"
    assert f.cause.detail == {
        "resource": "cpu",
        "container": "istio-proxy",
        "pod": "todo-backend-7c9f6d5b8-4kq2z",
        "containers": ["istio-proxy"],
    }
    assert "Deployment todo-backend: no resources.requests.cpu on container(s) istio-proxy" in f.evidence
    assert "container istio-proxy has no cpu request" in f.summary


def test_autoscaling_v1_conditions_annotation_is_read() -> None:
    h = hpa_v1(
        "todo-frontend",
        conditions=[
            hpa_condition(
                "ScalingActive",
                "False",
                "FailedGetResourceMetric",
                "the HPA was unable to compute the replica count: failed to get cpu utilization: "
                "did not receive "
                "metrics for targeted pods (pods might be unready)",
                since=ts(-9),
            )
        ],
    )
    f = only(run(autoscaling, snapshot(h, at=NOW)))
    assert f.cause is not None and f.cause.type == "no-pod-metrics"
    assert f.owner == OwnerRef("Deployment", "todo-frontend")


def test_autoscaling_healthy_lookalikes_give_nothing() -> None:
    ok = hpa("todo-backend")
    at_min = hpa(
        "todo-frontend",
        conditions=[
            hpa_condition("AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size"),
            hpa_condition(
                "ScalingActive",
                "True",
                "ValidMetricFound",
                "the HPA was able to successfully calculate"
                " a replica count from cpu resource utilization (percentage of request)",
            ),
            hpa_condition(
                "ScalingLimited",
                "True",
                "TooFewReplicas",
                "the desired replica count is less than the minimum replica count",
            ),
        ],
    )
    disabled = hpa(
        "todo-worker",
        conditions=[
            hpa_condition(
                "ScalingActive",
                "False",
                "ScalingDisabled",
                "scaling is disabled since the replica count of the target is zero",
            )
        ],
    )
    new = hpa(
        "todo-api",
        created=ts(-1),
        conditions=[
            hpa_condition(
                "ScalingActive", "False", "FailedGetResourceMetric", METRICS_SERVER_GONE, since=ts(-1)
            )
        ],
    )
    assert run(autoscaling, snapshot(ok, at_min, disabled, new, at=NOW)) == []


# ==== cross-cutting ===============================================================================
ALL = (scheduling, storage, workloads, services, nodes, autoscaling)


def test_healthy_todo_namespace_gives_nothing_from_any_object_analyzer() -> None:
    pods = _backend_pods(2)
    front = [pod("todo-frontend-6f7d8c9b5-f1f1f", owner=("ReplicaSet", "todo-frontend-6f7d8c9b5"))]
    items = [
        node(),
        deployment("todo-backend"),
        replicaset(RS),
        deployment("todo-frontend", replicas=1, new_rs="todo-frontend-6f7d8c9b5"),
        replicaset("todo-frontend-6f7d8c9b5", replicas=1),
        *pods,
        *front,
        service("todo-backend"),
        endpoints("todo-backend", ready=pods),
        service("todo-frontend"),
        endpoints("todo-frontend", ready=front),
        pvc("uploads"),
        hpa("todo-backend"),
        statefulset("db", replicas=1),
        daemonset("kube-proxy", desired=1),
    ]
    snap = snapshot(*items, at=NOW)
    for module in ALL:
        assert run(module, snap) == [], module.__name__


def test_analyzers_tolerate_sparse_objects() -> None:
    """Objects with missing optional sections (a trimmed export) never crash an analyzer."""
    sparse: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "namespace": "todo"},
            "status": {"phase": "Pending"},
        },
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"}},
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "s", "namespace": "todo"},
            "spec": {"selector": {"a": "b"}},
        },
        {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "s", "namespace": "todo"}},
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "c", "namespace": "todo"},
            "status": {"phase": "Pending"},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "d", "namespace": "todo"},
            "status": {
                "conditions": [
                    {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
                ]
            },
        },
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "st", "namespace": "todo"},
            "status": {"updateRevision": "st-2", "currentRevision": "st-1"},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "ds", "namespace": "todo"},
            "status": {"desiredNumberScheduled": 2},
        },
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "h", "namespace": "todo"},
            "status": {
                "conditions": [
                    {"type": "ScalingActive", "status": "False", "reason": "FailedGetResourceMetric"}
                ]
            },
        },
    ]
    snap = Snapshot(items=tuple(sparse), at=parse_time(NOW))  # type: ignore[arg-type]
    codes = {f.code for module in ALL for f in module.analyze(snap)}
    # The stuck Deployment and the HPA (no times: cannot be judged young) are still reported.
    assert "RolloutStuck" in codes and "HPAMetricsUnavailable" in codes
    assert "ServiceNoEndpoints" in codes


@pytest.mark.parametrize("module", ALL, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_every_finding_is_dated_at_the_snapshot_and_serializes(module: Any) -> None:
    msg = "0/1 nodes are available: 1 Insufficient cpu."
    items = [
        pending("todo-backend-7c9f6d5b8-ser01", msg),
        node("bad", ready="Unknown"),
        deployment("todo-backend", progressing=("False", "ProgressDeadlineExceeded"), ready=0),
        service("todo-backend", selector={APP: "nothing"}),
        hpa(
            "todo-backend",
            conditions=[
                hpa_condition(
                    "ScalingActive", "False", "FailedGetResourceMetric", METRICS_SERVER_GONE, since=ts(-10)
                )
            ],
        ),
    ]
    claim = pvc("data", phase="Pending", created=ts(-30))
    items += [
        claim,
        event(
            claim,
            "ProvisioningFailed",
            'failed to provision volume with StorageClass "standard": '
            "rpc error: code = Internal desc = quota",
            first=ts(-30),
            last=ts(-1),
            component="persistentvolume-controller",
            host=None,
        ),
    ]
    snap = snapshot(*items, at=NOW)
    found = run(module, snap)
    assert found, module.__name__
    for f in found:
        assert f.detected_at == parse_time(NOW)
        assert f.started_at is not None and f.started_at <= f.detected_at
        assert f.summary.endswith(".") and f.remediation and f.evidence
        assert f.code in CODES
        assert f.cause is None or f.cause.type in CAUSE_TYPES
        d = f.to_dict()
        assert Finding.from_dict(d) == f
        assert d["detected_at"] == format_time(parse_time(NOW))


def test_every_cause_type_the_object_analyzers_emit_is_registered() -> None:
    import re
    from pathlib import Path

    root = Path(scheduling.__file__).parent
    emitted: set[str] = set()
    for module in ALL:
        text = (root / f"{module.__name__.rsplit('.', 1)[-1]}.py").read_text(encoding="utf-8")
        emitted.update(re.findall(r'Cause\(\s*"([a-z-]+)"', text))
    assert len(emitted) >= 15
    assert emitted <= set(CAUSE_TYPES), emitted - set(CAUSE_TYPES)


def test_daemonset_pod_pinned_to_one_node_is_blocked_by_that_node_not_by_affinity() -> None:
    """DaemonSet pods match only their own node: the affinity count is by design, the node's cpu is not."""
    msg = (
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match Pod's node affinity/selector."
        + PREEMPT.format(n=3)
    )
    pin = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["worker-2"]}]}
                ]
            }
        }
    }
    p = pending("node-exporter-x7q2w", msg, owner=("DaemonSet", "node-exporter"), affinity=pin)
    p["metadata"]["namespace"] = "monitoring"
    f = only(run(scheduling, snapshot(p, *(worker(f"worker-{i}") for i in (1, 2, 3)), at=NOW)))
    assert f.code == INSUFFICIENT
    assert f.owner == OwnerRef("DaemonSet", "node-exporter")
    assert any("pinned to node worker-2" in e for e in f.evidence)
    # The same message for an unpinned pod is an affinity problem (2 nodes > 1 node).
    q = pending("todo-backend-7c9f6d5b8-unpin", msg)
    assert only(run(scheduling, snapshot(q, at=NOW))).code == AFFINITY


# ==== end to end: a kubectl List file through `aiops diagnose` ======================================
DEGRADED = Path(__file__).parent / "fixtures" / "objects" / "degraded-cluster.yaml"
OBJECT_CODES = {
    "Unschedulable.InsufficientResources",
    "Unschedulable.NodeAffinity",
    "Unschedulable.Taints",
    "Unschedulable.UnboundPVC",
    "PVCPending",
    "RolloutStuck",
    "ServiceNoEndpoints",
    "NodeNotReady",
    "NodePressure",
    "HPAMetricsUnavailable",
}


def test_degraded_cluster_file_is_made_of_valid_api_objects() -> None:
    import yaml

    doc = yaml.safe_load(DEGRADED.read_text(encoding="utf-8"))
    assert doc["kind"] == "List" and len(doc["items"]) >= 35
    for item in doc["items"]:
        validate(item)


def test_degraded_cluster_through_the_cli_names_each_object_failure_once() -> None:
    import json

    from click.testing import CliRunner

    from aiops.cli import cli

    result = CliRunner().invoke(
        cli, ["diagnose", "--snapshot", str(DEGRADED), "--at", "2026-11-25T10:00:00Z", "-o", "json"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    ours = sorted(
        (f["code"], f["object"]["kind"], f["object"]["namespace"], f["object"]["name"], f["severity"])
        for f in doc["findings"]
        if f["code"] in OBJECT_CODES
    )
    assert ours == [
        ("HPAMetricsUnavailable", "HorizontalPodAutoscaler", "shop", "api", "warning"),
        ("NodeNotReady", "Node", "", "worker-2", "critical"),
        ("NodePressure", "Node", "", "worker-3", "critical"),
        ("PVCPending", "PersistentVolumeClaim", "shop", "data-db-0", "critical"),
        ("RolloutStuck", "Deployment", "shop", "web", "warning"),
        ("ServiceNoEndpoints", "Service", "shop", "web-canary", "critical"),
        ("Unschedulable.InsufficientResources", "Pod", "shop", "web-7f9d6c5b4-m3n4b", "critical"),
        ("Unschedulable.UnboundPVC", "Pod", "shop", "db-0", "critical"),
    ]
    by_code = {f["code"]: f for f in doc["findings"]}
    web = by_code["Unschedulable.InsufficientResources"]
    assert web["owner"] == {"kind": "Deployment", "name": "web"}
    # Four reasons with one node each: the tie goes to the resource shortage, the taints are cited.
    assert web["cause"]["detail"]["fits_no_node"] == ["memory"]
    assert any("node.kubernetes.io/unreachable" in e for e in web["evidence"])
    assert by_code["ServiceNoEndpoints"]["owner"] == {"kind": "Deployment", "name": "web"}
    assert by_code["PVCPending"]["owner"] == {"kind": "StatefulSet", "name": "db"}
    assert by_code["HPAMetricsUnavailable"]["owner"] == {"kind": "Deployment", "name": "api"}
    for f in doc["findings"]:
        if f["code"] in OBJECT_CODES:
            assert f["detected_at"] == "2026-11-25T10:00:00Z"
            assert f["started_at"] < f["detected_at"]

    failing = CliRunner().invoke(
        cli,
        ["diagnose", "--snapshot", str(DEGRADED), "--at", "2026-11-25T10:00:00Z", "--fail-on", "critical"],
    )
    assert failing.exit_code == 1


def test_events_of_a_previous_pod_incarnation_do_not_age_a_new_pending_pod() -> None:
    """db-0 was deleted and recreated 30 s ago: the old db-0's FailedScheduling events are not its own."""
    msg = "0/1 nodes are available: 1 Insufficient memory." + PREEMPT.format(n=1)
    new = pending("db-0", msg, owner=("StatefulSet", "db"), since=ts(-0.5))
    old = {**new, "metadata": {**new["metadata"], "uid": "0b7e0c4e-1111-4c2a-9f00-5d6c7b8a9e01"}}
    stale = scheduler_event(
        old, "FailedScheduling", msg, at=micro(-40), series_count=30, series_last=micro(-2)
    )
    assert run(scheduling, snapshot(new, stale, node(), at=NOW)) == []


def test_empty_endpoints_with_ready_pods_is_reported_unless_the_pods_just_became_ready() -> None:
    svc = service("todo-backend")
    ep = endpoints("todo-backend")  # no subsets
    f = only(run(services, snapshot(svc, ep, *_backend_pods(), at=NOW)))
    assert "2 Ready pod(s) match the selector, but the Endpoints list none of them" in f.evidence
    assert f.owner == OwnerRef("Deployment", "todo-backend")
    fresh = _backend_pods(1)
    fresh[0]["status"]["conditions"] = [
        condition("Ready", "True", at=ts(-0.2)),
        condition("ContainersReady", "True", at=ts(-0.2)),
        condition("PodScheduled", "True", at=ts(-3)),
    ]
    assert run(services, snapshot(svc, ep, *fresh, at=NOW)) == []


def test_stuck_rollout_without_replicasets_in_the_snapshot_still_shows_the_new_pods() -> None:
    """`kubectl get pods,deployments` only: the new ReplicaSet is known from the condition and pod owners."""
    new = "todo-backend-5d8f7c6b9"
    dep = deployment(
        "todo-backend",
        replicas=1,
        updated=1,
        ready=0,
        new_rs=new,
        progressing=("False", "ProgressDeadlineExceeded"),
        progressing_since=ts(-2),
    )
    bad = _crashing_pod(f"{new}-n0rs1", new, since=ts(-13))
    f = only(run(workloads, snapshot(dep, bad, at=NOW)))
    assert f.severity is Severity.CRITICAL
    assert any(
        e.startswith(f"pod {new}-n0rs1: Running, container backend waiting CrashLoopBackOff")
        for e in f.evidence
    )
