"""`aiops sla` on real git repositories (local forge): overdue PRs labelled and commented once, latency."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from aiops.cli import main
from aiops.gitops.local import LocalForge

VALUES = "manifests/environments/minikube/todo-backend.yaml"
POLICY = """\
approvals:
  teams: {architects: org/architects, security: org/security}
  members: {org/architects: [alice], org/security: [bob]}
"""
BASE = "replicaCount: 2\nresources:\n  requests:\n    cpu: 500m\n"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    r = tmp_path / "ops"
    r.mkdir()
    git(r, "init", "-q", "-b", "main")
    git(r, "config", "user.name", "carol")
    git(r, "config", "user.email", "c@x")
    for path, text in {".github/aiops.yaml": POLICY, VALUES: BASE}.items():
        (r / path).parent.mkdir(parents=True, exist_ok=True)
        (r / path).write_text(text)
    git(r, "add", "-A")
    git(r, "commit", "-qm", "initial")
    return r


def record(key: str, at: str) -> tuple[str, str]:
    """A valid recommendation record (the gate checks the marker against it)."""
    from aiops.model.k8s import parse_time
    from aiops.model.phr import PhrRecord
    from aiops.phr.render import render_record

    when = parse_time(at)
    assert when is not None
    rec = PhrRecord(
        f"20261125-{key}", "recommendation", when, {"recommended_at": at, "requested_by": "frank"}
    )
    return rec.path, render_record(rec)


def propose(
    repo: Path, key: str, files: dict[str, str | None], at: str, clock: str = "2026-11-25T10:00:00Z"
) -> int:
    forge = LocalForge(repo, clock=lambda: clock)
    path, text = record(key, at)
    p = forge.propose(
        branch=f"aiops/{key}",
        title=key,
        body="b",
        files={**files, path: text},
        message="m",
        meta={"key": key, "id": f"20261125-{key}", "requested_by": "frank"},
    )
    return p.number


def sla(repo: Path, at: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["sla", "--forge", "local", "--repo", str(repo), "--at", at, "-o", "json"])
    assert exc.value.code == 0
    return json.loads(capsys.readouterr().out)


def sla_comments(repo: Path, n: int) -> list[str]:
    return [c.body for c in LocalForge(repo).comments(n) if "<!-- aiops:comment:sla -->" in c.body]


def test_overdue_pr_is_labelled_and_commented_once(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    n = propose(
        repo, "scale", {VALUES: BASE.replace("replicaCount: 2", "replicaCount: 3")}, "2026-11-25T10:00:00Z"
    )
    early = sla(repo, "2026-11-25T10:04:00Z", capsys)
    assert early["prs"][0]["overdue"] is False and early["prs"][0]["sla_minutes"] == 5
    assert sla_comments(repo, n) == [] and "overdue" not in LocalForge(repo).get_proposal(n).labels
    out = sla(repo, "2026-11-25T10:30:00Z", capsys)
    entry = out["prs"][0]
    assert entry["tier"] == "low" and entry["overdue"] and entry["elapsed_minutes"] == 30.0
    assert entry["started_from"] == "recommended_at" and entry["started_at"] == "2026-11-25T10:00:00Z"
    assert entry["labelled_overdue"] and entry["commented"]
    assert "overdue" in LocalForge(repo).get_proposal(n).labels
    comments = sla_comments(repo, n)
    assert len(comments) == 1 and "@org/architects" in comments[0] and "5 min" in comments[0]
    again = sla(repo, "2026-11-25T11:00:00Z", capsys)
    assert (
        again["prs"][0]["overdue"]
        and not again["prs"][0]["commented"]
        and not again["prs"][0]["labelled_overdue"]
    )
    assert sla_comments(repo, n) == comments


def test_approval_latency_is_measured_from_recommended_at(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new = BASE.replace("cpu: 500m", "cpu: 400m")
    n = propose(repo, "rightsize", {VALUES: new}, "2026-11-25T10:00:00Z")
    LocalForge(repo, clock=lambda: "2026-11-25T10:12:00Z").add_review(n, "alice", "APPROVED")
    out = sla(repo, "2026-11-25T11:00:00Z", capsys)
    entry = out["prs"][0]
    assert entry["tier"] == "medium" and entry["state"] == "success"
    assert entry["approved_at"] == "2026-11-25T10:12:00Z" and entry["approval_latency_minutes"] == 12.0
    assert entry["within_sla"] is True and entry["overdue"] is False
    assert sla_comments(repo, n) == []


def test_emergency_label_by_a_member_shortens_the_window(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    n = propose(repo, "policy", {".github/workflows/x.yml": "name: x\n"}, "2026-11-25T10:00:00Z")
    out = sla(repo, "2026-11-25T10:30:00Z", capsys)
    assert out["prs"][0]["sla_minutes"] == 120 and not out["prs"][0]["overdue"]
    forge = LocalForge(repo)
    data = forge._load(n)
    data["labels"] = ["emergency"]
    data["label_events"] = [{"label": "emergency", "action": "labeled", "actor": "bob"}]
    forge._save(n, data, "label")
    out = sla(repo, "2026-11-25T10:30:00Z", capsys)
    assert out["prs"][0]["sla_minutes"] == 5 and out["prs"][0]["emergency"] and out["prs"][0]["overdue"]


def test_without_a_record_the_pr_creation_starts_the_clock(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    forge = LocalForge(repo, clock=lambda: "2026-11-25T09:00:00Z")
    forge.propose(
        branch="aiops/x",
        title="x",
        body="b",
        files={VALUES: BASE.replace("replicaCount: 2", "replicaCount: 3")},
        message="m",
        meta={"key": "x", "id": "20261125-x"},
    )
    out = sla(repo, "2026-11-25T09:03:00Z", capsys)
    assert out["prs"][0]["started_from"] == "PR creation" and out["prs"][0]["elapsed_minutes"] == 3.0


def test_text_output_and_bad_time(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    propose(
        repo, "scale", {VALUES: BASE.replace("replicaCount: 2", "replicaCount: 3")}, "2026-11-25T10:00:00Z"
    )
    with pytest.raises(SystemExit) as exc:
        main(["sla", "--forge", "local", "--repo", str(repo), "--at", "2026-11-25T10:30:00Z", "--dry-run"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "OVERDUE" in text and "#1" in text
    with pytest.raises(SystemExit) as exc:
        main(["sla", "--forge", "local", "--repo", str(repo), "--at", "yesterday"])
    assert exc.value.code == 2


# ---- GitHub, with `responses` ---------------------------------------------------------------


def test_github_overdue_pr_gets_the_label_and_one_comment() -> None:
    import re

    import responses
    from github import Auth, Github
    from responses import matchers

    from aiops.gitops.github_admin import GitHubAdmin
    from aiops.gitops.github_forge import GitHubForge
    from aiops.model.k8s import parse_time
    from aiops.phr.render import encode_marker
    from aiops.pipeline.gate import GitHubHost
    from aiops.pipeline.sla import run_sla
    from tests import ghpayloads as P
    from tests.ghpayloads import M, sha

    client = Github(
        auth=Auth.Token("t"),
        lazy=True,
        retry=None,
        seconds_between_requests=None,
        seconds_between_writes=None,
    )
    forge = GitHubForge(client, P.REPO, base="main", sleep=lambda s: None, clock=lambda: 0.0)
    host = GitHubHost(GitHubAdmin(client, P.REPO, bot_login=P.BOT))
    path, rec = record("scale", "2026-11-20T10:00:00Z")
    new = BASE.replace("replicaCount: 2", "replicaCount: 3")
    body = "why\n\n" + encode_marker({"key": "scale", "id": "20261120-scale", "requested_by": "frank"})
    q = matchers.query_param_matcher
    with responses.RequestsMock(assert_all_requests_are_fired=True) as r:
        r.get(
            f"{M}/contents/.github/aiops.yaml",
            json=P.content(".github/aiops.yaml", POLICY),
            match=[q({"ref": "main"})],
        )
        pr = P.pr(7, body=body, labels=("risk:low",), changed_files=2)
        r.get(f"{M}/pulls", json=[pr], match=[q({"state": "open", "base": "main"})])
        r.get(f"{M}/pulls/7", json=pr)
        r.get(f"{M}/compare/{sha('a')}...{sha('c')}", json=P.compare(sha("a"), sha("c"), sha("0"), []))
        r.get(f"{M}/pulls/7/files", json=[P.pr_file(VALUES), P.pr_file(path, "added")])
        r.get(f"{M}/contents/{VALUES}", json=P.content(VALUES, BASE), match=[q({"ref": sha("0")})])
        r.get(f"{M}/contents/{VALUES}", json=P.content(VALUES, new), match=[q({"ref": sha("c")})])
        r.get(f"{M}/contents/{path}", json=P.content(path, rec), match=[q({"ref": sha("c")})])
        r.get(f"{M}/pulls/7/reviews", json=[])
        r.get(f"{M}/pulls/7/commits", json=[P.pr_commit(sha("c"), P.BOT)])
        r.get(f"{M}/issues/7/labels", json=[P.label("risk:low")])
        r.get(f"{M}/labels/overdue", json=P.label("overdue"))
        r.put(f"{M}/issues/7/labels", json=[P.label("risk:low"), P.label("overdue")])
        r.get(
            f"{M}/issues/7/comments",
            json=[P.comment(1, 7, "<!-- aiops:comment:sla -->\nfake", login="mallory")],
        )
        r.post(f"{M}/issues/7/comments", status=201, json=P.comment(2, 7, "x"))
        entries = run_sla(forge, host, now=parse_time("2026-11-20T10:30:00Z"))  # type: ignore[arg-type]
        labels = [c for c in r.calls if c.request.method == "PUT"]
        posted = [c for c in r.calls if c.request.method == "POST"]
        assert json.loads(labels[0].request.body) == ["overdue", "risk:low"]
        comment = json.loads(posted[0].request.body)["body"]
    assert len(entries) == 1 and entries[0].overdue and entries[0].elapsed_minutes == 30.0
    assert entries[0].started_from == "recommended_at" and entries[0].labelled and entries[0].commented
    assert comment.startswith("<!-- aiops:comment:sla -->") and "@org/architects" in comment
    assert not re.search(r"aiops/approval-gate", comment)
