"""Medium-tier safety checks: a resources diff judged against the `sizing` evidence (DESIGN §4.6).

For every `resources` block the change set touches (Helm values or raw manifests), after the
change: limits ≥ requests; each changed request ≥ recorded p95 × (1 + margin), within a 5 %
rounding tolerance, unless the evidence's `clamped` says why not; and no memory request or limit
lowered when the evidence records an OOMKill in its window. The evidence comes from the PR's
marker (`sizing`, DESIGN §4.4); the margin comes from the policy, never from the PR. Pure: reads
the texts it is given, never files or the network.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiops.errors import InputError
from aiops.model.changes import ChangeSet, FileChange
from aiops.model.quantity import MI, parse_quantity
from aiops.policy.keypaths import KeyPathError, Segment, diff_documents, format_path, load_documents, lookup
from aiops.policy.keypaths import split_path as _split

TOLERANCE = 0.05
RESOURCES = ("cpu", "memory")


@dataclass(frozen=True)
class SafetyResult:
    """Problems fail the gate; notes explain what was (not) checked and why."""

    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "problems": list(self.problems),
            "notes": list(self.notes),
            "checked": self.checked,
        }


@dataclass(frozen=True)
class _Block:
    file: str
    path: tuple[Segment, ...]
    container: str | None
    old: Mapping[str, Any]
    new: Mapping[str, Any]

    @property
    def where(self) -> str:
        return f"{self.file}:{format_path(list(self.path))}"


def fmt(resource: str, value: float) -> str:
    """Human form of a quantity: `130m` / `1.5` cores, `156Mi` bytes."""
    if resource == "cpu":
        return f"{value * 1000:.0f}m" if value < 1 else f"{value:g}"
    mi = value / MI
    return f"{mi:.0f}Mi" if abs(mi - round(mi)) < 0.05 else f"{mi:.1f}Mi"


def _quantity(value: Any, where: str) -> float | None:
    if value is None:
        return None
    return parse_quantity(value, field=where)


def _get(block: Mapping[str, Any], part: str, resource: str) -> Any:
    section = block.get(part)
    return section.get(resource) if isinstance(section, Mapping) else None


def _clamp_reason(evidence: Mapping[str, Any], resource: str) -> tuple[str | None, bool]:
    """The reason the evidence gives for not following p95 × (1 + margin), and whether it claims one."""
    clamped = evidence.get("clamped")
    if clamped is None or clamped is False or clamped in ("", {}, []):
        return None, False
    if isinstance(clamped, str):
        return clamped.strip() or None, True
    if isinstance(clamped, Mapping):
        reason = clamped.get(resource)
        if reason is None or reason is False:
            return None, False
        return (reason.strip() or None) if isinstance(reason, str) else None, True
    if isinstance(clamped, list):
        texts = [str(c).strip() for c in clamped if isinstance(c, str) and c.strip()]
        return ("; ".join(texts) or None), True
    return None, True


def _blocks(fc: FileChange, sizing: Mapping[str, Any] | None) -> list[_Block]:
    old_docs = load_documents(fc.old_text, where=fc.old_path or fc.path) if fc.old_text else []
    new_docs = load_documents(fc.new_text, where=fc.path) if fc.new_text else []
    multi = max(len(old_docs), len(new_docs)) > 1
    seen: dict[tuple[Segment, ...], None] = {}
    for kc in diff_documents(old_docs, new_docs, where=fc.path):
        segs = _split(kc.path)
        if "resources" not in segs:
            continue
        cut = len(segs) - 1 - segs[::-1].index("resources")
        seen.setdefault(tuple(segs[: cut + 1]), None)
    out: list[_Block] = []
    names = list(sizing) if sizing else []
    for path in seen:
        segs = list(path)
        doc_index = 0
        if multi and segs and isinstance(segs[0], int):
            doc_index, segs = segs[0], segs[1:]
        old_doc = old_docs[doc_index] if doc_index < len(old_docs) else None
        new_doc = new_docs[doc_index] if doc_index < len(new_docs) else None
        old = lookup(old_doc, segs)
        new = lookup(new_doc, segs)
        container = _container(segs, new_doc if new_doc is not None else old_doc, names)
        out.append(
            _Block(
                fc.path,
                path,
                container,
                old if isinstance(old, Mapping) else {},
                new if isinstance(new, Mapping) else {},
            )
        )
    return out


def _container(segs: list[Segment], doc: Any, names: list[str]) -> str | None:
    """Which container a resources block sizes: a manifest's container name, a values parent key
    named like a container of the evidence, or the evidence's only container."""
    parent = segs[:-1]
    if parent and isinstance(parent[-1], int):
        item = lookup(doc, parent)
        if isinstance(item, Mapping) and isinstance(item.get("name"), str):
            return str(item["name"])
    for seg in reversed(parent):
        if isinstance(seg, str) and seg in names:
            return seg
    if len(names) == 1:
        return names[0]
    return None


