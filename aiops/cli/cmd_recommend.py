"""`aiops recommend`: right-sizing, replicas/HPA and fixes from findings, as text, markdown or JSON.

Parses flags, calls `aiops.pipeline.recommendation`, prints. Heavy imports (numpy, YAML, the
kubernetes client) happen inside the command, so `aiops --help` stays fast.
"""

from __future__ import annotations

import json
from typing import Any

import click

from aiops.cli.options import cluster_options, config_option, output_option, usage_options


@click.command("recommend")
@cluster_options
@usage_options
@config_option
@output_option
def command(**opts: Any) -> None:
    """Recommend requests/limits (P95 + 30 %), replicas or an HPA, restarts, config and image fixes.

    Right-sizing needs usage history (--usage, --usage-dir or --prometheus); fixes come from the
    diagnosis of the snapshot. Workloads or namespaces annotated aiops.io/ignore are skipped.

    \b
    Examples:
      aiops recommend --snapshot cluster.yaml --usage cpu=cpu.json --usage memory=mem.json
      aiops recommend --snapshot cluster.yaml --usage-dir /var/lib/aiops -o json
      aiops recommend -n todo --prometheus http://prometheus:9090 -o markdown
    """
    from aiops.cli.render_recommendations import render_markdown, render_text
    from aiops.pipeline.recommendation import RecommendRequest, recommend

    outcome = recommend(
        RecommendRequest(
            snapshots=tuple(opts["snapshots"]),
            logs=opts["logs_file"],
            at=opts["at"],
            kubeconfig=opts["kubeconfig"],
            context=opts["kube_context"],
            namespaces=tuple(opts["namespaces"]),
            all_namespaces=bool(opts["all_namespaces"]),
            live=bool(opts["live"]),
            usage=tuple(opts["usage"]),
            usage_dir=opts["usage_dir"],
            prometheus=opts["prometheus"],
            config_path=opts["config_path"],
        )
    )
    data = outcome.to_dict()
    output = opts["output"]
    if output == "json":
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    elif output == "markdown":
        click.echo(render_markdown(data, outcome.notes), nl=False)
    else:
        click.echo(render_text(data, outcome.notes), nl=False)
