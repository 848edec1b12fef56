"""The recommendation engine: Snapshot + usage + findings + settings → recommendations and skips.

`run_all` is pure (numpy arithmetic, no I/O). Per sized workload it runs right-sizing (usage, and
OOMKills from the snapshot and from `OOMKilled` findings), scaling/HPA, then the fixes that follow
from findings (restart, config, image); then the opt-out annotation turns whatever it names into
`Skipped(opted-out)`. Nothing is silent: no recommendation for a workload that was looked at comes
with a `Skipped` saying why, except when there was nothing to say (no usage data was given at all).

When `cleared` is emitted (the only skip cause that closes an open proposal) — only where the
snapshot proves the condition is gone:
- `rightsize`: every container had enough usage data, every change is within the hysteresis, no
  OOMKill in the window, and every pod of the workload is Running and Ready with no finding on it;
- `scale` / `hpa`: the workload is healthy as above, has ≥ 1 day of CPU history, and scaling found
  nothing to change;
- `restart` / `config` / `image`: every pod of the workload is Running and Ready and no finding
  names the workload.

The usage window ends at `UsageData.end` (what the source fetched) or else at the newest sample,
and spans `rightsizing.window_days`; OOMKills count when they happened within that many days of
`at` (the snapshot's judging time).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from aiops.model.findings import Finding
from aiops.model.k8s import ObjectRef
from aiops.model.quantity import parse_cpu, parse_memory
from aiops.model.recommendations import Cost, Recommendation, Skipped
from aiops.model.snapshot import Snapshot
from aiops.model.usage import Resource, UsageData
from aiops.recommend import cost as costs
from aiops.recommend import fixes, rightsize, scaling
from aiops.recommend.inventory import Inventory, OomKill, Workload, window_start
from aiops.recommend.optout import OptOut
from aiops.recommend.series import Grouped, Pooled, Totals, group, pool, totals
from aiops.settings import Settings

__all__ = ["Result", "run_all"]

FIX_KINDS = ("restart", "config", "image")


@dataclass(frozen=True)
class Result:
    recommendations: tuple[Recommendation, ...]
    skipped: tuple[Skipped, ...]
    notes: tuple[str, ...] = field(default=())

    def __iter__(self) -> Any:  # `recs, skipped = run_all(...)`
        return iter((self.recommendations, self.skipped))

    def to_dict(self) -> dict[str, Any]:
        return {
            "recommendations": [r.to_dict() for r in self.recommendations],
            "skipped": [s.to_dict() for s in self.skipped],
        }


def _window(usage: UsageData, settings: Settings) -> tuple[float, float] | None:
    end: float | None = usage.end.timestamp() if usage.end is not None else None
    if end is None:
        newest = [
            float(np.max(s.timestamps[np.isfinite(s.timestamps)]))
            for s in usage.series
            if np.isfinite(s.timestamps).any()
        ]
        if not newest:
            return None
        end = max(newest)
    start = end - settings.rightsizing.window_days * 86400.0
    if usage.start is not None:
        start = max(start, usage.start.timestamp())
    return start, end


def _source_errors(usage: UsageData, inv: Inventory) -> dict[ObjectRef, str]:
    """Map the source's per-target errors ("ns/pod", "ns/*", "*/*", "ns/Kind/name") to workloads."""
    out: dict[ObjectRef, str] = {}
    for key, reason in usage.errors.items():
        parts = key.split("/")
        if len(parts) == 3:
            ref = ObjectRef(parts[1], parts[0], parts[2])
            if ref in inv.workloads:
                out.setdefault(ref, reason)
        elif len(parts) == 2 and parts[1] in ("*", ""):
            for ref in inv.workloads:
                if parts[0] in ("*", "") or ref.namespace == parts[0]:
                    out.setdefault(ref, reason)
        elif len(parts) == 2:
            found = inv.workload_for_pod(parts[0], parts[1])
            if found is not None:
                out.setdefault(found, reason)
        elif len(parts) == 1 and parts[0] in ("*", ""):
            for ref in inv.workloads:
                out.setdefault(ref, reason)
    return out


@dataclass
class _Ctx:
    snapshot: Snapshot
    inv: Inventory
    settings: Settings
    at: datetime
    grouped: Grouped
    window: tuple[float, float] | None
    have_usage: bool
    finding_refs: set[ObjectRef]
    oom_from_findings: dict[ObjectRef, list[OomKill]]
    min_cpu: float
    min_memory: float
    notes: list[str] = field(default_factory=list)


