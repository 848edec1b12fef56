"""`aiops collect`: sample metrics.k8s.io into DIR/cpu.json and DIR/memory.json (DESIGN §4.3).

Parses flags and runs `aiops.metrics.collect`; progress goes to stderr, one line per sample. The
kubernetes client and numpy are imported inside the command, so `aiops --help` stays fast.
"""

from __future__ import annotations

from typing import Any

import click

from aiops.cli.options import config_option


@click.command("collect")
@click.option(
    "--data-dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Directory for cpu.json and memory.json (created; an existing history there is resumed).",
)
@click.option("--interval", default="60s", show_default=True, help="Time between samples (30s, 5m, …).")
@click.option(
    "--retention",
    default="14d",
    show_default=True,
    help="History kept; older samples are dropped, so the files stay bounded.",
)
@click.option("--once", is_flag=True, help="Take one sample and exit (a CronJob every minute, say).")
@click.option(
    "--count", type=click.IntRange(min=1), help="Take N samples, then exit (default: run until stopped)."
)
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False),
    help="Kubeconfig file (default: in-cluster or ~/.kube/config).",
)
@click.option("--context", "kube_context", help="Kubeconfig context.")
@click.option("-n", "--namespace", "namespaces", multiple=True, help="Only this namespace; repeatable.")
@click.option("-A", "--all-namespaces", "all_namespaces", is_flag=True, help="Every namespace.")
@config_option
def command(**opts: Any) -> None:
    """Record pod CPU and memory usage from metrics-server, for clusters without Prometheus.

    metrics-server keeps only the current value; this samples it every --interval and keeps
    --retention of history in DIR/cpu.json and DIR/memory.json (Prometheus query_range format),
    which `aiops recommend --usage-dir DIR` reads. Files are replaced atomically after every
    sample; a restart resumes where the files left off. Without -n/-A the namespaces come from
    `namespaces` in .github/aiops.yaml. Needs get/list on pods.metrics.k8s.io
    (minikube: `minikube addons enable metrics-server`).

    \b
    Examples:
      aiops collect --data-dir ~/.aiops/usage                     # every 60s, keep 14 days
      aiops collect --data-dir ~/.aiops/usage -n todo --interval 30s --retention 7d
      aiops collect --data-dir /data --once -A                    # one sample (CronJob)
      aiops recommend --snapshot cluster.yaml --usage-dir ~/.aiops/usage
    """
    from aiops.metrics.collect import MetricsApi, collect, parse_duration
    from aiops.settings import load_settings

    interval = parse_duration(opts["interval"], flag="--interval")
    retention = parse_duration(opts["retention"], flag="--retention")
    if retention < interval:
        raise click.UsageError(
            f"--retention {opts['retention']} is shorter than --interval {opts['interval']}"
        )
    if opts["once"] and opts["count"] not in (None, 1):
        raise click.UsageError("--once and --count N (N > 1) contradict each other")
    count = 1 if opts["once"] else opts["count"]
    settings = load_settings(opts["config_path"], required=opts["config_path"] is not None)
    if opts["all_namespaces"]:
        namespaces: tuple[str, ...] = ()
    else:
        namespaces = tuple(opts["namespaces"]) or settings.namespaces

    def progress(line: str) -> None:
        click.echo(line, err=True)

    api = MetricsApi(kubeconfig=opts["kubeconfig"], context=opts["kube_context"])
    api.connect()  # a bad kubeconfig fails before anything is written
    summary = collect(
        opts["data_dir"],
        api=api,
        namespaces=namespaces,
        interval=interval,
        retention=retention,
        count=count,
        echo=progress,
    )
    click.echo(
        f"{opts['data_dir']}: {summary.series} series, {summary.points} points "
        f"({summary.samples} samples taken, {summary.failures} failed)"
    )
