"""Right-sizing (rightsizing.md §9): the seed example, OOM floor, data gates, caps, clamps, bad data."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from factories import T0, metadata, node, snapshot, terminated, ts, validate
from recommend_data import (
    DAY,
    END,
    SEED_PODS,
    seed_snapshot,
    seed_usage,
    seed_values,
    series,
    suffix,
    workload,
)

from aiops.model.k8s import ObjectRef
from aiops.model.usage import ContainerSeries, UsageData
from aiops.recommend import run_all
from aiops.recommend.optout import OptOut, parse
from aiops.settings import Rightsizing, Settings

BACKEND = ObjectRef("Deployment", "todo", "todo-backend")


def only(result, kind="rightsize"):
    recs = [r for r in result.recommendations if r.kind == kind]
    assert len(recs) == 1, [r.to_dict() for r in result.recommendations]
    return recs[0]


def skip_of(result, kind="rightsize"):
    found = [s for s in result.skipped if s.kind == kind]
    assert len(found) == 1, [s.to_dict() for s in result.skipped]
    return found[0]


def usage_days(days: float, step: float, *, pods=SEED_PODS, cpu_scale=1.0, mem_scale=1.0) -> UsageData:
    n = int(days * DAY / step)
    cpu, mem = seed_values(n)
    return UsageData(
        series=tuple(
            series(pods, [c * cpu_scale for c in cpu], "cpu", step=step)
            + series(pods, [m * mem_scale for m in mem], "memory", step=step)
        ),
        sources=("test",),
    )


# ---- the seed example ------------------------------------------------------------------------------
def test_seed_example_figures() -> None:
    result = run_all(seed_snapshot(), seed_usage(), [], Settings())
    rec = only(result)
    assert rec.key == "rightsize-todo-deployment-todo-backend"
    assert rec.target == BACKEND
    assert rec.proposed == {
        "backend": {"requests": {"cpu": "130m", "memory": "156Mi"}, "limits": {"memory": "200Mi"}}
    }
    assert rec.current == {
        "backend": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "512Mi"}}
    }
    assert rec.sizing == {
        "backend": {
            "cpu_p95": "100m",
            "memory_p95": "120Mi",
            "memory_peak": "151.6Mi",
            "oom_in_window": False,
            "samples": 3 * 14 * 24 * 48,
            "window_days": 14.0,
            "clamped": False,
        }
    }
    assert rec.confidence == "high"
    assert rec.cost is not None
    assert rec.cost.to_dict() == {"monthly_before": 39.25, "monthly_after": 10.41, "savings_percent": 73.5}
    out = rec.to_dict()
    assert out["tier"] is None and out["changes"] is None
    assert out["content_hash"] == rec.content_hash and len(out["content_hash"]) == 16
    # no replica change for a steady workload whose utilization is only low because of its requests
    assert [r.kind for r in result.recommendations] == ["rightsize"]


def test_content_hash_depends_on_values_not_on_time() -> None:
    a = only(run_all(seed_snapshot(), seed_usage(), [], Settings()))
    b = only(run_all(seed_snapshot(), seed_usage(), [], Settings(), at=T0.replace(hour=23)))
    assert a.content_hash == b.content_hash
    c = only(
        run_all(
            seed_snapshot(),
            seed_usage(),
            [],
            dataclasses.replace(Settings(), rightsizing=Rightsizing(margin=0.5)),
        )
    )
    assert c.content_hash != a.content_hash
    assert c.proposed["backend"]["requests"] == {"cpu": "150m", "memory": "180Mi"}


def test_oom_variant_raises_the_limit_to_the_oom_floor_and_never_lowers_memory() -> None:
    # rightsizing.md §9.7: a pod OOMKilled at a 128Mi limit → limit nice_ceil(max(153.6, 228)) = 230Mi
    last = terminated("OOMKilled", 137, started_at=ts(-90), finished_at=ts(-60))
    snap = seed_snapshot(memory="128Mi", limit_memory="128Mi", cpu="100m", last_state=last)
    rec = only(run_all(snap, seed_usage(), [], Settings()))
    assert rec.proposed["backend"]["limits"] == {"memory": "230Mi"}
    assert rec.proposed["backend"]["requests"]["memory"] == "156Mi"
    assert rec.sizing["backend"]["oom_in_window"] is True
    assert rec.findings == ("OOMKilled",)
    assert any("OOMKilled" in e and "128Mi" in e for e in rec.evidence)

    # the same OOM with a generous current request (killed at 512Mi): memory is never lowered;
    # the limit rises to nice_ceil(max(512 × 1.25, 512 × 1.2, 512 + 100)) = 640Mi
    snap = seed_snapshot(memory="512Mi", limit_memory="512Mi", last_state=last)
    rec = only(run_all(snap, seed_usage(), [], Settings()))
    assert rec.proposed["backend"] == {"requests": {"cpu": "130m"}, "limits": {"memory": "640Mi"}}


def test_old_oom_outside_the_window_does_not_count() -> None:
    last = terminated("OOMKilled", 137, started_at=ts(-60 * 24 * 30), finished_at=ts(-60 * 24 * 20))
    snap = seed_snapshot(last_state=last)
    rec = only(run_all(snap, seed_usage(), [], Settings()))
    assert rec.sizing["backend"]["oom_in_window"] is False
    assert rec.proposed["backend"]["limits"] == {"memory": "200Mi"}


# ---- data gates and bad data ------------------------------------------------------------------------
def test_too_few_points_gives_insufficient_data() -> None:
    # 33 samples per pod × 3 = 99 < 100
    u = usage_days(33 * 3600 / DAY, 3600)
    assert sum(len(s) for s in u.for_resource("cpu")) == 99
    result = run_all(seed_snapshot(), u, [], Settings())
    assert not result.recommendations
    sk = skip_of(result)
    assert sk.cause == "insufficient-data"
    assert "99 samples" in sk.reason and sk.key == "rightsize-todo-deployment-todo-backend"


def test_too_short_a_span_gives_insufficient_data() -> None:
    # plenty of samples (3 × 170) but only 2.8 h of history
    u = usage_days(2.8 / 24, 60)
    result = run_all(seed_snapshot(), u, [], Settings())
    assert not [r for r in result.recommendations if r.kind == "rightsize"]
    assert skip_of(result).cause == "insufficient-data"


def test_nan_negative_inf_and_duplicates_are_dropped() -> None:
    clean = only(run_all(seed_snapshot(), seed_usage(), [], Settings()))
    dirty_series = []
    for s in seed_usage().series:
        ts_ = np.concatenate([s.timestamps, s.timestamps[:50]])  # duplicate timestamps
        vs = np.concatenate([s.values, np.full(50, 1e12)])  # … with absurd values (first sample wins)
        vs = vs.copy()
        vs[100:110] = np.nan
        vs[200:205] = -0.5  # a counter reset seen through a naive difference
        vs[300] = np.inf
        dirty_series.append(ContainerSeries(s.namespace, s.pod, s.container, s.resource, ts_, vs))
    dirty = only(run_all(seed_snapshot(), UsageData(series=tuple(dirty_series)), [], Settings()))
    assert dirty.proposed == clean.proposed
    assert dirty.sizing["backend"]["samples"] < clean.sizing["backend"]["samples"]


def test_all_nan_series_and_empty_ranges_are_insufficient_data() -> None:
    empty = [
        ContainerSeries("todo", p, "backend", r, np.zeros(0), np.zeros(0))
        for p in SEED_PODS
        for r in ("cpu", "memory")
    ]
    result = run_all(seed_snapshot(), UsageData(series=tuple(empty)), [], Settings())
    assert skip_of(result).cause == "insufficient-data"
    nan = [
        ContainerSeries(s.namespace, s.pod, s.container, s.resource, s.timestamps, np.full(len(s), np.nan))
        for s in seed_usage().series
    ]
    result = run_all(seed_snapshot(), UsageData(series=tuple(nan)), [], Settings())
    assert skip_of(result).cause == "insufficient-data"
    assert not result.recommendations


def test_gaps_lower_confidence_and_cap_decreases() -> None:
    # 14 days of span but only ~1.5 h of samples per pod every day … → sample-days ≈ 2.6 → medium
    u = seed_usage()
    gapped = []
    for s in u.series:
        keep = ((s.timestamps - s.timestamps[0]) % DAY) < 3600 * 1.5
        gapped.append(
            ContainerSeries(s.namespace, s.pod, s.container, s.resource, s.timestamps[keep], s.values[keep])
        )
    rec = only(run_all(seed_snapshot(), UsageData(series=tuple(gapped)), [], Settings()))
    assert rec.confidence == "medium"
    # decreases capped at -50 %: 500m → 250m, 512Mi → 256Mi
    assert rec.proposed["backend"]["requests"] == {"cpu": "250m", "memory": "256Mi"}
    assert "capped" in rec.rationale


def test_low_confidence_caps_decreases_at_25_percent() -> None:
    rec = only(run_all(seed_snapshot(), usage_days(0.5, 60), [], Settings()))
    assert rec.confidence == "low"
    assert rec.proposed["backend"]["requests"] == {"cpu": "375m", "memory": "384Mi"}
    # limit nice_ceil(384 × 1.25) = 480Mi is within the 10 % hysteresis of 512Mi: left alone
    assert "limits" not in rec.proposed["backend"]


def test_unknown_pods_are_ignored_and_gone_pods_of_the_workload_are_pooled() -> None:
    # the first 7 days come from an older ReplicaSet whose pods are gone from the snapshot
    n = 7 * 24 * 48
    cpu, mem = seed_values(2 * n)
    old = [f"todo-backend-5d8f7c9b6-{suffix(i + 10)}" for i in range(3)]
    first = series(old, [c[:n] for c in cpu], "cpu", step=75, end=END - n * 75) + series(
        old, [m[:n] for m in mem], "memory", step=75, end=END - n * 75
    )
    second = series(SEED_PODS, [c[n:] for c in cpu], "cpu", step=75) + series(
        SEED_PODS, [m[n:] for m in mem], "memory", step=75
    )
    stranger = series(["payments-6b7c8d9f5-abcde"], [np.full(n, 9.0)], "cpu", step=75)
    u = UsageData(series=tuple(first + second + stranger))
    result = run_all(seed_snapshot(), u, [], Settings())
    rec = only(result)
    assert rec.sizing["backend"]["samples"] == 6 * n
    assert rec.proposed["backend"]["requests"] == {"cpu": "130m", "memory": "156Mi"}
    assert any("payments-6b7c8d9f5-abcde" in n for n in result.notes)


# ---- minimums, clamps, hysteresis, policies -----------------------------------------------------------
def test_minimums() -> None:
    rec = only(run_all(seed_snapshot(), usage_days(14, 600, cpu_scale=0.01, mem_scale=0.05), [], Settings()))
    assert rec.proposed["backend"]["requests"] == {"cpu": "10m", "memory": "32Mi"}
    assert rec.proposed["backend"]["limits"] == {"memory": "40Mi"}


def test_clamp_to_the_largest_node() -> None:
    snap = snapshot(*workload(pods=SEED_PODS), node(cpu="1", memory="1Gi"), at=T0)
    rec = only(run_all(snap, usage_days(14, 600, cpu_scale=20, mem_scale=8), [], Settings()))
    sizing = rec.sizing["backend"]
    assert sizing["clamped"] is True
    assert rec.proposed["backend"]["requests"]["cpu"] == "900m"
    assert rec.proposed["backend"]["limits"]["memory"] == "921Mi"
    assert rec.proposed["backend"]["requests"]["memory"] == "921Mi"
    assert "clamped" in rec.rationale


def test_hysteresis_nothing_changes_and_a_healthy_workload_is_cleared() -> None:
    snap = seed_snapshot(cpu="125m", memory="160Mi", limit_memory="210Mi")
    result = run_all(snap, seed_usage(), [], Settings())
    assert not [r for r in result.recommendations if r.kind == "rightsize"]
    sk = skip_of(result)
    assert sk.cause == "cleared" and "10%" in sk.reason


def test_hysteresis_drops_small_changes_but_keeps_large_ones() -> None:
    snap = seed_snapshot(cpu="125m", memory="512Mi", limit_memory="512Mi")
    rec = only(run_all(snap, seed_usage(), [], Settings()))
    assert rec.proposed == {"backend": {"requests": {"memory": "156Mi"}, "limits": {"memory": "200Mi"}}}
    assert rec.current["backend"]["requests"]["cpu"] == "125m"


def test_cpu_limit_policies() -> None:
    ratio = dataclasses.replace(Settings(), rightsizing=Rightsizing(cpu_limit="ratio"))
    rec = only(run_all(seed_snapshot(), seed_usage(), [], ratio))
    assert rec.proposed["backend"]["limits"] == {"cpu": "260m", "memory": "200Mi"}
    keep = dataclasses.replace(Settings(), rightsizing=Rightsizing(cpu_limit="keep-ratio"))
    rec = only(run_all(seed_snapshot(limit_cpu="1"), seed_usage(), [], keep))
    assert rec.proposed["backend"]["limits"]["cpu"] == "260m"
    # default "none": no CPU limit is added
    rec = only(run_all(seed_snapshot(), seed_usage(), [], Settings()))
    assert "cpu" not in rec.proposed["backend"]["limits"]


def test_no_usage_given_means_no_rightsizing_noise() -> None:
    result = run_all(seed_snapshot(), None, [], Settings())
    assert not result.recommendations
    assert not [s for s in result.skipped if s.kind == "rightsize"]


def test_source_error_makes_the_target_skipped() -> None:
    u = dataclasses.replace(seed_usage(), errors={"todo/*": "query answered 400: bad_data"})
    result = run_all(seed_snapshot(), u, [], Settings())
    sk = skip_of(result)
    assert sk.cause == "source-error" and "400" in sk.reason
    assert not result.recommendations
    u = dataclasses.replace(seed_usage(), errors={f"todo/{SEED_PODS[0]}": "query answered 422"})
    assert skip_of(run_all(seed_snapshot(), u, [], Settings())).cause == "source-error"


# ---- opt-out ------------------------------------------------------------------------------------------
def test_optout_grammar() -> None:
    assert parse(None) == frozenset()
    assert parse("false") == frozenset()
    assert parse("true") is None
    assert parse(" Rightsize , hpa,privileged ") == {"rightsize", "hpa", "privileged"}
    oo = OptOut.of({"aiops.io/ignore": "hpa"}, {"aiops.io/ignore": "image"})
    assert oo.reason("rightsize", "x") is None
    assert "hpa" in (oo.reason("hpa", "Deployment todo/x") or "")
    assert "namespace" in (oo.reason("image", "x") or "")


def test_optout_annotation_on_the_workload() -> None:
    snap = seed_snapshot(annotations={"aiops.io/ignore": "rightsize"})
    result = run_all(snap, seed_usage(), [], Settings())
    assert not result.recommendations
    sk = skip_of(result)
    assert sk.cause == "opted-out" and 'aiops.io/ignore="rightsize"' in sk.reason
    # other kinds are still reported
    assert skip_of(result, "restart").cause == "cleared"


def test_optout_annotation_on_the_namespace() -> None:
    ns = validate(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {**metadata("Namespace", "todo", None), "annotations": {"aiops.io/ignore": "true"}},
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        }
    )
    result = run_all(seed_snapshot(extra=[ns]), seed_usage(), [], Settings())
    assert not result.recommendations
    assert {s.cause for s in result.skipped} == {"opted-out"}
    assert skip_of(result).reason.endswith("on its namespace")


@pytest.mark.parametrize("container_label", ["", "POD"])
def test_pause_and_pod_level_series_are_ignored(container_label: str) -> None:
    u = seed_usage()
    extra = [
        ContainerSeries("todo", SEED_PODS[0], container_label, "memory", s.timestamps, s.values * 10)
        for s in u.series[:1]
    ]
    rec = only(run_all(seed_snapshot(), UsageData(series=u.series + tuple(extra)), [], Settings()))
    assert rec.proposed["backend"]["requests"]["memory"] == "156Mi"


def test_two_containers_are_sized_separately() -> None:
    from factories import container, deployment, http_probe, pod, replicaset

    a = container(
        "app", requests_cpu="500m", requests_memory="512Mi", limits_memory="512Mi", readiness=http_probe()
    )
    b = container(
        "sidecar",
        "envoyproxy/envoy:v1.31.0",
        requests_cpu="100m",
        requests_memory="64Mi",
        limits_memory="128Mi",
        readiness=http_probe(port=9901),
    )
    pods = [f"web-6f7d8c9b5-{suffix(i)}" for i in range(2)]
    items = [
        deployment("web", replicas=2, containers=[a, b]),
        replicaset("web-6f7d8c9b5", replicas=2, containers=[a, b]),
        *[pod(p, containers=[a, b], owner=("ReplicaSet", "web-6f7d8c9b5")) for p in pods],
        node(),
    ]
    snap = snapshot(*items, at=T0)
    n = 14 * 24 * 6
    cpu, mem = seed_values(n)
    u = UsageData(
        series=tuple(
            series(pods, cpu[:2], "cpu", step=600, container_name="app")
            + series(pods, mem[:2], "memory", step=600, container_name="app")
            + series(pods, [c * 0.2 for c in cpu[:2]], "cpu", step=600, container_name="sidecar")
            + series(pods, [m * 0.25 for m in mem[:2]], "memory", step=600, container_name="sidecar")
        )
    )
    rec = only(run_all(snap, u, [], Settings()))
    assert set(rec.proposed) == {"app", "sidecar"}
    assert rec.sizing["app"]["samples"] == 2 * n
    side = rec.proposed["sidecar"]
    assert side["requests"]["cpu"] in {"25m", "30m"}
    assert rec.cost is not None and rec.cost.monthly_after < rec.cost.monthly_before


def test_a_workload_with_a_malformed_quantity_does_not_stop_the_others() -> None:
    bad = workload("broken", cname="app", rs_hash="6b5c4d3e2", pods=["broken-6b5c4d3e2-bcdfg"])
    bad[0]["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["memory"] = "lots"
    snap = snapshot(*workload(pods=SEED_PODS), *bad, node(), at=T0, check=False)
    result = run_all(snap, seed_usage(), [], Settings())
    assert only(result).target == BACKEND
    assert any("todo/Deployment/broken: not sized" in n and "lots" in n for n in result.notes)
