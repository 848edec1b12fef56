"""Builders of the non-pod objects the object-level analyzers read, shaped as the API returns them.

Nodes (any Ready state, pressure conditions, taints), Deployments with their ReplicaSets and
rollout conditions, StatefulSets, DaemonSets, Services, Endpoints, PersistentVolumeClaims and
HorizontalPodAutoscalers (autoscaling/v2, and v1 with its conditions annotation). Pods and Events
come from `tests/factories.py` (shared with the container analyzers); so do times (`ts`), uids and
the validating `snapshot(...)`. `validate(obj)` here also knows autoscaling/v1, then defers to the
shared validator, which deserializes through the official client's models and checks spelling.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import factories as f
from factories import Obj, container, metadata, owner_ref, ts, uid_for

from aiops.model import Snapshot

APP = "app.kubernetes.io/name"


# ---- validation ---------------------------------------------------------------------------------
def validate(obj: Obj) -> Obj:
    """Validate through the client's models (autoscaling/v1 HPAs included)."""
    if obj.get("apiVersion") == "autoscaling/v1" and obj.get("kind") == "HorizontalPodAutoscaler":
        from kubernetes import client

        parsed = client.V1HorizontalPodAutoscaler.model_validate(obj)
        dumped = parsed.model_dump(by_alias=True, exclude_none=True, mode="json")
        f._check_spelling(obj, dumped, f"HorizontalPodAutoscaler/{obj['metadata']['name']}")
        return obj
    return f.validate(obj)


def snapshot(*items: Obj, at: str | None = None, logs: Mapping[str, str] | None = None) -> Snapshot:
    """A validated Snapshot judged at `at` (default: its newest timestamp, as the file reader does)."""
    for item in items:
        validate(item)
    return f.snapshot(*items, at=at, logs=logs, check=False)


# ---- nodes ----------------------------------------------------------------------------------------
def node(
    name: str = "minikube",
    *,
    ready: str = "True",
    ready_reason: str | None = None,
    ready_message: str | None = None,
    ready_since: str | None = None,
    heartbeat: str | None = None,
    pressure: Mapping[str, str] | None = None,
    taints: Sequence[Obj] = (),
    labels: Mapping[str, str] | None = None,
    cpu: str = "4",
    memory: str = "8029656Ki",
    unschedulable: bool = False,
    control_plane: bool = True,
) -> Obj:
    """A Node. `ready` is "True"/"False"/"Unknown"; `pressure={"DiskPressure": ts(-5)}` = active since.

    With `ready="Unknown"` every kubelet condition turns Unknown (the node lifecycle controller's
    NodeStatusUnknown), as on a real unreachable node.
    """
    n = f.node(
        name,
        ready=True,
        pressure=dict.fromkeys(pressure or {}, True),
        heartbeat=heartbeat,
        cpu=cpu,
        memory=memory,
        labels=labels,
        taints=taints,
    )
    if not control_plane:
        n["metadata"]["labels"].pop("node-role.kubernetes.io/control-plane", None)
    for cond in n["status"]["conditions"]:
        if pressure and cond["type"] in pressure:
            cond["lastTransitionTime"] = pressure[cond["type"]]
        if ready == "Unknown":
            cond["status"] = "Unknown"
            cond["reason"] = "NodeStatusUnknown"
            cond["message"] = "Kubelet stopped posting node status."
            cond["lastTransitionTime"] = ready_since or ts(-10)
        elif cond["type"] == "Ready" and ready == "False":
            cond["status"] = "False"
            cond["reason"] = ready_reason or "KubeletNotReady"
            cond["message"] = ready_message or (
                "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady "
                "message:Network plugin returns error: cni plugin not initialized"
            )
            cond["lastTransitionTime"] = ready_since or ts(-10)
    if unschedulable:
        n["spec"]["unschedulable"] = True
    return n


def taint(key: str, effect: str = "NoSchedule", value: str | None = None, *, added: str | None = None) -> Obj:
    t: Obj = {"key": key, "effect": effect}
    if value is not None:
        t["value"] = value
    if added is not None:
        t["timeAdded"] = added
    return t


def toleration(
    key: str, *, operator: str = "Equal", value: str | None = None, effect: str | None = None
) -> Obj:
    t: Obj = {"key": key, "operator": operator}
    if value is not None:
        t["value"] = value
    if effect is not None:
        t["effect"] = effect
    return t


# ---- workloads -------------------------------------------------------------------------------------
def _cond(
    type_: str, status: str, reason: str, message: str, *, since: str, updated: str | None = None
) -> Obj:
    return {
        "type": type_,
        "status": status,
        "lastUpdateTime": updated or since,
        "lastTransitionTime": since,
        "reason": reason,
        "message": message,
    }


