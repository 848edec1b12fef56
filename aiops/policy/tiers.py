"""The risk tier of a change set (DESIGN §4.6): trivial, low, medium or critical, with reasons.

`classify(change_set, context)` reads only what the change really does — its paths (and the old
paths of renames), the values it changes (parsed from the file texts, whatever the change set
claims), their magnitudes, its author and whether it purely reverts a merged change — never a
label. Every file and every changed value gets a rule; the most restrictive rule wins, and
anything not recognised is critical (fail closed). Pure: no I/O, no clock, no network.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from aiops.model.changes import ChangeSet, FileChange, KeyChange
from aiops.policy.keypaths import (
    KeyPathError,
    diff_documents,
    file_key_changes,
    load_documents,
    lookup,
    nested_keys,
    words,
)
from aiops.policy.keypaths import split_path as _split
from aiops.settings import Settings

TIERS: tuple[str, ...] = ("trivial", "low", "medium", "critical")
RANK: dict[str, int] = {t: i for i, t in enumerate(TIERS)}

RESTART_ANNOTATION = "aiops.io/restartedAt"

SENSITIVE_KINDS = frozenset(
    {
        "secret",
        "role",
        "clusterrole",
        "rolebinding",
        "clusterrolebinding",
        "serviceaccount",
        "namespace",
        "networkpolicy",
        "customresourcedefinition",
        "podsecuritypolicy",
        "validatingwebhookconfiguration",
        "mutatingwebhookconfiguration",
        "validatingadmissionpolicy",
        "validatingadmissionpolicybinding",
        "priorityclass",
        "resourcequota",
        "limitrange",
        "certificatesigningrequest",
    }
)

# Key names (any segment of a key path, or any key inside a changed subtree) that make a change
# critical: secrets and credentials, RBAC and identities, namespaces, network policy, CRDs,
# container privileges and host access.
_SENSITIVE_KEY = re.compile(
    r"secret|password|passwd|token|credential|apikey|api_key|api-key|private_?key|"
    r"rbac|serviceaccount|^roles?$|clusterrole|rolebinding|"
    r"networkpolic|^namespace|crds?$|customresource|"
    r"securitycontext|privilege|capabilities|^host(network|pid|ipc|path|port|users)$|"
    r"runasuser|runasgroup|runasnonroot|fsgroup|seccomp|apparmor|selinux|sysctls|procmount|"
    r"automountserviceaccounttoken|readonlyrootfilesystem"
)
_PROBES = frozenset({"livenessprobe", "readinessprobe", "startupprobe"})
_CONFIG_ROOTS = frozenset(
    {"config", "configmap", "env", "envfrom", "extraenv", "settings", "app", "appconfig"}
)


@dataclass(frozen=True)
class TierReason:
    """One rule that fired: its tier, the file (and key) it is about, and why."""

    tier: str
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.tier}: {self.path}: {self.reason}"


@dataclass(frozen=True)
class TierResult:
    """The tier (most restrictive rule), the reasons (most restrictive first) and notes.

    `record_edits`: existing files under history/ (other than runbooks) that the change edits,
    deletes or renames away; the gate fails such a change outright (DESIGN §4.5).
    """

    tier: str
    reasons: tuple[str, ...]
    rules: tuple[TierReason, ...] = ()
    notes: tuple[str, ...] = ()
    record_edits: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "tier": self.tier,
            "reasons": list(self.reasons),
            "notes": list(self.notes),
            "record_edits": list(self.record_edits),
        }


@dataclass(frozen=True)
class RevertedChange:
    """The merged PR a change set says it reverts (`ChangeSet.revert_of`), and what that PR changed."""

    number: int
    merged: bool
    change_set: ChangeSet


@dataclass(frozen=True)
class ClassifyContext:
    """What the classifier may know besides the change set itself.

    `values_files`: the Helm values files the planner maintains (environment values and chart
    defaults); `manifest_files`: raw manifests it maintains; any other file is unknown.
    `aiops_logins`: the aiops automation identities (trivial needs them as the only authors);
    `commit_authors`: every author of the PR's commits besides `ChangeSet.author` (a person who
    pushed onto an aiops branch makes it a person's change). `reverted`: the merged PR named by
    `revert_of`. `max_replicas`: the replica bound when the values hold no HPA bounds.
    `complete`: False when the file list was truncated (the API's 3,000-file limit).
    """

    values_files: frozenset[str] = frozenset()
    manifest_files: frozenset[str] = frozenset()
    aiops_logins: tuple[str, ...] = ("aiops-bot[bot]",)
    commit_authors: tuple[str, ...] = ()
    reverted: RevertedChange | None = None
    max_replicas: int = 10
    complete: bool = True

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        commit_authors: Sequence[str] = (),
        reverted: RevertedChange | None = None,
        complete: bool = True,
    ) -> ClassifyContext:
        values: set[str] = set()
        for rel in settings.apply.releases.values():
            values.update(rel.values)
            values.add(f"{rel.chart.rstrip('/')}/values.yaml")
        manifests: set[str] = set()
        for t in settings.targets:
            (values if t.file.endswith((".yaml", ".yml")) and "values" in t.file else manifests).add(t.file)
        # a target file that is not a release's values file may still be a values file; both kinds
        # are read the same way (documents carrying apiVersion+kind are Kubernetes objects).
        return cls(
            values_files=frozenset(values),
            manifest_files=frozenset(manifests - values),
            aiops_logins=tuple(settings.approvals.bots),
            commit_authors=tuple(commit_authors),
            reverted=reverted,
            max_replicas=settings.scaling.max_replicas_cap,
            complete=complete,
        )

    @property
    def known_files(self) -> frozenset[str]:
        return self.values_files | self.manifest_files


def max_tier(tiers: Iterable[str]) -> str:
    """The most restrictive of some tiers (unknown names count as critical)."""
    best = "trivial"
    for t in tiers:
        if RANK.get(t, RANK["critical"]) > RANK[best]:
            best = t if t in RANK else "critical"
    return best


# ---- paths ---------------------------------------------------------------------------------


def _normal(path: str) -> tuple[str, bool]:
    """The path with `\\`→`/`; and whether it was already canonical (no `.`, `..`, `//`, lead `/`)."""
    raw = path.replace("\\", "/")
    parts = raw.split("/")
    clean = [p for p in parts if p not in ("", ".")]
    ok = raw == "/".join(clean) and ".." not in clean and path == raw and bool(clean)
    return "/".join(clean), ok


def _under(path: str, prefix: str) -> bool:
    """Case-insensitive: `.GitHub/x` is `.github/x` on case-insensitive checkouts."""
    return path.lower().startswith(prefix.lower())


def _sensitive_path(path: str) -> str | None:
    low = path.lower()
    name = low.rsplit("/", 1)[-1]
    if _under(path, ".github/") or low == ".github":
        return "under .github/ (workflows and the aiops policy)"
    if name == "codeowners":
        return "CODEOWNERS decides who must review"
    if _under(path, "aiops/") or low == "aiops":
        return "under aiops/ (the tool and its gate)"
    return None


def _record_dir(path: str) -> str | None:
    for d in ("history/prompts/", "history/reports/", "history/runbooks/", "history/"):
        if _under(path, d):
            return d
    return None


# ---- the classifier --------------------------------------------------------------------------


@dataclass
class _Acc:
    by_bot: bool = False
    who: str = "an unknown author"
    rules: list[TierReason] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    record_edits: list[str] = field(default_factory=list)

    def add(self, tier: str, path: str, reason: str) -> None:
        self.rules.append(TierReason(tier, path, reason))


def classify(change_set: ChangeSet, context: ClassifyContext) -> TierResult:
    """The tier of a change set and every reason; the most restrictive rule wins (DESIGN §4.6)."""
    acc = _Acc(by_bot=_authored_by_bot(change_set, context), who=change_set.author or "an unknown author")
    if not context.complete:
        acc.add(
            "critical", "(file list)", "the list of changed files is incomplete; cannot judge what is hidden"
        )
    if not change_set.files:
        acc.add("low", "(no files)", "the change set changes no file; one approval to confirm")
    for fc in change_set.files:
        _classify_file(fc, context, acc)
    if change_set.revert_of is not None:
        _apply_revert(change_set, context, acc)
    rules = sorted(acc.rules, key=lambda r: -RANK[r.tier])
    tier = max_tier(r.tier for r in rules) if rules else "low"
    return TierResult(
        tier=tier,
        reasons=tuple(dict.fromkeys(str(r) for r in rules)),
        rules=tuple(rules),
        notes=tuple(acc.notes),
        record_edits=tuple(dict.fromkeys(acc.record_edits)),
    )


def _same_login(a: str, b: str) -> bool:
    return a.strip().lower() == b.strip().lower()


def _authored_by_bot(cs: ChangeSet, ctx: ClassifyContext) -> bool:
    authors = [a for a in (cs.author, *ctx.commit_authors) if a is not None]
    if not authors:
        return False
    return all(any(_same_login(a, bot) for bot in ctx.aiops_logins) for a in authors)


def _classify_file(fc: FileChange, ctx: ClassifyContext, acc: _Acc) -> None:
    if fc.old_text is None and fc.new_text is None:
        acc.add("critical", fc.path, "file content unavailable (binary or too large); cannot judge it")
        return
    renamed = bool(fc.old_path) and fc.old_path != fc.path
    if renamed:
        assert fc.old_path is not None
        _classify_path(fc, fc.old_path, "deleted", ctx, acc, note=f"renamed to {fc.path}")
        _classify_path(fc, fc.path, "added", ctx, acc, note=f"renamed from {fc.old_path}")
        return
    action = fc.status  # added | deleted | modified
    _classify_path(fc, fc.path, action, ctx, acc)


def _classify_path(
    fc: FileChange,
    path: str,
    action: str,
    ctx: ClassifyContext,
    acc: _Acc,
    *,
    note: str = "",
) -> None:
    suffix = f" ({note})" if note else ""
    norm, canonical = _normal(path)
    if not canonical:
        acc.add("critical", path, f"path is not in canonical form{suffix}")
    sensitive = _sensitive_path(norm)
    if sensitive:
        acc.add("critical", path, f"{action}: {sensitive}{suffix}")
        return
    rec = _record_dir(norm)
    if rec is not None:
        _classify_record(norm, rec, action, acc, suffix)
        return
    if norm in ctx.known_files and canonical:
        if action == "deleted":
            acc.add("critical", path, f"deletes a file the planner maintains{suffix}")
            return
        if fc.old_path and fc.old_path != fc.path:
            acc.add("critical", path, f"a known file replaced by a rename{suffix}")
            return
        _classify_keys(fc, ctx, acc)
        return
    acc.add("critical", path, f"{action}: a file the planner does not know{suffix}")


def _classify_record(norm: str, rec: str, action: str, acc: _Acc, suffix: str) -> None:
    by_bot, who = acc.by_bot, acc.who
    if rec == "history/runbooks/":
        if by_bot:
            acc.add("trivial", norm, f"runbook regenerated by the aiops bot{suffix}")
        else:
            acc.add("low", norm, f"runbook {action} by {who} (a person's edit of generated docs){suffix}")
        return
    if action != "added":
        what = "record" if rec in ("history/prompts/", "history/reports/") else "history file"
        acc.record_edits.append(norm)
        acc.add(
            "critical",
            norm,
            f"{action} an existing {what}: history is append-only"
            f" (use `aiops rollback`, which keeps records){suffix}",
        )
        return
    if by_bot:
        acc.add("trivial", norm, f"new record added by the aiops bot{suffix}")
    else:
        acc.add("low", norm, f"new record added by {who}, not the aiops bot{suffix}")


# ---- values and manifests --------------------------------------------------------------------


def _docs(text: str | None, where: str) -> list[Any]:
    return load_documents(text, where=where) if text else []


def _classify_keys(fc: FileChange, ctx: ClassifyContext, acc: _Acc) -> None:
    try:
        old_docs = _docs(fc.old_text, fc.old_path or fc.path)
        new_docs = _docs(fc.new_text, fc.path)
        computed = diff_documents(old_docs, new_docs, where=fc.path)
    except KeyPathError as exc:
        acc.add("critical", fc.path, f"cannot read the file as YAML ({exc}); cannot judge it")
        return
    for doc in new_docs:
        if not isinstance(doc, dict):
            acc.add("critical", fc.path, f"the file is no longer a mapping of values ({type(doc).__name__})")
            return
    changes: list[KeyChange] = list(computed)
    seen = {tuple(words(c.path)) for c in computed}
    for given in fc.keys:  # what the planner said it changed: judged too, in case texts are partial
        if tuple(words(given.path)) not in seen:
            changes.append(given)
    if not changes:
        if (fc.old_text or "") != (fc.new_text or ""):
            acc.add("low", fc.path, "formatting or comments only (no value changes)")
        return
    multi = max(len(old_docs), len(new_docs)) > 1
    for kc in changes:
        segs = _split(kc.path)
        doc_index = 0
        if multi and segs and isinstance(segs[0], int):
            doc_index, segs = segs[0], segs[1:]
        old_doc = old_docs[doc_index] if doc_index < len(old_docs) else None
        new_doc = new_docs[doc_index] if doc_index < len(new_docs) else None
        tier, reason = _key_rule(kc, segs, old_doc, new_doc, ctx)
        if tier == "trivial" and not acc.by_bot:
            tier, reason = "low", f"{reason}, changed by {acc.who} (not only the aiops bot)"
        acc.add(tier, f"{fc.path}:{kc.path}", reason)


def _kind(doc: Any) -> str | None:
    if isinstance(doc, dict) and "apiVersion" in doc and "kind" in doc:
        return str(doc.get("kind"))
    return None


def _short(value: Any) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."


def _key_rule(
    kc: KeyChange, segs: list[str | int], old_doc: Any, new_doc: Any, ctx: ClassifyContext
) -> tuple[str, str]:
    words = [s.lower() for s in segs if isinstance(s, str)]
    kinds = {k for k in (_kind(old_doc), _kind(new_doc)) if k}
    raw = bool(kinds)
    change = f"{_short(kc.old)} → {_short(kc.new)}"
    for k in sorted(kinds):
        if k.lower() in SENSITIVE_KINDS:
            return "critical", f"changes a {k} object"
    if raw and words and words[0] in ("kind", "apiversion") and len(words) == 1:
        return "critical", f"changes what object this is ({change})"
    inner = nested_keys(kc.old) + nested_keys(kc.new)
    for w in [*words, *inner]:
        for piece in [w, *w.replace("/", ".").split(".")]:
            if _SENSITIVE_KEY.search(piece):
                return "critical", f"security-sensitive key ({piece}): {change}"
    joined = ".".join(words)
    if (
        joined.endswith(
            (
                "podannotations." + RESTART_ANNOTATION.lower(),
                "template.metadata.annotations." + RESTART_ANNOTATION.lower(),
            )
        )
        and not isinstance(kc.new, dict | list)
        and not isinstance(kc.old, dict | list)
    ):
        return "trivial", f"restart annotation {RESTART_ANNOTATION} {change}"
    last = words[-1] if words else ""
    if (not raw and last == "replicacount") or (raw and joined == "spec.replicas"):
        return _replica_rule(kc, segs, new_doc, ctx)
    if "resources" in words:
        return "medium", f"resources {change}"
    if "autoscaling" in words or any(k.lower() == "horizontalpodautoscaler" for k in kinds):
        return "medium", f"autoscaling {change}"
    if _PROBES & set(words):
        return "medium", f"probe {change}"
    if any(w == "image" or w.startswith("image") for w in words):
        return "medium", f"image {change}"
    if (words and words[0] in _CONFIG_ROOTS) or any(k.lower() == "configmap" for k in kinds):
        return "medium", f"app config value {change}"
    if raw:
        return "medium", f"manifest value {change}"
    return "medium", f"values key {change}"


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _replica_rule(
    kc: KeyChange, segs: list[str | int], new_doc: Any, ctx: ClassifyContext
) -> tuple[str, str]:
    old, new = kc.old, kc.new
    if not (_is_int(old) and _is_int(new)):
        return "medium", f"replicas {_short(old)} → {_short(new)} (not a plain count change)"
    lo, hi = 1, ctx.max_replicas
    parent = list(segs[:-1])
    hpa = lookup(new_doc, [*parent, "autoscaling"]) if not (_kind(new_doc)) else None
    if isinstance(hpa, dict) and _is_int(hpa.get("minReplicas")) and _is_int(hpa.get("maxReplicas")):
        lo, hi = int(hpa["minReplicas"]), int(hpa["maxReplicas"])
    delta = new - old
    if abs(delta) > 2:
        return "medium", f"replicas {old} → {new} ({delta:+d}, more than ±2)"
    if not lo <= new <= hi:
        return "medium", f"replicas {old} → {new} outside the bounds {lo}..{hi}"
    return "low", f"replicas {old} → {new} ({delta:+d}, within {lo}..{hi})"


# ---- the rollback fast path ------------------------------------------------------------------


def _value(v: Any) -> str:
    return json.dumps(v, sort_keys=True, default=str)


def _manifest_changes(cs: ChangeSet) -> set[tuple[str, str, str, str]] | None:
    out: set[tuple[str, str, str, str]] = set()
    for fc in cs.files:
        if not _under(fc.path, "manifests/"):
            continue
        if fc.old_path and fc.old_path != fc.path:
            return None
        try:
            for kc in file_key_changes(fc):
                out.add((fc.path, kc.path, _value(kc.old), _value(kc.new)))
        except KeyPathError:
            return None
    return out


def _apply_revert(cs: ChangeSet, ctx: ClassifyContext, acc: _Acc) -> None:
    n = cs.revert_of
    rev = ctx.reverted
    if rev is None or rev.number != n:
        acc.notes.append(f"reverts #{n}, but that PR's changes were not given: classified by content")
        return
    if not rev.merged:
        acc.notes.append(f"reverts #{n}, which is not merged: classified by content")
        return
    problems: list[str] = []
    rollback_records = 0
    for fc in cs.files:
        if _under(fc.path, "manifests/"):
            continue
        if (
            fc.status == "added"
            and _under(fc.path, "history/prompts/")
            and fc.path.endswith("--rollback.md")
            and _normal(fc.path)[1]
        ):
            rollback_records += 1
            continue
        problems.append(f"also changes {fc.path}")
    if rollback_records == 0:
        problems.append("adds no rollback record (history/prompts/…--rollback.md)")
    mine = _manifest_changes(cs)
    theirs = _manifest_changes(rev.change_set)
    if mine is None or theirs is None:
        problems.append("manifests/ changes could not be compared value by value")
    elif not mine:
        problems.append("changes nothing under manifests/")
    elif mine != {(f, k, new, old) for (f, k, old, new) in theirs}:
        problems.append(f"its manifests/ changes are not the exact inverse of #{n}'s")
    if problems:
        acc.notes.append(
            f"reverts #{n} but is not a pure revert ({'; '.join(problems)}): classified by content"
        )
        return
    original = classify(rev.change_set, replace(ctx, reverted=None, commit_authors=()))
    if original.tier == "critical":
        acc.add(
            "critical", f"revert of #{n}", f"#{n} was critical; reverts of critical changes stay critical"
        )
        return
    # the fast path: a pure revert of a non-critical change (plus its record) is low
    kept = [r for r in acc.rules if r.tier == "critical"]
    acc.rules[:] = kept
    acc.add(
        "low",
        f"revert of #{n}",
        f"pure revert of the manifests/ changes of merged #{n} with a rollback record",
    )
