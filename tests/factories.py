"""Builders of Kubernetes objects shaped exactly as the API server returns them (test fixtures).

Every builder returns a plain dict (the form aiops keeps cluster objects in): metadata with uid,
creationTimestamp, resourceVersion and ownerReferences; pods with spec.containers (resources,
probes, env) and a status whose conditions are derived from the container statuses unless given;
core/v1 Events as the kubelet and controllers record them (count/firstTimestamp/lastTimestamp)
or as kube-scheduler records them (eventTime/series, null timestamps).

`validate(obj)` deserializes an object through the official client's models (kubernetes ≥ 35
uses pydantic v2 models with `extra="forbid"`) and checks that every key is spelled as the API
spells it (camelCase), so a fixture with a typo or a missing required field fails loudly.
`snapshot(...)` validates every item before building a `Snapshot`.

Times: fixtures use a fixed clock `T0`; `ts(minutes)` is T0 plus an offset (negative = earlier).
Nothing here reads the wall clock.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from aiops.model import Snapshot, newest_timestamp, parse_time

T0 = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)
NODE = "minikube"

Obj = dict[str, Any]


# ---- time and identity helpers ---------------------------------------------------------------
def ts(minutes: float = 0.0, *, base: datetime = T0) -> str:
    """RFC 3339 timestamp `minutes` after (negative: before) the fixture clock, second precision."""
    return (base + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def micro(minutes: float = 0.0, *, base: datetime = T0) -> str:
    """MicroTime (events.k8s.io `eventTime`, series.lastObservedTime): microsecond precision."""
    return (base + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def uid_for(kind: str, namespace: str, name: str) -> str:
    """A deterministic uid, so an ownerReference built here matches the owner built elsewhere."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"k8s://{kind}/{namespace}/{name}"))


_rv = [1000]


def _resource_version() -> str:
    _rv[0] += 1
    return str(_rv[0])


def owner_ref(kind: str, name: str, namespace: str, *, controller: bool = True) -> Obj:
    api = {
        "ReplicaSet": "apps/v1",
        "Deployment": "apps/v1",
        "StatefulSet": "apps/v1",
        "DaemonSet": "apps/v1",
        "Job": "batch/v1",
        "CronJob": "batch/v1",
        "Node": "v1",
    }.get(kind, "v1")
    return {
        "apiVersion": api,
        "kind": kind,
        "name": name,
        "uid": uid_for(kind, namespace, name),
        "controller": controller,
        "blockOwnerDeletion": True,
    }


def metadata(
    kind: str,
    name: str,
    namespace: str | None,
    *,
    created: str | None = None,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    owners: Sequence[Obj] = (),
    generate_name: str | None = None,
) -> Obj:
    m: Obj = {"name": name}
    if generate_name:
        m["generateName"] = generate_name
    if namespace is not None:
        m["namespace"] = namespace
    m["uid"] = uid_for(kind, namespace or "", name)
    m["resourceVersion"] = _resource_version()
    m["creationTimestamp"] = created or ts(-60 * 24)
    if labels:
        m["labels"] = dict(labels)
    if annotations:
        m["annotations"] = dict(annotations)
    if owners:
        m["ownerReferences"] = [dict(o) for o in owners]
    return m


# ---- containers ------------------------------------------------------------------------------
def resources(
    *,
    cpu: str | None = None,
    memory: str | None = None,
    limit_cpu: str | None = None,
    limit_memory: str | None = None,
) -> Obj:
    out: Obj = {}
    req = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    lim = {k: v for k, v in (("cpu", limit_cpu), ("memory", limit_memory)) if v}
    if lim:
        out["limits"] = lim
    if req:
        out["requests"] = req
    return out


def http_probe(
    path: str = "/healthz",
    port: int | str = 8080,
    *,
    initial_delay: int = 0,
    period: int = 10,
    timeout: int = 1,
    failure_threshold: int = 3,
) -> Obj:
    return {
        "httpGet": {"path": path, "port": port, "scheme": "HTTP"},
        "initialDelaySeconds": initial_delay,
        "periodSeconds": period,
        "timeoutSeconds": timeout,
        "successThreshold": 1,
        "failureThreshold": failure_threshold,
    }


