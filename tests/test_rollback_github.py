"""`aiops rollback --pr N` through the GitHub forge, every REST call mocked with `responses` (issue 6).

Merged aiops proposal #7 changed the todo-backend values file and added its recommendation record.
Rolling it back opens branch `aiops/revert-7` holding ONE commit (Git Data API) that restores the
values file's pre-merge text and adds the `--rollback.md` record, without deleting any record; the
pull request is labelled `risk:low` and its marker says `revert_of: 7`. A second run only reads.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from opsrepo import BACKEND_VALUES, ROOT

from aiops.phr import decode_marker, encode_marker, parse_record
from aiops.pipeline.rollback import rollback
from aiops.settings import load_settings_text

KEY = "rightsize-todo-deployment-todo-backend"
BRANCH = f"aiops/{KEY}"
REVERT = "aiops/revert-7"
RID = f"20261120-{KEY}"
TITLE = "aiops: rightsize todo/todo-backend"
NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
REC_PATH = f"history/prompts/2026/11/{RID}--recommendation.md"
ROLLBACK_PATH = f"history/prompts/2026/11/{RID}--rollback.md"


def _github() -> Any:
    from github import Auth, Github

    from aiops.gitops.github_forge import GitHubForge

    client = Github(
        auth=Auth.Token("t"),
        lazy=True,
        retry=None,
        seconds_between_requests=None,
        seconds_between_writes=None,
    )
    return GitHubForge(
        client, "acme/deploy", base="main", sleep=lambda s: None, clock=lambda: 1_800_000_000.0
    )


def _paths(rsps: Any) -> list[str]:
    from urllib.parse import unquote, urlsplit

    return [
        f"{c.request.method} {unquote(urlsplit(str(c.request.url)).path).removeprefix('/repos/acme/deploy')}"
        for c in rsps.calls
    ]


def _merged_values(before: str) -> str:
    """The values file as #7 left it on main (the right-sizing the propose tests produce)."""
    after = (
        before.replace("    cpu: 250m\n", "    cpu: 130m\n")
        .replace("    memory: 256Mi\n", "    memory: 156Mi\n")
        .replace("    memory: 512Mi   # the OOM", "    memory: 200Mi   # the OOM")
    )
    assert after.count("\n") == before.count("\n") and after != before
    return after


def _original_body() -> str:
    meta = {
        "id": RID,
        "key": KEY,
        "kind": "rightsize",
        "target": {"kind": "Deployment", "namespace": "todo", "name": "todo-backend"},
        "proposed": {
            "backend": {"requests": {"cpu": "130m", "memory": "156Mi"}, "limits": {"memory": "200Mi"}}
        },
        "tier": "medium",
        "requested_by": "carol",
        "base_sha": "1" * 40,
        "revert_of": None,
    }
    return f"## aiops: rightsize todo/todo-backend\n\n{encode_marker(meta)}\n"


RECOMMENDATION_RECORD = f"""---
id: {RID}
stage: recommendation
created: 2026-11-20T10:00:00Z
cluster: minikube
kind: rightsize
tier: medium
---

# Right-size todo/todo-backend
"""


