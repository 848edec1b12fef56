"""Typed views over raw Kubernetes objects (plain JSON dicts, as the API returns them).

aiops keeps cluster objects as the dicts the API server (or `kubectl get -o json|yaml`) gave it,
and reads them through these small accessors; there is no class per kind. No I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

K8sObject = dict[str, Any]
"""One Kubernetes object exactly as the API returns it (apiVersion, kind, metadata, spec, status)."""


@dataclass(frozen=True, order=True)
class ObjectRef:
    """Identifies one object: kind, namespace ("" for cluster-scoped objects) and name."""

    kind: str
    namespace: str
    name: str

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "namespace": self.namespace, "name": self.name}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ObjectRef:
        return cls(str(data["kind"]), str(data.get("namespace") or ""), str(data["name"]))

    @classmethod
    def of(cls, obj: K8sObject) -> ObjectRef:
        meta = obj.get("metadata") or {}
        return cls(str(obj.get("kind", "")), str(meta.get("namespace") or ""), str(meta.get("name", "")))

    def __str__(self) -> str:
        if self.namespace:
            return f"{self.namespace}/{self.kind}/{self.name}"
        return f"{self.kind}/{self.name}"


@dataclass(frozen=True, order=True)
class OwnerRef:
    """The workload that owns an object (Deployment, StatefulSet, DaemonSet, Job, ...)."""

    kind: str
    name: str

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "name": self.name}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OwnerRef:
        return cls(str(data["kind"]), str(data["name"]))


def meta(obj: K8sObject) -> dict[str, Any]:
    m = obj.get("metadata")
    return m if isinstance(m, dict) else {}


def name_of(obj: K8sObject) -> str:
    return str(meta(obj).get("name", ""))


def namespace_of(obj: K8sObject) -> str:
    return str(meta(obj).get("namespace") or "")


def labels_of(obj: K8sObject) -> dict[str, str]:
    lab = meta(obj).get("labels")
    return lab if isinstance(lab, dict) else {}


def annotations_of(obj: K8sObject) -> dict[str, str]:
    ann = meta(obj).get("annotations")
    return ann if isinstance(ann, dict) else {}


def dig(obj: Any, *path: str | int, default: Any = None) -> Any:
    """Follow keys/indexes through nested dicts/lists; `default` when any step is missing."""
    cur = obj
    for step in path:
        if isinstance(step, int):
            if not isinstance(cur, list) or step >= len(cur) or step < -len(cur):
                return default
            cur = cur[step]
        else:
            if not isinstance(cur, dict) or step not in cur:
                return default
            cur = cur[step]
    return default if cur is None else cur


def parse_time(value: Any) -> datetime | None:
    """Parse a Kubernetes/ISO-8601 timestamp ("2026-11-25T10:00:00Z", with or without fraction).

    Returns an aware UTC datetime, or None for null/empty/unparseable values (the epoch
    placeholder "1970-01-01T00:00:00Z" of never-started containers is returned as is).
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value).strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # Python < 3.11 chokes on > 6 fractional digits; kube microtime has 6, be lenient anyway.
    if "." in text:
        head, _, rest = text.partition(".")
        digits = ""
        tail = ""
        for i, ch in enumerate(rest):
            if not ch.isdigit():
                tail = rest[i:]
                break
            digits += ch
        text = f"{head}.{(digits + '000000')[:6]}{tail}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_time(value: datetime | None) -> str | None:
    """ISO 8601 UTC with a trailing Z, second precision (the form every record uses)."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
