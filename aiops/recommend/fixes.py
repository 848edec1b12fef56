"""Recommendations that follow from findings, read from their structured `cause` (never their text).

- `OOMKilled` → the OOMKill (pod, container, limit at kill) is fed to right-sizing, which raises
  memory to the OOM floor even without usage data (see `oom_kills`).
- a stuck pod whose remedy is a restart (a crash or unreadiness caused by a dependency that
  refused/failed DNS, `dependency-refused`/`dependency-dns`, when the dependency's Service now has
  ready endpoints or is not in the snapshot) → `restart` `{"restart": true}`.
- `missing-config-key` (CrashLoopBackOff / CreateContainerConfigError) → `config`
  `{key, configmap, values_key}`: what is missing; a person supplies the value.
- `image-not-found` (ImagePullBackOff) → `image` `{repository, tag}` = the last tag that ran, from
  the Deployment's ReplicaSet history; without one, a `Skipped` saying so.
Each recommendation lists the findings (codes) and evidence it rests on. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from aiops.errors import InputError
from aiops.model.findings import Finding
from aiops.model.k8s import ObjectRef, annotations_of, dig, meta
from aiops.model.quantity import parse_memory
from aiops.model.recommendations import Recommendation, Skipped
from aiops.recommend.inventory import REVISION, Inventory, OomKill
from aiops.settings import Settings

RESTART_CAUSES = ("dependency-refused", "dependency-dns")
RESTART_CODES = ("CrashLoopBackOff", "ReadinessProbeFailure", "LivenessProbeFailure", "RolloutStuck")
CONFIG_CODES = ("CrashLoopBackOff", "CreateContainerConfigError")
IMAGE_CODES = ("ImagePullBackOff",)
MAX_EVIDENCE = 6


def split_image(image: str) -> tuple[str, str | None]:
    """ "registry:5000/app:1.2@sha256:…" → ("registry:5000/app", "1.2"); no tag → (repo, None)."""
    ref = image.split("@", 1)[0]
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        return ref[:colon], ref[colon + 1 :]
    return ref, None


def workload_of(f: Finding, inv: Inventory) -> ObjectRef:
    """The sized workload a finding is about (Pod → its Deployment/StatefulSet/...)."""
    if f.object.kind == "Pod":
        pod = inv.snapshot.get("Pod", f.object.namespace, f.object.name)
        if pod is not None:
            ref = inv.owner_of_pod(pod)
            if ref is not None:
                return ref
        found = inv.workload_for_pod(f.object.namespace, f.object.name)
        if found is not None:
            return found
    w = f.workload
    if w.kind == "ReplicaSet":
        rs = inv.snapshot.get("ReplicaSet", w.namespace, w.name)
        chain = inv.snapshot.owner_chain(rs) if rs is not None else []
        if chain and chain[-1].kind == "Deployment":
            return ObjectRef("Deployment", w.namespace, chain[-1].name)
    return w


def _evidence(findings: Sequence[Finding]) -> tuple[str, ...]:
    out: list[str] = []
    for f in findings:
        out.append(f"{f.code} on {f.object}" + (f" container {f.container}" if f.container else ""))
    for f in findings[:1]:
        out.extend(f.evidence[: MAX_EVIDENCE - len(out)])
    return tuple(out[:MAX_EVIDENCE])


def _codes(findings: Iterable[Finding]) -> tuple[str, ...]:
    return tuple(sorted({f.code for f in findings}))


def oom_kills(findings: Iterable[Finding], inv: Inventory) -> dict[ObjectRef, list[OomKill]]:
    """OOMKills named by `OOMKilled` findings, per workload (limit from the cause or the pod spec)."""
    out: dict[ObjectRef, list[OomKill]] = {}
    for f in findings:
        if f.code != "OOMKilled" or not f.container:
            continue
        limit: float | None = None
        detail = f.cause.detail if f.cause else {}
        for k in ("limit", "memory_limit", "limit_bytes"):
            if detail.get(k) is not None:
                try:
                    limit = parse_memory(detail[k], field=f"finding {f.object} cause.detail.{k}")
                except InputError:
                    limit = None
                break
        if limit is None and f.object.kind == "Pod":
            pod = inv.snapshot.get("Pod", f.object.namespace, f.object.name)
            for c in dig(pod, "spec", "containers", default=[]) if pod else []:
                if isinstance(c, dict) and c.get("name") == f.container:
                    mem = dig(c, "resources", "limits", "memory")
                    if mem is not None:
                        try:
                            limit = parse_memory(mem, field=f"pod {f.object} memory limit")
                        except InputError:
                            limit = None
        out.setdefault(workload_of(f, inv), []).append(
            OomKill(f.object.name, f.container, limit, f.started_at or f.detected_at)
        )
    return out


@dataclass(frozen=True)
class FixResult:
    recommendations: tuple[Recommendation, ...]
    skipped: tuple[Skipped, ...]


def _dependency_down(detail: dict[str, object], namespace: str, inv: Inventory) -> str | None:
    """When the cause names a Service of the snapshot that has no ready endpoint: say so."""
    host = str(detail.get("service") or detail.get("host") or "")
    if not host:
        return None
    name = host.split(".", maxsplit=1)[0]
    ns = host.split(".")[1] if host.count(".") >= 1 and not host.replace(".", "").isdigit() else namespace
    svc = inv.snapshot.get("Service", ns, name)
    if svc is None:
        return None
    ep = inv.snapshot.get("Endpoints", ns, name)
    if ep is None:
        return None
    ready = sum(len(s.get("addresses") or []) for s in (ep.get("subsets") or []) if isinstance(s, dict))
    if ready == 0:
        return f"Service {ns}/{name} still has no ready endpoints: a restart would fail the same way"
    return None


def from_findings(findings: Sequence[Finding], inv: Inventory, settings: Settings) -> FixResult:
    """restart / config / image recommendations (OOM goes through right-sizing)."""
    recs: list[Recommendation] = []
    skipped: list[Skipped] = []
    groups: dict[tuple[str, ObjectRef, str], list[Finding]] = {}
    for f in findings:
        cause = f.cause.type if f.cause else None
        if cause in RESTART_CAUSES and f.code in RESTART_CODES:
            groups.setdefault(("restart", workload_of(f, inv), ""), []).append(f)
        elif cause == "missing-config-key" and f.code in CONFIG_CODES and f.cause is not None:
            key = str(f.cause.detail.get("key") or "")
            cm = str(f.cause.detail.get("configmap") or "")
            groups.setdefault(("config", workload_of(f, inv), f"{cm}\0{key}"), []).append(f)
        elif cause == "image-not-found" and f.code in IMAGE_CODES:
            groups.setdefault(("image", workload_of(f, inv), f.container or ""), []).append(f)

    seen_keys: set[str] = set()
    for (kind, target, sub), fs in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])):
        pods = sorted({f.object.name for f in fs if f.object.kind == "Pod"})
        if kind == "restart":
            first = fs[0]
            detail = dict(first.cause.detail) if first.cause else {}
            down = _dependency_down(detail, target.namespace, inv)
            if down is not None:
                continue  # the condition is not a stuck pod: the dependency itself is down
            rec = Recommendation(
                kind="restart",
                target=target,
                current={"restart": False},
                proposed={"restart": True},
                rationale=(
                    f"{len(pods) or 1} pod(s) of {target.kind} {target.name} are stuck after a dependency "
                    f"failure ({first.cause.type if first.cause else 'dependency'}"
                    + (f" {detail.get('host') or detail.get('service')}" if detail else "")
                    + "); a rolling restart lets them reconnect."
                ),
                evidence=_evidence(fs),
                findings=_codes(fs),
                confidence="medium",
            )
        elif kind == "config":
            cm, key = sub.split("\0", 1)
            if not key:
                continue  # a missing key the finding could not name: nothing to propose
            values_key = _values_key(target, settings, key)
            rec = Recommendation(
                kind="config",
                target=target,
                current={"configmap": cm or None, "key": key, "present": False},
                proposed={"key": key, "configmap": cm or None, "values_key": values_key},
                rationale=(
                    f"{target.kind} {target.name} reads key {key!r}"
                    + (f" from ConfigMap {cm!r}, which does not have it" if cm else ", which is missing")
                    + f"; add it (values key {values_key}) — a person supplies the value."
                ),
                evidence=_evidence(fs),
                findings=_codes(fs),
                confidence="high",
            )
        else:
            container = sub
            bad_image = _bad_image(fs, target, container, inv)
            repo, bad_tag = split_image(bad_image) if bad_image else ("", None)
            good = _last_good(target, container, bad_image, inv) if target.kind == "Deployment" else None
            if good is None:
                skipped.append(
                    Skipped(
                        kind="image",
                        target=target,
                        reason=(
                            f"image {bad_image or '?'} of container {container or '?'} does not exist, "
                            "and no earlier ReplicaSet in the snapshot ran another tag to go back to"
                        ),
                        cause="insufficient-data",
                    )
                )
                continue
            (good_repo, good_tag), where = good
            rec = Recommendation(
                kind="image",
                target=target,
                current={"container": container, "repository": repo, "tag": bad_tag},
                proposed={"repository": good_repo, "tag": good_tag},
                rationale=(
                    f"Tag {bad_tag!r} of {repo} does not exist (container {container}); go back to "
                    f"{good_tag!r}, the last tag that ran ({where})."
                ),
                evidence=(*_evidence(fs), f"{where} ran {good_repo}:{good_tag}"),
                findings=_codes(fs),
                confidence="high",
            )
        if rec.key in seen_keys:
            continue  # one open proposal per key: the first (most specific) wins
        seen_keys.add(rec.key)
        recs.append(rec)
    return FixResult(tuple(recs), tuple(skipped))


def _bad_image(fs: Sequence[Finding], target: ObjectRef, container: str, inv: Inventory) -> str:
    for f in fs:
        detail = f.cause.detail if f.cause else {}
        repo = detail.get("image") or detail.get("repository")
        if repo:
            tag = detail.get("tag")
            if tag and split_image(str(repo))[1] is None:
                return f"{repo}:{tag}"
            return str(repo)
    for f in fs:
        pod = inv.snapshot.get("Pod", f.object.namespace, f.object.name) if f.object.kind == "Pod" else None
        for key in ("containers", "initContainers"):
            for c in dig(pod, "spec", key, default=[]) if pod else []:
                if isinstance(c, dict) and c.get("name") == container:
                    return str(c.get("image", ""))
    w = inv.workloads.get(target)
    spec = w.container(container) if w else None
    return spec.image if spec else ""


def _last_good(
    deploy: ObjectRef, container: str, bad: str, inv: Inventory
) -> tuple[tuple[str, str], str] | None:
    candidates: list[tuple[bool, int, str, str]] = []
    for rs in inv.replicasets_of(deploy):
        image = None
        for c in dig(rs, "spec", "template", "spec", "containers", default=[]):
            if isinstance(c, dict) and c.get("name") == container:
                image = str(c.get("image", ""))
        if not image or image == bad:
            continue
        try:
            rev = int(annotations_of(rs).get(REVISION, "0"))
        except ValueError:
            rev = 0
        ran = bool(dig(rs, "status", "readyReplicas") or dig(rs, "status", "availableReplicas"))
        candidates.append((ran, rev, image, str(meta(rs).get("name", ""))))
    if not candidates:
        return None
    ran_ones = [c for c in candidates if c[0]]
    ran, rev, image, name = max(ran_ones or candidates, key=lambda c: c[1])
    repo, tag = split_image(image)
    where = f"ReplicaSet {name}, revision {rev}" + (", had ready pods" if ran else "")
    return (repo, tag or "latest"), where


def _values_key(target: ObjectRef, settings: Settings, key: str) -> str:
    wanted = f"{target.namespace}/{target.kind}/{target.name}"
    for t in settings.targets:
        if t.workload == wanted and t.keys.config:
            return f"{t.keys.config}.{key}"
    return f"config.{key}"
