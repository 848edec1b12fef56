"""`aiops validate`: re-measure recently applied changes and write their validation records.

Parses flags, calls `aiops.pipeline.validate.run_validate`, prints the report. Exit 1 when a
change regressed (it was rolled back, held and its revert PR opened), else 0.
"""

from __future__ import annotations

import json
from typing import Any

import click


@click.command("validate")
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
@click.option("--release", "releases", multiple=True, help="Only changes of this release; repeatable.")
@click.option("--observe", is_flag=True, help="Pull-based set-ups: roll back through git only.")
@click.option("--dry-run", is_flag=True, help="Measure and judge; write nothing, roll nothing back.")
@click.option(
    "--helm", "helm_path", default=None, help="The helm binary (default: $AIOPS_HELM, PATH, tools/bin)."
)
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def command(**opts: Any) -> None:
    """Validate applied changes: re-measure, judge against the pre metrics, record the verdict.

    A change is validated once apply.validation_minutes have passed since it was applied; a
    regression found earlier takes the failure path at once (rollback, hold, revert PR).

    \b
    Examples:
      aiops validate --repo ./ops --context minikube
      aiops validate -o json
    """
    from aiops.gitops.git import Git
    from aiops.pipeline.apply import ApplyOptions
    from aiops.pipeline.forges import open_forge
    from aiops.pipeline.validate import run_validate

    forge = open_forge(opts["forge_name"], repo=opts["repo"])
    options = ApplyOptions(
        repo=opts["repo"],
        kubeconfig=opts["kubeconfig"],
        context=opts["kube_context"],
        releases=tuple(opts["releases"]),
        dry_run=bool(opts["dry_run"]),
        observe=bool(opts["observe"]),
        helm=opts["helm_path"],
    )
    report = run_validate(forge, Git(opts["repo"]), options)
    if opts["output"] == "json":
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        for line in report.lines():
            click.echo(line)
    if report.regressed:
        raise SystemExit(1)
