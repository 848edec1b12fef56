"""PHR records and the PR body (DESIGN §4.5): round trip, size limit, markers, escaping, redaction.

Rendered Markdown is checked with a real CommonMark parser (markdown-it-py), so "no HTML, no
fence breaking" is what a Markdown renderer actually sees, not a substring guess.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import pytest
from markdown_it import MarkdownIt

from aiops.errors import InputError
from aiops.model import Cost, FileChange, KeyChange, ObjectRef, PhrRecord, Recommendation
from aiops.phr import (
    MAX_BODY_CHARS,
    MarkerError,
    comment_marker,
    decode_marker,
    encode_marker,
    escape_text,
    fence,
    find_comment_marker,
    inline_code,
    normalize_record,
    parse_record,
    recommendation_record,
    render_pr_body,
    render_record,
)
from aiops.phr.render import META_KEYS, ZWJ

CREATED = datetime(2026, 11, 25, 22, 0, 5, 123456, tzinfo=UTC)
RID = "20261125-rightsize-todo-deployment-todo-backend"
VALUES = "manifests/environments/minikube/todo-backend.yaml"
TOKEN = "Bearer abcdefghijklmnopqrstuvwxyz0123456789"
MD = MarkdownIt("commonmark", {"html": True}).enable("table")


def md_html(text: str) -> str:
    return str(MD.render(text))


def rec(evidence: tuple[str, ...] = (), changes: tuple[FileChange, ...] | None = None) -> Recommendation:
    if changes is None:
        changes = (
            FileChange(
                VALUES,
                "resources:\n  requests:\n    memory: 512Mi  # tuned\n",
                "resources:\n  requests:\n    memory: 156Mi  # tuned\n",
                keys=(KeyChange("resources.requests.memory", "512Mi", "156Mi"),),
            ),
        )
    return Recommendation(
        kind="rightsize",
        target=ObjectRef("Deployment", "todo", "todo-backend"),
        current={"backend": {"requests": {"cpu": "500m", "memory": "512Mi"}}},
        proposed={"backend": {"requests": {"cpu": "130m", "memory": "156Mi"}, "limits": {"memory": "200Mi"}}},
        rationale="pooled p95 memory 120Mi over 14 days; @ops-team please look <b>now</b>",
        evidence=evidence
        or ("OOMKilled: lastState.terminated.exitCode=137", f"curl -H 'Authorization: {TOKEN}'"),
        findings=("OOMKilled",),
        sizing={
            "backend": {
                "cpu_p95": 0.1,
                "memory_p95": "120Mi",
                "memory_peak": "151.6Mi",
                "oom_in_window": True,
                "samples": 16128,
                "window_days": 14,
                "clamped": None,
            }
        },
        cost=Cost(monthly_before=12.5, monthly_after=4.25),
        tier="medium",
        changes=changes,
        id=RID,
    )


def record(stage: str = "recommendation", **front: Any) -> PhrRecord:
    base: dict[str, Any] = {
        "title": "aiops: rightsize todo/todo-backend",
        "kind": "rightsize",
        "tier": "medium",
        "target": {"cluster": "minikube", "namespace": "todo", "kind": "Deployment", "name": "todo-backend"},
        "codes": ["OOMKilled"],
        "detected_at": datetime(2026, 11, 25, 21, 58, tzinfo=UTC),
        "failure_started_at": "2026-11-25T21:55:00Z",
        "confidence": "high",
        "cost": {"monthly_before": 12.5, "monthly_after": 4.25, "savings_percent": 66.0},
        "pr": {"number": 7, "url": "https://github.com/o/r/pull/7"},
        "approvals": [{"login": "alice", "team": "architects", "at": "2026-11-25T22:10:00Z"}],
        "pre_metrics": {"memory_p95": 125829120, "restarts": 4},
        "verdict": "improved",
        "outcome": "success",
    }
    base.update(front)
    sections = {
        "Recommendation": (
            "Lower the memory request.\n\n## Evidence (not a real heading)\n\\## already escaped"
        ),
        "Evidence": fence("## Change\n```\nlog line with ``` fences\n````\n<script>alert(1)</script>"),
        "Change": "| a | b |\n|---|---|\n| `x` | `y` |",
        "Execution": "helm upgrade todo-backend … ok\n\n",
        "Validation": "   indented first line\n\ttab",
        "Rollback procedure": "Revert the PR.",
        "Custom notes": "ünïcödé ✓ — “quotes”",
    }
    return PhrRecord(id=RID, stage=stage, created=CREATED, front=base, sections=sections)


# ---- records --------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["recommendation", "execution", "validation", "rollback"])
def test_render_parse_round_trip(stage: str) -> None:
    r = record(stage)
    text = render_record(r)
    parsed = parse_record(text)
    assert parsed == normalize_record(r)
    assert parsed.sections["Recommendation"].endswith(
        "## Evidence (not a real heading)\n\\## already escaped"
    )
    assert parsed.front["detected_at"] == "2026-11-25T21:58:00Z"
    assert parsed.created == CREATED.replace(microsecond=0)
    assert render_record(parsed) == text


def test_front_matter_has_the_design_keys_in_order() -> None:
    text = render_record(record())
    keys = [
        ln.split(":", 1)[0]
        for ln in text.split("---\n")[1].splitlines()
        if ln and not ln.startswith((" ", "-"))
    ]
    assert keys[:14] == [
        "id",
        "stage",
        "title",
        "created",
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
    ]
    assert {"approvals", "pre_metrics", "verdict", "outcome"} <= set(keys)


def test_missing_common_keys_are_written_as_null() -> None:
    minimal = PhrRecord(id=RID, stage="execution", created=CREATED, front={}, sections={"Execution": "done"})
    parsed = parse_record(render_record(minimal))
    assert parsed.front["kind"] is None and parsed.front["pr"] is None
    assert parsed.front["title"] == RID


def test_record_path_is_append_only_naming() -> None:
    assert record("validation").path == f"history/prompts/2026/11/{RID}--validation.md"


def test_sections_parse_as_real_sections_and_headings_in_content_do_not() -> None:
    text = render_record(record())
    tokens = MD.parse(text.split("---\n", 2)[2])
    h2 = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open" and t.tag == "h2"]
    assert h2 == [
        "Recommendation",
        "Evidence",
        "Change",
        "Rollback procedure",
        "Execution",
        "Validation",
        "Custom notes",
    ]
    assert "Evidence (not a real heading)" not in h2


def test_crlf_files_parse() -> None:
    text = render_record(record()).replace("\n", "\r\n")
    assert parse_record(text) == normalize_record(record())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# no front matter\n", "no YAML front matter"),
        ("---\nid: x\n", "not closed"),
        ("---\n- a\n---\n", "must be a mapping"),
        ("---\nid: x\nstage: recommendation\n---\n", "'created' is missing"),
        ("---\nid: ../../etc\nstage: rollback\ncreated: '2026-11-25T00:00:00Z'\n---\n", "not a decision id"),
        ("---\nid: x\nstage: deploy\ncreated: '2026-11-25T00:00:00Z'\n---\n", "stage 'deploy'"),
        ("---\nid: x\nstage: rollback\ncreated: '2026-11-25T00:00:00Z'\n---\n## A\n## A\n", "appears twice"),
        ("---\nid: [x\n---\n", "not valid YAML"),
    ],
)
def test_parse_errors_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_record(text, where="history/prompts/x.md")


def test_render_refuses_ids_that_escape_the_history_directory() -> None:
    with pytest.raises(InputError, match="not a decision id"):
        render_record(PhrRecord(id="../x", stage="rollback", created=CREATED, front={}))


def test_secrets_are_redacted_everywhere_in_a_record() -> None:
    r = record(pre_metrics={"note": f"header {TOKEN}"})
    r = PhrRecord(
        r.id, r.stage, r.created, r.front, {**r.sections, "Evidence": fence(f"Authorization: {TOKEN}")}
    )
    text = render_record(r)
    assert "abcdefghijklmnopqrstuvwxyz0123456789" not in text
    assert "[REDACTED]" in text
    assert parse_record(text).front["pre_metrics"]["note"].endswith("[REDACTED]")


def test_recommendation_record_from_a_recommendation() -> None:
    r = recommendation_record(
        rec(),
        record_id=RID,
        created=CREATED,
        cluster="minikube",
        tier_reasons=["medium: resources.requests.memory 512Mi → 156Mi"],
        needs=["needs 1 approval from architects (org/architects)"],
        requested_by="carol",
    )
    parsed = parse_record(render_record(r))
    f = parsed.front
    assert (f["kind"], f["tier"], f["codes"], f["requested_by"]) == (
        "rightsize",
        "medium",
        ["OOMKilled"],
        "carol",
    )
    assert f["target"] == {
        "cluster": "minikube",
        "kind": "Deployment",
        "namespace": "todo",
        "name": "todo-backend",
    }
    assert f["recommended_at"] == "2026-11-25T22:00:05Z"
    assert f["sizing"]["backend"]["memory_p95"] == "120Mi"
    assert f["cost"] == {"monthly_before": 12.5, "monthly_after": 4.25, "savings_percent": 66.0}
    assert list(parsed.sections) == [
        "Recommendation",
        "Evidence",
        "Change",
        "Risk & approval",
        "Rollback procedure",
    ]
    html = md_html(render_record(r))
    assert "<b>" not in html and "@ops-team" not in html
    assert "-    memory: 512Mi  # tuned" in parsed.sections["Change"]


# ---- escaping -------------------------------------------------------------------------------


def test_escape_text_neutralises_html_markdown_and_mentions() -> None:
    evil = (
        "@alice <img src=x onerror=alert(1)> [click](javascript:alert(1)) **bold** `tick`"
        " <!-- aiops:meta x -->"
    )
    html = md_html(escape_text(evil))
    assert "<img" not in html and "<a " not in html and "<strong>" not in html and "<code>" not in html
    assert "@alice" not in html and f"@{ZWJ}alice" in html
    assert "<!--" not in html


def test_fence_cannot_be_broken_by_its_content() -> None:
    nasty = "line\n```\n````\n~~~\n<script>alert(1)</script>\n@bob\n## Heading"
    tokens = MD.parse(fence(nasty) + "\n\nafter\n")
    fences = [t for t in tokens if t.type == "fence"]
    assert len(fences) == 1
    assert fences[0].content == nasty + "\n"
    assert any(t.type == "inline" and t.content == "after" for t in tokens)
    assert "<script>" not in md_html(fence(nasty))


def test_fence_defangs_spoofed_markers() -> None:
    spoof = encode_marker({"id": "evil", "requested_by": "mallory"})
    body = fence(f"log: {spoof}") + "\n\n" + encode_marker({"id": "real"})
    assert decode_marker(body) == {"v": 1, "id": "real"}
    assert decode_marker(fence(spoof)) is None


def test_a_second_marker_added_by_hand_is_refused() -> None:
    body = body_for(rec())
    forged = body + "\n" + encode_marker({"id": RID, "requested_by": "mallory"}) + "\n"
    with pytest.raises(MarkerError, match="2 different markers"):
        decode_marker(forged)
    assert decode_marker(body + "\n" + body) is not None  # the same marker twice is still one marker


def test_template_syntax_in_content_is_not_evaluated() -> None:
    r = record()
    r = PhrRecord(
        r.id, r.stage, r.created, {**r.front, "title": "{{ 7*7 }}"}, {"Execution": "{{ 7*7 }} {% if x %}"}
    )
    text = render_record(r)
    assert "49" not in text
    assert parse_record(text).sections["Execution"] == "{{ 7*7 }} {% if x %}"


def test_inline_code_holds_backticks_and_pipes() -> None:
    assert inline_code("a`b") == "``a`b``"
    assert inline_code("`x`") == "`` `x` ``"
    tokens = MD.parse(inline_code("x ``` y\nz"))
    code = [c for t in tokens if t.children for c in t.children if c.type == "code_inline"]
    assert [c.content for c in code] == ["x ``` y z"]


# ---- markers --------------------------------------------------------------------------------


def test_marker_round_trip_tolerates_surrounding_text_and_wrapping() -> None:
    meta = {
        "id": RID,
        "key": "k",
        "proposed": {"backend": {"requests": {"memory": "156Mi"}}},
        "revert_of": None,
    }
    marker = encode_marker(meta)
    assert marker.startswith("<!-- aiops:meta ") and marker.endswith(" -->")
    assert "-->" not in marker[len("<!-- aiops:meta ") : -4]
    payload = marker[len("<!-- aiops:meta ") : -4]
    wrapped = (
        "<!--aiops:meta\n" + "\n".join(payload[i : i + 60] for i in range(0, len(payload), 60)) + "\n-->"
    )
    for text in (f"intro\n\n{marker}\n", f"text{marker}text", wrapped):
        assert decode_marker(text) == {"v": 1, **meta}


def test_marker_absent_is_none() -> None:
    assert decode_marker("just a body, no marker <!-- other -->") is None
    assert decode_marker("") is None


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("not*base64!", "not valid base64"),
        (base64.b64encode(b'{"v": 1, "id": "x"').decode(), "not valid JSON"),
        (base64.b64encode(b"[1, 2]").decode(), "expected a JSON object"),
        (base64.b64encode(b'{"id": "x"}').decode(), "unsupported version None"),
        (base64.b64encode(b'{"v": 2}').decode(), "unsupported version 2"),
        (base64.b64encode(b"\xff\xfe").decode(), "not valid JSON"),
    ],
)
def test_tampered_markers_are_rejected_clearly(payload: str, message: str) -> None:
    with pytest.raises(MarkerError, match=message):
        decode_marker(f"body\n<!-- aiops:meta {payload} -->\n")


def test_tampering_one_character_is_caught_or_changes_nothing_silently() -> None:
    marker = encode_marker({"id": RID, "requested_by": "carol"})
    payload = marker[len("<!-- aiops:meta ") : -4]
    broken = payload[:10] + ("A" if payload[10] != "A" else "B") + payload[11:]
    try:
        data = decode_marker(f"<!-- aiops:meta {broken} -->")
    except MarkerError:
        return
    assert data != {"v": 1, "id": RID, "requested_by": "carol"}


def test_comment_markers() -> None:
    assert comment_marker("apply-metrics") == "<!-- aiops:comment:apply-metrics -->"
    assert find_comment_marker("<!-- aiops:comment:gate -->\nbody") == "gate"
    assert find_comment_marker("no marker") is None
    with pytest.raises(InputError):
        comment_marker("bad name -->")


# ---- the PR body ----------------------------------------------------------------------------


def body_for(recommendation: Recommendation, **kw: Any) -> str:
    r = recommendation_record(recommendation, record_id=RID, created=CREATED, cluster="minikube")
    diff = "".join(c.diff() for c in recommendation.changes or ())
    return render_pr_body(
        recommendation, r, kw.pop("diff", diff), requested_by="carol", base_sha="f" * 40, **kw
    )


def test_pr_body_carries_the_record_and_ends_with_the_marker() -> None:
    body = body_for(rec())
    meta = decode_marker(body)
    assert meta is not None
    assert set(meta) == set(META_KEYS)
    assert meta["id"] == RID and meta["requested_by"] == "carol" and meta["tier"] == "medium"
    assert meta["proposed"]["backend"]["limits"]["memory"] == "200Mi"
    assert meta["sizing"]["backend"]["oom_in_window"] is True
    assert meta["content_hash"] == rec().content_hash and meta["base_sha"] == "f" * 40
    assert body.rstrip().endswith("-->") and body.rstrip().splitlines()[-1].startswith("<!-- aiops:meta ")
    for section in (
        "### Recommendation",
        "### Evidence",
        "### Change",
        "### Risk & approval",
        "### Rollback procedure",
    ):
        assert section in body
    html = md_html(body)
    assert "<b>now</b>" not in html and "@ops-team" not in html
    assert "abcdefghijklmnopqrstuvwxyz0123456789" not in body
    assert "abbreviated" not in body
    assert "$12.50/month → $4.25/month (66.0 % saved)" in body


def test_pr_body_stays_under_githubs_limit_and_says_what_it_cut() -> None:
    evidence = tuple(
        f"event {i}: Back-off restarting failed container backend ``` {'x' * 80}" for i in range(5000)
    )
    big_old = "".join(f"key{i}: {i}\n" for i in range(20000))
    big_new = "".join(f"key{i}: {i + 1}\n" for i in range(20000))
    big = rec(evidence=evidence, changes=(FileChange(VALUES, big_old, big_new),))
    body = body_for(big, rendered_diff="-a\n+b\n" * 50000)
    assert len(body) < MAX_BODY_CHARS
    assert "4980 more evidence lines omitted" in body
    assert "Diff abbreviated:" in body and "Files changed" in body
    assert "helm template` diff is left out" in body
    assert "the full record is" in body
    meta = decode_marker(body)
    assert meta is not None and meta["id"] == RID
    tokens = MD.parse(body)
    assert tokens[-1].type == "html_block" and "aiops:meta" in tokens[-1].content
    assert all(t.content.endswith("\n") for t in tokens if t.type == "fence")


def test_pr_body_with_an_enormous_rationale_is_cut_but_keeps_the_marker() -> None:
    huge = Recommendation(
        kind="config",
        target=ObjectRef("Deployment", "todo", "todo-backend"),
        current={},
        proposed={"key": "REDIS_URL", "configmap": "todo-config"},
        rationale="word " * 40000,
    )
    r = recommendation_record(huge, record_id=RID, created=CREATED, cluster="minikube")
    r = PhrRecord(
        r.id, r.stage, r.created, r.front, {**r.sections, "Rollback procedure": fence("y\n" * 40000)}
    )
    body = render_pr_body(huge, r, "")
    assert len(body) < MAX_BODY_CHARS
    assert decode_marker(body) is not None
    assert "Section abbreviated" in body
    assert MD.parse(body)[-1].type == "html_block"


def test_rollback_marker_carries_revert_of() -> None:
    rollback = Recommendation(
        kind="rollback",
        target=ObjectRef("Deployment", "todo", "todo-backend"),
        current={},
        proposed={"revert_of": 7},
        rationale="error rate 12 % after #7",
    )
    meta = decode_marker(body_for(rollback))
    assert meta is not None and meta["revert_of"] == 7 and meta["sizing"] is None


def test_templates_ship_as_package_data() -> None:
    names = {p.name for p in resources.files("aiops.phr").joinpath("templates").iterdir()}
    assert {
        "record.md.j2",
        "recommendation.md.j2",
        "execution.md.j2",
        "validation.md.j2",
        "rollback.md.j2",
        "pr_body.md.j2",
    } <= names


def test_marker_json_is_compact_and_sorted() -> None:
    marker = encode_marker({"b": 1, "a": [1, 2]})
    payload = base64.b64decode(marker[len("<!-- aiops:meta ") : -4])
    assert payload == json.dumps({"a": [1, 2], "b": 1, "v": 1}, separators=(",", ":")).encode()