def tcp_probe(port: int | str = 8080, *, period: int = 10, failure_threshold: int = 3) -> Obj:
    return {
        "tcpSocket": {"port": port},
        "periodSeconds": period,
        "timeoutSeconds": 1,
        "successThreshold": 1,
        "failureThreshold": failure_threshold,
    }


def env_value(name: str, value: str) -> Obj:
    return {"name": name, "value": value}


def env_from_configmap_key(name: str, configmap: str, key: str, *, optional: bool | None = None) -> Obj:
    ref: Obj = {"name": configmap, "key": key}
    if optional is not None:
        ref["optional"] = optional
    return {"name": name, "valueFrom": {"configMapKeyRef": ref}}


def env_from_secret_key(name: str, secret: str, key: str, *, optional: bool | None = None) -> Obj:
    ref: Obj = {"name": secret, "key": key}
    if optional is not None:
        ref["optional"] = optional
    return {"name": name, "valueFrom": {"secretKeyRef": ref}}


def container(
    name: str,
    image: str = "ghcr.io/example/todo-backend:1.4.2",
    *,
    requests_cpu: str | None = "100m",
    requests_memory: str | None = "128Mi",
    limits_cpu: str | None = None,
    limits_memory: str | None = "256Mi",
    ports: Sequence[int] = (8080,),
    liveness: Obj | None = None,
    readiness: Obj | None = None,
    startup: Obj | None = None,
    env: Sequence[Obj] = (),
    env_from: Sequence[Obj] = (),
    volume_mounts: Sequence[Obj] = (),
    command: Sequence[str] | None = None,
    args: Sequence[str] | None = None,
) -> Obj:
    c: Obj = {"name": name, "image": image}
    if command is not None:
        c["command"] = list(command)
    if args is not None:
        c["args"] = list(args)
    if ports:
        c["ports"] = [{"containerPort": p, "name": f"port-{p}", "protocol": "TCP"} for p in ports]
    if env:
        c["env"] = [dict(e) for e in env]
    if env_from:
        c["envFrom"] = [dict(e) for e in env_from]
    c["resources"] = resources(
        cpu=requests_cpu, memory=requests_memory, limit_cpu=limits_cpu, limit_memory=limits_memory
    )
    if liveness is not None:
        c["livenessProbe"] = liveness
    if readiness is not None:
        c["readinessProbe"] = readiness
    if startup is not None:
        c["startupProbe"] = startup
    c["terminationMessagePath"] = "/dev/termination-log"
    c["terminationMessagePolicy"] = "File"
    c["imagePullPolicy"] = "IfNotPresent"
    mounts = [dict(m) for m in volume_mounts]
    mounts.append(
        {
            "name": "kube-api-access-x7k2p",
            "readOnly": True,
            "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
        }
    )
    c["volumeMounts"] = mounts
    return c


# ---- container states ------------------------------------------------------------------------
def running(started_at: str | None = None) -> Obj:
    return {"running": {"startedAt": started_at or ts(-60)}}


def waiting(reason: str, message: str | None = None) -> Obj:
    w: Obj = {"reason": reason}
    if message is not None:
        w["message"] = message
    return {"waiting": w}


def terminated(
    reason: str,
    exit_code: int,
    *,
    started_at: str | None = None,
    finished_at: str | None = None,
    message: str | None = None,
    container_id: str
    | None = "containerd://9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0",
    signal: int | None = None,
) -> Obj:
    t: Obj = {"exitCode": exit_code, "reason": reason}
    if signal is not None:
        t["signal"] = signal
    if message is not None:
        t["message"] = message
    t["startedAt"] = started_at or ts(-3)
    t["finishedAt"] = finished_at or ts(-2)
    if container_id:
        t["containerID"] = container_id
    return {"terminated": t}


def back_off_message(container_name: str, pod_name: str, namespace: str, delay: str = "5m0s") -> str:
    """The kubelet's CrashLoopBackOff waiting message (kuberuntime_manager.go doBackOff)."""
    return (
        f"back-off {delay} restarting failed container={container_name} "
        f"pod={pod_name}_{namespace}({uid_for('Pod', namespace, pod_name)})"
    )


