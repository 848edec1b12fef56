"""PHR rendering and parsing (DESIGN §4.5): record files, the PR body, and the hidden markers.

`render_record` writes one stage of a decision as YAML front matter + Markdown sections through
the Jinja2 templates of this package; `parse_record` reads it back (render ⇄ parse round trip).
`render_pr_body` writes the recommendation record as a pull request body under GitHub's 65,536
characters (evidence and diff abbreviated, saying so) ending with the `aiops:meta` marker;
`encode_marker` / `decode_marker` and `comment_marker` are the machine-readable parts.
Text that came from the cluster is fenced or escaped (no @-mentions, no HTML, no block breaking,
no spoofed markers) and everything rendered goes through `aiops.redact.redact`.
Pure: templates are package resources; nothing else is read, nothing is written here.
"""

from __future__ import annotations

import base64
import binascii
import functools
import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from aiops.errors import InputError
from aiops.model.changes import FileChange
from aiops.model.k8s import format_time, parse_time
from aiops.model.phr import SECTIONS, STAGES, PhrRecord
from aiops.model.recommendations import Recommendation
from aiops.redact import redact

if TYPE_CHECKING:
    import jinja2

MAX_BODY_CHARS = 65_536
"""GitHub's limit for a PR body or comment."""
BODY_BUDGET = 64_000
"""What we aim at, leaving room for GitHub's own counting of multi-byte characters."""
MARKER_VERSION = 1
META_KEYS: tuple[str, ...] = (
    "v",
    "id",
    "key",
    "kind",
    "target",
    "proposed",
    "sizing",
    "content_hash",
    "tier",
    "requested_by",
    "base_sha",
    "revert_of",
)
COMMON_KEYS: tuple[str, ...] = (
    "kind",
    "tier",
    "target",
    "codes",
    "failure_started_at",
    "detected_at",
    "recommended_at",
    "confidence",
    "cost",
    "pr",
)
"""Front matter keys every stage carries (null until known), after id, stage, title, created."""
STAGE_ORDER: Mapping[str, tuple[str, ...]] = {
    "recommendation": ("Recommendation", "Evidence", "Change", "Risk & approval", "Rollback procedure"),
    "execution": ("Execution", "Change", "Risk & approval", "Rollback procedure"),
    "validation": ("Validation", "Execution", "Rollback procedure"),
    "rollback": ("Rollback procedure", "Change", "Evidence", "Risk & approval"),
}
ZWJ = "\u200d"
EVIDENCE_KEEP = 20

_MARKER_RE = re.compile(r"<!--\s*aiops:meta\s+(?P<payload>[^<>]*?)\s*-->")
_COMMENT_RE = re.compile(r"<!--\s*aiops:comment:(?P<name>[a-z0-9][a-z0-9._-]*)\s*-->")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_HEADING_RE = re.compile(r"^## (?P<name>.*?)\s*$")
_ESCAPED_HEADING_RE = re.compile(r"^\\+## ")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


class MarkerError(InputError):
    """A hidden marker is present but was altered: not base64, not JSON, or not a marker object."""


# ---- escaping ---------------------------------------------------------------------------------


def _defang(text: str) -> str:
    """Stop text from opening an HTML comment (a spoofed `aiops:` marker) or mentioning anyone."""
    return text.replace("<!--", f"<{ZWJ}!--")


def escape_text(text: Any) -> str:
    """Prose from the cluster on one line: Markdown and HTML neutralised, @-mentions broken."""
    s = redact(str(text)).replace("\r", " ").replace("\n", " ")
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = _MD_SPECIAL.sub(r"\\\1", s)
    s = s.replace("@", f"@{ZWJ}")
    if s.startswith(("#", ">", "-", "+", "=")) or re.match(r"^\d+[.)]", s):
        s = "\\" + s
    return s


def _longest_run(text: str, ch: str = "`") -> int:
    runs = re.findall(re.escape(ch) + "+", text)
    return max((len(r) for r in runs), default=0)


