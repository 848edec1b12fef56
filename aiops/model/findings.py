"""Findings: what the analyzers say is wrong (DESIGN §4.2), as frozen records with JSON forms."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from aiops.model.k8s import ObjectRef, OwnerRef, format_time, parse_time


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is worse: critical 3, warning 2, info 1."""
        return {"critical": 3, "warning": 2, "info": 1}[self.value]

    def at_least(self, other: Severity) -> bool:
        return self.rank >= other.rank


# Stable public codes (DESIGN §4.2). More may be added; these never change meaning.
CODES: tuple[str, ...] = (
    "OOMKilled",
    "CrashLoopBackOff",
    "LivenessProbeFailure",
    "ReadinessProbeFailure",
    "StartupProbeFailure",
    "ImagePullBackOff",
    "CreateContainerConfigError",
    "RunContainerError",
    "InitContainerFailure",
    "Unschedulable.InsufficientResources",
    "Unschedulable.NodeAffinity",
    "Unschedulable.Taints",
    "Unschedulable.UnboundPVC",
    "FailedMount",
    "Evicted",
    "RolloutStuck",
    "ServiceNoEndpoints",
    "NodeNotReady",
    "NodePressure",
    "HPAMetricsUnavailable",
    "PVCPending",
)

# Structured root-cause types (DESIGN §4.2 `cause.type`).
CAUSE_TYPES: tuple[str, ...] = (
    "missing-config-key",
    "missing-configmap",
    "missing-env",
    "missing-secret",
    "missing-secret-key",
    "image-not-found",
    "image-unauthorized",
    "image-invalid",
    "dependency-refused",
    "dependency-dns",
    "address-in-use",
    "permission-denied",
    "exec-not-found",
    "exec-format",
    "oom-limit",
    "oom-runtime-heap",
    "probe-http-status",
    "probe-timeout",
    "probe-refused",
    "insufficient-resources",
    "migration-failed",
    "app-fatal",
    "oom-node",
    "registry-unreachable",
    "node-pressure",
    "volume-multi-attach",
    # object-level analyzers (scheduling, storage, workloads, services, nodes, autoscaling)
    "node-selector-mismatch",
    "untolerated-taint",
    "unbound-pvc",
    "missing-storageclass",
    "no-matching-volume",
    "provisioning-failed",
    "provisioner-not-responding",
    "replica-create-failed",
    "selector-mismatch",
    "target-port-mismatch",
    "node-not-ready",
    "missing-resource-request",
    "metrics-api-unavailable",
    "no-pod-metrics",
)


@dataclass(frozen=True)
class Cause:
    """Structured root cause, so later stages act on fields, not text."""

    type: str
    detail: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "detail": dict(self.detail)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Cause:
        return cls(str(data["type"]), dict(data.get("detail") or {}))


@dataclass(frozen=True)
class Finding:
    """One failing container (or object) with its evidence (DESIGN §4.2)."""

    code: str
    severity: Severity
    object: ObjectRef
    summary: str
    evidence: tuple[str, ...] = ()
    remediation: str = ""
    container: str | None = None
    owner: OwnerRef | None = None
    detected_at: datetime | None = None
    started_at: datetime | None = None
    cause: Cause | None = None

    @property
    def workload(self) -> ObjectRef:
        """The owning workload when known, else the object itself."""
        if self.owner is not None:
            return ObjectRef(self.owner.kind, self.object.namespace, self.owner.name)
        return self.object

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "object": self.object.to_dict(),
            "container": self.container,
            "owner": self.owner.to_dict() if self.owner else None,
            "summary": self.summary,
            "evidence": list(self.evidence),
            "remediation": self.remediation,
            "detected_at": format_time(self.detected_at),
            "started_at": format_time(self.started_at),
            "cause": self.cause.to_dict() if self.cause else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        return cls(
            code=str(data["code"]),
            severity=Severity(data["severity"]),
            object=ObjectRef.from_dict(data["object"]),
            summary=str(data.get("summary", "")),
            evidence=tuple(str(e) for e in data.get("evidence") or ()),
            remediation=str(data.get("remediation", "")),
            container=data.get("container"),
            owner=OwnerRef.from_dict(data["owner"]) if data.get("owner") else None,
            detected_at=parse_time(data.get("detected_at")),
            started_at=parse_time(data.get("started_at")),
            cause=Cause.from_dict(data["cause"]) if data.get("cause") else None,
        )


@dataclass(frozen=True)
class Diagnosis:
    """The result of running every analyzer over a snapshot."""

    findings: tuple[Finding, ...]
    notes: tuple[str, ...] = ()
    objects: int = 0
    elapsed_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "findings": [f.to_dict() for f in self.findings],
            "notes": list(self.notes),
            "stats": {"objects": self.objects, "elapsed_ms": round(self.elapsed_ms, 1)},
        }

    def worst(self) -> Severity | None:
        if not self.findings:
            return None
        return max((f.severity for f in self.findings), key=lambda s: s.rank)
