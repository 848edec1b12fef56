"""`LiveSource`: a `Snapshot` read from a live API server with the official `kubernetes` client.

Read-only: only GET list calls for the kinds of DESIGN §4.1 (+ metrics.k8s.io PodMetrics) and pod
logs; Secrets are never requested. The official client loads the kubeconfig (or in-cluster config)
and owns the connection pool (TLS, client certificates, proxy); requests go through that pool, and
responses are taken raw (JSON parsed with orjson) instead of typed models, which cost ~8× here.
Lists are paginated with `limit`/`continue`, scoped to the given namespaces (all when None), and run
concurrently in bounded thread pools, in a forked reader process where that is safe
(`aiops.cluster.fetchers`: requests and parsing then use two cores); each page is parsed here as it
arrives. Events are listed without the routine lifecycle reasons no analyzer reads
(`aiops.model.kinds.ROUTINE_EVENT_REASONS`: Scheduled, Pulled, Started, ...), server-side, which
halves what a diagnosis reads. Previous-container logs are fetched only for crashing containers
(restarted and in back-off or terminated recently), with a bounded tail, concurrently, starting with
the first page of pods. The kubeconfig's token-refresh hook runs at most every TOKEN_RECHECK seconds
(and after a 401), not per request.

Failures: 5xx, 429, timeouts and connection errors are retried a bounded number of times, then
raise `UnreachableError` (exit 3) naming the endpoint; a 403 (or 404) on one kind becomes a note,
not a failure; PodMetrics and logs are optional (problems become notes). Kubeconfig problems raise
`InputError` naming the flag. The snapshot is judged at the API server's clock (its `Date` header)
unless `at` is given. `kubernetes` is imported lazily; this module never writes to the cluster.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from aiops.cluster.fetchers import ForkedFetcher, LogKey, LogResult, ReaderGone, ThreadFetcher, can_fork
from aiops.errors import UnreachableError
from aiops.kube import connect
from aiops.model import Snapshot, parse_time
from aiops.model.k8s import K8sObject
from aiops.model.kinds import ResourceKind, events_field_selector

__all__ = ["KINDS", "LiveSource", "ResourceKind", "crashing_containers"]


# DESIGN §4.1, in that order, + PodMetrics. Never Secrets.
KINDS: tuple[ResourceKind, ...] = (
    ResourceKind("v1", "pods", "Pod"),
    ResourceKind("v1", "events", "Event"),
    ResourceKind("apps/v1", "deployments", "Deployment"),
    ResourceKind("apps/v1", "replicasets", "ReplicaSet"),
    ResourceKind("apps/v1", "statefulsets", "StatefulSet"),
    ResourceKind("apps/v1", "daemonsets", "DaemonSet"),
    ResourceKind("batch/v1", "jobs", "Job"),
    ResourceKind("v1", "services", "Service"),
    ResourceKind("v1", "endpoints", "Endpoints"),
    ResourceKind("v1", "persistentvolumeclaims", "PersistentVolumeClaim"),
    ResourceKind("v1", "nodes", "Node", namespaced=False),
    ResourceKind("autoscaling/v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler"),
    ResourceKind("v1", "configmaps", "ConfigMap"),
    ResourceKind("v1", "namespaces", "Namespace", namespaced=False),
    ResourceKind("v1", "serviceaccounts", "ServiceAccount"),
    ResourceKind("rbac.authorization.k8s.io/v1", "roles", "Role"),
    ResourceKind("rbac.authorization.k8s.io/v1", "rolebindings", "RoleBinding"),
    ResourceKind("rbac.authorization.k8s.io/v1", "clusterroles", "ClusterRole", namespaced=False),
    ResourceKind(
        "rbac.authorization.k8s.io/v1", "clusterrolebindings", "ClusterRoleBinding", namespaced=False
    ),
    ResourceKind("networking.k8s.io/v1", "networkpolicies", "NetworkPolicy"),
    ResourceKind("networking.k8s.io/v1", "ingresses", "Ingress"),
    ResourceKind("metrics.k8s.io/v1beta1", "pods", "PodMetrics", optional=True),
)

_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_CRASH_WAITING = frozenset({"CrashLoopBackOff", "RunContainerError", "CreateContainerError"})
RECENT = timedelta(hours=1)
TOKEN_RECHECK = 5.0  # seconds between token-expiry checks (the client would check per request)


class _HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class _Task:
    kind: ResourceKind
    namespace: str | None
    field_selector: str | None = None


@dataclass
class _Calls:
    """`LiveSource`'s request code, as a fetcher calls it (`fetchers.Requests`)."""

    source: LiveSource
    tasks: list[_Task]

    def fetch_list(self, i: int, token: str, deliver: Callable[[bytes, bool], None]) -> str | None:
        return self.source._fetch_pages(self.tasks[i], token, deliver)

    def fetch_log(self, key: LogKey) -> LogResult:
        return self.source._fetch_log(key)

    def forget_connections(self) -> None:
        self.source._client.rest_client.pool_manager.clear()