def inline_code(text: Any) -> str:
    """Cluster text inline: a code span longer than any backtick run inside (nothing renders)."""
    s = _defang(redact(str(text))).replace("\r", " ").replace("\n", " ")
    ticks = "`" * (_longest_run(s) + 1)
    pad = " " if s.startswith("`") or s.endswith("`") or not s.strip() else ""
    return f"{ticks}{pad}{s}{pad}{ticks}"


def cell(text: Any) -> str:
    """Inline code safe inside a Markdown table cell (`|` escaped)."""
    return inline_code(text).replace("|", "\\|")


def fence(text: Any, lang: str = "text") -> str:
    """A fenced block no content can close: backticks longer than any run inside, text redacted."""
    s = _defang(redact(str(text))).replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")
    ticks = "`" * max(3, _longest_run(s) + 1)
    lang = re.sub(r"[^A-Za-z0-9_+-]", "", lang)
    return f"{ticks}{lang}\n{s}\n{ticks}"


# ---- markers ----------------------------------------------------------------------------------


def comment_marker(name: str) -> str:
    """`<!-- aiops:comment:<name> -->`, the first line of a comment aiops keeps up to date."""
    if not _NAME_RE.match(name):
        raise InputError(f"comment marker name {name!r}: use lower-case letters, digits, '.', '_' or '-'")
    return f"<!-- aiops:comment:{name} -->"


def find_comment_marker(body: str) -> str | None:
    """The name of the first aiops comment marker in a body, or None."""
    m = _COMMENT_RE.search(body or "")
    return m.group("name") if m else None


def encode_marker(meta: Mapping[str, Any]) -> str:
    """`<!-- aiops:meta BASE64(JSON) -->`: base64 so nothing inside can close the comment."""
    data = {"v": MARKER_VERSION, **_redact_tree(_plain(dict(meta)))}
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"<!-- aiops:meta {base64.b64encode(blob.encode('utf-8')).decode('ascii')} -->"


def decode_marker(text: str) -> dict[str, Any] | None:
    """The marker of a PR body, None when there is none.

    Raises MarkerError when a marker is there but was altered so it no longer decodes, or when
    the body holds several different markers (aiops writes one, and defangs any `<!--` in the
    cluster text it quotes, so a second one was added by hand).
    """
    payloads = {re.sub(r"\s+", "", m.group("payload")) for m in _MARKER_RE.finditer(text or "")}
    if not payloads:
        return None
    if len(payloads) > 1:
        raise MarkerError(
            f"aiops:meta marker: the body holds {len(payloads)} different markers (was it edited?)"
        )
    payload = payloads.pop()
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MarkerError("aiops:meta marker: payload is not valid base64 (was the PR body edited?)") from exc
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MarkerError("aiops:meta marker: payload is not valid JSON (was the PR body edited?)") from exc
    if not isinstance(data, dict):
        raise MarkerError(f"aiops:meta marker: expected a JSON object, got {type(data).__name__}")
    version = data.get("v")
    if not isinstance(version, int) or isinstance(version, bool) or version > MARKER_VERSION or version < 1:
        raise MarkerError(f"aiops:meta marker: unsupported version {version!r} (this aiops reads v1)")
    return data


def build_meta(
    recommendation: Recommendation,
    *,
    record_id: str | None = None,
    tier: str | None = None,
    requested_by: str | None = None,
    base_sha: str | None = None,
    revert_of: int | None = None,
) -> dict[str, Any]:
    """The marker's content (DESIGN §4.5) for a recommendation."""
    if revert_of is None and recommendation.kind == "rollback":
        value = recommendation.proposed.get("revert_of")
        revert_of = int(value) if isinstance(value, int) and not isinstance(value, bool) else None
    return {
        "v": MARKER_VERSION,
        "id": record_id or recommendation.id,
        "key": recommendation.key,
        "kind": recommendation.kind,
        "target": recommendation.target.to_dict(),
        "proposed": _plain(dict(recommendation.proposed)),
        "sizing": _plain(dict(recommendation.sizing)) if recommendation.sizing is not None else None,
        "content_hash": recommendation.content_hash,
        "tier": tier or recommendation.tier,
        "requested_by": requested_by,
        "base_sha": base_sha,
        "revert_of": revert_of,
    }


