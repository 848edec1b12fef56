"""Replicas and HPA from workload-level CPU (reference/rightsizing.md §4.3, §4.4, §9.6).

U(t) = the workload's CPU summed over its pods per time step; R = per-pod CPU request after
right-sizing; u = `scaling.target_cpu_utilization`.
- HPA enablement: a stateless workload whose containers all have readiness probes, whose load
  fluctuates (P95(U)/P5(U) ≥ 1.5) and whose peak needs two pods (P99(U) ≥ 2·u·R):
  min = max(HA floor, ceil(P10(U)/(u·R))), max = min(cap, max(min+1, ceil(P99.9(U)·1.2/(u·R)))).
- Scale-down: P95 of U/(replicas·R_current) < 0.30 over ≥ 7 d (≥ 24 h: at most −25 % a step),
  no OOMKill: replicas = max(HA floor, ceil(P95(U)·1.3/(u·R))), at most −50 % a step.
  No scale-up from a fixed formula: a steady workload that needs more pods gets bigger requests
  from right-sizing; one that fluctuates gets an HPA.
- Existing HPA pinned at maxReplicas ≥ 10 % of the time: raise maxReplicas (capped).
HA floor = `scaling.ha_floor` when the workload runs ≥ 2 replicas or has a PodDisruptionBudget,
else 1. Pure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from aiops.recommend.inventory import Workload
from aiops.recommend.series import Totals
from aiops.settings import Scaling

FLUCTUATION = 1.5
LOW_UTILIZATION = 0.30
MIN_SPAN_DAYS = 1.0
FULL_SPAN_DAYS = 7.0
PINNED_MIN = 0.90
PINNED_MAX = 0.10


@dataclass(frozen=True)
class ScaleAdvice:
    kind: str  # "scale" | "hpa"
    current: dict[str, int | None]
    proposed: dict[str, int]
    rationale: str
    evidence: tuple[str, ...]
    confidence: str
    replicas_after: float  # expected average replicas, for the cost


def ha_floor(workload: Workload, settings: Scaling, *, pdb: bool = False) -> int:
    """`scaling.ha_floor` when the workload runs ≥ 2 replicas or has a PodDisruptionBudget, else 1."""
    return settings.ha_floor if workload.replicas >= 2 or pdb else 1


def hpa_state(workload: Workload, totals: Totals) -> tuple[float, float]:
    """Share of time the HPA sat at minReplicas, and at maxReplicas (pods reporting per step)."""
    hpa = workload.hpa
    if hpa is None or totals.pods.size == 0:
        return 0.0, 0.0
    at_min = float(np.mean(totals.pods <= hpa.min_replicas))
    at_max = float(np.mean(totals.pods >= hpa.max_replicas))
    return at_min, at_max


def hpa_pinned_at_min(workload: Workload, totals: Totals | None) -> bool:
    if workload.hpa is None or totals is None:
        return True
    return hpa_state(workload, totals)[0] >= PINNED_MIN


def advise(
    workload: Workload,
    totals: Totals | None,
    *,
    span_days: float,
    request_per_pod: float,
    current_request_per_pod: float | None,
    settings: Scaling,
    oom_in_window: bool,
    pdb: bool = False,
) -> tuple[list[ScaleAdvice], list[str]]:
    """Scaling advice for one workload, and notes saying why there is none when data says so."""
    notes: list[str] = []
    if totals is None or totals.total.size == 0 or request_per_pod <= 0:
        return [], notes
    if workload.ref.kind == "DaemonSet":
        return [], notes
    if span_days < MIN_SPAN_DAYS:
        notes.append(f"scaling needs ≥ 1 d of CPU history (have {span_days:.1f} d)")
        return [], notes
    u = settings.target_cpu_utilization / 100.0
    cap = settings.max_replicas_cap
    total = totals.total
    p5, p10, p95, p99, p999 = (float(x) for x in np.percentile(total, [5, 10, 95, 99, 99.9]))
    floor = ha_floor(workload, settings, pdb=pdb)
    conf = "high" if span_days >= FULL_SPAN_DAYS else "medium"
    per_target = u * request_per_pod
    stats = (
        f"workload CPU P5 {p5 * 1000:.0f}m, P95 {p95 * 1000:.0f}m, P99 {p99 * 1000:.0f}m over "
        f"{total.size} steps ({span_days:.1f} d); per-pod request {request_per_pod * 1000:.0f}m"
    )

    if workload.hpa is not None:
        hpa = workload.hpa
        _at_min, at_max = hpa_state(workload, totals)
        if at_max >= PINNED_MAX:
            want = max(hpa.max_replicas + 1, math.ceil(round(p999 * 1.2 / per_target, 9)))
            new_max = min(cap, want)
            if new_max <= hpa.max_replicas:
                notes.append(
                    f"HPA {hpa.ref.name} sat at maxReplicas {hpa.max_replicas} {at_max:.0%} of the time, "
                    f"but scaling.max_replicas_cap is {cap}"
                )
                return [], notes
            target = hpa.target_cpu or settings.target_cpu_utilization
            return [
                ScaleAdvice(
                    kind="hpa",
                    current={
                        "minReplicas": hpa.min_replicas,
                        "maxReplicas": hpa.max_replicas,
                        "targetCPUUtilizationPercentage": hpa.target_cpu,
                    },
                    proposed={
                        "minReplicas": hpa.min_replicas,
                        "maxReplicas": new_max,
                        "targetCPUUtilizationPercentage": target,
                    },
                    rationale=(
                        f"The HPA sat at maxReplicas {hpa.max_replicas} {at_max:.0%} of the time: "
                        f"the workload is under-provisioned; raise maxReplicas to {new_max}"
                        + (" (capped by scaling.max_replicas_cap)" if new_max == cap and want > cap else "")
                        + "."
                    ),
                    evidence=(stats, f"pods at maxReplicas in {at_max:.0%} of steps"),
                    confidence=conf,
                    replicas_after=float(np.mean(np.clip(np.ceil(total / per_target), 1, new_max))),
                )
            ], notes
        return [], notes

    fluctuating = p95 > 0 and (p5 <= 0 or p95 / p5 >= FLUCTUATION)
    needs_two = p99 >= 2 * per_target
    if workload.stateless and fluctuating and needs_two:
        if not workload.has_readiness_probes:
            notes.append("load fluctuates enough for an HPA, but not every container has a readiness probe")
        else:
            min_r = max(floor, math.ceil(round(p10 / per_target, 9)))
            max_r = min(cap, max(min_r + 1, math.ceil(round(p999 * 1.2 / per_target, 9))))
            min_r = min(min_r, max_r)
            expected = float(np.mean(np.clip(np.ceil(total / per_target), min_r, max_r)))
            ratio = "∞" if p5 <= 0 else f"{p95 / p5:.1f}"
            return [
                ScaleAdvice(
                    kind="hpa",
                    current={
                        "replicas": workload.replicas,
                        "minReplicas": None,
                        "maxReplicas": None,
                        "targetCPUUtilizationPercentage": None,
                    },
                    proposed={
                        "minReplicas": min_r,
                        "maxReplicas": max_r,
                        "targetCPUUtilizationPercentage": settings.target_cpu_utilization,
                    },
                    rationale=(
                        f"CPU load fluctuates (P95/P5 = {ratio}) and its peak needs "
                        f"{math.ceil(p99 / per_target)} pods at {settings.target_cpu_utilization} % of a "
                        f"{request_per_pod * 1000:.0f}m request: an HPA {min_r}–{max_r} follows it instead "
                        f"of {workload.replicas} fixed replicas."
                        + (" maxReplicas is capped by scaling.max_replicas_cap." if max_r == cap else "")
                    ),
                    evidence=(
                        stats,
                        "stateless workload with readiness probes on every container",
                    ),
                    confidence=conf,
                    replicas_after=expected,
                )
            ], notes

    # sustained low utilization → scale down
    if not current_request_per_pod or workload.replicas <= floor or oom_in_window:
        return [], notes
    util = total / (workload.replicas * current_request_per_pod)
    p95_u = float(np.percentile(util, 95))
    if p95_u >= LOW_UTILIZATION:
        return [], notes
    rec = max(floor, math.ceil(round(p95 * 1.3 / per_target, 9)))
    step_cap = 0.5 if span_days >= FULL_SPAN_DAYS else 0.25
    rec = max(rec, math.ceil(round(workload.replicas * (1 - step_cap), 9)))
    if rec >= workload.replicas:
        return [], notes
    return [
        ScaleAdvice(
            kind="scale",
            current={"replicas": workload.replicas},
            proposed={"replicas": rec},
            rationale=(
                f"P95 CPU utilization of the {workload.replicas} replicas is {p95_u:.0%} (< 30 %) over "
                f"{span_days:.1f} d: {rec} replicas carry the P95 load with 30 % headroom at "
                f"{settings.target_cpu_utilization} % utilization (HA floor {floor}, at most "
                f"-{step_cap:.0%} per step)."
            ),
            evidence=(stats, f"P95 utilization {p95_u:.1%} of current requests"),
            confidence=conf,
            replicas_after=float(rec),
        )
    ], notes
