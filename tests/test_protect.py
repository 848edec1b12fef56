"""`aiops protect` against PyGithub with `responses`: method, path and JSON body of every call."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import responses
from github import Auth, Github

from aiops.cli import main
from aiops.gitops import github_admin
from aiops.gitops.github_admin import GitHubAdmin, protect, wanted_protection, wanted_ruleset

API = "https://api.github.com"
MOCK = "https://api.github.com:443"
REPO = "acme/ops"
APP_ID = 424242


@pytest.fixture
def admin() -> GitHubAdmin:
    gh = Github(
        auth=Auth.Token("test-token"),
        lazy=True,
        retry=None,
        seconds_between_requests=None,
        seconds_between_writes=None,
    )
    return GitHubAdmin(gh, REPO, bot_login="aiops-acme[bot]")


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as r:
        yield r


def calls(rsps: responses.RequestsMock) -> list[tuple[str, str]]:
    return [
        (c.request.method or "", (c.request.url or "").removeprefix(MOCK).split("?")[0]) for c in rsps.calls
    ]


def body(rsps: responses.RequestsMock, i: int) -> Any:
    raw = rsps.calls[i].request.body
    return json.loads(raw if isinstance(raw, str) else (raw or b"").decode())


def protection_answer(app_id: int = APP_ID, *, stale: bool = True) -> dict[str, Any]:
    """Shaped like GET /repos/{o}/{r}/branches/{b}/protection."""
    base = f"{API}/repos/{REPO}/branches/main/protection"
    return {
        "url": base,
        "required_status_checks": {
            "url": f"{base}/required_status_checks",
            "strict": False,
            "contexts": ["aiops/approval-gate"],
            "contexts_url": f"{base}/required_status_checks/contexts",
            "checks": [{"context": "aiops/approval-gate", "app_id": app_id}],
        },
        "required_pull_request_reviews": {
            "url": f"{base}/required_pull_request_reviews",
            "dismiss_stale_reviews": stale,
            "require_code_owner_reviews": True,
            "require_last_push_approval": True,
            "required_approving_review_count": 1,
            "bypass_pull_request_allowances": {
                "users": [],
                "teams": [],
                "apps": [{"id": APP_ID, "slug": "aiops-acme", "name": "aiops"}],
            },
        },
        "enforce_admins": {"url": f"{base}/enforce_admins", "enabled": True},
        "required_linear_history": {"enabled": False},
        "allow_force_pushes": {"enabled": False},
        "allow_deletions": {"enabled": False},
        "block_creations": {"enabled": False},
        "required_conversation_resolution": {"enabled": False},
        "lock_branch": {"enabled": False},
        "allow_fork_syncing": {"enabled": False},
        "required_signatures": {"url": f"{base}/required_signatures", "enabled": False},
    }


def test_unprotected_branch_gets_the_full_protection(
    admin: GitHubAdmin, rsps: responses.RequestsMock
) -> None:
    url = f"{MOCK}/repos/{REPO}/branches/main/protection"
    rsps.get(url, status=404, json={"message": "Branch not protected", "documentation_url": "x"})
    rsps.put(url, json=protection_answer())
    change = protect(admin, branch="main", app_id=APP_ID, app_slug="aiops-acme", ruleset=False, dry_run=False)
    assert calls(rsps) == [
        ("GET", f"/repos/{REPO}/branches/main/protection"),
        ("PUT", f"/repos/{REPO}/branches/main/protection"),
    ]
    sent = body(rsps, 1)
    assert sent == wanted_protection(APP_ID, "aiops-acme")
    assert sent["required_status_checks"]["checks"] == [{"context": "aiops/approval-gate", "app_id": APP_ID}]
    reviews = sent["required_pull_request_reviews"]
    assert reviews["require_code_owner_reviews"] and reviews["dismiss_stale_reviews"]
    assert reviews["require_last_push_approval"] and sent["enforce_admins"] is True
    assert reviews["bypass_pull_request_allowances"] == {"users": [], "teams": [], "apps": ["aiops-acme"]}
    assert change["action"] == "create" and change["method"] == "PUT"


def test_protection_already_in_place_is_not_rewritten(
    admin: GitHubAdmin, rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{MOCK}/repos/{REPO}/branches/main/protection", json=protection_answer())
    change = protect(admin, branch="main", app_id=APP_ID, app_slug="aiops-acme", ruleset=False, dry_run=False)
    assert calls(rsps) == [("GET", f"/repos/{REPO}/branches/main/protection")]
    assert change["action"] == "unchanged" and change["method"] is None


@pytest.mark.parametrize("drift", ["stale", "app"])
def test_drifted_protection_is_put_back(admin: GitHubAdmin, rsps: responses.RequestsMock, drift: str) -> None:
    answer = protection_answer(stale=False) if drift == "stale" else protection_answer(app_id=15368)
    url = f"{MOCK}/repos/{REPO}/branches/main/protection"
    rsps.get(url, json=answer)
    rsps.put(url, json=protection_answer())
    change = protect(admin, branch="main", app_id=APP_ID, app_slug="aiops-acme", ruleset=False, dry_run=False)
    assert change["action"] == "update"
    assert body(rsps, 1) == wanted_protection(APP_ID, "aiops-acme")


def test_dry_run_only_reads(admin: GitHubAdmin, rsps: responses.RequestsMock) -> None:
    rsps.get(
        f"{MOCK}/repos/{REPO}/branches/main/protection", status=404, json={"message": "Branch not protected"}
    )
    change = protect(admin, branch="main", app_id=APP_ID, app_slug="aiops-acme", ruleset=False, dry_run=True)
    assert [m for m, _ in calls(rsps)] == ["GET"]
    assert change["dry_run"] and change["action"] == "create"


def ruleset_answer(rid: int = 7, **over: Any) -> dict[str, Any]:
    """Shaped like GET /repos/{o}/{r}/rulesets/{id} (GitHub adds defaults and metadata)."""
    wanted = wanted_ruleset(APP_ID, "main")
    rules = json.loads(json.dumps(wanted["rules"]))
    for r in rules:
        if r["type"] == "pull_request":
            r["parameters"]["automatic_copilot_code_review_enabled"] = False
            r["parameters"]["allowed_merge_methods"] = ["merge", "squash", "rebase"]
        if r["type"] == "required_status_checks":
            r["parameters"]["do_not_enforce_on_create"] = False
    data = {
        "id": rid,
        "name": "aiops-main",
        "target": "branch",
        "source_type": "Repository",
        "source": REPO,
        "enforcement": "active",
        "conditions": wanted["conditions"],
        "rules": rules,
        "bypass_actors": [{"actor_id": APP_ID, "actor_type": "Integration", "bypass_mode": "always"}],
        "node_id": "RRS_x",
        "_links": {"self": {"href": f"{API}/repos/{REPO}/rulesets/{rid}"}},
        "created_at": "2026-11-20T10:00:00Z",
        "updated_at": "2026-11-20T10:00:00Z",
    }
    data.update(over)
    return data


def test_ruleset_is_created_with_the_app_as_only_bypass_actor(
    admin: GitHubAdmin, rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{MOCK}/repos/{REPO}/rulesets", json=[{"id": 3, "name": "other", "enforcement": "active"}])
    rsps.post(f"{MOCK}/repos/{REPO}/rulesets", status=201, json=ruleset_answer())
    change = protect(admin, branch="main", app_id=APP_ID, app_slug="aiops-acme", ruleset=True, dry_run=False)
    assert calls(rsps) == [("GET", f"/repos/{REPO}/rulesets"), ("POST", f"/repos/{REPO}/rulesets")]
    sent = body(rsps, 1)
    assert sent["bypass_actors"] == [
        {"actor_id": APP_ID, "actor_type": "Integration", "bypass_mode": "always"}
    ]
    types = {r["type"]: r.get("parameters") for r in sent["rules"]}
    assert types["required_status_checks"]["required_status_checks"] == [
        {"context": "aiops/approval-gate", "integration_id": APP_ID}
    ]
    pr = types["pull_request"]
    assert (
        pr["require_code_owner_review"]
        and pr["dismiss_stale_reviews_on_push"]
        and pr["require_last_push_approval"]
    )
    assert sent["conditions"] == {"ref_name": {"include": ["refs/heads/main"], "exclude": []}}
    assert change["action"] == "create"


def test_ruleset_in_place_is_left_alone_and_a_drifted_one_is_updated(
    admin: GitHubAdmin, rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{MOCK}/repos/{REPO}/rulesets", json=[{"id": 7, "name": "aiops-main"}])
    rsps.get(f"{MOCK}/repos/{REPO}/rulesets/7", json=ruleset_answer())
    change = protect(admin, branch="main", app_id=APP_ID, app_slug="aiops-acme", ruleset=True, dry_run=False)
    assert change["action"] == "unchanged" and [m for m, _ in calls(rsps)] == ["GET", "GET"]
    rsps.reset()
    extra_bypass = [
        {"actor_id": APP_ID, "actor_type": "Integration", "bypass_mode": "always"},
        {"actor_id": 5, "actor_type": "RepositoryRole", "bypass_mode": "always"},
    ]
    rsps.get(f"{MOCK}/repos/{REPO}/rulesets", json=[{"id": 7, "name": "aiops-main"}])
    rsps.get(f"{MOCK}/repos/{REPO}/rulesets/7", json=ruleset_answer(bypass_actors=extra_bypass))
    rsps.put(f"{MOCK}/repos/{REPO}/rulesets/7", json=ruleset_answer())
    change = protect(admin, branch="main", app_id=APP_ID, app_slug="aiops-acme", ruleset=True, dry_run=False)
    assert change["action"] == "update"
    assert calls(rsps)[-1] == ("PUT", f"/repos/{REPO}/rulesets/7")
    assert body(rsps, 2)["bypass_actors"] == [extra_bypass[0]]


def test_forbidden_is_one_line_naming_the_endpoint(admin: GitHubAdmin, rsps: responses.RequestsMock) -> None:
    from aiops.errors import InputError

    rsps.get(
        f"{MOCK}/repos/{REPO}/branches/main/protection",
        status=403,
        json={"message": "Resource not accessible by integration"},
    )
    with pytest.raises(InputError, match=r"GET /repos/acme/ops/branches/main/protection: 403") as exc:
        protect(admin, branch="main", app_id=APP_ID, app_slug="aiops-acme", ruleset=False, dry_run=False)
    assert exc.value.hint and "Administration" in exc.value.hint


def test_cli_dry_run_prints_the_change(
    admin: GitHubAdmin,
    rsps: responses.RequestsMock,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AIOPS_APP_ID", str(APP_ID))
    monkeypatch.setattr(github_admin.GitHubAdmin, "from_env", classmethod(lambda cls, env=None: admin))
    rsps.get(f"{MOCK}/repos/{REPO}", json={"id": 1, "full_name": REPO, "default_branch": "main"})
    rsps.get(
        f"{MOCK}/repos/{REPO}/branches/main/protection", status=404, json={"message": "Branch not protected"}
    )
    with pytest.raises(SystemExit) as exc:
        main(["protect", "--dry-run"])
    assert exc.value.code == 0
    change = json.loads(capsys.readouterr().out)
    assert change["dry_run"] and change["method"] == "PUT" and change["body"]["enforce_admins"] is True
    assert change["body"]["required_pull_request_reviews"]["bypass_pull_request_allowances"]["apps"] == [
        "aiops-acme"
    ]


def test_cli_needs_the_app_id(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("AIOPS_APP_ID", raising=False)
    with pytest.raises(SystemExit) as exc:
        main(["protect", "--dry-run"])
    assert exc.value.code == 2
    assert "AIOPS_APP_ID" in capsys.readouterr().err
