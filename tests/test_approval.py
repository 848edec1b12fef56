"""The approval decision (DESIGN §4.6) against the attack list of the approval issue, and the honest paths."""

from __future__ import annotations

from typing import Any

import pytest

from aiops.gitops.forge import Review as ForgeReview
from aiops.policy import ApprovalContext, Review, SafetyResult, decide, fold_reviews
from aiops.settings import settings_from_dict

HEAD = "b" * 40
OLD = "a" * 40
MEMBERS = {
    "org/architects": ["alice", "ann", "sam", "carol", "dave"],
    "org/security": ["bob", "bea", "sam"],
}


def context(**kw: object) -> ApprovalContext:
    base: dict[str, object] = {"head_sha": HEAD, "author": "aiops-bot[bot]", "requested_by": "carol"}
    base.update(kw)
    return ApprovalContext(**base)  # type: ignore[arg-type]


def r(login: str, state: str = "APPROVED", sha: str = HEAD, at: str | None = None) -> Review:
    return Review(login=login, state=state, commit_sha=sha, submitted_at=at)


# ---- honest paths -----------------------------------------------------------------------------


def test_trivial_needs_no_approval() -> None:
    d = decide("trivial", [], MEMBERS, context())
    assert (d.state, d.approved, d.missing, d.sla_minutes) == ("success", True, (), None)


@pytest.mark.parametrize("tier", ["low", "medium"])
def test_one_architect_approves_low_and_medium(tier: str) -> None:
    d = decide(tier, [r("alice")], MEMBERS, context())
    assert d.state == "success" and d.approved
    assert [(a.login, a.team) for a in d.approvers] == [("alice", "architects")]
    assert "alice approved as architects" in d.reasons
    assert d.sla_minutes == (5 if tier == "low" else 30)


def test_critical_needs_an_architect_and_a_security_member() -> None:
    d = decide("critical", [r("alice"), r("bob")], MEMBERS, context())
    assert d.state == "success"
    assert sorted((a.login, a.team) for a in d.approvers) == [("alice", "architects"), ("bob", "security")]
    assert d.sla_minutes == 120


def test_nothing_yet_is_pending_and_says_what_is_missing_in_words() -> None:
    d = decide("critical", [], MEMBERS, context())
    assert d.state == "pending" and not d.approved
    assert d.missing == (
        "needs 1 approval from architects (org/architects)",
        "needs 1 approval from security (org/security)",
    )
    half = decide("critical", [r("alice")], MEMBERS, context())
    assert half.missing == ("needs 1 approval from security (org/security)",)
    assert "alice approved as architects" in half.reasons
    assert half.description.startswith("critical: needs 1 approval from security")


# ---- the attack list ------------------------------------------------------------------------


def test_self_approval_does_not_count() -> None:
    d = decide("medium", [r("dave")], MEMBERS, context(author="dave"))
    assert d.state == "pending"
    assert any("dave opened the PR" in x for x in d.reasons)


def test_bot_approval_does_not_count() -> None:
    reviews = [r("aiops-bot[bot]"), r("github-actions[bot]"), r("renovate[bot]")]
    members = {**MEMBERS, "org/architects": [*MEMBERS["org/architects"], "aiops-bot[bot]", "renovate[bot]"]}
    d = decide("low", reviews, members, context(author="dave"))
    assert d.state == "pending"
    assert sum("bots never approve" in x for x in d.reasons) == 3


def test_requester_approval_does_not_count() -> None:
    d = decide("medium", [r("carol")], MEMBERS, context())
    assert d.state == "pending"
    assert any("carol requested the recommendation" in x for x in d.reasons)


def test_approval_before_a_new_push_does_not_count() -> None:
    d = decide("medium", [r("alice", sha=OLD)], MEMBERS, context())
    assert d.state == "pending"
    assert any("not the head" in x and "re-approve" in x for x in d.reasons)
    again = decide("medium", [r("alice", sha=OLD), r("alice", sha=HEAD)], MEMBERS, context())
    assert again.state == "success"


def test_one_person_in_both_teams_counts_once() -> None:
    d = decide("critical", [r("sam")], MEMBERS, context())
    assert d.state == "pending"
    assert len(d.approvers) == 1
    assert any("already counted for another team" in m for m in d.missing)


