"""Usage history from a live Prometheus (DESIGN §4.3): `query_range` over the HTTP API.

Runs, per namespace, `max by (namespace, pod, container) (rate(container_cpu_usage_seconds_total
{namespace="NS", container!="", container!="POD"}[5m]))` and the same for
`container_memory_working_set_bytes`, over [start, end] at step max(60 s, window / 11,000), split
into ranges of at most 11,000 points so no query hits Prometheus's per-series resolution limit.
An optional bearer token (read from the environment variable `prometheus.bearer_token_env` names)
and CA bundle (`prometheus.ca_file`) are honoured.

Failures follow DESIGN §4.7: connection refused, DNS failure, timeout or a 5xx that outlives the
bounded retries → `UnreachableError` (exit 3) naming the URL; a query answering 4xx is recorded in
`UsageData.errors` under "namespace/*" ("*/*" when every namespace is queried) so only the targets
it covers are skipped. The token is never put in a message. This module does not write files and
does not know about Kubernetes objects.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from aiops.errors import InputError, UnreachableError
from aiops.metrics.promfile import merge_series, parse_matrix
from aiops.model.usage import ContainerSeries, Resource, UsageData

MAX_POINTS = 11_000  # Prometheus rejects (end - start) / step > 11,000 per series
MIN_STEP = 60.0
RATE_WINDOW = "5m"
_SELECTOR = 'container!="",container!="POD"'


def cpu_query(namespace: str | None) -> str:
    sel = _selector(namespace)
    return (
        "max by (namespace, pod, container) "
        f"(rate(container_cpu_usage_seconds_total{{{sel}}}[{RATE_WINDOW}]))"
    )


def memory_query(namespace: str | None) -> str:
    return (
        f"max by (namespace, pod, container) (container_memory_working_set_bytes{{{_selector(namespace)}}})"
    )


def _selector(namespace: str | None) -> str:
    if not namespace:
        return _SELECTOR
    escaped = namespace.replace("\\", "\\\\").replace('"', '\\"')
    return f'namespace="{escaped}",{_SELECTOR}'


def default_step(start: float, end: float) -> float:
    """max(60 s, window / 11,000), in whole seconds."""
    return float(max(MIN_STEP, math.ceil((end - start) / MAX_POINTS)))


def chunks(start: float, end: float, step: float, max_points: int = MAX_POINTS) -> list[tuple[float, float]]:
    """Split [start, end] into consecutive ranges of at most `max_points` evaluation points each.

    Prometheus evaluates at start, start + step, …, ≤ end; the next range starts one step after the
    last point of the previous one, so no point is fetched twice.
    """
    if end < start:
        return []
    span = step * (max_points - 1)
    out: list[tuple[float, float]] = []
    s = start
    while s <= end:
        e = min(s + span, end)
        out.append((s, e))
        s = e + step
    return out


def _fmt(ts: float) -> str:
    return str(int(ts)) if float(ts).is_integer() else f"{ts:.3f}"


class PrometheusSource:
    """`UsageSource` over the Prometheus HTTP API."""

    def __init__(
        self,
        url: str,
        *,
        bearer_token: str | None = None,
        ca_file: str | None = None,
        step: float | None = None,
        timeout: float = 60.0,
        connect_timeout: float = 5.0,
        retries: int = 3,
        backoff_factor: float = 0.5,
        session: requests.Session | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.step = step
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.session = session or requests.Session()
        retry = Retry(
            total=retries,
            connect=retries,
            read=min(retries, 1),  # a query that timed out once will mostly time out again
            status=retries,
            backoff_factor=backoff_factor,
            status_forcelist=(429, 500, 502, 503, 504),
            allowed_methods=frozenset({"GET"}),
            raise_on_status=False,
            respect_retry_after_header=True,
        )
        adapter = HTTPAdapter(max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["Accept"] = "application/json"
        if bearer_token:
            self.session.headers["Authorization"] = f"Bearer {bearer_token}"
        if ca_file:
            if not os.path.isfile(ca_file):
                raise InputError(f"prometheus.ca_file: {ca_file}: no such file")
            self.session.verify = ca_file

    @classmethod
    def from_settings(cls, url: str, prometheus: Any, **kwargs: Any) -> PrometheusSource:
        """Build from the `prometheus` settings section (token env var, CA file)."""
        token = None
        env = getattr(prometheus, "bearer_token_env", None)
        if env:
            token = os.environ.get(env)
            if not token:
                raise InputError(
                    f"prometheus.bearer_token_env: environment variable {env} is not set or empty",
                    hint="export it, or remove bearer_token_env from .github/aiops.yaml",
                )
        return cls(url, bearer_token=token, ca_file=getattr(prometheus, "ca_file", None), **kwargs)

    def fetch(self, namespaces: Sequence[str], start: datetime, end: datetime) -> UsageData:
        t0, t1 = start.timestamp(), end.timestamp()
        step = self.step or default_step(t0, t1)
        scopes: list[str | None] = list(namespaces) if namespaces else [None]
        series: list[ContainerSeries] = []
        errors: dict[str, str] = {}
        queries: tuple[tuple[Resource, Any], ...] = (("cpu", cpu_query), ("memory", memory_query))
        for ns in scopes:
            key = f"{ns}/*" if ns else "*/*"
            for resource, build in queries:
                query = build(ns)
                for s, e in chunks(t0, t1, step):
                    got = self._query_range(query, s, e, step, resource)
                    if isinstance(got, str):
                        where = f"namespace {ns}" if ns else "all namespaces"
                        msg = f"Prometheus {self.url} answered {got} to the {resource} query for {where}"
                        errors[key] = f"{errors[key]}; {msg}" if key in errors else msg
                        break
                    series.extend(got)
        return UsageData(
            series=tuple(merge_series(series)),
            errors=errors,
            sources=(f"prometheus {self.url}",),
            start=start,
            end=end,
        )

    def _query_range(
        self, query: str, start: float, end: float, step: float, resource: Resource
    ) -> list[ContainerSeries] | str:
        """The series of one range query, or a one-line reason when Prometheus answered 4xx."""
        endpoint = f"{self.url}/api/v1/query_range"
        params = {"query": query, "start": _fmt(start), "end": _fmt(end), "step": _fmt(step)}
        try:
            resp = self.session.get(endpoint, params=params, timeout=(self.connect_timeout, self.timeout))
        except requests.exceptions.SSLError as exc:
            raise UnreachableError(
                f"Prometheus {self.url}: TLS verification failed",
                hint="set prometheus.ca_file to the CA bundle that signed its certificate",
            ) from exc
        except requests.exceptions.Timeout as exc:
            raise UnreachableError(
                f"Prometheus {self.url} unreachable: timed out after {self.timeout:g}s"
            ) from exc
        except requests.exceptions.ConnectionError as exc:
            raise UnreachableError(f"Prometheus {self.url} unreachable: {_reason(exc)}") from exc
        except requests.exceptions.RequestException as exc:
            raise UnreachableError(f"Prometheus {self.url} unreachable: {type(exc).__name__}") from exc
        if resp.status_code >= 500:
            raise UnreachableError(
                f"Prometheus {self.url} unreachable: HTTP {resp.status_code} after retries{_detail(resp)}"
            )
        if resp.status_code >= 400:
            return f"HTTP {resp.status_code}{_detail(resp)}"
        source = f"Prometheus {self.url} ({resource} query)"
        try:
            return parse_matrix(resp.content, resource=resource, source=source)
        except InputError as exc:
            raise InputError(
                f"{exc.message}",
                hint="--prometheus must be the Prometheus base URL (http://host:9090), not a page",
            ) from exc


def _detail(resp: requests.Response) -> str:
    """Prometheus puts `errorType` and `error` in its error bodies; show them, briefly."""
    try:
        body = resp.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    text = " ".join(str(body[k]) for k in ("errorType", "error") if body.get(k))
    text = " ".join(text.split())
    if len(text) > 200:
        text = text[:197] + "..."
    return f" ({text})" if text else ""


def _reason(exc: Exception) -> str:
    text = str(exc)
    lowered = text.lower()
    if "refused" in lowered:
        return "connection refused"
    if "name or service not known" in lowered or "nodename nor servname" in lowered or "resolve" in lowered:
        return "DNS lookup failed"
    if "timed out" in lowered or "timeout" in lowered:
        return "timed out"
    if "max retries" in lowered:
        return "connection failed after retries"
    return type(exc).__name__
