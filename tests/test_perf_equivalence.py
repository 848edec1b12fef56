"""The shortcuts taken for speed give the same answers as the plain computation they replace.

- Snapshot: Events grouped only by involvedObject, their own name/uid maps built on demand;
  owner references read with a loop; timestamps parsed through a memo.
- Redaction: a trie-shaped trigger pre-check; precise triggers for the key=value and --flag
  rules (every word those patterns can match contains one: checked by enumerating the words);
  each distinct string redacted once per diagnosis; findings with nothing to mask not copied.
- Diagnosis: a log explained once per distinct text; event times formatted through a memo.
No timing here: the figures are in the commit messages and the benchmark.
"""

from __future__ import annotations

import json
import random
import re
from datetime import UTC, datetime
from re import _parser as sre_parse  # the stdlib regex parser (Python >= 3.11), to enumerate words
from typing import Any

import pytest
from factories import T0, container, event, owner_ref, pod, snapshot, ts

import aiops.redact as R
from aiops.diagnose import containers, logsigs
from aiops.diagnose.common import format_time_cached
from aiops.model import Cause, Diagnosis, Finding, ObjectRef, Severity, Snapshot, format_time, parse_time
from aiops.model.snapshot import newest_timestamp, parse_time_cached


# ---- snapshot ----------------------------------------------------------------------------------
def test_events_grouped_by_involved_object_and_still_found_by_name_and_uid() -> None:
    p = pod("web-1", namespace="shop")
    e_old = event(p, "BackOff", "Back-off restarting failed container", type_="Warning", last=ts(-5))
    e_new = event(p, "Unhealthy", "Liveness probe failed", type_="Warning", last=ts(-1))
    other = event(pod("web-2", namespace="shop"), "Killing", "Stopping container", last=ts(-2))
    snap = snapshot(p, e_new, other, e_old)

    assert snap.events_for("Pod", "shop", "web-1") == [e_old, e_new]  # oldest first
    assert snap.events_for("Pod", "shop", "nope") == []
    ev_name = e_new["metadata"]["name"]
    assert snap.get("Event", "shop", ev_name) is e_new
    assert snap.by_uid(e_new["metadata"]["uid"]) is e_new
    assert snap.by_uid(p["metadata"]["uid"]) is p
    assert snap.get("Pod", "shop", "web-1") is p
    assert snap.of_kind("Event") == [e_new, other, e_old]  # snapshot order


def test_name_and_uid_lookups_keep_the_last_copy_of_an_object() -> None:
    """Several files may hold the same object: the later copy answers, as one dict pass gave."""
    old, new = pod("web-1", namespace="shop"), pod("web-1", namespace="shop")
    new["metadata"]["labels"] = {"copy": "second"}
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web-1", "namespace": "shop"}}
    snap = Snapshot(items=(old, cm, new), at=T0)
    assert snap.get("Pod", "shop", "web-1") is new
    assert snap.by_uid(new["metadata"]["uid"]) is new
    assert snap.get("ConfigMap", "shop", "web-1") is cm
    assert snap.get("ConfigMap", "other", "web-1") is None and snap.get("Secret", "shop", "x") is None
    bare = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}
    assert Snapshot(items=(bare,), at=T0).get("Node", "", "n1") is bare


def test_events_k8s_io_regarding_is_indexed_like_involved_object() -> None:
    ev = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "n1.abc", "namespace": "", "uid": "e-1"},
        "regarding": {"kind": "Node", "name": "n1"},
        "reason": "NodeNotReady",
        "eventTime": "2026-11-25T10:00:00.000000Z",
    }
    snap = Snapshot(items=(ev,), at=T0)
    assert snap.events_for("Node", "", "n1") == [ev]
    assert snap.by_uid("e-1") is ev


def test_owner_chain_prefers_the_controller_reference() -> None:
    rs_ref = owner_ref("ReplicaSet", "web-7c9f", "shop")
    job_ref = owner_ref("Job", "migrate", "shop", controller=False)
    p = pod("web-7c9f-x", namespace="shop")
    p["metadata"]["ownerReferences"] = [job_ref, rs_ref]
    snap = snapshot(p)
    assert [o.kind for o in snap.owner_chain(p)] == ["ReplicaSet"]
    # no controller: the first reference that is a mapping
    p2 = pod("solo", namespace="shop")
    p2["metadata"]["ownerReferences"] = ["junk", job_ref]
    assert [(o.kind, o.name) for o in Snapshot(items=(p2,), at=T0).owner_chain(p2)] == [("Job", "migrate")]


_CONDITION_TIMES = ("lastTransitionTime", "lastHeartbeatTime", "lastUpdateTime", "lastProbeTime")


