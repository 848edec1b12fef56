"""`aiops proposals`: list the proposals aiops opened (local forge, or GitHub when configured)."""

from __future__ import annotations

import json

import click

from aiops.cli.options import OUTPUT_CHOICES


@click.command("proposals")
@click.option(
    "--repo",
    "repo",
    type=click.Path(file_okay=False),
    default=".",
    show_default=True,
    help="Repository of the local forge.",
)
@click.option(
    "--forge",
    "forge_name",
    type=click.Choice(["github", "local"]),
    default=None,
    help="Default: github when GITHUB_REPOSITORY is set, else local.",
)
@click.option(
    "--state", type=click.Choice(["open", "closed", "merged", "all"]), default="open", show_default=True
)
@click.option("-o", "--output", type=click.Choice(OUTPUT_CHOICES), default="text", show_default=True)
def command(repo: str, forge_name: str | None, state: str, output: str) -> None:
    """List aiops proposals (pull requests) with their key, tier and state.

    \b
    Examples:
      aiops proposals --repo ./ops
      aiops proposals --state all -o json
    """
    from aiops.pipeline.forges import open_forge

    forge = open_forge(forge_name, repo=repo)
    props = forge.find_proposals(state=state)
    if output == "json":
        click.echo(
            json.dumps(
                {
                    "proposals": [
                        {
                            "number": p.number,
                            "title": p.title,
                            "state": p.state,
                            "branch": p.branch,
                            "key": p.key,
                            "id": p.id,
                            "tier": p.meta.get("tier"),
                            "labels": list(p.labels),
                            "head_sha": p.head_sha,
                            "url": p.url,
                            "created_at": p.created_at,
                            "merged_at": p.merged_at,
                        }
                        for p in props
                    ]
                },
                indent=2,
            )
        )
        return
    if not props:
        click.echo(f"no {state if state != 'all' else ''} proposals".replace("  ", " "))
        return
    if output == "markdown":
        click.echo("| # | state | tier | title | branch |\n|---|---|---|---|---|")
        for p in props:
            click.echo(f"| {p.number} | {p.state} | {p.meta.get('tier') or '-'} | {p.title} | `{p.branch}` |")
        return
    for p in props:
        click.echo(f"#{p.number:<4} {p.state:<7} {p.meta.get('tier') or '-'!s:<9} {p.title}  [{p.branch}]")
