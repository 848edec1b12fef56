"""JSON payloads shaped as the GitHub REST API returns them (the fields PyGithub reads, URLs included).

URLs inside payloads are `https://api.github.com/...` without a port; mocks are registered at
`MOCK` (with `:443`), because PyGithub puts the port in the request URL (testinfra §4).
"""

from __future__ import annotations

import base64
from typing import Any

API = "https://api.github.com"
MOCK = "https://api.github.com:443"
HTML = "https://github.com"
OWNER = "acme"
NAME = "deploy"
REPO = f"{OWNER}/{NAME}"
R = f"{API}/repos/{REPO}"
M = f"{MOCK}/repos/{REPO}"
BOT = "aiops-bot[bot]"
T0 = "2026-11-20T10:00:00Z"


def sha(c: str) -> str:
    """A 40-hex sha made of one repeated character."""
    return (c * 40)[:40]


def user(login: str, uid: int = 1) -> dict[str, Any]:
    kind = "Bot" if login.endswith("[bot]") else "User"
    return {
        "login": login,
        "id": uid,
        "node_id": f"U_{uid}",
        "type": kind,
        "url": f"{API}/users/{login}",
        "html_url": f"{HTML}/{login}",
        "site_admin": False,
    }


def label(name: str, lid: int = 1) -> dict[str, Any]:
    return {
        "id": lid,
        "node_id": f"L_{lid}",
        "url": f"{R}/labels/{name}",
        "name": name,
        "color": "ededed",
        "default": False,
        "description": None,
    }


def pr(
    number: int,
    *,
    branch: str = "aiops/rightsize-todo-deployment-todo-backend",
    body: str = "",
    title: str = "Right-size todo/todo-backend",
    state: str = "open",
    merged_at: str | None = None,
    closed_at: str | None = None,
    head_sha: str = sha("c"),
    base_sha: str = sha("a"),
    merge_commit_sha: str | None = None,
    labels: tuple[str, ...] = (),
    author: str = BOT,
    changed_files: int = 1,
) -> dict[str, Any]:
    """A pull request as `GET /repos/{o}/{r}/pulls/{n}` (and the list) returns it."""
    repo_min = {"id": 10, "name": NAME, "full_name": REPO, "url": R, "html_url": f"{HTML}/{REPO}"}
    return {
        "url": f"{R}/pulls/{number}",
        "id": 1000 + number,
        "node_id": f"PR_{number}",
        "html_url": f"{HTML}/{REPO}/pull/{number}",
        "issue_url": f"{R}/issues/{number}",
        "commits_url": f"{R}/pulls/{number}/commits",
        "review_comments_url": f"{R}/pulls/{number}/comments",
        "comments_url": f"{R}/issues/{number}/comments",
        "statuses_url": f"{R}/statuses/{head_sha}",
        "number": number,
        "state": state,
        "locked": False,
        "title": title,
        "user": user(author, 99),
        "body": body,
        "labels": [label(n, i) for i, n in enumerate(labels, 1)],
        "created_at": T0,
        "updated_at": T0,
        "closed_at": closed_at,
        "merged_at": merged_at,
        "merge_commit_sha": merge_commit_sha,
        "draft": False,
        "head": {
            "label": f"{OWNER}:{branch}",
            "ref": branch,
            "sha": head_sha,
            "user": user(OWNER, 2),
            "repo": repo_min,
        },
        "base": {
            "label": f"{OWNER}:main",
            "ref": "main",
            "sha": base_sha,
            "user": user(OWNER, 2),
            "repo": repo_min,
        },
        "changed_files": changed_files,
    }


def ref(name: str, at: str) -> dict[str, Any]:
    """`GET /git/ref/heads/x` answers with the plural `refs/` URL (PATCH and DELETE go there)."""
    return {
        "ref": f"refs/{name}",
        "node_id": "REF_1",
        "url": f"{R}/git/refs/{name}",
        "object": {"type": "commit", "sha": at, "url": f"{R}/git/commits/{at}"},
    }


def git_commit(at: str, tree: str, parents: tuple[str, ...] = (), message: str = "base") -> dict[str, Any]:
    who = {"name": "Alice", "email": "alice@example.com", "date": T0}
    return {
        "sha": at,
        "node_id": "C_1",
        "url": f"{R}/git/commits/{at}",
        "html_url": f"{HTML}/{REPO}/commit/{at}",
        "author": who,
        "committer": who,
        "message": message,
        "tree": {"sha": tree, "url": f"{R}/git/trees/{tree}"},
        "parents": [
            {"sha": p, "url": f"{R}/git/commits/{p}", "html_url": f"{HTML}/{REPO}/commit/{p}"}
            for p in parents
        ],
        "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None},
    }


def tree(at: str, entries: list[tuple[str, str]], truncated: bool = False) -> dict[str, Any]:
    """entries: (path, type) with type blob or tree."""
    return {
        "sha": at,
        "url": f"{R}/git/trees/{at}",
        "tree": [
            {
                "path": p,
                "mode": "100644" if t == "blob" else "040000",
                "type": t,
                "sha": sha("e"),
                "size": 10,
                "url": f"{R}/git/{t}s/{sha('e')}",
            }
            for p, t in entries
        ],
        "truncated": truncated,
    }


def content(path: str, text: str, blob_sha: str = sha("f"), *, large: bool = False) -> dict[str, Any]:
    """`GET /contents/{path}`: base64 content, or (over 1 MB) empty content with encoding "none"."""
    data = text.encode("utf-8")
    return {
        "type": "file",
        "encoding": "none" if large else "base64",
        "size": len(data),
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "content": "" if large else base64.encodebytes(data).decode("ascii"),
        "sha": blob_sha,
        "url": f"{R}/contents/{path}?ref=main",
        "git_url": f"{R}/git/blobs/{blob_sha}",
        "html_url": f"{HTML}/{REPO}/blob/main/{path}",
        "download_url": f"https://raw.githubusercontent.com/{REPO}/main/{path}",
        "_links": {"self": f"{R}/contents/{path}?ref=main", "git": f"{R}/git/blobs/{blob_sha}"},
    }


