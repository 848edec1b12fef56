"""Offline answers to questions about the cluster (`aiops ask "why is the backend failing?"`).

Finds the object(s) a question names — fuzzy on object names, owning workloads, namespaces and
container names ("backend" → Deployment todo-backend, typo tolerant through difflib) — and
composes an answer from the findings of a `Diagnosis`: code, summary, root cause, evidence and
remediation per failure, or a clear "nothing is wrong with it" / "nothing matches (did you
mean …)". Questions naming nothing ("what is failing?") get an overview, narrowed by symptom
words ("which pods are OOM killed?").

Pure: a function of (question, Snapshot, Diagnosis); no I/O, no advisors, no redaction (the
pipeline redacts what it prints or sends).
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiops.model import Diagnosis, Finding, ObjectRef, Snapshot, format_time
from aiops.model.k8s import K8sObject, dig, labels_of, meta, name_of, namespace_of

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")
_CANDIDATE_KINDS = (
    *WORKLOAD_KINDS,
    "ReplicaSet",
    "Pod",
    "Service",
    "Node",
    "PersistentVolumeClaim",
    "HorizontalPodAutoscaler",
    "ConfigMap",
)
# Small tie-breakers: with equal scores a workload is the better answer than its Service or pods.
_KIND_PRIORITY = {
    "Deployment": 5,
    "StatefulSet": 5,
    "DaemonSet": 5,
    "CronJob": 5,
    "Job": 4,
    "Namespace": 3,
    "Service": 3,
    "Node": 3,
    "PersistentVolumeClaim": 2,
    "HorizontalPodAutoscaler": 2,
    "ReplicaSet": 1,
    "Pod": 1,
    "ConfigMap": 0,
}

KIND_WORDS: Mapping[str, str] = {
    "pod": "Pod",
    "pods": "Pod",
    "deployment": "Deployment",
    "deployments": "Deployment",
    "deploy": "Deployment",
    "service": "Service",
    "services": "Service",
    "svc": "Service",
    "node": "Node",
    "nodes": "Node",
    "job": "Job",
    "jobs": "Job",
    "cronjob": "CronJob",
    "cronjobs": "CronJob",
    "statefulset": "StatefulSet",
    "statefulsets": "StatefulSet",
    "sts": "StatefulSet",
    "daemonset": "DaemonSet",
    "daemonsets": "DaemonSet",
    "ds": "DaemonSet",
    "pvc": "PersistentVolumeClaim",
    "pvcs": "PersistentVolumeClaim",
    "volume": "PersistentVolumeClaim",
    "volumes": "PersistentVolumeClaim",
    "persistentvolumeclaim": "PersistentVolumeClaim",
    "hpa": "HorizontalPodAutoscaler",
    "autoscaler": "HorizontalPodAutoscaler",
    "namespace": "Namespace",
    "namespaces": "Namespace",
    "ns": "Namespace",
    "configmap": "ConfigMap",
    "configmaps": "ConfigMap",
    "cm": "ConfigMap",
    "replicaset": "ReplicaSet",
    "rs": "ReplicaSet",
    "container": "Container",
    "containers": "Container",
}

_CRASH = ("CrashLoopBackOff", "OOMKilled", "LivenessProbeFailure", "RunContainerError")
_PROBES = ("LivenessProbeFailure", "ReadinessProbeFailure", "StartupProbeFailure")
_SCHED = (
    "Unschedulable.InsufficientResources",
    "Unschedulable.NodeAffinity",
    "Unschedulable.Taints",
    "Unschedulable.UnboundPVC",
    "PVCPending",
)
SYMPTOM_WORDS: Mapping[str, tuple[str, ...]] = {
    "oom": ("OOMKilled",),
    "oomkilled": ("OOMKilled",),
    "oomkill": ("OOMKilled",),
    "killed": ("OOMKilled",),
    "memory": ("OOMKilled", "NodePressure"),
    "crash": _CRASH,
    "crashes": _CRASH,
    "crashing": _CRASH,
    "crashloop": _CRASH,
    "crashloopbackoff": _CRASH,
    "restart": _CRASH,
    "restarts": _CRASH,
    "restarting": _CRASH,
    "image": ("ImagePullBackOff",),
    "images": ("ImagePullBackOff",),
    "pull": ("ImagePullBackOff",),
    "pulling": ("ImagePullBackOff",),
    "imagepullbackoff": ("ImagePullBackOff",),
    "errimagepull": ("ImagePullBackOff",),
    "pending": _SCHED,
    "schedule": _SCHED,
    "scheduled": _SCHED,
    "scheduling": _SCHED,
    "unschedulable": _SCHED,
    "probe": _PROBES,
    "probes": _PROBES,
    "liveness": ("LivenessProbeFailure",),
    "readiness": ("ReadinessProbeFailure",),
    "startup": ("StartupProbeFailure",),
    "unhealthy": _PROBES,
    "config": ("CreateContainerConfigError", "FailedMount"),
    "env": ("CreateContainerConfigError",),
    "mount": ("FailedMount", "Unschedulable.UnboundPVC"),
    "mounting": ("FailedMount", "Unschedulable.UnboundPVC"),
    "evicted": ("Evicted",),
    "eviction": ("Evicted",),
    "rollout": ("RolloutStuck",),
    "stuck": ("RolloutStuck", *_SCHED),
    "endpoints": ("ServiceNoEndpoints",),
    "endpoint": ("ServiceNoEndpoints",),
    "notready": ("NodeNotReady",),
    "pressure": ("NodePressure",),
    "disk": ("NodePressure",),
    "autoscaling": ("HPAMetricsUnavailable",),
    "metrics": ("HPAMetricsUnavailable",),
    "init": ("InitContainerFailure",),
}

STOPWORDS = frozenset(
    """
    a an the and or but if of in on at to for from by with without about into onto over under
    is are was were be been being am do does did doing done have has had having can could should
    would will shall may might must not no nor so than too very just also only still again now
    today yesterday suddenly anymore lately always sometimes why what whats which who whom whose
    how when where there here this that these those it its it's i me my we our us you your they
    them their he she his her any some all every each both either none something anything
    everything nothing tell explain show give help please check look see find know happening
    happen happened happens going go goes gone going wrong broken broke break breaking failing
    fail fails failed failure failures error errors erroring issue issues problem problems
    trouble status state health healthy ok okay fine working work works down up running run
    runs slow keep keeps kept getting get gets got become becomes cause causes caused reason
    reasons root thing things stuff cluster kubernetes k8s app's s t d ll re ve m
    """.split()  # noqa: SIM905
)

_TOKEN = re.compile(r"[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?")
_MIN_SCORE = 45.0
_FUZZY_CUTOFF = 0.8


@dataclass(frozen=True)
class Target:
    """An object the question names, how it was recognised, and how well it matched."""

    ref: ObjectRef
    via: str  # name | owner | container | namespace | fuzzy
    matched: str  # the question word(s) that matched
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {**self.ref.to_dict(), "via": self.via, "matched": self.matched, "score": round(self.score, 1)}


@dataclass(frozen=True)
class Answer:
    """The offline answer: status, what it is about, the findings used, and the text lines."""

    question: str
    status: str  # failing | affected (only what it depends on fails) | healthy | no-match | overview
    targets: tuple[Target, ...]
    findings: tuple[Finding, ...]
    headline: str
    lines: tuple[str, ...] = ()
    candidates: tuple[str, ...] = ()
    at: datetime | None = None

    def text(self) -> str:
        return "\n".join((self.headline, *self.lines)).rstrip() + "\n"

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "status": self.status,
            "targets": [t.to_dict() for t in self.targets],
            "answer": self.text(),
            "findings": [f.to_dict() for f in self.findings],
            "candidates": list(self.candidates),
            "at": format_time(self.at),
        }


# ---- parsing the question --------------------------------------------------------------------


@dataclass(frozen=True)
class Parsed:
    words: tuple[str, ...]  # content words, in order
    kinds: frozenset[str]  # kinds the question mentions (Pod, Service, ...)
    codes: frozenset[str]  # finding codes the symptom words point at


def parse_question(question: str) -> Parsed:
    """Split a question into content words, kind hints and symptom codes."""
    raw = _TOKEN.findall(question.lower().replace("/", " ").replace("'s ", " "))
    words: list[str] = []
    kinds: set[str] = set()
    codes: set[str] = set()
    for tok in raw:
        tok = tok.replace("_", "-")
        if tok in KIND_WORDS:
            kinds.add(KIND_WORDS[tok])
            continue
        if tok in SYMPTOM_WORDS:
            codes.update(SYMPTOM_WORDS[tok])
            continue
        if tok in STOPWORDS or tok.isdigit():
            continue
        words.append(tok)
    return Parsed(tuple(words), frozenset(kinds), frozenset(codes))


def _phrases(words: Sequence[str]) -> list[str]:
    """Words, their dotted components, and runs of 2-3 adjacent words joined with '-'."""
    out: list[str] = []
    for w in words:
        out.append(w)
        if "." in w:
            out.extend(p for p in w.split(".") if p and p not in STOPWORDS)
    for n in (2, 3):
        for i in range(len(words) - n + 1):
            out.append("-".join(words[i : i + n]))
    seen: set[str] = set()
    return [p for p in out if not (p in seen or seen.add(p))]  # type: ignore[func-returns-value]


# ---- candidates ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A name the question may use, and the object it stands for."""

    name: str
    ref: ObjectRef
    via: str  # name | owner | container | namespace
    parts: tuple[str, ...] = field(default=())


