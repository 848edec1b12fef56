"""GitHub credentials from the environment (DESIGN §4.7, §4.10): the aiops App or `GITHUB_TOKEN`.

`AIOPS_APP_ID` + `AIOPS_APP_PRIVATE_KEY` (PEM text, or a path to the PEM file) → an installation
token for the repository through PyGithub's `Auth.AppAuth` (refreshed by PyGithub when it expires),
and the App's bot login `<slug>[bot]`; otherwise `GITHUB_TOKEN`. Tokens are never printed or put in
an error message. `github` is imported lazily (only `aiops/gitops/github*.py` may import it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiops.errors import InputError, UnreachableError

DEFAULT_BOT_LOGIN = "aiops-bot[bot]"
ACTIONS_BOT_LOGIN = "github-actions[bot]"


@dataclass(frozen=True)
class Credentials:
    auth: Any  # a github.Auth.Auth
    bot_login: str
    source: str  # "app" | "GITHUB_TOKEN"


def _private_key(value: str) -> str:
    if "-----BEGIN" in value:
        return value.replace("\\n", "\n")
    path = Path(value).expanduser()
    if path.is_file():
        return path.read_text(encoding="utf-8")
    raise InputError("AIOPS_APP_PRIVATE_KEY: neither a PEM key nor a readable file")


def credentials_from_env(repository: str, api_url: str, env: Mapping[str, str] | None = None) -> Credentials:
    """The App installation auth when the App variables are set, else `GITHUB_TOKEN`."""
    from github import Auth, GithubException, GithubIntegration

    env = os.environ if env is None else env
    app_id = env.get("AIOPS_APP_ID", "").strip()
    key = env.get("AIOPS_APP_PRIVATE_KEY", "").strip()
    if app_id or key:
        if not app_id:
            raise InputError("AIOPS_APP_ID is not set (AIOPS_APP_PRIVATE_KEY is)")
        if not key:
            raise InputError("AIOPS_APP_PRIVATE_KEY is not set (AIOPS_APP_ID is)")
        app_auth = Auth.AppAuth(app_id, _private_key(key))
        owner, _, name = repository.partition("/")
        integration = GithubIntegration(auth=app_auth, base_url=api_url)
        try:
            installation = integration.get_repo_installation(owner, name)
            slug = integration.get_app().slug
        except GithubException as exc:
            raise InputError(
                f"GitHub App {app_id}: {exc.status} on GET /repos/{repository}/installation or GET /app"
                " (is the App installed on the repository, is AIOPS_APP_PRIVATE_KEY its key?)"
            ) from exc
        except OSError as exc:
            raise UnreachableError(
                f"GitHub {api_url}: unreachable while authenticating the App: {exc}"
            ) from exc
        return Credentials(app_auth.get_installation_auth(installation.id), f"{slug}[bot]", "app")
    token = env.get("GITHUB_TOKEN", "").strip()
    if not token:
        raise InputError(
            "GITHUB_TOKEN is not set (nor AIOPS_APP_ID + AIOPS_APP_PRIVATE_KEY)",
            hint="in a workflow pass `env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}` or the App's variables",
        )
    login = env.get("AIOPS_BOT_LOGIN", "").strip() or DEFAULT_BOT_LOGIN
    return Credentials(Auth.Token(token), login, "GITHUB_TOKEN")
