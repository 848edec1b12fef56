"""Prometheus `query_range` JSON (resultType matrix) ⇄ `ContainerSeries` (DESIGN §4.3).

Reads the response body Prometheus returns (`{"status": "success", "data": {"resultType": "matrix",
"result": [{"metric": {...}, "values": [[ts, "v"], ...]}]}}`, or just its `data` object), as saved by
`curl .../api/v1/query_range` or written by `aiops collect`; writes the same format back.

Reading is fast on large files: each `values` array is flattened with byte operations and parsed
by orjson as one list of numbers, so 1,000 series × 4,032 samples cost about a second, and no
Python object per sample outlives its series. Anything the fast path does not recognise (pretty
printed JSON, odd tokens) is parsed again by the plain path, which also produces the error.

Data problems are data, not errors: NaN, ±Inf (both become NaN), negative values, gaps, empty
results and series of unknown pods are passed on as they are; the sizing engine filters them.
What is not a matrix (not JSON, another resultType, a Prometheus error body, a wrong shape) is an
`InputError` naming the source. This module does no network I/O and writes no file itself.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import orjson

from aiops.errors import InputError
from aiops.model.usage import ContainerSeries, Resource

_KEY = b'"values":'
_STRIP = b'[]"'
_NUMBER_CHARS = b'0123456789.eE+-"NaInf '


class _NotFast(Exception):
    """The fast path met something it does not handle; the plain path decides."""


@contextmanager
def _gc_paused() -> Iterator[None]:
    # orjson builds millions of small lists on big files; the cyclic GC would rescan them over and over.
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def parse_matrix(raw: bytes, *, resource: Resource, source: str) -> list[ContainerSeries]:
    """Parse a matrix response body into one `ContainerSeries` per result entry (not merged)."""
    try:
        return _parse_fast(raw, resource, source)
    except _NotFast:
        return _parse_plain(raw, resource, source)


def read_matrix_file(path: str, *, resource: Resource, label: str | None = None) -> list[ContainerSeries]:
    """Read and parse one matrix file; unreadable or malformed → `InputError` naming it."""
    name = label or path
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except IsADirectoryError as exc:
        raise InputError(f"{name}: is a directory, expected a Prometheus query_range JSON file") from exc
    except OSError as exc:
        raise InputError(f"{name}: cannot read usage file: {exc.strerror or exc}") from exc
    return parse_matrix(raw, resource=resource, source=name)


# ---- fast path ----------------------------------------------------------------------------------


def _parse_fast(raw: bytes, resource: Resource, source: str) -> list[ContainerSeries]:
    skeleton: list[bytes] = []
    arrays: list[Any] = []
    loads = orjson.loads
    pos = 0
    while True:
        i = raw.find(_KEY, pos)
        if i < 0:
            break
        a = i + len(_KEY)  # the '[' opening the samples, after `json.dumps`-style spaces if any
        while raw[a : a + 1] == b" ":
            a += 1
        if raw[a : a + 1] != b"[":
            raise _NotFast
        if raw[a + 1 : a + 2] == b"]":
            end = a + 2
            pairs = np.empty((0, 2), dtype=np.float64)
        else:
            e = raw.find(b"]]", a)
            if e < 0:
                raise _NotFast
            chunk = raw[a : e + 2]
            # Without the characters of numbers, NaN, ±Inf and spaces, exactly "[[,],[,],…]" must remain:
            # one token in each slot, nothing else (null/true/false, newlines → the plain path decides).
            structure = chunk.translate(None, _NUMBER_CHARS)
            n_pairs = (len(structure) - 1) // 4
            if n_pairs < 1 or structure != b"[[,]" + b",[,]" * (n_pairs - 1) + b"]":
                raise _NotFast
            flat = chunk.translate(None, _STRIP)
            if b"N" in flat:
                flat = flat.replace(b"NaN", b"null")
            if b"I" in flat:
                flat = flat.replace(b"+Inf", b"null").replace(b"-Inf", b"null")
            try:
                nums = loads(b"[" + flat + b"]")
            except orjson.JSONDecodeError as exc:
                raise _NotFast from exc
            if len(nums) != 2 * n_pairs:
                raise _NotFast
            try:
                pairs = np.array(nums, dtype=np.float64).reshape(-1, 2)
            except (TypeError, ValueError) as exc:
                raise _NotFast from exc
            end = e + 2
        skeleton.append(raw[pos:i])
        skeleton.append(b'"values":%d' % len(arrays))
        arrays.append(pairs)
        pos = end
    skeleton.append(raw[pos:])
    try:
        doc = orjson.loads(b"".join(skeleton))
    except orjson.JSONDecodeError as exc:
        raise _NotFast from exc
    result = _result_list(doc, source)
    out: list[ContainerSeries] = []
    used = 0
    for idx, item in enumerate(result):
        if not isinstance(item, dict):
            raise _NotFast
        labels = _labels(item.get("metric"), source, idx)
        if "values" not in item:
            empty = np.empty(0, dtype=np.float64)
            out.append(_series(labels, resource, empty, empty.copy()))
            continue
        ref = item["values"]
        if not isinstance(ref, int) or isinstance(ref, bool) or ref != used:
            raise _NotFast
        used += 1
        cols = np.ascontiguousarray(arrays[ref].T)
        out.append(_series(labels, resource, cols[0], cols[1]))
    if used != len(arrays):
        raise _NotFast  # a "values" array outside data.result: let the plain path judge the shape
    return out


# ---- plain path ---------------------------------------------------------------------------------


def _parse_plain(raw: bytes, resource: Resource, source: str) -> list[ContainerSeries]:
    try:
        with _gc_paused():
            doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InputError(
            f"{source}: not JSON ({exc}); expected a Prometheus query_range response (resultType matrix)"
        ) from exc
    result = _result_list(doc, source)
    out: list[ContainerSeries] = []
    for idx, item in enumerate(result):
        if not isinstance(item, dict):
            raise InputError(f"{source}: data.result[{idx}] is not an object")
        labels = _labels(item.get("metric"), source, idx)
        values = item.get("values", [])
        if not isinstance(values, list):
            raise InputError(f"{source}: data.result[{idx}].values is not a list of [time, value] pairs")
        try:
            pairs = np.array(values, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InputError(
                f"{source}: data.result[{idx}].values is not a list of [time, value] pairs ({exc})"
            ) from exc
        if pairs.size == 0:
            pairs = pairs.reshape(0, 2)
        if pairs.ndim != 2 or pairs.shape[1] != 2:
            raise InputError(f"{source}: data.result[{idx}].values is not a list of [time, value] pairs")
        if not bool(np.all(np.isfinite(pairs[:, 0]))):
            raise InputError(f"{source}: data.result[{idx}].values has a time that is not a number")
        cols = np.ascontiguousarray(pairs.T)
        ts, vs = cols[0], cols[1]
        vs[~np.isfinite(vs)] = np.nan
        out.append(_series(labels, resource, ts, vs))
    return out


# ---- shared -------------------------------------------------------------------------------------


def _result_list(doc: Any, source: str) -> list[Any]:
    if not isinstance(doc, dict):
        raise InputError(f"{source}: not a Prometheus query_range response (top level is not an object)")
    if doc.get("status") == "error":
        reason = doc.get("error") or doc.get("errorType") or "unknown error"
        raise InputError(f"{source}: holds a Prometheus error response ({reason}), not data")
    data = doc.get("data") if "data" in doc else doc
    if not isinstance(data, dict) or "resultType" not in data:
        raise InputError(f"{source}: not a Prometheus query_range response (no data.resultType)")
    if data["resultType"] != "matrix":
        raise InputError(
            f"{source}: resultType is {data['resultType']!r}, expected 'matrix' (use /api/v1/query_range)"
        )
    result = data.get("result")
    if result is None:
        return []
    if not isinstance(result, list):
        raise InputError(f"{source}: data.result is not a list")
    return result


def _labels(metric: Any, source: str, idx: int) -> tuple[str, str, str]:
    if metric is None:
        metric = {}
    if not isinstance(metric, dict):
        raise InputError(f"{source}: data.result[{idx}].metric is not an object")
    # pod_name/container_name: the cAdvisor label names before Kubernetes 1.16
    ns = metric.get("namespace", "")
    pod = metric.get("pod", metric.get("pod_name", ""))
    container = metric.get("container", metric.get("container_name", ""))
    return str(ns), str(pod), str(container)


def _series(labels: tuple[str, str, str], resource: Resource, ts: Any, vs: Any) -> ContainerSeries:
    if len(ts) > 1 and not bool(np.all(ts[1:] > ts[:-1])):
        ts, vs = _sort_dedupe(ts, vs)
    return ContainerSeries(
        namespace=labels[0], pod=labels[1], container=labels[2], resource=resource, timestamps=ts, values=vs
    )


def _sort_dedupe(ts: Any, vs: Any) -> tuple[Any, Any]:
    """Sort by time; samples sharing a timestamp keep their maximum (NaN only when all are NaN)."""
    order = np.argsort(ts, kind="stable")
    ts = ts[order]
    vs = vs[order]
    starts = np.flatnonzero(np.concatenate(([True], ts[1:] != ts[:-1])))
    if len(starts) == len(ts):
        return ts, vs
    with np.errstate(invalid="ignore"):
        merged = np.fmax.reduceat(vs, starts)
    return ts[starts], merged


def merge_series(series: Iterable[ContainerSeries]) -> list[ContainerSeries]:
    """One series per (resource, namespace, pod, container): chunks, files and duplicates joined.

    Duplicates (two scrape targets, overlapping files) keep the maximum at a shared timestamp, as
    `max by (namespace, pod, container)` would. Order: first appearance.
    """
    groups: dict[tuple[str, str, str, str], list[ContainerSeries]] = {}
    for s in series:
        groups.setdefault((s.resource, s.namespace, s.pod, s.container), []).append(s)
    out: list[ContainerSeries] = []
    for parts in groups.values():
        if len(parts) == 1:
            out.append(parts[0])
            continue
        ts = np.concatenate([p.timestamps for p in parts])
        vs = np.concatenate([p.values for p in parts])
        ts, vs = _sort_dedupe(ts, vs)
        first = parts[0]
        out.append(
            ContainerSeries(
                namespace=first.namespace,
                pod=first.pod,
                container=first.container,
                resource=first.resource,
                timestamps=ts,
                values=vs,
            )
        )
    return out


# ---- writing ------------------------------------------------------------------------------------


def format_timestamp(ts: float) -> int | float:
    """Unix seconds as Prometheus prints them: an integer when whole, else milliseconds."""
    r = round(float(ts), 3)
    return int(r) if r.is_integer() else r


def format_value(v: float) -> str:
    """A sample value as Prometheus prints it (strconv 'f', -1): "0.093", "131936256", "NaN", "+Inf"."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    text = repr(v)
    if "e" in text:
        text = np.format_float_positional(v, unique=True, trim="-")
    return text


def _format_values(values: list[float]) -> list[str]:
    out = list(map(repr, values))
    for i, text in enumerate(out):
        if text[-2:] == ".0" or "n" in text or "e" in text:  # whole, nan/inf, exponent notation
            out[i] = format_value(values[i])
    return out


def _format_timestamps(ts: Any) -> list[int | float]:
    arr = np.asarray(ts, dtype=np.float64)
    if arr.size and bool(np.all(arr == np.floor(arr))):
        return [int(t) for t in arr.astype(np.int64).tolist()]
    return [format_timestamp(t) for t in arr.tolist()]


def dump_matrix(series: Sequence[ContainerSeries]) -> bytes:
    """A query_range success body holding `series` (labels namespace/pod/container)."""
    result = []
    for s in series:
        ts_list = _format_timestamps(s.timestamps)
        vs_list = _format_values([float(v) for v in np.asarray(s.values, dtype=np.float64).tolist()])
        result.append(
            {
                "metric": {"namespace": s.namespace, "pod": s.pod, "container": s.container},
                "values": [[t, v] for t, v in zip(ts_list, vs_list)],
            }
        )
    return orjson.dumps({"status": "success", "data": {"resultType": "matrix", "result": result}})
