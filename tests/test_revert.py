"""Reverting one merged change keeps later changes to the same file (like `git revert -m 1`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from aiops.errors import InputError
from aiops.gitops.local import LocalForge
from aiops.gitops.revert import revert_texts, undo_change

BEFORE = "replicaCount: 2\nresources:\n  requests:\n    cpu: 250m  # tuned\n    memory: 256Mi\n"
AFTER = BEFORE.replace("cpu: 250m", "cpu: 130m").replace("memory: 256Mi", "memory: 156Mi")


def test_undo_on_an_unchanged_file_is_the_old_text() -> None:
    assert undo_change(AFTER, before=BEFORE, after=AFTER) == BEFORE


def test_undo_keeps_a_later_change_on_other_lines() -> None:
    now = AFTER.replace("replicaCount: 2", "replicaCount: 3")
    assert undo_change(now, before=BEFORE, after=AFTER) == BEFORE.replace(
        "replicaCount: 2", "replicaCount: 3"
    )


def test_undo_keeps_lines_added_later_elsewhere() -> None:
    now = AFTER + "podAnnotations: {}\n"
    assert undo_change(now, before=BEFORE, after=AFTER) == BEFORE + "podAnnotations: {}\n"


def test_overlapping_later_edits_are_a_conflict_not_a_guess() -> None:
    now = AFTER.replace("cpu: 130m", "cpu: 180m")
    assert undo_change(now, before=BEFORE, after=AFTER) is None
    with pytest.raises(InputError, match="changed again after #4 merged"):
        revert_texts(4, {"v.yaml": BEFORE}, {"v.yaml": AFTER}, {"v.yaml": now})


def test_revert_texts_deletes_added_files_and_skips_undone_ones() -> None:
    out = revert_texts(
        4,
        {"new.yaml": None, "v.yaml": BEFORE, "same.yaml": "x\n"},
        {"new.yaml": "a: 1\n", "v.yaml": AFTER, "same.yaml": "y\n"},
        {"new.yaml": "a: 1\n", "v.yaml": AFTER, "same.yaml": "x\n"},
    )
    assert out == {"new.yaml": None, "v.yaml": BEFORE}


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def test_local_forge_revert_of_an_older_pr_keeps_a_later_pr(tmp_path: Path) -> None:
    repo = tmp_path / "ops"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.name", "carol")
    _git(repo, "config", "user.email", "carol@example.com")
    (repo / "values.yaml").write_text(BEFORE)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "initial")
    forge = LocalForge(repo)
    first = forge.propose(branch="aiops/a", title="a", body="", files={"values.yaml": AFTER}, message="a")
    forge.merge(first.number, by="alice")
    later = AFTER.replace("replicaCount: 2", "replicaCount: 3")
    second = forge.propose(branch="aiops/b", title="b", body="", files={"values.yaml": later}, message="b")
    forge.merge(second.number, by="alice")
    undo = forge.revert_files(first.number)
    assert undo == {"values.yaml": BEFORE.replace("replicaCount: 2", "replicaCount: 3")}
