"""The `aiops ask` flow: snapshot → diagnosis → redaction → offline answer → optional advisors.

Everything shown or sent is redacted first, with a `Redactor` that also knows the secret-named env
values of the snapshot's pod specs. Advisors (given as ports) receive only the redacted question
and the redacted findings as JSON, run concurrently with their own timeouts, and never change the
offline answer or the exit code: a failing advisor is one line in the result. Rendering to text,
Markdown and JSON lives here too (pure formatting). No printing here, no exit codes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from aiops.advisors import Advisor, AdvisorAnswer, one_line
from aiops.diagnose.question import Answer, answer_question
from aiops.model import Diagnosis, Snapshot, format_time
from aiops.redact import Redactor

__all__ = ["AskResult", "advisor_payload", "ask", "render", "render_json", "render_markdown", "render_text"]

MAX_ADVISOR_FINDINGS = 40
MAX_EVIDENCE_PER_FINDING = 8


@dataclass(frozen=True)
class AskResult:
    """The offline answer (redacted), what each advisor said, and notes from reading the cluster."""

    answer: Answer
    advisors: tuple[AdvisorAnswer, ...] = ()
    notes: tuple[str, ...] = ()
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.answer.to_dict(),
            "advisors": [a.to_dict() for a in self.advisors],
            "notes": list(self.notes),
            "source": self.source,
        }


def _redact_answer(answer: Answer, red: Redactor) -> Answer:
    return replace(
        answer,
        question=red(answer.question),
        headline=red(answer.headline),
        lines=tuple(red(ln) for ln in answer.lines),
        candidates=tuple(red(c) for c in answer.candidates),
        findings=tuple(red.redact_finding(f) for f in answer.findings),
    )


def advisor_payload(answer: Answer, diagnosis: Diagnosis, red: Redactor) -> str:
    """The JSON an advisor gets: the answer's findings (or all, when it has none), redacted, bounded."""
    findings = list(answer.findings) or list(diagnosis.findings)
    omitted = max(len(findings) - MAX_ADVISOR_FINDINGS, 0)
    items = []
    for f in findings[:MAX_ADVISOR_FINDINGS]:
        d = red.redact_obj(red.redact_finding(f).to_dict())
        d["evidence"] = d["evidence"][:MAX_EVIDENCE_PER_FINDING]
        items.append(d)
    payload: dict[str, Any] = {
        "aiops_answer": {"status": answer.status, "headline": red(answer.headline)},
        "targets": [t.to_dict() for t in answer.targets],
        "judged_at": format_time(answer.at),
        "findings": items,
    }
    if omitted:
        payload["omitted_findings"] = omitted
    return json.dumps(payload, ensure_ascii=False, indent=1)


def _run_advisor(advisor: Advisor, question: str, payload: str, red: Redactor) -> AdvisorAnswer:
    try:
        got = advisor.advise(question, payload)
    except Exception as exc:  # an advisor is optional: its failure is one line, never a crash
        return AdvisorAnswer(
            advisor.name, advisor.label, ok=False, error=one_line(f"{type(exc).__name__}: {exc}")
        )
    # what comes back is shown to people and may be written down: redact it as well
    return replace(got, text=red(got.text), error=red(got.error), label=red(got.label))


def ask(
    question: str,
    snapshot: Snapshot,
    diagnosis: Diagnosis,
    advisors: Sequence[Advisor] = (),
    *,
    redactor: Redactor | None = None,
    namespaces: Collection[str] | None = None,
) -> AskResult:
    """Answer offline from `diagnosis`, then ask each advisor (concurrently) with redacted findings.

    `namespaces` is the scope `diagnosis` was limited to (None: all).
    """
    red = redactor or Redactor.from_snapshot(snapshot)
    # matching reads names only; every text that leaves (answer, findings, payload) is redacted after
    answer = _redact_answer(answer_question(question, snapshot, diagnosis, namespaces=namespaces), red)
    answers: tuple[AdvisorAnswer, ...] = ()
    if advisors:
        payload = advisor_payload(answer, diagnosis, red)
        q = red(question)
        with ThreadPoolExecutor(max_workers=min(len(advisors), 4), thread_name_prefix="advisor") as pool:
            futures = [pool.submit(_run_advisor, a, q, payload, red) for a in advisors]
            answers = tuple(f.result() for f in futures)
    notes = tuple(red(n) for n in diagnosis.notes)
    source = ", ".join(snapshot.sources) if snapshot.sources else None
    return AskResult(answer, answers, notes, source)


# ---- rendering -------------------------------------------------------------------------------


def render_text(result: AskResult) -> str:
    out = [result.answer.text().rstrip("\n")]
    if result.answer.at is not None and result.answer.status != "healthy":
        source = f"; {result.source.strip('()')}" if result.source else ""
        out.append(f"(judged at {format_time(result.answer.at)}{source})")
    for note in result.notes:
        out.append(f"note: {note}")
    for a in result.advisors:
        out.append("")
        if a.ok:
            out.append(f"{a.label} says:")
            out.extend("  " + ln if ln else "" for ln in a.text.splitlines())
        else:
            out.append(f"{a.label} failed: {a.error}")
    return "\n".join(out) + "\n"


def _fence(text: str, lang: str = "text") -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{text.rstrip()}\n{ticks}"


def _md_inline(text: str) -> str:
    """Cluster text on one Markdown line: no HTML, no @-mentions, no emphasis or link syntax."""
    text = text.replace("\\", "\\\\").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = re.sub(r"([`*_\[\]#|~])", r"\\\1", text)
    return text.replace("@", "@\u200b")


def render_markdown(result: AskResult) -> str:
    a = result.answer
    out = [f"### aiops: {_md_inline(a.headline)}", ""]
    if a.lines:
        out += [_fence("\n".join(a.lines)), ""]
    if a.at is not None:
        source = f"; {_md_inline(result.source.strip('()'))}" if result.source else ""
        out += [f"_Judged at {format_time(a.at)}{source}._", ""]
    for note in result.notes:
        out.append(f"> note: {_md_inline(note)}")
    for adv in result.advisors:
        out.append("")
        if adv.ok:
            out += [f"#### {_md_inline(adv.label)} says", "", _fence(adv.text)]
        else:
            out.append(f"**{_md_inline(adv.label)} failed:** {_md_inline(adv.error)}")
    return "\n".join(out).rstrip() + "\n"


def render_json(result: AskResult) -> str:
    return json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n"


def render(result: AskResult, fmt: str) -> str:
    if fmt == "json":
        return render_json(result)
    if fmt == "markdown":
        return render_markdown(result)
    return render_text(result)
