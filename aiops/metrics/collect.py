"""`aiops collect`: usage history for clusters without Prometheus (DESIGN §4.3).

metrics-server keeps only the current point, so this samples `metrics.k8s.io/v1beta1` PodMetrics
with the official `kubernetes` client (raw JSON, `_preload_content=False`) every interval and
keeps the history in `DIR/cpu.json` (cores) and `DIR/memory.json` (working-set bytes), in the same
Prometheus matrix format `--usage` reads, so `--usage-dir DIR` works like a Prometheus.

- Bounded: samples older than the retention (counted back from the newest sample) are dropped, and
  no series keeps more than retention / interval + 1 points; pods that went away age out.
- Resumable: on start the existing files are read back, and new samples are appended.
- Atomic: each file is written to a temporary file in DIR, fsynced and renamed over the old one, so
  a kill at any moment leaves the previous or the new file, never a truncated one.
- A sample repeating the previous timestamp of a container (metrics-server not refreshed yet) is
  not stored twice.

The first sample failing is an error (`UnreachableError`, exit 3, naming the endpoint); later
failures are reported and the collector keeps going. It reads only PodMetrics; it never writes to
the cluster.
"""

from __future__ import annotations

import bisect
import contextlib
import math
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from aiops.errors import AiopsError, InputError, UnreachableError
from aiops.kube import connect
from aiops.model.k8s import format_time, parse_time
from aiops.model.quantity import parse_cpu, parse_memory
from aiops.model.usage import ContainerSeries, Resource

GROUP, VERSION, PLURAL = "metrics.k8s.io", "v1beta1", "pods"
FILES: dict[Resource, str] = {"cpu": "cpu.json", "memory": "memory.json"}
DEFAULT_INTERVAL = 60.0
DEFAULT_RETENTION = 14 * 86400.0

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")


def parse_duration(text: str, *, flag: str) -> float:
    """ "60s", "5m", "1h", "14d", "2w", or plain seconds → seconds; anything else names the flag."""
    m = _DURATION.match(str(text))
    if not m:
        raise InputError(f"{flag} {text}: not a duration (examples: 30s, 5m, 1h, 14d)")
    seconds = float(m.group(1)) * _UNITS[m.group(2) or "s"]
    if seconds <= 0:
        raise InputError(f"{flag} {text}: must be more than zero")
    return seconds


@dataclass(frozen=True)
class Sample:
    """One container's usage from one PodMetrics item."""

    namespace: str
    pod: str
    container: str
    timestamp: float  # unix seconds, end of the metrics window
    cpu: float  # cores
    memory: float  # bytes


def parse_pod_metrics(body: bytes, *, source: str, fallback_time: float) -> tuple[list[Sample], int]:
    """A PodMetricsList (or one PodMetrics) → samples, and how many containers had no usable usage."""
    import orjson

    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise UnreachableError(f"{source}: answered something that is not JSON ({exc})") from exc
    if not isinstance(doc, dict):
        raise UnreachableError(f"{source}: answered JSON that is not a PodMetricsList")
    items = doc.get("items") if "items" in doc else [doc]
    if not isinstance(items, list):
        raise UnreachableError(f"{source}: PodMetricsList.items is not a list")
    out: list[Sample] = []
    unusable = 0
    for item in items:
        if not isinstance(item, dict):
            unusable += 1
            continue
        meta = item.get("metadata") or {}
        ns, pod = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        when = parse_time(item.get("timestamp"))
        ts = when.timestamp() if when is not None else fallback_time
        for c in item.get("containers") or []:
            usage = c.get("usage") if isinstance(c, dict) else None
            if not isinstance(usage, dict) or not pod or not c.get("name"):
                unusable += 1
                continue
            try:
                cpu = parse_cpu(usage.get("cpu"), field="cpu")
                mem = parse_memory(usage.get("memory"), field="memory")
            except InputError:
                unusable += 1
                continue
            out.append(Sample(ns, pod, str(c["name"]), ts, cpu, mem))
    return out, unusable


# ---- the files ----------------------------------------------------------------------------------

_Key = tuple[str, str, str]


@dataclass
class _Series:
    ts: list[float] = field(default_factory=list)
    vs: list[float] = field(default_factory=list)