@dataclass
class LiveSource:
    """Reads a live cluster. `namespaces=None` reads every namespace (`-A`)."""

    kubeconfig: str | None = None
    context: str | None = None
    namespaces: Sequence[str] | None = None
    at: datetime | None = None
    log_tail: int = 80
    log_limit_bytes: int = 64 * 1024
    page_limit: int = 500
    workers: int = 6
    log_workers: int = 16  # log reads go through the kubelet: latency-bound, not CPU-bound
    retries: int = 3
    backoff: float = 0.2
    timeout: float = 15.0
    kinds: tuple[ResourceKind, ...] = KINDS
    fork: bool | None = None  # requests in a forked reader process; None: where safe (can_fork)

    def __post_init__(self) -> None:
        self._client: Any = None
        self._endpoint = "the cluster"
        self._cluster: str | None = None
        self._server_date: datetime | None = None
        self._host = ""
        self._headers: dict[str, str] = {}
        self._timeout: Any = None
        self._token_hook: Any = None
        self._token_checked = -float("inf")
        self._token_lock = threading.Lock()
        self._early: tuple[ForkedFetcher, list[_Task]] | None = None  # start()ed, not yet read

    # ---- public ------------------------------------------------------------------------
    def start(self) -> None:
        """Start reading now, in a reader process that loads the kubeconfig, checks the cluster
        and lists everything by itself, where one can be forked (`fork`, `can_fork`): the caller's
        own start-up then overlaps the client's (~0.3 s importing `kubernetes`), and this process
        never imports it. `read()` collects. Without `start()`, or where no fork is possible,
        `read()` does it all."""
        if self._early is not None or self._client is not None:
            return
        if not (can_fork() if self.fork is None else self.fork):
            return
        tasks = self._tasks()
        reader = ForkedFetcher(_Calls(self, tasks), self.workers, self.log_workers, setup=self._ready)
        for i in range(len(tasks)):  # queued until the reader is ready: it starts at once
            reader.start_list(i)
        self._early = (reader, tasks)

    def _ready(self) -> tuple[str, str | None, datetime | None]:
        """In a started reader: connect and probe; what the parent needs to know of it."""
        self._connect()
        self._probe()
        return self._endpoint, self._cluster, self._server_date

    def read(self) -> Snapshot:
        early, self._early = self._early, None
        if early is not None:
            try:  # the started reader's kubeconfig or probe error is raised here
                self._endpoint, self._cluster, self._server_date = early[0].hello()
            except BaseException as exc:
                early[0].cancel()
                if not isinstance(exc, ReaderGone):
                    raise
                early = None
        if early is None:
            self._connect()
            self._probe()
        at = self.at or self._server_date or datetime.now(UTC)
        notes: list[str] = []
        tasks = early[1] if early is not None else self._tasks()
        calls = _Calls(self, tasks)
        try:
            if early is not None:
                with early[0] as fetcher:
                    results, log_results = self._gather(fetcher, tasks, at, started=True)
            else:
                fork = can_fork() if self.fork is None else self.fork
                with (
                    ForkedFetcher(calls, self.workers, self.log_workers)
                    if fork
                    else self._threads(calls) as fetcher
                ):
                    results, log_results = self._gather(fetcher, tasks, at)
        except ReaderGone:  # the reader process died (killed, out of memory): read again, here
            self._connect()  # a started reader had connected for itself
            with self._threads(calls) as fetcher:
                results, log_results = self._gather(fetcher, tasks, at)
        items: list[K8sObject] = []
        seen_notes: set[str] = set()
        wanted_ns = set(self.namespaces) if self.namespaces is not None else None
        for task, res in zip(tasks, results):
            if isinstance(res, str):
                if res not in seen_notes:
                    seen_notes.add(res)
                    notes.append(res)
                continue
            if task.kind.kind == "Namespace" and wanted_ns is not None:
                res = [o for o in res if (o.get("metadata") or {}).get("name") in wanted_ns]
            items.extend(res)
        logs: dict[str, str] = {}
        failures: list[str] = []
        for key, text, err in log_results:
            if text is not None:
                logs[key] = text
            elif err is not None:
                failures.append(f"{key} ({err})")
        if failures:
            shown = ", ".join(failures[:3]) + (f" and {len(failures) - 3} more" if len(failures) > 3 else "")
            notes.append(f"previous logs could not be read for {len(failures)} container(s): {shown}")
        return Snapshot(
            items=tuple(items),
            at=at,
            logs=logs,
            sources=(self._endpoint,),
            notes=tuple(notes),
            cluster=self._cluster,
        )

    def _threads(self, calls: _Calls) -> ThreadFetcher:
        return ThreadFetcher(calls, self.workers, self.log_workers)

    def _gather(
        self,
        fetcher: ThreadFetcher | ForkedFetcher,
        tasks: list[_Task],
        at: datetime,
        *,
        started: bool = False,
    ) -> tuple[list[list[K8sObject] | str], list[LogResult]]:
        """Every list's items (or the note replacing it) and the previous logs of crashing pods.

        The fetcher's workers fetch pages (the GIL is free while they wait on the server) and hand
        each one over as it arrives; this thread parses it at once and starts the previous-log
        fetches of a page's crashing pods while the next pages are still on their way."""
        results: list[list[K8sObject] | str] = [[] for _ in tasks]
        for i in range(len(tasks) if not started else 0):
            fetcher.start_list(i)
        running = len(tasks)
        while running:
            i, msg, last = fetcher.next_message()
            task = tasks[i]
            if isinstance(msg, BaseException):  # UnreachableError (after retries): stop here,
                fetcher.cancel()  # not after the queued reads
                raise msg
            if msg is None or isinstance(msg, str):  # the list is complete, or a note replaces it
                running -= 1
                if isinstance(msg, str):
                    results[i] = msg
                continue
            if not msg:  # the list started again (its continue token expired): drop what came
                results[i] = []
                continue
            page, token = self._parse_page(task, msg, last)
            listed = results[i]
            if isinstance(listed, list):
                listed.extend(page)
            if token:  # the fetcher stopped, but the page goes on (its head hid the token): go on
                running += 1
                fetcher.start_list(i, token)
            if task.kind.kind == "Pod":
                fetcher.fetch_logs(crashing_containers(page, at))
        return results, fetcher.log_results()

    # ---- connection --------------------------------------------------------------------
    def _connect(self) -> None:
        if self._client is not None:
            return
        import urllib3

        # the client's retries stay 0: ours are bounded, with back-off, on 5xx and timeouts too
        conn = connect(
            self.kubeconfig,
            self.context,
            pool_size=max(self.workers, self.log_workers, 4),
            hint="pass --kubeconfig FILE / --context NAME, or --snapshot FILE to read a file",
        )
        self._cluster = conn.cluster
        self._endpoint = self._host = conn.endpoint
        self._client = conn.client
        self._headers = {
            **self._client.default_headers,
            "Accept": "application/json, */*",
            "User-Agent": self._client.user_agent,
        }
        self._timeout = urllib3.Timeout(total=self.timeout)

    def _get(self, path: str, query: Sequence[tuple[str, str]] = ()) -> tuple[bytes, Any]:
        """GET with bounded retries; returns (body, headers) or raises _HttpError / UnreachableError."""
        import urllib3

        url = self._host + path + ("?" + urlencode(query) if query else "")
        last = ""
        rechecked = False
        for attempt in range(self.retries + 1):
            if attempt and not rechecked:
                time.sleep(self.backoff * (2 ** (attempt - 1)))
            self._check_token(force=rechecked)
            rechecked = False
            headers = dict(self._headers)
            for auth in self._client.configuration.auth_settings().values():
                if auth.get("in") == "header" and auth.get("value"):
                    headers[auth["key"]] = auth["value"]
            resp = None
            try:
                # the client's own pool manager (its TLS, client certificates and proxy), called
                # directly: the generated request layer above it cost ~0.2 ms a request here
                resp = self._client.rest_client.pool_manager.request(
                    "GET", url, headers=headers, preload_content=False, retries=False, timeout=self._timeout
                )
                body = resp.read()
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                last = _describe_io_error(exc)
                continue
            finally:
                if resp is not None:
                    resp.release_conn()
            status = int(resp.status)
            if 200 <= status < 300:
                return body, resp.headers
            if status == 401 and self._token_hook is not None and not rechecked and attempt < self.retries:
                rechecked = True  # the token may have expired since the last check: check, try again
                continue
            message = _status_message(body) or f"HTTP {status}"
            if status in _RETRY_STATUS:
                last = f"HTTP {status}: {message}"
                continue
            raise _HttpError(status, message)
        raise UnreachableError(
            f"cluster {self._endpoint}: GET {path} failed after {self.retries + 1} attempts: {last}",
            hint="check that the cluster is up and reachable (kubectl cluster-info)",
        )

    def _check_token(self, *, force: bool = False) -> None:
        """Run the kubeconfig's token-refresh hook at most once per TOKEN_RECHECK seconds.

        The official client runs it before every request, and the kubeconfig loader's hook copies
        the whole config again, where setting `host` re-reads every proxy variable of the
        environment: ~0.25 ms a request, a tenth of a second over a diagnosis. So the hook is taken
        off the configuration and run here; an expiring token is still noticed within
        TOKEN_RECHECK seconds, and a 401 forces a check before the request is tried again."""
        cfg = self._client.configuration
        if not force and time.monotonic() - self._token_checked < TOKEN_RECHECK:
            return  # checked moments ago (no lock: 16 log readers would queue on it)
        with self._token_lock:
            hook = cfg.refresh_api_key_hook or self._token_hook
            now = time.monotonic()
            if hook is None:  # no token to refresh (client certificates): nothing to check
                self._token_checked = now
                return
            if force or now - self._token_checked >= TOKEN_RECHECK:
                hook(cfg)  # the loader's hook puts itself back on the configuration
                self._token_checked = now
            self._token_hook = cfg.refresh_api_key_hook or hook
            cfg.refresh_api_key_hook = None

    def _probe(self) -> None:
        """One cheap call first, so an unreachable cluster fails once, fast, with a clear message."""
        try:
            _, headers = self._get("/version")
        except _HttpError as exc:
            if exc.status == 401:
                raise UnreachableError(
                    f"cluster {self._endpoint}: credentials rejected (401 Unauthorized)"
                ) from None
            return  # /version may be forbidden to this identity; the lists will tell
        date = headers.get("Date") if headers is not None else None
        if date:
            try:
                from email.utils import parsedate_to_datetime  # in the reader: not this process's

                self._server_date = parsedate_to_datetime(date).astimezone(UTC)
            except (TypeError, ValueError):
                self._server_date = None

    # ---- lists -------------------------------------------------------------------------
    def _tasks(self) -> list[_Task]:
        tasks: list[_Task] = []
        for kind in self.kinds:
            selector = events_field_selector() if kind.kind == "Event" else None
            if not kind.namespaced or self.namespaces is None:
                tasks.append(_Task(kind, None, selector))
            else:
                tasks.extend(_Task(kind, ns, selector) for ns in self.namespaces)
            if kind.kind == "Event" and self.namespaces is not None and "default" not in self.namespaces:
                # node events live in `default`: keep NodeNotReady/pressure evidence when scoped
                tasks.append(_Task(kind, "default", events_field_selector("involvedObject.kind=Node")))
        return tasks

    def _fetch_pages(self, task: _Task, token: str, deliver: Callable[[bytes, bool], None]) -> str | None:
        """Every page of one list from `token` on, each raw body handed to `deliver` as it arrives,
        with whether it is the last one fetched (b"" = the list starts again: drop what came); a
        note string instead when the kind is forbidden/absent/optional. The continue token is read
        from the head of each body (the API server writes `metadata` before `items`), so parsing
        can happen elsewhere, meanwhile."""
        kind = task.kind
        path = kind.path(task.namespace)
        where = f" in namespace {task.namespace}" if task.namespace and kind.namespaced else ""
        api = kind.group_version
        while True:
            query = [("limit", str(self.page_limit))]
            if token:
                query.append(("continue", token))
            if task.field_selector:
                query.append(("fieldSelector", task.field_selector))
            try:
                body, _ = self._get(path, query)
            except _HttpError as exc:
                if exc.status == 401:
                    raise UnreachableError(
                        f"cluster {self._endpoint}: credentials rejected (401 Unauthorized) on GET {path}"
                    ) from None
                if exc.status == 410 and token:  # continue token expired: start the list again
                    token = ""
                    deliver(b"", False)
                    continue
                if exc.status == 403:
                    return f"no permission to list {kind.plural} ({api}){where}: {kind.kind} checks skipped"
                if exc.status == 404:
                    return f"{kind.plural} ({api}) is not served by this cluster: no {kind.kind} objects read"
                if kind.optional:
                    return f"{kind.plural} ({api}) could not be read: HTTP {exc.status}: {exc.message}"
                raise UnreachableError(
                    f"cluster {self._endpoint}: GET {path} answered {exc.status}: {exc.message}"
                ) from None
            except UnreachableError as exc:
                if kind.optional:
                    return f"{kind.plural} ({api}) could not be read: {exc.message}"
                raise
            nxt = _head_continue(body)
            if nxt is None:  # not sure from the head: parse it here
                nxt = str((self._loads(body, path).get("metadata") or {}).get("continue") or "")
            deliver(body, not nxt)
            if not nxt:
                return None
            token = nxt

    def _parse_page(self, task: _Task, body: bytes, last: bool) -> tuple[list[K8sObject], str]:
        """The items of one page (kind and apiVersion filled in, as a List file has them), and its
        continue token when the fetcher stopped there (`last`) though the list goes on."""
        kind, api = task.kind.kind, task.kind.group_version
        doc = self._loads(body, task.kind.path(task.namespace))
        out: list[K8sObject] = []
        for item in doc.get("items") or ():
            if isinstance(item, dict):
                item.setdefault("kind", kind)
                item.setdefault("apiVersion", api)
                out.append(item)
        token = str((doc.get("metadata") or {}).get("continue") or "")
        return out, token if last else ""

    def _loads(self, body: bytes, path: str) -> dict[str, Any]:
        import orjson

        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError:
            doc = None
        if not isinstance(doc, dict):
            raise UnreachableError(
                f"cluster {self._endpoint}: GET {path} returned a body that is not a JSON list"
            )
        return doc

    # ---- logs --------------------------------------------------------------------------
    def _fetch_log(self, key: LogKey) -> LogResult:
        """("ns/pod/container", previous log tail or None, error or None); never raises."""
        ns, pod, container = key
        path = f"/api/v1/namespaces/{quote(ns, safe='')}/pods/{quote(pod, safe='')}/log"
        query = [
            ("container", container),
            ("previous", "true"),
            ("tailLines", str(self.log_tail)),
            ("limitBytes", str(self.log_limit_bytes)),
        ]
        name = "/".join(key)
        try:
            body, _ = self._get(path, query)
        except _HttpError as exc:
            if exc.status in (400, 404):  # no previous instance (any more): nothing to read
                return name, None, None
            return name, None, f"HTTP {exc.status}"
        except UnreachableError:
            return name, None, "unreachable"
        return name, body.decode("utf-8", errors="replace"), None