def run_all(
    snapshot: Snapshot,
    usage: UsageData | None,
    findings: Sequence[Finding],
    settings: Settings,
    at: datetime | None = None,
    *,
    namespaces: Sequence[str] | None = None,
) -> Result:
    """Every recommendation and skip for the snapshot's workloads (in `namespaces`, None = all)."""
    usage = usage or UsageData()
    inv = Inventory(snapshot)
    when = at or snapshot.at
    notes: list[str] = []
    grouped = group(usage, inv)
    if grouped.unknown_pods:
        names = sorted(f"{ns}/{pod}" for ns, pod in grouped.unknown_pods)
        notes.append(
            f"ignored usage of {len(names)} pod(s) that match no workload in the snapshot: "
            + ", ".join(names[:5])
            + (" …" if len(names) > 5 else "")
        )
    wanted = set(namespaces) if namespaces else None
    ctx = _Ctx(
        snapshot=snapshot,
        inv=inv,
        settings=settings,
        at=when,
        grouped=grouped,
        window=_window(usage, settings),
        have_usage=bool(usage.series) or bool(usage.sources),
        finding_refs=set(),
        oom_from_findings=fixes.oom_kills(findings, inv),
        min_cpu=parse_cpu(settings.rightsizing.min_cpu),
        min_memory=parse_memory(settings.rightsizing.min_memory),
        notes=notes,
    )
    for f in findings:
        ctx.finding_refs.add(fixes.workload_of(f, inv))
    errors = _source_errors(usage, inv)
    recs: list[Recommendation] = []
    skipped: list[Skipped] = []
    for ref in sorted(inv.workloads):
        if wanted is not None and ref.namespace not in wanted:
            continue
        w = inv.workloads[ref]
        try:
            r, s = _workload(ctx, w, errors.get(ref))
        except Exception as exc:  # one odd workload never stops the others
            notes.append(f"sizing {ref} failed: {type(exc).__name__}: {exc}")
            continue
        recs.extend(r)
        skipped.extend(s)
    fixed = fixes.from_findings(
        [f for f in findings if wanted is None or f.object.namespace in wanted], inv, settings
    )
    recs.extend(fixed.recommendations)
    skipped.extend(fixed.skipped)
    fix_keys = {r.key for r in fixed.recommendations} | {s.key for s in fixed.skipped}
    for ref in sorted(inv.workloads):
        if wanted is not None and ref.namespace not in wanted:
            continue
        w = inv.workloads[ref]
        if w.healthy and ref not in ctx.finding_refs:
            for kind in FIX_KINDS:
                sk = Skipped(
                    kind=kind,
                    target=ref,
                    reason=(
                        f"all {len(w.pods)} pod(s) are Running and Ready and no finding names the workload"
                    ),
                    cause="cleared",
                )
                if sk.key not in fix_keys:
                    skipped.append(sk)
    recs, skipped = _apply_optout(recs, skipped, inv)
    recs, skipped = _one_answer_per_key(recs, skipped, notes)
    return Result(tuple(recs), tuple(skipped), (*inv.notes, *notes))


def _one_answer_per_key(
    recs: list[Recommendation], skipped: list[Skipped], notes: list[str]
) -> tuple[list[Recommendation], list[Skipped]]:
    """At most one answer per key: a recommendation wins over a skip of the same key (an OOM fix
    stands even when usage for that workload could not be read); later duplicates are dropped."""
    out: list[Recommendation] = []
    seen: set[str] = set()
    for r in recs:
        if r.key in seen:
            notes.append(f"{r.key}: a second {r.kind} recommendation for the same target was dropped")
            continue
        seen.add(r.key)
        out.append(r)
    kept: list[Skipped] = []
    for s in skipped:
        if s.key in seen:
            if s.cause not in ("cleared", "opted-out"):
                notes.append(f"{s.key}: recommended from findings only; {s.cause}: {s.reason}")
            continue
        seen.add(s.key)
        kept.append(s)
    return out, kept


def _apply_optout(
    recs: list[Recommendation], skipped: list[Skipped], inv: Inventory
) -> tuple[list[Recommendation], list[Skipped]]:
    out_r: list[Recommendation] = []
    out_s: list[Skipped] = []
    opted: set[str] = set()
    cache: dict[ObjectRef, OptOut] = {}

    def reason(kind: str, target: ObjectRef) -> str | None:
        oo = cache.get(target)
        if oo is None:
            obj = inv.snapshot.get(target.kind, target.namespace, target.name)
            ann = {} if obj is None else dict((obj.get("metadata") or {}).get("annotations") or {})
            oo = OptOut.of(ann, inv.namespace_annotations(target.namespace))
            cache[target] = oo
        return oo.reason(kind, f"{target.kind} {target.namespace}/{target.name}")

    for r in recs:
        why = reason(r.kind, r.target)
        if why is None:
            out_r.append(r)
        elif r.key not in opted:
            opted.add(r.key)
            out_s.append(Skipped(kind=r.kind, target=r.target, reason=f"opted out: {why}", cause="opted-out"))
    for s in skipped:
        why = reason(s.kind, s.target)
        if why is None:
            out_s.append(s)
        elif s.key not in opted:
            opted.add(s.key)
            out_s.append(Skipped(kind=s.kind, target=s.target, reason=f"opted out: {why}", cause="opted-out"))
    return out_r, out_s


