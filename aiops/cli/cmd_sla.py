"""`aiops sla`: flag open PRs past their tier's approval window; print approval latency per PR."""

from __future__ import annotations

import json

import click

from aiops.cli.options import output_option


@click.command("sla")
@click.option(
    "--forge",
    "forge_name",
    type=click.Choice(["github", "local"]),
    default=None,
    help="Where the PRs live (default: github when GITHUB_REPOSITORY is set, else local).",
)
@click.option(
    "--repo", type=click.Path(file_okay=False), default=".", show_default=True, help="Local repository."
)
@click.option("--at", "at", default=None, help="Judge at this time (ISO 8601; default: now).")
@click.option("--dry-run", is_flag=True, help="Report only: no label, no comment.")
@output_option
def command(forge_name: str | None, repo: str, at: str | None, dry_run: bool, output: str) -> None:
    """Comment once on (and label `overdue`) open PRs past their tier's SLA; print approval latency.

    The window is the tier's `sla_minutes` (the emergency SLA when a tier-team member added the
    `emergency` label), measured from the recommendation's `recommended_at`.

    \b
    Examples:
      aiops sla                                # in the scheduled sla workflow
      aiops sla --forge local --repo ./ops -o json --at 2026-11-25T12:00:00Z
    """
    from datetime import UTC, datetime

    from aiops.errors import InputError
    from aiops.model.k8s import format_time, parse_time
    from aiops.pipeline.forges import default_forge_name, open_forge
    from aiops.pipeline.gate import GateHost, GitHubHost, LocalHost
    from aiops.pipeline.merge import policy_of
    from aiops.pipeline.sla import run_sla

    now = datetime.now(UTC)
    if at is not None:
        parsed = parse_time(at)
        if parsed is None:
            raise InputError(f"--at {at!r}: not an ISO 8601 time")
        now = parsed
    name = forge_name or default_forge_name()
    forge = open_forge(name, repo=repo)
    settings = policy_of(forge)
    host: GateHost
    if name == "local":
        from aiops.gitops.local import LocalForge

        assert isinstance(forge, LocalForge)
        host = LocalHost(forge, settings)
    else:
        from aiops.gitops.github_admin import GitHubAdmin

        host = GitHubHost(GitHubAdmin.from_env())
    entries = run_sla(forge, host, now=now, settings=settings, dry_run=dry_run)
    if output == "json":
        data = {
            "at": format_time(now),
            "prs": [e.to_dict() for e in entries],
            "overdue": sum(1 for e in entries if e.overdue),
        }
        click.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    if not entries:
        click.echo("no open aiops PRs")
        return
    click.echo(f"{'PR':>5}  {'TIER':<8}  {'STATE':<8}  {'SLA':>5}  {'ELAPSED':>8}  {'LATENCY':>8}  NOTE")
    for e in entries:
        sla = f"{e.sla_minutes}m" if e.sla_minutes is not None else "-"
        elapsed = f"{e.elapsed_minutes:.0f}m" if e.elapsed_minutes is not None else "-"
        latency = f"{e.latency_minutes:.0f}m" if e.latency_minutes is not None else "-"
        note = "OVERDUE" if e.overdue else ("approved" if e.approved_at else "")
        if e.emergency:
            note = (note + " emergency").strip()
        pr = f"#{e.number}"
        click.echo(f"{pr:>5}  {e.tier:<8}  {e.state:<8}  {sla:>5}  {elapsed:>8}  {latency:>8}  {note}")
