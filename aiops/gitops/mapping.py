"""Target mapping: which file and which key set a field of a workload's container (DESIGN §4.9).

Order of precedence, first match wins:
1. a `targets` entry for the workload (`namespace/Kind/name`) and container (or for any container);
2. the Helm release recorded on the live object (`meta.helm.sh/release-name` annotation, else the
   `app.kubernetes.io/instance` label, on the workload or its pod template) found in
   `apply.releases`, with helm-create keys (`resources`, `replicaCount`, `autoscaling.*`,
   `podAnnotations`, `image.*`, `config.*`);
3. without a live object only: a release in `apply.releases` whose helm-create full name is the
   workload's name (`<release>`, or `<release>-<chart>`) in the same namespace.
The file written is the most specific one: a `targets` file, else the release's last values file
(keys absent there are added there, never to the chart's defaults). A plain Kubernetes manifest
named as a target file is patched in place (`spec.template.spec.containers[name=X].resources`...).
Anything else is `Unmapped`, carrying the reason and the `targets:` snippet that would map it:
the mapper never guesses. Pure: files are read through the `read_file` callable it is given.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from aiops.gitops.patch import Document, KeyPath, Select, is_manifest, load_documents, parse_key_path
from aiops.model.k8s import K8sObject, ObjectRef, annotations_of, dig, labels_of
from aiops.model.recommendations import Skipped
from aiops.settings import Release, Settings, Target, TargetKeys

ReadFile = Callable[[str], str | None]

FIELDS: tuple[str, ...] = ("resources", "replicas", "autoscaling", "pod_annotations", "image", "config")
CONTAINER_FIELDS = frozenset({"resources", "image"})
RELEASE_NAME = "meta.helm.sh/release-name"
RELEASE_NAMESPACE = "meta.helm.sh/release-namespace"
INSTANCE = "app.kubernetes.io/instance"
POD_WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job")


@dataclass(frozen=True)
class Mapped:
    """Where the fields of one workload container live."""

    workload: ObjectRef
    container: str | None
    file: str
    format: Literal["values", "manifest"]
    keys: Mapping[str, KeyPath | None]
    source: str  # how it was mapped, for the PR body
    document: Document | None = None  # manifests: the workload's own document
    release: str | None = None
    chart: str | None = None
    namespace: str | None = None
    values: tuple[str, ...] = ()  # the release's ordered values files (rendering)

    def key(self, name: str) -> KeyPath | None:
        return self.keys.get(name)


@dataclass(frozen=True)
class Unmapped:
    """No file/key for a target, with the reason and the config that would map it."""

    workload: ObjectRef
    container: str | None
    reason: str
    snippet: str
    fields: tuple[str, ...] = field(default=())

    def skipped(self, kind: str) -> Skipped:
        return Skipped(
            kind=kind,
            target=self.workload,
            reason=f"{self.reason} (map it with the `targets` entry in snippet, in .github/aiops.yaml)",
            cause="unmapped",
            snippet=self.snippet,
        )


def workload_id(ref: ObjectRef) -> str:
    return f"{ref.namespace}/{ref.kind}/{ref.name}"


def snippet_for(
    workload: ObjectRef, container: str | None, file: str, keys: Mapping[str, str] | None = None
) -> str:
    """A `targets:` entry (valid `.github/aiops.yaml`) that maps workload + container to file."""
    defaults = TargetKeys()
    wanted = {f.name: getattr(defaults, f.name) for f in dataclasses.fields(TargetKeys)}
    wanted.update(keys or {})
    key_text = ", ".join(f"{k}: {v}" for k, v in wanted.items())
    lines = ["targets:", f"  - workload: {workload_id(workload)}"]
    if container:
        lines.append(f"    container: {container}")
    lines.append(f"    file: {file}  # the values file (or plain manifest) that sets this workload")
    lines.append(f"    keys: {{{key_text}}}")
    return "\n".join(lines) + "\n"


def _containers(live: K8sObject | None) -> list[str]:
    if live is None:
        return []
    spec = dig(live, "spec", "template", "spec") if live.get("kind") != "Pod" else dig(live, "spec")
    return [str(c.get("name")) for c in (dig(spec, "containers", default=[]) or []) if isinstance(c, dict)]


def _release_of(live: K8sObject) -> tuple[str | None, str | None, str]:
    """(release, namespace, evidence) from Helm metadata on the object or its pod template."""
    ann = annotations_of(live)
    if ann.get(RELEASE_NAME):
        return str(ann[RELEASE_NAME]), ann.get(RELEASE_NAMESPACE), f"annotation {RELEASE_NAME}"
    labels = labels_of(live)
    if labels.get(INSTANCE):
        return str(labels[INSTANCE]), None, f"label {INSTANCE}"
    tpl = dig(live, "spec", "template", "metadata", "labels", default={})
    if isinstance(tpl, dict) and tpl.get(INSTANCE):
        return str(tpl[INSTANCE]), None, f"pod template label {INSTANCE}"
    return None, None, ""


def _parse_keys(keys: TargetKeys) -> dict[str, KeyPath | None]:
    out: dict[str, KeyPath | None] = {}
    for f in dataclasses.fields(TargetKeys):
        raw = getattr(keys, f.name)
        out[f.name] = parse_key_path(raw) if raw else None
    return out


def manifest_keys(container: str | None, overrides: TargetKeys | None = None) -> dict[str, KeyPath | None]:
    """Key paths inside a workload's own document (autoscaling/config live in other documents)."""
    pod: KeyPath = ("spec", "template", "spec")
    c: KeyPath = (*pod, "containers", Select("name", container)) if container else ()
    keys: dict[str, KeyPath | None] = {
        "resources": (*c, "resources") if container else None,
        "replicas": ("spec", "replicas"),
        "autoscaling": None,  # a HorizontalPodAutoscaler document, found by the planner
        "pod_annotations": ("spec", "template", "metadata", "annotations"),
        "image": (*c, "image") if container else None,
        "config": None,  # a ConfigMap document, found by the planner
    }
    if overrides is not None:
        defaults = TargetKeys()
        for f in dataclasses.fields(TargetKeys):
            raw = getattr(overrides, f.name)
            if raw != getattr(defaults, f.name):
                keys[f.name] = parse_key_path(raw) if raw else None
    return keys


