"""`aiops rollout watch deploy/NAME`: follow a rolling update and decide continue, halt or undo.

Parses flags, calls `aiops.pipeline.rollout.watch`, prints each decision's reasoning when it
changes (text) or the final record (JSON), and maps the decision to the exit code: 0 continue or
done, 1 halt or undo, 2 bad input, 3 cluster/Prometheus unreachable, 4 refused (no write access
for --act). Heavy imports happen inside the command, so `aiops --help` stays fast.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

from aiops.cli.options import config_option

if TYPE_CHECKING:
    from aiops.recommend.rollout import RolloutDecision


@click.group("rollout")
def command() -> None:
    """Rolling updates: watch a Deployment's new ReplicaSet and decide continue / halt / undo.

    \b
    Examples:
      aiops rollout watch deploy/todo-backend -n todo
      aiops rollout watch deploy/todo-backend -n todo --timeout 10m --act   # in the apply job
    """


@command.command("watch")
@click.argument("target", metavar="deploy/NAME")
@click.option(
    "-n", "--namespace", help="Namespace of the Deployment (live default: the policy's one namespace)."
)
@click.option(
    "--snapshot",
    "snapshots",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Replay offline: kubectl List files, one per observation, in order; repeatable.",
)
@click.option("--logs", "logs_file", type=click.Path(dir_okay=False), help="Logs file for the snapshots.")
@click.option("--kubeconfig", type=click.Path(dir_okay=False), help="Kubeconfig file for the live cluster.")
@click.option("--context", "kube_context", help="Kubeconfig context for the live cluster.")
@click.option("--live", is_flag=True, help="Live cluster with in-cluster config or ~/.kube/config.")
@click.option("--timeout", default="10m", show_default=True, help="Stop watching after this long (90s, 10m).")
@click.option("--interval", default="10s", show_default=True, help="Time between live observations.")
@click.option(
    "--act", is_flag=True, help="Pause the Deployment on halt, roll it back on undo (needs write access)."
)
@click.option(
    "--prometheus", metavar="URL", help="Prometheus base URL for error rate and latency of new pods."
)
@config_option
@click.option(
    "-o",
    "--output",
    type=click.Choice(("text", "json")),
    default="text",
    show_default=True,
    help="Output format.",
)
def watch_command(**opts: Any) -> None:
    """Follow the new ReplicaSet of deploy/NAME until it is done, halted, undone, or --timeout.

    Halts on the new pods' OOMKills, crash loops, image pull and config errors, restarts, pods not
    Ready in time or unschedulable, replica creation failures, a stalled rollout, and error rate or
    p95 latency over prometheus.error_rate_threshold / latency_p95_ms_threshold; undoes past the
    progress deadline. Old-ReplicaSet pods never count. Exit 0 continue/done, 1 halt/undo.

    \b
    Examples:
      aiops rollout watch deploy/todo-backend -n todo
      aiops rollout watch deploy/todo-backend -n todo --prometheus http://prometheus:9090 --timeout 15m
      aiops rollout watch deploy/todo-backend --context minikube -n todo --act
      aiops rollout watch deploy/todo-backend --snapshot t0.yaml --snapshot t1.yaml -o json   # replay
    """
    from aiops.errors import EXIT_FINDINGS
    from aiops.model import format_time
    from aiops.pipeline.rollout import WatchRequest, parse_duration, watch

    output = str(opts["output"])
    req = WatchRequest(
        target=str(opts["target"]),
        namespace=opts["namespace"],
        snapshots=tuple(opts["snapshots"]),
        logs=opts["logs_file"],
        kubeconfig=opts["kubeconfig"],
        context=opts["kube_context"],
        live=bool(opts["live"]),
        timeout=parse_duration(str(opts["timeout"]), "--timeout"),
        interval=parse_duration(str(opts["interval"]), "--interval"),
        act=bool(opts["act"]),
        prometheus=opts["prometheus"],
        config_path=opts["config_path"],
    )

    def emit(decision: RolloutDecision, changed: bool) -> None:
        if output != "text" or not changed:
            return
        stamp = format_time(decision.at) or "?"
        lines = decision.lines()  # already redacted by the pipeline
        click.echo(f"{stamp} {lines[0]}")
        for line in lines[1:]:
            click.echo(f"{' ' * len(stamp)} {line}")
        sys.stdout.flush()

    outcome = watch(req, emit=emit)
    if output == "json":
        from aiops.redact import redact_obj

        click.echo(json.dumps(redact_obj(outcome.to_dict()), indent=2, ensure_ascii=False))
    else:
        _summary(outcome.to_dict())
    if outcome.decision.failed:
        raise click.exceptions.Exit(EXIT_FINDINGS)


def _summary(data: dict[str, Any]) -> None:
    d = data["decision"]
    n = data["observations"]
    line = f"result: {d['decision']} after {n} observation{'s' if n != 1 else ''}"
    if data["timed_out"]:
        line += " (timed out while still progressing)"
    click.echo(line)
    action = data.get("action")
    if action:
        state = "done" if action.get("done") else "NOT done"
        click.echo(f"action: {action['action']} {state}: {action['detail']}")
    elif d["decision"] in ("halt", "undo"):
        click.echo("action: none (run with --act where write credentials exist to pause or undo)")
