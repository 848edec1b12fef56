"""Choosing and opening a forge (DESIGN §4.7 `--forge github|local`)."""

from __future__ import annotations

import os

from aiops.gitops.forge import Forge


def default_forge_name() -> str:
    return "github" if os.environ.get("GITHUB_REPOSITORY") else "local"


def open_forge(name: str | None, *, repo: str = ".", actor: str | None = None) -> Forge:
    """The local forge over `repo`, or the GitHub forge from the environment."""
    name = name or default_forge_name()
    if name == "local":
        from aiops.gitops.local import LocalForge

        return LocalForge(repo, actor=actor)
    from aiops.gitops.github_forge import GitHubForge

    forge: Forge = GitHubForge.from_env()
    return forge
