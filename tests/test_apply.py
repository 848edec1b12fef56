"""`aiops apply` end to end: local forge + real git + the fake API server + a fake `helm` for upgrade /
rollback / history (real helm renders). Merged proposals are applied and recorded; a failing one
is rolled back, held and reverted; a change that bypassed the gate and a wrong context are refused."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import factories as f
import objfactories as of
import pytest
from fakeapi import FakeApiServer
from opsrepo import BACKEND_VALUES, ROOT, aiops, git, make_opsrepo

from aiops.errors import InputError, PolicyRefusal
from aiops.gitops.git import Git
from aiops.gitops.local import LocalForge
from aiops.phr import parse_record
from aiops.pipeline.apply import (
    APPLIED_REF,
    ApplyOptions,
    ApplyReport,
    ApplyRuntime,
    holds,
    run_apply,
)
from aiops.pipeline.gate import LocalHost, run_gate
from aiops.pipeline.merge import merge, policy_of

NS = "todo"
REL = "todo-backend"
RS = "todo-backend-7c9f6d5b8"
NOW = datetime(2026, 11, 25, 11, 0, 0, tzinfo=UTC)
REAL_HELM = ROOT / "tools" / "bin" / "helm"
FAKE_HELM = ROOT / "tests" / "fakebin" / "helm"

pytestmark = pytest.mark.skipif(
    not REAL_HELM.exists(), reason="tools/bin/helm missing (scripts/install-tools)"
)


def release_objects(*, restarts: int = 0) -> list[dict[str, Any]]:
    """A healthy todo-backend release: Deployment → ReplicaSet → 2 ready pods, with PodMetrics."""
    labels = {"app.kubernetes.io/instance": REL, "app.kubernetes.io/name": REL}
    ctr = f.container(
        "backend", "todo-backend:0.3.0", requests_cpu="250m", requests_memory="256Mi", limits_memory="512Mi"
    )
    dep = of.deployment(REL, NS, replicas=2, new_rs=RS, labels=labels, containers=[ctr])
    dep["metadata"]["labels"].update(labels)
    rs = of.replicaset(RS, NS, replicas=2, revision=2)
    rs["metadata"]["labels"].update(labels)
    items: list[dict[str, Any]] = [dep, rs]
    for suffix in ("abcde", "fghij"):
        status = f.container_status(
            "backend", "todo-backend:0.3.0", restart_count=restarts, state=f.running(f.ts(-30))
        )
        pod = f.pod(
            f"{RS}-{suffix}",
            NS,
            owner=("ReplicaSet", RS),
            labels=labels,
            containers=[ctr],
            container_statuses=[status],
        )
        items.append(pod)
        items.append(
            {
                "apiVersion": "metrics.k8s.io/v1beta1",
                "kind": "PodMetrics",
                "metadata": {"name": f"{RS}-{suffix}", "namespace": NS, "creationTimestamp": f.ts(0)},
                "timestamp": f.ts(0),
                "window": "30s",
                "containers": [{"name": "backend", "usage": {"cpu": "120m", "memory": "150Mi"}}],
            }
        )
    return items


def seed_cluster(fake_api: FakeApiServer, tmp_path: Path) -> tuple[FakeApiServer, str]:
    """The fake API holding a healthy release, and a kubeconfig whose context is the policy's cluster."""
    fake_api.load(release_objects())
    kc = fake_api.write_kubeconfig(tmp_path / "kubeconfig", context="minikube")
    return fake_api, str(kc)


def fake_helm_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """AIOPS_HELM → the fake helm (real helm behind it for template/version); returns its call log."""
    log = tmp_path / "helm.log"
    monkeypatch.setenv("AIOPS_HELM", str(FAKE_HELM))
    monkeypatch.setenv("FAKE_HELM_REAL", str(REAL_HELM))
    monkeypatch.setenv("FAKE_HELM_LOG", str(log))
    monkeypatch.delenv("FAKE_HELM_FAIL", raising=False)
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    return log


@pytest.fixture
def cluster(fake_api: FakeApiServer, tmp_path: Path) -> tuple[FakeApiServer, str]:
    return seed_cluster(fake_api, tmp_path)


@pytest.fixture
def helm_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return fake_helm_env(tmp_path, monkeypatch)


