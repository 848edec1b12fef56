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

    def default_branch(self) -> str:
        data = self._call("GET", self._repo)
        branch = data.get("default_branch") if isinstance(data, dict) else None
        if not branch:
            raise InputError(f"GitHub GET {self._repo}: no default_branch in the answer")
        return str(branch)

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
            # the author: the GitHub user, else the git name (an unknown author counts as a person)
            author = (c.get("author") or {}).get("login") or (
                (c.get("commit") or {}).get("author") or {}
            ).get("name")
            # the committer only when GitHub knows the user (web-flow signs API and web-UI commits)
            committer = (c.get("committer") or {}).get("login")
            for login in (author, committer):
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


# ---- `aiops protect`: the wanted configuration of the default branch (DESIGN §4.10) ------------

GATE_CONTEXT = "aiops/approval-gate"
RULESET_NAME = "aiops-main"


def wanted_protection(app_id: int, app_slug: str) -> dict[str, Any]:
    """Classic protection (PUT replaces everything, so every field is stated)."""
    return {
        "required_status_checks": {"strict": False, "checks": [{"context": GATE_CONTEXT, "app_id": app_id}]},
        "enforce_admins": True,
        "required_pull_request_reviews": {
            "dismiss_stale_reviews": True,
            "require_code_owner_reviews": True,
            "required_approving_review_count": 1,
            "require_last_push_approval": True,
            "bypass_pull_request_allowances": {"users": [], "teams": [], "apps": [app_slug]},
        },
        "restrictions": None,
        "required_linear_history": False,
        "allow_force_pushes": False,
        "allow_deletions": False,
        "block_creations": False,
        "required_conversation_resolution": False,
        "lock_branch": False,
        "allow_fork_syncing": False,
    }


def current_protection(data: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The GET answer reduced to the PUT shape of `wanted_protection`, for comparison."""
    if data is None:
        return None

    def enabled(key: str) -> bool:
        v = data.get(key)
        return bool(v.get("enabled")) if isinstance(v, dict) else bool(v)

    checks_in = (data.get("required_status_checks") or {}) if isinstance(data, dict) else {}
    rsc = None
    if checks_in:
        rsc = {
            "strict": bool(checks_in.get("strict")),
            "checks": [
                {"context": c.get("context"), "app_id": c.get("app_id")}
                for c in checks_in.get("checks") or []
            ],
        }
    prr_in = data.get("required_pull_request_reviews") or {}
    prr = None
    if prr_in:
        bypass = prr_in.get("bypass_pull_request_allowances") or {}
        prr = {
            "dismiss_stale_reviews": bool(prr_in.get("dismiss_stale_reviews")),
            "require_code_owner_reviews": bool(prr_in.get("require_code_owner_reviews")),
            "required_approving_review_count": int(prr_in.get("required_approving_review_count") or 0),
            "require_last_push_approval": bool(prr_in.get("require_last_push_approval")),
            "bypass_pull_request_allowances": {
                "users": sorted(u.get("login", "") for u in bypass.get("users") or []),
                "teams": sorted(t.get("slug", "") for t in bypass.get("teams") or []),
                "apps": sorted(a.get("slug", "") for a in bypass.get("apps") or []),
            },
        }
    restrictions = data.get("restrictions")
    return {
        "required_status_checks": rsc,
        "enforce_admins": enabled("enforce_admins"),
        "required_pull_request_reviews": prr,
        "restrictions": restrictions if restrictions else None,
        "required_linear_history": enabled("required_linear_history"),
        "allow_force_pushes": enabled("allow_force_pushes"),
        "allow_deletions": enabled("allow_deletions"),
        "block_creations": enabled("block_creations"),
        "required_conversation_resolution": enabled("required_conversation_resolution"),
        "lock_branch": enabled("lock_branch"),
        "allow_fork_syncing": enabled("allow_fork_syncing"),
    }


def wanted_ruleset(app_id: int, branch: str) -> dict[str, Any]:
    """A ruleset: reviews (code owners, stale dismissal, last push), the pinned gate, the App bypass."""
    return {
        "name": RULESET_NAME,
        "target": "branch",
        "enforcement": "active",
        "conditions": {"ref_name": {"include": [f"refs/heads/{branch}"], "exclude": []}},
        "bypass_actors": [{"actor_id": app_id, "actor_type": "Integration", "bypass_mode": "always"}],
        "rules": [
            {"type": "deletion"},
            {"type": "non_fast_forward"},
            {
                "type": "pull_request",
                "parameters": {
                    "required_approving_review_count": 1,
                    "dismiss_stale_reviews_on_push": True,
                    "require_code_owner_review": True,
                    "require_last_push_approval": True,
                    "required_review_thread_resolution": False,
                },
            },
            {
                "type": "required_status_checks",
                "parameters": {
                    "strict_required_status_checks_policy": False,
                    "required_status_checks": [{"context": GATE_CONTEXT, "integration_id": app_id}],
                },
            },
        ],
    }


def ruleset_matches(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    """Whether a ruleset (GET answer) already enforces `wanted` (extra defaults GitHub adds are fine)."""
    for key in ("name", "target", "enforcement", "conditions"):
        if current.get(key) != wanted.get(key):
            return False
    actors = [
        {k: a.get(k) for k in ("actor_id", "actor_type", "bypass_mode")}
        for a in current.get("bypass_actors") or []
    ]
    if actors != wanted["bypass_actors"]:
        return False
    have = {r.get("type"): r.get("parameters") or {} for r in current.get("rules") or []}
    want = {r["type"]: r.get("parameters") or {} for r in wanted["rules"]}
    if set(have) != set(want):
        return False
    return all(all(have[t].get(k) == v for k, v in params.items()) for t, params in want.items())


def protect(
    admin: GitHubAdmin, *, branch: str, app_id: int, app_slug: str, ruleset: bool, dry_run: bool
) -> dict[str, Any]:
    """Configure `branch` (classic protection or a ruleset); writes only what differs. The change as JSON."""
    if ruleset:
        wanted = wanted_ruleset(app_id, branch)
        found = [r for r in admin.list_rulesets() if r.get("name") == RULESET_NAME]
        current = admin.get_ruleset(int(found[0]["id"])) if found else None
        if current is not None and ruleset_matches(current, wanted):
            action = "unchanged"
        else:
            action = "create" if current is None else "update"
        change: dict[str, Any] = {
            "mode": "ruleset",
            "branch": branch,
            "action": action,
            "method": {"create": "POST", "update": "PUT", "unchanged": None}[action],
            "path": (
                f"/repos/{admin.repository}/rulesets"
                + (f"/{int(current['id'])}" if current is not None and "id" in current else "")
            ),
            "body": wanted,
            "dry_run": dry_run,
        }
        if not dry_run and action == "create":
            admin.create_ruleset(wanted)
        elif not dry_run and action == "update" and current is not None:
            admin.update_ruleset(int(current["id"]), wanted)
        return change
    wanted = wanted_protection(app_id, app_slug)
    now = current_protection(admin.get_protection(branch))
    action = "unchanged" if now == wanted else ("create" if now is None else "update")
    change = {
        "mode": "branch-protection",
        "branch": branch,
        "action": action,
        "method": None if action == "unchanged" else "PUT",
        "path": f"/repos/{admin.repository}/branches/{branch}/protection",
        "body": wanted,
        "current": now,
        "dry_run": dry_run,
    }
    if not dry_run and action != "unchanged":
        admin.put_protection(branch, wanted)
    return change
