"""Security posture checks over Kubernetes objects: stable check ids, severity, object, message.

`run_checks(snapshot, exemptions)` looks at what the snapshot holds — live objects or manifests
rendered by `helm template` — and returns a `Posture`: findings, exempted findings (with the
reason), the number of objects checked and a score 0–100. Each check has a stable id (the one
`aiops.io/ignore` and `security.exemptions` name), a severity (`critical`, `high`, `medium`,
`low`) and a one-line remediation.

Coverage rules (so nothing is judged twice and nothing is judged on what was not read):
- a pod or ReplicaSet/Job whose controller is in the snapshot is judged through that controller's
  pod template; a bare pod (or one whose owner was not read) is judged itself;
- RBAC checks run only on the bindings the snapshot holds; `networkPolicy` runs only when the
  snapshot holds Namespace or NetworkPolicy objects (a partial dump says nothing about them) and
  skips `kube-system`, `kube-public` and `kube-node-lease`;
- a snapshot in which nothing could be checked has score None, never a perfect 100.

Secret values are never part of a message: `secretInEnv` names the variable only.
Pure: no I/O, no clock.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiops.model.k8s import K8sObject, ObjectRef, annotations_of, dig, meta
from aiops.model.snapshot import Snapshot
from aiops.recommend.optout import OptOut
from aiops.redact import is_secret_name
from aiops.settings import Exemption

SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low")
PENALTY: Mapping[str, int] = {"critical": 50, "high": 20, "medium": 8, "low": 2}
"""Points one finding takes from its object's 100; the score is the mean over checked objects."""
SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})
SAFE_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})
DANGEROUS_CAPABILITIES = frozenset(
    {"ALL", "SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYS_MODULE", "DAC_READ_SEARCH", "SYS_RAWIO", "BPF"}
)

POD_SPEC_PATHS: Mapping[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
BATCH_KINDS = frozenset({"Job", "CronJob"})


@dataclass(frozen=True)
class Check:
    id: str
    severity: str
    title: str
    remediation: str


CHECKS: Mapping[str, Check] = {
    c.id: c
    for c in (
        Check("privileged", "critical", "Privileged container", "Remove securityContext.privileged."),
        Check("hostPath", "high", "hostPath volume", "Use a PVC, ConfigMap or emptyDir instead of hostPath."),
        Check("hostNetwork", "high", "Host network", "Remove hostNetwork: true."),
        Check("hostPID", "high", "Host PID namespace", "Remove hostPID: true."),
        Check("hostIPC", "high", "Host IPC namespace", "Remove hostIPC: true."),
        Check(
            "runAsNonRoot",
            "medium",
            "May run as root",
            "Set securityContext.runAsNonRoot: true (and a non-zero runAsUser).",
        ),
        Check(
            "readOnlyRootFilesystem",
            "low",
            "Writable root filesystem",
            "Set securityContext.readOnlyRootFilesystem: true; mount an emptyDir where it writes.",
        ),
        Check(
            "allowPrivilegeEscalation",
            "medium",
            "Privilege escalation allowed",
            "Set securityContext.allowPrivilegeEscalation: false.",
        ),
        Check(
            "capabilities",
            "medium",
            "Added Linux capabilities",
            "Drop ALL capabilities and add back only NET_BIND_SERVICE if needed.",
        ),
        Check("imageTag", "medium", "Image without a fixed tag", "Pin the image to a version tag or digest."),
        Check("requests", "medium", "Missing resource requests", "Set resources.requests.cpu and .memory."),
        Check("limits", "low", "Missing memory limit", "Set resources.limits.memory."),
        Check("probes", "low", "Missing probes", "Add readinessProbe and livenessProbe."),
        Check(
            "defaultServiceAccountToken",
            "medium",
            "Default ServiceAccount token mounted",
            "Use a dedicated ServiceAccount or set automountServiceAccountToken: false.",
        ),
        Check(
            "secretInEnv",
            "high",
            "Secret value in plain env",
            "Move the value to a Secret and use env.valueFrom.secretKeyRef.",
        ),
        Check(
            "wildcardRBAC",
            "critical",
            "Wildcard RBAC bound to a workload",
            "Replace '*' in the role's verbs/resources/apiGroups with the exact ones the workload needs.",
        ),
        Check(
            "networkPolicy",
            "medium",
            "Namespace without a NetworkPolicy",
            "Add a default-deny NetworkPolicy and allow only the traffic the workloads need.",
        ),
    )
}


@dataclass(frozen=True, order=True)
class SecurityFinding:
    """One failed check on one object (and container, for container checks)."""

    check: str
    severity: str
    object: ObjectRef
    message: str
    container: str | None = None

    @property
    def id(self) -> str:
        """Stable identity across runs (week-over-week comparison): check + object + container."""
        base = f"{self.check}:{self.object}"
        return f"{base}:{self.container}" if self.container else base

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "check": self.check,
            "severity": self.severity,
            "object": self.object.to_dict(),
            "container": self.container,
            "message": self.message,
            "remediation": CHECKS[self.check].remediation,
        }


