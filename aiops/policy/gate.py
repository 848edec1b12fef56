"""The whole gate decision as one pure function: classify → safety checks → decide (DESIGN §4.6).

`evaluate` is what both the local forge's `aiops merge` and the GitHub `aiops gate` call, so the
two can never disagree: the tier comes from the change set (labels are only reported), the
medium-tier safety checks read the marker's `sizing` with the policy's margin, and a change that
edits or deletes an existing record fails outright with the hint to use `aiops rollback`.
Pure: the caller reads the PR, its reviews, membership and label events, and acts on the result.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from aiops.model.changes import ChangeSet
from aiops.policy.approval import ApprovalContext, Decision, ReviewLike, decide
from aiops.policy.safety import SafetyResult
from aiops.policy.safety import check as safety_check
from aiops.policy.tiers import ClassifyContext, RevertedChange, TierResult, classify
from aiops.settings import Settings


@dataclass(frozen=True)
class GateResult:
    """The tier with its reasons, the safety result (medium only) and the decision."""

    tier: TierResult
    safety: SafetyResult | None
    decision: Decision

    def to_dict(self) -> dict[str, Any]:
        return {
            "tier": self.tier.to_dict(),
            "safety": self.safety.to_dict() if self.safety is not None else None,
            "decision": self.decision.to_dict(),
        }


def evaluate(
    change_set: ChangeSet,
    *,
    settings: Settings,
    reviews: Sequence[ReviewLike],
    membership: Mapping[str, Collection[str]],
    head_sha: str,
    requested_by: str | None = None,
    sizing: Mapping[str, Any] | None = None,
    labels: Sequence[str] = (),
    emergency_label_by: Sequence[str] = (),
    commit_authors: Sequence[str] = (),
    reverted: RevertedChange | None = None,
    complete: bool = True,
) -> GateResult:
    """Tier, safety and approval of one PR/proposal; `change_set.author` is the PR's author."""
    tier = classify(
        change_set,
        ClassifyContext.from_settings(
            settings, commit_authors=commit_authors, reverted=reverted, complete=complete
        ),
    )
    safety = (
        safety_check(change_set, sizing, margin=settings.rightsizing.margin)
        if tier.tier == "medium"
        else None
    )
    context = ApprovalContext.from_settings(
        settings,
        head_sha=head_sha,
        author=change_set.author,
        requested_by=requested_by,
        emergency_label_by=emergency_label_by,
        labels=labels,
        safety=safety,
    )
    decision = decide(tier.tier, reviews, membership, context)
    if tier.record_edits:
        hint = (
            f"edits or deletes existing records ({', '.join(tier.record_edits)}): history is append-only;"
            " undo a change with `aiops rollback --pr N`, which keeps the records"
        )
        decision = replace(decision, state="failure", approved=False, blockers=(*decision.blockers, hint))
    return GateResult(tier=tier, safety=safety, decision=decision)
