"""The planner: a Recommendation becomes file changes (file text in, file text out).

For each recommendation kind (DESIGN §4.4) it maps the target to files and keys
(`aiops.gitops.mapping`), turns `proposed` into value edits - quantities written in the style the
file already uses (`512Mi` → `156Mi`, `"0.5"` → `"0.13"`, `500m` → `130m`) - and patches the file
text (`aiops.gitops.patch`). The result is one `FileChange` per touched file with its `KeyChange`s
and unified diff, nothing when the file already says so, or `Skipped(cause="unmapped")`.

Files are read only through the `read_file(path) -> str | None` callable it is given (a checkout,
or the GitHub API), so the planner needs no working tree. It writes nothing and runs nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from aiops.errors import InputError
from aiops.gitops.mapping import Mapped, ReadFile, Unmapped, find_documents, resolve, snippet_for
from aiops.gitops.patch import (
    Edit,
    KeyPath,
    PatchError,
    Select,
    format_key_path,
    parse_key_path,
    patch_text,
    read_value,
)
from aiops.model.changes import FileChange
from aiops.model.k8s import K8sObject, ObjectRef, dig, format_time
from aiops.model.quantity import parse_cpu, parse_memory
from aiops.model.recommendations import Recommendation, Skipped
from aiops.settings import Settings

RESTARTED_AT = "aiops.io/restartedAt"
CONFIG_PLACEHOLDER = ""
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}


# ---- quantities in the file's own style -----------------------------------------------------


def quantity_in_style(new: Any, like: Any, resource: str) -> Any:
    """Express quantity `new` the way `like` (the value already in the file) is written.

    `like` None: the proposal's own text. CPU: millicores stay millicores (`130m`); cores stay cores,
    as a number when the file has a number (`0.13`) or as a string when it has a string (`"0.13"`).
    Memory: the file's unit when the value is whole in it (`512Mi` → `156Mi`, `1Gi` → `2Gi`), else the
    next smaller binary unit rounded up; plain byte counts stay byte counts.
    """
    if like is None or isinstance(like, bool):
        return new
    if resource == "cpu":
        milli = round(parse_cpu(new, field="proposed cpu") * 1000)
        cores = Decimal(milli) / 1000
        if isinstance(like, int | float):
            return int(cores) if milli % 1000 == 0 else float(cores)
        text = str(like).strip()
        if text.endswith("m"):
            return f"{milli}m"
        return _decimal_text(cores)
    num_bytes = round(parse_memory(new, field=f"proposed {resource}"))
    if isinstance(like, int | float):
        return num_bytes
    text = str(like).strip()
    suffix = text.lstrip("0123456789.+-eE")
    if suffix in _BINARY:
        unit = _BINARY[suffix]
        if num_bytes % unit == 0:
            return f"{num_bytes // unit}{suffix}"
        smaller = "Mi" if unit > _BINARY["Mi"] else suffix
        return f"{math.ceil(num_bytes / _BINARY[smaller])}{smaller}"
    if suffix in _DECIMAL:
        unit = _DECIMAL[suffix]
        if num_bytes % unit == 0:
            return f"{num_bytes // unit}{suffix}"
        smaller = "M" if unit > _DECIMAL["M"] else suffix
        return f"{math.ceil(num_bytes / _DECIMAL[smaller])}{smaller}"
    if suffix == "":
        return str(num_bytes)
    return new


def _decimal_text(d: Decimal) -> str:
    text = format(d.normalize(), "f")
    return text


def _same_quantity(a: Any, b: Any, resource: str) -> bool:
    try:
        parse = parse_cpu if resource == "cpu" else parse_memory
        return math.isclose(parse(a), parse(b), rel_tol=0, abs_tol=1e-9) and type(a) is type(b)
    except InputError:
        return False


# ---- planning ---------------------------------------------------------------------------------


@dataclass
class _FileEdits:
    mapped: Mapped
    text: str
    edits: list[Edit]


def plan(
    rec: Recommendation,
    *,
    settings: Settings,
    read_file: ReadFile,
    live: K8sObject | None = None,
    at: datetime | None = None,
) -> tuple[FileChange, ...] | Skipped:
    """The file changes that carry out `rec`; () when the files already say it; Skipped if unmapped.

    `live` is the workload object (for its Helm release metadata and containers); `at` is the time
    written into a restart annotation (kept out of the proposal's hash).
    """
    files: dict[str, _FileEdits] = {}
    proposed = rec.proposed

    def target(container: str | None, fields: Sequence[str]) -> Mapped | Unmapped:
        return resolve(rec.target, container, fields, settings=settings, read_file=read_file, live=live)

    def add(m: Mapped, edit: Edit) -> None:
        if m.file not in files:
            text = read_file(m.file)
            if text is None:  # pragma: no cover - resolve() checked it
                raise InputError(f"{m.file}: file not found")
            files[m.file] = _FileEdits(m, text, [])
        files[m.file].edits.append(edit)

    kind = rec.kind
    if kind == "rightsize":
        for container, spec in proposed.items():
            m = target(str(container), ["resources"])
            if isinstance(m, Unmapped):
                return m.skipped(kind)
            live_spec = rec.current.get(container) if isinstance(rec.current, Mapping) else None
            for edit in _rightsize_edits(m, _text_of(m, files, read_file), spec, live_spec):
                add(m, edit)
    elif kind == "scale":
        m = target(None, ["replicas"])
        if isinstance(m, Unmapped):
            return m.skipped(kind)
        add(m, Edit(_key(m, "replicas"), int(proposed["replicas"]), m.document))
    elif kind == "hpa":
        m = target(None, ["autoscaling"])
        if isinstance(m, Unmapped):
            return m.skipped(kind)
        edits = _hpa_edits(m, _text_of(m, files, read_file), proposed)
        if isinstance(edits, Skipped):
            return edits
        for edit in edits:
            add(m, edit)
    elif kind == "restart":
        if at is None:
            raise InputError("restart: the time to write into podAnnotations is required (at=)")
        m = target(None, ["pod_annotations"])
        if isinstance(m, Unmapped):
            return m.skipped(kind)
        add(m, Edit((*_key(m, "pod_annotations"), RESTARTED_AT), format_time(at), m.document))
    elif kind == "config":
        m = target(None, ["config"])
        if isinstance(m, Unmapped):
            return m.skipped(kind)
        config_edit = _config_edit(m, _text_of(m, files, read_file), proposed)
        if isinstance(config_edit, Skipped):
            return config_edit
        if config_edit is not None:
            add(m, config_edit)
    elif kind == "image":
        image_container = proposed.get("container") or rec.current.get("container")
        if image_container is None and live is not None:
            names = [
                c.get("name") for c in dig(live, "spec", "template", "spec", "containers", default=[]) or []
            ]
            image_container = names[0] if len(names) == 1 else None
        m = target(str(image_container) if image_container else None, ["image"])
        if isinstance(m, Unmapped):
            return m.skipped(kind)
        for edit in _image_edits(m, proposed):
            add(m, edit)
    elif kind == "rollback":
        return ()  # a revert of the merged proposal, made by the forge, not a values patch
    else:
        raise InputError(f"recommendation {rec.key}: unknown kind {kind!r}")

    out: list[FileChange] = []
    for path, fe in files.items():
        try:
            result = patch_text(fe.text, fe.edits, source=path)
        except PatchError as exc:
            # e.g. the key is an alias of a block shared with other keys: writing it would change
            # them too. Not a guess to make: say so, with the entry that would point elsewhere.
            why = f"cannot write {exc}"
            return Unmapped(
                rec.target, fe.mapped.container, why, snippet_for(rec.target, None, path)
            ).skipped(kind)
        if result.changed:
            out.append(FileChange(path=path, old_text=fe.text, new_text=result.text, keys=result.changes))
    return tuple(out)


def plan_all(
    recs: Sequence[Recommendation],
    *,
    settings: Settings,
    read_file: ReadFile,
    live_of: Callable[[ObjectRef], K8sObject | None] = lambda ref: None,
    at: datetime | None = None,
) -> tuple[tuple[Recommendation, ...], tuple[Skipped, ...]]:
    """Plan every recommendation: those mapped get `changes` (tier stays for the policy to fill);
    the unmapped become `Skipped`. A recommendation whose files already say it keeps `changes=()`."""
    planned: list[Recommendation] = []
    skipped: list[Skipped] = []
    for rec in recs:
        result = plan(rec, settings=settings, read_file=read_file, live=live_of(rec.target), at=at)
        if isinstance(result, Skipped):
            skipped.append(result)
        else:
            planned.append(replace(rec, changes=result))
    return tuple(planned), tuple(skipped)


def _text_of(m: Mapped, files: Mapping[str, _FileEdits], read_file: ReadFile) -> str:
    if m.file in files:
        return files[m.file].text
    text = read_file(m.file)
    if text is None:  # pragma: no cover - resolve() checked it
        raise InputError(f"{m.file}: file not found")
    return text


def _key(m: Mapped, name: str) -> KeyPath:
    key = m.key(name)
    assert key is not None  # resolve() checked the requested fields
    return key


def _beyond(file_value: Any, live: Any, proposed: Any, resource: str) -> bool:
    """True when git already goes at least as far as the proposal, in the proposal's direction.

    The recommendation is computed from the live object; when the values file has drifted from it
    (say the cluster runs 256Mi but the file already says 512Mi), writing the proposal (360Mi)
    would move the file backwards — lowering memory right after an OOMKill. Such a key is left alone.
    """
    parse = parse_cpu if resource == "cpu" else parse_memory
    try:
        f, cur, new = parse(file_value), parse(live), parse(proposed)
    except InputError:
        return False
    if new > cur:
        return f >= new
    if new < cur:
        return f <= new
    return False


def _rightsize_edits(m: Mapped, text: str, spec: Any, live_spec: Any = None) -> list[Edit]:
    if not isinstance(spec, Mapping):
        raise InputError(f"rightsize proposal for {m.container}: expected requests/limits, got {spec!r}")
    base = _key(m, "resources")
    edits: list[Edit] = []
    for section in ("requests", "limits"):
        other = "limits" if section == "requests" else "requests"
        for resource, qty in (spec.get(section) or {}).items():
            if qty is None:
                raise InputError(
                    f"rightsize proposal for {m.container}: {section}.{resource} is null (not a quantity)"
                )
            path = (*base, section, str(resource))
            old = read_value(text, path, document=m.document, source=m.file)
            like = old if old is not None else read_value(text, (*base, other, resource), document=m.document)
            value = quantity_in_style(qty, like, str(resource))
            if old is not None and _same_quantity(old, value, str(resource)):
                continue
            live = (live_spec.get(section) or {}).get(resource) if isinstance(live_spec, Mapping) else None
            if old is not None and live is not None and _beyond(old, live, qty, str(resource)):
                continue
            edits.append(Edit(path, value, m.document))
    return edits


def _hpa_edits(m: Mapped, text: str, proposed: Mapping[str, Any]) -> list[Edit] | Skipped:
    names = ("minReplicas", "maxReplicas", "targetCPUUtilizationPercentage")
    if m.format == "values":
        base = _key(m, "autoscaling")
        edits = [Edit((*base, "enabled"), bool(proposed.get("enabled", True)), m.document)]
        edits += [
            Edit((*base, n), int(proposed[n]), m.document) for n in names if proposed.get(n) is not None
        ]
        return edits
    w = m.workload
    docs = find_documents(
        text,
        "HorizontalPodAutoscaler",
        lambda d: (
            dig(d, "spec", "scaleTargetRef", "name") == w.name
            and dig(d, "spec", "scaleTargetRef", "kind") == w.kind
        ),
        source=m.file,
    )
    if not docs:
        return Unmapped(
            w, None, f"{m.file} holds no HorizontalPodAutoscaler for {w.kind}/{w.name}", _hpa_snippet(m)
        ).skipped("hpa")
    doc = docs[0]
    out: list[Edit] = []
    if proposed.get("minReplicas") is not None:
        out.append(Edit(("spec", "minReplicas"), int(proposed["minReplicas"]), doc))
    if proposed.get("maxReplicas") is not None:
        out.append(Edit(("spec", "maxReplicas"), int(proposed["maxReplicas"]), doc))
    if proposed.get("targetCPUUtilizationPercentage") is not None:
        path: KeyPath = (
            "spec",
            "metrics",
            Select("resource.name", "cpu"),
            "resource",
            "target",
            "averageUtilization",
        )
        out.append(Edit(path, int(proposed["targetCPUUtilizationPercentage"]), doc))
    return out


def _hpa_snippet(m: Mapped) -> str:
    return snippet_for(m.workload, None, m.file)


def _config_edit(m: Mapped, text: str, proposed: Mapping[str, Any]) -> Edit | Skipped | None:
    key = str(proposed.get("key") or "")
    if not key:
        raise InputError("config proposal: 'key' is required")
    comment = f"aiops: set {key} (missing, see PHR)"
    if m.format == "values":
        values_key = proposed.get("values_key")
        default = (*_key(m, "config"), key)
        if values_key and str(values_key) != f"{format_key_path(default[:-1])}.{key}":
            path = parse_key_path(str(values_key))
        else:
            path = default  # also keeps a key with dots in its name ("app.properties") one key
        if read_value(text, path, source=m.file) is not None:
            return None  # the key is there already; a person owns its value
        return Edit(path, CONFIG_PLACEHOLDER, m.document, comment=comment)
    cm = str(proposed.get("configmap") or "")
    docs = find_documents(text, "ConfigMap", lambda d: dig(d, "metadata", "name") == cm, source=m.file)
    if not docs:
        return Unmapped(
            m.workload, None, f"{m.file} holds no ConfigMap named {cm or '(unnamed)'}", _hpa_snippet(m)
        ).skipped("config")
    if read_value(text, ("data", key), document=docs[0], source=m.file) is not None:
        return None
    return Edit(("data", key), CONFIG_PLACEHOLDER, docs[0], comment=comment)


def _image_edits(m: Mapped, proposed: Mapping[str, Any]) -> list[Edit]:
    repo = proposed.get("repository")
    tag = proposed.get("tag")
    base = _key(m, "image")
    if m.format == "values":
        edits: list[Edit] = []
        if repo is not None:
            edits.append(Edit((*base, "repository"), str(repo), m.document))
        if tag is not None:
            edits.append(Edit((*base, "tag"), str(tag), m.document))
        return edits
    if repo is None or tag is None:
        raise InputError("image proposal for a plain manifest needs both repository and tag")
    sep = "@" if str(tag).startswith("sha256:") else ":"
    return [Edit(base, f"{repo}{sep}{tag}", m.document)]
