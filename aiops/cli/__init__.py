"""The `aiops` command line: a click group whose subcommands load lazily.

Each subcommand lives in its own module `aiops/cli/cmd_<name>.py` exposing `command`; the group
finds them by file name, so `aiops --help` imports no heavy library. This layer only parses,
calls the pipeline, prints and maps `AiopsError`s to exit codes (DESIGN §4.7) — one line on
stderr, never a traceback.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Any

import click

from aiops import __version__
from aiops.errors import EXIT_INPUT, AiopsError

_HERE = Path(__file__).parent


def _command_names() -> list[str]:
    return sorted(p.stem[4:].replace("_", "-") for p in _HERE.glob("cmd_*.py"))


class LazyGroup(click.Group):
    """A group that imports `aiops.cli.cmd_<name>` only when `<name>` is used (or listed)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return _command_names()

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in _command_names():
            return None
        module = importlib.import_module(f"aiops.cli.cmd_{cmd_name.replace('-', '_')}")
        command = module.command
        assert isinstance(command, click.Command)
        return command


CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(cls=LazyGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="aiops")
def cli() -> None:
    """Day-2 operations of a Helm-deployed Kubernetes app, through git.

    \b
    Examples:
      aiops diagnose                         # the bundled sample cluster, offline
      aiops diagnose --snapshot cluster.yaml --logs logs.yaml -o json
      aiops diagnose -n todo --fail-on critical     # live cluster (kubeconfig)
    """


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the CLI, turn errors into one line and an exit code."""
    args = sys.argv[1:] if argv is None else argv
    try:
        rv = cli.main(args=args, prog_name="aiops", standalone_mode=False)
    except AiopsError as exc:
        click.echo(f"aiops: error: {_redact_line(exc.one_line())}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aiops: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code if exc.exit_code else EXIT_INPUT)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("aiops: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        # stdout closed early (`aiops diagnose | head`): not an error worth a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
    sys.exit(rv if isinstance(rv, int) else 0)


def _redact_line(text: str) -> str:
    from aiops.redact import redact

    return redact(text)
