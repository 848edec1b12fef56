"""The `kubectl-ai` advisor: runs the kubectl-ai CLI non-interactively when it is on PATH.

Command: `kubectl-ai --quiet [--model M] [--kubeconfig F] "<prompt>"` with stdin closed and a
timeout (the child is killed when it expires). `--quiet` is kubectl-ai's non-interactive mode; it
never gets `--skip-permissions`, so it cannot change the cluster without a confirmation nobody
gives. The prompt is the redacted one of `aiops.advisors.build_prompt`. Never raises from `advise`.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from dataclasses import dataclass

from aiops.advisors import AdvisorAnswer, build_prompt, one_line

EXECUTABLE = "kubectl-ai"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
_READ_ONLY = "Use read-only commands only; do not modify the cluster."


@dataclass(frozen=True)
class KubectlAiAdvisor:
    model: str | None = None
    kubeconfig: str | None = None
    timeout: float = 180.0
    executable: str | None = None  # default: kubectl-ai found on PATH
    name: str = "kubectl-ai"

    @property
    def label(self) -> str:
        return f"advisor kubectl-ai (model {self.model or 'its default'})"

    def command(self, exe: str, question: str, findings_json: str) -> list[str]:
        system, user = build_prompt(question, findings_json)
        cmd = [exe, "--quiet"]
        if self.model:
            cmd += ["--model", self.model]
        if self.kubeconfig:
            cmd += ["--kubeconfig", self.kubeconfig]
        cmd.append(f"{system} {_READ_ONLY}\n\n{user}")
        return cmd

    def advise(self, question: str, findings_json: str) -> AdvisorAnswer:
        started = time.perf_counter()

        def fail(reason: str) -> AdvisorAnswer:
            return AdvisorAnswer(
                self.name,
                self.label,
                ok=False,
                error=one_line(reason),
                model=self.model,
                elapsed_ms=(time.perf_counter() - started) * 1000.0,
            )

        exe = self.executable or shutil.which(EXECUTABLE)
        if not exe:
            return fail("kubectl-ai is not on PATH (https://github.com/GoogleCloudPlatform/kubectl-ai)")
        try:
            proc = subprocess.run(
                self.command(exe, question, findings_json),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return fail(f"kubectl-ai gave no answer within {self.timeout:g}s")
        except OSError as exc:
            return fail(f"cannot run {exe}: {exc.strerror or exc}")
        out = _ANSI.sub("", proc.stdout or "").strip()
        if proc.returncode != 0:
            err_lines = [ln for ln in _ANSI.sub("", proc.stderr or "").splitlines() if ln.strip()]
            detail = err_lines[-1] if err_lines else (out.splitlines()[-1] if out else "no output")
            return fail(f"kubectl-ai exited {proc.returncode}: {detail}")
        if not out:
            return fail("kubectl-ai printed nothing")
        return AdvisorAnswer(
            self.name,
            self.label,
            ok=True,
            text=out,
            model=self.model,
            elapsed_ms=(time.perf_counter() - started) * 1000.0,
        )