def test_github_rollback_opens_one_revert_commit_through_the_api_then_a_rerun_only_reads() -> None:
    responses = pytest.importorskip("responses")
    import ghpayloads as gh
    from responses import matchers

    m = gh.M
    before = (ROOT / BACKEND_VALUES).read_text(encoding="utf-8")
    after = _merged_values(before)
    settings = load_settings_text((ROOT / ".github" / "aiops.yaml").read_text(encoding="utf-8"))
    parent, head, merge, merge_tree = gh.sha("1"), gh.sha("2"), gh.sha("3"), gh.sha("4")
    new_tree, new_commit = gh.sha("5"), gh.sha("6")
    pr7 = gh.pr(
        7,
        branch=BRANCH,
        body=_original_body(),
        title=TITLE,
        state="closed",
        merged_at=gh.T0,
        closed_at=gh.T0,
        head_sha=head,
        base_sha=parent,
        merge_commit_sha=merge,
        labels=("risk:medium",),
        changed_files=2,
    )

    def at(ref: str) -> list[Any]:
        return [matchers.query_param_matcher({"ref": ref})]

    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.get(f"{m}/pulls/7", json=pr7)
        rsps.get(
            f"{m}/pulls", json=[pr7], match=[matchers.query_param_matcher({"state": "all", "base": "main"})]
        )
        # the merge commit: first parent is main before #7 (revert_files, changed_files, the new commit)
        rsps.get(f"{m}/git/commits/{merge}", json=gh.git_commit(merge, merge_tree, (parent, head)))
        rsps.get(
            f"{m}/pulls/7/files", json=[gh.pr_file(BACKEND_VALUES), gh.pr_file(REC_PATH, status="added")]
        )
        rsps.get(f"{m}/contents/{BACKEND_VALUES}", json=gh.content(BACKEND_VALUES, before), match=at(parent))
        rsps.get(f"{m}/contents/{BACKEND_VALUES}", json=gh.content(BACKEND_VALUES, after), match=at(merge))
        rsps.get(f"{m}/contents/{BACKEND_VALUES}", json=gh.content(BACKEND_VALUES, after), match=at("main"))
        rsps.get(
            f"{m}/contents/{REC_PATH}", json=gh.content(REC_PATH, RECOMMENDATION_RECORD), match=at(merge)
        )
        # is the rollback record free on main? (404 like any absent file)
        record_url = re.compile(re.escape(f"{m}/contents/{ROLLBACK_PATH}"))
        rsps.get(record_url, status=404, json=gh.error("Not Found"), match=at("main"))
        rsps.get(f"{m}/git/ref/heads/main", json=gh.ref("heads/main", merge))
        rsps.get(
            f"{m}/pulls",
            json=[],
            match=[matchers.query_param_matcher({"state": "open", "head": f"acme:{REVERT}", "base": "main"})],
        )
        rsps.post(f"{m}/git/trees", status=201, json=gh.tree(new_tree, []))
        rsps.post(
            f"{m}/git/commits", status=201, json=gh.git_commit(new_commit, new_tree, (merge,), "Revert")
        )
        rsps.post(f"{m}/git/refs", status=201, json=gh.ref(f"heads/{REVERT}", new_commit))
        rsps.post(f"{m}/pulls", status=201, json=gh.pr(8, branch=REVERT, head_sha=new_commit, base_sha=merge))
        rsps.get(f"{m}/labels/risk%3Alow", json=gh.label("risk:low"))
        rsps.get(f"{m}/labels/rollback", status=404, json=gh.error("Not Found"))
        rsps.post(f"{m}/labels", status=201, json=gh.label("rollback", 2))
        rsps.put(f"{m}/issues/8/labels", json=[gh.label("risk:low"), gh.label("rollback", 2)])
        rsps.post(f"{m}/pulls/8/requested_reviewers", status=201, json=gh.pr(8, branch=REVERT))

        outcome = rollback(_github(), 7, settings=settings, requested_by="carol", now=NOW)

        assert (outcome.action, outcome.number, outcome.branch, outcome.revert_of) == ("opened", 8, REVERT, 7)
        assert outcome.id == RID and outcome.tier == "low"
        assert outcome.files == (ROLLBACK_PATH, BACKEND_VALUES)
        assert any("pure revert of the manifests/ changes of merged #7" in r for r in outcome.tier_reasons)
        calls = _paths(rsps)
        writes = [c for c in calls if not c.startswith("GET")]
        assert writes == [
            "POST /git/trees",
            "POST /git/commits",
            "POST /git/refs",
            "POST /pulls",
            "POST /labels",
            "PUT /issues/8/labels",
            "POST /pulls/8/requested_reviewers",
        ]
        bodies = {
            c: json.loads(r.request.body) for c, r in zip(calls, rsps.calls, strict=True) if r.request.body
        }
        # ONE commit on main's head: its tree restores the values and adds the rollback record, and
        # deletes nothing (the recommendation record of #7 stays)
        posted_tree = bodies["POST /git/trees"]
        assert posted_tree["base_tree"] == merge_tree
        entries = {e["path"]: e for e in posted_tree["tree"]}
        assert set(entries) == {BACKEND_VALUES, ROLLBACK_PATH}
        assert all("content" in e and e.get("sha") is None for e in entries.values())
        assert entries[BACKEND_VALUES]["content"] == before
        record = parse_record(entries[ROLLBACK_PATH]["content"], where=ROLLBACK_PATH)
        assert (record.id, record.stage) == (RID, "rollback")
        assert record.front["revert_of"] == 7 and record.front["tier"] == "low"
        assert record.front["rollback_requested_at"]
        commit = bodies["POST /git/commits"]
        assert commit["parents"] == [merge] and commit["tree"] == new_tree
        assert commit["message"].startswith(f'Revert "{TITLE}"\n\nThis reverts proposal #7 (merge {merge})')
        assert f"Aiops-Id: {RID}" in commit["message"]
        assert bodies["POST /git/refs"] == {"ref": f"refs/heads/{REVERT}", "sha": new_commit}
        pull = bodies["POST /pulls"]
        assert (pull["head"], pull["base"], pull["title"]) == (REVERT, "main", f'Revert "{TITLE}"')
        assert pull["body"].startswith("Reverts #7.")
        meta = decode_marker(pull["body"])
        assert meta is not None
        assert (meta["revert_of"], meta["kind"], meta["tier"], meta["id"]) == (7, "rollback", "low", RID)
        assert meta["proposed"] == {"revert_of": 7} and meta["requested_by"] == "carol"
        assert meta["base_sha"] == merge
        assert bodies["POST /labels"]["name"] == "rollback"
        assert bodies["PUT /issues/8/labels"] == ["risk:low", "rollback"]
        assert bodies["POST /pulls/8/requested_reviewers"] == {
            "reviewers": [],
            "team_reviewers": ["architects"],
        }

    pr8 = gh.pr(
        8,
        branch=REVERT,
        body=pull["body"],
        title=f'Revert "{TITLE}"',
        head_sha=new_commit,
        base_sha=merge,
        labels=("risk:low", "rollback"),
        changed_files=2,
    )
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.get(f"{m}/pulls/7", json=pr7)
        rsps.get(
            f"{m}/pulls",
            json=[pr7, pr8],
            match=[matchers.query_param_matcher({"state": "all", "base": "main"})],
        )
        again = rollback(_github(), 7, settings=settings, requested_by="carol", now=NOW)
        assert (again.action, again.number, again.branch, again.id, again.tier) == (
            "unchanged",
            8,
            REVERT,
            RID,
            "low",
        )
        assert again.reason == "the revert proposal is already open"
        assert _paths(rsps) == ["GET /pulls/7", "GET /pulls"]
