"""The watch flow (`aiops watch`, DESIGN §4.10): watch streams → analyzers → new problems → forge.

`WatchLoop` takes the changes `aiops.watch.ClusterWatch` queues, waits a short debounce, and re-runs
every analyzer on the affected namespaces only (with the previous logs of crashing containers,
fetched once per restart); `Detector` turns the findings into new and cleared problems (code +
workload) with `started_at`/`detected_at`. `ForgeSink` then acts through the `Forge` port, files
read through its API (no checkout): the recommendations for a new problem's workload go to
`run_propose` — one proposal per key, the policy's `proposals.max_per_hour`/`max_open` — and the
dashboard issue's `watcher` section lists the problems failing now, one line each. A problem is
proposed for once while it lasts; a cleared problem's proposal is closed when the recommendation
engine proves it cleared. Forge errors are counted and retried on the next pass; they never stop
the watcher. `--dry-run` writes nothing anywhere.

`Watcher` assembles all of it with the status server; the CLI owns signals and printing.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from aiops.errors import AiopsError
from aiops.gitops.forge import Forge
from aiops.model import Snapshot
from aiops.model.findings import Finding
from aiops.model.k8s import format_time
from aiops.settings import Settings
from aiops.watch import Change, ClusterWatch, Detection, Detector, StatusServer, WatchMetrics, problem_key

__all__ = ["DASHBOARD_SECTION", "ForgeSink", "ProblemSink", "WatchLoop", "WatchOptions", "Watcher"]

DASHBOARD_SECTION = "watcher"
POLICY_PATH = ".github/aiops.yaml"
_LOG_CACHE_MAX = 2000


class ProblemSink(Protocol):
    """Where new and cleared problems go; returns lines worth printing."""

    def handle(
        self,
        new: Sequence[Detection],
        cleared: Sequence[Detection],
        active: Sequence[Detection],
        snapshot: Snapshot,
        findings: Sequence[Finding],
    ) -> list[str]: ...


@dataclass(frozen=True)
class WatchOptions:
    kubeconfig: str | None = None
    context: str | None = None
    namespaces: tuple[str, ...] | None = None  # None = every namespace (or the policy's, below)
    policy_namespaces: bool = False  # neither -n nor -A: the policy's `namespaces` when it names some
    forge_name: str | None = None
    repo: str = "."
    dry_run: bool = False
    metrics_host: str = "0.0.0.0"
    metrics_port: int | None = 9102  # None: no status server; 0: any free port
    debounce: float = 0.2
    resync_seconds: float = 300.0


class WatchLoop:
    """Analyses what changed; thread-safe enough for one `run` thread plus readers of `detector`."""

    def __init__(
        self,
        watch: ClusterWatch,
        *,
        metrics: WatchMetrics,
        sink: ProblemSink | None = None,
        scope: Sequence[str] | None = None,
        emit: Callable[[str], None] = lambda line: None,
        debounce: float = 0.2,
    ) -> None:
        self.watch = watch
        self.metrics = metrics
        self.sink = sink
        self.scope = tuple(scope) if scope is not None else None
        self.emit = emit
        self.debounce = debounce
        self.detector = Detector()
        self.on_detect: list[Callable[[Detection], None]] = []
        self.beats = 0  # loop iterations (health: the loop is not stuck)
        self.passes = 0  # analyses finished, the sink's part included
        self._logs: dict[tuple[str, str, str, int], str | None] = {}
        self._retry = False
        self.retry_seconds = 300.0  # a deferred proposal or a forge error is tried again after this
        self._last_pass = time.monotonic()

    # ---- one pass ------------------------------------------------------------------------
    def analyse(
        self, namespaces: Sequence[str] | None, *, initial: bool = False, received: float | None = None
    ) -> tuple[list[Detection], list[Detection]]:
        """Re-run the analyzers on `namespaces` (None = the whole scope) and hand changes to the sink."""
        from aiops.diagnose import run_all
        from aiops.pipeline.diagnosis import redact_diagnosis

        names = namespaces if namespaces is not None else self.scope
        bare = self.watch.snapshot(names)
        snap = dataclasses.replace(bare, logs=self._previous_logs(bare))
        diagnosis = redact_diagnosis(run_all(snap, namespaces=names), snap)
        new, cleared = self.detector.update(
            diagnosis.findings, namespaces=names, at=snap.at, initial=initial, cluster=namespaces is None
        )
        self._last_pass = time.monotonic()
        active = self.detector.active()
        self.metrics.detected(new, active)
        self.metrics.analysed(time.monotonic() - received if received is not None else None)
        for d in new:
            self.emit(f"detected {d.line()}")
            for hook in self.on_detect:
                hook(d)
        for d in cleared:
            self.emit(f"cleared {d.code} {d.workload.namespace}/{d.workload.kind}/{d.workload.name}")
        waiting = self.sink is not None and bool(getattr(self.sink, "pending", None))
        if self.sink is not None and (new or cleared or self._retry or waiting):
            try:
                for line in self.sink.handle(new, cleared, active, snap, diagnosis.findings):
                    self.emit(line)
                self._retry = False
            except AiopsError as exc:
                self.metrics.sink_error()
                self._retry = True
                self.emit(f"forge: {exc.message} (retried on the next change)")
            except Exception as exc:  # a forge library error we do not know: keep watching
                self.metrics.sink_error()
                self._retry = True
                self.emit(f"forge: {type(exc).__name__}: {' '.join(str(exc).split())[:300]} (retried later)")
        self.passes += 1
        return new, cleared

    def step(self, timeout: float = 0.5) -> bool:
        """Wait for changes (up to `timeout`), gather what follows within the debounce, analyse the
        namespaces they touched. False when nothing arrived."""
        self.beats += 1
        try:
            first = self.watch.changes.get(timeout=timeout)
        except queue.Empty:
            owed = self._retry or bool(getattr(self.sink, "pending", None))
            if owed and time.monotonic() - self._last_pass >= self.retry_seconds:
                self.analyse(None)  # nothing changed, but a deferred proposal or a forge call is due
            return False
        batch: list[Change] = [first]
        deadline = time.monotonic() + self.debounce
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                batch.append(self.watch.changes.get(timeout=left))
            except queue.Empty:
                break
        spaces = {c.namespace for c in batch}
        if "" in spaces:  # a cluster-scoped object (a node): everything in scope
            names: Sequence[str] | None = None
        else:
            names = sorted(s for s in spaces if self.scope is None or s in self.scope)
            if not names:
                return True
        self.analyse(names, received=min(c.received for c in batch))
        return True

    def run(self, stop: threading.Event) -> None:
        """The initial analysis, then passes until `stop` is set."""
        self.analyse(None, initial=True)
        while not stop.is_set():
            try:
                self.step(0.5)
            except Exception as exc:  # one bad pass never ends the watcher; say it and go on
                self.emit(f"error: analysis failed: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}")
                stop.wait(1.0)

    # ---- logs ----------------------------------------------------------------------------
    def _previous_logs(self, snap: Snapshot) -> dict[str, str]:
        from aiops.cluster.live import crashing_containers

        out: dict[str, str] = {}
        pods = {
            (
                str((p.get("metadata") or {}).get("namespace") or ""),
                str((p.get("metadata") or {}).get("name")),
            ): p
            for p in snap.of_kind("Pod")
        }
        for ns, pod, container in crashing_containers(list(pods.values()), snap.at):
            restarts = _restarts(pods.get((ns, pod)), container)
            key = (ns, pod, container, restarts)
            if key not in self._logs:
                if len(self._logs) > _LOG_CACHE_MAX:
                    self._logs.clear()
                self._logs[key] = self.watch.previous_log(ns, pod, container)
            text = self._logs[key]
            if text is not None:
                out[f"{ns}/{pod}/{container}"] = text
        return out


def _restarts(pod: dict[str, object] | None, container: str) -> int:
    status = (pod or {}).get("status")
    if not isinstance(status, dict):
        return 0
    for key in ("initContainerStatuses", "containerStatuses"):
        for cs in status.get(key) or ():
            if isinstance(cs, dict) and cs.get("name") == container:
                return int(cs.get("restartCount") or 0)
    return 0


class ForgeSink:
    """Proposals for new problems and the dashboard's `watcher` section, through the Forge port."""

    def __init__(
        self,
        forge: Forge,
        settings: Settings,
        *,
        metrics: WatchMetrics | None = None,
        dry_run: bool = False,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.forge = forge
        self.settings = settings
        self.metrics = metrics
        self.dry_run = dry_run
        self.clock = clock
        self.proposed: dict[str, str] = {}  # problem key → what was done (once per problem)
        self._pending: dict[str, Detection] = {}  # new problems not yet handed to the forge
        self._deferred: dict[str, str] = {}  # problem key → why its proposal waits (rate limit)
        self._dashboard: str | None = None

    @property
    def pending(self) -> dict[str, Detection]:
        """New problems whose proposal is still owed (deferred by a rate limit)."""
        return self._pending

    def handle(
        self,
        new: Sequence[Detection],
        cleared: Sequence[Detection],
        active: Sequence[Detection],
        snapshot: Snapshot,
        findings: Sequence[Finding],
    ) -> list[str]:
        from aiops.pipeline.proposal import ProposeOptions, run_propose
        from aiops.recommend import run_all

        lines: list[str] = []
        for d in new:
            if d.key not in self.proposed:
                self._pending[d.key] = d
        active_keys = {d.key for d in active}
        for key in list(self._pending):
            if key not in active_keys:
                del self._pending[key]
                self._deferred.pop(key, None)
        for d in cleared:
            self.proposed.pop(d.key, None)
        # the PHR's detected_at is when the watcher first saw the problem, not this pass
        seen = {d.key: d.detected_at for d in active}
        findings = [
            dataclasses.replace(f, detected_at=seen[problem_key(f)]) if problem_key(f) in seen else f
            for f in findings
        ]
        targets = {d.workload for d in self._pending.values()}
        gone = {d.workload for d in cleared} - {d.workload for d in active}
        if targets or gone:
            spaces = sorted({w.namespace for w in targets | gone if w.namespace})
            result = run_all(snapshot, None, findings, self.settings, snapshot.at, namespaces=spaces or None)
            recs = [r for r in result.recommendations if r.target in targets]
            skips = [s for s in result.skipped if s.cause == "cleared" and s.target in gone]
            outcome = run_propose(
                recs,
                skips,
                forge=self.forge,
                settings=self.settings,
                snapshot=snapshot,
                findings=findings,
                options=ProposeOptions(dry_run=self.dry_run, now=self.clock(), render=False),
            )
            by_target: dict[object, list[str]] = {}
            for line in outcome.lines:
                if self.metrics is not None:
                    self.metrics.proposal(line.action)
                lines.append(f"proposal: {line.line()}")
                for rec in recs:
                    if rec.key == line.key:
                        by_target.setdefault(rec.target, []).append(
                            f"{line.action} #{line.number}" if line.number else line.action
                        )
            deferred = {ln.key: ln.reason for ln in outcome.lines if ln.action == "deferred"}
            for key, d in list(self._pending.items()):
                held = [deferred[r.key] for r in recs if r.target == d.workload and r.key in deferred]
                if held:
                    self.proposed.pop(key, None)
                    self._deferred[key] = held[0]
                    continue  # the rate limit deferred it: try again on a later pass
                self._deferred.pop(key, None)
                done = by_target.get(d.workload)
                self.proposed[key] = ", ".join(done) if done else "no change to propose"
                del self._pending[key]
        body = self.dashboard(active)
        if body != self._dashboard:
            if self.dry_run:
                lines.append("dashboard (dry run, not written):\n" + body)
            else:
                self.forge.upsert_dashboard(DASHBOARD_SECTION, body)
            self._dashboard = body
        return lines

    def dashboard(self, active: Sequence[Detection]) -> str:
        """The `watcher` section: one line per problem failing now (stable text: no clock in it)."""
        out = ["## Failing now (aiops watch)", ""]
        if not active:
            out.append("Nothing is failing.")
            return "\n".join(out) + "\n"
        out += [
            "| Severity | Code | Workload | Started | Detected | MTTD | Proposal |",
            "|---|---|---|---|---|---|---|",
        ]
        for d in active:
            w = d.workload
            mttd = d.mttd_seconds
            out.append(
                f"| {d.finding.severity.value} | `{d.code}` | `{w.namespace}/{w.kind}/{w.name}` "
                f"| {format_time(d.started_at) or '—'} | {format_time(d.detected_at)} "
                f"| {f'{mttd:.0f}s' if mttd is not None and not d.initial else '—'} "
                f"| {self._state(d.key)} |"
            )
        return "\n".join(out) + "\n"

    def _state(self, key: str) -> str:
        if key in self.proposed:
            return self.proposed[key]
        if key in self._deferred:
            return f"deferred ({self._deferred[key]})"
        return "pending"


class Watcher:
    """Everything `aiops watch` runs: streams, loop, sink, status server."""

    def __init__(
        self,
        options: WatchOptions,
        *,
        emit: Callable[[str], None] = lambda line: None,
        forge: Forge | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.options = options
        self.emit = emit
        self.watch = ClusterWatch(
            kubeconfig=options.kubeconfig,
            context=options.context,
            namespaces=options.namespaces,
            resync_seconds=options.resync_seconds,
        )
        self.metrics = WatchMetrics(self.watch.stats)
        self.forge = forge
        self.settings = settings
        self.loop: WatchLoop | None = None
        self.server: StatusServer | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._started = False

    def open(self) -> None:
        """Forge and policy (read through the forge), status server, then the first lists."""
        if self.forge is None:
            from aiops.pipeline.forges import open_forge

            self.forge = open_forge(self.options.forge_name, repo=self.options.repo)
        if self.settings is None:
            self.settings = read_policy(self.forge)
        if self.options.policy_namespaces and self.settings.namespaces:
            self.watch.namespaces = tuple(self.settings.namespaces)
        sink = ForgeSink(self.forge, self.settings, metrics=self.metrics, dry_run=self.options.dry_run)
        self.loop = WatchLoop(
            self.watch,
            metrics=self.metrics,
            sink=sink,
            scope=self.watch.namespaces,
            emit=self.emit,
            debounce=self.options.debounce,
        )
        if self.options.metrics_port is not None:
            self.server = StatusServer(
                self.metrics,
                healthy=self.healthy,
                ready=self.ready,
                host=self.options.metrics_host,
                port=self.options.metrics_port,
            ).start()
        self.watch.start()
        self._started = True

    def healthy(self) -> bool:
        if not self._started:
            return True  # still starting: not dead
        return self.watch.alive() and (self._thread is None or self._thread.is_alive())

    def ready(self) -> bool:
        return self._started and self.watch.ready()

    def once(self) -> tuple[list[Detection], list[Detection]]:
        """One analysis of the whole scope (`--once`)."""
        assert self.loop is not None, "open() first"
        return self.loop.analyse(None, initial=True)

    def run(self, stop: threading.Event | None = None) -> None:
        """Analyse until `stop` (or `close()`) — blocking."""
        assert self.loop is not None, "open() first"
        self.loop.run(stop or self._stop)

    def start(self) -> None:
        """`run` on a background thread."""
        assert self.loop is not None, "open() first"
        self._thread = threading.Thread(
            target=self.loop.run, args=(self._stop,), name="aiops-watch", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self.watch.stop()
        if self._thread is not None:
            self._thread.join(5.0)
        if self.server is not None:
            self.server.stop()


def read_policy(forge: Forge) -> Settings:
    """`.github/aiops.yaml` from the forge's base branch (defaults when absent)."""
    from aiops.settings import load_settings_text

    text = forge.read_file(POLICY_PATH)
    return load_settings_text(text, source=POLICY_PATH) if text is not None else Settings()
