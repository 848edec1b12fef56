"""Recommendations from findings (read from `cause`, not text): OOM, restart, config, image; `cleared`."""

from __future__ import annotations

import dataclasses

from factories import (
    T0,
    back_off_message,
    container,
    container_status,
    deployment,
    metadata,
    node,
    pod,
    replicaset,
    snapshot,
    terminated,
    ts,
    validate,
    waiting,
)
from recommend_data import SEED_PODS, seed_usage, workload

from aiops.model.findings import Cause, Finding, Severity
from aiops.model.k8s import ObjectRef, OwnerRef
from aiops.recommend import run_all
from aiops.settings import Settings, Target, TargetKeys

BACKEND = ObjectRef("Deployment", "todo", "todo-backend")
IMG = "ghcr.io/example/todo-backend"


def finding(
    code: str, pod_name: str, cause: Cause | None, *, container_name: str = "backend", summary: str = ""
) -> Finding:
    return Finding(
        code=code,
        severity=Severity.CRITICAL,
        object=ObjectRef("Pod", "todo", pod_name),
        summary=summary or f"{code} in {pod_name}",
        evidence=(f"state.waiting.reason={code}",),
        container=container_name,
        owner=OwnerRef("Deployment", "todo-backend"),
        detected_at=T0,
        started_at=T0,
        cause=cause,
    )


def recs(result, kind):
    return [r for r in result.recommendations if r.kind == kind]


def crashing(pods=SEED_PODS[:1], **kw):
    st = waiting("CrashLoopBackOff", back_off_message("backend", pods[0], "todo"))
    return workload(pods=pods, replicas=len(pods), **kw), st


def broken_pod_items(*, reason: str, last_state=None, image: str = f"{IMG}:1.4.2", **kw):
    items = workload(pods=SEED_PODS[:1], replicas=1, image=image, **kw)
    p = items[2]
    p["status"]["containerStatuses"] = [
        container_status(
            "backend", image, state=waiting(reason), last_state=last_state, restart_count=4, ready=False
        )
    ]
    for c in p["status"]["conditions"]:
        if c["type"] in ("Ready", "ContainersReady"):
            c["status"] = "False"
    return items


# ---- OOM ------------------------------------------------------------------------------------------------
def test_oomkilled_raises_memory_to_the_oom_floor_without_usage_data() -> None:
    last = terminated("OOMKilled", 137, started_at=ts(-10), finished_at=ts(-5))
    items = broken_pod_items(reason="CrashLoopBackOff", last_state=last, memory="128Mi", limit_memory="256Mi")
    snap = snapshot(*items, node(), at=T0)
    f = finding("OOMKilled", SEED_PODS[0], Cause("oom-limit", {"limit": "256Mi", "request": "128Mi"}))
    result = run_all(snap, None, [f], Settings())
    (rec,) = recs(result, "rightsize")
    assert rec.target == BACKEND and rec.findings == ("OOMKilled",)
    # OOM floor = max(256 × 1.2, 256 + 100) = 356Mi → 2 significant digits → 360Mi; request unchanged
    assert rec.proposed == {"backend": {"limits": {"memory": "360Mi"}}}
    assert rec.sizing["backend"]["oom_in_window"] is True
    assert rec.sizing["backend"]["samples"] == 0 and rec.sizing["backend"]["memory_p95"] is None
    assert rec.confidence == "medium"
    assert any("OOMKilled 1x" in e and "256Mi" in e for e in rec.evidence)
    assert "OOM floor" in rec.rationale
    assert not [s for s in result.skipped if s.kind == "rightsize"]


def test_oom_limit_comes_from_the_finding_when_the_pod_is_gone() -> None:
    snap = snapshot(*workload(pods=SEED_PODS, memory="200Mi", limit_memory="300Mi"), node(), at=T0)
    f = finding("OOMKilled", "todo-backend-7c9f6d5b8-zzzzz", Cause("oom-limit", {"limit": "300Mi"}))
    (rec,) = recs(run_all(snap, None, [f], Settings()), "rightsize")
    assert rec.proposed == {"backend": {"limits": {"memory": "400Mi"}}}  # max(360, 400) → 400Mi