def check(
    change_set: ChangeSet,
    sizing: Mapping[str, Any] | None,
    *,
    margin: float,
    tolerance: float = TOLERANCE,
) -> SafetyResult:
    """Run the medium-tier safety checks of every resources block the change set touches."""
    problems: list[str] = []
    notes: list[str] = []
    blocks: list[_Block] = []
    for fc in change_set.files:
        if fc.new_text is None or not fc.path.endswith((".yaml", ".yml")):
            continue
        try:
            blocks.extend(_blocks(fc, sizing))
        except KeyPathError as exc:
            problems.append(f"{fc.path}: cannot read it to check resources ({exc})")
    if blocks and not sizing:
        notes.append("no sizing evidence in the marker: only limits ≥ requests checked")
    for block in blocks:
        try:
            _check_block(block, sizing, margin=margin, tolerance=tolerance, problems=problems, notes=notes)
        except InputError as exc:
            problems.append(f"{block.where}: unreadable quantity ({exc.message})")
    return SafetyResult(tuple(problems), tuple(notes), len(blocks))


def _check_block(
    block: _Block,
    sizing: Mapping[str, Any] | None,
    *,
    margin: float,
    tolerance: float,
    problems: list[str],
    notes: list[str],
) -> None:
    where = block.where
    for res in RESOURCES:
        req = _quantity(_get(block.new, "requests", res), f"{where}.requests.{res}")
        lim = _quantity(_get(block.new, "limits", res), f"{where}.limits.{res}")
        if req is not None and lim is not None and lim < req:
            problems.append(f"{where}: {res} limit {fmt(res, lim)} is below its request {fmt(res, req)}")
    if not sizing:
        return
    if block.container is None:
        notes.append(
            f"{where}: cannot tell which container of the sizing evidence it sizes; p95 check skipped"
        )
        return
    evidence = sizing.get(block.container)
    if not isinstance(evidence, Mapping):
        notes.append(f"{where}: no sizing evidence for container {block.container}; p95 check skipped")
        return
    name = block.container
    for res in RESOURCES:
        old_raw = _get(block.old, "requests", res)
        new_raw = _get(block.new, "requests", res)
        if old_raw == new_raw:
            continue
        p95_raw = evidence.get(f"{res}_p95")
        if p95_raw is None:
            notes.append(f"{name}: no recorded {res} p95; {res} request not checked")
            continue
        p95 = _quantity(p95_raw, f"sizing.{name}.{res}_p95")
        assert p95 is not None
        floor = p95 * (1 + margin)
        new = _quantity(new_raw, f"{where}.requests.{res}")
        reason, claimed = _clamp_reason(evidence, res)
        if new is None:
            problems.append(f"{name}: removes the {res} request (recorded p95 {fmt(res, p95)})")
            continue
        if new >= floor * (1 - tolerance):
            continue
        text = (
            f"{name}: {res} request {fmt(res, new)} is below the recorded p95 {fmt(res, p95)}"
            f" × {1 + margin:.2f} = {fmt(res, floor)} (tolerance {tolerance:.0%})"
        )
        if reason:
            notes.append(f"{text}; accepted, clamped: {reason}")
        elif claimed:
            problems.append(f"{text}; marked clamped but without a reason")
        else:
            problems.append(text)
    oom = evidence.get("oom_in_window")
    if oom and not (isinstance(oom, str) and oom.lower() in ("false", "0", "no")):
        for part in ("requests", "limits"):
            old = _quantity(_get(block.old, part, "memory"), f"{where}.{part}.memory (before)")
            new = _quantity(_get(block.new, part, "memory"), f"{where}.{part}.memory")
            if old is not None and (new is None or new < old):
                after = fmt("memory", new) if new is not None else "none"
                problems.append(
                    f"{name}: lowers the memory {part[:-1]} {fmt('memory', old)} → {after}"
                    " after an OOMKill in the window"
                )
