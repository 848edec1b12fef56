"""The verdict over pre/post measurements (pure) and the measurement of a release from a snapshot."""

from __future__ import annotations

from typing import Any

import factories as f
import objfactories as of

from aiops.apply.gitops_engines import read_state
from aiops.apply.measure import measure_release
from aiops.recommend.verdict import judge, new_events


def m(
    *,
    available: int = 2,
    desired: int = 2,
    pods: dict[str, tuple[int, int]] | None = None,
    cpu: tuple[float, float] | None = None,
    memory: tuple[float, float] | None = None,
    error_rate: float | None = None,
    latency: float | None = None,
) -> dict[str, Any]:
    """A measurement as `measure_release` writes it; pods: name → (restarts, oom kills)."""
    pods = pods if pods is not None else {"a-1": (0, 0), "a-2": (0, 0)}
    return {
        "workloads": {
            "Deployment/todo-backend": {"desired": desired, "available": available, "ready": available}
        },
        "pods": {k: {"ready": True, "restarts": r, "oom_kills": o} for k, (r, o) in pods.items()},
        "cpu": {"usage": cpu[0], "requests": cpu[1], "unit": "m"} if cpu else None,
        "memory": {"usage": memory[0], "requests": memory[1], "unit": "Mi"} if memory else None,
        "error_rate": error_rate,
        "latency_p95_ms": latency,
    }


def test_same_measurement_is_unchanged() -> None:
    v = judge(m(), m())
    assert v.verdict == "unchanged"


def test_no_post_measurement_is_inconclusive() -> None:
    v = judge(m(), None)
    assert (v.verdict, v.reasons) == ("unchanged", ("inconclusive: no post-change measurement",))


def test_missing_replicas_after_the_change_regress() -> None:
    v = judge(m(), m(available=1))
    assert v.verdict == "regressed" and "1 of 2 wanted replicas not available" in v.reason


def test_replicas_back_is_an_improvement() -> None:
    assert judge(m(available=0), m()).verdict == "improved"


def test_restarts_count_per_pod_so_carried_counters_are_not_new() -> None:
    pre = m(pods={"a-1": (4, 0), "a-2": (0, 0)})
    assert new_events(pre, m(pods={"a-1": (4, 0), "a-2": (0, 0)}), "restarts") == 0
    assert new_events(pre, m(pods={"a-1": (5, 0), "a-2": (0, 0)}), "restarts") == 1
    assert new_events(pre, m(pods={"b-1": (2, 0)}), "restarts") == 2
    assert judge(pre, m(pods={"a-1": (4, 0), "a-2": (0, 0)})).verdict == "unchanged"
    assert judge(pre, m(pods={"a-1": (6, 0), "a-2": (0, 0)})).verdict == "regressed"


def test_new_oom_kills_regress_and_quiet_replacements_improve() -> None:
    pre = m(pods={"a-1": (3, 1), "a-2": (2, 1)})
    bad = judge(pre, m(pods={"b-1": (1, 1), "b-2": (0, 0)}))
    assert bad.verdict == "regressed" and "1 OOM kill(s) since the change" in bad.reasons
    good = judge(pre, m(pods={"b-1": (0, 0), "b-2": (0, 0)}))
    assert good.verdict == "improved" and "replaced by quiet ones" in good.reason


def test_error_rate_over_threshold_and_higher_regresses() -> None:
    assert judge(m(error_rate=0.01), m(error_rate=0.08)).verdict == "regressed"
    assert judge(m(error_rate=0.09), m(error_rate=0.08), error_rate_threshold=0.05).verdict == "unchanged"
    assert judge(m(error_rate=0.10), m(error_rate=0.02)).verdict == "improved"


def test_latency_growth_and_threshold() -> None:
    assert judge(m(latency=100), m(latency=200)).verdict == "regressed"
    assert judge(m(latency=100), m(latency=120)).verdict == "unchanged"  # +20 %: within noise
    assert judge(m(latency=100), m(latency=140), latency_p95_ms_threshold=120).verdict == "regressed"
    assert judge(m(latency=300), m(latency=150)).verdict == "improved"


def test_requests_cut_with_usage_within_is_an_improvement() -> None:
    v = judge(m(cpu=(120, 500), memory=(150, 512)), m(cpu=(120, 200), memory=(150, 256)))
    assert v.verdict == "improved"
    assert "cpu requests cut from 500m to 200m, usage within" in v.reasons
    assert judge(m(cpu=(120, 500)), m(cpu=(260, 200))).verdict == "unchanged"  # usage over the new request


