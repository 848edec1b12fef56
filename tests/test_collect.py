"""`aiops collect`: the official client against the fake API server's metrics.k8s.io over real HTTP."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

import pytest
from fakeapi import FakeApiServer

from aiops.errors import InputError, UnreachableError
from aiops.metrics import read_usage_dir
from aiops.metrics.collect import (
    MetricsApi,
    UsageStore,
    collect,
    max_points_for,
    parse_duration,
)

GV = "metrics.k8s.io/v1beta1"
T0 = "2026-11-25T10:00:00Z"
T0_UNIX = 1795600800.0


def pod_metrics(
    name: str, ns: str, at: str, containers: dict[str, tuple[str, str]], *, window: str = "15.0s"
) -> dict[str, Any]:
    """A PodMetrics object exactly as metrics-server returns it."""
    return {
        "kind": "PodMetrics",
        "apiVersion": GV,
        "metadata": {
            "name": name,
            "namespace": ns,
            "creationTimestamp": at,
            "labels": {"app": name.rsplit("-", 2)[0]},
        },
        "timestamp": at,
        "window": window,
        "containers": [
            {"name": c, "usage": {"cpu": cpu, "memory": mem}} for c, (cpu, mem) in containers.items()
        ],
    }


def iso(offset_s: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(T0_UNIX + offset_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def seed(fake: FakeApiServer, offset_s: int, cpu_n: int = 93542117) -> None:
    """Replace the served PodMetrics with a fresh set taken at T0 + offset."""
    at = iso(offset_s)
    fake.objects[(GV, "pods")] = []
    fake.load(
        [
            pod_metrics(
                "todo-backend-7c9f6d5b8-4kq2z",
                "todo",
                at,
                {"backend": (f"{cpu_n}n", "125829Ki"), "istio-proxy": ("3m", "40Mi")},
            ),
            pod_metrics("todo-frontend-5d8f7c6b9-abcde", "todo", at, {"frontend": ("12m", "64Mi")}),
            pod_metrics("coredns-5dd5756b68-7xk2p", "kube-system", at, {"coredns": ("2m", "20Mi")}),
        ]
    )


class Stepper:
    """A `sleep` that moves the fake cluster's clock instead of waiting."""

    def __init__(self, fake: FakeApiServer, step_s: int = 60) -> None:
        self.fake, self.step_s, self.offset, self.slept = fake, step_s, 0, []

    def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.offset += self.step_s
        seed(self.fake, self.offset, cpu_n=100_000_000 + self.offset * 1000)


def api(kubeconfig: str, **kwargs: Any) -> MetricsApi:
    kwargs.setdefault("backoff", 0)
    return MetricsApi(kubeconfig=kubeconfig, **kwargs)


def quiet(_line: str) -> None:
    pass


def test_one_sample_writes_cpu_and_memory_matrices(
    fake_api: FakeApiServer, kubeconfig: str, tmp_path: Path
) -> None:
    seed(fake_api, 0)
    lines: list[str] = []
    data = tmp_path / "usage"
    summary = collect(str(data), api=api(kubeconfig), namespaces=["todo"], count=1, echo=lines.append)
    assert (summary.samples, summary.failures, summary.series, summary.points) == (1, 0, 3, 3)
    assert [r.path for r in fake_api.requests] == ["/apis/metrics.k8s.io/v1beta1/namespaces/todo/pods"]
    doc = json.loads((data / "cpu.json").read_bytes())
    assert doc["status"] == "success" and doc["data"]["resultType"] == "matrix"
    backend = next(r for r in doc["data"]["result"] if r["metric"]["container"] == "backend")
    assert backend == {
        "metric": {"namespace": "todo", "pod": "todo-backend-7c9f6d5b8-4kq2z", "container": "backend"},
        "values": [[int(T0_UNIX), "0.093542117"]],
    }
    series = {(s.resource, s.container): s for s in read_usage_dir(str(data))}
    assert series[("memory", "backend")].values.tolist() == [125829 * 1024]
    assert series[("memory", "istio-proxy")].values.tolist() == [40 * 2**20]
    assert series[("cpu", "frontend")].values.tolist() == [0.012]
    assert ("cpu", "coredns") not in series  # kube-system was not asked for
    assert "starting a new history" in lines[0]
    assert "#1 2026-11-25T10:00:00Z: 3 containers in 2 pods, 3 new" in lines[1]


