"""The local forge over real git: proposals, updates, reviews, statuses, comments, merge, revert."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from aiops.errors import InputError, PolicyRefusal
from aiops.gitops.forge import CommitStatus
from aiops.gitops.local import LocalForge

VALUES = "# backend values\nresources:\n  requests:\n    memory: 512Mi  # tuned by aiops\n"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    r = tmp_path / "ops"
    r.mkdir()
    git(r, "init", "-q", "-b", "main")
    git(r, "config", "user.name", "carol")
    git(r, "config", "user.email", "carol@example.com")
    (r / "manifests").mkdir()
    (r / "manifests" / "values.yaml").write_text(VALUES)
    git(r, "add", "-A")
    git(r, "commit", "-qm", "initial")
    return r


def _propose(forge: LocalForge, text: str = VALUES.replace("512Mi", "156Mi")) -> int:
    p = forge.propose(
        branch="aiops/rightsize-todo-deployment-todo-backend",
        title="Right-size todo-backend",
        body="why",
        files={
            "manifests/values.yaml": text,
            "history/prompts/2026/11/20261125-x--recommendation.md": "record\n",
        },
        message="aiops: right-size todo-backend\n\nAiops-Id: 20261125-x\n",
        labels=["risk:medium"],
        meta={"key": "rightsize-todo-deployment-todo-backend", "id": "20261125-x"},
    )
    return p.number


def test_propose_makes_one_commit_on_a_branch_without_touching_the_work_tree(repo: Path) -> None:
    forge = LocalForge(repo)
    n = _propose(forge)
    assert n == 1
    p = forge.get_proposal(1)
    assert p.state == "open" and p.key == "rightsize-todo-deployment-todo-backend"
    assert git(repo, "rev-list", "--count", f"main..{p.branch}") == "1"
    assert "156Mi" in git(repo, "show", f"{p.branch}:manifests/values.yaml")
    assert "# tuned by aiops" in git(repo, "show", f"{p.branch}:manifests/values.yaml")
    assert (repo / "manifests" / "values.yaml").read_text() == VALUES
    assert git(repo, "status", "--porcelain") == ""
    assert "Aiops-Id: 20261125-x" in git(repo, "log", "-1", "--format=%B", p.branch)
    changed = {row[0] for row in forge.changed_files(1)}
    assert changed == {"manifests/values.yaml", "history/prompts/2026/11/20261125-x--recommendation.md"}
    assert [q.number for q in forge.find_proposals(key=p.key)] == [1]
    with pytest.raises(InputError, match="already has open proposal #1"):
        _propose(forge)


def test_update_refuses_over_a_persons_commit(repo: Path) -> None:
    forge = LocalForge(repo)
    n = _propose(forge)
    p = forge.update_proposal(
        n,
        title="t2",
        body="b2",
        files={"manifests/values.yaml": VALUES.replace("512Mi", "180Mi")},
        message="m2",
    )
    assert "180Mi" in git(repo, "show", f"{p.branch}:manifests/values.yaml")
    git(repo, "checkout", "-q", p.branch)
    (repo / "notes.txt").write_text("mine\n")
    git(repo, "add", "notes.txt")
    git(repo, "commit", "-qm", "person edit")
    git(repo, "checkout", "-q", "main")
    with pytest.raises(PolicyRefusal, match="made by a person"):
        forge.update_proposal(n, title="t3", body="b3", files={}, message="m3")


def test_reviews_statuses_comments_and_dashboard_are_idempotent(repo: Path) -> None:
    forge = LocalForge(repo)
    n = _propose(forge)
    head = forge.get_proposal(n).head_sha
    forge.add_review(n, "alice", "approved")
    assert [(r.login, r.state, r.commit_sha) for r in forge.reviews(n)] == [("alice", "APPROVED", head)]
    st = CommitStatus("aiops/approval-gate", "success", "approved by alice")
    forge.set_status(head, st)
    forge.set_status(head, st)
    assert forge.statuses(head) == [
        CommitStatus("aiops/approval-gate", "success", "approved by alice", None, "aiops-bot[bot]")
    ]
    assert forge.upsert_comment(n, "gate", "needs nothing") is True
    assert forge.upsert_comment(n, "gate", "needs nothing") is False
    assert forge.upsert_comment(n, "gate", "changed") is True
    assert len(forge.comments(n)) == 1
    assert forge.upsert_dashboard("reports", "all good") is True
    assert forge.upsert_dashboard("reports", "all good") is False
    assert forge.upsert_dashboard("proposals", "1 open") is True
    dash = forge.dashboard() or ""
    assert "all good" in dash and "1 open" in dash and dash.count("<!-- aiops:dashboard -->") == 1


def test_merge_makes_a_merge_commit_and_revert_keeps_records(repo: Path) -> None:
    forge = LocalForge(repo)
    n = _propose(forge)
    p = forge.merge(n, by="alice")
    assert p.state == "merged" and p.merge_sha
    parents = git(repo, "log", "-1", "--format=%P", "main").split()
    assert len(parents) == 2
    assert "156Mi" in (repo / "manifests" / "values.yaml").read_text()  # checked-out main fast-forwarded
    assert "Merged-by: alice" in git(repo, "log", "-1", "--format=%B", "main")
    undo = forge.revert_files(n)
    assert undo == {"manifests/values.yaml": VALUES}
    with pytest.raises(InputError, match="not open"):
        forge.merge(n, by="alice")


def test_bad_repo_is_exit_2(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a git repository"):
        LocalForge(tmp_path)
    with pytest.raises(InputError, match="no such directory"):
        LocalForge(tmp_path / "missing")