def _workload_ref(snapshot: Snapshot, obj: K8sObject) -> ObjectRef:
    owner = snapshot.workload_of(obj)
    if owner is None:
        return ObjectRef.of(obj)
    ns = namespace_of(obj)
    if owner.kind == "ReplicaSet" and snapshot.get("ReplicaSet", ns, owner.name) is None:
        # the ReplicaSet is absent: its Deployment is named by the pod-template-hash suffix
        digest = labels_of(obj).get("pod-template-hash")
        if digest and owner.name.endswith(f"-{digest}"):
            return ObjectRef("Deployment", ns, owner.name[: -len(digest) - 1])
    return ObjectRef(owner.kind, ns, owner.name)


def _pod_spec(obj: K8sObject) -> dict[str, Any]:
    kind = obj.get("kind")
    if kind == "Pod":
        spec = obj.get("spec")
    elif kind == "CronJob":
        spec = dig(obj, "spec", "jobTemplate", "spec", "template", "spec")
    else:
        spec = dig(obj, "spec", "template", "spec")
    return spec if isinstance(spec, dict) else {}


def _container_names(obj: K8sObject) -> set[str]:
    spec = _pod_spec(obj)
    return {
        str(c.get("name"))
        for key in ("containers", "initContainers")
        for c in spec.get(key) or ()
        if isinstance(c, dict) and c.get("name")
    }