def test_matching_assigns_the_dual_member_to_the_team_only_they_can_fill() -> None:
    """sam (both teams) approves first; a greedy pass would spend sam on architects and leave
    security empty when alice (architects only) approves. The matching must not."""
    d = decide(
        "critical",
        [r("sam", at="2026-11-25T10:00:00Z"), r("alice", at="2026-11-25T10:05:00Z")],
        MEMBERS,
        context(),
    )
    assert d.state == "success"
    assert sorted((a.login, a.team) for a in d.approvers) == [("alice", "architects"), ("sam", "security")]


def test_two_architects_do_not_make_a_critical_approval() -> None:
    d = decide("critical", [r("alice"), r("ann")], MEMBERS, context())
    assert d.state == "pending"
    assert d.missing == ("needs 1 approval from security (org/security)",)


def test_approval_by_a_non_member_does_not_count() -> None:
    d = decide("low", [r("eve")], MEMBERS, context())
    assert d.state == "pending"
    assert any("eve's approval does not count: not a member of architects" in x for x in d.reasons)


def test_risk_label_cannot_lower_the_tier() -> None:
    d = decide("critical", [r("alice")], MEMBERS, context(labels=("risk:low",)))
    assert d.state == "pending" and d.tier == "critical"
    assert any("label risk:low ignored" in x for x in d.reasons)


def test_emergency_label_by_a_non_member_changes_nothing() -> None:
    d = decide("critical", [r("alice")], MEMBERS, context(emergency_label_by=("eve",)))
    assert (d.state, d.emergency, d.sla_minutes) == ("pending", False, 120)
    assert any("eve" in x and "ignored" in x for x in d.reasons)


def test_emergency_label_by_a_member_shortens_the_sla_only() -> None:
    d = decide("critical", [r("alice")], MEMBERS, context(emergency_label_by=("Bob",)))
    assert d.emergency and d.sla_minutes == 5
    assert d.state == "pending"
    assert d.missing == ("needs 1 approval from security (org/security)",)


def test_emergency_label_by_a_bot_is_ignored() -> None:
    members = {**MEMBERS, "org/architects": [*MEMBERS["org/architects"], "aiops-bot[bot]"]}
    d = decide("medium", [], members, context(emergency_label_by=("aiops-bot[bot]",)))
    assert not d.emergency and d.sla_minutes == 30


def test_dismissed_review_does_not_count() -> None:
    d = decide("medium", [r("alice", "DISMISSED")], MEMBERS, context())
    assert d.state == "pending"
    assert any("dismissed" in x for x in d.reasons)


def test_comment_after_approval_does_not_revoke_it() -> None:
    reviews = [r("alice", at="2026-11-25T10:00:00Z"), r("alice", "COMMENTED", at="2026-11-25T10:10:00Z")]
    assert decide("medium", reviews, MEMBERS, context()).state == "success"


def test_changes_requested_after_approved_by_the_same_reviewer_fails() -> None:
    reviews = [
        r("alice", at="2026-11-25T10:00:00Z"),
        r("alice", "CHANGES_REQUESTED", at="2026-11-25T10:10:00Z"),
    ]
    d = decide("medium", reviews, MEMBERS, context())
    assert d.state == "failure" and not d.approved
    assert d.blockers == ("changes requested by alice (architects)",)
    fixed = decide("medium", [*reviews, r("alice", at="2026-11-25T10:20:00Z")], MEMBERS, context())
    assert fixed.state == "success"


def test_changes_requested_by_another_tier_team_member_blocks_despite_approvals() -> None:
    reviews = [r("alice"), r("bob", "CHANGES_REQUESTED", sha=OLD)]
    d = decide("medium", reviews, MEMBERS, context())
    assert d.state == "failure"
    assert d.description == "medium: changes requested by bob (security)"


def test_changes_requested_by_an_outsider_is_noted_not_blocking() -> None:
    d = decide("medium", [r("alice"), r("eve", "CHANGES_REQUESTED")], MEMBERS, context())
    assert d.state == "success"
    assert any("eve requested changes" in x for x in d.reasons)


def test_reviews_are_ordered_by_time_not_list_position() -> None:
    reviews = [
        r("alice", "CHANGES_REQUESTED", at="2026-11-25T10:30:00Z"),
        r("alice", at="2026-11-25T10:00:00Z"),
    ]
    assert decide("medium", reviews, MEMBERS, context()).state == "failure"


