"""The approval gate's attack matrix through `aiops gate --forge local` on real git repositories.

Every attack of issue 5 must be refused and the honest path of every tier must pass; the gate
posts one `aiops/approval-gate` status and one comment, and a second run changes nothing.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from aiops.cli import main
from aiops.gitops.forge import Proposal
from aiops.gitops.local import LocalForge

VALUES = "manifests/environments/minikube/todo-backend.yaml"
RECORD = "history/prompts/2026/11/20261101-old--recommendation.md"
NEW_RECORD = "history/prompts/2026/11/20261125-x--recommendation.md"
POLICY = """\
approvals:
  teams: {architects: org/architects, security: org/security}
  members: {org/architects: [alice, dave, carol, erin], org/security: [bob, dave]}
  bots: ["aiops-bot[bot]", "github-actions[bot]"]
"""
BASE_VALUES = """\
# todo-backend on minikube
replicaCount: 2
podAnnotations: {}
resources:
  requests:
    cpu: 500m
    memory: 512Mi
  limits:
    memory: 512Mi
"""
SIZING = {
    "backend": {
        "cpu_p95": 0.1,
        "memory_p95": "120Mi",
        "memory_peak": "151.6Mi",
        "oom_in_window": False,
        "samples": 16128,
        "window_days": 14,
        "clamped": None,
    }
}


def git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    import os

    full = {**os.environ, **(env or {})}
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=full
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    r = tmp_path / "ops"
    r.mkdir()
    git(r, "init", "-q", "-b", "main")
    git(r, "config", "user.name", "carol")
    git(r, "config", "user.email", "carol@example.com")
    files = {
        ".github/aiops.yaml": POLICY,
        ".github/workflows/gate.yml": "name: gate\n",
        VALUES: BASE_VALUES,
        RECORD: "---\nid: 20261101-old\n---\nrecord\n",
    }
    for path, text in files.items():
        (r / path).parent.mkdir(parents=True, exist_ok=True)
        (r / path).write_text(text)
    git(r, "add", "-A")
    git(r, "commit", "-qm", "initial")
    return r


def replicas(n: int) -> str:
    text = BASE_VALUES.replace("replicaCount: 2", f"replicaCount: {n}")
    assert text != BASE_VALUES or n == 2
    return text


def propose(
    repo: Path,
    files: dict[str, str | None],
    *,
    labels: tuple[str, ...] = (),
    requested_by: str | None = "frank",
    sizing: dict[str, Any] | None = None,
    key: str = "rightsize-todo-deployment-todo-backend",
) -> int:
    forge = LocalForge(repo)
    meta: dict[str, Any] = {"key": key, "id": f"20261125-{key}"}
    if requested_by:
        meta["requested_by"] = requested_by
    if sizing is not None:
        meta["sizing"] = sizing
    p = forge.propose(
        branch=f"aiops/{key}",
        title="change",
        body="why",
        files=files,
        message=f"aiops: change\n\nAiops-Id: 20261125-{key}\n",
        labels=list(labels),
        meta=meta,
    )
    return p.number


def review(repo: Path, n: int, login: str, state: str = "APPROVED") -> None:
    LocalForge(repo).add_review(n, login, state)


def gate(repo: Path, n: int, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["gate", "--pr", str(n), "--forge", "local", "--repo", str(repo), "-o", "json"])
    out = capsys.readouterr().out
    return int(exc.value.code or 0), json.loads(out)


def status(repo: Path, n: int) -> Any:
    forge = LocalForge(repo)
    p = forge.get_proposal(n)
    found = [s for s in forge.statuses(p.head_sha) if s.context == "aiops/approval-gate"]
    assert len(found) == 1
    return found[0]


def gate_comments(repo: Path, n: int) -> list[str]:
    return [c.body for c in LocalForge(repo).comments(n) if "<!-- aiops:comment:gate -->" in c.body]


# ---- honest paths ----------------------------------------------------------------------------


def test_honest_low_passes_with_one_architect_and_the_second_run_changes_nothing(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    n = propose(repo, {VALUES: replicas(3)}, labels=("risk:low",))
    code, out = gate(repo, n, capsys)
    assert code == 0 and out["decision"]["state"] == "pending" and out["decision"]["tier"] == "low"
    assert status(repo, n).state == "pending"
    assert "needs 1 approval from architects" in gate_comments(repo, n)[0]
    review(repo, n, "alice")
    code, out = gate(repo, n, capsys)
    assert code == 0 and out["decision"]["state"] == "success"
    assert out["status_posted"] and out["comment_changed"]
    st = status(repo, n)
    assert st.state == "success" and "alice (architects)" in st.description and len(st.description) <= 140
    comments_before = LocalForge(repo).comments(n)
    # second run: no new status, no comment change, still one gate comment
    code, out = gate(repo, n, capsys)
    assert code == 0 and not out["status_posted"] and not out["comment_changed"]
    assert LocalForge(repo).comments(n) == comments_before
    assert len(gate_comments(repo, n)) == 1
    assert LocalForge(repo).get_proposal(n).state == "open"  # low is never auto-merged


def test_honest_medium_with_sizing_evidence_passes(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    new = BASE_VALUES.replace("cpu: 500m", "cpu: 130m").replace(
        "memory: 512Mi\n  limits", "memory: 156Mi\n  limits"
    )
    new = new.replace("limits:\n    memory: 512Mi", "limits:\n    memory: 200Mi")
    n = propose(repo, {VALUES: new, NEW_RECORD: "record\n"}, labels=("risk:medium",), sizing=SIZING)
    review(repo, n, "alice")
    code, out = gate(repo, n, capsys)
    assert code == 0, out
    assert out["decision"]["tier"] == "medium" and out["decision"]["state"] == "success"
    assert out["safety"]["ok"] is True


def test_honest_critical_needs_architect_and_security(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    n = propose(repo, {".github/aiops.yaml": POLICY + "retention_days: 400\n"}, labels=("risk:critical",))
    review(repo, n, "alice")
    code, out = gate(repo, n, capsys)
    assert code == 0 and out["decision"]["state"] == "pending"
    assert any("security" in m for m in out["decision"]["missing"])
    review(repo, n, "bob")
    code, out = gate(repo, n, capsys)
    assert code == 0 and out["decision"]["state"] == "success"
    assert {a["login"] for a in out["decision"]["approvers"]} == {"alice", "bob"}


def test_trivial_restart_by_the_bot_is_merged_by_the_gate(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new = BASE_VALUES.replace(
        "podAnnotations: {}", 'podAnnotations:\n  aiops.io/restartedAt: "2026-11-25T10:00:00Z"'
    )
    n = propose(repo, {VALUES: new}, labels=("risk:trivial",), key="restart-todo-deployment-todo-backend")
    code, out = gate(repo, n, capsys)
    assert code == 0 and out["decision"]["tier"] == "trivial" and out["decision"]["state"] == "success"
    assert out["merged_sha"]
    p = LocalForge(repo).get_proposal(n)
    assert p.state == "merged" and p.merge_sha == out["merged_sha"]
    assert "restartedAt" in git(repo, "show", f"main:{VALUES}")
    assert "Merged by the aiops App" in gate_comments(repo, n)[0]


def test_trivial_is_not_merged_when_auto_merge_is_off(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / ".github/aiops.yaml").write_text(
        POLICY.replace("  bots:", "  auto_merge_trivial: false\n  bots:")
    )
    git(repo, "commit", "-qam", "no auto merge")
    new = BASE_VALUES.replace("podAnnotations: {}", 'podAnnotations:\n  aiops.io/restartedAt: "x"')
    n = propose(repo, {VALUES: new}, labels=("risk:trivial",))
    code, out = gate(repo, n, capsys)
    assert code == 0 and out["decision"]["state"] == "success" and out["merged_sha"] is None
    assert LocalForge(repo).get_proposal(n).state == "open"


# ---- the attack matrix -------------------------------------------------------------------------


def test_self_approval_by_a_person_who_pushed_to_the_branch_does_not_count(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    n = propose(repo, {VALUES: replicas(3)})
    p = LocalForge(repo).get_proposal(n)
    # erin (an architect) pushes her own change onto the aiops branch, then approves it
    work = repo.parent / "wt"
    git(repo, "worktree", "add", "-q", str(work), p.branch)
    (work / VALUES).write_text(replicas(4))
    erin = {
        "GIT_AUTHOR_NAME": "erin",
        "GIT_AUTHOR_EMAIL": "e@x",
        "GIT_COMMITTER_NAME": "erin",
        "GIT_COMMITTER_EMAIL": "e@x",
    }
    git(work, "commit", "-qam", "more replicas", env=erin)
    review(repo, n, "erin")
    code, out = gate(repo, n, capsys)
    assert code == 0 and out["decision"]["state"] == "pending"
    assert any("erin pushed commits" in x for x in out["gate_notes"])
    assert "erin" in gate_comments(repo, n)[0]


def test_bot_approval_does_not_count(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    n = propose(repo, {VALUES: replicas(3)})
    review(repo, n, "github-actions[bot]")
    code, out = gate(repo, n, capsys)
    assert code == 0 and out["decision"]["state"] == "pending"
    assert any("bots never approve" in r for r in out["decision"]["reasons"])


def test_requester_approval_does_not_count(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    n = propose(repo, {VALUES: replicas(3)}, requested_by="carol")
    review(repo, n, "carol")
    code, out = gate(repo, n, capsys)
    assert code == 0 and out["decision"]["state"] == "pending"
    assert any("requested the recommendation" in r for r in out["decision"]["reasons"])


def test_approval_before_a_new_push_is_stale(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    n = propose(repo, {VALUES: replicas(3)})
    review(repo, n, "alice")
    code, out = gate(repo, n, capsys)
    assert out["decision"]["state"] == "success"
    forge = LocalForge(repo)
    forge.update_proposal(n, title="t", body="b", files={VALUES: replicas(4)}, message="m")
    code, out = gate(repo, n, capsys)
    assert code == 0 and out["decision"]["state"] == "pending"
    assert any("re-approve the head commit" in r for r in out["decision"]["reasons"])
    assert status(repo, n).state == "pending"  # on the new head


def test_one_person_in_both_teams_counts_once(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    n = propose(repo, {".github/workflows/gate.yml": "name: gate\non: push\n"})
    review(repo, n, "dave")
    code, out = gate(repo, n, capsys)
    assert code == 0 and out["decision"]["tier"] == "critical" and out["decision"]["state"] == "pending"
    assert len(out["decision"]["approvers"]) == 1


def test_a_pr_rewriting_the_gate_workflow_is_critical_and_cannot_pass_with_one_team(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    evil = "name: gate\non: pull_request\njobs: {}\n"
    n = propose(repo, {".github/workflows/gate.yml": evil}, labels=("risk:trivial",))
    review(repo, n, "alice")
    review(repo, n, "erin")
    code, out = gate(repo, n, capsys)
    assert code == 0
    assert out["decision"]["tier"] == "critical" and out["decision"]["state"] == "pending"
    assert out["label_corrected"] == {"from": ["risk:trivial"], "to": "risk:critical"}
    assert LocalForge(repo).get_proposal(n).labels == ("risk:critical",)


def test_approval_by_a_non_member_does_not_count(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    n = propose(repo, {VALUES: replicas(3)})
    review(repo, n, "mallory")
    code, out = gate(repo, n, capsys)
    assert code == 0
    assert out["decision"]["state"] == "pending"
    assert any("not a member" in r for r in out["decision"]["reasons"])


def test_wrong_risk_label_on_a_secret_change_is_corrected_and_said(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: todo}\nstringData: {password: x}\n"
    )
    n = propose(repo, {"manifests/secret.yaml": secret}, labels=("risk:low", "team:backend"))
    review(repo, n, "alice")
    code, out = gate(repo, n, capsys)
    assert out["decision"]["tier"] == "critical" and out["decision"]["state"] == "pending"
    assert LocalForge(repo).get_proposal(n).labels == ("risk:critical", "team:backend")
    body = gate_comments(repo, n)[0]
    assert "**Label corrected**: `risk:low` → `risk:critical`" in body
    # a re-run still says it and changes nothing
    code, out = gate(repo, n, capsys)
    assert code == 0
    assert out["label_corrected"] is None and not out["comment_changed"] and not out["status_posted"]
    assert gate_comments(repo, n)[0] == body


def test_a_pr_editing_an_existing_record_fails_with_the_rollback_hint(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    n = propose(repo, {RECORD: "---\nid: 20261101-old\n---\nrewritten\n"})
    review(repo, n, "alice")
    review(repo, n, "bob")
    code, out = gate(repo, n, capsys)
    assert code == 1 and out["decision"]["state"] == "failure"
    assert any("aiops rollback" in b for b in out["decision"]["blockers"])
    assert status(repo, n).state == "failure"


def test_a_pr_deleting_a_record_fails(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    n = propose(repo, {RECORD: None})
    code, out = gate(repo, n, capsys)
    assert code == 1 and any("append-only" in b for b in out["decision"]["blockers"])


@pytest.mark.parametrize(
    "path", [".github/aiops.yaml", "CODEOWNERS", "aiops/policy/approval.py", ".github/workflows/ci.yml"]
)
def test_edits_of_the_policy_tool_or_owners_are_critical(
    repo: Path, capsys: pytest.CaptureFixture[str], path: str
) -> None:
    n = propose(repo, {path: "changed\n"})
    review(repo, n, "alice")
    code, out = gate(repo, n, capsys)
    assert code == 0
    assert out["decision"]["tier"] == "critical" and out["decision"]["state"] == "pending"


def test_rename_of_a_values_file_into_a_sensitive_path_is_critical(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    n = propose(repo, {VALUES: None, ".github/todo-backend.yaml": BASE_VALUES})
    review(repo, n, "alice")
    code, out = gate(repo, n, capsys)
    assert code == 0
    assert out["decision"]["tier"] == "critical" and out["decision"]["state"] == "pending"


def test_changes_requested_after_approved_by_the_same_reviewer_fails(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    n = propose(repo, {VALUES: replicas(3)})
    review(repo, n, "alice")
    review(repo, n, "alice", "CHANGES_REQUESTED")
    code, out = gate(repo, n, capsys)
    assert code == 1 and out["decision"]["state"] == "failure"
    assert status(repo, n).state == "failure"


def test_a_dismissed_review_does_not_count(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    n = propose(repo, {VALUES: replicas(3)})
    review(repo, n, "alice")
    review(repo, n, "alice", "DISMISSED")
    code, out = gate(repo, n, capsys)
    assert code == 0 and out["decision"]["state"] == "pending"


def test_medium_memory_request_below_p95_with_margin_fails(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new = BASE_VALUES.replace("memory: 512Mi\n  limits", "memory: 140Mi\n  limits")
    n = propose(repo, {VALUES: new}, sizing=SIZING)
    review(repo, n, "alice")
    code, out = gate(repo, n, capsys)
    assert code == 1 and out["decision"]["tier"] == "medium" and out["decision"]["state"] == "failure"
    assert any(b.startswith("safety:") for b in out["decision"]["blockers"])


def test_a_marker_edited_against_its_committed_record_fails(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The PR body can change without a commit: an edited requester or sizing must not go unseen."""
    from datetime import UTC, datetime

    from aiops.model.phr import PhrRecord
    from aiops.phr.render import render_record

    key = "rightsize-todo-deployment-todo-backend"
    rid = f"20261125-{key}"
    front = {"title": "Right-size", "kind": "rightsize", "requested_by": "frank", "sizing": SIZING}
    record = PhrRecord(rid, "recommendation", datetime(2026, 11, 25, tzinfo=UTC), front)
    new = BASE_VALUES.replace("cpu: 500m", "cpu: 130m").replace(
        "memory: 512Mi\n  limits", "memory: 156Mi\n  limits"
    )
    new = new.replace("limits:\n    memory: 512Mi", "limits:\n    memory: 200Mi")
    files = {VALUES: new, record.path: render_record(record)}
    honest = propose(repo, files, labels=("risk:medium",), sizing=SIZING, requested_by="frank", key=key)
    review(repo, honest, "alice")
    code, out = gate(repo, honest, capsys)
    assert code == 0 and out["decision"]["state"] == "success", out
    LocalForge(repo).close_proposal(honest, comment="")

    # the same proposal whose marker says someone else asked for it (so frank could approve)
    edited = propose(repo, files, labels=("risk:medium",), sizing=SIZING, requested_by="mallory", key=key)
    review(repo, edited, "alice")
    code, out = gate(repo, edited, capsys)
    assert code == 1 and out["decision"]["state"] == "failure"
    assert any("differs from the committed record" in b for b in out["decision"]["blockers"]), out


