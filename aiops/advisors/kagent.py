"""The `kagent` advisor: asks a kagent agent over its A2A HTTP API (JSON-RPC 2.0).

POST {url}/api/a2a/{namespace}/{agent}/ with method `message/send` and a user message of one text
part (A2A 0.3: `kind`, `messageId`, `role`, `parts`). The reply's `result` is a Message or a Task;
the answer is the text of the Task's artifacts (else its status message, else the last agent
message in its history). A Task still `submitted`/`working` is polled with `tasks/get` until the
timeout. JSON-RPC errors and failed/rejected tasks are one-line failures. Only the redacted prompt
of `aiops.advisors.build_prompt` is sent. Never raises from `advise`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests

from aiops.advisors import AdvisorAnswer, build_prompt, one_line
from aiops.advisors.http import CONNECT_TIMEOUT, error_detail, session

_PENDING = ("submitted", "working", "unknown")
_FAILED = ("failed", "rejected", "canceled", "cancelled", "auth-required")


class _Failure(Exception):
    pass


def _texts(parts: Any) -> list[str]:
    out: list[str] = []
    for p in parts or ():
        if isinstance(p, Mapping) and (p.get("kind") or p.get("type")) in ("text", None) and p.get("text"):
            out.append(str(p["text"]))
    return out


def answer_text(result: Mapping[str, Any]) -> str:
    """The agent's text in an A2A `message/send` result (a Message or a Task)."""
    if result.get("kind") == "message" or ("parts" in result and "status" not in result):
        return "\n".join(_texts(result.get("parts"))).strip()
    texts: list[str] = []
    for art in result.get("artifacts") or ():
        if isinstance(art, Mapping):
            texts.extend(_texts(art.get("parts")))
    if not texts:
        status_msg = (result.get("status") or {}).get("message")
        if isinstance(status_msg, Mapping):
            texts = _texts(status_msg.get("parts"))
    if not texts:
        for msg in reversed(result.get("history") or ()):
            if isinstance(msg, Mapping) and msg.get("role") == "agent":
                texts = _texts(msg.get("parts"))
                if texts:
                    break
    return "\n".join(texts).strip()


@dataclass(frozen=True)
class KagentAdvisor:
    url: str
    namespace: str = "kagent"
    agent: str = "k8s-agent"
    timeout: float = 120.0
    retries: int = 2
    backoff: float = 0.5
    poll_interval: float = 1.0
    name: str = "kagent"

    @property
    def label(self) -> str:
        return f"advisor kagent (agent {self.namespace}/{self.agent})"

    @property
    def endpoint(self) -> str:
        return f"{self.url.rstrip('/')}/api/a2a/{self.namespace}/{self.agent}/"

    def request_body(self, question: str, findings_json: str) -> dict[str, Any]:
        system, user = build_prompt(question, findings_json)
        return {
            "jsonrpc": "2.0",
            "id": str(uuid.uuid4()),
            "method": "message/send",
            "params": {
                "message": {
                    "kind": "message",
                    "messageId": str(uuid.uuid4()),
                    "role": "user",
                    "parts": [{"kind": "text", "text": f"{system}\n\n{user}"}],
                },
                "configuration": {"blocking": True, "acceptedOutputModes": ["text", "text/plain"]},
            },
        }

    def _call(self, http: requests.Session, body: Mapping[str, Any], deadline: float) -> Mapping[str, Any]:
        remaining = max(deadline - time.monotonic(), 1.0)
        try:
            resp = http.post(
                self.endpoint,
                json=body,
                headers={"Content-Type": "application/json", "Accept": "application/json"},
                timeout=(CONNECT_TIMEOUT, remaining),
            )
        except requests.Timeout as exc:
            raise _Failure(f"no answer from {self.endpoint} within {self.timeout:g}s") from exc
        except requests.RequestException as exc:
            raise _Failure(f"cannot reach {self.endpoint}: {type(exc).__name__}") from exc
        if resp.status_code >= 400:
            raise _Failure(f"HTTP {resp.status_code} from {self.endpoint}: {error_detail(resp)}")
        try:
            data = resp.json()
        except ValueError as exc:
            raise _Failure(f"unexpected reply from {self.endpoint}: not JSON") from exc
        if not isinstance(data, Mapping):
            raise _Failure(f"unexpected reply from {self.endpoint}: not a JSON-RPC response")
        err = data.get("error")
        if isinstance(err, Mapping):
            raise _Failure(f"A2A error {err.get('code')}: {err.get('message')}")
        result = data.get("result")
        if not isinstance(result, Mapping):
            raise _Failure(f"unexpected reply from {self.endpoint}: no result")
        return result

    def advise(self, question: str, findings_json: str) -> AdvisorAnswer:
        started = time.perf_counter()
        deadline = time.monotonic() + self.timeout

        def done(ok: bool, text: str) -> AdvisorAnswer:
            return AdvisorAnswer(
                self.name,
                self.label,
                ok=ok,
                text=text if ok else "",
                error="" if ok else one_line(text),
                elapsed_ms=(time.perf_counter() - started) * 1000.0,
            )

        try:
            with session(self.retries, self.backoff) as http:
                result = self._call(http, self.request_body(question, findings_json), deadline)
                state = str((result.get("status") or {}).get("state", "")) if "status" in result else ""
                while state in _PENDING and result.get("id") and time.monotonic() < deadline:
                    time.sleep(self.poll_interval)
                    poll = {"jsonrpc": "2.0", "id": str(uuid.uuid4()), "method": "tasks/get"}
                    result = self._call(http, {**poll, "params": {"id": result["id"]}}, deadline)
                    state = str((result.get("status") or {}).get("state", ""))
        except _Failure as exc:
            return done(False, str(exc))
        text = answer_text(result)
        if state in _PENDING:
            return done(False, f"agent task still {state} after {self.timeout:g}s")
        if state in _FAILED:
            return done(False, f"agent task {state}" + (f": {text}" if text else ""))
        if not text:
            return done(False, "the agent answered without text")
        if state == "input-required":
            text = f"(the agent asks for more input) {text}"
        return done(True, text)