def test_all_namespaces_uses_the_cluster_wide_list(
    fake_api: FakeApiServer, kubeconfig: str, tmp_path: Path
) -> None:
    seed(fake_api, 0)
    summary = collect(str(tmp_path), api=api(kubeconfig), namespaces=[], count=1, echo=quiet)
    assert summary.series == 4
    assert [r.path for r in fake_api.requests] == ["/apis/metrics.k8s.io/v1beta1/pods"]


def test_samples_accumulate_and_repeated_timestamps_are_not_stored_twice(
    fake_api: FakeApiServer, kubeconfig: str, tmp_path: Path
) -> None:
    seed(fake_api, 0)
    stepper = Stepper(fake_api)
    collect(str(tmp_path), api=api(kubeconfig), namespaces=["todo"], count=3, echo=quiet, sleep=stepper)
    assert len(stepper.slept) == 2 and all(0 <= s <= 60 for s in stepper.slept)
    # metrics-server not refreshed yet: the same PodMetrics timestamp again adds nothing
    summary = collect(str(tmp_path), api=api(kubeconfig), namespaces=["todo"], count=1, echo=quiet)
    assert summary.points == 9  # 3 containers × 3 samples
    cpu = {s.container: s for s in read_usage_dir(str(tmp_path)) if s.resource == "cpu"}
    assert cpu["backend"].timestamps.tolist() == [T0_UNIX, T0_UNIX + 60, T0_UNIX + 120]
    assert cpu["backend"].values.tolist() == pytest.approx([0.093542117, 0.10006, 0.10012])


def test_a_restart_resumes_the_history(fake_api: FakeApiServer, kubeconfig: str, tmp_path: Path) -> None:
    seed(fake_api, 0)
    stepper = Stepper(fake_api)
    collect(str(tmp_path), api=api(kubeconfig), namespaces=["todo"], count=2, echo=quiet, sleep=stepper)
    stepper(0)  # time passes while the collector is down
    lines: list[str] = []
    summary = collect(str(tmp_path), api=api(kubeconfig), namespaces=["todo"], count=1, echo=lines.append)
    assert "resuming 3 series, 6 points" in lines[0]
    assert summary.points == 9
    mem = {s.container: s for s in read_usage_dir(str(tmp_path)) if s.resource == "memory"}
    assert mem["frontend"].timestamps.tolist() == [T0_UNIX, T0_UNIX + 60, T0_UNIX + 120]


def test_retention_bounds_the_files(fake_api: FakeApiServer, kubeconfig: str, tmp_path: Path) -> None:
    seed(fake_api, 0)
    stepper = Stepper(fake_api, step_s=60)
    lines: list[str] = []
    collect(
        str(tmp_path),
        api=api(kubeconfig),
        namespaces=["todo"],
        interval=60,
        retention=180,
        count=8,
        echo=lines.append,
        sleep=stepper,
    )
    cpu = {s.container: s for s in read_usage_dir(str(tmp_path)) if s.resource == "cpu"}
    # newest point at +420 s; 180 s of retention keeps +240 … +420
    assert cpu["backend"].timestamps.tolist() == [T0_UNIX + t for t in (240, 300, 360, 420)]
    assert len(cpu["backend"]) <= max_points_for(180, 60)
    assert "dropped 3" in lines[-1]  # one old point per container per sample once full


def test_pods_that_went_away_age_out(tmp_path: Path) -> None:
    store = UsageStore.open(str(tmp_path))
    from aiops.metrics.collect import Sample

    store.add(
        [
            Sample("todo", "old-pod", "app", 1000.0, 0.1, 1.0),
            Sample("todo", "new-pod", "app", 1000.0, 0.1, 1.0),
        ]
    )
    store.add([Sample("todo", "new-pod", "app", 5000.0, 0.2, 2.0)])
    assert store.prune(retention=3600, max_points=100) == {"cpu": 2, "memory": 2}  # the two at t=1000
    assert sorted(k[1] for k in store.data["cpu"]) == ["new-pod"]
    store.add([Sample("todo", "new-pod", "app", 5000.0 + i, 0.2, 2.0) for i in range(1, 11)])
    store.prune(retention=3600, max_points=5)
    assert len(store.data["memory"][("todo", "new-pod", "app")].ts) == 5


