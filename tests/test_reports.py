"""Reports: each renders from the bundled sample and from the fake live cluster; append-only
writes; week-over-week and trend charts from earlier reports; the one dashboard section."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fakeapi import FakeApiServer

from aiops.cli import cli
from aiops.gitops.local import LocalForge
from aiops.pipeline.diagnosis import ClusterOptions
from aiops.pipeline.reports import ReportRequest, run_report
from aiops.report.document import dump_yaml, parse_front, xychart
from aiops.report.store import DirReader, previous_reports, week_before, write_report

FIX = Path(__file__).resolve().parent / "fixtures" / "recommend"
DATE = "2026-11-25"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    r = tmp_path / "ops"
    r.mkdir()
    git(r, "init", "-q", "-b", "main")
    git(r, "config", "user.name", "carol")
    git(r, "config", "user.email", "carol@example.com")
    (r / "README.md").write_text("ops\n")
    git(r, "add", "-A")
    git(r, "commit", "-qm", "initial")
    return r


def _sections(md: str) -> list[str]:
    return [ln[3:] for ln in md.splitlines() if ln.startswith("## ")]


@pytest.mark.parametrize("kind", ["health", "utilization", "security"])
def test_each_report_renders_from_the_bundled_sample(kind: str) -> None:
    out = run_report(ReportRequest(kind=kind))
    md = out.report.markdown()
    front = parse_front(md)
    assert front["kind"] == kind and front["date"] == DATE and front["cluster"] == "sample"
    title = {"health": "# Cluster health", "utilization": "# Utilization", "security": "# Security posture"}
    assert md.startswith("---\n") and f"\n{title[kind]}: sample, {DATE}\n" in md
    assert out.written is None and out.dashboard_updated is None  # printed only
    json.dumps(out.to_dict())  # the JSON form is serializable


def test_health_report_content_from_the_sample() -> None:
    r = run_report(ReportRequest(kind="health")).report
    f = r.front
    assert f["by_code"] == {"CreateContainerConfigError": 1, "OOMKilled": 1, "RolloutStuck": 1}
    assert f["by_severity"]["critical"] == 2
    assert f["restarts"] == 7 and f["availability"] == 80.0 and f["workloads"] == 4
    assert _sections(r.body)[:4] == [
        "Week over week",
        "Findings by code",
        "Workloads",
        "Open recommendation PRs",
    ]
    assert "| `todo/Deployment/todo-backend` | 1/2 | 50.0 % | 6 | OOMKilled×1 |" in r.body
    assert "`config-todo-deployment-todo-frontend`" in r.body  # top recommendation, not proposed yet
    assert "No earlier health report" in r.body


def test_security_report_from_the_sample_never_prints_secret_values(tmp_path: Path) -> None:
    import yaml

    from aiops.pipeline.diagnosis import sample_paths

    items = yaml.safe_load(Path(sample_paths()[0]).read_text())
    secret = "hunter2-Very-Secret-77"
    for item in items["items"]:
        if item["kind"] == "Deployment" and item["metadata"]["name"] == "todo-backend":
            c = item["spec"]["template"]["spec"]["containers"][0]
            c.setdefault("env", []).append({"name": "API_TOKEN", "value": secret})
    snap = tmp_path / "cluster.yaml"
    snap.write_text(yaml.safe_dump(items))
    out = run_report(ReportRequest(kind="security", cluster=ClusterOptions(snapshots=(str(snap),))))
    md, js = out.report.markdown(), json.dumps(out.to_dict())
    assert "API\\_TOKEN" in md or "API_TOKEN" in md
    assert secret not in md and secret not in js
    assert out.report.front["counts"]["high"] >= 2  # hostNetwork of kube-proxy + secretInEnv


def test_reports_from_the_live_fake_cluster(sample_api: FakeApiServer, kubeconfig: str) -> None:
    opts = ClusterOptions(kubeconfig=kubeconfig, all_namespaces=True)
    sec = run_report(ReportRequest(kind="security", cluster=opts)).report
    assert sec.front["cluster"] == "fake" and sec.front["source"] == sample_api.url
    assert "privileged:kube-system/DaemonSet/kube-proxy:kube-proxy" in sec.front["finding_ids"]
    health = run_report(ReportRequest(kind="health", cluster=opts)).report
    assert health.front["by_code"]["OOMKilled"] == 1
    util = run_report(ReportRequest(kind="utilization", cluster=opts)).report
    assert util.front["usage_basis"].startswith("PodMetrics")
    assert util.front["measured_containers"] == 4


def test_utilization_with_usage_history_has_the_seed_percentiles() -> None:
    out = run_report(
        ReportRequest(
            kind="utilization",
            cluster=ClusterOptions(snapshots=(str(FIX / "seed-snapshot.json"),)),
            usage=(f"cpu={FIX / 'seed-cpu.json'}", f"memory={FIX / 'seed-memory.json'}"),
        )
    )
    (row,) = out.report.data["rows"]
    assert row["usage"]["cpu_p95"] == "100m" and row["usage"]["memory_p95"] == "120Mi"
    assert out.report.front["usage_basis"].startswith("usage history")
    assert out.report.front["totals"]["idle_cost_monthly"] >= 0


def test_append_only_writes(tmp_path: Path) -> None:
    first = write_report(tmp_path, "health", DATE, "one\n")
    assert first.to_dict() == {"path": f"history/reports/health/{DATE}.md", "status": "written"}
    assert write_report(tmp_path, "health", DATE, "one\n").status == "unchanged"
    second = write_report(tmp_path, "health", DATE, "two\n")
    assert second.path == f"history/reports/health/{DATE}-2.md" and second.status == "added"
    assert write_report(tmp_path, "health", DATE, "two\n").status == "unchanged"
    assert write_report(tmp_path, "health", DATE, "three\n").path.endswith(f"{DATE}-3.md")
    assert (tmp_path / f"history/reports/health/{DATE}.md").read_text() == "one\n"  # never overwritten


def _old_report(repo: Path, kind: str, date: str, front: dict[str, Any]) -> None:
    path = repo / "history" / "reports" / kind / f"{date}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"---\n{dump_yaml({'kind': kind, 'date': date, **front})}---\n\n# old\n")


def test_security_change_vs_last_week(repo: Path) -> None:
    _old_report(
        repo,
        "security",
        "2026-11-18",
        {
            "score": 50,
            "finding_ids": ["privileged:kube-system/DaemonSet/kube-proxy:kube-proxy", "hostPID:x/Pod/y"],
        },
    )
    _old_report(repo, "security", "2026-11-24", {"score": 10, "finding_ids": []})  # not a week old
    r = run_report(ReportRequest(kind="security", repo=str(repo))).report
    assert r.front["previous"] == "2026-11-18"
    assert r.front["score_change"] == r.front["score"] - 50
    assert r.data["resolved"] == ["hostPID:x/Pod/y"]
    assert "privileged:kube-system/DaemonSet/kube-proxy:kube-proxy" not in r.data["new"]
    assert f"Change vs 2026-11-18: score +{r.front['score'] - 50}" in r.body


def test_health_week_over_week(repo: Path) -> None:
    _old_report(
        repo,
        "health",
        "2026-11-16",
        {
            "findings": 1,
            "by_severity": {"critical": 0},
            "restarts": 2,
            "availability": 100.0,
            "open_prs": 0,
            "by_code": {"RolloutStuck": 1, "Evicted": 2},
        },
    )
    r = run_report(ReportRequest(kind="health", repo=str(repo))).report
    assert r.front["previous"] == "2026-11-16"
    assert "| Findings | 3 | 1 | +2 |" in r.body
    assert "| Availability % | 80.0 | 100.0 | -20 |" in r.body
    assert "New codes: CreateContainerConfigError, OOMKilled. Gone: Evicted." in r.body


def test_utilization_trend_charts_from_previous_reports(repo: Path) -> None:
    for day, idle in (("2026-11-23", 9.5), ("2026-11-24", 8.0)):
        _old_report(
            repo,
            "utilization",
            day,
            {
                "totals": {
                    "idle_cost_monthly": idle,
                    "cpu_requested_cores": 0.4,
                    "cpu_p95_cores": 0.1,
                    "memory_requested_gib": 0.5,
                    "memory_p95_gib": 0.4,
                }
            },
        )
    r = run_report(ReportRequest(kind="utilization", repo=str(repo))).report
    assert r.body.count("```mermaid\nxychart-beta") == 3
    assert 'x-axis ["11-23", "11-24", "11-25"]' in r.body
    assert f"line [9.5, 8, {r.front['totals']['idle_cost_monthly']:.4g}]" in r.body


def test_xychart_block_shape() -> None:
    block = xychart('Cost "$"', ["a", "b"], {"x": [1.0, 2.5], "y": [3, 4]}, y_label="$", bar="y")
    assert block.splitlines() == [
        "```mermaid",
        "xychart-beta",
        "    title \"Cost '$'\"",
        '    x-axis ["a", "b"]',
        '    y-axis "$"',
        "    line [1, 2.5]",
        "    bar [3, 4]",
        "```",
    ]


def test_write_through_repo_and_dashboard_section_is_one_and_idempotent(repo: Path) -> None:
    req = ReportRequest(kind="security", repo=str(repo), write=True, forge="local")
    out = run_report(req)
    assert out.written is not None and out.written.status == "written"
    assert (repo / out.written.path).read_text() == out.report.markdown()
    assert out.dashboard_updated is True
    board = LocalForge(repo).dashboard() or ""
    assert board.count("<!-- aiops:dashboard:security -->") == 1
    assert "`privileged` `kube-system/DaemonSet/kube-proxy`" in board
    again = run_report(req)
    assert again.written is not None and again.written.status == "unchanged"
    assert again.dashboard_updated is False
    run_report(ReportRequest(kind="health", repo=str(repo), forge="local"))
    board = LocalForge(repo).dashboard() or ""
    assert board.count("<!-- aiops:dashboard:security -->") == 1
    assert board.count("<!-- aiops:dashboard:health -->") == 1
    assert board.count("<!-- aiops:dashboard -->") == 1


def test_write_through_the_forge_without_a_checkout_proposes_the_file(repo: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(repo)
    out = run_report(ReportRequest(kind="utilization", write=True, forge="local"))
    assert out.proposal == 1 and out.written is not None
    forge = LocalForge(repo)
    (p,) = forge.find_proposals()
    assert p.branch == f"aiops/report-utilization-{DATE}"
    files = forge.changed_files(1)
    assert [f[0] for f in files] == [f"history/reports/utilization/{DATE}.md"]


def test_health_lists_open_proposals_with_approval_state(repo: Path) -> None:
    forge = LocalForge(repo, clock=lambda: "2026-11-25T09:00:00Z")
    forge.propose(
        branch="aiops/config-todo-deployment-todo-frontend",
        title="Add REDIS_URL",
        body="why",
        files={"manifests/values.yaml": "config: {}\n"},
        message="aiops: config\n\nAiops-Id: 20261125-config-todo-deployment-todo-frontend\n",
        meta={"key": "config-todo-deployment-todo-frontend", "id": "20261125-x", "tier": "medium"},
    )
    r = run_report(ReportRequest(kind="health", repo=str(repo))).report
    (row,) = r.data["proposals"]
    assert row["tier"] == "medium" and row["sla_minutes"] == 30 and row["approvals"] == 0
    assert row["required"] == 1 and row["state"] == "overdue"  # opened 09:00, judged 10:41
    assert r.front["open_prs"] == 1 and r.front["overdue_prs"] == 1
    assert "| `config-todo-deployment-todo-frontend` |" in r.body and "| #1 |" in r.body


def test_previous_reports_take_the_last_file_of_a_date(tmp_path: Path) -> None:
    write_report(tmp_path, "security", "2026-11-10", "---\nscore: 1\n---\n")
    write_report(tmp_path, "security", "2026-11-10", "---\nscore: 2\n---\n")
    write_report(tmp_path, "security", "2026-11-11", "no front matter\n")
    reports = previous_reports(DirReader(tmp_path), "security", DATE)
    assert [(r["date"], r["score"]) for r in reports] == [("2026-11-10", 2)]
    assert week_before(reports, DATE) == reports[0]
    assert previous_reports(DirReader(tmp_path), "security", "2026-11-10") == []


def test_cli_report_json_and_bad_date(capsys: Any) -> None:
    res = CliRunner().invoke(cli, ["report", "security", "-o", "json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["kind"] == "security" and 0 <= data["score"] <= 100 and data["findings"]
    from aiops.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["report", "health", "--date", "25-11-2026"])
    assert exc.value.code == 2
    assert "--date" in capsys.readouterr().err


def test_security_in_cluster_renders_the_charts_through_the_forge_without_a_checkout(
    repo: Path, monkeypatch: Any
) -> None:
    import shutil

    root = Path(__file__).resolve().parent.parent
    helm = root / "tools" / "bin" / "helm"
    if not helm.exists():
        pytest.skip("helm not installed (scripts/install-tools)")
    for path in ("manifests/charts/todo-backend", "manifests/charts/todo-frontend"):
        shutil.copytree(root / path, repo / path)
    for name in ("todo-backend", "todo-frontend"):
        src = root / f"manifests/environments/minikube/{name}.yaml"
        (repo / src.relative_to(root)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, repo / src.relative_to(root))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "charts")
    work = repo.parent / "elsewhere"  # no checkout where the report runs
    work.mkdir()
    monkeypatch.chdir(work)
    from aiops.pipeline import reports

    forge = LocalForge(repo)
    rendered = reports._render_releases(
        ReportRequest(kind="security", helm=str(helm)), reports.Settings(), forge
    )
    assert set(rendered) == {"todo-backend", "todo-frontend"}
    for name, posture in rendered.items():
        assert not isinstance(posture, str), f"{name}: {posture}"
        assert posture.checked >= 1 and posture.critical == ()
    missing = reports._render_releases(ReportRequest(kind="security"), reports.Settings())
    assert set(missing.values()) == {"no checkout (--repo) and no forge: not rendered"}


def test_dashboard_says_how_many_critical_findings_an_exemption_hid(repo: Path) -> None:
    (repo / ".github").mkdir()
    (repo / ".github" / "aiops.yaml").write_text(
        "security:\n  exemptions:\n"
        "    - {check: privileged, namespace: kube-system, name: kube-proxy, reason: cni}\n"
    )
    out = run_report(ReportRequest(kind="security", repo=str(repo), forge="local"))
    assert out.report.front["counts"]["critical"] == 0 and out.report.front["exempted_critical"] == 1
    board = LocalForge(repo).dashboard() or ""
    assert "No critical finding." in board
    assert "1 critical finding(s) exempted" in board
    assert (
        "| `privileged` | `kube-system/DaemonSet/kube-proxy` | security.exemptions privileged"
        in out.report.body
    )


def test_write_to_an_output_directory_and_write_needs_a_destination(tmp_path: Path) -> None:
    from aiops.errors import InputError

    out = run_report(ReportRequest(kind="utilization", out_dir=str(tmp_path), write=True))
    assert out.written is not None and out.written.status == "written"
    assert (tmp_path / f"history/reports/utilization/{DATE}.md").read_text() == out.report.markdown()
    with pytest.raises(InputError, match="--write needs --repo DIR, --out DIR or --forge"):
        run_report(ReportRequest(kind="utilization", write=True))
    with pytest.raises(InputError, match="--repo"):
        run_report(ReportRequest(kind="health", repo=str(tmp_path / "missing")))