def _every_time(items: list[dict[str, Any]]) -> datetime | None:
    """The plain computation: parse every timestamp field newest_timestamp reads, take the newest."""
    values: list[Any] = []
    for obj in items:
        if obj.get("kind") == "Event":
            values += [obj.get(k) for k in ("lastTimestamp", "eventTime", "firstTimestamp")]
            values.append((obj.get("series") or {}).get("lastObservedTime"))
            continue
        status = obj.get("status") or {}
        for c in status.get("conditions") or ():
            values += [c.get(k) for k in _CONDITION_TIMES]
        if obj.get("kind") == "Pod":
            values.append(status.get("startTime"))
            for cs in status.get("containerStatuses") or ():
                for part in ("state", "lastState"):
                    for sub in (cs.get(part) or {}).values():
                        values += [sub.get("startedAt"), sub.get("finishedAt")]
    times = [t for t in map(parse_time, values) if t is not None]
    return max(times, default=None)


def test_newest_timestamp_is_the_newest_of_every_field() -> None:
    rnd = random.Random(11)
    shapes = [
        None,
        "",
        "2026-11-25T10:00:00Z",
        "2026-11-25T10:00:00.5Z",
        "2026-11-25T10:00:00.123456Z",
        "2026-11-25T12:30:00+02:00",
        "9999-99-99T99:99:99Z",  # the largest string of its shape, unparseable: the next one counts
        "not a time",
        datetime(2026, 11, 25, 11, 59, tzinfo=UTC),
        {"odd": "value"},  # unhashable garbage is looked at one by one
    ]
    for _ in range(200):
        items: list[dict[str, Any]] = []
        for i in range(rnd.randint(1, 6)):
            p = pod(f"p{i}", namespace="ns")
            for c in p["status"]["conditions"]:
                c["lastTransitionTime"] = rnd.choice(shapes)
                c["lastProbeTime"] = rnd.choice(shapes)
            state = p["status"]["containerStatuses"][0]["state"]
            for sub in state.values():
                sub["startedAt"] = rnd.choice(shapes)
            items.append(p)
            ev = event(p, "BackOff", "Back-off", last=ts(-rnd.randint(0, 90)))
            ev["eventTime"] = rnd.choice(shapes)
            items.append(ev)
        assert newest_timestamp(items) == _every_time(items)


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-25T10:00:00Z",
        "2026-11-25T10:00:00.123456789Z",
        "2026-11-25T12:00:00+02:00",
        "1970-01-01T00:00:00Z",
        "not a time",
        "",
        None,
        datetime(2026, 11, 25, 10, tzinfo=UTC),
        datetime(2026, 11, 25, 10),
    ],
)
def test_memoized_time_parsing_and_formatting_match_the_plain_functions(value: Any) -> None:
    assert parse_time_cached(value) == parse_time(value)
    assert parse_time_cached(value) == parse_time(value)  # from the memo now
    t = parse_time(value)
    assert format_time_cached(t) == format_time(t)


# ---- redaction ---------------------------------------------------------------------------------
def _words(pattern: str) -> set[str]:
    """Every string a regex without unbounded repeats matches (its finite language)."""

    def seq(items: Any) -> set[str]:
        out = {""}
        for op, av in items:
            out = {a + b for a in out for b in node(op, av)}
        return out

    def node(op: Any, av: Any) -> set[str]:
        name = str(op)
        if name == "LITERAL":
            return {chr(av)}
        if name == "IN":
            chars: set[str] = set()
            for sub_op, sub_av in av:
                assert str(sub_op) == "LITERAL", f"unsupported set item {sub_op}"
                chars.add(chr(sub_av))
            return chars
        if name == "SUBPATTERN":
            return seq(av[-1])
        if name == "BRANCH":
            return set().union(*(seq(alt) for alt in av[1]))
        if name == "MAX_REPEAT":
            lo, hi, body = av
            assert hi <= 2, "unbounded repeat: the language is not finite"
            inner = seq(body)
            out: set[str] = set()
            for n in range(lo, hi + 1):
                parts = {""}
                for _ in range(n):
                    parts = {a + b for a in parts for b in inner}
                out |= parts
            return out
        raise AssertionError(f"unsupported regex node {name}")

    return seq(sre_parse.parse(pattern))


def test_every_secret_key_word_contains_a_precise_trigger() -> None:
    words = _words(R._SECRET_KEY_WORDS)
    assert {"password", "apikey", "api-key", "session.id", "connection_string"} <= words
    assert len(words) > 100
    for word in words:
        assert any(t in word.lower() for t in R._SECRET_KEY_TRIGGERS), word


def test_every_flag_word_contains_a_precise_trigger() -> None:
    pattern = next(p for _t, p, _h in R._RULES if "(?P<fk>" in p)
    group = re.search(r"\(\?:(password\|[^)]*)\)", pattern)
    assert group is not None
    for word in _words(group.group(1)):
        assert any(t in word for t in R._FLAG_TRIGGERS), word


def test_every_precise_trigger_contains_a_broad_one() -> None:
    """The pre-check searches for the broad triggers only: it must never hide a precise one."""
    broad = {t for trig in R._TRIGGERS_BROAD for t in trig}
    for trig in R._TRIGGERS:
        for t in trig:
            assert any(b in t for b in broad), t


