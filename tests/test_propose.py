"""`aiops propose` on the local forge over real git, from the seed snapshot + usage of the reference app.

Done when (issue 4): a branch whose diff changes exactly the right values keys (comments kept) and
adds the recommendation PHR; a rerun is a no-op; --dry-run writes nothing; the update rule,
person-edited branches, cleared, snoozed, rate limits, opt-out and policy refusal.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from opsrepo import (
    BACKEND_VALUES,
    FIXTURES,
    ROOT,
    SEED_ARGS,
    aiops,
    git,
    make_opsrepo,
    scaled_usage,
    snapshot_refs,
)

from aiops.gitops.helm import find_helm
from aiops.gitops.local import LocalForge
from aiops.phr import decode_marker, parse_record
from aiops.pipeline.proposal import ProposeOptions, forbidden_path, real_change, run_propose
from aiops.pipeline.recommendation import RecommendRequest, recommend

KEY = "rightsize-todo-deployment-todo-backend"
BRANCH = f"aiops/{KEY}"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_opsrepo(tmp_path)


def propose(repo: Path, *args: str, usage: tuple[str, ...] = SEED_ARGS) -> Any:
    return aiops("propose", "--forge", "local", "--repo", str(repo), *usage, *args)


def seed_snapshot_with(where: Path, *, annotations: dict[str, str] | None = None, **resources: str) -> Path:
    """The seed snapshot with other requests/limits on every container, or Deployment annotations."""
    doc = json.loads((FIXTURES / "seed-snapshot.json").read_text())
    for item in doc["items"]:
        spec = item.get("spec") or {}
        pod_spec = (spec.get("template") or {}).get("spec") or spec
        for c in pod_spec.get("containers") or []:
            res = c.setdefault("resources", {})
            for name, qty in resources.items():
                section, _, resource = name.partition("_")
                res.setdefault(section, {})[resource] = qty
        if annotations and item["kind"] == "Deployment":
            item["metadata"].setdefault("annotations", {}).update(annotations)
    path = where / "snapshot.json"
    path.write_text(json.dumps(doc))
    return path


def with_snapshot(snapshot: Path) -> tuple[str, ...]:
    args = list(SEED_ARGS)
    args[1] = str(snapshot)
    return tuple(args)


# ---- Done when ---------------------------------------------------------------------------------


def test_propose_makes_a_branch_changing_exactly_the_values_keys_and_adding_the_record(repo: Path) -> None:
    before_values = (repo / BACKEND_VALUES).read_text()
    run = propose(repo, "--as", "carol")
    assert run.code == 0, run.err
    assert run.out.splitlines()[0].startswith(f"opened #1: rightsize todo/todo-backend [medium] ({BRANCH})")
    assert "skipped: restart todo/todo-backend — cleared:" in run.out

    files = git(repo, "diff", "--name-status", f"main...{BRANCH}").splitlines()
    record = [f.split("\t")[1] for f in files if f.startswith("A\thistory/")]
    assert sorted(files) == sorted([f"M\t{BACKEND_VALUES}", f"A\t{record[0]}"])
    day = datetime.now(UTC)
    rid = f"{day:%Y%m%d}-{KEY}"
    assert record == [f"history/prompts/{day:%Y}/{day:%m}/{rid}--recommendation.md"]

    # exactly the three values change; every other line, comments included, is kept
    after = git(repo, "show", f"{BRANCH}:{BACKEND_VALUES}") + "\n"
    old_lines, new_lines = before_values.splitlines(), after.splitlines()
    assert len(old_lines) == len(new_lines)
    changed = [(a, b) for a, b in zip(old_lines, new_lines, strict=True) if a != b]
    assert changed == [
        ("    cpu: 250m", "    cpu: 130m"),
        ("    memory: 256Mi", "    memory: 156Mi"),
        (
            "    memory: 512Mi   # the OOM line: keep it above the p95 working set",
            "    memory: 200Mi   # the OOM line: keep it above the p95 working set",
        ),
    ]
    # one commit, with the trailer; the user's work tree and index untouched
    assert git(repo, "rev-list", "--count", f"main..{BRANCH}") == "1"
    assert f"Aiops-Id: {rid}" in git(repo, "log", "-1", "--format=%B", BRANCH)
    assert git(repo, "status", "--porcelain") == ""
    assert (repo / BACKEND_VALUES).read_text() == before_values

    # the record parses back and the marker carries the contract's keys
    text = git(repo, "show", f"{BRANCH}:{record[0]}")
    rec = parse_record(text + "\n", where=record[0])
    assert (rec.id, rec.stage, rec.front["tier"], rec.front["kind"]) == (
        rid,
        "recommendation",
        "medium",
        "rightsize",
    )
    assert rec.front["sizing"]["backend"]["cpu_p95"] == "100m"
    p = LocalForge(repo).get_proposal(1)
    assert p.labels == ("risk:medium",)
    meta = decode_marker(p.body)
    assert meta is not None and meta == dict(p.meta)
    assert set(meta) == {
        "v", "id", "key", "kind", "target", "proposed", "sizing", "content_hash",
        "tier", "requested_by", "base_sha", "revert_of",
    }  # fmt: skip
    assert (meta["id"], meta["key"], meta["tier"], meta["requested_by"]) == (rid, KEY, "medium", "carol")
    assert meta["proposed"] == {
        "backend": {"requests": {"cpu": "130m", "memory": "156Mi"}, "limits": {"memory": "200Mi"}}
    }
    assert meta["base_sha"] == git(repo, "rev-parse", "main")


def test_a_rerun_changes_nothing(repo: Path) -> None:
    assert propose(repo).code == 0
    refs = snapshot_refs(repo)
    again = propose(repo)
    assert again.code == 0
    assert again.out.splitlines()[0] == (
        "unchanged #1: rightsize todo/todo-backend [medium] — no value moved beyond the hysteresis"
    )
    assert snapshot_refs(repo) == refs
    assert len(LocalForge(repo).find_proposals(state="all")) == 1
    dashboard = LocalForge(repo).dashboard() or ""
    assert "<!-- aiops:dashboard:proposals -->" in dashboard
    assert f"| #1 | `rightsize` | `todo/todo-backend` | `medium` | `{BRANCH}` |" in dashboard


def test_dry_run_prints_diff_tier_and_body_and_writes_nothing(repo: Path) -> None:
    refs = snapshot_refs(repo)
    run = propose(repo, "--dry-run")
    assert run.code == 0
    assert run.out.startswith("would open: rightsize todo/todo-backend [medium]")
    assert "\n-    cpu: 250m\n" in run.out and "\n+    cpu: 130m\n" in run.out
    assert "--- tier medium ---" in run.out
    assert "<!-- aiops:meta " in run.out and "## aiops: rightsize todo/todo-backend" in run.out
    assert run.out.rstrip().endswith("dry run: nothing was written")
    if find_helm(None, repo_dir=ROOT) is not None:  # the rendered objects, as Atlantis' plan shows them
        assert "Rendered manifests (`helm template`), affected objects:" in run.out
        assert "+++ b/Deployment/todo-backend" in run.out and "+              cpu: 130m" in run.out
    assert snapshot_refs(repo) == refs
    data = propose(repo, "--dry-run", "-o", "json").json()
    assert data["dry_run"] is True
    first = data["proposals"][0]
    assert (first["action"], first["tier"], first["number"]) == ("would-open", "medium", None)
    assert snapshot_refs(repo) == refs


def test_json_output_one_entry_per_recommendation_and_skip(repo: Path) -> None:
    data = propose(repo, "-o", "json").json()
    actions = [(p["action"], p["kind"]) for p in data["proposals"]]
    assert actions[0] == ("opened", "rightsize")
    assert {a for a, _ in actions[1:]} == {"skipped"}
    assert data["proposals"][0]["number"] == 1 and data["proposals"][0]["branch"] == BRANCH
    rec = data["proposals"][0]["recommendation"]
    assert rec["tier"] == "medium" and rec["id"] == data["proposals"][0]["id"]
    assert [(c["file"], [k["key"] for k in c["keys"]]) for c in rec["changes"]] == [
        (BACKEND_VALUES, ["resources.requests.cpu", "resources.requests.memory", "resources.limits.memory"])
    ]


# ---- the update rule ---------------------------------------------------------------------------


def test_update_only_beyond_the_hysteresis_keeps_the_id(repo: Path, tmp_path: Path) -> None:
    assert propose(repo).code == 0
    p1 = LocalForge(repo).get_proposal(1)
    refs = snapshot_refs(repo)
    small = propose(repo, usage=scaled_usage(tmp_path, 1.05))  # 5 % more usage: within 10 %
    assert small.out.startswith("unchanged #1"), small.out
    assert snapshot_refs(repo) == refs
    big = propose(repo, usage=scaled_usage(tmp_path, 1.5))
    assert big.out.startswith("updated #1: rightsize todo/todo-backend [medium] — backend."), big.out
    p2 = LocalForge(repo).get_proposal(1)
    assert p2.id == p1.id and p2.head_sha != p1.head_sha
    assert p2.meta["proposed"] != p1.meta["proposed"]
    assert git(repo, "rev-list", "--count", f"main..{BRANCH}") == "1"
    assert "cpu: 195m" in git(repo, "show", f"{BRANCH}:{BACKEND_VALUES}")
    assert len(LocalForge(repo).find_proposals(state="all")) == 1


def test_real_change_rule() -> None:
    old = {"backend": {"requests": {"cpu": "130m", "memory": "156Mi"}}}
    assert real_change(old, {"backend": {"requests": {"cpu": "140m", "memory": "160Mi"}}}, 0.10) is None
    assert "cpu" in (
        real_change(old, {"backend": {"requests": {"cpu": "150m", "memory": "156Mi"}}}, 0.1) or ""
    )
    assert "memory" in (
        real_change(old, {"backend": {"requests": {"cpu": "0.13", "memory": "1Gi"}}}, 0.1) or ""
    )
    added = real_change(
        old, {"backend": {"requests": {"cpu": "130m", "memory": "156Mi"}, "limits": {"memory": "200Mi"}}}, 0.1
    )
    assert added is not None and "+backend.limits.memory" in added
    assert real_change({"replicas": 3}, {"replicas": 4}, 0.1) is not None
    assert real_change({"restart": True}, {"restart": True}, 0.1) is None
    assert real_change({"repository": "a", "tag": "1"}, {"repository": "a", "tag": "2"}, 0.1) is not None
    assert real_change(None, {"replicas": 3}, 0.1) is not None


def test_a_persons_commit_on_the_branch_gets_one_comment_not_an_overwrite(repo: Path, tmp_path: Path) -> None:
    assert propose(repo).code == 0
    # a person pushes a commit onto the proposal branch
    wt = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", str(wt), BRANCH)
    values = wt / BACKEND_VALUES
    values.write_text(values.read_text().replace("cpu: 130m", "cpu: 140m  # dave: a bit more"))
    git(wt, "commit", "-qam", "dave's tweak")
    head = git(repo, "rev-parse", BRANCH)
    run = propose(repo, usage=scaled_usage(tmp_path, 1.5))
    assert run.out.startswith("commented #1"), run.out
    assert git(repo, "rev-parse", BRANCH) == head
    comments = LocalForge(repo).comments(1)
    assert len(comments) == 1 and "aiops:comment:update-blocked" in comments[0].body
    again = propose(repo, usage=scaled_usage(tmp_path, 1.5))
    assert again.out.startswith("unchanged #1"), again.out
    assert len(LocalForge(repo).comments(1)) == 1


# ---- cleared, snoozed, rate limits, opt-out ----------------------------------------------------------


def test_cleared_closes_the_open_proposal_and_other_skips_close_nothing(repo: Path, tmp_path: Path) -> None:
    assert propose(repo).code == 0
    # usage gone: insufficient data, which closes nothing
    only_snapshot = ("--snapshot", str(FIXTURES / "seed-snapshot.json"))
    assert propose(repo, usage=only_snapshot).code == 0
    assert LocalForge(repo).get_proposal(1).state == "open"
    # the workload now runs with the proposed sizing: the rightsize condition cleared
    sized = seed_snapshot_with(tmp_path, requests_cpu="130m", requests_memory="156Mi", limits_memory="200Mi")
    run = propose(repo, usage=with_snapshot(sized))
    assert "closed #1: rightsize todo/todo-backend — cleared:" in run.out, run.out
    p = LocalForge(repo).get_proposal(1)
    assert p.state == "closed"
    assert "aiops:comment:cleared" in LocalForge(repo).comments(1)[-1].body
    refs = snapshot_refs(repo)
    assert "closed #" not in propose(repo, usage=with_snapshot(sized)).out
    assert snapshot_refs(repo) == refs
    # the condition returns: a closed-as-cleared proposal is no "no", a new decision opens (new id)
    back = propose(repo)
    assert back.out.startswith("opened #2"), back.out
    p2 = LocalForge(repo).get_proposal(2)
    assert p2.id != p.id and p2.id is not None and p2.id.endswith("-2")


def test_closed_unmerged_is_snoozed_until_the_proposal_changes_or_snooze_days_pass(
    repo: Path, tmp_path: Path
) -> None:
    assert propose(repo).code == 0
    LocalForge(repo, actor="dave").close_proposal(1, comment="not now")
    refs = snapshot_refs(repo)
    run = propose(repo)
    assert run.out.startswith("snoozed #1: rightsize todo/todo-backend — #1 was closed unmerged"), run.out
    # only the dashboard moved (no open proposal now, one snoozed); a second run writes nothing
    assert {k for k, v in snapshot_refs(repo).items() if refs.get(k) != v} == {"refs/aiops/dashboard"}
    dashboard = LocalForge(repo).dashboard() or ""
    assert "No open proposals." in dashboard and "- snoozed: `rightsize` `todo/todo-backend`" in dashboard
    refs = snapshot_refs(repo)
    assert propose(repo).out.startswith("snoozed #1")
    assert snapshot_refs(repo) == refs
    # 15 days later (snooze_days 14) the same recommendation opens again
    outcome = recommend(RecommendRequest(snapshots=(SEED_ARGS[1],), usage=SEED_ARGS[3::2]))
    later = datetime.now(UTC) + timedelta(days=15)
    forge = LocalForge(repo)
    dry = run_propose(
        outcome.result.recommendations,
        (),
        forge=forge,
        settings=outcome.settings,
        snapshot=outcome.snapshot,
        options=ProposeOptions(dry_run=True, now=later, render=False),
    )
    assert [ln.action for ln in dry.lines] == ["would-open"]
    # a real change of the proposal ends the snooze at once
    changed = propose(repo, usage=scaled_usage(tmp_path, 1.5))
    assert changed.out.startswith("opened #2"), changed.out


def test_rate_limits_defer_and_are_not_errors(tmp_path: Path) -> None:
    policy = (ROOT / ".github" / "aiops.yaml").read_text()
    limited = policy.replace(
        "proposals: {max_open: 10, max_per_hour: 2, snooze_days: 14}",
        "proposals: {max_open: 1, max_per_hour: 2, snooze_days: 14}",
    )
    assert limited != policy
    repo = make_opsrepo(tmp_path / "a", policy=limited)
    other = LocalForge(repo).propose(
        branch="aiops/scale-todo-deployment-todo-frontend",
        title="aiops: scale todo/todo-frontend",
        body="b",
        files={"manifests/environments/minikube/todo-frontend.yaml": "replicaCount: 3\n"},
        message="m",
        meta={"key": "scale-todo-deployment-todo-frontend", "id": "x"},
    )
    run = propose(repo)
    assert run.code == 0
    assert run.out.startswith("deferred: rightsize todo/todo-backend — proposals.max_open 1 reached (1 open)")
    LocalForge(repo).close_proposal(other.number, comment="")
    per_hour = make_opsrepo(tmp_path / "b", policy=policy.replace("max_per_hour: 2", "max_per_hour: 1"))
    LocalForge(per_hour).propose(
        branch="aiops/x",
        title="t",
        body="b",
        files={"x.txt": "x\n"},
        message="m",
        meta={"key": "x", "id": "x"},
    )
    LocalForge(per_hour).close_proposal(1, comment="")
    run = propose(per_hour, "-o", "json")
    assert run.code == 0
    first = run.json()["proposals"][0]
    assert first["action"] == "deferred" and "max_per_hour 1" in first["reason"]


def test_opted_out_workload_gets_no_proposal(repo: Path, tmp_path: Path) -> None:
    snap = seed_snapshot_with(tmp_path, annotations={"aiops.io/ignore": "rightsize"})
    run = propose(repo, usage=with_snapshot(snap))
    assert run.code == 0
    assert "skipped: rightsize todo/todo-backend — opted-out:" in run.out
    assert LocalForge(repo).find_proposals(state="all") == []


# ---- policy refusal ----------------------------------------------------------------------------


def test_a_target_under_a_forbidden_path_is_refused_with_exit_4_and_nothing_written(tmp_path: Path) -> None:
    policy = (ROOT / ".github" / "aiops.yaml").read_text()
    evil = policy.replace(
        "file: manifests/environments/minikube/todo-backend.yaml,", "file: aiops/todo-backend-values.yaml,"
    )
    assert evil != policy
    repo = make_opsrepo(tmp_path, policy=evil)
    (repo / "aiops").mkdir()
    (repo / "aiops" / "todo-backend-values.yaml").write_text((repo / BACKEND_VALUES).read_text())
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "values in the wrong place")
    refs = snapshot_refs(repo)
    run = propose(repo)
    assert run.code == 4, run.out + run.err
    assert "refused: rightsize todo/todo-backend — aiops/todo-backend-values.yaml: under aiops/" in run.out
    assert "policy forbids" in run.err
    assert snapshot_refs(repo) == refs


@pytest.mark.parametrize(
    ("path", "why"),
    [
        (".github/workflows/ci.yml", ".github/"),
        (".GitHub/aiops.yaml", ".github/"),
        ("aiops/cli/x.py", "aiops/"),
        ("docs/CODEOWNERS", "CODEOWNERS"),
        ("history/prompts/2026/01/x--recommendation.md", "history/"),
        ("manifests/../aiops/x.yaml", "relative path"),
        ("/etc/passwd", "relative path"),
        (".git/config", "git internals"),
    ],
)
def test_forbidden_paths(path: str, why: str) -> None:
    assert why in (forbidden_path(path) or "")


def test_values_files_are_allowed() -> None:
    assert forbidden_path(BACKEND_VALUES) is None
    assert forbidden_path("manifests/charts/todo-backend/values.yaml") is None


def test_rate_limit_counts_what_this_run_opens_dry_run_included(repo: Path) -> None:
    outcome = recommend(RecommendRequest(snapshots=(SEED_ARGS[1],), usage=SEED_ARGS[3::2]))
    sized = outcome.result.recommendations[0]
    scale = replace(sized, kind="scale", current={"replicas": 2}, proposed={"replicas": 3}, sizing=None)
    hpa = replace(
        sized,
        kind="hpa",
        current={},
        proposed={"minReplicas": 2, "maxReplicas": 4, "targetCPUUtilizationPercentage": 70},
        sizing=None,
    )
    settings = outcome.settings  # max_per_hour 2
    for dry in (True, False):
        result = run_propose(
            [sized, scale, hpa],
            (),
            forge=LocalForge(repo),
            settings=settings,
            snapshot=outcome.snapshot,
            options=ProposeOptions(dry_run=dry, render=False),
        )
        opened = "would-open" if dry else "opened"
        assert [ln.action for ln in result.lines] == [opened, opened, "deferred"]
        assert "max_per_hour 2 reached (2 in the last hour)" in result.lines[2].reason
    forge = LocalForge(repo)
    assert [p.key for p in forge.find_proposals()] == [sized.key, scale.key]
    assert [p.meta["tier"] for p in forge.find_proposals()] == ["medium", "low"]


# ---- the same flow through the GitHub forge (responses; the port is all the pipeline knows) --------


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


def test_github_forge_opens_one_commit_through_the_api_then_a_rerun_only_reads() -> None:
    responses = pytest.importorskip("responses")
    import ghpayloads as gh
    from responses import matchers

    outcome = recommend(RecommendRequest(snapshots=(SEED_ARGS[1],), usage=SEED_ARGS[3::2]))
    values = (ROOT / BACKEND_VALUES).read_text()
    m = gh.M
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.get(
            f"{m}/pulls", json=[], match=[matchers.query_param_matcher({"state": "all", "base": "main"})]
        )
        rsps.get(f"{m}/contents/{BACKEND_VALUES}", json=gh.content(BACKEND_VALUES, values))
        # is the decision id free? (the record path answers 404 like any absent file)
        record_url = re.compile(re.escape(f"{m}/contents/history/prompts/") + ".*")
        rsps.get(record_url, status=404, json=gh.error("Not Found"))
        rsps.get(f"{m}/git/ref/heads/main", json=gh.ref("heads/main", gh.sha("a")))
        rsps.get(
            f"{m}/pulls",
            json=[],
            match=[matchers.query_param_matcher({"state": "open", "head": f"acme:{BRANCH}", "base": "main"})],
        )
        rsps.get(f"{m}/git/commits/{gh.sha('a')}", json=gh.git_commit(gh.sha("a"), gh.sha("b")))
        rsps.post(f"{m}/git/trees", status=201, json=gh.tree(gh.sha("d"), []))
        rsps.post(
            f"{m}/git/commits", status=201, json=gh.git_commit(gh.sha("c"), gh.sha("d"), (gh.sha("a"),))
        )
        rsps.post(f"{m}/git/refs", status=201, json=gh.ref(f"heads/{BRANCH}", gh.sha("c")))
        rsps.post(f"{m}/pulls", status=201, json=gh.pr(7, branch=BRANCH))
        rsps.get(f"{m}/labels/risk%3Amedium", json=gh.label("risk:medium"))
        rsps.put(f"{m}/issues/7/labels", json=[gh.label("risk:medium")])
        rsps.post(f"{m}/pulls/7/requested_reviewers", status=201, json=gh.pr(7, branch=BRANCH))
        rsps.get(f"{m}/issues", json=[])
        rsps.post(f"{m}/issues", status=201, json=gh.issue(9, "<!-- aiops:dashboard -->"))
        result = run_propose(
            outcome.result.recommendations,
            outcome.result.skipped,
            forge=_github(),
            settings=outcome.settings,
            snapshot=outcome.snapshot,
            options=ProposeOptions(requested_by="carol", render=False),
        )
        assert [ln.action for ln in result.lines][:1] == ["opened"]
        assert result.lines[0].number == 7
        calls = _paths(rsps)
        writes = [c for c in calls if not c.startswith("GET")]
        assert writes == [
            "POST /git/trees",
            "POST /git/commits",
            "POST /git/refs",
            "POST /pulls",
            "PUT /issues/7/labels",
            "POST /pulls/7/requested_reviewers",
            "POST /issues",
        ]
        bodies = {
            c: json.loads(r.request.body) for c, r in zip(calls, rsps.calls, strict=True) if r.request.body
        }
        tree = {e["path"]: e["content"] for e in bodies["POST /git/trees"]["tree"]}
        assert set(tree) == {BACKEND_VALUES, result.lines[0].files[0]}
        assert "    cpu: 130m\n" in tree[BACKEND_VALUES] and "# the OOM line" in tree[BACKEND_VALUES]
        assert f"Aiops-Id: {result.lines[0].id}" in bodies["POST /git/commits"]["message"]
        assert bodies["POST /git/commits"]["parents"] == [gh.sha("a")]
        meta = decode_marker(bodies["POST /pulls"]["body"])
        assert meta is not None and meta["tier"] == "medium" and meta["requested_by"] == "carol"
        assert bodies["PUT /issues/7/labels"] == ["risk:medium"]
        assert bodies["POST /pulls/7/requested_reviewers"] == {
            "reviewers": [],
            "team_reviewers": ["architects"],
        }

        dashboard = bodies["POST /issues"]["body"]
        assert f"| #7 | `rightsize` | `todo/todo-backend` | `medium` | `{BRANCH}` |" in dashboard

    body = bodies["POST /pulls"]["body"]
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.get(f"{m}/pulls", json=[gh.pr(7, branch=BRANCH, body=body)])
        rsps.get(f"{m}/contents/{BACKEND_VALUES}", json=gh.content(BACKEND_VALUES, values))
        rsps.get(f"{m}/issues", json=[gh.issue(9, dashboard)])
        again = run_propose(
            outcome.result.recommendations,
            outcome.result.skipped,
            forge=_github(),
            settings=outcome.settings,
            snapshot=outcome.snapshot,
            options=ProposeOptions(requested_by="carol", render=False),
        )
        assert again.lines[0].action == "unchanged" and again.lines[0].number == 7
        assert _paths(rsps) == ["GET /pulls", f"GET /contents/{BACKEND_VALUES}", "GET /issues"]


@pytest.mark.parametrize("name", ["propose", "merge", "rollback"])
def test_help_has_examples(name: str) -> None:
    run = aiops(name, "--help")
    assert run.code == 0 and "Examples:" in run.out and f"aiops {name} " in run.out
