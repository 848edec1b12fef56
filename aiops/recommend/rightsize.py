"""Right-sizing of requests and limits per container (reference/rightsizing.md §9.2–§9.5).

request = ceil(P95(pooled usage) × (1 + margin)), at least the minimums;
memory limit = nice_ceil(max(request × 1.25, peak × 1.15, OOM floor)),
OOM floor = max(limit_at_kill × 1.2, limit_at_kill + 100Mi); after an OOMKill in the window memory is
never lowered. Confidence = min(span days, sample days): < 1 d low (decreases capped at −25 %),
< 7 d medium (−50 %), else high. Below 100 samples or 3 h of data a resource is left alone.
Everything is clamped to 0.9 × the largest node's allocatable (`clamped`), and changes under the
hysteresis (10 %) are dropped. With an HPA on CPU that is actually scaling, the CPU request is sized
from the per-pod average over the HPA's target (§4.4) instead of margin-on-usage, so applying the
recommendation does not start a downward spiral. Pure: numbers in, numbers out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiops.model.quantity import MI, ceil_cpu, ceil_mi, format_cpu, format_memory, nice_ceil_mi
from aiops.recommend.inventory import ContainerSpec, OomKill, Resources
from aiops.recommend.series import Pooled
from aiops.settings import Rightsizing

MIN_SAMPLES = 100
MIN_SPAN_SECONDS = 3 * 3600
OOM_RATIO = 1.2
OOM_MIN_BUMP = 100 * MI
MEM_LIMIT_RATIO = 1.25
PEAK_RATIO = 1.15
NODE_FRACTION = 0.9
LEVELS = ("low", "medium", "high")
DECREASE_CAP = {"low": 0.25, "medium": 0.50, "high": 1.0}


def confidence_days(p: Pooled) -> float:
    """VPA's definition normalized by the step: min(span, samples × step) in days."""
    return min(p.span_seconds / 86400.0, p.sample_days)


def level(days: float) -> str:
    if days < 1:
        return "low"
    if days < 7:
        return "medium"
    return "high"


def enough(p: Pooled | None) -> bool:
    return p is not None and p.n >= MIN_SAMPLES and p.span_seconds >= MIN_SPAN_SECONDS


def fmt_cpu_exact(cores: float | None) -> str | None:
    """Evidence form of a CPU figure: millicores with one decimal ("100m", "12.5m")."""
    if cores is None:
        return None
    milli = round(cores * 1000, 1)
    return f"{milli:g}m" if milli != int(milli) else f"{int(milli)}m"


def fmt_mem_exact(num_bytes: float | None) -> str | None:
    """Evidence form of a memory figure: MiB with one decimal ("120Mi", "151.6Mi")."""
    if num_bytes is None:
        return None
    mib = round(num_bytes / MI, 1)
    return f"{mib:g}Mi" if mib != int(mib) else f"{int(mib)}Mi"


@dataclass
class ContainerResult:
    """The outcome for one container: new values (current where unchanged) and the evidence."""

    name: str
    current: Resources
    new: Resources
    sizing: dict[str, Any]
    confidence: str | None  # None: no resource had enough data
    notes: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    insufficient: list[str] = field(default_factory=list)

    def changed_fields(self) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        pairs = (
            ("requests", "cpu", self.current.cpu_request, self.new.cpu_request),
            ("requests", "memory", self.current.memory_request, self.new.memory_request),
            ("limits", "cpu", self.current.cpu_limit, self.new.cpu_limit),
            ("limits", "memory", self.current.memory_limit, self.new.memory_limit),
        )
        for part, res, cur, new in pairs:
            if new is not None and (cur is None or not math.isclose(cur, new, rel_tol=1e-9)):
                out.setdefault(part, {})[res] = new
        return out

    @property
    def changed(self) -> bool:
        return bool(self.changed_fields())

    def proposed(self) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        for part, vals in self.changed_fields().items():
            out[part] = {
                res: (format_cpu(v) if res == "cpu" else format_memory(v)) for res, v in sorted(vals.items())
            }
        return out


def current_dict(r: Resources) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    if r.cpu_request is not None:
        out.setdefault("requests", {})["cpu"] = format_cpu(r.cpu_request)
    if r.memory_request is not None:
        out.setdefault("requests", {})["memory"] = format_memory(r.memory_request)
    if r.cpu_limit is not None:
        out.setdefault("limits", {})["cpu"] = format_cpu(r.cpu_limit)
    if r.memory_limit is not None:
        out.setdefault("limits", {})["memory"] = format_memory(r.memory_limit)
    return out


def _cap_decrease(new: float, current: float | None, conf: str, ceil: Any) -> tuple[float, bool]:
    if current is None or new >= current:
        return new, False
    floor = current * (1.0 - DECREASE_CAP[conf])
    if new < floor:
        return float(ceil(floor)), True
    return new, False


