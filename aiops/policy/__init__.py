"""Policy, pure: the risk tier of a change set and the approval decision (DESIGN §4.6).

`classify` turns a `ChangeSet` into a tier with reasons; `decide` turns a tier, the reviews and
team membership into success / pending / failure with what is missing; `safety.check` runs the
medium-tier checks of a resources diff against the `sizing` evidence; `evaluate` composes the three
as the one gate decision of the local `merge` and the GitHub gate. No I/O, no forge, no clock:
the GitHub gate and the local forge's `merge` feed them what they read and act on the answer.
"""

from aiops.policy.approval import ApprovalContext, Approver, Decision, Review, decide, fold_reviews
from aiops.policy.gate import GateResult, evaluate
from aiops.policy.safety import SafetyResult
from aiops.policy.safety import check as safety_check
from aiops.policy.tiers import (
    RANK,
    TIERS,
    ClassifyContext,
    RevertedChange,
    TierReason,
    TierResult,
    classify,
    max_tier,
)

__all__ = [
    "RANK",
    "TIERS",
    "ApprovalContext",
    "Approver",
    "ClassifyContext",
    "Decision",
    "GateResult",
    "RevertedChange",
    "Review",
    "SafetyResult",
    "TierReason",
    "TierResult",
    "classify",
    "decide",
    "evaluate",
    "fold_reviews",
    "max_tier",
    "safety_check",
]
