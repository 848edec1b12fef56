"""`ClusterWatch`: list+watch streams over the official `kubernetes` client, kept in an object store.

Pods, events, deployments and replicasets are listed once and then watched from the list's
`resourceVersion` (one stream per kind and namespace scope, each in its own thread); the kinds the
analyzers only read for context (ConfigMaps, Services, nodes, ...) are listed again every
`resync_seconds`. A watch that ends normally (server timeout) resumes from the last version seen;
a dropped connection resumes the same way after a bounded exponential back-off; `410 Gone` (the
version was compacted away) re-lists the kind and reports what changed meanwhile. Every change
lands in `changes` (a queue of `Change`) and in the `ObjectStore`, from which `snapshot()` builds a
`Snapshot` of some namespaces at the API server's clock.

Read-only: GET list/watch calls and previous-container logs; never Secrets, never a write.
Responses are taken raw (`_preload_content=False`, JSON parsed with orjson). `kubernetes` and
`urllib3` are imported lazily.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

from aiops.errors import UnreachableError
from aiops.kube import connect
from aiops.model import Snapshot
from aiops.model.k8s import K8sObject
from aiops.model.kinds import ResourceKind, events_field_selector

__all__ = ["KINDS", "Change", "ClusterWatch", "ObjectStore", "WatchStats", "WatchedKind"]


WatchedKind = ResourceKind
"""A resource the watcher keeps: watched (a stream) or, with `watch=False`, only re-listed."""


KINDS: tuple[WatchedKind, ...] = (
    WatchedKind("v1", "pods", "Pod"),
    WatchedKind("v1", "events", "Event"),
    WatchedKind("apps/v1", "deployments", "Deployment"),
    WatchedKind("apps/v1", "replicasets", "ReplicaSet"),
    # context for the analyzers (config keys, endpoints, nodes, claims, autoscalers): re-listed
    WatchedKind("apps/v1", "statefulsets", "StatefulSet", watch=False),
    WatchedKind("apps/v1", "daemonsets", "DaemonSet", watch=False),
    WatchedKind("batch/v1", "jobs", "Job", watch=False),
    WatchedKind("v1", "services", "Service", watch=False),
    WatchedKind("v1", "endpoints", "Endpoints", watch=False),
    WatchedKind("v1", "persistentvolumeclaims", "PersistentVolumeClaim", watch=False),
    WatchedKind("v1", "configmaps", "ConfigMap", watch=False),
    WatchedKind("autoscaling/v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", watch=False),
    WatchedKind("v1", "nodes", "Node", namespaced=False, watch=False),
)

_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


def _selector(kind: WatchedKind) -> list[tuple[str, str]]:
    """Events are listed and watched without the routine lifecycle reasons no analyzer reads
    (`aiops.model.kinds.ROUTINE_EVENT_REASONS`), as the live source reads them."""
    return [("fieldSelector", events_field_selector())] if kind.kind == "Event" else []


@dataclass(frozen=True)
class Change:
    """One object changed (ADDED/MODIFIED/DELETED), or a kind was re-listed and this object differs."""

    kind: str
    namespace: str
    name: str
    type: str
    received: float  # time.monotonic() when it arrived


class _Transient(Exception):
    """A connection problem or 5xx: retry after a back-off."""


class _Gone(Exception):
    """410: the resourceVersion is too old; re-list."""


class _Refused(Exception):
    """403/404 on a kind: give that kind up (noted)."""


class ObjectStore:
    """Objects by (kind, namespace, name), thread-safe; versions compared on re-list."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._objects: dict[tuple[str, str, str], K8sObject] = {}

    def apply(self, kind: str, event_type: str, obj: K8sObject) -> tuple[str, str]:
        md = obj.get("metadata") or {}
        key = (kind, str(md.get("namespace") or ""), str(md.get("name") or ""))
        with self._lock:
            if event_type == "DELETED":
                self._objects.pop(key, None)
            else:
                self._objects[key] = obj
        return key[1], key[2]

    def replace(self, kind: str, namespace: str | None, items: Iterable[K8sObject]) -> list[tuple[str, str]]:
        """Set every `kind` object of the scope (`namespace` None = all); the (ns, name) that differ."""
        fresh: dict[tuple[str, str, str], K8sObject] = {}
        for obj in items:
            md = obj.get("metadata") or {}
            fresh[(kind, str(md.get("namespace") or ""), str(md.get("name") or ""))] = obj
        changed: list[tuple[str, str]] = []
        with self._lock:
            old = {
                k: v
                for k, v in self._objects.items()
                if k[0] == kind and (namespace is None or k[1] == namespace)
            }
            for k in old.keys() - fresh.keys():
                del self._objects[k]
                changed.append((k[1], k[2]))
            for k, obj in fresh.items():
                before = old.get(k)
                if before is None or _rv(before) != _rv(obj) or not _rv(obj):
                    changed.append((k[1], k[2]))
                self._objects[k] = obj
        return changed

    def items(self, namespaces: Iterable[str] | None = None) -> list[K8sObject]:
        """Objects of these namespaces plus every cluster-scoped one (None = everything)."""
        wanted = set(namespaces) if namespaces is not None else None
        with self._lock:
            return [o for k, o in self._objects.items() if wanted is None or not k[1] or k[1] in wanted]

    def namespaces(self) -> set[str]:
        with self._lock:
            return {k[1] for k in self._objects if k[1]}

    def __len__(self) -> int:
        with self._lock:
            return len(self._objects)