def _label_event(repo: Path, n: int, actor: str) -> None:
    forge = LocalForge(repo)
    data = forge._load(n)
    data["labels"] = sorted({*data["labels"], "emergency"})
    data["label_events"] = [{"label": "emergency", "action": "labeled", "actor": actor}]
    forge._save(n, data, "label emergency")


def test_emergency_label_by_a_non_member_changes_nothing(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    n = propose(repo, {".github/workflows/gate.yml": "name: x\n"})
    _label_event(repo, n, "mallory")
    review(repo, n, "alice")
    code, out = gate(repo, n, capsys)
    assert code == 0
    d = out["decision"]
    assert (
        d["tier"] == "critical" and d["state"] == "pending" and d["sla_minutes"] == 120 and not d["emergency"]
    )


def test_emergency_label_without_a_recorded_actor_is_ignored(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    n = propose(repo, {VALUES: replicas(3)}, labels=("emergency",))
    code, out = gate(repo, n, capsys)
    assert code == 0
    assert not out["decision"]["emergency"] and out["decision"]["sla_minutes"] == 5
    assert any("emergency label" in x for x in out["gate_notes"])


def test_emergency_label_by_a_member_shortens_only_the_sla(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    n = propose(repo, {".github/workflows/gate.yml": "name: x\n"})
    _label_event(repo, n, "bob")
    review(repo, n, "alice")
    code, out = gate(repo, n, capsys)
    assert code == 0
    d = out["decision"]
    assert d["emergency"] and d["sla_minutes"] == 5 and d["state"] == "pending"


def test_policy_is_read_from_the_base_branch_not_the_pr(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the PR adds mallory to both teams in its own copy of the policy: the gate ignores that copy
    n = propose(
        repo,
        {
            ".github/aiops.yaml": POLICY.replace("[bob, dave]", "[bob, dave, mallory]").replace(
                "carol, erin]", "carol, erin, mallory]"
            )
        },
    )
    review(repo, n, "mallory")
    code, out = gate(repo, n, capsys)
    assert code == 0
    assert out["decision"]["state"] == "pending" and out["decision"]["approvers"] == []


def test_dry_run_posts_nothing(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    n = propose(repo, {VALUES: replicas(3)}, labels=("risk:critical",))
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["gate", "--pr", str(n), "--forge", "local", "--repo", str(repo), "--dry-run"])
    assert exc.value.code == 0
    forge = LocalForge(repo)
    p: Proposal = forge.get_proposal(n)
    assert forge.statuses(p.head_sha) == [] and forge.comments(n) == [] and p.labels == ("risk:critical",)
    assert "aiops/approval-gate=pending" in capsys.readouterr().out


def test_unknown_pr_is_bad_input(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["gate", "--pr", "99", "--forge", "local", "--repo", str(repo)])
    assert exc.value.code == 2
    assert "--pr 99" in capsys.readouterr().err


# ---- the GitHub path, with `responses` against PyGithub ----------------------------------------

import responses  # noqa: E402
from github import Auth, Github  # noqa: E402
from responses import matchers  # noqa: E402

from aiops.gitops.github_admin import GitHubAdmin  # noqa: E402
from aiops.gitops.github_forge import GitHubForge  # noqa: E402
from aiops.phr.render import encode_marker  # noqa: E402
from aiops.pipeline.gate import GitHubHost, run_gate  # noqa: E402
from tests import ghpayloads as P  # noqa: E402
from tests.ghpayloads import MOCK, M, sha  # noqa: E402

GH_POLICY = """\
approvals:
  teams: {architects: org/architects, security: org/security}
  bots: ["aiops-bot[bot]", "github-actions[bot]"]
"""
GATE_YML = ".github/workflows/gate.yml"


def gh_client() -> Github:
    return Github(
        auth=Auth.Token("test-token"),
        lazy=True,
        retry=None,
        seconds_between_requests=None,
        seconds_between_writes=None,
    )


@pytest.fixture
def gh() -> tuple[GitHubForge, GitHubHost]:
    client = gh_client()
    forge = GitHubForge(client, P.REPO, base="main", sleep=lambda s: None, clock=lambda: 0.0)
    return forge, GitHubHost(GitHubAdmin(client, P.REPO, bot_login=P.BOT))


@pytest.fixture
def rsps() -> Any:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as r:
        yield r


def mock_pr(
    r: responses.RequestsMock,
    files: dict[str, tuple[str | None, str | None]],
    *,
    labels: tuple[str, ...] = (),
    meta: dict[str, Any] | None = None,
    author: str = P.BOT,
    body: str | None = None,
) -> None:
    """PR 7 (head c, base a, merge base 0) changing `files`: path -> (old text, new text)."""
    q = matchers.query_param_matcher
    r.get(
        f"{M}/contents/.github/aiops.yaml",
        json=P.content(".github/aiops.yaml", GH_POLICY),
        match=[q({"ref": "main"})],
    )
    marker = encode_marker(
        meta if meta is not None else {"key": "k", "id": "20261125-k", "requested_by": "carol"}
    )
    text = body if body is not None else "why\n\n" + marker
    r.get(f"{M}/pulls/7", json=P.pr(7, body=text, labels=labels, author=author, changed_files=len(files)))
    r.get(f"{M}/compare/{sha('a')}...{sha('c')}", json=P.compare(sha("a"), sha("c"), sha("0"), []))
    rows = []
    for path, (old, new) in files.items():
        rows.append(P.pr_file(path, "added" if old is None else "removed" if new is None else "modified"))
        if old is not None:
            r.get(f"{M}/contents/{path}", json=P.content(path, old), match=[q({"ref": sha("0")})])
        if new is not None:
            r.get(f"{M}/contents/{path}", json=P.content(path, new), match=[q({"ref": sha("c")})])
    r.get(f"{M}/pulls/7/files", json=rows)


def mock_member(r: responses.RequestsMock, team: str, login: str, state: str | None) -> None:
    url = f"{MOCK}/orgs/org/teams/{team}/memberships/{login}"
    if state is None:
        r.get(url, status=404, json=P.error("Not Found"))
    else:
        r.get(url, json={"url": url.replace(":443", ""), "role": "member", "state": state})


def gh_calls(r: responses.RequestsMock) -> list[str]:
    from urllib.parse import unquote, urlsplit

    return [f"{c.request.method} {unquote(urlsplit(str(c.request.url)).path)}" for c in r.calls]


def sent(r: responses.RequestsMock, method: str, path_end: str) -> Any:
    found = [
        c
        for c in r.calls
        if c.request.method == method and str(c.request.url).split("?")[0].endswith(path_end)
    ]
    assert len(found) == 1, [str(c.request.url) for c in found]
    raw = found[0].request.body
    return json.loads(raw) if raw else None


def test_github_attacks_are_refused_and_the_label_corrected(
    gh: tuple[GitHubForge, GitHubHost], rsps: responses.RequestsMock
) -> None:
    """A PR rewriting the gate workflow, labelled risk:low; approvals by the requester, a bot,
    a pending team member, a stale approval and one real architect: critical, pending on security."""
    forge, host = gh
    mock_pr(rsps, {GATE_YML: ("name: gate\n", "name: gate\non: pull_request\n")}, labels=("risk:low",))
    rsps.get(
        f"{M}/pulls/7/reviews",
        json=[
            P.review(1, 7, "alice", "APPROVED", sha("c"), "2026-11-20T10:05:00Z"),
            P.review(2, 7, "bob", "APPROVED", sha("b"), "2026-11-20T10:06:00Z"),  # before the last push
            P.review(3, 7, "carol", "APPROVED", sha("c"), "2026-11-20T10:07:00Z"),  # the requester
            P.review(4, 7, "renovate[bot]", "APPROVED", sha("c"), "2026-11-20T10:08:00Z"),
            P.review(5, 7, "pat", "APPROVED", sha("c"), "2026-11-20T10:09:00Z"),  # invitation pending
        ],
    )
    rsps.get(f"{M}/pulls/7/commits", json=[P.pr_commit(sha("c"), P.BOT)])
    for team, login, state in [
        ("architects", "alice", "active"),
        ("security", "alice", None),
        ("architects", "bob", None),
        ("security", "bob", "active"),
        ("architects", "carol", "active"),
        ("security", "carol", None),
        ("architects", "pat", None),
        ("security", "pat", "pending"),
    ]:
        mock_member(rsps, team, login, state)
    rsps.get(f"{M}/issues/7/labels", json=[P.label("risk:low")])
    rsps.get(f"{M}/labels/risk%3Acritical", json=P.label("risk:critical"))
    rsps.put(f"{M}/issues/7/labels", json=[P.label("risk:critical")])
    rsps.get(f"{M}/statuses/{sha('c')}", json=[])
    rsps.post(
        f"{M}/statuses/{sha('c')}", status=201, json=P.status(1, "aiops/approval-gate", "pending", "x", P.BOT)
    )
    rsps.get(
        f"{M}/issues/7/comments", json=[P.comment(1, 7, "<!-- aiops:comment:gate -->\nfake", login="mallory")]
    )
    rsps.post(f"{M}/issues/7/comments", status=201, json=P.comment(2, 7, "x"))

    outcome = run_gate(forge, host, 7)

    d = outcome.decision
    assert d is not None and d.tier == "critical" and d.state == "pending" and outcome.exit_code == 0
    assert [a.login for a in d.approvers] == ["alice"]
    assert any("security" in m for m in d.missing)
    text = " ".join(d.reasons)
    assert "carol requested the recommendation" in text and "bots never approve" in text
    assert "re-approve the head commit" in text and "pat's approval does not count" in text
    assert sent(rsps, "PUT", "/issues/7/labels") == ["risk:critical"]
    status = sent(rsps, "POST", f"/statuses/{sha('c')}")
    assert status["state"] == "pending" and status["context"] == "aiops/approval-gate"
    assert len(status["description"]) <= 140 and status["target_url"] == f"{P.HTML}/{P.REPO}/pull/7"
    comment = sent(rsps, "POST", "/issues/7/comments")["body"]
    assert comment.startswith("<!-- aiops:comment:gate -->")
    assert "`risk:low` → `risk:critical`" in comment and "needs 1 approval from security" in comment
    assert not any(c.request.method == "PUT" and "/merge" in str(c.request.url) for c in rsps.calls)


def test_github_second_run_posts_nothing(
    gh: tuple[GitHubForge, GitHubHost], rsps: responses.RequestsMock
) -> None:
    forge, host = gh
    new = BASE_VALUES.replace("replicaCount: 2", "replicaCount: 3")
    mock_pr(rsps, {VALUES: (BASE_VALUES, new)}, labels=("risk:low",))
    rsps.get(f"{M}/pulls/7/reviews", json=[P.review(1, 7, "alice", "APPROVED", sha("c"))])
    rsps.get(f"{M}/pulls/7/commits", json=[P.pr_commit(sha("c"), P.BOT)])
    mock_member(rsps, "architects", "alice", "active")
    mock_member(rsps, "security", "alice", None)
    rsps.get(f"{M}/statuses/{sha('c')}", json=[])
    rsps.post(
        f"{M}/statuses/{sha('c')}", status=201, json=P.status(1, "aiops/approval-gate", "success", "x", P.BOT)
    )
    rsps.get(f"{M}/issues/7/comments", json=[])
    rsps.post(f"{M}/issues/7/comments", status=201, json=P.comment(2, 7, "x"))
    first = run_gate(forge, host, 7)
    assert first.decision is not None and first.decision.state == "success" and first.status_posted
    status = sent(rsps, "POST", f"/statuses/{sha('c')}")
    body = sent(rsps, "POST", "/issues/7/comments")["body"]

    rsps.reset()
    client = gh_client()
    forge2 = GitHubForge(client, P.REPO, base="main", sleep=lambda s: None, clock=lambda: 0.0)
    host2 = GitHubHost(GitHubAdmin(client, P.REPO, bot_login=P.BOT))
    mock_pr(rsps, {VALUES: (BASE_VALUES, new)}, labels=("risk:low",))
    rsps.get(f"{M}/pulls/7/reviews", json=[P.review(1, 7, "alice", "APPROVED", sha("c"))])
    rsps.get(f"{M}/pulls/7/commits", json=[P.pr_commit(sha("c"), P.BOT)])
    mock_member(rsps, "architects", "alice", "active")
    mock_member(rsps, "security", "alice", None)
    posted = P.status(1, "aiops/approval-gate", "success", status["description"], P.BOT)
    posted["target_url"] = status["target_url"]
    rsps.get(f"{M}/statuses/{sha('c')}", json=[posted])
    rsps.get(f"{M}/issues/7/comments", json=[P.comment(2, 7, body)])
    second = run_gate(forge2, host2, 7)
    assert not second.status_posted and not second.comment_changed
    assert all(c.request.method == "GET" for c in rsps.calls), gh_calls(rsps)


def test_github_trivial_pr_is_merged_by_the_app_at_the_judged_head(
    gh: tuple[GitHubForge, GitHubHost], rsps: responses.RequestsMock
) -> None:
    forge, host = gh
    new = BASE_VALUES.replace(
        "podAnnotations: {}", 'podAnnotations:\n  aiops.io/restartedAt: "2026-11-25T10:00:00Z"'
    )
    mock_pr(rsps, {VALUES: (BASE_VALUES, new)}, labels=("risk:trivial",))
    rsps.get(f"{M}/pulls/7/reviews", json=[])
    rsps.get(f"{M}/pulls/7/commits", json=[P.pr_commit(sha("c"), P.BOT)])
    rsps.get(f"{M}/statuses/{sha('c')}", json=[])
    rsps.post(
        f"{M}/statuses/{sha('c')}", status=201, json=P.status(1, "aiops/approval-gate", "success", "x", P.BOT)
    )
    rsps.put(
        f"{M}/pulls/7/merge",
        json={"sha": sha("m"), "merged": True, "message": "Pull Request successfully merged"},
    )
    rsps.get(f"{M}/issues/7/comments", json=[])
    rsps.post(f"{M}/issues/7/comments", status=201, json=P.comment(2, 7, "x"))
    outcome = run_gate(forge, host, 7)
    assert outcome.merged_sha == sha("m")
    merge = sent(rsps, "PUT", "/pulls/7/merge")
    assert merge["sha"] == sha("c") and merge["merge_method"] == "merge"


def test_github_person_commit_on_a_bot_pr_is_not_trivial_and_the_pusher_cannot_approve(
    gh: tuple[GitHubForge, GitHubHost], rsps: responses.RequestsMock
) -> None:
    forge, host = gh
    new = BASE_VALUES.replace("replicaCount: 2", "replicaCount: 3")
    mock_pr(rsps, {VALUES: (BASE_VALUES, new)}, labels=("risk:low",))
    rsps.get(f"{M}/pulls/7/reviews", json=[P.review(1, 7, "erin", "APPROVED", sha("c"))])
    rsps.get(f"{M}/pulls/7/commits", json=[P.pr_commit(sha("b"), P.BOT), P.pr_commit(sha("c"), "erin")])
    rsps.get(f"{M}/statuses/{sha('c')}", json=[])
    rsps.post(
        f"{M}/statuses/{sha('c')}", status=201, json=P.status(1, "aiops/approval-gate", "pending", "x", P.BOT)
    )
    rsps.get(f"{M}/issues/7/comments", json=[])
    rsps.post(f"{M}/issues/7/comments", status=201, json=P.comment(2, 7, "x"))
    outcome = run_gate(forge, host, 7)
    assert outcome.decision is not None and outcome.decision.state == "pending"
    assert any("erin pushed commits" in n for n in outcome.extra_reasons)


def test_github_emergency_label_by_a_non_member_is_ignored(
    gh: tuple[GitHubForge, GitHubHost], rsps: responses.RequestsMock
) -> None:
    forge, host = gh
    mock_pr(rsps, {GATE_YML: ("name: gate\n", "name: gate2\n")}, labels=("emergency", "risk:critical"))
    rsps.get(f"{M}/pulls/7/reviews", json=[])
    rsps.get(f"{M}/pulls/7/commits", json=[P.pr_commit(sha("c"), P.BOT)])
    rsps.get(
        f"{M}/issues/7/events",
        json=[
            {
                "id": 1,
                "event": "labeled",
                "actor": P.user("bob", 3),
                "label": {"name": "emergency", "color": "f00"},
            },
            {
                "id": 2,
                "event": "unlabeled",
                "actor": P.user("bob", 3),
                "label": {"name": "emergency", "color": "f00"},
            },
            {
                "id": 3,
                "event": "labeled",
                "actor": P.user("mallory", 4),
                "label": {"name": "emergency", "color": "f00"},
            },
        ],
    )
    mock_member(rsps, "architects", "mallory", None)
    mock_member(rsps, "security", "mallory", None)
    rsps.get(f"{M}/statuses/{sha('c')}", json=[])
    rsps.post(
        f"{M}/statuses/{sha('c')}", status=201, json=P.status(1, "aiops/approval-gate", "pending", "x", P.BOT)
    )
    rsps.get(f"{M}/issues/7/comments", json=[])
    rsps.post(f"{M}/issues/7/comments", status=201, json=P.comment(2, 7, "x"))
    outcome = run_gate(forge, host, 7)
    d = outcome.decision
    assert d is not None and not d.emergency and d.sla_minutes == 120 and d.state == "pending"
    assert any("mallory" in r and "ignored" in r for r in d.reasons)


def test_github_altered_marker_fails_closed(
    gh: tuple[GitHubForge, GitHubHost], rsps: responses.RequestsMock
) -> None:
    forge, host = gh
    new = BASE_VALUES.replace("replicaCount: 2", "replicaCount: 3")
    mock_pr(
        rsps,
        {VALUES: (BASE_VALUES, new)},
        labels=("risk:low",),
        body="why\n\n<!-- aiops:meta bm90IGpzb24= -->",
    )
    rsps.get(f"{M}/pulls/7/reviews", json=[P.review(1, 7, "carol", "APPROVED", sha("c"))])
    rsps.get(f"{M}/pulls/7/commits", json=[P.pr_commit(sha("c"), P.BOT)])
    mock_member(rsps, "architects", "carol", "active")
    mock_member(rsps, "security", "carol", None)
    rsps.get(f"{M}/statuses/{sha('c')}", json=[])
    rsps.post(
        f"{M}/statuses/{sha('c')}", status=201, json=P.status(1, "aiops/approval-gate", "failure", "x", P.BOT)
    )
    rsps.get(f"{M}/issues/7/comments", json=[])
    rsps.post(f"{M}/issues/7/comments", status=201, json=P.comment(2, 7, "x"))
    outcome = run_gate(forge, host, 7)
    assert outcome.exit_code == 1 and sent(rsps, "POST", f"/statuses/{sha('c')}")["state"] == "failure"


def test_github_unreachable_is_exit_3(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import aiops.gitops.github_forge as gf

    client = gh_client()
    forge = GitHubForge(client, P.REPO, base="main", sleep=lambda s: None, clock=lambda: 0.0, max_attempts=2)
    monkeypatch.setattr(gf.GitHubForge, "from_env", classmethod(lambda cls, env=None, **kw: forge))
    monkeypatch.setattr(
        GitHubAdmin, "from_env", classmethod(lambda cls, env=None: GitHubAdmin(client, P.REPO))
    )
    with responses.RequestsMock() as r:
        r.get(f"{M}/contents/.github/aiops.yaml", status=503, json=P.error("unavailable"))
        with pytest.raises(SystemExit) as exc:
            main(["gate", "--pr", "7", "--forge", "github"])
    assert exc.value.code == 3
    assert "aiops: error:" in capsys.readouterr().err


def test_a_same_looking_status_from_someone_else_is_not_taken_as_ours(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from aiops.gitops.forge import CommitStatus

    n = propose(repo, {VALUES: replicas(3)})
    forge = LocalForge(repo)
    p = forge.get_proposal(n)
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["gate", "--pr", str(n), "--forge", "local", "--repo", str(repo), "--dry-run", "-o", "json"])
    planned = json.loads(capsys.readouterr().out)["decision"]
    forge.set_status(
        p.head_sha,
        CommitStatus(
            "aiops/approval-gate", planned["state"], planned["description"], p.url, creator="mallory"
        ),
    )
    code, out = gate(repo, n, capsys)
    assert code == 0 and out["status_posted"]
    assert status(repo, n).creator == "aiops-bot[bot]"


def test_github_trivial_merge_refused_is_said_in_the_comment_not_a_crash(
    gh: tuple[GitHubForge, GitHubHost], rsps: responses.RequestsMock
) -> None:
    forge, host = gh
    new = BASE_VALUES.replace("podAnnotations: {}", 'podAnnotations:\n  aiops.io/restartedAt: "x"')
    mock_pr(rsps, {VALUES: (BASE_VALUES, new)}, labels=("risk:trivial",))
    rsps.get(f"{M}/pulls/7/reviews", json=[])
    rsps.get(f"{M}/pulls/7/commits", json=[P.pr_commit(sha("c"), P.BOT)])
    rsps.get(f"{M}/statuses/{sha('c')}", json=[])
    rsps.post(
        f"{M}/statuses/{sha('c')}", status=201, json=P.status(1, "aiops/approval-gate", "success", "x", P.BOT)
    )
    rsps.put(
        f"{M}/pulls/7/merge",
        status=405,
        json=P.error("Base branch was modified. Review and try the merge again."),
    )
    rsps.get(f"{M}/issues/7/comments", json=[])
    rsps.post(f"{M}/issues/7/comments", status=201, json=P.comment(2, 7, "x"))
    outcome = run_gate(forge, host, 7)
    assert outcome.exit_code == 0 and outcome.merged_sha is None
    assert "auto-merge of this trivial PR failed" in sent(rsps, "POST", "/issues/7/comments")["body"]


GH_MEMBERS = {"architects": {"alice", "dave", "carol", "erin"}, "security": {"bob", "dave"}}
SECRET = "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: todo}\nstringData: {password: x}\n"
RIGHTSIZED = BASE_VALUES.replace("cpu: 500m", "cpu: 130m").replace(
    "memory: 512Mi\n  limits:\n    memory: 512Mi", "memory: 156Mi\n  limits:\n    memory: 200Mi"
)
TOO_SMALL = RIGHTSIZED.replace("memory: 156Mi", "memory: 140Mi")
RESTART = BASE_VALUES.replace("podAnnotations: {}", 'podAnnotations:\n  aiops.io/restartedAt: "x"')
OLD_RECORD = "---\nid: 20261101-old\n---\nrecord\n"


def _membership_callback(request: Any) -> tuple[int, dict[str, str], str]:
    parts = str(request.url).split("?")[0].rstrip("/").split("/")
    team, login = parts[-3], parts[-1]
    if login in GH_MEMBERS.get(team, set()):
        return 200, {}, json.dumps({"url": str(request.url), "role": "member", "state": "active"})
    return 404, {}, json.dumps(P.error("Not Found"))


def _review(i: int, login: str, state: str = "APPROVED", at: str = "c") -> dict[str, Any]:
    return P.review(i, 7, login, state, sha(at), f"2026-11-20T10:{i:02d}:00Z")


GH_CASES: dict[str, dict[str, Any]] = {
    "honest-low": {
        "files": {VALUES: (BASE_VALUES, replicas(3))},
        "reviews": [("alice",)],
        "state": "success",
    },
    "honest-medium": {
        "files": {VALUES: (BASE_VALUES, RIGHTSIZED)},
        "reviews": [("alice",)],
        "meta": {"key": "k", "id": "i", "requested_by": "frank", "sizing": SIZING},
        "state": "success",
    },
    "honest-critical": {
        "files": {GATE_YML: ("name: gate\n", "name: gate2\n")},
        "reviews": [("alice",), ("bob",)],
        "state": "success",
    },
    "honest-trivial": {
        "files": {VALUES: (BASE_VALUES, RESTART)},
        "reviews": [],
        "state": "success",
        "merge": True,
    },
    "self-approval": {
        "files": {VALUES: (BASE_VALUES, replicas(3))},
        "author": "alice",
        "body": "a person's PR",
        "reviews": [("alice",)],
        "state": "pending",
    },
    "bot-approval": {
        "files": {VALUES: (BASE_VALUES, replicas(3))},
        "reviews": [("aiops-bot[bot]",)],
        "state": "pending",
    },
    "requester-approval": {
        "files": {VALUES: (BASE_VALUES, replicas(3))},
        "reviews": [("carol",)],
        "state": "pending",
    },
    "stale-approval": {
        "files": {VALUES: (BASE_VALUES, replicas(3))},
        "reviews": [("alice", "APPROVED", "b")],
        "state": "pending",
    },
    "one-person-two-teams": {"files": {GATE_YML: ("a\n", "b\n")}, "reviews": [("dave",)], "state": "pending"},
    "non-member": {
        "files": {VALUES: (BASE_VALUES, replicas(3))},
        "reviews": [("mallory",)],
        "state": "pending",
    },
    "risk-low-on-secret": {
        "files": {"manifests/secret.yaml": (None, SECRET)},
        "labels": ("risk:low",),
        "reviews": [("alice",)],
        "state": "pending",
    },
    "edits-codeowners": {
        "files": {"CODEOWNERS": ("* @a/b\n", "* @a/c\n")},
        "reviews": [("alice",)],
        "state": "pending",
    },
    "edits-aiops": {
        "files": {"aiops/policy/approval.py": ("x\n", "y\n")},
        "reviews": [("alice",)],
        "state": "pending",
    },
    "edits-policy": {
        "files": {".github/aiops.yaml": (GH_POLICY, GH_POLICY + "#\n")},
        "reviews": [("alice",)],
        "state": "pending",
    },
    "edits-phr": {
        "files": {RECORD: (OLD_RECORD, OLD_RECORD + "more\n")},
        "reviews": [("alice",), ("bob",)],
        "state": "failure",
    },
    "changes-requested-after-approval": {
        "files": {VALUES: (BASE_VALUES, replicas(3))},
        "reviews": [("alice",), ("alice", "CHANGES_REQUESTED")],
        "state": "failure",
    },
    "dismissed": {
        "files": {VALUES: (BASE_VALUES, replicas(3))},
        "reviews": [("alice",), ("alice", "DISMISSED")],
        "state": "pending",
    },
    "memory-below-p95": {
        "files": {VALUES: (BASE_VALUES, TOO_SMALL)},
        "reviews": [("alice",)],
        "meta": {"key": "k", "id": "i", "requested_by": "frank", "sizing": SIZING},
        "state": "failure",
    },
}


@pytest.mark.parametrize("case", sorted(GH_CASES))
def test_github_attack_matrix(case: str) -> None:
    spec = GH_CASES[case]
    client = gh_client()
    forge = GitHubForge(client, P.REPO, base="main", sleep=lambda s: None, clock=lambda: 0.0)
    host = GitHubHost(GitHubAdmin(client, P.REPO, bot_login=P.BOT))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as r:
        mock_pr(
            r,
            spec["files"],
            labels=spec.get("labels", ()),
            meta=spec.get("meta", {"key": "k", "id": "i", "requested_by": "carol"}),
            author=spec.get("author", P.BOT),
            body=spec.get("body"),
        )
        reviews = [_review(i, *rv) for i, rv in enumerate(spec["reviews"], 1)]
        r.get(f"{M}/pulls/7/reviews", json=reviews)
        r.get(f"{M}/pulls/7/commits", json=[P.pr_commit(sha("c"), spec.get("author", P.BOT))])
        r.add_callback(
            responses.GET,
            re.compile(rf"{re.escape(MOCK)}/orgs/org/teams/\w+/memberships/.+"),
            _membership_callback,
        )
        r.get(f"{M}/issues/7/labels", json=[P.label(x) for x in spec.get("labels", ())])
        r.get(re.compile(rf"{re.escape(M)}/labels/.+"), json=P.label("risk:x"))
        r.put(f"{M}/issues/7/labels", json=[])
        r.get(f"{M}/statuses/{sha('c')}", json=[])
        r.post(
            f"{M}/statuses/{sha('c')}",
            status=201,
            json=P.status(1, "aiops/approval-gate", "pending", "x", P.BOT),
        )
        r.put(f"{M}/pulls/7/merge", json={"sha": sha("m"), "merged": True, "message": "merged"})
        r.get(f"{M}/issues/7/comments", json=[])
        r.post(f"{M}/issues/7/comments", status=201, json=P.comment(2, 7, "x"))
        outcome = run_gate(forge, host, 7)
        status = sent(r, "POST", f"/statuses/{sha('c')}")
        merged = [c for c in r.calls if c.request.method == "PUT" and str(c.request.url).endswith("/merge")]
    assert outcome.decision is not None
    assert status["state"] == spec["state"] == outcome.decision.state, outcome.decision.to_dict()
    assert status["context"] == "aiops/approval-gate"
    assert outcome.exit_code == (1 if spec["state"] == "failure" else 0)
    assert bool(merged) == bool(spec.get("merge")), case


def test_markdown_output_is_the_comment(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    n = propose(repo, {VALUES: replicas(3)})
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["gate", "--pr", str(n), "--forge", "local", "--repo", str(repo), "--dry-run", "-o", "markdown"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("### aiops approval gate: pending (low tier)")
    assert "**Still needed**" in out and "needs 1 approval from architects" in out


def test_github_admin_reads_commit_authors_membership_and_label_actors(rsps: responses.RequestsMock) -> None:
    from aiops.errors import InputError

    admin = GitHubAdmin(gh_client(), P.REPO)
    anonymous = P.pr_commit(sha("d"), None)
    anonymous["commit"]["author"] = {"name": "Erin Example", "email": "e@x", "date": P.T0}
    anonymous["committer"] = None
    anonymous["commit"]["committer"] = {"name": "GitHub", "email": "noreply@github.com", "date": P.T0}
    page2 = f"{P.API}/repositories/10/pulls/7/commits?page=2"
    rsps.get(
        f"{M}/pulls/7/commits",
        json=[P.pr_commit(sha("b"), P.BOT), anonymous],
        headers={"Link": f'<{page2}>; rel="next"'},
        match=[matchers.query_param_matcher({"per_page": "100"})],
    )
    rsps.get(f"{MOCK}/repositories/10/pulls/7/commits", json=[P.pr_commit(sha("c"), "erin")])
    assert admin.commit_authors(7) == [P.BOT, "Erin Example", "erin"]
    mock_member(rsps, "security", "pat", "pending")
    mock_member(rsps, "security", "bob", "active")
    mock_member(rsps, "security", "zed", None)
    assert admin.get_team_membership("org/security", "pat") == "pending"
    assert not admin.is_active_member("org/security", "pat")
    assert admin.is_active_member("org/security", "bob") and admin.is_active_member("org/security", "bob")
    assert admin.get_team_membership("org/security", "zed") is None
    rsps.get(
        f"{MOCK}/orgs/org/teams/architects/memberships/amy",
        status=403,
        json=P.error("Resource not accessible"),
    )
    with pytest.raises(InputError, match="memberships/amy: 403") as exc:
        admin.get_team_membership("org/architects", "amy")
    assert exc.value.hint and "Members: read" in exc.value.hint
    member_calls = [c for c in rsps.calls if "/memberships/bob" in str(c.request.url)]
    assert len(member_calls) == 1  # cached per run
