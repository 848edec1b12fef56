"""`aiops review` + `aiops merge` with the tier rules, and `aiops rollback`, on the local forge (real git)."""

from __future__ import annotations

from pathlib import Path

import pytest
from opsrepo import BACKEND_VALUES, SEED_ARGS, Run, aiops, git, make_opsrepo, scaled_usage, snapshot_refs

from aiops.gitops.local import LocalForge
from aiops.phr import decode_marker, parse_record

KEY = "rightsize-todo-deployment-todo-backend"
BRANCH = f"aiops/{KEY}"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    r = make_opsrepo(tmp_path)
    run = aiops("propose", "--forge", "local", "--repo", str(r), "--as", "carol", *SEED_ARGS)
    assert run.code == 0 and run.out.startswith("opened #1"), run.out + run.err
    return r


def review(repo: Path, n: int, who: str, verdict: str = "--approve") -> None:
    run = aiops("review", "--pr", str(n), verdict, "--as", who, "--repo", str(repo))
    assert run.code == 0, run.err


def merge(repo: Path, n: int, *extra: str) -> Run:
    return aiops("merge", "--pr", str(n), "--repo", str(repo), *extra)


def test_merge_is_refused_with_exit_4_until_a_member_approves(repo: Path) -> None:
    main = git(repo, "rev-parse", "main")
    run = merge(repo, 1)
    assert run.code == 4
    assert "#1 is not approved (medium tier, pending)" in run.err
    assert "architects" in run.err
    # bob is in security, not architects; carol requested it; the bot never counts; labels are not trusted
    review(repo, 1, "bob")
    review(repo, 1, "carol")
    review(repo, 1, "aiops-bot[bot]")
    LocalForge(repo).set_labels(1, ["risk:trivial"])
    assert merge(repo, 1).code == 4
    assert git(repo, "rev-parse", "main") == main
    assert LocalForge(repo).statuses(git(repo, "rev-parse", BRANCH)) == []  # a refusal writes nothing
    review(repo, 1, "alice")
    run = merge(repo, 1, "--as", "dave")
    assert run.code == 0, run.err
    assert run.out.startswith("merged #1 by dave as ")
    assert "medium: approved by alice (architects)" in run.out
    # a real merge commit on main carrying the proposal; the checked-out work tree moved with it
    parents = git(repo, "rev-list", "--parents", "-n", "1", "main").split()
    assert parents[1] == main and parents[2] == git(repo, "rev-parse", BRANCH)
    msg = git(repo, "log", "-1", "--format=%B", "main")
    assert "Aiops-Id: " in msg and "Merged-by: dave" in msg and "Approved-by: alice (architects)" in msg
    assert "cpu: 130m" in (repo / BACKEND_VALUES).read_text()
    assert list((repo / "history" / "prompts").rglob("*--recommendation.md"))
    merged = LocalForge(repo).get_proposal(1)
    assert merged.state == "merged"
    [status] = LocalForge(repo).statuses(merged.head_sha)
    assert (status.context, status.state, status.creator) == (
        "aiops/approval-gate",
        "success",
        "aiops-bot[bot]",
    )


def test_changes_requested_by_a_member_blocks(repo: Path) -> None:
    review(repo, 1, "alice", "--request-changes")
    run = merge(repo, 1, "-o", "json")
    assert run.code == 4
    data = run.json()
    assert data["merged"] is False and data["decision"]["state"] == "failure"
    assert any("changes requested by alice" in b for b in data["decision"]["blockers"])


def test_the_requester_cannot_approve_their_own_recommendation(tmp_path: Path) -> None:
    r = make_opsrepo(tmp_path)
    assert aiops("propose", "--forge", "local", "--repo", str(r), "--as", "alice", *SEED_ARGS).code == 0
    review(r, 1, "alice")
    run = merge(r, 1)
    assert run.code == 4
    assert "alice's approval does not count: alice requested the recommendation" in run.err


def test_an_approval_goes_stale_when_the_proposal_is_updated(repo: Path, tmp_path: Path) -> None:
    review(repo, 1, "alice")
    run = aiops("propose", "--forge", "local", "--repo", str(repo), *scaled_usage(tmp_path, 1.5))
    assert run.out.startswith("updated #1"), run.out
    refused = merge(repo, 1)
    assert refused.code == 4
    review(repo, 1, "alice")
    assert merge(repo, 1).code == 0
    assert "cpu: 195m" in git(repo, "show", f"main:{BACKEND_VALUES}")


