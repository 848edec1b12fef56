"""`aiops codeowners`: write CODEOWNERS from the policy, or `--check` that it is current (CI)."""

from __future__ import annotations

import difflib
from pathlib import Path

import click

from aiops.cli.options import config_option


@click.command("codeowners")
@click.option(
    "--check", is_flag=True, help="Write nothing; exit 1 and print the diff when CODEOWNERS is stale."
)
@click.option("--repo", type=click.Path(file_okay=False), default=".", show_default=True)
@config_option
def command(check: bool, repo: str, config_path: str | None) -> None:
    """Generate CODEOWNERS (repository root) from .github/aiops.yaml.

    Everything defaults to the critical-tier teams; the values files aiops maintains go to the
    low/medium-tier teams; .github/, aiops/, history/ and CODEOWNERS to the critical-tier teams.

    \b
    Examples:
      aiops codeowners                 # rewrite CODEOWNERS after editing .github/aiops.yaml
      aiops codeowners --check         # CI: exit 1 with a diff when it is stale
    """
    from aiops.policy.codeowners import render
    from aiops.settings import DEFAULT_PATH, load_settings

    root = Path(repo)
    settings = load_settings(config_path or root / DEFAULT_PATH)
    wanted = render(settings)
    target = root / "CODEOWNERS"
    current = target.read_text(encoding="utf-8") if target.exists() else ""
    if check:
        if current == wanted:
            click.echo("CODEOWNERS is up to date")
            return
        diff = difflib.unified_diff(
            current.splitlines(keepends=True),
            wanted.splitlines(keepends=True),
            fromfile="CODEOWNERS",
            tofile="CODEOWNERS (from .github/aiops.yaml)",
        )
        click.echo("".join(diff), nl=False)
        click.echo("CODEOWNERS is stale: run `aiops codeowners` and commit the result", err=True)
        raise click.exceptions.Exit(1)
    if current == wanted:
        click.echo("CODEOWNERS unchanged")
        return
    target.write_text(wanted, encoding="utf-8")
    click.echo(f"wrote {target}")