# ---- records ----------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """JSON/YAML-safe form: datetimes as ISO 8601 UTC strings, tuples as lists, records as dicts."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(str(v) for v in value)
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return _plain(to_dict())
    return str(value)


def _redact_tree(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_tree(v) for v in value]
    return value


def _check_id(record_id: str, where: str) -> None:
    if not _ID_RE.match(record_id) or ".." in record_id:
        raise InputError(f"{where}: id {record_id!r} is not a decision id (letters, digits, '.', '_', '-')")


def normalize_record(record: PhrRecord) -> PhrRecord:
    """The canonical form a record is written in (and parsed back as): plain, redacted values;
    every common key present (null until known); `created` at second precision; sections
    without surrounding blank lines. `id`, `stage` and `created` live in the fields only."""
    _check_id(record.id, "PHR")
    if record.stage not in STAGES:
        raise InputError(f"PHR {record.id}: stage {record.stage!r} is not one of {', '.join(STAGES)}")
    created = parse_time(format_time(record.created))
    assert created is not None
    given = _redact_tree(_plain(dict(record.front)))
    front: dict[str, Any] = {"title": given.get("title") or record.id}
    for k in COMMON_KEYS:
        front[k] = given.get(k)
    for k, v in given.items():
        if k not in front and k not in ("id", "stage", "created"):
            front[k] = v
    sections: dict[str, str] = {}
    for name, body in record.sections.items():
        clean = str(name).replace("\n", " ").strip()
        if not clean:
            raise InputError(f"PHR {record.id}: a section has an empty name")
        text = redact(str(body)).replace("\r\n", "\n").replace("\r", "\n").strip("\n")
        sections[clean] = text
    return PhrRecord(id=record.id, stage=record.stage, created=created, front=front, sections=sections)


@functools.lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("aiops.phr", "templates"),
        autoescape=False,  # Markdown, not HTML: values are escaped by the helpers above
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _yaml_dump(data: Mapping[str, Any]) -> str:
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.width = 4096
    yaml.allow_unicode = True
    yaml.representer.sort_base_mapping_type_on_output = False
    buf = io.StringIO()
    yaml.dump(dict(data), buf)
    return buf.getvalue()


def _yaml_load(text: str, where: str) -> Any:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        return YAML(typ="safe", pure=True).load(text)
    except (YAMLError, ValueError) as exc:
        raise InputError(f"{where}: front matter is not valid YAML") from exc


def _escape_headings(body: str) -> str:
    """A line that would read as a section heading gets one more backslash (parse removes it)."""
    return "\n".join(
        "\\" + ln if ln.startswith("## ") or _ESCAPED_HEADING_RE.match(ln) else ln for ln in body.split("\n")
    )


def _ordered(stage: str, sections: Mapping[str, str]) -> list[tuple[str, str]]:
    order = [s for s in STAGE_ORDER.get(stage, SECTIONS) if s in sections]
    order += [s for s in sections if s not in order]
    return [(name, sections[name]) for name in order]


def _target_text(target: Any) -> str:
    if isinstance(target, Mapping):
        parts = [target.get("namespace"), target.get("kind"), target.get("name")]
        return inline_code("/".join(str(p) for p in parts if p))
    return inline_code(target) if target else "the target"


def render_record(record: PhrRecord) -> str:
    """One stage of a decision as a Markdown file with YAML front matter (DESIGN §4.5)."""
    rec = normalize_record(record)
    front: dict[str, Any] = {
        "id": rec.id,
        "stage": rec.stage,
        "title": rec.front["title"],
        "created": format_time(rec.created),
    }
    front.update({k: v for k, v in rec.front.items() if k != "title"})
    context = {
        "front_yaml": _yaml_dump(front),
        "title": escape_text(front["title"]),
        "sections": [(n, _escape_headings(b)) for n, b in _ordered(rec.stage, rec.sections)],
        "id": rec.id,
        "kind": escape_text(front.get("kind") or "change"),
        "tier": escape_text(front.get("tier") or "unclassified"),
        "verdict": escape_text(front.get("verdict") or "pending"),
        "target": _target_text(front.get("target")),
    }
    text = _env().get_template(f"{rec.stage}.md.j2").render(**context)
    text = re.sub(r"\n{3,}", "\n\n", text).rstrip("\n") + "\n"
    final = redact(text)  # a last pass over everything; keep it only if the file still parses
    if final != text:
        try:
            parse_record(final)
            text = final
        except InputError:
            pass
    return text


