"""Pre/post metrics of one Helm release (DESIGN §1 step 5): what `aiops apply` and `validate` compare.

`measure_release(snapshot, release, namespace)` reads the release's Deployments and pods out of a
`Snapshot` (a live read, PodMetrics from metrics.k8s.io included): desired / ready / available /
updated replicas per Deployment, per pod the restarts and OOM kills (so a verdict counts only what
happened after the pre measurement), and CPU / memory usage (PodMetrics) against the pods' requests.
`PrometheusProbe` adds p95 latency and error rate from instant queries when `prometheus.url` is
set (the query templates follow the common `http_requests_total` / `http_request_duration_seconds`
conventions and may be overridden); a failing query becomes a note, never an exception.
The workloads of a release are those labelled `app.kubernetes.io/instance=<release>` or annotated
`meta.helm.sh/release-name=<release>` (helm create conventions).

The result is a plain JSON-safe mapping (it goes into the execution record's `pre_metrics` /
`post_metrics`); the verdict over two of them is pure (`aiops.recommend.verdict`). Never writes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiops.model import Snapshot, format_time
from aiops.model.k8s import K8sObject, annotations_of, dig, labels_of, name_of, namespace_of
from aiops.model.quantity import parse_cpu, parse_memory

INSTANCE_LABEL = "app.kubernetes.io/instance"
RELEASE_ANNOTATION = "meta.helm.sh/release-name"
MIB = 1024 * 1024

ERROR_RATE_QUERY = (
    'sum(rate(http_requests_total{{namespace="{namespace}",{selector},code=~"5.."}}[5m]))'
    ' / sum(rate(http_requests_total{{namespace="{namespace}",{selector}}}[5m]))'
)
LATENCY_QUERY = (
    "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket"
    '{{namespace="{namespace}",{selector}}}[5m]))) * 1000'
)


def _of_release(obj: K8sObject, release: str) -> bool:
    return (
        labels_of(obj).get(INSTANCE_LABEL) == release
        or annotations_of(obj).get(RELEASE_ANNOTATION) == release
    )


def _pod_of_release(pod: K8sObject, release: str, deployments: Sequence[K8sObject]) -> bool:
    if _of_release(pod, release):
        return True
    labels = labels_of(pod)
    for dep in deployments:
        sel = dig(dep, "spec", "selector", "matchLabels")
        if isinstance(sel, Mapping) and sel and all(labels.get(k) == v for k, v in sel.items()):
            return True
    return False


def _oom_kills(pod: K8sObject) -> int:
    n = 0
    for cs in dig(pod, "status", "containerStatuses") or []:
        for state in ("lastState", "state"):
            term = dig(cs, state, "terminated")
            if isinstance(term, Mapping) and term.get("reason") == "OOMKilled":
                n += 1
                break
    return n


def _restarts(pod: K8sObject) -> int:
    return sum(int(cs.get("restartCount") or 0) for cs in dig(pod, "status", "containerStatuses") or [])


def _ready(pod: K8sObject) -> bool:
    for c in dig(pod, "status", "conditions") or []:
        if c.get("type") == "Ready":
            return bool(c.get("status") == "True")
    return False


def _requests(pod: K8sObject) -> tuple[float, float]:
    cpu = mem = 0.0
    for c in dig(pod, "spec", "containers") or []:
        req = dig(c, "resources", "requests") or {}
        if req.get("cpu") is not None:
            cpu += parse_cpu(req["cpu"])
        if req.get("memory") is not None:
            mem += parse_memory(req["memory"])
    return cpu, mem


def _usage(pod_metrics: K8sObject | None) -> tuple[float, float] | None:
    if pod_metrics is None:
        return None
    cpu = mem = 0.0
    for c in pod_metrics.get("containers") or []:
        usage = c.get("usage") or {}
        if usage.get("cpu") is not None:
            cpu += parse_cpu(usage["cpu"])
        if usage.get("memory") is not None:
            mem += parse_memory(usage["memory"])
    return cpu, mem


def measure_release(
    snapshot: Snapshot, release: str, namespace: str, *, prometheus: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The release's replicas, per-pod restarts/OOM kills and usage vs requests at `snapshot.at`."""
    deployments = [
        d for d in snapshot.of_kind("Deployment") if namespace_of(d) == namespace and _of_release(d, release)
    ]
    workloads: dict[str, dict[str, int]] = {}
    for d in sorted(deployments, key=name_of):
        status = d.get("status") or {}
        spec_replicas = dig(d, "spec", "replicas")
        workloads[f"Deployment/{name_of(d)}"] = {
            "desired": int(spec_replicas) if isinstance(spec_replicas, int) else 1,
            "ready": int(status.get("readyReplicas") or 0),
            "available": int(status.get("availableReplicas") or 0),
            "updated": int(status.get("updatedReplicas") or 0),
        }
    metrics_by_pod = {name_of(m): m for m in snapshot.of_kind("PodMetrics") if namespace_of(m) == namespace}
    pods: dict[str, dict[str, Any]] = {}
    cpu_use = mem_use = cpu_req = mem_req = 0.0
    measured = 0
    for pod in sorted(snapshot.of_kind("Pod"), key=name_of):
        if namespace_of(pod) != namespace or not _pod_of_release(pod, release, deployments):
            continue
        if dig(pod, "metadata", "deletionTimestamp") or dig(pod, "status", "phase") in (
            "Succeeded",
            "Failed",
        ):
            continue
        name = name_of(pod)
        pods[name] = {"ready": _ready(pod), "restarts": _restarts(pod), "oom_kills": _oom_kills(pod)}
        use = _usage(metrics_by_pod.get(name))
        if use is not None:
            c_req, m_req = _requests(pod)
            cpu_req += c_req
            mem_req += m_req
            cpu_use += use[0]
            mem_use += use[1]
            measured += 1
    out: dict[str, Any] = {
        "at": format_time(snapshot.at),
        "release": release,
        "namespace": namespace,
        "workloads": workloads,
        "pods": pods,
        "restarts": sum(p["restarts"] for p in pods.values()),
        "oom_kills": sum(p["oom_kills"] for p in pods.values()),
        "not_ready": sum(1 for p in pods.values() if not p["ready"]),
        "cpu": None,
        "memory": None,
        "latency_p95_ms": None,
        "error_rate": None,
        "sources": ["kubernetes"],
        "notes": [],
    }
    if measured:
        out["sources"].append("metrics.k8s.io")
        out["cpu"] = {
            "usage": round(cpu_use * 1000, 1),
            "requests": round(cpu_req * 1000, 1),
            "ratio": round(cpu_use / cpu_req, 3) if cpu_req else None,
            "unit": "m",
        }
        out["memory"] = {
            "usage": round(mem_use / MIB, 1),
            "requests": round(mem_req / MIB, 1),
            "ratio": round(mem_use / mem_req, 3) if mem_req else None,
            "unit": "Mi",
        }
    elif pods:
        out["notes"].append("no PodMetrics (metrics.k8s.io) for the release's pods: usage not measured")
    if prometheus:
        out["sources"].append("prometheus")
        out["latency_p95_ms"] = prometheus.get("latency_p95_ms")
        out["error_rate"] = prometheus.get("error_rate")
        out["notes"].extend(prometheus.get("notes") or [])
    return out


