"""Container-level analyzers: why a pod's containers do not run (DESIGN §4.2 classification rules).

Codes: OOMKilled, CrashLoopBackOff, LivenessProbeFailure, ReadinessProbeFailure,
StartupProbeFailure, ImagePullBackOff, CreateContainerConfigError, RunContainerError,
InitContainerFailure (one finding per failing container) and FailedMount, Evicted (one per pod).

Reads each pod's status (state, lastState, restartCount, conditions), its events through the
snapshot's index (never a scan of all events per pod), the ConfigMaps it references and the
previous-container log (root cause via `logsigs`). Everything is judged at `snapshot.at`, never
the wall clock. Pure: no I/O, no printing; returns Findings.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from aiops.diagnose import logsigs
from aiops.diagnose.common import (
    clip,
    condition,
    describe_event,
    earliest,
    field_path_container,
    format_time_cached,
    make_finding,
    owner_of,
    pod_events,
)
from aiops.model import Cause, Finding, OwnerRef, Severity, Snapshot, format_time, parse_time
from aiops.model.k8s import K8sObject, dig, meta
from aiops.model.snapshot import event_first_time, event_last_time, parse_time_cached

IMAGE_REASONS = frozenset(
    {
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "ErrImageNeverPull",
        "ImageInspectError",
        "RegistryUnavailable",
    }
)
RUN_REASONS = frozenset(
    {
        "RunContainerError",
        "CreateContainerError",
        "PreCreateHookError",
        "PreStartHookError",
        "PostStartHookError",
    }
)
START_FAILURES = frozenset({"StartError", "ContainerCannotRun"})

RECENT_RESTART_S = 3600.0
"""A running container whose last failure ended within this window is still failing (flapping);
older restarts of a container that runs now are history (events expire after 1 h as well)."""
NOT_READY_WITHOUT_EVENTS_S = 600.0
"""Not ready for this long with a readiness probe counts even when the probe events expired."""
MOUNT_GRACE_S = 60.0
"""A pod waiting for a volume whose ConfigMap is absent counts after this long (no events needed)."""

_RUNTIME_EXEC = re.compile(
    r"executable file not found|exec format error|no such file or directory|permission denied|"
    r"OCI runtime|failed to create (?:containerd )?(?:task|shim)|starting container process caused",
    re.IGNORECASE,
)
_PROBE_STATUS = re.compile(r"statuscode: (\d{3})")
_PROBE_PORT = re.compile(r"dial tcp [^\s]*?:(\d+): connect: connection refused")
_CM_MISSING = re.compile(r"configmaps? \"([^\"]+)\" not found")
_SECRET_MISSING = re.compile(r"secrets? \"([^\"]+)\" not found")
_CM_KEY = re.compile(r"couldn't find key (\S+) in ConfigMap ([^/\s]+)/([\w.-]+)", re.IGNORECASE)
_SECRET_KEY = re.compile(r"couldn't find key (\S+) in Secret ([^/\s]+)/([\w.-]+)", re.IGNORECASE)
_VOLUME = re.compile(r"for volume \"([^\"]+)\"")
_EVICT_RES = re.compile(r"low on resource: ([\w./-]+)")
_EVICT_USE = re.compile(
    r"Container (\S+) was using (\S+?), (?:request is (\S+?),|which exceeds its request of (\S+?)\.)"
)
_EVICT_COND = re.compile(r"node had condition: \[(\w+)\]")


# ---- per-pod context -------------------------------------------------------------------------------
@dataclass
class _Pod:
    """One pod under analysis; events and owner are computed only when a finding needs them."""

    snapshot: Snapshot
    obj: K8sObject
    index: _Index
    name: str = field(init=False)
    namespace: str = field(init=False)

    def __post_init__(self) -> None:
        m = meta(self.obj)
        self.name = str(m.get("name", ""))
        self.namespace = str(m.get("namespace") or "")

    @cached_property
    def events(self) -> list[K8sObject]:
        return pod_events(self.snapshot, self.obj)

    @cached_property
    def events_by_container(self) -> dict[str | None, list[K8sObject]]:
        out: dict[str | None, list[K8sObject]] = defaultdict(list)
        for ev in self.events:
            out[field_path_container(ev)].append(ev)
        return out

    @cached_property
    def owner(self) -> OwnerRef | None:
        return owner_of(self.snapshot, self.obj)

    def container_events(self, container: str, reasons: Iterable[str] = ()) -> list[K8sObject]:
        """Events about one container: by fieldPath, or pod-level events whose message names it."""
        wanted = set(reasons)
        out = [
            e for e in self.events_by_container.get(container, ()) if not wanted or e.get("reason") in wanted
        ]
        for e in self.events_by_container.get(None, ()):
            if wanted and e.get("reason") not in wanted:
                continue
            msg = str(e.get("message") or "")
            if f"container {container} " in msg or f"Container {container} " in msg:
                out.append(e)
        return out

    def spec_of(self, container: str, init: bool) -> dict[str, Any]:
        key = "initContainers" if init else "containers"
        for c in dig(self.obj, "spec", key, default=()) or ():
            if isinstance(c, dict) and c.get("name") == container:
                return c
        return {}

    def log(self, container: str) -> str | None:
        return self.snapshot.log(self.namespace, self.name, container)

    def finding(
        self,
        code: str,
        severity: Severity,
        summary: str,
        *,
        evidence: Sequence[str],
        remediation: str,
        container: str | None,
        started_at: datetime | None,
        cause: Cause | None = None,
    ) -> Finding:
        return make_finding(
            self.snapshot,
            self.obj,
            code,
            severity,
            summary,
            evidence=evidence,
            remediation=remediation,
            container=container,
            started_at=started_at,
            cause=cause,
            owner=self.owner,
        )


@dataclass
class _Index:
    """Snapshot-wide lookups built once per run (ConfigMap names per namespace, finished Jobs,
    explained logs)."""

    snapshot: Snapshot
    explained: dict[str, logsigs.LogCause | None] = field(default_factory=dict)

    @cached_property
    def configmaps_by_ns(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = defaultdict(list)
        for cm in self.snapshot.of_kind("ConfigMap"):
            m = meta(cm)
            out[str(m.get("namespace") or "")].append(str(m.get("name", "")))
        return out

    @property
    def has_configmaps(self) -> bool:
        return self.snapshot.has_kind("ConfigMap")

    def configmap(self, namespace: str, name: str) -> K8sObject | None:
        return self.snapshot.get("ConfigMap", namespace, name)

    def near(self, namespace: str, name: str) -> str | None:
        close = difflib.get_close_matches(name, self.configmaps_by_ns.get(namespace, []), n=1, cutoff=0.8)
        return close[0] if close else None

    def explain(self, text: str | None) -> logsigs.LogCause | None:
        """`logsigs.explain`, once per distinct text: the replicas of a crash-looping workload
        usually leave the same previous log and termination message."""
        if not text:
            return None
        if text not in self.explained:
            self.explained[text] = logsigs.explain(text)
        return self.explained[text]

    def job_complete(self, namespace: str, name: str) -> bool:
        job = self.snapshot.get("Job", namespace, name)
        if job is None:
            return False
        c = condition(job, "Complete")
        return bool(c and c.get("status") == "True")


# ---- entry point -------------------------------------------------------------------------------------
def analyze(snapshot: Snapshot) -> Iterator[Finding]:
    """Findings for every pod of the snapshot (pods that are fine cost a few dict lookups)."""
    index = _Index(snapshot)
    for obj in snapshot.of_kind("Pod"):
        status = obj.get("status")
        if isinstance(status, dict) and _plainly_healthy(status):
            continue
        yield from _analyze_pod(_Pod(snapshot, obj, index))


def _plainly_healthy(status: dict[str, Any]) -> bool:
    """Running, every container running and ready, init containers done, no restart history.

    Most pods of a cluster look like this; they are skipped without building anything. Anything
    else (restarts, waiting, not ready, another phase) goes through the full analysis.
    """
    if status.get("phase") != "Running" or status.get("reason"):
        return False
    statuses = status.get("containerStatuses")
    if not statuses:
        return False
    for cs in statuses:
        if not isinstance(cs, dict) or cs.get("ready") is not True or cs.get("restartCount"):
            return False
        if "running" not in (cs.get("state") or {}):
            return False
    for cs in status.get("initContainerStatuses") or ():
        if not isinstance(cs, dict) or cs.get("restartCount"):
            return False
        st = cs.get("state") or {}
        done = (st.get("terminated") or {}).get("exitCode") == 0
        if not done and not ("running" in st and cs.get("ready") is True):
            return False
    return True


def _analyze_pod(pod: _Pod) -> Iterator[Finding]:
    status = pod.obj.get("status") or {}
    phase = status.get("phase")
    if phase == "Succeeded":
        return
    if status.get("reason") == "Evicted":
        yield _evicted(pod, status)
        return
    if phase == "Failed" and _retried_by_complete_job(pod):
        return
    mount = _failed_mount(pod, status)
    if mount is not None:
        yield mount
    for cs in status.get("initContainerStatuses") or ():
        if not isinstance(cs, dict):
            continue
        spec = pod.spec_of(str(cs.get("name", "")), init=True)
        if spec.get("restartPolicy") == "Always":  # a native sidecar: judged like an app container
            f = _app_container(pod, cs, status, init=True)
        else:
            f = _init_container(pod, cs)
        if f is not None:
            yield f
    for cs in status.get("containerStatuses") or ():
        if isinstance(cs, dict):
            f = _app_container(pod, cs, status, init=False)
            if f is not None:
                yield f


def _retried_by_complete_job(pod: _Pod) -> bool:
    for ref in meta(pod.obj).get("ownerReferences") or ():
        if isinstance(ref, dict) and ref.get("kind") == "Job":
            return pod.index.job_complete(pod.namespace, str(ref.get("name", "")))
    return False


# ---- helpers --------------------------------------------------------------------------------------------
def _term_text(t: dict[str, Any], where: str) -> str:
    parts = [f"{where}.reason={t.get('reason') or '?'}", f"exitCode={t.get('exitCode')}"]
    if t.get("signal"):
        parts.append(f"signal={t['signal']}")
    fin = parse_time_cached(t.get("finishedAt"))
    if fin is not None and fin.year > 1970:
        parts.append(f"finishedAt={format_time_cached(fin)}")
    out = " ".join(parts)
    if t.get("message"):
        out += f" message={clip(str(t['message']), 200)!r}"
    return out


def _waiting_text(w: dict[str, Any]) -> str:
    out = f"state.waiting.reason={w.get('reason')}"
    if w.get("message"):
        out += f" message={clip(str(w['message']), 240)!r}"
    return out


def _restarts(cs: dict[str, Any]) -> int:
    n = cs.get("restartCount")
    return n if isinstance(n, int) else 0


def _times(evs: Iterable[K8sObject]) -> list[datetime]:
    return [t for t in (event_first_time(e) for e in evs) if t is not None]


def _merged_event_lines(evs: Sequence[K8sObject], limit: int = 4) -> list[str]:
    """Newest distinct (reason, message) events as evidence lines, at most `limit`."""
    seen: set[tuple[str, str]] = set()
    lines: list[str] = []
    for ev in sorted(
        evs, key=lambda e: event_last_time(e) or datetime.min.replace(tzinfo=None), reverse=True
    ):
        key = (str(ev.get("reason")), str(ev.get("message")))
        if key in seen:
            continue
        seen.add(key)
        lines.append(describe_event(ev))
        if len(lines) >= limit:
            break
    return lines


def _sort_key_time(ev: K8sObject) -> float:
    t = event_last_time(ev)
    return t.timestamp() if t is not None else 0.0


def _newest(evs: Sequence[K8sObject]) -> K8sObject | None:
    return max(evs, key=_sort_key_time) if evs else None


def _limits(spec: dict[str, Any]) -> tuple[str | None, str | None]:
    lim = dig(spec, "resources", "limits", "memory")
    req = dig(spec, "resources", "requests", "memory")
    return (str(lim) if lim is not None else None, str(req) if req is not None else None)


def _probe_text(kind: str, probe: dict[str, Any]) -> str:
    if not probe:
        return f"{kind}: not defined"
    if "httpGet" in probe:
        h = probe["httpGet"] or {}
        target = f"httpGet {h.get('path', '/')}:{h.get('port')}"
    elif "tcpSocket" in probe:
        target = f"tcpSocket :{dig(probe, 'tcpSocket', 'port')}"
    elif "exec" in probe:
        target = "exec " + " ".join(str(a) for a in dig(probe, "exec", "command", default=[]) or [])
    elif "grpc" in probe:
        target = f"grpc :{dig(probe, 'grpc', 'port')}"
    else:
        target = "?"
    return (
        f"{kind}: {target} initialDelaySeconds={probe.get('initialDelaySeconds', 0)} "
        f"periodSeconds={probe.get('periodSeconds', 10)} timeoutSeconds={probe.get('timeoutSeconds', 1)} "
        f"failureThreshold={probe.get('failureThreshold', 3)}"
    )


def _probe_window(probe: dict[str, Any]) -> float:
    """Seconds a probe may fail before it acts: initial delay + period × threshold."""

    def num(key: str, default: int) -> int:
        v = probe.get(key)
        return v if isinstance(v, int) else default

    return float(num("initialDelaySeconds", 0) + num("periodSeconds", 10) * num("failureThreshold", 3))


def _probe_cause(message: str, kind: str, probe: dict[str, Any]) -> Cause | None:
    detail: dict[str, Any] = {"probe": kind}
    if "httpGet" in probe:
        detail["path"] = dig(probe, "httpGet", "path", default="/")
        detail["port"] = dig(probe, "httpGet", "port")
    m = _PROBE_STATUS.search(message)
    if m:
        detail["status"] = int(m.group(1))
        return Cause("probe-http-status", detail)
    m = _PROBE_PORT.search(message)
    if m or "connection refused" in message:
        if m:
            detail["port"] = int(m.group(1))
        return Cause("probe-refused", detail)
    if "deadline exceeded" in message or "timeout" in message.lower() or "timed out" in message:
        detail["timeoutSeconds"] = probe.get("timeoutSeconds", 1)
        return Cause("probe-timeout", detail)
    return None


def _last_line(text: str) -> str:
    for line in reversed(text.splitlines()):
        if line.strip():
            return line.strip()
    return ""


def _log_cause(pod: _Pod, container: str, term: dict[str, Any] | None) -> logsigs.LogCause | None:
    found = pod.index.explain(pod.log(container))
    if found is None and term is not None and term.get("message"):
        found = pod.index.explain(str(term["message"]))
    return found


# ---- app containers -------------------------------------------------------------------------------------
def _app_container(pod: _Pod, cs: dict[str, Any], status: dict[str, Any], *, init: bool) -> Finding | None:
    state = cs.get("state") or {}
    waiting = state.get("waiting") if isinstance(state.get("waiting"), dict) else None
    term_now = state.get("terminated") if isinstance(state.get("terminated"), dict) else None
    running = state.get("running") if isinstance(state.get("running"), dict) else None
    last = dig(cs, "lastState", "terminated")
    last = last if isinstance(last, dict) else None
    wreason = str(waiting.get("reason") or "") if waiting else ""

    if wreason in IMAGE_REASONS:
        return _image(pod, cs, waiting or {}, init=init)
    if wreason == "CreateContainerConfigError":
        return _config_error(pod, cs, waiting or {}, init=init)
    if wreason in RUN_REASONS:
        return _run_error(pod, cs, waiting=waiting, term=last, init=init, log_cause=None)

    term: dict[str, Any] | None = None
    flapping = False
    if wreason == "CrashLoopBackOff":
        term = last or {}
    elif term_now is not None:
        if term_now.get("reason") == "OOMKilled" or term_now.get("exitCode") not in (0, None):
            term = term_now
        elif status.get("phase") == "Running" and pod.obj.get("spec", {}).get("restartPolicy") == "Always":
            term = None  # exited 0 and about to be restarted: the back-off will show next
    elif running is not None and last is not None and _restarts(cs) > 0:
        age = _age(pod.snapshot, last.get("finishedAt"))
        failed = last.get("reason") == "OOMKilled" or last.get("exitCode") not in (0, None)
        if age is not None and 0 <= age <= RECENT_RESTART_S and failed:
            term = last
            flapping = True

    if term is not None:
        return _terminated(pod, cs, term, waiting=waiting, flapping=flapping, init=init)
    if running is not None:
        return _probes(pod, cs, running)
    return None


def _age(snapshot: Snapshot, value: Any) -> float | None:
    t = parse_time_cached(value)
    if t is None or t.year <= 1970:
        return None
    return (snapshot.at - t).total_seconds()


def _terminated(
    pod: _Pod,
    cs: dict[str, Any],
    term: dict[str, Any],
    *,
    waiting: dict[str, Any] | None,
    flapping: bool,
    init: bool,
) -> Finding:
    """Explain a container that keeps terminating: OOM, probe kill, start failure, or app exit."""
    name = str(cs.get("name", ""))
    spec = pod.spec_of(name, init)
    restarts = _restarts(cs)
    ready_now = bool(cs.get("ready"))
    severity = Severity.WARNING if flapping and ready_now else Severity.CRITICAL
    where = "lastState.terminated" if term is dig(cs, "lastState", "terminated") else "state.terminated"
    evidence: list[str] = []
    if waiting:
        evidence.append(_waiting_text(waiting))
    elif flapping:
        evidence.append(f"state.running ready={str(ready_now).lower()} (restarted recently)")
    if term:
        evidence.append(_term_text(term, where))
    evidence.append(f"restartCount={restarts}")
    backoff = pod.container_events(name, ("BackOff",))
    reason = term.get("reason")
    exit_code = term.get("exitCode")

    cause: Cause | None
    if reason == "OOMKilled":
        limit, request = _limits(spec)
        if limit:
            evidence.append(
                f"resources.limits.memory={limit}" + (f" requests.memory={request}" if request else "")
            )
            cause = Cause("oom-limit", {"limit": limit, "request": request})
            detail = f"its {limit} memory limit"
        else:
            evidence.append("resources.limits.memory not set: killed by the node's OOM killer")
            cause = Cause("oom-node", {"node": dig(pod.obj, "spec", "nodeName"), "request": request})
            detail = "node memory (no limit set)"
        evidence.extend(_merged_event_lines(backoff, 2))
        log = pod.log(name)
        lc = pod.index.explain(log)
        if lc is not None:
            evidence.append(lc.evidence())
        elif log:
            evidence.append(f"log (last line before the kill): {clip(_last_line(log), 240)}")
        return pod.finding(
            "OOMKilled",
            severity,
            f"Container {name} of pod {pod.name} was OOM-killed at {detail} "
            f"and has restarted {restarts} time{'s' if restarts != 1 else ''}.",
            evidence=evidence,
            remediation=(
                "Raise resources.limits.memory (and requests) above the container's peak working set, or "
                "lower its memory use (heap size below the limit, fix leaks); see `kubectl logs --previous`."
            ),
            container=name,
            started_at=earliest(term.get("finishedAt"), *_times(backoff)),
            cause=cause,
        )

    kill = _probe_kill(pod, name, exit_code)
    if kill is not None:
        return _probe_restart(pod, cs, term, kill, evidence=evidence, severity=severity, init=init)

    log_cause = _log_cause(pod, name, term)
    runtime_msg = " ".join(
        str(x)
        for x in ((waiting or {}).get("message"), term.get("message"))
        if x and _RUNTIME_EXEC.search(str(x))
    )
    if reason in START_FAILURES or (log_cause is not None and log_cause.exec_failure) or runtime_msg:
        return _run_error(pod, cs, waiting=waiting, term=term, init=init, log_cause=log_cause)

    evidence.extend(_merged_event_lines(backoff, 2))
    if log_cause is not None:
        evidence.append(log_cause.evidence())
    elif pod.log(name):
        evidence.append(f"log (last line): {clip(_last_line(pod.log(name) or ''), 240)}")
    cause = _refine_cause(pod, spec, log_cause)
    code_txt = f"code {exit_code}" if exit_code is not None else "an unknown code"
    if exit_code == 0:
        why = (
            "it exits 0 but its restartPolicy restarts it (a one-shot program run as a long-lived container)"
        )
    elif log_cause is not None:
        why = _cause_text(cause, log_cause)
    else:
        why = "the previous log shows no known cause" if pod.log(name) else "no previous log was captured"
    if exit_code == 137:
        evidence.append(
            "exitCode=137: SIGKILL, but the reason is not OOMKilled and no probe killed it "
            "(killed from outside, e.g. a grace-period timeout)"
        )
    if term.get("reason") == "Error" and exit_code == 127:
        evidence.append(
            "exitCode=127: a command run by the container's shell was not found (application exit)"
        )
    restarted = f"{restarts} restart{'s' if restarts != 1 else ''}"
    policy = dig(pod.obj, "spec", "restartPolicy", default="Always")
    ago = _age(pod.snapshot, term.get("finishedAt"))
    if flapping and ago is not None:
        summary = (
            f"Container {name} of pod {pod.name} runs again but exited with {code_txt} "
            f"{int(ago // 60)} min ago ({restarted}): {why}."
        )
    elif where == "state.terminated" and policy != "Always":
        summary = (
            f"Container {name} of pod {pod.name} exited with {code_txt} and is not restarted "
            f"(restartPolicy {policy}): {why}."
        )
    else:
        summary = f"Container {name} of pod {pod.name} keeps exiting with {code_txt} ({restarted}): {why}."
    return pod.finding(
        "CrashLoopBackOff",
        severity,
        summary,
        evidence=evidence,
        remediation=_crash_remediation(cause),
        container=name,
        started_at=earliest(term.get("finishedAt"), *_times(backoff)),
        cause=cause,
    )


def _cause_text(cause: Cause | None, log_cause: logsigs.LogCause) -> str:
    if cause is not None and cause.type == "missing-config-key" and cause.detail.get("configmap"):
        return (
            f"environment variable {cause.detail.get('key')} is not set because ConfigMap "
            f"{cause.detail['configmap']} has no such key"
        )
    return log_cause.text


def _refine_cause(pod: _Pod, spec: dict[str, Any], log_cause: logsigs.LogCause | None) -> Cause | None:
    """A missing env var that a referenced ConfigMap lacks is a missing config key of that ConfigMap."""
    if log_cause is None:
        return None
    cause = log_cause.cause
    if cause.type != "missing-env":
        return cause
    var = str(cause.detail.get("var", ""))
    for env in spec.get("env") or ():
        if not isinstance(env, dict) or env.get("name") != var:
            continue
        ref = dig(env, "valueFrom", "configMapKeyRef")
        if isinstance(ref, dict):
            cm = pod.index.configmap(pod.namespace, str(ref.get("name", "")))
            key = str(ref.get("key", ""))
            if cm is not None and key not in (cm.get("data") or {}):
                return Cause("missing-config-key", {"configmap": ref.get("name"), "key": key, "env": var})
        return cause
    for src in spec.get("envFrom") or ():
        ref = src.get("configMapRef") if isinstance(src, dict) else None
        if not isinstance(ref, dict):
            continue
        cm = pod.index.configmap(pod.namespace, str(ref.get("name", "")))
        prefix = str(src.get("prefix") or "")
        if cm is not None and var.startswith(prefix):
            key = var[len(prefix) :]
            if key not in (cm.get("data") or {}):
                return Cause("missing-config-key", {"configmap": ref.get("name"), "key": key, "env": var})
    return cause


def _crash_remediation(cause: Cause | None) -> str:
    t = cause.type if cause else None
    d = cause.detail if cause else {}
    table = {
        "missing-config-key": f"Add key {d.get('key')} to ConfigMap {d.get('configmap')} "
        "(through the chart's values), then restart the pods.",
        "missing-env": f"Set environment variable {d.get('var')} in the container spec (or chart values).",
        "dependency-refused": f"Make sure the dependency {d.get('host', '')}{':' if d.get('port') else ''}"
        f"{d.get('port', '')} is running and its Service has endpoints; add retries/back-off at start-up.",
        "dependency-dns": f"Fix the dependency's host name {d.get('host', '')} (Service name and namespace) "
        "or deploy the missing Service.",
        "address-in-use": "Make the pod's containers listen on distinct ports (or fix the port setting).",
        "permission-denied": "Fix file ownership/permissions in the image or set securityContext "
        "(runAsUser/fsGroup) so the process can write where it needs to.",
        "oom-runtime-heap": "Raise the runtime heap limit (e.g. -XX:MaxRAMPercentage, --max-old-space-size, "
        "GOMEMLIMIT) with the memory limit, or fix the leak.",
        "migration-failed": "Fix the failing database migration (or the database state) before rolling out.",
        "exec-not-found": "Fix the start command: the program it runs is not in the image.",
        "app-fatal": "Fix the error the program stops with (see the log line), then roll out again.",
    }
    if t in table:
        return table[t]
    return (
        "Read `kubectl logs --previous` and lastState.terminated.message, fix the application error "
        "(configuration, dependencies), or run one-shot programs as a Job."
    )


# ---- probes ------------------------------------------------------------------------------------------
def _probe_kill(pod: _Pod, container: str, exit_code: Any) -> tuple[str, list[K8sObject]] | None:
    """('liveness'|'startup', events) when the kubelet killed the container for a failing probe."""
    kills = pod.container_events(container, ("Killing",))
    for kind in ("liveness", "startup"):
        ks = [e for e in kills if f"failed {kind} probe" in str(e.get("message") or "")]
        if ks:
            return kind, ks
    if exit_code in (137, 143):
        unhealthy = pod.container_events(container, ("Unhealthy",))
        for kind, prefix in (("liveness", "Liveness probe"), ("startup", "Startup probe")):
            us = [e for e in unhealthy if str(e.get("message") or "").startswith(prefix)]
            if us:
                return kind, []
    return None


def _probe_restart(
    pod: _Pod,
    cs: dict[str, Any],
    term: dict[str, Any],
    kill: tuple[str, list[K8sObject]],
    *,
    evidence: list[str],
    severity: Severity,
    init: bool,
) -> Finding:
    name = str(cs.get("name", ""))
    kind, kills = kill
    spec = pod.spec_of(name, init)
    probe = spec.get(f"{kind}Probe") or {}
    prefix = "Liveness probe" if kind == "liveness" else "Startup probe"
    unhealthy = [
        e
        for e in pod.container_events(name, ("Unhealthy",))
        if str(e.get("message") or "").startswith(prefix)
    ]
    newest = _newest(unhealthy)
    probe_msg = str(newest.get("message") or "") if newest else ""
    cause = _probe_cause(probe_msg, kind, probe) if probe_msg else None
    evidence.extend(_merged_event_lines(kills, 1))
    evidence.extend(_merged_event_lines(unhealthy, 2))
    evidence.append(_probe_text(f"{kind}Probe", probe))
    exit_code = term.get("exitCode")
    if exit_code == 137:
        evidence.append("exitCode=137: SIGKILL after the grace period (probe kill, not OOM)")
    lc = _log_cause(pod, name, term)
    if lc is not None:
        evidence.append(lc.evidence())
    why = probe_msg.split(": ", 1)[1] if ": " in probe_msg else "its probe fails"
    restarts = _restarts(cs)
    code = "LivenessProbeFailure" if kind == "liveness" else "StartupProbeFailure"
    remediation = (
        "Fix the health endpoint or what it depends on; if the app is only slow, raise timeoutSeconds/"
        "failureThreshold or add a startupProbe. Liveness should not check dependencies."
        if kind == "liveness"
        else "The app does not become healthy within the startup probe's window: raise failureThreshold × "
        "periodSeconds to cover the real start time, or fix what delays start-up."
    )
    return pod.finding(
        code,
        severity,
        f"Container {name} of pod {pod.name} is restarted by its failing {kind} probe "
        f"({clip(why, 120)}); {restarts} restart{'s' if restarts != 1 else ''}.",
        evidence=evidence,
        remediation=remediation,
        container=name,
        started_at=earliest(
            term.get("finishedAt"),
            *_times(kills),
            *_times(unhealthy),
            *_times(pod.container_events(name, ("BackOff",))),
        ),
        cause=cause,
    )


def _probes(pod: _Pod, cs: dict[str, Any], running: dict[str, Any]) -> Finding | None:
    """A running container that is not started / not ready because of its probes."""
    if cs.get("ready") is True or (cs.get("ready") is None and cs.get("started") is not False):
        return None  # the common case, decided without parsing anything
    name = str(cs.get("name", ""))
    spec = pod.spec_of(name, False) or pod.spec_of(name, True)
    running_for = _age(pod.snapshot, running.get("startedAt"))
    if cs.get("started") is False and spec.get("startupProbe"):
        probe = spec["startupProbe"]
        unhealthy = [
            e
            for e in pod.container_events(name, ("Unhealthy",))
            if str(e.get("message") or "").startswith("Startup probe")
        ]
        if unhealthy and running_for is not None and running_for > _probe_window(probe):
            return _not_ready(pod, cs, "startup", probe, unhealthy=unhealthy, running_for=running_for)
        return None
    if cs.get("ready") is not False or meta(pod.obj).get("deletionTimestamp"):
        return None  # ready, or shutting down (readiness fails by design while a pod terminates)
    probe = spec.get("readinessProbe") or {}
    unhealthy = [
        e
        for e in pod.container_events(name, ("Unhealthy",))
        if str(e.get("message") or "").startswith("Readiness probe")
    ]
    if running_for is None or running_for <= _probe_window(probe):
        return None  # still inside the probe's start-up allowance
    if unhealthy:
        last = event_last_time(unhealthy[-1])
        if last is not None and (pod.snapshot.at - last).total_seconds() <= _probe_window(probe) + 300:
            return _not_ready(pod, cs, "readiness", probe, unhealthy=unhealthy, running_for=running_for)
    ready_cond = condition(pod.obj, "Ready")
    since = _age(pod.snapshot, (ready_cond or {}).get("lastTransitionTime"))
    if (
        probe
        and (ready_cond or {}).get("reason") == "ContainersNotReady"
        and since is not None
        and min(since, running_for) >= NOT_READY_WITHOUT_EVENTS_S
    ):
        return _not_ready(pod, cs, "readiness", probe, unhealthy=unhealthy, running_for=running_for)
    return None


def _not_ready(
    pod: _Pod,
    cs: dict[str, Any],
    kind: str,
    probe: dict[str, Any],
    *,
    unhealthy: list[K8sObject],
    running_for: float,
) -> Finding:
    name = str(cs.get("name", ""))
    newest = _newest(unhealthy)
    probe_msg = str(newest.get("message") or "") if newest else ""
    cause = _probe_cause(probe_msg, kind, probe) if probe_msg else None
    evidence = [
        f"state.running startedAt={format_time(parse_time(dig(cs, 'state', 'running', 'startedAt')))} "
        f"ready={str(bool(cs.get('ready'))).lower()} started={str(cs.get('started')).lower()} "
        f"restartCount={_restarts(cs)}"
    ]
    ready_cond = condition(pod.obj, "Ready")
    if ready_cond and ready_cond.get("status") != "True":
        evidence.append(
            f"condition Ready={ready_cond.get('status')} reason={ready_cond.get('reason')} "
            f"since {ready_cond.get('lastTransitionTime')}"
            + (f" message={ready_cond['message']!r}" if ready_cond.get("message") else "")
        )
    evidence.extend(_merged_event_lines(unhealthy, 2))
    if not unhealthy:
        evidence.append("no probe events left (events expire after 1 h); not ready for a long time")
    evidence.append(_probe_text(f"{kind}Probe", probe))
    why = probe_msg.split(": ", 1)[1] if ": " in probe_msg else f"its {kind} probe has not succeeded"
    minutes = int(running_for // 60)
    if kind == "startup":
        return pod.finding(
            "StartupProbeFailure",
            Severity.CRITICAL,
            f"Container {name} of pod {pod.name} has not passed its startup probe after {minutes} min "
            f"({clip(why, 120)}).",
            evidence=evidence,
            remediation="Raise the startup probe's failureThreshold × periodSeconds to cover the real start "
            "time, or fix what blocks start-up (dependencies, migrations).",
            container=name,
            started_at=earliest(*_times(unhealthy), dig(cs, "state", "running", "startedAt")),
            cause=cause,
        )
    return pod.finding(
        "ReadinessProbeFailure",
        Severity.WARNING,
        f"Container {name} of pod {pod.name} runs but is not ready ({clip(why, 120)}), "
        "so its Services send it no traffic.",
        evidence=evidence,
        remediation="Make the app answer its readiness endpoint (port/path, dependencies it checks), "
        "or tune the probe's timeoutSeconds/failureThreshold.",
        container=name,
        started_at=earliest(*_times(unhealthy), (ready_cond or {}).get("lastTransitionTime")),
        cause=cause,
    )


# ---- image / config / run errors ---------------------------------------------------------------------
def _split_image(image: str) -> tuple[str, str, str]:
    """(registry, repository, tag) of an image reference; tag 'latest' when none, digest kept as tag."""
    ref = image
    tag = "latest"
    if "@" in ref:
        ref, _, digest = ref.partition("@")
        tag = digest
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        ref, _, t = ref.rpartition(":")
        if tag == "latest":
            tag = t
    first = ref.split("/", 1)[0]
    registry = first if "/" in ref and ("." in first or ":" in first or first == "localhost") else "docker.io"
    return registry, ref, tag


def _image(pod: _Pod, cs: dict[str, Any], waiting: dict[str, Any], *, init: bool) -> Finding:
    name = str(cs.get("name", ""))
    spec = pod.spec_of(name, init)
    image = str(spec.get("image") or cs.get("image") or "")
    registry, repo, tag = _split_image(image)
    evs = pod.container_events(name, ("Failed", "BackOff", "InspectFailed", "ErrImageNeverPull"))
    pull_errors = [e for e in evs if "Failed to pull image" in str(e.get("message") or "")]
    newest = _newest(pull_errors) or _newest(evs)
    text = " ".join(
        s for s in (str(waiting.get("message") or ""), str((newest or {}).get("message") or "")) if s
    )
    wreason = str(waiting.get("reason"))
    lower = text.lower()
    cause: Cause
    if wreason == "InvalidImageName" or "invalid reference format" in lower:
        cause = Cause("image-invalid", {"image": image})
        why = "the image reference is not valid"
        fix = "Fix the image reference (no scheme, lower-case repository, valid tag)."
    elif wreason == "ErrImageNeverPull":
        cause = Cause("image-not-found", {"image": repo, "tag": tag, "pullPolicy": "Never"})
        why = "the image is not on the node and imagePullPolicy is Never"
        fix = "Load the image on the node or change imagePullPolicy."
    elif any(
        s in lower for s in ("401 unauthorized", "unauthorized", "authentication required", "403 forbidden")
    ) or ("no basic auth credentials" in lower):
        cause = Cause("image-unauthorized", {"image": repo, "tag": tag, "registry": registry})
        why = f"the registry {registry} refuses the pull (unauthorized)"
        fix = "Add or repair imagePullSecrets (or the service account's) with credentials for the registry."
    elif (
        "pull access denied" in lower
        or "insufficient_scope" in lower
        or "requested access to the resource" in lower
    ):
        cause = Cause("image-not-found", {"image": repo, "tag": tag, "or_unauthorized": True})
        why = f"the repository {repo} does not exist or is private"
        fix = "Fix the repository name, or add imagePullSecrets if it is private."
    elif any(s in lower for s in ("not found", "manifest unknown", "notfound", "no such image")):
        cause = Cause("image-not-found", {"image": repo, "tag": tag})
        why = f"the tag {tag} of {repo} does not exist"
        fix = f"Use an existing tag of {repo} (or push {image})."
    elif wreason == "RegistryUnavailable" or any(
        s in lower
        for s in (
            "i/o timeout",
            "no such host",
            "connection refused",
            "tls handshake",
            "toomanyrequests",
            "429",
        )
    ):
        cause = Cause("registry-unreachable", {"registry": registry, "image": image})
        why = f"the registry {registry} cannot be reached (or rate-limits the node)"
        fix = "Check the node's network/DNS/proxy to the registry, or use a mirror / authenticated pulls."
    else:
        cause = Cause("image-not-found", {"image": repo, "tag": tag, "unconfirmed": True})
        why = "the image cannot be pulled"
        fix = "Check the image reference and registry credentials (events show the pull error)."
    evidence = [_waiting_text(waiting), f"image={image}"]
    if not cs.get("imageID"):
        evidence.append('imageID="" (never pulled on this node)')
    evidence.extend(_merged_event_lines(pull_errors or evs, 3))
    which = "init container" if init else "container"
    return pod.finding(
        "ImagePullBackOff",
        Severity.CRITICAL,
        f"Image {image} of {which} {name} in pod {pod.name} cannot be pulled: {why}.",
        evidence=evidence,
        remediation=fix,
        container=name,
        started_at=earliest(
            *_times(evs), dig(pod.obj, "status", "startTime"), meta(pod.obj).get("creationTimestamp")
        ),
        cause=cause,
    )


def _config_error(pod: _Pod, cs: dict[str, Any], waiting: dict[str, Any], *, init: bool) -> Finding:
    name = str(cs.get("name", ""))
    spec = pod.spec_of(name, init)
    evs = [
        e for e in pod.container_events(name, ("Failed",)) if str(e.get("message") or "").startswith("Error:")
    ]
    msg = str(waiting.get("message") or "")
    if not msg and evs:
        msg = str((_newest(evs) or {}).get("message") or "").removeprefix("Error: ")
    evidence = [_waiting_text(waiting)]
    evidence.extend(_merged_event_lines(evs, 2))
    cause, why = _config_cause(pod, spec, msg, evidence)
    fix = _config_fix(cause, pod.namespace, msg)
    return pod.finding(
        "CreateContainerConfigError",
        Severity.CRITICAL,
        f"Container {name} of pod {pod.name} cannot be created: {why}.",
        evidence=evidence,
        remediation=fix,
        container=name,
        started_at=earliest(
            *_times(evs), dig(pod.obj, "status", "startTime"), meta(pod.obj).get("creationTimestamp")
        ),
        cause=cause,
    )


def _config_fix(cause: Cause | None, namespace: str, msg: str) -> str:
    d = cause.detail if cause else {}
    if cause is None:
        if "runAsNonRoot" in msg:
            return "Set runAsUser to a non-root UID or use a non-root image."
        return "Fix the container's configuration references (ConfigMaps, Secrets, securityContext)."
    if cause.type == "missing-configmap":
        return (
            f"Create ConfigMap {d.get('configmap')} in {namespace} (or fix the reference / mark it optional)."
        )
    if cause.type == "missing-config-key":
        return (
            f"Add key {d.get('key')} to ConfigMap {d.get('configmap')} (or fix the key / mark it optional)."
        )
    if cause.type == "missing-secret":
        return f"Create Secret {d.get('secret')} in {namespace} (or fix the reference / mark it optional)."
    return f"Add key {d.get('key')} to Secret {d.get('secret')} (or fix the key name)."


def _config_cause(pod: _Pod, spec: dict[str, Any], msg: str, evidence: list[str]) -> tuple[Cause | None, str]:
    m = _CM_KEY.search(msg)
    if m:
        key, cm = m.group(1), m.group(3)
        detail: dict[str, Any] = {"configmap": cm, "key": key}
        env = _env_for(spec, "configMapKeyRef", cm, key)
        if env:
            detail["env"] = env
            evidence.append(f"env {env} ← configMapKeyRef {cm}/{key}")
        _key_hint(pod, cm, key, evidence)
        return Cause("missing-config-key", detail), f"ConfigMap {cm} has no key {key}"
    m = _SECRET_KEY.search(msg)
    if m:
        key, secret = m.group(1), m.group(3)
        return Cause(
            "missing-secret-key", {"secret": secret, "key": key}
        ), f"Secret {secret} has no key {key}"
    m = _CM_MISSING.search(msg)
    if m:
        cm = m.group(1)
        _name_hint(pod, cm, evidence)
        return Cause("missing-configmap", {"configmap": cm}), f"ConfigMap {cm} does not exist"
    m = _SECRET_MISSING.search(msg)
    if m:
        secret = m.group(1)
        return Cause("missing-secret", {"secret": secret}), f"Secret {secret} does not exist"
    # No message (or an unknown one): check the references against the ConfigMaps we have.
    if pod.index.has_configmaps:
        for env in spec.get("env") or ():
            ref = dig(env, "valueFrom", "configMapKeyRef")
            if not isinstance(ref, dict) or ref.get("optional"):
                continue
            cm_name, key = str(ref.get("name", "")), str(ref.get("key", ""))
            cm_obj = pod.index.configmap(pod.namespace, cm_name)
            if cm_obj is None:
                _name_hint(pod, cm_name, evidence)
                return Cause(
                    "missing-configmap", {"configmap": cm_name}
                ), f"ConfigMap {cm_name} does not exist"
            if key not in (cm_obj.get("data") or {}) and key not in (cm_obj.get("binaryData") or {}):
                evidence.append(f"env {env.get('name')} ← configMapKeyRef {cm_name}/{key}")
                _key_hint(pod, cm_name, key, evidence)
                return (
                    Cause("missing-config-key", {"configmap": cm_name, "key": key, "env": env.get("name")}),
                    f"ConfigMap {cm_name} has no key {key}",
                )
        for src in spec.get("envFrom") or ():
            ref = src.get("configMapRef") if isinstance(src, dict) else None
            if isinstance(ref, dict) and not ref.get("optional"):
                cm_name = str(ref.get("name", ""))
                if pod.index.configmap(pod.namespace, cm_name) is None:
                    _name_hint(pod, cm_name, evidence)
                    return (
                        Cause("missing-configmap", {"configmap": cm_name}),
                        f"ConfigMap {cm_name} does not exist",
                    )
    if msg:
        return None, clip(msg, 160)
    return None, "a referenced ConfigMap, Secret or securityContext setting is invalid"


def _env_for(spec: dict[str, Any], ref_kind: str, name: str, key: str) -> str | None:
    for env in spec.get("env") or ():
        ref = dig(env, "valueFrom", ref_kind)
        if isinstance(ref, dict) and ref.get("name") == name and ref.get("key") == key:
            return str(env.get("name"))
    return None


def _name_hint(pod: _Pod, cm: str, evidence: list[str]) -> None:
    if not pod.index.has_configmaps:
        return
    evidence.append(f"ConfigMap {pod.namespace}/{cm} is not in the snapshot")
    near = pod.index.near(pod.namespace, cm)
    if near:
        evidence.append(f"a ConfigMap named {near} exists in {pod.namespace} (misspelt reference?)")


def _key_hint(pod: _Pod, cm: str, key: str, evidence: list[str]) -> None:
    obj = pod.index.configmap(pod.namespace, cm)
    if obj is None:
        return
    keys = sorted((obj.get("data") or {}).keys())
    evidence.append(f"ConfigMap {cm} keys: {', '.join(keys) if keys else '(none)'}")
    near = difflib.get_close_matches(key, keys, n=1, cutoff=0.75)
    if near:
        evidence.append(f"key {near[0]} exists (misspelt key?)")


def _run_error(
    pod: _Pod,
    cs: dict[str, Any],
    *,
    waiting: dict[str, Any] | None,
    term: dict[str, Any] | None,
    init: bool,
    log_cause: logsigs.LogCause | None,
) -> Finding:
    name = str(cs.get("name", ""))
    spec = pod.spec_of(name, init)
    evs = [
        e for e in pod.container_events(name, ("Failed",)) if str(e.get("message") or "").startswith("Error:")
    ]
    texts = [
        str(x)
        for x in (
            (waiting or {}).get("message"),
            (term or {}).get("message"),
            *(e.get("message") for e in sorted(evs, key=_sort_key_time, reverse=True)[:1]),
        )
        if x
    ]
    found = None
    for t in texts:
        found = pod.index.explain(t)
        if found is not None and found.exec_failure:
            break
        found = None
    if found is None and log_cause is not None and log_cause.exec_failure:
        found = log_cause
    evidence: list[str] = []
    if waiting:
        evidence.append(_waiting_text(waiting))
    if term:
        where = "lastState.terminated" if term is dig(cs, "lastState", "terminated") else "state.terminated"
        evidence.append(_term_text(term, where))
    evidence.append(f"restartCount={_restarts(cs)}")
    evidence.extend(_merged_event_lines(evs, 2))
    if found is not None and found is log_cause:
        evidence.append(found.evidence())
    cmd = [*(spec.get("command") or []), *(spec.get("args") or [])]
    if cmd:
        evidence.append("command: " + clip(" ".join(str(c) for c in cmd), 160))
    why = found.text if found else "the runtime cannot start its process"
    if found is None and texts:
        why += f" ({clip(texts[0], 160)})"
    fix = {
        "exec-not-found": "Fix command/args (the executable is not in the image or not on PATH).",
        "exec-format": "Build the image for the node's architecture (multi-arch build) or pin "
        "nodeSelector kubernetes.io/arch.",
        "permission-denied": "Make the entrypoint executable (chmod +x, proper shebang) or fix the command.",
    }.get(found.cause.type if found else "", "Fix the container's command, entrypoint or image.")
    which = "init container" if init else "container"
    return pod.finding(
        "RunContainerError",
        Severity.CRITICAL,
        f"The runtime cannot start {which} {name} of pod {pod.name}: {why}.",
        evidence=evidence,
        remediation=fix,
        container=name,
        started_at=earliest(
            *_times(evs),
            (term or {}).get("finishedAt"),
            *([] if evs or term else [dig(pod.obj, "status", "startTime")]),
        ),
        cause=found.cause if found else None,
    )


# ---- init containers ---------------------------------------------------------------------------------
def _init_container(pod: _Pod, cs: dict[str, Any]) -> Finding | None:
    name = str(cs.get("name", ""))
    state = cs.get("state") or {}
    waiting = state.get("waiting") if isinstance(state.get("waiting"), dict) else None
    term_now = state.get("terminated") if isinstance(state.get("terminated"), dict) else None
    last = dig(cs, "lastState", "terminated")
    last = last if isinstance(last, dict) else None
    wreason = str(waiting.get("reason") or "") if waiting else ""
    if wreason in IMAGE_REASONS:
        return _image(pod, cs, waiting or {}, init=True)
    if wreason == "CreateContainerConfigError":
        return _config_error(pod, cs, waiting or {}, init=True)
    if wreason in RUN_REASONS:
        return _run_error(pod, cs, waiting=waiting, term=last, init=True, log_cause=None)
    term: dict[str, Any] | None = None
    if wreason == "CrashLoopBackOff":
        term = last or {}
    elif term_now is not None and term_now.get("exitCode") not in (0, None):
        term = term_now
    elif state.get("running") is not None and last is not None and last.get("exitCode") not in (0, None):
        age = _age(pod.snapshot, last.get("finishedAt"))
        if age is not None and age <= RECENT_RESTART_S:
            term = last  # re-running after a failure: the pod is still not initialized
    if term is None:
        return None
    log_cause = _log_cause(pod, name, term)
    if term.get("reason") in START_FAILURES or (log_cause is not None and log_cause.exec_failure):
        return _run_error(pod, cs, waiting=waiting, term=term, init=True, log_cause=log_cause)
    spec = pod.spec_of(name, True)
    restarts = _restarts(cs)
    where = "lastState.terminated" if term is last else "state.terminated"
    evidence = [_waiting_text(waiting)] if waiting else []
    evidence += [_term_text(term, where), f"restartCount={restarts}"]
    init_cond = condition(pod.obj, "Initialized")
    if init_cond and init_cond.get("status") != "True":
        evidence.append(
            f"condition Initialized={init_cond.get('status')} reason={init_cond.get('reason')}"
            + (f" message={init_cond['message']!r}" if init_cond.get("message") else "")
        )
    backoff = pod.container_events(name, ("BackOff",))
    evidence.extend(_merged_event_lines(backoff, 1))
    cause: Cause | None
    if term.get("reason") == "OOMKilled":
        limit, request = _limits(spec)
        cause = Cause("oom-limit", {"limit": limit, "request": request}) if limit else Cause("oom-node", {})
        why = f"it was OOM-killed{f' at its {limit} limit' if limit else ''}"
    else:
        cause = _refine_cause(pod, spec, log_cause)
        why = (
            _cause_text(cause, log_cause)
            if log_cause is not None
            else f"it exits with code {term.get('exitCode')}"
        )
    if log_cause is not None:
        evidence.append(log_cause.evidence())
    cmd = [*(spec.get("command") or []), *(spec.get("args") or [])]
    if cmd:
        evidence.append("command: " + clip(" ".join(str(c) for c in cmd), 160))
    return pod.finding(
        "InitContainerFailure",
        Severity.CRITICAL,
        f"Init container {name} of pod {pod.name} fails, so the pod never starts: {why}.",
        evidence=evidence,
        remediation=(
            f"Read `kubectl logs {pod.name} -c {name} --previous` and fix what the init step needs "
            "(its dependency, credentials, command); the app containers wait for it."
            if cause is None or cause.type not in ("oom-limit", "oom-node")
            else "Raise the init container's memory limit or reduce what it loads."
        ),
        container=name,
        started_at=earliest(term.get("finishedAt"), *_times(backoff)),
        cause=cause,
    )


# ---- pod-level: FailedMount, Evicted --------------------------------------------------------------------
def _waiting_for_volumes(status: dict[str, Any]) -> bool:
    if status.get("phase") != "Pending":
        return False
    statuses = [
        *(status.get("initContainerStatuses") or ()),
        *(status.get("containerStatuses") or ()),
    ]
    if not statuses:
        return True
    return any(
        dig(cs, "state", "waiting", "reason") in ("ContainerCreating", "PodInitializing")
        for cs in statuses
        if isinstance(cs, dict)
    ) and not any(dig(cs, "state", "running") is not None for cs in statuses if isinstance(cs, dict))


def _failed_mount(pod: _Pod, status: dict[str, Any]) -> Finding | None:
    if status.get("phase") != "Pending" or not dig(pod.obj, "spec", "nodeName"):
        return None
    if not _waiting_for_volumes(status):
        return None
    evs = [e for e in pod.events if e.get("reason") in ("FailedMount", "FailedAttachVolume")]
    missing_cm = _missing_volume_configmap(pod)
    created_age = _age(pod.snapshot, meta(pod.obj).get("creationTimestamp"))
    if not evs and (missing_cm is None or created_age is None or created_age < MOUNT_GRACE_S):
        return None
    specific = [
        e
        for e in evs
        if not str(e.get("message") or "").startswith(
            ("Unable to attach or mount", "Unable to mount volumes")
        )
    ]
    newest = _newest(specific) or _newest(evs)
    msg = str((newest or {}).get("message") or "")
    vol_m = _VOLUME.search(msg)
    volume = vol_m.group(1) if vol_m else None
    evidence = [f"status.phase={status.get('phase')} (containers waiting in ContainerCreating)"]
    evidence.extend(_merged_event_lines(specific or evs, 3))
    cause: Cause | None = None
    why = "a volume cannot be mounted"
    m_cm = _CM_MISSING.search(msg)
    m_sec = _SECRET_MISSING.search(msg)
    if m_cm:
        cause = Cause("missing-configmap", {"configmap": m_cm.group(1), "volume": volume})
        why = f"ConfigMap {m_cm.group(1)} of volume {volume} does not exist"
        _name_hint(pod, m_cm.group(1), evidence)
    elif m_sec:
        cause = Cause("missing-secret", {"secret": m_sec.group(1), "volume": volume})
        why = f"Secret {m_sec.group(1)} of volume {volume} does not exist"
    elif "Multi-Attach" in msg:
        cause = Cause("volume-multi-attach", {"volume": volume})
        why = f"volume {volume} is still attached to another node"
    elif not evs and missing_cm is not None:
        vol_name, cm = missing_cm
        cause = Cause("missing-configmap", {"configmap": cm, "volume": vol_name})
        why = f"ConfigMap {cm} of volume {vol_name} does not exist"
        evidence.append(f"volume {vol_name} → configMap {cm} (no events left)")
        _name_hint(pod, cm, evidence)
    elif msg:
        why = clip(msg, 160)
    fix = {
        "missing-configmap": "Create the ConfigMap (or fix the volume's reference / mark it optional).",
        "missing-secret": "Create the Secret (or fix the volume's secretName / mark it optional).",
        "volume-multi-attach": "Wait for the old node to detach (about 6 min), delete the stale "
        "VolumeAttachment, or use a ReadWriteMany volume.",
    }.get(
        cause.type if cause else "",
        "Fix the volume source (NFS server, CSI driver, PVC) named in the events.",
    )
    return pod.finding(
        "FailedMount",
        Severity.CRITICAL,
        f"Pod {pod.name} cannot start because {why}.",
        evidence=evidence,
        remediation=fix,
        container=None,
        started_at=earliest(*_times(evs), dig(pod.obj, "status", "startTime"))
        if evs
        else earliest(dig(pod.obj, "status", "startTime"), meta(pod.obj).get("creationTimestamp")),
        cause=cause,
    )


def _missing_volume_configmap(pod: _Pod) -> tuple[str, str] | None:
    if not pod.index.has_configmaps:
        return None
    for vol in dig(pod.obj, "spec", "volumes", default=()) or ():
        ref = vol.get("configMap") if isinstance(vol, dict) else None
        if isinstance(ref, dict) and not ref.get("optional"):
            cm = str(ref.get("name", ""))
            if cm and pod.index.configmap(pod.namespace, cm) is None:
                return str(vol.get("name", "")), cm
    return None


def _evicted(pod: _Pod, status: dict[str, Any]) -> Finding:
    msg = str(status.get("message") or "")
    node = dig(pod.obj, "spec", "nodeName")
    evidence = [
        f"status.phase={status.get('phase')} status.reason=Evicted",
        f"status.message={clip(msg, 240)!r}",
    ]
    dt = condition(pod.obj, "DisruptionTarget")
    if dt and dt.get("status") == "True":
        evidence.append(
            f"condition DisruptionTarget=True reason={dt.get('reason')} at {dt.get('lastTransitionTime')}"
        )
    evs = [e for e in pod.events if e.get("reason") == "Evicted"]
    evidence.extend(_merged_event_lines(evs, 1))
    detail: dict[str, Any] = {"node": node}
    res = _EVICT_RES.search(msg)
    cond = _EVICT_COND.search(msg)
    culprit = None
    if res:
        detail["resource"] = res.group(1).rstrip(".")
    elif cond:
        detail["condition"] = cond.group(1)
    use = _EVICT_USE.search(msg)
    if use:
        culprit = use.group(1)
        detail["container"] = culprit
        detail["usage"] = use.group(2)
        detail["request"] = use.group(3) or use.group(4)
    resource = detail.get("resource") or detail.get("condition") or "a resource"
    if node and pod.snapshot.get("Node", "", str(node)) is not None:
        evidence.append(f"node {node} is in the snapshot (see its pressure conditions)")
    finished = [
        dig(cs, "state", "terminated", "finishedAt")
        for cs in status.get("containerStatuses") or ()
        if isinstance(cs, dict)
    ]
    usage = (
        f"; container {culprit} used {detail['usage']} against a request of {detail['request']}"
        if culprit
        else ""
    )
    return pod.finding(
        "Evicted",
        Severity.WARNING,
        f"Pod {pod.name} was evicted from node {node} because the node ran low on {resource}{usage}.",
        evidence=evidence,
        remediation=(
            f"Set {detail.get('resource', 'memory/ephemeral-storage')} requests and limits that cover the "
            "real usage, find what fills the node (logs, emptyDir, image cache), and delete the leftover "
            "evicted pods."
        ),
        container=culprit,
        started_at=earliest((dt or {}).get("lastTransitionTime") if dt else None, *_times(evs), *finished),
        cause=Cause("node-pressure", detail),
    )