def container_status(
    name: str,
    image: str = "ghcr.io/example/todo-backend:1.4.2",
    *,
    state: Obj | None = None,
    last_state: Obj | None = None,
    restart_count: int = 0,
    ready: bool | None = None,
    started: bool | None = None,
    image_id: str | None = None,
) -> Obj:
    """One entry of status.containerStatuses. `ready`/`started` default from the state."""
    st = state if state is not None else running()
    is_running = "running" in st
    pulled = "waiting" not in st or st["waiting"].get("reason") not in {
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "ErrImageNeverPull",
        "ContainerCreating",
        "PodInitializing",
        "CreateContainerConfigError",
    }
    repo = (
        image.split("@", maxsplit=1)[0].rsplit(":", 1)[0]
        if ":" in image.rsplit("/", maxsplit=1)[-1]
        else image
    )
    digest = "sha256:" + uuid.uuid5(uuid.NAMESPACE_URL, image).hex * 2
    cs: Obj = {
        "name": name,
        "state": st,
        "lastState": last_state or {},
        "ready": bool(is_running) if ready is None else ready,
        "restartCount": restart_count,
        "image": image,
        "imageID": image_id if image_id is not None else (f"{repo}@{digest}" if pulled else ""),
        "started": bool(is_running) if started is None else started,
    }
    if pulled or restart_count:
        cs["containerID"] = "containerd://" + uuid.uuid5(uuid.NAMESPACE_URL, name + image).hex * 2
    return cs


def condition(
    type_: str,
    status: str,
    *,
    reason: str | None = None,
    message: str | None = None,
    at: str | None = None,
) -> Obj:
    c: Obj = {"type": type_, "status": status, "lastProbeTime": None, "lastTransitionTime": at or ts(-60)}
    if reason is not None:
        c["reason"] = reason
    if message is not None:
        c["message"] = message
    return c


