"""Optional advisors for `aiops ask`: an LLM, kubectl-ai or a kagent agent, behind one interface.

Advisors are off by default and never required: aiops answers offline from its own findings, and an
advisor's answer is only shown beside that answer, labelled. Each advisor gets the question and the
findings as JSON text that the caller already redacted; as a second guard every prompt passes
through `aiops.redact.redact` again before it leaves the process. Raw logs, env values and cluster
objects are never sent. `advise` never raises: a failure (not configured, unreachable, timeout,
bad reply) is an `AdvisorAnswer` with `ok=False` and a one-line `error`.

Adapters live in `llm.py` (OpenAI-compatible chat endpoint, e.g. Ollama), `kubectl_ai.py` (the
kubectl-ai CLI) and `kagent.py` (A2A JSON-RPC). This package imports no other adapter.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aiops.redact import redact
from aiops.settings import Settings

ADVISOR_NAMES = ("llm", "kubectl-ai", "kagent")

# Prompts stay well under model context limits and argv limits (kubectl-ai gets it as an argument).
MAX_PROMPT_CHARS = 60_000

SYSTEM_PROMPT = (
    "You are a Kubernetes site-reliability assistant. aiops, a deterministic analyzer, diagnosed the "
    "cluster; its findings are given as JSON. Answer the user's question from these findings: name "
    "the most likely root cause, cite the evidence lines you rely on, and give the fix as a change to "
    "Helm values or manifests (it will be proposed as a git pull request, never applied directly). "
    "Be concise (at most 200 words). Do not invent objects absent from the findings. Secrets were "
    "replaced by [REDACTED]; never ask for them."
)


@dataclass(frozen=True)
class AdvisorAnswer:
    """What one advisor said (ok) or why it could not answer (error, one line)."""

    name: str
    label: str  # "advisor llm (model llama3.1)"
    ok: bool
    text: str = ""
    error: str = ""
    model: str | None = None
    elapsed_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "ok": self.ok,
            "model": self.model,
            "answer": self.text if self.ok else None,
            "error": None if self.ok else self.error,
            "elapsed_ms": round(self.elapsed_ms, 1),
        }


class Advisor(Protocol):
    """An optional second opinion. `advise` gets only redacted text and never raises."""

    @property
    def name(self) -> str: ...

    @property
    def label(self) -> str: ...

    def advise(self, question: str, findings_json: str) -> AdvisorAnswer: ...


def build_prompt(question: str, findings_json: str) -> tuple[str, str]:
    """(system, user) messages; the user message is redacted again and capped in size."""
    budget = MAX_PROMPT_CHARS - len(SYSTEM_PROMPT) - len(question) - 200
    body = findings_json if len(findings_json) <= budget else findings_json[:budget] + "\n… (truncated)"
    user = f"Question: {question}\n\nFindings (JSON, from aiops):\n{body}\n"
    return SYSTEM_PROMPT, redact(user)


def one_line(text: str, limit: int = 300) -> str:
    """An error message as one redacted line of bounded length."""
    flat = " ".join(str(text).split())
    flat = redact(flat)
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@dataclass(frozen=True)
class Unavailable:
    """An advisor that cannot run (not configured); it answers with the reason."""

    name: str
    reason: str

    @property
    def label(self) -> str:
        return f"advisor {self.name}"

    def advise(self, question: str, findings_json: str) -> AdvisorAnswer:
        return AdvisorAnswer(self.name, self.label, ok=False, error=self.reason)


def enabled_in_settings(settings: Settings) -> list[str]:
    """Advisors switched on in `advisors.*.enabled`."""
    out = []
    if settings.advisors.llm.enabled:
        out.append("llm")
    if settings.advisors.kubectl_ai.enabled:
        out.append("kubectl-ai")
    if settings.advisors.kagent.enabled:
        out.append("kagent")
    return out


def build_advisors(
    names: Sequence[str],
    settings: Settings,
    env: Mapping[str, str] | None = None,
    *,
    kubeconfig: str | None = None,
) -> list[Advisor]:
    """The advisors named (in order, without repeats); misconfigured ones become `Unavailable`.

    Environment: AIOPS_LLM_URL, AIOPS_LLM_MODEL, AIOPS_LLM_API_KEY (DESIGN §4.7); AIOPS_KAGENT_URL
    overrides `advisors.kagent.url`. Environment values win over settings.
    """
    env = os.environ if env is None else env
    out: list[Advisor] = []
    for name in dict.fromkeys(names):
        if name == "llm":
            from aiops.advisors.llm import LlmAdvisor

            url = env.get("AIOPS_LLM_URL")
            model = env.get("AIOPS_LLM_MODEL") or settings.advisors.llm.model
            if not url:
                out.append(
                    Unavailable("llm", "not configured: set AIOPS_LLM_URL (e.g. http://localhost:11434/v1)")
                )
            elif not model:
                out.append(Unavailable("llm", "no model: set AIOPS_LLM_MODEL or advisors.llm.model"))
            else:
                out.append(LlmAdvisor(url=url, model=model, api_key=env.get("AIOPS_LLM_API_KEY") or None))
        elif name == "kubectl-ai":
            from aiops.advisors.kubectl_ai import KubectlAiAdvisor

            out.append(KubectlAiAdvisor(model=settings.advisors.kubectl_ai.model, kubeconfig=kubeconfig))
        elif name == "kagent":
            from aiops.advisors.kagent import KagentAdvisor

            cfg = settings.advisors.kagent
            url = env.get("AIOPS_KAGENT_URL") or cfg.url
            if not url:
                out.append(
                    Unavailable(
                        "kagent",
                        "not configured: set advisors.kagent.url or AIOPS_KAGENT_URL "
                        "(e.g. http://localhost:8083 after kubectl port-forward svc/kagent-controller 8083)",
                    )
                )
            else:
                out.append(KagentAdvisor(url=url, namespace=cfg.namespace, agent=cfg.agent))
        else:
            out.append(Unavailable(name, f"unknown advisor (known: {', '.join(ADVISOR_NAMES)})"))
    return out


__all__ = [
    "ADVISOR_NAMES",
    "MAX_PROMPT_CHARS",
    "SYSTEM_PROMPT",
    "Advisor",
    "AdvisorAnswer",
    "Unavailable",
    "build_advisors",
    "build_prompt",
    "enabled_in_settings",
    "one_line",
]
