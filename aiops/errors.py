"""The one error hierarchy of aiops and its exit codes (DESIGN §4.7).

Every failure the user can cause or meet is an `AiopsError` subclass carrying a one-line
`message` (naming the file, field, flag or endpoint) and an optional `hint`. The CLI turns
them into one line on stderr and the family's exit code; nothing here does I/O.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1  # findings at/above --fail-on, or a gate decision of failure
EXIT_INPUT = 2  # bad input or usage
EXIT_UNREACHABLE = 3  # cluster, forge or Prometheus unreachable
EXIT_POLICY = 4  # refused by policy


class AiopsError(Exception):
    """Base of every error aiops reports to a user."""

    exit_code: int = EXIT_INPUT

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message

    def one_line(self) -> str:
        """The single line printed to stderr: message, then the hint if any."""
        text = self.message.replace("\n", " ")
        if self.hint:
            text += f" (hint: {self.hint})".replace("\n", " ")
        return text


class InputError(AiopsError):
    """Bad input: a missing/unreadable/malformed file, a wrong field, a bad flag value (exit 2)."""

    exit_code = EXIT_INPUT


class SettingsError(InputError):
    """`.github/aiops.yaml` is invalid: the message names the key."""


class UnreachableError(AiopsError):
    """A cluster, forge or Prometheus endpoint could not be reached after retries (exit 3)."""

    exit_code = EXIT_UNREACHABLE


class PolicyRefusal(AiopsError):
    """Refused by policy: apply of an ungated change, propose touching a forbidden path (exit 4)."""

    exit_code = EXIT_POLICY


class GateFailure(AiopsError):
    """A decision of `failure` (changes requested, a safety check failed) (exit 1)."""

    exit_code = EXIT_FINDINGS