# ---- pods --------------------------------------------------------------------------------------
def pod(
    name: str,
    namespace: str = "todo",
    *,
    containers: Sequence[Obj] | None = None,
    init_containers: Sequence[Obj] = (),
    owner: tuple[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    phase: str = "Running",
    container_statuses: Sequence[Obj] | None = None,
    init_container_statuses: Sequence[Obj] | None = None,
    conditions: Sequence[Obj] | None = None,
    node_name: str | None = NODE,
    start_time: str | None = None,
    created: str | None = None,
    reason: str | None = None,
    message: str | None = None,
    volumes: Sequence[Obj] = (),
    restart_policy: str = "Always",
    service_account: str = "default",
    node_selector: Mapping[str, str] | None = None,
    tolerations: Sequence[Obj] | None = None,
    affinity: Obj | None = None,
    pod_ip: str = "10.244.0.17",
) -> Obj:
    """A core/v1 Pod. `owner=("ReplicaSet", "todo-backend-7c9f6d5b8")` adds a controller reference.

    Without explicit `container_statuses`: Running → running+ready, Pending on a node →
    ContainerCreating, Pending without node → none, Succeeded → Completed, Failed → Error.
    Without explicit `conditions`: derived from phase and statuses the way the kubelet sets them.
    """
    ctrs = (
        list(containers) if containers is not None else [container(name.split("-", maxsplit=1)[0] or "app")]
    )
    lab: dict[str, str] = {}
    gen: str | None = None
    if owner is not None:
        okind, oname = owner
        gen = oname + "-"
        if okind == "ReplicaSet" and "-" in oname:
            deploy, _, hsh = oname.rpartition("-")
            lab = {"app.kubernetes.io/name": deploy, "pod-template-hash": hsh}
        elif okind in ("StatefulSet", "DaemonSet", "Job"):
            lab = {"app.kubernetes.io/name": oname}
    if labels is not None:
        lab = {**lab, **labels}
    created = created or ts(-120)
    owners = [owner_ref(owner[0], owner[1], namespace)] if owner else []
    spec: Obj = {}
    vols = [dict(v) for v in volumes]
    vols.append(
        {
            "name": "kube-api-access-x7k2p",
            "projected": {
                "defaultMode": 420,
                "sources": [
                    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                    {
                        "configMap": {
                            "name": "kube-root-ca.crt",
                            "items": [{"key": "ca.crt", "path": "ca.crt"}],
                        }
                    },
                ],
            },
        }
    )
    spec["volumes"] = vols
    if init_containers:
        spec["initContainers"] = [dict(c) for c in init_containers]
    spec["containers"] = ctrs
    spec["restartPolicy"] = restart_policy
    spec["terminationGracePeriodSeconds"] = 30
    spec["dnsPolicy"] = "ClusterFirst"
    if node_selector:
        spec["nodeSelector"] = dict(node_selector)
    spec["serviceAccountName"] = service_account
    spec["serviceAccount"] = service_account
    if node_name:
        spec["nodeName"] = node_name
    spec["securityContext"] = {}
    if affinity is not None:
        spec["affinity"] = affinity
    spec["schedulerName"] = "default-scheduler"
    spec["tolerations"] = (
        [dict(t) for t in tolerations]
        if tolerations is not None
        else [
            {
                "key": "node.kubernetes.io/not-ready",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            },
            {
                "key": "node.kubernetes.io/unreachable",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            },
        ]
    )
    spec["priority"] = 0
    spec["enableServiceLinks"] = True
    spec["preemptionPolicy"] = "PreemptLowerPriority"

    if container_statuses is None:
        container_statuses = _default_statuses(ctrs, phase, node_name)
    statuses = list(container_statuses)
    init_statuses = list(init_container_statuses) if init_container_statuses is not None else []
    if init_container_statuses is None and init_containers and (phase != "Pending" or statuses):
        init_statuses = [
            container_status(
                c["name"],
                c["image"],
                state=terminated("Completed", 0, started_at=ts(-119), finished_at=ts(-119)),
                ready=True,
                started=False,
            )
            for c in init_containers
        ]

    status: Obj = {"phase": phase}
    if conditions is None:
        conditions = _default_conditions(phase, node_name, statuses, init_statuses, init_containers, created)
    if conditions:
        status["conditions"] = [dict(c) for c in conditions]
    if reason is not None:
        status["reason"] = reason
    if message is not None:
        status["message"] = message
    if node_name:
        status["hostIP"] = "192.168.49.2"
        status["hostIPs"] = [{"ip": "192.168.49.2"}]
        if phase in ("Running", "Succeeded", "Failed") and reason != "Evicted":
            status["podIP"] = pod_ip
            status["podIPs"] = [{"ip": pod_ip}]
        status["startTime"] = start_time or created
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    if statuses:
        status["containerStatuses"] = statuses
    status["qosClass"] = "Burstable"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata(
            "Pod",
            name,
            namespace,
            created=created,
            labels=lab,
            annotations=annotations,
            owners=owners,
            generate_name=gen,
        ),
        "spec": spec,
        "status": status,
    }


def _default_statuses(ctrs: Sequence[Obj], phase: str, node_name: str | None) -> list[Obj]:
    out: list[Obj] = []
    for c in ctrs:
        if phase == "Running":
            out.append(container_status(c["name"], c["image"], state=running(ts(-118))))
        elif phase == "Pending":
            if not node_name:
                return []
            out.append(container_status(c["name"], c["image"], state=waiting("ContainerCreating")))
        elif phase == "Succeeded":
            out.append(
                container_status(
                    c["name"],
                    c["image"],
                    state=terminated("Completed", 0, started_at=ts(-118), finished_at=ts(-110)),
                    ready=False,
                )
            )
        else:
            out.append(
                container_status(
                    c["name"],
                    c["image"],
                    state=terminated("Error", 1, started_at=ts(-118), finished_at=ts(-110)),
                    ready=False,
                )
            )
    return out