@pytest.mark.parametrize(
    ("reviewer", "author", "requester", "state"),
    [
        ("ALICE", "aiops-bot[bot]", "carol", "success"),  # member listed lower-case
        ("dave", "Dave", "carol", "pending"),  # author in another case
        ("carol", "aiops-bot[bot]", "Carol", "pending"),  # requester in another case
        ("Aiops-Bot[bot]", "x", "carol", "pending"),  # bot in another case
    ],
)
def test_logins_compare_case_insensitively(reviewer: str, author: str, requester: str, state: str) -> None:
    d = decide("medium", [r(reviewer, "approved")], MEMBERS, context(author=author, requested_by=requester))
    assert d.state == state


def test_mixed_case_reviews_of_one_person_fold_together() -> None:
    reviews = [
        r("alice", at="2026-11-25T10:00:00Z"),
        r("ALICE", "changes_requested", at="2026-11-25T10:05:00Z"),
    ]
    assert decide("medium", reviews, MEMBERS, context()).state == "failure"


def test_head_sha_must_match_exactly() -> None:
    d = decide("medium", [r("alice", sha=HEAD[:7])], MEMBERS, context())
    assert d.state == "pending"
    assert decide("medium", [r("alice", sha=None)], MEMBERS, context()).state == "pending"  # type: ignore[arg-type]


def test_medium_safety_problems_fail_the_gate() -> None:
    bad = SafetyResult(problems=("backend: memory request 100Mi is below the recorded p95",))
    d = decide("medium", [r("alice")], MEMBERS, context(safety=bad))
    assert d.state == "failure" and not d.approved
    assert d.blockers[0].startswith("safety: backend: memory request")
    ok = decide("medium", [r("alice")], MEMBERS, context(safety=SafetyResult(notes=("no sizing evidence",))))
    assert ok.state == "success"


def test_unknown_tier_is_treated_as_critical() -> None:
    d = decide("urgent", [r("alice")], MEMBERS, context())
    assert d.tier == "critical" and d.state == "pending"


def test_membership_may_be_keyed_by_team_name() -> None:
    d = decide("low", [r("zoe")], {"architects": ["zoe"]}, context())
    assert d.state == "success"


def test_distinct_people_beyond_the_team_count() -> None:
    ctx = context()
    from aiops.settings import TierRule

    tiers = {**ctx.tiers, "medium": TierRule(require=("architects",), sla_minutes=30, distinct_people=2)}
    d = decide("medium", [r("alice")], MEMBERS, context(tiers=tiers))
    assert d.state == "pending"
    assert d.missing == ("needs 1 more approval (2 distinct people required)",)
    assert decide("medium", [r("alice"), r("ann")], MEMBERS, context(tiers=tiers)).state == "success"


def test_forge_reviews_are_accepted_as_they_are() -> None:
    reviews = [ForgeReview("alice", "APPROVED", HEAD, "2026-11-25T10:00:00Z")]
    assert decide("medium", reviews, MEMBERS, context()).state == "success"


def test_fold_keeps_latest_non_comment_state() -> None:
    folded = fold_reviews(
        [r("alice", "APPROVED"), r("alice", "COMMENTED"), r("bob", "CHANGES_REQUESTED"), r("bob", "PENDING")]
    )
    assert {k: v.state for k, v in folded.items()} == {"alice": "APPROVED", "bob": "CHANGES_REQUESTED"}


def test_from_settings_uses_the_policy() -> None:
    settings = settings_from_dict(
        {
            "approvals": {
                "teams": {"architects": "acme/arch", "security": "acme/sec"},
                "members": {"acme/arch": ["alice"], "acme/sec": ["bob"]},
                "tiers": {"medium": {"require": ["architects", "security"], "sla_minutes": 45}},
            }
        }
    )
    ctx = ApprovalContext.from_settings(settings, head_sha=HEAD, author="x", requested_by="y")
    d = decide("medium", [r("alice")], settings.approvals.members, ctx)
    assert d.missing == ("needs 1 approval from security (acme/sec)",)
    assert d.sla_minutes == 45
    assert decide("medium", [r("alice"), r("bob")], settings.approvals.members, ctx).state == "success"


def test_description_fits_a_commit_status() -> None:
    reviews = [r(f"user{i}", "CHANGES_REQUESTED") for i in range(30)]
    members = {"org/architects": [f"user{i}" for i in range(30)]}
    d = decide("critical", reviews, members, context())
    assert d.state == "failure" and len(d.description) <= 140
    assert d.to_dict()["state"] == "failure"


# ---- the whole gate: classify → safety → decide (the attack matrix end to end) ---------