def test_rollback_opens_the_revert_keeping_the_records(repo: Path) -> None:
    original = (repo / BACKEND_VALUES).read_text()
    review(repo, 1, "alice")
    assert merge(repo, 1).code == 0
    rec_path = next((repo / "history" / "prompts").rglob("*--recommendation.md")).relative_to(repo)
    refs = snapshot_refs(repo)
    dry = aiops("rollback", "--pr", "1", "--repo", str(repo), "--dry-run")
    assert dry.code == 0 and dry.out.startswith("would open: revert of #1 (aiops/revert-1) [low]"), dry.out
    assert snapshot_refs(repo) == refs

    run = aiops("rollback", "--pr", "1", "--repo", str(repo), "--as", "carol")
    assert run.code == 0, run.err
    assert run.out.startswith("opened #2: revert of #1 (aiops/revert-1) [low]"), run.out
    assert "pure revert of the manifests/ changes of merged #1 with a rollback record" in run.out
    forge = LocalForge(repo)
    p = forge.get_proposal(2)
    assert p.title == 'Revert "aiops: rightsize todo/todo-backend"'
    assert p.body.startswith("Reverts #1.")
    meta = decode_marker(p.body)
    assert meta is not None and meta["kind"] == "rollback" and meta["revert_of"] == 1
    assert meta["proposed"] == {"revert_of": 1} and meta["tier"] == "low"
    assert meta["id"] == forge.get_proposal(1).id
    # the branch restores the values exactly, keeps the recommendation record, adds the rollback one
    assert git(repo, "show", f"aiops/revert-1:{BACKEND_VALUES}") + "\n" == original
    assert git(repo, "show", f"aiops/revert-1:{rec_path}")
    status = git(repo, "diff", "--name-status", "main...aiops/revert-1").splitlines()
    added = [s.split("\t")[1] for s in status if s.startswith("A\t")]
    assert sorted(s.split("\t")[0] for s in status) == ["A", "M"]
    assert added[0].endswith(f"{meta['id']}--rollback.md")
    record = parse_record(git(repo, "show", f"aiops/revert-1:{added[0]}") + "\n", where=added[0])
    assert record.stage == "rollback" and record.front["revert_of"] == 1
    assert record.front["rollback_requested_at"] and record.front["tier"] == "low"

    again = aiops("rollback", "--pr", "1", "--repo", str(repo))
    assert again.out.startswith("unchanged #2"), again.out
    assert len(forge.find_proposals(state="all")) == 2

    review(repo, 2, "alice")
    assert merge(repo, 2).code == 0
    assert (repo / BACKEND_VALUES).read_text() == original
    assert (repo / rec_path).is_file() and (repo / added[0]).is_file()
    # the rolled-back recommendation is snoozed, not proposed again at once
    rerun = aiops("propose", "--forge", "local", "--repo", str(repo), *SEED_ARGS)
    assert rerun.out.startswith("snoozed #1: rightsize todo/todo-backend — #1 was rolled back"), rerun.out
    assert aiops("rollback", "--pr", "1", "--repo", str(repo)).code == 2


def test_rollback_needs_a_merged_proposal(repo: Path) -> None:
    run = aiops("rollback", "--pr", "1", "--repo", str(repo))
    assert run.code == 2 and "only a merged proposal" in run.err


def test_a_revert_of_a_critical_change_stays_critical(repo: Path) -> None:
    forge = LocalForge(repo)
    values = (repo / BACKEND_VALUES).read_text()
    p = forge.propose(
        branch="aiops/run-as",
        title="run as 1000",
        body="b",
        files={BACKEND_VALUES: values + "\npodSecurityContext:\n  runAsUser: 1000\n"},
        message="m",
        meta={"key": "run-as", "id": "20260101-run-as"},
    )
    review(repo, p.number, "alice")
    refused = merge(repo, p.number)
    assert refused.code == 4 and "critical" in refused.err
    review(repo, p.number, "bob")
    assert merge(repo, p.number).code == 0
    run = aiops("rollback", "--pr", str(p.number), "--repo", str(repo))
    assert run.code == 0 and "[critical]" in run.out.splitlines()[0], run.out
    assert f"#{p.number} was critical; reverts of critical changes stay critical" in run.out
