"""Key paths of YAML documents: format, split, and the value-level diff of two file texts.

A key path is the dotted path of one value inside a file: `resources.requests.memory`,
`podAnnotations."aiops.io/restartedAt"` (segments holding dots, quotes, brackets or spaces are
double-quoted), `env[0].value` (list items by index), and `[1].spec.replicas` for the second
document of a multi-document file. Used by the tier classifier and the safety checks to read
what a change set really changes, never trusting a description of it. Pure: parses text it is
given with a safe loader (no tags, no code), never reads files.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from typing import Any

from aiops.model.changes import FileChange, KeyChange

Segment = str | int

MAX_NODES = 200_000
"""Diff budget: alias bombs (`&a [*b, *b, ...]`) expand exponentially; past this we give up."""

_PLAIN = re.compile(r"^[A-Za-z0-9_\-/]+$")


class KeyPathError(ValueError):
    """A text cannot be read as YAML, or is too large to diff; the caller fails closed."""


def format_path(segments: list[Segment] | tuple[Segment, ...]) -> str:
    """`["podAnnotations", "aiops.io/restartedAt"]` → `podAnnotations."aiops.io/restartedAt"`."""
    out = ""
    for seg in segments:
        if isinstance(seg, int):
            out += f"[{seg}]"
            continue
        text = seg if _PLAIN.match(seg) else json.dumps(seg, ensure_ascii=False)
        out += f".{text}" if out else text
    return out


def split_path(path: str) -> list[Segment]:
    """Inverse of `format_path`; tolerant of unquoted segments (they split on every dot)."""
    segs: list[Segment] = []
    i, n = 0, len(path)
    while i < n:
        ch = path[i]
        if ch == ".":
            i += 1
            continue
        if ch == "[":
            j = path.find("]", i)
            inner = path[i + 1 : j] if j > 0 else path[i + 1 :]
            segs.append(int(inner) if inner.strip().lstrip("-").isdigit() else inner)
            i = j + 1 if j > 0 else n
            continue
        if ch == '"':
            try:
                value, end = json.JSONDecoder().raw_decode(path, i)
            except json.JSONDecodeError:
                segs.append(path[i + 1 :])
                break
            segs.append(str(value))
            i = end
            continue
        j = i
        while j < n and path[j] not in ".[":
            j += 1
        segs.append(path[i:j])
        i = j
    return segs


def words(path: str) -> list[str]:
    """Lower-cased segments of a path, quoted ones split on dots too: a spelling-proof identity."""
    out: list[str] = []
    for seg in split_path(path):
        if isinstance(seg, int):
            out.append(f"[{seg}]")
            continue
        out.extend(seg.lower().split("."))
    return out


_LOCAL = threading.local()


def _yaml() -> Any:
    """One safe loader per thread (building one costs more than parsing a values file)."""
    yaml = getattr(_LOCAL, "yaml", None)
    if yaml is None:
        from ruamel.yaml import YAML

        yaml = _LOCAL.yaml = YAML(typ="safe", pure=True)
    return yaml


def load_documents(text: str, *, where: str) -> list[Any]:
    """All YAML documents of a text (safe loader, YAML 1.2); empty documents are dropped."""
    from ruamel.yaml.error import YAMLError

    try:
        docs = [d for d in _yaml().load_all(text) if d is not None]
    except (YAMLError, ValueError, TypeError, RecursionError) as exc:
        raise KeyPathError(f"{where}: not valid YAML ({type(exc).__name__})") from exc
    return docs


class _Budget:
    def __init__(self, where: str) -> None:
        self.left = MAX_NODES
        self.where = where

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise KeyPathError(f"{self.where}: too many values to compare (alias expansion?)")


def _diff(old: Any, new: Any, prefix: list[Segment], budget: _Budget) -> Iterator[KeyChange]:
    budget.spend()
    if (isinstance(old, dict) or isinstance(new, dict)) and (
        (old is None or isinstance(old, dict)) and (new is None or isinstance(new, dict))
    ):
        a = old or {}
        b = new or {}
        keys = list(a) + [k for k in b if k not in a]
        for k in keys:
            yield from _diff(a.get(k), b.get(k), [*prefix, str(k)], budget)
        return
    if (isinstance(old, list) or isinstance(new, list)) and (
        (old is None or isinstance(old, list)) and (new is None or isinstance(new, list))
    ):
        la: list[Any] = old or []
        lb: list[Any] = new or []
        for i in range(max(len(la), len(lb))):
            yield from _diff(
                la[i] if i < len(la) else None, lb[i] if i < len(lb) else None, [*prefix, i], budget
            )
        return
    if type(old) is not type(new) or old != new:
        _count(old, budget)
        _count(new, budget)
        yield KeyChange(format_path(prefix), old, new)


def _count(value: Any, budget: _Budget) -> None:
    stack = [value]
    while stack:
        v = stack.pop()
        budget.spend()
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)


def diff_documents(old_docs: list[Any], new_docs: list[Any], *, where: str) -> list[KeyChange]:
    """Value-level changes between two lists of documents (prefixed `[i]` only when multi-doc)."""
    budget = _Budget(where)
    multi = max(len(old_docs), len(new_docs)) > 1
    out: list[KeyChange] = []
    for i in range(max(len(old_docs), len(new_docs))):
        a = old_docs[i] if i < len(old_docs) else None
        b = new_docs[i] if i < len(new_docs) else None
        prefix: list[Segment] = [i] if multi else []
        out.extend(_diff(a, b, prefix, budget))
    return out


def file_key_changes(change: FileChange) -> list[KeyChange]:
    """The value-level changes of one file, computed from its texts (raises KeyPathError)."""
    old_docs = (
        load_documents(change.old_text, where=change.old_path or change.path) if change.old_text else []
    )
    new_docs = load_documents(change.new_text, where=change.path) if change.new_text else []
    return diff_documents(old_docs, new_docs, where=change.path)


def nested_keys(value: Any) -> list[str]:
    """Every mapping key inside a value (lower-cased), so a whole subtree is judged by its contents."""
    out: list[str] = []
    stack = [value]
    seen = 0
    while stack and seen < MAX_NODES:
        v = stack.pop()
        seen += 1
        if isinstance(v, dict):
            for k, item in v.items():
                out.append(str(k).lower())
                stack.append(item)
        elif isinstance(v, list):
            stack.extend(v)
    return out


def lookup(doc: Any, segments: list[Segment]) -> Any:
    """The value at a path inside a parsed document, or None."""
    cur = doc
    for seg in segments:
        if isinstance(seg, int):
            if not isinstance(cur, list) or not -len(cur) <= seg < len(cur):
                return None
            cur = cur[seg]
        else:
            if not isinstance(cur, dict):
                return None
            cur = cur.get(seg)
    return cur
