"""The `llm` advisor: an OpenAI-compatible chat completions endpoint (OpenAI, Ollama, vLLM, LiteLLM ...).

POST {AIOPS_LLM_URL}/chat/completions with {model, messages, temperature 0, stream false}; the
Authorization header carries AIOPS_LLM_API_KEY when set (Ollama needs none: AIOPS_LLM_URL=
http://localhost:11434/v1). Requests have a timeout and bounded retries. Only the redacted
prompt of `aiops.advisors.build_prompt` is sent. Never raises from `advise`.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import requests

from aiops.advisors import AdvisorAnswer, build_prompt, one_line
from aiops.advisors.http import CONNECT_TIMEOUT, error_detail, session

_THINK = re.compile(r"<think>[\s\S]*?</think>\s*", re.IGNORECASE)


def chat_url(base: str) -> str:
    """`{base}/chat/completions`, unless the base already is that endpoint."""
    base = base.rstrip("/")
    return base if base.endswith("/chat/completions") else f"{base}/chat/completions"


@dataclass(frozen=True)
class LlmAdvisor:
    url: str
    model: str
    api_key: str | None = None
    timeout: float = 60.0
    retries: int = 2
    backoff: float = 0.5
    name: str = "llm"

    @property
    def label(self) -> str:
        return f"advisor llm (model {self.model})"

    def request_body(self, question: str, findings_json: str) -> dict[str, Any]:
        system, user = build_prompt(question, findings_json)
        return {
            "model": self.model,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            "temperature": 0,
            "stream": False,
        }

    def advise(self, question: str, findings_json: str) -> AdvisorAnswer:
        started = time.perf_counter()

        def fail(reason: str) -> AdvisorAnswer:
            return AdvisorAnswer(
                self.name,
                self.label,
                ok=False,
                error=one_line(reason),
                model=self.model,
                elapsed_ms=(time.perf_counter() - started) * 1000.0,
            )

        endpoint = chat_url(self.url)
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        try:
            with session(self.retries, self.backoff) as http:
                resp = http.post(
                    endpoint,
                    json=self.request_body(question, findings_json),
                    headers=headers,
                    timeout=(CONNECT_TIMEOUT, self.timeout),
                )
        except requests.Timeout:
            return fail(f"no answer from {endpoint} within {self.timeout:g}s")
        except requests.RequestException as exc:
            return fail(f"cannot reach {endpoint}: {type(exc).__name__}")
        if resp.status_code >= 400:
            hint = (
                " (is AIOPS_LLM_URL the API base, e.g. http://localhost:11434/v1?)"
                if resp.status_code == 404
                else ""
            )
            return fail(f"HTTP {resp.status_code} from {endpoint}: {error_detail(resp)}{hint}")
        try:
            data = resp.json()
            content = data["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            return fail(f"unexpected reply from {endpoint}: not an OpenAI chat completion")
        text = _THINK.sub("", str(content or "")).strip()
        if not text:
            return fail(f"empty answer from {endpoint}")
        model = str(data.get("model") or self.model) if isinstance(data, dict) else self.model
        return AdvisorAnswer(
            self.name,
            f"advisor llm (model {model})",
            ok=True,
            text=text,
            model=model,
            elapsed_ms=(time.perf_counter() - started) * 1000.0,
        )
