"""Runbooks: one per failure code, generated from history/prompts/, byte-identical when nothing changed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from aiops.cli import cli
from aiops.model.findings import CODES
from aiops.model.phr import PhrRecord
from aiops.phr.render import render_record
from aiops.pipeline.reports import run_runbooks
from aiops.report.runbooks import CATALOG

CREATED = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def add_record(root: Path, rid: str, stage: str, **front: Any) -> str:
    rec = PhrRecord(
        id=rid,
        stage=stage,
        created=CREATED,
        front={"title": f"Decision {rid}", **front},
        sections={"Recommendation": "x"} if stage == "recommendation" else {},
    )
    path = root / rec.path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_record(rec))
    return rec.path


def test_one_runbook_per_code_with_every_section(tmp_path: Path) -> None:
    out = run_runbooks(str(tmp_path))
    assert [w.path for w in out.written] == [f"history/runbooks/{c}.md" for c in CODES]
    assert set(CATALOG) == set(CODES)
    for code in CODES:
        text = (tmp_path / f"history/runbooks/{code}.md").read_text()
        heads = [ln for ln in text.splitlines() if ln.startswith("## ")]
        assert heads == [
            "## Symptoms",
            "## How to confirm",
            "## Remediation",
            "## Expected recovery time",
            "## Prevention",
            "## Past occurrences",
        ], code
        assert "```sh\nkubectl " in text and f'select(.code == "{code}")' in text
        assert "None recorded" in text


def test_past_decisions_are_linked_with_their_outcome_and_rerun_is_byte_identical(tmp_path: Path) -> None:
    add_record(
        tmp_path,
        "20261120-rightsize-a",
        "recommendation",
        codes=["OOMKilled"],
        pr={"number": 7, "url": "https://github.com/o/r/pull/7"},
    )
    add_record(tmp_path, "20261120-rightsize-a", "validation", codes=["OOMKilled"], outcome="success")
    add_record(tmp_path, "20261121-rightsize-b", "recommendation", codes=["OOMKilled", "CrashLoopBackOff"])
    add_record(tmp_path, "20261121-rightsize-b", "rollback", codes=["OOMKilled"])
    add_record(tmp_path, "20261122-config-c", "recommendation", codes=["CreateContainerConfigError"])
    first = run_runbooks(str(tmp_path))
    assert first.records == 5
    text = (tmp_path / "history/runbooks/OOMKilled.md").read_text()
    assert "2 decision(s); 1/2 concluded decisions succeeded." in text
    assert (
        "| Decision 20261120-rightsize-a | `success` | [#7](https://github.com/o/r/pull/7) | "
        "[20261120-rightsize-a](../prompts/2026/11/20261120-rightsize-a--validation.md) |"
    ) in text
    assert (
        "| `rolled-back` | — | [20261121-rightsize-b](../prompts/2026/11/20261121-rightsize-b--rollback.md) |"
        in text
    )
    crash = (tmp_path / "history/runbooks/CrashLoopBackOff.md").read_text()
    assert "20261121-rightsize-b" in crash  # codes of any stage count
    config = (tmp_path / "history/runbooks/CreateContainerConfigError.md").read_text()
    assert "no decision has concluded yet" in config and "`pending`" in config

    before = {p: p.read_bytes() for p in (tmp_path / "history/runbooks").iterdir()}
    mtimes = {p: p.stat().st_mtime_ns for p in before}
    again = run_runbooks(str(tmp_path))
    assert {w.status for w in again.written} == {"unchanged"}
    assert {p: p.read_bytes() for p in before} == before
    assert {p: p.stat().st_mtime_ns for p in before} == mtimes  # not even rewritten

    add_record(
        tmp_path, "20261122-config-c", "validation", codes=["CreateContainerConfigError"], outcome="failed"
    )
    third = run_runbooks(str(tmp_path))
    changed = [w.path for w in third.written if w.status != "unchanged"]
    assert changed == ["history/runbooks/CreateContainerConfigError.md"]
    assert third.written[CODES.index("CreateContainerConfigError")].status == "rewritten"


def test_unknown_code_in_history_gets_a_page_and_bad_records_are_notes(tmp_path: Path) -> None:
    add_record(tmp_path, "20261120-x", "recommendation", codes=["SomethingNew"])
    bad = tmp_path / "history/prompts/2026/11/broken--recommendation.md"
    bad.write_text("no front matter\n")
    out = run_runbooks(str(tmp_path))
    assert out.written[-1].path == "history/runbooks/SomethingNew.md"
    assert "No catalog entry" in (tmp_path / "history/runbooks/SomethingNew.md").read_text()
    assert any("broken--recommendation.md" in n for n in out.notes)


def test_cli_check_mode_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(cli, ["runbooks", "--repo", str(tmp_path), "--check"])
    assert res.exit_code == 1 and "21 stale" in res.output
    assert not (tmp_path / "history").exists()  # check writes nothing
    res = runner.invoke(cli, ["runbooks", "--repo", str(tmp_path)])
    assert res.exit_code == 0 and "21 written" in res.output
    res = runner.invoke(cli, ["runbooks", "--repo", str(tmp_path), "--check", "-o", "json"])
    assert res.exit_code == 0 and '"unchanged"' in res.output