def _default_conditions(
    phase: str,
    node_name: str | None,
    statuses: Sequence[Obj],
    init_statuses: Sequence[Obj],
    init_containers: Sequence[Obj],
    created: str,
) -> list[Obj]:
    if not node_name:
        return [
            condition(
                "PodScheduled",
                "False",
                reason="Unschedulable",
                message="0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: "
                "1 No preemption victims found for incoming pod.",
                at=created,
            )
        ]
    unready = [s["name"] for s in statuses if not s.get("ready")]
    init_incomplete = [
        s["name"] for s in init_statuses if s.get("state", {}).get("terminated", {}).get("exitCode") != 0
    ]
    if init_containers and not init_statuses:
        init_incomplete = [c["name"] for c in init_containers]
    conds: list[Obj] = []
    if phase in ("Succeeded", "Failed"):
        reason = "PodCompleted" if phase == "Succeeded" else "PodFailed"
        conds.append(condition("PodReadyToStartContainers", "False", at=created))
        conds.append(condition("Initialized", "True", reason=reason if init_containers else None, at=created))
        conds.append(condition("Ready", "False", reason=reason, at=ts(-110)))
        conds.append(condition("ContainersReady", "False", reason=reason, at=ts(-110)))
        conds.append(condition("PodScheduled", "True", at=created))
        return conds
    conds.append(condition("PodReadyToStartContainers", "True" if statuses else "False", at=created))
    if init_incomplete:
        conds.append(
            condition(
                "Initialized",
                "False",
                reason="ContainersNotInitialized",
                message=f"containers with incomplete status: [{' '.join(init_incomplete)}]",
                at=created,
            )
        )
    else:
        conds.append(condition("Initialized", "True", at=created))
    if unready or not statuses:
        names = unready or []
        msg = f"containers with unready status: [{' '.join(names)}]"
        conds.append(condition("Ready", "False", reason="ContainersNotReady", message=msg, at=created))
        conds.append(
            condition("ContainersReady", "False", reason="ContainersNotReady", message=msg, at=created)
        )
    else:
        conds.append(condition("Ready", "True", at=ts(-117)))
        conds.append(condition("ContainersReady", "True", at=ts(-117)))
    conds.append(condition("PodScheduled", "True", at=created))
    return conds


# ---- events ------------------------------------------------------------------------------------
_event_seq = [0]


def _event_suffix(*parts: str) -> str:
    """`<object>.<hex>` event names, deterministic and unique per built event."""
    _event_seq[0] += 1
    return uuid.uuid5(uuid.NAMESPACE_URL, "|".join(parts) + f"|{_event_seq[0]}").hex[:16]


def event(
    obj: Obj,
    reason: str,
    message: str,
    *,
    type_: str = "Warning",
    count: int = 1,
    first: str | None = None,
    last: str | None = None,
    component: str = "kubelet",
    host: str | None = NODE,
    field_path: str | None = None,
    container_name: str | None = None,
) -> Obj:
    """A core/v1 Event as the kubelet/controllers record it (count, firstTimestamp, lastTimestamp).

    `container_name` sets involvedObject.fieldPath to `spec.containers{name}` (or pass `field_path`,
    e.g. `spec.initContainers{init-db}`).
    """
    m = obj["metadata"]
    ns = m.get("namespace") or "default"
    last = last or ts(-1)
    first = first or last
    inv: Obj = {
        "kind": obj["kind"],
        "namespace": m.get("namespace") or "",
        "name": m["name"],
        "uid": m.get("uid", ""),
        "apiVersion": obj.get("apiVersion", "v1"),
        "resourceVersion": m.get("resourceVersion", ""),
    }
    if obj["kind"] == "Node":
        inv["uid"] = m["name"]
        inv.pop("namespace")
    if container_name is not None and field_path is None:
        field_path = f"spec.containers{{{container_name}}}"
    if field_path is not None:
        inv["fieldPath"] = field_path
    ev_name = f"{m['name']}.{_event_suffix(m['name'], reason, message, last)}"
    source: Obj = {"component": component}
    if host:
        source["host"] = host
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": ev_name,
            "namespace": ns,
            "uid": uid_for("Event", ns, ev_name),
            "resourceVersion": _resource_version(),
            "creationTimestamp": first,
        },
        "involvedObject": inv,
        "reason": reason,
        "message": message,
        "source": source,
        "firstTimestamp": first,
        "lastTimestamp": last,
        "count": count,
        "type": type_,
        "eventTime": None,
        "reportingComponent": component,
        "reportingInstance": host or "",
    }