def _hysteresis(new: float | None, current: float | None, threshold: float) -> float | None:
    """Keep the current value when the change is smaller than the threshold."""
    if new is None or current is None or current <= 0:
        return new
    if abs(new - current) / current < threshold:
        return current
    return new


def oom_floor(limit_at_kill: float) -> float:
    return max(limit_at_kill * OOM_RATIO, limit_at_kill + OOM_MIN_BUMP)


def size_container(
    spec: ContainerSpec,
    *,
    cpu: Pooled | None,
    memory: Pooled | None,
    ooms: list[OomKill],
    settings: Rightsizing,
    node: tuple[float, float] | None,
    min_cpu: float,
    min_memory: float,
    hpa_cpu_basis: tuple[float, str] | None = None,
) -> ContainerResult:
    """Size one container from its pooled usage (either may be None) and its OOMKills in the window.

    `hpa_cpu_basis` = (cores, why): the CPU request an HPA-scaled workload needs, used instead of
    margin-on-usage (rightsizing.md §4.4 (b)).
    """
    cur = spec.resources
    margin = 1.0 + settings.margin
    pct = settings.percentile
    notes: list[str] = []
    evidence: list[str] = []
    insufficient: list[str] = []
    levels: list[str] = []
    clamped = False
    new_cpu_req, new_cpu_lim = cur.cpu_request, cur.cpu_limit
    new_mem_req, new_mem_lim = cur.memory_request, cur.memory_limit
    sizing: dict[str, Any] = {
        "cpu_p95": None,
        "memory_p95": None,
        "memory_peak": None,
        "oom_in_window": bool(ooms),
        "samples": 0,
        "window_days": 0.0,
        "clamped": False,
    }
    samples: list[int] = []
    spans: list[float] = []

    # ---- CPU ------------------------------------------------------------------------------
    if enough(cpu):
        assert cpu is not None
        conf = level(confidence_days(cpu))
        levels.append(conf)
        samples.append(cpu.n)
        spans.append(cpu.span_seconds)
        p = cpu.percentile(pct)
        sizing["cpu_p95"] = fmt_cpu_exact(p)
        if hpa_cpu_basis is not None:
            raw, why = hpa_cpu_basis
            evidence.append(f"{spec.name}: {why}")
        else:
            raw = p * margin
        req = ceil_cpu(max(raw, min_cpu))
        req, capped = _cap_decrease(req, cur.cpu_request, conf, ceil_cpu)
        if capped:
            notes.append(f"{spec.name}: CPU decrease capped at -{DECREASE_CAP[conf]:.0%} ({conf} confidence)")
        if node is not None and req > node[0] * NODE_FRACTION:
            req = math.floor(node[0] * NODE_FRACTION * 200) / 200
            clamped = True
            notes.append(f"{spec.name}: CPU request clamped to 90 % of the largest node")
        new_cpu_req = _hysteresis(req, cur.cpu_request, settings.hysteresis)
        new_cpu_lim = _cpu_limit(settings.cpu_limit, new_cpu_req, cur, cpu)
        if new_cpu_lim is not None and node is not None and new_cpu_lim > node[0]:
            new_cpu_lim = node[0]
            clamped = True
        new_cpu_lim = _hysteresis(new_cpu_lim, cur.cpu_limit, settings.hysteresis)
        evidence.append(
            f"{spec.name}: CPU p{pct:g} {fmt_cpu_exact(p)} over {cpu.n} samples from {len(cpu.pods)} pod(s),"
            f" {cpu.span_seconds / 86400:.1f} d ({conf} confidence)"
        )
    elif cpu is not None and cpu.n:
        insufficient.append(
            f"{spec.name}: CPU has {cpu.n} samples over {cpu.span_seconds / 3600:.1f} h"
            f" (needs {MIN_SAMPLES} and 3 h)"
        )
    else:
        insufficient.append(f"{spec.name}: no CPU usage samples in the window")

    # ---- memory -----------------------------------------------------------------------------
    lim_at_kill = max((o.limit for o in ooms if o.limit is not None), default=cur.memory_limit)
    floor = oom_floor(lim_at_kill) if ooms and lim_at_kill is not None else None
    if ooms:
        evidence.append(
            f"{spec.name}: OOMKilled {len(ooms)}x in the window"
            + (f" at a {format_memory(lim_at_kill)} limit" if lim_at_kill is not None else "")
            + (f" → OOM floor {fmt_mem_exact(floor)}" if floor is not None else "")
        )
    if enough(memory):
        assert memory is not None
        conf = level(confidence_days(memory))
        levels.append(conf)
        samples.append(memory.n)
        spans.append(memory.span_seconds)
        p = memory.percentile(pct)
        peak = memory.peak
        sizing["memory_p95"] = fmt_mem_exact(p)
        sizing["memory_peak"] = fmt_mem_exact(peak)
        req = ceil_mi(max(p * margin, min_memory))
        if ooms:
            req = max(req, lim_at_kill or 0.0, cur.memory_request or 0.0)
        req, capped = _cap_decrease(req, cur.memory_request, conf, ceil_mi)
        if capped:
            notes.append(
                f"{spec.name}: memory decrease capped at -{DECREASE_CAP[conf]:.0%} ({conf} confidence)"
            )
        lim = nice_ceil_mi(max(req * MEM_LIMIT_RATIO, peak * PEAK_RATIO, floor or 0.0))
        if ooms:
            lim = max(lim, cur.memory_limit or 0.0)
        else:
            lim, _ = _cap_decrease(lim, cur.memory_limit, conf, nice_ceil_mi)
        evidence.append(
            f"{spec.name}: memory p{pct:g} {fmt_mem_exact(p)}, peak {fmt_mem_exact(peak)} over {memory.n}"
            f" samples from {len(memory.pods)} pod(s), {memory.span_seconds / 86400:.1f} d"
            f" ({conf} confidence)"
        )
        if peak > req:
            notes.append(
                f"{spec.name}: the peak ({fmt_mem_exact(peak)}) is above the request: "
                "the pod may be evicted first under node memory pressure"
            )
    else:
        if memory is not None and memory.n:
            insufficient.append(
                f"{spec.name}: memory has {memory.n} samples over {memory.span_seconds / 3600:.1f} h"
                f" (needs {MIN_SAMPLES} and 3 h)"
            )
        else:
            insufficient.append(f"{spec.name}: no memory usage samples in the window")
        req = cur.memory_request or 0.0
        lim = 0.0
        if floor is not None:
            # OOM without usage data: raise the limit to the OOM floor, keep the request.
            lim = nice_ceil_mi(max(floor, req * MEM_LIMIT_RATIO))
            levels.append("medium")
    if lim:
        if node is not None and lim > node[1] * NODE_FRACTION:
            lim = math.floor(node[1] * NODE_FRACTION / MI) * MI
            clamped = True
            notes.append(
                f"{spec.name}: memory limit clamped to 90 % of the largest node ({format_memory(node[1])})"
            )
        if node is not None and req > node[1] * NODE_FRACTION:
            req = math.floor(node[1] * NODE_FRACTION / MI) * MI
            clamped = True
        lim = max(lim, req)
        new_mem_req = _hysteresis(req, cur.memory_request, settings.hysteresis) if req else cur.memory_request
        new_mem_lim = _hysteresis(lim, cur.memory_limit, settings.hysteresis)
        if new_mem_lim is not None and new_mem_req is not None and new_mem_lim < new_mem_req:
            new_mem_lim = new_mem_req

    if new_cpu_lim is not None and new_cpu_req is not None and new_cpu_lim < new_cpu_req:
        new_cpu_lim = new_cpu_req
    sizing["samples"] = min(samples) if samples else 0
    sizing["window_days"] = round(max(spans) / 86400.0, 1) if spans else 0.0
    sizing["clamped"] = clamped
    conf_level = min(levels, key=LEVELS.index) if levels else None
    return ContainerResult(
        name=spec.name,
        current=cur,
        new=Resources(new_cpu_req, new_mem_req, new_cpu_lim, new_mem_lim),
        sizing=sizing,
        confidence=conf_level,
        notes=notes,
        evidence=evidence,
        insufficient=insufficient,
    )


