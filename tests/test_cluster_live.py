"""LiveSource against the fake API server over real HTTP, with the official kubernetes client."""

from __future__ import annotations

import copy
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fakeapi import FakeApiServer

from aiops.cluster.files import FileSource
from aiops.cluster.live import LiveSource, crashing_containers
from aiops.errors import InputError, UnreachableError
from aiops.model.kinds import ROUTINE_EVENT_REASONS


@pytest.fixture(autouse=True, params=["threads", "forked"])
def fetcher_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs with both fetchers: the thread pools here, and the forked reader process
    (chosen by `can_fork()`, which a test process running the fake server's threads would refuse)."""
    monkeypatch.setattr("aiops.cluster.live.can_fork", lambda: request.param == "forked")
    return str(request.param)


def _keys(items: Any) -> set[tuple[str, str, str]]:
    return {(o["kind"], o["metadata"].get("namespace") or "", o["metadata"]["name"]) for o in items}


def test_reads_the_sample_like_the_file(
    sample_api: FakeApiServer, kubeconfig: str, sample_files: tuple[str, str]
) -> None:
    snap = LiveSource(kubeconfig=kubeconfig).read()
    expected = FileSource(paths=(sample_files[0],)).read()
    # everything but the routine lifecycle events, which the API server is asked to leave out
    routine = [o for o in expected.of_kind("Event") if o.get("reason") in ROUTINE_EVENT_REASONS]
    assert routine  # the sample has some: Scheduled, Pulled, Started, ScalingReplicaSet, ...
    assert _keys(snap.items) == _keys(expected.items) - _keys(routine)
    pod = snap.get("Pod", "todo", "todo-backend-7c9f6d5b8-4kq2z")
    assert pod is not None and pod["apiVersion"] == "v1"
    assert pod["status"] == expected.get("Pod", "todo", "todo-backend-7c9f6d5b8-4kq2z")["status"]  # type: ignore[index]
    assert (
        snap.get("PodMetrics", "todo", "todo-backend-7c9f6d5b8-9xw7m")["apiVersion"]
        == "metrics.k8s.io/v1beta1"
    )  # type: ignore[index]
    # judged at the API server's clock (Date header), not ours
    assert snap.at == datetime(2026, 11, 25, 10, 42, 17, tzinfo=UTC)
    assert snap.cluster == "fake" and snap.sources == (sample_api.url,)
    assert snap.notes == ()
    # read-only, never Secrets
    assert {r.method for r in sample_api.requests} == {"GET"}
    assert not any("secret" in r.path for r in sample_api.requests)


def test_previous_logs_only_for_crashing_containers(sample_api: FakeApiServer, kubeconfig: str) -> None:
    snap = LiveSource(kubeconfig=kubeconfig).read()
    log_requests = [r for r in sample_api.requests if r.path.endswith("/log")]
    # the OOM-looping backend pod only: not the healthy replica, not the old coredns restart,
    # not the completed migration Job pod, not the pod that never started
    assert [r.path for r in log_requests] == ["/api/v1/namespaces/todo/pods/todo-backend-7c9f6d5b8-4kq2z/log"]
    assert log_requests[0].query["previous"] == "true"
    assert log_requests[0].query["container"] == "backend"
    assert log_requests[0].query["tailLines"] == "80"
    assert list(snap.logs) == ["todo/todo-backend-7c9f6d5b8-4kq2z/backend"]
    assert "embeddings cache 248 MiB" in snap.logs["todo/todo-backend-7c9f6d5b8-4kq2z/backend"]


def test_log_tail_is_bounded(sample_api: FakeApiServer, kubeconfig: str) -> None:
    sample_api.set_log(
        "todo",
        "todo-backend-7c9f6d5b8-4kq2z",
        "backend",
        "".join(f"line {i}\n" for i in range(500)),
        previous=True,
    )
    snap = LiveSource(kubeconfig=kubeconfig, log_tail=5).read()
    assert snap.logs["todo/todo-backend-7c9f6d5b8-4kq2z/backend"] == "".join(
        f"line {i}\n" for i in range(495, 500)
    )


def _pod(i: int, ns: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"web-{i:04d}", "namespace": ns, "uid": f"u-{ns}-{i}", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
        "status": {"phase": "Running", "startTime": "2026-11-25T10:00:00Z"},
    }


def test_pagination_with_limit_and_continue(fake_api: FakeApiServer, kubeconfig: str) -> None:
    fake_api.load(_pod(i, "shop" if i % 2 else "todo") for i in range(1234))
    snap = LiveSource(kubeconfig=kubeconfig, page_limit=100).read()
    assert len(snap.of_kind("Pod")) == 1234
    assert len(_keys(snap.items)) == 1234
    pod_calls = [r for r in fake_api.requests if r.path == "/api/v1/pods"]
    assert len(pod_calls) == 13
    assert all(r.query["limit"] == "100" for r in pod_calls)
    assert "continue" not in pod_calls[0].query and all("continue" in r.query for r in pod_calls[1:])


def test_pagination_when_metadata_comes_after_items(fake_api: FakeApiServer, kubeconfig: str) -> None:
    fake_api.items_first = True
    fake_api.load(_pod(i, "todo") for i in range(250))
    snap = LiveSource(kubeconfig=kubeconfig, page_limit=100).read()
    assert len(_keys(snap.of_kind("Pod"))) == 250


def test_namespace_scoping(sample_api: FakeApiServer, kubeconfig: str) -> None:
    snap = LiveSource(kubeconfig=kubeconfig, namespaces=["todo"]).read()
    namespaces = {
        o["metadata"].get("namespace") for o in snap.items if o["kind"] not in ("Node", "Namespace")
    }
    assert namespaces <= {"todo", "default"}
    assert [o["metadata"]["name"] for o in snap.of_kind("Namespace")] == ["todo"]
    assert snap.of_kind("Node")  # cluster-scoped kinds are still read
    # node events live in `default`: read with a field selector, nothing else from there
    default_events = [r for r in sample_api.requests if r.path == "/api/v1/namespaces/default/events"]
    assert [r.query.get("fieldSelector") for r in default_events] == [
        "involvedObject.kind=Node,reason!=Scheduled,reason!=Pulling,reason!=Pulled,reason!=Created,"
        "reason!=Started,reason!=SuccessfulCreate,reason!=SuccessfulDelete,reason!=ScalingReplicaSet"
    ]
    assert [
        o["involvedObject"]["kind"] for o in snap.of_kind("Event") if o["metadata"]["namespace"] == "default"
    ] == ["Node"]
    assert not any(r.path.startswith("/api/v1/namespaces/kube-system") for r in sample_api.requests)
    assert not any(r.path == "/api/v1/pods" for r in sample_api.requests)


def test_forbidden_kind_becomes_a_note(sample_api: FakeApiServer, kubeconfig: str) -> None:
    sample_api.forbid("configmaps")
    sample_api.forbid("clusterroles", "rbac.authorization.k8s.io/v1")
    snap = LiveSource(kubeconfig=kubeconfig).read()
    assert not snap.of_kind("ConfigMap") and snap.of_kind("Pod")
    assert any("no permission to list configmaps" in n for n in snap.notes)
    assert any("no permission to list clusterroles" in n for n in snap.notes)


def test_metrics_api_missing_or_failing_is_a_note(sample_api: FakeApiServer, kubeconfig: str) -> None:
    sample_api.fail(r"^/apis/metrics\.k8s\.io/", status=503, times=10)
    snap = LiveSource(kubeconfig=kubeconfig, backoff=0.01).read()
    assert not snap.of_kind("PodMetrics") and snap.of_kind("Pod")
    assert any("pods (metrics.k8s.io/v1beta1) could not be read" in n for n in snap.notes)


def test_5xx_is_retried_then_succeeds(sample_api: FakeApiServer, kubeconfig: str) -> None:
    sample_api.fail(r"^/api/v1/pods$", status=503, times=2)
    snap = LiveSource(kubeconfig=kubeconfig, backoff=0.01, retries=3).read()
    assert len(snap.of_kind("Pod")) == 7
    assert len([r for r in sample_api.requests if r.path == "/api/v1/pods"]) == 3


def test_5xx_after_retries_is_unreachable(sample_api: FakeApiServer, kubeconfig: str) -> None:
    sample_api.fail(r"^/apis/apps/v1/deployments$", status=500, times=100)
    with pytest.raises(UnreachableError) as err:
        LiveSource(kubeconfig=kubeconfig, backoff=0.01, retries=2).read()
    text = err.value.one_line()
    assert sample_api.url in text and "/apis/apps/v1/deployments" in text and "3 attempts" in text
    assert err.value.exit_code == 3
    assert len([r for r in sample_api.requests if r.path == "/apis/apps/v1/deployments"]) == 3


def test_timeout_is_retried(sample_api: FakeApiServer, kubeconfig: str) -> None:
    sample_api.delay(r"^/api/v1/nodes$", 1.0, times=1)
    snap = LiveSource(kubeconfig=kubeconfig, timeout=0.3, backoff=0.01).read()
    assert len(snap.of_kind("Node")) == 1


def test_connection_refused_is_unreachable(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    fake = FakeApiServer()
    fake._server = type("S", (), {"server_address": ("127.0.0.1", port)})()  # type: ignore[assignment]
    kc = fake.write_kubeconfig(tmp_path / "kc")
    with pytest.raises(UnreachableError, match=rf"cluster http://127.0.0.1:{port}: .*connection refused"):
        LiveSource(kubeconfig=str(kc), backoff=0.01, retries=1).read()


def test_missing_kubeconfig_and_unknown_context(tmp_path: Path, kubeconfig: str) -> None:
    with pytest.raises(InputError, match="--kubeconfig"):
        LiveSource(kubeconfig=str(tmp_path / "missing")).read()
    with pytest.raises(InputError, match="--context"):
        LiveSource(kubeconfig=kubeconfig, context="nope").read()


def test_crashing_containers_rule(sample_items: list[dict[str, Any]]) -> None:
    at = datetime(2026, 11, 25, 10, 42, 17, tzinfo=UTC)
    assert crashing_containers(sample_items, at) == [("todo", "todo-backend-7c9f6d5b8-4kq2z", "backend")]
    # a container that restarted recently but runs now still counts (recent termination) ...
    pod = copy.deepcopy(next(o for o in sample_items if o["metadata"]["name"] == "coredns-6f6b679f8f-7dm4v"))
    pod["status"]["containerStatuses"][0]["lastState"]["terminated"]["finishedAt"] = "2026-11-25T10:30:00Z"
    assert crashing_containers([pod], at) == [("kube-system", "coredns-6f6b679f8f-7dm4v", "coredns")]
    # ... one that restarted days ago does not
    assert crashing_containers([pod], datetime(2026, 11, 27, tzinfo=UTC)) == []


def test_routine_events_are_left_out_and_change_no_finding(
    sample_api: FakeApiServer, kubeconfig: str, sample_files: tuple[str, str]
) -> None:
    from aiops.diagnose import run_all

    snap = LiveSource(kubeconfig=kubeconfig).read()
    event_lists = [r for r in sample_api.requests if r.path.endswith("/events")]
    assert event_lists and all(
        r.query["fieldSelector"].split(",") == [f"reason!={x}" for x in ROUTINE_EVENT_REASONS]
        for r in event_lists
    )
    assert not any(o.get("reason") in ROUTINE_EVENT_REASONS for o in snap.of_kind("Event"))
    # the same cluster from its file (every event, the same previous logs): the same findings
    full = FileSource(paths=(sample_files[0],), logs_path=sample_files[1], at=snap.at).read()
    assert len(full.of_kind("Event")) > len(snap.of_kind("Event"))
    assert {k: full.logs[k] for k in snap.logs} == snap.logs
    live_findings = run_all(snap).findings
    assert live_findings and live_findings == run_all(full).findings


def test_no_analyzer_reads_a_routine_event_reason() -> None:
    """The live source does not fetch them: an analyzer keyed on one would never fire live."""
    pkg = Path(__file__).resolve().parent.parent / "aiops" / "diagnose"
    for path in sorted(pkg.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        for reason in ROUTINE_EVENT_REASONS:
            assert f'"{reason}"' not in text and f"'{reason}'" not in text, (
                f"{path.name} uses event reason {reason}; drop it from ROUTINE_EVENT_REASONS "
                "(aiops/model/kinds.py) so live reads fetch it"
            )


def test_token_hook_runs_once_per_interval_and_again_after_a_401(
    sample_api: FakeApiServer, kubeconfig: str
) -> None:
    """The client would run the kubeconfig's token-refresh hook before every request; we run it at
    most once per TOKEN_RECHECK seconds, and at once when the server answers 401. (Counted in
    this process: a forked reader runs the hook in its own.)"""
    src = LiveSource(kubeconfig=kubeconfig, backoff=0.01, fork=False)
    src._connect()
    cfg = src._client.configuration
    loaders_hook = cfg.refresh_api_key_hook
    assert loaders_hook is not None  # a token user: the loader re-checks expiry through it
    calls: list[int] = []

    def hook(c: Any) -> None:
        calls.append(1)
        loaders_hook(c)
        c.refresh_api_key_hook = hook  # like the loader's hook, it puts itself back

    cfg.refresh_api_key_hook = hook
    snap = src.read()
    assert snap.of_kind("Pod") and len(sample_api.requests) > 20
    assert calls == [1]
    sample_api.fail(r"^/version$", status=401, times=1)
    _, headers = src._get("/version")
    assert headers is not None and calls == [1, 1]
    sample_api.fail(r"^/version$", status=401, times=10)
    with pytest.raises(UnreachableError, match="401"):
        src._probe()


def test_requests_carry_the_kubeconfig_token(sample_api: FakeApiServer, tmp_path: Path) -> None:
    """The fake API server answers 401 without `Authorization: Bearer <the kubeconfig's token>`."""
    good = sample_api.write_kubeconfig(tmp_path / "good")
    assert LiveSource(kubeconfig=str(good)).read().of_kind("Pod")
    bad = tmp_path / "bad"
    bad.write_text(good.read_text().replace(str(sample_api.token), "stolen"), encoding="utf-8")
    with pytest.raises(UnreachableError, match="credentials rejected"):
        LiveSource(kubeconfig=str(bad), backoff=0.01).read()


def test_expired_continue_token_starts_the_list_again(fake_api: FakeApiServer, kubeconfig: str) -> None:
    """410 Gone on a later page (the token expired): what came is dropped and the list is read
    again from the start, so no pod is missing or read twice."""
    fake_api.load(_pod(i, "todo") for i in range(250))
    fake_api.fail(r"^/api/v1/pods$", status=410, times=1, continued=True)
    snap = LiveSource(kubeconfig=kubeconfig, page_limit=100).read()
    assert len(snap.of_kind("Pod")) == 250 and len(_keys(snap.of_kind("Pod"))) == 250
    calls = [r for r in fake_api.requests if r.path == "/api/v1/pods"]
    # page 1, page 2 answered 410, then pages 1-3 again
    assert ["continue" in r.query for r in calls] == [False, True, False, True, True]


def test_previous_logs_start_with_the_first_page_of_pods(fake_api: FakeApiServer, kubeconfig: str) -> None:
    """A crashing pod's previous log is requested before the last page of pods is listed."""
    pods = [_pod(i, "todo") for i in range(250)]
    crashing = pods[3]
    crashing["status"]["containerStatuses"] = [
        {
            "name": "web",
            "restartCount": 4,
            "ready": False,
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}},
            "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
        }
    ]
    fake_api.load(pods)
    fake_api.set_log("todo", "web-0003", "web", "boom\n", previous=True)
    fake_api.delay(r"^/api/v1/pods$", 0.15, times=10)  # every page is slow: logs need not wait
    snap = LiveSource(kubeconfig=kubeconfig, page_limit=100).read()
    assert snap.logs == {"todo/web-0003/web": "boom\n"}
    paths = [r.path for r in fake_api.requests]
    log_at = paths.index("/api/v1/namespaces/todo/pods/web-0003/log")
    assert log_at < max(i for i, p in enumerate(paths) if p == "/api/v1/pods")


def test_a_failing_list_stops_the_queued_log_reads(fake_api: FakeApiServer, kubeconfig: str) -> None:
    """When a list fails for good, the read ends with that error at once: previous-log reads still
    queued are dropped, not made (each would retry against a cluster that may be gone)."""
    pods = [_pod(i, "todo") for i in range(40)]
    for pod in pods:
        pod["status"]["containerStatuses"] = [
            {
                "name": "web",
                "restartCount": 3,
                "ready": False,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
            }
        ]
    fake_api.load(pods)
    fake_api.delay(r"/log$", 0.2, times=40)
    # the failure comes once the pods are in and their log reads queued
    fake_api.fail(r"^/apis/apps/v1/deployments$", status=500, times=10, after=0.5)
    with pytest.raises(UnreachableError, match="deployments"):
        LiveSource(kubeconfig=kubeconfig, retries=0, log_workers=1).read()
    logs = [r for r in fake_api.requests if r.path.endswith("/log")]
    assert 0 < len(logs) < 40