def scheduler_event(
    obj: Obj,
    reason: str,
    message: str,
    *,
    type_: str = "Warning",
    at: str | None = None,
    series_count: int | None = None,
    series_last: str | None = None,
    action: str = "Scheduling",
) -> Obj:
    """An events.k8s.io event seen through core/v1 (kube-scheduler 1.19+): null timestamps, eventTime,
    no count, optional `series`."""
    m = obj["metadata"]
    ns = m.get("namespace") or "default"
    at = at or micro(-1)
    ev_name = f"{m['name']}.{_event_suffix(m['name'], reason, message, at)}"
    ev: Obj = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": ev_name,
            "namespace": ns,
            "uid": uid_for("Event", ns, ev_name),
            "resourceVersion": _resource_version(),
            "creationTimestamp": at[:19] + "Z",
        },
        "involvedObject": {
            "kind": obj["kind"],
            "namespace": m.get("namespace") or "",
            "name": m["name"],
            "uid": m.get("uid", ""),
            "apiVersion": obj.get("apiVersion", "v1"),
            "resourceVersion": m.get("resourceVersion", ""),
        },
        "reason": reason,
        "message": message,
        "source": {},
        "firstTimestamp": None,
        "lastTimestamp": None,
        "type": type_,
        "eventTime": at,
        "action": action,
        "reportingComponent": "default-scheduler",
        "reportingInstance": "default-scheduler-minikube",
    }
    if series_count is not None:
        ev["series"] = {"count": series_count, "lastObservedTime": series_last or at}
    return ev


# ---- other kinds -------------------------------------------------------------------------------
def configmap(name: str, namespace: str = "todo", data: Mapping[str, str] | None = None) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata("ConfigMap", name, namespace),
        "data": dict(data or {}),
    }


def deployment(
    name: str,
    namespace: str = "todo",
    *,
    replicas: int = 1,
    containers: Sequence[Obj] | None = None,
    ready_replicas: int | None = None,
    conditions: Sequence[Obj] | None = None,
    progress_deadline: int = 600,
) -> Obj:
    ctrs = (
        list(containers) if containers is not None else [container(name.rsplit("-", maxsplit=1)[-1] or "app")]
    )
    ready = replicas if ready_replicas is None else ready_replicas
    status: Obj = {
        "observedGeneration": 1,
        "replicas": replicas,
        "updatedReplicas": replicas,
        "readyReplicas": ready,
        "availableReplicas": ready,
    }
    if ready < replicas:
        status["unavailableReplicas"] = replicas - ready
    status["conditions"] = (
        [dict(c) for c in conditions]
        if conditions is not None
        else [
            {
                "type": "Available",
                "status": "True" if ready >= replicas else "False",
                "lastUpdateTime": ts(-60),
                "lastTransitionTime": ts(-60),
                "reason": "MinimumReplicasAvailable" if ready >= replicas else "MinimumReplicasUnavailable",
                "message": "Deployment has minimum availability."
                if ready >= replicas
                else "Deployment does not have minimum availability.",
            },
            {
                "type": "Progressing",
                "status": "True",
                "lastUpdateTime": ts(-60),
                "lastTransitionTime": ts(-60 * 24),
                "reason": "NewReplicaSetAvailable",
                "message": f'ReplicaSet "{name}-7c9f6d5b8" has successfully progressed.',
            },
        ]
    )
    labels = {"app.kubernetes.io/name": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(
            "Deployment",
            name,
            namespace,
            labels=labels,
            annotations={"deployment.kubernetes.io/revision": "1"},
        ),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": ctrs}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
            },
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": progress_deadline,
        },
        "status": status,
    }