_NAME_SPLIT = re.compile(r"[-.]")


def build_candidates(
    snapshot: Snapshot,
    diagnosis: Diagnosis,
    *,
    pod_names: Collection[str] | None = None,
    namespaces: Collection[str] | None = None,
) -> list[Candidate]:
    """Every name a question may use: objects, their workloads, namespaces, containers.

    Pods are thousands and only ever named exactly: with `pod_names` (the question's phrases) only
    pods of those names become name candidates (their containers always count). With `namespaces`
    (the -n scope) only objects in them (and cluster-scoped ones) are candidates.
    """
    seen: set[tuple[str, ObjectRef, str]] = set()
    out: list[Candidate] = []

    def add(name: str, ref: ObjectRef, via: str) -> None:
        name = name.lower()
        key = (name, ref, via)
        if not name or key in seen:
            return
        if namespaces is not None and (
            (ref.namespace and ref.namespace not in namespaces)
            or (ref.kind == "Namespace" and ref.name not in namespaces)
        ):
            return
        seen.add(key)
        out.append(Candidate(name, ref, via, tuple(p for p in _NAME_SPLIT.split(name) if p)))

    seen_ns: set[str] = set()
    # pods of one controller share its workload and (nearly always) its containers: resolve once
    by_controller: dict[tuple[str, str, str], tuple[ObjectRef, frozenset[str]]] = {}
    for kind in _CANDIDATE_KINDS:
        for obj in snapshot.of_kind(kind):
            ref = ObjectRef.of(obj)
            if ref.namespace:
                seen_ns.add(ref.namespace)
            if kind == "ReplicaSet":
                add(ref.name, _workload_ref(snapshot, obj), "owner")
                continue
            if kind != "Pod" or pod_names is None or ref.name in pod_names:
                add(ref.name, ref, "name")
            if kind == "Pod":
                owners = meta(obj).get("ownerReferences") or [{}]
                first = owners[0] if isinstance(owners[0], dict) else {}
                ckey = (ref.namespace, str(first.get("kind", "")), str(first.get("name", "")))
                known = by_controller.get(ckey) if first else None
                if known is None:
                    known = (_workload_ref(snapshot, obj), frozenset(_container_names(obj)))
                    if first:
                        by_controller[ckey] = known
                workload, containers = known
                for c in containers:
                    add(c, workload, "container")
            elif kind in WORKLOAD_KINDS and not meta(obj).get("ownerReferences"):
                for c in _container_names(obj):
                    add(c, ref, "container")
    for obj in snapshot.of_kind("Namespace"):
        seen_ns.add(name_of(obj))
    for f in diagnosis.findings:
        add(f.object.name, f.object, "name")
        if f.object.namespace:
            seen_ns.add(f.object.namespace)
        if f.owner is not None:
            add(f.owner.name, f.workload, "owner")
            if f.container:
                add(f.container, f.workload, "container")
        elif f.container:
            add(f.container, f.object, "container")
    for ns in seen_ns:
        add(ns, ObjectRef("Namespace", "", ns), "namespace")
    return out


