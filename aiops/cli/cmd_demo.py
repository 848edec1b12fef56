"""`aiops demo`: the whole loop on a simulated cluster and a local git repository, offline.

Parses the flags, runs `aiops.pipeline.demo.run_demo` (progress printed as it goes in text mode),
then prints the `aiops audit` of what the demo did and where to look. Imports nothing heavy at
`--help` time.
"""

from __future__ import annotations

import json

import click

SCENARIO_CHOICES = ("a", "b", "c", "d", "all")


@click.command("demo")
@click.option(
    "--workdir",
    type=click.Path(file_okay=False),
    default=None,
    help="Where the demo's git repository, usage files and kubeconfig go (default: a new temp dir).",
)
@click.option(
    "--scenario",
    "scenarios",
    type=click.Choice(SCENARIO_CHOICES),
    multiple=True,
    help="Run only these scenarios (repeatable; default: all); b, c, d run after a (it repairs the app).",
)
@click.option("-o", "--output", type=click.Choice(("text", "json")), default="text", show_default=True)
def command(*, workdir: str | None, scenarios: tuple[str, ...], output: str) -> None:
    """Show the whole loop in under a minute, offline: a SIMULATED cluster (an in-process API
    server seeded from the bundled sample, with a minimal controller and a stated load model) and a
    fresh local git repository made from the shipped manifests/ and .github/aiops.yaml.

    \b
    Scenarios:
      a  pod failure → diagnosis → approval → remediation → validation
         (todo-backend OOMKilled; todo-frontend missing the config key REDIS_URL)
      b  scaling trigger → recommendation → approval → execution (an HPA)
      c  resource optimization of the over-provisioned todo-frontend (savings in $)
      d  rolling update → health monitoring → halt → revert
    Approvals come from the policy's local members (approvals.members). It ends with
    `aiops audit` over what it did; the repository's `git log` is the audit trail.

    \b
    Examples:
      aiops demo
      aiops demo --workdir /tmp/aiops-demo
      aiops demo --scenario a --scenario d -o json
    """
    from aiops.pipeline.demo import SCENARIOS, DemoOptions, run_demo

    chosen = tuple(SCENARIOS) if not scenarios or "all" in scenarios else tuple(dict.fromkeys(scenarios))
    text = output == "text"
    report = run_demo(
        DemoOptions(workdir=workdir, scenarios=chosen),
        emit=click.echo if text else (lambda _line: None),
    )
    if not text:
        click.echo(json.dumps(report.to_dict(), indent=2, default=str))
        return
    from aiops.cli.cmd_audit import render_text

    click.echo("")
    for line in render_text(report.audit).splitlines():
        click.echo(f"  {line}" if line else "")
    click.echo("")
    click.echo("Outcomes (cluster simulated):")
    for s in report.scenarios:
        click.echo(f"  {s.name}: {s.outcome:14} {s.title}")
    click.echo("")
    click.echo(f"Done in {report.elapsed_s:.1f} s. The demo repository is {report.repo}; look at:")
    for step in report.to_dict()["next"]:
        click.echo(f"  {step}")
    click.echo("  (execution/validation/rollback records: history/prompts/; holds: history/holds/)")
