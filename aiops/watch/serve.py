"""The watcher's own metrics (Prometheus text exposition 0.0.4) and health endpoints.

`WatchMetrics` holds what the loop counts (active findings, detections, the MTTD histogram,
detection latency, proposals) and renders them with the stream counters of `WatchStats`.
`StatusServer` is a stdlib HTTP server on its own thread: `GET /metrics`, `/healthz` (the loop and
its streams are alive) and `/readyz` (listed and every watch connected). It serves nothing else
and reads no request body.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiops.watch.detect import Detection
from aiops.watch.stream import WatchStats

__all__ = ["MTTD_BUCKETS", "StatusServer", "WatchMetrics"]

MTTD_BUCKETS: tuple[float, ...] = (1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
LATENCY_BUCKETS: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30)


@dataclass
class _Histogram:
    buckets: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    n: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * len(self.buckets)

    def observe(self, value: float) -> None:
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[i] += 1
        self.total += value
        self.n += 1

    def lines(self, name: str) -> list[str]:
        out = [f'{name}_bucket{{le="{_num(b)}"}} {c}' for b, c in zip(self.buckets, self.counts)]
        out.append(f'{name}_bucket{{le="+Inf"}} {self.n}')
        out.append(f"{name}_sum {_num(self.total)}")
        out.append(f"{name}_count {self.n}")
        return out


class WatchMetrics:
    """Counters and gauges of one watcher; `render()` is the /metrics body."""

    def __init__(self, stats: WatchStats | None = None) -> None:
        self.stats = stats or WatchStats()
        self._lock = threading.Lock()
        self._active: list[Detection] = []
        self._detections: dict[str, int] = {}
        self._mttd = _Histogram(MTTD_BUCKETS)
        self._latency = _Histogram(LATENCY_BUCKETS)
        self._proposals: dict[str, int] = {}
        self._analyses = 0
        self._errors = 0

    def detected(self, new: Sequence[Detection], active: Sequence[Detection]) -> None:
        with self._lock:
            self._active = list(active)
            for d in new:
                self._detections[d.code] = self._detections.get(d.code, 0) + 1
                if d.mttd_seconds is not None and not d.initial:
                    self._mttd.observe(d.mttd_seconds)

    def analysed(self, latency_seconds: float | None) -> None:
        with self._lock:
            self._analyses += 1
            if latency_seconds is not None:
                self._latency.observe(latency_seconds)

    def sink_error(self) -> None:
        with self._lock:
            self._errors += 1

    def proposal(self, action: str) -> None:
        with self._lock:
            self._proposals[action] = self._proposals.get(action, 0) + 1

    def render(self) -> str:
        with self.stats.lock:
            events, relists = self.stats.events, self.stats.relists
            restarts = dict(self.stats.restarts)
            last = self.stats.last_event_at
            up, streams = self.stats.streams_up, self.stats.streams
        with self._lock:
            gauge: dict[tuple[str, str], int] = {}
            for d in self._active:
                k = (d.code, d.finding.severity.value)
                gauge[k] = gauge.get(k, 0) + 1
            out: list[str] = [
                "# HELP aiops_watch_findings Problems (finding code on a workload) failing now.",
                "# TYPE aiops_watch_findings gauge",
            ]
            out += [
                f'aiops_watch_findings{{code="{_esc(c)}",severity="{s}"}} {n}'
                for (c, s), n in sorted(gauge.items())
            ]
            out += [
                "# HELP aiops_watch_findings_total Problems failing now, all codes.",
                "# TYPE aiops_watch_findings_total gauge",
                f"aiops_watch_findings_total {len(self._active)}",
                "# HELP aiops_watch_detections_total New problems detected, by finding code.",
                "# TYPE aiops_watch_detections_total counter",
            ]
            out += [
                f'aiops_watch_detections_total{{code="{_esc(c)}"}} {n}'
                for c, n in sorted(self._detections.items())
            ]
            out += [
                "# HELP aiops_watch_mttd_seconds Time from failure start to detection (MTTD), new failures.",
                "# TYPE aiops_watch_mttd_seconds histogram",
                *self._mttd.lines("aiops_watch_mttd_seconds"),
                "# HELP aiops_watch_analysis_latency_seconds From a change arriving to its analysis.",
                "# TYPE aiops_watch_analysis_latency_seconds histogram",
                *self._latency.lines("aiops_watch_analysis_latency_seconds"),
                "# HELP aiops_watch_analyses_total Analyses run.",
                "# TYPE aiops_watch_analyses_total counter",
                f"aiops_watch_analyses_total {self._analyses}",
                "# HELP aiops_watch_proposal_actions_total Proposal actions taken for detected problems.",
                "# TYPE aiops_watch_proposal_actions_total counter",
            ]
            out += [
                f'aiops_watch_proposal_actions_total{{action="{_esc(a)}"}} {n}'
                for a, n in sorted(self._proposals.items())
            ]
            out += [
                "# HELP aiops_watch_sink_errors_total Failures to reach the forge (proposal or dashboard).",
                "# TYPE aiops_watch_sink_errors_total counter",
                f"aiops_watch_sink_errors_total {self._errors}",
            ]
        out += [
            "# HELP aiops_watch_events_total Watch events received.",
            "# TYPE aiops_watch_events_total counter",
            f"aiops_watch_events_total {events}",
            "# HELP aiops_watch_relists_total Lists made (start, resync, after 410 Gone).",
            "# TYPE aiops_watch_relists_total counter",
            f"aiops_watch_relists_total {relists}",
            "# HELP aiops_watch_restarts_total Watch streams restarted, by reason (error, gone).",
            "# TYPE aiops_watch_restarts_total counter",
        ]
        out += [f'aiops_watch_restarts_total{{reason="{r}"}} {restarts.get(r, 0)}' for r in ("error", "gone")]
        out += [
            "# HELP aiops_watch_last_event_timestamp_seconds When the last watch event arrived (Unix time).",
            "# TYPE aiops_watch_last_event_timestamp_seconds gauge",
            f"aiops_watch_last_event_timestamp_seconds {_num(last or 0.0)}",
            "# HELP aiops_watch_streams_connected Watch streams connected now, of aiops_watch_streams.",
            "# TYPE aiops_watch_streams_connected gauge",
            f"aiops_watch_streams_connected {up}",
            "# TYPE aiops_watch_streams gauge",
            f"aiops_watch_streams {streams}",
        ]
        return "\n".join(out) + "\n"


class StatusServer:
    """`/metrics`, `/healthz`, `/readyz` on a daemon thread; `port=0` takes a free port."""

    def __init__(
        self,
        metrics: WatchMetrics,
        *,
        healthy: Callable[[], bool],
        ready: Callable[[], bool],
        host: str = "0.0.0.0",
        port: int = 9102,
    ) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    owner._send(self, 200, owner.metrics.render(), "text/plain; version=0.0.4; charset=utf-8")
                elif path == "/healthz":
                    ok = owner.healthy()
                    owner._send(self, 200 if ok else 503, "ok\n" if ok else "unhealthy\n")
                elif path == "/readyz":
                    ok = owner.ready()
                    owner._send(self, 200 if ok else 503, "ready\n" if ok else "not ready\n")
                else:
                    owner._send(self, 404, "not found\n")

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.metrics = metrics
        self.healthy = healthy
        self.ready = ready
        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="aiops-status", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> StatusServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, text: str, ctype: str = "text/plain") -> None:
        body = text.encode("utf-8")
        handler.send_response(status)
        handler.send_header("Content-Type", ctype)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
