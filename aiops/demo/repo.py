"""The demo repository's starting files (shipped in the wheel) and an empty git repository for them.

`demo_files()` reads the package data under `aiops/data/gitops/` — at build time the repository's own
`manifests/` and `.github/aiops.yaml` (symlinks in the source tree, followed by setuptools, so no
copy is kept) — and returns them as {repository path: text}. `init_repository(path)` writes the
files of an empty non-bare git repository whose branch is `main` (the layout `git init` makes:
HEAD, config, objects/, refs/); commits are then made with the real git through
`aiops.gitops.git.Git`. It runs no program and writes nowhere else.
"""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data" / "gitops"
# package data path → repository path
_MAP = {"manifests": "manifests", "aiops.yaml": ".github/aiops.yaml", "history": "history"}


def demo_files() -> dict[str, str]:
    """The demo repository's files: manifests/, .github/aiops.yaml (and history/ when shipped)."""
    out: dict[str, str] = {}
    for src, dest in _MAP.items():
        root = DATA / src
        if root.is_file():
            out[dest] = root.read_text(encoding="utf-8")
        elif root.is_dir():
            for f in sorted(root.rglob("*")):
                if f.is_file() and "__pycache__" not in f.parts:
                    out[f"{dest}/{f.relative_to(root).as_posix()}"] = f.read_text(encoding="utf-8")
    return out


def init_repository(path: Path) -> Path:
    """An empty git repository at `path` on branch `main` (refuses a directory that has one)."""
    git_dir = path / ".git"
    if git_dir.exists():
        raise FileExistsError(f"{path} already holds a git repository")
    for sub in ("objects/info", "objects/pack", "refs/heads", "refs/tags", "info"):
        (git_dir / sub).mkdir(parents=True, exist_ok=True)
    (git_dir / "HEAD").write_text("ref: refs/heads/main\n", encoding="utf-8")
    (git_dir / "config").write_text(
        "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n"
        "\tlogallrefupdates = true\n",
        encoding="utf-8",
    )
    (git_dir / "description").write_text("aiops demo repository (simulated cluster)\n", encoding="utf-8")
    return path
