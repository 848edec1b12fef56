"""`aiops gate --pr N`: decide a PR's approval and post the `aiops/approval-gate` status (DESIGN §4.7)."""

from __future__ import annotations

import json
import os

import click

from aiops.cli.options import output_option


@click.command("gate")
@click.option("--pr", "number", type=int, required=True, help="Pull request (or local proposal) number.")
@click.option(
    "--forge",
    "forge_name",
    type=click.Choice(["github", "local"]),
    default=None,
    help="Where the PR lives (default: github when GITHUB_REPOSITORY is set, else local).",
)
@click.option(
    "--repo", type=click.Path(file_okay=False), default=".", show_default=True, help="Local repository."
)
@click.option(
    "--dry-run", is_flag=True, help="Decide and print; post nothing, change no label, merge nothing."
)
@output_option
def command(number: int, forge_name: str | None, repo: str, dry_run: bool, output: str) -> None:
    """Recompute the tier from the PR's files, check reviews and teams, post one status and one comment.

    Exit 0 once the status is posted (pending included), 1 when the decision is failure
    (changes requested, a safety check failed, a record edited), 2 bad input, 3 GitHub unreachable.

    \b
    Examples:
      aiops gate --pr 42                       # in the gate workflow (GITHUB_REPOSITORY set)
      aiops gate --pr 1 --forge local --repo ./ops -o json
    """
    from aiops.pipeline.forges import default_forge_name, open_forge
    from aiops.pipeline.gate import GateHost, GitHubHost, LocalHost, run_gate
    from aiops.pipeline.merge import policy_of

    name = forge_name or default_forge_name()
    forge = open_forge(name, repo=repo)
    settings = policy_of(forge)
    host: GateHost
    target_url: str | None = None
    if name == "local":
        from aiops.gitops.local import LocalForge

        assert isinstance(forge, LocalForge)
        host = LocalHost(forge, settings)
    else:
        from aiops.gitops.github_admin import GitHubAdmin

        host = GitHubHost(GitHubAdmin.from_env())
    outcome = run_gate(forge, host, number, settings=settings, target_url=target_url, dry_run=dry_run)
    if output == "json":
        click.echo(json.dumps(outcome.to_dict(), indent=2, sort_keys=True))
    elif output == "markdown" and outcome.comment:
        click.echo(outcome.comment, nl=False)
    else:
        click.echo(_text(outcome))
    if os.environ.get("GITHUB_STEP_SUMMARY") and outcome.decision is not None:
        try:
            with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as fh:
                fh.write(f"#{number}: {outcome.decision.description}\n")
        except OSError:
            pass
    if outcome.exit_code:
        raise click.exceptions.Exit(outcome.exit_code)


def _text(outcome: object) -> str:
    from aiops.pipeline.gate import STATUS_CONTEXT, GateOutcome

    assert isinstance(outcome, GateOutcome)
    if not outcome.open or outcome.decision is None:
        return f"#{outcome.number}: not open; nothing posted"
    d = outcome.decision
    lines = [f"#{outcome.number} {STATUS_CONTEXT}={d.state} on {outcome.head_sha[:12]}: {d.description}"]
    lines.extend(f"  blocking: {b}" for b in d.blockers)
    lines.extend(f"  needed: {m}" for m in d.missing)
    if outcome.label_correction:
        old = ", ".join(outcome.label_correction[0]) or "none"
        lines.append(f"  label corrected: {old} -> {outcome.label_correction[1]}")
    if outcome.merged_sha:
        lines.append(f"  merged by the aiops App: {outcome.merged_sha[:12]}")
    posted = "status posted" if outcome.status_posted else "status unchanged"
    comment = "comment updated" if outcome.comment_changed else "comment unchanged"
    lines.append(f"  {posted}; {comment}")
    return "\n".join(lines)
