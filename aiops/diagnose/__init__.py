"""Deterministic diagnosis: one analyzer per failure family, each a pure function over a Snapshot.

`REGISTRY` is the one explicit list of analyzers. `run_all` runs each in isolation: an exception
in one becomes a note ("analyzer X failed: ..."), never a crash, and the others still run.
Analyzers never do I/O; everything they need is in the `Snapshot`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from aiops.diagnose import autoscaling, containers, nodes, scheduling, services, storage, workloads
from aiops.model import Diagnosis, Finding, Snapshot

Analyzer = Callable[[Snapshot], Iterable[Finding]]

REGISTRY: tuple[tuple[str, Analyzer], ...] = (
    ("containers", containers.analyze),
    ("scheduling", scheduling.analyze),
    ("storage", storage.analyze),
    ("workloads", workloads.analyze),
    ("services", services.analyze),
    ("nodes", nodes.analyze),
    ("autoscaling", autoscaling.analyze),
)

_SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


def run_all(
    snapshot: Snapshot,
    *,
    namespaces: Iterable[str] | None = None,
    registry: tuple[tuple[str, Analyzer], ...] = REGISTRY,
) -> Diagnosis:
    """Run every analyzer; keep findings in `namespaces` (None = all; node findings always kept)."""
    started = time.perf_counter()
    wanted = set(namespaces) if namespaces else None
    findings: list[Finding] = []
    notes: list[str] = list(snapshot.notes)
    for name, analyzer in registry:
        try:
            produced = list(analyzer(snapshot))
        except Exception as exc:  # isolation is the point: one analyzer never stops the others
            notes.append(f"analyzer {name} failed: {type(exc).__name__}: {exc}")
            continue
        findings.extend(produced)
    if wanted is not None:
        findings = [f for f in findings if not f.object.namespace or f.object.namespace in wanted]
    findings.sort(
        key=lambda f: (
            _SEVERITY_ORDER.get(f.severity.value, 9),
            f.object.namespace,
            f.workload.name,
            f.object.name,
            f.container or "",
        )
    )
    return Diagnosis(
        findings=tuple(findings),
        notes=tuple(notes),
        objects=snapshot.count(),
        elapsed_ms=(time.perf_counter() - started) * 1000.0,
    )
