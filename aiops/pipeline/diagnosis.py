"""The diagnosis flow: cluster options → `ClusterSource` → `Snapshot` → `run_all` → redacted `Diagnosis`.

`ClusterOptions` holds the common cluster flags of DESIGN §4.7 (`aiops.cli.options.cluster_options`);
`read_snapshot` turns them into a snapshot for any command (diagnose, ask, recommend, ...): files
when `--snapshot` is given, the live cluster when `--kubeconfig`/`--context`/`--live` is, else the
bundled sample (the "Todo Chatbot", offline). `diagnose` adds the analyzers and redaction: every
string of the result goes through `aiops.redact.redact`. No printing here, no exit codes.
"""

from __future__ import annotations

import dataclasses
import importlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiops.errors import InputError
from aiops.model import Diagnosis, Snapshot
from aiops.settings import Settings

__all__ = [
    "SAMPLE_LABEL",
    "ClusterOptions",
    "diagnose",
    "read_snapshot",
    "redact_diagnosis",
    "sample_paths",
    "scope_namespaces",
]

SAMPLE_LABEL = "(sample cluster)"
_SAMPLE_DIR = Path(__file__).resolve().parent.parent / "data" / "sample"


def sample_paths() -> tuple[str, str]:
    """The bundled sample snapshot and its logs file."""
    return str(_SAMPLE_DIR / "cluster.yaml"), str(_SAMPLE_DIR / "logs.yaml")


@dataclass(frozen=True)
class ClusterOptions:
    """The common cluster flags, as parsed by `cluster_options` (same names as its parameters)."""

    snapshots: tuple[str, ...] = ()
    logs_file: str | None = None
    at: str | None = None
    kubeconfig: str | None = None
    kube_context: str | None = None
    namespaces: tuple[str, ...] = ()
    all_namespaces: bool = False
    live: bool = False

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any]) -> ClusterOptions:
        """Build from a click command's keyword arguments (unknown keys are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in kwargs.items() if k in names and v is not None}
        for key in ("snapshots", "namespaces"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)

    @property
    def is_live(self) -> bool:
        return bool(self.kubeconfig or self.kube_context or self.live)

    @property
    def uses_sample(self) -> bool:
        """No --snapshot and no live flag: the bundled sample is read."""
        return not self.snapshots and not self.is_live


def _validate(opts: ClusterOptions) -> None:
    if opts.snapshots and opts.is_live:
        flag = "--kubeconfig" if opts.kubeconfig else "--context" if opts.kube_context else "--live"
        raise InputError(f"--snapshot and {flag} exclude each other: read files or the live cluster")
    if opts.namespaces and opts.all_namespaces:
        raise InputError("-n/--namespace and -A/--all-namespaces exclude each other")
    if opts.logs_file and not opts.snapshots:
        raise InputError("--logs needs --snapshot (live reads fetch previous logs themselves)")


def scope_namespaces(opts: ClusterOptions, settings: Settings | None = None) -> tuple[str, ...] | None:
    """Namespaces to report on (None = all): -n; else -A; files and the sample: all they hold;
    live: the policy's `namespaces`."""
    if opts.namespaces:
        return tuple(dict.fromkeys(opts.namespaces))
    if opts.all_namespaces or not opts.is_live:
        return None
    policy = (settings or Settings()).namespaces
    return tuple(policy) if policy else None


def read_snapshot(opts: ClusterOptions, settings: Settings | None = None) -> Snapshot:
    """Read the cluster the options name (files, live, or the bundled sample)."""
    _validate(opts)
    from aiops.cluster.files import parse_at

    at = parse_at(opts.at)
    if opts.is_live:
        from aiops.cluster.live import LiveSource

        source = LiveSource(
            kubeconfig=opts.kubeconfig,
            context=opts.kube_context,
            namespaces=scope_namespaces(opts, settings),
            at=at,
        )
        source.start()  # a reader process connects and lists (where it can fork), while this
        for module in ("aiops.diagnose", "aiops.redact"):  # one imports what the diagnosis needs
            importlib.import_module(module)

        return source.read()
    from aiops.cluster.files import FileSource

    if opts.snapshots:
        return FileSource(paths=opts.snapshots, logs_path=opts.logs_file, at=at).read()
    cluster, logs = sample_paths()
    snap = FileSource(paths=(cluster,), logs_path=logs, at=at).read()
    return dataclasses.replace(snap, sources=(SAMPLE_LABEL,), cluster="sample")


def diagnose(
    opts: ClusterOptions,
    settings: Settings | None = None,
    *,
    snapshot: Snapshot | None = None,
) -> Diagnosis:
    """Read (unless a snapshot is given), run every analyzer, redact; `elapsed_ms` covers all of it."""
    from aiops.diagnose import run_all

    started = time.perf_counter()
    snap = snapshot if snapshot is not None else read_snapshot(opts, settings)
    result = run_all(snap, namespaces=scope_namespaces(opts, settings))
    result = redact_diagnosis(result, snap)
    return dataclasses.replace(result, elapsed_ms=(time.perf_counter() - started) * 1000.0)


def redact_diagnosis(diagnosis: Diagnosis, snapshot: Snapshot | None = None) -> Diagnosis:
    """Every string a diagnosis can emit (summaries, evidence, remediations, cause details, notes)
    through `aiops.redact`; with a snapshot, its pods' secret-named env values are masked too."""
    from aiops.redact import Redactor

    redactor = Redactor.from_snapshot(snapshot) if snapshot is not None else Redactor()
    return redactor.redact_diagnosis(diagnosis)
