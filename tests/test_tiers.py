"""The risk-tier rule table of DESIGN §4.6: every rule, its boundaries, and the ways to dodge it."""

from __future__ import annotations

import pytest

from aiops.model.changes import ChangeSet, FileChange, KeyChange
from aiops.policy import ClassifyContext, RevertedChange, classify
from aiops.settings import Settings, settings_from_dict

VALUES = "manifests/environments/minikube/todo-backend.yaml"
CHART_VALUES = "manifests/charts/todo-backend/values.yaml"
RAW = "manifests/raw/worker.yaml"
BOT = "aiops-bot[bot]"
PERSON = "dave"
RECORD = "history/prompts/2026/11/20261125-rightsize-todo-deployment-todo-backend--recommendation.md"

BASE = """\
# todo-backend on minikube: the settings aiops tunes
replicaCount: 2  # HA floor

image:
  repository: ghcr.io/example/todo-backend
  tag: "1.4.2"

podAnnotations: {}

serviceAccount:
  create: true
  name: ""

podSecurityContext: {}
securityContext: {}

resources:
  requests:
    cpu: 500m
    memory: 512Mi
  limits:
    memory: 512Mi

livenessProbe:
  httpGet: {path: /healthz, port: http}
readinessProbe:
  httpGet: {path: /readyz, port: http}

autoscaling:
  enabled: false
  minReplicas: 2
  maxReplicas: 5
  targetCPUUtilizationPercentage: 70

config:
  LOG_LEVEL: info
  REDIS_URL: redis://redis:6379/0

nodeSelector: {}
"""

RAW_TEXT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: worker
  namespace: todo
spec:
  replicas: 2
  template:
    metadata:
      annotations: {}
    spec:
      containers:
        - name: worker
          image: ghcr.io/example/worker:1.0
          resources:
            requests: {cpu: 100m, memory: 128Mi}
---
apiVersion: v1
kind: Secret
metadata:
  name: worker-token
  namespace: todo
stringData:
  token: placeholder
