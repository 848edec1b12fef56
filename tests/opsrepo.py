"""Test helper: a temporary ops repository (real git) holding the project's own `manifests/`,
`.github/aiops.yaml` and an empty `history/`, as the GitOps repo aiops proposes to."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "recommend"
SEED_ARGS = (
    "--snapshot",
    str(FIXTURES / "seed-snapshot.json"),
    "--usage",
    f"cpu={FIXTURES / 'seed-cpu.json'}",
    "--usage",
    f"memory={FIXTURES / 'seed-memory.json'}",
)
BACKEND_VALUES = "manifests/environments/minikube/todo-backend.yaml"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def make_opsrepo(where: Path, *, user: str = "carol", policy: str | None = None) -> Path:
    """`where/ops`: main with one commit (manifests/, .github/aiops.yaml, history/.gitkeep)."""
    repo = where / "ops"
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.name", user)
    git(repo, "config", "user.email", f"{user}@example.com")
    git(repo, "config", "commit.gpgsign", "false")
    shutil.copytree(ROOT / "manifests", repo / "manifests")
    (repo / ".github").mkdir()
    text = policy if policy is not None else (ROOT / ".github" / "aiops.yaml").read_text(encoding="utf-8")
    (repo / ".github" / "aiops.yaml").write_text(text, encoding="utf-8")
    (repo / "history").mkdir()
    (repo / "history" / ".gitkeep").write_text("")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "ops repository")
    return repo


def snapshot_refs(repo: Path) -> dict[str, str]:
    """Every ref and its sha (branches, proposal metadata, statuses): equal before/after = no writes."""
    out = git(repo, "for-each-ref", "--format=%(refname) %(objectname)")
    pairs = (line.split(" ", 1) for line in out.splitlines())
    return {ref: sha for ref, sha in pairs}
