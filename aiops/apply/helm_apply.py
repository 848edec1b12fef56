"""`apply.mode: helm`: `helm upgrade --install --wait`, `helm rollback` and `helm history` (DESIGN §4.10).

`HelmApplier` runs the real helm binary (found and version-checked by the caller through
`aiops.gitops.helm`, which passes the path and the Helm 3/4 rollback flag: `--atomic` in Helm 3,
`--rollback-on-failure` in Helm 4) against one cluster (`--kubeconfig` / `--kube-context`).
`upgrade` installs or upgrades a release from a chart directory and values files **in the order
given** (the policy's order, later files win), waits for the resources (`--wait --timeout`) and
lets helm roll a failed upgrade back itself. `rollback` returns the release to a revision (the
previous one by default) and `history` reads `helm history -o json`.

Failures are results (`HelmRun.ok` false, with helm's first error line), not exceptions: the caller
takes the failure path. A helm binary that cannot run at all raises `InputError`. Runs only helm;
decides nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiops.errors import InputError

DEFAULT_TIMEOUT = "5m0s"


@dataclass(frozen=True)
class HelmRun:
    """One helm invocation: the arguments (without the binary), exit code and a one-line summary."""

    args: tuple[str, ...]
    returncode: int
    detail: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def to_dict(self) -> dict[str, Any]:
        return {"command": "helm " + " ".join(self.args), "exit_code": self.returncode, "detail": self.detail}


def _first_error(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.lower().startswith("error")]
    return (errors or lines or ["(no output)"])[0][:300]


@dataclass
class HelmApplier:
    """Writes Helm releases to one cluster."""

    helm: str
    rollback_flag: str = "--atomic"
    kubeconfig: str | None = None
    context: str | None = None
    timeout: str = DEFAULT_TIMEOUT
    process_timeout: float = 1800.0
    runs: list[HelmRun] = field(default_factory=list)

    def _cluster_args(self) -> list[str]:
        out: list[str] = []
        if self.kubeconfig:
            out += ["--kubeconfig", self.kubeconfig]
        if self.context:
            out += ["--kube-context", self.context]
        return out

    def _run(self, args: list[str]) -> tuple[HelmRun, str]:
        full = [*args, *self._cluster_args()]
        try:
            proc = subprocess.run(
                [self.helm, *full],
                capture_output=True,
                text=True,
                timeout=self.process_timeout,
                check=False,
                env=dict(os.environ),
            )
        except subprocess.TimeoutExpired:
            run = HelmRun(tuple(full), 124, f"helm {args[0]}: no answer within {self.process_timeout:.0f} s")
            self.runs.append(run)
            return run, ""
        except OSError as exc:
            raise InputError(f"helm: cannot run {self.helm}: {exc.strerror or exc}") from exc
        detail = "ok" if proc.returncode == 0 else _first_error(proc.stderr or proc.stdout)
        run = HelmRun(tuple(full), proc.returncode, detail)
        self.runs.append(run)
        return run, proc.stdout

    def upgrade(
        self, release: str, chart: Path, *, namespace: str, values: Sequence[Path], description: str = ""
    ) -> HelmRun:
        """`helm upgrade --install R CHART -n NS -f V1 -f V2 --wait --timeout T <rollback flag>`."""
        args = ["upgrade", "--install", release, str(chart), "--namespace", namespace]
        for v in values:
            args += ["-f", str(v)]
        args += ["--wait", "--timeout", self.timeout, self.rollback_flag]
        if description:
            args += ["--description", description[:200]]
        return self._run(args)[0]

    def rollback(self, release: str, *, namespace: str, revision: int | None = None) -> HelmRun:
        """`helm rollback R [REVISION] -n NS --wait --timeout T` (no revision: the previous one)."""
        args = ["rollback", release]
        if revision is not None:
            args.append(str(revision))
        args += ["--namespace", namespace, "--wait", "--timeout", self.timeout]
        return self._run(args)[0]

    def history(self, release: str, *, namespace: str) -> list[dict[str, Any]]:
        """`helm history R -n NS -o json` (empty when the release does not exist or helm fails)."""
        run, out = self._run(
            ["history", release, "--namespace", namespace, "--output", "json", "--max", "20"]
        )
        if not run.ok:
            return []
        try:
            data = json.loads(out or "[]")
        except json.JSONDecodeError:
            return []
        return [r for r in data if isinstance(r, dict)] if isinstance(data, list) else []

    def previous_revision(self, release: str, *, namespace: str) -> int | None:
        """The newest revision before the current one that was deployed or superseded (a good one)."""
        rows = self.history(release, namespace=namespace)
        revs = sorted(
            (int(r["revision"]), str(r.get("status", ""))) for r in rows if isinstance(r.get("revision"), int)
        )
        if len(revs) < 2:
            return None
        current = revs[-1][0]
        good = [rev for rev, status in revs if rev < current and status in ("superseded", "deployed")]
        return good[-1] if good else None
