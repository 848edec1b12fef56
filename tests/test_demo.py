"""`aiops demo`: the whole loop on the simulated cluster and a fresh local git repository.

The demo runs twice (module fixture) into two temporary directories; the tests read what it
printed, what it reports and the git history and records of its repository. The simulator's rules
are checked on their own against the official client (through `LiveSource`).
"""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from aiops.demo.load import MIB, HistoryPod, LoadModel, write_usage_dir
from aiops.demo.simcluster import SimCluster
from aiops.pipeline.demo import DemoOptions, DemoReport, run_demo
from aiops.pipeline.diagnosis import sample_paths

T0 = datetime(2026, 11, 25, 10, 41, 58, tzinfo=UTC)


def _git(repo: str, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", repo, *args], capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoReport, DemoReport]:
    first = run_demo(DemoOptions(workdir=str(tmp_path_factory.mktemp("demo-one"))))
    second = run_demo(DemoOptions(workdir=str(tmp_path_factory.mktemp("demo-two"))))
    return first, second


@pytest.fixture(scope="module")
def demo(runs: tuple[DemoReport, DemoReport]) -> DemoReport:
    return runs[0]


def _outcomes(report: DemoReport) -> dict[str, dict[str, Any]]:
    return {s.name: s.to_dict() for s in report.scenarios}


# ---- the four scenarios --------------------------------------------------------------------------


def test_scenario_a_diagnoses_both_failures_and_recovers(demo: DemoReport) -> None:
    a = _outcomes(demo)["a"]
    assert {"OOMKilled", "CreateContainerConfigError"} <= set(a["findings_before"])
    assert a["findings_after"] == []
    assert a["outcome"] == "recovered"
    assert len(a["proposals"]) == 2
    # the remediation is on main: a higher memory limit for the backend, the key for the frontend
    backend = yaml.safe_load(Path(demo.repo, "manifests/environments/minikube/todo-backend.yaml").read_text())
    frontend = yaml.safe_load(
        Path(demo.repo, "manifests/environments/minikube/todo-frontend.yaml").read_text()
    )
    limit = backend["resources"]["limits"]["memory"]
    assert limit.endswith("Mi") and int(limit[:-2]) > 590  # above the load model's peak working set
    assert frontend["config"]["REDIS_URL"].startswith("redis://")


def test_scenario_b_enables_an_hpa_that_scales(demo: DemoReport) -> None:
    b = _outcomes(demo)["b"]
    assert b["outcome"] == "scaled"
    assert b["hpa"]["maxReplicas"] > b["hpa"]["minReplicas"] >= 2
    assert b["hpa"]["replicas"] > 2  # the launch traffic needs more than the two fixed replicas
    backend = yaml.safe_load(Path(demo.repo, "manifests/environments/minikube/todo-backend.yaml").read_text())
    assert backend["autoscaling"]["enabled"] is True


def test_scenario_c_saves_money_on_the_frontend(demo: DemoReport) -> None:
    c = _outcomes(demo)["c"]
    assert c["outcome"] == "optimized"
    assert c["monthly_saved_usd"] > 0
    assert any("savings: $" in line and "saved" in line for line in demo.log)
    assert demo.audit["savings"]["monthly_saved"] > 0


def test_scenario_d_halts_the_bad_release_and_reverts_it(demo: DemoReport) -> None:
    d = _outcomes(demo)["d"]
    assert d["rollout"] == "halt"
    assert d["outcome"] == "reverted"
    assert d["revert"] in d["proposals"]
    backend = yaml.safe_load(Path(demo.repo, "manifests/environments/minikube/todo-backend.yaml").read_text())
    assert backend["image"]["tag"] == "0.3.0"  # the revert restored the running release
    assert any("HALT deploy/todo-backend" in line and "CrashLoopBackOff" in line for line in demo.log)


# ---- the git log is the audit trail ---------------------------------------------------------------


def test_git_log_reads_as_an_audit_trail(demo: DemoReport) -> None:
    rows = [
        line.split("\x1f")
        for line in _git(
            demo.repo,
            "log",
            "--all",
            "--format=%s\x1f%an\x1f%P\x1f%(trailers:key=Aiops-Id,valueonly,separator=,)",
        ).splitlines()
    ]
    proposals = [r for r in rows if r[0].startswith("aiops: ") and r[3]]
    kinds = {r[0].split(" ")[1] for r in proposals}
    assert {"rightsize", "config", "hpa", "image"} <= kinds  # proposal commits with their Aiops-Id trailers
    assert all(re.fullmatch(r"2026112\d-[a-z0-9-]+", r[3]) for r in proposals)
    merges = [r for r in rows if r[0].startswith("Merge proposal #")]
    assert len(merges) == 6 and all(len(r[2].split()) == 2 for r in merges)
    assert any(r[0] == 'Revert "aiops: image todo/todo-backend"' for r in rows)
    assert any("from aiops/revert-" in r[0] for r in merges)
    assert any(r[1] == "carol" for r in rows)  # the developer's commit (the REDIS_URL value) is hers
    bodies = _git(demo.repo, "log", "--merges", "--format=%B", "main")
    assert bodies.count("Approved-by: alice (architects)") == 6
    records = _git(demo.repo, "ls-tree", "-r", "--name-only", "main", "history/").splitlines()
    stages = {Path(p).name.rsplit("--", 1)[-1] for p in records if p.startswith("history/prompts/")}
    assert {"recommendation.md", "execution.md", "validation.md", "rollback.md"} <= stages
    assert any(p.startswith("history/holds/todo-backend/") and p.endswith("-held.md") for p in records)
    assert any(p.endswith("-lifted.md") for p in records)
    # every record was added once and never edited (append-only)
    changed = _git(demo.repo, "log", "--diff-filter=MD", "--name-only", "--format=", "main", "--", "history/")
    assert changed == ""


def test_audit_covers_what_the_demo_did(demo: DemoReport) -> None:
    audit = demo.audit
    assert audit["decisions"] >= 5
    assert audit["compliance"]["value_percent"] == 100.0
    assert audit["toil"]["manual_changes"] == 0
    tiers = audit["approval_latency"]["tiers"]
    assert tiers["medium"]["count"] >= 4
    assert audit["gaps"] == []
    assert audit["rollbacks"]["count"] == 1 and audit["rollbacks"]["within_target"] == 1


# ---- printing -------------------------------------------------------------------------------------

_CLUSTER_WORDS = (
    "pod",
    "Pod",
    "rollout",
    "replica",
    "OOM",
    "cluster",
    "kubeconfig",
    "Deployment",
    "HPA ",
    "deploy/",
)


def test_every_line_about_the_cluster_says_simulated(demo: DemoReport) -> None:
    about = [line for line in demo.log if any(w in line for w in _CLUSTER_WORDS)]
    assert len(about) > 30
    unlabelled = [line for line in about if "simulat" not in line]
    assert unlabelled == []
    assert any(line.startswith("Scenario d:") for line in demo.log)
    assert any("helm:" in line for line in demo.log)


def test_two_runs_in_different_directories_are_identical(runs: tuple[DemoReport, DemoReport]) -> None:
    one, two = runs

    def norm(report: DemoReport, text: str) -> str:
        # records name the repository (`local:<path>#N`), so commit ids differ with the directory
        text = text.replace(report.workdir, "<workdir>")
        text = re.sub(r"\b[0-9a-f]{40}\b|\b[0-9a-f]{12}\b", "<sha>", text)
        return re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:<port>", text)

    assert [norm(one, x) for x in one.log] == [norm(two, x) for x in two.log]
    assert [s.to_dict() for s in one.scenarios] == [s.to_dict() for s in two.scenarios]
    fmt = "--format=%s|%an|%ad|%(trailers:key=Aiops-Id,valueonly)"
    assert _git(one.repo, "log", fmt, "main") == _git(two.repo, "log", fmt, "main")
    files = _git(one.repo, "ls-tree", "-r", "--name-only", "main").splitlines()
    assert files == _git(two.repo, "ls-tree", "-r", "--name-only", "main").splitlines()
    for path in files:
        if path.startswith("history/"):
            assert norm(one, _git(one.repo, "show", f"main:{path}")) == norm(
                two, _git(two.repo, "show", f"main:{path}")
            )


def test_a_used_workdir_is_refused(demo: DemoReport) -> None:
    from aiops.errors import InputError

    with pytest.raises(InputError, match="not empty"):
        run_demo(DemoOptions(workdir=demo.workdir))


def test_cli_help_has_an_example_and_bad_scenario_is_usage_error() -> None:
    from aiops.cli import cli

    out = CliRunner().invoke(cli, ["demo", "--help"])
    assert out.exit_code == 0
    assert "aiops demo --workdir" in out.output and "simulated" in out.output.lower()
    bad = CliRunner().invoke(cli, ["demo", "--scenario", "e"])
    assert bad.exit_code == 2


# ---- the simulator on its own --------------------------------------------------------------------


def _sim() -> SimCluster:
    cluster, logs = sample_paths()
    items = yaml.safe_load(Path(cluster).read_text())["items"]
    return SimCluster(items, yaml.safe_load(Path(logs).read_text()), now=T0, load=LoadModel())


def _state(sim: SimCluster, release: str) -> list[tuple[str, str, int]]:
    out = []
    for p in sim.of_kind("Pod", "todo"):
        if p["metadata"]["labels"].get("app.kubernetes.io/instance") != release:
            continue
        cs = p["status"]["containerStatuses"][0]
        ready = any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"]["conditions"])
        state = "Ready" if ready else (cs["state"].get("waiting") or {}).get("reason", "Running")
        out.append((p["metadata"]["name"], state, cs.get("restartCount", 0)))
    return out


def test_simulator_rollout_progresses_and_old_pods_go() -> None:
    sim = _sim()
    res = {"requests": {"cpu": "100m", "memory": "300Mi"}, "limits": {"memory": "700Mi"}}
    assert sim.sync("todo-backend", "todo", {"resources": res})
    sim.advance(60)
    pods = _state(sim, "todo-backend")
    assert len(pods) == 2 and all(s == "Ready" for _n, s, _r in pods)
    assert all("7c9f6d5b8" not in n for n, _s, _r in pods)  # the snapshot's ReplicaSet scaled down
    dep = sim.get("Deployment", "todo", "todo-backend")
    assert dep is not None
    assert {c["type"]: c["reason"] for c in dep["status"]["conditions"]}[
        "Progressing"
    ] == "NewReplicaSetAvailable"
    assert dep["status"]["updatedReplicas"] == dep["status"]["readyReplicas"] == 2


def test_simulator_failure_rules() -> None:
    sim = _sim()
    # memory limit under the peak working set → OOMKilled and CrashLoopBackOff; old pods keep serving
    sim.sync(
        "todo-backend",
        "todo",
        {"resources": {"requests": {"memory": "200Mi"}, "limits": {"memory": "300Mi"}}},
    )
    sim.advance(120)
    new = [
        p
        for p in sim.of_kind("Pod", "todo")
        if p["metadata"]["name"].startswith("todo-backend-") and "7c9f6d5b8" not in p["metadata"]["name"]
    ]
    assert new
    last = new[0]["status"]["containerStatuses"][0]["lastState"]["terminated"]
    assert (last["reason"], last["exitCode"]) == ("OOMKilled", 137)
    assert any(
        n.startswith("todo-backend-7c9f6d5b8-") and s == "Ready" for n, s, _r in _state(sim, "todo-backend")
    )
    # the broken release → exits 1 again and again
    sim.sync("todo-backend", "todo", {"image": {"repository": "todo-backend", "tag": "0.4.0"}})
    sim.advance(90)
    crashing = [x for x in _state(sim, "todo-backend") if x[2] >= 2]
    assert crashing
    # after the progress deadline the Deployment says so
    sim.advance(600, step=30)
    dep = sim.get("Deployment", "todo", "todo-backend")
    assert dep is not None
    progressing = {c["type"]: c for c in dep["status"]["conditions"]}["Progressing"]
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")
    # the frontend's missing key stays a CreateContainerConfigError until the key exists
    sim.sync(
        "todo-frontend", "todo", {"resources": {"requests": {"cpu": "60m"}, "limits": {"memory": "256Mi"}}}
    )
    sim.advance(30)
    assert any(s == "CreateContainerConfigError" for _n, s, _r in _state(sim, "todo-frontend"))
    sim.sync("todo-frontend", "todo", {"config": {"REDIS_URL": "redis://cache:6379/0"}})
    sim.advance(60)
    assert [s for _n, s, _r in _state(sim, "todo-frontend")] == ["Ready"]


def test_simulator_hpa_follows_the_load_model() -> None:
    sim = _sim()
    sim.sync(
        "todo-backend", "todo", {"resources": {"requests": {"cpu": "20m"}, "limits": {"memory": "700Mi"}}}
    )
    sim.sync(
        "todo-backend",
        "todo",
        {
            "autoscaling": {
                "enabled": True,
                "minReplicas": 2,
                "maxReplicas": 6,
                "targetCPUUtilizationPercentage": 70,
            }
        },
    )
    sim.advance(60)
    dep = sim.get("Deployment", "todo", "todo-backend")
    hpa = sim.get("HorizontalPodAutoscaler", "todo", "todo-backend")
    assert dep is not None and hpa is not None
    assert 2 < dep["spec"]["replicas"] <= 6
    assert hpa["status"]["desiredReplicas"] == dep["spec"]["replicas"]


def test_simulator_serves_the_official_client(tmp_path: Path) -> None:
    from aiops.cluster.live import LiveSource
    from aiops.diagnose import run_all

    sim = _sim().start()
    try:
        sim.advance(0)
        kubeconfig = sim.write_kubeconfig(tmp_path / "kubeconfig", context="minikube")
        snap = LiveSource(kubeconfig=str(kubeconfig), namespaces=["todo"]).read()
        assert snap.at == T0  # judged at the simulated clock (the Date header), not the wall clock
        assert {o["kind"] for o in snap.items} >= {"Pod", "Deployment", "ReplicaSet", "Event", "PodMetrics"}
        codes = {f.code for f in run_all(snap).findings}
        assert {"OOMKilled", "CreateContainerConfigError"} <= codes
        assert any("embeddings cache" in " ".join(f.evidence) for f in run_all(snap).findings)
    finally:
        sim.stop()


def test_usage_files_follow_the_load_model(tmp_path: Path) -> None:
    from aiops.metrics import read_usage_dir

    model = LoadModel(surge_at=T0)
    pods = [HistoryPod("todo-backend", f"todo-backend-7c9f6d5b8-h{i}x7q", "backend") for i in range(2)]
    write_usage_dir(tmp_path, model, pods, end=T0, days=2)
    series = read_usage_dir(str(tmp_path))
    mem = [s for s in series if s.resource == "memory"]
    cpu = [s for s in series if s.resource == "cpu"]
    assert len(mem) == len(cpu) == 2
    assert max(float(v) for v in mem[0].values) == pytest.approx(590 * MIB)
    # the launch: traffic at the end is 2.2 × the traffic at the same hour three days before
    assert model.rps(T0) == pytest.approx(2.2 * model.rps(T0 - timedelta(days=3)))
    assert model.cpu_cores("todo-backend", T0, 2) > model.cpu_cores("todo-backend", T0 - timedelta(days=3), 2)
