"""The daily utilization report: requests vs usage (p50/p95) per workload container, idle cost,
over- and under-provisioned lists, and Mermaid `xychart-beta` trends from earlier reports.

Usage comes as `UsageData` (Prometheus matrices, `aiops collect` files); without any, the
snapshot's PodMetrics (metrics.k8s.io) serve as one point sample per container and the report
says so. Percentiles pool every pod's samples of a workload container over the window, like
right-sizing does (`aiops.recommend.series`).

Definitions (stated in the report):
- idle cost $/month = replicas × Σ max(0, request − p95 usage) × price × 730 h (requests reserve
  what the p95 does not use);
- over-provisioned: a request more than twice its p95 usage (half of it idle at p95);
- under-provisioned: p95 usage above the request, no request at all, or an OOMKill in the pods.
Pure computation and text; numpy is imported inside functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiops.model.k8s import ObjectRef, meta, parse_time
from aiops.model.quantity import GI, format_cpu, format_memory, parse_cpu, parse_memory
from aiops.model.snapshot import Snapshot
from aiops.model.usage import ContainerSeries, Resource, UsageData
from aiops.phr.render import cell, escape_text
from aiops.recommend.cost import HOURS_PER_MONTH
from aiops.recommend.inventory import Inventory
from aiops.recommend.series import group, pool
from aiops.report.document import Report, chart_legend, delta, xychart
from aiops.settings import Settings

OVER_FACTOR = 2.0
TREND_POINTS = 14


@dataclass(frozen=True)
class Row:
    workload: ObjectRef
    container: str
    replicas: int
    cpu_request: float | None
    memory_request: float | None
    cpu_p50: float | None
    cpu_p95: float | None
    memory_p50: float | None
    memory_p95: float | None
    samples: int
    oomkilled: bool
    idle_cost: float

    @property
    def over(self) -> list[str]:
        out = []
        if self.cpu_request and self.cpu_p95 is not None and self.cpu_request > OVER_FACTOR * self.cpu_p95:
            out.append("cpu")
        if (
            self.memory_request
            and self.memory_p95 is not None
            and self.memory_request > OVER_FACTOR * self.memory_p95
        ):
            out.append("memory")
        return out

    @property
    def under(self) -> list[str]:
        out = []
        if self.cpu_p95 is not None and (not self.cpu_request or self.cpu_p95 > self.cpu_request):
            out.append("cpu")
        if self.oomkilled or (
            self.memory_p95 is not None and (not self.memory_request or self.memory_p95 > self.memory_request)
        ):
            out.append("memory")
        return out

    def to_dict(self) -> dict[str, Any]:
        def c(v: float | None) -> str | None:
            return None if v is None else format_cpu(v)

        def m(v: float | None) -> str | None:
            return None if v is None else format_memory(v)

        return {
            "workload": self.workload.to_dict(),
            "container": self.container,
            "replicas": self.replicas,
            "requests": {"cpu": c(self.cpu_request), "memory": m(self.memory_request)},
            "usage": {
                "cpu_p50": c(self.cpu_p50),
                "cpu_p95": c(self.cpu_p95),
                "memory_p50": m(self.memory_p50),
                "memory_p95": m(self.memory_p95),
            },
            "samples": self.samples,
            "oomkilled": self.oomkilled,
            "idle_cost_monthly": round(self.idle_cost, 2),
            "over_provisioned": self.over,
            "under_provisioned": self.under,
        }


def podmetrics_usage(snapshot: Snapshot) -> UsageData:
    """PodMetrics items as one-sample series (cores, bytes) at their `timestamp`."""
    import numpy as np

    series: list[ContainerSeries] = []
    for pm in snapshot.of_kind("PodMetrics"):
        t = parse_time(pm.get("timestamp")) or snapshot.at
        ns, pod = str(meta(pm).get("namespace") or ""), str(meta(pm).get("name") or "")
        for c in pm.get("containers") or ():
            usage = c.get("usage") or {}
            for res, parse in (("cpu", parse_cpu), ("memory", parse_memory)):
                if res in usage:
                    resource: Resource = "cpu" if res == "cpu" else "memory"
                    series.append(
                        ContainerSeries(
                            ns,
                            pod,
                            str(c.get("name", "")),
                            resource,
                            np.array([t.timestamp()]),
                            np.array([parse(usage[res])]),
                        )
                    )
    if not series:
        return UsageData()
    first = min(float(s.timestamps[0]) for s in series)
    last = max(float(s.timestamps[0]) for s in series)
    return UsageData(
        series=tuple(series),
        sources=("PodMetrics in the snapshot",),
        start=datetime.fromtimestamp(first, UTC),
        end=datetime.fromtimestamp(last, UTC),
    )


def rows(
    snapshot: Snapshot, usage: UsageData, settings: Settings
) -> tuple[list[Row], tuple[float, float] | None]:
    """One row per sized workload container, and the usage window used (unix seconds)."""
    inv = Inventory(snapshot)
    grouped = group(usage, inv)
    times = [float(s.timestamps.max()) for s in usage.series if len(s)]
    window: tuple[float, float] | None = None
    if times:
        end = usage.end.timestamp() if usage.end else max(times)
        start = end - settings.rightsizing.window_days * 86400.0
        if usage.start:
            start = max(start, usage.start.timestamp())
        window = (start, end)
    prices = settings.rightsizing.prices
    out: list[Row] = []
    for ref, w in sorted(inv.workloads.items(), key=lambda kv: str(kv[0])):
        for c in w.containers:
            pct: dict[str, tuple[float | None, float | None, int]] = {}
            for res in ("cpu", "memory"):
                series = grouped.by_target.get((ref, c.name, res), []) if window else []
                pooled = pool(series, window[0], window[1]) if series and window else None
                if pooled is None or pooled.n == 0:
                    pct[res] = (None, None, 0)
                else:
                    pct[res] = (pooled.percentile(50), pooled.percentile(95), pooled.n)
            r = c.resources
            idle = 0.0
            if r.cpu_request and pct["cpu"][1] is not None:
                idle += max(0.0, r.cpu_request - float(pct["cpu"][1])) * prices.cpu_hour
            if r.memory_request and pct["memory"][1] is not None:
                idle += max(0.0, r.memory_request - float(pct["memory"][1])) / GI * prices.gib_hour
            out.append(
                Row(
                    ref,
                    c.name,
                    w.replicas,
                    r.cpu_request,
                    r.memory_request,
                    pct["cpu"][0],
                    pct["cpu"][1],
                    pct["memory"][0],
                    pct["memory"][1],
                    pct["cpu"][2] + pct["memory"][2],
                    any(o.container == c.name for o in w.ooms),
                    idle * w.replicas * HOURS_PER_MONTH,
                )
            )
    return out, window


def _fmt(v: float | None, kind: str) -> str:
    if v is None:
        return "—"
    return format_cpu(v) if kind == "cpu" else format_memory(v)


def build(
    *,
    date: str,
    cluster: str,
    source: str,
    snapshot: Snapshot,
    usage: UsageData,
    usage_basis: str,
    settings: Settings,
    history: Sequence[Mapping[str, Any]],
    notes: Sequence[str] = (),
) -> Report:
    table, window = rows(snapshot, usage, settings)
    measured = [r for r in table if r.samples]
    cpu_req = sum((r.cpu_request or 0.0) * r.replicas for r in table)
    mem_req = sum((r.memory_request or 0.0) * r.replicas for r in table) / GI
    cpu_p95 = sum((r.cpu_p95 or 0.0) * r.replicas for r in measured)
    mem_p95 = sum((r.memory_p95 or 0.0) * r.replicas for r in measured) / GI
    idle = round(sum(r.idle_cost for r in table), 2)
    over = [r for r in table if r.over]
    under = [r for r in table if r.under]
    totals = {
        "cpu_requested_cores": round(cpu_req, 3),
        "cpu_p95_cores": round(cpu_p95, 3),
        "memory_requested_gib": round(mem_req, 3),
        "memory_p95_gib": round(mem_p95, 3),
        "idle_cost_monthly": idle,
    }
    win_text = "n/a"
    if window:
        a = datetime.fromtimestamp(window[0], UTC)
        b = datetime.fromtimestamp(window[1], UTC)
        win_text = f"{a:%Y-%m-%d %H:%M} → {b:%Y-%m-%d %H:%M} UTC"
    front: dict[str, Any] = {
        "cluster": cluster,
        "source": source,
        "usage_basis": usage_basis,
        "window": win_text,
        "containers": len(table),
        "measured_containers": len(measured),
        "totals": totals,
        "over_provisioned": len(over),
        "under_provisioned": len(under),
        "prices": {
            "cpu_hour": settings.rightsizing.prices.cpu_hour,
            "gib_hour": settings.rightsizing.prices.gib_hour,
        },
    }
    prev = history[-1] if history else None
    prev_totals = (prev or {}).get("totals") or {}
    lines = [f"# Utilization: {escape_text(cluster)}, {date}", ""]
    lines.append(
        f"Source: {escape_text(source)}. Usage: {escape_text(usage_basis)}; window {win_text}. "
        f"{len(measured)} of {len(table)} container(s) have usage samples."
    )
    lines += ["", "| Figure | Now | Previous report | Change |", "|---|---|---|---|"]
    for label, key in (
        ("CPU requested (cores)", "cpu_requested_cores"),
        ("CPU used, p95 (cores)", "cpu_p95_cores"),
        ("Memory requested (GiB)", "memory_requested_gib"),
        ("Memory used, p95 (GiB)", "memory_p95_gib"),
        ("Idle cost ($/month)", "idle_cost_monthly"),
    ):
        before = prev_totals.get(key)
        shown = "n/a" if before is None else before
        lines.append(f"| {label} | {totals[key]} | {shown} | {delta(totals[key], before)} |")
    lines += [
        "",
        "Idle cost = replicas × Σ max(0, request − p95 usage) × price × 730 h, at "
        f"${settings.rightsizing.prices.cpu_hour}/core-hour and "
        f"${settings.rightsizing.prices.gib_hour}/GiB-hour.",
    ]
    lines += ["", "## Trends", ""]
    points = [*history[-(TREND_POINTS - 1) :], {"date": date, "totals": totals}]
    if len(points) < 2:
        lines.append("One report so far: trends appear from the second daily report on.")
    else:
        labels = [str(p.get("date", ""))[5:] for p in points]

        def series(key: str) -> list[float]:
            return [float((p.get("totals") or {}).get(key) or 0.0) for p in points]

        lines += [xychart("Idle cost ($/month)", labels, {"idle": series("idle_cost_monthly")}, y_label="$")]
        lines += [
            "",
            xychart(
                "CPU cores: requested vs p95 used",
                labels,
                {"requested": series("cpu_requested_cores"), "p95 used": series("cpu_p95_cores")},
                y_label="cores",
            ),
            chart_legend(["requested", "p95 used"]),
        ]
        lines += [
            "",
            xychart(
                "Memory GiB: requested vs p95 used",
                labels,
                {"requested": series("memory_requested_gib"), "p95 used": series("memory_p95_gib")},
                y_label="GiB",
            ),
            chart_legend(["requested", "p95 used"]),
        ]
    lines += ["", "## Requests vs usage", ""]
    lines += [
        "| Workload | Container | Replicas | CPU req | CPU p50 | CPU p95 "
        "| Mem req | Mem p50 | Mem p95 | Idle $/mo |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in table:
        lines.append(
            f"| {cell(str(r.workload))} | {cell(r.container)} | {r.replicas} | "
            f"{_fmt(r.cpu_request, 'cpu')} | "
            f"{_fmt(r.cpu_p50, 'cpu')} | {_fmt(r.cpu_p95, 'cpu')} | {_fmt(r.memory_request, 'mem')} | "
            f"{_fmt(r.memory_p50, 'mem')} | {_fmt(r.memory_p95, 'mem')} | {r.idle_cost:.2f} |"
        )
    lines += ["", f"## Over-provisioned (request > {OVER_FACTOR:g}× p95)", ""]
    lines += [f"- {cell(str(r.workload))} {cell(r.container)}: {', '.join(r.over)}" for r in over] or [
        "None."
    ]
    lines += ["", "## Under-provisioned (p95 > request, no request, or OOMKilled)", ""]
    lines += [
        f"- {cell(str(r.workload))} {cell(r.container)}: {', '.join(r.under)}"
        + (" (OOMKilled)" if r.oomkilled else "")
        for r in under
    ] or ["None."]
    if notes:
        lines += ["", "## Notes", "", *[f"- {escape_text(n)}" for n in notes]]
    data = {"rows": [r.to_dict() for r in table]}
    return Report("utilization", date, front, "\n".join(lines), data)
