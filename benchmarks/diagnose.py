"""Benchmark of `aiops diagnose` on a 5,000-pod / 20,000-event cluster (~10 % failing).

Generates the cluster at run time into a temporary directory as a kubectl List JSON file, then
prints, from the same run (median of --runs):
- the floor: a fresh python process doing stdlib `json.load` of the same file;
- `aiops diagnose --snapshot FILE -o json` (a subprocess, like a user runs it);
- `aiops diagnose --kubeconfig ... -A -o json` against the fake API server (tests/fakeapi.py) over
  real HTTP, including the previous-log fetches for the crashing containers, and the same with
  the in-process reader (AIOPS_LIVE_READER=threads) as its baseline;
with wall time, CPU time (user + system of the child) and peak memory (max RSS of the child, from
GNU time, else wait4). The fake API server runs in this process, the CLI in a child, so they use
separate cores. Wall times on a shared machine scale with its load (printed); CPU times much less.
Targets (issue 2): file ≤ 1.5× the floor, live ≤ 1.5 s.
Usage: python benchmarks/diagnose.py [--pods 5000] [--events 20000] [--runs 3]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

AT = "2026-11-25T10:42:17Z"


def _uid(text: str) -> str:
    h = hashlib.sha1(text.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _probe(path: str) -> dict[str, Any]:
    return {
        "failureThreshold": 3,
        "httpGet": {"path": path, "port": "http", "scheme": "HTTP"},
        "initialDelaySeconds": 5,
        "periodSeconds": 10,
        "successThreshold": 1,
        "timeoutSeconds": 1,
    }


def generate(pods: int, events: int, seed_logs: bool = True) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """A cluster of Deployments with 5 replicas each over 50 namespaces and 40 nodes; ~10 % of pods fail:
    OOMKilled / app crash loops (with previous logs), config errors, image pulls, unschedulable."""
    items: list[dict[str, Any]] = []
    logs: dict[str, str] = {}
    replicas = 5
    n_deploy = max(1, pods // replicas)
    n_ns = 50
    n_nodes = 40
    for i in range(n_nodes):
        items.append(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": f"node-{i:02d}",
                    "uid": _uid(f"node{i}"),
                    "creationTimestamp": "2026-11-01T00:00:00Z",
                    "labels": {"kubernetes.io/hostname": f"node-{i:02d}", "kubernetes.io/os": "linux"},
                },
                "spec": {"podCIDR": f"10.244.{i}.0/24"},
                "status": {
                    "allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"},
                    "capacity": {"cpu": "8", "memory": "32Gi", "pods": "110"},
                    "conditions": [
                        {
                            "lastHeartbeatTime": "2026-11-25T10:41:50Z",
                            "lastTransitionTime": "2026-11-01T00:00:10Z",
                            "message": "kubelet is posting ready status",
                            "reason": "KubeletReady",
                            "status": "True",
                            "type": "Ready",
                        }
                    ],
                },
            }
        )
    for i in range(n_ns):
        items.append(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {
                    "name": f"team-{i:02d}",
                    "uid": _uid(f"ns{i}"),
                    "creationTimestamp": "2026-11-01T00:00:00Z",
                },
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            }
        )
    ev_budget = events
    pod_no = 0
    for d in range(n_deploy):
        ns = f"team-{d % n_ns:02d}"
        name = f"svc-{d:04d}"
        labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": name}
        container = {
            "name": "app",
            "image": f"registry.example.com/{name}:1.{d % 7}.0",
            "imagePullPolicy": "IfNotPresent",
            "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
            "env": [
                {
                    "name": "CONFIG_KEY",
                    "valueFrom": {"configMapKeyRef": {"name": f"{name}-config", "key": "KEY"}},
                }
            ],
            "livenessProbe": _probe("/healthz"),
            "readinessProbe": _probe("/readyz"),
            "resources": {"limits": {"memory": "256Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}},
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
        }
        rs_hash = hashlib.sha1(name.encode()).hexdigest()[:9]
        rs_name = f"{name}-{rs_hash}"
        dep_uid, rs_uid = _uid("d" + name), _uid("rs" + name)
        template = {
            "metadata": {"labels": labels},
            "spec": {"containers": [container], "restartPolicy": "Always"},
        }
        items.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {
                    "name": name,
                    "namespace": ns,
                    "uid": dep_uid,
                    "generation": 1,
                    "labels": labels,
                    "annotations": {
                        "deployment.kubernetes.io/revision": "1",
                        "meta.helm.sh/release-name": name,
                    },
                    "creationTimestamp": "2026-11-20T00:00:00Z",
                },
                "spec": {
                    "replicas": replicas,
                    "progressDeadlineSeconds": 600,
                    "selector": {"matchLabels": labels},
                    "template": template,
                },
                "status": {
                    "observedGeneration": 1,
                    "replicas": replicas,
                    "updatedReplicas": replicas,
                    "readyReplicas": replicas,
                    "availableReplicas": replicas,
                    "conditions": [
                        {
                            "type": "Available",
                            "status": "True",
                            "reason": "MinimumReplicasAvailable",
                            "message": "Deployment has minimum availability.",
                            "lastTransitionTime": "2026-11-20T00:01:00Z",
                            "lastUpdateTime": "2026-11-20T00:01:00Z",
                        },
                        {
                            "type": "Progressing",
                            "status": "True",
                            "reason": "NewReplicaSetAvailable",
                            "message": f'ReplicaSet "{rs_name}" has successfully progressed.',
                            "lastTransitionTime": "2026-11-20T00:00:00Z",
                            "lastUpdateTime": "2026-11-20T00:01:00Z",
                        },
                    ],
                },
            }
        )
        items.append(
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {
                    "name": rs_name,
                    "namespace": ns,
                    "uid": rs_uid,
                    "labels": {**labels, "pod-template-hash": rs_hash},
                    "ownerReferences": [
                        {
                            "apiVersion": "apps/v1",
                            "kind": "Deployment",
                            "name": name,
                            "uid": dep_uid,
                            "controller": True,
                        }
                    ],
                    "creationTimestamp": "2026-11-20T00:00:00Z",
                },
                "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, "template": template},
                "status": {"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas},
            }
        )
        items.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name, "namespace": ns, "uid": _uid("svc" + name), "labels": labels},
                "spec": {
                    "type": "ClusterIP",
                    "clusterIP": f"10.96.{d // 250}.{d % 250}",
                    "selector": labels,
                    "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
                },
                "status": {"loadBalancer": {}},
            }
        )
        items.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"{name}-config", "namespace": ns, "uid": _uid("cm" + name)},
                "data": {"KEY": "value", "LOG_LEVEL": "info"},
            }
        )
        addresses = []
        for r in range(replicas):
            pod_name = f"{rs_name}-{hashlib.sha1(f'{name}{r}'.encode()).hexdigest()[:5]}"
            pod_uid = _uid("p" + pod_name)
            ip = f"10.{(pod_no // 65000) + 1}.{(pod_no // 250) % 256}.{pod_no % 250 + 1}"
            node = f"node-{pod_no % n_nodes:02d}"
            backoff_msg = "back-off 5m0s restarting failed container=app pod="
            kind_of_failure = pod_no % 10 == 3  # ~10 % failing
            flavour = (pod_no // 10) % 10
            state: dict[str, Any] = {"running": {"startedAt": "2026-11-20T00:00:30Z"}}
            last: dict[str, Any] = {}
            restarts = 0
            ready = True
            phase = "Running"
            pod_events: list[tuple[str, str, str, int]] = [
                ("Normal", "Scheduled", f"Successfully assigned {ns}/{pod_name} to {node}", 1),
                ("Normal", "Pulled", f'Container image "{container["image"]}" already present on machine', 1),
                ("Normal", "Created", "Created container: app", 1),
                ("Normal", "Started", "Started container app", 1),
            ]
            conditions_extra: dict[str, Any] = {}
            if kind_of_failure:
                ready = False
                if flavour < 4:  # OOMKilled crash loop
                    restarts = 9
                    state = {
                        "waiting": {
                            "reason": "CrashLoopBackOff",
                            "message": f"{backoff_msg}{pod_name}_{ns}({pod_uid})",
                        }
                    }
                    last = {
                        "terminated": {
                            "reason": "OOMKilled",
                            "exitCode": 137,
                            "startedAt": "2026-11-25T10:35:00Z",
                            "finishedAt": "2026-11-25T10:37:12Z",
                        }
                    }
                    pod_events[3] = (
                        "Warning",
                        "BackOff",
                        f"Back-off restarting failed container app in pod {pod_name}_{ns}({pod_uid})",
                        40,
                    )
                    logs[f"{ns}/{pod_name}/app"] = (
                        "".join(f"INFO request {k} handled\n" for k in range(78)) + "INFO loading cache\n"
                    )
                elif flavour < 7:  # application crash loop
                    restarts = 12
                    state = {
                        "waiting": {
                            "reason": "CrashLoopBackOff",
                            "message": f"{backoff_msg}{pod_name}_{ns}({pod_uid})",
                        }
                    }
                    last = {
                        "terminated": {
                            "reason": "Error",
                            "exitCode": 1,
                            "startedAt": "2026-11-25T10:38:00Z",
                            "finishedAt": "2026-11-25T10:38:02Z",
                        }
                    }
                    pod_events[3] = (
                        "Warning",
                        "BackOff",
                        f"Back-off restarting failed container app in pod {pod_name}_{ns}({pod_uid})",
                        55,
                    )
                    logs[f"{ns}/{pod_name}/app"] = (
                        "INFO starting\nERROR dial tcp 10.96.0.42:5432: connect: connection refused\n"
                        "FATAL could not connect to database postgres.data.svc.cluster.local:5432\n"
                    )
                elif flavour < 8:  # missing config key
                    phase = "Pending"
                    state = {
                        "waiting": {
                            "reason": "CreateContainerConfigError",
                            "message": f"couldn't find key MISSING in ConfigMap {ns}/{name}-config",
                        }
                    }
                    pod_events[2] = (
                        "Warning",
                        "Failed",
                        f"Error: couldn't find key MISSING in ConfigMap {ns}/{name}-config",
                        60,
                    )
                elif flavour < 9:  # image pull
                    phase = "Pending"
                    state = {
                        "waiting": {
                            "reason": "ImagePullBackOff",
                            "message": f'Back-off pulling image "{container["image"]}-typo"',
                        }
                    }
                    pod_events[1] = (
                        "Warning",
                        "Failed",
                        f'Failed to pull image "{container["image"]}-typo": rpc error: code = NotFound '
                        "desc = failed to pull and unpack image: not found",
                        20,
                    )
                    pod_events[2] = (
                        "Normal",
                        "BackOff",
                        f'Back-off pulling image "{container["image"]}-typo"',
                        80,
                    )
                else:  # unschedulable
                    phase = "Pending"
                    state = {}
                    msg = (
                        "0/40 nodes are available: 40 Insufficient memory. preemption: 0/40 nodes are "
                        "available: 40 No preemption victims found for incoming pod."
                    )
                    conditions_extra = {
                        "type": "PodScheduled",
                        "status": "False",
                        "reason": "Unschedulable",
                        "message": msg,
                        "lastProbeTime": None,
                        "lastTransitionTime": "2026-11-25T10:00:00Z",
                    }
                    pod_events = [("Warning", "FailedScheduling", msg, 30)] * 4
            conditions = [
                {
                    "type": "Initialized",
                    "status": "True",
                    "lastProbeTime": None,
                    "lastTransitionTime": "2026-11-20T00:00:20Z",
                },
                {
                    "type": "Ready",
                    "status": "True" if ready else "False",
                    "lastProbeTime": None,
                    "lastTransitionTime": "2026-11-25T10:00:00Z",
                },
                {
                    "type": "ContainersReady",
                    "status": "True" if ready else "False",
                    "lastProbeTime": None,
                    "lastTransitionTime": "2026-11-25T10:00:00Z",
                },
                conditions_extra
                or {
                    "type": "PodScheduled",
                    "status": "True",
                    "lastProbeTime": None,
                    "lastTransitionTime": "2026-11-20T00:00:20Z",
                },
            ]
            status: dict[str, Any] = {"phase": phase, "conditions": conditions, "qosClass": "Burstable"}
            if state:
                status.update(
                    hostIP=f"192.168.1.{pod_no % n_nodes + 10}",
                    podIP=ip,
                    podIPs=[{"ip": ip}],
                    startTime="2026-11-20T00:00:20Z",
                    containerStatuses=[
                        {
                            "name": "app",
                            "image": container["image"],
                            "imageID": "",
                            "ready": ready,
                            "started": ready,
                            "restartCount": restarts,
                            "state": state,
                            "lastState": last,
                        }
                    ],
                )
            items.append(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": pod_name,
                        "generateName": f"{rs_name}-",
                        "namespace": ns,
                        "uid": pod_uid,
                        "labels": {**labels, "pod-template-hash": rs_hash},
                        "ownerReferences": [
                            {
                                "apiVersion": "apps/v1",
                                "kind": "ReplicaSet",
                                "name": rs_name,
                                "uid": rs_uid,
                                "controller": True,
                                "blockOwnerDeletion": True,
                            }
                        ],
                        "creationTimestamp": "2026-11-20T00:00:20Z",
                    },
                    "spec": {
                        "containers": [container],
                        "nodeName": node if state else None,
                        "restartPolicy": "Always",
                        "serviceAccountName": "default",
                        "terminationGracePeriodSeconds": 30,
                    },
                    "status": status,
                }
            )
            if ready:
                addresses.append(
                    {
                        "ip": ip,
                        "nodeName": node,
                        "targetRef": {"kind": "Pod", "name": pod_name, "namespace": ns, "uid": pod_uid},
                    }
                )
            for k, (etype, reason, message, count) in enumerate(pod_events):
                if ev_budget <= 0:
                    break
                ev_budget -= 1
                items.append(
                    {
                        "apiVersion": "v1",
                        "kind": "Event",
                        "metadata": {
                            "name": f"{pod_name}.{k:016x}",
                            "namespace": ns,
                            "uid": _uid(f"e{pod_name}{k}"),
                        },
                        "involvedObject": {
                            "apiVersion": "v1",
                            "kind": "Pod",
                            "name": pod_name,
                            "namespace": ns,
                            "uid": pod_uid,
                            "fieldPath": "spec.containers{app}",
                        },
                        "reason": reason,
                        "message": message,
                        "type": etype,
                        "count": count,
                        "firstTimestamp": "2026-11-25T09:30:00Z" if count > 1 else "2026-11-20T00:00:25Z",
                        "lastTimestamp": f"2026-11-25T10:{30 + (pod_no % 12):02d}:00Z"
                        if count > 1
                        else "2026-11-20T00:00:25Z",
                        "eventTime": None,
                        "source": {"component": "kubelet", "host": node},
                        "reportingComponent": "kubelet",
                        "reportingInstance": node,
                    }
                )
            pod_no += 1
        items.append(
            {
                "apiVersion": "v1",
                "kind": "Endpoints",
                "metadata": {"name": name, "namespace": ns, "uid": _uid("ep" + name)},
                "subsets": [
                    {"addresses": addresses, "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}
                ]
                if addresses
                else [],
            }
        )
    return items, logs


GNU_TIME = "/usr/bin/time"


def run_child(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, max RSS MiB) of one child process (and its own children: the
    live reader process).

    Peak memory comes from GNU time when present: a forked child's own `ru_maxrss` would start at
    this (large) process's RSS before exec.
    """
    use_time = os.path.exists(GNU_TIME)
    cmd = [GNU_TIME, "-f", "@@ %e %U %S %M", *argv] if use_time else argv
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if code not in (0, 1):
        raise SystemExit(f"{' '.join(argv[:4])}… failed ({code}): {err.strip()[-500:]}")
    if use_time:
        line = next(ln for ln in reversed(err.splitlines()) if ln.startswith("@@ "))
        _, _, user, system, rss_kb = line.split()
        return wall, float(user) + float(system), int(rss_kb) / 1024
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