@dataclass(frozen=True)
class Exempted:
    finding: SecurityFinding
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {**self.finding.to_dict(), "reason": self.reason}


@dataclass(frozen=True)
class Posture:
    findings: tuple[SecurityFinding, ...]
    exempted: tuple[Exempted, ...] = ()
    checked: int = 0
    score: int | None = None
    notes: tuple[str, ...] = field(default=())

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(SEVERITIES, 0)
        for f in self.findings:
            out[f.severity] += 1
        return out

    @property
    def critical(self) -> tuple[SecurityFinding, ...]:
        return tuple(f for f in self.findings if f.severity == "critical")

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "checked_objects": self.checked,
            "counts": self.counts(),
            "findings": [f.to_dict() for f in self.findings],
            "exempted": [e.to_dict() for e in self.exempted],
            "notes": list(self.notes),
        }


# ---- helpers -----------------------------------------------------------------------------------


def pod_spec(obj: K8sObject) -> dict[str, Any] | None:
    path = POD_SPEC_PATHS.get(str(obj.get("kind", "")))
    if path is None:
        return None
    spec = dig(obj, *path)
    return spec if isinstance(spec, dict) else None


def _controller(obj: K8sObject) -> tuple[str, str] | None:
    for ref in meta(obj).get("ownerReferences") or ():
        if isinstance(ref, dict) and ref.get("controller"):
            return str(ref.get("kind", "")), str(ref.get("name", ""))
    return None


def _covered_by_owner(snapshot: Snapshot, obj: K8sObject) -> bool:
    owner = _controller(obj)
    if owner is None:
        return False
    ns = str(meta(obj).get("namespace") or "")
    return snapshot.get(owner[0], ns, owner[1]) is not None


def image_unpinned(image: str) -> bool:
    """True for `nginx`, `nginx:latest`, `registry:5000/app` (no tag); False for a tag or digest."""
    if "@" in image:
        return False
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return True
    return last.rsplit(":", 1)[1] in ("", "latest")


def _literal_secret(name: str, value: Any) -> bool:
    if not isinstance(value, str):
        return False
    v = value.strip()
    if len(v) < 4 or v.startswith("$(") or v.lower() in ("true", "false", "none", "null", "changeme"):
        return False
    return is_secret_name(name)


def _wildcard_rules(role: K8sObject | None) -> list[str]:
    out: list[str] = []
    for rule in (role or {}).get("rules") or ():
        if not isinstance(rule, dict):
            continue
        for key in ("verbs", "resources", "apiGroups"):
            if "*" in (rule.get(key) or ()):
                out.append(key)
    return sorted(set(out))


# ---- the checks --------------------------------------------------------------------------------


