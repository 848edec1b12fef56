"""The GitHub forge (DESIGN §4.8, §4.10): the `Forge` port over the REST API through PyGithub.

Files are read through the API (contents, blobs, trees), so no checkout is needed. A proposal is
branch `aiops/<key>` holding ONE commit made with the Git Data API (tree with `base_tree` + commit),
then a pull request with `risk:<tier>` labels and reviewers; its marker (`aiops:meta`) is the state.
Every call goes through `_call`: 5xx, connection errors and rate limits (403/429 with `Retry-After`
or `X-RateLimit-*`) are retried with capped waits, and a create that failed is looked up before it
is retried, so retries never duplicate a pull request, a commit on the branch or a comment. What
still fails becomes an `AiopsError` naming the endpoint (never a token). If a step fails after the
branch was made, the branch (and a half-made pull request) is removed before the error is raised.

Must not: push over commits a person added to a proposal branch, remove records under `history/`,
import `github` at module import time (only `aiops/gitops/github*.py` may import it, lazily).
"""

from __future__ import annotations

import base64
import contextlib
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

from aiops.errors import InputError, PolicyRefusal, UnreachableError
from aiops.gitops.forge import (
    DASHBOARD_MARKER,
    Comment,
    CommitStatus,
    Proposal,
    ProposalState,
    Review,
    StatusState,
    comment_marker,
    replace_section,
)
from aiops.gitops.github_auth import ACTIONS_BOT_LOGIN, DEFAULT_BOT_LOGIN
from aiops.gitops.revert import revert_texts

if TYPE_CHECKING:
    from github.Repository import Repository

T = TypeVar("T")

DEFAULT_API_URL = "https://api.github.com"
BRANCH_PREFIX = "aiops/"
FILES_CAP = 3000
"""GitHub lists at most 3000 files of a pull request."""
RISK_PREFIX = "risk:"
LABEL_COLORS = {"trivial": "c2e0c6", "low": "0e8a16", "medium": "fbca04", "critical": "b60205"}
STATUS_DESCRIPTION_MAX = 140


class GitHubAuthError(InputError):
    """The token was refused (401) or lacks a permission (403 without rate-limit headers)."""


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _strip_marker(body: str) -> str:
    import re

    return re.sub(r"<!--\s*aiops:meta\s[^>]*-->", "", body or "")


def _decode_meta(body: str | None) -> dict[str, Any] | None:
    from aiops.phr.render import decode_marker

    try:
        return decode_marker(body or "")
    except InputError:
        return None  # an altered marker is not ours to act on