def _cpu_limit(policy: str, req: float | None, cur: Resources, cpu: Pooled) -> float | None:
    """The CPU limit under `rightsizing.cpu_limit` (none | ratio | keep-ratio | percentile)."""
    if req is None:
        return cur.cpu_limit
    if policy == "ratio":
        return ceil_cpu(req * 2)
    if policy == "percentile":
        return ceil_cpu(max(cpu.percentile(99) * 1.3, req))
    ratio = None
    if cur.cpu_limit is not None and cur.cpu_request:
        ratio = max(1.0, cur.cpu_limit / cur.cpu_request)
    if policy == "keep-ratio":
        return ceil_cpu(req * ratio) if ratio is not None else cur.cpu_limit
    # none: never add a CPU limit; an existing one is kept unless it would fall below the request.
    if cur.cpu_limit is not None and cur.cpu_limit < req:
        return ceil_cpu(req * (ratio or 1.0))
    return cur.cpu_limit


def summarize(results: Mapping[str, ContainerResult]) -> str:
    """One sentence: what changes, per container, current → proposed."""
    parts: list[str] = []
    for name, r in results.items():
        bits: list[str] = []
        for part, vals in r.changed_fields().items():
            for res, v in vals.items():
                cur = getattr(r.current, f"{res}_{'request' if part == 'requests' else 'limit'}")
                fmt = format_cpu if res == "cpu" else format_memory
                before = fmt(cur) if cur is not None else "unset"
                bits.append(f"{res} {part[:-1]} {before} → {fmt(v)}")
        if bits:
            parts.append(f"{name}: " + ", ".join(bits))
    return "; ".join(parts)
