"""Advisors: the OpenAI-compatible LLM and kagent (A2A) over `responses`, kubectl-ai as a fake
executable on PATH. Each only ever sees redacted text; each failure is one line, never a crash."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import factories as k
import pytest
import requests
import responses

from aiops.advisors import (
    SYSTEM_PROMPT,
    Unavailable,
    build_advisors,
    build_prompt,
    enabled_in_settings,
)
from aiops.advisors.kagent import KagentAdvisor, answer_text
from aiops.advisors.kubectl_ai import KubectlAiAdvisor
from aiops.advisors.llm import LlmAdvisor, chat_url
from aiops.model import Cause, Diagnosis, Finding, ObjectRef, OwnerRef, Severity
from aiops.pipeline.ask import ask, render_text
from aiops.settings import settings_from_dict

FAKEBIN = Path(__file__).parent / "fakebin"
SECRETS = ("Tr1cky-Pa55", "S3cr3tPw", "ghp_16C7e42F292c6912E7710c838347Ae178B4a", "hunter2")
LLM = "http://llm.test/v1"
KAGENT = "http://kagent.test:8083"


def _secret_snapshot() -> Any:
    """A pod whose spec carries a secret env value, and whose failure evidence leaks secrets."""
    ctr = k.container(
        "backend",
        env=[k.env_value("DB_PASSWORD", "Tr1cky-Pa55"), k.env_value("LOG_LEVEL", "debug")],
    )
    pod = k.pod(
        "todo-backend-7c9f6d5b8-4kq2z",
        containers=[ctr],
        owner=("ReplicaSet", "todo-backend-7c9f6d5b8"),
        labels={"app": "todo-backend"},
    )
    return k.snapshot(pod, k.deployment("todo-backend", containers=[ctr]))


def _leaky_diagnosis() -> Diagnosis:
    f = Finding(
        code="CrashLoopBackOff",
        severity=Severity.CRITICAL,
        object=ObjectRef("Pod", "todo", "todo-backend-7c9f6d5b8-4kq2z"),
        owner=OwnerRef("Deployment", "todo-backend"),
        container="backend",
        summary="Container backend exits 1: cannot connect to the database with password Tr1cky-Pa55.",
        evidence=(
            "lastState.terminated.exitCode=1 reason=Error",
            "log: sqlalchemy.exc.OperationalError: postgresql://todo:S3cr3tPw@todo-db:5432/todo refused",
            "log: cloning with token ghp_16C7e42F292c6912E7710c838347Ae178B4a; password=hunter2",
        ),
        remediation="Check the database credentials in the todo-db Secret.",
        cause=Cause("dependency-refused", {"url": "postgresql://todo:S3cr3tPw@todo-db:5432/todo"}),
    )
    return Diagnosis(findings=(f,))


def _assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"secret {secret!r} leaked"
    assert "[REDACTED]" in text


# ---- prompt ----------------------------------------------------------------------------------


def test_build_prompt_redacts_and_caps() -> None:
    system, user = build_prompt(
        "why? token=abcd1234xyz", '{"evidence": ["password=hunter2"]}' + "x" * 100_000
    )
    assert system == SYSTEM_PROMPT
    assert "hunter2" not in user and "abcd1234xyz" not in user
    assert len(user) < 61_000 and user.rstrip().endswith("(truncated)")


# ---- LLM -------------------------------------------------------------------------------------


def _completion(content: str, model: str = "llama3.1:8b") -> dict[str, Any]:
    return {
        "id": "chatcmpl-123",
        "object": "chat.completion",
        "created": 1764064918,
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 812, "completion_tokens": 64, "total_tokens": 876},
    }


@responses.activate
def test_llm_gets_only_redacted_findings_and_answer_is_labelled() -> None:
    responses.post(
        f"{LLM}/chat/completions",
        json=_completion("<think>internal</think>The backend cannot reach todo-db: fix the Secret."),
    )
    advisor = LlmAdvisor(url=LLM, model="llama3.1:8b", api_key="sk-local-key-0000000000000000000000000000")
    snap = _secret_snapshot()
    result = ask("why is the backend failing? my password=hunter2", snap, _leaky_diagnosis(), [advisor])

    assert len(responses.calls) == 1
    req = responses.calls[0].request
    assert req.url == f"{LLM}/chat/completions"
    assert req.headers["Authorization"] == "Bearer sk-local-key-0000000000000000000000000000"
    body = json.loads(req.body or b"{}")
    assert body["model"] == "llama3.1:8b" and body["stream"] is False and body["temperature"] == 0
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    sent = json.dumps(body)
    _assert_clean(sent)
    assert "CrashLoopBackOff" in sent and "todo-backend" in sent
    # never raw env or logs: the env value appears nowhere, not even the env name with it
    assert "debug" not in body["messages"][1]["content"]

    (adv,) = result.advisors
    assert adv.ok and adv.text == "The backend cannot reach todo-db: fix the Secret."
    out = render_text(result)
    assert "advisor llm (model llama3.1:8b) says:" in out
    assert "  The backend cannot reach todo-db" in out
    _assert_clean(out)


@responses.activate
def test_llm_retries_transient_errors() -> None:
    responses.post(f"{LLM}/chat/completions", status=503, json={"error": {"message": "loading model"}})
    responses.post(f"{LLM}/chat/completions", json=_completion("ok"))
    got = LlmAdvisor(url=LLM, model="m", backoff=0).advise("q", "{}")
    assert got.ok and got.text == "ok"
    assert len(responses.calls) == 2


@responses.activate
def test_llm_http_error_is_one_line() -> None:
    responses.post(
        f"{LLM}/chat/completions",
        status=401,
        json={
            "error": {"message": "Incorrect API key provided: sk-abc...xyz", "type": "invalid_request_error"}
        },
    )
    got = LlmAdvisor(url=LLM, model="gpt-4o-mini", backoff=0).advise("q", "{}")
    assert not got.ok
    assert got.error.startswith("HTTP 401 from http://llm.test/v1/chat/completions: Incorrect API key")
    assert "\n" not in got.error


@responses.activate
def test_llm_404_hints_at_the_base_url() -> None:
    responses.post("http://localhost:11434/chat/completions", status=404, body="404 page not found")
    got = LlmAdvisor(url="http://localhost:11434", model="llama3.1", backoff=0).advise("q", "{}")
    assert not got.ok and "http://localhost:11434/v1" in got.error


def test_llm_unreachable_and_bad_replies() -> None:
    with responses.RequestsMock() as rs:
        rs.post(f"{LLM}/chat/completions", body=requests.ConnectionError("refused"))
        got = LlmAdvisor(url=LLM, model="m", retries=0).advise("q", "{}")
        assert not got.ok and got.error == f"cannot reach {LLM}/chat/completions: ConnectionError"
    with responses.RequestsMock() as rs:
        rs.post(f"{LLM}/chat/completions", json={"unexpected": True})
        got = LlmAdvisor(url=LLM, model="m").advise("q", "{}")
        assert not got.ok and "not an OpenAI chat completion" in got.error
    with responses.RequestsMock() as rs:
        rs.post(f"{LLM}/chat/completions", body=requests.ReadTimeout("slow"))
        got = LlmAdvisor(url=LLM, model="m", timeout=7).advise("q", "{}")
        assert not got.ok and "within 7s" in got.error


def test_chat_url() -> None:
    assert chat_url("http://localhost:11434/v1/") == "http://localhost:11434/v1/chat/completions"
    assert (
        chat_url("https://api.openai.com/v1/chat/completions") == "https://api.openai.com/v1/chat/completions"
    )


# ---- kagent (A2A) ----------------------------------------------------------------------------

A2A = f"{KAGENT}/api/a2a/kagent/k8s-agent/"


def _task(state: str, text: str | None = None, task_id: str = "task-7f3c") -> dict[str, Any]:
    result: dict[str, Any] = {
        "kind": "task",
        "id": task_id,
        "contextId": "ctx-91b2",
        "status": {"state": state, "timestamp": "2026-11-25T10:45:00.000000+00:00"},
        "history": [
            {
                "kind": "message",
                "role": "user",
                "messageId": "m-1",
                "parts": [{"kind": "text", "text": "(question)"}],
            }
        ],
    }
    if text is not None:
        result["artifacts"] = [{"artifactId": "a-1", "parts": [{"kind": "text", "text": text}]}]
    return {"jsonrpc": "2.0", "id": "1", "result": result}


@responses.activate
def test_kagent_message_send_with_redacted_text() -> None:
    responses.post(A2A, json=_task("completed", "Raise the memory limit of todo-backend to 512Mi."))
    advisor = KagentAdvisor(url=KAGENT, backoff=0)
    result = ask("why is todo-backend failing?", _secret_snapshot(), _leaky_diagnosis(), [advisor])

    body = json.loads(responses.calls[0].request.body or b"{}")
    assert body["jsonrpc"] == "2.0" and body["method"] == "message/send" and body["id"]
    msg = body["params"]["message"]
    assert msg["kind"] == "message" and msg["role"] == "user" and msg["messageId"]
    assert [p["kind"] for p in msg["parts"]] == ["text"]
    _assert_clean(json.dumps(body))
    (adv,) = result.advisors
    assert adv.ok and adv.text == "Raise the memory limit of todo-backend to 512Mi."
    assert "advisor kagent (agent kagent/k8s-agent) says:" in render_text(result)


@responses.activate
def test_kagent_polls_a_working_task() -> None:
    responses.post(A2A, json=_task("working"))
    responses.post(A2A, json=_task("completed", "done: the ConfigMap lacks REDIS_URL"))
    got = KagentAdvisor(url=KAGENT, poll_interval=0.01, backoff=0).advise("q", "{}")
    assert got.ok and got.text == "done: the ConfigMap lacks REDIS_URL"
    poll = json.loads(responses.calls[1].request.body or b"{}")
    assert poll["method"] == "tasks/get" and poll["params"] == {"id": "task-7f3c"}


@responses.activate
def test_kagent_errors_are_one_line() -> None:
    responses.post(
        A2A,
        json={"jsonrpc": "2.0", "id": "1", "error": {"code": -32601, "message": "Method not found"}},
    )
    got = KagentAdvisor(url=KAGENT, backoff=0).advise("q", "{}")
    assert not got.ok and got.error == "A2A error -32601: Method not found"

    responses.replace(responses.POST, A2A, json=_task("failed", "model quota exceeded"))
    got = KagentAdvisor(url=KAGENT, backoff=0).advise("q", "{}")
    assert not got.ok and got.error == "agent task failed: model quota exceeded"

    responses.replace(responses.POST, A2A, status=404, body="agent not found")
    got = KagentAdvisor(url=KAGENT, backoff=0).advise("q", "{}")
    assert not got.ok and got.error.startswith("HTTP 404 from")


def test_answer_text_shapes() -> None:
    message = {
        "kind": "message",
        "role": "agent",
        "messageId": "m",
        "parts": [{"kind": "text", "text": "hi"}],
    }
    assert answer_text(message) == "hi"
    status_only = {
        "kind": "task",
        "id": "t",
        "status": {
            "state": "completed",
            "message": {"role": "agent", "parts": [{"kind": "text", "text": "s"}]},
        },
    }
    assert answer_text(status_only) == "s"
    history = {
        "kind": "task",
        "id": "t",
        "status": {"state": "completed"},
        "history": [
            {"role": "user", "parts": [{"kind": "text", "text": "q"}]},
            {"role": "agent", "parts": [{"kind": "data", "data": {"tool": "k8s_get"}}]},
            {"role": "agent", "parts": [{"kind": "text", "text": "final"}]},
        ],
    }
    assert answer_text(history) == "final"


# ---- kubectl-ai (fake executable on PATH) ----------------------------------------------------


@pytest.fixture
def fake_kubectl_ai(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("PATH", f"{FAKEBIN}{os.pathsep}{os.environ.get('PATH', '')}")
    record = tmp_path / "argv.json"
    monkeypatch.setenv("FAKE_KUBECTL_AI_ARGV", str(record))
    monkeypatch.delenv("FAKE_KUBECTL_AI_MODE", raising=False)
    return record


def test_kubectl_ai_quiet_with_redacted_prompt(fake_kubectl_ai: Path) -> None:
    advisor = KubectlAiAdvisor(model="gemini-2.5-flash", kubeconfig="/tmp/kubeconfig")
    result = ask("why is the backend failing?", _secret_snapshot(), _leaky_diagnosis(), [advisor])
    argv = json.loads(fake_kubectl_ai.read_text())
    assert Path(argv[0]).name == "kubectl-ai"
    assert argv[1:6] == ["--quiet", "--model", "gemini-2.5-flash", "--kubeconfig", "/tmp/kubeconfig"]
    assert len(argv) == 7
    _assert_clean(argv[6])
    assert "read-only" in argv[6]
    assert Path(str(fake_kubectl_ai) + ".stdin").read_text() == ""
    (adv,) = result.advisors
    assert adv.ok
    assert adv.text.endswith("raise its memory limit in the Helm values.")
    assert "\x1b[" not in adv.text, "terminal escapes are stripped"
    assert "advisor kubectl-ai (model gemini-2.5-flash) says:" in render_text(result)


def test_kubectl_ai_failure_and_timeout(fake_kubectl_ai: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_KUBECTL_AI_MODE", "fail")
    got = KubectlAiAdvisor().advise("q", "{}")
    assert not got.ok
    assert (
        got.error == "kubectl-ai exited 1: creating llm client: GEMINI_API_KEY environment variable not set"
    )
    monkeypatch.setenv("FAKE_KUBECTL_AI_MODE", "empty")
    assert KubectlAiAdvisor().advise("q", "{}").error == "kubectl-ai printed nothing"
    monkeypatch.setenv("FAKE_KUBECTL_AI_MODE", "sleep")
    got = KubectlAiAdvisor(timeout=0.5).advise("q", "{}")
    assert not got.ok and got.error == "kubectl-ai gave no answer within 0.5s"


def test_kubectl_ai_not_on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    got = KubectlAiAdvisor().advise("q", "{}")
    assert not got.ok and got.error.startswith("kubectl-ai is not on PATH")


# ---- selection -------------------------------------------------------------------------------


def test_build_advisors_from_env_and_settings() -> None:
    settings = settings_from_dict(
        {
            "advisors": {
                "llm": {"enabled": True, "model": "qwen2.5:7b"},
                "kagent": {"enabled": True, "url": "http://kagent:8083", "agent": "helm-agent"},
            }
        }
    )
    assert enabled_in_settings(settings) == ["llm", "kagent"]
    env = {"AIOPS_LLM_URL": "http://ollama:11434/v1", "AIOPS_LLM_API_KEY": "k"}
    llm, kagent, kai = build_advisors(["llm", "kagent", "kubectl-ai", "llm"], settings, env)
    assert isinstance(llm, LlmAdvisor) and llm.model == "qwen2.5:7b" and llm.api_key == "k"
    assert isinstance(kagent, KagentAdvisor)
    assert kagent.endpoint == "http://kagent:8083/api/a2a/kagent/helm-agent/"
    assert isinstance(kai, KubectlAiAdvisor)
    env_model = build_advisors(["llm"], settings, {**env, "AIOPS_LLM_MODEL": "llama3.1"})[0]
    assert isinstance(env_model, LlmAdvisor) and env_model.model == "llama3.1"


def test_unconfigured_advisors_explain_themselves() -> None:
    settings = settings_from_dict({})
    assert enabled_in_settings(settings) == []
    llm, kagent = build_advisors(["llm", "kagent"], settings, {})
    assert isinstance(llm, Unavailable) and "AIOPS_LLM_URL" in llm.advise("q", "{}").error
    assert isinstance(kagent, Unavailable) and "advisors.kagent.url" in kagent.advise("q", "{}").error
    (no_model,) = build_advisors(["llm"], settings, {"AIOPS_LLM_URL": LLM})
    assert isinstance(no_model, Unavailable) and "AIOPS_LLM_MODEL" in no_model.reason