@dataclass
class PrometheusProbe:
    """Instant queries for a release's p95 latency (ms) and 5xx error rate; failures become notes."""

    url: str
    token: str | None = None
    ca_file: str | None = None
    timeout: float = 10.0
    error_rate_query: str = ERROR_RATE_QUERY
    latency_query: str = LATENCY_QUERY
    notes: list[str] = field(default_factory=list)

    def figures(self, release: str, namespace: str) -> dict[str, Any]:
        selector = f'{INSTANCE_LABEL.replace(".", "_").replace("/", "_")}="{release}"'
        values: dict[str, Any] = {"notes": []}
        for key, template in (("error_rate", self.error_rate_query), ("latency_p95_ms", self.latency_query)):
            query = template.format(namespace=namespace, selector=selector)
            value, problem = self._instant(query)
            values[key] = value
            if problem:
                values["notes"].append(f"prometheus {key}: {problem}")
        return values

    def _instant(self, query: str) -> tuple[float | None, str | None]:
        import math

        import requests

        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            resp = requests.get(
                self.url.rstrip("/") + "/api/v1/query",
                params={"query": query},
                headers=headers,
                timeout=self.timeout,
                verify=self.ca_file or True,
            )
        except requests.RequestException as exc:
            return None, f"unreachable ({type(exc).__name__})"
        if resp.status_code != 200:
            return None, f"HTTP {resp.status_code}"
        try:
            data = resp.json()
            result = data["data"]["result"]
        except (ValueError, KeyError, TypeError):
            return None, "answer is not a Prometheus query result"
        if not result:
            return None, "no data"
        try:
            value = float(result[0]["value"][1])
        except (KeyError, IndexError, TypeError, ValueError):
            return None, "answer has no sample value"
        if math.isnan(value) or math.isinf(value):
            return None, "no traffic (NaN)"
        return value, None
