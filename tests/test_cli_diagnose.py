"""`aiops diagnose` end to end: every exit code (0, 1, 2, 3), every output format, the sample."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import yaml
from fakeapi import FakeApiServer

from aiops.cli import main
from aiops.model import Cause, Diagnosis, Finding, ObjectRef, OwnerRef, Severity
from aiops.pipeline.diagnosis import ClusterOptions, redact_diagnosis, scope_namespaces

FINDING_KEYS = {
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


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out = capsys.readouterr()
    code = exc.value.code
    return (code if isinstance(code, int) else 0), out.out, out.err


def _healthy_snapshot(tmp_path: Path, sample_files: tuple[str, str]) -> str:
    raw = yaml.safe_load(Path(sample_files[0]).read_text(encoding="utf-8"))
    raw["items"] = [o for o in raw["items"] if o["metadata"].get("namespace") in ("kube-system", None)]
    p = tmp_path / "healthy.yaml"
    p.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return str(p)


def test_default_is_the_sample_in_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["diagnose"], capsys)
    assert code == 0, err
    first = out.splitlines()[0]
    assert first.startswith("aiops diagnose (sample cluster): ") and "judged at 2026-11-25T10:41:58Z" in first
    assert "todo/Deployment/todo-frontend" in out
    assert "SEVERITY" in out and "CODE" in out and "OBJECT / CONTAINER" in out


def test_sample_explains_backend_oom_and_frontend_config(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["diagnose", "-o", "json"], capsys)
    assert code == 0
    findings = json.loads(out)["findings"]
    by = {(f["object"]["name"], f["container"]): f for f in findings}
    oom = by[("todo-backend-7c9f6d5b8-4kq2z", "backend")]
    assert oom["code"] == "OOMKilled" and oom["severity"] == "critical"
    assert oom["owner"] == {"kind": "Deployment", "name": "todo-backend"}
    cfg = by[("todo-frontend-5d8f7b9c4-q7t2x", "frontend")]
    assert cfg["code"] == "CreateContainerConfigError"
    assert cfg["owner"] == {"kind": "Deployment", "name": "todo-frontend"}
    assert cfg["cause"]["type"] == "missing-config-key"
    assert cfg["cause"]["detail"]["key"] == "REDIS_URL"
    # the healthy replica, the old coredns restart and the completed Job pod give nothing
    names = {f["object"]["name"] for f in findings}
    assert not names & {
        "todo-backend-7c9f6d5b8-9xw7m",
        "coredns-6f6b679f8f-7dm4v",
        "todo-backend-migrate-3-x8v4n",
    }
    # the database password in the backend's log never comes out
    assert "s3cr3t-pa55" not in out


def test_json_is_design_4_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["diagnose", "-o", "json"], capsys)
    assert code == 0
    doc = json.loads(out)
    assert set(doc) == {"findings", "notes", "stats"}
    assert doc["stats"]["objects"] == 47 and doc["stats"]["elapsed_ms"] >= 0
    assert doc["findings"], "the sample has failing workloads"
    for f in doc["findings"]:
        assert set(f) == FINDING_KEYS
        assert f["severity"] in ("critical", "warning", "info")
        assert set(f["object"]) == {"kind", "namespace", "name"}


def test_markdown(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["diagnose", "-o", "markdown"], capsys)
    assert code == 0
    assert out.startswith("### aiops diagnosis\n")
    assert "| Severity | Code | Workload | Object / container | Summary |" in out
    assert "sample cluster" in out and "<details><summary>" in out and "```text" in out


def test_snapshot_file_and_namespace_filter(
    capsys: pytest.CaptureFixture[str], sample_files: tuple[str, str]
) -> None:
    code, out, _ = run(["diagnose", "--snapshot", sample_files[0], "-n", "kube-system", "-o", "json"], capsys)
    assert code == 0
    assert all(f["object"]["namespace"] in ("kube-system", "") for f in json.loads(out)["findings"])
    code, out, _ = run(["diagnose", "--snapshot", sample_files[0]], capsys)
    assert code == 0 and "(sample cluster)" not in out


def test_healthy_cluster_exits_0_even_with_fail_on(
    tmp_path: Path, sample_files: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        ["diagnose", "--snapshot", _healthy_snapshot(tmp_path, sample_files), "--fail-on", "info"], capsys
    )
    assert code == 0, out
    assert "no failing workloads" in out


def test_fail_on_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["diagnose", "--fail-on", "info", "-o", "json"], capsys)
    assert code == 1
    assert json.loads(out)["findings"]  # output is still printed in full


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--snapshot", "/nonexistent/cluster.yaml"], "snapshot /nonexistent/cluster.yaml: no such file"),
        (["--at", "yesterday"], "--at: 'yesterday'"),
        (["--logs", "logs.yaml"], "--logs needs --snapshot"),
        (["-n", "todo", "-A"], "exclude each other"),
        (["--snapshot", "x.yaml", "--context", "minikube"], "--snapshot and --context exclude each other"),
        (["--config", "/nonexistent/aiops.yaml"], "/nonexistent/aiops.yaml"),
        (["-o", "yaml"], "'yaml' is not one of"),
        (["--fail-on", "fatal"], "'fatal' is not one of"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["diagnose", *argv], capsys)
    assert code == 2
    assert message in err and "Traceback" not in err
    assert out == ""


def test_bad_snapshot_item_exits_2_naming_file_and_item(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = tmp_path / "c.yaml"
    p.write_text(
        "apiVersion: v1\nkind: List\nitems:\n- kind: Pod\n  metadata: {name: a}\n- metadata: {name: b}\n"
    )
    code, _, err = run(["diagnose", "--snapshot", str(p)], capsys)
    assert code == 2
    assert err.strip() == f"aiops: error: snapshot {p}: items[1] has no kind"


def test_live_cluster(sample_api: FakeApiServer, kubeconfig: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["diagnose", "--kubeconfig", kubeconfig, "-o", "json"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    # live default scope: the policy's namespaces (todo); kube-system was never listed
    assert all(f["object"]["namespace"] in ("todo", "") for f in doc["findings"])
    assert not any("/namespaces/kube-system/" in r.path for r in sample_api.requests)
    code, out, _ = run(["diagnose", "--kubeconfig", kubeconfig, "-A"], capsys)
    assert code == 0 and "(sample cluster)" not in out
    assert any(r.path == "/api/v1/pods" for r in sample_api.requests)


def test_unreachable_cluster_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    kc = tmp_path / "kc"
    kc.write_text(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n"
        f"  cluster: {{server: 'http://127.0.0.1:{port}'}}\n"
        "users:\n- name: u\n  user: {token: t}\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\n"
        "current-context: c\n"
    )
    code, out, err = run(["diagnose", "--kubeconfig", str(kc)], capsys)
    assert code == 3
    assert f"cluster http://127.0.0.1:{port}" in err and "connection refused" in err
    assert "Traceback" not in err and out == ""


def test_api_5xx_after_retries_exits_3(
    sample_api: FakeApiServer, kubeconfig: str, capsys: pytest.CaptureFixture[str]
) -> None:
    sample_api.fail(r"/events$", status=503, times=1000)
    code, _, err = run(["diagnose", "--kubeconfig", kubeconfig], capsys)
    assert code == 3 and "503" in err and "/events" in err


def test_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["diagnose", "--help"], capsys)
    assert code == 0
    assert "Examples:" in out and "aiops diagnose --snapshot" in out and "--fail-on" in out


def test_every_emitted_string_is_redacted() -> None:
    token = "Bearer abcdefghijklmnop123456"
    f = Finding(
        code="CrashLoopBackOff",
        severity=Severity.CRITICAL,
        object=ObjectRef("Pod", "todo", "p"),
        summary=f"calls failed with {token}",
        evidence=(f"log: Authorization: {token}",),
        remediation=f"rotate {token}",
        container="c",
        owner=OwnerRef("Deployment", "d"),
        cause=Cause("app-fatal", {"line": f"header {token}", "nested": [f"{token}"]}),
    )
    red = redact_diagnosis(Diagnosis(findings=(f,), notes=(f"note {token}",)))
    assert "abcdefghijklmnop123456" not in json.dumps(red.to_dict())
    assert red.findings[0].code == "CrashLoopBackOff" and red.findings[0].object == f.object


def test_pod_spec_env_values_are_redacted_wherever_they_appear() -> None:
    from datetime import UTC, datetime

    from aiops.model import Snapshot

    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "todo"},
        "spec": {
            "containers": [
                {"name": "c", "image": "x", "env": [{"name": "DB_PASSWORD", "value": "hunter2-Xk9q"}]}
            ]
        },
    }
    snap = Snapshot(items=(pod,), at=datetime(2026, 11, 25, tzinfo=UTC))
    f = Finding(
        code="CrashLoopBackOff",
        severity=Severity.CRITICAL,
        object=ObjectRef("Pod", "todo", "p"),
        summary="app exited",
        evidence=("log: FATAL login failed for user todo with hunter2-Xk9q",),
    )
    red = redact_diagnosis(Diagnosis(findings=(f,)), snap)
    assert "hunter2-Xk9q" not in json.dumps(red.to_dict())
    assert "login failed" in red.findings[0].evidence[0]


def test_scope_namespaces_rules() -> None:
    from aiops.settings import Settings

    s = Settings(namespaces=("todo", "shop"))
    assert scope_namespaces(ClusterOptions(namespaces=("a", "a", "b")), s) == ("a", "b")
    assert scope_namespaces(ClusterOptions(kubeconfig="k", all_namespaces=True), s) is None
    assert scope_namespaces(ClusterOptions(kubeconfig="k"), s) == ("todo", "shop")
    assert scope_namespaces(ClusterOptions(snapshots=("f",)), s) is None  # files: all they hold
    assert scope_namespaces(ClusterOptions(), s) is None  # the sample: all it holds
