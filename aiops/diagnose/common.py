"""Shared pieces of every analyzer: owners, events as evidence, times, and the Finding builder.

Analyzer modules import these so every finding names owners, quotes events and dates failures
the same way (DESIGN §4.2). Pure functions over raw objects and the `Snapshot`; no I/O, and no
knowledge of any particular failure family.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from aiops.model import Cause, Finding, ObjectRef, OwnerRef, Severity, Snapshot, format_time
from aiops.model.k8s import K8sObject, dig, labels_of, meta
from aiops.model.snapshot import event_count, event_first_time, event_last_time, parse_time_cached

MAX_TEXT = 300
"""Longest quoted message/log line kept in evidence (the rest is cut with an ellipsis)."""


# ---- objects -----------------------------------------------------------------------------------
def ref_of(obj: K8sObject) -> ObjectRef:
    """The object's reference (kind, namespace, name)."""
    return ObjectRef.of(obj)


def owner_of(snapshot: Snapshot, obj: K8sObject) -> OwnerRef | None:
    """The top workload owning `obj` (Pod → ReplicaSet → Deployment, Job → CronJob, ...).

    Owners absent from the snapshot are named from ownerReferences; a ReplicaSet absent from the
    snapshot whose name is `<deployment>-<pod-template-hash>` (the pod carries that label) is
    resolved to its Deployment, which is what a Deployment-created ReplicaSet always is.
    """
    top = snapshot.workload_of(obj)
    if top is None or top.kind != "ReplicaSet":
        return top
    ns = str(meta(obj).get("namespace") or "")
    if snapshot.get("ReplicaSet", ns, top.name) is not None:
        return top  # present and without a Deployment owner: a bare ReplicaSet
    hsh = labels_of(obj).get("pod-template-hash")
    if hsh and top.name.endswith("-" + hsh) and len(top.name) > len(hsh) + 1:
        return OwnerRef("Deployment", top.name[: -len(hsh) - 1])
    return top


def clip(text: str, limit: int = MAX_TEXT) -> str:
    """One line, at most `limit` characters (newlines shown as ⏎, long text cut with …)."""
    one = " ⏎ ".join(part.strip() for part in text.strip().splitlines() if part.strip())
    return one if len(one) <= limit else one[: limit - 1] + "…"


@lru_cache(maxsize=1024)
def _format_time(value: datetime) -> str | None:
    return format_time(value)


def format_time_cached(value: datetime | None) -> str | None:
    """`format_time` (strftime is slow), memoized: event evidence repeats a few timestamps."""
    return None if value is None else _format_time(value)


# ---- events ------------------------------------------------------------------------------------
def field_path_container(ev: K8sObject) -> str | None:
    """Container named by an event's involvedObject.fieldPath (`spec.containers{name}`), else None."""
    fp = dig(ev, "involvedObject", "fieldPath") or dig(ev, "regarding", "fieldPath")
    if not isinstance(fp, str):
        return None
    start = fp.find("{")
    if start < 0 or not fp.endswith("}"):
        return None
    return fp[start + 1 : -1]


def pod_events(snapshot: Snapshot, pod: K8sObject) -> list[K8sObject]:
    """Events about this pod (this incarnation when uids are known), oldest first."""
    m = meta(pod)
    evs = snapshot.events_for("Pod", str(m.get("namespace") or ""), str(m.get("name", "")))
    uid = m.get("uid")
    if not uid:
        return evs
    out = []
    for ev in evs:
        ev_uid = dig(ev, "involvedObject", "uid") or dig(ev, "regarding", "uid")
        if not ev_uid or ev_uid == uid:
            out.append(ev)
    return out


def describe_event(ev: K8sObject) -> str:
    """Evidence line: `event Warning BackOff ×12 (first …, last …): message`."""
    n = event_count(ev)
    times = format_time_cached(event_first_time(ev))
    last = format_time_cached(event_last_time(ev))
    span = times if times == last or last is None else f"first {times}, last {last}"
    count = f" ×{n}" if n > 1 else ""
    return (
        f"event {ev.get('type') or 'Normal'} {ev.get('reason') or '?'}{count} ({span}): "
        f"{clip(str(ev.get('message') or ''))}"
    )


@dataclass(frozen=True)
class EventGroup:
    """Events of one reason (and message family) merged: total count, first and last time."""

    reason: str
    message: str
    count: int
    first: datetime | None
    last: datetime | None
    type: str

    def describe(self) -> str:
        span = format_time_cached(self.first)
        if self.last is not None and self.last != self.first:
            span = f"first {span}, last {format_time_cached(self.last)}"
        count = f" ×{self.count}" if self.count > 1 else ""
        return f"event {self.type} {self.reason}{count} ({span}): {clip(self.message)}"


def group_events(events: Iterable[K8sObject]) -> EventGroup | None:
    """Merge events (same reason) into one group: summed counts, earliest first, newest message."""
    evs = list(events)
    if not evs:
        return None
    firsts = [t for t in (event_first_time(e) for e in evs) if t is not None]
    lasts = [(event_last_time(e), i) for i, e in enumerate(evs)]
    newest = max(lasts, key=lambda p: (p[0] is not None, p[0] or datetime.min, p[1]))[1]
    ev = evs[newest]
    return EventGroup(
        reason=str(ev.get("reason") or ""),
        message=str(ev.get("message") or ""),
        count=sum(event_count(e) for e in evs),
        first=min(firsts) if firsts else None,
        last=max((t for t, _ in lasts if t is not None), default=None),
        type=str(ev.get("type") or "Normal"),
    )


# ---- times ---------------------------------------------------------------------------------------
def earliest(*values: Any) -> datetime | None:
    """The earliest of the given timestamps (strings or datetimes; None and epoch-zero ignored)."""
    best: datetime | None = None
    for v in values:
        t = parse_time_cached(v)
        if t is None or t.year <= 1970:
            continue
        if best is None or t < best:
            best = t
    return best


def age_seconds(snapshot: Snapshot, value: Any) -> float | None:
    """Seconds between a timestamp and the snapshot's judging time (never the wall clock)."""
    t = parse_time_cached(value)
    if t is None:
        return None
    return (snapshot.at - t).total_seconds()


def condition(obj: K8sObject, type_: str) -> dict[str, Any] | None:
    """status.conditions[type == type_] of an object, or None."""
    for c in dig(obj, "status", "conditions", default=()) or ():
        if isinstance(c, dict) and c.get("type") == type_:
            return c
    return None


# ---- findings ----------------------------------------------------------------------------------
def make_finding(
    snapshot: Snapshot,
    obj: K8sObject,
    code: str,
    severity: Severity,
    summary: str,
    *,
    evidence: Sequence[str] = (),
    remediation: str = "",
    container: str | None = None,
    started_at: datetime | None = None,
    cause: Cause | None = None,
    owner: OwnerRef | None = None,
) -> Finding:
    """A Finding about `obj` detected at the snapshot's time, owner resolved unless given."""
    return Finding(
        code=code,
        severity=severity,
        object=ref_of(obj),
        summary=summary,
        evidence=tuple(evidence),
        remediation=remediation,
        container=container,
        owner=owner if owner is not None else owner_of(snapshot, obj),
        detected_at=snapshot.at,
        started_at=started_at,
        cause=cause,
    )
