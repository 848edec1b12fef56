"""Rendering of a `Diagnosis` as text (a table grouped by workload), Markdown (what PRs embed) and JSON.

Pure string formatting: no click, no I/O, no redaction (the pipeline redacts before this sees text).
Markdown escapes cluster text (no HTML, no @-mentions, no table or fence breaking) as DESIGN §4.5
asks; JSON is exactly DESIGN §4.2.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime

from aiops.model import Diagnosis, Finding, ObjectRef, format_time

__all__ = ["group_by_workload", "md_cell", "md_fence", "render_json", "render_markdown", "render_text"]

_SEVERITIES = ("critical", "warning", "info")


def render_json(diagnosis: Diagnosis) -> str:
    """DESIGN §4.2 JSON, indented by two spaces (orjson when installed: large diagnoses print fast)."""
    data = diagnosis.to_dict()
    try:
        import orjson
    except ImportError:  # pragma: no cover - orjson is a dependency on CPython
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    return orjson.dumps(data, option=orjson.OPT_INDENT_2).decode("utf-8") + "\n"


def group_by_workload(findings: Sequence[Finding]) -> list[tuple[ObjectRef, list[Finding]]]:
    """Findings grouped by owning workload, groups in order of first (i.e. most severe) finding."""
    groups: dict[ObjectRef, list[Finding]] = {}
    for f in findings:
        groups.setdefault(f.workload, []).append(f)
    return list(groups.items())


def _counts(diagnosis: Diagnosis) -> str:
    parts = []
    for sev in _SEVERITIES:
        n = sum(1 for f in diagnosis.findings if f.severity.value == sev)
        if n:
            parts.append(f"{n} {sev}")
    return ", ".join(parts)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _object_label(f: Finding) -> str:
    label = f"{f.object.kind}/{f.object.name}"
    return f"{label} {f.container}" if f.container else label


def _cause_text(f: Finding) -> str | None:
    if f.cause is None:
        return None
    detail = " ".join(f"{k}={v}" for k, v in f.cause.detail.items())
    return f"{f.cause.type} {detail}".strip()


def _header(diagnosis: Diagnosis, label: str | None, at: datetime | None) -> str:
    where = f" {label}" if label else ""
    when = f", judged at {format_time(at)}" if at is not None else ""
    if not diagnosis.findings:
        return f"aiops diagnose{where}: no failing workloads in {_plural(diagnosis.objects, 'object')}{when}"
    groups = len(group_by_workload(diagnosis.findings))
    return (
        f"aiops diagnose{where}: {_plural(len(diagnosis.findings), 'finding')} ({_counts(diagnosis)}) "
        f"in {_plural(groups, 'workload')}{when}"
    )


def render_text(diagnosis: Diagnosis, *, label: str | None = None, at: datetime | None = None) -> str:
    """A readable table grouped by workload: severity, code, object/container, summary; then evidence."""
    lines = [_header(diagnosis, label, at)]
    findings = diagnosis.findings
    if findings:
        w_sev = max(len("SEVERITY"), *(len(f.severity.value) for f in findings))
        w_code = max(len("CODE"), *(len(f.code) for f in findings))
        w_obj = max(len("OBJECT / CONTAINER"), *(len(_object_label(f)) for f in findings))
        indent = " " * (2 + w_sev + 2 + w_code + 2)
        for workload, group in group_by_workload(findings):
            lines.append("")
            lines.append(str(workload))
            lines.append(
                f"  {'SEVERITY':<{w_sev}}  {'CODE':<{w_code}}  {'OBJECT / CONTAINER':<{w_obj}}  SUMMARY"
            )
            for f in group:
                lines.append(
                    f"  {f.severity.value:<{w_sev}}  {f.code:<{w_code}}  {_object_label(f):<{w_obj}}  "
                    f"{_flat(f.summary)}".rstrip()
                )
                for i, ev in enumerate(f.evidence):
                    lines.append(f"{indent}{'evidence:' if i == 0 else '':<10}{_flat(ev)}")
                cause = _cause_text(f)
                if cause:
                    lines.append(f"{indent}{'cause:':<10}{_flat(cause)}")
                if f.remediation:
                    lines.append(f"{indent}{'fix:':<10}{_flat(f.remediation)}")
                if f.started_at is not None:
                    lines.append(f"{indent}{'since:':<10}{format_time(f.started_at)}")
    if diagnosis.notes:
        lines.append("")
        lines.append("Notes:")
        lines.extend(f"  - {_flat(n)}" for n in diagnosis.notes)
    return "\n".join(lines) + "\n"


def _flat(text: str) -> str:
    """One line: newlines and tabs become spaces (multi-line log lines stay readable in a table)."""
    return " ".join(text.split("\n")).replace("\t", " ").rstrip()


# ---- Markdown ----------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|#~])")


def md_cell(text: str) -> str:
    """Cluster text made safe inside a Markdown table cell / paragraph: no HTML, no @-mentions,
    no table breaking, no emphasis surprises."""
    text = " ".join(text.split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return text.replace("@", "&#64;")


def md_fence(body: str, info: str = "text") -> str:
    """A fenced code block that the body cannot close (fence longer than any backtick run in it)."""
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{body.rstrip()}\n{fence}"


def render_markdown(diagnosis: Diagnosis, *, label: str | None = None, at: datetime | None = None) -> str:
    """The block PR bodies, PHRs and reports embed: a summary table, then evidence per finding."""
    out = ["### aiops diagnosis", ""]
    meta = []
    if at is not None:
        meta.append(f"judged at `{format_time(at)}`")
    if label:
        meta.append(md_cell(label.strip("()")))
    meta.append(f"{_plural(diagnosis.objects, 'object')} read")
    if not diagnosis.findings:
        out.append("No failing workloads. " + " · ".join(meta))
    else:
        groups = len(group_by_workload(diagnosis.findings))
        out.append(
            f"**{_plural(len(diagnosis.findings), 'finding')}** ({_counts(diagnosis)}) in "
            f"{_plural(groups, 'workload')} · " + " · ".join(meta)
        )
        out += [
            "",
            "| Severity | Code | Workload | Object / container | Summary |",
            "|---|---|---|---|---|",
        ]
        for f in diagnosis.findings:
            obj = f"{f.object.kind}/{f.object.name}" + (f" · {f.container}" if f.container else "")
            out.append(
                f"| {f.severity.value} | `{f.code}` | {md_cell(str(f.workload))} | {md_cell(obj)} "
                f"| {md_cell(f.summary)} |"
            )
        out.append("")
        for f in diagnosis.findings:
            title = f"{f.code} — {f.object}" + (f" ({f.container})" if f.container else "")
            out.append(f"<details><summary>{md_cell(title)}</summary>")
            out.append("")
            if f.evidence:
                out.append(md_fence("\n".join(f.evidence)))
                out.append("")
            cause = _cause_text(f)
            if cause:
                out.append(f"**Cause:** {md_cell(cause)}  ")
            if f.started_at is not None:
                out.append(f"**Since:** `{format_time(f.started_at)}`  ")
            if f.remediation:
                out.append(f"**Remediation:** {md_cell(f.remediation)}")
            out += ["", "</details>", ""]
    if diagnosis.notes:
        out += ["", "**Notes**", ""]
        out.extend(f"- {md_cell(n)}" for n in diagnosis.notes)
    return "\n".join(out).rstrip() + "\n"