def deployment(
    name: str,
    namespace: str = "todo",
    *,
    replicas: int = 2,
    updated: int | None = None,
    ready: int | None = None,
    available: int | None = None,
    new_rs: str | None = None,
    progressing: tuple[str, str] = ("True", "NewReplicaSetAvailable"),
    progressing_since: str | None = None,
    progress_deadline: int = 600,
    revision: int = 2,
    paused: bool = False,
    containers: Sequence[Obj] | None = None,
    labels: Mapping[str, str] | None = None,
) -> Obj:
    """An apps/v1 Deployment; `progressing=("False", "ProgressDeadlineExceeded")` for a stuck rollout."""
    rs = new_rs or f"{name}-7c9f6d5b8"
    upd = replicas if updated is None else updated
    rdy = replicas if ready is None else ready
    avail = rdy if available is None else available
    since = progressing_since or ts(-60)
    status_p, reason_p = progressing
    message_p = {
        "NewReplicaSetAvailable": f'ReplicaSet "{rs}" has successfully progressed.',
        "ReplicaSetUpdated": f'ReplicaSet "{rs}" is progressing.',
        "ProgressDeadlineExceeded": f'ReplicaSet "{rs}" has timed out progressing.',
        "NewReplicaSetCreated": f'Created new replica set "{rs}"',
    }.get(reason_p, "")
    min_available = avail >= replicas - max(1, replicas // 4) if replicas else True
    status: Obj = {
        "observedGeneration": revision,
        "replicas": max(replicas, upd + (replicas - upd)),
        "updatedReplicas": upd,
        "readyReplicas": rdy,
        "availableReplicas": avail,
    }
    if replicas - avail > 0:
        status["unavailableReplicas"] = replicas - avail
    status["conditions"] = [
        _cond(
            "Available",
            "True" if min_available else "False",
            "MinimumReplicasAvailable" if min_available else "MinimumReplicasUnavailable",
            "Deployment has minimum availability."
            if min_available
            else "Deployment does not have minimum availability.",
            since=ts(-60 * 24) if min_available else since,
        ),
        _cond("Progressing", status_p, reason_p, message_p, since=since),
    ]
    sel = {APP: name}
    tmpl_labels = {**sel, **(labels or {})}
    ctrs = list(containers) if containers is not None else [container(name.rsplit("-", 1)[-1])]
    spec: Obj = {
        "replicas": replicas,
        "selector": {"matchLabels": sel},
        "template": {"metadata": {"labels": tmpl_labels}, "spec": {"containers": ctrs}},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
        "revisionHistoryLimit": 10,
        "progressDeadlineSeconds": progress_deadline,
    }
    if paused:
        spec["paused"] = True
    m = metadata(
        "Deployment",
        name,
        namespace,
        labels=sel,
        annotations={"deployment.kubernetes.io/revision": str(revision)},
    )
    m["generation"] = revision
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": m, "spec": spec, "status": status}


def replicaset(
    name: str,
    namespace: str = "todo",
    *,
    replicas: int = 2,
    ready: int | None = None,
    revision: int = 2,
    created: str | None = None,
    failure: str | None = None,
    failure_since: str | None = None,
) -> Obj:
    """A ReplicaSet `<deployment>-<hash>` owned by its Deployment; `failure` sets ReplicaFailure=True."""
    deploy, _, hsh = name.rpartition("-")
    labels = {APP: deploy, "pod-template-hash": hsh}
    rdy = replicas if ready is None else ready
    status: Obj = {
        "replicas": replicas,
        "fullyLabeledReplicas": replicas,
        "readyReplicas": rdy,
        "availableReplicas": rdy,
        "observedGeneration": 1,
    }
    if failure is not None:
        status["replicas"] = 0
        status["fullyLabeledReplicas"] = 0
        status["readyReplicas"] = 0
        status["availableReplicas"] = 0
        status["conditions"] = [
            {
                "type": "ReplicaFailure",
                "status": "True",
                "lastTransitionTime": failure_since or ts(-15),
                "reason": "FailedCreate",
                "message": failure,
            }
        ]
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": metadata(
            "ReplicaSet",
            name,
            namespace,
            created=created,
            labels=labels,
            annotations={"deployment.kubernetes.io/revision": str(revision)},
            owners=[owner_ref("Deployment", deploy, namespace)],
        ),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [container(deploy.rsplit("-", 1)[-1])]},
            },
        },
        "status": status,
    }


