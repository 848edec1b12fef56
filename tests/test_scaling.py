"""Replicas and HPA (rightsizing.md §4.3, §4.4, §9.6): fluctuating vs steady load, caps, HPA-aware sizing."""

from __future__ import annotations

import dataclasses

import numpy as np
from factories import T0, container, http_probe, node, snapshot
from recommend_data import DAY, END, SEED_PODS, hpa, seed_snapshot, seed_usage, series, suffix, workload

from aiops.model.usage import ContainerSeries, UsageData
from aiops.recommend import run_all
from aiops.settings import Scaling, Settings

STEP = 300.0
N = int(14 * DAY / STEP)


def kinds(result) -> list[str]:
    return sorted(r.kind for r in result.recommendations)


def rec_of(result, kind):
    found = [r for r in result.recommendations if r.kind == kind]
    assert len(found) == 1, [r.to_dict() for r in result.recommendations]
    return found[0]


def mem_series(pods, n=N, step=STEP) -> list[ContainerSeries]:
    rng = np.random.default_rng(3)
    return series(pods, [rng.normal(100, 5, n) * 2**20 for _ in pods], "memory", step=step)


def fluctuating(pods=SEED_PODS, seed=11) -> UsageData:
    """Daily cycle: each pod 50m at night … 500m at the afternoon peak, plus noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(N) * STEP
    base = 0.05 + 0.45 * (1 + np.sin(2 * np.pi * t / DAY)) / 2
    cpu = [np.clip(base + rng.normal(0, 0.01, N), 0, None) for _ in pods]
    return UsageData(series=tuple(series(pods, cpu, "cpu", step=STEP) + mem_series(pods)))


def steady(pods=SEED_PODS, seed=12) -> UsageData:
    rng = np.random.default_rng(seed)
    cpu = [np.clip(0.1 + rng.normal(0, 0.008, N), 0, None) for _ in pods]
    return UsageData(series=tuple(series(pods, cpu, "cpu", step=STEP) + mem_series(pods)))


def test_hpa_recommended_for_a_fluctuating_workload() -> None:
    result = run_all(seed_snapshot(), fluctuating(), [], Settings())
    h = rec_of(result, "hpa")
    assert h.key == "hpa-todo-deployment-todo-backend"
    assert h.proposed == {"minReplicas": 2, "maxReplicas": 5, "targetCPUUtilizationPercentage": 70}
    assert h.current["replicas"] == 3 and h.current["maxReplicas"] is None
    assert "fluctuates" in h.rationale and h.confidence == "high"
    assert h.cost is not None and h.cost.monthly_after < h.cost.monthly_before  # fewer pods at night
    assert "scale" not in kinds(result)
    # the right-sizing beside it sizes per pod for the peak
    r = rec_of(result, "rightsize")
    assert 600 <= int(r.proposed["backend"]["requests"]["cpu"].rstrip("m")) <= 680


def test_no_hpa_and_no_scale_for_a_steady_workload() -> None:
    result = run_all(seed_snapshot(), steady(), [], Settings())
    assert "hpa" not in kinds(result) and "scale" not in kinds(result)
    cleared = {s.kind: s.cause for s in result.skipped}
    assert cleared["hpa"] == "cleared" and cleared["scale"] == "cleared"


def test_hpa_needs_readiness_probes() -> None:
    result = run_all(seed_snapshot(readiness=False), fluctuating(), [], Settings())
    assert "hpa" not in kinds(result)
    assert any("readiness probe" in n for n in result.notes)


def test_hpa_max_replicas_capped_by_policy() -> None:
    settings = dataclasses.replace(Settings(), scaling=Scaling(max_replicas_cap=3))
    h = rec_of(run_all(seed_snapshot(), fluctuating(), [], settings), "hpa")
    assert h.proposed["maxReplicas"] == 3
    assert "max_replicas_cap" in h.rationale


def test_statefulsets_and_daemonsets_get_no_hpa() -> None:
    ctr = container("db", "postgres:16", requests_cpu="500m", requests_memory="512Mi", readiness=http_probe())
    sts = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "todo", "uid": "u-sts-db"},
        "spec": {
            "replicas": 3,
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [ctr]}},
        },
        "status": {"replicas": 3, "readyReplicas": 3},
    }
    pods = [f"db-{i}" for i in range(3)]
    snap = snapshot(sts, node(), at=T0)
    u = fluctuating(pods)
    u = UsageData(series=tuple(dataclasses.replace(s, container="db") for s in u.series))
    result = run_all(snap, u, [], Settings())
    assert "hpa" not in kinds(result)
    assert rec_of(result, "rightsize").target.kind == "StatefulSet"  # pods matched by name pattern


def test_scale_down_after_sustained_low_utilization() -> None:
    pods = [f"todo-backend-7c9f6d5b8-{suffix(i)}" for i in range(6)]
    snap = snapshot(*workload(replicas=6, pods=pods), node(), at=T0)
    rng = np.random.default_rng(5)
    cpu = [np.clip(0.002 + rng.normal(0, 0.0002, N), 0, None) for _ in pods]
    u = UsageData(series=tuple(series(pods, cpu, "cpu", step=STEP) + mem_series(pods)))
    result = run_all(snap, u, [], Settings())
    s = rec_of(result, "scale")
    assert s.current == {"replicas": 6} and s.proposed == {"replicas": 3}  # at most -50 % a step
    assert "HA floor 2" in s.rationale
    assert s.cost is not None and s.cost.savings_percent == 50.0
    assert rec_of(result, "rightsize").proposed["backend"]["requests"]["cpu"] == "10m"


def test_no_scale_down_after_an_oomkill_or_with_short_history() -> None:
    pods = [f"todo-backend-7c9f6d5b8-{suffix(i)}" for i in range(6)]
    short = int(0.8 * DAY / STEP)
    cpu = [np.full(short, 0.002) for _ in pods]
    u = UsageData(series=tuple(series(pods, cpu, "cpu", step=STEP) + mem_series(pods, n=short)))
    result = run_all(snapshot(*workload(replicas=6, pods=pods), node(), at=T0), u, [], Settings())
    assert "scale" not in kinds(result)
    assert any("≥ 1 d of CPU history" in n for n in result.notes)


# ---- existing HPAs (rightsizing.md §4.4) ------------------------------------------------------------------
def hpa_driven_usage(target: float, request: float, pods: list[str], max_pods: int) -> UsageData:
    """Load 0.3 … 1.4 cores spread over as many pods as an HPA at `target` keeps busy (2 … max_pods)."""
    t = np.arange(N) * STEP
    load = 0.3 + 1.1 * (1 + np.sin(2 * np.pi * t / DAY)) / 2
    k = np.clip(np.ceil(load / (target * request)), 2, max_pods).astype(int)
    out: list[ContainerSeries] = []
    ts = END - STEP * (N - 1) + t
    for i, p in enumerate(pods):
        present = k > i
        out.append(ContainerSeries("todo", p, "backend", "cpu", ts[present], (load / k)[present]))
    return UsageData(series=tuple(out + mem_series(pods)))


def test_hpa_aware_rightsizing_keeps_the_utilization_target_no_spiral() -> None:
    pods = [f"todo-backend-7c9f6d5b8-{suffix(i)}" for i in range(6)]
    items = workload(replicas=3, pods=pods[:3])
    u = hpa_driven_usage(0.5, 0.5, pods, 6)
    with_hpa = run_all(
        snapshot(*items, node(), hpa("todo-backend", min_r=2, max_r=6, cpu=50), at=T0), u, [], Settings()
    )
    r = rec_of(with_hpa, "rightsize")
    # per-pod usage ≈ 50 % of 500m while the HPA scales: the CPU request stays (within hysteresis)
    assert "cpu" not in r.proposed["backend"].get("requests", {})
    assert any("HPA todo-backend scales on CPU at 50 %" in e for e in r.evidence)
    # the naive margin-on-usage sizing would cut it (the KRR feedback spiral)
    naive = run_all(snapshot(*items, node(), at=T0), u, [], Settings())
    cut = rec_of(naive, "rightsize").proposed["backend"]["requests"]["cpu"]
    assert int(cut.rstrip("m")) < 400


def test_hpa_pinned_at_min_uses_usage_sizing() -> None:
    snap = seed_snapshot(extra=[hpa("todo-backend", min_r=3, max_r=6, cpu=70)])
    result = run_all(snap, seed_usage(), [], Settings())
    assert rec_of(result, "rightsize").proposed["backend"]["requests"]["cpu"] == "130m"
    assert "hpa" not in kinds(result)


def test_hpa_pinned_at_max_raises_max_replicas() -> None:
    snap = seed_snapshot(extra=[hpa("todo-backend", min_r=2, max_r=3, cpu=70)])
    result = run_all(snap, seed_usage(), [], Settings())
    h = rec_of(result, "hpa")
    assert h.current == {"minReplicas": 2, "maxReplicas": 3, "targetCPUUtilizationPercentage": 70}
    assert h.proposed["minReplicas"] == 2 and h.proposed["maxReplicas"] >= 4
    assert h.proposed["targetCPUUtilizationPercentage"] == 70
    assert "under-provisioned" in h.rationale
    # sized from the per-pod average over the HPA target, not margin-on-usage
    cpu_series = [s.values for s in seed_usage().series if s.resource == "cpu"]
    per_pod = np.mean(np.vstack(cpu_series), axis=0)
    expected = np.ceil(round(np.percentile(per_pod, 95) / 0.7 / 0.005, 9)) * 5
    cpu = rec_of(result, "rightsize").proposed["backend"]["requests"]["cpu"]
    assert cpu == f"{expected:.0f}m" and cpu != "130m"


def test_two_workloads_one_fluctuating_one_steady() -> None:
    a = workload("todo-backend", pods=SEED_PODS)
    fpods = [f"todo-frontend-5b6c7d8e9-{suffix(i)}" for i in range(3)]
    b = workload("todo-frontend", cname="frontend", rs_hash="5b6c7d8e9", pods=fpods)
    snap = snapshot(*a, *b, node(), at=T0)
    f = fluctuating(fpods)
    f = UsageData(series=tuple(dataclasses.replace(s, container="frontend") for s in f.series))
    u = UsageData(series=steady().series + f.series)
    result = run_all(snap, u, [], Settings())
    hpas = [r.target.name for r in result.recommendations if r.kind == "hpa"]
    assert hpas == ["todo-frontend"]


def test_ha_floor_counts_a_pod_disruption_budget() -> None:
    from aiops.recommend.inventory import Inventory
    from aiops.recommend.scaling import ha_floor

    items = workload(replicas=1, pods=SEED_PODS[:1])
    pdb = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "todo-backend", "namespace": "todo", "uid": "u-pdb"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": "todo-backend"}}},
    }
    inv = Inventory(snapshot(*items, node(), at=T0))
    (w,) = inv.workloads.values()
    assert not inv.has_pdb(w) and ha_floor(w, Scaling()) == 1
    inv = Inventory(snapshot(*items, node(), pdb, at=T0, check=False))
    (w,) = inv.workloads.values()
    assert inv.has_pdb(w) and ha_floor(w, Scaling(), pdb=True) == 2
