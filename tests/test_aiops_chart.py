"""The aiops chart (`manifests/charts/aiops`) with the real helm binary: the in-cluster watcher and jobs.

`helm lint --strict` and `helm template` pass with the defaults and with every option on, every
rendered object passes `kubernetes-validate --strict` (Kubernetes 1.31.0 schemas), the ClusterRole
is read-only and never reaches Secrets, the GitHub App credentials come from a Secret by reference,
the NetworkPolicy allows only DNS, the API server and GitHub, every pod is locked down, and the
chart is clean under aiops' own security checks. Uses tools/bin/helm and tools/kv
(kubernetes-validate in its own virtualenv, see tests/kvalidate.py), both from
scripts/install-tools; skipped, saying so, only when they are absent.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kvalidate import assert_valid, needs_kv
from ruamel.yaml import YAML

from aiops.gitops.helm import lint, template

ROOT = Path(__file__).resolve().parent.parent
HELM = ROOT / "tools" / "bin" / "helm"
CHART = ROOT / "manifests" / "charts" / "aiops"
READ_VERBS = {"get", "list", "watch"}

pytestmark = pytest.mark.skipif(
    not (HELM.is_file() and os.access(HELM, os.X_OK)),
    reason="tools/bin/helm is absent: run scripts/install-tools (pinned helm 4.1.4, sha256-checked)",
)

EVERYTHING = """
collect:
  enabled: true
jobs:
  apply:
    enabled: true
  validate:
    enabled: true
prometheus:
  url: http://prometheus.monitoring:9090
networkPolicy:
  metricsFrom:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: monitoring
  extraEgress:
    - to:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: monitoring
      ports:
        - port: 9090
          protocol: TCP
imagePullSecrets:
  - name: ghcr
