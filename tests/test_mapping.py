"""Target mapping (aiops.gitops.mapping): workload + container → file + key path, or Unmapped with why."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from aiops.gitops.mapping import Mapped, Unmapped, resolve
from aiops.gitops.patch import Document, Select
from aiops.model.k8s import ObjectRef
from aiops.settings import Settings, load_settings, load_settings_text

ROOT = Path(__file__).resolve().parent.parent
BACKEND = ObjectRef("Deployment", "todo", "todo-backend")
ENV = "manifests/environments/minikube/todo-backend.yaml"


def read_repo(path: str) -> str | None:
    p = ROOT / path
    return p.read_text(encoding="utf-8") if p.is_file() else None


def live_deployment(
    name: str = "todo-backend",
    *,
    annotations: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    containers: tuple[str, ...] = ("backend",),
) -> dict[str, Any]:
    """A Deployment as `kubectl get deploy -o json` returns it for a Helm-installed release."""
    sel = {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": name}
    std_labels = {
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/managed-by": "Helm",
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/version": "0.3.0",
        "helm.sh/chart": f"{name}-0.3.0",
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": "todo",
            "uid": "6f1d2a4e-0c1b-4f57-9d0a-6a3e9c1b2d10",
            "resourceVersion": "48213",
            "generation": 3,
            "creationTimestamp": "2026-11-20T09:12:44Z",
            "labels": std_labels if labels is None else labels,
            "annotations": {
                "deployment.kubernetes.io/revision": "3",
                "meta.helm.sh/release-name": name,
                "meta.helm.sh/release-namespace": "todo",
            }
            if annotations is None
            else annotations,
        },
        "spec": {
            "replicas": 2,
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
            "selector": {"matchLabels": sel},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
            "template": {
                "metadata": {"labels": dict(std_labels) if labels is None else dict(labels)},
                "spec": {
                    "containers": [
                        {
                            "name": c,
                            "image": f"todo-backend:0.3.0-{c}",
                            "imagePullPolicy": "IfNotPresent",
                            "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}},
                            "terminationMessagePath": "/dev/termination-log",
                            "terminationMessagePolicy": "File",
                        }
                        for c in containers
                    ],
                    "dnsPolicy": "ClusterFirst",
                    "restartPolicy": "Always",
                    "schedulerName": "default-scheduler",
                    "securityContext": {"runAsNonRoot": True},
                    "terminationGracePeriodSeconds": 30,
                },
            },
        },
        "status": {"observedGeneration": 3, "replicas": 2, "readyReplicas": 2, "availableReplicas": 2},
    }


def no_targets() -> Settings:
    return Settings()


def test_release_annotation_maps_to_the_last_values_file_with_helm_create_keys() -> None:
    m = resolve(BACKEND, "backend", settings=no_targets(), read_file=read_repo, live=live_deployment())
    assert isinstance(m, Mapped)
    assert m.file == ENV and m.format == "values"
    assert m.release == "todo-backend" and m.chart == "manifests/charts/todo-backend"
    assert m.key("resources") == ("resources",)
    assert m.key("replicas") == ("replicaCount",)
    assert m.key("autoscaling") == ("autoscaling",)
    assert m.key("pod_annotations") == ("podAnnotations",)
    assert m.key("config") == ("config",)
    assert "annotation meta.helm.sh/release-name" in m.source


def test_instance_label_alone_is_enough() -> None:
    live = live_deployment(annotations={"deployment.kubernetes.io/revision": "1"})
    m = resolve(BACKEND, "backend", settings=no_targets(), read_file=read_repo, live=live)
    assert isinstance(m, Mapped) and m.release == "todo-backend"
    assert "label app.kubernetes.io/instance" in m.source
    only_template = live_deployment(annotations={}, labels={})
    only_template["spec"]["template"]["metadata"]["labels"] = {"app.kubernetes.io/instance": "todo-backend"}
    m2 = resolve(BACKEND, "backend", settings=no_targets(), read_file=read_repo, live=only_template)
    assert isinstance(m2, Mapped) and "pod template label" in m2.source


def test_most_specific_values_file_is_the_last_listed() -> None:
    s = load_settings_text(
        "apply:\n  releases:\n    todo-backend:\n      chart: manifests/charts/todo-backend\n"
        "      namespace: todo\n      values: [manifests/charts/todo-backend/values.yaml, " + ENV + "]\n"
    )
    m = resolve(BACKEND, "backend", settings=s, read_file=read_repo, live=live_deployment())
    assert isinstance(m, Mapped) and m.file == ENV
    assert m.values == ("manifests/charts/todo-backend/values.yaml", ENV)


def test_targets_entry_wins_over_release_metadata() -> None:
    s = load_settings_text(
        "targets:\n"
        "  - workload: todo/Deployment/todo-backend\n"
        "    container: backend\n"
        "    file: manifests/environments/minikube/todo-frontend.yaml\n"
        "    keys: {resources: backend.resources, replicas: backendReplicas}\n"
    )
    m = resolve(BACKEND, "backend", settings=s, read_file=read_repo, live=live_deployment())
    assert isinstance(m, Mapped)
    assert m.file == "manifests/environments/minikube/todo-frontend.yaml"
    assert m.key("resources") == ("backend", "resources")
    assert m.key("replicas") == ("backendReplicas",)
    assert m.source.startswith("targets entry todo/Deployment/todo-backend")
    # a container-specific entry still serves workload-level fields
    w = resolve(BACKEND, None, ["replicas"], settings=s, read_file=read_repo, live=live_deployment())
    assert isinstance(w, Mapped) and w.key("replicas") == ("backendReplicas",)


def test_project_policy_file_maps_both_releases() -> None:
    s = load_settings(ROOT / ".github" / "aiops.yaml", required=True)
    for name, container in (("todo-backend", "backend"), ("todo-frontend", "frontend")):
        ref = ObjectRef("Deployment", "todo", name)
        m = resolve(
            ref,
            container,
            settings=s,
            read_file=read_repo,
            live=live_deployment(name, containers=(container,)),
        )
        assert isinstance(m, Mapped), m
        assert m.file == f"manifests/environments/minikube/{name}.yaml"


def test_unknown_release_is_unmapped_with_a_snippet_that_maps_it() -> None:
    ref = ObjectRef("Deployment", "todo", "todo-worker")
    live = live_deployment("todo-worker", containers=("worker",))
    files = {"manifests/environments/minikube/todo-worker.yaml": "resources: {}\n"}
    read = lambda p: files.get(p) or read_repo(p)  # noqa: E731
    u = resolve(ref, "worker", settings=no_targets(), read_file=read, live=live)
    assert isinstance(u, Unmapped)
    assert "Helm release todo-worker" in u.reason and "not listed in apply.releases" in u.reason
    # the snippet is valid policy, and with it the same target maps
    s = load_settings_text(u.snippet)
    assert s.targets[0].workload == "todo/Deployment/todo-worker"
    m = resolve(ref, "worker", settings=s, read_file=read, live=live)
    assert isinstance(m, Mapped) and m.file == "manifests/environments/minikube/todo-worker.yaml"
    skipped = u.skipped("rightsize")
    assert skipped.cause == "unmapped" and skipped.snippet == u.snippet
    assert skipped.to_dict()["snippet"].startswith("targets:\n  - workload: todo/Deployment/todo-worker")


def test_object_without_helm_metadata_is_never_guessed() -> None:
    live = live_deployment(annotations={}, labels={})
    u = resolve(BACKEND, "backend", settings=no_targets(), read_file=read_repo, live=live)
    assert isinstance(u, Unmapped)
    assert "carries no Helm release metadata" in u.reason


def test_without_a_live_object_helm_create_full_name_maps() -> None:
    m = resolve(BACKEND, "backend", settings=no_targets(), read_file=read_repo)
    assert isinstance(m, Mapped) and m.release == "todo-backend" and "helm-create full name" in m.source
    other_ns = ObjectRef("Deployment", "staging", "todo-backend")
    assert isinstance(resolve(other_ns, "backend", settings=no_targets(), read_file=read_repo), Unmapped)


def test_release_namespace_must_match() -> None:
    live = live_deployment()
    live["metadata"]["annotations"]["meta.helm.sh/release-namespace"] = "staging"
    u = resolve(BACKEND, "backend", settings=no_targets(), read_file=read_repo, live=live)
    assert isinstance(u, Unmapped) and "namespace staging" in u.reason


def test_multi_container_needs_an_override_key() -> None:
    live = live_deployment(containers=("backend", "cache"))
    u = resolve(BACKEND, "cache", ["resources"], settings=no_targets(), read_file=read_repo, live=live)
    assert isinstance(u, Unmapped) and "2 containers" in u.reason
    assert "resources: cache.resources" in u.snippet
    # workload-level fields still map without the container
    w = resolve(BACKEND, None, ["replicas"], settings=no_targets(), read_file=read_repo, live=live)
    assert isinstance(w, Mapped)
    # the snippet's override is what makes it map
    s = load_settings_text(
        u.snippet.replace("manifests/environments/minikube/todo-backend.yaml  #", ENV + " #")
    )
    m = resolve(BACKEND, "cache", ["resources"], settings=s, read_file=read_repo, live=live)
    assert isinstance(m, Mapped) and m.key("resources") == ("cache", "resources")


def test_missing_container_and_missing_files_are_unmapped() -> None:
    u = resolve(BACKEND, "nope", settings=no_targets(), read_file=read_repo, live=live_deployment())
    assert isinstance(u, Unmapped) and "no container named nope" in u.reason
    u2 = resolve(BACKEND, "backend", settings=no_targets(), read_file=lambda p: None, live=live_deployment())
    assert isinstance(u2, Unmapped) and "does not exist" in u2.reason
    s = load_settings_text(
        "apply:\n  releases:\n    todo-backend: {chart: manifests/charts/todo-backend, namespace: todo}\n"
    )
    u3 = resolve(BACKEND, "backend", settings=s, read_file=read_repo, live=live_deployment())
    assert isinstance(u3, Unmapped) and "lists no values files" in u3.reason


def test_key_set_to_null_means_not_managed() -> None:
    s = load_settings_text(
        "targets:\n  - workload: todo/Deployment/todo-backend\n    file: "
        + ENV
        + "\n    keys: {autoscaling: null}\n"
    )
    u = resolve(BACKEND, None, ["autoscaling"], settings=s, read_file=read_repo)
    assert isinstance(u, Unmapped) and "no key configured for autoscaling" in u.reason


MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: todo-backend
  namespace: todo
spec:
  replicas: 1
  selector:
    matchLabels: {app: todo-backend}
  template:
    metadata:
      labels: {app: todo-backend}
    spec:
      containers:
        - name: backend
          image: todo-backend:0.3.0
"""