class GitHubForge:
    """A forge over one GitHub repository (github.com, GitHub Enterprise or a test server)."""

    name = "github"

    def __init__(
        self,
        client: Any,
        repository: str,
        *,
        base: str | None = None,
        bot_login: str = DEFAULT_BOT_LOGIN,
        own_logins: Iterable[str] = (),
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        max_attempts: int = 5,
        max_wait: float = 60.0,
        backoff: float = 1.0,
    ) -> None:
        """`client` is a lazy `github.Github` with retry=None (the forge retries; tests drop the throttle)."""
        if "/" not in repository:
            raise InputError(f"GITHUB_REPOSITORY={repository!r}: expected OWNER/NAME")
        self.gh = client
        self.full_name = repository
        self.owner = repository.split("/", 1)[0]
        self._base = base
        self.bot_login = bot_login
        self.own_logins = frozenset({bot_login, *own_logins})
        self._sleep = sleep
        self._clock = clock
        self.max_attempts = max_attempts
        self.max_wait = max_wait
        self.backoff = backoff
        self._repo: Repository | None = None
        self._labels_known: set[str] = set()
        self._complete: dict[int, bool] = {}

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **kwargs: Any) -> GitHubForge:
        """Repository from GITHUB_REPOSITORY, API from GITHUB_API_URL, auth from the App or GITHUB_TOKEN."""
        from github import Github

        from aiops.gitops.github_auth import credentials_from_env

        env = os.environ if env is None else env
        repository = env.get("GITHUB_REPOSITORY", "").strip()
        if not repository:
            raise InputError(
                "GITHUB_REPOSITORY is not set (OWNER/NAME)", hint="or use --forge local --repo DIR"
            )
        api = (env.get("GITHUB_API_URL", "").strip() or DEFAULT_API_URL).rstrip("/")
        creds = credentials_from_env(repository, api, env)
        client = Github(auth=creds.auth, base_url=api, lazy=True, retry=None, per_page=100, timeout=30)
        own = (ACTIONS_BOT_LOGIN,) if creds.source == "GITHUB_TOKEN" else ()
        return cls(client, repository, bot_login=creds.bot_login, own_logins=own, **kwargs)

    # ---- plumbing ----------------------------------------------------------------------
    @property
    def repo(self) -> Repository:
        if self._repo is None:
            self._repo = self.gh.get_repo(self.full_name)  # no request with a lazy client
        return self._repo

    @property
    def api(self) -> str:
        return f"/repos/{self.full_name}"

    @property
    def base(self) -> str:
        if self._base is None:
            self._base = str(self._call(f"GET {self.api}", lambda: self.repo.default_branch))
        return self._base

    def _wait_for(self, exc: Any, attempt: int) -> float | None:
        """Seconds to wait before retrying `exc`, None when it is not worth retrying."""
        status = int(getattr(exc, "status", 0) or 0)
        if status >= 500:
            return float(min(self.max_wait, self.backoff * 2**attempt))
        if status not in (403, 429):
            return None
        headers = {str(k).lower(): str(v) for k, v in (getattr(exc, "headers", None) or {}).items()}
        data = getattr(exc, "data", None)
        message = str(data.get("message", "")) if isinstance(data, dict) else ""
        if "retry-after" in headers:
            try:
                return max(0.0, float(headers["retry-after"]))
            except ValueError:
                return self.max_wait
        if headers.get("x-ratelimit-remaining") == "0" and "x-ratelimit-reset" in headers:
            try:
                return max(0.0, float(headers["x-ratelimit-reset"]) - self._clock() + 1)
            except ValueError:
                return self.max_wait
        if status == 429 or "rate limit" in message.lower():
            return float(min(self.max_wait, 60.0 * 2**attempt))  # secondary limit: at least a minute
        return None

    def _fatal(self, what: str, exc: Any) -> InputError:
        status = int(getattr(exc, "status", 0) or 0)
        data = getattr(exc, "data", None)
        message = str(data.get("message", "")) if isinstance(data, dict) else ""
        errors = data.get("errors") if isinstance(data, dict) else None
        detail = message
        if isinstance(errors, list) and errors:
            detail += ": " + "; ".join(
                str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors
            )
        if status == 401:
            return GitHubAuthError(
                f"GitHub {what}: 401 {detail or 'Bad credentials'}: the token was refused",
                hint="check GITHUB_TOKEN or AIOPS_APP_ID/AIOPS_APP_PRIVATE_KEY",
            )
        if status == 403:
            return GitHubAuthError(
                f"GitHub {what}: 403 {detail or 'Forbidden'}: the token lacks a permission",
                hint="the aiops App needs contents, pull requests, issues and commit statuses: write",
            )
        if status == 404:
            return InputError(f"GitHub {what}: 404 not found (or the token cannot see it)")
        return InputError(f"GitHub {what}: {status} {detail}".rstrip())

    def _call(
        self,
        what: str,
        fn: Callable[[], T],
        *,
        lookup: Callable[[], T | None] | None = None,
        allow: tuple[int, ...] = (),
    ) -> T:
        """Run one API operation with retries; `lookup` finds what a failed create may have made."""
        from github import GithubException
        from requests.exceptions import ConnectionError as ReqConnectionError
        from requests.exceptions import RetryError, Timeout

        attempt = 0
        cause: Exception
        while True:
            try:
                return fn()
            except GithubException as exc:
                if exc.status in allow:
                    raise
                wait = self._wait_for(exc, attempt)
                if wait is None:
                    raise self._fatal(what, exc) from exc
                if wait > self.max_wait:
                    raise UnreachableError(
                        f"GitHub {what}: rate limited for {int(wait)} s more"
                        f" (over the {int(self.max_wait)} s cap)"
                    ) from exc
                last, cause = f"HTTP {exc.status}", exc
            except (ReqConnectionError, Timeout, RetryError) as exc:
                wait = float(min(self.max_wait, self.backoff * 2**attempt))
                last, cause = type(exc).__name__, exc
            attempt += 1
            if attempt >= self.max_attempts:
                raise UnreachableError(f"GitHub {what}: {last} after {attempt} attempts") from cause
            self._sleep(wait)
            if lookup is not None:
                found = lookup()
                if found is not None:
                    return found

    # ---- files -------------------------------------------------------------------------
    def base_sha(self) -> str:
        return self._ref_sha(f"heads/{self.base}")

    def _ref_sha(self, ref: str) -> str:
        return str(self._call(f"GET {self.api}/git/ref/{ref}", lambda: self.repo.get_git_ref(ref).object.sha))

    def read_file(self, path: str, ref: str | None = None) -> str | None:
        at = ref or self.base
        what = f"GET {self.api}/contents/{path}?ref={at}"
        from github import GithubException

        try:
            content = self._call(what, lambda: self.repo.get_contents(path, ref=at), allow=(404,))
        except GithubException:
            return None
        if isinstance(content, list) or content.type != "file":
            return None
        if content.encoding == "base64" and content.content is not None:
            raw = base64.b64decode(content.content)
        else:  # over 1 MB the contents API gives no content: read the blob
            blob = self._call(
                f"GET {self.api}/git/blobs/{content.sha}", lambda: self.repo.get_git_blob(content.sha)
            )
            raw = (
                base64.b64decode(blob.content) if blob.encoding == "base64" else blob.content.encode("utf-8")
            )
        return raw.decode("utf-8")

    def list_files(self, prefix: str, ref: str | None = None) -> list[str]:
        at = ref or self.base
        want = prefix.strip("/")
        tree = self._tree(at, recursive=True)
        root = ""
        if tree.raw_data.get("truncated") and want:
            # too big for one listing: walk down to the prefix directory and list only that
            for part in want.split("/"):
                entry = next(
                    (e for e in self._tree(tree.sha).tree if e.path == part and e.type == "tree"), None
                )
                if entry is None:
                    return []
                tree = self._tree(entry.sha)
                root = f"{root}{part}/"
            tree = self._tree(tree.sha, recursive=True)
            want = ""
        if tree.raw_data.get("truncated"):
            raise UnreachableError(f"GitHub GET {self.api}/git/trees/{at}: listing of {prefix!r} truncated")
        out = [
            root + e.path
            for e in tree.tree
            if e.type == "blob" and (not want or e.path == want or e.path.startswith(want + "/"))
        ]
        return sorted(out)

    def _tree(self, at: str, *, recursive: bool = False) -> Any:
        what = f"GET {self.api}/git/trees/{at}" + ("?recursive=1" if recursive else "")
        return self._call(what, lambda: self.repo.get_git_tree(at, recursive=recursive))

    # ---- proposals: reading ------------------------------------------------------------
    def _to_proposal(
        self, pr: Any, meta: Mapping[str, Any] | None = None, head_sha: str | None = None
    ) -> Proposal:
        state: ProposalState = "open"
        if pr.state != "open":
            state = "merged" if pr.merged_at is not None else "closed"
        found = _decode_meta(pr.body) if meta is None else dict(meta)
        return Proposal(
            number=int(pr.number),
            title=str(pr.title or ""),
            body=str(pr.body or ""),
            branch=str(pr.head.ref),
            base=str(pr.base.ref),
            head_sha=head_sha or str(pr.head.sha),
            state=state,
            author=str(pr.user.login) if pr.user is not None else "ghost",
            meta=found or {},
            labels=tuple(sorted(label.name for label in pr.labels)),
            url=str(pr.html_url or ""),
            created_at=_iso(pr.created_at) or "",
            merged_at=_iso(pr.merged_at),
            closed_at=_iso(pr.closed_at),
            merge_sha=str(pr.merge_commit_sha) if state == "merged" and pr.merge_commit_sha else None,
        )

    def _pulls(self, state: str, head: str | None = None) -> list[Any]:
        def fetch() -> list[Any]:
            if head is not None:
                return list(self.repo.get_pulls(state=state, head=head, base=self.base))
            return list(self.repo.get_pulls(state=state, base=self.base))

        return self._call(f"GET {self.api}/pulls?state={state}", fetch)

    def find_proposals(self, *, key: str | None = None, state: str = "open") -> list[Proposal]:
        if state not in ("open", "closed", "merged", "all"):
            raise InputError(f"proposal state {state!r} is not open, closed, merged or all")
        gh_state = "closed" if state in ("closed", "merged") else state
        head = f"{self.owner}:{BRANCH_PREFIX}{key}" if key is not None else None
        out: list[Proposal] = []
        for pr in self._pulls(gh_state, head):
            if not str(pr.head.ref).startswith(BRANCH_PREFIX):
                continue
            if pr.user is None or pr.user.login not in self.own_logins:
                continue  # a marker copied into a person's PR does not make it an aiops proposal
            p = self._to_proposal(pr)
            if not p.meta or (state in ("closed", "merged") and p.state != state):
                continue
            if key is not None and p.key != key:
                continue
            out.append(p)
        return sorted(out, key=lambda p: p.number)

    def _pull(self, number: int) -> Any:
        def fetch() -> Any:
            pr = self.repo.get_pull(number)
            _ = pr.state  # complete the lazy object here, inside the retry
            return pr

        return self._call(f"GET {self.api}/pulls/{number}", fetch)

    def get_proposal(self, number: int) -> Proposal:
        return self._to_proposal(self._pull(number))

    # ---- proposals: writing ------------------------------------------------------------
    def _make_commit(self, files: Mapping[str, str | None], message: str) -> tuple[str, str]:
        """ONE commit with all `files` on the current base head (None deletes); (commit sha, base sha)."""
        from github import InputGitTreeElement

        base_sha = self.base_sha()
        parent = self._call(
            f"GET {self.api}/git/commits/{base_sha}", lambda: self.repo.get_git_commit(base_sha)
        )
        elements = []
        for path, text in sorted(files.items()):
            if text is None:
                if self.read_file(path, base_sha) is None:
                    continue  # GitHub refuses to delete what is not there; nothing to do
                elements.append(InputGitTreeElement(path=path, mode="100644", type="blob", sha=None))
            else:
                elements.append(InputGitTreeElement(path=path, mode="100644", type="blob", content=text))
        # trees and commits are content-addressed: a retried POST makes no second visible object
        tree = self._call(
            f"POST {self.api}/git/trees", lambda: self.repo.create_git_tree(elements, base_tree=parent.tree)
        )
        commit = self._call(
            f"POST {self.api}/git/commits", lambda: self.repo.create_git_commit(message, tree, [parent])
        )
        return str(commit.sha), base_sha

    def _person_commits(self, commits: Iterable[Any]) -> list[str]:
        """Shas of commits not authored by aiops (a missing GitHub user counts as a person)."""
        out = []
        for c in commits:
            login = c.author.login if c.author is not None else None
            if login not in self.own_logins:
                out.append(str(c.sha))
        return out

    def _get_ref(self, branch: str, *, missing_ok: bool = False) -> Any:
        """The branch ref, completed (the API gives the `refs/` URL that PATCH needs); None if absent."""
        from github import GithubException

        def fetch() -> Any:
            ref = self.repo.get_git_ref(f"heads/{branch}")
            _ = ref.object.sha
            return ref

        what = f"GET {self.api}/git/ref/heads/{branch}"
        try:
            return self._call(what, fetch, allow=(404,))
        except GithubException as exc:
            if missing_ok:
                return None
            raise InputError(f"GitHub {what}: branch {branch} does not exist (deleted meanwhile?)") from exc

    def _point_branch(self, branch: str, sha: str, base_sha: str) -> tuple[bool, str | None]:
        """Make `branch` point at `sha`: (created, previous sha when an existing branch was reset)."""
        from github import GithubException

        def lookup() -> Any:
            ref = self._get_ref(branch, missing_ok=True)
            return ref if ref is not None and ref.object.sha == sha else None

        try:
            self._call(
                f"POST {self.api}/git/refs",
                lambda: self.repo.create_git_ref(f"refs/heads/{branch}", sha),
                lookup=lookup,
                allow=(422,),
            )
            return True, None
        except GithubException as exc:
            if "already exists" not in str((exc.data or {}).get("message", "")).lower():
                raise self._fatal(f"POST {self.api}/git/refs", exc) from exc
        # a branch left from a closed or merged proposal: reuse it only if nobody else wrote on it
        ref = self._get_ref(branch)
        old = str(ref.object.sha)
        if old == sha:
            return True, None  # our own retried POST made it: the commit is brand new
        cmp = self._call(
            f"GET {self.api}/compare/{base_sha}...{branch}",
            lambda: list(self.repo.compare(base_sha, old).commits),
        )
        people = self._person_commits(cmp)
        if people:
            raise PolicyRefusal(
                f"branch {branch} exists with commits made by a person ({people[0][:12]}); not overwriting",
                hint="delete the branch or merge it, then rerun",
            )
        self._call(f"PATCH {self.api}/git/refs/heads/{branch}", lambda: ref.edit(sha, force=True))
        return False, old

    def _ensure_labels(self, labels: Sequence[str]) -> None:
        for name in labels:
            if name not in self._labels_known:
                self._ensure_label(name)
                self._labels_known.add(name)

    def _ensure_label(self, name: str) -> None:
        """Create the label when missing (a 422 means it was made meanwhile, by us or someone else)."""
        from github import GithubException

        try:
            self._call(f"GET {self.api}/labels/{name}", lambda: self.repo.get_label(name).color, allow=(404,))
            return
        except GithubException:
            pass
        tier = name.removeprefix(RISK_PREFIX)
        color = LABEL_COLORS.get(tier, "ededed")
        desc = f"aiops risk tier {tier}" if name.startswith(RISK_PREFIX) else "aiops"
        with contextlib.suppress(GithubException):
            self._call(
                f"POST {self.api}/labels", lambda: self.repo.create_label(name, color, desc), allow=(422,)
            )

    def _set_pr_labels(
        self, number: int, pr: Any | None, labels: Sequence[str], current: Iterable[str]
    ) -> None:
        """Replace the labels aiops owns (`risk:*`), keep the ones people added."""
        keep = [name for name in current if not name.startswith(RISK_PREFIX)]
        want = sorted(set(keep) | set(labels))
        if want == sorted(set(current)):
            return
        self._ensure_labels([name for name in labels if name not in current])
        issue = self.repo.get_issue(number)
        self._call(f"PUT {self.api}/issues/{number}/labels", lambda: issue.set_labels(*want))

    def _request_reviewers(self, pr: Any, reviewers: Sequence[str]) -> None:
        users = sorted({r for r in reviewers if "/" not in r and r not in self.own_logins})
        teams = sorted({r.split("/", 1)[1] for r in reviewers if "/" in r})
        if not users and not teams:
            return
        self._call(
            f"POST {self.api}/pulls/{pr.number}/requested_reviewers",
            lambda: pr.create_review_request(reviewers=users, team_reviewers=teams),
        )

    def _open_pull_for(self, branch: str) -> Any | None:
        pulls = self._pulls("open", f"{self.owner}:{branch}")
        return pulls[0] if pulls else None

    def propose(
        self,
        *,
        branch: str,
        title: str,
        body: str,
        files: Mapping[str, str | None],
        message: str,
        labels: Sequence[str] = (),
        reviewers: Sequence[str] = (),
        meta: Mapping[str, Any] | None = None,
    ) -> Proposal:
        from github import GithubException

        existing = self._open_pull_for(branch)
        if existing is not None:
            raise InputError(f"branch {branch} already has open proposal #{existing.number}")
        sha, base_sha = self._make_commit(files, message)
        created, previous = self._point_branch(branch, sha, base_sha)
        pr: Any = None
        try:
            what = f"POST {self.api}/pulls"
            try:
                pr = self._call(
                    what,
                    lambda: self.repo.create_pull(base=self.base, head=branch, title=title, body=body),
                    lookup=lambda: self._open_pull_for(branch),
                    allow=(422,),
                )
            except GithubException as exc:
                text = str(exc.data).lower()
                if "already exists" not in text:
                    raise self._fatal(what, exc) from exc
                pr = self._open_pull_for(branch)  # made by a concurrent run or by our own retried POST
                if pr is None:
                    raise self._fatal(what, exc) from exc
            self._set_pr_labels(pr.number, pr, labels, [label.name for label in pr.labels])
            self._request_reviewers(pr, reviewers)
        except BaseException:
            self._undo(branch, created, previous, pr)
            raise
        proposal = self._to_proposal(pr, meta=meta, head_sha=sha)
        return Proposal(**{**proposal.__dict__, "labels": tuple(sorted(set(proposal.labels) | set(labels)))})

    def _undo(self, branch: str, created: bool, previous: str | None, pr: Any) -> None:
        """Best effort: leave nothing half-made (a PR without its marker is no proposal, not a snooze)."""
        steps: list[tuple[str, Callable[[], Any]]] = []
        if pr is not None:
            body = _strip_marker(str(pr.body or "")) + "\n\n_aiops could not finish opening this proposal._"
            steps.append((f"PATCH {self.api}/pulls/{pr.number}", lambda: pr.edit(state="closed", body=body)))
        if created:
            ref_path = f"/repos/{self.full_name}/git/refs/heads/{branch}"
            steps.append(
                (f"DELETE {ref_path}", lambda: self.gh.requester.requestJsonAndCheck("DELETE", ref_path))
            )
        elif previous is not None:
            ref_path = f"/repos/{self.full_name}/git/refs/heads/{branch}"
            steps.append(
                (
                    f"PATCH {ref_path}",
                    lambda: self.gh.requester.requestJsonAndCheck(
                        "PATCH", ref_path, input={"sha": previous, "force": True}
                    ),
                )
            )
        for what, step in steps:
            with contextlib.suppress(Exception):  # best effort: the original error is what we raise
                self._call(what, step)

    def update_proposal(
        self,
        number: int,
        *,
        title: str,
        body: str,
        files: Mapping[str, str | None],
        message: str,
        labels: Sequence[str] = (),
        meta: Mapping[str, Any] | None = None,
    ) -> Proposal:
        pr = self._pull(number)
        if pr.state != "open":
            state = "merged" if pr.merged_at is not None else "closed"
            raise InputError(f"--pr {number}: proposal is {state}, not open")
        branch = str(pr.head.ref)
        commits = self._call(f"GET {self.api}/pulls/{number}/commits", lambda: list(pr.get_commits()))
        people = self._person_commits(commits)
        if people:
            raise PolicyRefusal(
                f"proposal #{number}: branch {branch} has commits made by a person; not overwriting",
                hint="aiops leaves a comment instead",
            )
        sha, _ = self._make_commit(files, message)
        ref = self._get_ref(branch)
        self._call(f"PATCH {self.api}/git/refs/heads/{branch}", lambda: ref.edit(sha, force=True))
        current = [label.name for label in pr.labels]
        self._call(f"PATCH {self.api}/pulls/{number}", lambda: pr.edit(title=title, body=body))
        if labels:
            self._set_pr_labels(number, pr, labels, current)
        proposal = self._to_proposal(pr, meta=meta, head_sha=sha)
        if labels:
            keep = [name for name in current if not name.startswith(RISK_PREFIX)]
            proposal = Proposal(**{**proposal.__dict__, "labels": tuple(sorted(set(keep) | set(labels)))})
        return proposal

    def close_proposal(self, number: int, *, comment: str) -> None:
        pr = self._pull(number)
        if pr.state != "open":
            return
        if comment:
            self.add_comment(number, comment)
        self._call(f"PATCH {self.api}/pulls/{number}", lambda: pr.edit(state="closed"))

    def set_labels(self, number: int, labels: Sequence[str]) -> None:
        issue = self.repo.get_issue(number)
        current = self._call(
            f"GET {self.api}/issues/{number}/labels", lambda: [x.name for x in issue.get_labels()]
        )
        self._set_pr_labels(number, None, labels, current)

    # ---- diff, reviews, statuses -------------------------------------------------------
    def _files(self, pr: Any) -> list[Any]:
        return self._call(f"GET {self.api}/pulls/{pr.number}/files", lambda: list(pr.get_files()))

    def _parent_sha(self, sha: str) -> str:
        commit = self._call(f"GET {self.api}/git/commits/{sha}", lambda: self.repo.get_git_commit(sha))
        if not commit.parents:
            raise InputError(f"GitHub commit {sha[:12]} has no parent")
        return str(commit.parents[0].sha)

    def changed_files(self, number: int) -> list[tuple[str, str | None, str | None, str | None]]:
        pr = self._pull(number)
        if pr.merged_at is not None and pr.merge_commit_sha:
            new_ref = str(pr.merge_commit_sha)
            old_ref = self._parent_sha(new_ref)
        else:
            new_ref = str(pr.head.sha)
            base_ref = str(pr.base.sha)
            cmp = self._call(
                f"GET {self.api}/compare/{base_ref}...{new_ref}", lambda: self.repo.compare(base_ref, new_ref)
            )
            old_ref = str(cmp.merge_base_commit.sha)
        files = self._files(pr)
        total = int(pr.changed_files or 0)
        self._complete[number] = len(files) < FILES_CAP and len(files) >= total
        rows: list[tuple[str, str | None, str | None, str | None]] = []
        for f in files:
            path = str(f.filename)
            old_path = str(f.previous_filename) if f.status == "renamed" and f.previous_filename else None
            old_text = None if f.status == "added" else self.read_file(old_path or path, old_ref)
            new_text = None if f.status == "removed" else self.read_file(path, new_ref)
            rows.append((path, old_path, old_text, new_text))
        return rows

    def changed_files_complete(self, number: int) -> bool:
        """False when GitHub's 3000-file cap hid files of the proposal (the classifier fails closed)."""
        if number not in self._complete:
            self.changed_files(number)
        return self._complete[number]

    def reviews(self, number: int) -> list[Review]:
        pr = self.repo.get_pull(number)
        raw = self._call(f"GET {self.api}/pulls/{number}/reviews", lambda: list(pr.get_reviews()))
        return [
            Review(
                login=str(r.user.login) if r.user is not None else "ghost",
                state=str(r.state),
                commit_sha=str(r.commit_id or ""),
                submitted_at=_iso(r.submitted_at) or "",
            )
            for r in raw
        ]

    def set_status(self, sha: str, status: CommitStatus) -> None:
        """Post a commit status (the gate's `aiops/approval-gate`); branch protection pins the App id."""
        from github.GithubObject import NotSet

        commit = self.repo.get_commit(sha)
        desc = status.description
        if len(desc) > STATUS_DESCRIPTION_MAX:
            desc = desc[: STATUS_DESCRIPTION_MAX - 1] + "…"
        self._call(
            f"POST {self.api}/statuses/{sha}",
            lambda: commit.create_status(
                status.state,
                target_url=status.target_url if status.target_url else NotSet,
                description=desc,
                context=status.context,
            ),
        )

    def statuses(self, sha: str) -> list[CommitStatus]:
        """The latest status per context (the API lists newest first); app_id is not exposed on statuses."""
        commit = self.repo.get_commit(sha)
        raw = self._call(f"GET {self.api}/statuses/{sha}", lambda: list(commit.get_statuses()))
        seen: dict[str, CommitStatus] = {}
        for s in raw:
            if s.context in seen:
                continue
            seen[s.context] = CommitStatus(
                context=str(s.context),
                state=cast(StatusState, s.state),
                description=str(s.description or ""),
                target_url=s.target_url,
                creator=str(s.creator.login) if s.creator is not None else None,
                app_id=None,
            )
        return list(reversed(list(seen.values())))

    # ---- comments and the dashboard ----------------------------------------------------
    def _raw_comments(self, number: int) -> list[Any]:
        issue = self.repo.get_issue(number)
        return self._call(f"GET {self.api}/issues/{number}/comments", lambda: list(issue.get_comments()))

    def comments(self, number: int) -> list[Comment]:
        return [
            Comment(
                id=int(c.id),
                author=str(c.user.login) if c.user is not None else "ghost",
                body=str(c.body or ""),
                created_at=_iso(c.created_at) or "",
            )
            for c in self._raw_comments(number)
        ]

    def _own_comment(self, number: int, match: Callable[[str], bool]) -> Any | None:
        for c in self._raw_comments(number):
            if c.user is not None and c.user.login in self.own_logins and match(str(c.body or "")):
                return c
        return None

    def add_comment(self, number: int, body: str) -> None:
        issue = self.repo.get_issue(number)
        self._call(
            f"POST {self.api}/issues/{number}/comments",
            lambda: issue.create_comment(body),
            lookup=lambda: self._own_comment(number, lambda text: text == body),
        )

    def upsert_comment(self, number: int, name: str, body: str) -> bool:
        marker = comment_marker(name)
        text = body if marker in body else f"{marker}\n{body}"
        found = self._own_comment(number, lambda t: marker in t)
        if found is not None:
            if str(found.body) == text:
                return False
            self._call(f"PATCH {self.api}/issues/comments/{found.id}", lambda: found.edit(text))
            return True
        issue = self.repo.get_issue(number)
        self._call(
            f"POST {self.api}/issues/{number}/comments",
            lambda: issue.create_comment(text),
            lookup=lambda: self._own_comment(number, lambda t: marker in t),
        )
        return True

    def _dashboard_issue(self) -> Any | None:
        def fetch() -> Any | None:
            for issue in self.repo.get_issues(state="open"):
                # `pull_request` is absent on plain issues (reading it would GET each one): use the URL
                if "/pull/" in str(issue.html_url or "") or issue.user is None:
                    continue
                if issue.user.login in self.own_logins and DASHBOARD_MARKER in str(issue.body or ""):
                    return issue
            return None

        return self._call(f"GET {self.api}/issues?state=open", fetch)

    def upsert_dashboard(self, section: str, body: str, *, title: str = "aiops dashboard") -> bool:
        issue = self._dashboard_issue()
        if issue is not None:
            current = str(issue.body or "")
            new_text = replace_section(current, section, body)
            if new_text == current:
                return False
            self._call(f"PATCH {self.api}/issues/{issue.number}", lambda: issue.edit(body=new_text))
            return True
        text = replace_section(f"{DASHBOARD_MARKER}\n# {title}\n", section, body)
        self._call(
            f"POST {self.api}/issues",
            lambda: self.repo.create_issue(title=title, body=text),
            lookup=self._dashboard_issue,
        )
        return True

    # ---- merge (the App merges trivial proposals the gate passed, DESIGN §4.10) ----------
    def merge(
        self, number: int, *, by: str = "", message_extra: str = "", sha: str | None = None
    ) -> Proposal:
        """Merge commit of the proposal, guarded by the head sha the gate judged (GitHub refuses otherwise).

        The caller checks approval first; branch protection still has the last word (405 → refusal).
        """
        from github import GithubException

        pr = self._pull(number)
        if pr.state != "open":
            raise InputError(f"--pr {number}: proposal is {self._to_proposal(pr).state}, not open")
        head = sha or str(pr.head.sha)
        meta = _decode_meta(pr.body) or {}
        trailers = [f"Aiops-Id: {meta['id']}"] if meta.get("id") else []
        if by:
            trailers.append(f"Merged-by: {by}")
        message = (message_extra.rstrip() + "\n\n" if message_extra else "") + "\n".join(trailers)
        what = f"PUT {self.api}/pulls/{number}/merge"

        def merged() -> Proposal | None:
            p = self.get_proposal(number)
            return p if p.state == "merged" else None

        try:
            self._call(
                what,
                lambda: pr.merge(
                    commit_title=f"Merge proposal #{number} from {pr.head.ref}",
                    commit_message=message,
                    merge_method="merge",
                    sha=head,
                ),
                lookup=merged,
                allow=(405, 409),
            )
        except GithubException as exc:
            reason = str((exc.data or {}).get("message", "")) if isinstance(exc.data, dict) else ""
            if exc.status == 409:
                raise InputError(f"GitHub {what}: 409 {reason}: the head moved since it was judged") from exc
            raise PolicyRefusal(f"GitHub {what}: 405 {reason}".rstrip()) from exc
        return self.get_proposal(number)

    # ---- revert ------------------------------------------------------------------------
    def revert_files(self, number: int) -> dict[str, str | None]:
        pr = self._pull(number)
        if pr.merged_at is None or not pr.merge_commit_sha:
            state = "open" if pr.state == "open" else "closed"
            raise InputError(f"--pr {number}: only a merged proposal can be reverted (it is {state})")
        merge_sha = str(pr.merge_commit_sha)
        parent = self._parent_sha(merge_sha)
        before: dict[str, str | None] = {}
        for f in self._files(pr):
            path = str(f.filename)
            if path.startswith("history/") and f.status == "added":
                continue  # records are append-only: a revert never removes them (DESIGN §4.5)
            if f.status == "renamed" and f.previous_filename:
                before[path] = None
                before[str(f.previous_filename)] = self.read_file(str(f.previous_filename), parent)
            else:
                before[path] = None if f.status == "added" else self.read_file(path, parent)
        now = {path: self.read_file(path) for path in before}
        changed = [p for p in before if now[p] != before[p]]
        after = {p: self.read_file(p, merge_sha) for p in changed}
        return revert_texts(number, {p: before[p] for p in changed}, after, now)
