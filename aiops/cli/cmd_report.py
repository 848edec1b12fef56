"""`aiops report health|utilization|security`: build a scheduled report, print it, optionally
write it under history/reports/ and update the dashboard issue. Parses flags, calls
`aiops.pipeline.reports`, prints; heavy imports happen inside the command."""

from __future__ import annotations

import json
from typing import Any

import click

from aiops.cli.options import cluster_options, config_option, usage_options


@click.command("report")
@click.argument("kind", type=click.Choice(["health", "utilization", "security"]))
@cluster_options
@usage_options
@config_option
@click.option(
    "--repo",
    type=click.Path(file_okay=False),
    default=None,
    help="Checkout: earlier reports are read from it, --write writes into it, charts are rendered from it.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Write into this directory instead of --repo (in-cluster: a volume).",
)
@click.option("--date", help="Report date YYYY-MM-DD (default: the day the snapshot was judged).")
@click.option("--write", is_flag=True, help="Write history/reports/<kind>/<date>.md (append-only).")
@click.option(
    "--forge",
    "forge_name",
    type=click.Choice(["github", "local"]),
    default=None,
    help="Update the dashboard issue section; with --write and no directory, propose the file as a PR.",
)
@click.option("--helm", "helm_path", default=None, help="helm binary for rendering charts (security).")
@click.option(
    "-o", "--output", type=click.Choice(["markdown", "json"]), default="markdown", show_default=True
)
def command(**opts: Any) -> None:
    """Cluster health (weekly), utilization (daily) or security posture (weekly) as Markdown.

    Without --snapshot or a live flag the bundled sample cluster is read. Week-over-week figures
    and trends come from earlier reports in --repo (or through --forge).

    \b
    Examples:
      aiops report security --repo . -o json
      aiops report health --snapshot cluster.yaml --repo . --write
      aiops report utilization --live --usage-dir /var/lib/aiops --forge github --write
    """
    from aiops.pipeline.diagnosis import ClusterOptions
    from aiops.pipeline.reports import ReportRequest, run_report

    outcome = run_report(
        ReportRequest(
            kind=opts["kind"],
            cluster=ClusterOptions.from_kwargs(opts),
            usage=tuple(opts["usage"]),
            usage_dir=opts["usage_dir"],
            prometheus=opts["prometheus"],
            config_path=opts["config_path"],
            repo=opts["repo"],
            out_dir=opts["out_dir"],
            date=opts["date"],
            write=bool(opts["write"]),
            forge=opts["forge_name"],
            helm=opts["helm_path"],
        )
    )
    if opts["output"] == "json":
        click.echo(json.dumps(outcome.to_dict(), indent=2, ensure_ascii=False, default=str))
    else:
        click.echo(outcome.report.markdown(), nl=False)
    if outcome.written is not None:
        click.echo(f"aiops: {outcome.written.path}: {outcome.written.status}", err=True)
    if outcome.proposal is not None:
        click.echo(f"aiops: proposed as #{outcome.proposal}", err=True)
    if outcome.dashboard_updated is not None:
        state = "updated" if outcome.dashboard_updated else "unchanged"
        click.echo(f"aiops: dashboard section {outcome.report.kind}: {state}", err=True)
