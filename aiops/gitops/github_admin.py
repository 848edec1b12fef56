"""What the approval gate and `aiops protect` need from GitHub beyond the `Forge` port (DESIGN §4.10).

`GitHubAdmin` wraps an injected `github.Github` client (built lazily from the environment by
`from_env`) for one repository: team membership (`GET /orgs/{org}/teams/{team}/memberships/{login}`,
state `active` only — needs an App token with organization Members: read), who added a label
(issue events), the authors of a PR's commits, the App's merge of a trivial PR (pinned to the
head sha the gate judged), and branch protection / rulesets of a branch. Calls go through
PyGithub's requester so each operation is exactly one documented REST call (plus pagination).
It decides nothing: the gate and `aiops protect` in `aiops.pipeline` do. Never logs tokens.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from aiops.errors import AiopsError, InputError, UnreachableError

_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')


class GitHubAdmin:
    """GitHub-only operations for one repository `owner/name`, over an injected PyGithub client."""

    def __init__(self, gh: Any, repository: str, *, bot_login: str | None = None) -> None:
        if repository.count("/") != 1 or not all(repository.split("/")):
            raise InputError(f"GITHUB_REPOSITORY: {repository!r} is not owner/name")
        self.gh = gh
        self.repository = repository
        self.bot_login = bot_login
        self._membership: dict[tuple[str, str], bool] = {}

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> GitHubAdmin:
        """A client from `GITHUB_REPOSITORY`, `GITHUB_API_URL` and the App or `GITHUB_TOKEN`."""
        from github import Github

        from aiops.gitops.github_auth import credentials_from_env

        env = os.environ if env is None else env
        repository = env.get("GITHUB_REPOSITORY", "").strip()
        if not repository:
            raise InputError("GITHUB_REPOSITORY is not set (owner/name)", hint="or use --forge local")
        api = env.get("GITHUB_API_URL", "").strip() or "https://api.github.com"
        creds = credentials_from_env(repository, api, env)
        gh = Github(auth=creds.auth, base_url=api, lazy=True, per_page=100)
        return cls(gh, repository, bot_login=creds.bot_login)

    # ---- transport -------------------------------------------------------------------------
    def _call(self, verb: str, url: str, *, body: Any = None, params: dict[str, Any] | None = None) -> Any:
        return self._call_full(verb, url, body=body, params=params)[1]

    def _call_full(
        self, verb: str, url: str, *, body: Any = None, params: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], Any]:
        from github import GithubException

        try:
            headers, data = self.gh.requester.requestJsonAndCheck(verb, url, parameters=params, input=body)
        except GithubException as exc:
            status = exc.status
            message = exc.data.get("message") if isinstance(exc.data, dict) else None
            where = f"GitHub {verb} {url.split('?', maxsplit=1)[0]}"
            if status is not None and status >= 500:
                raise UnreachableError(f"{where}: {status} {message or ''}".rstrip()) from exc
            raise _HttpError(f"{where}: {status} {message or ''}".rstrip(), status=status) from exc
        except OSError as exc:  # requests' ConnectionError/Timeout/RetryError are OSError subclasses
            raise UnreachableError(
                f"GitHub {verb} {url.split('?', maxsplit=1)[0]}: unreachable ({type(exc).__name__})"
            ) from exc
        return headers, data

    def _paged(self, url: str, params: dict[str, Any] | None = None) -> list[Any]:
        out: list[Any] = []
        next_url: str | None = url
        query: dict[str, Any] | None = {"per_page": 100, **(params or {})}
        pages = 0
        while next_url and pages < 50:
            headers, data = self._call_full("GET", next_url, params=query)
            if isinstance(data, list):
                out.extend(data)
            link = {k.lower(): v for k, v in (headers or {}).items()}.get("link", "")
            m = _NEXT.search(link or "")
            next_url, query = (m.group(1), None) if m else (None, None)
            pages += 1
        return out

    @property
    def _repo(self) -> str:
        return f"/repos/{self.repository}"

    # ---- team membership ---------------------------------------------------------------------
    def get_team_membership(self, slug: str, login: str) -> str | None:
        """The membership state (`active` or `pending`) of `login` in team `org/team`; None: not a member."""
        org, _, team = slug.partition("/")
        if not org or not team:
            raise InputError(f"approvals.teams: {slug!r} is not an org/team slug")
        url = f"/orgs/{quote(org)}/teams/{quote(team)}/memberships/{quote(login)}"
        try:
            data = self._call("GET", url)
        except _HttpError as exc:
            if exc.status == 404:
                return None
            if exc.status in (401, 403):
                raise InputError(
                    f"{exc.message}: cannot read team membership",
                    hint="the token needs organization Members: read (use the aiops App's token)",
                ) from exc
            raise
        state = data.get("state") if isinstance(data, dict) else None
        return str(state) if state else None

    def is_active_member(self, slug: str, login: str) -> bool:
        key = (slug.lower(), login.lower())
        if key not in self._membership:
            self._membership[key] = self.get_team_membership(slug, login) == "active"
        return self._membership[key]

    # ---- pull request facts ----------------------------------------------------------------------
    def label_added_by(self, number: int, label: str) -> list[str]:
        """Who added `label` (the actor of its latest `labeled` event, if no later `unlabeled`)."""
        actor: str | None = None
        for ev in self._paged(f"{self._repo}/issues/{number}/events"):
            name = ((ev.get("label") or {}).get("name") or "").lower()
            if name != label.lower():
                continue
            if ev.get("event") == "labeled":
                actor = ((ev.get("actor") or {}).get("login")) or None
            elif ev.get("event") == "unlabeled":
                actor = None
        return [actor] if actor else []

    def commit_authors(self, number: int) -> list[str]:
        """The GitHub logins (else git names) of the authors and committers of a PR's commits."""
        out: list[str] = []
        for c in self._paged(f"{self._repo}/pulls/{number}/commits"):
            for role in ("author", "committer"):
                user = c.get(role) or {}
                login = user.get("login")
                if not login:
                    login = ((c.get("commit") or {}).get(role) or {}).get("name")
                if login and login != "web-flow" and login not in out:
                    out.append(str(login))
        return out

    def merge(self, number: int, sha: str, *, title: str | None = None) -> str | None:
        """Merge PR `number` as the App, only if its head is still `sha` (GitHub answers 409 otherwise)."""
        body: dict[str, Any] = {"sha": sha, "merge_method": "merge"}
        if title:
            body["commit_title"] = title
        try:
            data = self._call("PUT", f"{self._repo}/pulls/{number}/merge", body=body)
        except _HttpError as exc:
            raise InputError(f"{exc.message}: the trivial PR was not merged") from exc
        return str(data.get("sha")) if isinstance(data, dict) and data.get("sha") else None

    # ---- branch protection and rulesets ------------------------------------------------------------
    def get_protection(self, branch: str) -> dict[str, Any] | None:
        """Classic protection of `branch`, as the API returns it; None when unprotected."""
        try:
            data = self._call("GET", f"{self._repo}/branches/{quote(branch, safe='')}/protection")
        except _HttpError as exc:
            if exc.status == 404:
                return None
            raise _admin_error(exc) from exc
        return data if isinstance(data, dict) else None

    def put_protection(self, branch: str, body: Mapping[str, Any]) -> None:
        try:
            self._call("PUT", f"{self._repo}/branches/{quote(branch, safe='')}/protection", body=dict(body))
        except _HttpError as exc:
            raise _admin_error(exc) from exc

    def list_rulesets(self) -> list[dict[str, Any]]:
        try:
            return [r for r in self._paged(f"{self._repo}/rulesets") if isinstance(r, dict)]
        except _HttpError as exc:
            raise _admin_error(exc) from exc

    def get_ruleset(self, ruleset_id: int) -> dict[str, Any]:
        try:
            data = self._call("GET", f"{self._repo}/rulesets/{int(ruleset_id)}")
        except _HttpError as exc:
            raise _admin_error(exc) from exc
        return data if isinstance(data, dict) else {}

    def create_ruleset(self, body: Mapping[str, Any]) -> dict[str, Any]:
        try:
            data = self._call("POST", f"{self._repo}/rulesets", body=dict(body))
        except _HttpError as exc:
            raise _admin_error(exc) from exc
        return data if isinstance(data, dict) else {}

    def update_ruleset(self, ruleset_id: int, body: Mapping[str, Any]) -> dict[str, Any]:
        try:
            data = self._call("PUT", f"{self._repo}/rulesets/{int(ruleset_id)}", body=dict(body))
        except _HttpError as exc:
            raise _admin_error(exc) from exc
        return data if isinstance(data, dict) else {}


class _HttpError(AiopsError):
    """A 4xx answer (kept internal: callers turn it into the right user-facing error)."""

    def __init__(self, message: str, *, status: int | None) -> None:
        super().__init__(message)
        self.status = status


def _admin_error(exc: _HttpError) -> InputError:
    if exc.status in (401, 403, 404):
        return InputError(
            f"{exc.message}",
            hint="protection and rulesets need repository Administration: write (the aiops App or an admin)",
        )
    return InputError(exc.message)
