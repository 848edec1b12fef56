"""`aiops protect`: require the App-pinned `aiops/approval-gate` status and code-owner review on main."""

from __future__ import annotations

import json
import os

import click


@click.command("protect")
@click.option("--dry-run", is_flag=True, help="Print the change only; write nothing.")
@click.option(
    "--ruleset", is_flag=True, help="Use a repository ruleset instead of classic branch protection."
)
@click.option("--branch", default=None, help="Branch to protect (default: the repository's default branch).")
@click.option(
    "--app-slug",
    default=None,
    help="The aiops App's slug, the only bypass actor (default: AIOPS_APP_SLUG, else from the App login).",
)
def command(dry_run: bool, ruleset: bool, branch: str | None, app_slug: str | None) -> None:
    """Configure the default branch so only the gate's approval (posted by the aiops App) can merge.

    Required status `aiops/approval-gate` pinned to AIOPS_APP_ID, code-owner review, stale reviews
    dismissed, approval of the most recent push, admins included, the App as the only bypass actor.
    Reads the current settings first and writes only when they differ; prints the change as JSON.

    \b
    Examples:
      aiops protect --dry-run                  # show what would be set
      aiops protect --ruleset                  # a ruleset with the App as bypass actor
    """
    from aiops.errors import InputError
    from aiops.gitops.github_admin import GitHubAdmin, protect

    raw = os.environ.get("AIOPS_APP_ID", "").strip()
    if not raw.isdigit():
        raise InputError(
            "AIOPS_APP_ID: the aiops App's numeric id is needed to pin the required status"
            + (f" (got {raw!r})" if raw else " (not set)")
        )
    admin = GitHubAdmin.from_env()
    slug = app_slug or os.environ.get("AIOPS_APP_SLUG", "").strip()
    if not slug and admin.bot_login and admin.bot_login.endswith("[bot]"):
        slug = admin.bot_login.removesuffix("[bot]")
    if not slug:
        raise InputError("--app-slug: the aiops App's slug is needed for the bypass allowance")
    target = branch or admin.default_branch()
    change = protect(admin, branch=target, app_id=int(raw), app_slug=slug, ruleset=ruleset, dry_run=dry_run)
    click.echo(json.dumps(change, indent=2, sort_keys=True))