@dataclass
class WatchStats:
    """Counters the metrics endpoint reads; updated by the stream threads under `lock`."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    events: int = 0
    restarts: dict[str, int] = field(default_factory=dict)  # reason → count (error, gone)
    relists: int = 0
    last_event_at: float | None = None  # wall clock, seconds since the epoch
    streams_up: int = 0
    streams: int = 0

    def count_restart(self, reason: str) -> None:
        with self.lock:
            self.restarts[reason] = self.restarts.get(reason, 0) + 1

    def count_event(self) -> None:
        with self.lock:
            self.events += 1
            self.last_event_at = time.time()


@dataclass
class ClusterWatch:
    """Lists, then watches, a cluster; `start()` returns once the first lists are in."""

    kubeconfig: str | None = None
    context: str | None = None
    namespaces: Sequence[str] | None = None  # None = all namespaces
    kinds: tuple[WatchedKind, ...] = KINDS
    resync_seconds: float = 300.0
    watch_timeout: int = 290  # server-side timeoutSeconds of each watch request
    backoff: float = 0.5
    backoff_max: float = 30.0
    request_timeout: float = 15.0
    page_limit: int = 500
    log_tail: int = 80

    def __post_init__(self) -> None:
        self.store = ObjectStore()
        self.changes: queue.Queue[Change] = queue.Queue()
        self.stats = WatchStats()
        self.notes: list[str] = []
        self.endpoint = "the cluster"
        self.cluster: str | None = None
        self._client: Any = None
        self._offset = timedelta(0)  # API server clock − local clock
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._open: set[Any] = set()
        self._open_lock = threading.Lock()
        self._rvs: dict[tuple[str, str | None], str | None] = {}
        self._watching = 0
        self._given_up: set[str] = set()

    # ---- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        """Connect, list every kind once (raises `UnreachableError` when that fails), start streams."""
        self._connect()
        self._probe()
        for kind, ns in self._scopes():
            try:
                self._rvs[(kind.kind, ns)] = self._relist(kind, ns, report=False)
            except _Refused as exc:
                self.notes.append(str(exc))
                continue
            except (_Transient, _Gone) as exc:
                raise UnreachableError(
                    f"cluster {self.endpoint}: listing {kind.plural} failed: {exc}",
                    hint="check that the cluster is up and reachable (kubectl cluster-info)",
                ) from None
            thread = threading.Thread(
                target=self._run, args=(kind, ns), name=f"watch-{kind.plural}-{ns or 'all'}", daemon=True
            )
            self._threads.append(thread)
        with self.stats.lock:
            self.stats.streams = len(self._threads)
        self._watching = sum(1 for kind, ns in self._scopes() if kind.watch and (kind.kind, ns) in self._rvs)
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop every stream: open responses are shut down so blocked reads return at once."""
        self._stop.set()
        with self._open_lock:
            responses = list(self._open)
        for resp in responses:
            _shutdown(resp)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def alive(self) -> bool:
        """Every stream thread still runs (health)."""
        with self.stats.lock:
            given_up = set(self._given_up)
        return not self._stop.is_set() and all(t.is_alive() or t.name in given_up for t in self._threads)

    def ready(self) -> bool:
        """Listed, and every watch stream is connected (readiness)."""
        if not self._threads or not self.alive():
            return False
        with self.stats.lock:
            return self.stats.streams_up >= self._watching

    def now(self) -> datetime:
        """The API server's clock (its `Date` header at connect, carried forward)."""
        return datetime.now(UTC) + self._offset

    def snapshot(
        self, namespaces: Iterable[str] | None = None, logs: dict[str, str] | None = None
    ) -> Snapshot:
        return Snapshot(
            items=tuple(self.store.items(namespaces)),
            at=self.now(),
            logs=logs or {},
            sources=(self.endpoint,),
            notes=tuple(self.notes),
            cluster=self.cluster,
        )

    def previous_log(self, namespace: str, pod: str, container: str) -> str | None:
        """The previous instance's last lines, or None (no previous instance, forbidden, unreachable)."""
        path = f"/api/v1/namespaces/{quote(namespace, safe='')}/pods/{quote(pod, safe='')}/log"
        query = [("container", container), ("previous", "true"), ("tailLines", str(self.log_tail))]
        try:
            status, body = self._get(path, query)
        except _Transient:
            return None
        return body.decode("utf-8", errors="replace") if status == 200 else None

    # ---- connection --------------------------------------------------------------------
    def _connect(self) -> None:
        conn = connect(self.kubeconfig, self.context, pool_size=2 * len(self.kinds) + 4)
        self.cluster = conn.cluster
        self.endpoint = conn.endpoint
        self._client = conn.client

    def _request(self, path: str, query: Sequence[tuple[str, str]], timeout: Any) -> Any:
        """One raw GET; the urllib3 response (not read). Connection problems → `_Transient`."""
        import urllib3
        from kubernetes.client.exceptions import ApiException

        try:
            params = self._client.param_serialize(
                method="GET",
                resource_path=path,
                query_params=list(query),
                header_params={"Accept": "application/json, */*"},
                auth_settings=["BearerToken"],
            )
            return self._client.call_api(*params, _request_timeout=timeout).response
        except (urllib3.exceptions.HTTPError, ApiException, OSError) as exc:
            raise _Transient(_describe(exc)) from None

    def _get(self, path: str, query: Sequence[tuple[str, str]] = ()) -> tuple[int, bytes]:
        import urllib3

        resp = self._request(path, query, self.request_timeout)
        try:
            body = resp.data
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise _Transient(_describe(exc)) from None
        finally:
            resp.release_conn()
        status = int(resp.status)
        if status in _RETRY_STATUS:
            raise _Transient(f"GET {path}: HTTP {status}")
        if status == 401:
            raise UnreachableError(f"cluster {self.endpoint}: credentials rejected (401 Unauthorized)")
        return status, body

    def _probe(self) -> None:
        attempts = 4
        for attempt in range(attempts):
            try:
                resp = self._request("/version", (), self.request_timeout)
                date = resp.headers.get("Date")
                resp.drain_conn()  # the body must be read before the connection is reused
                resp.release_conn()
                if date:
                    try:
                        server = parsedate_to_datetime(date).astimezone(UTC)
                        self._offset = server - datetime.now(UTC)
                        if abs(self._offset) < timedelta(seconds=2):
                            self._offset = timedelta(0)  # the header has 1 s resolution: same clock
                    except (TypeError, ValueError):
                        pass
                return
            except _Transient as exc:
                if attempt == attempts - 1:
                    raise UnreachableError(
                        f"cluster {self.endpoint}: GET /version failed after {attempts} attempts: {exc}",
                        hint="check that the cluster is up and reachable (kubectl cluster-info)",
                    ) from None
                time.sleep(self.backoff * 2**attempt)

    # ---- streams -----------------------------------------------------------------------
    def _scopes(self) -> list[tuple[WatchedKind, str | None]]:
        out: list[tuple[WatchedKind, str | None]] = []
        for kind in self.kinds:
            if not kind.namespaced or self.namespaces is None:
                out.append((kind, None))
            else:
                out.extend((kind, ns) for ns in self.namespaces)
        return out

    def _relist(self, kind: WatchedKind, namespace: str | None, *, report: bool = True) -> str:
        """List the scope (all pages), replace it in the store, queue what changed; the list's version."""
        import orjson

        path = kind.path(namespace)
        items: list[K8sObject] = []
        token = ""
        version = ""
        while True:
            query = [("limit", str(self.page_limit))] + ([("continue", token)] if token else [])
            query += _selector(kind)
            status, body = self._get(path, query)
            if status == 410 and token:
                token, items = "", []
                continue
            if status in (403, 404):
                raise _Refused(f"cannot list {kind.plural} ({kind.group_version}): HTTP {status}")
            if status != 200:
                raise _Transient(f"GET {path}: HTTP {status}")
            try:
                doc = orjson.loads(body)
            except orjson.JSONDecodeError:
                raise _Transient(f"GET {path}: the body is not JSON") from None
            for item in doc.get("items") or ():
                if isinstance(item, dict):
                    item.setdefault("kind", kind.kind)
                    item.setdefault("apiVersion", kind.group_version)
                    items.append(item)
            meta = doc.get("metadata") or {}
            version = str(meta.get("resourceVersion") or "")
            token = str(meta.get("continue") or "")
            if not token:
                break
        changed = self.store.replace(kind.kind, namespace, items)
        with self.stats.lock:
            self.stats.relists += 1
        if report:
            now = time.monotonic()
            for ns, name in changed:
                self.changes.put(Change(kind.kind, ns, name, "RELIST", now))
        return version

    def _run(self, kind: WatchedKind, namespace: str | None) -> None:
        version = self._rvs.get((kind.kind, namespace))
        failures = 0
        while not self._stop.is_set():
            try:
                if version is None:
                    version = self._relist(kind, namespace)
                if not kind.watch:
                    if self._stop.wait(self.resync_seconds):
                        return
                    version = None
                    continue
                version = self._watch_once(kind, namespace, version)
                failures = 0
            except _Gone:
                self.stats.count_restart("gone")
                version = None
            except _Refused as exc:  # 403/404 later on (RBAC changed): that kind is given up, noted
                self.notes.append(str(exc))
                with self.stats.lock:
                    self._given_up.add(threading.current_thread().name)
                    if kind.watch:
                        self._watching -= 1
                return
            except (_Transient, UnreachableError):
                if self._stop.is_set():
                    return
                failures += 1
                self.stats.count_restart("error")
                self._stop.wait(min(self.backoff_max, self.backoff * 2 ** min(failures - 1, 16)))

    def _watch_once(self, kind: WatchedKind, namespace: str | None, version: str) -> str:
        """One watch request from `version`; returns the last version seen when the stream ends."""
        import orjson
        import urllib3

        query = [
            ("watch", "true"),
            ("resourceVersion", version),
            ("timeoutSeconds", str(self.watch_timeout)),
            ("allowWatchBookmarks", "true"),
            *_selector(kind),
        ]
        resp = self._request(kind.path(namespace), query, (self.request_timeout, self.watch_timeout + 30))
        status = int(resp.status)
        if status != 200:
            body = resp.data
            resp.release_conn()
            if status == 410:
                raise _Gone(f"HTTP 410 on watch of {kind.plural}")
            if status in (403, 404):
                raise _Refused(f"cannot watch {kind.plural} ({kind.group_version}): HTTP {status}")
            raise _Transient(f"watch {kind.plural}: HTTP {status}: {body[:200]!r}")
        with self._open_lock:
            self._open.add(resp)
        with self.stats.lock:
            self.stats.streams_up += 1
        try:
            for line in _lines(resp):
                if self._stop.is_set():
                    break
                if not line.strip():
                    continue
                try:
                    event = orjson.loads(line)
                except orjson.JSONDecodeError:
                    raise _Transient(f"watch {kind.plural}: a line that is not JSON") from None
                etype = str(event.get("type") or "")
                obj = event.get("object") or {}
                if etype == "ERROR":
                    if int(obj.get("code") or 0) == 410:
                        raise _Gone(str(obj.get("message") or "410 Gone"))
                    raise _Transient(f"watch {kind.plural}: {obj.get('message') or 'ERROR event'}")
                new_version = str((obj.get("metadata") or {}).get("resourceVersion") or "")
                if new_version:
                    version = new_version
                if etype == "BOOKMARK" or etype not in ("ADDED", "MODIFIED", "DELETED"):
                    continue
                obj.setdefault("kind", kind.kind)
                obj.setdefault("apiVersion", kind.group_version)
                ns, name = self.store.apply(kind.kind, etype, obj)
                self.stats.count_event()
                self.changes.put(Change(kind.kind, ns, name, etype, time.monotonic()))
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            if not self._stop.is_set():
                raise _Transient(f"watch {kind.plural} cut: {_describe(exc)}") from None
        finally:
            with self.stats.lock:
                self.stats.streams_up -= 1
            with self._open_lock:
                self._open.discard(resp)
            resp.release_conn()
        return version


def _lines(resp: Any) -> Iterator[str]:
    from kubernetes.watch.watch import iter_resp_lines

    yield from iter_resp_lines(resp)  # type: ignore[no-untyped-call]


def _shutdown(resp: Any) -> None:
    with contextlib.suppress(Exception):  # already closed, or an urllib3 older than 2.3
        resp.shutdown()  # unblocks a read in another thread
    with contextlib.suppress(Exception):
        resp.close()


def _rv(obj: K8sObject) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


def _describe(exc: BaseException) -> str:
    inner = getattr(exc, "reason", None)
    reason = inner if isinstance(inner, BaseException) else exc
    text = " ".join(str(reason).split())
    low = text.lower()
    if "refused" in low:
        return "connection refused"
    if "timed out" in low or "timeout" in low:
        return "timed out"
    return f"{type(reason).__name__}: {text}"[:200]
