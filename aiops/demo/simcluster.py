"""A SIMULATED Kubernetes cluster for `aiops demo`: an in-process API server plus a tiny controller.

The API server (stdlib `ThreadingHTTPServer` on 127.0.0.1) serves what the official client and
`aiops.cluster.live.LiveSource` read: `/version` (its `Date` header is the simulated clock), list and
get of the snapshot kinds (`<Kind>List` bodies whose items carry no kind/apiVersion), pod logs
(`previous`, `tailLines`) and metrics.k8s.io PodMetrics. It refuses every write (405): the demo's
changes reach the simulated cluster the GitOps way, by `sync(release, values)` — the simulator
plays an Argo CD-like engine that reads the values files of `main` (the keys aiops tunes:
replicaCount, resources, autoscaling, podAnnotations, image, config).

The controller, on a simulated clock (`advance(seconds)`), follows stated rules:
- a changed pod template → a new ReplicaSet (or the old one whose template matches, as on an undo)
  scaled to the desired replicas at once; old ReplicaSets scale down as new pods become Ready; the
  Deployment's status and Progressing condition follow (ProgressDeadlineExceeded after
  `progressDeadlineSeconds`);
- a new pod starts 3 s after creation and is Ready one readiness period after the probe's initial
  delay — unless: a `configMapKeyRef` names a key its ConfigMap lacks → CreateContainerConfigError;
  its image is one the simulated registry marks broken (`todo-backend:0.4.0`) → exits 1 two seconds
  after each start (CrashLoopBackOff); its memory limit is below the load model's peak working set
  → OOMKilled (exit 137) 30 s after each start; back-off 10 s doubling to 300 s;
- an HPA sets the Deployment's replicas to ⌈total CPU / (target % × request)⌉ within its bounds;
- PodMetrics of running pods follow `aiops.demo.load.LoadModel`.
Everything it serves is simulated; nothing here talks to a real cluster or to another adapter.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiops.demo.load import LoadModel, peak_memory_mib

RESOURCES: tuple[tuple[str, str, str, bool], ...] = (
    ("v1", "pods", "Pod", True),
    ("v1", "events", "Event", True),
    ("v1", "services", "Service", True),
    ("v1", "endpoints", "Endpoints", True),
    ("v1", "persistentvolumeclaims", "PersistentVolumeClaim", True),
    ("v1", "configmaps", "ConfigMap", True),
    ("v1", "serviceaccounts", "ServiceAccount", True),
    ("v1", "nodes", "Node", False),
    ("v1", "namespaces", "Namespace", False),
    ("apps/v1", "deployments", "Deployment", True),
    ("apps/v1", "replicasets", "ReplicaSet", True),
    ("apps/v1", "statefulsets", "StatefulSet", True),
    ("apps/v1", "daemonsets", "DaemonSet", True),
    ("batch/v1", "jobs", "Job", True),
    ("autoscaling/v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True),
    ("networking.k8s.io/v1", "networkpolicies", "NetworkPolicy", True),
    ("networking.k8s.io/v1", "ingresses", "Ingress", True),
    ("rbac.authorization.k8s.io/v1", "roles", "Role", True),
    ("rbac.authorization.k8s.io/v1", "rolebindings", "RoleBinding", True),
    ("rbac.authorization.k8s.io/v1", "clusterroles", "ClusterRole", False),
    ("rbac.authorization.k8s.io/v1", "clusterrolebindings", "ClusterRoleBinding", False),
    ("metrics.k8s.io/v1beta1", "pods", "PodMetrics", True),
)
_BY_KIND = {kind: (gv, plural) for gv, plural, kind, _ in RESOURCES}
_INFO = {(gv, plural): (kind, ns) for gv, plural, kind, ns in RESOURCES}
BROKEN_IMAGES = {"todo-backend:0.4.0": "ModuleNotFoundError: No module named 'todo.chat.v4'"}
REVISION = "deployment.kubernetes.io/revision"
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
START_S = 3.0
OOM_RUN_S = 30.0
CRASH_RUN_S = 2.0


def _fmt(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _suffix(seed: str, n: int) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:n])


def _mib(text: Any) -> float | None:
    if text is None:
        return None
    s = str(text)
    units = {
        "Ki": 1 / 1024,
        "Mi": 1.0,
        "Gi": 1024.0,
        "K": 1000 / 1048576,
        "M": 1e6 / 1048576,
        "G": 1e9 / 1048576,
    }
    for u in ("Ki", "Mi", "Gi", "K", "M", "G"):
        if s.endswith(u):
            return float(s[: -len(u)]) * units[u]
    return float(s) / 1048576


def _cores(text: Any) -> float:
    if text is None:
        return 0.0
    s = str(text)
    if s.endswith("m"):
        return float(s[:-1]) / 1000
    if s.endswith("n"):
        return float(s[:-1]) / 1e9
    return float(s)


@dataclass
class _PodSim:
    """What the controller decided about a pod it created: when, and its fate."""

    created: datetime
    fate: str  # ok | config | crash | oom
    detail: str = ""


class SimCluster:
    """The simulated cluster: objects, a clock, the controller and the HTTP API over them."""

    def __init__(
        self, items: Iterable[Mapping[str, Any]], logs: Mapping[str, str], *, now: datetime, load: LoadModel
    ):
        self.now = now
        self.load = load
        self.objects: dict[str, dict[tuple[str, str], dict[str, Any]]] = {k: {} for k in _BY_KIND}
        self.logs: dict[tuple[str, str, str, bool], str] = {}
        self._pods: dict[tuple[str, str], _PodSim] = {}
        self._rollout_started: dict[tuple[str, str], datetime] = {}
        self._rv = 1_000_000
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        for obj in items:
            kind = str(obj.get("kind"))
            if kind in _BY_KIND:
                self._put(kind, copy.deepcopy(dict(obj)))
        for key, text in logs.items():
            ns, pod, container = key.split("/", 2)
            self.logs[(ns, pod, container, True)] = text

    # ---- store ---------------------------------------------------------------------------
    def _put(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        obj.pop("kind", None)
        obj.pop("apiVersion", None)
        md = obj.setdefault("metadata", {})
        self._rv += 1
        md["resourceVersion"] = str(self._rv)
        self.objects[kind][(str(md.get("namespace") or ""), str(md["name"]))] = obj
        return obj

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.objects[kind].get((namespace, name))

    def of_kind(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        return [
            o for (ns, _n), o in sorted(self.objects[kind].items()) if namespace is None or ns == namespace
        ]

    def _delete(self, kind: str, namespace: str, name: str) -> None:
        self.objects[kind].pop((namespace, name), None)

    # ---- GitOps sync ---------------------------------------------------------------------
    def deployment_of(self, release: str, namespace: str) -> dict[str, Any] | None:
        for d in self.of_kind("Deployment", namespace):
            md = d["metadata"]
            if (md.get("labels") or {}).get("app.kubernetes.io/instance") == release or (
                md.get("annotations") or {}
            ).get("meta.helm.sh/release-name") == release:
                return d
        return None

    def sync(
        self, release: str, namespace: str, values: Mapping[str, Any], *, in_place: bool = False
    ) -> list[str]:
        """Make the release's objects say what `values` says (the tuned keys). `in_place`: the seed —
        write the values into the current objects and their pods without a rollout. Returns what changed."""
        with self._lock:
            dep = self.deployment_of(release, namespace)
            if dep is None:
                return [f"{release}: no Deployment in the simulated cluster"]
            changes: list[str] = []
            spec = dep["spec"]
            template = copy.deepcopy(spec["template"])
            containers = template["spec"]["containers"]
            main = containers[0]
            if isinstance(values.get("resources"), Mapping):
                new = json.loads(json.dumps(values["resources"]))
                if main.get("resources") != new:
                    changes.append(f"resources {_res_text(main.get('resources'))} → {_res_text(new)}")
                    main["resources"] = new
            image = values.get("image")
            if isinstance(image, Mapping) and image.get("repository"):
                ref = f"{image['repository']}:{image.get('tag') or 'latest'}"
                if main.get("image") != ref:
                    changes.append(f"image {main.get('image')} → {ref}")
                    main["image"] = ref
            anns = values.get("podAnnotations")
            if isinstance(anns, Mapping) and anns:
                md = template.setdefault("metadata", {})
                cur = dict(md.get("annotations") or {})
                merged = {**cur, **{str(k): str(v) for k, v in anns.items()}}
                if merged != cur:
                    changes.append("pod annotations " + ", ".join(f"{k}={v}" for k, v in anns.items()))
                    md["annotations"] = merged
            config = values.get("config")
            if isinstance(config, Mapping):
                for cm_name in _configmaps_read(template):
                    cm = self.get("ConfigMap", namespace, cm_name)
                    if cm is None:
                        continue
                    data = dict(cm.get("data") or {})
                    added = {str(k): str(v) for k, v in config.items() if data.get(str(k)) != str(v)}
                    if added:
                        cm = copy.deepcopy(cm)
                        cm["data"] = {**data, **added}
                        self._put("ConfigMap", cm)
                        changes.append(f"ConfigMap {cm_name}: set {', '.join(sorted(added))}")
                        checksum = hashlib.sha256(json.dumps(cm["data"], sort_keys=True).encode()).hexdigest()
                        if not in_place:
                            template.setdefault("metadata", {}).setdefault("annotations", {})[
                                "checksum/config"
                            ] = checksum
            auto = values.get("autoscaling")
            hpa = self.get("HorizontalPodAutoscaler", namespace, dep["metadata"]["name"])
            if isinstance(auto, Mapping):
                if auto.get("enabled") and (hpa is None or _hpa_spec_differs(hpa, auto)):
                    self._put_hpa(dep, auto, hpa)
                    changes.append(
                        f"HPA {auto.get('minReplicas')}–{auto.get('maxReplicas')} at "
                        f"{auto.get('targetCPUUtilizationPercentage')} % CPU"
                    )
                elif not auto.get("enabled") and hpa is not None:
                    self._delete("HorizontalPodAutoscaler", namespace, dep["metadata"]["name"])
                    changes.append("HPA removed (autoscaling.enabled is false)")
                    hpa = None
            replicas = values.get("replicaCount")
            auto_on = isinstance(auto, Mapping) and bool(auto.get("enabled"))
            if isinstance(replicas, int) and not auto_on and spec.get("replicas") != replicas:
                changes.append(f"replicas {spec.get('replicas')} → {replicas}")
                spec["replicas"] = replicas
            if template != spec["template"]:
                if in_place:
                    self._rewrite_in_place(dep, template)
                else:
                    self._roll(dep, template)
            self._put("Deployment", dep)
            self._reconcile()
            return changes

    def _put_hpa(self, dep: dict[str, Any], auto: Mapping[str, Any], old: dict[str, Any] | None) -> None:
        md = dep["metadata"]
        hpa = (
            copy.deepcopy(old)
            if old
            else {
                "metadata": {
                    "name": md["name"],
                    "namespace": md["namespace"],
                    "labels": dict(md.get("labels") or {}),
                    "annotations": {
                        k: v for k, v in (md.get("annotations") or {}).items() if k.startswith("meta.helm")
                    },
                    "creationTimestamp": _fmt(self.now),
                    "uid": _uid("hpa" + md["name"] + _fmt(self.now)),
                },
                "status": {},
            }
        )
        hpa["spec"] = {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": md["name"]},
            "minReplicas": int(auto.get("minReplicas") or 1),
            "maxReplicas": int(auto.get("maxReplicas") or 1),
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {
                            "type": "Utilization",
                            "averageUtilization": int(auto.get("targetCPUUtilizationPercentage") or 80),
                        },
                    },
                }
            ],
        }
        self._put("HorizontalPodAutoscaler", hpa)

    def _rewrite_in_place(self, dep: dict[str, Any], template: dict[str, Any]) -> None:
        """The seed: the current ReplicaSet and its pods take the values' containers as they are."""
        ns = dep["metadata"]["namespace"]
        new_rs = self._current_rs(dep)
        dep["spec"]["template"] = template
        if new_rs is None:
            return
        hash_ = new_rs["metadata"]["labels"].get("pod-template-hash", "")
        rs_t = copy.deepcopy(template)
        rs_t.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = hash_
        new_rs["spec"]["template"] = rs_t
        self._put("ReplicaSet", new_rs)
        for pod in self._pods_of_rs(new_rs):
            by_name = {c["name"]: c for c in template["spec"]["containers"]}
            for c in pod["spec"]["containers"]:
                src = by_name.get(c["name"])
                if src is not None:
                    c["resources"] = copy.deepcopy(src.get("resources") or {})
                    c["image"] = src.get("image")
            for cs in (pod.get("status") or {}).get("containerStatuses") or []:
                src = by_name.get(cs.get("name"))
                if src is not None:
                    cs["image"] = src.get("image")
            self._put("Pod", pod)
        del ns

    # ---- the controller ------------------------------------------------------------------
    def _rs_of(self, dep: dict[str, Any]) -> list[dict[str, Any]]:
        ns, name = dep["metadata"]["namespace"], dep["metadata"]["name"]
        return [
            rs
            for rs in self.of_kind("ReplicaSet", ns)
            if any(
                o.get("kind") == "Deployment" and o.get("name") == name
                for o in rs["metadata"].get("ownerReferences") or []
            )
        ]

    def current_replicaset_name(self, release: str, namespace: str) -> str | None:
        """The name of the release Deployment's current ReplicaSet (None when there is none)."""
        dep = self.deployment_of(release, namespace)
        rs = self._current_rs(dep) if dep is not None else None
        return str(rs["metadata"]["name"]) if rs is not None else None

    def _current_rs(self, dep: dict[str, Any]) -> dict[str, Any] | None:
        rev = (dep["metadata"].get("annotations") or {}).get(REVISION)
        for rs in self._rs_of(dep):
            if (rs["metadata"].get("annotations") or {}).get(REVISION) == rev:
                return rs
        return None

    def _pods_of_rs(self, rs: dict[str, Any]) -> list[dict[str, Any]]:
        name = rs["metadata"]["name"]
        return [
            p
            for p in self.of_kind("Pod", rs["metadata"]["namespace"])
            if any(
                o.get("kind") == "ReplicaSet" and o.get("name") == name
                for o in p["metadata"].get("ownerReferences") or []
            )
        ]

    def _roll(self, dep: dict[str, Any], template: dict[str, Any]) -> None:
        """A template change: reuse the ReplicaSet whose template matches (an undo) or make a new one."""
        md = dep["metadata"]
        ns, name = md["namespace"], md["name"]
        revisions = [
            int((rs["metadata"].get("annotations") or {}).get(REVISION) or 0) for rs in self._rs_of(dep)
        ]
        revision = str(max([*revisions, int((md.get("annotations") or {}).get(REVISION) or 0)]) + 1)
        dep["spec"]["template"] = template
        md["generation"] = int(md.get("generation") or 1) + 1
        md.setdefault("annotations", {})[REVISION] = revision
        target = None
        for rs in self._rs_of(dep):
            t = copy.deepcopy(rs["spec"]["template"])
            (t.get("metadata") or {}).get("labels", {}).pop("pod-template-hash", None)
            if t == template:
                target = rs
        if target is None:
            hash_ = _suffix(json.dumps(template, sort_keys=True), 9)
            labels = dict((template.get("metadata") or {}).get("labels") or {})
            rs_t = copy.deepcopy(template)
            rs_t.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = hash_
            target = {
                "metadata": {
                    "name": f"{name}-{hash_}",
                    "namespace": ns,
                    "labels": {**labels, "pod-template-hash": hash_},
                    "annotations": {REVISION: revision, "deployment.kubernetes.io/desired-replicas": "0"},
                    "ownerReferences": [
                        {
                            "apiVersion": "apps/v1",
                            "kind": "Deployment",
                            "name": name,
                            "uid": md.get("uid", ""),
                            "controller": True,
                            "blockOwnerDeletion": True,
                        }
                    ],
                    "creationTimestamp": _fmt(self.now),
                    "uid": _uid(f"rs-{name}-{hash_}"),
                    "generation": 1,
                },
                "spec": {
                    "replicas": 0,
                    "selector": copy.deepcopy(dep["spec"]["selector"]),
                    "template": rs_t,
                },
                "status": {"replicas": 0, "observedGeneration": 1},
            }
            target["spec"]["selector"].setdefault("matchLabels", {})["pod-template-hash"] = hash_
        else:
            target["metadata"].setdefault("annotations", {})[REVISION] = revision
        self._put("ReplicaSet", target)
        self._rollout_started[(ns, name)] = self.now

    def advance(self, seconds: float, step: float = 5.0) -> None:
        """Move the simulated clock, running the controller every `step` seconds."""
        with self._lock:
            left = seconds
            while left > 0:
                dt = min(step, left)
                self.now += timedelta(seconds=dt)
                left -= dt
                self._reconcile()
            if seconds <= 0:
                self._reconcile()

    def jump(self, to: datetime) -> None:
        """Move the clock far ahead (hours, days): reconcile at the end only."""
        with self._lock:
            self.now = max(self.now, to)
            self._reconcile()

    def _reconcile(self) -> None:
        for dep in self.of_kind("Deployment"):
            if dep["metadata"]["namespace"] == "kube-system":
                continue
            self._hpa(dep)
            self._deployment(dep)
        self._endpoints()
        self._metrics()

    def _hpa(self, dep: dict[str, Any]) -> None:
        md = dep["metadata"]
        hpa = self.get("HorizontalPodAutoscaler", md["namespace"], md["name"])
        if hpa is None:
            return
        spec = hpa["spec"]
        target = 80
        for m in spec.get("metrics") or []:
            target = int(((m.get("resource") or {}).get("target") or {}).get("averageUtilization") or target)
        req = _cores(
            (
                (dep["spec"]["template"]["spec"]["containers"][0].get("resources") or {}).get("requests")
                or {}
            ).get("cpu")
        )
        current = int(dep["spec"].get("replicas") or 1)
        if req > 0:
            total = self.load.cpu_cores(md["name"], self.now, current) * current
            want = math.ceil(round(total / (target / 100.0 * req), 6))
        else:
            want = current
        desired = max(int(spec.get("minReplicas") or 1), min(int(spec["maxReplicas"]), want))
        util = 0
        if req > 0:
            util = round(self.load.cpu_cores(md["name"], self.now, current) / req * 100)
        changed = desired != current
        if changed:
            dep["spec"]["replicas"] = desired
            self._put("Deployment", dep)
        status = {
            "currentReplicas": current,
            "desiredReplicas": desired,
            "currentMetrics": [
                {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": util}}}
            ],
            "conditions": [
                {
                    "type": "ScalingActive",
                    "status": "True",
                    "reason": "ValidMetricFound",
                    "message": "the HPA was able to successfully calculate a replica count from cpu resource"
                    " utilization (percentage of request)",
                    "lastTransitionTime": hpa["metadata"].get("creationTimestamp"),
                }
            ],
        }
        if changed:
            status["lastScaleTime"] = _fmt(self.now)
        elif hpa.get("status", {}).get("lastScaleTime"):
            status["lastScaleTime"] = hpa["status"]["lastScaleTime"]
        if hpa.get("status") != status:
            hpa["status"] = status
            self._put("HorizontalPodAutoscaler", hpa)

    def _deployment(self, dep: dict[str, Any]) -> None:
        md = dep["metadata"]
        ns, name = md["namespace"], md["name"]
        desired = int(dep["spec"].get("replicas") or 0)
        current = self._current_rs(dep)
        if current is None:
            return
        rollout_started = (ns, name) in self._rollout_started
        # scale the new ReplicaSet to the desired count; old ones down as new pods become ready
        if (
            rollout_started
            or self._pods_of_rs(current)
            or desired != int(current["spec"].get("replicas") or 0)
        ):
            self._scale(current, desired)
        new_pods = self._pods_of_rs(current)
        new_ready = sum(1 for p in new_pods if _ready(p))
        for rs in self._rs_of(dep):
            if rs["metadata"]["name"] == current["metadata"]["name"]:
                continue
            pods = self._pods_of_rs(rs)
            keep = max(0, desired - new_ready) if pods else 0
            if len(pods) > keep or int(rs["spec"].get("replicas") or 0) != keep:
                self._scale(rs, keep)
        all_pods = [p for rs in self._rs_of(dep) for p in self._pods_of_rs(rs)]
        ready = sum(1 for p in all_pods if _ready(p))
        updated = len(new_pods)
        done = updated == desired and new_ready == desired and len(all_pods) == desired
        status = dict(dep.get("status") or {})
        status.update(
            observedGeneration=int(md.get("generation") or 1),
            replicas=len(all_pods),
            updatedReplicas=updated,
            readyReplicas=ready,
            availableReplicas=ready,
        )
        unavailable = max(0, len(all_pods) - ready)
        if unavailable:
            status["unavailableReplicas"] = unavailable
        else:
            status.pop("unavailableReplicas", None)
        for k in ("readyReplicas", "availableReplicas", "updatedReplicas"):
            if not status[k]:
                status.pop(k)
        conds = {c["type"]: c for c in status.get("conditions") or []}
        max_unavailable = math.floor(desired * 0.25)
        self._condition(
            conds,
            "Available",
            ready >= desired - max_unavailable,
            "MinimumReplicasAvailable"
            if ready >= desired - max_unavailable
            else "MinimumReplicasUnavailable",
            "Deployment has minimum availability."
            if ready >= desired - max_unavailable
            else "Deployment does not have minimum availability.",
        )
        started = self._rollout_started.get((ns, name))
        rs_name = current["metadata"]["name"]
        if started is not None:
            deadline = int(dep["spec"].get("progressDeadlineSeconds") or 600)
            if done:
                self._condition(
                    conds,
                    "Progressing",
                    True,
                    "NewReplicaSetAvailable",
                    f'ReplicaSet "{rs_name}" has successfully progressed.',
                )
                del self._rollout_started[(ns, name)]
            elif (self.now - started).total_seconds() > deadline:
                self._condition(
                    conds,
                    "Progressing",
                    False,
                    "ProgressDeadlineExceeded",
                    f'ReplicaSet "{rs_name}" has timed out progressing.',
                )
            else:
                self._condition(
                    conds, "Progressing", True, "ReplicaSetUpdated", f'ReplicaSet "{rs_name}" is progressing.'
                )
        status["conditions"] = [conds[k] for k in ("Available", "Progressing") if k in conds]
        if status != dep.get("status"):
            dep["status"] = status
            self._put("Deployment", dep)

    def _condition(self, conds: dict[str, Any], type_: str, ok: bool, reason: str, message: str) -> None:
        old = conds.get(type_)
        status = "True" if ok else "False"
        now = _fmt(self.now)
        if old and old.get("status") == status and old.get("reason") == reason:
            if old.get("message") != message:
                old = {**old, "message": message, "lastUpdateTime": now}
                conds[type_] = old
            return
        conds[type_] = {
            "type": type_,
            "status": status,
            "reason": reason,
            "message": message,
            "lastTransitionTime": now,
            "lastUpdateTime": now,
        }

    def _scale(self, rs: dict[str, Any], replicas: int) -> None:
        pods = self._pods_of_rs(rs)
        ns = rs["metadata"]["namespace"]
        if len(pods) > replicas:
            # not-ready pods go first, then the newest
            order = sorted(pods, key=lambda p: (_ready(p), p["metadata"].get("creationTimestamp", "")))
            for p in order[: len(pods) - replicas]:
                self._delete("Pod", ns, p["metadata"]["name"])
                self._pods.pop((ns, p["metadata"]["name"]), None)
                self._delete("PodMetrics", ns, p["metadata"]["name"])
        i = 0
        while len(self._pods_of_rs(rs)) < replicas:
            self._new_pod(rs, i)
            i += 1
        for p in self._pods_of_rs(rs):
            if (ns, p["metadata"]["name"]) in self._pods:
                self._pod_status(p)
        ready = sum(1 for p in self._pods_of_rs(rs) if _ready(p))
        count = len(self._pods_of_rs(rs))
        st = {"replicas": count, "observedGeneration": int(rs["metadata"].get("generation") or 1)}
        if count:
            st["fullyLabeledReplicas"] = count
        if ready:
            st["readyReplicas"] = ready
            st["availableReplicas"] = ready
        changed = int(rs["spec"].get("replicas") or 0) != replicas or rs.get("status") != st
        rs["spec"]["replicas"] = replicas
        rs["status"] = st
        if changed:
            self._put("ReplicaSet", rs)

    def _new_pod(self, rs: dict[str, Any], index: int) -> None:
        ns = rs["metadata"]["namespace"]
        base = rs["metadata"]["name"]
        n = 0
        while True:
            name = f"{base}-{_suffix(f'{base}/{index}/{n}/{_fmt(self.now)}', 5)}"
            if self.get("Pod", ns, name) is None:
                break
            n += 1
        template = copy.deepcopy(rs["spec"]["template"])
        spec = template["spec"]
        spec.setdefault("nodeName", "minikube")
        pod = {
            "metadata": {
                "name": name,
                "namespace": ns,
                "labels": dict((template.get("metadata") or {}).get("labels") or {}),
                "annotations": dict((template.get("metadata") or {}).get("annotations") or {}),
                "creationTimestamp": _fmt(self.now),
                "uid": _uid(f"pod-{ns}-{name}"),
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "name": base,
                        "uid": rs["metadata"].get("uid", ""),
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": spec,
            "status": {"phase": "Pending"},
        }
        fate, detail = self._fate(pod)
        self._pods[(ns, name)] = _PodSim(self.now, fate, detail)
        self._put("Pod", pod)
        self._pod_status(pod)

    def _fate(self, pod: dict[str, Any]) -> tuple[str, str]:
        ns = pod["metadata"]["namespace"]
        c = pod["spec"]["containers"][0]
        for env in c.get("env") or []:
            ref = (env.get("valueFrom") or {}).get("configMapKeyRef")
            if ref and not ref.get("optional"):
                cm = self.get("ConfigMap", ns, ref["name"])
                if cm is None or ref["key"] not in (cm.get("data") or {}):
                    return "config", f"couldn't find key {ref['key']} in ConfigMap {ns}/{ref['name']}"
        image = str(c.get("image") or "")
        if image in BROKEN_IMAGES:
            return "crash", BROKEN_IMAGES[image]
        workload = str((pod["metadata"].get("labels") or {}).get("app.kubernetes.io/instance") or "")
        limit = _mib(((c.get("resources") or {}).get("limits") or {}).get("memory"))
        if limit is not None and limit < peak_memory_mib(workload):
            return "oom", f"working set {peak_memory_mib(workload):.0f}Mi > limit {limit:.0f}Mi"
        return "ok", ""

    def _pod_status(self, pod: dict[str, Any]) -> None:
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        sim = self._pods.get((ns, name))
        if sim is None:
            return
        c = pod["spec"]["containers"][0]
        age = (self.now - sim.created).total_seconds()
        created = sim.created
        base_status: dict[str, Any] = {
            "hostIP": "192.168.49.2",
            "podIP": "10.244.0." + str(20 + int(hashlib.sha256(name.encode()).hexdigest()[:2], 16) % 200),
            "qosClass": "Burstable",
            "startTime": _fmt(created),
        }
        cs: dict[str, Any] = {
            "name": c["name"],
            "image": c.get("image"),
            "imageID": "",
            "containerID": "",
            "restartCount": 0,
            "started": False,
            "ready": False,
        }
        ready = False
        phase = "Pending"
        events: list[tuple[str, str, str, datetime, int]] = []  # reason, type, message, first, count
        if age < START_S and sim.fate != "config":
            cs["state"] = {"waiting": {"reason": "ContainerCreating"}}
        elif sim.fate == "config":
            cs["state"] = {"waiting": {"reason": "CreateContainerConfigError", "message": sim.detail}}
            count = max(1, int(age // 10) + 1)
            events.append(
                ("Failed", "Warning", f"Error: {sim.detail}", created + timedelta(seconds=1), count)
            )
        elif sim.fate == "ok":
            phase = "Running"
            started_at = created + timedelta(seconds=START_S)
            probe = c.get("readinessProbe") or {}
            ready_after = (
                START_S
                + float(probe.get("initialDelaySeconds") or 0)
                + float(probe.get("periodSeconds") or 5)
            )
            ready = age >= ready_after
            cs.update(
                state={"running": {"startedAt": _fmt(started_at)}},
                started=True,
                ready=ready,
                containerID=f"containerd://{_suffix(name, 16)}",
                imageID=f"docker.io/library/{c.get('image')}",
            )
            self.logs[(ns, name, c["name"], False)] = _ok_log(name)
        else:
            run = OOM_RUN_S if sim.fate == "oom" else CRASH_RUN_S
            t = START_S
            restarts = 0
            last_term: tuple[float, float] | None = None
            state: dict[str, Any]
            while True:
                end = t + run
                if age < end:
                    state = {"running": {"startedAt": _fmt(created + timedelta(seconds=t))}}
                    phase = "Running"
                    break
                last_term = (t, end)
                restarts += 1
                backoff = min(10.0 * 2 ** (restarts - 1), 300.0)
                if age < end + backoff:
                    state = {
                        "waiting": {
                            "reason": "CrashLoopBackOff",
                            "message": f"back-off {int(backoff)}s restarting failed container={c['name']} "
                            f"pod={name}_{ns}({pod['metadata']['uid']})",
                        }
                    }
                    phase = "Running"
                    break
                t = end + backoff
            cs.update(
                state=state,
                restartCount=restarts,
                containerID=f"containerd://{_suffix(name + str(restarts), 16)}",
                imageID=f"docker.io/library/{c.get('image')}",
                started="running" in state,
            )
            if last_term is not None:
                reason, code = ("OOMKilled", 137) if sim.fate == "oom" else ("Error", 1)
                cs["lastState"] = {
                    "terminated": {
                        "reason": reason,
                        "exitCode": code,
                        "startedAt": _fmt(created + timedelta(seconds=last_term[0])),
                        "finishedAt": _fmt(created + timedelta(seconds=last_term[1])),
                        "containerID": f"containerd://{_suffix(name + str(restarts - 1), 16)}",
                    }
                }
                first = created + timedelta(seconds=START_S + run)
                events.append(
                    (
                        "BackOff",
                        "Warning",
                        f"Back-off restarting failed container {c['name']} in pod "
                        f"{name}_{ns}({pod['metadata']['uid']})",
                        first,
                        restarts,
                    )
                )
                self.logs[(ns, name, c["name"], True)] = (
                    _oom_log(name) if sim.fate == "oom" else _crash_log(sim.detail)
                )
        conditions = [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": _fmt(created)},
            {"type": "Initialized", "status": "True", "lastTransitionTime": _fmt(created)},
            {"type": "ContainersReady", "status": str(ready), "lastTransitionTime": _fmt(created)},
            {"type": "Ready", "status": str(ready), "lastTransitionTime": _fmt(created)},
        ]
        if not ready:
            for cond in conditions[2:]:
                cond["reason"] = "ContainersNotReady"
                cond["message"] = f"containers with unready status: [{c['name']}]"
        status = {**base_status, "phase": phase, "conditions": conditions, "containerStatuses": [cs]}
        if status != pod.get("status"):
            pod["status"] = status
            self._put("Pod", pod)
        for reason, type_, message, first, count in events:
            self._event(pod, reason, type_, message, first=first, count=count)

    def _event(
        self, pod: dict[str, Any], reason: str, type_: str, message: str, *, first: datetime, count: int
    ) -> None:
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        ev_name = f"{name}.{hashlib.sha256(reason.encode()).hexdigest()[:16]}"
        old = self.get("Event", ns, ev_name)
        if old is not None and old.get("count") == count:
            return
        c = pod["spec"]["containers"][0]
        self._put(
            "Event",
            {
                "metadata": {"name": ev_name, "namespace": ns, "creationTimestamp": _fmt(first)},
                "involvedObject": {
                    "kind": "Pod",
                    "namespace": ns,
                    "name": name,
                    "uid": pod["metadata"].get("uid", ""),
                    "apiVersion": "v1",
                    "fieldPath": f"spec.containers{{{c['name']}}}",
                },
                "reason": reason,
                "message": message,
                "type": type_,
                "count": count,
                "firstTimestamp": _fmt(first),
                "lastTimestamp": _fmt(self.now),
                "source": {"component": "kubelet", "host": "minikube"},
                "reportingComponent": "kubelet",
                "reportingInstance": "minikube",
            },
        )

    def _endpoints(self) -> None:
        for svc in self.of_kind("Service"):
            ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
            sel = (svc.get("spec") or {}).get("selector")
            if not sel or ns == "kube-system":
                continue
            ep = self.get("Endpoints", ns, name)
            if ep is None:
                continue
            ready: list[dict[str, Any]] = []
            not_ready: list[dict[str, Any]] = []
            for p in self.of_kind("Pod", ns):
                labels = p["metadata"].get("labels") or {}
                if (
                    all(labels.get(k) == v for k, v in sel.items())
                    and p["metadata"]["name"]
                    and "podIP" in (p.get("status") or {})
                ):
                    addr = {
                        "ip": p["status"]["podIP"],
                        "nodeName": "minikube",
                        "targetRef": {"kind": "Pod", "namespace": ns, "name": p["metadata"]["name"]},
                    }
                    (ready if _ready(p) else not_ready).append(addr)
            ports = [
                {
                    "name": pt.get("name", "http"),
                    "port": pt.get("targetPort") if isinstance(pt.get("targetPort"), int) else pt.get("port"),
                    "protocol": "TCP",
                }
                for pt in (svc.get("spec") or {}).get("ports") or []
            ]
            subset: dict[str, Any] = {"ports": ports}
            if ready:
                subset["addresses"] = ready
            if not_ready:
                subset["notReadyAddresses"] = not_ready
            subsets = [subset] if ready or not_ready else []
            if ep.get("subsets") != subsets:
                ep = copy.deepcopy(ep)
                ep["subsets"] = subsets
                self._put("Endpoints", ep)

    def _metrics(self) -> None:
        for (ns, _name), pod in list(self.objects["Pod"].items()):
            if ns == "kube-system" or (pod.get("status") or {}).get("phase") != "Running":
                continue
            workload = str((pod["metadata"].get("labels") or {}).get("app.kubernetes.io/instance") or "")
            running = [
                p
                for p in self.of_kind("Pod", ns)
                if (p["metadata"].get("labels") or {}).get("app.kubernetes.io/instance") == workload
                and _ready(p)
            ]
            n = max(1, len(running))
            c = pod["spec"]["containers"][0]
            sim = self._pods.get((ns, pod["metadata"]["name"]))
            mem = self.load.memory_bytes(workload, self.now, n)
            if sim is not None and sim.fate == "oom":
                mem = min(
                    mem,
                    (_mib(((c.get("resources") or {}).get("limits") or {}).get("memory")) or 512)
                    * 1048576
                    * 0.97,
                )
            cpu = self.load.cpu_cores(workload, self.now, n)
            m = {
                "metadata": {
                    "name": pod["metadata"]["name"],
                    "namespace": ns,
                    "labels": dict(pod["metadata"].get("labels") or {}),
                    "creationTimestamp": _fmt(self.now),
                },
                "timestamp": _fmt(self.now),
                "window": "15s",
                "containers": [
                    {
                        "name": c["name"],
                        "usage": {"cpu": f"{round(cpu * 1e9)}n", "memory": f"{round(mem / 1024)}Ki"},
                    }
                ],
            }
            self.objects["PodMetrics"][(ns, pod["metadata"]["name"])] = m

    # ---- views for the demo's printout -------------------------------------------------------
    def pods_line(self, namespace: str, release: str) -> str:
        out = []
        for p in self.of_kind("Pod", namespace):
            if (p["metadata"].get("labels") or {}).get("app.kubernetes.io/instance") != release:
                continue
            cs = ((p.get("status") or {}).get("containerStatuses") or [{}])[0]
            state = cs.get("state") or {}
            what = (
                "Ready"
                if _ready(p)
                else (
                    (state.get("waiting") or {}).get("reason")
                    or ("Running" if "running" in state else p["status"].get("phase", "?"))
                )
            )
            restarts = cs.get("restartCount") or 0
            out.append(f"{p['metadata']['name']} {what}" + (f" ({restarts} restarts)" if restarts else ""))
        return ", ".join(out) or "no pods"

    # ---- HTTP -----------------------------------------------------------------------------
    def start(self) -> SimCluster:
        sim = self

        class Handler(_Handler):
            cluster = sim

        self._server = _HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True, name="aiops-demo-simcluster").start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        assert self._server is not None, "simulated cluster not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def write_kubeconfig(self, path: Path, *, context: str) -> Path:
        path.write_text(
            "# kubeconfig of the SIMULATED cluster of `aiops demo` (an in-process API server)\n"
            "apiVersion: v1\nkind: Config\n"
            f"clusters:\n- name: {context}\n  cluster:\n    server: {self.url}\n"
            f"users:\n- name: demo\n  user:\n    token: simulated\n"
            f"contexts:\n- name: {context}\n  context:\n    cluster: {context}\n    user: demo\n"
            f"current-context: {context}\n",
            encoding="utf-8",
        )
        return path

    def handle(self, method: str, raw: str) -> tuple[int, str, bytes]:
        parts = urlsplit(raw)
        path = parts.path.rstrip("/")
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        if method != "GET":
            return _status(
                405,
                "MethodNotAllowed",
                f"the simulated cluster is changed through git only ({method} {path})",
            )
        if path == "/version":
            version = {
                "major": "1",
                "minor": "31",
                "gitVersion": "v1.31.0-simulated",
                "platform": "linux/amd64",
            }
            return 200, "application/json", json.dumps(version).encode()
        segs = path.split("/")[1:]
        if segs[:2] == ["api", "v1"]:
            gv, rest = "v1", segs[2:]
        elif len(segs) >= 3 and segs[0] == "apis":
            gv, rest = f"{segs[1]}/{segs[2]}", segs[3:]
        else:
            return _status(404, "NotFound", f"the server could not find the requested resource ({path})")
        ns: str | None = None
        if len(rest) >= 2 and rest[0] == "namespaces" and len(rest) != 2:
            ns, rest = rest[1], rest[2:]
        if not rest or (gv, rest[0]) not in _INFO:
            return _status(404, "NotFound", f"the server could not find the requested resource ({path})")
        kind, _namespaced = _INFO[(gv, rest[0])]
        with self._lock:
            if len(rest) == 3 and rest[2] == "log" and kind == "Pod":
                return self._log(ns or "", rest[1], query)
            if len(rest) == 2:
                obj = self.get(kind, ns or "", rest[1])
                if obj is None:
                    return _status(404, "NotFound", f'{rest[0]} "{rest[1]}" not found')
                return 200, "application/json", json.dumps({"kind": kind, "apiVersion": gv, **obj}).encode()
            items = self.of_kind(kind, ns)
            body: dict[str, Any] = {
                "kind": f"{kind}List",
                "apiVersion": gv,
                "metadata": {"resourceVersion": str(self._rv)},
                "items": items,
            }
            return 200, "application/json", json.dumps(body).encode()

    def _log(self, ns: str, pod: str, query: Mapping[str, str]) -> tuple[int, str, bytes]:
        obj = self.get("Pod", ns, pod)
        if obj is None:
            return _status(404, "NotFound", f'pods "{pod}" not found')
        container = query.get("container") or obj["spec"]["containers"][0]["name"]
        previous = query.get("previous") in ("true", "1")
        text = self.logs.get((ns, pod, container, previous))
        if text is None:
            if previous:
                return _status(
                    400, "BadRequest", f'previous terminated container "{container}" in pod "{pod}" not found'
                )
            text = ""
        tail = query.get("tailLines")
        if tail and tail.isdigit():
            lines = text.splitlines(keepends=True)
            text = "".join(lines[-int(tail) :]) if int(tail) > 0 else ""
        return 200, "text/plain", text.encode()


class _HTTPServer(ThreadingHTTPServer):
    """A thread per connection, and a listen backlog like a real API server's: the stdlib default
    of 5 drops the connections a client opens at once (16 log readers, 6 list readers), and each
    dropped one stalls ~1 s on a TCP SYN retransmit."""

    daemon_threads = True
    request_queue_size = 128


class _Handler(BaseHTTPRequestHandler):
    cluster: SimCluster
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._serve("GET")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        code, ctype, body = self.cluster.handle(method, self.path)
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Date", format_datetime(self.cluster.now.astimezone(UTC), usegmt=True))
        self.end_headers()
        self.wfile.write(body)

    def send_response(self, code: int, message: str | None = None) -> None:
        # the Date header is the simulated clock's (sent by _serve), not the wall clock's
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Server", "aiops-demo-simulated-cluster")


def _status(code: int, reason: str, message: str) -> tuple[int, str, bytes]:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    return code, "application/json", json.dumps(body).encode()


def _ready(pod: Mapping[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def _uid(seed: str) -> str:
    h = hashlib.sha256(seed.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _configmaps_read(template: Mapping[str, Any]) -> list[str]:
    names: list[str] = []
    for c in (template.get("spec") or {}).get("containers") or []:
        for env in c.get("env") or []:
            ref = (env.get("valueFrom") or {}).get("configMapKeyRef")
            if ref and ref.get("name") not in names:
                names.append(str(ref["name"]))
        for src in c.get("envFrom") or []:
            ref = src.get("configMapRef")
            if ref and ref.get("name") not in names:
                names.append(str(ref["name"]))
    return names


def _hpa_spec_differs(hpa: Mapping[str, Any], auto: Mapping[str, Any]) -> bool:
    spec = hpa.get("spec") or {}
    target = None
    for m in spec.get("metrics") or []:
        target = ((m.get("resource") or {}).get("target") or {}).get("averageUtilization")
    return (spec.get("minReplicas"), spec.get("maxReplicas"), target) != (
        auto.get("minReplicas"),
        auto.get("maxReplicas"),
        auto.get("targetCPUUtilizationPercentage"),
    )


def _res_text(res: Any) -> str:
    if not isinstance(res, Mapping):
        return "none"
    req = res.get("requests") or {}
    lim = res.get("limits") or {}
    parts = [f"req cpu {req.get('cpu', '-')}", f"mem {req.get('memory', '-')}"]
    if lim:
        parts.append("limit " + " ".join(f"{k} {v}" for k, v in sorted(lim.items())))
    return "(" + ", ".join(parts) + ")"


def _ok_log(pod: str) -> str:
    return (
        "INFO:     Started server process [1]\nINFO:     Application startup complete.\n"
        f'INFO:     10.244.0.1:40022 - "GET /readyz HTTP/1.1" 200 OK\n# simulated log of {pod}\n'
    )


def _oom_log(pod: str) -> str:
    return (
        "INFO:     Started server process [1]\nINFO:     Application startup complete.\n"
        'INFO:     10.244.0.12:40112 - "POST /api/chat HTTP/1.1" 200 OK\n'
        "INFO:     chat: building context window for user 7 (3311 messages, embeddings cache 248 MiB)\n"
    )


def _crash_log(detail: str) -> str:
    return (
        "Traceback (most recent call last):\n"
        '  File "/app/main.py", line 3, in <module>\n'
        "    from todo.chat.v4 import router\n"
        f"{detail}\n"
    )