def statefulset(
    name: str,
    namespace: str = "todo",
    *,
    replicas: int = 3,
    ready: int | None = None,
    updated: int | None = None,
    current_revision: str | None = None,
    update_revision: str | None = None,
    on_delete: bool = False,
    claim_template: str | None = None,
) -> Obj:
    rdy = replicas if ready is None else ready
    upd = replicas if updated is None else updated
    cur = current_revision or f"{name}-6d4b8f9c7"
    new = update_revision or cur
    sel = {APP: name}
    spec: Obj = {
        "replicas": replicas,
        "selector": {"matchLabels": sel},
        "template": {"metadata": {"labels": sel}, "spec": {"containers": [container(name)]}},
        "serviceName": name,
        "podManagementPolicy": "OrderedReady",
        "updateStrategy": {"type": "OnDelete"}
        if on_delete
        else {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
        "revisionHistoryLimit": 10,
    }
    if claim_template:
        spec["volumeClaimTemplates"] = [
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": claim_template},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "1Gi"}},
                    "volumeMode": "Filesystem",
                },
            }
        ]
    m = metadata("StatefulSet", name, namespace, labels=sel)
    m["generation"] = 2
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": m,
        "spec": spec,
        "status": {
            "observedGeneration": 2,
            "replicas": replicas,
            "readyReplicas": rdy,
            "currentReplicas": replicas - upd if new != cur else replicas,
            "updatedReplicas": upd,
            "currentRevision": cur,
            "updateRevision": new,
            "collisionCount": 0,
            "availableReplicas": rdy,
        },
    }


def daemonset(
    name: str,
    namespace: str = "kube-system",
    *,
    desired: int = 3,
    updated: int | None = None,
    ready: int | None = None,
    generation: int = 2,
) -> Obj:
    upd = desired if updated is None else updated
    rdy = desired if ready is None else ready
    sel = {APP: name}
    m = metadata(
        "DaemonSet",
        name,
        namespace,
        labels=sel,
        annotations={"deprecated.daemonset.template.generation": str(generation)},
    )
    m["generation"] = generation
    status: Obj = {
        "currentNumberScheduled": desired,
        "numberMisscheduled": 0,
        "desiredNumberScheduled": desired,
        "numberReady": rdy,
        "observedGeneration": generation,
        "updatedNumberScheduled": upd,
        "numberAvailable": rdy,
    }
    if desired - rdy > 0:
        status["numberUnavailable"] = desired - rdy
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": m,
        "spec": {
            "selector": {"matchLabels": sel},
            "template": {"metadata": {"labels": sel}, "spec": {"containers": [container(name)]}},
            "updateStrategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
            },
            "revisionHistoryLimit": 10,
        },
        "status": status,
    }


# ---- services and endpoints ---------------------------------------------------------------------
def service(
    name: str,
    namespace: str = "todo",
    *,
    selector: Mapping[str, str] | None = None,
    type_: str = "ClusterIP",
    port: int = 80,
    target_port: int | str = 8080,
    external_name: str | None = None,
    headless: bool = False,
    publish_not_ready: bool = False,
    created: str | None = None,
) -> Obj:
    """A core/v1 Service; `selector=None` gives `{app.kubernetes.io/name: name}`, `{}` none at all."""
    sel = {APP: name} if selector is None else dict(selector)
    spec: Obj = {"type": type_}
    if type_ == "ExternalName":
        spec["externalName"] = external_name or "db.example.com"
        spec["sessionAffinity"] = "None"
    else:
        ip = "None" if headless else "10.96.112.45"
        spec.update(
            {
                "ports": [{"name": "http", "protocol": "TCP", "port": port, "targetPort": target_port}],
                "clusterIP": ip,
                "clusterIPs": [ip],
                "sessionAffinity": "None",
                "ipFamilies": ["IPv4"],
                "ipFamilyPolicy": "SingleStack",
                "internalTrafficPolicy": "Cluster",
            }
        )
    if sel:
        spec["selector"] = sel
    if publish_not_ready:
        spec["publishNotReadyAddresses"] = True
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(
            "Service",
            name,
            namespace,
            created=created,
            labels={APP: name, "app.kubernetes.io/managed-by": "Helm"},
        ),
        "spec": spec,
        "status": {"loadBalancer": {}},
    }


def _address(pod: Obj) -> Obj:
    m = pod["metadata"]
    return {
        "ip": pod["status"].get("podIP", "10.244.0.99"),
        "nodeName": pod["spec"].get("nodeName", "minikube"),
        "targetRef": {"kind": "Pod", "namespace": m["namespace"], "name": m["name"], "uid": m["uid"]},
    }


def endpoints(
    name: str,
    namespace: str = "todo",
    *,
    ready: Sequence[Obj] = (),
    not_ready: Sequence[Obj] = (),
    port: int = 8080,
    changed: str | None = None,
) -> Obj:
    """The Endpoints the controller writes for a Service: `subsets` omitted when no pod backs it."""
    m = metadata("Endpoints", name, namespace, labels={APP: name})
    m["annotations"] = {"endpoints.kubernetes.io/last-change-trigger-time": changed or ts(-30)}
    obj: Obj = {"apiVersion": "v1", "kind": "Endpoints", "metadata": m}
    if ready or not_ready:
        subset: Obj = {}
        if ready:
            subset["addresses"] = [_address(p) for p in ready]
        if not_ready:
            subset["notReadyAddresses"] = [_address(p) for p in not_ready]
        subset["ports"] = [{"name": "http", "port": port, "protocol": "TCP"}]
        obj["subsets"] = [subset]
    return obj