def replicaset(
    name: str,
    namespace: str = "todo",
    *,
    deployment_name: str | None = None,
    replicas: int = 1,
    ready_replicas: int | None = None,
    containers: Sequence[Obj] | None = None,
) -> Obj:
    """A ReplicaSet `<deployment>-<hash>` owned by its Deployment (name derived when not given)."""
    deploy = deployment_name or name.rpartition("-")[0]
    hsh = name.rpartition("-")[2]
    labels = {"app.kubernetes.io/name": deploy, "pod-template-hash": hsh}
    ctrs = list(containers) if containers is not None else [container(deploy.split("-")[-1] or "app")]
    ready = replicas if ready_replicas is None else ready_replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": metadata(
            "ReplicaSet",
            name,
            namespace,
            labels=labels,
            annotations={"deployment.kubernetes.io/revision": "1"},
            owners=[owner_ref("Deployment", deploy, namespace)],
        ),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": ctrs}},
        },
        "status": {
            "replicas": replicas,
            "fullyLabeledReplicas": replicas,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "observedGeneration": 1,
        },
    }


def node(
    name: str = NODE,
    *,
    ready: bool = True,
    pressure: Mapping[str, bool] | None = None,
    heartbeat: str | None = None,
    cpu: str = "4",
    memory: str = "8029656Ki",
    labels: Mapping[str, str] | None = None,
    taints: Sequence[Obj] = (),
) -> Obj:
    """A core/v1 Node. `pressure={"MemoryPressure": True}` sets an active pressure condition."""
    hb = heartbeat or ts(-0.5)
    press = dict(pressure or {})

    def cond(t: str, active: bool, ok_reason: str, ok_msg: str, bad_reason: str, bad_msg: str) -> Obj:
        return {
            "type": t,
            "status": "True" if active else "False",
            "lastHeartbeatTime": hb,
            "lastTransitionTime": ts(-60 * 24),
            "reason": bad_reason if active else ok_reason,
            "message": bad_msg if active else ok_msg,
        }

    conds = [
        cond(
            "MemoryPressure",
            press.get("MemoryPressure", False),
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
            "KubeletHasInsufficientMemory",
            "kubelet has insufficient memory available",
        ),
        cond(
            "DiskPressure",
            press.get("DiskPressure", False),
            "KubeletHasNoDiskPressure",
            "kubelet has no disk pressure",
            "KubeletHasDiskPressure",
            "kubelet has disk pressure",
        ),
        cond(
            "PIDPressure",
            press.get("PIDPressure", False),
            "KubeletHasSufficientPID",
            "kubelet has sufficient PID available",
            "KubeletHasInsufficientPID",
            "kubelet has insufficient PID available",
        ),
        {
            "type": "Ready",
            "status": "True" if ready else "Unknown",
            "lastHeartbeatTime": hb,
            "lastTransitionTime": ts(-60 * 24),
            "reason": "KubeletReady" if ready else "NodeStatusUnknown",
            "message": "kubelet is posting ready status" if ready else "Kubelet stopped posting node status.",
        },
    ]
    lab = {
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "node-role.kubernetes.io/control-plane": "",
    }
    if labels:
        lab.update(labels)
    spec: Obj = {"podCIDR": "10.244.0.0/24", "podCIDRs": ["10.244.0.0/24"]}
    if taints:
        spec["taints"] = [dict(t) for t in taints]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": metadata("Node", name, None, labels=lab),
        "spec": spec,
        "status": {
            "capacity": {"cpu": cpu, "memory": memory, "pods": "110", "ephemeral-storage": "102626232Ki"},
            "allocatable": {"cpu": cpu, "memory": memory, "pods": "110", "ephemeral-storage": "102626232Ki"},
            "conditions": conds,
            "addresses": [
                {"type": "InternalIP", "address": "192.168.49.2"},
                {"type": "Hostname", "address": name},
            ],
            "nodeInfo": {
                "machineID": "b8a1f0c4c2d64d5e9a0f3a1b2c3d4e5f",
                "systemUUID": "b8a1f0c4-c2d6-4d5e-9a0f-3a1b2c3d4e5f",
                "bootID": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
                "kernelVersion": "6.8.0-49-generic",
                "osImage": "Ubuntu 22.04.5 LTS",
                "containerRuntimeVersion": "docker://27.4.1",
                "kubeletVersion": "v1.32.0",
                "kubeProxyVersion": "v1.32.0",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        },
    }


def kube_list(items: Iterable[Obj]) -> Obj:
    """The `kubectl get ... -o json` List wrapper."""
    return {"apiVersion": "v1", "kind": "List", "items": list(items), "metadata": {"resourceVersion": ""}}


