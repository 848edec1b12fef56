"""What the recommender needs to know about each workload, read from a `Snapshot`.

Workloads (Deployment, StatefulSet, DaemonSet, and ReplicaSets without a Deployment), their
containers' current requests/limits and readiness probes, replicas, the HPA that scales them, the
OOMKills their pods show (with the memory limit at the kill), the largest node's allocatable, and
the map pod → workload used to attribute usage series (snapshot owner chains first, then pod-name
patterns for pods that no longer exist). Pure: reads only the Snapshot, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property

from aiops.errors import InputError
from aiops.model.k8s import K8sObject, ObjectRef, annotations_of, dig, meta, parse_time
from aiops.model.quantity import parse_cpu, parse_memory
from aiops.model.snapshot import Snapshot

SCALABLE = ("Deployment", "StatefulSet", "ReplicaSet")
SIZED = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet")
REVISION = "deployment.kubernetes.io/revision"


@dataclass(frozen=True)
class Resources:
    """Current requests/limits of one container in base units (cores, bytes); None when unset."""

    cpu_request: float | None = None
    memory_request: float | None = None
    cpu_limit: float | None = None
    memory_limit: float | None = None

    @classmethod
    def of(cls, container: K8sObject) -> Resources:
        res = container.get("resources") or {}
        req = res.get("requests") or {}
        lim = res.get("limits") or {}
        name = str(container.get("name", ""))

        def cpu(d: dict[str, object], part: str) -> float | None:
            v = d.get("cpu")
            return None if v is None else parse_cpu(v, field=f"container {name} resources.{part}.cpu")

        def mem(d: dict[str, object], part: str) -> float | None:
            v = d.get("memory")
            return None if v is None else parse_memory(v, field=f"container {name} resources.{part}.memory")

        # Kubernetes defaults a missing request to the limit.
        cpu_lim, mem_lim = cpu(lim, "limits"), mem(lim, "limits")
        cpu_req, mem_req = cpu(req, "requests"), mem(req, "requests")
        return cls(
            cpu_request=cpu_req if cpu_req is not None else cpu_lim,
            memory_request=mem_req if mem_req is not None else mem_lim,
            cpu_limit=cpu_lim,
            memory_limit=mem_lim,
        )


@dataclass(frozen=True)
class ContainerSpec:
    name: str
    resources: Resources
    readiness_probe: bool
    image: str


@dataclass(frozen=True)
class Hpa:
    """An HPA scaling a workload: bounds, CPU utilization target (None: no CPU target)."""

    ref: ObjectRef
    min_replicas: int
    max_replicas: int
    target_cpu: int | None
    current_replicas: int | None
    other_metrics: tuple[str, ...] = ()


@dataclass(frozen=True)
class OomKill:
    """A container OOMKilled (state or lastState), with the memory limit it had at the kill."""

    pod: str
    container: str
    limit: float | None
    at: datetime | None


@dataclass(frozen=True)
class Workload:
    ref: ObjectRef
    obj: K8sObject
    containers: tuple[ContainerSpec, ...]
    replicas: int
    hpa: Hpa | None
    pods: tuple[K8sObject, ...]
    ooms: tuple[OomKill, ...] = ()
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def stateless(self) -> bool:
        return self.ref.kind in ("Deployment", "ReplicaSet")

    @property
    def has_readiness_probes(self) -> bool:
        return bool(self.containers) and all(c.readiness_probe for c in self.containers)

    def container(self, name: str) -> ContainerSpec | None:
        return next((c for c in self.containers if c.name == name), None)

    def ooms_of(self, container: str, since: datetime | None) -> list[OomKill]:
        return [
            o
            for o in self.ooms
            if o.container == container and (since is None or o.at is None or o.at >= since)
        ]

    @property
    def ready_pods(self) -> int:
        return sum(1 for p in self.pods if _pod_ready(p))

    @property
    def healthy(self) -> bool:
        """Every pod Running and Ready, and at least one pod seen."""
        return bool(self.pods) and all(
            dig(p, "status", "phase") == "Running" and _pod_ready(p) for p in self.pods
        )


def _pod_ready(pod: K8sObject) -> bool:
    for cond in dig(pod, "status", "conditions", default=[]):
        if isinstance(cond, dict) and cond.get("type") == "Ready":
            return cond.get("status") == "True"
    return False


def _template_containers(obj: K8sObject) -> tuple[ContainerSpec, ...]:
    out: list[ContainerSpec] = []
    for c in dig(obj, "spec", "template", "spec", "containers", default=[]):
        if not isinstance(c, dict) or not c.get("name"):
            continue
        out.append(
            ContainerSpec(
                name=str(c["name"]),
                resources=Resources.of(c),
                readiness_probe=isinstance(c.get("readinessProbe"), dict),
                image=str(c.get("image", "")),
            )
        )
    return tuple(out)


def _hpa_of(obj: K8sObject) -> Hpa:
    spec = obj.get("spec") or {}
    target_cpu: int | None = None
    others: list[str] = []
    if isinstance(spec.get("targetCPUUtilizationPercentage"), int):
        target_cpu = int(spec["targetCPUUtilizationPercentage"])
    for m in spec.get("metrics") or ():
        if not isinstance(m, dict):
            continue
        res = m.get("resource") or m.get("containerResource") or {}
        util = dig(res, "target", "averageUtilization")
        if util is None:
            util = res.get("targetAverageUtilization")  # autoscaling/v2beta1
        if m.get("type") in ("Resource", "ContainerResource") and res.get("name") == "cpu" and util:
            target_cpu = int(util)
        else:
            others.append(str(res.get("name") or m.get("type") or "metric"))
    cur = dig(obj, "status", "currentReplicas")
    return Hpa(
        ref=ObjectRef.of(obj),
        min_replicas=int(spec.get("minReplicas") or 1),
        max_replicas=int(spec.get("maxReplicas") or 1),
        target_cpu=target_cpu,
        current_replicas=int(cur) if isinstance(cur, int) else None,
        other_metrics=tuple(others),
    )


def _ooms(pod: K8sObject) -> list[OomKill]:
    limits: dict[str, float | None] = {}
    for c in dig(pod, "spec", "containers", default=[]):
        if isinstance(c, dict):
            limits[str(c.get("name"))] = Resources.of(c).memory_limit
    out: list[OomKill] = []
    name = str(meta(pod).get("name", ""))
    for cs in dig(pod, "status", "containerStatuses", default=[]):
        if not isinstance(cs, dict):
            continue
        for part in ("state", "lastState"):
            term = dig(cs, part, "terminated")
            if isinstance(term, dict) and term.get("reason") == "OOMKilled":
                cname = str(cs.get("name", ""))
                out.append(OomKill(name, cname, limits.get(cname), parse_time(term.get("finishedAt"))))
    return out


@dataclass(frozen=True, eq=False)
class Inventory:
    """Every sized workload of a snapshot and the pod → workload map."""

    snapshot: Snapshot
    notes: list[str] = field(default_factory=list)  # workloads that could not be read, and why

    @cached_property
    def workloads(self) -> dict[ObjectRef, Workload]:
        snap = self.snapshot
        pods_by: dict[ObjectRef, list[K8sObject]] = {}
        for pod in snap.of_kind("Pod"):
            ref = self.owner_of_pod(pod)
            if ref is not None:
                pods_by.setdefault(ref, []).append(pod)
        hpas: dict[ObjectRef, Hpa] = {}
        for h in snap.of_kind("HorizontalPodAutoscaler"):
            tgt = dig(h, "spec", "scaleTargetRef", default={})
            ns = str(meta(h).get("namespace") or "")
            if isinstance(tgt, dict) and tgt.get("kind") and tgt.get("name"):
                hpas[ObjectRef(str(tgt["kind"]), ns, str(tgt["name"]))] = _hpa_of(h)
        out: dict[ObjectRef, Workload] = {}
        for kind in SIZED:
            for obj in snap.of_kind(kind):
                ref = ObjectRef.of(obj)
                if kind == "ReplicaSet" and snap.owner_chain(obj):
                    continue  # owned by a Deployment: sized there
                pods = tuple(pods_by.get(ref, ()))
                if kind == "DaemonSet":
                    replicas = int(dig(obj, "status", "desiredNumberScheduled", default=len(pods)) or 0)
                else:
                    spec_rep = dig(obj, "spec", "replicas")
                    replicas = int(spec_rep) if isinstance(spec_rep, int) else 1
                hpa = hpas.get(ref)
                if hpa is not None and hpa.current_replicas:
                    replicas = hpa.current_replicas
                try:
                    ooms = tuple(o for p in pods for o in _ooms(p))
                    containers = _template_containers(obj)
                except (InputError, ValueError, TypeError) as exc:
                    self.notes.append(f"{ref}: not sized: {exc}")
                    continue
                out[ref] = Workload(
                    ref=ref,
                    obj=obj,
                    containers=containers,
                    replicas=replicas,
                    hpa=hpa,
                    pods=pods,
                    ooms=ooms,
                    annotations=annotations_of(obj),
                )
        return out

    def owner_of_pod(self, pod: K8sObject) -> ObjectRef | None:
        ns = str(meta(pod).get("namespace") or "")
        chain = self.snapshot.owner_chain(pod)
        if not chain:
            return None
        top = chain[-1]
        if top.kind not in SIZED:
            return None
        return ObjectRef(top.kind, ns, top.name)

    @cached_property
    def _pod_index(self) -> dict[tuple[str, str], ObjectRef]:
        out: dict[tuple[str, str], ObjectRef] = {}
        for pod in self.snapshot.of_kind("Pod"):
            ref = self.owner_of_pod(pod)
            if ref is not None:
                out[(ref.namespace, str(meta(pod).get("name", "")))] = ref
        return out

    @cached_property
    def _patterns(self) -> dict[str, list[tuple[re.Pattern[str], ObjectRef]]]:
        """Per namespace, name patterns of the pods each workload creates; longest names first."""
        by_ns: dict[str, list[tuple[int, re.Pattern[str], ObjectRef]]] = {}
        for ref in self.workloads:
            name = re.escape(ref.name)
            if ref.kind == "Deployment":
                text = rf"{name}-[a-z0-9]{{5,10}}-[a-z0-9]{{5}}"
            elif ref.kind == "StatefulSet":
                text = rf"{name}-\d+"
            else:  # DaemonSet, bare ReplicaSet
                text = rf"{name}-[a-z0-9]{{5}}"
            by_ns.setdefault(ref.namespace, []).append((len(ref.name), re.compile(text), ref))
        # ReplicaSets of Deployments present in the snapshot (older revisions included)
        for rs in self.snapshot.of_kind("ReplicaSet"):
            chain = self.snapshot.owner_chain(rs)
            if chain and chain[-1].kind == "Deployment":
                ns = str(meta(rs).get("namespace") or "")
                dep = ObjectRef("Deployment", ns, chain[-1].name)
                if dep in self.workloads:
                    rsname = str(meta(rs).get("name", ""))
                    pat = re.compile(rf"{re.escape(rsname)}-[a-z0-9]{{5}}")
                    by_ns.setdefault(ns, []).append((len(rsname) + 1000, pat, dep))
        return {
            ns: [(p, r) for _n, p, r in sorted(items, key=lambda t: -t[0])] for ns, items in by_ns.items()
        }

    def workload_for_pod(self, namespace: str, pod: str) -> ObjectRef | None:
        """The workload a pod (present or gone) belonged to, or None when nothing matches."""
        ref = self._pod_index.get((namespace, pod))
        if ref is not None:
            return ref
        for pat, wref in self._patterns.get(namespace, ()):
            if pat.fullmatch(pod):
                return wref
        return None

    @cached_property
    def largest_node(self) -> tuple[float, float] | None:
        """(cpu cores, memory bytes) allocatable of the largest node, or None without nodes."""
        best: tuple[float, float] | None = None
        for node in self.snapshot.of_kind("Node"):
            alloc = dig(node, "status", "allocatable") or dig(node, "status", "capacity") or {}
            try:
                cpu = parse_cpu(alloc.get("cpu", 0), field="node allocatable.cpu")
                mem = parse_memory(alloc.get("memory", 0), field="node allocatable.memory")
            except Exception:
                continue
            if cpu <= 0 or mem <= 0:
                continue
            if best is None or (mem, cpu) > (best[1], best[0]):
                best = (cpu, mem)
        return best

    def has_pdb(self, workload: Workload) -> bool:
        """A PodDisruptionBudget whose matchLabels select the workload's pod template."""
        labels = dig(workload.obj, "spec", "template", "metadata", "labels", default={})
        if not isinstance(labels, dict) or not labels:
            return False
        for pdb in self.snapshot.of_kind("PodDisruptionBudget"):
            if str(meta(pdb).get("namespace") or "") != workload.ref.namespace:
                continue
            sel = dig(pdb, "spec", "selector", "matchLabels", default={})
            if isinstance(sel, dict) and sel and all(labels.get(k) == v for k, v in sel.items()):
                return True
        return False

    def namespace_annotations(self, namespace: str) -> dict[str, str]:
        ns = self.snapshot.get("Namespace", "", namespace)
        return annotations_of(ns) if ns is not None else {}

    def replicasets_of(self, deployment: ObjectRef) -> list[K8sObject]:
        """ReplicaSets of a Deployment, newest revision first."""
        out = []
        for rs in self.snapshot.of_kind("ReplicaSet"):
            if str(meta(rs).get("namespace") or "") != deployment.namespace:
                continue
            chain = self.snapshot.owner_chain(rs)
            if chain and chain[-1].kind == "Deployment" and chain[-1].name == deployment.name:
                out.append(rs)

        def rev(rs: K8sObject) -> int:
            try:
                return int(annotations_of(rs).get(REVISION, "0"))
            except ValueError:
                return 0

        return sorted(out, key=rev, reverse=True)


def window_start(at: datetime, days: float) -> datetime:
    return at - timedelta(days=days)
