"""The GitHub forge against `responses`: every call's method, path and JSON body is asserted.

The client is built as in production (lazy, PyGithub's own retry off: the forge retries itself)
without PyGithub's throttle; the forge's sleep is a recorder, so retry waits are asserted, not slept.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
import responses
from github import Auth, Github
from responses import matchers, registries

from aiops.errors import InputError, PolicyRefusal, UnreachableError
from aiops.gitops.forge import CommitStatus, comment_marker, section_markers
from aiops.gitops.github_forge import GitHubAuthError, GitHubForge
from aiops.phr.render import encode_marker
from tests import ghpayloads as P
from tests.ghpayloads import BOT, M, MOCK, sha

KEY = "rightsize-todo-deployment-todo-backend"
BRANCH = f"aiops/{KEY}"
META = {"key": KEY, "id": f"20261125-{KEY}", "kind": "rightsize", "proposed": {"backend": {"cpu": "130m"}}}
BODY = "## Right-size todo-backend\n\nwhy\n\n" + encode_marker(META)
VALUES = "manifests/environments/minikube/todo-backend.yaml"
RECORD = f"history/prompts/2026/11/20261125-{KEY}--recommendation.md"
NOW = 1_800_000_000.0


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def make_forge(sleeps: Sleeps) -> GitHubForge:
    client = Github(
        auth=Auth.Token("test-token"),
        lazy=True,
        retry=None,
        seconds_between_requests=None,
        seconds_between_writes=None,
    )
    return GitHubForge(client, P.REPO, base="main", sleep=sleeps, clock=lambda: NOW)


@pytest.fixture
def forge(sleeps: Sleeps) -> GitHubForge:
    return make_forge(sleeps)


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as r:
        yield r


@pytest.fixture
def ordered() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True, registry=registries.OrderedRegistry) as r:
        yield r


def calls(r: responses.RequestsMock) -> list[str]:
    """`METHOD /path` of every request, in order (query strings left out)."""
    out = []
    for c in r.calls:
        url = str(c.request.url)
        out.append(f"{c.request.method} {unquote(urlsplit(url).path).removeprefix('/repos/' + P.REPO)}")
    return out


def body_of(r: responses.RequestsMock, i: int) -> Any:
    raw = r.calls[i].request.body
    return json.loads(raw) if raw else None


def query_of(r: responses.RequestsMock, i: int) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(str(r.calls[i].request.url)).query))


def json_body(data: Any) -> Any:
    return matchers.json_params_matcher(data)


def mock_base_commit(r: responses.RequestsMock, base: str = sha("a"), tree_sha: str = sha("b")) -> None:
    r.get(f"{M}/git/ref/heads/main", json=P.ref("heads/main", base))
    r.get(f"{M}/git/commits/{base}", json=P.git_commit(base, tree_sha))


def mock_commit(r: responses.RequestsMock, files: list[dict[str, Any]], new: str = sha("c")) -> None:
    r.post(
        f"{M}/git/trees",
        status=201,
        json=P.tree(sha("d"), [(f["path"], "blob") for f in files]),
        match=[json_body({"base_tree": sha("b"), "tree": files})],
    )
    r.post(
        f"{M}/git/commits",
        status=201,
        json=P.git_commit(new, sha("d"), (sha("a"),), "aiops: right-size"),
        match=[json_body({"message": "aiops: right-size", "tree": sha("d"), "parents": [sha("a")]})],
    )


FILES = {VALUES: "resources: {}\n", RECORD: "record\n"}
TREE = [
    {"path": RECORD, "mode": "100644", "type": "blob", "content": "record\n"},
    {"path": VALUES, "mode": "100644", "type": "blob", "content": "resources: {}\n"},
]


def propose(forge: GitHubForge, **kw: Any) -> Any:
    args: dict[str, Any] = {
        "branch": BRANCH,
        "title": "Right-size todo-backend",
        "body": BODY,
        "files": FILES,
        "message": "aiops: right-size",
        "labels": ["risk:low"],
        "reviewers": ["org/architects", "alice"],
        "meta": META,
    }
    args.update(kw)
    return forge.propose(**args)


# ---- propose ---------------------------------------------------------------------------------
def test_propose_makes_one_commit_with_all_files_then_the_pr_labels_and_reviewers(
    forge: GitHubForge, rsps: responses.RequestsMock
) -> None:
    rsps.get(
        f"{M}/pulls",
        json=[],
        match=[matchers.query_param_matcher({"state": "open", "head": f"acme:{BRANCH}", "base": "main"})],
    )
    mock_base_commit(rsps)
    mock_commit(rsps, TREE)
    rsps.post(
        f"{M}/git/refs",
        status=201,
        json=P.ref(f"heads/{BRANCH}", sha("c")),
        match=[json_body({"ref": f"refs/heads/{BRANCH}", "sha": sha("c")})],
    )
    rsps.post(
        f"{M}/pulls",
        status=201,
        json=P.pr(7, body=BODY),
        match=[json_body({"base": "main", "head": BRANCH, "title": "Right-size todo-backend", "body": BODY})],
    )
    rsps.get(f"{M}/labels/risk%3Alow", status=404, json=P.error("Not Found"))
    rsps.post(
        f"{M}/labels",
        status=201,
        json=P.label("risk:low"),
        match=[json_body({"name": "risk:low", "color": "0e8a16", "description": "aiops risk tier low"})],
    )
    rsps.put(f"{M}/issues/7/labels", json=[P.label("risk:low")], match=[json_body(["risk:low"])])
    rsps.post(
        f"{M}/pulls/7/requested_reviewers",
        status=201,
        json=P.pr(7, body=BODY),
        match=[json_body({"reviewers": ["alice"], "team_reviewers": ["architects"]})],
    )
    p = propose(forge)
    assert calls(rsps) == [
        "GET /pulls",
        "GET /git/ref/heads/main",
        f"GET /git/commits/{sha('a')}",
        "POST /git/trees",
        "POST /git/commits",
        "POST /git/refs",
        "POST /pulls",
        "GET /labels/risk:low",
        "POST /labels",
        "PUT /issues/7/labels",
        "POST /pulls/7/requested_reviewers",
    ]
    assert (p.number, p.branch, p.state, p.head_sha, p.author) == (7, BRANCH, "open", sha("c"), BOT)
    assert p.key == KEY and p.meta["proposed"] == META["proposed"]
    assert p.labels == ("risk:low",)
