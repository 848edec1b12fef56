"""Text and markdown forms of `aiops recommend` (the JSON form is `Result.to_dict()`, DESIGN §4.4).

Text is a table a platform engineer reads at a glance — one row per container (right-sizing) or
per workload (replicas, HPA, fixes): current → proposed, confidence, dollars saved a month — then
the skips that need attention (cleared ones are only counted). Pure string formatting: no I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

ARROW = "→"


def _res(d: Mapping[str, Any] | None, part: str, res: str) -> str | None:
    if not d:
        return None
    sub = d.get(part) or {}
    v = sub.get(res)
    return None if v is None else str(v)


def _rightsize_rows(rec: Mapping[str, Any]) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    current = rec.get("current") or {}
    for cname, prop in (rec.get("proposed") or {}).items():
        cur = current.get(cname) or {}
        bits = []
        for part, res, label in (
            ("requests", "cpu", "cpu"),
            ("requests", "memory", "mem"),
            ("limits", "cpu", "cpu limit"),
            ("limits", "memory", "mem limit"),
        ):
            new = _res(prop, part, res)
            if new is None:
                continue
            old = _res(cur, part, res) or "unset"
            bits.append(f"{label} {old} {ARROW} {new}")
        rows.append((cname, ", ".join(bits)))
    return rows


def change_text(rec: Mapping[str, Any]) -> str:
    """One line: what a non-rightsize recommendation changes."""
    kind = rec.get("kind")
    cur = rec.get("current") or {}
    prop = rec.get("proposed") or {}
    if kind == "scale":
        return f"replicas {cur.get('replicas', '?')} {ARROW} {prop.get('replicas')}"
    if kind == "hpa":
        new = (
            f"HPA {prop.get('minReplicas')}–{prop.get('maxReplicas')} @ "
            f"{prop.get('targetCPUUtilizationPercentage')} % CPU"
        )
        if cur.get("maxReplicas") is None:
            return f"{cur.get('replicas', '?')} fixed replicas {ARROW} {new}"
        return f"HPA {cur.get('minReplicas')}–{cur.get('maxReplicas')} {ARROW} {new}"
    if kind == "restart":
        return "rolling restart (podAnnotations aiops.io/restartedAt)"
    if kind == "config":
        return (
            f"add key {prop.get('key')} to ConfigMap {prop.get('configmap')} "
            f"(values {prop.get('values_key')})"
        )
    if kind == "image":
        return f"image tag {cur.get('tag')} {ARROW} {prop.get('tag')} ({prop.get('repository')})"
    if kind == "rollback":
        return f"revert #{prop.get('revert_of')}"
    return ", ".join(f"{k}={v}" for k, v in prop.items())


def _saved(rec: Mapping[str, Any]) -> str:
    cost = rec.get("cost")
    if not cost:
        return "-"
    delta = float(cost["monthly_before"]) - float(cost["monthly_after"])
    return f"{delta:.2f} ({cost['savings_percent']:.1f} %)"


def _workload(rec: Mapping[str, Any]) -> str:
    t = rec["target"]
    return f"{t['namespace']}/{t['name']}" if t.get("namespace") else str(t["name"])


def rows(recs: Sequence[Mapping[str, Any]]) -> list[tuple[str, str, str, str, str]]:
    """(workload[/container], kind, current → proposed, confidence, $ saved) per table row."""
    out: list[tuple[str, str, str, str, str]] = []
    for rec in recs:
        who = _workload(rec)
        if rec["kind"] == "rightsize":
            for i, (cname, text) in enumerate(_rightsize_rows(rec)):
                out.append(
                    (f"{who} ({cname})", "rightsize", text, rec["confidence"], _saved(rec) if i == 0 else "")
                )
        else:
            out.append((who, rec["kind"], change_text(rec), rec["confidence"], _saved(rec)))
    return out


def _total(recs: Sequence[Mapping[str, Any]]) -> tuple[float, float]:
    before = after = 0.0
    for rec in recs:
        cost = rec.get("cost")
        if cost and rec["kind"] == "rightsize":
            before += float(cost["monthly_before"])
            after += float(cost["monthly_after"])
    return before, after


def _skip_lines(skipped: Sequence[Mapping[str, Any]]) -> tuple[list[str], Counter[str]]:
    counts: Counter[str] = Counter(s["cause"] for s in skipped)
    lines = [
        f"{s['target']['namespace']}/{s['target']['name']} {s['kind']}: {s['cause']} — {s['reason']}"
        for s in skipped
        if s["cause"] != "cleared"
    ]
    return lines, counts


def render_text(data: Mapping[str, Any], notes: Sequence[str] = ()) -> str:
    recs = data.get("recommendations") or []
    skipped = data.get("skipped") or []
    out: list[str] = []
    if recs:
        header = ("WORKLOAD (CONTAINER)", "KIND", "CURRENT → PROPOSED", "CONFIDENCE", "$/MONTH SAVED")
        table = [header, *rows(recs)]
        widths = [max(len(r[i]) for r in table) for i in range(len(header))]
        for r in table:
            out.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip())
        before, after = _total(recs)
        if before > 0:
            pct = 100.0 * (before - after) / before
            out.append("")
            delta = (
                f"{before - after:.2f} $ saved ({pct:.1f} %)"
                if after <= before
                else f"{after - before:.2f} $ more ({-pct:.1f} %)"
            )
            out.append(f"right-sizing: requests {before:.2f} → {after:.2f} $/month, {delta}")
    else:
        out.append("no recommendations")
    lines, counts = _skip_lines(skipped)
    if skipped:
        out.append("")
        out.append("skipped: " + ", ".join(f"{n} {cause}" for cause, n in sorted(counts.items())))
        out.extend(f"  {line}" for line in lines)
    if notes:
        out.append("")
        out.extend(f"note: {n}" for n in notes)
    return "\n".join(out) + "\n"


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(data: Mapping[str, Any], notes: Sequence[str] = ()) -> str:
    recs = data.get("recommendations") or []
    skipped = data.get("skipped") or []
    out = ["## Recommendations", ""]
    if recs:
        out.append("| Workload (container) | Kind | Current → proposed | Confidence | $/month saved |")
        out.append("|---|---|---|---|---|")
        for r in rows(recs):
            out.append("| " + " | ".join(_md_escape(c) for c in r) + " |")
        before, after = _total(recs)
        if before > 0:
            out.append("")
            out.append(
                f"Right-sizing: requests **{before:.2f} → {after:.2f} $/month** "
                f"({100.0 * (before - after) / before:.1f} % saved)."
            )
        out.append("")
        out.append("### Why")
        out.append("")
        for rec in recs:
            head = f"- **{rec['kind']} {_workload(rec)}** (`{rec['key']}`)"
            out.append(f"{head}: {_md_escape(rec['rationale'])}")
            for ev in rec.get("evidence") or ():
                quoted = str(ev).replace("`", "'")
                out.append(f"  - `{quoted}`")
    else:
        out.append("No recommendations.")
    lines, counts = _skip_lines(skipped)
    if skipped:
        out.append("")
        out.append("### Skipped")
        out.append("")
        out.append(", ".join(f"{n} {cause}" for cause, n in sorted(counts.items())) + ".")
        out.extend(f"- {_md_escape(line)}" for line in lines)
    if notes:
        out.append("")
        out.extend(f"> {_md_escape(n)}" for n in notes)
    return "\n".join(out) + "\n"
