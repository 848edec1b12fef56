"""`aiops propose`: open (or update, never duplicate) one proposal per recommendation.

Parses flags, calls `aiops.pipeline.proposal`, prints one line per recommendation (or JSON) and
exits 4 when a planned change touches a path the policy keeps from automation. Heavy imports
happen inside the command, so `aiops --help` stays fast.
"""

from __future__ import annotations

import json
from typing import Any

import click

from aiops.cli.options import cluster_options, config_option, usage_options


@click.command("propose")
@cluster_options
@usage_options
@config_option
@click.option(
    "--forge",
    "forge_name",
    type=click.Choice(["github", "local"]),
    default=None,
    help="Where proposals go. Default: github when GITHUB_REPOSITORY is set, else local.",
)
@click.option(
    "--repo",
    type=click.Path(file_okay=False),
    default=".",
    show_default=True,
    help="The local forge's git repository (and where .github/aiops.yaml is read from).",
)
@click.option("--dry-run", is_flag=True, help="Print the diffs, tiers and PR bodies; write nothing.")
@click.option(
    "--as",
    "login",
    default=None,
    help="Who requests the proposals (default: git user.name, or GITHUB_ACTOR on GitHub).",
)
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def command(**opts: Any) -> None:
    """Turn recommendations into pull requests: minimal values patches plus the PHR.

    One proposal per recommendation key (branch aiops/<key>). An open proposal is updated only when
    a value moved by more than the hysteresis; a proposal closed unmerged is snoozed; a cleared
    condition closes its proposal; rate limits defer. Running it twice changes nothing.

    \b
    Examples:
      aiops propose --forge local --repo ./ops --snapshot cluster.yaml --usage-dir ./usage
      aiops propose --dry-run --snapshot cluster.yaml --usage cpu=cpu.json --usage memory=mem.json
      aiops propose --forge github -n todo --prometheus http://prometheus:9090 -o json
    """
    from aiops.errors import PolicyRefusal
    from aiops.pipeline.proposal import ProposeOptions, propose
    from aiops.pipeline.recommendation import RecommendRequest

    request = RecommendRequest(
        snapshots=tuple(opts["snapshots"]),
        logs=opts["logs_file"],
        at=opts["at"],
        kubeconfig=opts["kubeconfig"],
        context=opts["kube_context"],
        namespaces=tuple(opts["namespaces"]),
        all_namespaces=bool(opts["all_namespaces"]),
        live=bool(opts["live"]),
        usage=tuple(opts["usage"]),
        usage_dir=opts["usage_dir"],
        prometheus=opts["prometheus"],
        config_path=opts["config_path"],
    )
    result = propose(
        request,
        forge_name=opts["forge_name"],
        repo=opts["repo"],
        options=ProposeOptions(dry_run=bool(opts["dry_run"]), requested_by=opts["login"]),
    )
    if opts["output"] == "json":
        click.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(render_text(result.to_dict()), nl=False)
    if result.refused:
        raise PolicyRefusal(
            f"{len(result.refused)} recommendation(s) would change paths the policy forbids: "
            + "; ".join(r.reason for r in result.refused),
            hint="map the target to a values file under manifests/ (targets in .github/aiops.yaml)",
        )


def render_text(data: dict[str, Any]) -> str:
    """One line per recommendation; with --dry-run also the diff, tier reasons and PR body."""
    out: list[str] = []
    dry = bool(data.get("dry_run"))
    for p in data["proposals"]:
        verb = str(p["action"]).replace("-", " ")
        head = f"{verb} #{p['number']}" if p.get("number") is not None else verb
        line = f"{head}: {p['kind']} {p['target']}"
        if p.get("tier"):
            line += f" [{p['tier']}]"
        if p.get("reason"):
            line += f" — {p['reason']}"
        if p.get("branch") and p["action"] in ("opened", "would-open"):
            line += f" ({p['branch']})"
        out.append(line)
        if dry and p.get("body"):
            out.append(f"--- diff ({p['id']}) ---")
            out.append(p.get("diff", "").rstrip("\n"))
            out.append(f"--- tier {p['tier']} ---")
            out.extend(f"  {r}" for r in p.get("tier_reasons", []))
            out.append("--- files ---")
            out.extend(f"  {f}" for f in p.get("files", []))
            out.append("--- pull request body ---")
            out.append(p["body"].rstrip("\n"))
            out.append("---")
    if not data["proposals"]:
        out.append("nothing to propose")
    if dry:
        out.append("dry run: nothing was written")
    for note in data.get("notes", []):
        out.append(f"note: {note}")
    return "\n".join(out) + "\n"
