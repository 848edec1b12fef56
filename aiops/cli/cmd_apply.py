"""`aiops apply`: apply `main` HEAD and record every PR merged since the last applied commit.

Parses flags, calls `aiops.pipeline.apply.run_apply`, prints the report. Exit 0 when everything
applied (or nothing was to apply), 1 when a release failed and was rolled back and held, 4 when
a change that bypassed the gate or a wrong kube context was refused (nothing applied).
"""

from __future__ import annotations

import json
from typing import Any

import click


@click.command("apply")
@click.option("--repo", type=click.Path(file_okay=False), default=".", show_default=True)
@click.option(
    "--forge",
    "forge_name",
    type=click.Choice(["github", "local"]),
    default=None,
    help="Default: github when GITHUB_REPOSITORY is set, else local.",
)
@click.option("--kubeconfig", type=click.Path(dir_okay=False), help="Kubeconfig file of the cluster.")
@click.option("--context", "kube_context", help="Kube context; must be the policy's `cluster`.")
@click.option("--release", "releases", multiple=True, help="Only this release of apply.releases; repeatable.")
@click.option("--resume", default=None, metavar="RELEASE", help="Lift the hold on RELEASE and re-apply it.")
@click.option("--dry-run", is_flag=True, help="Check and list what would be applied; touch nothing.")
@click.option(
    "--observe",
    is_flag=True,
    help="Never write to the cluster: wait for Argo CD/Flux (or whoever applies), then measure and record.",
)
@click.option(
    "--helm", "helm_path", default=None, help="The helm binary (default: $AIOPS_HELM, PATH, tools/bin)."
)
@click.option("--as", "login", default=None, help="Who runs it (recorded on holds; default: the aiops bot).")
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def command(**opts: Any) -> None:
    """Apply main HEAD: every merged PR since the last apply, gate re-checked, metrics recorded.

    Refuses (exit 4) a commit on main touching manifests/ that did not come through a merged PR
    whose aiops/approval-gate status passed, and a kube context other than the policy's cluster.
    A failed apply or a regressed verdict rolls the release back, puts it on hold and opens the
    revert PR (exit 1).

    \b
    Examples:
      aiops apply --repo ./ops --context minikube
      aiops apply --dry-run
      aiops apply --resume todo-backend --context minikube
    """
    from aiops.gitops.git import Git
    from aiops.pipeline.apply import ApplyOptions, run_apply
    from aiops.pipeline.forges import open_forge

    forge = open_forge(opts["forge_name"], repo=opts["repo"], actor=opts["login"])
    options = ApplyOptions(
        repo=opts["repo"],
        kubeconfig=opts["kubeconfig"],
        context=opts["kube_context"],
        releases=tuple(opts["releases"]),
        resume=opts["resume"],
        dry_run=bool(opts["dry_run"]),
        observe=bool(opts["observe"]),
        helm=opts["helm_path"],
        actor=opts["login"],
    )
    report = run_apply(forge, Git(opts["repo"]), options)
    if opts["output"] == "json":
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        for line in report.lines():
            click.echo(line)
        if report.dry_run:
            click.echo("dry run: nothing was applied or written")
    if report.failed:
        raise SystemExit(1)
