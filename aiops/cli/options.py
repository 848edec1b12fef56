"""Options shared by several commands (DESIGN §4.7), as decorators. Light imports only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

OUTPUT_CHOICES = ("text", "json", "markdown")


def cluster_options(func: F) -> F:
    """--snapshot/--logs/--at (files) and --kubeconfig/--context/-n/-A (live)."""
    opts = [
        click.option(
            "--snapshot",
            "snapshots",
            multiple=True,
            type=click.Path(dir_okay=False),
            help="kubectl List file (YAML or JSON, `kubectl get ... -A -o yaml`); repeatable. "
            "Without it and without --kubeconfig/--context/--live, the bundled sample cluster is read.",
        ),
        click.option(
            "--logs",
            "logs_file",
            type=click.Path(dir_okay=False),
            help='YAML mapping "namespace/pod/container": "last log lines".',
        ),
        click.option(
            "--at", "at", help="Judge the snapshot at this time (ISO 8601); default: its newest timestamp."
        ),
        click.option(
            "--kubeconfig", type=click.Path(dir_okay=False), help="Kubeconfig file for the live cluster."
        ),
        click.option("--context", "kube_context", help="Kubeconfig context for the live cluster."),
        click.option(
            "-n", "--namespace", "namespaces", multiple=True, help="Only this namespace; repeatable."
        ),
        click.option("-A", "--all-namespaces", "all_namespaces", is_flag=True, help="Every namespace."),
        click.option(
            "--live",
            is_flag=True,
            help="Read the live cluster even though no --kubeconfig/--context is given "
            "(in-cluster config or ~/.kube/config).",
        ),
    ]
    for opt in reversed(opts):
        func = opt(func)
    return func


def usage_options(func: F) -> F:
    """--usage KIND=FILE (repeatable), --usage-dir DIR, --prometheus URL (DESIGN §4.3)."""
    opts = [
        click.option(
            "--usage",
            "usage",
            multiple=True,
            metavar="KIND=FILE",
            help="Usage history file, Prometheus query_range JSON: cpu=FILE (cores) or memory=FILE "
            "(working-set bytes); repeatable.",
        ),
        click.option(
            "--usage-dir",
            type=click.Path(file_okay=False),
            help="Directory written by `aiops collect` (cpu.json, memory.json).",
        ),
        click.option(
            "--prometheus", metavar="URL", help="Prometheus base URL to read 14 days of usage from."
        ),
    ]
    for opt in reversed(opts):
        func = opt(func)
    return func


def output_option(func: F) -> F:
    return click.option(
        "-o",
        "--output",
        type=click.Choice(OUTPUT_CHOICES),
        default="text",
        show_default=True,
        help="Output format.",
    )(func)


def config_option(func: F) -> F:
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False),
        default=None,
        help="Policy/settings file (default: .github/aiops.yaml in --repo or the current directory).",
    )(func)
