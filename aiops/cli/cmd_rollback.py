"""`aiops rollback`: open the revert proposal of a merged proposal (records are kept).

Parses flags, calls `aiops.pipeline.rollback`, prints what it opened or found.
"""

from __future__ import annotations

import json
from typing import Any

import click


@click.command("rollback")
@click.option("--pr", "number", type=int, required=True, help="The merged proposal to roll back.")
@click.option("--repo", type=click.Path(file_okay=False), default=".", show_default=True)
@click.option(
    "--forge",
    "forge_name",
    type=click.Choice(["github", "local"]),
    default=None,
    help="Default: github when GITHUB_REPOSITORY is set, else local.",
)
@click.option(
    "--as", "login", default=None, help="Who requests the rollback (default: git user / GITHUB_ACTOR)."
)
@click.option("--dry-run", is_flag=True, help="Print the revert proposal; write nothing.")
@click.option(
    "--emergency",
    is_flag=True,
    help="Roll the touched releases back in the cluster now (helm rollback / re-apply), hold them, "
    "then open the revert PR. helm and kubectl apply modes only.",
)
@click.option(
    "--kubeconfig", type=click.Path(dir_okay=False), help="With --emergency: the cluster's kubeconfig."
)
@click.option(
    "--context", "kube_context", help="With --emergency: the kube context (must be the policy's cluster)."
)
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def command(**opts: Any) -> None:
    """Open the revert proposal of merged proposal N (branch aiops/revert-N).

    It reverts N's changes outside history/ and adds a rollback record; records are never
    removed. A pure revert of a non-critical change is the low-tier fast path; reverting a
    critical change stays critical. Running it again finds the open revert.

    \b
    Examples:
      aiops rollback --pr 1 --repo ./ops
      aiops rollback --pr 7 --forge github --as alice
      aiops rollback --pr 7 --emergency --context minikube   # restore the cluster first
    """
    from aiops.pipeline.forges import open_forge
    from aiops.pipeline.merge import policy_of
    from aiops.pipeline.rollback import rollback

    number: int = opts["number"]
    login: str | None = opts["login"]
    dry_run = bool(opts["dry_run"])
    forge = open_forge(opts["forge_name"], repo=opts["repo"], actor=login)
    if opts["emergency"]:
        _emergency(forge, number, opts, login, dry_run)
        return
    outcome = rollback(forge, number, settings=policy_of(forge), requested_by=login, dry_run=dry_run)
    if opts["output"] == "json":
        data = outcome.to_dict()
        if dry_run:
            data["body"] = outcome.body
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(outcome.line())
    for reason in outcome.tier_reasons:
        click.echo(f"  {reason}")
    if dry_run:
        click.echo(outcome.body.rstrip("\n"))
        click.echo("dry run: nothing was written")


def _emergency(forge: Any, number: int, opts: dict[str, Any], login: str | None, dry_run: bool) -> None:
    from aiops.errors import EXIT_FINDINGS, InputError
    from aiops.gitops.git import Git
    from aiops.pipeline.apply import ApplyOptions
    from aiops.pipeline.emergency import emergency_rollback
    from aiops.pipeline.merge import policy_of

    if dry_run:
        raise InputError("--emergency and --dry-run exclude each other: an emergency acts at once")
    options = ApplyOptions(repo=opts["repo"], kubeconfig=opts["kubeconfig"], context=opts["kube_context"])
    outcome = emergency_rollback(
        forge, Git(opts["repo"]), number, options, policy_of(forge), requested_by=login
    )
    if opts["output"] == "json":
        click.echo(json.dumps(outcome.to_dict(), indent=2))
    else:
        for r in outcome.releases:
            click.echo(f"{r['release']}: {r['outcome']} — {r['rollback']}")
        click.echo(f"hold: {outcome.holds}")
        rv = outcome.revert
        click.echo(f"revert: {rv.get('action')} #{rv.get('number')}" if rv.get("number") else f"revert: {rv}")
    if outcome.failed:
        raise SystemExit(EXIT_FINDINGS)
