"""`aiops recommend` end to end: the seed example from files, output forms, exit codes (DESIGN §4.4, §4.7)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from factories import node
from recommend_data import SEED_PODS, load_matrix, snapshot_file, workload, write_json

from aiops.cli import main

FIX = Path(__file__).parent / "fixtures" / "recommend"
SNAP = str(FIX / "seed-snapshot.json")
CPU = str(FIX / "seed-cpu.json")
MEM = str(FIX / "seed-memory.json")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(["recommend", *args])
    out, err = capsys.readouterr()
    code = exc.value.code
    return (code if isinstance(code, int) else 1), out, err


def test_fixtures_are_small_matrices_with_the_seed_percentiles() -> None:
    import numpy as np

    for path in (SNAP, CPU, MEM):
        assert Path(path).stat().st_size < 64_000
    cpu = load_matrix(json.loads(Path(CPU).read_text()), "cpu")
    mem = load_matrix(json.loads(Path(MEM).read_text()), "memory")
    assert sorted(s.pod for s in cpu) == sorted(SEED_PODS)
    assert np.percentile(np.concatenate([s.values for s in cpu]), 95) == pytest.approx(0.1, abs=1e-12)
    assert np.percentile(np.concatenate([s.values for s in mem]), 95) == pytest.approx(120 * 2**20, abs=1e-3)


def test_done_when_seed_example_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys, "--snapshot", SNAP, "--usage", f"memory={MEM}", "--usage", f"cpu={CPU}", "-o", "json"
    )
    assert code == 0, err
    data = json.loads(out)
    assert set(data) == {"recommendations", "skipped"}
    (rec,) = data["recommendations"]
    assert set(rec) == {
        "key",
        "id",
        "kind",
        "target",
        "current",
        "proposed",
        "content_hash",
        "sizing",
        "rationale",
        "evidence",
        "findings",
        "confidence",
        "cost",
        "tier",
        "changes",
    }
    assert rec["key"] == "rightsize-todo-deployment-todo-backend"
    assert rec["kind"] == "rightsize"
    assert rec["target"] == {"kind": "Deployment", "namespace": "todo", "name": "todo-backend"}
    assert rec["proposed"] == {
        "backend": {"requests": {"cpu": "130m", "memory": "156Mi"}, "limits": {"memory": "200Mi"}}
    }
    assert rec["current"]["backend"]["requests"] == {"cpu": "500m", "memory": "512Mi"}
    assert rec["cost"] == {"monthly_before": 39.25, "monthly_after": 10.41, "savings_percent": 73.5}
    sizing = rec["sizing"]["backend"]
    assert sizing["cpu_p95"] == "100m" and sizing["memory_p95"] == "120Mi"
    assert sizing["memory_peak"] == "151.6Mi" and sizing["samples"] == 504
    assert sizing["oom_in_window"] is False and sizing["clamped"] is False
    assert rec["confidence"] == "high"
    assert rec["tier"] is None and rec["changes"] is None and rec["id"] is None
    for s in data["skipped"]:
        assert set(s) == {"key", "kind", "target", "reason", "cause"}
        assert s["cause"] == "cleared"


def test_text_is_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--snapshot", SNAP, "--usage", f"memory={MEM}", "--usage", f"cpu={CPU}")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == [
        "WORKLOAD",
        "(CONTAINER)",
        "KIND",
        "CURRENT",
        "→",
        "PROPOSED",
        "CONFIDENCE",
        "$/MONTH",
        "SAVED",
    ]
    assert "todo/todo-backend (backend)" in lines[1]
    assert "cpu 500m → 130m, mem 512Mi → 156Mi, mem limit 512Mi → 200Mi" in lines[1]
    assert "high" in lines[1] and "28.84 (73.5 %)" in lines[1]
    assert "39.25 → 10.41 $/month" in out


def test_markdown(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "--snapshot", SNAP, "--usage", f"memory={MEM}", "--usage", f"cpu={CPU}", "-o", "markdown"
    )
    assert code == 0
    assert "| Workload (container) | Kind | Current → proposed | Confidence | $/month saved |" in out
    assert "| todo/todo-backend (backend) | rightsize |" in out
    assert "`rightsize-todo-deployment-todo-backend`" in out


def test_without_usage_only_fixes_and_nothing_is_invented(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--snapshot", SNAP, "-o", "json")
    assert code == 0
    data = json.loads(out)
    assert data["recommendations"] == []
    assert {s["kind"] for s in data["skipped"]} == {"restart", "config", "image"}


def test_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["recommend", "--help"])
    out = capsys.readouterr().out
    assert exc.value.code == 0
    assert "Examples:" in out and "--usage cpu=cpu.json" in out and "--usage-dir" in out


# ---- bad input: exit 2 naming the file -------------------------------------------------------------------
def test_usage_without_kind_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--snapshot", SNAP, "--usage", CPU)
    assert code == 2 and out == ""
    assert CPU in err and "kind" in err and len(err.strip().splitlines()) == 1


def test_unknown_kind_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--snapshot", SNAP, "--usage", f"disk={CPU}")
    assert code == 2 and CPU in err and "disk" in err


def test_usage_file_that_is_not_a_matrix_is_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = write_json(
        tmp_path / "vector.json", {"status": "success", "data": {"resultType": "vector", "result": []}}
    )
    code, out, err = run(capsys, "--snapshot", SNAP, "--usage", f"cpu={bad}")
    assert code == 2 and out == "" and str(bad) in err and "matrix" in err
    code, _, err = run(capsys, "--snapshot", SNAP, "--usage", f"memory={SNAP}")
    assert code == 2 and SNAP in err
    missing = tmp_path / "nope.json"
    code, _, err = run(capsys, "--snapshot", SNAP, "--usage", f"cpu={missing}")
    assert code == 2 and str(missing) in err
    (tmp_path / "bin.json").write_bytes(b"\x00\x01garbage")
    code, _, err = run(capsys, "--snapshot", SNAP, "--usage", f"cpu={tmp_path / 'bin.json'}")
    assert code == 2 and "bin.json" in err


def test_bad_config_is_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cfg = tmp_path / "aiops.yaml"
    cfg.write_text("rightsizing: {margin: lots}\n")
    code, _, err = run(capsys, "--snapshot", SNAP, "--config", str(cfg))
    assert code == 2 and "rightsizing.margin" in err


def test_margin_from_config(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cfg = tmp_path / "aiops.yaml"
    cfg.write_text("rightsizing: {margin: 0.5}\n")
    code, out, _ = run(
        capsys,
        "--snapshot",
        SNAP,
        "--usage",
        f"memory={MEM}",
        "--usage",
        f"cpu={CPU}",
        "--config",
        str(cfg),
        "-o",
        "json",
    )
    assert code == 0
    assert json.loads(out)["recommendations"][0]["proposed"]["backend"]["requests"] == {
        "cpu": "150m",
        "memory": "180Mi",
    }


# ---- Prometheus --------------------------------------------------------------------------------------------
def test_prometheus_unreachable_is_exit_3(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, out, err = run(capsys, "--snapshot", SNAP, "--prometheus", f"http://127.0.0.1:{port}")
    assert code == 3 and out == ""
    assert "unreachable" in err and str(port) in err


def test_prometheus_4xx_makes_the_target_skipped(capsys: pytest.CaptureFixture[str]) -> None:
    from pytest_httpserver import HTTPServer

    with HTTPServer() as server:
        server.expect_request("/api/v1/query_range").respond_with_json(
            {"status": "error", "errorType": "bad_data", "error": "query too large"}, status=400
        )
        code, out, err = run(capsys, "--snapshot", SNAP, "--prometheus", server.url_for("/"), "-o", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["recommendations"] == []
    (sk,) = [s for s in data["skipped"] if s["kind"] == "rightsize"]
    assert sk["cause"] == "source-error" and "400" in sk["reason"]


def test_prometheus_serves_the_seed_example(capsys: pytest.CaptureFixture[str]) -> None:
    from pytest_httpserver import HTTPServer
    from werkzeug import Request, Response

    bodies = {"cpu": Path(CPU).read_text(), "memory": Path(MEM).read_text()}

    def answer(request: Request) -> Response:
        query = request.args.get("query", "")
        kind = "cpu" if "cpu" in query else "memory"
        return Response(bodies[kind], content_type="application/json")

    with HTTPServer() as server:
        server.expect_request("/api/v1/query_range").respond_with_handler(answer)
        code, out, err = run(capsys, "--snapshot", SNAP, "--prometheus", server.url_for("/"), "-o", "json")
    assert code == 0, err
    (rec,) = json.loads(out)["recommendations"]
    assert rec["proposed"]["backend"]["limits"] == {"memory": "200Mi"}
    assert rec["cost"]["savings_percent"] == 73.5


def test_opted_out_workload_from_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    snap = snapshot_file(
        tmp_path / "s.json", [*workload(pods=SEED_PODS, annotations={"aiops.io/ignore": "true"}), node()]
    )
    code, out, _ = run(
        capsys, "--snapshot", str(snap), "--usage", f"memory={MEM}", "--usage", f"cpu={CPU}", "-o", "json"
    )
    assert code == 0
    data = json.loads(out)
    assert data["recommendations"] == []
    assert {s["cause"] for s in data["skipped"]} == {"opted-out"}


def test_render_rows_for_every_kind() -> None:
    from aiops.cli.render_recommendations import render_markdown, render_text

    target = {"kind": "Deployment", "namespace": "todo", "name": "todo-backend"}
    base = {"target": target, "confidence": "high", "cost": None, "rationale": "why", "evidence": ["e|1"]}
    data = {
        "recommendations": [
            {
                **base,
                "kind": "hpa",
                "key": "hpa-x",
                "current": {"replicas": 3, "maxReplicas": None},
                "proposed": {"minReplicas": 2, "maxReplicas": 5, "targetCPUUtilizationPercentage": 70},
            },
            {
                **base,
                "kind": "scale",
                "key": "scale-x",
                "current": {"replicas": 6},
                "proposed": {"replicas": 3},
                "cost": {"monthly_before": 20.0, "monthly_after": 10.0, "savings_percent": 50.0},
            },
            {
                **base,
                "kind": "image",
                "key": "image-x",
                "current": {"tag": "1.5.0"},
                "proposed": {"repository": "ghcr.io/example/todo-backend", "tag": "1.4.2"},
            },
            {
                **base,
                "kind": "config",
                "key": "config-x",
                "current": {},
                "proposed": {
                    "key": "REDIS_URL",
                    "configmap": "todo-config",
                    "values_key": "config.REDIS_URL",
                },
            },
            {**base, "kind": "restart", "key": "restart-x", "current": {}, "proposed": {"restart": True}},
        ],
        "skipped": [
            {
                "key": "rightsize-x",
                "kind": "rightsize",
                "target": target,
                "reason": "99 samples",
                "cause": "insufficient-data",
            },
            {"key": "image-y", "kind": "image", "target": target, "reason": "healthy", "cause": "cleared"},
        ],
    }
    text = render_text(data, ["a note"])
    assert "3 fixed replicas → HPA 2–5 @ 70 % CPU" in text
    assert "replicas 6 → 3" in text and "10.00 (50.0 %)" in text
    assert "image tag 1.5.0 → 1.4.2" in text
    assert "add key REDIS_URL to ConfigMap todo-config" in text
    assert "rolling restart" in text
    assert "skipped: 1 cleared, 1 insufficient-data" in text
    assert "todo/todo-backend rightsize: insufficient-data — 99 samples" in text
    assert "healthy" not in text  # cleared entries are only counted
    assert "note: a note" in text
    md = render_markdown(data, [])
    assert "e\\|1" not in md and "`e|1`" in md  # evidence is code-quoted
    assert md.count("\n| todo/todo-backend |") == 5