def parse_record(text: str, *, where: str = "PHR") -> PhrRecord:
    """Read a record file back; the result equals `normalize_record` of what was rendered."""
    lines = text.lstrip("\ufeff").replace("\r\n", "\n").split("\n")
    if not lines or lines[0].strip() != "---":
        raise InputError(f"{where}: no YAML front matter (the file must start with '---')")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() in ("---", "..."))
    except StopIteration as exc:
        raise InputError(f"{where}: front matter is not closed by '---'") from exc
    data = _yaml_load("\n".join(lines[1:end]), where)
    if not isinstance(data, dict):
        raise InputError(f"{where}: front matter must be a mapping")
    front = _plain(data)
    for key in ("id", "stage", "created"):
        if not front.get(key):
            raise InputError(f"{where}: front matter key {key!r} is missing")
    record_id = str(front.pop("id"))
    stage = str(front.pop("stage"))
    created = parse_time(front.pop("created"))
    if created is None:
        raise InputError(f"{where}: created is not an ISO 8601 time")
    _check_id(record_id, where)
    if stage not in STAGES:
        raise InputError(f"{where}: stage {stage!r} is not one of {', '.join(STAGES)}")
    sections: dict[str, str] = {}
    current: str | None = None
    buf: list[str] = []

    def flush() -> None:
        if current is not None:
            if current in sections:
                raise InputError(f"{where}: section {current!r} appears twice")
            sections[current] = "\n".join(buf).strip("\n")

    for line in lines[end + 1 :]:
        m = _HEADING_RE.match(line)
        if m:
            flush()
            current, buf = m.group("name").rstrip("#").strip(), []
            continue
        if current is None:
            continue  # title and preamble: derived from the front matter
        buf.append(line[1:] if _ESCAPED_HEADING_RE.match(line) else line)
    flush()
    return PhrRecord(id=record_id, stage=stage, created=created, front=front, sections=sections)


# ---- building the recommendation record -------------------------------------------------------


def pr_title(recommendation: Recommendation) -> str:
    """`aiops: rightsize todo/todo-backend` — plain text, no Markdown."""
    t = recommendation.target
    where = f"{t.namespace}/{t.name}" if t.namespace else t.name
    return f"aiops: {recommendation.kind} {where}"


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix or "(value)": value}


def _value_text(v: Any) -> str:
    if v is None:
        return "—"
    return cell(v if isinstance(v, str) else json.dumps(_plain(v), ensure_ascii=False))


def _proposal_table(rec: Recommendation) -> str:
    cur = _flatten(_plain(dict(rec.current)))
    new = _flatten(_plain(dict(rec.proposed)))
    rows = ["| Field | Current | Proposed |", "|---|---|---|"]
    for key in dict.fromkeys([*new, *cur]):
        rows.append(f"| {cell(key)} | {_value_text(cur.get(key))} | {_value_text(new.get(key))} |")
    return "\n".join(rows)


def _cost_text(rec: Recommendation) -> str | None:
    if rec.cost is None:
        return None
    c = rec.cost
    change = (
        f"{c.savings_percent:.1f} % saved" if c.savings_percent >= 0 else f"{-c.savings_percent:.1f} % more"
    )
    return f"${c.monthly_before:,.2f}/month → ${c.monthly_after:,.2f}/month ({change})"


def _key_table(changes: Sequence[FileChange]) -> str:
    rows = ["| File | Key | Old | New |", "|---|---|---|---|"]
    for fc in changes:
        if not fc.keys:
            rows.append(f"| {cell(fc.path)} | ({fc.status}) | | |")
        for kc in fc.keys:
            rows.append(
                f"| {cell(fc.path)} | {cell(kc.path)} | {_value_text(kc.old)} | {_value_text(kc.new)} |"
            )
    return "\n".join(rows)


