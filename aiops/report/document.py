"""A report as a document: YAML front matter + Markdown body, and the Mermaid trend charts.

`Report.markdown()` is the file written under `history/reports/<kind>/<date>.md`; its front
matter carries the figures later reports compare against (week-over-week, trends), so a report
never has to re-parse another's Markdown. `parse_front` reads that front matter back;
`xychart` writes a Mermaid `xychart-beta` block (GitHub renders it). Pure text; no I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiops.errors import InputError
from aiops.redact import redact

KINDS: tuple[str, ...] = ("health", "utilization", "security")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Report:
    """One report: kind, date (YYYY-MM-DD), front matter (figures), Markdown body, JSON data."""

    kind: str
    date: str
    front: Mapping[str, Any]
    body: str
    data: Mapping[str, Any] = field(default_factory=dict)

    def markdown(self) -> str:
        front = {"kind": self.kind, "date": self.date, **self.front}
        return f"---\n{dump_yaml(front)}---\n\n{redact(self.body).rstrip()}\n"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "date": self.date, **dict(self.front), **dict(self.data)}


def check_date(date: str) -> str:
    if not _DATE_RE.match(date):
        raise InputError(f"--date {date!r}: expected YYYY-MM-DD")
    return date


def dump_yaml(data: Mapping[str, Any]) -> str:
    """Block YAML, keys in insertion order (stable text for stable inputs)."""
    import yaml

    text = yaml.safe_dump(
        json.loads(json.dumps(dict(data), default=str)),
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=1000,
    )
    return str(text)


def parse_front(text: str, *, where: str = "report") -> dict[str, Any]:
    """The front matter of a report file; InputError naming `where` when there is none."""
    import yaml

    lines = text.lstrip("\ufeff").replace("\r\n", "\n").split("\n")
    if not lines or lines[0].strip() != "---":
        raise InputError(f"{where}: no YAML front matter")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration as exc:
        raise InputError(f"{where}: front matter is not closed by '---'") from exc
    try:
        data = yaml.safe_load("\n".join(lines[1:end]))
    except yaml.YAMLError as exc:
        raise InputError(f"{where}: front matter is not valid YAML") from exc
    if not isinstance(data, dict):
        raise InputError(f"{where}: front matter must be a mapping")
    return data


def _num(v: float) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def xychart(
    title: str,
    labels: Sequence[str],
    series: Mapping[str, Sequence[float]],
    *,
    y_label: str,
    bar: str | None = None,
) -> str:
    """A Mermaid `xychart-beta` block: one line per series (a `bar` series first when named).

    Mermaid draws no legend, so the series names are listed under the block by the caller's text
    (`chart_legend`). Titles and labels are quoted; quotes inside are dropped.
    """

    def q(s: str) -> str:
        return '"' + str(s).replace('"', "'") + '"'

    lines = [
        "```mermaid",
        "xychart-beta",
        f"    title {q(title)}",
        f"    x-axis [{', '.join(q(x) for x in labels)}]",
        f"    y-axis {q(y_label)}",
    ]
    for name, values in series.items():
        shape = "bar" if name == bar else "line"
        lines.append(f"    {shape} [{', '.join(_num(float(v)) for v in values)}]")
    lines.append("```")
    return "\n".join(lines)


def chart_legend(series: Sequence[str], bar: str | None = None) -> str:
    parts = [f"{'bars' if s == bar else f'line {i + 1}'}: {s}" for i, s in enumerate(series)]
    return "_" + "; ".join(parts) + "_"


def delta(now: float | int | None, before: float | int | None) -> str:
    """`+3`, `-1.5`, `±0`, or `n/a` when there is nothing to compare with."""
    if now is None or before is None:
        return "n/a"
    d = float(now) - float(before)
    if abs(d) < 1e-9:
        return "±0"
    text = f"{d:+.4g}" if not float(d).is_integer() else f"{int(d):+d}"
    return text