def helm_calls(log: Path) -> list[list[str]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def runtime(now: datetime = NOW, on_sleep: Callable[[float], None] | None = None) -> ApplyRuntime:
    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds
        if on_sleep is not None:
            on_sleep(seconds)

    return ApplyRuntime(
        now=lambda: now,
        sleep=sleep,
        monotonic=lambda: clock[0],
        poll_s=5,
        watch_timeout_s=60,
        stabilization_s=0,
    )


def engine_opsrepo(tmp_path: Path, mode: str) -> tuple[Path, LocalForge]:
    """An ops repo whose policy hands applying to a GitOps engine (`apply.mode: argocd|flux`)."""
    policy = (
        (ROOT / ".github" / "aiops.yaml").read_text(encoding="utf-8").replace("mode: helm ", f"mode: {mode}")
    )
    repo = make_opsrepo(tmp_path, policy=policy)
    return repo, LocalForge(repo)


def propose_scale(forge: LocalForge, replicas: int, key: str = "scale-todo-deployment-todo-backend") -> int:
    text = forge.read_file(BACKEND_VALUES)
    assert text is not None
    new = re.sub(r"(?m)^replicaCount: \d+", f"replicaCount: {replicas}", text)
    assert new != text
    p = forge.propose(
        branch=f"aiops/{key}",
        title=f"Scale todo-backend to {replicas} replicas",
        body="scale",
        files={BACKEND_VALUES: new},
        message=f"Scale todo-backend to {replicas}\n\nAiops-Id: 20261125-{key}\n",
        meta={
            "id": f"20261125-{key}-{replicas}",
            "key": key,
            "kind": "scale",
            "target": {"kind": "Deployment", "namespace": NS, "name": REL},
            "requested_by": "carol",
            "proposed": {"replicas": replicas},
        },
    )
    return p.number


def approve_gate_merge(forge: LocalForge, number: int) -> str:
    forge.add_review(number, "alice", "APPROVED")
    run_gate(forge, LocalHost(forge, policy_of(forge)), number)
    out = merge(forge, number, by="alice")
    return out.merge_sha


def opts(repo: Path, kubeconfig: str, **kw: Any) -> ApplyOptions:
    return ApplyOptions(repo=str(repo), kubeconfig=kubeconfig, **kw)


def records(repo: Path, stage: str) -> dict[str, Any]:
    g = Git(repo)
    out = {}
    for path in g.ls_files("refs/heads/main", "history/prompts"):
        if path.endswith(f"--{stage}.md"):
            out[path] = parse_record(g.show("refs/heads/main", path) or "", where=path)
    return out


def test_merged_proposal_is_applied_commented_and_recorded(
    tmp_path: Path, cluster: tuple[FakeApiServer, str], helm_log: Path
) -> None:
    _, kc = cluster
    repo = make_opsrepo(tmp_path)
    forge = LocalForge(repo)
    n = propose_scale(forge, 3)
    merge_sha = approve_gate_merge(forge, n)

    report = run_apply(forge, Git(repo), opts(repo, kc), runtime())

    assert report.prs == [n]
    [res] = report.releases
    assert (res.release, res.outcome, res.mode) == (REL, "success", "helm")
    assert res.verdict in ("improved", "unchanged")
    [call] = helm_calls(helm_log)
    assert call[:3] == ["upgrade", "--install", REL]
    assert call[call.index("--namespace") + 1] == NS
    assert call[call.index("-f") + 1].endswith(BACKEND_VALUES)
    assert "--wait" in call and "--rollback-on-failure" in call  # Helm 4 (tools/bin/helm)
    assert call[call.index("--kubeconfig") + 1] == kc
    # the rollout was watched and judged done
    assert [r["decision"] for r in res.rollout] == ["done"]
    # pre/post metrics read from the API: replicas, restarts, usage vs requests
    assert res.pre is not None and res.pre["workloads"]["Deployment/todo-backend"]["available"] == 2
    assert res.pre["cpu"] == {"usage": 240.0, "requests": 500.0, "ratio": 0.48, "unit": "m"}
    # one metrics comment on the PR
    comments = [c for c in forge.comments(n) if "aiops:comment:metrics" in c.body]
    assert len(comments) == 1 and "| available replicas | todo-backend 2/2 |" in comments[0].body
    # the execution record, committed to main by the bot, touching only history/
    [(path, rec)] = records(repo, "execution").items()
    assert rec.id == "20261125-scale-todo-deployment-todo-backend-3"
    assert rec.front["outcome"] == "success"
    assert rec.front["applied_commit"] == merge_sha
    assert [a["login"] for a in rec.front["approvals"]] == ["alice"]
    assert (
        rec.front["approved_at"]
        and rec.front["merged_at"]
        and rec.front["applied_at"] == "2026-11-25T11:00:00Z"
    )
    assert rec.front["pre_metrics"][REL]["restarts"] == 0
    assert rec.front["pr"]["number"] == n
    author = git(repo, "log", "-1", "--format=%an", "main")
    changed = git(repo, "diff", "--name-only", "main^", "main").splitlines()
    assert author == "aiops-bot[bot]" and changed == [path]
    assert git(repo, "rev-parse", APPLIED_REF) == merge_sha
    assert git(repo, "status", "--porcelain") == ""  # the checked-out work tree followed

    # idempotent: a second run applies nothing and writes nothing
    head = git(repo, "rev-parse", "main")
    again = run_apply(forge, Git(repo), opts(repo, kc), runtime())
    assert again.up_to_date and again.releases == [] and again.prs == []
    assert len(helm_calls(helm_log)) == 1
    assert git(repo, "rev-parse", "main") == head

    # validation: after the monitoring window the change gets its validation record
    from aiops.pipeline.validate import run_validate

    early = run_validate(forge, Git(repo), opts(repo, kc), runtime(NOW + timedelta(minutes=10)))
    assert [v.state for v in early.validations] == ["monitoring"] and not records(repo, "validation")
    done = run_validate(forge, Git(repo), opts(repo, kc), runtime(NOW + timedelta(minutes=61)))
    assert [v.state for v in done.validations] == ["validated"]
    [(_, vrec)] = records(repo, "validation").items()
    assert vrec.id == rec.id and vrec.front["recovered_at"] == "2026-11-25T12:01:00Z"
    assert vrec.front["verdict"] in ("improved", "unchanged") and vrec.front["outcome"] == "success"
    assert "#### Validation" in next(c.body for c in forge.comments(n) if "aiops:comment:metrics" in c.body)
    assert (
        run_validate(forge, Git(repo), opts(repo, kc), runtime(NOW + timedelta(minutes=90))).validations == []
    )


def test_failed_upgrade_is_rolled_back_held_and_reverted(
    tmp_path: Path, cluster: tuple[FakeApiServer, str], helm_log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, kc = cluster
    repo = make_opsrepo(tmp_path)
    forge = LocalForge(repo)
    n = propose_scale(forge, 3)
    approve_gate_merge(forge, n)
    monkeypatch.setenv("FAKE_HELM_FAIL", "upgrade")

    report = run_apply(forge, Git(repo), opts(repo, kc), runtime())

    [res] = report.releases
    assert res.outcome == "rolled-back" and report.failed
    assert "UPGRADE FAILED" in res.detail
    calls = helm_calls(helm_log)
    assert [c[0] for c in calls] == ["upgrade", "history", "rollback"]
    assert calls[2][:3] == ["rollback", REL, "1"]  # the last good revision from helm history
    # on hold: a record on main and the dashboard section
    assert list(holds(forge)) == [REL]
    assert "todo-backend" in (forge.dashboard() or "")
    # the revert proposal of the failing PR is open, keeping records
    [revert] = [p for p in forge.find_proposals(state="open") if p.meta.get("revert_of") == n]
    assert revert.title.startswith('Revert "Scale todo-backend')
    [(_, rec)] = records(repo, "execution").items()
    assert rec.front["outcome"] == "rolled-back"
    assert res.reverts[0]["number"] == revert.number

    # the next merge touching the held release is accounted but the release is skipped
    monkeypatch.delenv("FAKE_HELM_FAIL")
    n2 = propose_scale(forge, 4, key="scale-todo-deployment-todo-backend-b")
    approve_gate_merge(forge, n2)
    held = run_apply(forge, Git(repo), opts(repo, kc), runtime())
    assert held.prs == [n2] and held.releases == []
    assert held.skipped and held.skipped[0].startswith("todo-backend: on hold")
    assert [c[0] for c in helm_calls(helm_log)] == ["upgrade", "history", "rollback"]
    pending = [r for r in records(repo, "execution").values() if r.front["pr"]["number"] == n2]
    assert [r.front["outcome"] for r in pending] == ["pending"]
    assert "todo-backend is on hold" in next(
        c.body for c in forge.comments(n2) if "comment:metrics" in c.body
    )

    # --resume lifts the hold and re-applies HEAD
    resumed = run_apply(forge, Git(repo), opts(repo, kc, resume=REL), runtime(NOW + timedelta(minutes=5)))
    assert [r.outcome for r in resumed.releases] == ["success"]
    assert holds(forge) == {}
    assert any(p.endswith("-lifted.md") for p in Git(repo).ls_files("refs/heads/main", "history/holds"))
    assert helm_calls(helm_log)[-1][0] == "upgrade"


def test_regressed_verdict_takes_the_failure_path(
    tmp_path: Path, cluster: tuple[FakeApiServer, str], helm_log: Path
) -> None:
    fake, kc = cluster
    repo = make_opsrepo(tmp_path)
    forge = LocalForge(repo)
    n = propose_scale(forge, 3)
    approve_gate_merge(forge, n)

    def crash(_: float) -> None:  # during stabilization the pods start restarting
        for pod in fake.objects[("v1", "pods")]:
            for cs in pod["status"]["containerStatuses"]:
                cs["restartCount"] = 3
                cs["lastState"] = {
                    "terminated": {
                        "reason": "OOMKilled",
                        "exitCode": 137,
                        "startedAt": f.ts(-5),
                        "finishedAt": f.ts(-4),
                    }
                }

    rt = runtime(on_sleep=crash)
    rt.stabilization_s = 300
    report = run_apply(forge, Git(repo), opts(repo, kc), rt)
    [res] = report.releases
    assert res.verdict == "regressed" and res.outcome == "rolled-back"
    assert any("OOM kill" in r for r in res.verdict_reasons)
    assert [c[0] for c in helm_calls(helm_log)] == ["upgrade", "history", "rollback"]
    assert list(holds(forge)) == [REL]
    assert [p.meta.get("revert_of") for p in forge.find_proposals(state="open")] == [n]


def test_a_direct_commit_to_main_touching_manifests_is_refused(
    tmp_path: Path, cluster: tuple[FakeApiServer, str], helm_log: Path
) -> None:
    _, kc = cluster
    repo = make_opsrepo(tmp_path)
    values = repo / BACKEND_VALUES
    values.write_text(values.read_text().replace("replicaCount: 2", "replicaCount: 9"))
    git(repo, "commit", "-qam", "bump replicas by hand")

    run = aiops("apply", "--repo", str(repo), "--forge", "local", "--kubeconfig", kc)

    assert run.code == 4
    assert "did not come through a merged PR" in run.err
    assert helm_calls(helm_log) == []
    assert Git(repo).rev(APPLIED_REF) is None


def test_a_pr_merged_without_a_passing_gate_is_refused(
    tmp_path: Path, cluster: tuple[FakeApiServer, str], helm_log: Path
) -> None:
    _, kc = cluster
    repo = make_opsrepo(tmp_path)
    forge = LocalForge(repo)
    n = propose_scale(forge, 3)
    forge.merge(n, by="mallory")  # merged around `aiops merge`: no approval, no gate status

    with pytest.raises(PolicyRefusal, match=rf"#{n}: no aiops/approval-gate status"):
        run_apply(forge, Git(repo), opts(repo, kc), runtime())
    assert helm_calls(helm_log) == []


def test_a_gate_status_not_posted_by_the_app_is_refused(
    tmp_path: Path, cluster: tuple[FakeApiServer, str], helm_log: Path
) -> None:
    from aiops.gitops.forge import CommitStatus

    _, kc = cluster
    repo = make_opsrepo(tmp_path)
    forge = LocalForge(repo)
    n = propose_scale(forge, 3)
    approve_gate_merge(forge, n)
    head = forge.get_proposal(n).head_sha
    forge.set_status(head, CommitStatus("aiops/approval-gate", "success", "looks fine", creator="mallory"))

    with pytest.raises(PolicyRefusal, match="not the aiops App"):
        run_apply(forge, Git(repo), opts(repo, kc), runtime())


def test_a_kube_context_other_than_the_policy_cluster_is_refused(
    tmp_path: Path, fake_api: FakeApiServer, helm_log: Path
) -> None:
    kc = str(fake_api.write_kubeconfig(tmp_path / "kc", context="prod-east"))
    repo = make_opsrepo(tmp_path)
    forge = LocalForge(repo)
    n = propose_scale(forge, 3)
    approve_gate_merge(forge, n)

    run = aiops("apply", "--repo", str(repo), "--forge", "local", "--kubeconfig", kc)

    assert run.code == 4 and "'prod-east' is not the policy's cluster 'minikube'" in run.err
    assert helm_calls(helm_log) == []


def test_dry_run_lists_and_writes_nothing(
    tmp_path: Path, cluster: tuple[FakeApiServer, str], helm_log: Path
) -> None:
    from opsrepo import snapshot_refs

    _, kc = cluster
    repo = make_opsrepo(tmp_path)
    forge = LocalForge(repo)
    n = propose_scale(forge, 3)
    approve_gate_merge(forge, n)
    before = snapshot_refs(repo)

    run = aiops(
        "apply", "--repo", str(repo), "--forge", "local", "--kubeconfig", kc, "--dry-run", "-o", "json"
    )

    assert run.code == 0, run.err
    data = run.json()
    assert data["prs"] == [n] and [r["release"] for r in data["releases"]] == [REL]
    assert snapshot_refs(repo) == before and helm_calls(helm_log) == []


def test_apply_report_lines_name_each_release() -> None:
    report = ApplyReport(head="a" * 40, last_applied=None, prs=[3])
    assert report.lines()[0].startswith("main aaaaaaaaaaaa (last applied none)")
    assert os.path.basename(str(FAKE_HELM)) == "helm"


def kubectl_repo(tmp_path: Path) -> Path:
    policy = (
        (ROOT / ".github" / "aiops.yaml").read_text(encoding="utf-8").replace("mode: helm ", "mode: kubectl")
    )
    assert "mode: kubectl" in policy
    return make_opsrepo(tmp_path, policy=policy)


def propose_image(forge: LocalForge, tag: str) -> int:
    text = forge.read_file(BACKEND_VALUES)
    assert text is not None
    new = re.sub(r'(?m)^  tag: "[^"]*"', f'  tag: "{tag}"', text)
    p = forge.propose(
        branch="aiops/image-todo-deployment-todo-backend",
        title=f"todo-backend image {tag}",
        body="image",
        files={BACKEND_VALUES: new},
        message=f"todo-backend image {tag}\n",
        meta={
            "id": f"20261125-image-todo-deployment-todo-backend-{tag}",
            "key": "image-todo-deployment-todo-backend",
            "kind": "image",
            "target": {"kind": "Deployment", "namespace": NS, "name": REL},
            "requested_by": "carol",
        },
    )
    return p.number


def test_kubectl_mode_server_side_applies_the_rendered_chart(
    tmp_path: Path, cluster: tuple[FakeApiServer, str], helm_log: Path
) -> None:
    fake, kc = cluster
    fake.controller = True
    repo = kubectl_repo(tmp_path)
    forge = LocalForge(repo)
    n = propose_scale(forge, 3)
    approve_gate_merge(forge, n)

    report = run_apply(forge, Git(repo), opts(repo, kc), runtime())

    [res] = report.releases
    assert (res.mode, res.outcome) == ("kubectl", "success"), res.detail
    applies = [r for r in fake.requests if r.method == "PATCH"]
    assert {r.content_type for r in applies} == {"application/apply-patch+yaml"}
    assert {r.query.get("fieldManager") for r in applies} == {"aiops"}
    assert sorted(r.path.rsplit("/", 2)[-2] for r in applies) == [
        "configmaps",
        "deployments",
        "serviceaccounts",
        "services",
    ]  # the helm test hook pod is not applied
    dep = next(o for o in fake.objects[("apps/v1", "deployments")] if o["metadata"]["name"] == REL)
    assert dep["spec"]["replicas"] == 3 and dep["status"]["availableReplicas"] == 3
    assert res.post is not None and res.post["workloads"]["Deployment/todo-backend"]["available"] == 3
    assert [r["decision"] for r in res.rollout] == ["done"]
    assert helm_calls(helm_log) == []  # helm only rendered (real helm), never upgraded


def test_kubectl_mode_failed_rollout_reapplies_the_previous_commit(
    tmp_path: Path, cluster: tuple[FakeApiServer, str], helm_log: Path
) -> None:
    fake, kc = cluster
    fake.controller = True
    repo = kubectl_repo(tmp_path)
    forge = LocalForge(repo)
    # a first change applied fine: the previous commit to return to
    approve_gate_merge(forge, propose_scale(forge, 3))
    first = run_apply(forge, Git(repo), opts(repo, kc), runtime())
    assert [r.outcome for r in first.releases] == ["success"]
    fake.failing_images.add("todo-backend:0.4.0")
    n = propose_image(forge, "0.4.0")
    approve_gate_merge(forge, n)

    report = run_apply(forge, Git(repo), opts(repo, kc), runtime(NOW + timedelta(minutes=10)))

    [res] = report.releases
    assert res.outcome == "rolled-back", res.detail
    assert res.rollout[-1]["decision"] in ("halt", "undo")
    assert res.rollback is not None and res.rollback.startswith(f"re-applied {first.head[:12]}")
    dep = next(o for o in fake.objects[("apps/v1", "deployments")] if o["metadata"]["name"] == REL)
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "todo-backend:0.3.0"
    assert dep["status"]["availableReplicas"] == 3
    assert list(holds(forge)) == [REL]
    assert [p.meta.get("revert_of") for p in forge.find_proposals(state="open")] == [n]


def test_every_pr_merged_since_the_last_apply_is_accounted_and_recorded(
    tmp_path: Path, cluster: tuple[FakeApiServer, str], helm_log: Path
) -> None:
    _, kc = cluster
    repo = make_opsrepo(tmp_path)
    forge = LocalForge(repo)
    n1 = propose_scale(forge, 3)
    approve_gate_merge(forge, n1)
    n2 = propose_scale(forge, 4, key="scale-todo-deployment-todo-backend-b")
    approve_gate_merge(forge, n2)  # both merged while no apply ran (a replaced pending run)

    report = run_apply(forge, Git(repo), opts(repo, kc), runtime())

    assert report.prs == [n1, n2]
    assert len(helm_calls(helm_log)) == 1  # main HEAD is applied once
    recs = records(repo, "execution")
    assert sorted(r.front["pr"]["number"] for r in recs.values()) == [n1, n2]
    assert {r.front["applied_commit"] for r in recs.values()} == {report.head}
    for n in (n1, n2):
        assert sum("aiops:comment:metrics" in c.body for c in forge.comments(n)) == 1


def test_reverts_made_with_the_github_button_are_recognised() -> None:
    from aiops.gitops.forge import Proposal
    from aiops.pipeline.apply import button_revert_of

    button = Proposal(
        9,
        'Revert "Scale todo-backend"',
        "Reverts acme/ops#12\n",
        "revert-12-aiops/x",
        "main",
        "a",
        "merged",
        "bob",
    )
    by_branch = Proposal(10, "undo", "", "revert-7-aiops/y", "main", "b", "merged", "bob")
    other = Proposal(11, "Scale", "Scale up. Reverts nothing", "aiops/scale", "main", "c", "merged", "bob")
    assert [button_revert_of(p) for p in (button, by_branch, other)] == [12, 7, None]


def argocd_app(revision: str, *, health: str = "Healthy") -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": REL, "namespace": "argocd", "uid": "app-uid", "creationTimestamp": f.ts(-600)},
        "spec": {
            "project": "default",
            "source": {"repoURL": "https://github.com/acme/ops", "path": "manifests/charts/todo-backend"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": NS},
            "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
        },
        "status": {
            "sync": {"status": "Synced", "revision": revision},
            "health": {"status": health},
        },
    }


@pytest.mark.parametrize("health", ["Healthy", "Degraded"])
def test_argocd_mode_waits_for_the_synced_revision_and_rolls_back_through_git(
    tmp_path: Path, cluster: tuple[FakeApiServer, str], helm_log: Path, health: str
) -> None:
    fake, kc = cluster
    repo, forge = engine_opsrepo(tmp_path, "argocd")
    before = forge.base_sha()
    fake.add(argocd_app(before))
    n = propose_scale(forge, 3)
    head = approve_gate_merge(forge, n)
    polls: list[float] = []

    def engine_syncs(seconds: float) -> None:  # Argo CD picks the commit up after the first poll
        polls.append(seconds)
        fake.upsert(argocd_app(head, health=health))

    report = run_apply(forge, Git(repo), opts(repo, kc), runtime(on_sleep=engine_syncs))

    [res] = report.releases
    assert res.mode == "argocd" and polls  # it waited for the engine
    assert not [r for r in fake.requests if r.method != "GET"]  # observe mode never writes
    assert helm_calls(helm_log) == []
    if health == "Healthy":
        assert res.outcome == "success" and f"revision {head}" in res.detail
        assert [r.front["outcome"] for r in records(repo, "execution").values()] == ["success"]
    else:
        assert res.outcome == "rolled-back"
        assert res.rollback is not None and res.rollback.startswith("git-first")
        assert list(holds(forge)) == [REL]
        assert [p.meta.get("revert_of") for p in forge.find_proposals(state="open")] == [n]


def test_records_commit_on_github_is_pushed_to_origin_main(tmp_path: Path) -> None:
    """`apply.records: commit` on GitHub: a bot commit on top of origin's main, touching only
    history/, pushed with the App's credentials (here: a bare repository as origin, real git)."""
    from aiops.pipeline.apply import push_records
    from aiops.settings import Settings

    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    work = make_opsrepo(tmp_path)
    git(work, "remote", "add", "origin", str(origin))
    git(work, "push", "-q", "origin", "main")
    # someone merges on GitHub meanwhile: origin's main moves past the checkout
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(origin), str(other))
    git(
        other,
        "-c",
        "user.name=bob",
        "-c",
        "user.email=b@x",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "merged PR",
    )
    git(other, "push", "-q", "origin", "main")

    class GitHubLike(LocalForge):  # the real local forge over the checkout, named as the GitHub one
        name = "github"

    forge = GitHubLike(work)
    rec = "history/prompts/2026/11/20261125-x--execution.md"
    done = push_records(
        forge, Git(work), {rec: "---\nid: x\n---\n"}, "records", settings=Settings(), stamp="s"
    )

    assert done.startswith("commit ") and done.endswith("pushed to main")
    top = git(origin, "log", "-1", "--format=%an %P", "main")
    assert top.startswith("aiops-bot[bot] ") and top.split()[1] == git(other, "rev-parse", "HEAD")
    assert git(origin, "diff", "--name-only", "main^", "main") == rec
    with pytest.raises(InputError, match="only history/"):
        push_records(forge, Git(work), {"manifests/x.yaml": "x"}, "m", settings=Settings(), stamp="s")


@pytest.mark.parametrize(
    ("creator", "state", "problem"),
    [
        ("aiops-bot[bot]", "success", None),
        ("github-actions[bot]", "success", "posted by github-actions[bot], not the aiops App"),
        ("aiops-bot[bot]", "failure", "aiops/approval-gate is failure"),
    ],
)
def test_on_github_a_persons_merged_pr_is_found_and_its_gate_status_checked(
    tmp_path: Path, creator: str, state: str, problem: str | None
) -> None:
    """A person's PR (no aiops marker) merged on GitHub: found by the `#N` of its merge commit and
    confirmed by the PR's merge_commit_sha; its head's gate status must come from the aiops App."""
    import responses
    from github import Auth, Github

    from aiops.gitops.github_forge import GitHubForge
    from aiops.pipeline.apply import _pr_for_commit, gate_problem
    from aiops.settings import Settings
    from tests import ghpayloads as P

    repo = make_opsrepo(tmp_path)
    git(repo, "commit", "-q", "--allow-empty", "-m", "Merge pull request #12 from acme/fix-backend\n\nFix")
    merge_sha = git(repo, "rev-parse", "HEAD")
    client = Github(
        auth=Auth.Token("t"),
        lazy=True,
        retry=None,
        seconds_between_requests=None,
        seconds_between_writes=None,
    )
    forge = GitHubForge(client, P.REPO, base="main", sleep=lambda s: None, clock=lambda: 0.0)
    head = P.sha("d")
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.get(
            f"{P.M}/pulls/12",
            json=P.pr(
                12,
                branch="fix-backend",
                title="Fix backend",
                state="closed",
                merged_at="2026-11-25T10:00:00Z",
                closed_at="2026-11-25T10:00:00Z",
                head_sha=head,
                merge_commit_sha=merge_sha,
                author="carol",
            ),
        )
        rsps.get(
            f"{P.M}/statuses/{head}",
            json=[P.status(1, "aiops/approval-gate", state, "gate decision", creator, at=head)],
        )
        p = _pr_for_commit(forge, {}, Git(repo), merge_sha)
        assert p is not None and (p.number, p.merge_sha, p.author) == (12, merge_sha, "carol")
        found = gate_problem(forge, p, Settings())
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_flux_mode_waits_for_the_kustomization_to_apply_the_commit(
    tmp_path: Path, cluster: tuple[FakeApiServer, str], helm_log: Path
) -> None:
    fake, kc = cluster
    repo, forge = engine_opsrepo(tmp_path, "flux")
    n = propose_scale(forge, 3)
    head = approve_gate_merge(forge, n)

    def kustomization(applied: str, attempted: str) -> dict[str, Any]:
        return {
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {
                "name": REL,
                "namespace": "flux-system",
                "uid": "ks-uid",
                "creationTimestamp": f.ts(-600),
            },
            "spec": {
                "interval": "1m",
                "path": "./manifests",
                "prune": True,
                "sourceRef": {"kind": "GitRepository", "name": "ops"},
            },
            "status": {
                "lastAppliedRevision": f"main@sha1:{applied}",
                "lastAttemptedRevision": f"main@sha1:{attempted}",
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True",
                        "reason": "ReconciliationSucceeded",
                        "message": "Applied",
                    }
                ],
            },
        }

    fake.add(kustomization("e" * 40, "e" * 40))
    report = run_apply(
        forge, Git(repo), opts(repo, kc), runtime(on_sleep=lambda _: fake.upsert(kustomization(head, head)))
    )
    [res] = report.releases
    assert (res.mode, res.outcome) == ("flux", "success") and f"applied main@sha1:{head}" in res.detail
    assert not [r for r in fake.requests if r.method != "GET"]
    assert any(
        r.path == f"/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/{REL}"
        for r in fake.requests
    )