def crashing_containers(items: Sequence[K8sObject], at: datetime) -> list[tuple[str, str, str]]:
    """(namespace, pod, container) of containers worth a previous-log fetch.

    Restarted at least once, and either waiting in back-off (CrashLoopBackOff, RunContainerError,
    CreateContainerError) or terminated within the last hour before `at`.
    """
    out: list[tuple[str, str, str]] = []
    since = at - RECENT
    for obj in items:
        if obj.get("kind") != "Pod":
            continue
        meta = obj.get("metadata") or {}
        status = obj.get("status") or {}
        for key in ("initContainerStatuses", "containerStatuses"):
            for cs in status.get(key) or ():
                if not isinstance(cs, dict) or not int(cs.get("restartCount") or 0):
                    continue
                waiting = ((cs.get("state") or {}).get("waiting") or {}).get("reason")
                finished = parse_time(((cs.get("lastState") or {}).get("terminated") or {}).get("finishedAt"))
                if waiting in _CRASH_WAITING or (finished is not None and finished >= since):
                    out.append((str(meta.get("namespace") or ""), str(meta.get("name")), str(cs.get("name"))))
    return out


_HEAD = 4096
_CONTINUE = re.compile(rb'"continue"\s*:\s*"([^"\\]*)"')
_ITEMS = re.compile(rb'"items"\s*:')


def _head_continue(body: bytes) -> str | None:
    """The list's continue token read from the head of the body ("" = none); None when unsure."""
    head = body[:_HEAD]
    items = _ITEMS.search(head)
    m = _CONTINUE.search(head, 0, items.start() if items else len(head))
    if m:
        return m.group(1).decode("ascii", errors="replace")
    return "" if items else None


def _status_message(body: bytes) -> str:
    import orjson

    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _one_line(body[:200].decode("utf-8", errors="replace"))
    if isinstance(doc, dict) and doc.get("message"):
        return _one_line(str(doc["message"]))
    return ""


def _describe_io_error(exc: BaseException) -> str:
    reason: BaseException = exc
    inner = getattr(exc, "reason", None)
    if isinstance(inner, BaseException):
        reason = inner
    text = str(reason)
    low = text.lower()
    if "refused" in low:
        return "connection refused"
    if "timed out" in low or "timeout" in low:
        return "timed out"
    if "name or service not known" in low or "nodename nor servname" in low or "resolution" in low:
        return "DNS lookup failed"
    return _one_line(f"{type(reason).__name__}: {text}")[:200]


def _one_line(text: str) -> str:
    return " ".join(text.split())
