"""Security posture checks: a known-bad pod is flagged check by check, a hardened one is not;
RBAC, NetworkPolicy coverage, exemptions, scoring, and the repo's own charts rendered by helm."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from aiops.model.snapshot import Snapshot
from aiops.security import run_checks
from aiops.security.checks import CHECKS, image_unpinned
from aiops.settings import Exemption

ROOT = Path(__file__).resolve().parent.parent
AT = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
SECRET = "s3cr3t-Pa55w0rd-xyz"


def namespace(name: str, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name, "uid": f"ns-{name}"}
    if annotations:
        md["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": md, "status": {"phase": "Active"}}


def bad_pod(name: str = "bad", ns: str = "apps", annotations: dict[str, str] | None = None) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name, "namespace": ns, "uid": f"pod-{name}"}
    if annotations:
        md["annotations"] = annotations
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": md,
        "spec": {
            "hostNetwork": True,
            "hostPID": True,
            "containers": [
                {
                    "name": "app",
                    "image": "nginx:latest",
                    "securityContext": {
                        "privileged": True,
                        "runAsUser": 0,
                        "capabilities": {"add": ["SYS_ADMIN", "NET_BIND_SERVICE"]},
                    },
                    "env": [
                        {"name": "DB_PASSWORD", "value": SECRET},
                        {"name": "LOG_LEVEL", "value": "debug"},
                    ],
                    "volumeMounts": [{"name": "host", "mountPath": "/host"}],
                }
            ],
            "volumes": [{"name": "host", "hostPath": {"path": "/var/run", "type": "Directory"}}],
        },
        "status": {"phase": "Running"},
    }


def hardened_pod(name: str = "good", ns: str = "apps") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "uid": f"pod-{name}"},
        "spec": {
            "serviceAccountName": "web",
            "automountServiceAccountToken": False,
            "securityContext": {"runAsNonRoot": True, "runAsUser": 10001},
            "containers": [
                {
                    "name": "web",
                    "image": "ghcr.io/example/web:1.4.2",
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "readOnlyRootFilesystem": True,
                        "capabilities": {"drop": ["ALL"]},
                    },
                    "resources": {
                        "requests": {"cpu": "50m", "memory": "64Mi"},
                        "limits": {"memory": "128Mi"},
                    },
                    "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
                    "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
                    "env": [
                        {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}}
                    ],
                }
            ],
        },
        "status": {"phase": "Running"},
    }


def netpol(ns: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "default-deny", "namespace": ns, "uid": f"np-{ns}"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    }


def snap(*items: dict[str, Any]) -> Snapshot:
    return Snapshot(items=tuple(items), at=AT)


def checks_of(posture: Any, name: str | None = None) -> set[str]:
    return {f.check for f in posture.findings if name is None or f.object.name == name}


def test_known_bad_pod_is_flagged_check_by_check() -> None:
    p = run_checks(snap(namespace("apps"), bad_pod()))
    assert checks_of(p, "bad") == {
        "privileged",
        "hostNetwork",
        "hostPID",
        "hostPath",
        "runAsNonRoot",
        "readOnlyRootFilesystem",
        "capabilities",
        "imageTag",
        "requests",
        "limits",
        "probes",
        "defaultServiceAccountToken",
        "secretInEnv",
    }
    by = {f.check: f for f in p.findings}
    assert by["privileged"].severity == "critical"
    assert by["runAsNonRoot"].severity == "high"  # runAsUser 0, not merely unset
    assert by["capabilities"].severity == "high" and "SYS_ADMIN" in by["capabilities"].message
    assert "NET_BIND_SERVICE" not in by["capabilities"].message
    assert "allowPrivilegeEscalation" not in checks_of(p)  # privileged says it already
    assert "DB_PASSWORD" in by["secretInEnv"].message
    assert [f.container for f in p.findings if f.check == "secretInEnv"] == ["app"]  # LOG_LEVEL is no secret
    assert "networkPolicy" in checks_of(p)
    # the secret value is in no finding, in no form
    assert SECRET not in json.dumps(p.to_dict())
    assert p.score is not None and p.score < 50


def test_hardened_pod_has_no_finding() -> None:
    sa = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "web", "namespace": "apps", "uid": "sa-web"},
        "automountServiceAccountToken": False,
    }
    p = run_checks(snap(namespace("apps"), netpol("apps"), sa, hardened_pod()))
    assert p.findings == ()
    assert p.score == 100 and p.checked == 2  # the pod and its namespace


def test_each_check_id_is_stable_and_documented() -> None:
    assert set(CHECKS) == {
        "privileged",
        "hostPath",
        "hostNetwork",
        "hostPID",
        "hostIPC",
        "runAsNonRoot",
        "readOnlyRootFilesystem",
        "allowPrivilegeEscalation",
        "capabilities",
        "imageTag",
        "requests",
        "limits",
        "probes",
        "defaultServiceAccountToken",
        "secretInEnv",
        "wildcardRBAC",
        "networkPolicy",
    }
    for c in CHECKS.values():
        assert c.severity in ("critical", "high", "medium", "low") and c.remediation


@pytest.mark.parametrize(
    ("image", "unpinned"),
    [
        ("nginx", True),
        ("nginx:latest", True),
        ("registry:5000/team/app", True),
        ("registry:5000/team/app:1.2", False),
        ("nginx@sha256:" + "a" * 64, False),
        ("ghcr.io/x/y:v3", False),
    ],
)
def test_image_tags(image: str, unpinned: bool) -> None:
    assert image_unpinned(image) is unpinned


def deployment(
    name: str, ns: str, sa: str | None, *, annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    pod = hardened_pod(name, ns)
    spec = pod["spec"]
    if sa is None:
        spec.pop("serviceAccountName")
        spec.pop("automountServiceAccountToken")
    else:
        spec["serviceAccountName"] = sa
    md: dict[str, Any] = {"name": name, "namespace": ns, "uid": f"deploy-{name}"}
    if annotations:
        md["annotations"] = annotations
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": md,
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": spec},
        },
        "status": {"replicas": 1, "readyReplicas": 1},
    }


def wildcard_role() -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "god-mode", "uid": "cr-god"},
        "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}],
    }


def binding(sa: str, ns: str = "apps", role: str = "god-mode") -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": f"{sa}-{role}", "uid": f"crb-{sa}-{role}"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": ns}],
    }


def test_wildcard_rbac_bound_to_a_workload_service_account_is_critical() -> None:
    p = run_checks(snap(deployment("api", "apps", "api"), wildcard_role(), binding("api"), binding("unused")))
    rbac = [f for f in p.findings if f.check == "wildcardRBAC"]
    assert len(rbac) == 1  # the binding of an SA no workload uses is not flagged
    f = rbac[0]
    assert (
        f.severity == "critical" and f.object.kind == "ClusterRoleBinding" and f.object.name == "api-god-mode"
    )
    assert "apps/Deployment/api" in f.message and "god-mode" in f.message
    # cluster-admin is a wildcard role even when the ClusterRole object was not read
    p2 = run_checks(snap(deployment("api", "apps", "api"), binding("api", role="cluster-admin")))
    assert [f.object.name for f in p2.findings if f.check == "wildcardRBAC"] == ["api-cluster-admin"]


def test_narrow_rbac_is_not_flagged() -> None:
    role = wildcard_role()
    role["rules"] = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]
    p = run_checks(snap(deployment("api", "apps", "api"), role, binding("api")))
    assert "wildcardRBAC" not in checks_of(p)


def test_network_policy_coverage_needs_namespace_data_and_skips_system_namespaces() -> None:
    items = (deployment("api", "apps", "api"), deployment("dns", "kube-system", "dns"))
    p = run_checks(snap(namespace("apps"), namespace("kube-system"), *items))
    assert [str(f.object) for f in p.findings if f.check == "networkPolicy"] == ["Namespace/apps"]
    p2 = run_checks(snap(namespace("apps"), netpol("apps"), *items))
    assert "networkPolicy" not in checks_of(p2)
    p3 = run_checks(snap(*items))  # a partial dump: no Namespace/NetworkPolicy objects
    assert "networkPolicy" not in checks_of(p3)
    assert any("networkPolicy not checked" in n for n in p3.notes)


def test_pods_of_a_controller_in_the_snapshot_are_judged_through_its_template() -> None:
    d = deployment("api", "apps", None)  # default SA → one finding on the Deployment
    pod = hardened_pod("api-5d9c-abcde")
    pod["spec"].pop("serviceAccountName")
    pod["spec"].pop("automountServiceAccountToken")
    pod["metadata"]["ownerReferences"] = [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": "api",
            "uid": "deploy-api",
            "controller": True,
        }
    ]
    p = run_checks(snap(d, pod))
    assert [(f.check, f.object.kind) for f in p.findings] == [("defaultServiceAccountToken", "Deployment")]
    # without its controller in the snapshot, the pod is judged itself
    p2 = run_checks(snap(pod))
    assert [(f.check, f.object.kind) for f in p2.findings] == [("defaultServiceAccountToken", "Pod")]


def test_annotation_exemptions_on_object_and_namespace() -> None:
    pod = bad_pod(annotations={"aiops.io/ignore": "Privileged, hostPath"})
    p = run_checks(snap(namespace("apps", {"aiops.io/ignore": "networkPolicy,readOnlyRootFilesystem"}), pod))
    kept = checks_of(p)
    assert not {"privileged", "hostPath", "networkPolicy", "readOnlyRootFilesystem"} & kept
    assert "hostNetwork" in kept
    reasons = {e.finding.check: e.reason for e in p.exempted}
    assert 'aiops.io/ignore="Privileged, hostPath"' in reasons["privileged"]
    assert "on Namespace apps" in reasons["networkPolicy"]
    assert "its namespace" in reasons["readOnlyRootFilesystem"]
    everything = run_checks(snap(namespace("apps"), bad_pod(annotations={"aiops.io/ignore": "true"})))
    assert checks_of(everything) == {"networkPolicy"}
    assert everything.score is not None and everything.score > p.score  # type: ignore[operator]


def test_settings_exemptions_match_namespace_and_name_globs() -> None:
    rules = [
        Exemption(check="hostPath", namespace="kube-system", name="*", reason="node agents"),
        Exemption(check="host*", namespace="apps", name="ba*", reason="legacy"),
    ]
    p = run_checks(snap(bad_pod(), bad_pod("other", ns="kube-system")), rules)
    exempt = {(e.finding.check, e.finding.object.name) for e in p.exempted}
    assert exempt == {("hostPath", "other"), ("hostPath", "bad"), ("hostNetwork", "bad"), ("hostPID", "bad")}
    assert ("hostNetwork", "other") in {(f.check, f.object.name) for f in p.findings}
    assert any("node agents" in e.reason for e in p.exempted)


def test_nothing_checked_is_no_score_not_a_perfect_one() -> None:
    p = run_checks(snap(namespace("apps")))
    assert p.score is None and p.checked == 0
    assert any("nothing was checked" in n for n in p.notes)


def test_the_sample_flags_kube_proxy_but_the_exemption_of_the_design_clears_hostpath() -> None:
    from aiops.pipeline.diagnosis import ClusterOptions, read_snapshot

    s = read_snapshot(ClusterOptions())
    p = run_checks(s)
    crit = [(f.check, str(f.object)) for f in p.critical]
    assert crit == [("privileged", "kube-system/DaemonSet/kube-proxy")]
    before = copy.deepcopy(p.to_dict())
    assert run_checks(s).to_dict() == before  # deterministic


def test_repo_charts_rendered_by_helm_have_no_critical_finding(tmp_path: Path) -> None:
    from aiops.gitops.helm import find_helm
    from aiops.pipeline.reports import ReportRequest, _render_releases
    from aiops.settings import load_settings

    if find_helm(repo_dir=ROOT) is None:
        pytest.skip("helm not installed (scripts/install-tools)")
    settings = load_settings(ROOT / ".github" / "aiops.yaml")
    rendered = _render_releases(ReportRequest(kind="security", repo=str(ROOT)), settings)
    assert rendered, "no release configured"
    for name, posture in rendered.items():
        assert not isinstance(posture, str), f"{name}: {posture}"
        assert posture.checked >= 1
        assert posture.critical == (), f"{name}: {[f.to_dict() for f in posture.critical]}"
        assert {f.object.namespace for f in posture.findings} <= {settings.apply.releases[name].namespace}
