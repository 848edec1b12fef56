"""Minimal, comment-preserving value patches of YAML files (Helm values and raw manifests).

The file is parsed with ruamel.yaml's round-trip composer, which gives every node its exact start
and end position in the text; each edit then replaces only the characters of the changed scalar
(or inserts the lines of a key that must be added, indented like its siblings). Everything else -
comments, key order, quoting, anchors and aliases, blank lines, indentation, flow style, document
markers and CRLF line endings - stays byte for byte as it was. After patching, the old and new
texts are loaded again and compared value by value: a patch that would change anything but the
requested keys raises instead of being written.

Pure text in, text out: no file or network I/O, no knowledge of what the keys mean (that is the
planner's job), no dumping of YAML (a dump reformats the whole file).
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiops.errors import InputError
from aiops.model.changes import KeyChange


class PatchError(InputError):
    """A requested edit cannot be made without guessing (type conflict, missing list item...)."""


# ---- key paths ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Select:
    """A list item chosen by a field value: `containers[name=backend]`; `field` may be dotted."""

    field: str
    value: str

    def __str__(self) -> str:
        return f"[{self.field}={self.value}]"


Segment = str | int | Select
KeyPath = tuple[Segment, ...]

_SIMPLE_KEY = re.compile(r"^[A-Za-z0-9_/-]+$")


def format_key_path(path: Sequence[Segment]) -> str:
    """`resources.requests.cpu`, `podAnnotations."aiops.io/restartedAt"`, `containers[name=x].image`."""
    out = ""
    for seg in path:
        if isinstance(seg, Select):
            out += str(seg)
        elif isinstance(seg, int):
            out += f"[{seg}]"
        else:
            part = seg if _SIMPLE_KEY.match(seg) else json.dumps(seg)
            out += f".{part}" if out else part
    return out


def parse_key_path(text: str) -> KeyPath:
    """Inverse of `format_key_path`: dots separate keys, `"..."` quotes a key with dots."""
    segs: list[Segment] = []
    i, n = 0, len(text)
    expect_key = True
    while i < n:
        ch = text[i]
        if ch == ".":
            if expect_key:
                raise InputError(f"key path {text!r}: empty key at position {i}")
            expect_key = True
            i += 1
        elif ch == "[":
            end = text.find("]", i)
            if end < 0:
                raise InputError(f"key path {text!r}: unclosed '['")
            inner = text[i + 1 : end]
            if "=" in inner:
                fld, _, val = inner.partition("=")
                segs.append(Select(fld.strip(), val.strip()))
            elif inner.strip().isdigit():
                segs.append(int(inner))
            else:
                raise InputError(f"key path {text!r}: '[{inner}]' is neither [field=value] nor [index]")
            expect_key = False
            i = end + 1
        elif ch == '"':
            try:
                key, used = json.JSONDecoder().raw_decode(text, i)
            except ValueError as exc:
                raise InputError(f"key path {text!r}: bad quoted key at position {i}") from exc
            segs.append(str(key))
            expect_key = False
            i = used
        else:
            m = re.compile(r"[^.\[\"]+").match(text, i)
            assert m is not None
            if not expect_key:
                raise InputError(f"key path {text!r}: missing '.' before {m.group(0)!r}")
            segs.append(m.group(0))
            expect_key = False
            i = m.end()
    if not segs or expect_key:
        raise InputError(f"key path {text!r}: ends without a key")
    return tuple(segs)


# ---- edits --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Document:
    """Selects one document of a multi-document file by `kind` and `metadata.name`."""

    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}"


@dataclass(frozen=True)
class Edit:
    """Set `path` to `value` (str, int, float, bool) in one document.

    `document` None means the first document that is not empty. `comment` is written as an
    end-of-line comment when the key is added (`# aiops: set REDIS_URL ...`).
    """

    path: KeyPath
    value: Any
    document: Document | None = None
    comment: str | None = None


@dataclass(frozen=True)
class PatchResult:
    text: str
    changes: tuple[KeyChange, ...]

    @property
    def changed(self) -> bool:
        return bool(self.changes)


# ---- reading -----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _compose_cached(text: str) -> tuple[Any, ...]:
    from ruamel.yaml import YAML

    return tuple(YAML(typ="rt").compose_all(text))


@functools.lru_cache(maxsize=64)
def _load_cached(text: str) -> tuple[Any, ...]:
    from ruamel.yaml import YAML

    return tuple(YAML(typ="safe", pure=True).load_all(text))


def _yaml_error(exc: Exception, source: str) -> InputError:
    mark = getattr(exc, "problem_mark", None)
    where = f" line {mark.line + 1}" if mark is not None else ""
    return InputError(f"{source}:{where}: not valid YAML ({getattr(exc, 'problem', None) or exc})")


def _compose_all(text: str, source: str) -> list[Any]:
    """Node trees (with text positions) of every document; cached per text, never mutated."""
    from ruamel.yaml.error import YAMLError

    try:
        return list(_compose_cached(text))
    except YAMLError as exc:
        raise _yaml_error(exc, source) from exc


def _load_all(text: str, source: str) -> list[Any]:
    """Plain data of every document; cached per text: read it, never change it (see load_documents)."""
    from ruamel.yaml.error import YAMLError

    try:
        return list(_load_cached(text))
    except YAMLError as exc:
        raise _yaml_error(exc, source) from exc


def load_documents(text: str, *, source: str = "<text>") -> list[Any]:
    """Plain Python data of every document (merge keys resolved); the caller's own copy."""
    return copy.deepcopy(_load_all(text, source))


