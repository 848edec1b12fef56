"""Test data for the recommender: snapshots of sized workloads and usage series generated at run time.

`seed_usage()` reproduces rightsizing.md §9.7: 3 pods × 14 d @ 75 s with pooled P95 memory exactly
120Mi, peak 151.55Mi and P95 CPU exactly 100m (scaled so, since a linear percentile scales linearly).
`matrix()` writes Prometheus `query_range` JSON; `load_matrix()` is a tiny test-only reader of it
(the real sources live in aiops/metrics).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from factories import (
    T0,
    container,
    container_status,
    deployment,
    http_probe,
    kube_list,
    node,
    pod,
    replicaset,
    snapshot,
    validate,
)

from aiops.model.usage import ContainerSeries, Resource, UsageData

MI = 2**20
END = T0.timestamp()
DAY = 86400.0
SEED_PODS = ("todo-backend-7c9f6d5b8-4kq2z", "todo-backend-7c9f6d5b8-9xw7p", "todo-backend-7c9f6d5b8-b2m5n")


ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def suffix(i: int) -> str:
    """A pod-name suffix as the ReplicaSet controller makes them (5 chars of its alphabet)."""
    return "".join(ALPHABET[(i * 7 + j * 5 + j * j) % len(ALPHABET)] for j in range(5))


def workload(
    name: str = "todo-backend",
    *,
    namespace: str = "todo",
    replicas: int = 3,
    cname: str = "backend",
    cpu: str | None = "500m",
    memory: str | None = "512Mi",
    limit_cpu: str | None = None,
    limit_memory: str | None = "512Mi",
    readiness: bool = True,
    rs_hash: str = "7c9f6d5b8",
    pods: Sequence[str] | None = None,
    last_state: dict[str, Any] | None = None,
    image: str = "ghcr.io/example/todo-backend:1.4.2",
    annotations: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Deployment + ReplicaSet + Running/Ready pods of one container."""
    ctr = container(
        cname,
        image,
        requests_cpu=cpu,
        requests_memory=memory,
        limits_cpu=limit_cpu,
        limits_memory=limit_memory,
        readiness=http_probe() if readiness else None,
    )
    dep = deployment(name, namespace, replicas=replicas, containers=[ctr])
    if annotations:
        dep["metadata"].setdefault("annotations", {}).update(annotations)
    rs = replicaset(f"{name}-{rs_hash}", namespace, replicas=replicas, containers=[ctr])
    names = list(pods) if pods is not None else [f"{name}-{rs_hash}-{suffix(i)}" for i in range(replicas)]
    items: list[dict[str, Any]] = [dep, rs]
    for pname in names:
        statuses = [
            container_status(cname, image, last_state=last_state, restart_count=1 if last_state else 0)
        ]
        items.append(
            pod(
                pname,
                namespace,
                containers=[ctr],
                owner=("ReplicaSet", f"{name}-{rs_hash}"),
                container_statuses=statuses,
            )
        )
    return items


def hpa(
    target: str, *, namespace: str = "todo", min_r: int = 2, max_r: int = 6, cpu: int = 70, current: int = 3
) -> dict[str, Any]:
    from factories import metadata

    return validate(
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": metadata("HorizontalPodAutoscaler", target, namespace),
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
                "minReplicas": min_r,
                "maxReplicas": max_r,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": cpu},
                        },
                    }
                ],
            },
            "status": {"currentReplicas": current, "desiredReplicas": current},
        }
    )


def seed_snapshot(extra: Iterable[dict[str, Any]] = (), **kw: Any) -> Any:
    items = [*workload(pods=SEED_PODS, **kw), node(), *extra]
    return snapshot(*items, at=T0)


def series(
    pods: Sequence[str],
    values: Sequence[Any],
    resource: Resource,
    *,
    step: float,
    namespace: str = "todo",
    container_name: str = "backend",
    end: float = END,
) -> list[ContainerSeries]:
    out = []
    for p, v in zip(pods, values):
        v = np.asarray(v, dtype=np.float64)
        ts = end - step * (v.size - 1) + step * np.arange(v.size, dtype=np.float64)
        out.append(ContainerSeries(namespace, p, container_name, resource, ts, v))
    return out


def seed_values(n: int, *, seed: int = 7) -> tuple[list[Any], list[Any]]:
    """Per-pod CPU and memory arrays (n samples each) with pooled P95 100m / 120Mi, peak 151.55Mi."""
    rng = np.random.default_rng(seed)
    mem = rng.normal(105.0, 8.0, size=(3, n))
    cpu = rng.normal(0.080, 0.010, size=(3, n))
    mem *= 120.0 / np.percentile(mem.ravel(), 95)
    cpu *= 0.100 / np.percentile(cpu.ravel(), 95)
    mem *= MI
    i = np.unravel_index(np.argmax(mem), mem.shape)
    mem[i] = 151.55 * MI  # the peak (the max sample stays above P95, so P95 is unchanged)
    assert abs(np.percentile(mem.ravel(), 95) - 120 * MI) < 1e-3
    return list(cpu), list(mem)


def seed_usage(n: int = 14 * 24 * 48, step: float = 75.0) -> UsageData:
    """3 pods × 14 d @ 75 s (16,128 samples each)."""
    cpu, mem = seed_values(n)
    return UsageData(
        series=tuple(series(SEED_PODS, cpu, "cpu", step=step) + series(SEED_PODS, mem, "memory", step=step)),
        sources=("test",),
    )


# ---- Prometheus matrix JSON ---------------------------------------------------------------------
def matrix(items: Iterable[ContainerSeries]) -> dict[str, Any]:
    return {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [
                {
                    "metric": {"namespace": s.namespace, "pod": s.pod, "container": s.container},
                    "values": [[float(t), repr(float(v))] for t, v in zip(s.timestamps, s.values)],
                }
                for s in items
            ],
        },
    }


def load_matrix(doc: dict[str, Any], resource: Resource) -> list[ContainerSeries]:
    """Test-only reader of a query_range matrix."""
    assert doc["data"]["resultType"] == "matrix"
    out = []
    for r in doc["data"]["result"]:
        m = r["metric"]
        ts = np.array([float(t) for t, _ in r["values"]])
        vs = np.array([float(v) for _, v in r["values"]])
        out.append(ContainerSeries(m["namespace"], m["pod"], m["container"], resource, ts, vs))
    return out


def write_json(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc, indent=None, separators=(",", ":")) + "\n", encoding="utf-8")
    return path


def snapshot_file(path: Path, items: Iterable[dict[str, Any]]) -> Path:
    return write_json(path, kube_list(items))
