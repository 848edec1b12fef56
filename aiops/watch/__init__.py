"""The in-cluster watcher's adapter (DESIGN §4.10): list+watch streams, new-failure detection, metrics.

`ClusterWatch` keeps an incremental copy of the cluster from watch streams; `Detector` tells new
problems (code + workload) from known ones; `WatchMetrics`/`StatusServer` serve `/metrics`,
`/healthz` and `/readyz`. Composition with the analyzers and the forge lives in
`aiops.pipeline.watch`. `kubernetes` is imported lazily; nothing here writes to the cluster.
"""

from __future__ import annotations

from aiops.watch.detect import Detection, Detector, problem_key
from aiops.watch.serve import StatusServer, WatchMetrics
from aiops.watch.stream import KINDS, Change, ClusterWatch, ObjectStore, WatchedKind, WatchStats

__all__ = [
    "KINDS",
    "Change",
    "ClusterWatch",
    "Detection",
    "Detector",
    "ObjectStore",
    "StatusServer",
    "WatchMetrics",
    "WatchStats",
    "WatchedKind",
    "problem_key",
]
