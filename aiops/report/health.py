"""The weekly health report: findings by workload and code, restarts, availability, open
recommendation PRs against their SLA, week-over-week change, top recommendations with their PRs.

Input: a snapshot, its (redacted) diagnosis, the recommendations of the same run, the open
proposals as plain rows (the pipeline reads them from the forge) and last week's front matter.
Availability is the snapshot's point-in-time ready/desired replicas (its basis says so); restarts
are the pods' `restartCount` totals. Pure text; no I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiops.model.findings import Diagnosis
from aiops.model.k8s import K8sObject, ObjectRef, dig, meta
from aiops.model.recommendations import Recommendation
from aiops.model.snapshot import Snapshot
from aiops.phr.render import cell, escape_text
from aiops.report.document import Report, delta

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
TOP = 10


@dataclass(frozen=True)
class ProposalRow:
    """One open recommendation PR as the health report shows it."""

    number: int
    title: str
    url: str
    key: str
    tier: str
    age_minutes: float
    sla_minutes: int | None
    approvals: int
    required: int

    @property
    def state(self) -> str:
        if self.required and self.approvals >= self.required:
            return "approved"
        if self.sla_minutes is not None and self.age_minutes > self.sla_minutes:
            return "overdue"
        return "waiting"

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "title": self.title,
            "url": self.url,
            "key": self.key,
            "tier": self.tier,
            "age_minutes": round(self.age_minutes, 1),
            "sla_minutes": self.sla_minutes,
            "approvals": self.approvals,
            "required": self.required,
            "state": self.state,
        }


def _desired_ready(obj: K8sObject) -> tuple[int, int]:
    if obj.get("kind") == "DaemonSet":
        return int(dig(obj, "status", "desiredNumberScheduled", default=0) or 0), int(
            dig(obj, "status", "numberReady", default=0) or 0
        )
    spec = dig(obj, "spec", "replicas")
    desired = int(spec) if isinstance(spec, int) else 1
    return desired, int(dig(obj, "status", "readyReplicas", default=0) or 0)


def _restarts(pod: K8sObject) -> int:
    return sum(
        int(cs.get("restartCount") or 0)
        for key in ("containerStatuses", "initContainerStatuses")
        for cs in dig(pod, "status", key, default=[]) or []
        if isinstance(cs, dict)
    )


def workload_rows(snapshot: Snapshot, diagnosis: Diagnosis) -> list[dict[str, Any]]:
    """Per workload: desired, ready, availability %, restarts, findings by code."""
    restarts: Counter[ObjectRef] = Counter()
    for pod in snapshot.of_kind("Pod"):
        owner = snapshot.workload_of(pod)
        ns = str(meta(pod).get("namespace") or "")
        ref = ObjectRef(owner.kind, ns, owner.name) if owner else ObjectRef.of(pod)
        restarts[ref] += _restarts(pod)
    codes: dict[ObjectRef, Counter[str]] = {}
    for f in diagnosis.findings:
        codes.setdefault(f.workload, Counter())[f.code] += 1
    rows: list[dict[str, Any]] = []
    seen: set[ObjectRef] = set()
    for kind in WORKLOAD_KINDS:
        for obj in snapshot.of_kind(kind):
            ref = ObjectRef.of(obj)
            desired, ready = _desired_ready(obj)
            seen.add(ref)
            rows.append(_row(ref, desired, ready, restarts.get(ref, 0), codes.get(ref, Counter())))
    for ref in sorted(set(codes) - seen, key=str):  # findings on pods of Jobs, nodes, services...
        rows.append(_row(ref, None, None, restarts.get(ref, 0), codes[ref]))
    rows.sort(key=lambda r: (-sum(r["findings"].values()), r["workload"]))
    return rows


def _row(
    ref: ObjectRef, desired: int | None, ready: int | None, restarts: int, codes: Counter[str]
) -> dict[str, Any]:
    avail = None if not desired else round(100.0 * min(ready or 0, desired) / desired, 1)
    return {
        "workload": str(ref),
        "desired": desired,
        "ready": ready,
        "availability": avail,
        "restarts": restarts,
        "findings": dict(sorted(codes.items())),
    }


def build(
    *,
    date: str,
    cluster: str,
    source: str,
    snapshot: Snapshot,
    diagnosis: Diagnosis,
    recommendations: Sequence[Recommendation],
    proposals: Sequence[ProposalRow],
    links: Mapping[str, ProposalRow],
    previous: Mapping[str, Any] | None,
    notes: Sequence[str] = (),
) -> Report:
    rows = workload_rows(snapshot, diagnosis)
    by_code = Counter(f.code for f in diagnosis.findings)
    by_sev = Counter(f.severity.value for f in diagnosis.findings)
    desired = sum(r["desired"] or 0 for r in rows if r["desired"])
    ready = sum(min(r["ready"] or 0, r["desired"]) for r in rows if r["desired"])
    availability = round(100.0 * ready / desired, 1) if desired else None
    restarts = sum(r["restarts"] for r in rows)
    overdue = [p for p in proposals if p.state == "overdue"]
    front: dict[str, Any] = {
        "cluster": cluster,
        "source": source,
        "at": snapshot.at.isoformat().replace("+00:00", "Z"),
        "workloads": sum(1 for r in rows if r["desired"] is not None),
        "findings": len(diagnosis.findings),
        "by_severity": {s: by_sev.get(s, 0) for s in ("critical", "warning", "info")},
        "by_code": dict(sorted(by_code.items())),
        "restarts": restarts,
        "availability": availability,
        "availability_basis": f"ready/desired replicas at {snapshot.at:%Y-%m-%d %H:%M} UTC",
        "open_prs": len(proposals),
        "overdue_prs": len(overdue),
        "previous": previous.get("date") if previous else None,
    }
    p = previous or {}
    lines = [f"# Cluster health: {escape_text(cluster)}, {date}", ""]
    lines.append(
        f"Source: {escape_text(source)}, judged at {front['at']}. "
        f"Workloads: {front['workloads']}. Availability: "
        f"{'n/a' if availability is None else f'{availability} %'} ({front['availability_basis']})."
    )
    lines += ["", "## Week over week", ""]
    if previous:
        lines += [f"Compared with the report of {previous.get('date')}.", ""]
    else:
        lines += ["No earlier health report: changes show n/a.", ""]
    lines += ["| Figure | Now | Before | Change |", "|---|---|---|---|"]
    prev_sev = p.get("by_severity") or {}
    for label, now, before in (
        ("Findings", len(diagnosis.findings), p.get("findings")),
        ("Critical findings", by_sev.get("critical", 0), prev_sev.get("critical")),
        ("Restarts (total restartCount)", restarts, p.get("restarts")),
        ("Availability %", availability, p.get("availability")),
        ("Open recommendation PRs", len(proposals), p.get("open_prs")),
    ):
        lines.append(
            f"| {label} | {'n/a' if now is None else now} | {'n/a' if before is None else before} "
            f"| {delta(now, before)} |"
        )
    prev_codes = set((p.get("by_code") or {}).keys())
    if previous:
        appeared = sorted(set(by_code) - prev_codes)
        gone = sorted(prev_codes - set(by_code))
        lines += ["", f"New codes: {', '.join(appeared) or 'none'}. Gone: {', '.join(gone) or 'none'}."]
    lines += ["", "## Findings by code", ""]
    if by_code:
        lines += ["| Code | Count |", "|---|---|"]
        lines += [f"| {cell(c)} | {n} |" for c, n in sorted(by_code.items(), key=lambda x: (-x[1], x[0]))]
    else:
        lines.append("No failing workload.")
    lines += ["", "## Workloads", "", "| Workload | Ready | Availability | Restarts | Findings |"]
    lines.append("|---|---|---|---|---|")
    for r in rows:
        ready_txt = "—" if r["desired"] is None else f"{r['ready']}/{r['desired']}"
        av = "—" if r["availability"] is None else f"{r['availability']} %"
        fs = ", ".join(f"{c}×{n}" for c, n in r["findings"].items()) or "—"
        lines.append(f"| {cell(r['workload'])} | {ready_txt} | {av} | {r['restarts']} | {escape_text(fs)} |")
    lines += ["", "## Open recommendation PRs", ""]
    if proposals:
        lines += ["| PR | Tier | Age (min) | SLA (min) | Approvals | State |", "|---|---|---|---|---|---|"]
        for pr in proposals:
            lines.append(
                f"| {_pr_link(pr)} {escape_text(pr.title)} | {pr.tier} | {pr.age_minutes:.0f} | "
                f"{pr.sla_minutes if pr.sla_minutes is not None else '—'} | {pr.approvals}/{pr.required} | "
                f"{pr.state} |"
            )
    else:
        lines.append("None open.")
    top = sorted(
        recommendations,
        key=lambda r: (
            0 if r.findings else 1,
            -((r.cost.monthly_before - r.cost.monthly_after) if r.cost else 0.0),
            r.key,
        ),
    )[:TOP]
    lines += ["", "## Top recommendations", ""]
    if top:
        lines += ["| Recommendation | Target | Why | PR |", "|---|---|---|---|"]
        for rec in top:
            link = links.get(rec.key)
            lines.append(
                f"| {cell(rec.key)} | {cell(str(rec.target))} | {escape_text(rec.rationale)} | "
                f"{_pr_link(link) if link else 'not proposed yet (`aiops propose`)'} |"
            )
    else:
        lines.append("None.")
    if notes or diagnosis.notes:
        lines += ["", "## Notes", "", *[f"- {escape_text(n)}" for n in (*notes, *diagnosis.notes)]]
    data = {
        "workload_rows": rows,
        "proposals": [pr.to_dict() for pr in proposals],
        "top_recommendations": [
            {"key": r.key, "kind": r.kind, "target": r.target.to_dict(), "pr": links[r.key].number}
            if r.key in links
            else {"key": r.key, "kind": r.kind, "target": r.target.to_dict(), "pr": None}
            for r in top
        ],
        "findings": [f.to_dict() for f in diagnosis.findings],
    }
    return Report("health", date, front, "\n".join(lines), data)


def _pr_link(pr: ProposalRow) -> str:
    if pr.url.startswith(("https://", "http://")) and " " not in pr.url and ")" not in pr.url:
        return f"[#{pr.number}]({pr.url})"
    return f"#{pr.number}"


def dashboard_section(report: Report, path: str | None) -> str:
    f = report.front
    where = f" (report: `{path}`)" if path else ""
    crit = (f.get("by_severity") or {}).get("critical", 0)
    return (
        f"### Cluster health {report.date}{where}\n\n"
        f"{f.get('findings')} finding(s), {crit} critical; availability {f.get('availability')} %; "
        f"{f.get('overdue_prs')} of {f.get('open_prs')} open PR(s) past their SLA."
    )
