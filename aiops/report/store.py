"""Where reports and runbooks live, reading earlier reports, and writing them append-only.

Paths (DESIGN §4.5): `history/reports/<kind>/<date>.md`, `history/runbooks/<code>.md`.

Append-only rule for reports, decided here and documented in the README:
- a report for a date that has no file yet is written as `<date>.md`;
- re-running the same date with byte-identical content is a no-op (status `unchanged`);
- re-running the same date with different content never overwrites: it writes the next free
  `<date>-2.md`, `<date>-3.md`, ... (status `added`), unless one of them already holds the same
  text (`unchanged`). Readers take the last of a date as that date's report.
Runbooks are generated documentation: rewritten in place, only when their text changed.

Readers are anything with `list_files(prefix)` and `read_file(path)` (the forges have both, so
no checkout is needed in-cluster); `DirReader` reads a directory. This adapter imports no other
adapter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from aiops.errors import InputError
from aiops.report.document import parse_front

REPORTS_DIR = "history/reports"
RUNBOOKS_DIR = "history/runbooks"
PROMPTS_DIR = "history/prompts"
_NAME_RE = re.compile(r"^(?P<date>\d{4}-\d{2}-\d{2})(?:-(?P<n>\d+))?\.md$")


class Reader(Protocol):
    def list_files(self, prefix: str, ref: str | None = None) -> list[str]: ...

    def read_file(self, path: str, ref: str | None = None) -> str | None: ...


@dataclass(frozen=True)
class DirReader:
    """Reads repository paths from a directory (a checkout, or the in-cluster output volume)."""

    root: Path

    def list_files(self, prefix: str, ref: str | None = None) -> list[str]:
        base = self.root / prefix
        if not base.is_dir():
            return []
        return sorted(str(p.relative_to(self.root)) for p in base.rglob("*") if p.is_file())

    def read_file(self, path: str, ref: str | None = None) -> str | None:
        f = self.root / path
        if not f.is_file():
            return None
        return f.read_text(encoding="utf-8")


def report_path(kind: str, date: str, n: int = 1) -> str:
    suffix = "" if n <= 1 else f"-{n}"
    return f"{REPORTS_DIR}/{kind}/{date}{suffix}.md"


def runbook_path(code: str) -> str:
    return f"{RUNBOOKS_DIR}/{code}.md"


def _entries(reader: Reader, kind: str) -> list[tuple[str, int, str]]:
    out: list[tuple[str, int, str]] = []
    for path in reader.list_files(f"{REPORTS_DIR}/{kind}"):
        m = _NAME_RE.match(path.rsplit("/", 1)[-1])
        if m and path.startswith(f"{REPORTS_DIR}/{kind}/"):
            out.append((m.group("date"), int(m.group("n") or 1), path))
    return sorted(out)


def previous_reports(reader: Reader | None, kind: str, before: str, limit: int = 30) -> list[dict[str, Any]]:
    """Front matter of the newest `limit` reports dated before `before`, oldest first (one per date:
    the last written). Files without readable front matter are skipped."""
    if reader is None:
        return []
    latest: dict[str, str] = {}
    for date, _, path in _entries(reader, kind):
        if date < before:
            latest[date] = path
    out: list[dict[str, Any]] = []
    for date in sorted(latest)[-limit:]:
        text = reader.read_file(latest[date])
        if text is None:
            continue
        try:
            front = parse_front(text, where=latest[date])
        except InputError:
            continue
        front.setdefault("date", date)
        out.append(front)
    return out


def week_before(reports: Sequence[Mapping[str, Any]], date: str) -> Mapping[str, Any] | None:
    """The report to compare with "last week": the newest one at least 7 days older, else the newest."""
    from datetime import date as Date
    from datetime import timedelta

    if not reports:
        return None
    limit = (Date.fromisoformat(date) - timedelta(days=7)).isoformat()
    older = [r for r in reports if str(r.get("date")) <= limit]
    return older[-1] if older else reports[-1]


@dataclass(frozen=True)
class Written:
    path: str
    status: str  # written | added | unchanged | rewritten

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "status": self.status}


def plan_report_write(reader: Reader, kind: str, date: str, text: str) -> Written:
    """Which path a new report text goes to under the append-only rule (nothing is written)."""
    same_date = [(n, path) for d, n, path in _entries(reader, kind) if d == date]
    for _, path in same_date:
        if reader.read_file(path) == text:
            return Written(path, "unchanged")
    if not same_date:
        return Written(report_path(kind, date), "written")
    return Written(report_path(kind, date, max(n for n, _ in same_date) + 1), "added")


def write_report(root: Path, kind: str, date: str, text: str) -> Written:
    """Write a report under `root` (a checkout or an output directory), never overwriting."""
    plan = plan_report_write(DirReader(root), kind, date, text)
    if plan.status != "unchanged":
        target = root / plan.path
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("x", encoding="utf-8", newline="") as fh:  # "x": never overwrite
            fh.write(text)
    return plan


def write_runbook(root: Path, code: str, text: str) -> Written:
    """Rewrite a runbook in place only when its text changed (byte-identical otherwise)."""
    path = runbook_path(code)
    target = root / path
    if target.is_file() and target.read_bytes() == text.encode("utf-8"):
        return Written(path, "unchanged")
    status = "rewritten" if target.exists() else "written"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(text.encode("utf-8"))
    return Written(path, status)


def read_records(reader: Reader | None) -> list[tuple[str, str]]:
    """(path, text) of every PHR file under history/prompts/."""
    if reader is None:
        return []
    out: list[tuple[str, str]] = []
    for path in reader.list_files(PROMPTS_DIR):
        if path.endswith(".md"):
            text = reader.read_file(path)
            if text is not None:
                out.append((path, text))
    return out
