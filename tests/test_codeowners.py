"""`aiops codeowners`: CODEOWNERS generated from the policy, `--check` fails (exit 1, diff) when stale."""

from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest

from aiops.cli import main
from aiops.policy.codeowners import render
from aiops.settings import load_settings_text

ROOT = Path(__file__).resolve().parent.parent
POLICY = """\
approvals:
  teams: {architects: acme/platform-architects, security: acme/sec}
  tiers:
    low:      {require: [architects], sla_minutes: 5}
    medium:   {require: [architects], sla_minutes: 30}
    critical: {require: [architects, security], distinct_people: 2, sla_minutes: 120}
apply:
  releases:
    api: {chart: manifests/charts/api, namespace: app, values: [manifests/env/prod/api.yaml]}
"""


def owners_of(codeowners: str, path: str) -> list[str]:
    """GitHub's rule for the patterns we emit: the last matching line wins."""
    found: list[str] = []
    for line in codeowners.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        pattern, *owners = line.split()
        if pattern == "*":
            hit = True
        elif pattern.endswith("/"):
            hit = ("/" + path).startswith(pattern)
        else:
            hit = fnmatch.fnmatchcase("/" + path, pattern)
        if hit:
            found = owners
    return found


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(args)
    out = capsys.readouterr()
    return int(exc.value.code or 0), out.out, out.err


def test_owners_follow_the_tiers() -> None:
    text = render(load_settings_text(POLICY))
    both = ["@acme/platform-architects", "@acme/sec"]
    assert owners_of(text, "manifests/env/prod/api.yaml") == ["@acme/platform-architects"]
    assert owners_of(text, "manifests/charts/api/values.yaml") == ["@acme/platform-architects"]
    for critical in (
        ".github/workflows/gate.yml",
        ".github/aiops.yaml",
        "aiops/policy/approval.py",
        "history/prompts/2026/11/x--recommendation.md",
        "CODEOWNERS",
        "manifests/charts/api/templates/rbac.yaml",
        "manifests/secret.yaml",
        "README.md",
    ):
        assert owners_of(text, critical) == both, critical
    assert text == render(load_settings_text(POLICY))  # deterministic


def test_repository_codeowners_is_current(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["codeowners", "--check", "--repo", str(ROOT)], capsys)
    assert code == 0, out


def test_write_then_check_then_stale(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "aiops.yaml").write_text(POLICY)
    code, _, err = run(["codeowners", "--check", "--repo", str(tmp_path)], capsys)
    assert code == 1 and "stale" in err
    assert not (tmp_path / "CODEOWNERS").exists()
    code, out, _ = run(["codeowners", "--repo", str(tmp_path)], capsys)
    assert code == 0 and "wrote" in out
    assert (tmp_path / "CODEOWNERS").read_text() == render(load_settings_text(POLICY))
    code, out, _ = run(["codeowners", "--repo", str(tmp_path)], capsys)
    assert code == 0 and "unchanged" in out
    code, _, _ = run(["codeowners", "--check", "--repo", str(tmp_path)], capsys)
    assert code == 0
    # the policy changes (a new security team): the file is stale and the diff says how
    (tmp_path / ".github" / "aiops.yaml").write_text(POLICY.replace("acme/sec", "acme/security-team"))
    code, out, err = run(["codeowners", "--check", "--repo", str(tmp_path)], capsys)
    assert code == 1
    assert "-/.github/ @acme/platform-architects @acme/sec\n" in out
    assert "+/.github/ @acme/platform-architects @acme/security-team\n" in out
    assert "aiops codeowners" in err


def test_a_team_that_is_not_a_slug_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "aiops.yaml").write_text(POLICY.replace("acme/sec", "sec team"))
    code, _, err = run(["codeowners", "--repo", str(tmp_path)], capsys)
    assert code == 2 and "approvals.teams.security" in err
    assert not (tmp_path / "CODEOWNERS").exists()
