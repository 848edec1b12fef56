"""`aiops audit` over a real git repository with PHR files and merge commits: every KPI of
DESIGN §4.11 with its basis, audit gaps, retention, and zeros (not errors) for an empty history."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from aiops.cli import cli
from aiops.errors import InputError
from aiops.model.phr import PhrRecord
from aiops.phr.render import render_record
from aiops.pipeline.audit import History, audit, compute, read_history
from aiops.settings import Settings

KEYS = {
    "mttd",
    "mttr",
    "approval_latency",
    "compliance",
    "actionable",
    "rollbacks",
    "savings",
    "toil",
    "config_incidents",
}
TARGET = {"cluster": "minikube", "namespace": "todo", "kind": "Deployment", "name": "todo-backend"}


def git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    import os

    full = {**os.environ, **(env or {})}
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=full
    ).stdout.strip()


def t(hhmm: str, day: int = 20) -> str:
    return f"2026-11-{day:02d}T{hhmm}:00Z"


def record(repo: Path, rid: str, stage: str, day: int = 20, **front: Any) -> str:
    rec = PhrRecord(
        id=rid,
        stage=stage,
        created=datetime(2026, 11, day, 12, 0, tzinfo=UTC),
        front={"title": rid, "target": TARGET, **front},
        sections={},
    )
    path = repo / rec.path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_record(rec))
    return rec.path


def commit_all(repo: Path, message: str, author: str = "carol") -> None:
    git(repo, "add", "-A")
    git(
        repo,
        "commit",
        "-qm",
        message,
        env={"GIT_AUTHOR_NAME": author, "GIT_AUTHOR_EMAIL": f"{author}@example.com"},
    )


def merge_branch(repo: Path, number: int, branch: str, rid: str | None, files: dict[str, str]) -> None:
    git(repo, "checkout", "-q", "-b", branch)
    for path, text in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
    commit_all(repo, f"aiops: {branch}", author="aiops-bot[bot]")
    git(repo, "checkout", "-q", "main")
    trailer = f"\n\nAiops-Id: {rid}" if rid else ""
    git(repo, "merge", "-q", "--no-ff", "-m", f"Merge proposal #{number} from {branch}{trailer}", branch)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    r = tmp_path / "ops"
    r.mkdir()
    git(r, "init", "-q", "-b", "main")
    git(r, "config", "user.name", "carol")
    git(r, "config", "user.email", "carol@example.com")
    (r / "README.md").write_text("ops\n")
    commit_all(r, "initial")
    return r


@pytest.fixture
def history_repo(repo: Path) -> Path:
    # A: medium right-size, merged through a PR, executed with approvals, recovered
    a = "20261120-rightsize-a"
    rec_a = record(
        repo,
        a,
        "recommendation",
        kind="rightsize",
        tier="medium",
        codes=["OOMKilled"],
        failure_started_at=t("10:00"),
        detected_at=t("10:03"),
        recommended_at=t("10:04"),
        cost={"monthly_before": 10.0, "monthly_after": 6.0},
    )
    merge_branch(repo, 1, "aiops/rightsize-a", a, {"manifests/values.yaml": "resources: {}\n"})
    record(
        repo,
        a,
        "execution",
        tier="medium",
        approvals=[{"login": "alice", "team": "org/architects", "at": t("10:24")}],
        approved_at=t("10:24"),
        merged_at=t("10:25"),
        applied_at=t("10:30"),
    )
    record(
        repo, a, "validation", tier="medium", recovered_at=t("10:34"), outcome="success", verdict="improved"
    )
    commit_all(repo, f"aiops: records of {a}\n\nAiops-Id: {a}", author="aiops-bot[bot]")
    # B: critical, merged, recommendation record only, approved after the SLA
    b = "20261121-config-b"
    record(
        repo,
        b,
        "recommendation",
        day=21,
        tier="critical",
        recommended_at=t("09:00", 21),
        approved_at=t("11:30", 21),
    )
    merge_branch(repo, 2, "aiops/config-b", b, {"manifests/config.yaml": "a: 1\n"})
    # C: rolled back within 4 minutes
    c = "20261121-scale-c"
    record(
        repo,
        c,
        "recommendation",
        day=21,
        tier="low",
        recommended_at=t("10:00", 21),
        approved_at=t("10:02", 21),
    )
    merge_branch(repo, 3, "aiops/scale-c", c, {"manifests/values.yaml": "replicaCount: 3\n"})
    record(
        repo,
        c,
        "rollback",
        day=21,
        tier="low",
        rollback_requested_at=t("11:00", 21),
        recovered_at=t("11:04", 21),
        cost={"monthly_before": 5.0, "monthly_after": 1.0},
    )
    commit_all(repo, f"aiops: rollback record\n\nAiops-Id: {c}", author="aiops-bot[bot]")
    # D: a config failure 10 minutes after A was applied to the same target (open, not merged)
    record(
        repo,
        "20261120-config-d",
        "recommendation",
        tier="medium",
        codes=["CreateContainerConfigError"],
        failure_started_at=t("10:40"),
        detected_at=t("10:42"),
        recommended_at=t("10:43"),
    )
    commit_all(repo, "aiops: record of an open proposal", author="aiops-bot[bot]")
    # gaps: a person's direct change to manifests/, an edited record, a merge without records
    (repo / "manifests" / "values.yaml").write_text("resources: {limits: {}}\n")
    commit_all(repo, "hotfix straight on main", author="dave")
    (repo / rec_a).write_text(
        (repo / rec_a).read_text().replace("title: 20261120-rightsize-a", "title: edited")
    )
    commit_all(repo, "fix a typo in a record", author="dave")
    merge_branch(repo, 4, "aiops/ghost", "20261123-ghost", {"manifests/ghost.yaml": "x: 1\n"})
    return repo


def test_every_kpi_with_its_basis_from_git_and_records(history_repo: Path) -> None:
    data = audit(str(history_repo), Settings())
    assert set(data) >= KEYS and data["decisions"] == 4 and data["ref"] == "main"
    for key in KEYS:
        assert data[key]["basis"], key
        assert "all history, records 2026-11-20 → 2026-11-21" in data[key]["basis"] or key == "toil"
    assert data["mttd"]["count"] == 2 and data["mttd"]["median_minutes"] == 2.5
    assert data["mttd"]["within_target"] == 2 and data["mttd"]["basis"].startswith("2 of 4 decisions")
    assert (data["mttr"]["count"], data["mttr"]["median_minutes"]) == (1, 10.0)
    tiers = data["approval_latency"]["tiers"]
    assert (tiers["medium"]["count"], tiers["medium"]["median_minutes"], tiers["medium"]["within_sla"]) == (
        1,
        20.0,
        1,
    )
    assert (tiers["critical"]["median_minutes"], tiers["critical"]["within_sla"]) == (150.0, 0)
    assert tiers["critical"]["sla_minutes"] == 120 and tiers["low"]["median_minutes"] == 2.0
    comp = data["compliance"]
    # A is compliant; B lacks its execution record; the ghost merge (an unknown file: critical) has none
    assert (comp["compliant"], comp["count"], comp["value_percent"]) == (1, 3, 33.3)
    assert comp["non_compliant"][0] == {"id": "20261121-config-b", "missing": ["execution"]}
    assert comp["non_compliant"][1]["missing"] == ["recommendation", "execution"]
    assert "+ 1 merged medium/critical changes without records" in comp["basis"]
    assert data["actionable"]["merged"] == 3 and data["actionable"]["closed"] is None
    assert "unknown without a forge" in data["actionable"]["basis"]
    rb = data["rollbacks"]
    assert (rb["total"], rb["count"], rb["median_minutes"], rb["within_target"]) == (1, 1, 4.0, 1)
    sav = data["savings"]
    assert (sav["monthly_before"], sav["monthly_after"], sav["percent"], sav["count"]) == (10.0, 6.0, 40.0, 1)
    toil = data["toil"]
    assert (toil["aiops_changes"], toil["manual_changes"], toil["count"]) == (4, 1, 5)
    assert data["config_incidents"]["decisions"] == ["20261120-config-d"]
    types = sorted(g["type"] for g in data["gaps"])
    assert types == ["merged-without-records", "no-pr", "record-modified"]
    assert any("20261123-ghost" in g["detail"] for g in data["gaps"])
    assert any(
        g["detail"].startswith("history/prompts/2026/11/20261120-rightsize-a--recommendation.md edited")
        for g in data["gaps"]
    )


def test_since_narrows_the_window(history_repo: Path) -> None:
    data = audit(str(history_repo), Settings(), since=datetime(2026, 11, 21, tzinfo=UTC))
    assert data["decisions"] == 2  # B and C
    assert data["mttd"]["count"] == 0 and data["mttd"]["basis"].startswith("0 of 2 decisions")
    assert "since 2026-11-21" in data["window"]


def test_actionable_counts_closed_proposals_when_states_are_known(history_repo: Path) -> None:
    h = read_history(str(history_repo))
    states = {"20261120-config-d": "closed"}
    data = compute(History(h.ref, h.records, h.commits, h.unreadable, states), Settings())
    act = data["actionable"]
    assert (act["merged"], act["closed"], act["value_percent"]) == (3, 1, 75.0)
    assert "from the forge" in act["basis"]


def test_local_forge_proposal_states_are_read_from_the_repository(repo: Path) -> None:
    from aiops.gitops.local import LocalForge

    forge = LocalForge(repo)
    p = forge.propose(
        branch="aiops/x",
        title="x",
        body="b",
        files={"manifests/x.yaml": "a: 1\n"},
        message="m",
        meta={"key": "x", "id": "20261125-x"},
    )
    forge.close_proposal(p.number, comment="snoozed")
    h = read_history(str(repo))
    assert h.proposal_states == {"20261125-x": "closed"}


def test_empty_history_gives_zeros_with_their_basis(repo: Path, tmp_path: Path) -> None:
    data = audit(str(repo), Settings())
    assert data["decisions"] == 0 and data["gaps"] == []
    for key in ("mttd", "mttr", "rollbacks"):
        assert data[key]["count"] == 0 and data[key]["median_minutes"] == 0.0
    assert data["compliance"]["value_percent"] == 0.0 and data["savings"]["monthly_saved"] == 0.0
    assert (
        data["mttd"]["basis"]
        == "0 of 0 decisions with failure_started_at and detected_at; all history, no records"
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q", "-b", "main")
    data = audit(str(empty), Settings())
    assert data["decisions"] == 0 and data["toil"]["count"] == 0


def test_retention_lists_old_records_and_reports_and_deletes_nothing(history_repo: Path) -> None:
    for day in ("2026-11-20", "2026-11-21"):
        path = history_repo / "history" / "reports" / "health" / f"{day}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("---\nkind: health\n---\n")
    commit_all(history_repo, "aiops: reports", author="aiops-bot[bot]")
    now = datetime(2027, 11, 21, 6, 0, tzinfo=UTC)  # 365 days back: 2026-11-21T06:00
    data = audit(str(history_repo), Settings(), now=now, with_retention=True)
    old = data["retention"]["records"]
    assert "history/reports/health/2026-11-20.md" in old and "history/reports/health/2026-11-21.md" not in old
    prompts = [p for p in old if p.startswith("history/prompts/")]
    assert prompts and all("/20261120-" in p for p in prompts)
    assert all((history_repo / p).exists() for p in old)
    assert data["retention"]["basis"].startswith(f"{len(old)} of 9 records and reports")


def test_cli_prints_every_kpi_with_its_basis(history_repo: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(cli, ["audit", "--repo", str(history_repo)])
    assert res.exit_code == 0, res.output
    for label in (
        "MTTD",
        "MTTR",
        "Approval latency",
        "PHR compliance",
        "Actionable",
        "Rollbacks",
        "Savings",
        "Toil",
        "Config incidents",
    ):
        assert f"\n{label}: " in res.output
    assert res.output.count("  basis: ") == 9
    assert "Audit gaps: 3" in res.output
    res = runner.invoke(cli, ["audit", "--repo", str(history_repo), "-o", "json"])
    assert set(json.loads(res.output)) >= KEYS
    res = runner.invoke(cli, ["audit", "--repo", str(history_repo), "-o", "markdown", "--retention"])
    assert res.output.startswith("# aiops audit: main") and "| PHR compliance | 33.3 % |" in res.output
    res = runner.invoke(cli, ["audit", "--repo", str(history_repo), "--since", "yesterday"])
    assert isinstance(res.exception, InputError) and "--since 'yesterday'" in str(res.exception)


def test_a_persons_merge_is_a_gap_only_when_its_tier_is_medium_or_critical(repo: Path) -> None:
    values = "manifests/environments/minikube/todo-backend.yaml"
    (repo / values).parent.mkdir(parents=True)
    (repo / values).write_text("replicaCount: 1\nresources:\n  requests:\n    memory: 128Mi\n")
    commit_all(repo, "values (bootstrap)")
    merge_branch(
        repo, 1, "dave/scale", None, {values: "replicaCount: 2\nresources:\n  requests:\n    memory: 128Mi\n"}
    )
    data = audit(str(repo), Settings())
    merges = [g for g in data["gaps"] if g["type"] == "merged-without-records"]
    assert merges == [] and data["compliance"]["count"] == 0  # a replica change of +1 is low tier
    merge_branch(
        repo, 2, "dave/memory", None, {values: "replicaCount: 2\nresources:\n  requests:\n    memory: 64Mi\n"}
    )
    data = audit(str(repo), Settings())
    (gap,) = [g for g in data["gaps"] if g["type"] == "merged-without-records"]
    assert "(medium tier)" in gap["detail"]
    assert (data["compliance"]["count"], data["compliance"]["value_percent"]) == (1, 0.0)
    assert data["toil"]["manual_changes"] == 3  # the bootstrap commit and both merges of a person
