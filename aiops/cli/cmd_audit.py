"""`aiops audit`: the KPIs of DESIGN §4.11 from git log + history/, each with its basis.

Parses flags, calls `aiops.pipeline.audit`, prints text, Markdown or JSON; heavy imports happen
inside the command."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import click

from aiops.cli.options import OUTPUT_CHOICES, config_option

KPI_ORDER = (
    ("mttd", "MTTD"),
    ("mttr", "MTTR"),
    ("approval_latency", "Approval latency"),
    ("compliance", "PHR compliance"),
    ("actionable", "Actionable"),
    ("rollbacks", "Rollbacks"),
    ("savings", "Savings"),
    ("toil", "Toil"),
    ("config_incidents", "Config incidents"),
)


def _figure(key: str, v: Mapping[str, Any]) -> str:
    if key in ("mttd", "mttr", "rollbacks"):
        extra = f", {v.get('within_target', 0)}/{v['count']} within target" if v["count"] else ""
        return f"median {v['median_minutes']} min, max {v['max_minutes']} min{extra}"
    if key == "approval_latency":
        parts = []
        for t, e in v["tiers"].items():
            if not e["count"]:
                continue
            sla = f" within {e['sla_minutes']:g} min" if e.get("sla_minutes") is not None else ""
            parts.append(f"{t}: median {e['median_minutes']} min ({e['within_sla']}/{e['count']}{sla})")
        return "; ".join(parts) or "no approved decision"
    if key in ("compliance", "actionable"):
        return f"{v['value_percent']} %"
    if key == "savings":
        return f"${v['monthly_saved']}/month ({v['percent']} % of ${v['monthly_before']})"
    if key == "toil":
        return (
            f"{v['aiops_changes']} by aiops, {v['manual_changes']} by hand ({v['manual_percent']} % manual)"
        )
    return str(v.get("count", 0))


def render_text(data: Mapping[str, Any]) -> str:
    lines = [f"aiops audit of {data['ref']} ({data['window']}), {data['decisions']} decisions", ""]
    for key, label in KPI_ORDER:
        v = data[key]
        lines.append(f"{label}: {_figure(key, v)}   [target {v['target']}]")
        lines.append(f"  basis: {v['basis']}")
    gaps = data.get("gaps") or []
    lines += ["", f"Audit gaps: {len(gaps)}"]
    lines += [f"  - {g['type']}: {g['detail']}" for g in gaps]
    if "retention" in data:
        r = data["retention"]
        lines += ["", f"Retention ({r['retention_days']} days): {r['basis']}"]
        lines += [f"  - {p}" for p in r["records"]]
    return "\n".join(lines) + "\n"


def _md(text: Any) -> str:
    """Our own figures in a table cell: only what would break the table or open HTML is escaped
    (no cluster text reaches the audit; ids and paths come from git)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def render_markdown(data: Mapping[str, Any]) -> str:
    escape_text = _md

    lines = [
        f"# aiops audit: {escape_text(data['ref'])}",
        "",
        f"{escape_text(data['window'])}; {data['decisions']} decisions.",
        "",
        "| KPI | Figure | Target | Basis |",
        "|---|---|---|---|",
    ]
    for key, label in KPI_ORDER:
        v = data[key]
        figure, target, basis = (escape_text(x) for x in (_figure(key, v), v["target"], v["basis"]))
        lines.append(f"| {label} | {figure} | {target} | {basis} |")
    gaps = data.get("gaps") or []
    lines += ["", "## Audit gaps", ""]
    lines += [f"- {escape_text(g['type'])}: {escape_text(g['detail'])}" for g in gaps] or ["None."]
    if "retention" in data:
        r = data["retention"]
        lines += ["", "## Retention", "", escape_text(r["basis"]), ""]
        lines += [f"- `{p}`" for p in r["records"]]
    return "\n".join(lines) + "\n"


@click.command("audit")
@click.option("--repo", type=click.Path(file_okay=False), default=".", show_default=True, help="Repository.")
@click.option("--since", help="Only decisions and commits from this date/time on (ISO 8601).")
@click.option("--ref", default=None, help="Branch or commit audited (default: main, else HEAD).")
@click.option(
    "--forge",
    "forge_name",
    type=click.Choice(["github", "local"]),
    default=None,
    help="Read proposal states (closed = snoozed) from this forge; default: local proposals in --repo.",
)
@click.option("--retention", is_flag=True, help="Also list records older than retention_days.")
@config_option
@click.option("-o", "--output", type=click.Choice(OUTPUT_CHOICES), default="text", show_default=True)
def command(
    *,
    repo: str,
    since: str | None,
    ref: str | None,
    forge_name: str | None,
    retention: bool,
    config_path: str | None,
    output: str,
) -> None:
    """MTTD, MTTR, approval latency, compliance, actionable rate, rollbacks, savings, toil, config
    incidents — each with the records and window it was computed from — and audit gaps.

    \b
    Examples:
      aiops audit --repo .
      aiops audit --since 2026-11-01 -o markdown
      aiops audit --retention -o json
    """
    from aiops.cluster.files import parse_at
    from aiops.errors import InputError
    from aiops.pipeline.audit import audit
    from aiops.pipeline.reports import settings_for

    settings = settings_for(config_path, repo)
    try:
        since_at = parse_at(since) if since else None
    except InputError as exc:
        raise InputError(f"--since {since!r}: expected an ISO 8601 date or time") from exc
    forge = None
    if forge_name:
        from aiops.pipeline.forges import open_forge

        forge = open_forge(forge_name, repo=repo)
    data = audit(repo, settings, since=since_at, ref=ref, forge=forge, with_retention=retention)
    if output == "json":
        click.echo(json.dumps(data, indent=2, default=str))
    elif output == "markdown":
        click.echo(render_markdown(data), nl=False)
    else:
        click.echo(render_text(data), nl=False)