def test_trie_pattern_finds_exactly_the_texts_containing_a_word() -> None:
    words = {"key", "keys", "pass", "passwd", "sk-", "q~", "a.b", "private key"}
    rx = re.compile(R._any_of(words))
    rnd = random.Random(3)
    alphabet = "kesypaswd-q~.b rivt"
    for _ in range(3000):
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 14)))
        assert (rx.search(text) is not None) == any(w in text for w in words), text


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("config: api_key=4f9a8b7c6d5e region=eu", "4f9a8b7c6d5e"),
        ("AZURE connection-string: Endpoint=sb://x;SharedAccessKey=abc123def", "Endpoint=sb"),
        ('{"session.id": "s3ss10n-42"}', "s3ss10n-42"),
        ("curl --api-key 0a1b2c3d4e https://x", "0a1b2c3d4e"),
        ("mysql --access-key AKI9xx7766 -h db", "AKI9xx7766"),
        # lower-casing İ changes the length: IGNORECASE path, where ſ folds to s
        ("İstanbul acceſs_key=hunter22", "hunter22"),
    ],
)
def test_key_word_rules_still_mask(text: str, secret: str) -> None:
    out = R.redact(text)
    assert secret not in out, out
    assert R.redact(out) == out


@pytest.mark.parametrize(
    "text",
    [
        "Container app of pod web-1 keeps exiting with code 1: connection refused by 10.96.0.42:5432.",
        "event Warning Failed ×3: Error: couldn't find key MISSING in ConfigMap shop/web-config",
        "ConfigMap web-config keys: KEY, LOG_LEVEL",
        "session expired after 30m; cookie-less client",
    ],
)
def test_text_naming_keys_without_a_secret_is_unchanged(text: str) -> None:
    assert R.redact(text) == text


def _finding(name: str, summary: str, evidence: tuple[str, ...], cause: Cause | None = None) -> Finding:
    return Finding(
        code="CrashLoopBackOff",
        severity=Severity.CRITICAL,
        object=ObjectRef("Pod", "shop", name),
        summary=summary,
        evidence=evidence,
        remediation="Fix the application start-up; see `kubectl logs --previous`.",
        cause=cause,
    )


def test_redact_diagnosis_keeps_clean_findings_and_masks_repeated_secrets() -> None:
    clean = _finding("web-1", "exits with code 1", ("restartCount=3",), Cause("app-fatal", {"runtime": "Go"}))
    leaky = [
        _finding(
            f"web-{i}",
            "login with password=hunter2 failed",
            ("restartCount=3", "log: DATABASE_URL=postgres://u:S3cr3tPw@db/x"),
            Cause("dependency-refused", {"url": "postgres://u:S3cr3tPw@db/x", "port": 5432}),
        )
        for i in (2, 3)
    ]
    diag = Diagnosis(findings=(clean, *leaky), notes=("reader: token=abc123xyz",), objects=3)
    red = R.Redactor(["hunter2"])
    out = red.redact_diagnosis(diag)

    assert out.findings[0] is clean, "nothing to mask: no copy"
    text = json.dumps(out.to_dict())
    for secret in ("hunter2", "S3cr3tPw", "abc123xyz"):
        assert secret not in text
    assert out.findings[1].to_dict() | {"object": None} == out.findings[2].to_dict() | {"object": None}
    # one finding at a time gives the same result as the whole diagnosis
    assert [red.redact_finding(f) for f in diag.findings] == list(out.findings)
    assert out.findings[1].cause is not None and out.findings[1].cause.detail["port"] == 5432


def test_secret_env_values_reads_one_pod_per_controller_and_every_bare_pod() -> None:
    rs = ("ReplicaSet", "web-7c9f")
    env = [{"name": "DB_PASSWORD", "value": "first-replica-pw"}]
    first = pod("web-7c9f-a", namespace="shop", owner=rs, containers=[container("app", env=env)])
    env2 = [{"name": "DB_PASSWORD", "value": "second-replica-pw"}]
    second = pod("web-7c9f-b", namespace="shop", owner=rs, containers=[container("app", env=env2)])
    tok = [{"name": "API_TOKEN", "value": "bare-tok-1"}]
    bare = pod("debug", namespace="shop", containers=[container("sh", env=tok)])
    assert R.secret_env_values([first, second, bare]) == {"first-replica-pw", "bare-tok-1"}
    snap = snapshot(first, second, bare)
    assert set(R.Redactor.from_snapshot(snap).values) == {"first-replica-pw", "bare-tok-1"}


# ---- diagnosis -----------------------------------------------------------------------------------
def test_log_explained_once_per_distinct_text() -> None:
    index = containers._Index(Snapshot(items=(), at=T0))
    log = "INFO starting\nERROR dial tcp 10.96.0.42:5432: connect: connection refused\n"
    first = index.explain(log)
    assert first == logsigs.explain(log)
    assert first is not None and first.cause.type == "dependency-refused"
    assert index.explain(log) is first
    assert index.explain("") is None and index.explain(None) is None
    assert index.explain("all good\n") is None
    assert list(index.explained) == [log, "all good\n"]
