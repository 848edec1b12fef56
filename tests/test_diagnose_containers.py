"""Container-level analyzers (DESIGN §4.2): two or more cases per code, a healthy namespace, owners.

Fixtures are API-shaped objects from `factories`, validated through the official client's models.
Every snapshot is judged at the fixture clock T0 (`ts(0)`), never the wall clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import factories as f
import pytest

from aiops.diagnose import REGISTRY, containers, run_all
from aiops.model import Finding, OwnerRef, Snapshot, parse_time

NS = "todo"
RS = "todo-backend-7c9f6d5b8"
POD = "todo-backend-7c9f6d5b8-4kq2z"
IMG = "ghcr.io/example/todo-backend:1.4.2"


def backend(image: str = IMG, **kw: Any) -> dict[str, Any]:
    kw.setdefault("liveness", f.http_probe("/healthz"))
    kw.setdefault("readiness", f.http_probe("/ready"))
    return f.container("backend", image, **kw)


def bpod(statuses: list[dict[str, Any]] | None, **kw: Any) -> dict[str, Any]:
    kw.setdefault("containers", [backend()])
    return f.pod(POD, NS, owner=("ReplicaSet", RS), container_statuses=statuses, **kw)


def snap(*items: dict[str, Any], logs: Mapping[str, str] | None = None) -> Snapshot:
    return f.snapshot(*items, at=f.ts(0), logs=logs)


def diagnose(*items: dict[str, Any], logs: Mapping[str, str] | None = None) -> list[Finding]:
    return list(containers.analyze(snap(*items, logs=logs)))


def only(findings: Iterable[Finding]) -> Finding:
    out = list(findings)
    assert len(out) == 1, [(x.code, x.container, x.summary) for x in out]
    return out[0]


def crashloop(
    name: str = "backend", *, last: dict[str, Any], restarts: int = 6, pod: str = POD
) -> dict[str, Any]:
    return f.container_status(
        name,
        IMG,
        state=f.waiting("CrashLoopBackOff", f.back_off_message(name, pod, NS)),
        last_state=last,
        restart_count=restarts,
    )


def backoff_event(p: dict[str, Any], container: str = "backend", count: int = 20) -> dict[str, Any]:
    name = p["metadata"]["name"]
    return f.event(
        p,
        "BackOff",
        f"Back-off restarting failed container {container} in pod {name}_{NS}({p['metadata']['uid']})",
        count=count,
        first=f.ts(-45),
        last=f.ts(-1),
        container_name=container,
    )


# ---- fixtures are valid API objects ------------------------------------------------------------------
def test_factories_build_valid_objects() -> None:
    p = bpod([crashloop(last=f.terminated("OOMKilled", 137))])
    for obj in (
        p,
        backoff_event(p),
        f.scheduler_event(
            p, "FailedScheduling", "0/1 nodes are available: 1 Insufficient cpu.", series_count=3
        ),
        f.configmap("todo-config", data={"A": "1"}),
        f.deployment("todo-backend"),
        f.replicaset(RS),
        f.node(pressure={"DiskPressure": True}),
        f.pod("a", phase="Pending", node_name=None),
        f.pod("b", phase="Succeeded", owner=("Job", "migrate-29000000"), restart_policy="Never"),
        f.pod("c", init_containers=[f.container("init", command=["sh", "-c", "true"])]),
        f.kube_list([p]),
    ):
        assert f.validate(obj) is obj


def test_validate_rejects_misspelt_and_incomplete_fixtures() -> None:
    p = bpod(None)
    p["status"]["containerStatuses"][0]["restart_count"] = p["status"]["containerStatuses"][0].pop(
        "restartCount"
    )
    with pytest.raises(AssertionError, match="restart_count"):
        f.validate(p)
    q = bpod(None)
    del q["spec"]["containers"][0]["name"]
    with pytest.raises(AssertionError, match="name"):
        f.validate(q)
    r = bpod(None)
    r["status"]["containerStatus"] = []
    with pytest.raises(AssertionError):
        f.validate(r)


# ---- OOMKilled ---------------------------------------------------------------------------------------
def test_oomkilled_behind_crashloop() -> None:
    p = bpod([crashloop(last=f.terminated("OOMKilled", 137, started_at=f.ts(-4), finished_at=f.ts(-3)))])
    found = only(diagnose(p, backoff_event(p), f.replicaset(RS), f.deployment("todo-backend")))
    assert found.code == "OOMKilled"
    assert found.severity.value == "critical"
    assert found.container == "backend"
    assert found.owner == OwnerRef("Deployment", "todo-backend")
    assert found.cause is not None and found.cause.type == "oom-limit"
    assert found.cause.detail["limit"] == "256Mi"
    assert any("lastState.terminated.reason=OOMKilled exitCode=137" in e for e in found.evidence)
    assert any(e.startswith("event Warning BackOff ×20") for e in found.evidence)
    assert found.started_at == parse_time(f.ts(-45))  # first BackOff, earlier than the last kill
    assert found.detected_at == parse_time(f.ts(0))


def test_oomkilled_quotes_where_the_previous_log_stopped() -> None:
    p = bpod([crashloop(last=f.terminated("OOMKilled", 137))])
    log = "INFO: startup complete.\nINFO: chat: building context window (3311 messages, 248 MiB)\n\n"
    found = only(diagnose(p, logs={f"{NS}/{POD}/backend": log}))
    assert found.evidence[-1] == (
        "log (last line before the kill): INFO: chat: building context window (3311 messages, 248 MiB)"
    )


def test_oomkilled_reason_wins_over_exit_code_and_running_state() -> None:
    # Real dumps show reason OOMKilled with exitCode 1; the container runs again (restarted 5 min ago).
    cs = f.container_status(
        "backend",
        IMG,
        state=f.running(f.ts(-5)),
        last_state=f.terminated("OOMKilled", 1, started_at=f.ts(-30), finished_at=f.ts(-5)),
        restart_count=3,
        ready=False,
    )
    found = only(diagnose(bpod([cs])))
    assert found.code == "OOMKilled"
    assert found.severity.value == "critical"


def test_oomkilled_sidecar_is_attributed_to_the_sidecar() -> None:
    p = bpod(
        [
            f.container_status("backend", IMG, state=f.running(f.ts(-100))),
            crashloop("log-shipper", last=f.terminated("OOMKilled", 137), restarts=9),
        ],
        containers=[backend(), f.container("log-shipper", "fluent/fluent-bit:3.1", limits_memory="64Mi")],
    )
    found = only(diagnose(p))
    assert (found.code, found.container) == ("OOMKilled", "log-shipper")
    assert found.cause is not None and found.cause.detail["limit"] == "64Mi"


def test_oomkilled_job_pod_with_restart_policy_never_names_absent_job() -> None:
    p = f.pod(
        "report-29001234-x7k2p",
        NS,
        owner=("Job", "report-29001234"),
        phase="Failed",
        restart_policy="Never",
        containers=[f.container("report", "ghcr.io/example/report:2", limits_memory="128Mi")],
        container_statuses=[
            f.container_status(
                "report", "ghcr.io/example/report:2", state=f.terminated("OOMKilled", 137), ready=False
            )
        ],
    )
    found = only(diagnose(p))
    assert found.code == "OOMKilled"
    assert found.owner == OwnerRef("Job", "report-29001234")


# ---- CrashLoopBackOff --------------------------------------------------------------------------------
def test_crashloop_missing_env_var_is_a_missing_configmap_key() -> None:
    p = bpod(
        [crashloop(last=f.terminated("Error", 1))],
        containers=[backend(env_from=[{"configMapRef": {"name": "todo-config"}}])],
    )
    log = (
        "Traceback (most recent call last):\n"
        '  File "/app/main.py", line 4, in <module>\n'
        '    REDIS = os.environ["REDIS_URL"]\n'
        '  File "<frozen os>", line 679, in __getitem__\n'
        "KeyError: 'REDIS_URL'\n"
    )
    found = only(
        diagnose(
            p,
            backoff_event(p),
            f.configmap("todo-config", data={"DATABASE_URL": "postgres://db:5432/todo"}),
            logs={f"{NS}/{POD}/backend": log},
        )
    )
    assert found.code == "CrashLoopBackOff"
    assert found.cause is not None
    assert found.cause.type == "missing-config-key"
    assert found.cause.detail["configmap"] == "todo-config"
    assert found.cause.detail["key"] == "REDIS_URL"
    assert "log: KeyError: 'REDIS_URL'" in found.evidence
    assert "REDIS_URL" in found.summary


def test_crashloop_dependency_refused_from_log() -> None:
    p = bpod([crashloop(last=f.terminated("Error", 1))])
    log = (
        "INFO starting\n"
        "redis.exceptions.ConnectionError: Error 111 connecting to redis:6379. Connection refused.\n"
    )
    found = only(diagnose(p, logs={f"{NS}/{POD}/backend": log}))
    assert found.code == "CrashLoopBackOff"
    assert found.cause is not None and found.cause.type == "dependency-refused"
    assert found.cause.detail == {"host": "redis", "port": 6379}


def test_exit_127_from_a_shell_wrapper_is_an_application_exit() -> None:
    p = bpod(
        [crashloop(last=f.terminated("Error", 127))],
        containers=[backend(command=["sh", "-c", "gunicorn app:app"])],
    )
    found = only(diagnose(p, logs={f"{NS}/{POD}/backend": "sh: 1: gunicorn: not found\n"}))
    assert found.code == "CrashLoopBackOff"
    assert found.cause is not None and found.cause.type == "exec-not-found"
    assert found.cause.detail["command"] == "gunicorn"
    assert any("exitCode=127" in e for e in found.evidence)


def test_recent_crash_of_a_container_running_again_is_a_warning() -> None:
    cs = f.container_status(
        "backend",
        IMG,
        state=f.running(f.ts(-20)),
        last_state=f.terminated("Error", 1, finished_at=f.ts(-20)),
        restart_count=1,
    )
    found = only(diagnose(bpod([cs])))
    assert (found.code, found.severity.value) == ("CrashLoopBackOff", "warning")
    assert "runs again but exited with code 1 20 min ago (1 restart)" in found.summary
    assert found.started_at == parse_time(f.ts(-20))


def test_crashloop_exit_zero_one_shot_program() -> None:
    p = bpod([crashloop(last=f.terminated("Completed", 0))])
    found = only(diagnose(p))
    assert found.code == "CrashLoopBackOff"
    assert "exits 0" in found.summary


def test_crashloop_with_liveness_noise_but_app_exit_is_not_a_probe_failure() -> None:
    p = bpod([crashloop(last=f.terminated("Error", 1))])
    unhealthy = f.event(
        p,
        "Unhealthy",
        'Liveness probe failed: Get "http://10.244.0.17:8080/healthz": dial tcp 10.244.0.17:8080: '
        "connect: connection refused",
        count=3,
        container_name="backend",
    )
    assert only(diagnose(p, unhealthy)).code == "CrashLoopBackOff"


def test_failed_job_pod_app_exit_says_it_is_not_restarted() -> None:
    p = f.pod(
        "seed-29001234-bbbbb",
        NS,
        owner=("Job", "seed-29001234"),
        phase="Failed",
        restart_policy="Never",
        containers=[f.container("seed", IMG)],
        container_statuses=[
            f.container_status("seed", IMG, state=f.terminated("Error", 2), ready=False),
        ],
    )
    log = 'psql: error: could not translate host name "todo-db" to address: Name or service not known\n'
    found = only(diagnose(p, logs={f"{NS}/seed-29001234-bbbbb/seed": log}))
    assert found.code == "CrashLoopBackOff"
    assert "is not restarted (restartPolicy Never)" in found.summary
    assert found.cause is not None and found.cause.to_dict() == {
        "type": "dependency-dns",
        "detail": {"host": "todo-db"},
    }
    assert found.owner == OwnerRef("Job", "seed-29001234")


def test_native_sidecar_init_container_is_judged_like_an_app_container() -> None:
    sidecar = f.container("istio-proxy", "istio/proxyv2:1.24.0", limits_memory="64Mi")
    sidecar["restartPolicy"] = "Always"
    p = bpod(
        [f.container_status("backend", IMG, state=f.running(f.ts(-50)))],
        init_containers=[sidecar],
        init_container_statuses=[
            crashloop("istio-proxy", last=f.terminated("OOMKilled", 137), restarts=4),
        ],
    )
    found = only(diagnose(p))
    assert (found.code, found.container) == ("OOMKilled", "istio-proxy")
    assert found.cause is not None and found.cause.detail["limit"] == "64Mi"


# ---- LivenessProbeFailure ----------------------------------------------------------------------------
def test_liveness_kill_behind_crashloop_with_exit_137_is_not_oom() -> None:
    p = bpod([crashloop(last=f.terminated("Error", 137, finished_at=f.ts(-2)))])
    found = only(
        diagnose(
            p,
            backoff_event(p),
            f.event(
                p,
                "Unhealthy",
                "Liveness probe failed: HTTP probe failed with statuscode: 500",
                count=18,
                first=f.ts(-40),
                container_name="backend",
            ),
            f.event(
                p,
                "Killing",
                "Container backend failed liveness probe, will be restarted",
                type_="Normal",
                count=6,
                first=f.ts(-39),
                container_name="backend",
            ),
        )
    )
    assert found.code == "LivenessProbeFailure"
    assert found.cause is not None and found.cause.type == "probe-http-status"
    assert found.cause.detail["status"] == 500
    assert found.cause.detail["path"] == "/healthz"
    assert any("not OOM" in e for e in found.evidence)
    assert found.started_at == parse_time(f.ts(-45))


def test_liveness_running_again_with_only_unhealthy_events_left() -> None:
    cs = f.container_status(
        "backend",
        IMG,
        state=f.running(f.ts(-1)),
        last_state=f.terminated("Error", 143, finished_at=f.ts(-1)),
        restart_count=4,
        ready=False,
    )
    p = bpod([cs])
    msg = (
        'Liveness probe failed: Get "http://10.244.0.17:8080/healthz": dial tcp 10.244.0.17:8080: '
        "connect: connection refused"
    )
    found = only(diagnose(p, f.event(p, "Unhealthy", msg, count=12, container_name="backend")))
    assert found.code == "LivenessProbeFailure"
    assert found.cause is not None and found.cause.type == "probe-refused"
    assert found.cause.detail["port"] == 8080


# ---- StartupProbeFailure -----------------------------------------------------------------------------
def test_startup_probe_kill() -> None:
    c = backend(startup=f.http_probe("/healthz", failure_threshold=3))
    p = bpod([crashloop(last=f.terminated("Error", 137))], containers=[c])
    found = only(
        diagnose(
            p,
            f.event(
                p,
                "Unhealthy",
                "Startup probe failed: HTTP probe failed with statuscode: 503",
                count=9,
                container_name="backend",
            ),
            f.event(
                p,
                "Killing",
                "Container backend failed startup probe, will be restarted",
                type_="Normal",
                count=3,
                container_name="backend",
            ),
        )
    )
    assert found.code == "StartupProbeFailure"
    assert found.cause is not None and found.cause.detail["status"] == 503


def test_startup_probe_not_passed_long_after_its_window_but_not_within_it() -> None:
    c = backend(startup=f.http_probe("/healthz", period=10, failure_threshold=60))  # 600 s allowance
    msg = 'Startup probe failed: Get "http://10.244.0.17:8080/healthz": context deadline exceeded'

    def at(minutes_running: float) -> list[Finding]:
        cs = f.container_status(
            "backend", IMG, state=f.running(f.ts(-minutes_running)), ready=False, started=False
        )
        p = bpod([cs], containers=[c])
        return diagnose(p, f.event(p, "Unhealthy", msg, count=30, container_name="backend"))

    found = only(at(15))
    assert found.code == "StartupProbeFailure"
    assert found.cause is not None and found.cause.type == "probe-timeout"
    assert at(5) == []  # still inside failureThreshold × periodSeconds: a slow start, not a failure


# ---- ReadinessProbeFailure ---------------------------------------------------------------------------
def test_readiness_failure_names_only_the_unready_container() -> None:
    p = bpod(
        [
            f.container_status("backend", IMG, state=f.running(f.ts(-30)), ready=False),
            f.container_status("proxy", "envoyproxy/envoy:v1.31", state=f.running(f.ts(-30))),
        ],
        containers=[backend(), f.container("proxy", "envoyproxy/envoy:v1.31")],
    )
    ev = f.event(
        p,
        "Unhealthy",
        "Readiness probe failed: HTTP probe failed with statuscode: 503",
        count=170,
        first=f.ts(-29),
        last=f.ts(-0.2),
        container_name="backend",
    )
    found = only(diagnose(p, ev))
    assert (found.code, found.container, found.severity.value) == (
        "ReadinessProbeFailure",
        "backend",
        "warning",
    )
    assert found.cause is not None and found.cause.detail["status"] == 503
    assert any("condition Ready=False" in e for e in found.evidence)


def test_readiness_not_flagged_inside_start_window_or_when_ready_now() -> None:
    msg = (
        'Readiness probe failed: Get "http://10.244.0.17:8080/ready": '
        "dial tcp 10.244.0.17:8080: connect: connection refused"
    )
    fresh = bpod([f.container_status("backend", IMG, state=f.running(f.ts(-0.2)), ready=False)])
    assert diagnose(fresh, f.event(fresh, "Unhealthy", msg, count=1, container_name="backend")) == []
    ready = bpod([f.container_status("backend", IMG, state=f.running(f.ts(-50)))])
    assert (
        diagnose(ready, f.event(ready, "Unhealthy", msg, count=4, last=f.ts(-48), container_name="backend"))
        == []
    )


def _unready_since(minutes: float) -> dict[str, Any]:
    msg = "containers with unready status: [backend]"
    return bpod(
        [f.container_status("backend", IMG, state=f.running(f.ts(-minutes)), ready=False)],
        conditions=[
            f.condition("Initialized", "True"),
            f.condition("Ready", "False", reason="ContainersNotReady", message=msg, at=f.ts(-minutes)),
            f.condition(
                "ContainersReady", "False", reason="ContainersNotReady", message=msg, at=f.ts(-minutes)
            ),
            f.condition("PodScheduled", "True"),
        ],
    )


def test_unready_without_events_for_minutes_only_is_not_flagged() -> None:
    assert diagnose(_unready_since(5)) == []  # past the probe window, but no probe events and not for long
    assert only(diagnose(_unready_since(15))).code == "ReadinessProbeFailure"


def test_terminating_pod_failing_readiness_is_not_flagged() -> None:
    p = _unready_since(15)
    p["metadata"]["deletionTimestamp"] = f.ts(-0.5)
    p["metadata"]["deletionGracePeriodSeconds"] = 30
    assert diagnose(p) == []


def test_readiness_failure_without_events_after_long_unready() -> None:
    p = bpod(
        [f.container_status("backend", IMG, state=f.running(f.ts(-90)), ready=False)],
        conditions=[
            f.condition("Initialized", "True"),
            f.condition(
                "Ready",
                "False",
                reason="ContainersNotReady",
                message="containers with unready status: [backend]",
                at=f.ts(-89),
            ),
            f.condition(
                "ContainersReady",
                "False",
                reason="ContainersNotReady",
                message="containers with unready status: [backend]",
                at=f.ts(-89),
            ),
            f.condition("PodScheduled", "True"),
        ],
    )
    found = only(diagnose(p))
    assert found.code == "ReadinessProbeFailure"
    assert found.cause is None
    assert found.started_at == parse_time(f.ts(-89))


# ---- ImagePullBackOff --------------------------------------------------------------------------------
def _pull_failed(
    p: dict[str, Any], container: str, image: str, err: str, field_path: str | None = None
) -> dict[str, Any]:
    return f.event(
        p,
        "Failed",
        f'Failed to pull image "{image}": {err}',
        count=4,
        first=f.ts(-20),
        container_name=None if field_path else container,
        field_path=field_path,
    )


def test_image_tag_not_found() -> None:
    image = "ghcr.io/example/todo-backend:1.4.3"
    cs = f.container_status(
        "backend", image, state=f.waiting("ImagePullBackOff", f'Back-off pulling image "{image}"')
    )
    p = bpod([cs], containers=[backend(image=image)], phase="Pending", created=f.ts(-19))
    err = (
        f'rpc error: code = NotFound desc = failed to pull and unpack image "{image}": failed to resolve '
        f'reference "{image}": {image}: not found'
    )
    found = only(diagnose(p, _pull_failed(p, "backend", image, err)))
    assert found.code == "ImagePullBackOff"
    assert found.cause is not None and found.cause.type == "image-not-found"
    assert found.cause.detail == {"image": "ghcr.io/example/todo-backend", "tag": "1.4.3"}
    assert found.started_at == parse_time(f.ts(-20))  # the first pull failure (before startTime)
    assert any('imageID=""' in e for e in found.evidence)


def test_init_container_image_unauthorized_is_an_image_problem() -> None:
    image = "registry.example.com/tools/wait-for:1.0"
    init = f.container("wait-db", image, command=["wait-for", "postgres:5432"])
    p = bpod(
        [f.container_status("backend", IMG, state=f.waiting("PodInitializing"))],
        init_containers=[init],
        init_container_statuses=[
            f.container_status("wait-db", image, state=f.waiting("ErrImagePull", "failed to authorize")),
        ],
        phase="Pending",
    )
    err = (
        f'failed to pull and unpack image "{image}": failed to resolve reference "{image}": '
        "pulling from host "
        "registry.example.com failed with status code [manifests 1.0]: 401 Unauthorized"
    )
    found = only(
        diagnose(p, _pull_failed(p, "wait-db", image, err, field_path="spec.initContainers{wait-db}"))
    )
    assert (found.code, found.container) == ("ImagePullBackOff", "wait-db")
    assert found.cause is not None and found.cause.type == "image-unauthorized"
    assert found.cause.detail["registry"] == "registry.example.com"


def test_invalid_image_name() -> None:
    image = "ghcr.io/Example/Todo:1.0"
    msg = (
        f'Failed to apply default image tag "{image}": couldn\'t parse image reference "{image}": '
        "invalid reference format: repository name must be lowercase"
    )
    cs = f.container_status("backend", image, state=f.waiting("InvalidImageName", msg))
    found = only(diagnose(bpod([cs], containers=[backend(image=image)], phase="Pending")))
    assert found.code == "ImagePullBackOff"
    assert found.cause is not None and found.cause.type == "image-invalid"


# ---- CreateContainerConfigError ---------------------------------------------------------------------
def test_missing_configmap_in_envfrom_with_near_miss() -> None:
    cs = f.container_status(
        "backend", IMG, state=f.waiting("CreateContainerConfigError", 'configmap "todo-confg" not found')
    )
    p = bpod(
        [cs],
        containers=[backend(env_from=[{"configMapRef": {"name": "todo-confg"}}])],
        phase="Pending",
        created=f.ts(-13),
    )
    found = only(
        diagnose(
            p,
            f.configmap("todo-config", data={"REDIS_URL": "redis://redis:6379"}),
            f.event(
                p,
                "Failed",
                'Error: configmap "todo-confg" not found',
                count=11,
                first=f.ts(-12),
                container_name="backend",
            ),
        )
    )
    assert found.code == "CreateContainerConfigError"
    assert found.cause is not None and found.cause.to_dict() == {
        "type": "missing-configmap",
        "detail": {"configmap": "todo-confg"},
    }
    assert any("todo-config exists" in e for e in found.evidence)
    assert found.started_at == parse_time(f.ts(-13))  # pod start: it never ran (events came later)


def test_missing_key_names_the_env_var_and_existing_keys() -> None:
    msg = "couldn't find key REDIS_URL in ConfigMap todo/todo-config"
    cs = f.container_status("backend", IMG, state=f.waiting("CreateContainerConfigError", msg))
    c = backend(env=[f.env_from_configmap_key("REDIS_URL", "todo-config", "REDIS_URL")])
    found = only(
        diagnose(
            bpod([cs], containers=[c], phase="Pending"),
            f.configmap("todo-config", data={"REDIS_URI": "redis://redis:6379"}),
        )
    )
    assert found.cause is not None
    assert found.cause.type == "missing-config-key"
    assert found.cause.detail == {"configmap": "todo-config", "key": "REDIS_URL", "env": "REDIS_URL"}
    assert any("key REDIS_URI exists" in e for e in found.evidence)


def test_missing_key_inferred_from_spec_when_no_message_is_left() -> None:
    cs = f.container_status("backend", IMG, state=f.waiting("CreateContainerConfigError"))
    c = backend(env=[f.env_from_configmap_key("LOG_LEVEL", "todo-config", "log-level")])
    found = only(
        diagnose(bpod([cs], containers=[c], phase="Pending"), f.configmap("todo-config", data={"a": "b"}))
    )
    assert found.code == "CreateContainerConfigError"
    assert found.cause is not None and found.cause.detail["key"] == "log-level"


def test_missing_secret_in_env() -> None:
    cs = f.container_status(
        "backend", IMG, state=f.waiting("CreateContainerConfigError", 'secret "todo-db" not found')
    )
    c = backend(env=[f.env_from_secret_key("DB_PASSWORD", "todo-db", "password")])
    found = only(diagnose(bpod([cs], containers=[c], phase="Pending")))
    assert found.cause is not None and found.cause.to_dict() == {
        "type": "missing-secret",
        "detail": {"secret": "todo-db"},
    }


# ---- RunContainerError -------------------------------------------------------------------------------
def test_run_container_error_executable_not_found() -> None:
    msg = (
        "failed to create containerd task: failed to create shim task: OCI runtime create failed: "
        "runc create failed: unable to start container process: error during container init: "
        'exec: "gunicorn": executable '
        "file not found in $PATH: unknown"
    )
    cs = f.container_status("backend", IMG, state=f.waiting("RunContainerError", msg), restart_count=2)
    found = only(diagnose(bpod([cs])))
    assert found.code == "RunContainerError"
    assert found.cause is not None and found.cause.to_dict() == {
        "type": "exec-not-found",
        "detail": {"command": "gunicorn"},
    }


def test_start_error_behind_crashloop_is_run_container_error() -> None:
    msg = (
        "failed to create containerd task: failed to create shim task: OCI runtime create failed: "
        "runc create failed: unable to start container process: "
        'exec: "/app/entrypoint.sh": permission denied: unknown'
    )
    last = f.terminated("StartError", 128, started_at="1970-01-01T00:00:00Z", message=msg)
    found = only(diagnose(bpod([crashloop(last=last)])))
    assert found.code == "RunContainerError"
    assert found.cause is not None and found.cause.type == "permission-denied"
    assert found.cause.detail["path"] == "/app/entrypoint.sh"


def test_exec_format_error_in_log_is_run_container_error() -> None:
    p = bpod([crashloop(last=f.terminated("Error", 255))])
    found = only(diagnose(p, logs={f"{NS}/{POD}/backend": "exec /app/server: exec format error\n"}))
    assert found.code == "RunContainerError"
    assert found.cause is not None and found.cause.type == "exec-format"
    assert "log: exec /app/server: exec format error" in found.evidence


# ---- InitContainerFailure -----------------------------------------------------------------------------
def test_init_container_crashloop_with_failed_migration() -> None:
    init = f.container("migrate", IMG, command=["alembic", "upgrade", "head"])
    p = bpod(
        [f.container_status("backend", IMG, state=f.waiting("PodInitializing"))],
        init_containers=[init],
        init_container_statuses=[
            f.container_status(
                "migrate",
                IMG,
                state=f.waiting("CrashLoopBackOff", f.back_off_message("migrate", POD, NS)),
                last_state=f.terminated("Error", 1),
                restart_count=5,
            )
        ],
        phase="Pending",
    )
    log = (
        "INFO  [alembic.runtime.migration] Running upgrade\n"
        "alembic.util.exc.CommandError: Can't locate revision identified by 'ae1027a6acf'\n"
    )
    found = only(diagnose(p, logs={f"{NS}/{POD}/migrate": log}))
    assert (found.code, found.container) == ("InitContainerFailure", "migrate")
    assert found.cause is not None and found.cause.type == "migration-failed"
    assert any("Initialized=False" in e for e in found.evidence)


def test_init_container_non_zero_exit_in_failed_pod() -> None:
    init = f.container(
        "fetch-config", "curlimages/curl:8.10.1", command=["curl", "-f", "http://config/app.yml"]
    )
    p = f.pod(
        "seed-data",
        NS,
        restart_policy="Never",
        phase="Failed",
        containers=[f.container("seed", IMG)],
        init_containers=[init],
        init_container_statuses=[
            f.container_status(
                "fetch-config",
                "curlimages/curl:8.10.1",
                state=f.terminated("Error", 22, message="curl: (22) The requested URL returned error: 403"),
                ready=False,
            )
        ],
        container_statuses=[f.container_status("seed", IMG, state=f.waiting("PodInitializing"))],
    )
    found = only(diagnose(p))
    assert (found.code, found.container) == ("InitContainerFailure", "fetch-config")
    assert found.owner is None
    assert any("exitCode=22" in e for e in found.evidence)


# ---- FailedMount ---------------------------------------------------------------------------------------
def _mount_pod(volumes: list[dict[str, Any]], created: str | None = None) -> dict[str, Any]:
    return bpod(
        [f.container_status("backend", IMG, state=f.waiting("ContainerCreating"))],
        containers=[
            backend(volume_mounts=[{"name": v["name"], "mountPath": f"/etc/{v['name']}"} for v in volumes])
        ],
        volumes=volumes,
        phase="Pending",
        created=created,
    )


def test_missing_configmap_volume_is_failed_mount() -> None:
    p = _mount_pod([{"name": "config", "configMap": {"name": "todo-config", "defaultMode": 420}}], f.ts(-14))
    evs = [
        f.event(
            p,
            "FailedMount",
            'MountVolume.SetUp failed for volume "config" : configmap "todo-config" not found',
            count=8,
            first=f.ts(-15),
        ),
        f.event(
            p,
            "FailedMount",
            "Unable to attach or mount volumes: unmounted volumes=[config], unattached volumes=[], "
            "failed to process volumes=[]: timed out waiting for the condition",
            count=6,
            first=f.ts(-13),
        ),
    ]
    found = only(diagnose(p, *evs))
    assert found.code == "FailedMount"
    assert found.container is None
    assert found.cause is not None and found.cause.detail == {"configmap": "todo-config", "volume": "config"}
    assert found.started_at == parse_time(f.ts(-15))  # first FailedMount (its firstTimestamp)


def test_failed_mount_secret_and_inferred_without_events() -> None:
    p = _mount_pod([{"name": "tls", "secret": {"secretName": "todo-tls", "defaultMode": 420}}])
    ev = f.event(
        p, "FailedMount", 'MountVolume.SetUp failed for volume "tls" : secret "todo-tls" not found', count=3
    )
    found = only(diagnose(p, ev))
    assert found.cause is not None and found.cause.type == "missing-secret"
    # events expired, but the ConfigMap is still absent and the pod has waited for minutes
    q = _mount_pod([{"name": "config", "configMap": {"name": "todo-config"}}], created=f.ts(-30))
    found = only(diagnose(q, f.configmap("other", data={})))
    assert found.code == "FailedMount" and found.cause is not None and found.cause.type == "missing-configmap"


def test_pod_pending_for_seconds_is_not_flagged() -> None:
    p = _mount_pod([{"name": "config", "configMap": {"name": "todo-config"}}], created=f.ts(-0.1))
    assert diagnose(p, f.configmap("todo-config", data={"a": "b"})) == []


# ---- Evicted --------------------------------------------------------------------------------------------
def test_evicted_for_ephemeral_storage_names_the_container() -> None:
    msg = (
        "The node was low on resource: ephemeral-storage. "
        "Threshold quantity: 2146223340, available: 1883424Ki. "
        "Container backend was using 10304Ki, request is 0, has larger consumption of ephemeral-storage. "
    )
    p = bpod(
        [
            f.container_status(
                "backend", IMG, state=f.terminated("Error", 137, finished_at=f.ts(-20)), ready=False
            )
        ],
        phase="Failed",
        reason="Evicted",
        message=msg,
        conditions=[
            f.condition("DisruptionTarget", "True", reason="TerminationByKubelet", message=msg, at=f.ts(-21))
        ],
    )
    found = only(diagnose(p, f.event(p, "Evicted", msg, count=1, last=f.ts(-21))))
    assert found.code == "Evicted"
    assert found.severity.value == "warning"
    assert found.container == "backend"
    assert found.cause is not None and found.cause.type == "node-pressure"
    assert found.cause.detail["resource"] == "ephemeral-storage"
    assert found.started_at == parse_time(f.ts(-21))


def test_evicted_by_admission_has_no_containers() -> None:
    p = bpod(
        [],
        phase="Failed",
        reason="Evicted",
        message="Pod The node had condition: [DiskPressure]. ",
        conditions=[],
    )
    found = only(diagnose(p))
    assert found.code == "Evicted"
    assert found.cause is not None and found.cause.detail["condition"] == "DiskPressure"


# ---- healthy namespace ----------------------------------------------------------------------------------
def test_healthy_namespace_gives_nothing() -> None:
    old_oom = f.container_status(
        "backend",
        IMG,
        state=f.running(f.ts(-60 * 24 * 3)),
        last_state=f.terminated(
            "OOMKilled", 137, started_at=f.ts(-60 * 24 * 4), finished_at=f.ts(-60 * 24 * 3)
        ),
        restart_count=257,
    )
    restarted_long_ago = bpod([old_oom])
    ready_after_startup = f.pod(
        "todo-frontend-5d8f7b9c4-abcde",
        NS,
        owner=("ReplicaSet", "todo-frontend-5d8f7b9c4"),
        containers=[
            f.container("frontend", "ghcr.io/example/todo-frontend:2.0", readiness=f.http_probe("/"))
        ],
    )
    job_done = f.pod(
        "migrate-29001234-q8x9z",
        NS,
        owner=("Job", "migrate-29001234"),
        phase="Succeeded",
        restart_policy="Never",
        containers=[f.container("migrate", IMG)],
    )
    with_init = f.pod(
        "todo-worker-6b7c8d9e0-zzzzz",
        NS,
        owner=("ReplicaSet", "todo-worker-6b7c8d9e0"),
        containers=[f.container("worker", IMG)],
        init_containers=[f.container("wait-db", IMG)],
    )
    just_created = f.pod(
        "todo-worker-6b7c8d9e0-yyyyy",
        NS,
        owner=("ReplicaSet", "todo-worker-6b7c8d9e0"),
        containers=[f.container("worker", IMG)],
        phase="Pending",
        created=f.ts(-0.1),
    )
    failed_then_retried = f.pod(
        "seed-29001234-aaaaa",
        NS,
        owner=("Job", "seed-29001234"),
        phase="Failed",
        restart_policy="Never",
        containers=[f.container("seed", IMG)],
    )
    seed_job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": f.metadata("Job", "seed-29001234", NS),
        "spec": {"template": {"spec": {"containers": [f.container("seed", IMG)], "restartPolicy": "Never"}}},
        "status": {
            "conditions": [
                {
                    "type": "Complete",
                    "status": "True",
                    "lastProbeTime": f.ts(-50),
                    "lastTransitionTime": f.ts(-50),
                }
            ],
            "succeeded": 1,
            "failed": 1,
        },
    }
    items = [
        restarted_long_ago,
        ready_after_startup,
        f.event(
            ready_after_startup,
            "Unhealthy",
            "Readiness probe failed: HTTP probe failed with statuscode: 503",
            count=3,
            first=f.ts(-58),
            last=f.ts(-57),
            container_name="frontend",
        ),
        job_done,
        with_init,
        just_created,
        failed_then_retried,
        seed_job,
        f.configmap("todo-config", data={"REDIS_URL": "redis://redis:6379"}),
        f.replicaset(RS),
        f.deployment("todo-backend"),
        f.node(),
    ]
    s = snap(*items)
    assert list(containers.analyze(s)) == []


# ---- owners ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ([], OwnerRef("Deployment", "todo-backend")),  # ReplicaSet absent: resolved by pod-template-hash
        (["rs"], OwnerRef("Deployment", "todo-backend")),  # ReplicaSet present, Deployment absent
    ],
)
def test_owner_resolution(extra: list[str], expected: OwnerRef) -> None:
    p = bpod([crashloop(last=f.terminated("Error", 1))])
    items = [p] + ([f.replicaset(RS)] if "rs" in extra else [])
    assert only(diagnose(*items)).owner == expected


def test_statefulset_pod_events_of_a_previous_incarnation_are_ignored() -> None:
    p = f.pod(
        "redis-0",
        NS,
        owner=("StatefulSet", "redis"),
        containers=[f.container("redis", "redis:7")],
        container_statuses=[f.container_status("redis", "redis:7", state=f.running(f.ts(-2)), ready=False)],
    )
    stale = f.event(
        p,
        "Unhealthy",
        "Readiness probe failed: dial tcp 10.244.0.9:6379: connect: connection refused",
        count=30,
        container_name="redis",
    )
    stale["involvedObject"]["uid"] = "00000000-0000-0000-0000-000000000000"
    assert diagnose(p, stale) == []


# ---- linearity -----------------------------------------------------------------------------------------
def test_analyzer_reads_events_through_the_index_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """No per-pod scan of all events: the analyzer never lists the Event kind itself."""
    asked: list[str] = []
    real = Snapshot.of_kind

    def spy(self: Snapshot, kind: str) -> list[dict[str, Any]]:
        asked.append(kind)
        return real(self, kind)

    monkeypatch.setattr(Snapshot, "of_kind", spy)
    pods = [bpod([crashloop(last=f.terminated("OOMKilled", 137))])]
    others = [
        f.pod(f"todo-backend-7c9f6d5b8-{i:05d}", NS, owner=("ReplicaSet", RS), containers=[backend()])
        for i in range(20)
    ]
    s = snap(*pods, *others, *[backoff_event(p) for p in pods + others])
    assert [x.code for x in containers.analyze(s)] == ["OOMKilled"]
    assert "Event" not in asked


# ---- run_all isolation -----------------------------------------------------------------------------------
def test_run_all_isolates_a_failing_analyzer_into_a_note() -> None:
    def boom(snapshot: Snapshot) -> list[Finding]:
        raise KeyError("status")

    p = bpod([crashloop(last=f.terminated("OOMKilled", 137))])
    registry = (("boom", boom), *[r for r in REGISTRY if r[0] == "containers"])
    diagnosis = run_all(snap(p), registry=registry)
    assert [x.code for x in diagnosis.findings] == ["OOMKilled"]
    assert any(n.startswith("analyzer boom failed: KeyError") for n in diagnosis.notes)


def test_findings_serialize_to_the_public_json_shape() -> None:
    p = bpod([crashloop(last=f.terminated("OOMKilled", 137))])
    d = only(diagnose(p)).to_dict()
    assert set(d) == {
        "code",
        "severity",
        "object",
        "container",
        "owner",
        "summary",
        "evidence",
        "remediation",
        "detected_at",
        "started_at",
        "cause",
    }
    assert d["object"] == {"kind": "Pod", "namespace": NS, "name": POD}
    assert d["detected_at"] == f.ts(0)