def test_oom_with_usage_data_uses_usage_and_floor_together() -> None:
    snap = snapshot(
        *workload(pods=SEED_PODS, cpu="100m", memory="128Mi", limit_memory="128Mi"), node(), at=T0
    )
    f = finding("OOMKilled", SEED_PODS[0], Cause("oom-limit", {"limit": "128Mi"}))
    (rec,) = recs(run_all(snap, seed_usage(), [f], Settings()), "rightsize")
    assert rec.proposed["backend"]["requests"]["memory"] == "156Mi"
    assert rec.proposed["backend"]["limits"] == {"memory": "230Mi"}  # rightsizing.md §9.7 OOM variant


# ---- restart --------------------------------------------------------------------------------------------
def service(name: str, ready_ips: list[str]) -> list[dict]:
    svc = validate(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": metadata("Service", name, "todo"),
            "spec": {
                "selector": {"app": name},
                "ports": [{"port": 6379, "targetPort": 6379, "protocol": "TCP"}],
                "type": "ClusterIP",
                "clusterIP": "10.96.0.20",
            },
        }
    )
    subsets = [{"addresses": [{"ip": ip} for ip in ready_ips], "ports": [{"port": 6379, "protocol": "TCP"}]}]
    ep = validate(
        {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": metadata("Endpoints", name, "todo"),
            "subsets": subsets if ready_ips else [],
        }
    )
    return [svc, ep]


def test_stuck_pod_after_a_dependency_failure_gets_a_restart() -> None:
    items = broken_pod_items(reason="CrashLoopBackOff")
    snap = snapshot(*items, *service("redis", ["10.244.0.30"]), node(), at=T0)
    f = finding(
        "CrashLoopBackOff", SEED_PODS[0], Cause("dependency-refused", {"host": "redis", "port": 6379})
    )
    result = run_all(snap, None, [f], Settings())
    (rec,) = recs(result, "restart")
    assert rec.key == "restart-todo-deployment-todo-backend"
    assert rec.proposed == {"restart": True}
    assert rec.findings == ("CrashLoopBackOff",)
    assert any("CrashLoopBackOff on todo/Pod/" in e for e in rec.evidence)
    assert "redis" in rec.rationale
    # the workload is not healthy: nothing about it is cleared
    assert not [s for s in result.skipped if s.cause == "cleared"]


def test_no_restart_while_the_dependency_is_still_down() -> None:
    items = broken_pod_items(reason="CrashLoopBackOff")
    snap = snapshot(*items, *service("redis", []), node(), at=T0)
    f = finding(
        "CrashLoopBackOff", SEED_PODS[0], Cause("dependency-refused", {"host": "redis", "port": 6379})
    )
    assert not recs(run_all(snap, None, [f], Settings()), "restart")


def test_a_crash_without_a_restart_cause_gets_no_restart() -> None:
    snap = snapshot(*broken_pod_items(reason="CrashLoopBackOff"), node(), at=T0)
    f = finding("CrashLoopBackOff", SEED_PODS[0], Cause("app-fatal", {"line": "panic: nil map"}))
    assert not run_all(snap, None, [f], Settings()).recommendations


# ---- config ---------------------------------------------------------------------------------------------
def test_missing_config_key_names_the_key() -> None:
    snap = snapshot(*broken_pod_items(reason="CreateContainerConfigError"), node(), at=T0)
    f = finding(
        "CreateContainerConfigError",
        SEED_PODS[0],
        Cause("missing-config-key", {"configmap": "todo-config", "key": "REDIS_URL", "env": "REDIS_URL"}),
    )
    (rec,) = recs(run_all(snap, None, [f], Settings()), "config")
    assert rec.key == "config-todo-deployment-todo-backend"
    assert rec.proposed == {"key": "REDIS_URL", "configmap": "todo-config", "values_key": "config.REDIS_URL"}
    assert rec.findings == ("CreateContainerConfigError",)
    assert "a person supplies the value" in rec.rationale
    # values key from the target mapping of the settings
    settings = dataclasses.replace(
        Settings(),
        targets=(
            Target(
                workload="todo/Deployment/todo-backend", file="values.yaml", keys=TargetKeys(config="env")
            ),
        ),
    )
    (rec,) = recs(run_all(snap, None, [f], settings), "config")
    assert rec.proposed["values_key"] == "env.REDIS_URL"


def test_text_alone_never_makes_a_recommendation() -> None:
    snap = snapshot(*broken_pod_items(reason="CrashLoopBackOff"), node(), at=T0)
    f = finding(
        "CrashLoopBackOff",
        SEED_PODS[0],
        None,
        summary="key REDIS_URL is missing from ConfigMap todo-config; image tag not found; restart it",
    )
    assert not run_all(snap, None, [f], Settings()).recommendations