# ---- aiops rollback --emergency ------------------------------------------------------------------


def test_emergency_rollback_restores_the_cluster_holds_the_release_and_opens_the_revert(
    tmp_path: Path, cluster: tuple[FakeApiServer, str], helm_log: Path
) -> None:
    from aiops.pipeline.emergency import emergency_rollback

    _, kc = cluster
    repo = make_opsrepo(tmp_path)
    forge = LocalForge(repo)
    n = propose_scale(forge, 3)
    approve_gate_merge(forge, n)
    assert [r.outcome for r in run_apply(forge, Git(repo), opts(repo, kc), runtime()).releases] == ["success"]

    out = emergency_rollback(
        forge, Git(repo), n, opts(repo, kc), policy_of(forge), rt=runtime(), requested_by="alice"
    )

    assert [r["outcome"] for r in out.releases] == ["rolled-back"] and not out.failed
    calls = [c[0] for c in helm_calls(helm_log)]
    assert calls[-2:] == ["history", "rollback"]  # helm rollback to the last good revision, at once
    assert list(holds(forge)) == [REL]  # a later push cannot re-apply the bad change
    [revert] = [p for p in forge.find_proposals(state="open") if p.meta.get("revert_of") == n]
    assert out.revert["number"] == revert.number
    # a second apply while the revert is open skips the held release
    assert run_apply(forge, Git(repo), opts(repo, kc), runtime()).releases == []