def _container_findings(ref: ObjectRef, spec: Mapping[str, Any], batch: bool) -> list[SecurityFinding]:
    out: list[SecurityFinding] = []
    pod_sc = spec.get("securityContext") or {}

    def add(check: str, message: str, container: str | None, severity: str | None = None) -> None:
        out.append(SecurityFinding(check, severity or CHECKS[check].severity, ref, message, container))

    for key in ("initContainers", "containers"):
        for c in spec.get(key) or ():
            if not isinstance(c, dict):
                continue
            name = str(c.get("name", ""))
            sc = c.get("securityContext") or {}
            privileged = sc.get("privileged") is True
            if privileged:
                add("privileged", f"container {name} runs privileged", name)
            elif sc.get("allowPrivilegeEscalation") is not False:
                add(
                    "allowPrivilegeEscalation",
                    f"container {name} does not set allowPrivilegeEscalation: false",
                    name,
                )
            non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
            user = sc.get("runAsUser", pod_sc.get("runAsUser"))
            if user == 0:
                add("runAsNonRoot", f"container {name} runs as user 0 (root)", name, "high")
            elif non_root is not True and not (isinstance(user, int) and user > 0):
                add(
                    "runAsNonRoot",
                    f"container {name} sets neither runAsNonRoot: true nor a non-zero runAsUser",
                    name,
                )
            if sc.get("readOnlyRootFilesystem") is not True:
                add("readOnlyRootFilesystem", f"container {name} has a writable root filesystem", name)
            added = {
                str(x).upper() for x in dig(sc, "capabilities", "add", default=()) or ()
            } - SAFE_CAPABILITIES
            if added:
                sev = "high" if added & DANGEROUS_CAPABILITIES else "medium"
                add("capabilities", f"container {name} adds {', '.join(sorted(added))}", name, sev)
            image = str(c.get("image") or "")
            if image and image_unpinned(image):
                add("imageTag", f"container {name} image {image} has no fixed tag", name)
            requests = dig(c, "resources", "requests", default={}) or {}
            missing = [r for r in ("cpu", "memory") if r not in requests]
            if missing:
                add("requests", f"container {name} has no {' or '.join(missing)} request", name)
            if "memory" not in (dig(c, "resources", "limits", default={}) or {}):
                add("limits", f"container {name} has no memory limit", name)
            if key == "containers" and not batch:
                probes = [p for p in ("readinessProbe", "livenessProbe") if not c.get(p)]
                if probes:
                    add("probes", f"container {name} has no {' or '.join(probes)}", name)
            for env in c.get("env") or ():
                if isinstance(env, dict) and _literal_secret(str(env.get("name", "")), env.get("value")):
                    add(
                        "secretInEnv",
                        f"container {name} env {env.get('name')} holds a literal secret (value not shown)",
                        name,
                    )
    return out


def _pod_findings(
    snapshot: Snapshot, obj: K8sObject, ref: ObjectRef, spec: Mapping[str, Any]
) -> list[SecurityFinding]:
    out: list[SecurityFinding] = []
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(flag) is True:
            out.append(SecurityFinding(flag, CHECKS[flag].severity, ref, f"pod spec sets {flag}: true"))
    paths = [
        f"{v.get('name')}={dig(v, 'hostPath', 'path')}"
        for v in spec.get("volumes") or ()
        if isinstance(v, dict) and v.get("hostPath")
    ]
    if paths:
        out.append(SecurityFinding("hostPath", "high", ref, f"hostPath volumes: {', '.join(paths)}"))
    sa_name = str(spec.get("serviceAccountName") or spec.get("serviceAccount") or "default")
    if sa_name == "default" and spec.get("automountServiceAccountToken") is not False:
        sa = snapshot.get("ServiceAccount", ref.namespace, "default")
        if sa is None or sa.get("automountServiceAccountToken") is not False:
            out.append(
                SecurityFinding(
                    "defaultServiceAccountToken",
                    "medium",
                    ref,
                    "runs as the default ServiceAccount with its API token mounted",
                )
            )
    batch = (
        ref.kind in BATCH_KINDS
        or (_controller(obj) or ("", ""))[0] in BATCH_KINDS
        or spec.get("restartPolicy")
        in ("Never", "OnFailure")  # one-shot pods (helm test hooks) need no probes
    )
    out.extend(_container_findings(ref, spec, batch))
    return out


def _rbac_findings(
    snapshot: Snapshot, service_accounts: Mapping[tuple[str, str], list[ObjectRef]]
) -> tuple[list[tuple[K8sObject, SecurityFinding]], int]:
    out: list[tuple[K8sObject, SecurityFinding]] = []
    checked = 0
    for kind in ("RoleBinding", "ClusterRoleBinding"):
        for b in snapshot.of_kind(kind):
            checked += 1
            ns = str(meta(b).get("namespace") or "")
            role_ref = b.get("roleRef") or {}
            role_kind, role_name = str(role_ref.get("kind", "")), str(role_ref.get("name", ""))
            role = snapshot.get(role_kind, ns if role_kind == "Role" else "", role_name)
            wild = _wildcard_rules(role)
            if role is None and role_kind == "ClusterRole" and role_name == "cluster-admin":
                wild = ["verbs", "resources", "apiGroups"]
            if not wild:
                continue
            for s in b.get("subjects") or ():
                if not isinstance(s, dict) or s.get("kind") != "ServiceAccount":
                    continue
                key = (str(s.get("namespace") or ns), str(s.get("name", "")))
                users = service_accounts.get(key)
                if not users:
                    continue
                names = ", ".join(sorted({str(u) for u in users}))
                msg = (
                    f"{role_kind} {role_name} has '*' in {'/'.join(wild)} and is bound to "
                    f"ServiceAccount {key[0]}/{key[1]} used by {names}"
                )
                out.append((b, SecurityFinding("wildcardRBAC", "critical", ObjectRef.of(b), msg)))
    return out, checked


