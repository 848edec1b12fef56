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
from tests.ghpayloads import BOT, MOCK, M, sha

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


def test_propose_refuses_when_an_open_pr_exists_and_writes_nothing(
    forge: GitHubForge, rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{M}/pulls", json=[P.pr(7, body=BODY)])
    with pytest.raises(InputError, match="already has open proposal #7"):
        propose(forge)
    assert calls(rsps) == ["GET /pulls"]


def test_find_proposals_by_key_is_the_no_op_lookup(forge: GitHubForge, rsps: responses.RequestsMock) -> None:
    rsps.get(
        f"{M}/pulls",
        json=[P.pr(7, body=BODY, labels=("risk:low",))],
        match=[matchers.query_param_matcher({"state": "open", "head": f"acme:{BRANCH}", "base": "main"})],
    )
    [p] = forge.find_proposals(key=KEY)
    assert (p.number, p.state, p.key, p.labels) == (7, "open", KEY, ("risk:low",))
    assert p.meta["proposed"] == META["proposed"] and p.url.endswith("/pull/7")
    assert calls(rsps) == ["GET /pulls"]


def test_find_proposals_closed_means_closed_unmerged_with_a_marker(
    forge: GitHubForge, rsps: responses.RequestsMock
) -> None:
    closed = P.pr(3, body=BODY, state="closed", closed_at="2026-11-21T09:00:00Z")
    merged = P.pr(
        4,
        body=BODY,
        state="closed",
        closed_at=P.T0,
        merged_at="2026-11-21T10:00:00Z",
        merge_commit_sha=sha("m"),
    )
    no_marker = P.pr(5, body="a person's PR on an aiops/ branch", state="closed", closed_at=P.T0)
    altered = P.pr(6, body="<!-- aiops:meta !!notbase64 -->", state="closed", closed_at=P.T0)
    other_branch = P.pr(8, body=BODY, branch="feature/x", state="closed", closed_at=P.T0)
    copied = P.pr(9, body=BODY, state="closed", closed_at=P.T0, author="mallory")
    for _ in range(2):
        rsps.get(
            f"{M}/pulls",
            json=[closed, merged, no_marker, altered, other_branch, copied],
            match=[matchers.query_param_matcher({"state": "closed", "base": "main"})],
        )
    [snoozed] = forge.find_proposals(state="closed")
    assert (snoozed.number, snoozed.state, snoozed.closed_at, snoozed.merged_at) == (
        3,
        "closed",
        "2026-11-21T09:00:00Z",
        None,
    )
    [done] = forge.find_proposals(state="merged")
    assert (done.number, done.state, done.merge_sha) == (4, "merged", sha("m"))


def test_find_proposals_follows_pagination(forge: GitHubForge, rsps: responses.RequestsMock) -> None:
    page2 = f"{P.API}/repositories/10/pulls?state=all&base=main&page=2"
    rsps.get(
        f"{M}/pulls",
        json=[P.pr(1, body=BODY)],
        headers={"Link": f'<{page2}>; rel="next", <{page2}>; rel="last"'},
        match=[matchers.query_param_matcher({"state": "all", "base": "main"})],
    )
    rsps.get(
        f"{MOCK}/repositories/10/pulls",
        json=[P.pr(2, body=BODY, state="closed", closed_at=P.T0)],
        match=[matchers.query_param_matcher({"state": "all", "base": "main", "page": "2"})],
    )
    assert [(p.number, p.state) for p in forge.find_proposals(state="all")] == [(1, "open"), (2, "closed")]


# ---- update ----------------------------------------------------------------------------------
def test_update_replaces_the_single_commit_on_the_current_base_keeping_peoples_labels(
    forge: GitHubForge, rsps: responses.RequestsMock
) -> None:
    new_body = BODY.replace("why", "why, again")
    rsps.get(f"{M}/pulls/7", json=P.pr(7, body=BODY, labels=("keep-me", "risk:low")))
    rsps.get(f"{M}/pulls/7/commits", json=[P.pr_commit(sha("c"), BOT)])
    mock_base_commit(rsps)
    mock_commit(rsps, TREE, new=sha("5"))
    rsps.get(f"{M}/git/ref/heads/{BRANCH}", json=P.ref(f"heads/{BRANCH}", sha("c")))
    rsps.patch(
        f"{M}/git/refs/heads/{BRANCH}",
        json=P.ref(f"heads/{BRANCH}", sha("5")),
        match=[json_body({"sha": sha("5"), "force": True})],
    )
    rsps.patch(
        f"{M}/pulls/7",
        json=P.pr(7, body=new_body, title="T2", head_sha=sha("5"), labels=("keep-me", "risk:low")),
        match=[json_body({"title": "T2", "body": new_body})],
    )
    rsps.get(f"{M}/labels/risk%3Amedium", json=P.label("risk:medium"))
    rsps.put(
        f"{M}/issues/7/labels",
        json=[P.label("keep-me"), P.label("risk:medium")],
        match=[json_body(["keep-me", "risk:medium"])],
    )
    p = forge.update_proposal(
        7, title="T2", body=new_body, files=FILES, message="aiops: right-size", labels=["risk:medium"]
    )
    assert calls(rsps) == [
        "GET /pulls/7",
        "GET /pulls/7/commits",
        "GET /git/ref/heads/main",
        f"GET /git/commits/{sha('a')}",
        "POST /git/trees",
        "POST /git/commits",
        f"GET /git/ref/heads/{BRANCH}",
        f"PATCH /git/refs/heads/{BRANCH}",
        "PATCH /pulls/7",
        "GET /labels/risk:medium",
        "PUT /issues/7/labels",
    ]
    assert (p.head_sha, p.title, p.labels) == (sha("5"), "T2", ("keep-me", "risk:medium"))
    assert p.meta["key"] == KEY


def test_update_refuses_to_force_push_over_a_persons_commit(
    forge: GitHubForge, rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{M}/pulls/7", json=P.pr(7, body=BODY))
    rsps.get(f"{M}/pulls/7/commits", json=[P.pr_commit(sha("c"), BOT), P.pr_commit(sha("6"), "alice")])
    with pytest.raises(PolicyRefusal, match="commits made by a person"):
        forge.update_proposal(7, title="T", body=BODY, files=FILES, message="m")
    assert calls(rsps) == ["GET /pulls/7", "GET /pulls/7/commits"]


def test_update_counts_a_commit_without_a_github_user_as_a_persons(
    forge: GitHubForge, rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{M}/pulls/7", json=P.pr(7, body=BODY))
    rsps.get(f"{M}/pulls/7/commits", json=[P.pr_commit(sha("c"), None)])
    with pytest.raises(PolicyRefusal):
        forge.update_proposal(7, title="T", body=BODY, files=FILES, message="m")


def test_update_of_a_closed_proposal_is_refused(forge: GitHubForge, rsps: responses.RequestsMock) -> None:
    rsps.get(f"{M}/pulls/7", json=P.pr(7, body=BODY, state="closed", closed_at=P.T0))
    with pytest.raises(InputError, match="proposal is closed"):
        forge.update_proposal(7, title="T", body=BODY, files=FILES, message="m")


# ---- close, labels, comments -----------------------------------------------------------------
def test_close_when_cleared_comments_then_closes(forge: GitHubForge, rsps: responses.RequestsMock) -> None:
    rsps.get(f"{M}/pulls/7", json=P.pr(7, body=BODY))
    rsps.post(
        f"{M}/issues/7/comments",
        status=201,
        json=P.comment(50, 7, "The condition cleared."),
        match=[json_body({"body": "The condition cleared."})],
    )
    rsps.patch(
        f"{M}/pulls/7",
        json=P.pr(7, body=BODY, state="closed", closed_at=P.T0),
        match=[json_body({"state": "closed"})],
    )
    forge.close_proposal(7, comment="The condition cleared.")
    assert calls(rsps) == ["GET /pulls/7", "POST /issues/7/comments", "PATCH /pulls/7"]


def test_close_of_an_already_closed_proposal_does_nothing(
    forge: GitHubForge, rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{M}/pulls/7", json=P.pr(7, body=BODY, state="closed", closed_at=P.T0))
    forge.close_proposal(7, comment="x")
    assert calls(rsps) == ["GET /pulls/7"]


def test_set_labels_changes_only_risk_labels_and_is_a_no_op_when_equal(
    forge: GitHubForge, rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{M}/issues/7/labels", json=[P.label("risk:low"), P.label("needs-docs")])
    forge.set_labels(7, ["risk:low"])
    assert calls(rsps) == ["GET /issues/7/labels"]


def test_upsert_comment_creates_once(forge: GitHubForge, rsps: responses.RequestsMock) -> None:
    marker = comment_marker("apply-metrics")
    rsps.get(f"{M}/issues/7/comments", json=[P.comment(1, 7, f"{marker}\nfake", login="mallory")])
    rsps.post(
        f"{M}/issues/7/comments",
        status=201,
        json=P.comment(2, 7, f"{marker}\np95 120ms"),
        match=[json_body({"body": f"{marker}\np95 120ms"})],
    )
    assert forge.upsert_comment(7, "apply-metrics", "p95 120ms") is True
    assert calls(rsps) == ["GET /issues/7/comments", "POST /issues/7/comments"]


def test_upsert_comment_edits_in_place_and_is_a_no_op_when_unchanged(
    forge: GitHubForge, rsps: responses.RequestsMock
) -> None:
    marker = comment_marker("apply-metrics")
    rsps.get(
        f"{M}/issues/7/comments",
        json=[P.comment(9, 7, "hello", login="alice"), P.comment(10, 7, f"{marker}\nold")],
    )
    rsps.patch(
        f"{M}/issues/comments/10",
        json=P.comment(10, 7, f"{marker}\nnew"),
        match=[json_body({"body": f"{marker}\nnew"})],
    )
    assert forge.upsert_comment(7, "apply-metrics", "new") is True
    rsps.replace(responses.GET, f"{M}/issues/7/comments", json=[P.comment(10, 7, f"{marker}\nnew")])
    assert forge.upsert_comment(7, "apply-metrics", "new") is False
    assert calls(rsps) == ["GET /issues/7/comments", "PATCH /issues/comments/10", "GET /issues/7/comments"]


def test_comments_reviews_and_statuses_are_read_with_their_authors(
    forge: GitHubForge, rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{M}/issues/7/comments", json=[P.comment(1, 7, "hi", login="alice")])
    page2 = f"{P.API}/repositories/10/pulls/7/reviews?page=2"
    rsps.get(
        f"{M}/pulls/7/reviews",
        json=[P.review(1, 7, "alice", "COMMENTED", sha("c"))],
        headers={"Link": f'<{page2}>; rel="next"'},
    )
    rsps.get(
        f"{MOCK}/repositories/10/pulls/7/reviews",
        json=[P.review(2, 7, "alice", "APPROVED", sha("c"), "2026-11-20T11:00:00Z")],
    )
    rsps.get(
        f"{M}/statuses/{sha('c')}",
        json=[
            P.status(3, "aiops/approval-gate", "success", "approved", "aiops[bot]"),
            P.status(2, "aiops/approval-gate", "pending", "waiting", "aiops[bot]"),
            P.status(1, "ci/tests", "failure", "red", "github-actions[bot]"),
        ],
    )
    [c] = forge.comments(7)
    assert (c.id, c.author, c.body, c.created_at) == (1, "alice", "hi", P.T0)
    reviews = forge.reviews(7)
    assert [(r.login, r.state, r.commit_sha, r.submitted_at) for r in reviews] == [
        ("alice", "COMMENTED", sha("c"), P.T0),
        ("alice", "APPROVED", sha("c"), "2026-11-20T11:00:00Z"),
    ]
    st = {s.context: s for s in forge.statuses(sha("c"))}
    assert (st["aiops/approval-gate"].state, st["aiops/approval-gate"].creator) == ("success", "aiops[bot]")
    assert st["ci/tests"].state == "failure" and st["aiops/approval-gate"].app_id is None


def test_set_status_posts_the_commit_status(forge: GitHubForge, rsps: responses.RequestsMock) -> None:
    rsps.post(
        f"{M}/statuses/{sha('c')}",
        status=201,
        json=P.status(1, "aiops/approval-gate", "pending", "x" * 139 + "…", BOT),
        match=[
            json_body(
                {
                    "state": "pending",
                    "target_url": "https://ci.example/run/1",
                    "description": "x" * 139 + "…",
                    "context": "aiops/approval-gate",
                }
            )
        ],
    )
    forge.set_status(
        sha("c"),
        CommitStatus("aiops/approval-gate", "pending", "x" * 200, target_url="https://ci.example/run/1"),
    )


# ---- dashboard -------------------------------------------------------------------------------
def test_dashboard_issue_is_created_once_with_the_section(
    forge: GitHubForge, rsps: responses.RequestsMock
) -> None:
    begin, end = section_markers("proposals")
    rsps.get(
        f"{M}/issues",
        json=[
            P.issue(3, "<!-- aiops:dashboard -->", login="alice"),
            P.issue(4, "<!-- aiops:dashboard -->", is_pr=True),
        ],
        match=[matchers.query_param_matcher({"state": "open"})],
    )
    expected = f"<!-- aiops:dashboard -->\n# aiops dashboard\n\n{begin}\n2 open\n{end}\n"
    rsps.post(
        f"{M}/issues",
        status=201,
        json=P.issue(12, expected),
        match=[json_body({"title": "aiops dashboard", "body": expected})],
    )
    assert forge.upsert_dashboard("proposals", "2 open") is True
    assert calls(rsps) == ["GET /issues", "POST /issues"]


def test_dashboard_replaces_only_its_section(forge: GitHubForge, rsps: responses.RequestsMock) -> None:
    b1, e1 = section_markers("proposals")
    b2, e2 = section_markers("reports")
    current = f"<!-- aiops:dashboard -->\n# aiops dashboard\n\n{b1}\n1 open\n{e1}\n\n{b2}\nweekly\n{e2}\n"
    rsps.get(f"{M}/issues", json=[P.issue(12, current)])
    new = current.replace("1 open", "2 open")
    rsps.patch(f"{M}/issues/12", json=P.issue(12, new), match=[json_body({"body": new})])
    assert forge.upsert_dashboard("proposals", "2 open") is True
    rsps.replace(responses.GET, f"{M}/issues", json=[P.issue(12, new)])
    assert forge.upsert_dashboard("proposals", "2 open") is False
    assert calls(rsps) == ["GET /issues", "PATCH /issues/12", "GET /issues"]


# ---- files, diff, revert ---------------------------------------------------------------------
def test_read_file_decodes_base64_reads_large_files_as_blobs_and_absent_is_none(
    forge: GitHubForge, rsps: responses.RequestsMock
) -> None:
    rsps.get(
        f"{M}/contents/{VALUES}",
        json=P.content(VALUES, "replicaCount: 2  # ü\n"),
        match=[matchers.query_param_matcher({"ref": "main"})],
    )
    rsps.get(f"{M}/contents/big.yaml", json=P.content("big.yaml", "", blob_sha=sha("7"), large=True))
    rsps.get(f"{M}/git/blobs/{sha('7')}", json=P.blob("x: 1\n" * 3, sha("7")))
    rsps.get(f"{M}/contents/missing.yaml", status=404, json=P.error("Not Found"))
    assert forge.read_file(VALUES) == "replicaCount: 2  # ü\n"
    assert forge.read_file("big.yaml", sha("a")) == "x: 1\n" * 3
    assert forge.read_file("missing.yaml") is None
    assert query_of(rsps, 1) == {"ref": sha("a")}


def test_list_files_reads_the_recursive_tree(forge: GitHubForge, rsps: responses.RequestsMock) -> None:
    rsps.get(
        f"{M}/git/trees/main",
        json=P.tree(
            sha("b"),
            [
                ("manifests", "tree"),
                (VALUES, "blob"),
                ("manifests-old/x.yaml", "blob"),
                ("README.md", "blob"),
            ],
        ),
        match=[matchers.query_param_matcher({"recursive": "1"})],
    )
    assert forge.list_files("manifests/") == [VALUES]


def test_changed_files_reads_texts_at_the_merge_base_and_head_and_reports_completeness(
    forge: GitHubForge, rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{M}/pulls/7", json=P.pr(7, body=BODY, changed_files=3))
    rsps.get(
        f"{M}/compare/{sha('a')}...{sha('c')}",
        json=P.compare(sha("a"), sha("c"), sha("0"), [P.pr_commit(sha("c"), BOT)]),
    )
    rsps.get(
        f"{M}/pulls/7/files",
        json=[
            P.pr_file(VALUES),
            P.pr_file(RECORD, "added"),
            P.pr_file("manifests/new.yaml", "renamed", "manifests/old.yaml"),
        ],
    )
    for path, ref, text in [
        (VALUES, sha("0"), "old\n"),
        (VALUES, sha("c"), "new\n"),
        (RECORD, sha("c"), "record\n"),
        ("manifests/old.yaml", sha("0"), "a: 1\n"),
        ("manifests/new.yaml", sha("c"), "a: 1\n"),
    ]:
        rsps.get(
            f"{M}/contents/{path}",
            json=P.content(path, text),
            match=[matchers.query_param_matcher({"ref": ref})],
        )
    rows = forge.changed_files(7)
    assert rows == [
        (VALUES, None, "old\n", "new\n"),
        (RECORD, None, None, "record\n"),
        ("manifests/new.yaml", "manifests/old.yaml", "a: 1\n", "a: 1\n"),
    ]
    assert forge.changed_files_complete(7) is True


def test_changed_files_flags_the_3000_file_cap(forge: GitHubForge, rsps: responses.RequestsMock) -> None:
    rsps.get(f"{M}/pulls/7", json=P.pr(7, body=BODY, changed_files=3500))
    rsps.get(f"{M}/compare/{sha('a')}...{sha('c')}", json=P.compare(sha("a"), sha("c"), sha("0"), []))
    rsps.get(f"{M}/pulls/7/files", json=[P.pr_file(RECORD, "added")])
    rsps.get(f"{M}/contents/{RECORD}", json=P.content(RECORD, "r\n"))
    assert len(forge.changed_files(7)) == 1
    assert forge.changed_files_complete(7) is False


def test_revert_files_undoes_a_merged_pr_but_never_removes_records(
    forge: GitHubForge, rsps: responses.RequestsMock
) -> None:
    rsps.get(
        f"{M}/pulls/9",
        json=P.pr(9, body=BODY, state="closed", closed_at=P.T0, merged_at=P.T0, merge_commit_sha=sha("m")),
    )
    rsps.get(f"{M}/git/commits/{sha('m')}", json=P.git_commit(sha("m"), sha("b"), (sha("1"), sha("c"))))
    rsps.get(
        f"{M}/pulls/9/files",
        json=[
            P.pr_file(VALUES),
            P.pr_file(RECORD, "added"),
            P.pr_file("manifests/extra.yaml", "added"),
            P.pr_file("manifests/new.yaml", "renamed", "manifests/old.yaml"),
        ],
    )
    q = matchers.query_param_matcher
    rsps.get(f"{M}/contents/{VALUES}", json=P.content(VALUES, "before\n"), match=[q({"ref": sha("1")})])
    rsps.get(f"{M}/contents/manifests/old.yaml", json=P.content("x", "old\n"), match=[q({"ref": sha("1")})])
    rsps.get(f"{M}/contents/{VALUES}", json=P.content(VALUES, "after\n"), match=[q({"ref": "main"})])
    rsps.get(f"{M}/contents/manifests/extra.yaml", json=P.content("x", "e\n"), match=[q({"ref": "main"})])
    rsps.get(f"{M}/contents/manifests/new.yaml", json=P.content("x", "old\n"), match=[q({"ref": "main"})])
    rsps.get(
        f"{M}/contents/manifests/old.yaml", status=404, json=P.error("Not Found"), match=[q({"ref": "main"})]
    )
    # the texts the merge itself left, to undo only its own edits on top of main (a 3-way undo)
    at_merge = [q({"ref": sha("m")})]
    rsps.get(f"{M}/contents/{VALUES}", json=P.content(VALUES, "after\n"), match=at_merge)
    rsps.get(f"{M}/contents/manifests/extra.yaml", json=P.content("x", "e\n"), match=at_merge)
    rsps.get(f"{M}/contents/manifests/new.yaml", json=P.content("x", "old\n"), match=at_merge)
    rsps.get(f"{M}/contents/manifests/old.yaml", status=404, json=P.error("Not Found"), match=at_merge)
    assert forge.revert_files(9) == {
        VALUES: "before\n",
        "manifests/extra.yaml": None,
        "manifests/new.yaml": None,
        "manifests/old.yaml": "old\n",
    }
    assert not any(RECORD in c for c in calls(rsps))


def test_revert_of_an_unmerged_pr_is_refused(forge: GitHubForge, rsps: responses.RequestsMock) -> None:
    rsps.get(f"{M}/pulls/9", json=P.pr(9, body=BODY, state="closed", closed_at=P.T0))
    with pytest.raises(InputError, match="only a merged proposal"):
        forge.revert_files(9)


# ---- retries, rate limits, errors ------------------------------------------------------------
def test_a_5xx_is_retried_with_backoff(
    forge: GitHubForge, sleeps: Sleeps, ordered: responses.RequestsMock
) -> None:
    ordered.get(f"{M}/pulls/7", status=502, json=P.error("Server Error"))
    ordered.get(f"{M}/pulls/7", status=503, json=P.error("Unavailable"))
    ordered.get(f"{M}/pulls/7", json=P.pr(7, body=BODY))
    assert forge.get_proposal(7).number == 7
    assert sleeps == [1.0, 2.0]


def test_a_primary_rate_limit_waits_until_the_reset(
    forge: GitHubForge, sleeps: Sleeps, ordered: responses.RequestsMock
) -> None:
    ordered.get(
        f"{M}/pulls/7",
        status=403,
        json=P.error("API rate limit exceeded for installation ID 1."),
        headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(NOW) + 10)},
    )
    ordered.get(f"{M}/pulls/7", json=P.pr(7, body=BODY))
    forge.get_proposal(7)
    assert sleeps == [11.0]


def test_a_429_honours_retry_after(
    forge: GitHubForge, sleeps: Sleeps, ordered: responses.RequestsMock
) -> None:
    ordered.get(f"{M}/pulls/7", status=429, json=P.error("Too Many Requests"), headers={"Retry-After": "3"})
    ordered.get(f"{M}/pulls/7", json=P.pr(7, body=BODY))
    forge.get_proposal(7)
    assert sleeps == [3.0]


def test_a_secondary_rate_limit_without_headers_waits_a_minute(
    forge: GitHubForge, sleeps: Sleeps, ordered: responses.RequestsMock
) -> None:
    ordered.get(
        f"{M}/pulls/7",
        status=403,
        json=P.error("You have exceeded a secondary rate limit. Please wait a few minutes."),
    )
    ordered.get(f"{M}/pulls/7", json=P.pr(7, body=BODY))
    forge.get_proposal(7)
    assert sleeps == [60.0]


def test_a_wait_over_the_cap_fails_at_once_as_unreachable(
    forge: GitHubForge, sleeps: Sleeps, rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{M}/pulls/7", status=429, json=P.error("Too Many Requests"), headers={"Retry-After": "3600"})
    with pytest.raises(
        UnreachableError, match=r"GET /repos/acme/deploy/pulls/7: rate limited for 3600 s"
    ) as e:
        forge.get_proposal(7)
    assert sleeps == [] and e.value.exit_code == 3


def test_5xx_after_all_retries_is_unreachable_naming_the_endpoint(
    forge: GitHubForge, sleeps: Sleeps, rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{M}/pulls/7", status=502, json=P.error("Bad Gateway"))
    with pytest.raises(
        UnreachableError, match=r"^GitHub GET /repos/acme/deploy/pulls/7: HTTP 502 after 5 attempts$"
    ):
        forge.get_proposal(7)
    assert sleeps == [1.0, 2.0, 4.0, 8.0] and len(rsps.calls) == 5


def test_connection_errors_are_retried(
    forge: GitHubForge, sleeps: Sleeps, ordered: responses.RequestsMock
) -> None:
    from requests.exceptions import ConnectionError as ReqConnectionError

    ordered.get(f"{M}/pulls/7", body=ReqConnectionError("connection refused"))
    ordered.get(f"{M}/pulls/7", json=P.pr(7, body=BODY))
    assert forge.get_proposal(7).number == 7
    assert sleeps == [1.0]


@pytest.mark.parametrize(
    ("status", "message", "text"),
    [
        (401, "Bad credentials", "401 Bad credentials: the token was refused"),
        (403, "Resource not accessible by integration", "403 Resource not accessible by integration"),
    ],
)
def test_401_and_a_plain_403_are_one_line_input_errors_without_the_token(
    forge: GitHubForge, sleeps: Sleeps, rsps: responses.RequestsMock, status: int, message: str, text: str
) -> None:
    rsps.get(f"{M}/pulls/7", status=status, json=P.error(message))
    with pytest.raises(GitHubAuthError) as e:
        forge.get_proposal(7)
    assert e.value.exit_code == 2 and sleeps == [] and len(rsps.calls) == 1
    line = e.value.one_line()
    assert "GET /repos/acme/deploy/pulls/7" in line and text in line
    assert "test-token" not in line and "\n" not in line


def mock_until_ref(r: responses.RequestsMock) -> None:
    r.get(f"{M}/pulls", json=[])
    mock_base_commit(r)
    mock_commit(r, TREE)


def test_a_pr_create_that_failed_with_5xx_is_looked_up_not_repeated(
    forge: GitHubForge, sleeps: Sleeps, ordered: responses.RequestsMock
) -> None:
    mock_until_ref(ordered)
    ordered.post(f"{M}/git/refs", status=201, json=P.ref(f"heads/{BRANCH}", sha("c")))
    ordered.post(f"{M}/pulls", status=502, json=P.error("Server Error"))  # ...but GitHub made it
    ordered.get(
        f"{M}/pulls",
        json=[P.pr(7, body=BODY)],
        match=[matchers.query_param_matcher({"state": "open", "head": f"acme:{BRANCH}", "base": "main"})],
    )
    p = propose(forge, labels=[], reviewers=[])
    assert p.number == 7 and sleeps == [1.0]
    assert calls(ordered).count("POST /pulls") == 1


def test_422_pull_request_already_exists_returns_that_pr(
    forge: GitHubForge, ordered: responses.RequestsMock
) -> None:
    mock_until_ref(ordered)
    ordered.post(f"{M}/git/refs", status=201, json=P.ref(f"heads/{BRANCH}", sha("c")))
    ordered.post(
        f"{M}/pulls",
        status=422,
        json=P.error(
            "Validation Failed",
            [
                {
                    "resource": "PullRequest",
                    "code": "custom",
                    "message": f"A pull request already exists for acme:{BRANCH}.",
                }
            ],
        ),
    )
    ordered.get(f"{M}/pulls", json=[P.pr(8, body=BODY)])
    assert propose(forge, labels=[], reviewers=[]).number == 8
    assert "DELETE" not in " ".join(calls(ordered))


def test_422_reference_already_exists_reuses_a_bot_only_branch(
    forge: GitHubForge, ordered: responses.RequestsMock
) -> None:
    mock_until_ref(ordered)
    ordered.post(f"{M}/git/refs", status=422, json=P.error("Reference already exists"))
    ordered.get(f"{M}/git/ref/heads/{BRANCH}", json=P.ref(f"heads/{BRANCH}", sha("8")))
    ordered.get(
        f"{M}/compare/{sha('a')}...{sha('8')}",
        json=P.compare(sha("a"), sha("8"), sha("a"), [P.pr_commit(sha("8"), BOT)]),
    )
    ordered.patch(
        f"{M}/git/refs/heads/{BRANCH}",
        json=P.ref(f"heads/{BRANCH}", sha("c")),
        match=[json_body({"sha": sha("c"), "force": True})],
    )
    ordered.post(f"{M}/pulls", status=201, json=P.pr(7, body=BODY))
    assert propose(forge, labels=[], reviewers=[]).number == 7
    assert calls(ordered)[5:] == [
        "POST /git/refs",
        f"GET /git/ref/heads/{BRANCH}",
        f"GET /compare/{sha('a')}...{sha('8')}",
        f"PATCH /git/refs/heads/{BRANCH}",
        "POST /pulls",
    ]


def test_422_reference_already_exists_with_a_persons_commit_is_refused(
    forge: GitHubForge, ordered: responses.RequestsMock
) -> None:
    mock_until_ref(ordered)
    ordered.post(f"{M}/git/refs", status=422, json=P.error("Reference already exists"))
    ordered.get(f"{M}/git/ref/heads/{BRANCH}", json=P.ref(f"heads/{BRANCH}", sha("8")))
    ordered.get(
        f"{M}/compare/{sha('a')}...{sha('8')}",
        json=P.compare(
            sha("a"), sha("8"), sha("a"), [P.pr_commit(sha("7"), BOT), P.pr_commit(sha("8"), "alice")]
        ),
    )
    with pytest.raises(PolicyRefusal, match=f"branch {BRANCH} exists with commits made by a person"):
        propose(forge)
    assert not [c for c in calls(ordered) if c.startswith(("PATCH", "DELETE"))]


def test_a_failure_after_the_pr_leaves_nothing_half_made(
    forge: GitHubForge, sleeps: Sleeps, ordered: responses.RequestsMock
) -> None:
    mock_until_ref(ordered)
    ordered.post(f"{M}/git/refs", status=201, json=P.ref(f"heads/{BRANCH}", sha("c")))
    ordered.post(f"{M}/pulls", status=201, json=P.pr(7, body=BODY))
    ordered.get(f"{M}/labels/risk%3Alow", json=P.label("risk:low"))
    ordered.put(f"{M}/issues/7/labels", status=403, json=P.error("Resource not accessible by integration"))
    stripped = "## Right-size todo-backend\n\nwhy\n\n\n\n_aiops could not finish opening this proposal._"
    ordered.patch(
        f"{M}/pulls/7",
        json=P.pr(7, body=stripped, state="closed", closed_at=P.T0),
        match=[json_body({"state": "closed", "body": stripped})],
    )
    ordered.delete(f"{M}/git/refs/heads/{BRANCH}", status=204)
    with pytest.raises(GitHubAuthError, match="PUT /repos/acme/deploy/issues/7/labels: 403"):
        propose(forge)
    assert calls(ordered)[-2:] == ["PATCH /pulls/7", f"DELETE /git/refs/heads/{BRANCH}"]
    assert "aiops:meta" not in body_of(ordered, len(ordered.calls) - 2)["body"]


def test_a_failed_pr_create_deletes_the_branch_it_made(
    forge: GitHubForge, ordered: responses.RequestsMock
) -> None:
    mock_until_ref(ordered)
    ordered.post(f"{M}/git/refs", status=201, json=P.ref(f"heads/{BRANCH}", sha("c")))
    ordered.post(
        f"{M}/pulls",
        status=422,
        json=P.error(
            "Validation Failed",
            [{"resource": "PullRequest", "code": "custom", "message": "No commits between main and x"}],
        ),
    )
    ordered.delete(f"{M}/git/refs/heads/{BRANCH}", status=204)
    with pytest.raises(
        InputError, match="POST /repos/acme/deploy/pulls: 422 Validation Failed: No commits between"
    ):
        propose(forge)
    assert calls(ordered)[-1] == f"DELETE /git/refs/heads/{BRANCH}"


def test_a_failure_on_a_reused_branch_puts_the_old_head_back(
    forge: GitHubForge, sleeps: Sleeps, ordered: responses.RequestsMock
) -> None:
    mock_until_ref(ordered)
    ordered.post(f"{M}/git/refs", status=422, json=P.error("Reference already exists"))
    ordered.get(f"{M}/git/ref/heads/{BRANCH}", json=P.ref(f"heads/{BRANCH}", sha("8")))
    ordered.get(f"{M}/compare/{sha('a')}...{sha('8')}", json=P.compare(sha("a"), sha("8"), sha("a"), []))
    ordered.patch(f"{M}/git/refs/heads/{BRANCH}", json=P.ref(f"heads/{BRANCH}", sha("c")))
    for _ in range(4):
        ordered.post(f"{M}/pulls", status=500, json=P.error("Server Error"))
        ordered.get(f"{M}/pulls", json=[])  # the lookup before each retry finds nothing
    ordered.post(f"{M}/pulls", status=500, json=P.error("Server Error"))
    ordered.patch(
        f"{M}/git/refs/heads/{BRANCH}",
        json=P.ref(f"heads/{BRANCH}", sha("8")),
        match=[json_body({"sha": sha("8"), "force": True})],
    )
    with pytest.raises(UnreachableError, match="POST /repos/acme/deploy/pulls: HTTP 500 after 5 attempts"):
        propose(forge)
    assert calls(ordered).count("POST /pulls") == 5


def test_a_comment_post_that_failed_with_5xx_is_not_posted_twice(
    forge: GitHubForge, sleeps: Sleeps, ordered: responses.RequestsMock
) -> None:
    marker = comment_marker("gate")
    ordered.get(f"{M}/issues/7/comments", json=[])
    ordered.post(f"{M}/issues/7/comments", status=502, json=P.error("Bad Gateway"))
    ordered.get(f"{M}/issues/7/comments", json=[P.comment(3, 7, f"{marker}\nwaiting")])
    assert forge.upsert_comment(7, "gate", "waiting") is True
    assert calls(ordered) == ["GET /issues/7/comments", "POST /issues/7/comments", "GET /issues/7/comments"]
    assert sleeps == [1.0]


def test_add_comment_that_failed_with_5xx_is_looked_up(
    forge: GitHubForge, sleeps: Sleeps, ordered: responses.RequestsMock
) -> None:
    ordered.post(f"{M}/issues/7/comments", status=500, json=P.error("Server Error"))
    ordered.get(f"{M}/issues/7/comments", json=[])
    ordered.post(f"{M}/issues/7/comments", status=201, json=P.comment(4, 7, "closing"))
    forge.add_comment(7, "closing")
    assert calls(ordered) == ["POST /issues/7/comments", "GET /issues/7/comments", "POST /issues/7/comments"]


# ---- from_env --------------------------------------------------------------------------------
def test_from_env_names_the_missing_variable() -> None:
    with pytest.raises(InputError, match="GITHUB_REPOSITORY is not set") as e:
        GitHubForge.from_env({})
    assert e.value.exit_code == 2
    with pytest.raises(InputError, match="GITHUB_TOKEN is not set"):
        GitHubForge.from_env({"GITHUB_REPOSITORY": P.REPO})
    with pytest.raises(InputError, match="AIOPS_APP_PRIVATE_KEY is not set"):
        GitHubForge.from_env({"GITHUB_REPOSITORY": P.REPO, "AIOPS_APP_ID": "123"})
    with pytest.raises(InputError, match="expected OWNER/NAME"):
        GitHubForge.from_env({"GITHUB_REPOSITORY": "deploy", "GITHUB_TOKEN": "t"})


def test_from_env_talks_to_github_api_url_with_the_token(rsps: responses.RequestsMock) -> None:
    rsps.get(
        "https://ghe.example:443/api/v3/repos/acme/deploy/pulls",
        json=[P.pr(7, body=BODY)],
        match=[matchers.header_matcher({"Authorization": "token ghs_secret"})],
    )
    forge = GitHubForge.from_env(
        {
            "GITHUB_REPOSITORY": P.REPO,
            "GITHUB_TOKEN": "ghs_secret",
            "GITHUB_API_URL": "https://ghe.example/api/v3",
        },
        base="main",
    )
    assert forge.bot_login == BOT and "github-actions[bot]" in forge.own_logins
    assert [p.number for p in forge.find_proposals(state="all")] == [7]


def test_from_env_with_the_app_uses_an_installation_token_and_the_app_bot_login(
    rsps: responses.RequestsMock,
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    rsps.get(
        f"{M}/installation",
        json={
            "id": 55,
            "app_id": 123,
            "app_slug": "aiops",
            "target_type": "Organization",
            "account": P.user(OWNER := "acme", 2),
        },
    )
    rsps.get(f"{MOCK}/app", json={"id": 123, "slug": "aiops", "name": "aiops", "owner": P.user(OWNER, 2)})
    rsps.post(
        f"{MOCK}/app/installations/55/access_tokens",
        status=201,
        json={"token": "ghs_installation", "expires_at": "2099-01-01T00:00:00Z", "permissions": {}},
    )
    rsps.get(
        f"{M}/pulls",
        json=[P.pr(7, body=BODY, author="aiops[bot]")],
        match=[matchers.header_matcher({"Authorization": "token ghs_installation"})],
    )
    forge = GitHubForge.from_env(
        {"GITHUB_REPOSITORY": P.REPO, "AIOPS_APP_ID": "123", "AIOPS_APP_PRIVATE_KEY": pem}, base="main"
    )
    assert forge.bot_login == "aiops[bot]" and forge.own_logins == {"aiops[bot]"}
    [p] = forge.find_proposals(state="all")
    assert p.author == "aiops[bot]"
    assert str(rsps.calls[0].request.headers["Authorization"]).startswith("Bearer ")  # the App's JWT


def test_deletions_go_in_the_same_tree_and_absent_files_are_skipped(
    forge: GitHubForge, ordered: responses.RequestsMock
) -> None:
    ordered.get(f"{M}/pulls", json=[])
    mock_base_commit(ordered)
    q = matchers.query_param_matcher({"ref": sha("a")})
    ordered.get(f"{M}/contents/manifests/gone.yaml", json=P.content("manifests/gone.yaml", "x\n"), match=[q])
    ordered.get(f"{M}/contents/manifests/never.yaml", status=404, json=P.error("Not Found"), match=[q])
    mock_commit(
        ordered,
        [
            {"path": VALUES, "mode": "100644", "type": "blob", "content": "a: 1\n"},
            {"path": "manifests/gone.yaml", "mode": "100644", "type": "blob", "sha": None},
        ],
    )
    ordered.post(f"{M}/git/refs", status=201, json=P.ref(f"heads/{BRANCH}", sha("c")))
    ordered.post(f"{M}/pulls", status=201, json=P.pr(7, body=BODY))
    files = {VALUES: "a: 1\n", "manifests/gone.yaml": None, "manifests/never.yaml": None}
    assert propose(forge, files=files, labels=[], reviewers=[]).number == 7
    assert calls(ordered).count("POST /git/commits") == 1


def test_list_files_walks_down_to_the_prefix_when_the_listing_is_truncated(
    forge: GitHubForge, ordered: responses.RequestsMock
) -> None:
    q = matchers.query_param_matcher
    big = P.tree(sha("b"), [("manifests", "tree"), ("vendor/a", "blob")], truncated=True)
    ordered.get(f"{M}/git/trees/main", json=big, match=[q({"recursive": "1"})])
    root = P.tree(sha("b"), [("manifests", "tree"), ("vendor", "tree")])
    root["tree"][0]["sha"] = sha("3")
    ordered.get(f"{M}/git/trees/{sha('b')}", json=root, match=[q({})])
    ordered.get(f"{M}/git/trees/{sha('3')}", json=P.tree(sha("3"), [("charts", "tree")]), match=[q({})])
    ordered.get(
        f"{M}/git/trees/{sha('3')}",
        json=P.tree(sha("3"), [("charts", "tree"), ("charts/values.yaml", "blob")]),
        match=[q({"recursive": "1"})],
    )
    assert forge.list_files("manifests") == ["manifests/charts/values.yaml"]


def test_merge_is_guarded_by_the_judged_head_and_refusals_are_policy(
    forge: GitHubForge, ordered: responses.RequestsMock
) -> None:
    merged = P.pr(7, body=BODY, state="closed", closed_at=P.T0, merged_at=P.T0, merge_commit_sha=sha("m"))
    ordered.get(f"{M}/pulls/7", json=P.pr(7, body=BODY))
    ordered.put(
        f"{M}/pulls/7/merge",
        json={"sha": sha("m"), "merged": True, "message": "Pull Request successfully merged"},
        match=[
            json_body(
                {
                    "commit_title": f"Merge proposal #7 from {BRANCH}",
                    "commit_message": f"Aiops-Id: {META['id']}\nMerged-by: aiops-gate",
                    "merge_method": "merge",
                    "sha": sha("c"),
                }
            )
        ],
    )
    ordered.get(f"{M}/pulls/7", json=merged)
    p = forge.merge(7, by="aiops-gate", sha=sha("c"))
    assert (p.state, p.merge_sha) == ("merged", sha("m"))
    ordered.get(f"{M}/pulls/8", json=P.pr(8, body=BODY))
    ordered.put(
        f"{M}/pulls/8/merge",
        status=405,
        json=P.error('Required status check "aiops/approval-gate" is expected.'),
    )
    with pytest.raises(PolicyRefusal, match="405 Required status check") as e:
        forge.merge(8)
    assert e.value.exit_code == 4


def test_a_merge_that_failed_with_5xx_but_went_through_is_not_retried(
    forge: GitHubForge, sleeps: Sleeps, ordered: responses.RequestsMock
) -> None:
    merged = P.pr(7, body=BODY, state="closed", closed_at=P.T0, merged_at=P.T0, merge_commit_sha=sha("m"))
    ordered.get(f"{M}/pulls/7", json=P.pr(7, body=BODY))
    ordered.put(f"{M}/pulls/7/merge", status=502, json=P.error("Bad Gateway"))
    ordered.get(f"{M}/pulls/7", json=merged)
    ordered.get(f"{M}/pulls/7", json=merged)
    assert forge.merge(7).state == "merged"
    assert calls(ordered).count("PUT /pulls/7/merge") == 1
