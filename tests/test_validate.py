"""`aiops validate` and the hold's life cycle: a regression found while monitoring takes the failure
path; a merged revert lifts the hold; records as a PR (`apply.records: pr`)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import factories as f
import pytest
from fakeapi import FakeApiServer
from opsrepo import ROOT, aiops, git, make_opsrepo
from test_apply import (
    NOW,
    REAL_HELM,
    REL,
    approve_gate_merge,
    fake_helm_env,
    helm_calls,
    opts,
    propose_scale,
    records,
    release_objects,
    runtime,
    seed_cluster,
)

from aiops.gitops.git import Git
from aiops.gitops.local import LocalForge
from aiops.pipeline.apply import holds, run_apply
from aiops.pipeline.gate import LocalHost, run_gate
from aiops.pipeline.merge import merge, policy_of
from aiops.pipeline.validate import run_validate

pytestmark = pytest.mark.skipif(
    not REAL_HELM.exists(), reason="tools/bin/helm missing (scripts/install-tools)"
)


@pytest.fixture
def cluster(fake_api: FakeApiServer, tmp_path: Path) -> tuple[FakeApiServer, str]:
    return seed_cluster(fake_api, tmp_path)


@pytest.fixture
def helm_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return fake_helm_env(tmp_path, monkeypatch)


def records_all(repo: Path) -> dict[str, Any]:
    from aiops.phr import parse_record

    g = Git(repo)
    return {
        p: parse_record(g.show("refs/heads/main", p) or "", where=p)
        for p in g.ls_files("refs/heads/main", "history/prompts")
    }


def crash_pods(fake: FakeApiServer) -> None:
    for pod in fake.objects[("v1", "pods")]:
        for cs in pod["status"]["containerStatuses"]:
            cs["restartCount"] = 4
            cs["lastState"] = {
                "terminated": {
                    "reason": "Error",
                    "exitCode": 1,
                    "startedAt": f.ts(-3),
                    "finishedAt": f.ts(-2),
                }
            }


def test_regression_found_by_validate_rolls_back_holds_and_reverts(
    tmp_path: Path, cluster: tuple[FakeApiServer, str], helm_log: Path
) -> None:
    fake, kc = cluster
    repo = make_opsrepo(tmp_path)
    forge = LocalForge(repo)
    n = propose_scale(forge, 3)
    approve_gate_merge(forge, n)
    assert [r.outcome for r in run_apply(forge, Git(repo), opts(repo, kc), runtime()).releases] == ["success"]
    crash_pods(fake)  # twenty minutes later the pods crash

    report = run_validate(forge, Git(repo), opts(repo, kc), runtime(NOW + timedelta(minutes=20)))

    [v] = report.validations
    assert v.state == "regressed" and v.verdict == "regressed"
    assert any("restart" in r for r in v.reasons)
    assert [c[0] for c in helm_calls(helm_log)] == ["upgrade", "history", "rollback"]
    assert list(holds(forge)) == [REL]
    [revert] = [p for p in forge.find_proposals(state="open") if p.meta.get("revert_of") == n]
    [(_, vrec)] = records(repo, "validation").items()
    assert vrec.front["verdict"] == "regressed" and vrec.front["outcome"] == "rolled-back"
    assert vrec.front["recovered_at"] is None
    assert report.regressed
    # a later validate run has nothing left to do for it
    assert (
        run_validate(forge, Git(repo), opts(repo, kc), runtime(NOW + timedelta(minutes=30))).validations == []
    )

    # the revert merges through the gate: the next apply lifts the hold and applies main
    forge.add_review(revert.number, "alice", "APPROVED")
    run_gate(forge, LocalHost(forge, policy_of(forge)), revert.number)
    merge(forge, revert.number, by="alice")
    fake.objects[("v1", "pods")] = []
    fake.load([o for o in release_objects() if o["kind"] == "Pod"])
    after = run_apply(forge, Git(repo), opts(repo, kc), runtime(NOW + timedelta(minutes=40)))
    assert any("hold on todo-backend lifted: the revert of" in note for note in after.notes)
    assert holds(forge) == {}
    assert after.prs == [revert.number] and [r.outcome for r in after.releases] == ["success"]
    assert "replicaCount: 2" in (forge.read_file("manifests/environments/minikube/todo-backend.yaml") or "")
    # the revert's apply closes the decision: a recovery record (stage validation) with recovered_at,
    # next to the regressed validation record, which is never edited
    recovery = [
        (p, r)
        for p, r in records_all(repo).items()
        if r.id == vrec.id and r.stage == "validation" and r.front.get("revert_of") == n
    ]
    assert [p.rsplit("/", 1)[-1] for p, _ in recovery] == [f"{vrec.id}--validation-revert-{revert.number}.md"]
    assert recovery[0][1].front["recovered_at"] == "2026-11-25T11:40:00Z"
    assert recovery[0][1].front["outcome"] == "rolled-back"
    assert records(repo, "execution") and len(records(repo, "execution")) == 1


def test_records_as_a_pr_when_policy_says_pr(
    tmp_path: Path, cluster: tuple[FakeApiServer, str], helm_log: Path
) -> None:
    _, kc = cluster
    policy = (
        (ROOT / ".github" / "aiops.yaml")
        .read_text(encoding="utf-8")
        .replace("records: commit", "records: pr")
    )
    repo = make_opsrepo(tmp_path, policy=policy)
    forge = LocalForge(repo)
    n = propose_scale(forge, 3)
    merge_sha = approve_gate_merge(forge, n)

    report = run_apply(forge, Git(repo), opts(repo, kc), runtime())

    assert report.records_pushed is not None and report.records_pushed.startswith("records PR #")
    assert git(repo, "rev-parse", "main") == merge_sha  # main untouched
    [rp] = [p for p in forge.find_proposals(state="open") if p.meta.get("kind") == "records"]
    [(path, _, _, text)] = forge.changed_files(rp.number)
    assert path.endswith("--execution.md") and "outcome: success" in (text or "")
    # the gate makes it trivial (new records by the bot) and the App merges it
    gate = run_gate(forge, LocalHost(forge, policy_of(forge)), rp.number)
    assert gate.decision is not None and gate.decision.tier == "trivial" and gate.merged_sha
    # validate finds the execution record on main and validates it after the window
    done = run_validate(forge, Git(repo), opts(repo, kc), runtime(NOW + timedelta(minutes=61)))
    assert [v.state for v in done.validations] == ["validated"]
    assert any(p.meta.get("kind") == "records" for p in forge.find_proposals(state="open"))


def test_validate_cli_with_nothing_to_validate(tmp_path: Path) -> None:
    repo = make_opsrepo(tmp_path)
    run = aiops("validate", "--repo", str(repo), "--forge", "local")
    assert run.code == 0, run.err
    assert "nothing to validate" in run.out