def test_writes_are_atomic(
    fake_api: FakeApiServer, kubeconfig: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(fake_api, 0)
    tmp_path = tmp_path / "usage"
    collect(str(tmp_path), api=api(kubeconfig), namespaces=["todo"], count=1, echo=quiet)
    before = (tmp_path / "cpu.json").read_bytes()
    assert sorted(os.listdir(tmp_path)) == ["cpu.json", "memory.json"]  # no temporary file left

    def killed(_src: str, _dst: str) -> None:  # the process dies between writing and renaming
        raise OSError(5, "Input/output error")

    Stepper(fake_api)(0)
    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(InputError, match=r"cpu\.json: cannot write"):
        collect(str(tmp_path), api=api(kubeconfig), namespaces=["todo"], count=1, echo=quiet)
    assert (tmp_path / "cpu.json").read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["cpu.json", "memory.json"]


def test_a_corrupt_history_is_bad_input_naming_the_file(kubeconfig: str, tmp_path: Path) -> None:
    (tmp_path / "memory.json").write_text(
        '{"status": "success", "data": {"resultType": "vector"', encoding="utf-8"
    )
    with pytest.raises(InputError) as err:
        collect(str(tmp_path), api=api(kubeconfig), namespaces=["todo"], count=1, echo=quiet)
    assert str(tmp_path / "memory.json") in err.value.message
    assert err.value.hint and "move" in err.value.hint


def test_a_5xx_is_retried(fake_api: FakeApiServer, kubeconfig: str, tmp_path: Path) -> None:
    seed(fake_api, 0)
    fake_api.fail(r"/apis/metrics\.k8s\.io/", status=503, times=2)
    summary = collect(str(tmp_path), api=api(kubeconfig), namespaces=["todo"], count=1, echo=quiet)
    assert summary.points == 3
    assert len(fake_api.requests) == 3


def test_first_sample_failing_is_exit_3_later_ones_are_reported(
    fake_api: FakeApiServer, kubeconfig: str, tmp_path: Path
) -> None:
    fake_api.fail(r"/apis/metrics\.k8s\.io/", status=500, times=4)
    with pytest.raises(UnreachableError) as err:
        collect(str(tmp_path), api=api(kubeconfig), namespaces=["todo"], count=1, echo=quiet)
    assert err.value.exit_code == 3 and "HTTP 500" in err.value.message and fake_api.url in err.value.message

    seed(fake_api, 0)
    stepper = Stepper(fake_api)

    def sleep_then_fail(seconds: float) -> None:
        stepper(seconds)
        if len(stepper.slept) == 1:
            fake_api.fail(r"/apis/metrics\.k8s\.io/", status=503, times=4)

    lines: list[str] = []
    summary = collect(
        str(tmp_path / "d"),
        api=api(kubeconfig),
        namespaces=["todo"],
        count=3,
        echo=lines.append,
        sleep=sleep_then_fail,
    )
    assert (summary.samples, summary.failures, summary.points) == (2, 1, 6)
    assert any("sample failed, will retry next interval" in line and "HTTP 503" in line for line in lines)


def test_metrics_api_forbidden_names_the_permission(
    fake_api: FakeApiServer, kubeconfig: str, tmp_path: Path
) -> None:
    fake_api.forbid("pods", GV)
    with pytest.raises(UnreachableError) as err:
        collect(str(tmp_path), api=api(kubeconfig), namespaces=["todo"], count=1, echo=quiet)
    assert "HTTP 403" in err.value.message and "forbidden" in err.value.message
    assert err.value.hint and "pods.metrics.k8s.io" in err.value.hint


def test_cluster_unreachable(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = tmp_path / "kubeconfig"  # a kubeconfig pointing at a closed port
    cfg.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:{port}\n"
        "users:\n- name: u\n  user:\n    token: t\n"
        "contexts:\n- name: c\n  context:\n    cluster: c\n    user: u\n"
        "current-context: c\n",
        encoding="utf-8",
    )
    with pytest.raises(UnreachableError) as err:
        collect(str(tmp_path / "d"), api=api(str(cfg), retries=1), namespaces=["todo"], count=1, echo=quiet)
    assert err.value.message.startswith(f"cluster http://127.0.0.1:{port} unreachable")
    assert "connection refused" in err.value.message


def test_containers_without_usage_are_counted_not_fatal(
    fake_api: FakeApiServer, kubeconfig: str, tmp_path: Path
) -> None:
    seed(fake_api, 0)
    broken = pod_metrics("todo-worker-1", "todo", iso(0), {"worker": ("1m", "1Mi")})
    broken["containers"] = [
        {"name": "worker", "usage": {"cpu": "lots", "memory": "1Mi"}},
        {"name": "sidecar"},
    ]
    fake_api.add(broken)
    lines: list[str] = []
    summary = collect(str(tmp_path), api=api(kubeconfig), namespaces=["todo"], count=1, echo=lines.append)
    assert summary.series == 3
    assert "2 without usage" in lines[-1]


def test_parse_duration() -> None:
    assert [parse_duration(t, flag="--x") for t in ("60s", "5m", "1h", "14d", "2w", "90", "1.5m")] == [
        60,
        300,
        3600,
        14 * 86400,
        14 * 86400,
        90,
        90,
    ]
    for bad in ("", "5x", "-1s", "0s", "m"):
        with pytest.raises(InputError, match="--x"):
            parse_duration(bad, flag="--x")


def test_cli_collect_once(
    fake_api: FakeApiServer, kubeconfig: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from aiops.cli import main

    seed(fake_api, 0)
    data = tmp_path / "usage"
    with pytest.raises(SystemExit) as exit_:
        main(["collect", "--data-dir", str(data), "--once", "--kubeconfig", kubeconfig, "-n", "todo"])
    assert exit_.value.code == 0
    out = capsys.readouterr()
    assert f"{data}: 3 series, 3 points (1 samples taken, 0 failed)" in out.out
    assert "collect: #1" in out.err
    assert sorted(os.listdir(data)) == ["cpu.json", "memory.json"]


def test_cli_errors(
    fake_api: FakeApiServer, kubeconfig: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from aiops.cli import main

    data = tmp_path / "usage"
    cases = [
        (["--once", "--interval", "soon"], "--interval soon: not a duration"),
        (
            ["--once", "--retention", "30s", "--interval", "60s"],
            "--retention 30s is shorter than --interval 60s",
        ),
        (["--once", "--count", "3"], "contradict"),
        (["--once", "--kubeconfig", str(tmp_path / "missing")], "--kubeconfig"),
    ]
    for args, message in cases:
        with pytest.raises(SystemExit) as exit_:
            main(["collect", "--data-dir", str(data), *args])
        assert exit_.value.code == 2, args
        assert message in capsys.readouterr().err, args
    assert not data.exists()  # nothing written on bad input
    fake_api.forbid("pods", GV)
    with pytest.raises(SystemExit) as exit_:
        main(["collect", "--data-dir", str(data), "--once", "--kubeconfig", kubeconfig, "-n", "todo"])
    assert exit_.value.code == 3
    err = capsys.readouterr().err
    assert "HTTP 403" in err and "Traceback" not in err


def test_collected_history_feeds_recommend_usage_dir(
    sample_api: FakeApiServer,
    kubeconfig: str,
    sample_files: tuple[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The sample cluster's PodMetrics, collected, are read by `aiops recommend --usage-dir`."""
    from aiops.cli import main

    data = tmp_path / "usage"
    summary = collect(str(data), api=api(kubeconfig), namespaces=["todo"], count=1, echo=quiet)
    assert summary.series >= 1
    with pytest.raises(SystemExit) as exit_:
        main(
            ["recommend", "--snapshot", sample_files[0], "-n", "todo", "--usage-dir", str(data), "-o", "json"]
        )
    assert exit_.value.code == 0
    out = json.loads(capsys.readouterr().out)
    frontend = [
        s for s in out["skipped"] if s["kind"] == "rightsize" and s["target"]["name"] == "todo-frontend"
    ]
    # one sample is far below the 100 points / 3 hours a recommendation needs
    assert [s["cause"] for s in frontend] == ["insufficient-data"]
    assert "1 samples" in frontend[0]["reason"]
