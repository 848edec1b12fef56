"""`aiops watch` against the fake API server over real HTTP (watch streams included).

The cluster is the bundled sample with the backend healthy (its crashing pod and that pod's events
held back); the failure arrives through the fake server as the API server would send it: the
failing pod and its events, on the watch streams. The forge is the local one over a real git ops
repository; its proposals and dashboard are read back.
"""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fakeapi import FakeApiServer
from opsrepo import BACKEND_VALUES, aiops, make_opsrepo, sample_backend_values

from aiops.gitops.local import LocalForge
from aiops.model.findings import Finding, Severity
from aiops.model.k8s import ObjectRef, OwnerRef, format_time, parse_time
from aiops.model.kinds import ROUTINE_EVENT_REASONS
from aiops.pipeline.watch import Watcher, WatchOptions
from aiops.watch import Detection, Detector, problem_key

ROOT = Path(__file__).resolve().parent.parent
FAILING_POD = "todo-backend-7c9f6d5b8-4kq2z"
DRY_LOCAL = ("--metrics-port", "0", "--dry-run", "--forge", "local", "--repo")


def wait_for(check: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    """Poll until `check()` is truthy (a guard against hanging, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    pytest.fail(f"timed out waiting for {what}")


def _involves(obj: dict[str, Any], name: str) -> bool:
    return obj.get("kind") == "Event" and (obj.get("involvedObject") or {}).get("name") == name


@dataclass
class Env:
    fake: FakeApiServer
    watcher: Watcher
    forge: LocalForge
    held: list[dict[str, Any]]  # the failing pod and its events, not yet in the cluster
    lines: list[str]

    def fail_backend(self) -> None:
        for obj in self.held:
            self.fake.upsert(obj)

    def detections(self) -> list[Detection]:
        assert self.watcher.loop is not None
        return self.watcher.loop.detector.active()

    def detected(self, code: str, workload: str) -> Detection | None:
        assert self.watcher.loop is not None
        return self.watcher.loop.detector.get(f"{code} {workload}")


@pytest.fixture
def env(sample_items: list[dict[str, Any]], sample_files: tuple[str, str], tmp_path: Path) -> Iterator[Env]:
    from aiops.cluster.files import FileSource

    held = [o for o in sample_items if (o.get("metadata") or {}).get("name") == FAILING_POD]
    held += [o for o in sample_items if _involves(o, FAILING_POD)]
    fake = FakeApiServer(now="2026-11-25T10:42:17Z")
    fake.load(o for o in sample_items if not any(o is h for h in held))
    logs = FileSource(paths=(sample_files[0],), logs_path=sample_files[1]).read().logs
    for key, text in logs.items():
        ns, pod, container = key.split("/")
        fake.set_log(ns, pod, container, text, previous=True)
    fake.start()
    kubeconfig = fake.write_kubeconfig(tmp_path / "kubeconfig")
    repo = make_opsrepo(tmp_path, files={BACKEND_VALUES: sample_backend_values()})
    forge = LocalForge(repo)
    lines: list[str] = []
    watcher = Watcher(
        WatchOptions(
            kubeconfig=str(kubeconfig), namespaces=("todo",), metrics_host="127.0.0.1", metrics_port=0
        ),
        emit=lines.append,
        forge=forge,
    )
    watcher.watch.backoff = 0.02
    watcher.watch.backoff_max = 0.2
    try:
        watcher.open()
        watcher.start()
        wait_for(watcher.ready, "the watch streams to connect")
        wait_for(lambda: watcher.loop is not None and watcher.loop.passes >= 1, "the initial analysis")
        yield Env(fake, watcher, forge, held, lines)
    finally:
        watcher.close()
        fake.stop()


# ---- detection ---------------------------------------------------------------------------------


def test_a_new_failure_is_detected_with_its_start_and_detection_times(env: Env) -> None:
    initial = {d.key for d in env.detections()}
    assert "OOMKilled Deployment/todo/todo-backend" not in initial  # the backend starts healthy
    assert "CreateContainerConfigError Deployment/todo/todo-frontend" in initial

    before = env.watcher.watch.now()
    env.fail_backend()
    det = wait_for(
        lambda: env.detected("OOMKilled", "Deployment/todo/todo-backend"), "the OOMKilled detection"
    )

    assert not det.initial
    assert det.finding.object == ObjectRef("Pod", "todo", FAILING_POD)
    assert det.finding.cause is not None and det.finding.cause.type == "oom-limit"
    # started_at: when the failure began (its first BackOff event), detected_at: the watcher's clock
    assert det.started_at == parse_time("2026-11-25T09:58:52Z")
    assert det.detected_at >= before - timedelta(seconds=1)
    assert det.mttd_seconds == pytest.approx((det.detected_at - det.started_at).total_seconds())
    # the previous log was fetched for the crashing container, so the evidence quotes it
    assert any("log (last line before the kill)" in e for e in det.finding.evidence)
    assert any(ln.startswith("detected critical OOMKilled todo/Deployment/todo-backend") for ln in env.lines)


def test_routine_events_are_neither_listed_nor_watched(env: Env) -> None:
    """Like the live source, the watcher asks for events without the routine lifecycle reasons."""
    routine = [o for o in env.held if o.get("kind") == "Event" and o.get("reason") in ROUTINE_EVENT_REASONS]
    assert routine  # the failing pod's Scheduled/Pulled/... events arrive on the stream too
    env.fail_backend()
    wait_for(lambda: env.detected("OOMKilled", "Deployment/todo/todo-backend"), "the OOMKilled detection")
    events = [o for o in env.watcher.watch.store.items(None) if o.get("kind") == "Event"]
    assert events and not any(o.get("reason") in ROUTINE_EVENT_REASONS for o in events)
    calls = [r for r in env.fake.requests if r.path.endswith("/events")]
    assert {r.query.get("watch") == "true" for r in calls} == {True, False}
    assert all(r.query["fieldSelector"].startswith("reason!=Scheduled,") for r in calls)


def test_one_proposal_and_one_dashboard_line_per_problem(env: Env) -> None:
    env.fail_backend()
    wait_for(lambda: env.forge.find_proposals(key="rightsize-todo-deployment-todo-backend"), "the proposal")
    dashboard = wait_for(
        lambda: (env.forge.dashboard() or "") if "OOMKilled" in (env.forge.dashboard() or "") else "",
        "the dashboard line",
    )
    assert dashboard.count("`OOMKilled`") == 1
    assert dashboard.count("`CreateContainerConfigError`") == 1
    # the recommendation record carries the failure's start and the watcher's detection (MTTD)
    det = env.detected("OOMKilled", "Deployment/todo/todo-backend")
    assert det is not None
    (proposal,) = env.forge.find_proposals(key="rightsize-todo-deployment-todo-backend")
    (record,) = [p for p in env.forge.list_files("history/prompts/", ref=proposal.branch) if proposal.id in p]
    text = env.forge.read_file(record, ref=proposal.branch) or ""
    assert (
        "failure_started_at: '2026-11-25T09:58:52Z'" in text
        or "failure_started_at: 2026-11-25T09:58:52Z" in text
    )
    assert (
        f"detected_at: '{format_time(det.detected_at)}'" in text
        or f"detected_at: {format_time(det.detected_at)}" in text
    )

    # the pod keeps crashing: more restarts, a new event — the same problem, nothing new is opened
    pod = copy.deepcopy(next(o for o in env.held if o["kind"] == "Pod"))
    pod["status"]["containerStatuses"][0]["restartCount"] = 7
    analyses = _metric(env, "aiops_watch_analyses_total")
    env.fake.upsert(pod)
    wait_for(lambda: _metric(env, "aiops_watch_analyses_total") > analyses, "the re-analysis")
    backend = env.forge.find_proposals(key="rightsize-todo-deployment-todo-backend", state="all")
    assert len(backend) == 1
    assert len(env.forge.find_proposals(state="all")) == 2  # backend rightsize + frontend config
    assert (env.forge.dashboard() or "").count("`OOMKilled`") == 1
    assert _metric(env, 'aiops_watch_detections_total{code="OOMKilled"}') == 1


def test_a_rate_limited_proposal_waits_on_the_dashboard_and_is_retried(env: Env) -> None:
    from aiops.pipeline.watch import ForgeSink
    from aiops.settings import load_settings_text

    assert env.watcher.loop is not None
    assert len(env.forge.find_proposals(state="all")) == 1  # the frontend's config fix, at start
    sink = ForgeSink(
        env.forge, load_settings_text("proposals: {max_per_hour: 1}\n"), metrics=env.watcher.metrics
    )
    env.watcher.loop.sink = sink
    env.fail_backend()
    wait_for(lambda: "deferred (proposals.max_per_hour 1" in (env.forge.dashboard() or ""), "the deferral")
    assert len(env.forge.find_proposals(state="all")) == 1
    assert "OOMKilled Deployment/todo/todo-backend" in sink.pending

    # the limit allows it again (an hour passed, say): the next quiet pass opens it, once
    sink.settings = load_settings_text("proposals: {max_per_hour: 5}\n")
    env.watcher.loop.retry_seconds = 0.0
    wait_for(lambda: env.forge.find_proposals(key="rightsize-todo-deployment-todo-backend"), "the retry")
    wait_for(lambda: not sink.pending, "the pending list to empty")
    time.sleep(0.6)  # more quiet passes: nothing is owed, nothing more is opened
    assert len(env.forge.find_proposals(state="all")) == 2
    assert "| opened #2 |" in (env.forge.dashboard() or "")


def test_it_resumes_from_its_resource_version_after_a_dropped_connection(env: Env) -> None:
    relists = env.watcher.watch.stats.relists
    watches = env.fake.watch_count()
    env.fake.drop_watches()
    wait_for(lambda: env.fake.watch_count() >= watches + 4, "the streams to reconnect")
    env.fail_backend()
    wait_for(
        lambda: env.detected("OOMKilled", "Deployment/todo/todo-backend"), "the detection after the drop"
    )
    assert env.watcher.watch.stats.restarts.get("error", 0) >= 4
    assert env.watcher.watch.stats.relists == relists  # resumed, not re-listed
    resumed = [r for r in env.fake.requests if r.query.get("watch") == "true"][watches:]
    assert resumed and all(r.query.get("resourceVersion") not in (None, "", "0") for r in resumed)


def test_410_gone_relists_and_finds_what_changed_meanwhile(env: Env) -> None:
    relists = env.watcher.watch.stats.relists
    env.fake.fail(r"^/api/v1/namespaces/todo/pods$", status=503, times=10**6)  # the pod stream stays down
    env.fake.drop_watches()
    wait_for(lambda: env.watcher.watch.stats.restarts.get("error", 0) >= 6, "the pod stream to fail")
    env.fail_backend()  # happens while the pod stream is away
    env.fake.compact()  # ... and the server forgets the versions it missed
    env.fake.faults.clear()
    wait_for(lambda: env.watcher.watch.stats.restarts.get("gone", 0) >= 1, "410 Gone")
    wait_for(
        lambda: env.detected("OOMKilled", "Deployment/todo/todo-backend"), "the detection after the re-list"
    )
    assert env.watcher.watch.stats.relists > relists


# ---- endpoints and shutdown --------------------------------------------------------------------


def _get(env: Env, path: str) -> tuple[int, str]:
    assert env.watcher.server is not None
    url = f"http://127.0.0.1:{env.watcher.server.port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return int(resp.status), resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _metric(env: Env, name: str) -> float:
    for line in env.watcher.metrics.render().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def test_metrics_and_health_endpoints(env: Env) -> None:
    env.fail_backend()
    wait_for(lambda: env.detected("OOMKilled", "Deployment/todo/todo-backend"), "the detection")
    status, text = _get(env, "/metrics")
    assert status == 200
    lines = text.splitlines()
    assert 'aiops_watch_findings{code="OOMKilled",severity="critical"} 1' in lines
    assert 'aiops_watch_findings{code="CreateContainerConfigError",severity="critical"} 1' in lines
    assert 'aiops_watch_detections_total{code="OOMKilled"} 1' in lines
    assert "# TYPE aiops_watch_mttd_seconds histogram" in lines
    assert "aiops_watch_mttd_seconds_count 1" in lines  # the new failure; those failing at start are not MTTD
    assert 'aiops_watch_restarts_total{reason="gone"} 0' in lines
    assert "aiops_watch_streams_connected 4" in lines
    last = next(ln for ln in lines if ln.startswith("aiops_watch_last_event_timestamp_seconds "))
    assert abs(float(last.split()[1]) - time.time()) < 600
    events = next(ln for ln in lines if ln.startswith("aiops_watch_events_total "))
    # the failing pod and its events, but not its routine ones (they are not watched)
    arriving = [o for o in env.held if o.get("reason") not in ROUTINE_EVENT_REASONS]
    assert len(arriving) < len(env.held) and int(events.split()[1]) >= len(arriving)
    assert _get(env, "/healthz") == (200, "ok\n")
    assert _get(env, "/readyz") == (200, "ready\n")
    assert _get(env, "/secrets")[0] == 404


def test_close_stops_streams_and_server(env: Env) -> None:
    threads = list(env.watcher.watch._threads)
    env.watcher.close()
    assert not any(t.is_alive() for t in threads)
    assert not env.watcher.healthy() and not env.watcher.ready()
    with pytest.raises(urllib.error.URLError):
        _get(env, "/healthz")


def test_a_forbidden_kind_is_a_note_not_a_failure(
    sample_api: FakeApiServer, kubeconfig: str, tmp_path: Path
) -> None:
    sample_api.forbid("configmaps")
    watcher = Watcher(
        WatchOptions(kubeconfig=kubeconfig, metrics_port=None), forge=LocalForge(make_opsrepo(tmp_path))
    )
    try:
        watcher.open()
        wait_for(watcher.ready, "the watch streams to connect")
        assert watcher.healthy()
        assert watcher.watch.notes == ["cannot list configmaps (v1): HTTP 403"]
        new, _ = watcher.once()  # the analyzers still run, without ConfigMap evidence
        assert {d.code for d in new} >= {"OOMKilled", "CreateContainerConfigError"}
    finally:
        watcher.close()


def test_cli_stops_gracefully_on_sigterm(
    sample_items: list[dict[str, Any]], fake_api: FakeApiServer, kubeconfig: str, tmp_path: Path
) -> None:
    fake_api.load(sample_items)
    repo = make_opsrepo(tmp_path)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aiops",
            "watch",
            "--kubeconfig",
            kubeconfig,
            "-n",
            "todo",
            *DRY_LOCAL,
            str(repo),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.extend(iter(proc.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        wait_for(lambda: "watching\n" in out, "the CLI to start watching", timeout=60)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
    reader.join(5)
    text = "".join(out)
    assert "detected critical OOMKilled todo/Deployment/todo-backend" in text
    assert "received SIGTERM: stopping" in text and text.rstrip().endswith("stopped")
    assert "dashboard (dry run, not written)" in text
    assert LocalForge(repo).find_proposals(state="all") == []  # a dry run writes nothing
    assert LocalForge(repo).dashboard() is None


def test_cli_once_reports_and_exits(sample_api: FakeApiServer, kubeconfig: str, tmp_path: Path) -> None:
    repo = make_opsrepo(tmp_path, files={BACKEND_VALUES: sample_backend_values()})
    run = aiops("watch", "--kubeconfig", kubeconfig, "-A", "--once", "--forge", "local", "--repo", str(repo))
    assert run.code == 0, run.err
    assert "3 problem(s) failing" in run.out
    assert "proposal: opened #1: rightsize todo/todo-backend" in run.out
    assert "`OOMKilled`" in (LocalForge(repo).dashboard() or "")


def test_cli_unreachable_cluster_is_exit_3(tmp_path: Path) -> None:
    server = FakeApiServer().start()
    config = server.write_kubeconfig(tmp_path / "kubeconfig")
    server.stop()
    repo = make_opsrepo(tmp_path)
    run = aiops("watch", "--kubeconfig", str(config), "--once", "--forge", "local", "--repo", str(repo))
    assert run.code == 3
    assert "GET /version failed" in run.err and "connection refused" in run.err


def test_cli_rejects_n_with_a() -> None:
    run = aiops("watch", "-n", "todo", "-A", "--once")
    assert run.code == 2 and "-n/--namespace and -A/--all-namespaces" in run.err


# ---- the detector, pure -------------------------------------------------------------------------


def _finding(code: str, pod: str, deploy: str, started: str | None, ns: str = "todo") -> Finding:
    return Finding(
        code=code,
        severity=Severity.CRITICAL,
        object=ObjectRef("Pod", ns, pod),
        summary=f"{code} on {pod}",
        owner=OwnerRef("Deployment", deploy),
        started_at=parse_time(started),
    )


def test_detector_one_problem_per_code_and_workload_and_scope() -> None:
    at = datetime(2026, 11, 25, 11, 0, tzinfo=UTC)
    det = Detector()
    a = _finding("OOMKilled", "api-1", "api", "2026-11-25T10:59:00Z")
    b = _finding("OOMKilled", "api-2", "api", "2026-11-25T10:58:00Z")  # same problem, earlier start
    c = _finding("ImagePullBackOff", "web-1", "web", None, ns="shop")
    new, cleared = det.update([a, b, c], namespaces=None, at=at)
    assert sorted(d.key for d in new) == [
        "ImagePullBackOff Deployment/shop/web",
        "OOMKilled Deployment/todo/api",
    ]
    api = det.get(problem_key(a))
    assert (
        api is not None and api.started_at == parse_time("2026-11-25T10:58:00Z") and api.mttd_seconds == 120
    )
    assert det.get(problem_key(c)) is not None and det.get(problem_key(c)).mttd_seconds is None  # type: ignore[union-attr]

    # analysing `todo` alone never clears `shop`; the same problem again is not new
    new, cleared = det.update([a], namespaces=["todo"], at=at + timedelta(seconds=5))
    assert new == [] and cleared == []
    new, cleared = det.update([], namespaces=["todo"], at=at + timedelta(seconds=10))
    assert [d.key for d in cleared] == ["OOMKilled Deployment/todo/api"]
    assert [d.key for d in det.active()] == ["ImagePullBackOff Deployment/shop/web"]
    # it comes back: a new problem again
    new, _ = det.update([a], namespaces=["todo"], at=at + timedelta(seconds=20))
    assert [d.key for d in new] == ["OOMKilled Deployment/todo/api"]


# ---- through the GitHub forge: files and policy read through the API, no checkout ---------------


class FakeGitHub:
    """A stateful stand-in for the REST endpoints the GitHub forge uses (via `responses`)."""

    def __init__(self, rsps: Any, files: dict[str, str]) -> None:
        import re as _re

        import ghpayloads as gh

        self.gh, self.files, self.pulls, self.issues = gh, files, [], []  # type: ignore[var-annotated]
        self.calls: list[str] = []
        base = _re.escape(gh.M)
        for method in ("GET", "POST", "PUT", "PATCH"):
            rsps.add_callback(method, _re.compile(base + r"(/.*)?$"), callback=self.answer)

    def answer(self, request: Any) -> tuple[int, dict[str, str], str]:
        import json as _json
        from urllib.parse import parse_qs, unquote, urlsplit

        gh = self.gh
        parts = urlsplit(str(request.url))
        path = unquote(parts.path).removeprefix(f"/repos/{gh.REPO}")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        body = _json.loads(request.body) if request.body else None
        self.calls.append(f"{request.method} {path}")
        ok = 201 if request.method == "POST" else 200

        def reply(data: Any, status: int = ok) -> tuple[int, dict[str, str], str]:
            return status, {"Content-Type": "application/json"}, _json.dumps(data)

        if request.method == "GET" and path == "":
            return reply(
                {
                    "id": 10,
                    "name": gh.NAME,
                    "full_name": gh.REPO,
                    "default_branch": "main",
                    "url": gh.R,
                    "html_url": f"{gh.HTML}/{gh.REPO}",
                    "owner": gh.user(gh.OWNER, 2),
                }
            )
        if request.method == "GET" and path.startswith("/contents/"):
            name = path.removeprefix("/contents/")
            if name in self.files:
                return reply(gh.content(name, self.files[name]))
            return reply(gh.error("Not Found"), 404)
        if path == "/pulls" and request.method == "GET":
            found = [p for p in self.pulls if query.get("state") in (None, "all", p["state"])]
            if "head" in query:
                found = [p for p in found if f"{gh.OWNER}:{p['head']['ref']}" == query["head"]]
            return reply(found)
        if path == "/pulls" and request.method == "POST":
            pr = gh.pr(len(self.pulls) + 1, branch=body["head"], body=body["body"], title=body["title"])
            self.pulls.append(pr)
            return reply(pr)
        if path.startswith("/git/ref/heads/"):
            return reply(gh.ref(path.removeprefix("/git/ref/"), gh.sha("a")))
        if path.startswith("/git/commits/"):
            return reply(gh.git_commit(gh.sha("a"), gh.sha("b")))
        if path == "/git/trees":
            return reply(gh.tree(gh.sha("d"), []))
        if path == "/git/commits":
            return reply(gh.git_commit(gh.sha("c"), gh.sha("d"), (gh.sha("a"),)))
        if path == "/git/refs":
            return reply(gh.ref(body["ref"].removeprefix("refs/"), gh.sha("c")))
        if path.startswith("/labels/"):
            return reply(gh.label(path.removeprefix("/labels/")))
        if path.endswith("/labels") and request.method == "PUT":
            return reply([gh.label(n) for n in body])
        if path.endswith("/requested_reviewers"):
            return reply(self.pulls[int(path.split("/")[2]) - 1])
        if path == "/issues" and request.method == "GET":
            return reply(self.issues)
        if path == "/issues" and request.method == "POST":
            self.issues.append(gh.issue(100 + len(self.issues), body["body"], title=body["title"]))
            return reply(self.issues[-1])
        if path.startswith("/issues/") and request.method == "PATCH":
            issue = next(i for i in self.issues if i["number"] == int(path.split("/")[2]))
            issue["body"] = body["body"]
            return reply(issue)
        return reply(gh.error(f"the fake GitHub does not serve {request.method} {path}"), 404)


def test_through_the_github_forge_the_policy_and_files_are_read_through_the_api(
    sample_api: FakeApiServer, kubeconfig: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    responses = pytest.importorskip("responses")
    from github import Auth, Github

    from aiops.gitops.github_forge import GitHubForge

    values = "manifests/environments/minikube/todo-backend.yaml"
    front = "manifests/environments/minikube/todo-frontend.yaml"
    files = {
        ".github/aiops.yaml": "namespaces: [todo]\nproposals: {max_open: 5, max_per_hour: 3}\n",
        values: sample_backend_values(),
        front: (ROOT / front).read_text(),
    }
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # an empty directory: nothing is read from a checkout
    client = Github(
        auth=Auth.Token("t"),
        lazy=True,
        retry=None,
        seconds_between_requests=None,
        seconds_between_writes=None,
    )
    forge = GitHubForge(client, "acme/deploy", base="main", sleep=lambda s: None)
    lines: list[str] = []
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        hub = FakeGitHub(rsps, files)
        options = WatchOptions(kubeconfig=kubeconfig, metrics_port=None, policy_namespaces=True)
        watcher = Watcher(options, forge=forge, emit=lines.append)
        try:
            watcher.open()
            assert watcher.settings is not None and watcher.settings.proposals.max_per_hour == 3
            assert watcher.watch.namespaces == ("todo",)  # the policy's namespaces, read through the API
            new, _ = watcher.once()
        finally:
            watcher.close()
    assert {d.code for d in new} == {"OOMKilled", "CreateContainerConfigError", "RolloutStuck"}
    assert hub.calls[0] == "GET /contents/.github/aiops.yaml"
    assert f"GET /contents/{values}" in hub.calls
    opened = [(p["number"], p["head"]["ref"]) for p in hub.pulls]
    assert opened == [
        (1, "aiops/rightsize-todo-deployment-todo-backend"),
        (2, "aiops/config-todo-deployment-todo-frontend"),
    ], (lines, hub.calls)
    assert hub.calls.count("POST /git/commits") == 2  # one commit per proposal, through the Git Data API
    (dashboard,) = hub.issues
    assert "<!-- aiops:dashboard:watcher -->" in dashboard["body"]
    assert "| critical | `OOMKilled` | `todo/Deployment/todo-backend` |" in dashboard["body"]
    assert list(work.iterdir()) == []  # no clone, no work tree


def test_help_has_examples() -> None:
    run = aiops("watch", "--help")
    assert run.code == 0 and "Examples:" in run.out and "aiops watch " in run.out
    for flag in (
        "--kubeconfig",
        "--context",
        "-n",
        "-A",
        "--forge",
        "--repo",
        "--metrics-port",
        "--once",
        "--dry-run",
    ):
        assert flag in run.out