def test_emergency_rollback_refuses_observe_mode_and_unmerged_prs(
    tmp_path: Path, cluster: tuple[FakeApiServer, str], helm_log: Path
) -> None:
    from aiops.pipeline.emergency import emergency_rollback

    _, kc = cluster
    repo = make_opsrepo(tmp_path)
    forge = LocalForge(repo)
    n = propose_scale(forge, 3)
    with pytest.raises(InputError, match="only a merged proposal"):
        emergency_rollback(forge, Git(repo), n, opts(repo, kc), policy_of(forge), rt=runtime())
    approve_gate_merge(forge, n)
    with pytest.raises(PolicyRefusal, match="observe mode never writes"):
        emergency_rollback(forge, Git(repo), n, opts(repo, kc, observe=True), policy_of(forge), rt=runtime())
    assert helm_calls(helm_log) == []


def test_emergency_cli_refuses_a_dry_run_and_names_the_flag(tmp_path: Path) -> None:
    repo = make_opsrepo(tmp_path)
    run = aiops("rollback", "--pr", "1", "--emergency", "--dry-run", "--repo", str(repo), "--forge", "local")
    assert run.code == 2 and "--emergency and --dry-run exclude each other" in run.err


def test_emergency_in_argocd_mode_suspends_auto_sync_and_the_merged_revert_restores_it(
    tmp_path: Path, cluster: tuple[FakeApiServer, str], helm_log: Path
) -> None:
    import copy

    from aiops.pipeline.emergency import emergency_rollback

    fake, kc = cluster
    repo, forge = engine_opsrepo(tmp_path, "argocd")
    before = forge.base_sha()
    fake.add(argocd_app(before))
    n = propose_scale(forge, 3)
    approve_gate_merge(forge, n)

    def app() -> dict[str, Any]:
        return next(
            o for o in fake.objects[("argoproj.io/v1alpha1", "applications")] if o["metadata"]["name"] == REL
        )

    out = emergency_rollback(forge, Git(repo), n, opts(repo, kc), policy_of(forge), rt=runtime())

    [res] = out.releases
    assert res["outcome"] == "rolled-back" and res["rollback"].startswith(
        "argocd: auto-sync of todo-backend suspended"
    )
    patched = app()
    assert patched["spec"]["syncPolicy"].get("automated") is None  # the engine no longer re-applies main
    assert patched["operation"]["sync"]["revision"] == before  # and syncs back to before the merge
    assert list(holds(forge)) == [REL]
    assert helm_calls(helm_log) == []  # aiops never runs helm against an engine's cluster
    [revert] = [p for p in forge.find_proposals(state="open") if p.meta.get("revert_of") == n]

    # the revert merges: the next apply lifts the hold and gives Argo CD its auto-sync back
    head = approve_gate_merge(forge, revert.number)

    def engine_syncs(seconds: float) -> None:
        synced = copy.deepcopy(app())
        synced["status"] = {"sync": {"status": "Synced", "revision": head}, "health": {"status": "Healthy"}}
        fake.upsert(synced)

    report = run_apply(forge, Git(repo), opts(repo, kc), runtime(on_sleep=engine_syncs))
    assert holds(forge) == {}
    assert any("auto-sync of todo-backend restored" in note for note in report.notes)
    assert app()["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    assert "aiops.io/suspended-automated" not in (app()["metadata"].get("annotations") or {})


def test_emergency_in_flux_mode_suspends_the_kustomization_and_resume_undoes_it(
    tmp_path: Path, cluster: tuple[FakeApiServer, str], helm_log: Path
) -> None:
    from aiops.apply.gitops_engines import SyncWatcher
    from aiops.pipeline.emergency import emergency_rollback

    fake, kc = cluster
    repo, forge = engine_opsrepo(tmp_path, "flux")
    fake.add(
        {
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {
                "name": REL,
                "namespace": "flux-system",
                "uid": "ks",
                "creationTimestamp": f.ts(-600),
            },
            "spec": {
                "interval": "1m",
                "path": "./manifests",
                "prune": True,
                "sourceRef": {"kind": "GitRepository", "name": "ops"},
            },
        }
    )
    n = propose_scale(forge, 3)
    approve_gate_merge(forge, n)

    def ks() -> dict[str, Any]:
        return next(o for o in fake.objects[("kustomize.toolkit.fluxcd.io/v1", "kustomizations")])

    out = emergency_rollback(forge, Git(repo), n, opts(repo, kc), policy_of(forge), rt=runtime())
    assert [r["outcome"] for r in out.releases] == ["rolled-back"]
    assert ks()["spec"]["suspend"] is True and list(holds(forge)) == [REL]
    assert helm_calls(helm_log) == []

    assert SyncWatcher("flux", kubeconfig=kc).resume(REL) == f"flux: {REL} resumed"
    assert ks()["spec"]["suspend"] is False
    assert SyncWatcher("flux", kubeconfig=kc).resume(REL) is None  # not suspended by aiops any more