# ---- matching --------------------------------------------------------------------------------


def _exact_score(phrase: str, cand: Candidate) -> float:
    """100 for the whole name, 60..100 for a dash-separated run of its parts, else 0."""
    if phrase == cand.name:
        return 100.0
    want = phrase.split("-")
    n = len(want)
    parts = cand.parts
    for i in range(len(parts) - n + 1):
        if list(parts[i : i + n]) == want:
            return 60.0 + 40.0 * len(phrase) / max(len(cand.name), 1)
    return 0.0


@dataclass
class _Index:
    cands: list[Candidate]
    by_word: dict[str, set[int]]
    vocab: list[str]
    stems: dict[str, set[str]]
    names: list[str]  # whole names only: what "did you mean" offers

    @classmethod
    def of(cls, cands: list[Candidate]) -> _Index:
        by_word: dict[str, set[int]] = defaultdict(set)
        fuzzy_words: set[str] = set()
        for i, c in enumerate(cands):
            by_word[c.name].add(i)
            for p in c.parts:
                by_word[p].add(i)
            if c.ref.kind != "Pod" and c.via != "owner":  # pods and ReplicaSets: exact names only
                fuzzy_words.add(c.name)
                fuzzy_words.update(c.parts)
        stems: dict[str, set[str]] = defaultdict(set)
        for w in fuzzy_words:
            if len(w) >= 5 and "-" not in w and "." not in w:
                stems[w[:5]].add(w)
        names = sorted({c.name for c in cands if c.ref.kind != "Pod" and c.via != "owner"})
        return cls(cands, dict(by_word), sorted(fuzzy_words), dict(stems), names)

    def close(self, phrase: str) -> list[str]:
        """Vocabulary words within difflib's cutoff, plus words sharing a stem ("migration" → "migrate")."""
        words = difflib.get_close_matches(phrase, self.vocab, n=6, cutoff=_FUZZY_CUTOFF)
        for w in self.stems.get(phrase[:5], ()) if "-" not in phrase else ():
            common = next((i for i, (a, b) in enumerate(zip(phrase, w)) if a != b), min(len(phrase), len(w)))
            if w not in words and common >= 0.7 * min(len(phrase), len(w)):
                words.append(w)
        return words


def _score_phrase(phrase: str, idx: _Index, *, fuzzy: bool = True) -> dict[int, tuple[float, str]]:
    """Scores of every candidate for one phrase: exact name/part runs first, else fuzzy (difflib)."""
    out: dict[int, tuple[float, str]] = {}
    pieces = phrase.split("-")
    sets = [idx.by_word.get(p) for p in pieces]
    exact_ids: set[int] = set()
    if all(sets):
        exact_ids = set.intersection(*[s for s in sets if s is not None])
    for i in exact_ids | idx.by_word.get(phrase, set()):
        s = _exact_score(phrase, idx.cands[i])
        if s:
            out[i] = (s, idx.cands[i].via)
    if out or not fuzzy or len(phrase) < 4:
        return out
    close = {w: difflib.SequenceMatcher(None, phrase, w).ratio() for w in idx.close(phrase)}
    for word, ratio in close.items():
        for i in idx.by_word.get(word, ()):
            s = _exact_score(word, idx.cands[i]) * ratio * 0.9
            if s > out.get(i, (0.0, ""))[0]:
                out[i] = (s, "fuzzy")
    return out


@dataclass(frozen=True)
class Match:
    targets: tuple[Target, ...]
    parsed: Parsed
    close: tuple[str, ...] = ()


