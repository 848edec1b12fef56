"""`aiops review`: approve or request changes on a local proposal (on GitHub, people review in GitHub)."""

from __future__ import annotations

import click


@click.command("review")
@click.option("--pr", "number", type=int, required=True, help="Proposal number.")
@click.option("--approve", "verdict", flag_value="APPROVED", help="Approve the proposal's head commit.")
@click.option("--request-changes", "verdict", flag_value="CHANGES_REQUESTED", help="Request changes.")
@click.option("--comment", "verdict", flag_value="COMMENTED", help="Comment without a verdict.")
@click.option("--as", "login", default=None, help="Reviewer login (default: git config user.name).")
@click.option("-m", "--message", default="", help="Review text.")
@click.option("--repo", type=click.Path(file_okay=False), default=".", show_default=True)
def command(number: int, verdict: str | None, login: str | None, message: str, repo: str) -> None:
    """Record a review on proposal N's head commit (local forge).

    Approvals count only on the head commit; a later update makes them stale (DESIGN §4.6).

    \b
    Examples:
      aiops review --pr 1 --approve --as alice --repo ./ops
      aiops review --pr 2 --request-changes --as bob -m "too aggressive"
    """
    from aiops.errors import InputError
    from aiops.gitops.local import LocalForge

    if verdict is None:
        raise InputError("aiops review: give one of --approve, --request-changes or --comment")
    forge = LocalForge(repo)
    who = login or forge.actor
    review = forge.add_review(number, who, verdict, message)
    click.echo(f"#{number}: {who} {review.state.lower().replace('_', ' ')} at {review.commit_sha[:12]}")
