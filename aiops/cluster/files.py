"""`FileSource`: a `Snapshot` from kubectl List files (YAML or JSON) and a logs file (DESIGN §4.1).

Input is exactly what `kubectl get pods,events,... -A -o yaml` (or `-o json`) prints: `kind: List`
with `items` (typed lists such as `PodList` from the raw API are accepted too; their items get the
kind back). Several files may be given; `-` is standard input. JSON is parsed with orjson when it
is installed (large snapshots), YAML with PyYAML's C loader (timestamps stay strings, as in JSON).
Container logs come in a separate YAML/JSON mapping `"namespace/pod/container": "last lines"`.

The judging time is `--at` or the newest timestamp in the snapshot, never the wall clock.
Secrets in the files are dropped unread (a note says how many). Every bad input raises `InputError`
with one line naming the file (and document / item index); this module only reads the files it is
given and never talks to a cluster.
"""

from __future__ import annotations

import gc
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiops.errors import InputError
from aiops.model import Snapshot, parse_time
from aiops.model.k8s import K8sObject
from aiops.model.snapshot import newest_timestamp
from aiops.model.yamlload import fast_safe_loader

__all__ = ["FileSource", "load_documents", "parse_at", "parse_list_documents", "parse_logs"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class FileSource:
    """Reads one or more List files, an optional logs file, and judges them at `at`."""

    paths: Sequence[str]
    logs_path: str | None = None
    at: datetime | None = None
    extra_notes: tuple[str, ...] = field(default=())

    def read(self) -> Snapshot:
        if not self.paths:
            raise InputError("--snapshot: no file given")
        items: list[K8sObject] = []
        secrets = 0
        with _no_gc():
            if len(self.paths) == 1:
                items, secrets = parse_list_documents(
                    load_documents(self.paths[0], what="snapshot"), self.paths[0]
                )
            else:
                index: dict[tuple[str, str, str, str], int] = {}
                for path in self.paths:
                    objs, dropped = parse_list_documents(load_documents(path, what="snapshot"), path)
                    secrets += dropped
                    for obj in objs:
                        meta = obj["metadata"]
                        key = (
                            _group(obj.get("apiVersion")),
                            obj["kind"],
                            str(meta.get("namespace") or ""),
                            str(meta["name"]),
                        )
                        pos = index.get(key)
                        if pos is None:
                            index[key] = len(items)
                            items.append(obj)
                        else:  # the same object in two files: the later file wins, in place
                            items[pos] = obj
        logs: dict[str, str] = {}
        if self.logs_path:
            logs = parse_logs(load_documents(self.logs_path, what="logs"), self.logs_path)
        notes = list(self.extra_notes)
        if secrets:
            notes.append(f"ignored {secrets} Secret item(s): aiops never reads Secrets")
        at = self.at
        if at is None:
            at = default_time(items)
            if at is None:
                at = _EPOCH
                if items:
                    notes.append("no timestamps in the snapshot: judged at the epoch (pass --at TIME)")
        return Snapshot(
            items=tuple(items),
            at=at,
            logs=logs,
            sources=tuple(str(p) for p in self.paths),
            notes=tuple(notes),
        )


def default_time(items: Sequence[K8sObject]) -> datetime | None:
    """The default judging time (DESIGN §4.1): the newest status/event timestamp
    (`aiops.model.newest_timestamp`), else the newest creation time."""
    best = newest_timestamp(items)
    if best is not None:
        return best
    for obj in items:
        t = parse_time((obj.get("metadata") or {}).get("creationTimestamp"))
        if t is not None and (best is None or t > best):
            best = t
    return best


@contextmanager
def _no_gc() -> Iterator[None]:
    """No cyclic GC while building a large acyclic tree of dicts (it would traverse it repeatedly)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def parse_at(value: str | None) -> datetime | None:
    """`--at TIME` (ISO 8601; `Z` or an offset; a date alone means midnight UTC)."""
    if value is None or value == "":
        return None
    t = parse_time(value)
    if t is None:
        raise InputError(f"--at: {value!r} is not an ISO 8601 time (e.g. 2026-11-25T10:42:00Z)")
    return t


def _group(api_version: Any) -> str:
    text = str(api_version or "")
    return text.rpartition("/")[0]


# ---- reading -------------------------------------------------------------------------------


def _read_bytes(path: str, what: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    p = Path(path)
    try:
        return p.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{what} {path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{what} {path}: is a directory, not a file") from None
    except PermissionError:
        raise InputError(f"{what} {path}: permission denied") from None
    except OSError as exc:
        raise InputError(f"{what} {path}: cannot read: {exc.strerror or exc}") from None


_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_UTF8_BOM = b"\xef\xbb\xbf"
_LEADING_SPACE = re.compile(rb"\s*")


def load_documents(path: str, *, what: str = "snapshot") -> list[Any]:
    """Parse a file as JSON (one document) or YAML (one or more documents)."""
    raw = _read_bytes(path, what)
    text: str | None = None
    if raw.startswith(_UTF16_BOMS):  # UTF-16 with BOM (PowerShell `>` redirection)
        try:
            text = raw.decode("utf-16")
        except UnicodeDecodeError:
            raise InputError(f"{what} {path}: not valid UTF-16 text") from None
        raw = text.encode("utf-8")
    elif raw.startswith(_UTF8_BOM):
        raw = raw[len(_UTF8_BOM) :]
    if b"\x00" in raw[:8192]:
        raise InputError(f"{what} {path}: binary file, not YAML or JSON")
    start = _LEADING_SPACE.match(raw)
    first = raw[start.end() : start.end() + 1] if start else raw[:1]
    if not first:
        raise InputError(f"{what} {path}: empty file")
    if first in (b"{", b"["):
        return [_load_json(raw, path, what)]
    if text is None:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{what} {path}: not UTF-8 text (byte {exc.start}); expected YAML or JSON"
            ) from None
    return _load_yaml(text, path, what)


def _load_json(data: bytes | str, path: str, what: str) -> Any:
    try:
        import orjson
    except ImportError:  # pragma: no cover - orjson is a dependency on CPython
        import json

        try:
            return json.loads(data)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{what} {path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
            ) from None
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InputError(
            f"{what} {path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None


def _load_yaml(text: str, path: str, what: str) -> list[Any]:
    import yaml

    try:
        return list(yaml.load_all(text, Loader=fast_safe_loader()))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = exc.problem or exc.context or "syntax error"
        raise InputError(f"{what} {path}: not valid YAML or JSON ({where}{problem})") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{what} {path}: not valid YAML or JSON ({exc})") from None


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def parse_list_documents(docs: Sequence[Any], path: str) -> tuple[list[K8sObject], int]:
    """Validate kubectl List documents; return their items (Secrets dropped) and the Secret count."""
    out: list[K8sObject] = []
    secrets = 0
    real = [(i, d) for i, d in enumerate(docs) if d is not None]
    if not real:
        raise InputError(f"snapshot {path}: no documents (expected a kubectl List)")
    multi = len(real) > 1
    for di, doc in real:
        where = f"snapshot {path}: document {di + 1}" if multi else f"snapshot {path}"
        if not isinstance(doc, dict):
            raise InputError(f"{where}: is {_type_name(doc)}, not a kubectl List (`kubectl get ... -o yaml`)")
        kind = doc.get("kind")
        if not isinstance(kind, str) or not kind.endswith("List") or "items" not in doc:
            shown = f"a {kind}" if isinstance(kind, str) and kind else "not a kubectl object"
            raise InputError(
                f"{where}: is {shown}, not a kubectl List with items (use `kubectl get ... -o yaml`)"
            )
        items = doc.get("items")
        if items is None:
            continue
        if not isinstance(items, list):
            raise InputError(f"{where}: items is {_type_name(items)}, not a list")
        item_kind = kind[: -len("List")] if kind != "List" else ""
        list_api = doc.get("apiVersion")
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise InputError(f"{where}: items[{i}] is {_type_name(item)}, not an object")
            k = item.get("kind") or item_kind
            if not isinstance(k, str) or not k:
                raise InputError(f"{where}: items[{i}] has no kind")
            md = item.get("metadata")
            if not isinstance(md, dict):
                raise InputError(f"{where}: items[{i}] ({k}) has no metadata")
            name = md.get("name")
            if not isinstance(name, str) or not name:
                raise InputError(f"{where}: items[{i}] ({k}) has no metadata.name")
            if "kind" not in item:
                item["kind"] = k
                if list_api and "apiVersion" not in item:
                    item["apiVersion"] = list_api
            if k == "Secret":
                secrets += 1
                continue
            out.append(item)
    return out, secrets


def parse_logs(docs: Sequence[Any], path: str) -> dict[str, str]:
    """Validate a logs file: one mapping `"namespace/pod/container": "last lines"` (or a list of lines)."""
    real = [d for d in docs if d is not None]
    if not real:
        return {}
    if len(real) > 1:
        raise InputError(f"logs {path}: several YAML documents; expected one mapping")
    data = real[0]
    if not isinstance(data, Mapping):
        raise InputError(
            f'logs {path}: is {_type_name(data)}, expected a mapping "namespace/pod/container": "lines"'
        )
    out: dict[str, str] = {}
    for key, value in data.items():
        parts = str(key).split("/")
        if not isinstance(key, str) or len(parts) != 3 or not all(parts):
            raise InputError(f"logs {path}: key {key!r} is not namespace/pod/container")
        if value is None:
            continue
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            value = "\n".join(value)
        if not isinstance(value, str):
            raise InputError(f"logs {path}: {key}: is {_type_name(value)}, expected the log text")
        out[key] = value
    return out