def _pools(ctx: _Ctx, w: Workload, resource: Resource) -> dict[str, Pooled | None]:
    out: dict[str, Pooled | None] = {}
    for c in w.containers:
        series = ctx.grouped.by_target.get((w.ref, c.name, resource))
        if not series or ctx.window is None:
            out[c.name] = None
        else:
            out[c.name] = pool(series, ctx.window[0], ctx.window[1])
    return out


def _hpa_basis(
    w: Workload, cpu_pools: dict[str, Pooled | None], wl_totals: Totals | None, pct: float
) -> dict[str, tuple[float, str]]:
    """HPA-aware CPU sizing (rightsizing.md §4.4): when an HPA on CPU is actually scaling (not pinned
    at minReplicas ≥ 90 % of the time), size each container's CPU request as the per-pod average
    P95 over the HPA's target, so the HPA keeps its utilization and no downward spiral starts."""
    hpa = w.hpa
    out: dict[str, tuple[float, str]] = {}
    if hpa is None or not hpa.target_cpu or wl_totals is None or scaling.hpa_pinned_at_min(w, wl_totals):
        return out
    for name, p in cpu_pools.items():
        if p is None or not rightsize.enough(p):
            continue
        t = totals([p])
        if t is None:
            continue
        per_pod = float(np.percentile(t.per_pod, pct))
        out[name] = (
            per_pod / (hpa.target_cpu / 100.0),
            f"HPA {hpa.ref.name} scales on CPU at {hpa.target_cpu} %: request = per-pod average "
            f"P{pct:g} {per_pod * 1000:.1f}m / {hpa.target_cpu} % (keeps the HPA's utilization, "
            "no feedback spiral)",
        )
    return out