"""


def ctx(**kw: object) -> ClassifyContext:
    settings = settings_from_dict(
        {
            "targets": [
                {"workload": "todo/Deployment/worker", "container": "worker", "file": RAW},
            ]
        }
    )
    base = ClassifyContext.from_settings(settings)
    from dataclasses import replace

    return replace(base, **kw)  # type: ignore[arg-type]


def edit(old: str, new: str, text: str = BASE) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def values_change(new_text: str, *, author: str = BOT, path: str = VALUES, old: str = BASE) -> ChangeSet:
    return ChangeSet(files=(FileChange(path, old, new_text),), author=author)


def tier_of(cs: ChangeSet, context: ClassifyContext | None = None) -> str:
    return classify(cs, context or ctx()).tier


RESTARTED = edit("podAnnotations: {}", 'podAnnotations:\n  aiops.io/restartedAt: "2026-11-25T22:00:00Z"')


# ---- the rule table -------------------------------------------------------------------------

TABLE = [
    # (name, new values text, author, tier)
    ("restart annotation by the aiops bot", RESTARTED, BOT, "trivial"),
    ("restart annotation by a person", RESTARTED, PERSON, "low"),
    ("replicas +1 within HPA bounds", edit("replicaCount: 2", "replicaCount: 3"), PERSON, "low"),
    ("replicas +2 within HPA bounds", edit("replicaCount: 2", "replicaCount: 4"), BOT, "low"),
    ("replicas +3 is more than ±2", edit("replicaCount: 2", "replicaCount: 5"), BOT, "medium"),
    ("replicas to zero", edit("replicaCount: 2", "replicaCount: 0"), BOT, "medium"),
    (
        "replicas +2 beyond the HPA max",
        edit("maxReplicas: 5", "maxReplicas: 3", edit("replicaCount: 2", "replicaCount: 4")),
        BOT,
        "medium",
    ),
    ("replicas as a string", edit("replicaCount: 2", 'replicaCount: "3"'), BOT, "medium"),
    ("resources", edit("memory: 512Mi\n  limits", "memory: 156Mi\n  limits"), BOT, "medium"),
    ("autoscaling", edit("maxReplicas: 5", "maxReplicas: 6"), BOT, "medium"),
    ("probe", edit("path: /healthz", "path: /livez"), BOT, "medium"),
    ("image tag", edit('tag: "1.4.2"', 'tag: "1.4.3"'), BOT, "medium"),
    ("app config value", edit("LOG_LEVEL: info", "LOG_LEVEL: debug"), BOT, "medium"),
    (
        "any other key of a known values file",
        edit("nodeSelector: {}", "nodeSelector: {disk: ssd}"),
        BOT,
        "medium",
    ),
    ("securityContext", edit("securityContext: {}", "securityContext: {privileged: true}"), BOT, "critical"),
    (
        "podSecurityContext",
        edit("podSecurityContext: {}", "podSecurityContext: {runAsUser: 0}"),
        BOT,
        "critical",
    ),
    ("service account", edit("create: true", "create: false"), BOT, "critical"),
    ("hostNetwork", BASE + "hostNetwork: true\n", BOT, "critical"),
    (
        "a secret-looking config key",
        edit("LOG_LEVEL: info", "LOG_LEVEL: info\n  DB_PASSWORD: hunter2"),
        BOT,
        "critical",
    ),
    (
        "a secretKeyRef hidden inside a new list",
        BASE + "extraEnv:\n  - name: X\n    valueFrom:\n      secretKeyRef: {name: s, key: k}\n",
        BOT,
        "critical",
    ),
    ("rbac", BASE + "rbac:\n  create: true\n", BOT, "critical"),
    ("namespace override", BASE + "namespaceOverride: kube-system\n", BOT, "critical"),
    ("hostPath volume", BASE + "volumes:\n  - name: h\n    hostPath: {path: /}\n", BOT, "critical"),
    ("comment-only change", edit("# HA floor", "# HA floor (raised by hand)"), PERSON, "low"),
]


@pytest.mark.parametrize(("name", "new", "author", "tier"), TABLE, ids=[t[0] for t in TABLE])
def test_values_rule_table(name: str, new: str, author: str, tier: str) -> None:
    result = classify(values_change(new, author=author), ctx())
    assert result.tier == tier, (name, result.reasons)
    assert result.reasons, "every classification says why"
    assert result.reasons[0].startswith(f"{tier}:")


def test_chart_default_values_are_a_known_values_file() -> None:
    assert tier_of(values_change(edit('tag: "1.4.2"', 'tag: "2.0"'), path=CHART_VALUES)) == "medium"


def test_restart_by_bot_with_a_persons_commit_is_not_trivial() -> None:
    cs = values_change(RESTARTED, author=BOT)
    assert tier_of(cs, ctx(commit_authors=(BOT, "mallory"))) == "low"
    assert tier_of(cs, ctx(commit_authors=("AIOPS-BOT[bot]",))) == "trivial"


def test_restart_annotation_with_unquoted_key_path_from_the_planner() -> None:
    fc = FileChange(
        VALUES, BASE, RESTARTED, keys=(KeyChange("podAnnotations.aiops.io/restartedAt", None, "x"),)
    )
    assert classify(ChangeSet((fc,), author=BOT), ctx()).tier == "trivial"


def test_most_restrictive_wins_and_every_reason_is_listed() -> None:
    new = edit("securityContext: {}", "securityContext: {privileged: true}", RESTARTED)
    new = edit("memory: 512Mi\n  limits", "memory: 156Mi\n  limits", new)
    result = classify(values_change(new), ctx())
    assert result.tier == "critical"
    tiers = [r.split(":", 1)[0] for r in result.reasons]
    assert tiers == sorted(tiers, key=["critical", "medium", "low", "trivial"].index)
    assert {"critical", "medium", "trivial"} <= set(tiers)


def test_keys_claimed_by_the_change_set_cannot_hide_what_the_text_does() -> None:
    """A FileChange that says "only the restart annotation" but whose text grants privileges."""
    new = edit("securityContext: {}", "securityContext: {privileged: true}", RESTARTED)
    fc = FileChange(VALUES, BASE, new, keys=(KeyChange('podAnnotations."aiops.io/restartedAt"', None, "x"),))
    assert classify(ChangeSet((fc,), author=BOT), ctx()).tier == "critical"


def test_unparseable_known_file_is_critical() -> None:
    assert tier_of(values_change("replicaCount: [\n")) == "critical"


@pytest.mark.parametrize(
    "text",
    [
        "replicaCount: 3\nreplicaCount: 2\n",  # duplicate keys: which one does helm read?
        "a: !!python/object/apply:os.system ['true']\n",
        "../../.github/aiops.yaml",  # a symlink blob, or any file that stops being a mapping
        "- just\n- a list\n",
    ],
    ids=["duplicate-keys", "python-tag", "scalar", "list"],
)
def test_values_files_that_are_not_plain_mappings_are_critical(text: str) -> None:
    assert tier_of(values_change(text)) == "critical"


def test_alias_bomb_is_critical_not_a_hang() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n"
    prev = "a"
    for name in "bcdefgh":
        refs = ", ".join([f"*{prev}"] * 9)
        bomb += f"{name}: &{name} [{refs}]\n"
        prev = name
    result = classify(values_change(BASE + bomb), ctx())
    assert result.tier == "critical"
    assert any("too many values" in r for r in result.reasons)


# ---- paths ----------------------------------------------------------------------------------

PATHS = [
    (".github/workflows/gate.yml", "critical"),
    (".github/aiops.yaml", "critical"),
    (".GitHub/workflows/gate.yml", "critical"),
    ("CODEOWNERS", "critical"),
    ("docs/CODEOWNERS", "critical"),
    (".github/CODEOWNERS", "critical"),
    ("aiops/policy/tiers.py", "critical"),
    ("README.md", "critical"),
    ("pyproject.toml", "critical"),
    ("manifests/charts/todo-backend/templates/deployment.yaml", "critical"),
    ("manifests/charts/todo-backend/Chart.yaml", "critical"),
    ("manifests/environments/minikube/unknown.yaml", "critical"),
    ("manifests/../.github/workflows/gate.yml", "critical"),
    ("./" + VALUES, "critical"),
]


@pytest.mark.parametrize(("path", "tier"), PATHS)
def test_sensitive_and_unknown_paths(path: str, tier: str) -> None:
    cs = ChangeSet((FileChange(path, "a: 1\n", "a: 2\n"),), author=BOT)
    assert tier_of(cs) == tier


def test_new_record_by_the_bot_is_trivial_by_a_person_low() -> None:
    add = FileChange(RECORD, None, "---\nid: x\n---\n")
    assert tier_of(ChangeSet((add,), author=BOT)) == "trivial"
    assert tier_of(ChangeSet((add,), author=PERSON)) == "low"
    report = FileChange("history/reports/health/2026-11-23.md", None, "# report\n")
    assert tier_of(ChangeSet((report,), author=BOT)) == "trivial"


@pytest.mark.parametrize(
    "change",
    [
        FileChange(RECORD, "---\nid: x\n---\n", "---\nid: y\n---\n"),
        FileChange(RECORD, "---\nid: x\n---\n", None),
        FileChange("history/reports/health/2026-11-23.md", "# report\n", "# better report\n"),
        FileChange(RECORD.replace("recommendation", "rollback"), "x", "x", old_path=RECORD),
        FileChange("History/Prompts/2026/11/x--execution.md", "a", "b"),
    ],
    ids=["edit", "delete", "edit-report", "rename-record", "case-trick"],
)
def test_editing_or_deleting_an_existing_record_is_critical_even_by_the_bot(change: FileChange) -> None:
    result = classify(ChangeSet((change,), author=BOT), ctx())
    assert result.tier == "critical"
    assert any("append-only" in r for r in result.reasons)


def test_runbooks_regenerated_by_bot_trivial_edited_by_person_low() -> None:
    fc = FileChange("history/runbooks/OOMKilled.md", "old\n", "new\n")
    assert tier_of(ChangeSet((fc,), author=BOT)) == "trivial"
    assert tier_of(ChangeSet((fc,), author=PERSON)) == "low"


def test_renames_judge_both_paths() -> None:
    into_github = FileChange(".github/aiops.yaml", BASE, BASE, old_path=VALUES)
    out_of_github = FileChange(VALUES, BASE, BASE, old_path=".github/aiops.yaml")
    within = FileChange(VALUES, BASE, BASE, old_path=CHART_VALUES)
    for fc in (into_github, out_of_github, within):
        result = classify(ChangeSet((fc,), author=BOT), ctx())
        assert result.tier == "critical", fc
    reasons = classify(ChangeSet((out_of_github,), author=BOT), ctx()).reasons
    assert any(".github/aiops.yaml" in r and "under .github/" in r for r in reasons)


def test_deleting_a_maintained_values_file_is_critical() -> None:
    assert tier_of(ChangeSet((FileChange(VALUES, BASE, None),), author=BOT)) == "critical"


def test_unavailable_content_and_truncated_file_lists_fail_closed() -> None:
    assert tier_of(ChangeSet((FileChange(VALUES, None, None),), author=BOT)) == "critical"
    ok = values_change(edit("replicaCount: 2", "replicaCount: 3"))
    assert tier_of(ok, ctx(complete=False)) == "critical"


def test_empty_change_set_is_low() -> None:
    assert tier_of(ChangeSet(files=(), author=BOT)) == "low"


# ---- raw manifests --------------------------------------------------------------------------


def test_raw_manifest_rules() -> None:
    def raw(new: str) -> str:
        return tier_of(ChangeSet((FileChange(RAW, RAW_TEXT, new),), author=BOT))

    assert raw(RAW_TEXT.replace("replicas: 2", "replicas: 3")) == "low"
    assert raw(RAW_TEXT.replace("replicas: 2", "replicas: 9")) == "medium"
    assert raw(RAW_TEXT.replace("memory: 128Mi", "memory: 256Mi")) == "medium"
    assert raw(RAW_TEXT.replace("worker:1.0", "worker:1.1")) == "medium"
    assert raw(RAW_TEXT.replace("token: placeholder", "token: other")) == "critical"
    assert raw(RAW_TEXT.replace("kind: Deployment", "kind: DaemonSet")) == "critical"
    restart = RAW_TEXT.replace(
        "annotations: {}", 'annotations: {"aiops.io/restartedAt": "2026-11-25T22:00:00Z"}'
    )
    assert raw(restart) == "trivial"
    privileged = RAW_TEXT.replace("image: ghcr", "securityContext: {privileged: true}\n          image: ghcr")
    assert raw(privileged) == "critical"


# ---- the rollback fast path -----------------------------------------------------------------

RIGHTSIZED = edit("memory: 512Mi\n  limits", "memory: 156Mi\n  limits")
ROLLBACK_RECORD = "history/prompts/2026/11/20261125-rightsize-todo-deployment-todo-backend--rollback.md"


def merged(number: int, new: str, *, merged_: bool = True) -> RevertedChange:
    original = ChangeSet((FileChange(VALUES, BASE, new), FileChange(RECORD, None, "record\n")), author=BOT)
    return RevertedChange(number=number, merged=merged_, change_set=original)


def revert(new_after: str, *, extra: tuple[FileChange, ...] = (), record: bool = True) -> ChangeSet:
    files = [FileChange(VALUES, new_after, BASE), *extra]
    if record:
        files.append(FileChange(ROLLBACK_RECORD, None, "---\nid: x\nstage: rollback\n---\n"))
    return ChangeSet(tuple(files), author=PERSON, revert_of=7)


def test_pure_revert_of_a_medium_change_is_low() -> None:
    result = classify(revert(RIGHTSIZED), ctx(reverted=merged(7, RIGHTSIZED)))
    assert result.tier == "low", result.reasons
    assert any("pure revert" in r for r in result.reasons)


def test_revert_after_unrelated_later_edits_is_still_pure() -> None:
    later = edit("LOG_LEVEL: info", "LOG_LEVEL: warn", RIGHTSIZED)
    cs = ChangeSet(
        (
            FileChange(VALUES, later, edit("LOG_LEVEL: info", "LOG_LEVEL: warn")),
            FileChange(ROLLBACK_RECORD, None, "r\n"),
        ),
        author=PERSON,
        revert_of=7,
    )
    assert classify(cs, ctx(reverted=merged(7, RIGHTSIZED))).tier == "low"


@pytest.mark.parametrize(
    ("cs", "reverted", "note"),
    [
        (revert(RIGHTSIZED, record=False), merged(7, RIGHTSIZED), "no rollback record"),
        (
            revert(
                RIGHTSIZED,
                extra=(FileChange("manifests/environments/minikube/todo-frontend.yaml", "a: 1\n", "a: 2\n"),),
            ),
            merged(7, RIGHTSIZED),
            "not the exact inverse",
        ),
        (
            revert(edit("LOG_LEVEL: info", "LOG_LEVEL: x", RIGHTSIZED)),
            merged(7, RIGHTSIZED),
            "not the exact inverse",
        ),
        (revert(RIGHTSIZED), merged(7, RIGHTSIZED, merged_=False), "not merged"),
        (revert(RIGHTSIZED), merged(8, RIGHTSIZED), "were not given"),
        (revert(RIGHTSIZED), None, "were not given"),
    ],
    ids=["no-record", "extra-file", "extra-key", "unmerged", "other-pr", "unknown"],
)
def test_impure_reverts_are_classified_by_content(
    cs: ChangeSet, reverted: RevertedChange | None, note: str
) -> None:
    result = classify(cs, ctx(reverted=reverted))
    assert result.tier in ("medium", "critical")
    assert any(note in n for n in result.notes), result.notes


def test_revert_of_a_critical_change_stays_critical() -> None:
    # the original changed an image tag *and* a security context: critical; its revert is too,
    # even though reverting the image alone would look medium
    original = edit(
        'tag: "1.4.2"', 'tag: "1.5"', edit("securityContext: {}", "securityContext: {runAsUser: 1000}")
    )
    result = classify(revert(original), ctx(reverted=merged(7, original)))
    assert result.tier == "critical"
    assert any("stay critical" in r for r in result.reasons)


def test_a_revert_smuggling_a_record_edit_is_critical() -> None:
    edit_record = FileChange(RECORD, "old record\n", "rewritten\n")
    result = classify(revert(RIGHTSIZED, extra=(edit_record,)), ctx(reverted=merged(7, RIGHTSIZED)))
    assert result.tier == "critical"


def test_labels_are_not_an_input() -> None:
    """The classifier has no label parameter at all: a `risk:low` label cannot lower a Secret."""
    import inspect

    params = set(inspect.signature(classify).parameters)
    assert params == {"change_set", "context"}
    assert not any("label" in f for f in ClassifyContext.__dataclass_fields__)


def test_context_from_settings_knows_release_and_target_files() -> None:
    c = ClassifyContext.from_settings(Settings())
    assert VALUES in c.values_files and CHART_VALUES in c.values_files
    assert c.aiops_logins == ("aiops-bot[bot]", "github-actions[bot]")
    assert c.max_replicas == 10