def _sizing_table(sizing: Mapping[str, Any]) -> str:
    cols = ("cpu_p95", "memory_p95", "memory_peak", "oom_in_window", "samples", "window_days", "clamped")
    rows = ["| Container | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for name, ev in sizing.items():
        ev = ev if isinstance(ev, Mapping) else {}
        rows.append(f"| {cell(name)} | " + " | ".join(_value_text(ev.get(c)) for c in cols) + " |")
    return "\n".join(rows)


def _evidence_text(rec: Recommendation, lines: Sequence[str], omitted: int, where: str) -> str:
    parts: list[str] = []
    if rec.findings:
        parts.append("Findings: " + ", ".join(inline_code(c) for c in rec.findings))
    if lines:
        parts.append(fence("\n".join(lines)))
    if omitted:
        parts.append(
            f"_{omitted} more evidence lines omitted here; the full list is in {inline_code(where)}._"
        )
    if rec.sizing:
        parts.append(
            "Sizing evidence (read by the approval gate's safety checks):\n\n" + _sizing_table(rec.sizing)
        )
    return "\n\n".join(parts) or "_No evidence recorded._"


def _risk_text(tier: str | None, reasons: Sequence[str], needs: Sequence[str]) -> str:
    parts = [
        f"Risk tier **{escape_text(tier or 'unclassified')}**, computed from the diff (labels are ignored)."
    ]
    if reasons:
        parts.append("\n".join(f"- {escape_text(r)}" for r in reasons))
    if needs:
        parts.append("Still needed:\n\n" + "\n".join(f"- {escape_text(n)}" for n in needs))
    return "\n\n".join(parts)


ROLLBACK_TEXT = (
    "Revert the merged pull request (GitHub's Revert button, or `aiops rollback --pr <number>`). "
    "The revert restores the previous values under `manifests/` and adds a rollback record; the apply "
    "workflow applies it like any other change. Records under `history/` are never removed."
)


def recommendation_record(
    recommendation: Recommendation,
    *,
    record_id: str,
    created: datetime,
    cluster: str,
    tier: str | None = None,
    tier_reasons: Sequence[str] = (),
    needs: Sequence[str] = (),
    requested_by: str | None = None,
    detected_at: Any = None,
    failure_started_at: Any = None,
    pr: Mapping[str, Any] | None = None,
    changes: Sequence[FileChange] | None = None,
) -> PhrRecord:
    """The `recommendation` stage record of a decision, as the PR carries it."""
    rec = recommendation
    tier = tier or rec.tier
    files = list(changes if changes is not None else (rec.changes or ()))
    target = {"cluster": cluster, **rec.target.to_dict()}
    front: dict[str, Any] = {
        "title": pr_title(rec),
        "kind": rec.kind,
        "tier": tier,
        "target": target,
        "codes": list(rec.findings),
        "failure_started_at": failure_started_at,
        "detected_at": detected_at,
        "recommended_at": created,
        "confidence": rec.confidence,
        "cost": rec.cost.to_dict() if rec.cost else None,
        "pr": dict(pr) if pr else None,
        "key": rec.key,
        "content_hash": rec.content_hash,
        "requested_by": requested_by,
    }
    if rec.sizing is not None:
        front["sizing"] = dict(rec.sizing)
    if rec.kind == "rollback":
        front["revert_of"] = rec.proposed.get("revert_of")
    summary = [escape_text(rec.rationale) or "_No rationale recorded._", _proposal_table(rec)]
    facts = [f"Confidence: **{escape_text(rec.confidence)}**."]
    cost = _cost_text(rec)
    if cost:
        facts.append(f"Requests cost: {escape_text(cost)}.")
    summary.append(" ".join(facts))
    change_parts = [_key_table(files)] if files else ["_Not yet mapped to files._"]
    diff = "".join(f.diff() for f in files)
    if diff:
        change_parts.append(fence(diff, "diff"))
    where = f"history/prompts/…/{record_id}--recommendation.md"
    sections = {
        "Recommendation": "\n\n".join(summary),
        "Evidence": _evidence_text(rec, list(rec.evidence), 0, where),
        "Change": "\n\n".join(change_parts),
        "Risk & approval": _risk_text(tier, tier_reasons, needs),
        "Rollback procedure": ROLLBACK_TEXT,
    }
    return PhrRecord(id=record_id, stage="recommendation", created=created, front=front, sections=sections)


# ---- the pull request body --------------------------------------------------------------------


@dataclass
class _BodyParts:
    evidence: list[str]
    evidence_omitted: int
    diff: str
    diff_note: str | None
    rendered: str | None
    rendered_note: str | None
    cut_sections: bool = False


def _cut_lines(text: str, max_chars: int) -> tuple[str, int, int]:
    """At most max_chars of text, cut at a line end; (kept, kept lines, total lines)."""
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    size = 0
    for ln in lines:
        if size + len(ln) > max_chars:
            break
        out.append(ln)
        size += len(ln)
    return "".join(out), len(out), len(lines)


def render_pr_body(
    recommendation: Recommendation,
    record: PhrRecord,
    diff: str,
    *,
    tier: str | None = None,
    tier_reasons: Sequence[str] = (),
    requested_by: str | None = None,
    base_sha: str | None = None,
    revert_of: int | None = None,
    rendered_diff: str | None = None,
    limit: int = BODY_BUDGET,
) -> str:
    """The PR body: the recommendation record, abbreviated to stay under `limit` characters
    (evidence first, then the rendered diff, then the diff — each saying so), then the marker."""
    rec = normalize_record(record)
    tier = tier or rec.front.get("tier") or recommendation.tier
    marker = encode_marker(
        build_meta(
            recommendation,
            record_id=rec.id,
            tier=tier,
            requested_by=requested_by,
            base_sha=base_sha,
            revert_of=revert_of,
        )
    )
    if len(marker) > limit // 2:
        raise InputError(f"PR body of {rec.id}: the aiops:meta marker alone is {len(marker)} characters")
    parts = _BodyParts(list(recommendation.evidence), 0, diff, None, rendered_diff, None)
    diff_lines = len(diff.splitlines())
    # obvious overflows are cut before the first render (redacting megabytes only to drop them is slow)
    if len(parts.evidence) > EVIDENCE_KEEP and sum(len(e) + 1 for e in parts.evidence) > limit // 4:
        parts.evidence_omitted = len(parts.evidence) - EVIDENCE_KEEP
        parts.evidence = parts.evidence[:EVIDENCE_KEEP]
    if parts.rendered and len(parts.rendered) > limit // 4:
        parts.rendered, parts.rendered_note = (
            None,
            "The rendered `helm template` diff is left out (too long).",
        )
    if len(parts.diff) > limit:
        parts.diff, n, _ = _cut_lines(parts.diff, limit)
        parts.diff_note = (
            f"Diff abbreviated: {n} of {diff_lines} lines shown; see the Files changed tab for all of it."
        )
    build = functools.partial(
        _pr_body,
        recommendation,
        rec,
        tier=tier,
        tier_reasons=tier_reasons,
        requested_by=requested_by,
        base_sha=base_sha,
        parts=parts,
        marker=marker,
    )
    body = build()
    if len(body) > limit and len(parts.evidence) > EVIDENCE_KEEP:
        parts.evidence_omitted = len(parts.evidence) - EVIDENCE_KEEP
        parts.evidence = parts.evidence[:EVIDENCE_KEEP]
        body = build()
    if len(body) > limit and parts.rendered:
        parts.rendered, parts.rendered_note = (
            None,
            "The rendered `helm template` diff is left out (too long).",
        )
        body = build()
    if len(body) > limit and parts.diff:
        room = max(0, len(parts.diff) - (len(body) - limit) - 400)
        parts.diff, n, _ = _cut_lines(parts.diff, room)
        parts.diff_note = (
            f"Diff abbreviated: {n} of {diff_lines} lines shown; see the Files changed tab for all of it."
        )
        body = build()
    if len(body) > limit:
        parts.cut_sections = True
        body = build(limit=limit)
    if len(body) > limit:  # last resort; cannot normally happen
        head = body[: limit - len(marker) - 200].rstrip()
        body = (
            f"{head}\n\n> Body cut to fit GitHub's limit; the full record is in `{rec.path}`.\n\n{marker}\n"
        )
    return body


def _pr_body(
    recommendation: Recommendation,
    rec: PhrRecord,
    *,
    tier: str | None,
    tier_reasons: Sequence[str],
    requested_by: str | None,
    base_sha: str | None,
    parts: _BodyParts,
    marker: str,
    limit: int | None = None,
) -> str:
    r = recommendation
    summary: list[tuple[str, str]] = [
        ("Target", cell(str(r.target))),
        ("Kind", cell(r.kind)),
        ("Risk tier", f"**{escape_text(tier or 'unclassified')}**"),
        ("Confidence", escape_text(r.confidence)),
    ]
    if r.findings:
        summary.append(("Findings", ", ".join(cell(c) for c in r.findings)))
    cost = _cost_text(r)
    if cost:
        summary.append(("Cost (requests)", escape_text(cost)))
    if requested_by:
        summary.append(("Requested by", cell(requested_by)))
    if base_sha:
        summary.append(("Base", cell(base_sha[:12])))
    evidence = _evidence_text(r, parts.evidence, parts.evidence_omitted, rec.path)
    change: list[str] = [_key_table(r.changes)] if r.changes else []
    if parts.diff:
        change.append(fence(parts.diff, "diff"))
    if parts.diff_note:
        change.append(f"_{parts.diff_note}_")
    if parts.rendered:
        change.append(
            "Rendered manifests (`helm template`), affected objects:\n\n" + fence(parts.rendered, "diff")
        )
    if parts.rendered_note:
        change.append(f"_{parts.rendered_note}_")
    risk = rec.sections.get("Risk & approval") or _risk_text(tier, tier_reasons, ())
    sections: dict[str, str] = {
        "Recommendation": rec.sections.get("Recommendation") or escape_text(r.rationale),
        "Evidence": evidence,
        "Change": "\n\n".join(change) or "_No file changes._",
        "Risk & approval": risk,
        "Rollback procedure": rec.sections.get("Rollback procedure") or ROLLBACK_TEXT,
    }
    notes: list[str] = []
    if parts.evidence_omitted or parts.diff_note or parts.rendered_note or parts.cut_sections:
        notes.append(
            f"Parts of this body are abbreviated to fit GitHub's limit; the full record is `{rec.path}`."
        )
    if parts.cut_sections and limit is not None:
        share = max(200, (limit - len(marker) - 3000) // max(1, len(sections)))
        for name, text in sections.items():
            if len(text) > share:
                kept, n, total = _cut_lines(text, share)
                sections[name] = (
                    _close_fences(kept) + f"\n\n_Section abbreviated: {n} of {total} lines shown._"
                )
    context = {
        "title": escape_text(rec.front.get("title") or pr_title(r)),
        "summary": summary,
        "sections": list(sections.items()),
        "notes": notes,
        "record_path": rec.path,
        "id": rec.id,
        "marker": "@@MARKER@@",
    }
    text = _env().get_template("pr_body.md.j2").render(**context)
    text = redact(re.sub(r"\n{3,}", "\n\n", text))
    return text.replace("@@MARKER@@", marker).rstrip("\n") + "\n"


def _close_fences(text: str) -> str:
    """Close a fenced block a cut left open, so the rest of the body still renders."""
    open_fence: str | None = None
    for ln in text.split("\n"):
        m = re.match(r"^(`{3,}|~{3,})", ln)
        if not m:
            continue
        run = m.group(1)
        if open_fence is None:
            open_fence = run
        elif run[0] == open_fence[0] and len(run) >= len(open_fence) and ln.strip() == run:
            open_fence = None
    return text + ("\n" + open_fence if open_fence else "")