VALUES = "manifests/environments/minikube/todo-backend.yaml"
RECORD = "history/prompts/2026/11/20261125-rightsize-todo-deployment-todo-backend--recommendation.md"
BASE_VALUES = """\
replicaCount: 2
podAnnotations: {}
securityContext: {}
resources:
  requests:
    cpu: 500m
    memory: 512Mi
  limits:
    memory: 512Mi
autoscaling: {enabled: false, minReplicas: 2, maxReplicas: 5}
"""
SIZING = {"backend": {"cpu_p95": "100m", "memory_p95": "120Mi", "oom_in_window": False, "clamped": None}}
POLICY = settings_from_dict({"approvals": {"members": MEMBERS}})


def gate(new_values: str | None, reviews: list[Review], *, files: tuple[Any, ...] = (), **kw: Any) -> Any:
    from aiops.model.changes import ChangeSet, FileChange
    from aiops.policy import evaluate

    changes = [FileChange(VALUES, BASE_VALUES, new_values)] if new_values is not None else []
    cs = ChangeSet((*changes, *files), author=kw.pop("author", "aiops-bot[bot]"))
    kw.setdefault("requested_by", "carol")
    return evaluate(
        cs, settings=POLICY, reviews=reviews, membership=POLICY.approvals.members, head_sha=HEAD, **kw
    )


def rightsized(memory: str) -> str:
    return BASE_VALUES.replace("cpu: 500m", "cpu: 130m").replace(
        "memory: 512Mi\n  limits", f"memory: {memory}\n  limits"
    )


def test_honest_path_of_every_tier_passes() -> None:
    restart = BASE_VALUES.replace(
        "podAnnotations: {}", 'podAnnotations: {"aiops.io/restartedAt": "2026-11-25T22:00:00Z"}'
    )
    trivial = gate(restart, [])
    assert (trivial.tier.tier, trivial.decision.state) == ("trivial", "success")
    low = gate(BASE_VALUES.replace("replicaCount: 2", "replicaCount: 3"), [r("alice")])
    assert (low.tier.tier, low.decision.state) == ("low", "success")
    medium = gate(rightsized("156Mi"), [r("alice")], sizing=SIZING)
    assert (medium.tier.tier, medium.decision.state) == ("medium", "success")
    assert medium.safety is not None and medium.safety.ok
    critical = gate(
        BASE_VALUES.replace("securityContext: {}", "securityContext: {runAsNonRoot: true}"),
        [r("alice"), r("bob")],
    )
    assert (critical.tier.tier, critical.decision.state) == ("critical", "success")


def test_medium_pr_below_p95_times_margin_fails_even_when_approved() -> None:
    result = gate(rightsized("140Mi"), [r("alice")], sizing=SIZING)
    assert result.decision.state == "failure"
    assert "below the recorded p95 120Mi × 1.30" in result.decision.blockers[0]


def test_risk_low_label_on_a_secret_change_is_critical() -> None:
    from aiops.model.changes import FileChange

    secret = FileChange(".github/secrets.yaml", None, "apiVersion: v1\nkind: Secret\n")
    result = gate(None, [r("alice")], files=(secret,), labels=("risk:low",))
    assert result.tier.tier == "critical" and result.decision.state == "pending"
    assert any("risk:low ignored" in x for x in result.decision.reasons)


@pytest.mark.parametrize(
    "path", [".github/workflows/gate.yml", "CODEOWNERS", ".github/aiops.yaml", "aiops/policy/approval.py"]
)
def test_prs_touching_the_gate_itself_need_two_teams(path: str) -> None:
    from aiops.model.changes import FileChange

    result = gate(None, [r("alice")], files=(FileChange(path, "a\n", "b\n"),), author="dave")
    assert result.tier.tier == "critical" and result.decision.state == "pending"


def test_editing_an_existing_record_fails_with_the_rollback_hint_even_with_every_approval() -> None:
    from aiops.model.changes import FileChange

    result = gate(None, [r("alice"), r("bob")], files=(FileChange(RECORD, "old\n", "new\n"),))
    assert result.decision.state == "failure"
    assert "aiops rollback" in result.decision.blockers[-1]
    assert result.tier.record_edits == (RECORD,)


def test_rename_of_a_values_file_into_a_sensitive_path_is_critical() -> None:
    from aiops.model.changes import FileChange

    moved = FileChange(".github/aiops.yaml", BASE_VALUES, BASE_VALUES, old_path=VALUES)
    result = gate(None, [r("alice")], files=(moved,))
    assert result.tier.tier == "critical" and result.decision.state == "pending"
    assert result.to_dict()["decision"]["state"] == "pending"
