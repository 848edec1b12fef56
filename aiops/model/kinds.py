"""Kubernetes resource kinds as API paths: which group/version and plural list a kind.

Data only (the adapters that list or watch them — the live source, the watcher — share it).
No I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True)
class ResourceKind:
    """One listable resource.

    `optional`: a failed read of it never fails a snapshot (e.g. PodMetrics);
    `watch`: the watcher keeps a stream on it (else it is only re-listed periodically).
    """

    group_version: str
    plural: str
    kind: str
    namespaced: bool = True
    optional: bool = False
    watch: bool = True

    def path(self, namespace: str | None) -> str:
        """The list (or watch) URL path, namespaced when a namespace is given and the kind is."""
        base = "/api/v1" if self.group_version == "v1" else f"/apis/{self.group_version}"
        if namespace is not None and self.namespaced:
            return f"{base}/namespaces/{quote(namespace, safe='')}/{self.plural}"
        return f"{base}/{self.plural}"


# The routine lifecycle events of every healthy pod and rollout. No analyzer reads them, and they are
# most of a cluster's events (96 % of the diagnose benchmark's 20,000), so live reads ask the API
# server to leave them out (`events_field_selector`). tests/test_cluster_live.py keeps the analyzers
# from starting to rely on one of them.
ROUTINE_EVENT_REASONS: tuple[str, ...] = (
    "Scheduled",
    "Pulling",
    "Pulled",
    "Created",
    "Started",
    "SuccessfulCreate",
    "SuccessfulDelete",
    "ScalingReplicaSet",
)


def events_field_selector(extra: str | None = None) -> str:
    """The field selector of a live Event list: `extra` (e.g. `involvedObject.kind=Node`), without
    the routine reasons."""
    parts = [extra] if extra else []
    parts += [f"reason!={reason}" for reason in ROUTINE_EVENT_REASONS]
    return ",".join(parts)