# ---- validation --------------------------------------------------------------------------------
def _model_for(kind: str, api_version: str) -> Any:
    from kubernetes import client  # test-only; heavy import kept lazy

    table = {
        ("v1", "Pod"): client.V1Pod,
        ("v1", "Event"): client.CoreV1Event,
        ("v1", "ConfigMap"): client.V1ConfigMap,
        ("v1", "Node"): client.V1Node,
        ("v1", "Service"): client.V1Service,
        ("v1", "Endpoints"): client.V1Endpoints,
        ("v1", "PersistentVolumeClaim"): client.V1PersistentVolumeClaim,
        ("v1", "Namespace"): client.V1Namespace,
        ("v1", "ServiceAccount"): client.V1ServiceAccount,
        ("v1", "List"): None,
        ("apps/v1", "Deployment"): client.V1Deployment,
        ("apps/v1", "ReplicaSet"): client.V1ReplicaSet,
        ("apps/v1", "StatefulSet"): client.V1StatefulSet,
        ("apps/v1", "DaemonSet"): client.V1DaemonSet,
        ("batch/v1", "Job"): client.V1Job,
        ("batch/v1", "CronJob"): client.V1CronJob,
        ("autoscaling/v2", "HorizontalPodAutoscaler"): client.V2HorizontalPodAutoscaler,
        ("networking.k8s.io/v1", "NetworkPolicy"): client.V1NetworkPolicy,
        ("networking.k8s.io/v1", "Ingress"): client.V1Ingress,
        ("rbac.authorization.k8s.io/v1", "Role"): client.V1Role,
        ("rbac.authorization.k8s.io/v1", "RoleBinding"): client.V1RoleBinding,
        ("rbac.authorization.k8s.io/v1", "ClusterRole"): client.V1ClusterRole,
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): client.V1ClusterRoleBinding,
    }
    key = (api_version, kind)
    if key not in table:
        raise AssertionError(f"validate: no client model for {api_version} {kind}")
    return table[key]


def _check_spelling(given: Any, dumped: Any, path: str) -> None:
    """Every key of the fixture must be one the model serializes back (camelCase API names)."""
    if isinstance(given, dict):
        if not isinstance(dumped, dict):
            raise AssertionError(f"{path}: expected an object")
        for key, value in given.items():
            if value is None:
                continue
            if key not in dumped:
                raise AssertionError(f"{path}.{key}: not a field of the API object (spelling?)")
            _check_spelling(value, dumped[key], f"{path}.{key}")
    elif isinstance(given, list):
        if not isinstance(dumped, list) or len(given) != len(dumped):
            raise AssertionError(f"{path}: list shape differs")
        for i, (g, d) in enumerate(zip(given, dumped, strict=True)):
            _check_spelling(g, d, f"{path}[{i}]")


def validate(obj: Obj) -> Obj:
    """Deserialize through the official client's model (raises on invalid objects); returns `obj`."""
    kind = str(obj.get("kind", ""))
    model = _model_for(kind, str(obj.get("apiVersion", "")))
    if model is None:
        for item in obj.get("items") or []:
            validate(item)
        return obj
    try:
        parsed = model.model_validate(obj)
    except ValueError as exc:  # pydantic.ValidationError is a ValueError
        raise AssertionError(f"invalid {kind} fixture: {exc}") from exc
    dumped = parsed.model_dump(by_alias=True, exclude_none=True, mode="json")
    name = (obj.get("metadata") or {}).get("name", "?")
    _check_spelling(obj, dumped, f"{kind}/{name}")
    return obj


def snapshot(
    *items: Obj,
    at: str | datetime | None = None,
    logs: Mapping[str, str] | None = None,
    check: bool = True,
) -> Snapshot:
    """A Snapshot of validated items, judged at `at` (default: newest timestamp, like the file reader)."""
    if check:
        for item in items:
            validate(item)
    when = parse_time(at) if at is not None else newest_timestamp(items)
    return Snapshot(items=tuple(items), at=when or T0, logs=dict(logs or {}))