SPREAD: dict[str, tuple[float, float]] = {}


def measure(
    argv: list[str], runs: int, label: str = "", env: dict[str, str] | None = None
) -> tuple[float, float, float]:
    """Median wall, median CPU, max peak RSS over `runs` runs (the wall range goes to SPREAD)."""
    walls, cpus, rss = [], [], []
    for _ in range(runs):
        w, c, m = run_child(argv, env)
        walls.append(w)
        cpus.append(c)
        rss.append(m)
    if label:
        SPREAD[label] = (min(walls), max(walls))
    return statistics.median(walls), statistics.median(cpus), max(rss)


def ensure_bytecode() -> None:
    """Compile aiops' bytecode as installing the wheel does (pip compiles at install). An editable
    install run with PYTHONDONTWRITEBYTECODE=1, as on this machine, never writes it, and every run
    would then spend ~0.1 s compiling aiops from source: the compiler's time, not the tool's."""
    import compileall

    if not compileall.compile_dir(str(ROOT / "aiops"), quiet=1):
        raise SystemExit("benchmarks/diagnose.py: compiling aiops failed")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pods", type=int, default=5000)
    ap.add_argument("--events", type=int, default=20000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    from fakeapi import FakeApiServer

    items, logs = generate(args.pods, args.events)
    n_pods = sum(1 for o in items if o["kind"] == "Pod")
    n_events = sum(1 for o in items if o["kind"] == "Event")
    failing = sum(
        1
        for o in items
        if o["kind"] == "Pod"
        and any(c["type"] == "Ready" and c["status"] == "False" for c in o["status"]["conditions"])
    )
    with tempfile.TemporaryDirectory(prefix="aiops-bench-") as tmp:
        snap = Path(tmp) / "cluster.json"
        snap.write_text(
            json.dumps(
                {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items},
                indent=4,
            )
        )
        size_mb = snap.stat().st_size / 2**20
        print(
            f"cluster: {n_pods} pods ({failing} failing, {len(logs)} crash-looping with previous logs), "
            f"{n_events} events, {len(items)} objects, {size_mb:.1f} MiB JSON"
        )

        py = sys.executable
        floor_argv = [py, "-c", f"import json\nwith open({str(snap)!r}) as f: json.load(f)"]
        diag_argv = [py, "-m", "aiops", "diagnose", "--snapshot", str(snap), "-o", "json"]
        ensure_bytecode()
        run_child(diag_argv)  # warm the page cache once
        load = os.getloadavg()
        floor_t, floor_c, floor_m = measure(floor_argv, args.runs)
        file_t, file_c, file_m = measure(diag_argv, args.runs)
        out = subprocess.run(diag_argv, capture_output=True, text=True, check=False).stdout
        findings = len(json.loads(out)["findings"])

        fake = FakeApiServer(now=AT)
        fake.load(items)
        for key, text in logs.items():
            ns, pod, container = key.split("/")
            fake.set_log(ns, pod, container, text, previous=True)
        fake.start()
        try:
            kc = fake.write_kubeconfig(Path(tmp) / "kubeconfig")
            live_argv = [py, "-m", "aiops", "diagnose", "--kubeconfig", str(kc), "-A", "-o", "json"]
            run_child(live_argv)
            before = len(fake.requests)
            cpu0 = time.process_time()
            live_t, live_c, live_m = measure(live_argv, args.runs, "live")
            server_cpu = (time.process_time() - cpu0) / args.runs
            per_run = (len(fake.requests) - before) / args.runs
            log_calls = sum(1 for r in fake.requests[before:] if r.path.endswith("/log")) / args.runs
            # the baseline: the same read with the in-process reader (as on macOS, or under threads)
            threads_env = {**os.environ, "AIOPS_LIVE_READER": "threads"}
            base_t, base_c, base_m = measure(live_argv, args.runs, "threads", threads_env)
        finally:
            fake.stop()

    print(
        f"load average at start: {load[0]:.2f} on {os.cpu_count()} CPUs "
        "(wall times scale with it; CPU times less)"
    )
    print("aiops bytecode compiled first, as a wheel install has it")
    print(f"{'':34}{'wall':>8}{'CPU':>8}{'peak RSS':>10}")
    print(f"{'floor (python + json.load)':34}{floor_t:7.2f}s{floor_c:7.2f}s{floor_m:7.0f}MiB")
    print(
        f"{'aiops diagnose --snapshot':34}{file_t:7.2f}s{file_c:7.2f}s{file_m:7.0f}MiB"
        f"   {file_t / floor_t:.2f}x floor wall, {file_c / floor_c:.2f}x floor CPU (target <= 1.5x);"
        f" {findings} findings"
    )
    print(
        f"{'aiops diagnose (live, fake API)':34}{live_t:7.2f}s{live_c:7.2f}s{live_m:7.0f}MiB"
        f"   target <= 1.5 s; {per_run:.0f} requests/run incl. {log_calls:.0f} previous-log fetches;"
        f" fake server CPU {server_cpu:.2f}s/run"
    )
    low, high = SPREAD["live"]
    print(f"{'':34}live wall over {args.runs} runs: {low:.2f}-{high:.2f} s (this machine's own spread)")
    print(
        f"{'  same, in-process reader':34}{base_t:7.2f}s{base_c:7.2f}s{base_m:7.0f}MiB"
        f"   baseline: AIOPS_LIVE_READER=threads; the reader process saves {base_t - live_t:+.2f} s"
    )


if __name__ == "__main__":
    main()
