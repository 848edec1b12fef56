"""`aiops runbooks`: regenerate history/runbooks/<code>.md from history/prompts/ (in place,
only files whose text changed). Parses flags, calls `aiops.pipeline.reports`, prints."""

from __future__ import annotations

import json

import click


@click.command("runbooks")
@click.option("--repo", type=click.Path(file_okay=False), default=".", show_default=True, help="Checkout.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 when a runbook is stale.")
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def command(repo: str, check: bool, output: str) -> None:
    """One runbook per failure code: symptoms, confirmation, remediation, recovery, past PHRs.

    \b
    Examples:
      aiops runbooks --repo .
      aiops runbooks --check        # in CI: are the runbooks up to date?
    """
    from aiops.pipeline.reports import run_runbooks

    outcome = run_runbooks(repo, check=check)
    if output == "json":
        click.echo(json.dumps(outcome.to_dict(), indent=2))
    else:
        changed = [w for w in outcome.written if w.status != "unchanged"]
        same = len(outcome.written) - len(changed)
        click.echo(
            f"{len(outcome.written)} runbooks from {outcome.records} records: "
            f"{len(changed)} {'stale' if check else 'written'}, {same} unchanged"
        )
        for w in changed:
            click.echo(f"  {w.status}: {w.path}")
        for n in outcome.notes:
            click.echo(f"  note: {n}")
    if check and any(w.status != "unchanged" for w in outcome.written):
        raise click.exceptions.Exit(1)
