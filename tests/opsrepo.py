"""Test helper: a temporary ops repository (real git) holding the project's own `manifests/`,
`.github/aiops.yaml` and an empty `history/`, as the GitOps repo aiops proposes to."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from aiops.cli import cli
from aiops.errors import AiopsError

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


BACKEND_VALUES = "manifests/environments/minikube/todo-backend.yaml"


def sample_backend_values() -> str:
    """The backend's values as the bundled sample cluster runs them (git and cluster agree):
    requests 100m/128Mi, limits 500m/256Mi — the limit its pod is OOM-killed at."""
    text = (ROOT / BACKEND_VALUES).read_text(encoding="utf-8")
    old = "    cpu: 250m\n    memory: 256Mi\n  limits:\n    memory: 512Mi"
    assert old in text, "the shipped backend values changed: update sample_backend_values()"
    return text.replace(old, "    cpu: 100m\n    memory: 128Mi\n  limits:\n    cpu: 500m\n    memory: 256Mi")


def make_opsrepo(
    where: Path,
    *,
    user: str = "carol",
    policy: str | None = None,
    files: dict[str, str] | None = None,
) -> Path:
    """`where/ops`: main with one commit (manifests/, .github/aiops.yaml, history/.gitkeep);
    `files` replaces the text of some of them (e.g. values that match a cluster fixture)."""
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
    for path, text in (files or {}).items():
        (repo / path).write_text(text, encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "ops repository")
    return repo


def snapshot_refs(repo: Path) -> dict[str, str]:
    """Every ref and its sha (branches, proposal metadata, statuses): equal before/after = no writes."""
    out = git(repo, "for-each-ref", "--format=%(refname) %(objectname)")
    refs: dict[str, str] = {}
    for line in out.splitlines():
        ref, sha = line.split(" ", 1)
        refs[ref] = sha
    return refs


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def aiops(*args: str) -> Run:
    """Run the CLI in-process; an `AiopsError` becomes its exit code and one stderr line, as `main` does."""
    result = CliRunner().invoke(cli, list(args), catch_exceptions=True)
    exc = result.exception
    if isinstance(exc, AiopsError):
        return Run(exc.exit_code, result.stdout, result.stderr + exc.one_line())
    if exc is not None and not isinstance(exc, SystemExit):
        raise exc
    return Run(result.exit_code, result.stdout, result.stderr)


def scaled_usage(where: Path, factor: float) -> tuple[str, ...]:
    """The seed usage with every sample multiplied by `factor` (a different recommendation)."""
    args: list[str] = ["--snapshot", str(FIXTURES / "seed-snapshot.json")]
    for kind in ("cpu", "memory"):
        doc = json.loads((FIXTURES / f"seed-{kind}.json").read_text())
        for series in doc["data"]["result"]:
            series["values"] = [[t, repr(float(v) * factor)] for t, v in series["values"]]
        path = where / f"{kind}-x{factor}.json"
        path.write_text(json.dumps(doc))
        args += ["--usage", f"{kind}={path}"]
    return tuple(args)
