"""The recommend flow: read the cluster, diagnose, read usage, run the recommendation engine.

Composes the cluster source (files or live), the pure diagnosis, the usage sources of
`aiops.metrics` (files `--usage kind=FILE`, `--usage-dir DIR`, `--prometheus URL`) and the pure
`aiops.recommend.run_all`. Errors come up as `AiopsError`s (bad input → exit 2, Prometheus or the
cluster unreachable → exit 3); nothing is written anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiops.errors import InputError
from aiops.model.findings import Diagnosis
from aiops.model.snapshot import Snapshot
from aiops.model.usage import Resource, UsageData
from aiops.pipeline.diagnosis import ClusterOptions, diagnose, read_snapshot, scope_namespaces
from aiops.settings import Settings, load_settings


@dataclass(frozen=True)
class RecommendRequest:
    """Everything `aiops recommend` was asked, as plain values."""

    snapshots: tuple[str, ...] = ()
    logs: str | None = None
    at: str | None = None
    kubeconfig: str | None = None
    context: str | None = None
    namespaces: tuple[str, ...] = ()
    all_namespaces: bool = False
    live: bool = False
    usage: tuple[str, ...] = ()  # "cpu=FILE" / "memory=FILE"
    usage_dir: str | None = None
    prometheus: str | None = None
    config_path: str | None = None


@dataclass(frozen=True)
class RecommendOutcome:
    snapshot: Snapshot
    diagnosis: Diagnosis
    usage: UsageData
    result: Any  # aiops.recommend.Result
    settings: Settings
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = self.result.to_dict()
        return out


def parse_usage_specs(specs: Sequence[str]) -> list[tuple[Resource, str]]:
    """`cpu=FILE` / `memory=FILE` → (resource, path); a spec without a known kind is exit 2."""
    from aiops.metrics import parse_usage_spec

    return [parse_usage_spec(spec) for spec in specs]


def cluster_options(req: RecommendRequest) -> ClusterOptions:
    """The cluster part of a request, in the form the diagnosis flow reads."""
    return ClusterOptions(
        snapshots=req.snapshots,
        logs_file=req.logs,
        at=req.at,
        kubeconfig=req.kubeconfig,
        kube_context=req.context,
        namespaces=req.namespaces,
        all_namespaces=req.all_namespaces,
        live=req.live,
    )


def load_usage(
    req: RecommendRequest, settings: Settings, snapshot: Snapshot, namespaces: Sequence[str]
) -> UsageData:
    """Read the usage the request names (nothing named → empty `UsageData`)."""
    files = parse_usage_specs(req.usage)
    url = req.prometheus or None
    if not files and not req.usage_dir and not url:
        return UsageData()
    end = snapshot.at
    start = end - timedelta(days=settings.rightsizing.window_days)
    from aiops.metrics import load_usage as read_sources

    data = read_sources(
        files,
        req.usage_dir,
        url,
        settings,
        list(namespaces),
        start,
        end,
    )
    assert isinstance(data, UsageData)
    return data


def recommend(req: RecommendRequest) -> RecommendOutcome:
    """Run the whole flow for one request (the same cluster reading and redaction as `diagnose`)."""
    from aiops.recommend import run_all

    settings = load_settings(req.config_path, required=req.config_path is not None)
    parse_usage_specs(req.usage)  # bad flags fail before any reading
    if req.usage_dir and not Path(req.usage_dir).is_dir():
        raise InputError(f"--usage-dir: {req.usage_dir}: no such directory")
    opts = cluster_options(req)
    snapshot = read_snapshot(opts, settings)
    scope = scope_namespaces(opts, settings)
    namespaces = (
        list(scope)
        if scope is not None
        else sorted({str((o.get("metadata") or {}).get("namespace") or "") for o in snapshot.items} - {""})
    )
    diagnosis = diagnose(opts, settings, snapshot=snapshot)
    usage = load_usage(req, settings, snapshot, namespaces)
    result = run_all(snapshot, usage, diagnosis.findings, settings, snapshot.at, namespaces=scope)
    notes = tuple(snapshot.notes) + tuple(result.notes)
    return RecommendOutcome(snapshot, diagnosis, usage, result, settings, notes)