def test_plain_manifest_target_uses_object_paths() -> None:
    files = {"deploy/backend.yaml": MANIFEST}
    s = load_settings_text(
        "targets:\n  - {workload: todo/Deployment/todo-backend, file: deploy/backend.yaml}\n"
    )
    live = live_deployment(annotations={}, labels={})
    m = resolve(BACKEND, "backend", settings=s, read_file=files.get, live=live)
    assert isinstance(m, Mapped) and m.format == "manifest"
    assert m.document == Document("Deployment", "todo-backend")
    assert m.key("resources") == (
        "spec",
        "template",
        "spec",
        "containers",
        Select("name", "backend"),
        "resources",
    )
    assert m.key("replicas") == ("spec", "replicas")
    assert m.key("pod_annotations") == ("spec", "template", "metadata", "annotations")
    u = resolve(BACKEND, "sidecar", settings=s, read_file=files.get, live=live)
    assert isinstance(u, Unmapped) and "no container named sidecar" in u.reason
    other = copy.deepcopy(files)
    other["deploy/backend.yaml"] = MANIFEST.replace("name: todo-backend", "name: todo-api")
    u2 = resolve(BACKEND, "backend", settings=s, read_file=other.get, live=live)
    assert isinstance(u2, Unmapped) and "holds no Deployment named todo-backend" in u2.reason


def test_unknown_field_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown mapping field"):
        resolve(BACKEND, "backend", ["cpu"], settings=no_targets(), read_file=read_repo)
