"""Usage series grouped by workload container, cleaned, and reduced to the statistics sizing needs.

Cleaning rules: samples outside the window, NaN/±Inf and negative values are dropped (a negative
CPU rate is what a counter reset looks like after a naive difference); duplicate timestamps of one
series keep the first sample; gaps are kept as gaps (they lower `sample_days`, hence confidence).
Series of pods that match no workload are counted, never guessed. Pure numpy, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from aiops.model.k8s import ObjectRef
from aiops.model.usage import ContainerSeries, Resource, UsageData
from aiops.recommend.inventory import Inventory

Array = Any  # numpy.ndarray[float64]

SKIP_CONTAINERS = ("", "POD")


@dataclass(frozen=True, eq=False)
class Pooled:
    """All pods' samples of one resource of one workload container, cleaned.

    `values` are every kept sample, pooled (what percentiles read); `parts` keep each series' own
    times (sorted) and its slice of `values`, for time-aligned sums. Few large temporaries are made:
    on a busy VM every array over ~128 KiB costs fresh pages.
    """

    parts: tuple[tuple[str, Array, int, int], ...]  # (pod, timestamps, start, stop) into `values`
    values: Array
    dropped: int = 0  # NaN / negative / out-of-window / duplicate samples removed
    steps: tuple[float, ...] = ()  # median sample spacing of each series

    @property
    def pods(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p[0] for p in self.parts))

    @property
    def n(self) -> int:
        return int(self.values.size)

    @cached_property
    def span_seconds(self) -> float:
        if not self.parts:
            return 0.0
        first = min(float(p[1][0]) for p in self.parts)
        last = max(float(p[1][-1]) for p in self.parts)
        return last - first

    @cached_property
    def step(self) -> float:
        """Typical sample spacing (median over series), at least 1 s."""
        return max(1.0, float(np.median(self.steps))) if self.steps else 60.0

    @property
    def sample_days(self) -> float:
        return self.n * self.step / 86400.0

    def percentile(self, p: float) -> float:
        return float(np.percentile(self.values, p))

    @cached_property
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
    parts: list[tuple[str, Array, int, int]] = []
    v_parts: list[Array] = []
    steps: list[float] = []
    dropped = 0
    offset = 0
    for s in series:
        ts = np.asarray(s.timestamps, dtype=np.float64)
        vs = np.asarray(s.values, dtype=np.float64)
        if ts.shape != vs.shape:
            n = min(ts.size, vs.size)
            dropped += abs(ts.size - vs.size)
            ts, vs = ts[:n], vs[:n]
        total = ts.size
        if total > 1 and not bool(np.all(ts[1:] >= ts[:-1])):
            order = np.argsort(ts, kind="stable")
            ts, vs = ts[order], vs[order]
        # the window, by binary search on the sorted times (NaN times sort last and fall outside)
        lo = int(np.searchsorted(ts, start, side="left"))
        hi = int(np.searchsorted(ts, end, side="right"))
        ts, vs = ts[lo:hi], vs[lo:hi]
        with np.errstate(invalid="ignore"):
            keep = (vs >= 0) & (vs < np.inf)  # NaN, ±Inf and negative values out
        if ts.size > 1:
            same = ts[1:] == ts[:-1]
            if bool(same.any()):
                keep[1:] &= ~same  # duplicate timestamps: the first sample wins
        kept = int(np.count_nonzero(keep))
        dropped += total - kept
        if not kept:
            continue
        if ts.size > 1:
            stride = max(1, (ts.size - 1) // 4096)  # a strided median is plenty for the spacing
            m = (ts.size - 1) // stride
            d = ts[1::stride][:m] - ts[0::stride][:m]
            d = d[d > 0]
            if d.size:
                steps.append(float(np.median(d)))
        if kept < ts.size:
            ts, vs = ts[keep], vs[keep]
        parts.append((s.pod, ts, offset, offset + kept))
        v_parts.append(vs)
        offset += kept
    if not v_parts:
        return Pooled((), np.zeros(0, dtype=np.float64), dropped)
    values = v_parts[0] if len(v_parts) == 1 else np.concatenate(v_parts)
    return Pooled(tuple(parts), values, dropped, tuple(steps))


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
    t0 = min(float(part[1][0]) for p in plist for part in p.parts)
    t1 = max(float(part[1][-1]) for p in plist for part in p.parts)
    size = round((t1 - t0) / st) + 1
    total = np.zeros(size, dtype=np.float64)
    present: dict[str, Array] = {}
    for p in plist:
        for pod, ts, a, b in p.parts:
            bucket = np.rint((ts - t0) / st).astype(np.int64)
            total += np.bincount(bucket, weights=p.values[a:b], minlength=size)
            mark = present.setdefault(pod, np.zeros(size, dtype=bool))
            mark[bucket] = True
    pods = np.zeros(size, dtype=np.float64)
    for mark in present.values():
        pods += mark
    seen = pods > 0  # steps where no pod reported are gaps, not zero load
    return Totals(total=total[seen], pods=pods[seen])