def match_question(question: str, candidates: list[Candidate]) -> Match:
    """The objects a question names (best score; ties kept), or close names when nothing matches."""
    parsed = parse_question(question)
    if not parsed.words:
        return Match((), parsed)
    idx = _Index.of(candidates)
    totals: dict[ObjectRef, float] = defaultdict(float)
    best_via: dict[ObjectRef, tuple[float, str, str]] = {}
    for phrase in _phrases(parsed.words):
        per_ref: dict[ObjectRef, tuple[float, str]] = {}
        # typos are forgiven in the words of the question, not in word runs joined by aiops
        for i, (score, via) in _score_phrase(phrase, idx, fuzzy=phrase in parsed.words).items():
            ref = idx.cands[i].ref
            if score > per_ref.get(ref, (0.0, ""))[0]:
                per_ref[ref] = (score, via)
        for ref, (score, via) in per_ref.items():
            totals[ref] += score
            if score > best_via.get(ref, (0.0, "", ""))[0]:
                best_via[ref] = (score, via, phrase)
    if not totals:
        return Match((), parsed, _close_names(parsed.words, idx))

    def final(ref: ObjectRef) -> float:
        bonus = 25.0 if ref.kind in parsed.kinds else 0.0
        return totals[ref] + bonus + _KIND_PRIORITY.get(ref.kind, 0)

    ranked = sorted(totals, key=lambda r: (-final(r), str(r)))
    top = final(ranked[0])
    if best_via[ranked[0]][0] < _MIN_SCORE:
        return Match((), parsed, _close_names(parsed.words, idx))
    chosen: list[ObjectRef] = []
    names: set[tuple[str, str]] = set()
    for r in ranked:
        if final(r) < top - 6.0 or best_via[r][0] < _MIN_SCORE:
            continue
        if (r.namespace, r.name) in names:  # its Service/HPA of the same name are related objects
            continue
        names.add((r.namespace, r.name))
        chosen.append(r)
    # a pod whose workload is also chosen adds nothing
    chosen_set = set(chosen)
    targets = tuple(
        Target(ref, best_via[ref][1], best_via[ref][2], final(ref))
        for ref in chosen
        if not (ref.kind == "Pod" and _pod_workload_chosen(ref, candidates, chosen_set))
    )
    if len(targets) > 2 and all(t.via == "fuzzy" for t in targets):
        # a typo close to many names is a guess, not an answer: offer the names instead
        return Match((), parsed, tuple(_label(t.ref) for t in targets[:8]))
    return Match(targets, parsed)


def _pod_workload_chosen(pod: ObjectRef, candidates: list[Candidate], chosen: set[ObjectRef]) -> bool:
    return any(
        c.ref in chosen and c.ref != pod and pod.name.startswith(c.ref.name + "-") and c.ref.kind != "Pod"
        for c in candidates
        if c.via == "name"
    )


def _close_names(words: Sequence[str], idx: _Index) -> tuple[str, ...]:
    names: list[str] = []
    for w in words:
        for word in difflib.get_close_matches(w, idx.names, n=8, cutoff=0.5):
            for i in sorted(
                idx.by_word.get(word, ()), key=lambda i: -_KIND_PRIORITY.get(idx.cands[i].ref.kind, 0)
            ):
                label = _label(idx.cands[i].ref)
                if label not in names:
                    names.append(label)
    return tuple(names[:8])


def _label(ref: ObjectRef) -> str:
    if ref.kind == "Namespace":
        return f"namespace {ref.name}"
    if ref.namespace:
        return f"{ref.kind} {ref.namespace}/{ref.name}"
    return f"{ref.kind} {ref.name}"


# ---- related findings ------------------------------------------------------------------------