class UsageStore:
    """The collector's history: DIR/cpu.json and DIR/memory.json, held in memory between writes."""

    def __init__(self, data_dir: str) -> None:
        self.data_dir = data_dir
        self.data: dict[Resource, dict[_Key, _Series]] = {"cpu": {}, "memory": {}}

    @classmethod
    def open(cls, data_dir: str) -> UsageStore:
        """Create DIR if needed and read back what a previous run left (resume)."""
        from aiops.metrics.promfile import merge_series, read_matrix_file

        if os.path.exists(data_dir) and not os.path.isdir(data_dir):
            raise InputError(f"--data-dir {data_dir}: exists and is not a directory")
        try:
            os.makedirs(data_dir, exist_ok=True)
        except OSError as exc:
            raise InputError(f"--data-dir {data_dir}: cannot create: {exc.strerror or exc}") from exc
        store = cls(data_dir)
        for resource, name in FILES.items():
            path = os.path.join(data_dir, name)
            if not os.path.exists(path):
                continue
            try:
                series = merge_series(read_matrix_file(path, resource=resource))
            except InputError as exc:
                raise InputError(exc.message, hint=f"move {path} away to start a new history there") from exc
            for s in series:
                store.data[resource][(s.namespace, s.pod, s.container)] = _Series(
                    [float(t) for t in s.timestamps.tolist()], [float(v) for v in s.values.tolist()]
                )
        return store

    def add(self, samples: Sequence[Sample]) -> int:
        """Append samples newer than each series' last point; returns points added (per resource)."""
        added = 0
        for s in samples:
            key = (s.namespace, s.pod, s.container)
            fresh = False
            pairs: tuple[tuple[Resource, float], ...] = (("cpu", s.cpu), ("memory", s.memory))
            for resource, value in pairs:
                series = self.data[resource].setdefault(key, _Series())
                if series.ts and s.timestamp <= series.ts[-1]:
                    continue
                series.ts.append(s.timestamp)
                series.vs.append(value)
                fresh = True
            added += fresh
        return added

    def newest(self) -> float | None:
        last = [s.ts[-1] for by_key in self.data.values() for s in by_key.values() if s.ts]
        return max(last) if last else None

    def prune(self, retention: float, max_points: int, now: float | None = None) -> dict[Resource, int]:
        """Drop points older than `now - retention` (now: the newest point) and over `max_points`.

        Returns the points dropped per file.
        """
        dropped: dict[Resource, int] = {"cpu": 0, "memory": 0}
        now = self.newest() if now is None else now
        if now is None:
            return dropped
        cutoff = now - retention
        for resource, by_key in self.data.items():
            for key in list(by_key):
                s = by_key[key]
                cut = bisect.bisect_left(s.ts, cutoff)
                cut = max(cut, len(s.ts) - max_points)
                if cut > 0:
                    dropped[resource] += cut
                    del s.ts[:cut]
                    del s.vs[:cut]
                if not s.ts:
                    del by_key[key]
        return dropped

    def counts(self) -> tuple[int, int]:
        """(series, points) of the cpu file (memory holds the same containers)."""
        cpu = self.data["cpu"]
        return len(cpu), sum(len(s.ts) for s in cpu.values())

    def series(self, resource: Resource) -> list[ContainerSeries]:
        import numpy as np

        return [
            ContainerSeries(
                namespace=k[0],
                pod=k[1],
                container=k[2],
                resource=resource,
                timestamps=np.asarray(s.ts, dtype=np.float64),
                values=np.asarray(s.vs, dtype=np.float64),
            )
            for k, s in sorted(self.data[resource].items())
        ]

    def save(self) -> None:
        """Write both files atomically (temporary file in DIR, fsync, rename)."""
        from aiops.metrics.promfile import dump_matrix

        for resource, name in FILES.items():
            _atomic_write(os.path.join(self.data_dir, name), dump_matrix(self.series(resource)))


