"""Usage history sources (DESIGN §4.3): files, an `aiops collect` directory, a live Prometheus.

`load_usage` is the one entry point the pipeline calls: it reads every source it is given
(`--usage cpu=FILE`/`memory=FILE`, repeatable; `--usage-dir DIR`; `--prometheus URL`, else
`prometheus.url` from the settings when no file or directory is given) and merges them into one
`UsageData`, one series per resource and container. Bad input (a spec without a known kind, a file
that is not a Prometheus matrix) is an `InputError` naming it; an unreachable Prometheus is an
`UnreachableError`. Samples are passed on as read (NaN, negatives, gaps included); files are not
cut to the window — the sizing engine reads `UsageData.start/end`.

Light at import time: numpy, orjson and requests are imported only when a source is read.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from aiops.errors import InputError
from aiops.model.usage import ContainerSeries, Resource, UsageData
from aiops.settings import Settings

RESOURCES: tuple[Resource, ...] = ("cpu", "memory")
DIR_FILES: dict[Resource, str] = {"cpu": "cpu.json", "memory": "memory.json"}

__all__ = ["DIR_FILES", "RESOURCES", "load_usage", "parse_usage_spec", "read_usage_dir", "read_usage_files"]


def parse_usage_spec(spec: str) -> tuple[Resource, str]:
    """`cpu=FILE` / `memory=FILE` → (kind, path); a missing or unknown kind names the file."""
    kind, sep, path = spec.partition("=")
    kind = kind.strip().lower()
    if not sep or not path:
        raise InputError(
            f"--usage {spec}: the kind is missing; write cpu={spec} or memory={spec}",
            hint="cpu files hold cores (a rate), memory files working-set bytes",
        )
    if kind not in RESOURCES:
        raise InputError(f"--usage {spec}: unknown kind {kind!r} for {path} (use cpu=FILE or memory=FILE)")
    resource: Resource = "cpu" if kind == "cpu" else "memory"
    return resource, path


def read_usage_files(specs: Sequence[str | tuple[Resource, str]]) -> list[ContainerSeries]:
    """Parse every `--usage` spec and file (all specs are checked before any file is read)."""
    from aiops.metrics.promfile import read_matrix_file

    parsed = [parse_usage_spec(s) if isinstance(s, str) else _checked_pair(s) for s in specs]
    out: list[ContainerSeries] = []
    for resource, path in parsed:
        out.extend(read_matrix_file(path, resource=resource))
    return out


def _checked_pair(pair: tuple[str, str]) -> tuple[Resource, str]:
    kind, path = pair
    return parse_usage_spec(f"{kind}={path}")


def read_usage_dir(directory: str) -> list[ContainerSeries]:
    """Read `DIR/cpu.json` and `DIR/memory.json` as written by `aiops collect` (at least one)."""
    from aiops.metrics.promfile import read_matrix_file

    if not os.path.isdir(directory):
        raise InputError(f"--usage-dir {directory}: no such directory")
    out: list[ContainerSeries] = []
    found = 0
    for resource, name in DIR_FILES.items():
        path = os.path.join(directory, name)
        if os.path.exists(path):
            found += 1
            out.extend(read_matrix_file(path, resource=resource))
    if not found:
        raise InputError(
            f"--usage-dir {directory}: holds neither cpu.json nor memory.json",
            hint=f"run `aiops collect --data-dir {directory}` first",
        )
    return out


def load_usage(  # noqa: PLR0917 - the signature the pipeline calls positionally
    usage_files: Sequence[str | tuple[Resource, str]] = (),
    usage_dir: str | None = None,
    prometheus_url: str | None = None,
    settings: Settings | None = None,
    namespaces: Sequence[str] = (),
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    files: Sequence[str | tuple[Resource, str]] | None = None,
    prometheus: str | None = None,
) -> UsageData:
    """Read and merge every given source; `namespaces` empty means every namespace (live only).

    `usage_files` items are `--usage` specs ("cpu=FILE") or already parsed (kind, path) pairs;
    `files=` and `prometheus=` are accepted as other names of `usage_files` and `prometheus_url`.
    Without start/end the window is the settings' `rightsizing.window_days` up to now (UTC).
    With no source at all the result is empty (every target is later skipped for lack of data).
    """
    if settings is None:
        settings = Settings()
    if files is not None:
        usage_files = [*usage_files, *files]
    prometheus_url = prometheus_url or prometheus
    if end is None:
        end = datetime.now(UTC)
    if start is None:
        start = end - timedelta(days=settings.rightsizing.window_days)
    if start >= end:
        raise InputError(f"usage window: start {start.isoformat()} is not before end {end.isoformat()}")

    series: list[ContainerSeries] = []
    sources: list[str] = []
    errors: dict[str, str] = {}
    if usage_files:
        series.extend(read_usage_files(usage_files))
        sources.extend(f"file {s if isinstance(s, str) else '='.join(s)}" for s in usage_files)
    if usage_dir:
        series.extend(read_usage_dir(usage_dir))
        sources.append(f"dir {usage_dir}")
    url = prometheus_url or (None if (usage_files or usage_dir) else settings.prometheus.url)
    if url:
        from aiops.metrics.prometheus import PrometheusSource

        source = PrometheusSource.from_settings(url, settings.prometheus)
        live = source.fetch(namespaces, start, end)
        series.extend(live.series)
        sources.extend(live.sources)
        errors.update(live.errors)
    if series:
        from aiops.metrics.promfile import merge_series

        series = merge_series(series)
    return UsageData(series=tuple(series), errors=errors, sources=tuple(sources), start=start, end=end)
