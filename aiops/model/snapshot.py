"""The cluster `Snapshot`: every object read, container logs, and the time it is judged at.

Built by a `ClusterSource` adapter (files or live API); read by the pure analyzers. The indexes
(by kind, by name, events by involved object, owner chains) are computed once, lazily, so a
5,000-pod snapshot is walked in linear time. No I/O here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property, lru_cache
from typing import Any

from aiops.model.k8s import K8sObject, ObjectRef, OwnerRef, dig, meta, parse_time

_EMPTY: Mapping[str, Any] = {}

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet")


@dataclass(frozen=True, eq=False)
class Snapshot:
    """Cluster state as read at one moment.

    `items` are raw objects (PodMetrics included); `logs` maps "namespace/pod/container" to the
    last lines of the previous instance (or current one); `at` is the time the snapshot is judged
    at (never the wall clock); `notes` carry what the reader could not read (403 on a kind, ...).
    """

    items: tuple[K8sObject, ...]
    at: datetime
    logs: Mapping[str, str] = field(default_factory=dict)
    sources: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    cluster: str | None = None

    # ---- indexes -----------------------------------------------------------------------
    @cached_property
    def _index(self) -> tuple[dict[str, list[K8sObject]], dict[str, K8sObject]]:
        """One pass over the items: by kind, and by uid.

        Events (most of a snapshot) are only grouped by kind here: analyzers look them up by the
        object they are about (`_events`); their uids go to `_event_uids`, built only if someone
        asks for an Event by uid (object uids are unique, so an Event's never shadows another
        object's). Lookups by name are indexed per kind, on first use (`_names`).
        """
        by_kind: dict[str, list[K8sObject]] = {}
        by_uid: dict[str, K8sObject] = {}
        for obj in self.items:
            kind = obj.get("kind") or ""
            group = by_kind.get(kind)
            if group is None:
                by_kind[kind] = [obj]
            else:
                group.append(obj)
            if kind == "Event":
                continue
            m = obj.get("metadata")
            uid = m.get("uid") if isinstance(m, dict) else None
            if uid:
                by_uid[uid] = obj
        return by_kind, by_uid

    @cached_property
    def _events(self) -> dict[tuple[str, str, str], list[K8sObject]]:
        """Events by involvedObject (or events.k8s.io `regarding`) kind, namespace and name."""
        events: dict[tuple[str, str, str], list[K8sObject]] = {}
        for ev in self._by_kind.get("Event", ()):
            inv = ev.get("involvedObject") or ev.get("regarding") or _EMPTY
            key = (inv.get("kind") or "", inv.get("namespace") or "", inv.get("name") or "")
            group = events.get(key)
            if group is None:
                events[key] = [ev]
            else:
                group.append(ev)
        return events

    @cached_property
    def _event_uids(self) -> dict[str, K8sObject]:
        by_uid: dict[str, K8sObject] = {}
        for ev in self._by_kind.get("Event", ()):
            m = ev.get("metadata")
            uid = m.get("uid") if isinstance(m, dict) else None
            if uid:
                by_uid[uid] = ev
        return by_uid

    @cached_property
    def _names(self) -> dict[str, dict[tuple[str, str], K8sObject]]:
        """Per kind: objects by (namespace, name), the last one winning; filled by `get`."""
        return {}

    def _named(self, kind: str) -> dict[tuple[str, str], K8sObject]:
        found = self._names.get(kind)
        if found is None:
            found = self._names[kind] = {}
            for obj in self._by_kind.get(kind, ()):
                m = obj.get("metadata")
                if not isinstance(m, dict):
                    m = _EMPTY
                found[(m.get("namespace") or "", m.get("name") or "")] = obj
        return found

    @property
    def _by_kind(self) -> dict[str, list[K8sObject]]:
        return self._index[0]

    @property
    def _by_uid(self) -> dict[str, K8sObject]:
        return self._index[1]

    @cached_property
    def _sorted_events(self) -> dict[tuple[str, str, str], list[K8sObject]]:
        return {}

    # ---- queries -----------------------------------------------------------------------
    def kinds(self) -> list[str]:
        return sorted(self._by_kind)

    def of_kind(self, kind: str) -> list[K8sObject]:
        """All objects of a kind, in snapshot order."""
        return self._by_kind.get(kind, [])

    def has_kind(self, kind: str) -> bool:
        return kind in self._by_kind

    def get(self, kind: str, namespace: str, name: str) -> K8sObject | None:
        return self._named(kind).get((namespace or "", name))

    def by_uid(self, uid: str) -> K8sObject | None:
        found = self._by_uid.get(uid)
        return found if found is not None else self._event_uids.get(uid)

    def events_for(self, kind: str, namespace: str, name: str) -> list[K8sObject]:
        """Events whose involvedObject is this object, oldest first (by last time seen)."""
        key = (kind, namespace or "", name)
        done = self._sorted_events.get(key)
        if done is None:
            done = sorted(self._events.get(key, ()), key=lambda e: event_last_time(e) or self.at)
            self._sorted_events[key] = done
        return done

    def log(self, namespace: str, pod: str, container: str) -> str | None:
        return self.logs.get(f"{namespace}/{pod}/{container}")

    def owner_chain(self, obj: K8sObject) -> list[OwnerRef]:
        """Controller owners from nearest to top: Pod → ReplicaSet → Deployment, Pod → Job → CronJob.

        Owners absent from the snapshot are still named from ownerReferences; the walk stops there.
        """
        chain: list[OwnerRef] = []
        cur: K8sObject | None = obj
        ns = str(meta(obj).get("namespace") or "")
        seen: set[str] = set()
        while cur is not None:
            ref = _controller_ref(cur)
            if ref is None:
                break
            kind, name, uid = ref
            if uid in seen:
                break
            seen.add(uid)
            chain.append(OwnerRef(kind, name))
            nxt = self._by_uid.get(uid) if uid else None
            if nxt is None:
                nxt = self.get(kind, ns, name)
            cur = nxt
        return chain

    def workload_of(self, obj: K8sObject) -> OwnerRef | None:
        """The top-level workload owning an object (Deployment over ReplicaSet), or None."""
        chain = self.owner_chain(obj)
        if not chain:
            return None
        top = chain[-1]
        # A ReplicaSet whose Deployment is absent stays the ReplicaSet; a Job under a CronJob → CronJob.
        return top

    def pods_of(self, workload: ObjectRef) -> list[K8sObject]:
        """Pods whose owner chain reaches the given workload."""
        return [
            p
            for p in self._by_kind.get("Pod", ())
            if str(meta(p).get("namespace") or "") == workload.namespace
            and any(o.kind == workload.kind and o.name == workload.name for o in self.owner_chain(p))
        ]

    def count(self) -> int:
        return len(self.items)


def _controller_ref(obj: K8sObject) -> tuple[str, str, str] | None:
    refs = meta(obj).get("ownerReferences") or []
    if not isinstance(refs, list) or not refs:
        return None
    chosen: dict[str, Any] | None = None  # the controller reference, else the first one
    for r in refs:
        if isinstance(r, dict):
            if r.get("controller"):
                chosen = r
                break
            if chosen is None:
                chosen = r
    if chosen is None:
        return None
    return str(chosen.get("kind", "")), str(chosen.get("name", "")), str(chosen.get("uid", ""))


@lru_cache(maxsize=1024)
def _parse_text_time(text: str) -> datetime | None:
    return parse_time(text)


def parse_time_cached(value: Any) -> datetime | None:
    """`parse_time`, memoized for strings: a snapshot repeats the same few timestamps many times."""
    return _parse_text_time(value) if type(value) is str else parse_time(value)


def event_last_time(ev: K8sObject) -> datetime | None:
    """When an event was last seen: lastTimestamp → series.lastObservedTime → eventTime → firstTimestamp."""
    return (
        parse_time_cached(ev.get("lastTimestamp"))
        or parse_time_cached(dig(ev, "series", "lastObservedTime"))
        or parse_time_cached(ev.get("eventTime"))
        or parse_time_cached(ev.get("firstTimestamp"))
        or parse_time_cached(dig(ev, "metadata", "creationTimestamp"))
    )


def event_first_time(ev: K8sObject) -> datetime | None:
    """When an event was first seen: firstTimestamp → eventTime → lastTimestamp."""
    return (
        parse_time_cached(ev.get("firstTimestamp"))
        or parse_time_cached(ev.get("eventTime"))
        or parse_time_cached(ev.get("lastTimestamp"))
        or parse_time_cached(dig(ev, "metadata", "creationTimestamp"))
    )


def event_count(ev: K8sObject) -> int:
    """How many times an event happened: count, or series.count, else 1."""
    c = ev.get("count")
    if isinstance(c, int) and c > 0:
        return c
    sc = dig(ev, "series", "count")
    if isinstance(sc, int) and sc > 0:
        return sc
    return 1


_CONTAINER_STATUSES = ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses")


def _timestamps(items: Iterable[K8sObject]) -> list[Any]:
    """The timestamp fields newest_timestamp looks at, in the order met (None and "" included)."""
    out: list[Any] = []
    add = out.append
    for obj in items:
        kind = obj.get("kind")
        if kind == "Event":
            add(obj.get("lastTimestamp"))
            add(obj.get("eventTime"))
            series = obj.get("series")
            if isinstance(series, dict):
                add(series.get("lastObservedTime"))
            add(obj.get("firstTimestamp"))
            continue
        if kind == "PodMetrics":
            add(obj.get("timestamp"))
        status = obj.get("status")
        if not isinstance(status, dict):
            continue
        for cond in status.get("conditions") or ():
            if isinstance(cond, dict):
                add(cond.get("lastTransitionTime"))
                add(cond.get("lastHeartbeatTime"))
                add(cond.get("lastUpdateTime"))
                add(cond.get("lastProbeTime"))
        if kind == "Pod":
            add(status.get("startTime"))
            for key in _CONTAINER_STATUSES:
                for cs in status.get(key) or ():
                    if not isinstance(cs, dict):
                        continue
                    for part in ("state", "lastState"):
                        st = cs.get(part) or _EMPTY
                        for sv in (st.get("running"), st.get("terminated")):
                            if isinstance(sv, dict):
                                add(sv.get("startedAt"))
                                add(sv.get("finishedAt"))
    return out


def newest_timestamp(items: Iterable[K8sObject]) -> datetime | None:
    """The newest timestamp in a set of objects: the default judging time of a snapshot (DESIGN §4.1).

    Looks at event times, condition transitions/probes, container state times and node heartbeats.
    RFC 3339 "…Z" strings of one length compare correctly as text, so only the largest string of
    each shape is parsed; other shapes (offsets) are parsed one by one.
    """
    values = _timestamps(items)
    try:
        distinct: Iterable[Any] = dict.fromkeys(values)  # a snapshot repeats a few timestamps
    except TypeError:  # an unhashable value (malformed object): look at every one
        distinct = values
    by_shape: dict[int, set[str]] = {}
    others: list[Any] = []
    for value in distinct:
        if not value:
            continue
        if isinstance(value, str) and value.endswith("Z"):
            shape = by_shape.get(len(value))
            if shape is None:
                by_shape[len(value)] = {value}
            else:
                shape.add(value)
        else:
            others.append(value)
    best: datetime | None = None

    def keep(t: datetime | None) -> None:
        nonlocal best
        if t is not None and (best is None or t > best):
            best = t

    for shape_values in by_shape.values():
        for value in sorted(shape_values, reverse=True):
            t = parse_time(value)
            if t is not None:
                keep(t)
                break
    for value in others:
        keep(parse_time(value))
    return best