def _is_map(node: Any) -> bool:
    return type(node).__name__ == "MappingNode"


def _is_seq(node: Any) -> bool:
    return type(node).__name__ == "SequenceNode"


def _is_scalar(node: Any) -> bool:
    return type(node).__name__ == "ScalarNode"


def _doc_matches(data: Any, doc: Document) -> bool:
    if not isinstance(data, dict):
        return False
    meta = data.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    return bool(data.get("kind") == doc.kind and name == doc.name)


def _pick_document(nodes: list[Any], datas: list[Any], doc: Document | None, source: str) -> int | None:
    """Index of the selected document, or None when the file has no non-empty document."""
    if doc is None:
        for i, n in enumerate(nodes):
            if n is not None and not (_is_scalar(n) and n.tag.endswith(":null")):
                return i
        return None
    for i, d in enumerate(datas):
        if _doc_matches(d, doc):
            return i
    raise PatchError(f"{source}: no document with kind {doc.kind} and metadata.name {doc.name}")


def _lookup(data: Any, path: Sequence[Segment]) -> tuple[bool, Any]:
    cur = data
    for seg in path:
        if isinstance(seg, Select):
            if not isinstance(cur, list):
                return False, None
            found = [it for it in cur if _select_value(it, seg.field) == seg.value]
            if not found:
                return False, None
            cur = found[0]
        elif isinstance(seg, int):
            if not isinstance(cur, list) or seg >= len(cur):
                return False, None
            cur = cur[seg]
        else:
            if not isinstance(cur, dict) or seg not in cur:
                return False, None
            cur = cur[seg]
    return True, cur


def _select_value(item: Any, dotted: str) -> Any:
    cur = item
    for part in dotted.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return None if cur is None else str(cur)


def read_value(
    text: str, path: Sequence[Segment], *, document: Document | None = None, source: str = ""
) -> Any:
    """The effective value at `path` (merge keys honoured), None when absent."""
    datas = _load_all(text, source or "<text>")
    if not datas:
        return None
    if document is None:
        data = next((d for d in datas if d is not None), None)
    else:
        matching = [d for d in datas if _doc_matches(d, document)]
        if not matching:
            return None
        data = matching[0]
    _found, value = _lookup(data, path)
    return copy.deepcopy(value)


def is_manifest(text: str) -> bool:
    """True when the file holds Kubernetes objects (documents with apiVersion and kind)."""
    try:
        datas = _load_all(text, "<text>")
    except InputError:
        return False
    objs = [d for d in datas if d is not None]
    return bool(objs) and all(isinstance(d, dict) and "apiVersion" in d and "kind" in d for d in objs)


# ---- rendering scalars ------------------------------------------------------------------------