def _target_for(settings: Settings, workload: ObjectRef, container: str | None) -> Target | None:
    wid = workload_id(workload)
    candidates = [t for t in settings.targets if t.workload == wid]
    exact = [t for t in candidates if container is not None and t.container == container]
    if exact:
        return exact[0]
    generic = [t for t in candidates if t.container is None]
    if generic:
        return generic[0]
    if container is None and candidates:
        return candidates[0]
    return None


def _release_for_file(settings: Settings, file: str) -> tuple[str | None, Release | None]:
    for name, rel in settings.apply.releases.items():
        if file in rel.values:
            return name, rel
    return None, None


def _chart_name(rel: Release) -> str:
    return rel.chart.rstrip("/").rsplit("/", 1)[-1]


def resolve(
    workload: ObjectRef,
    container: str | None,
    fields: Iterable[str] = FIELDS,
    *,
    settings: Settings,
    read_file: ReadFile,
    live: K8sObject | None = None,
) -> Mapped | Unmapped:
    """Map a workload (+ container) to the file and keys of the requested fields."""
    needed = tuple(fields)
    for f in needed:
        if f not in FIELDS:
            raise ValueError(f"unknown mapping field {f!r}")
    container_level = [f for f in needed if f in CONTAINER_FIELDS]
    default_file = f"manifests/environments/{settings.cluster}/{workload.name}.yaml"

    def unmapped(reason: str, file: str = default_file, keys: Mapping[str, str] | None = None) -> Unmapped:
        return Unmapped(workload, container, reason, snippet_for(workload, container, file, keys), needed)

    target = _target_for(settings, workload, container)
    if target is not None:
        text = read_file(target.file)
        if text is None:
            return unmapped(
                f"targets entry for {workload_id(workload)} names {target.file}, which does not exist"
            )
        rel_name, rel = _release_for_file(settings, target.file)
        source = f"targets entry {workload_id(workload)}" + (
            f" container {target.container}" if target.container else ""
        )
        if is_manifest(text):
            return _manifest_mapping(
                workload,
                container,
                needed,
                file=target.file,
                text=text,
                source=source,
                overrides=target.keys,
                unmapped=unmapped,
            )
        return _check(
            Mapped(
                workload=workload,
                container=container,
                file=target.file,
                format="values",
                keys=_parse_keys(target.keys),
                source=source,
                release=rel_name,
                chart=rel.chart if rel else None,
                namespace=rel.namespace if rel else workload.namespace,
                values=rel.values if rel else (target.file,),
            ),
            needed,
            unmapped,
        )

    rel_name, rel, evidence = _find_release(settings, workload, live)
    if rel_name is None or rel is None:
        why = evidence or (
            f"{workload_id(workload)} carries no Helm release metadata "
            f"({RELEASE_NAME} annotation or {INSTANCE} label)"
            if live is not None
            else f"no release in apply.releases is named after {workload_id(workload)}"
        )
        return unmapped(why)
    if not rel.values:
        return unmapped(
            f"release {rel_name} lists no values files in apply.releases (aiops writes environment values, "
            "not chart defaults)"
        )
    file = rel.values[-1]
    names = _containers(live)
    if container_level and len(names) > 1 and container is not None:
        return unmapped(
            f"{workload_id(workload)} has {len(names)} containers ({', '.join(names)}); the helm-create keys "
            f"cannot tell which one {container} is",
            file,
            {f: f"{container}.{getattr(TargetKeys(), f)}" for f in ("resources", "image")},
        )
    if container is not None and names and container not in names:
        return unmapped(f"{workload_id(workload)} has no container named {container}", file)
    text = read_file(file)
    if text is None:
        return unmapped(f"release {rel_name} lists values file {file}, which does not exist", file)
    return _check(
        Mapped(
            workload=workload,
            container=container,
            file=file,
            format="values",
            keys=_parse_keys(TargetKeys()),
            source=f"Helm release {rel_name} ({evidence}) in apply.releases, helm-create keys",
            release=rel_name,
            chart=rel.chart,
            namespace=rel.namespace,
            values=rel.values,
        ),
        needed,
        unmapped,
    )