def _selector_matches(selector: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _template_labels(obj: K8sObject) -> dict[str, Any]:
    if obj.get("kind") == "Pod":
        return labels_of(obj)
    if obj.get("kind") == "CronJob":
        lab = dig(obj, "spec", "jobTemplate", "spec", "template", "metadata", "labels")
    else:
        lab = dig(obj, "spec", "template", "metadata", "labels")
    return lab if isinstance(lab, dict) else {}


def _claims(obj: K8sObject) -> set[str]:
    spec = _pod_spec(obj)
    out = {
        str(dig(v, "persistentVolumeClaim", "claimName"))
        for v in spec.get("volumes") or ()
        if isinstance(v, dict) and dig(v, "persistentVolumeClaim", "claimName")
    }
    if obj.get("kind") == "StatefulSet":
        name = name_of(obj)
        for vct in dig(obj, "spec", "volumeClaimTemplates") or ():
            if isinstance(vct, dict):
                prefix = f"{name_of(vct)}-{name}-"
                out.add(prefix)  # matched as a prefix below
    return out


def related_refs(ref: ObjectRef, snapshot: Snapshot) -> set[ObjectRef]:
    """Objects whose findings explain `ref`: its Services, HPA, volumes, nodes, selected workloads."""
    out: set[ObjectRef] = set()
    ns = ref.namespace
    obj = snapshot.get(ref.kind, ns, ref.name)
    if ref.kind in WORKLOAD_KINDS or ref.kind == "Pod":
        pods = [obj] if ref.kind == "Pod" and obj else snapshot.pods_of(ref)
        labels = _template_labels(obj) if obj else (labels_of(pods[0]) if pods else {})
        for svc in snapshot.of_kind("Service"):
            if namespace_of(svc) == ns and _selector_matches(dig(svc, "spec", "selector") or {}, labels):
                out.add(ObjectRef.of(svc))
        for hpa in snapshot.of_kind("HorizontalPodAutoscaler"):
            target = dig(hpa, "spec", "scaleTargetRef") or {}
            if namespace_of(hpa) == ns and target.get("kind") == ref.kind and target.get("name") == ref.name:
                out.add(ObjectRef.of(hpa))
        claims: set[str] = set()
        for o in [*(p for p in pods if p), *([obj] if obj else [])]:
            claims |= _claims(o)
        for pvc in snapshot.of_kind("PersistentVolumeClaim"):
            n = name_of(pvc)
            if namespace_of(pvc) == ns and any(
                n == c or (c.endswith("-") and n.startswith(c)) for c in claims
            ):
                out.add(ObjectRef.of(pvc))
        for p in pods:
            node = dig(p, "spec", "nodeName")
            if node:
                out.add(ObjectRef("Node", "", str(node)))
    elif ref.kind == "Service" and obj is not None:
        selector = dig(obj, "spec", "selector") or {}
        for kind in WORKLOAD_KINDS:
            for w in snapshot.of_kind(kind):
                if namespace_of(w) == ns and _selector_matches(selector, _template_labels(w)):
                    out.add(ObjectRef.of(w))
        for p in snapshot.of_kind("Pod"):
            if namespace_of(p) == ns and _selector_matches(selector, labels_of(p)):
                out.add(_workload_ref(snapshot, p))
    elif ref.kind == "HorizontalPodAutoscaler" and obj is not None:
        target = dig(obj, "spec", "scaleTargetRef") or {}
        if target.get("kind") and target.get("name"):
            out.add(ObjectRef(str(target["kind"]), ns, str(target["name"])))
    elif ref.kind == "PersistentVolumeClaim":
        for p in snapshot.of_kind("Pod"):
            if namespace_of(p) == ns and ref.name in _claims(p):
                out.add(_workload_ref(snapshot, p))
    out.discard(ref)
    return out


def findings_for(
    ref: ObjectRef, snapshot: Snapshot, diagnosis: Diagnosis
) -> tuple[list[Finding], list[Finding]]:
    """Findings about `ref` itself (its pods for a workload), and those of related objects."""
    if ref.kind == "Namespace":
        return [f for f in diagnosis.findings if f.object.namespace == ref.name], []
    if ref.kind == "Node":
        pods_on_node = {
            ObjectRef.of(p) for p in snapshot.of_kind("Pod") if dig(p, "spec", "nodeName") == ref.name
        }
        own = [f for f in diagnosis.findings if f.object == ref]
        return own, [f for f in diagnosis.findings if f.object in pods_on_node]
    if ref.kind == "ConfigMap":
        own = [f for f in diagnosis.findings if f.object == ref]
        users = [
            f
            for f in diagnosis.findings
            if f.object != ref
            and f.object.namespace == ref.namespace
            and f.cause is not None
            and ref.name in (f.cause.detail.get("configmap"), f.cause.detail.get("name"))
        ]
        return own, users
    own = [f for f in diagnosis.findings if ref in (f.object, f.workload)]
    related = related_refs(ref, snapshot)
    rel = [
        f
        for f in diagnosis.findings
        if f not in own and (f.object in related or f.workload in related) and _relevant_related(f, ref)
    ]
    return own, rel


def _relevant_related(f: Finding, ref: ObjectRef) -> bool:
    # a node finding is relevant; another workload's pods are only when we asked about a Service/HPA/PVC
    if f.object.kind == "Node":
        return True
    return ref.kind not in (*WORKLOAD_KINDS, "Pod") or f.object.kind != "Pod"


# ---- composing the answer --------------------------------------------------------------------


def _count_by_severity(findings: Sequence[Finding]) -> str:
    counts: dict[str, int] = defaultdict(int)
    for f in findings:
        counts[f.severity.value] += 1
    return ", ".join(f"{counts[s]} {s}" for s in ("critical", "warning", "info") if counts.get(s))


def _cause_text(f: Finding) -> str | None:
    if f.cause is None:
        return None
    detail = ", ".join(f"{k}={v}" for k, v in f.cause.detail.items() if v not in (None, "", [], {}))
    return f"{f.cause.type} ({detail})" if detail else f.cause.type


def _group(findings: Sequence[Finding]) -> list[list[Finding]]:
    """Same failure on several pods of one workload → one group (first finding is representative)."""
    groups: dict[tuple[Any, ...], list[Finding]] = {}
    for f in findings:
        key = (f.code, f.workload, f.object.kind, f.container, f.cause.type if f.cause else None)
        groups.setdefault(key, []).append(f)
    return list(groups.values())


def _describe_group(group: Sequence[Finding], max_evidence: int = 6) -> list[str]:
    f = group[0]
    where = f"{f.object.kind} {f.object.name}" if len(group) == 1 else ""
    if len(group) > 1:
        names = ", ".join(g.object.name for g in group[:4]) + (", …" if len(group) > 4 else "")
        where = f"{len(group)} {f.object.kind.lower()}s ({names})"
    if f.container:
        where += f", container {f.container}"
    lines = [f"- [{f.severity.value}] {f.code} on {where}", f"  What: {f.summary}"]
    cause = _cause_text(f)
    if cause:
        lines.append(f"  Root cause: {cause}")
    if f.evidence:
        lines.append("  Evidence:")
        lines.extend(f"    · {e}" for e in f.evidence[:max_evidence])
        if len(f.evidence) > max_evidence:
            lines.append(f"    · … {len(f.evidence) - max_evidence} more")
    if f.remediation:
        lines.append(f"  Fix: {f.remediation}")
    if f.started_at is not None:
        lines.append(f"  Since: {format_time(f.started_at)}")
    return lines


def _status_line(ref: ObjectRef, snapshot: Snapshot) -> str | None:
    obj = snapshot.get(ref.kind, ref.namespace, ref.name)
    if obj is None:
        return None
    st = obj.get("status") if isinstance(obj.get("status"), dict) else {}
    assert isinstance(st, dict)
    if ref.kind in ("Deployment", "StatefulSet"):
        want = dig(obj, "spec", "replicas", default=1)
        return f"{st.get('readyReplicas', 0)}/{want} replicas ready"
    if ref.kind == "DaemonSet":
        return f"{st.get('numberReady', 0)}/{st.get('desiredNumberScheduled', 0)} pods ready"
    if ref.kind == "Job":
        return f"succeeded {st.get('succeeded', 0)}, failed {st.get('failed', 0)}"
    if ref.kind == "Pod":
        statuses = [c for c in st.get("containerStatuses") or () if isinstance(c, dict)]
        ready = sum(1 for c in statuses if c.get("ready"))
        restarts = sum(int(c.get("restartCount") or 0) for c in statuses)
        return f"phase {st.get('phase', '?')}, {ready}/{len(statuses)} containers ready, {restarts} restarts"
    if ref.kind == "Node":
        node_ready = next(
            (
                c.get("status")
                for c in st.get("conditions") or ()
                if isinstance(c, dict) and c.get("type") == "Ready"
            ),
            "Unknown",
        )
        return f"Ready={node_ready}"
    return None


def _at(snapshot: Snapshot) -> str:
    return format_time(snapshot.at) or "?"


def answer_question(
    question: str, snapshot: Snapshot, diagnosis: Diagnosis, *, namespaces: Collection[str] | None = None
) -> Answer:
    """Answer a question offline from the findings of a diagnosis of `snapshot`.

    `namespaces` is the scope the diagnosis was limited to (None: everything in the snapshot);
    objects outside it are not matched, so nothing out of scope is called healthy.
    """
    phrases = set(_phrases(parse_question(question).words))
    candidates = build_candidates(snapshot, diagnosis, pod_names=phrases, namespaces=namespaces)
    m = match_question(question, candidates)
    at = snapshot.at
    if not m.parsed.words:
        return _overview(question, m.parsed, snapshot, diagnosis)
    if not m.targets:
        words = " ".join(f'"{w}"' for w in m.parsed.words)
        where = "the cluster snapshot"
        if namespaces is not None:
            where = ("namespace " if len(namespaces) == 1 else "namespaces ") + ", ".join(sorted(namespaces))
        headline = f"Nothing in {where} matches {words}."
        close = (
            m.close
            or tuple(dict.fromkeys(_label(c.ref) for c in candidates if c.ref.kind in WORKLOAD_KINDS))[:8]
        )
        if m.close:
            hint = f"Did you mean: {'; '.join(close)}?"
        else:
            hint = (
                f"Workloads in the snapshot: {'; '.join(close)}."
                if close
                else "The snapshot has no workloads."
            )
        return Answer(question, "no-match", (), (), headline, (hint,), close, at)

    all_findings: list[Finding] = []
    lines: list[str] = []
    failing = affected = 0
    for t in m.targets:
        own, rel = findings_for(t.ref, snapshot, diagnosis)
        fs = own + rel
        if m.parsed.codes:  # symptom words put matching failures first
            fs.sort(key=lambda f: f.code not in m.parsed.codes)
        via = "" if t.via in ("name", "owner") else f" (matched {t.via} {t.matched!r})"
        status = _status_line(t.ref, snapshot)
        if not fs:
            lines.append(
                f"{_label(t.ref)}{via} looks healthy: no findings for it"
                + (", its pods or what they use" if t.ref.kind in WORKLOAD_KINDS else "")
                + f" in the snapshot judged at {_at(snapshot)}"
                + (f" ({status})." if status else ".")
            )
            continue
        head = f"{_label(t.ref)}{via} is failing: {_count_by_severity(fs)} finding(s)"
        if own:
            failing += 1
        else:
            affected += 1
            why = {"Node": "pods running on it do", "ConfigMap": "pods using it do"}.get(
                t.ref.kind, "what it depends on does"
            )
            head = f"{_label(t.ref)}{via} has no finding itself, but {why}"
        if status:
            head += f"; {status}"
        lines.append(head + ".")
        for group in _group(fs):
            if group[0] not in own:
                lines.append(f"  (related: {_label(group[0].object)})")
            lines.extend("  " + ln for ln in _describe_group(group))
        for f in fs:
            if f not in all_findings:
                all_findings.append(f)
    single = len(m.targets) == 1
    if failing or affected:
        headline = lines[0] if single else f"{failing} of {len(m.targets)} matched objects are failing."
        if not single and affected:
            headline = headline[:-1] + f"; {affected} depend on something that is."
        rest = tuple(lines[1:] if single else lines)
        status = "failing" if failing else "affected"
        return Answer(question, status, m.targets, tuple(all_findings), headline, rest, (), at)
    headline = lines[0] if single else "None of the matched objects has a finding."
    return Answer(question, "healthy", m.targets, (), headline, tuple(lines[1:] if single else lines), (), at)


def _overview(question: str, parsed: Parsed, snapshot: Snapshot, diagnosis: Diagnosis) -> Answer:
    fs: Iterable[Finding] = diagnosis.findings
    scope = ""
    if parsed.codes:
        fs = [f for f in fs if f.code in parsed.codes]
        scope = " matching " + ", ".join(sorted(parsed.codes))
    kinds = parsed.kinds - {"Container", "Namespace"}
    if kinds:
        fs = [f for f in fs if f.object.kind in kinds or f.workload.kind in kinds]
        scope += " on " + ", ".join(sorted(k.lower() + "s" for k in kinds))
    findings = list(fs)
    if not findings:
        headline = (
            f"Nothing is failing{scope}: no findings among {snapshot.count()} objects "
            f"judged at {_at(snapshot)}."
        )
        return Answer(question, "healthy", (), (), headline, (), (), snapshot.at)
    by_workload: dict[ObjectRef, list[Finding]] = {}
    for f in findings:
        by_workload.setdefault(f.workload, []).append(f)
    headline = (
        f"{len(by_workload)} object(s) failing{scope} ({_count_by_severity(findings)}), "
        f"judged at {_at(snapshot)}:"
    )
    lines: list[str] = []
    for ref, group in by_workload.items():
        codes = ", ".join(dict.fromkeys(f.code for f in group))
        lines.append(f"- {_label(ref)}: {codes} — {group[0].summary}")
        cause = _cause_text(group[0])
        if cause:
            lines.append(f"  Root cause: {cause}")
        if group[0].remediation:
            lines.append(f"  Fix: {group[0].remediation}")
    lines.append('Ask about one of them for the evidence, e.g. aiops ask "why is <name> failing?".')
    targets = tuple(Target(ref, "overview", "", 0.0) for ref in by_workload)
    return Answer(question, "overview", targets, tuple(findings), headline, tuple(lines), (), snapshot.at)