def blob(text: str, blob_sha: str = sha("f")) -> dict[str, Any]:
    data = text.encode("utf-8")
    return {
        "content": base64.encodebytes(data).decode("ascii"),
        "encoding": "base64",
        "url": f"{R}/git/blobs/{blob_sha}",
        "sha": blob_sha,
        "size": len(data),
        "node_id": "B_1",
    }


def pr_commit(at: str, login: str | None) -> dict[str, Any]:
    """A commit as listed by `GET /pulls/{n}/commits` or in a comparison; `author` is the GitHub user."""
    who = {"name": login or "Somebody", "email": "x@example.com", "date": T0}
    return {
        "sha": at,
        "node_id": "C_2",
        "url": f"{R}/commits/{at}",
        "html_url": f"{HTML}/{REPO}/commit/{at}",
        "commit": {
            "url": f"{R}/git/commits/{at}",
            "author": who,
            "committer": who,
            "message": "change",
            "tree": {"sha": sha("9"), "url": f"{R}/git/trees/{sha('9')}"},
            "comment_count": 0,
        },
        "author": user(login, 5) if login else None,
        "committer": user("web-flow", 6),
        "parents": [],
    }


def compare(base_sha: str, head_sha: str, merge_base: str, commits: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "url": f"{R}/compare/{base_sha}...{head_sha}",
        "html_url": f"{HTML}/{REPO}/compare/{base_sha}...{head_sha}",
        "permalink_url": f"{HTML}/{REPO}/compare/acme:{base_sha}...acme:{head_sha}",
        "diff_url": f"{HTML}/{REPO}/compare/{base_sha}...{head_sha}.diff",
        "patch_url": f"{HTML}/{REPO}/compare/{base_sha}...{head_sha}.patch",
        "base_commit": pr_commit(base_sha, "alice"),
        "merge_base_commit": pr_commit(merge_base, "alice"),
        "status": "ahead" if commits else "identical",
        "ahead_by": len(commits),
        "behind_by": 0,
        "total_commits": len(commits),
        "commits": commits,
        "files": [],
    }


def pr_file(filename: str, status: str = "modified", previous: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "sha": sha("d"),
        "filename": filename,
        "status": status,
        "additions": 1,
        "deletions": 1,
        "changes": 2,
        "blob_url": f"{HTML}/{REPO}/blob/{sha('c')}/{filename}",
        "raw_url": f"{HTML}/{REPO}/raw/{sha('c')}/{filename}",
        "contents_url": f"{R}/contents/{filename}?ref={sha('c')}",
        "patch": "@@ -1 +1 @@\n-a\n+b",
    }
    if previous:
        out["previous_filename"] = previous
    return out


def comment(cid: int, number: int, body: str, login: str = BOT) -> dict[str, Any]:
    return {
        "id": cid,
        "node_id": f"IC_{cid}",
        "url": f"{R}/issues/comments/{cid}",
        "html_url": f"{HTML}/{REPO}/pull/{number}#issuecomment-{cid}",
        "issue_url": f"{R}/issues/{number}",
        "body": body,
        "user": user(login, 7),
        "created_at": T0,
        "updated_at": T0,
        "author_association": "NONE",
    }


def issue(
    number: int, body: str, *, login: str = BOT, title: str = "aiops dashboard", is_pr: bool = False
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": 2000 + number,
        "node_id": f"I_{number}",
        "url": f"{R}/issues/{number}",
        "repository_url": R,
        "labels_url": f"{R}/issues/{number}/labels{{/name}}",
        "comments_url": f"{R}/issues/{number}/comments",
        "html_url": f"{HTML}/{REPO}/issues/{number}",
        "number": number,
        "state": "open",
        "title": title,
        "body": body,
        "user": user(login, 8),
        "labels": [],
        "comments": 0,
        "created_at": T0,
        "updated_at": T0,
        "closed_at": None,
    }
    if is_pr:  # the issues API lists pull requests too; their html_url is /pull/N
        out["html_url"] = f"{HTML}/{REPO}/pull/{number}"
        out["pull_request"] = {"url": f"{R}/pulls/{number}", "html_url": f"{HTML}/{REPO}/pull/{number}"}
    return out


def review(
    rid: int, number: int, login: str, state: str, commit_id: str, submitted_at: str = T0
) -> dict[str, Any]:
    return {
        "id": rid,
        "node_id": f"R_{rid}",
        "user": user(login, 11),
        "body": "",
        "state": state,
        "html_url": f"{HTML}/{REPO}/pull/{number}#pullrequestreview-{rid}",
        "pull_request_url": f"{R}/pulls/{number}",
        "submitted_at": submitted_at,
        "commit_id": commit_id,
        "author_association": "MEMBER",
    }


def status(
    sid: int, context: str, state: str, description: str, creator: str, at: str = sha("c")
) -> dict[str, Any]:
    return {
        "url": f"{R}/statuses/{at}",
        "id": sid,
        "node_id": f"S_{sid}",
        "state": state,
        "description": description,
        "target_url": "https://ci.example/run/1",
        "context": context,
        "created_at": T0,
        "updated_at": T0,
        "creator": user(creator, 12),
    }


def error(message: str, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"message": message, "documentation_url": "https://docs.github.com/rest"}
    if errors is not None:
        out["errors"] = errors
    return out
