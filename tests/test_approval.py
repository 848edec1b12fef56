"""The approval decision (DESIGN §4.6) against the attack list of the approval issue, and the honest paths."""

from __future__ import annotations

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