# ---- storage ---------------------------------------------------------------------------------------
def pvc(
    name: str,
    namespace: str = "todo",
    *,
    phase: str = "Bound",
    storage_class: str | None = "standard",
    size: str = "1Gi",
    created: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> Obj:
    spec: Obj = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": size}},
        "volumeMode": "Filesystem",
    }
    if storage_class is not None:
        spec["storageClassName"] = storage_class
    status: Obj = {"phase": phase}
    if phase == "Bound":
        spec["volumeName"] = "pvc-" + uid_for("PersistentVolumeClaim", namespace, name)
        status["accessModes"] = ["ReadWriteOnce"]
        status["capacity"] = {"storage": size}
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": metadata(
            "PersistentVolumeClaim",
            name,
            namespace,
            created=created,
            labels=labels,
            annotations={"volume.kubernetes.io/storage-provisioner": "k8s.io/minikube-hostpath"}
            if storage_class
            else None,
        ),
        "spec": spec,
        "status": status,
    }


def claim_volume(volume: str, claim: str) -> Obj:
    return {"name": volume, "persistentVolumeClaim": {"claimName": claim}}


# ---- autoscaling -----------------------------------------------------------------------------------
def hpa_condition(type_: str, status: str, reason: str, message: str, *, since: str | None = None) -> Obj:
    return {
        "type": type_,
        "status": status,
        "lastTransitionTime": since or ts(-60),
        "reason": reason,
        "message": message,
    }


HEALTHY_HPA = (
    ("AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size"),
    (
        "ScalingActive",
        "True",
        "ValidMetricFound",
        "the HPA was able to successfully calculate a replica count from cpu resource utilization "
        "(percentage of request)",
    ),
    ("ScalingLimited", "False", "DesiredWithinRange", "the desired count is within the acceptable range"),
)


def hpa(
    name: str,
    namespace: str = "todo",
    *,
    target: str | None = None,
    target_kind: str = "Deployment",
    min_replicas: int = 2,
    max_replicas: int = 10,
    current: int = 2,
    desired: int = 2,
    cpu_target: int = 70,
    conditions: Sequence[Obj] | None = None,
    current_cpu: int | None = 35,
    created: str | None = None,
) -> Obj:
    """An autoscaling/v2 HPA on CPU utilization; `conditions` default to a healthy, active HPA."""
    conds = (
        [dict(c) for c in conditions]
        if conditions is not None
        else [hpa_condition(t, s, r, m, since=ts(-60 * 24)) for t, s, r, m in HEALTHY_HPA]
    )
    status: Obj = {"currentReplicas": current, "desiredReplicas": desired, "conditions": conds}
    if current_cpu is not None:
        status["currentMetrics"] = [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "current": {"averageUtilization": current_cpu, "averageValue": "35m"},
                },
            }
        ]
    else:
        status["currentMetrics"] = None
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata("HorizontalPodAutoscaler", name, namespace, created=created),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": target_kind, "name": target or name},
            "minReplicas": min_replicas,
            "maxReplicas": max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": cpu_target},
                    },
                }
            ],
        },
        "status": status,
    }


def hpa_v1(
    name: str,
    namespace: str = "todo",
    *,
    target: str | None = None,
    conditions: Sequence[Obj] = (),
    current: int = 1,
) -> Obj:
    """An autoscaling/v1 HPA: its conditions live in the `autoscaling.alpha.kubernetes.io/conditions`
    annotation."""
    ann = {"autoscaling.alpha.kubernetes.io/conditions": json.dumps([dict(c) for c in conditions])}
    return {
        "apiVersion": "autoscaling/v1",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata("HorizontalPodAutoscaler", name, namespace, annotations=ann),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target or name},
            "minReplicas": 1,
            "maxReplicas": 5,
            "targetCPUUtilizationPercentage": 80,
        },
        "status": {"currentReplicas": current, "desiredReplicas": 0},
    }


def with_labels(obj: Obj, labels: Mapping[str, str]) -> Obj:
    """Add labels to an object's metadata (a pod's revision hash, say) and return it."""
    obj["metadata"].setdefault("labels", {}).update(labels)
    return obj


def any_of(items: Sequence[Any], **match: Any) -> bool:
    """True when some finding-dict in `items` has all the given top-level values."""
    return any(all(i.get(k) == v for k, v in match.items()) for i in items)
