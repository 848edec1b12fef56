"""New-failure detection: which findings are new problems, which problems cleared (DESIGN §4.2, §4.11).

A problem is a finding code on a workload (`code` + owning workload, or the object itself when it
has no owner): the unit of "at most one proposal per problem". `Detector.update` takes the findings
of a fresh analysis of some namespaces and answers the problems that appeared (each a `Detection`
carrying `started_at` — when the failure began, from the finding — and `detected_at` — when the
watcher saw it, so MTTD = detected_at − started_at) and those that are gone. Problems outside the
analysed namespaces are left alone. No I/O; the caller keeps the clock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from aiops.model.findings import Finding
from aiops.model.k8s import ObjectRef, format_time

__all__ = ["Detection", "Detector", "problem_key"]


def problem_key(finding: Finding) -> str:
    """`<code> <Kind>/<namespace>/<name>` of the owning workload: one problem, whatever its pods."""
    w = finding.workload
    return f"{finding.code} {w.kind}/{w.namespace}/{w.name}"


@dataclass(frozen=True)
class Detection:
    """A problem the watcher saw appear: its first finding and the two times of MTTD."""

    key: str
    finding: Finding
    detected_at: datetime
    started_at: datetime | None
    initial: bool = False  # already failing when the watcher started

    @property
    def code(self) -> str:
        return self.finding.code

    @property
    def workload(self) -> ObjectRef:
        return self.finding.workload

    @property
    def mttd_seconds(self) -> float | None:
        if self.started_at is None:
            return None
        return max(0.0, (self.detected_at - self.started_at).total_seconds())

    def line(self) -> str:
        w = self.workload
        where = f"{w.namespace}/{w.kind}/{w.name}" if w.namespace else f"{w.kind}/{w.name}"
        mttd = self.mttd_seconds
        since = f" started {format_time(self.started_at)}," if self.started_at else ""
        took = f" MTTD {mttd:.0f}s" if mttd is not None else " MTTD unknown"
        pre = " (failing at start)" if self.initial else ""
        return (
            f"{self.finding.severity.value} {self.code} {where}:{since}{took}{pre} — {self.finding.summary}"
        )


class Detector:
    """Active problems by key; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: dict[str, Detection] = {}

    def update(
        self,
        findings: Sequence[Finding],
        *,
        namespaces: Iterable[str] | None,
        at: datetime,
        initial: bool = False,
        cluster: bool = True,
    ) -> tuple[list[Detection], list[Detection]]:
        """(new problems, cleared problems) after analysing `namespaces` (None = all) at `at`;
        `cluster`: cluster-scoped objects (nodes) were analysed too, so their problems may clear."""
        scope = set(namespaces) if namespaces is not None else None
        seen: dict[str, Finding] = {}
        for f in findings:
            if scope is not None and f.object.namespace and f.object.namespace not in scope:
                continue
            key = problem_key(f)
            first = seen.get(key)
            if first is None or (f.started_at is not None and (first.started_at or at) > f.started_at):
                seen[key] = f
        new: list[Detection] = []
        cleared: list[Detection] = []
        with self._lock:
            for key, f in seen.items():
                if key in self._active:
                    old = self._active[key]
                    if (
                        f.started_at is not None
                        and old.started_at is not None
                        and f.started_at < old.started_at
                    ):
                        self._active[key] = replace(old, started_at=f.started_at)
                    continue
                det = Detection(
                    key=key,
                    finding=replace(f, detected_at=at),
                    detected_at=at,
                    started_at=f.started_at,
                    initial=initial,
                )
                self._active[key] = det
                new.append(det)
            for key, det in list(self._active.items()):
                ns = det.finding.object.namespace
                in_scope = cluster if not ns else (scope is None or ns in scope)
                if in_scope and key not in seen:
                    del self._active[key]
                    cleared.append(det)
        return new, cleared

    def active(self) -> list[Detection]:
        with self._lock:
            return sorted(self._active.values(), key=lambda d: (d.workload.namespace, d.key))

    def get(self, key: str) -> Detection | None:
        with self._lock:
            return self._active.get(key)
