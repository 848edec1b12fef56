"""`aiops watch`: watch pods, events and deployments; diagnose new failures within seconds.

Parses flags, builds `aiops.pipeline.watch.Watcher`, prints one line per detection / proposal
action, serves `/metrics`, `/healthz`, `/readyz`, and stops cleanly on SIGTERM/SIGINT (exit 0).
Heavy imports happen inside the command, so `aiops --help` stays fast.
"""

from __future__ import annotations

from typing import Any

import click


@click.command("watch")
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False),
    help="Kubeconfig file (default: in-cluster, else ~/.kube/config).",
)
@click.option("--context", "kube_context", help="Kubeconfig context.")
@click.option("-n", "--namespace", "namespaces", multiple=True, help="Namespace to watch; repeatable.")
@click.option("-A", "--all-namespaces", is_flag=True, help="Watch every namespace.")
@click.option(
    "--forge",
    "forge_name",
    type=click.Choice(["github", "local"]),
    default=None,
    help="Where proposals and the dashboard go. Default: github when GITHUB_REPOSITORY is set, else local.",
)
@click.option(
    "--repo",
    type=click.Path(file_okay=False),
    default=".",
    show_default=True,
    help="The local forge's git repository (GitHub reads files through its API: no checkout).",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(-1, 65535),
    default=9102,
    show_default=True,
    help="Port of /metrics, /healthz, /readyz (0: any free port, -1: none).",
)
@click.option(
    "--metrics-address", default="0.0.0.0", show_default=True, help="Address the status server binds."
)
@click.option("--once", is_flag=True, help="List, analyse once, hand new problems to the forge, exit.")
@click.option("--dry-run", is_flag=True, help="Detect and print; write nothing to the forge.")
def command(**opts: Any) -> None:
    """Watch the cluster; diagnose each new failure and open (or update) its fix proposal.

    Pods, events, deployments and replicasets are watched (resumed from their resourceVersion after
    a disconnect, re-listed after 410 Gone); each change re-runs the analyzers on its namespace. A
    new problem (finding code + workload) is printed with started_at, detected_at and MTTD, its
    recommendations go to the forge within the policy's rate limits (one proposal per problem),
    and the dashboard issue lists what is failing now.

    \b
    Examples:
      aiops watch                                   # in a pod: in-cluster config, GitHub forge
      aiops watch --context minikube -n todo --forge local --repo ./ops
      aiops watch -A --once --dry-run --metrics-port -1
    """
    import signal
    import sys
    import threading

    from aiops.errors import InputError
    from aiops.pipeline.watch import Watcher, WatchOptions

    if opts["namespaces"] and opts["all_namespaces"]:
        raise InputError("-n/--namespace and -A/--all-namespaces exclude each other")
    port = opts["metrics_port"]
    options = WatchOptions(
        kubeconfig=opts["kubeconfig"],
        context=opts["kube_context"],
        namespaces=_scope(opts),
        forge_name=opts["forge_name"],
        repo=opts["repo"],
        dry_run=opts["dry_run"],
        metrics_host=opts["metrics_address"],
        metrics_port=None if port < 0 or opts["once"] else port,
        policy_namespaces=not opts["namespaces"] and not opts["all_namespaces"],
    )

    def emit(line: str) -> None:
        click.echo(line)
        sys.stdout.flush()

    watcher = Watcher(options, emit=emit)
    stop = threading.Event()
    previous: dict[int, Any] = {}

    def on_signal(signum: int, frame: Any) -> None:
        emit(f"received {signal.Signals(signum).name}: stopping")
        stop.set()

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, on_signal)
    try:
        watcher.open()
        names = watcher.watch.namespaces
        scope = ", ".join(names) if names else "all namespaces"
        where = f"; status on :{watcher.server.port}" if watcher.server is not None else ""
        emit(
            f"aiops watch: {watcher.watch.endpoint} ({scope}){where}{' — dry run' if options.dry_run else ''}"
        )
        for note in watcher.watch.notes:
            emit(f"note: {note}")
        if opts["once"]:
            new, _ = watcher.once()
            emit(f"{len(new)} problem(s) failing")
            return
        watcher.start()
        emit("watching")
        while not stop.wait(0.5):
            pass
    finally:
        watcher.close()
        for number, handler in previous.items():
            signal.signal(number, handler)
    emit("stopped")


def _scope(opts: dict[str, Any]) -> tuple[str, ...] | None:
    """-n; else every namespace (-A, or the policy's `namespaces` when it names none: see the pipeline)."""
    return tuple(dict.fromkeys(opts["namespaces"])) if opts["namespaces"] else None
