"""Recommendations and skips (DESIGN §4.4): what aiops proposes to change, and what it would not."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from aiops.model.changes import FileChange
from aiops.model.k8s import ObjectRef

KINDS: tuple[str, ...] = ("rightsize", "scale", "hpa", "restart", "config", "image", "rollback")
SKIP_CAUSES: tuple[str, ...] = ("cleared", "insufficient-data", "source-error", "unmapped", "opted-out")


def recommendation_key(kind: str, target: ObjectRef) -> str:
    """Stable fingerprint of target + kind: `rightsize-todo-deployment-todo-backend`."""
    parts = [kind, target.namespace or "cluster", target.kind.lower(), target.name]
    return "-".join(p.replace("/", "-").replace(".", "-") for p in parts).lower()


def content_hash(proposed: Mapping[str, Any]) -> str:
    """Hash of the proposed values only (no timestamps, no ids): 16 hex chars of sha256."""
    blob = json.dumps(proposed, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Cost:
    """Monthly cost of the requests before and after, at the configured prices."""

    monthly_before: float
    monthly_after: float

    @property
    def savings_percent(self) -> float:
        if self.monthly_before <= 0:
            return 0.0
        return round(100.0 * (self.monthly_before - self.monthly_after) / self.monthly_before, 1)

    def to_dict(self) -> dict[str, float]:
        return {
            "monthly_before": round(self.monthly_before, 2),
            "monthly_after": round(self.monthly_after, 2),
            "savings_percent": self.savings_percent,
        }


@dataclass(frozen=True)
class Recommendation:
    """One proposed change to one workload (DESIGN §4.4)."""

    kind: str
    target: ObjectRef
    current: Mapping[str, Any]
    proposed: Mapping[str, Any]
    rationale: str
    evidence: tuple[str, ...] = ()
    findings: tuple[str, ...] = ()
    confidence: str = "medium"  # low | medium | high
    sizing: Mapping[str, Any] | None = None
    cost: Cost | None = None
    tier: str | None = None
    changes: tuple[FileChange, ...] | None = None
    id: str | None = None

    @property
    def key(self) -> str:
        return recommendation_key(self.kind, self.target)

    @property
    def content_hash(self) -> str:
        return content_hash(self.proposed)

    def with_changes(self, changes: tuple[FileChange, ...], tier: str) -> Recommendation:
        return replace(self, changes=changes, tier=tier)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "id": self.id,
            "kind": self.kind,
            "target": self.target.to_dict(),
            "current": dict(self.current),
            "proposed": dict(self.proposed),
            "content_hash": self.content_hash,
            "sizing": dict(self.sizing) if self.sizing is not None else None,
            "rationale": self.rationale,
            "evidence": list(self.evidence),
            "findings": list(self.findings),
            "confidence": self.confidence,
            "cost": self.cost.to_dict() if self.cost else None,
            "tier": self.tier,
            "changes": [c.to_dict() for c in self.changes] if self.changes is not None else None,
        }


@dataclass(frozen=True)
class Skipped:
    """No recommendation for a target, and why (a value, never silence)."""

    kind: str
    target: ObjectRef
    reason: str
    cause: str  # one of SKIP_CAUSES
    snippet: str | None = None  # for `unmapped`: the config that would map it
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return recommendation_key(self.kind, self.target)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "key": self.key,
            "kind": self.kind,
            "target": self.target.to_dict(),
            "reason": self.reason,
            "cause": self.cause,
        }
        if self.snippet is not None:
            out["snippet"] = self.snippet
        return out
