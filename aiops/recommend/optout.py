"""Opt-out: the annotation `aiops.io/ignore` on a workload or its namespace (DESIGN §4.4).

Grammar: `"true"` (everything) or a comma list of recommendation kinds and security check ids,
e.g. `"rightsize,hpa,privileged"`; spaces and case are ignored, `"false"`/empty mean nothing.
The workload's annotation and its namespace's add up. Pure: reads annotations only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

ANNOTATION = "aiops.io/ignore"


def parse(value: str | None) -> frozenset[str] | None:
    """None/"false"/"" → empty set; "true"/"all"/"*" → None (everything); else the listed items."""
    if value is None:
        return frozenset()
    text = str(value).strip().lower()
    if text in ("", "false", "no", "0"):
        return frozenset()
    if text in ("true", "yes", "1", "all", "*"):
        return None
    return frozenset(item.strip() for item in text.split(",") if item.strip())


@dataclass(frozen=True)
class OptOut:
    """What one workload opted out of, and where the annotation was found."""

    workload: frozenset[str] | None  # None = everything
    namespace: frozenset[str] | None
    workload_value: str | None = None
    namespace_value: str | None = None

    @classmethod
    def of(cls, workload_annotations: Mapping[str, str], namespace_annotations: Mapping[str, str]) -> OptOut:
        wv = workload_annotations.get(ANNOTATION)
        nv = namespace_annotations.get(ANNOTATION)
        return cls(parse(wv), parse(nv), wv, nv)

    def reason(self, kind: str, where: str) -> str | None:
        """Why `kind` is ignored (a sentence naming the annotation), or None when it is not."""
        kind = kind.lower()
        if self.workload is None or kind in self.workload:
            return f'annotation {ANNOTATION}="{self.workload_value}" on {where}'
        if self.namespace is None or kind in self.namespace:
            return f'annotation {ANNOTATION}="{self.namespace_value}" on its namespace'
        return None
