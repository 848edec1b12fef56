"""The demo repository's starting files (shipped in the wheel) and an empty git repository for them.

`demo_files()` reads the package data under `aiops/data/gitops/` — at build time the repository's own
`manifests/` and `.github/aiops.yaml` (symlinks in the source tree, followed by setuptools, so no
copy is kept) — and returns them as {repository path: text}. The pipeline makes the repository
with the real git (`aiops.gitops.git.init_repository`). This module runs no program and writes
nothing.
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
