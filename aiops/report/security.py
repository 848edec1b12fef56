"""The weekly security posture report: live findings, rendered-manifest findings, score, change.

Input: the `Posture` of the live objects (`aiops.security.run_checks`), the postures of the
manifests rendered by `helm template` per release (or why they could not be rendered), and the
front matter of earlier security reports (for "change vs last week"). Output: a `Report` whose
front matter keeps the score, counts and finding ids the next week compares with. Secret values
never appear: the checks name variables only, and the body goes through redaction. Pure text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aiops.phr.render import cell, escape_text
from aiops.report.document import Report, delta
from aiops.security.checks import CHECKS, SEVERITIES, Posture, SecurityFinding

MAX_ROWS = 200


def _table(findings: Sequence[SecurityFinding]) -> list[str]:
    if not findings:
        return ["No findings."]
    lines = ["| Severity | Check | Object | Container | Finding |", "|---|---|---|---|---|"]
    for f in findings[:MAX_ROWS]:
        lines.append(
            f"| {f.severity} | {cell(f.check)} | {cell(str(f.object))} | "
            f"{cell(f.container) if f.container else '—'} | {escape_text(f.message)} |"
        )
    if len(findings) > MAX_ROWS:
        lines.append(f"\n_{len(findings) - MAX_ROWS} more in `aiops report security -o json`._")
    return lines


def build(
    *,
    date: str,
    cluster: str,
    live: Posture,
    rendered: Mapping[str, Posture | str],
    previous: Mapping[str, Any] | None,
    source: str,
) -> Report:
    """The report; `rendered` maps a release to its posture or to why it was not rendered."""
    ids = sorted({f.id for f in live.findings})
    prev_ids = set(previous.get("finding_ids") or ()) if previous else set()
    new = [f for f in live.findings if f.id not in prev_ids] if previous else []
    resolved = sorted(prev_ids - set(ids)) if previous else []
    prev_score = previous.get("score") if previous else None
    rendered_front: dict[str, Any] = {}
    for name, p in sorted(rendered.items()):
        rendered_front[name] = (
            {"score": p.score, "counts": p.counts()} if isinstance(p, Posture) else {"error": p}
        )
    front: dict[str, Any] = {
        "cluster": cluster,
        "source": source,
        "score": live.score,
        "checked_objects": live.checked,
        "counts": live.counts(),
        "exempted": len(live.exempted),
        "exempted_critical": sum(1 for e in live.exempted if e.finding.severity == "critical"),
        "previous": previous.get("date") if previous else None,
        "score_change": None if live.score is None or prev_score is None else live.score - int(prev_score),
        "rendered": rendered_front,
        "finding_ids": ids,
    }
    score = "n/a (nothing checked)" if live.score is None else f"{live.score}/100"
    lines = [f"# Security posture: {escape_text(cluster)}, {date}", ""]
    lines.append(f"Source: {escape_text(source)}. Objects checked: {live.checked}.")
    lines += ["", f"**Score: {score}**", ""]
    if previous:
        lines.append(
            f"Change vs {previous.get('date')}: score {delta(live.score, prev_score)}, "
            f"{len(new)} new finding(s), {len(resolved)} resolved."
        )
    else:
        lines.append("Change vs last week: n/a (no earlier security report).")
    counts = live.counts()
    lines += ["", "| " + " | ".join(SEVERITIES) + " |", "|" + "---|" * len(SEVERITIES)]
    lines.append("| " + " | ".join(str(counts[s]) for s in SEVERITIES) + " |")
    lines += ["", "## Findings (live objects)", "", *_table(live.findings)]
    if previous:
        lines += ["", "## New since last week", ""]
        lines += [f"- {cell(f.id)} ({f.severity})" for f in new] or ["None."]
        lines += ["", "## Resolved since last week", ""]
        lines += [f"- {cell(i)}" for i in resolved] or ["None."]
    lines += ["", "## Rendered manifests (helm template)", ""]
    if not rendered:
        lines.append("No release rendered.")
    for name, p in sorted(rendered.items()):
        if isinstance(p, Posture):
            s = "n/a" if p.score is None else f"{p.score}/100"
            c = p.counts()
            lines += [
                f"### {escape_text(name)}: {s}, {c['critical']} critical, {c['high']} high",
                "",
                *_table(p.findings),
                "",
            ]
        else:
            lines += [f"### {escape_text(name)}: not rendered", "", escape_text(p), ""]
    lines += ["## Exempted", ""] if lines[-1] == "" else ["", "## Exempted", ""]
    if live.exempted:
        lines += ["| Check | Object | Reason |", "|---|---|---|"]
        lines += [
            f"| {cell(e.finding.check)} | {cell(str(e.finding.object))} | {escape_text(e.reason)} |"
            for e in live.exempted
        ]
    else:
        lines.append("None.")
    lines += ["", "## Checks", "", "| Check | Severity | Remediation |", "|---|---|---|"]
    lines += [f"| {cell(c.id)} | {c.severity} | {escape_text(c.remediation)} |" for c in CHECKS.values()]
    if live.notes:
        lines += ["", "## Notes", "", *[f"- {escape_text(n)}" for n in live.notes]]
    data = {
        "findings": [f.to_dict() for f in live.findings],
        "exempted": [e.to_dict() for e in live.exempted],
        "new": [f.id for f in new],
        "resolved": resolved,
        "rendered_findings": {
            n: [f.to_dict() for f in p.findings]
            for n, p in sorted(rendered.items())
            if isinstance(p, Posture)
        },
        "notes": list(live.notes),
    }
    return Report("security", date, front, "\n".join(lines), data)


def dashboard_section(report: Report, path: str | None, live: Posture) -> str:
    """The `security` section of the dashboard issue: critical findings only, never one issue each."""
    crit = live.critical
    where = f" (report: `{path}`)" if path else ""
    head = f"### Security posture {report.date}: score {report.front.get('score')}{where}"
    # an annotation anyone who can edit the workload may add hides a finding: say how many were hidden
    hidden = report.front.get("exempted_critical") or 0
    tail = (
        [f"{hidden} critical finding(s) exempted (listed with their reason in the report)."] if hidden else []
    )
    if not crit:
        return "\n\n".join([head, "No critical finding.", *tail])
    items = [f"- [ ] {cell(f.check)} {cell(str(f.object))}: {escape_text(f.message)}" for f in crit[:50]]
    more = [f"- … {len(crit) - 50} more"] if len(crit) > 50 else []
    lines = [head, "", f"{len(crit)} critical finding(s):", "", *items, *more]
    if tail:
        lines += ["", *tail]
    return "\n".join(lines)