def _find_release(
    settings: Settings, workload: ObjectRef, live: K8sObject | None
) -> tuple[str | None, Release | None, str]:
    releases = settings.apply.releases
    if live is not None:
        name, ns, evidence = _release_of(live)
        if name is None:
            return None, None, ""
        rel = releases.get(name)
        if rel is None:
            return None, None, f"Helm release {name} ({evidence}) is not listed in apply.releases"
        namespace = ns or workload.namespace
        if rel.namespace != namespace:
            return (
                None,
                None,
                f"Helm release {name} runs in namespace {namespace}, "
                f"apply.releases has it in {rel.namespace}",
            )
        return name, rel, evidence
    for name, rel in releases.items():
        if rel.namespace != workload.namespace:
            continue
        if workload.name in (name, f"{name}-{_chart_name(rel)}"):
            return name, rel, "helm-create full name"
    return None, None, ""


def _check(mapped: Mapped, needed: tuple[str, ...], unmapped: Callable[..., Unmapped]) -> Mapped | Unmapped:
    missing = [f for f in needed if mapped.keys.get(f) is None]
    if missing:
        return unmapped(
            f"{mapped.file}: no key configured for {', '.join(missing)} of {workload_id(mapped.workload)}",
            mapped.file,
        )
    return mapped


def _manifest_mapping(
    workload: ObjectRef,
    container: str | None,
    needed: tuple[str, ...],
    *,
    file: str,
    text: str,
    source: str,
    overrides: TargetKeys,
    unmapped: Callable[..., Unmapped],
) -> Mapped | Unmapped:
    docs = [d for d in load_documents(text, source=file) if isinstance(d, dict)]
    own = [d for d in docs if d.get("kind") == workload.kind and dig(d, "metadata", "name") == workload.name]
    if not own:
        return unmapped(f"{file} holds no {workload.kind} named {workload.name}", file)
    names = [
        str(c.get("name")) for c in dig(own[0], "spec", "template", "spec", "containers", default=[]) or []
    ]
    if container is not None and container not in names:
        return unmapped(f"{file}: {workload.kind}/{workload.name} has no container named {container}", file)
    keys = manifest_keys(container, overrides)
    keys_needed = [f for f in needed if f not in ("autoscaling", "config")]
    missing = [f for f in keys_needed if keys.get(f) is None]
    if missing:
        return unmapped(f"{file}: no key for {', '.join(missing)} of {workload_id(workload)}", file)
    return Mapped(
        workload=workload,
        container=container,
        file=file,
        format="manifest",
        keys=keys,
        source=f"{source} (plain manifest)",
        document=Document(workload.kind, workload.name),
        namespace=workload.namespace,
        values=(),
    )


def find_documents(
    text: str, kind: str, where: Callable[[dict[str, Any]], bool], *, source: str
) -> list[Document]:
    """Documents of `kind` in a manifest file matching a predicate (HPA of a workload, a ConfigMap)."""
    out: list[Document] = []
    for d in load_documents(text, source=source):
        if isinstance(d, dict) and d.get("kind") == kind and where(d):
            out.append(Document(kind, str(dig(d, "metadata", "name"))))
    return out
