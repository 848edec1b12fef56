"""`aiops merge`: merge an approved local proposal (on GitHub, people merge in GitHub).

Parses flags, calls `aiops.pipeline.merge`, prints the decision; exit 4 while approvals are
missing or changes were requested.
"""

from __future__ import annotations

import json

import click


@click.command("merge")
@click.option("--pr", "number", type=int, required=True, help="Proposal number.")
@click.option("--repo", type=click.Path(file_okay=False), default=".", show_default=True)
@click.option("--as", "login", default=None, help="Who merges (default: git config user.name).")
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def command(number: int, repo: str, login: str | None, output: str) -> None:
    """Merge proposal N into main with a merge commit, if the approval decision says so.

    The tier is recomputed from the proposal's diff (never from labels) and the approvals are
    judged by the policy on main (.github/aiops.yaml): latest review per person, head commit only,
    author / requester / bots excluded, one distinct member per required team. Refused: exit 4.

    \b
    Examples:
      aiops merge --pr 1 --repo ./ops
      aiops merge --pr 2 --as alice -o json
    """
    from aiops.errors import PolicyRefusal
    from aiops.gitops.local import LocalForge
    from aiops.pipeline.merge import merge

    forge = LocalForge(repo, actor=login)
    who = login or forge.actor
    try:
        outcome = merge(forge, number, by=who)
    except PolicyRefusal as exc:
        if output == "json":
            from aiops.pipeline.merge import gate

            _, result = gate(forge, number)
            click.echo(json.dumps({"number": number, "merged": False, **result.to_dict()}, indent=2))
        raise exc
    if output == "json":
        click.echo(json.dumps(outcome.to_dict(), indent=2))
        return
    d = outcome.gate.decision
    click.echo(f"merged #{number} by {who} as {outcome.merge_sha[:12]}: {d.description}")
    for reason in outcome.gate.tier.reasons:
        click.echo(f"  {reason}")
