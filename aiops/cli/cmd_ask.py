"""`aiops ask "why is the backend failing?"`: an offline answer from the findings, plus optional advisors.

Parses options, reads the cluster through `aiops.pipeline.diagnosis`, answers with
`aiops.pipeline.ask`, prints text / Markdown / JSON. Advisors (`--advisor`, or `advisors.*.enabled`
in settings) are optional; their failures are printed as one line and never change the exit code.
Heavy modules are imported inside the command, so `--help` stays fast.
"""

from __future__ import annotations

import gc
from typing import Any

import click

from aiops.cli.options import cluster_options, config_option, output_option

_ADVISORS = ("llm", "kubectl-ai", "kagent")


@click.command(
    "ask",
    epilog="""\b
Examples:
  aiops ask "why is the backend failing?"           # the bundled sample cluster, offline
  aiops ask "what is wrong with todo-frontend" --snapshot cluster.yaml --logs logs.yaml
  aiops ask "which pods are OOM killed?" -o json
  aiops ask "is coredns ok?" --context minikube -n kube-system
  AIOPS_LLM_URL=http://localhost:11434/v1 AIOPS_LLM_MODEL=llama3.1 \\
      aiops ask "why is the backend failing?" --advisor llm   # + a local Ollama model
  aiops ask "why is the backend failing?" --advisor kubectl-ai --advisor kagent

\b
Advisors only ever receive redacted findings (never raw logs or env values).
Environment: AIOPS_LLM_URL, AIOPS_LLM_MODEL, AIOPS_LLM_API_KEY, AIOPS_KAGENT_URL.
Exit codes: 0 answered (whatever the advisors did) · 2 bad input or usage ·
3 cluster unreachable (after retries).""",
)
@click.argument("question", nargs=-1, required=True)
@cluster_options
@output_option
@config_option
@click.option(
    "--advisor",
    "advisor_names",
    multiple=True,
    type=click.Choice(_ADVISORS),
    help="Also ask this advisor (repeatable); added to those enabled in settings (advisors.*.enabled).",
)
@click.option("--offline", is_flag=True, help="Ask no advisor, even those enabled in settings.")
def command(
    question: tuple[str, ...],
    output: str,
    config_path: str | None,
    advisor_names: tuple[str, ...],
    offline: bool,
    **cluster: Any,
) -> None:
    """Answer a question about the cluster from aiops' own findings (offline, deterministic).

    Finds the object the question names (workload, pod, service, node, namespace or container;
    typos tolerated) and explains its failures with root cause, evidence and fix, or says that
    nothing is wrong with it, or that nothing matches (with close names).
    """
    # a short-lived process over a large acyclic tree of dicts: the cyclic GC would only traverse it
    # again and again (as in `aiops diagnose`); it is switched back on when the answer is printed
    gc.disable()
    try:
        _ask(" ".join(question).strip(), output, config_path, advisor_names, offline=offline, cluster=cluster)
    finally:
        gc.enable()


def _ask(
    text: str,
    output: str,
    config_path: str | None,
    advisor_names: tuple[str, ...],
    *,
    offline: bool,
    cluster: dict[str, Any],
) -> None:
    from aiops.errors import InputError
    from aiops.pipeline.ask import ask, render
    from aiops.pipeline.diagnosis import ClusterOptions, read_snapshot, scope_namespaces
    from aiops.settings import load_settings

    if not text:
        raise InputError('QUESTION: empty; ask e.g. aiops ask "why is the backend failing?"')
    opts = ClusterOptions.from_kwargs(cluster)
    settings = load_settings(config_path, required=config_path is not None)
    advisors: list[Any] = []
    if advisor_names and offline:
        raise InputError("--advisor and --offline exclude each other")
    if not offline:
        from aiops.advisors import build_advisors, enabled_in_settings

        names = [*advisor_names, *enabled_in_settings(settings)]
        if names:
            advisors = build_advisors(names, settings, kubeconfig=opts.kubeconfig)
    snapshot = read_snapshot(opts, settings)
    from aiops.diagnose import run_all

    scope = scope_namespaces(opts, settings)
    diagnosis = run_all(snapshot, namespaces=scope)
    result = ask(text, snapshot, diagnosis, advisors, namespaces=scope)
    click.echo(render(result, output), nl=False)
