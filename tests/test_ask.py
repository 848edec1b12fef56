"""`aiops ask`: question → object matching, offline answers from findings, redaction, the CLI."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import factories as k
import pytest

from aiops.cli import main
from aiops.diagnose import run_all
from aiops.diagnose.question import answer_question, build_candidates, match_question, parse_question
from aiops.model import Diagnosis, Finding, ObjectRef, OwnerRef, Severity, Snapshot
from aiops.pipeline.ask import ask, render_json, render_markdown, render_text
from aiops.pipeline.diagnosis import ClusterOptions, read_snapshot

FAKEBIN = Path(__file__).parent / "fakebin"


@pytest.fixture(scope="module")
def sample() -> tuple[Snapshot, Diagnosis]:
    snap = read_snapshot(ClusterOptions())
    return snap, run_all(snap)


def _refs(answer: Any) -> list[str]:
    return [str(t.ref) for t in answer.targets]


# ---- parsing and matching --------------------------------------------------------------------


def test_parse_question_separates_names_kinds_and_symptoms() -> None:
    p = parse_question("Why is the todo_backend pod in ns/todo OOM killed again?")
    assert p.words == ("todo-backend", "todo")
    assert p.kinds == {"Pod", "Namespace"}
    assert p.codes == {"OOMKilled"}
    assert parse_question("what's wrong?").words == ()


def test_backend_means_the_deployment_whose_container_is_backend(sample: Any) -> None:
    snap, diag = sample
    a = answer_question("why is the backend failing?", snap, diag)
    assert a.status == "failing"
    assert _refs(a) == ["todo/Deployment/todo-backend"]
    assert a.targets[0].via == "container"
    assert [f.code for f in a.findings] == ["OOMKilled"]
    text = a.text()
    assert text.startswith("Deployment todo/todo-backend (matched container 'backend') is failing")
    assert "Root cause: oom-limit" in text and "Fix: " in text and "Evidence:" in text
    assert "lastState.terminated.reason=OOMKilled exitCode=137" in text


@pytest.mark.parametrize(
    ("question", "target", "via"),
    [
        ("what's wrong with todo-frontnd?", "todo/Deployment/todo-frontend", "fuzzy"),
        ("why is the frontent broken", "todo/Deployment/todo-frontend", "fuzzy"),
        ("todo backend", "todo/Deployment/todo-backend", "container"),
        ("why is todo-backend-7c9f6d5b8-4kq2z restarting", "todo/Pod/todo-backend-7c9f6d5b8-4kq2z", "name"),
        ("is the todo-backend service ok?", "todo/Service/todo-backend", "name"),
        ("what about kube-system", "Namespace/kube-system", "namespace"),
        ("is the migration job done", "todo/Job/todo-backend-migrate-3", "fuzzy"),
    ],
)
def test_fuzzy_matching(sample: Any, question: str, target: str, via: str) -> None:
    snap, diag = sample
    m = match_question(question, build_candidates(snap, diag))
    assert [str(t.ref) for t in m.targets] == [target]
    assert m.targets[0].via == via


def test_two_workloads_named(sample: Any) -> None:
    snap, diag = sample
    a = answer_question("frontend and backend?", snap, diag)
    assert sorted(_refs(a)) == ["todo/Deployment/todo-backend", "todo/Deployment/todo-frontend"]
    assert a.headline == "2 of 2 matched objects are failing."
    assert {f.code for f in a.findings} == {"OOMKilled", "CreateContainerConfigError", "RolloutStuck"}


def test_healthy_object_says_so(sample: Any) -> None:
    snap, diag = sample
    a = answer_question("is coredns ok?", snap, diag)
    assert a.status == "healthy" and a.findings == ()
    assert a.headline == (
        "Deployment kube-system/coredns looks healthy: no findings for it, its pods or what they use "
        "in the snapshot judged at 2026-11-25T10:41:58Z (1/1 replicas ready)."
    )


def test_nothing_matches_lists_close_names(sample: Any) -> None:
    snap, diag = sample
    a = answer_question("why is todo-db down?", snap, diag)
    assert a.status == "no-match" and a.targets == ()
    assert a.headline == 'Nothing in the cluster snapshot matches "todo-db".'
    assert "Deployment todo/todo-backend" in a.candidates
    assert a.lines[0].startswith("Did you mean: ")
    b = answer_question("why is payments failing?", snap, diag)
    assert b.status == "no-match"
    assert b.lines == (
        "Workloads in the snapshot: Deployment kube-system/coredns; Deployment todo/todo-backend; "
        "Deployment todo/todo-frontend; DaemonSet kube-system/kube-proxy; Job todo/todo-backend-migrate-3.",
    )


def test_service_question_is_answered_by_the_pods_behind_it(sample: Any) -> None:
    snap, diag = sample
    a = answer_question("why does the todo-backend service time out?", snap, diag)
    assert _refs(a) == ["todo/Service/todo-backend"]
    assert a.status == "affected"
    assert a.headline == "Service todo/todo-backend has no finding itself, but what it depends on does."
    assert [f.code for f in a.findings] == ["OOMKilled"]
    assert "(related: Pod todo/todo-backend-7c9f6d5b8-4kq2z)" in a.text()


def test_configmap_question_names_the_pods_using_it(sample: Any) -> None:
    snap, diag = sample
    a = answer_question("what about todo-config", snap, diag)
    assert _refs(a) == ["todo/ConfigMap/todo-config"]
    assert [f.code for f in a.findings] == ["CreateContainerConfigError"]


def test_namespace_question_covers_everything_in_it(sample: Any) -> None:
    snap, diag = sample
    a = answer_question("what is broken in todo?", snap, diag)
    assert _refs(a) == ["Namespace/todo"]
    assert len(a.findings) == 3
    assert "(related:" not in a.text()


def test_overview_when_nothing_is_named(sample: Any) -> None:
    snap, diag = sample
    a = answer_question("what is failing?", snap, diag)
    assert a.status == "overview"
    assert a.headline == "2 object(s) failing (2 critical, 1 warning), judged at 2026-11-25T10:41:58Z:"
    assert "- Deployment todo/todo-frontend: CreateContainerConfigError, RolloutStuck" in a.text()
    oom = answer_question("which pods are OOM killed?", snap, diag)
    assert [f.code for f in oom.findings] == ["OOMKilled"]
    assert "matching OOMKilled on pods" in oom.headline
    none = answer_question("any image pull errors?", snap, diag)
    assert none.status == "healthy" and none.headline.startswith(
        "Nothing is failing matching ImagePullBackOff"
    )


def _replicas(name: str, n: int) -> list[dict[str, Any]]:
    ctr = k.container("api", image="ghcr.io/acme/payments:2.0.1")
    return [
        k.pod(
            f"{name}-6d4cf56db6-{suffix}",
            "shop",
            containers=[ctr],
            owner=("ReplicaSet", f"{name}-6d4cf56db6"),
        )
        for suffix in ("a1b2c", "d3e4f", "g5h6i")[:n]
    ]


def test_same_failure_on_several_replicas_is_grouped() -> None:
    pods = _replicas("payments", 3)
    snap = k.snapshot(*pods, k.deployment("payments", "shop", replicas=3, containers=[k.container("api")]))
    findings = tuple(
        Finding(
            code="OOMKilled",
            severity=Severity.CRITICAL,
            object=ObjectRef.of(p),
            owner=OwnerRef("Deployment", "payments"),
            container="api",
            summary=f"Container api of pod {p['metadata']['name']} was OOM-killed at its 256Mi memory limit.",
            evidence=("lastState.terminated.reason=OOMKilled exitCode=137",),
            remediation="Raise the memory limit.",
        )
        for p in pods
    )
    a = answer_question("why does the api keep crashing?", snap, Diagnosis(findings=findings))
    assert _refs(a) == ["shop/Deployment/payments"]
    assert a.targets[0].via == "container"
    assert "OOMKilled on 3 pods (payments-6d4cf56db6-a1b2c, payments-6d4cf56db6-d3e4f, " in a.text()
    assert a.text().count("What: ") == 1


# ---- the pipeline: redaction ------------------------------------------------------------------


class RecordingAdvisor:
    """A test double of the Advisor port that records what it was sent."""

    name = "recorder"
    label = "advisor recorder"

    def __init__(self, reply: str = "looks like OOM", fail: bool = False) -> None:
        self.sent: list[tuple[str, str]] = []
        self.reply = reply
        self.fail = fail

    def advise(self, question: str, findings_json: str) -> Any:
        from aiops.advisors import AdvisorAnswer

        self.sent.append((question, findings_json))
        if self.fail:
            raise RuntimeError("socket exploded with password=hunter2")
        return AdvisorAnswer(self.name, self.label, ok=True, text=self.reply)


def _leaky() -> tuple[Snapshot, Diagnosis]:
    ctr = k.container("backend", env=[k.env_value("DB_PASSWORD", "Tr1cky-Pa55")])
    pod = k.pod(
        "todo-backend-7c9f6d5b8-4kq2z", containers=[ctr], owner=("ReplicaSet", "todo-backend-7c9f6d5b8")
    )
    snap = k.snapshot(pod, k.deployment("todo-backend", containers=[ctr]))
    f = Finding(
        code="CrashLoopBackOff",
        severity=Severity.CRITICAL,
        object=ObjectRef.of(pod),
        owner=OwnerRef("Deployment", "todo-backend"),
        container="backend",
        summary="Container backend exits 1: psql login with Tr1cky-Pa55 refused.",
        evidence=("log: DATABASE_URL=postgresql://todo:S3cr3tPw@todo-db:5432/todo",),
        remediation="Fix the credentials.",
    )
    return snap, Diagnosis(findings=(f,))


def test_everything_shown_or_sent_is_redacted() -> None:
    snap, diag = _leaky()
    advisor = RecordingAdvisor(reply="try password=Tr1cky-Pa55 again")
    result = ask("why is the backend failing? (token=abcdef123456)", snap, diag, [advisor])
    ((question, payload),) = advisor.sent
    assert "abcdef123456" not in question
    for text in (payload, render_text(result), render_json(result), render_markdown(result)):
        for secret in ("Tr1cky-Pa55", "S3cr3tPw", "abcdef123456"):
            assert secret not in text
    data = json.loads(payload)
    assert data["findings"][0]["code"] == "CrashLoopBackOff"
    assert data["aiops_answer"]["status"] == "failing"
    assert "[REDACTED]" in result.answer.text()
    assert result.advisors[0].text == "try password=[REDACTED] again"


def test_a_crashing_advisor_is_one_line(sample: Any) -> None:
    snap, diag = sample
    result = ask("why is the backend failing?", snap, diag, [RecordingAdvisor(fail=True), RecordingAdvisor()])
    bad, good = result.advisors
    assert not bad.ok and bad.error == "RuntimeError: socket exploded with password=[REDACTED]"
    assert good.ok
    out = render_text(result)
    assert "advisor recorder failed: RuntimeError: socket exploded with password=[REDACTED]" in out
    assert "advisor recorder says:\n  looks like OOM" in out
    assert out.startswith("Deployment todo/todo-backend")


def test_json_and_markdown_shapes(sample: Any) -> None:
    snap, diag = sample
    result = ask("why is the frontend failing", snap, diag)
    data = json.loads(render_json(result))
    assert set(data) >= {
        "question",
        "status",
        "targets",
        "answer",
        "findings",
        "candidates",
        "at",
        "advisors",
    }
    assert data["targets"][0]["name"] == "todo-frontend" and data["status"] == "failing"
    assert data["findings"][0]["cause"]["detail"]["key"] == "REDIS_URL"
    md = render_markdown(result)
    assert md.startswith("### aiops: Deployment todo/todo-frontend")
    assert "```text\n" in md and "_Judged at 2026-11-25T10:41:58Z; sample cluster._" in md


# ---- CLI ------------------------------------------------------------------------------------


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    code = exc.value.code
    return (code if isinstance(code, int) else 0), out, err


@pytest.fixture
def no_advisor_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for var in ("AIOPS_LLM_URL", "AIOPS_LLM_MODEL", "AIOPS_LLM_API_KEY", "AIOPS_KAGENT_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)  # no .github/aiops.yaml here
    return tmp_path


def test_cli_answers_offline(capsys: pytest.CaptureFixture[str], no_advisor_env: Path) -> None:
    code, out, err = _run(["ask", "why", "is", "the", "backend", "failing?"], capsys)
    assert code == 0, err
    assert out.startswith("Deployment todo/todo-backend (matched container 'backend') is failing")
    code, out, _ = _run(["ask", "is coredns ok?", "-o", "json"], capsys)
    assert code == 0 and json.loads(out)["status"] == "healthy"


def test_cli_advisor_failures_do_not_change_the_exit_code(
    capsys: pytest.CaptureFixture[str], no_advisor_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(no_advisor_env))  # no kubectl-ai here
    code, out, _ = _run(
        ["ask", "why is the backend failing?", "--advisor", "llm", "--advisor", "kubectl-ai"], capsys
    )
    assert code == 0
    assert "advisor llm failed: not configured: set AIOPS_LLM_URL" in out
    assert "advisor kubectl-ai (model its default) failed: kubectl-ai is not on PATH" in out


def test_cli_advisor_enabled_in_settings(
    capsys: pytest.CaptureFixture[str], no_advisor_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", f"{FAKEBIN}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("FAKE_KUBECTL_AI_MODE", raising=False)
    cfg = no_advisor_env / "aiops.yaml"
    cfg.write_text("advisors:\n  kubectl_ai: {enabled: true, model: gemini-2.5-flash}\n")
    code, out, _ = _run(["ask", "why is the backend failing?", "--config", str(cfg)], capsys)
    assert code == 0
    assert "advisor kubectl-ai (model gemini-2.5-flash) says:" in out
    assert "raise its memory limit in the Helm values." in out
    code, out, _ = _run(["ask", "why is the backend failing?", "--config", str(cfg), "--offline"], capsys)
    assert code == 0 and "advisor" not in out
    monkeypatch.setenv("FAKE_KUBECTL_AI_MODE", "fail")
    code, out, _ = _run(["ask", "why is the backend failing?", "--config", str(cfg)], capsys)
    assert code == 0 and "advisor kubectl-ai (model gemini-2.5-flash) failed: kubectl-ai exited 1" in out


def test_cli_bad_input_exits_2(capsys: pytest.CaptureFixture[str], no_advisor_env: Path) -> None:
    code, _, err = _run(["ask", "why?", "--snapshot", "missing.yaml"], capsys)
    assert code == 2 and "missing.yaml" in err and "Traceback" not in err
    code, _, err = _run(["ask", "why?", "--advisor", "gpt"], capsys)
    assert code == 2
    code, _, err = _run(["ask", "why?", "--advisor", "llm", "--offline"], capsys)
    assert code == 2 and "--offline" in err
    code, _, err = _run(["ask"], capsys)
    assert code == 2


def test_cli_reads_a_snapshot_file(capsys: pytest.CaptureFixture[str], no_advisor_env: Path) -> None:
    pods = _replicas("payments", 1)
    path = no_advisor_env / "cluster.json"
    path.write_text(
        json.dumps(k.kube_list([*pods, k.deployment("payments", "shop", containers=[k.container("api")])]))
    )
    code, out, err = _run(["ask", "is payments healthy?", "--snapshot", str(path)], capsys)
    assert code == 0, err
    assert out.startswith("Deployment shop/payments looks healthy")


def test_a_typo_close_to_many_names_lists_them() -> None:
    deployments = [
        k.deployment(f"svc-{i:04d}", "shop", containers=[k.container("app")]) for i in range(10, 20)
    ]
    snap = k.snapshot(*deployments)
    a = answer_question("what's wrong with svc-001x?", snap, Diagnosis(findings=()))
    assert a.status == "no-match"
    assert len(a.candidates) >= 3 and all(c.startswith("Deployment shop/svc-001") for c in a.candidates)
    assert answer_question("and svc-0013?", snap, Diagnosis(findings=())).status == "healthy"


def test_cli_with_an_llm_advisor(
    capsys: pytest.CaptureFixture[str], no_advisor_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import responses

    monkeypatch.setenv("AIOPS_LLM_URL", "http://ollama.test:11434/v1")
    monkeypatch.setenv("AIOPS_LLM_MODEL", "llama3.1:8b")
    with responses.RequestsMock() as rs:
        rs.post(
            "http://ollama.test:11434/v1/chat/completions",
            json={
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": "llama3.1:8b",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "Raise the limit."}}],
            },
        )
        code, out, _ = _run(["ask", "why is the backend failing?", "--advisor", "llm", "-o", "json"], capsys)
        sent = json.loads(rs.calls[0].request.body or b"{}")
    assert code == 0
    data = json.loads(out)
    assert data["advisors"] == [
        {
            "name": "llm",
            "label": "advisor llm (model llama3.1:8b)",
            "ok": True,
            "model": "llama3.1:8b",
            "answer": "Raise the limit.",
            "error": None,
            "elapsed_ms": data["advisors"][0]["elapsed_ms"],
        }
    ]
    user = sent["messages"][1]["content"]
    assert user.startswith("Question: why is the backend failing?")
    assert '"code": "OOMKilled"' in user and "todo-backend-7c9f6d5b8-4kq2z" in user


def test_scope_limits_what_is_matched(sample: Any) -> None:
    snap, _ = sample
    diag = run_all(snap, namespaces=["todo"])
    a = answer_question("is coredns ok?", snap, diag, namespaces=["todo"])
    assert a.status == "no-match", "out of scope is not called healthy"
    assert a.headline == 'Nothing in namespace todo matches "coredns".'
    b = answer_question("why is the backend failing?", snap, diag, namespaces=["todo"])
    assert _refs(b) == ["todo/Deployment/todo-backend"]


def test_node_question_points_at_the_pods_on_it(sample: Any) -> None:
    snap, diag = sample
    a = answer_question("is the minikube node ok?", snap, diag)
    assert _refs(a) == ["Node/minikube"] and a.status == "affected"
    assert a.headline == "Node minikube has no finding itself, but pods running on it do; Ready=True."


def test_markdown_escapes_cluster_text() -> None:
    from aiops.diagnose.question import Answer
    from aiops.pipeline.ask import AskResult

    answer = Answer(
        "q",
        "failing",
        (),
        (),
        "Pod <img src=x> by @octocat is *failing*",
        ("```", "line"),
    )
    md = render_markdown(AskResult(answer))
    assert "<img" not in md and "@octocat" not in md and "\\*failing\\*" in md
    assert "````text\n```\nline\n````" in md, "the fence is longer than any backtick run inside"
