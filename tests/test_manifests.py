"""The reference app's charts with the real helm binary, and aiops.gitops.helm (rendered diffs).

`helm lint --strict` and `helm template` pass on both charts with the Minikube values, the rendered
objects pass `kubernetes-validate --strict` (Kubernetes 1.31.0 schemas), the charts follow the
conventions aiops relies on, and a planned change renders to a diff of exactly the affected objects.
Uses tools/bin/helm and tools/kv (kubernetes-validate in its own virtualenv, see tests/kvalidate.py),
both from scripts/install-tools; skipped, saying so, only when they are absent.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from kvalidate import assert_valid, needs_kv, validate
from ruamel.yaml import YAML

from aiops.gitops.helm import (
    NOT_AVAILABLE,
    affected_releases,
    diff_rendered,
    find_helm,
    helm_version,
    lint,
    parse_version,
    render_diff,
    template,
)
from aiops.gitops.plan import plan
from aiops.model.changes import FileChange
from aiops.model.k8s import ObjectRef
from aiops.model.recommendations import Recommendation
from aiops.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
HELM = ROOT / "tools" / "bin" / "helm"
CHARTS = {"todo-backend": ("backend", 8000), "todo-frontend": ("frontend", 3000)}

needs_helm = pytest.mark.skipif(
    not (HELM.is_file() and os.access(HELM, os.X_OK)),
    reason="tools/bin/helm is absent: run scripts/install-tools (pinned helm 4.1.4, sha256-checked)",
)


def chart(name: str) -> Path:
    return ROOT / "manifests" / "charts" / name


def env_values(name: str) -> Path:
    return ROOT / "manifests" / "environments" / "minikube" / f"{name}.yaml"


def render(name: str, *extra: Path) -> list[dict[str, Any]]:
    text = template(str(HELM), name, chart(name), namespace="todo", values=[env_values(name), *extra])
    return [d for d in YAML(typ="safe", pure=True).load_all(text) if d]


def by_kind(objs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [o for o in objs if o["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]


@needs_helm
@pytest.mark.parametrize("name", sorted(CHARTS))
def test_helm_lint_strict_passes(name: str) -> None:
    ok, output = lint(str(HELM), chart(name), values=[env_values(name)])
    assert ok, output
    assert "0 chart(s) failed" in output


@needs_helm
@needs_kv
@pytest.mark.parametrize("name", sorted(CHARTS))
@pytest.mark.parametrize("autoscaling", [False, True])
def test_rendered_objects_pass_kubernetes_validate_strict(
    name: str, autoscaling: bool, tmp_path: Path
) -> None:
    extra = tmp_path / "hpa.yaml"
    extra.write_text(f"autoscaling:\n  enabled: {str(autoscaling).lower()}\ningress:\n  enabled: true\n")
    objs = render(name, extra)
    kinds = sorted(o["kind"] for o in objs)
    expected = ["ConfigMap", "Deployment", "Ingress", "Pod", "Service", "ServiceAccount"]
    if autoscaling:
        expected.append("HorizontalPodAutoscaler")
    assert kinds == sorted(expected)
    assert_valid(objs)
    deploy = by_kind(objs, "Deployment")
    assert ("replicas" in deploy["spec"]) is not autoscaling  # helm-create: the HPA owns replicas


@needs_kv
def test_kubernetes_validate_strict_rejects_what_it_should() -> None:
    good = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": "b"}}
    extra = {**good, "extra": 1}
    wrong_type = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {"replicas": "two", "selector": {}, "template": {}},
    }
    unknown = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    ok, bad_extra, bad_type, no_schema = validate([good, extra, wrong_type, unknown])
    assert ok is None
    assert bad_extra is not None and "ValidationError" in bad_extra and "'extra' was unexpected" in bad_extra
    assert bad_type is not None and "at spec.replicas" in bad_type
    assert no_schema is not None and no_schema.startswith("SchemaNotFoundError")  # never passes silently
    with pytest.raises(AssertionError, match="ConfigMap/x: ValidationError"):
        assert_valid([good, extra])


@needs_helm
@pytest.mark.parametrize("name", sorted(CHARTS))
def test_chart_conventions_aiops_relies_on(name: str) -> None:
    container_name, port = CHARTS[name]
    objs = render(name)
    deploy = by_kind(objs, "Deployment")
    meta, pod = deploy["metadata"], deploy["spec"]["template"]
    assert meta["name"] == name
    assert meta["labels"]["app.kubernetes.io/instance"] == name
    assert meta["labels"]["app.kubernetes.io/managed-by"] == "Helm"
    containers = pod["spec"]["containers"]
    assert [c["name"] for c in containers] == [container_name]
    c = containers[0]
    assert c["ports"] == [{"name": "http", "containerPort": port, "protocol": "TCP"}]
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert c["resources"]["requests"] and "cpu" not in c["resources"].get("limits", {})
    values = YAML(typ="safe", pure=True).load(env_values(name).read_text())
    cm = by_kind(objs, "ConfigMap")
    assert cm["metadata"]["name"] == f"{name}-config"
    # environment config is merged over the chart's defaults, every value rendered as a string
    assert {k: str(v) for k, v in values["config"].items()}.items() <= cm["data"].items()
    assert {"configMapRef": {"name": f"{name}-config"}} in c["envFrom"]
    assert len(pod["metadata"]["annotations"]["checksum/config"]) == 64
    assert deploy["spec"]["replicas"] == values["replicaCount"]


@needs_helm
def test_config_change_rolls_the_pods_and_pod_annotations_render(tmp_path: Path) -> None:
    base = by_kind(render("todo-backend"), "Deployment")["spec"]["template"]["metadata"]["annotations"]
    extra = tmp_path / "more.yaml"
    extra.write_text(
        'config:\n  REDIS_URL: ""\npodAnnotations:\n  aiops.io/restartedAt: "2026-11-25T10:00:00Z"\n'
    )
    changed = by_kind(render("todo-backend", extra), "Deployment")["spec"]["template"]["metadata"][
        "annotations"
    ]
    assert changed["checksum/config"] != base["checksum/config"]
    assert changed["aiops.io/restartedAt"] == "2026-11-25T10:00:00Z"


def test_policy_file_spells_out_every_settings_key() -> None:
    """.github/aiops.yaml shows every DESIGN §4.9 key (each dataclass field of Settings, nested)."""
    import dataclasses

    from aiops.settings import Settings

    data = YAML(typ="safe", pure=True).load((ROOT / ".github" / "aiops.yaml").read_text())
    missing: list[str] = []

    def walk(tp: Any, value: Any, path: str) -> None:
        for f in dataclasses.fields(tp):
            where = f"{path}{f.name}"
            if not isinstance(value, dict) or f.name not in value:
                missing.append(where)
                continue
            sub = getattr(tp(), f.name) if _constructible(tp) else None
            if dataclasses.is_dataclass(sub) and not isinstance(sub, type):
                walk(type(sub), value[f.name], where + ".")

    walk(Settings, data, "")
    assert missing == []
    assert load_settings(ROOT / ".github" / "aiops.yaml", required=True) is not None


def _constructible(tp: Any) -> bool:
    try:
        tp()
    except TypeError:
        return False
    return True


# ---- aiops.gitops.helm -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "major", "flag"),
    [
        ("v4.1.4+g05fa379", 4, "--rollback-on-failure"),
        ('version.BuildInfo{Version:"v3.14.4", GitCommit:"81c902a1"}', 3, "--atomic"),
        ("v3.9.0+g7ceeda6", 3, "--atomic"),
    ],
)
def test_version_detection(text: str, major: int, flag: str) -> None:
    v = parse_version(text)
    assert v.major == major and v.rollback_flag == flag


@needs_helm
def test_real_helm_version() -> None:
    v = helm_version(str(HELM))
    assert v.major in (3, 4)
    assert str(v).startswith(f"v{v.major}.")


def test_helm_missing_is_a_result_not_a_crash(tmp_path: Path) -> None:
    assert find_helm(str(tmp_path / "no-helm")) is None
    fc = FileChange(
        "manifests/environments/minikube/todo-backend.yaml", "replicaCount: 1\n", "replicaCount: 2\n"
    )
    out = render_diff(
        [fc], settings=load_settings(ROOT / ".github/aiops.yaml"), repo_dir=ROOT, helm=str(tmp_path / "x")
    )
    assert [(r.release, r.available, r.reason) for r in out] == [("todo-backend", False, NOT_AVAILABLE)]
    assert "not rendered" in out[0].markdown()


def test_affected_releases() -> None:
    s = load_settings(ROOT / ".github/aiops.yaml")
    files = [
        FileChange("manifests/charts/todo-frontend/templates/deployment.yaml", "a", "b"),
        FileChange("history/prompts/2026/11/x--recommendation.md", None, "x"),
    ]
    assert affected_releases(files, s) == ["todo-frontend"]
    assert affected_releases([FileChange("README.md", "a", "b")], s) == []


def _read(path: str) -> str | None:
    p = ROOT / path
    return p.read_text(encoding="utf-8") if p.is_file() else None


@needs_helm
def test_planned_change_renders_to_a_diff_of_the_affected_objects() -> None:
    s = load_settings(ROOT / ".github/aiops.yaml")
    target = ObjectRef("Deployment", "todo", "todo-backend")
    proposed = {"backend": {"requests": {"cpu": "130m", "memory": "156Mi"}, "limits": {"memory": "200Mi"}}}
    changes = plan(Recommendation("rightsize", target, {}, proposed, "t"), settings=s, read_file=_read)
    assert isinstance(changes, tuple)
    (result,) = render_diff(changes, settings=s, repo_dir=ROOT, helm=str(HELM))
    assert result.available and result.helm_version and result.helm_version.startswith("v")
    assert result.objects == ("Deployment/todo-backend",)
    assert "-              memory: 512Mi\n+              memory: 200Mi\n" in result.diff
    assert "+              cpu: 130m\n" in result.diff
    assert result.markdown().count("```") == 2

    config = plan(
        Recommendation("config", target, {}, {"key": "REDIS_URL", "configmap": "todo-backend-config"}, "t"),
        settings=s,
        read_file=_read,
    )
    assert isinstance(config, tuple)
    (rendered,) = render_diff(config, settings=s, repo_dir=ROOT, helm=str(HELM))
    assert rendered.objects == ("ConfigMap/todo-backend-config", "Deployment/todo-backend")
    assert '+  REDIS_URL: ""' in rendered.diff and "checksum/config" in rendered.diff


@needs_helm
def test_render_without_a_checkout_reads_through_the_forge_callables() -> None:
    """The in-cluster watcher has no checkout: chart and values come from read_tree/read_file."""
    s = load_settings(ROOT / ".github/aiops.yaml")
    calls: list[str] = []

    def read_tree(directory: str) -> dict[str, str | bytes] | None:
        calls.append(directory)
        base = ROOT / directory
        if not base.is_dir():
            return None
        return {str(p.relative_to(base)): p.read_bytes() for p in base.rglob("*") if p.is_file()}

    changes = plan(
        Recommendation("scale", ObjectRef("Deployment", "todo", "todo-frontend"), {}, {"replicas": 3}, "t"),
        settings=s,
        read_file=_read,
    )
    assert isinstance(changes, tuple)
    (r,) = render_diff(changes, settings=s, read_file=_read, read_tree=read_tree, helm=str(HELM))
    assert r.available, r.reason
    assert r.objects == ("Deployment/todo-frontend",)
    assert "-  replicas: 1\n+  replicas: 3\n" in r.diff
    assert calls == ["manifests/charts/todo-frontend", "manifests/charts/todo-frontend"]
    (none,) = render_diff(changes, settings=s)
    assert not none.available and "no checkout" in none.reason


@needs_helm
def test_a_change_that_breaks_the_chart_is_reported() -> None:
    s = load_settings(ROOT / ".github/aiops.yaml")
    path = "manifests/environments/minikube/todo-frontend.yaml"
    old = _read(path)
    assert old is not None
    broken = FileChange(path, old, old.replace("replicaCount: 1", "replicaCount: [1"))
    (r,) = render_diff([broken], settings=s, repo_dir=ROOT, helm=str(HELM))
    assert not r.available and "helm template fails on this change" in r.reason


def test_diff_rendered_names_added_and_removed_objects() -> None:
    a = "---\n# Source: x/a.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n"
    b = "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n"
    diff, objects = diff_rendered(a, b)
    assert objects == ("ConfigMap/a", "ConfigMap/b")
    assert "--- a/ConfigMap/a\n+++ /dev/null" in diff and "--- /dev/null\n+++ b/ConfigMap/b" in diff
    assert diff_rendered(a, a) == ("", ())