def test_one_recommendation_per_key_for_many_pods() -> None:
    items = workload(pods=SEED_PODS)
    snap = snapshot(*items, node(), at=T0)
    cause = Cause("missing-config-key", {"configmap": "todo-config", "key": "REDIS_URL"})
    fs = [finding("CrashLoopBackOff", p, cause) for p in SEED_PODS]
    (rec,) = recs(run_all(snap, None, fs, Settings()), "config")
    assert sum("CrashLoopBackOff on" in e for e in rec.evidence) == 3


# ---- image ----------------------------------------------------------------------------------------------
def image_history(*, with_old: bool = True) -> list[dict]:
    good = container("backend", f"{IMG}:1.4.2")
    bad = container("backend", f"{IMG}:1.5.0")
    dep = deployment("todo-backend", replicas=1, containers=[bad], ready_replicas=0)
    dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "2"
    new = replicaset("todo-backend-6d5c4b3a2", replicas=1, ready_replicas=0, containers=[bad])
    new["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "2"
    new["status"].pop("readyReplicas")
    new["status"].pop("availableReplicas")
    old = replicaset("todo-backend-7c9f6d5b8", replicas=0, ready_replicas=0, containers=[good])
    for k in ("readyReplicas", "availableReplicas"):
        old["status"].pop(k)
    bad_pod = pod(
        "todo-backend-6d5c4b3a2-x9z8w",
        containers=[bad],
        owner=("ReplicaSet", "todo-backend-6d5c4b3a2"),
        container_statuses=[container_status("backend", f"{IMG}:1.5.0", state=waiting("ImagePullBackOff"))],
    )
    return [dep, new, *([old] if with_old else []), bad_pod]


def test_image_not_found_goes_back_to_the_last_tag_that_ran() -> None:
    snap = snapshot(*image_history(), node(), at=T0)
    f = finding(
        "ImagePullBackOff",
        "todo-backend-6d5c4b3a2-x9z8w",
        Cause("image-not-found", {"image": IMG, "tag": "1.5.0"}),
    )
    (rec,) = recs(run_all(snap, None, [f], Settings()), "image")
    assert rec.key == "image-todo-deployment-todo-backend"
    assert rec.proposed == {"repository": IMG, "tag": "1.4.2"}
    assert rec.current["tag"] == "1.5.0"
    assert "1.5.0" in rec.rationale and "revision 1" in rec.rationale
    assert any("ran ghcr.io/example/todo-backend:1.4.2" in e for e in rec.evidence)


def test_image_not_found_without_history_is_skipped_with_a_reason() -> None:
    snap = snapshot(*image_history(with_old=False), node(), at=T0)
    f = finding(
        "ImagePullBackOff",
        "todo-backend-6d5c4b3a2-x9z8w",
        Cause("image-not-found", {"image": IMG, "tag": "1.5.0"}),
    )
    result = run_all(snap, None, [f], Settings())
    assert not recs(result, "image")
    (sk,) = [s for s in result.skipped if s.kind == "image"]
    assert sk.cause == "insufficient-data" and "1.5.0" in sk.reason and "no earlier ReplicaSet" in sk.reason


# ---- cleared ----------------------------------------------------------------------------------------------
def test_cleared_only_for_healthy_workloads_without_findings() -> None:
    healthy = snapshot(*workload(pods=SEED_PODS), node(), at=T0)
    result = run_all(healthy, None, [], Settings())
    assert sorted(s.kind for s in result.skipped if s.cause == "cleared") == ["config", "image", "restart"]
    # the same healthy-looking pods, but a finding names the workload: nothing is cleared
    f = finding("ReadinessProbeFailure", SEED_PODS[0], Cause("probe-timeout", {}))
    assert not [s for s in run_all(healthy, None, [f], Settings()).skipped if s.cause == "cleared"]


def test_real_diagnosis_of_an_oomkilled_pod_feeds_the_recommendation() -> None:
    from aiops.diagnose import run_all as diagnose

    last = terminated("OOMKilled", 137, started_at=ts(-10), finished_at=ts(-5))
    items = broken_pod_items(reason="CrashLoopBackOff", last_state=last, memory="128Mi", limit_memory="256Mi")
    snap = snapshot(*items, node(), at=T0)
    findings = diagnose(snap).findings
    assert "OOMKilled" in {f.code for f in findings}
    (rec,) = recs(run_all(snap, None, findings, Settings()), "rightsize")
    assert rec.proposed == {"backend": {"limits": {"memory": "360Mi"}}}
