"""Usage series grouped by workload container, cleaned, and reduced to the statistics sizing needs.

Cleaning rules: samples outside the window, NaN/±Inf and negative values are dropped (a negative
CPU rate is what a counter reset looks like after a naive difference); duplicate timestamps of one
series keep the first sample; gaps are kept as gaps (they lower `sample_days`, hence confidence).
Series of pods that match no workload are counted, never guessed. Pure numpy, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aiops.model.k8s import ObjectRef
from aiops.model.usage import ContainerSeries, Resource, UsageData
from aiops.recommend.inventory import Inventory

Array = Any  # numpy.ndarray[float64]

SKIP_CONTAINERS = ("", "POD")


@dataclass(frozen=True, eq=False)
class Pooled:
    """All pods' samples of one resource of one workload container, cleaned."""

    pods: tuple[str, ...]
    pod_index: Array  # int array: which pod each sample came from
    timestamps: Array
    values: Array
    dropped: int = 0  # NaN / negative / out-of-window samples removed

    @property
    def n(self) -> int:
        return int(self.values.size)

    @property
    def span_seconds(self) -> float:
        if self.values.size == 0:
            return 0.0
        return float(self.timestamps.max() - self.timestamps.min())

    @property
    def step(self) -> float:
        """Typical sample spacing (median over series), at least 1 s."""
        steps: list[float] = []
        for i in range(len(self.pods)):
            ts = np.sort(self.timestamps[self.pod_index == i])
            if ts.size > 1:
                steps.append(float(np.median(np.diff(ts))))
        return max(1.0, float(np.median(steps))) if steps else 60.0

    @property
    def sample_days(self) -> float:
        return self.n * self.step / 86400.0

    def percentile(self, p: float) -> float:
        return float(np.percentile(self.values, p))

    @property
    def peak(self) -> float:
        return float(self.values.max())


@dataclass
class Grouped:
    """Series attributed to workload containers, plus what could not be attributed."""

    by_target: dict[tuple[ObjectRef, str, Resource], list[ContainerSeries]] = field(default_factory=dict)
    unknown_pods: set[tuple[str, str]] = field(default_factory=set)


def group(usage: UsageData, inventory: Inventory) -> Grouped:
    out = Grouped()
    for s in usage.series:
        if s.container in SKIP_CONTAINERS:
            continue
        ref = inventory.workload_for_pod(s.namespace, s.pod)
        if ref is None:
            out.unknown_pods.add((s.namespace, s.pod))
            continue
        out.by_target.setdefault((ref, s.container, s.resource), []).append(s)
    return out


def pool(series: Iterable[ContainerSeries], start: float, end: float) -> Pooled:
    """Concatenate the series of several pods, dropping bad samples and samples outside [start, end]."""
    pods: list[str] = []
    ts_parts: list[Array] = []
    v_parts: list[Array] = []
    idx_parts: list[Array] = []
    dropped = 0
    for s in series:
        ts = np.asarray(s.timestamps, dtype=np.float64)
        vs = np.asarray(s.values, dtype=np.float64)
        if ts.shape != vs.shape:
            n = min(ts.size, vs.size)
            dropped += abs(ts.size - vs.size)
            ts, vs = ts[:n], vs[:n]
        keep = np.isfinite(vs) & np.isfinite(ts) & (vs >= 0) & (ts >= start) & (ts <= end)
        if ts.size > 1:
            order = np.argsort(ts, kind="stable")
            ts, vs, keep = ts[order], vs[order], keep[order]
            dup = np.zeros(ts.size, dtype=bool)
            dup[1:] = ts[1:] == ts[:-1]
            keep &= ~dup
        dropped += int(ts.size - keep.sum())
        if not keep.any():
            continue
        if s.pod in pods:
            i = pods.index(s.pod)
        else:
            i = len(pods)
            pods.append(s.pod)
        ts_parts.append(ts[keep])
        v_parts.append(vs[keep])
        idx_parts.append(np.full(int(keep.sum()), i, dtype=np.int64))
    if not v_parts:
        empty = np.zeros(0, dtype=np.float64)
        return Pooled((), np.zeros(0, dtype=np.int64), empty, empty, dropped)
    return Pooled(
        tuple(pods),
        np.concatenate(idx_parts),
        np.concatenate(ts_parts),
        np.concatenate(v_parts),
        dropped,
    )


@dataclass(frozen=True, eq=False)
class Totals:
    """Workload-level CPU aligned on a common time grid: total usage and pods reporting per step."""

    total: Array  # cores summed over pods (and the containers given)
    pods: Array  # number of pods with a sample in that step

    @property
    def per_pod(self) -> Array:
        return self.total / np.maximum(self.pods, 1)


def totals(pools: Iterable[Pooled], step: float | None = None) -> Totals | None:
    """Sum several containers' pooled CPU per time step (bucketed on the sample spacing)."""
    plist = [p for p in pools if p.n]
    if not plist:
        return None
    st = step or max(p.step for p in plist)
    ts = np.concatenate([p.timestamps for p in plist])
    vs = np.concatenate([p.values for p in plist])
    names: dict[str, int] = {}
    pod_ids: list[Array] = []
    for p in plist:
        mapping = np.array([names.setdefault(n, len(names)) for n in p.pods], dtype=np.int64)
        pod_ids.append(mapping[p.pod_index])
    pid = np.concatenate(pod_ids)
    bucket = np.round(ts / st).astype(np.int64)
    uniq, inv = np.unique(bucket, return_inverse=True)
    total = np.bincount(inv, weights=vs, minlength=uniq.size)
    pairs = np.unique(inv * (len(names) + 1) + pid)
    pods = np.bincount(pairs // (len(names) + 1), minlength=uniq.size).astype(np.float64)
    return Totals(total=total, pods=pods)