def test_measure_release_reads_replicas_pods_and_pod_metrics() -> None:
    labels = {"app.kubernetes.io/instance": "todo-backend"}
    ctr = f.container("backend", requests_cpu="250m", requests_memory="256Mi")
    dep = of.deployment("todo-backend", replicas=2, ready=1, available=1, containers=[ctr])
    dep["metadata"]["labels"].update(labels)
    oom = f.container_status(
        "backend",
        restart_count=2,
        last_state=f.terminated("OOMKilled", exit_code=137, started_at=f.ts(-5), finished_at=f.ts(-4)),
    )
    p1 = f.pod(
        "todo-backend-7c9f6d5b8-aaaaa",
        owner=("ReplicaSet", "todo-backend-7c9f6d5b8"),
        containers=[ctr],
        container_statuses=[oom],
    )
    p2 = f.pod(
        "todo-backend-7c9f6d5b8-bbbbb", owner=("ReplicaSet", "todo-backend-7c9f6d5b8"), containers=[ctr]
    )
    other = f.pod("todo-frontend-5d8f7c9b4-ccccc", owner=("ReplicaSet", "todo-frontend-5d8f7c9b4"))
    pm = {
        "apiVersion": "metrics.k8s.io/v1beta1",
        "kind": "PodMetrics",
        "metadata": {"name": "todo-backend-7c9f6d5b8-bbbbb", "namespace": "todo"},
        "timestamp": f.ts(0),
        "window": "30s",
        "containers": [{"name": "backend", "usage": {"cpu": "125m", "memory": "128Mi"}}],
    }
    for obj in (dep, p1, p2, other):
        of.validate(obj)
    snap = f.snapshot(dep, p1, p2, other, pm, check=False)
    out = measure_release(snap, "todo-backend", "todo")
    assert out["workloads"] == {
        "Deployment/todo-backend": {"desired": 2, "ready": 1, "available": 1, "updated": 2}
    }
    assert sorted(out["pods"]) == ["todo-backend-7c9f6d5b8-aaaaa", "todo-backend-7c9f6d5b8-bbbbb"]
    assert (out["restarts"], out["oom_kills"]) == (2, 1)
    assert out["cpu"] == {"usage": 125.0, "requests": 250.0, "ratio": 0.5, "unit": "m"}
    assert out["memory"]["ratio"] == 0.5 and "metrics.k8s.io" in out["sources"]


def test_gitops_engine_states() -> None:
    sha = "0123456789abcdef0123456789abcdef01234567"
    app = {"status": {"sync": {"status": "Synced", "revision": sha}, "health": {"status": "Healthy"}}}
    s = read_state("argocd", "todo-backend", app, sha)
    assert s.synced and s.healthy and not s.failed
    old = {"status": {"sync": {"status": "Synced", "revision": "f" * 40}, "health": {"status": "Healthy"}}}
    assert not read_state("argocd", "todo-backend", old, sha).synced
    degraded = {"status": {"sync": {"status": "Synced", "revision": sha}, "health": {"status": "Degraded"}}}
    assert read_state("argocd", "todo-backend", degraded, sha).failed
    ks = {
        "status": {
            "lastAppliedRevision": f"main@sha1:{sha}",
            "lastAttemptedRevision": f"main@sha1:{sha}",
            "conditions": [{"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded"}],
        }
    }
    assert read_state("flux", "apps", ks, sha).synced
    ks_bad = {
        "status": {
            "lastAppliedRevision": "main@sha1:" + "e" * 40,
            "lastAttemptedRevision": f"main@sha1:{sha}",
            "conditions": [{"type": "Ready", "status": "False", "reason": "HealthCheckFailed"}],
        }
    }
    state = read_state("flux", "apps", ks_bad, sha)
    assert state.failed and not state.synced


def test_prometheus_probe_reads_error_rate_and_latency(httpserver: Any) -> None:
    from aiops.apply.measure import PrometheusProbe

    def answer(value: str) -> dict[str, Any]:
        return {
            "status": "success",
            "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1764067337.0, value]}]},
        }

    httpserver.expect_request(
        "/api/v1/query",
        query_string={
            "query": PrometheusProbe("x").error_rate_query.format(
                namespace="todo", selector='app_kubernetes_io_instance="todo-backend"'
            )
        },
    ).respond_with_json(answer("0.012"))
    httpserver.expect_request("/api/v1/query").respond_with_json(answer("NaN"))
    figures = PrometheusProbe(httpserver.url_for("/")).figures("todo-backend", "todo")
    assert figures["error_rate"] == 0.012
    assert figures["latency_p95_ms"] is None
    assert figures["notes"] == ["prometheus latency_p95_ms: no traffic (NaN)"]


def test_prometheus_probe_failures_become_notes(httpserver: Any) -> None:
    from aiops.apply.measure import PrometheusProbe

    httpserver.expect_request("/api/v1/query").respond_with_data("bad gateway", status=502)
    figures = PrometheusProbe(httpserver.url_for("/")).figures("todo-backend", "todo")
    assert (figures["error_rate"], figures["latency_p95_ms"]) == (None, None)
    assert figures["notes"] == ["prometheus error_rate: HTTP 502", "prometheus latency_p95_ms: HTTP 502"]