def _atomic_write(path: str, data: bytes) -> None:
    directory = os.path.dirname(path) or "."
    tmp = os.path.join(directory, f".{os.path.basename(path)}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise InputError(f"{path}: cannot write: {exc.strerror or exc}") from exc
    try:  # make the rename itself durable; not every filesystem allows opening a directory
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ---- the cluster --------------------------------------------------------------------------------


class MetricsApi:
    """Reads PodMetrics through the official client; raw JSON, bounded retries (urllib3)."""

    def __init__(
        self,
        *,
        kubeconfig: str | None = None,
        context: str | None = None,
        retries: int = 3,
        backoff: float = 0.5,
        timeout: float = 15.0,
    ) -> None:
        self.kubeconfig = kubeconfig
        self.context = context
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self._api: Any = None
        self.endpoint = "the cluster"

    def connect(self) -> Any:
        """Load the kubeconfig (or in-cluster config) once; a bad one is an `InputError`."""
        if self._api is not None:
            return self._api
        from kubernetes.client import CustomObjectsApi
        from urllib3.util.retry import Retry

        retry = Retry(
            total=self.retries,
            connect=self.retries,
            read=self.retries,
            status=self.retries,
            backoff_factor=self.backoff,
            status_forcelist=(429, 500, 502, 503, 504),
            allowed_methods=frozenset({"GET"}),
            raise_on_status=False,
        )
        conn = connect(self.kubeconfig, self.context, retries=retry)
        self.endpoint = conn.endpoint
        self._api = CustomObjectsApi(conn.client)
        return self._api

    def read(self, namespaces: Sequence[str]) -> tuple[list[Sample], int]:
        """Samples of every pod in `namespaces` (empty: all namespaces), and unusable containers."""
        api = self.connect()
        samples: list[Sample] = []
        unusable = 0
        scopes: list[str | None] = list(namespaces) if namespaces else [None]
        for ns in scopes:
            path = (
                f"/apis/{GROUP}/{VERSION}/namespaces/{ns}/{PLURAL}"
                if ns
                else f"/apis/{GROUP}/{VERSION}/{PLURAL}"
            )
            body = self._get(api, ns, path)
            got, bad = parse_pod_metrics(
                body, source=f"cluster {self.endpoint}: GET {path}", fallback_time=time.time()
            )
            samples.extend(got)
            unusable += bad
        return samples, unusable

    def _get(self, api: Any, namespace: str | None, path: str) -> bytes:
        import urllib3
        from kubernetes.client.exceptions import ApiException

        try:
            if namespace:
                resp = api.list_namespaced_custom_object(
                    GROUP, VERSION, namespace, PLURAL, _preload_content=False, _request_timeout=self.timeout
                )
            else:
                resp = api.list_cluster_custom_object(
                    GROUP, VERSION, PLURAL, _preload_content=False, _request_timeout=self.timeout
                )
            return bytes(resp.data)
        except ApiException as exc:
            status = int(exc.status or 0)
            message = _status_message(exc.body) or str(exc.reason or "")
            hint = None
            if status == 404:
                hint = "metrics.k8s.io is not served: install metrics-server "
                hint += "(minikube addons enable metrics-server)"
            elif status in (401, 403):
                hint = "the collector needs get/list on pods.metrics.k8s.io"
            raise UnreachableError(
                f"cluster {self.endpoint}: GET {path}: HTTP {status} {message}".rstrip(), hint=hint
            ) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise UnreachableError(
                f"cluster {self.endpoint} unreachable: GET {path}: {_io_reason(exc)}",
                hint="check that the cluster is up (kubectl cluster-info)",
            ) from None


def _status_message(body: Any) -> str:
    import orjson

    if not body:
        return ""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return " ".join(str(body)[:200].split())
    if isinstance(doc, dict) and doc.get("message"):
        return " ".join(str(doc["message"]).split())[:300]
    return ""


def _io_reason(exc: BaseException) -> str:
    inner = getattr(exc, "reason", None)
    reason = inner if isinstance(inner, BaseException) else exc
    text = str(reason).lower()
    if "refused" in text:
        return "connection refused"
    if "timed out" in text or "timeout" in text:
        return "timed out"
    if "name or service not known" in text or "nodename nor servname" in text or "resolution" in text:
        return "DNS lookup failed"
    return type(reason).__name__


# ---- the loop -----------------------------------------------------------------------------------


class MetricsReader(Protocol):
    """Where samples come from (a `MetricsApi`; tests may pass another)."""

    endpoint: str

    def read(self, namespaces: Sequence[str]) -> tuple[list[Sample], int]: ...


@dataclass(frozen=True)
class CollectSummary:
    samples: int
    failures: int
    series: int
    points: int


def max_points_for(retention: float, interval: float) -> int:
    return math.ceil(retention / interval) + 1


def collect(
    data_dir: str,
    *,
    api: MetricsReader,
    namespaces: Sequence[str],
    interval: float = DEFAULT_INTERVAL,
    retention: float = DEFAULT_RETENTION,
    count: int | None = None,
    echo: Callable[[str], None] = print,
    warn: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> CollectSummary:
    """Sample `count` times (None: until interrupted), `interval` apart; save after every sample."""
    warn = warn or echo
    store = UsageStore.open(data_dir)
    max_points = max_points_for(retention, interval)
    series, points = store.counts()
    scope = ", ".join(namespaces) if namespaces else "all namespaces"
    resumed = f"resuming {series} series, {points} points" if series else "starting a new history"
    every = f"every {interval:g}s, keeping {_span(retention)}"
    echo(f"collect: {data_dir}: {resumed}; PodMetrics of {scope} {every}")
    done = failures = 0
    while count is None or done < count:
        started = clock()
        try:
            samples, unusable = api.read(namespaces)
        except AiopsError as exc:
            if done == 0 and failures == 0:
                raise
            failures += 1
            warn(f"collect: sample failed, will retry next interval: {exc.one_line()}")
        else:
            added = store.add(samples)
            dropped = store.prune(retention, max_points)
            store.save()
            series, points = store.counts()
            newest = store.newest()
            at = format_time(datetime.fromtimestamp(newest, UTC)) if newest is not None else "-"
            pods = len({(s.namespace, s.pod) for s in samples})
            extra = f", {unusable} without usage" if unusable else ""
            echo(
                f"collect: #{done + 1} {at}: {len(samples)} containers in {pods} pods, {added} new"
                f"{extra}; kept {series} series, {points} points, dropped {dropped['cpu']} (per file)"
            )
        done += 1
        if count is not None and done >= count:
            break
        sleep(max(0.0, interval - (clock() - started)))
    series, points = store.counts()
    return CollectSummary(samples=done - failures, failures=failures, series=series, points=points)


def _span(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
