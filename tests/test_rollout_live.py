"""`aiops rollout watch` end to end: offline replays of snapshot files, the live fake API server
(real HTTP through the official client, PATCH for --act), Prometheus instant queries over real HTTP.

Rollout fixtures come from `test_rollout` (Deployment todo-backend, revision 2 → 3); the fake API
server's clock is the fixture clock, so live observations are judged at the same time as files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import factories as f
import orjson
import pytest
import test_rollout as tr
from fakeapi import FakeApiServer
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from aiops.cli import main
from aiops.errors import InputError
from aiops.model import Snapshot
from aiops.pipeline.rollout import WatchRequest, parse_duration, parse_target, watch
from aiops.settings import Settings

NS, DEP, NEW, OLD = tr.NS, tr.DEP, tr.NEW, tr.OLD


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(["rollout", "watch", *args])
    out, err = capsys.readouterr()
    code = exc.value.code
    return (code if isinstance(code, int) else 1), out, err


def write(tmp_path: Path, name: str, snap: Snapshot) -> str:
    path = tmp_path / name
    path.write_bytes(orjson.dumps(f.kube_list(snap.items)))
    return str(path)


def good_steps() -> list[Snapshot]:
    return [
        tr.rollout([tr.new_pod("a1b2c")], [tr.old_pod("x1y2z"), tr.old_pod("x3y4z")], at=0),
        tr.rollout([tr.new_pod("a1b2c"), tr.new_pod("d3e4f", created=-0.5)], [tr.old_pod("x3y4z")], at=0.5),
        tr.rollout(
            [tr.new_pod("a1b2c"), tr.new_pod("d3e4f", created=-0.5), tr.new_pod("g5h6j", created=0.2)],
            [],
            progressing=("True", "NewReplicaSetAvailable"),
            at=1,
        ),
    ]


def bad_snapshot() -> Snapshot:
    bad = tr.crashloop("a1b2c", last=f.terminated("Error", 1, started_at=f.ts(-2), finished_at=f.ts(-1.5)))
    return tr.rollout([bad], [tr.old_pod("x1y2z"), tr.old_pod("x3y4z")])


def stuck_snapshot() -> Snapshot:
    st = f.container_status("backend", tr.NEW_IMG, state=f.running(f.ts(-10)), ready=False)
    p = tr.new_pod("a1b2c", statuses=[st], created=-12)
    return tr.rollout(
        [p], [tr.old_pod("x1y2z"), tr.old_pod("x3y4z")], progressing=("False", "ProgressDeadlineExceeded")
    )


# ---- offline replay ---------------------------------------------------------------------------------
def test_replay_of_a_good_rollout_continues_then_is_done(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = [write(tmp_path, f"t{i}.json", s) for i, s in enumerate(good_steps())]
    code, out, err = run(capsys, "deploy/todo-backend", *[a for p in files for a in ("--snapshot", p)])
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == (
        f"{f.ts(0)} CONTINUE deploy/todo-backend (revision 3 {NEW}): "
        "1 out of 3 new replicas have been updated"
    )
    assert any(
        line.startswith(f"{f.ts(1)} DONE deploy/todo-backend") and "successfully rolled out" in line
        for line in lines
    )
    assert lines[-1] == "result: done after 3 observations"


def test_replay_of_a_bad_rollout_halts_with_exit_1_and_stops(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = write(tmp_path, "t0.json", good_steps()[0])
    bad = write(tmp_path, "t1.json", bad_snapshot())
    never = write(tmp_path, "t2.json", good_steps()[2])
    code, out, _ = run(capsys, "deploy/todo-backend", "-n", NS, "--snapshot", first, "--snapshot", bad,
                       "--snapshot", never, "-o", "json")  # fmt: skip
    assert code == 1
    data = json.loads(out)
    assert data["decision"]["decision"] == "halt"
    assert data["observations"] == 2  # stopped at the halt, the third file is not read
    assert [t["decision"] for t in data["timeline"]] == ["continue", "halt"]
    rules = {r["rule"] for r in data["decision"]["reasons"]}
    assert {"H3-crash", "H4-restarts"} <= rules
    assert data["decision"]["findings"] == ["CrashLoopBackOff"]
    assert data["action"] is None and data["timed_out"] is False


def test_replay_past_the_deadline_undoes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "deploy/todo-backend", "--snapshot", write(tmp_path, "s.json", stuck_snapshot())
    )
    assert code == 1
    assert out.splitlines()[0].startswith(
        f"{f.ts(0)} UNDO deploy/todo-backend (revision 3 {NEW}): H1-deadline"
    )
    assert f"undo: roll back to revision 2 (ReplicaSet {OLD})" in out
    assert "action: none (run with --act where write credentials exist to pause or undo)" in out


def test_replay_timeout_follows_the_snapshot_clock(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    steps = good_steps()
    files = [write(tmp_path, f"t{i}.json", s) for i, s in enumerate(steps)]
    code, out, _ = run(capsys, "deploy/todo-backend", "--timeout", "45s", "-o", "json",
                       *[a for p in files for a in ("--snapshot", p)])  # fmt: skip
    data = json.loads(out)
    assert code == 0
    assert data["timed_out"] is True and data["observations"] == 2
    assert data["decision"]["decision"] == "continue"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["pod/x", "--snapshot", "S"], "pod/x: expected deploy/NAME"),
        (["deploy/todo-backend", "--snapshot", "S", "--timeout", "ten"], "--timeout ten: not a duration"),
        (["deploy/todo-backend", "--snapshot", "S", "--act"], "--act needs a live cluster"),
        (["deploy/nope", "--snapshot", "S"], "no Deployment nope in this snapshot"),
        (
            ["deploy/todo-backend", "--snapshot", "S", "--snapshot", "missing.json"],
            "--snapshot missing.json: no such",
        ),
        (["deploy/todo-backend", "--logs", "S"], "--logs needs --snapshot"),
    ],
)
def test_bad_input_exits_2_naming_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    snap = write(tmp_path, "s.json", good_steps()[0])
    args = [snap if a == "S" else a for a in args]
    code, out, err = run(capsys, *args)
    assert code == 2, (out, err)
    assert message in err and err.startswith("aiops: error: ")
    assert out == ""


def test_durations_and_targets() -> None:
    assert [parse_duration(t) for t in ("600", "90s", "10m", "1h", "5m30s")] == [600, 90, 600, 3600, 330]
    assert parse_target("deployment.apps/todo") == "todo"
    with pytest.raises(InputError):
        parse_duration("0")
    with pytest.raises(InputError):
        parse_target("deploy/")


# ---- live (fake API server) ---------------------------------------------------------------------------
@pytest.fixture
def api(fake_api: FakeApiServer) -> FakeApiServer:
    fake_api.now = f.ts(0)
    return fake_api


def seed(api: FakeApiServer, snap: Snapshot) -> None:
    api.objects.clear()
    api.load(snap.items)


def deployment_in(api: FakeApiServer) -> dict[str, Any]:
    return next(o for o in api.objects[("apps/v1", "deployments")] if o["metadata"]["name"] == DEP)


def test_live_good_rollout_is_done_and_nothing_is_written(
    api: FakeApiServer, kubeconfig: str, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(api, good_steps()[2])
    code, out, _ = run(capsys, "deploy/todo-backend", "-n", NS, "--kubeconfig", kubeconfig, "--act")
    assert code == 0, out
    assert "DONE deploy/todo-backend" in out
    assert {r.method for r in api.requests} == {"GET"}
    lists = {r.path for r in api.requests}
    assert "/apis/apps/v1/namespaces/todo/replicasets" in lists
    assert not any("secrets" in p or "clusterroles" in p for p in lists)  # only the kinds a decision reads


def test_live_bad_rollout_with_act_pauses_the_deployment(
    api: FakeApiServer, kubeconfig: str, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(api, bad_snapshot())
    code, out, _ = run(
        capsys, "deploy/todo-backend", "-n", NS, "--kubeconfig", kubeconfig, "--act", "-o", "json"
    )
    assert code == 1
    data = json.loads(out)
    assert data["decision"]["decision"] == "halt"
    assert data["action"]["action"] == "pause" and data["action"]["done"] is True
    patches = [r for r in api.requests if r.method == "PATCH"]
    assert len(patches) == 1
    assert patches[0].path == "/apis/apps/v1/namespaces/todo/deployments/todo-backend"
    assert patches[0].query == {"fieldManager": "aiops"}
    assert patches[0].content_type == "application/merge-patch+json"
    assert json.loads(patches[0].body) == {"spec": {"paused": True}}
    assert deployment_in(api)["spec"]["paused"] is True


def test_live_undo_with_act_restores_the_previous_template(
    api: FakeApiServer, kubeconfig: str, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(api, stuck_snapshot())
    before = deployment_in(api)["metadata"]["generation"]
    code, out, _ = run(capsys, "deploy/todo-backend", "-n", NS, "--kubeconfig", kubeconfig, "--act")
    assert code == 1
    assert "action: undo done: deployment todo/todo-backend rolled back to revision 2" in out
    patch = next(r for r in api.requests if r.method == "PATCH")
    assert patch.content_type == "application/json-patch+json"
    ops = json.loads(patch.body)
    assert ops[0] == {
        "op": "test",
        "path": "/metadata/annotations/deployment.kubernetes.io~1revision",
        "value": "3",
    }
    assert ops[1]["op"] == "replace" and ops[1]["path"] == "/spec/template"
    dep = deployment_in(api)
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == tr.OLD_IMG
    assert "pod-template-hash" not in dep["spec"]["template"]["metadata"]["labels"]
    assert dep["metadata"]["generation"] == before + 1


def test_live_undo_without_a_previous_revision_pauses_instead(
    api: FakeApiServer, kubeconfig: str, capsys: pytest.CaptureFixture[str]
) -> None:
    snap = stuck_snapshot()
    seed(api, Snapshot(items=tuple(o for o in snap.items if o["metadata"]["name"] != OLD), at=snap.at))
    code, out, _ = run(capsys, "deploy/todo-backend", "-n", NS, "--kubeconfig", kubeconfig, "--act")
    assert code == 1
    assert "UNDO deploy/todo-backend" in out
    assert "action: pause done: deployment todo/todo-backend paused (spec.paused=true) " in out
    assert "(no previous revision to undo to: paused instead)" in out
    assert deployment_in(api)["spec"]["paused"] is True


def test_live_undo_is_refused_when_the_deployment_changed_since(api: FakeApiServer, kubeconfig: str) -> None:
    seed(api, stuck_snapshot())
    from aiops.apply.rollout_actions import RolloutActions

    result = RolloutActions(kubeconfig).undo(NS, DEP, {"metadata": {}, "spec": {}}, expect_revision="2")
    assert result.done is False
    assert result.detail.startswith("not undone: the deployment changed since the decision")
    assert deployment_in(api)["spec"]["template"]["spec"]["containers"][0]["image"] == tr.NEW_IMG


def test_live_watch_follows_the_rollout_across_polls(api: FakeApiServer, kubeconfig: str) -> None:
    steps = good_steps()
    seed(api, steps[0])
    polls: list[float] = []
    clock = [0.0]

    def sleep(seconds: float) -> None:  # the cluster moves on between two observations
        polls.append(seconds)
        clock[0] += seconds
        seed(api, steps[len(polls)])
        api.now = f.ts(len(polls) * 0.5)

    seen: list[tuple[str, bool]] = []
    outcome = watch(
        WatchRequest(
            target="deploy/todo-backend", namespace=NS, kubeconfig=kubeconfig, interval=5, timeout=60
        ),
        emit=lambda d, changed: seen.append((d.decision, changed)),
        settings=Settings(),
        sleep=sleep,
        clock=lambda: clock[0],
    )
    assert polls == [5, 5]
    assert seen == [("continue", True), ("continue", True), ("done", True)]
    assert outcome.decision.decision == "done" and not outcome.timed_out


def test_live_watch_times_out_while_progressing(api: FakeApiServer, kubeconfig: str) -> None:
    seed(api, good_steps()[0])
    clock = [0.0]
    seen: list[bool] = []

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    outcome = watch(
        WatchRequest(
            target="deploy/todo-backend", namespace=NS, kubeconfig=kubeconfig, interval=10, timeout=30
        ),
        emit=lambda d, changed: seen.append(changed),
        settings=Settings(),
        sleep=sleep,
        clock=lambda: clock[0],
    )
    assert outcome.timed_out and outcome.decision.decision == "continue"
    assert seen == [True, False, False, False]  # at 0, 10, 20, 30 s; unchanged ones are not printed again
    assert outcome.notes == ("timed out after 30s while the rollout was still progressing",)


def test_unreachable_cluster_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server = FakeApiServer().start()
    kc = str(server.write_kubeconfig(tmp_path / "kc"))
    server.stop()
    code, _, err = run(capsys, "deploy/todo-backend", "-n", NS, "--kubeconfig", kc)
    assert code == 3
    assert "connection refused" in err


def test_act_without_write_permission_exits_4(
    api: FakeApiServer, kubeconfig: str, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(api, bad_snapshot())
    api.fail(r"/deployments/todo-backend$", status=403)
    code, _, err = run(capsys, "deploy/todo-backend", "-n", NS, "--kubeconfig", kubeconfig, "--act")
    assert code == 4
    assert "PATCH deployment todo/todo-backend forbidden" in err


# ---- Prometheus (real HTTP) -----------------------------------------------------------------------------
def _prometheus(httpserver: HTTPServer, error_rate: float, asked: list[dict[str, str]]) -> str:
    def handler(request: Request) -> Response:
        args = {k: v[-1] for k, v in parse_qs(request.query_string.decode()).items()}
        asked.append(args)
        q = args["query"]
        value = error_rate if "code=~" in q else 420.0 if "histogram_quantile" in q else 4.0
        body = {
            "status": "success",
            "data": {
                "resultType": "vector",
                "result": [{"metric": {}, "value": [float(args["time"]), str(value)]}],
            },
        }
        return Response(json.dumps(body), content_type="application/json")

    httpserver.expect_request("/api/v1/query").respond_with_handler(handler)
    return httpserver.url_for("/").rstrip("/")


def test_error_rate_over_threshold_in_two_observations_halts(
    httpserver: HTTPServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asked: list[dict[str, str]] = []
    url = _prometheus(httpserver, 0.2, asked)
    files = [write(tmp_path, f"t{i}.json", s) for i, s in enumerate(good_steps()[:2])]
    code, out, _ = run(capsys, "deploy/todo-backend", "--prometheus", url, "-o", "json",
                       *[a for p in files for a in ("--snapshot", p)])  # fmt: skip
    assert code == 1
    data = json.loads(out)
    assert [t["rules"] for t in data["timeline"]] == [[], ["M1-error-rate"]]
    assert data["decision"]["metrics"]["error_rate"] == 0.2
    assert data["decision"]["metrics"]["latency_p95_ms"] is None  # no latency threshold: not asked
    assert len(asked) == 4  # request rate + error ratio, per observation, at the snapshot's time
    assert float(asked[0]["time"]) == f.T0.timestamp()
    assert f'pod=~"{NEW}-[a-z0-9]{{5}}"' in asked[1]["query"] and 'namespace="todo"' in asked[1]["query"]


def test_latency_threshold_from_the_settings_file(
    httpserver: HTTPServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asked: list[dict[str, str]] = []
    url = _prometheus(httpserver, 0.0, asked)
    cfg = tmp_path / "aiops.yaml"
    cfg.write_text("prometheus:\n  latency_p95_ms_threshold: 300\n", encoding="utf-8")
    files = [write(tmp_path, f"t{i}.json", s) for i, s in enumerate(good_steps()[:2])]
    code, out, _ = run(capsys, "deploy/todo-backend", "--prometheus", url, "--config", str(cfg),
                       *[a for p in files for a in ("--snapshot", p)])  # fmt: skip
    assert code == 1
    assert "M2-latency new ReplicaSet: p95 latency 420 ms > 300 ms in 2 consecutive observations" in out


def test_prometheus_unreachable_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snap = write(tmp_path, "s.json", good_steps()[0])
    code, _, err = run(
        capsys, "deploy/todo-backend", "--snapshot", snap, "--prometheus", "http://127.0.0.1:9"
    )
    assert code == 3
    assert "Prometheus http://127.0.0.1:9 unreachable" in err


def test_secrets_quoted_from_logs_are_redacted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snap = write(tmp_path, "s.json", bad_snapshot())
    logs = tmp_path / "logs.yaml"
    logs.write_text(
        f'"{NS}/{NEW}-a1b2c/backend": |\n'
        "  INFO starting todo-backend 1.5.0\n"
        "  FATAL cannot reach postgres://app:s3cr3t-pw@db:5432/todo: password authentication failed\n",
        encoding="utf-8",
    )
    for fmt in ("text", "json"):
        code, out, _ = run(capsys, "deploy/todo-backend", "--snapshot", snap, "--logs", str(logs), "-o", fmt)
        assert code == 1
        assert "postgres://app:" in out  # the log line is quoted as evidence ...
        assert "s3cr3t-pw" not in out  # ... with its password masked


@pytest.mark.parametrize(
    ("target", "code", "decision"),
    [("deploy/coredns", 0, "done"), ("deploy/todo-backend", 1, "halt"), ("deploy/todo-frontend", 1, "undo")],
)
def test_bundled_sample_cluster(
    sample_files: tuple[str, str], capsys: pytest.CaptureFixture[str], target: str, code: int, decision: str
) -> None:
    cluster, logs = sample_files
    got, out, _ = run(capsys, target, "--snapshot", cluster, "--logs", logs, "-o", "json")
    data = json.loads(out)
    assert (got, data["decision"]["decision"]) == (code, decision)
    if decision == "undo":  # the frontend's new ReplicaSet misses a ConfigMap key; revision 4 is the way back
        assert data["decision"]["previous"] == {"replicaset": "todo-frontend-6b7c8d9f5", "revision": "4"}
        assert "CreateContainerConfigError" in data["decision"]["findings"]