"""


def render(tmp_path: Path, extra: str = "") -> list[dict[str, Any]]:
    values = []
    if extra:
        path = tmp_path / "values.yaml"
        path.write_text(extra)
        values.append(path)
    text = template(str(HELM), "aiops", CHART, namespace="aiops", values=values)
    return [d for d in YAML(typ="safe", pure=True).load_all(text) if d]


def of_kind(objs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objs if o["kind"] == kind]


def pod_specs(objs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {}
    for o in objs:
        if o["kind"] == "Deployment":
            out[o["metadata"]["name"]] = o["spec"]["template"]["spec"]
        elif o["kind"] == "CronJob":
            out[o["metadata"]["name"]] = o["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return out


@needs_kv
@pytest.mark.parametrize("extra", ["", EVERYTHING], ids=["defaults", "everything"])
def test_helm_lint_strict_and_kubernetes_validate_strict(extra: str, tmp_path: Path) -> None:
    values = []
    if extra:
        (tmp_path / "v.yaml").write_text(extra)
        values.append(tmp_path / "v.yaml")
    ok, output = lint(str(HELM), CHART, values=values)
    assert ok, output
    objs = render(tmp_path, extra)
    assert_valid(objs)
    kinds = sorted({o["kind"] for o in objs})
    expected = [
        "ClusterRole",
        "ClusterRoleBinding",
        "CronJob",
        "Deployment",
        "NetworkPolicy",
        "ServiceAccount",
    ]
    assert kinds == sorted(expected + (["PersistentVolumeClaim"] if extra else []))
    assert not of_kind(objs, "Secret")  # credentials are referenced, never rendered
    for obj in objs:
        if obj["kind"] not in ("ClusterRole", "ClusterRoleBinding"):
            assert obj["metadata"]["namespace"] == "aiops", obj["metadata"]["name"]


def test_cluster_role_is_read_only_and_never_reaches_secrets(tmp_path: Path) -> None:
    objs = render(tmp_path, EVERYTHING)
    (role,) = of_kind(objs, "ClusterRole")
    assert not of_kind(objs, "Role")
    granted: set[tuple[str, str]] = set()
    for rule in role["rules"]:
        assert set(rule["verbs"]) <= READ_VERBS, rule
        assert "*" not in rule["resources"] and "*" not in rule["apiGroups"], rule
        assert "secrets" not in rule["resources"], rule
        assert not rule.get("resourceNames") and not rule.get("nonResourceURLs"), rule
        granted |= {(g, r) for g in rule["apiGroups"] for r in rule["resources"]}
    # what the watcher and the jobs read: its watch streams, previous logs, the analyzers' context
    for needed in [
        ("", "pods"),
        ("", "pods/log"),
        ("", "events"),
        ("apps", "deployments"),
        ("apps", "replicasets"),
        ("", "configmaps"),
        ("", "nodes"),
        ("metrics.k8s.io", "pods"),
        ("rbac.authorization.k8s.io", "clusterrolebindings"),
    ]:
        assert needed in granted, needed
    (binding,) = of_kind(objs, "ClusterRoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    (sa,) = of_kind(objs, "ServiceAccount")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": "aiops"}
    ]
    assert sa["automountServiceAccountToken"] is False  # mounted per pod, where it is used


def test_watcher_deployment_probes_and_arguments(tmp_path: Path) -> None:
    objs = render(tmp_path)
    (deploy,) = of_kind(objs, "Deployment")
    assert deploy["spec"]["replicas"] == 1 and deploy["spec"]["strategy"]["type"] == "Recreate"
    spec = deploy["spec"]["template"]["spec"]
    (c,) = spec["containers"]
    assert c["command"] == ["aiops"]
    assert c["args"] == ["watch", "--forge", "github", "--metrics-port", "9102", "-n", "todo"]
    assert c["ports"] == [{"name": "metrics", "containerPort": 9102, "protocol": "TCP"}]
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert c["resources"]["requests"]["cpu"] and c["resources"]["requests"]["memory"]
    assert c["resources"]["limits"]["memory"]
    env = {e["name"]: e for e in c["env"]}
    assert env["GITHUB_REPOSITORY"]["value"] == "example/todo-ops"
    assert env["AIOPS_APP_ID"]["valueFrom"] == {"secretKeyRef": {"name": "aiops-github-app", "key": "app-id"}}
    assert env["AIOPS_APP_PRIVATE_KEY"]["valueFrom"] == {
        "secretKeyRef": {"name": "aiops-github-app", "key": "private-key"}
    }
    assert all("value" not in e for n, e in env.items() if n.startswith("AIOPS_APP"))


def test_all_namespaces_and_dry_run(tmp_path: Path) -> None:
    objs = render(tmp_path, "namespaces: []\nwatch:\n  dryRun: true\n")
    (deploy,) = of_kind(objs, "Deployment")
    args = deploy["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[-2:] == ["-A", "--dry-run"] and "-n" not in args


def test_cron_jobs_schedules_and_arguments(tmp_path: Path) -> None:
    objs = render(tmp_path, EVERYTHING)
    jobs = {o["metadata"]["name"].removeprefix("aiops-"): o for o in of_kind(objs, "CronJob")}
    assert sorted(jobs) == [
        "apply",
        "collect",
        "recommend",
        "report-health",
        "report-security",
        "report-utilization",
        "validate",
    ]
    assert jobs["report-health"]["spec"]["schedule"] == "0 0 * * 1"  # weekly, Monday 00:00 UTC
    assert jobs["report-health"]["spec"]["timeZone"] == "Etc/UTC"
    assert jobs["report-security"]["spec"]["schedule"].endswith("* * 1")  # weekly
    assert jobs["report-utilization"]["spec"]["schedule"].endswith("* * *")  # daily

    def args(name: str) -> list[str]:
        spec = jobs[name]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        return list(spec["containers"][0]["args"])

    assert args("recommend") == [
        "propose",
        "--live",
        "--forge",
        "github",
        "-n",
        "todo",
        "--usage-dir",
        "/data",
        "--prometheus",
        "http://prometheus.monitoring:9090",
    ]
    assert args("apply") == ["apply", "--observe", "--forge", "github"]  # never writes to the cluster
    assert args("validate") == ["validate", "--observe", "--forge", "github"]
    assert args("collect")[:4] == ["collect", "--data-dir", "/data", "--once"]
    for name, job in jobs.items():
        assert job["spec"]["concurrencyPolicy"] == "Forbid"
        pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        assert pod["restartPolicy"] == "Never"
        mounts = {m["name"]: m for m in pod["containers"][0]["volumeMounts"]}
        if name == "collect":
            assert mounts["usage"].get("readOnly") is False
            assert "AIOPS_APP_PRIVATE_KEY" not in {e["name"] for e in pod["containers"][0]["env"]}
        elif name in ("recommend", "report-utilization"):
            assert mounts["usage"]["readOnly"] is True
        else:
            assert "usage" not in mounts
    (pvc,) = of_kind(objs, "PersistentVolumeClaim")
    assert pvc["metadata"]["name"] == "aiops-usage"


def test_every_pod_is_locked_down(tmp_path: Path) -> None:
    specs = pod_specs(render(tmp_path, EVERYTHING))
    assert len(specs) == 8
    for name, spec in specs.items():
        assert spec["automountServiceAccountToken"] is True, name  # each one reads the cluster
        assert spec["serviceAccountName"] == "aiops"
        psc = spec["securityContext"]
        assert psc["runAsNonRoot"] is True and psc["runAsUser"] > 0
        assert psc["seccompProfile"] == {"type": "RuntimeDefault"}
        assert not spec.get("hostNetwork") and not spec.get("hostPID") and not spec.get("hostIPC")
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["capabilities"] == {"drop": ["ALL"]}, name
            assert not sc.get("privileged")
            assert c["resources"]["requests"] and c["resources"]["limits"]["memory"], name
            assert any(m["mountPath"] == "/tmp" for m in c["volumeMounts"])  # the only writable path
        assert all("hostPath" not in v for v in spec["volumes"])


def test_network_policy_allows_only_dns_api_server_and_github(tmp_path: Path) -> None:
    objs = render(tmp_path, "networkPolicy:\n  apiServer:\n    - {cidr: 10.0.0.1/32, port: 6443}\n")
    (np,) = of_kind(objs, "NetworkPolicy")
    spec = np["spec"]
    assert spec["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "aiops",
        "app.kubernetes.io/instance": "aiops",
    }
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert spec["ingress"] == [{"ports": [{"port": 9102, "protocol": "TCP"}]}]
    egress = spec["egress"]
    assert len(egress) == 3
    dns, api, github = egress
    assert {(p["port"], p["protocol"]) for p in dns["ports"]} == {(53, "UDP"), (53, "TCP")}
    assert dns["to"][0]["podSelector"]["matchLabels"] == {"k8s-app": "kube-dns"}
    assert api == {"to": [{"ipBlock": {"cidr": "10.0.0.1/32"}}], "ports": [{"port": 6443, "protocol": "TCP"}]}
    assert github["ports"] == [{"port": 443, "protocol": "TCP"}]
    assert "10.0.0.0/8" in github["to"][0]["ipBlock"]["except"]  # the public internet, not the cluster
    # every pod the chart makes is selected by the policy
    labels = spec["podSelector"]["matchLabels"]
    for obj in objs:
        if obj["kind"] == "Deployment":
            pod_labels = obj["spec"]["template"]["metadata"]["labels"]
        elif obj["kind"] == "CronJob":
            pod_labels = obj["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
        else:
            continue
        assert labels.items() <= pod_labels.items(), obj["metadata"]["name"]


def test_chart_is_clean_under_the_security_checks(tmp_path: Path) -> None:
    security = pytest.importorskip("aiops.security")
    from aiops.model import Snapshot

    for extra in ("", EVERYTHING):
        objs = render(tmp_path, extra)
        posture = security.run_checks(Snapshot(items=tuple(objs), at=datetime(2026, 11, 25, tzinfo=UTC)))
        assert posture.checked >= 6
        assert not posture.critical, [f.to_dict() for f in posture.critical]
        assert [f.to_dict() for f in posture.findings] == []  # nothing at any severity
        assert posture.score == 100


def test_the_github_repository_is_required(tmp_path: Path) -> None:
    from aiops.errors import InputError

    with pytest.raises(InputError, match=r"github\.repository"):
        render(tmp_path, 'github:\n  repository: ""\n')


def test_aiops_report_security_on_the_rendered_chart(tmp_path: Path) -> None:
    """The same through the command a user runs: `aiops report security --snapshot <rendered List>`."""
    import json

    if not (ROOT / "aiops" / "cli" / "cmd_report.py").is_file():
        pytest.skip("aiops report is not built yet")
    from opsrepo import aiops

    listing = tmp_path / "chart.json"
    listing.write_text(
        json.dumps({"apiVersion": "v1", "kind": "List", "items": render(tmp_path, EVERYTHING)})
    )
    run = aiops("report", "security", "--snapshot", str(listing), "-o", "json")
    assert run.code == 0, run.err
    report = run.json()
    assert report["counts"]["critical"] == 0 and report["findings"] == []
    assert report["score"] == 100 and report["checked_objects"] >= 8
