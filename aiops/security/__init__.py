"""Security posture checks (pure): workloads, pods, RBAC and namespaces → scored findings.

See `aiops.security.checks`. No I/O: callers pass the objects (a live snapshot or rendered
manifests) and the exemptions from settings.
"""

from __future__ import annotations

from aiops.security.checks import CHECKS, Check, Exempted, Posture, SecurityFinding, run_checks

__all__ = ["CHECKS", "Check", "Exempted", "Posture", "SecurityFinding", "run_checks"]