# ---- exemptions ---------------------------------------------------------------------------------


def _settings_exemption(finding: SecurityFinding, exemptions: Sequence[Exemption]) -> str | None:
    for e in exemptions:
        if (
            fnmatch.fnmatchcase(finding.check.lower(), e.check.lower())
            and fnmatch.fnmatchcase(finding.object.namespace, e.namespace)
            and fnmatch.fnmatchcase(finding.object.name, e.name)
        ):
            why = f": {e.reason}" if e.reason else ""
            return f"security.exemptions {e.check} {e.namespace}/{e.name}{why}"
    return None


def _ns_annotations(snapshot: Snapshot, namespace: str) -> dict[str, str]:
    ns = snapshot.get("Namespace", "", namespace) if namespace else None
    return annotations_of(ns) if ns is not None else {}


# ---- entry point ---------------------------------------------------------------------------------


def run_checks(snapshot: Snapshot, exemptions: Iterable[Exemption] = ()) -> Posture:
    """Every check over every object of the snapshot, exemptions applied, scored."""
    rules = tuple(exemptions)
    raw: list[tuple[K8sObject, SecurityFinding]] = []
    checked: dict[ObjectRef, int] = {}
    workload_namespaces: set[str] = set()
    service_accounts: dict[tuple[str, str], list[ObjectRef]] = {}
    notes: list[str] = []
    for kind in POD_SPEC_PATHS:
        for obj in snapshot.of_kind(kind):
            if _covered_by_owner(snapshot, obj):
                continue
            spec = pod_spec(obj)
            if spec is None:
                continue
            ref = ObjectRef.of(obj)
            checked[ref] = 0
            workload_namespaces.add(ref.namespace)
            sa = str(spec.get("serviceAccountName") or spec.get("serviceAccount") or "default")
            service_accounts.setdefault((ref.namespace, sa), []).append(ref)
            try:
                raw.extend((obj, f) for f in _pod_findings(snapshot, obj, ref, spec))
            except (TypeError, AttributeError, ValueError) as exc:
                notes.append(f"{ref}: not checked: {exc}")
    rbac, _ = _rbac_findings(snapshot, service_accounts)
    raw.extend(rbac)
    for b in snapshot.of_kind("RoleBinding") + snapshot.of_kind("ClusterRoleBinding"):
        checked[ObjectRef.of(b)] = 0
    if snapshot.has_kind("Namespace") or snapshot.has_kind("NetworkPolicy"):
        covered = {str(meta(p).get("namespace") or "") for p in snapshot.of_kind("NetworkPolicy")}
        for ns in sorted(workload_namespaces - SYSTEM_NAMESPACES - {""}):
            ref = ObjectRef("Namespace", "", ns)
            checked[ref] = 0
            if ns not in covered:
                ns_obj = snapshot.get("Namespace", "", ns) or {"kind": "Namespace", "metadata": {"name": ns}}
                raw.append(
                    (
                        ns_obj,
                        SecurityFinding(
                            "networkPolicy", "medium", ref, f"namespace {ns} has no NetworkPolicy"
                        ),
                    )
                )
    else:
        notes.append("networkPolicy not checked: the snapshot holds no Namespace or NetworkPolicy objects")
    kept: list[SecurityFinding] = []
    exempted: list[Exempted] = []
    for obj, f in raw:
        ns = f.object.namespace if f.object.kind != "Namespace" else f.object.name
        opt = OptOut.of(annotations_of(obj), _ns_annotations(snapshot, ns))
        reason = opt.reason(f.check, f"{f.object.kind} {f.object.name}") or _settings_exemption(f, rules)
        if reason:
            exempted.append(Exempted(f, reason))
        else:
            kept.append(f)
    for f in kept:
        checked[f.object] = checked.get(f.object, 0) + PENALTY[f.severity]
    score = round(sum(max(0, 100 - p) for p in checked.values()) / len(checked)) if checked else None
    if not checked:
        notes.append("nothing was checked: the snapshot holds no workloads, pods or RBAC bindings")
    order = {s: i for i, s in enumerate(SEVERITIES)}
    kept.sort(key=lambda f: (order[f.severity], f.check, str(f.object), f.container or ""))
    exempted.sort(key=lambda e: (e.finding.check, str(e.finding.object), e.finding.container or ""))
    return Posture(tuple(kept), tuple(exempted), len(checked), score, tuple(notes))
