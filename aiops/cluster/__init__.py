"""Cluster reading: the `ClusterSource` port and its two adapters (DESIGN §4.1).

- `aiops.cluster.files.FileSource` reads `kubectl get ... -o yaml|json` List files (+ a logs file);
- `aiops.cluster.live.LiveSource` reads a live API server with the official `kubernetes` client,
  read-only (get/list and pod logs), never Secrets.

Both return one `Snapshot`. This package imports neither YAML nor kubernetes at import time (the CLI
must stay fast); it never writes to a cluster and never imports another adapter.
"""

from __future__ import annotations

from typing import Protocol

from aiops.model import Snapshot

__all__ = ["ClusterSource"]


class ClusterSource(Protocol):
    """A port that reads the state of a cluster at one moment."""

    def read(self) -> Snapshot: ...
