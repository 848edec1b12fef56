"""The demo's load model: what the simulated "Todo Chatbot" uses, as plain functions of time.

Stated model (the demo prints it; everything here is SIMULATED, nothing is measured):
- traffic: requests/s = 12 × (1 + 0.6 · sin(2π (hour − 8) / 24)) — a daily cycle peaking at 14:00
  UTC — times a growth factor that rises from 1.0 to 2.2 over the last three days before
  `surge_at` (a product launch) and stays there;
- todo-backend, per pod: CPU = (4 m per request/s of the workload's traffic + 20 m idle) / pods;
  memory working set = 210 MiB + 2 MiB per request/s per pod, except the first 10 minutes of every
  6th hour, when long conversations' context windows are built: 590 MiB (the peak);
- todo-frontend, per pod: CPU = 6 m + 0.8 m per request/s / pods; memory = 72 MiB + 0.5 MiB per
  request/s / pods; peak 96 MiB.
`peak_memory_mib` is the working set a container must hold: the simulator OOM-kills a container
whose memory limit is below it. `write_usage_dir` writes a Prometheus `query_range` matrix
(`cpu.json`, `memory.json`, DESIGN §4.3) of this model, as `aiops collect` would have recorded it.
Pure functions plus one file writer; no cluster, no network, no other adapter.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

MIB = 1024.0 * 1024.0

MODEL_TEXT = (
    "load model (simulated): traffic 12 req/s × (1 + 0.6·sin(daily, peak 14:00 UTC)), ×2.2 after a launch;"
    " backend 4m CPU per req/s + 20m idle, working set 210Mi (+2Mi per req/s) with a 590Mi peak for"
    " 10 min every 6 h; frontend 6m + 0.8m per req/s, 72Mi (peak 96Mi)"
)


@dataclass(frozen=True)
class LoadModel:
    """The simulated app's usage; `surge_at`: when the launch traffic (×2.2) is fully there."""

    surge_at: datetime | None = None
    base_rps: float = 12.0

    def rps(self, at: datetime) -> float:
        hour = at.hour + at.minute / 60.0 + at.second / 3600.0
        daily = 1.0 + 0.6 * math.sin(2.0 * math.pi * (hour - 8.0) / 24.0)
        return self.base_rps * daily * self.growth(at)

    def growth(self, at: datetime) -> float:
        if self.surge_at is None:
            return 1.0
        ramp = timedelta(days=3)
        if at >= self.surge_at:
            return 2.2
        if at <= self.surge_at - ramp:
            return 1.0
        done = 1.0 - (self.surge_at - at) / ramp
        return 1.0 + 1.2 * done

    def cpu_cores(self, workload: str, at: datetime, pods: int) -> float:
        """CPU of one pod of `workload` (cores) when `pods` pods share the traffic."""
        n = max(pods, 1)
        r = self.rps(at)
        if workload == "todo-backend":
            return (0.004 * r + 0.020 * n) / n
        if workload == "todo-frontend":
            return 0.006 + 0.0008 * r / n
        return 0.005

    def memory_bytes(self, workload: str, at: datetime, pods: int) -> float:
        """Working set of one pod of `workload` (bytes)."""
        n = max(pods, 1)
        r = self.rps(at)
        if workload == "todo-backend":
            if at.hour % 6 == 0 and at.minute < 10:
                return 590.0 * MIB
            return (210.0 + 2.0 * r / n) * MIB
        if workload == "todo-frontend":
            return (72.0 + 0.5 * r / n) * MIB
        return 32.0 * MIB


def peak_memory_mib(workload: str) -> float:
    """The working set a container of `workload` must be able to hold (its daily peak)."""
    return {"todo-backend": 590.0, "todo-frontend": 96.0}.get(workload, 64.0)


@dataclass(frozen=True)
class HistoryPod:
    workload: str
    pod: str
    container: str


def write_usage_dir(
    directory: Path,
    model: LoadModel,
    pods: Sequence[HistoryPod],
    *,
    end: datetime,
    days: float = 14.0,
    step_s: int = 600,
    namespace: str = "todo",
) -> tuple[Path, Path]:
    """`DIR/cpu.json` (cores) and `DIR/memory.json` (working-set bytes) over `days` up to `end`."""
    directory.mkdir(parents=True, exist_ok=True)
    steps = int(days * 86400 // step_s)
    start = end - timedelta(seconds=steps * step_s)
    counts: dict[str, int] = {}
    for p in pods:
        counts[p.workload] = counts.get(p.workload, 0) + 1
    cpu: list[dict[str, object]] = []
    mem: list[dict[str, object]] = []
    for p in pods:
        n = counts[p.workload]
        cv: list[list[object]] = []
        mv: list[list[object]] = []
        for i in range(steps + 1):
            t = start + timedelta(seconds=i * step_s)
            ts = int(t.timestamp())
            cv.append([ts, f"{model.cpu_cores(p.workload, t, n):.6f}"])
            mv.append([ts, f"{model.memory_bytes(p.workload, t, n):.0f}"])
        labels = {"namespace": namespace, "pod": p.pod, "container": p.container}
        cpu.append({"metric": labels, "values": cv})
        mem.append({"metric": dict(labels), "values": mv})
    out = []
    for name, result in (("cpu.json", cpu), ("memory.json", mem)):
        path = directory / name
        doc = {"status": "success", "data": {"resultType": "matrix", "result": result}}
        path.write_text(json.dumps(doc, separators=(",", ":")), encoding="utf-8")
        out.append(path)
    return out[0], out[1]