_YAML11_SPECIAL = re.compile(
    r"""^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF
        |null|Null|NULL|~
        |[-+]?[0-9_]+(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?
        |[-+]?\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?0[box][0-9a-fA-F_]+
        |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?
        |[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)
        |[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}.*)$""",
    re.VERBOSE,
)
_PLAIN_SAFE = re.compile(r"^[A-Za-z0-9_./@+=-][A-Za-z0-9_./:@+=,;()-]*$")


@functools.lru_cache(maxsize=1024)
def _plain_ok(s: str) -> bool:
    """A string that every YAML reader (1.1 as in Helm's Go parser, and 1.2) reads back as itself."""
    if not s or not _PLAIN_SAFE.match(s) or _YAML11_SPECIAL.match(s) or s.endswith(":"):
        return False
    from ruamel.yaml import YAML

    try:
        back = YAML(typ="safe", pure=True).load(f"k: {s}\n")
    except Exception:
        return False
    return isinstance(back, dict) and back.get("k") == s


def _double_quoted(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def _single_quoted(s: str) -> str:
    if "\n" in s:
        return _double_quoted(s)
    return "'" + s.replace("'", "''") + "'"


def render_scalar(value: Any, style: str | None = None) -> str:
    """YAML text of one scalar, quoted like `style` ("'", '"', or None = plain when safe)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        text = repr(value)
    else:
        s = str(value)
        if style == "'":
            return _single_quoted(s)
        if style == '"':
            return _double_quoted(s)
        return s if _plain_ok(s) else _double_quoted(s)
    if style == "'":
        return f"'{text}'"
    if style == '"':
        return f'"{text}"'
    return text


def scalar_style(text: str, path: Sequence[Segment], *, document: Document | None = None) -> str | None:
    """The quoting style of the scalar at `path`: "'", '"' or None (plain, absent, or not a scalar)."""
    nodes = _compose_all(text, "<text>")
    datas = _load_all(text, "<text>")
    idx = _pick_document(nodes, datas, document, "<text>")
    if idx is None:
        return None
    node = nodes[idx]
    for seg in path:
        node = _child(node, seg)
        if node is None:
            return None
    if _is_scalar(node) and node.style in ("'", '"'):
        return str(node.style)
    return None


def _child(node: Any, seg: Segment) -> Any:
    if isinstance(seg, str):
        if not _is_map(node):
            return None
        for k, v in node.value:
            if _is_scalar(k) and k.value == seg:
                return v
        return None
    if not _is_seq(node):
        return None
    if isinstance(seg, int):
        return node.value[seg] if seg < len(node.value) else None
    for item in node.value:
        if _is_map(item) and _node_select_value(item, seg.field) == seg.value:
            return item
    return None


def _node_select_value(node: Any, dotted: str) -> str | None:
    cur = node
    for part in dotted.split("."):
        cur = _child(cur, part)
        if cur is None:
            return None
    return str(cur.value) if _is_scalar(cur) else None


# ---- patching ----------------------------------------------------------------------------------


def _newline(text: str) -> str:
    i = text.find("\n")
    return "\r\n" if i > 0 and text[i - 1] == "\r" else "\n"


def _indent_step(nodes: list[Any]) -> int:
    """The file's own indentation step: the smallest nesting step of its block mappings (default 2)."""
    steps: list[int] = []

    def walk(node: Any, parent_col: int | None) -> None:
        if _is_map(node) and not node.flow_style:
            col = node.start_mark.column
            if parent_col is not None and col > parent_col:
                steps.append(col - parent_col)
            for k, v in node.value:
                walk(v, k.start_mark.column)
        elif _is_seq(node) and not node.flow_style:
            for item in node.value:
                walk(item, None)

    for n in nodes:
        if n is not None:
            walk(n, None)
    return min(steps) if steps else 2


def _skip_props(text: str, i: int) -> int:
    """Skip an anchor (&a) and/or tag (!!str) in front of a node's content."""
    while i < len(text) and text[i] in "&!":
        while i < len(text) and text[i] not in " \t\r\n,]}":
            i += 1
        while i < len(text) and text[i] in " \t":
            i += 1
    return i


def _alias_span(text: str, key: Any) -> tuple[int, int]:
    """Span of the `*alias` token that follows a key (its value node points to the anchor)."""
    i = key.end_mark.index
    while i < len(text) and text[i] in " \t:":
        i += 1
    if i >= len(text) or text[i] != "*":
        raise PatchError(f"cannot locate the alias after the key at line {key.start_mark.line + 1}")
    j = i
    while j < len(text) and text[j] not in " \t\r\n,]}":
        j += 1
    return i, j


def _value_span(text: str, key: Any, value: Any) -> tuple[int, int, bool]:
    """(start, end, is_alias) of a mapping value's own text."""
    if value.start_mark.index < key.end_mark.index:
        s, e = _alias_span(text, key)
        return s, e, True
    return _skip_props(text, value.start_mark.index), value.end_mark.index, False


def _content_end(text: str, node: Any) -> int:
    """Index just past the last character that belongs to `node` (not trailing comments)."""
    if _is_scalar(node):
        return int(node.end_mark.index)
    if node.flow_style or not node.value:
        return int(node.end_mark.index)
    if _is_map(node):
        k, v = node.value[-1]
        if v.start_mark.index < k.end_mark.index:
            return _alias_span(text, k)[1]
        if _is_scalar(v) and v.tag.endswith(":null") and v.start_mark.index == v.end_mark.index:
            return int(k.end_mark.index) + 1  # `key:` with an empty value: the colon
        return _content_end(text, v)
    last = node.value[-1]
    if len(node.value) > 1 and last.start_mark.index < node.value[-2].end_mark.index:
        raise PatchError(
            f"cannot append after the alias item ending the list at line {last.start_mark.line + 1}"
        )
    return _content_end(text, last)


def _line_end(text: str, i: int) -> int:
    """Index of the start of the next line after position i (or len(text))."""
    if i > 0 and text[i - 1] == "\n":
        return i  # already at a line start (end of a block scalar)
    j = text.find("\n", i)
    return len(text) if j < 0 else j + 1


def _block_lines(
    path: Sequence[Segment], value: Any, indent: int, step: int, comment: str | None
) -> list[str]:
    """Lines (without newline) of a nested block mapping setting path → value."""
    lines: list[str] = []
    for depth, seg in enumerate(path):
        if not isinstance(seg, str):
            raise PatchError(f"cannot create list item {seg} (only mapping keys are added)")
        key = render_scalar(seg)
        pad = " " * (indent + depth * step)
        if depth == len(path) - 1:
            line = f"{pad}{key}: {render_scalar(value)}"
            if comment:
                line += f"  # {comment}"
            lines.append(line)
        else:
            lines.append(f"{pad}{key}:")
    return lines


def _flow_text(path: Sequence[Segment], value: Any) -> str:
    key = render_scalar(path[0])
    if len(path) == 1:
        return f"{key}: {render_scalar(value)}"
    return f"{key}: {{{_flow_text(path[1:], value)}}}"


def _apply_one(text: str, edit: Edit, source: str) -> tuple[str, KeyChange | None]:
    nodes = _compose_all(text, source)
    datas = _load_all(text, source)
    nl = _newline(text)
    step = _indent_step(nodes)
    where = f"{source}: {format_key_path(edit.path)}"
    idx = _pick_document(nodes, datas, edit.document, source)
    if idx is None:
        # Empty file (or only comments): append the whole block at column 0.
        lines = _block_lines(edit.path, edit.value, 0, step, edit.comment)
        prefix = "" if not text or text.endswith("\n") else nl
        return text + prefix + nl.join(lines) + nl, KeyChange(format_key_path(edit.path), None, edit.value)
    found, old_effective = _lookup(datas[idx], edit.path)
    old_effective = copy.deepcopy(old_effective)
    if found and old_effective == edit.value and type(old_effective) is type(edit.value):
        return text, None
    node = nodes[idx]
    if not (_is_map(node) or _is_seq(node)):
        raise PatchError(f"{where}: the document is a scalar, not a mapping")

    path = list(edit.path)
    for i, seg in enumerate(path):
        last = i == len(path) - 1
        if isinstance(seg, str):
            if not _is_map(node):
                raise PatchError(f"{where}: {format_key_path(path[:i]) or 'document'} is not a mapping")
            pair = next(((k, v) for k, v in node.value if _is_scalar(k) and k.value == seg), None)
            if pair is None:
                return _add(text, node, path[i:], edit=edit, nl=nl, step=step, where=where), KeyChange(
                    format_key_path(edit.path), old_effective, edit.value
                )
            key, value = pair
            if last:
                return _replace(text, key, value, edit=edit, where=where, old_effective=old_effective)
            if _is_scalar(value):
                if value.tag.endswith(":null"):
                    return _fill_null(
                        text, key, value, path[i + 1 :], edit=edit, nl=nl, step=step
                    ), KeyChange(format_key_path(edit.path), None, edit.value)
                raise PatchError(f"{where}: {format_key_path(path[: i + 1])} is a scalar, not a mapping")
            if value.start_mark.index < key.end_mark.index:
                raise PatchError(
                    f"{where}: {format_key_path(path[: i + 1])} is an alias of a shared block; "
                    "edit the anchor or give the key its own block"
                )
            node = value
        else:
            child = _child(node, seg)
            if child is None:
                raise PatchError(
                    f"{where}: no list item {seg} under {format_key_path(path[:i]) or 'document'}"
                )
            if last:
                raise PatchError(f"{where}: cannot replace a whole list item")
            node = child
    raise PatchError(f"{where}: empty key path")  # pragma: no cover - parse_key_path forbids it


def _replace(
    text: str, key: Any, value: Any, *, edit: Edit, where: str, old_effective: Any
) -> tuple[str, KeyChange | None]:
    if not _is_scalar(value) and value.start_mark.index >= key.end_mark.index:
        raise PatchError(f"{where}: holds a mapping or list; only scalars are replaced")
    start, end, is_alias = _value_span(text, key, value)
    if _is_scalar(value) and not is_alias and value.tag.endswith(":null") and start >= end:
        # `key:` with nothing after it: write the value after the colon
        start = end = key.end_mark.index + 1
        new = " " + render_scalar(edit.value)
        return text[:start] + new + text[end:], KeyChange(format_key_path(edit.path), None, edit.value)
    style = value.style if _is_scalar(value) and value.style in ("'", '"') else None
    if _is_scalar(value) and value.style in ("|", ">"):
        style = None
    new = render_scalar(edit.value, style)
    out = text[:start] + new + text[end:]
    if _is_scalar(value) and value.style in ("|", ">"):
        out = text[:start] + new + _newline(text) + text[end:]
    return out, KeyChange(format_key_path(edit.path), old_effective, edit.value)


def _add(
    text: str, mapping: Any, rest: Sequence[Segment], *, edit: Edit, nl: str, step: int, where: str
) -> str:
    if mapping.flow_style:
        if mapping.value:
            k, v = mapping.value[-1]
            end = _alias_span(text, k)[1] if v.start_mark.index < k.end_mark.index else _content_end(text, v)
            return text[:end] + ", " + _flow_text(rest, edit.value) + text[end:]
        start, end = mapping.start_mark.index, mapping.end_mark.index
        if text[start:end].strip() != "{}":
            raise PatchError(
                f"{where}: cannot read the empty flow mapping at line {mapping.start_mark.line + 1}"
            )
        line_start = text.rfind("\n", 0, start) + 1
        eol = text.find("\n", end)
        after = text[end : len(text) if eol < 0 else eol].strip()
        before = text[line_start:start]
        if not re.match(r"^[ \t]*(?:- )*[^{}\[\]#]+:[ \t]*$", before) or (
            after and not after.startswith("#")
        ):
            # nested inside flow or followed by more on the line: stay in flow style
            return text[:start] + "{" + _flow_text(rest, edit.value) + "}" + text[end:]
        # `key: {}` alone on its line: the mapping becomes a block under its key
        parent_col = _key_column_of_line(text, start)
        head = text[:start].rstrip(" \t")
        tail = text[end:]
        insert_at = _line_end(head + tail, len(head))
        joined = head + tail
        lines = _block_lines(rest, edit.value, parent_col + step, step, edit.comment)
        block = nl.join(lines) + nl
        if insert_at == len(joined) and joined and not joined.endswith("\n"):
            block = nl + block
        return joined[:insert_at] + block + joined[insert_at:]
    if not mapping.value:  # pragma: no cover - an empty block mapping cannot exist in YAML
        raise PatchError(f"{where}: empty mapping")
    indent = mapping.value[0][0].start_mark.column
    end = _content_end(text, mapping)
    at = _skip_deeper_comments(text, _line_end(text, end), indent)
    lines = _block_lines(rest, edit.value, indent, step, edit.comment)
    block = nl.join(lines) + nl
    if at == len(text) and not text.endswith("\n"):
        block = nl + block
    return text[:at] + block + text[at:]


def _skip_deeper_comments(text: str, at: int, indent: int) -> int:
    """Move past comment lines indented deeper than `indent`: they close the previous nested block."""
    while at < len(text):
        eol = text.find("\n", at)
        line = text[at : len(text) if eol < 0 else eol + 1]
        body = line.lstrip(" \t")
        if not body.startswith("#") or len(line) - len(body) <= indent:
            break
        at += len(line)
    return at


def _key_column_of_line(text: str, i: int) -> int:
    """Column of the first non-blank character (after any `- `) of the line holding index i."""
    start = text.rfind("\n", 0, i) + 1
    j = start
    while j < len(text) and text[j] in " -":
        if text[j] == "-" and (j + 1 >= len(text) or text[j + 1] not in " \t"):
            break
        j += 1
    return j - start


def _fill_null(
    text: str, key: Any, value: Any, rest: Sequence[Segment], *, edit: Edit, nl: str, step: int
) -> str:
    """`key:` (or `key: null` / `key: ~`) becomes a block holding the rest of the path."""
    start, end = value.start_mark.index, value.end_mark.index
    if start < end and start >= key.end_mark.index:
        text = text[:start].rstrip(" \t") + text[end:]
    at = _line_end(text, key.end_mark.index)
    lines = _block_lines(rest, edit.value, key.start_mark.column + step, step, edit.comment)
    block = nl.join(lines) + nl
    if at == len(text) and not text.endswith("\n"):
        block = nl + block
    return text[:at] + block + text[at:]


def _set(data: Any, path: Sequence[Segment], value: Any) -> None:
    cur = data
    for i, seg in enumerate(path):
        last = i == len(path) - 1
        if isinstance(seg, Select):
            cur = next(it for it in cur if _select_value(it, seg.field) == seg.value)
        elif isinstance(seg, int):
            cur = cur[seg]
        elif last:
            cur[seg] = value
        else:
            if cur.get(seg) is None:
                cur[seg] = {}
            cur = cur[seg]


def patch_text(text: str, edits: Sequence[Edit], *, source: str = "<text>") -> PatchResult:
    """Apply every edit; only the changed scalars (and added keys) differ in the result."""
    current = text
    changes: list[KeyChange] = []
    for edit in edits:
        current, change = _apply_one(current, edit, source)
        if change is not None:
            changes.append(change)
    if not changes:
        return PatchResult(text, ())
    _verify(text, current, edits, source)
    return PatchResult(current, tuple(changes))


def _verify(old: str, new: str, edits: Sequence[Edit], source: str) -> None:
    """The new text must load to exactly the old data with the edits applied."""
    before = copy.deepcopy(_load_all(old, source))
    after = _load_all(new, source)
    expected = before
    for edit in edits:
        idx = _pick_document_data(expected, edit.document)
        if idx is None:
            expected = expected or [{}]
            idx = 0
            if expected[0] is None:
                expected[0] = {}
        _set(expected[idx], edit.path, edit.value)
    if [d for d in expected if d is not None] != [d for d in after if d is not None]:
        raise PatchError(f"{source}: the patch would change more than the requested keys; not written")


def _pick_document_data(datas: list[Any], doc: Document | None) -> int | None:
    for i, d in enumerate(datas):
        if doc is None and d is not None:
            return i
        if doc is not None and _doc_matches(d, doc):
            return i
    return None