def _workload(ctx: _Ctx, w: Workload, source_error: str | None) -> tuple[list[Recommendation], list[Skipped]]:
    st = ctx.settings
    recs: list[Recommendation] = []
    skipped: list[Skipped] = []
    if not w.containers:
        return recs, skipped
    since = window_start(ctx.at, st.rightsizing.window_days)
    extra = ctx.oom_from_findings.get(w.ref, [])
    if source_error is not None:
        skipped.append(
            Skipped(
                kind="rightsize",
                target=w.ref,
                reason=f"the usage source could not answer for this workload: {source_error}",
                cause="source-error",
            )
        )
        cpu_pools: dict[str, Pooled | None] = dict.fromkeys((c.name for c in w.containers), None)
        mem_pools: dict[str, Pooled | None] = dict(cpu_pools)
    else:
        cpu_pools = _pools(ctx, w, "cpu")
        mem_pools = _pools(ctx, w, "memory")

    all_cpu = [p for p in cpu_pools.values() if p is not None and p.n]
    wl_totals: Totals | None = totals(all_cpu) if all_cpu else None
    hpa_basis = _hpa_basis(w, cpu_pools, wl_totals, st.rightsizing.percentile)

    results: dict[str, rightsize.ContainerResult] = {}
    for c in w.containers:
        ooms_seen: dict[tuple[str, str], OomKill] = {}
        for o in [*w.ooms_of(c.name, since), *[o for o in extra if o.container == c.name]]:
            if o.at is None or o.at >= since:
                ooms_seen.setdefault((o.pod, o.container), o)
        results[c.name] = rightsize.size_container(
            c,
            cpu=cpu_pools.get(c.name),
            memory=mem_pools.get(c.name),
            ooms=list(ooms_seen.values()),
            settings=st.rightsizing,
            node=ctx.inv.largest_node,
            min_cpu=ctx.min_cpu,
            min_memory=ctx.min_memory,
            hpa_cpu_basis=hpa_basis.get(c.name),
        )
    changed = {n: r for n, r in results.items() if r.changed}
    oom_any = any(r.sizing["oom_in_window"] for r in results.values())
    healthy = w.healthy and w.ref not in ctx.finding_refs

    if changed:
        conf_levels = [r.confidence or "medium" for r in changed.values()]
        confidence = min(conf_levels, key=rightsize.LEVELS.index)
        before = [(r.current.cpu_request, r.current.memory_request) for r in results.values()]
        after = [(r.new.cpu_request, r.new.memory_request) for r in results.values()]
        cost = costs.compare(w.replicas, before, w.replicas, after, st.rightsizing.prices)
        summary = rightsize.summarize(changed)
        basis = (
            "OOM floor"
            if oom_any and not any(r.sizing["samples"] for r in changed.values())
            else f"P{st.rightsizing.percentile:g} usage + {st.rightsizing.margin:.0%} margin"
        )
        evidence: list[str] = []
        notes: list[str] = []
        for r in results.values():
            evidence.extend(r.evidence)
            notes.extend(r.notes)
            if r.name in changed:
                notes.extend(r.insufficient)
        evidence.append(
            f"{w.replicas} replica(s); cost at {st.rightsizing.prices.cpu_hour}$/CPU-h, "
            f"{st.rightsizing.prices.gib_hour}$/GiB-h"
        )
        rationale = f"Right-size {w.ref.kind} {w.ref.name} from {basis}: {summary}."
        if cost.monthly_before > 0:
            rationale += f" Requests cost {cost.monthly_before:.2f} → {cost.monthly_after:.2f} $/month" + (
                f" ({cost.savings_percent:.1f} % saved)."
                if cost.savings_percent >= 0
                else f" ({-cost.savings_percent:.1f} % more: usage needs it)."
            )
        if notes:
            rationale += " " + " ".join(n.rstrip(".") + "." for n in notes)
        recs.append(
            Recommendation(
                kind="rightsize",
                target=w.ref,
                current={n: rightsize.current_dict(r.current) for n, r in changed.items()},
                proposed={n: r.proposed() for n, r in changed.items()},
                rationale=rationale,
                evidence=tuple(evidence),
                findings=("OOMKilled",) if oom_any else (),
                confidence=confidence,
                sizing={n: r.sizing for n, r in changed.items()},
                cost=cost,
            )
        )
    elif source_error is None and ctx.have_usage:
        lacking = [msg for r in results.values() for msg in r.insufficient]
        if lacking:
            skipped.append(
                Skipped(
                    kind="rightsize",
                    target=w.ref,
                    reason="not enough usage data: " + "; ".join(lacking),
                    cause="insufficient-data",
                )
            )
        elif healthy and not oom_any:
            skipped.append(
                Skipped(
                    kind="rightsize",
                    target=w.ref,
                    reason=(
                        f"current requests/limits are within {st.rightsizing.hysteresis:.0%} of the "
                        "usage-based sizing and every pod is Ready"
                    ),
                    cause="cleared",
                )
            )

    # ---- scaling ------------------------------------------------------------------------------
    if source_error is None and wl_totals is not None:
        new_req = sum((r.new.cpu_request or 0.0) for r in results.values())
        cur_reqs = [r.current.cpu_request for r in results.values()]
        cur_req = None if any(v is None for v in cur_reqs) else sum(v or 0.0 for v in cur_reqs)
        span_days = max(p.span_seconds for p in all_cpu) / 86400.0
        advice, scale_notes = scaling.advise(
            w,
            wl_totals,
            span_days=span_days,
            request_per_pod=new_req,
            current_request_per_pod=cur_req,
            settings=st.scaling,
            oom_in_window=oom_any,
            pdb=ctx.inv.has_pdb(w),
        )
        per_pod_after = [(r.new.cpu_request, r.new.memory_request) for r in results.values()]
        per_pod_cost = costs.monthly(1, per_pod_after, st.rightsizing.prices)
        for a in advice:
            recs.append(
                Recommendation(
                    kind=a.kind,
                    target=w.ref,
                    current=a.current,
                    proposed=a.proposed,
                    rationale=a.rationale + (" " + " ".join(scale_notes) if scale_notes else ""),
                    evidence=a.evidence,
                    confidence=a.confidence,
                    cost=Cost(per_pod_cost * w.replicas, per_pod_cost * a.replicas_after),
                )
            )
        if not advice:
            ctx.notes.extend(f"{w.ref}: {n}" for n in scale_notes)
        kinds_done = {a.kind for a in advice}
        if healthy and span_days >= scaling.MIN_SPAN_DAYS:
            for kind in ("scale", "hpa"):
                if kind not in kinds_done:
                    skipped.append(
                        Skipped(
                            kind=kind,
                            target=w.ref,
                            reason=(
                                f"{span_days:.1f} d of CPU history show no change of replicas is needed"
                                if kind == "scale"
                                else f"{span_days:.1f} d of CPU history do not call for an HPA change"
                            ),
                            cause="cleared",
                        )
                    )
    return recs, skipped
