"""The planner (aiops.gitops.plan): Recommendation → FileChange(s), file text in, file text out."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from test_mapping import live_deployment

from aiops.errors import InputError
from aiops.gitops.plan import plan, plan_all, quantity_in_style
from aiops.model.changes import FileChange
from aiops.model.k8s import ObjectRef
from aiops.model.recommendations import Recommendation, Skipped
from aiops.settings import Settings, load_settings, load_settings_text

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden" / "patch"
BACKEND = ObjectRef("Deployment", "todo", "todo-backend")
ENV = "manifests/environments/minikube/todo-backend.yaml"
AT = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)


def repo_file(path: str) -> str | None:
    p = ROOT / path
    if not p.is_file():
        return None
    with p.open(encoding="utf-8", newline="") as fh:
        return fh.read()


def policy() -> Settings:
    return load_settings(ROOT / ".github" / "aiops.yaml", required=True)


def rec(kind: str, proposed: dict[str, Any], target: ObjectRef = BACKEND) -> Recommendation:
    return Recommendation(kind=kind, target=target, current={}, proposed=proposed, rationale="test")


def only(result: tuple[FileChange, ...] | Skipped) -> FileChange:
    assert isinstance(result, tuple), result
    assert len(result) == 1
    return result[0]


def changed_lines(fc: FileChange) -> tuple[list[str], list[str]]:
    lines = fc.diff().splitlines()
    minus = [ln[1:] for ln in lines if ln.startswith("-") and not ln.startswith("---")]
    plus = [ln[1:] for ln in lines if ln.startswith("+") and not ln.startswith("+++")]
    return minus, plus


RIGHTSIZE = {"backend": {"requests": {"cpu": "130m", "memory": "156Mi"}, "limits": {"memory": "200Mi"}}}


def test_rightsize_changes_exactly_the_three_values_and_keeps_comments() -> None:
    fc = only(
        plan(rec("rightsize", RIGHTSIZE), settings=policy(), read_file=repo_file, live=live_deployment())
    )
    assert fc.path == ENV and fc.old_text == repo_file(ENV)
    minus, plus = changed_lines(fc)
    assert minus == [
        "    cpu: 250m",
        "    memory: 256Mi",
        "    memory: 512Mi   # the OOM line: keep it above the p95 working set",
    ]
    assert plus == [
        "    cpu: 130m",
        "    memory: 156Mi",
        "    memory: 200Mi   # the OOM line: keep it above the p95 working set",
    ]
    assert [(k.path, k.old, k.new) for k in fc.keys] == [
        ("resources.requests.cpu", "250m", "130m"),
        ("resources.requests.memory", "256Mi", "156Mi"),
        ("resources.limits.memory", "512Mi", "200Mi"),
    ]
    assert fc.diff().startswith(f"--- a/{ENV}\n+++ b/{ENV}\n")
    assert fc.to_dict()["keys"][0] == {"key": "resources.requests.cpu", "old": "250m", "new": "130m"}


def test_the_same_proposal_again_is_a_no_op() -> None:
    fc = only(plan(rec("rightsize", RIGHTSIZE), settings=policy(), read_file=repo_file))
    after = {ENV: fc.new_text}
    assert plan(rec("rightsize", RIGHTSIZE), settings=policy(), read_file=after.get) == ()
    # equal quantities written differently are no change either
    same = {"backend": {"requests": {"cpu": "0.25", "memory": "268435456"}}}
    assert plan(rec("rightsize", same), settings=policy(), read_file=repo_file) == ()


@pytest.mark.parametrize(
    ("new", "like", "resource", "expected"),
    [
        ("130m", "500m", "cpu", "130m"),
        ("130m", "0.5", "cpu", "0.13"),  # a core string stays a core string (quotes kept by the patcher)
        ("130m", 0.5, "cpu", 0.13),  # a number stays a number
        ("2", 1, "cpu", 2),
        ("1500m", "1", "cpu", "1.5"),
        ("130m", None, "cpu", "130m"),
        ("156Mi", "512Mi", "memory", "156Mi"),
        ("2Gi", "1Gi", "memory", "2Gi"),
        ("1536Mi", "1Gi", "memory", "1536Mi"),  # not whole in Gi: Mi
        ("156Mi", "1Gi", "memory", "156Mi"),
        ("156Mi", "524288Ki", "memory", "159744Ki"),
        ("156Mi", 536870912, "memory", 163577856),  # plain bytes stay bytes
        ("156Mi", "536870912", "memory", "163577856"),
        ("200Mi", "1G", "memory", "210M"),  # decimal units: rounded up, never down
        ("1000M", "1G", "memory", "1G"),
        ("156Mi", None, "memory", "156Mi"),
    ],
)
def test_quantities_in_the_files_own_style(new: str, like: Any, resource: str, expected: Any) -> None:
    got = quantity_in_style(new, like, resource)
    assert got == expected and type(got) is type(expected)


def test_quoted_core_style_is_kept_through_the_plan() -> None:
    text = 'resources:\n  requests:\n    cpu: "0.5"\n    memory: 1Gi\n'
    fc = only(plan(rec("rightsize", RIGHTSIZE), settings=Settings(), read_file={ENV: text}.get))
    assert (
        fc.new_text
        == 'resources:\n  requests:\n    cpu: "0.13"\n    memory: 156Mi\n  limits:\n    memory: 200Mi\n'
    )


def test_added_limit_takes_the_style_of_its_request() -> None:
    text = "resources:\n  requests:\n    memory: 1073741824\n"
    p = {"backend": {"limits": {"memory": "200Mi"}}}
    fc = only(plan(rec("rightsize", p), settings=Settings(), read_file={ENV: text}.get))
    assert "limits:\n    memory: 209715200\n" in (fc.new_text or "")


def test_scale_and_hpa() -> None:
    fc = only(plan(rec("scale", {"replicas": 3}), settings=policy(), read_file=repo_file))
    assert [(k.path, k.old, k.new) for k in fc.keys] == [("replicaCount", 2, 3)]
    hpa = {"minReplicas": 2, "maxReplicas": 6, "targetCPUUtilizationPercentage": 70}
    fc2 = only(plan(rec("hpa", hpa), settings=policy(), read_file=repo_file))
    assert [(k.path, k.old, k.new) for k in fc2.keys] == [
        ("autoscaling.enabled", False, True),
        ("autoscaling.maxReplicas", 5, 6),
    ]  # minReplicas and the target already match: untouched


def test_restart_writes_the_time_given() -> None:
    fc = only(plan(rec("restart", {"restart": True}), settings=policy(), read_file=repo_file, at=AT))
    minus, plus = changed_lines(fc)
    assert minus == ["podAnnotations: {}"]
    assert plus == ["podAnnotations:", '  aiops.io/restartedAt: "2026-11-25T10:00:00Z"']
    assert fc.keys[0].path == 'podAnnotations."aiops.io/restartedAt"'
    with pytest.raises(InputError, match="at="):
        plan(rec("restart", {"restart": True}), settings=policy(), read_file=repo_file)
    # a second restart replaces the time in place
    later = {ENV: fc.new_text}
    fc2 = only(
        plan(
            rec("restart", {"restart": True}), settings=policy(), read_file=later.get, at=AT.replace(hour=11)
        )
    )
    assert changed_lines(fc2) == (
        ['  aiops.io/restartedAt: "2026-11-25T10:00:00Z"'],
        ['  aiops.io/restartedAt: "2026-11-25T11:00:00Z"'],
    )


def test_config_key_is_added_empty_with_a_comment_for_a_person() -> None:
    p = {"key": "REDIS_URL", "configmap": "todo-backend-config", "values_key": None}
    fc = only(plan(rec("config", p), settings=policy(), read_file=repo_file))
    minus, plus = changed_lines(fc)
    assert minus == [] and plus == ['  REDIS_URL: ""  # aiops: set REDIS_URL (missing, see PHR)']
    assert fc.keys[0].path == "config.REDIS_URL" and fc.keys[0].old is None and fc.keys[0].new == ""
    # present already (a person set it): nothing to do
    assert plan(rec("config", {**p, "key": "LOG_LEVEL"}), settings=policy(), read_file=repo_file) == ()
    # an explicit values key
    fc2 = only(
        plan(rec("config", {**p, "values_key": "extraEnv.REDIS_URL"}), settings=policy(), read_file=repo_file)
    )
    assert fc2.keys[0].path == "extraEnv.REDIS_URL"


def test_image_container_comes_from_current_when_not_proposed() -> None:
    r = Recommendation(
        kind="image",
        target=BACKEND,
        current={"container": "backend", "repository": "todo-backend", "tag": "0.3.9"},
        proposed={"repository": "todo-backend", "tag": "0.3.1"},
        rationale="t",
    )
    live = live_deployment(containers=("backend", "cache"))  # two containers: the name must be known
    s = load_settings_text(
        "targets:\n  - {workload: todo/Deployment/todo-backend, container: backend, file: " + ENV + "}\n"
    )
    fc = only(plan(r, settings=s, read_file=repo_file, live=live))
    assert [k.path for k in fc.keys] == ["image.tag"]


def test_config_key_with_dots_stays_one_key() -> None:
    p = {"key": "app.properties", "configmap": "todo-backend-config", "values_key": "config.app.properties"}
    fc = only(plan(rec("config", p), settings=policy(), read_file=repo_file))
    assert fc.keys[0].path == 'config."app.properties"'
    assert '  app.properties: ""  # aiops: set app.properties (missing, see PHR)' in (fc.new_text or "")


def test_image() -> None:
    fc = only(
        plan(
            rec("image", {"repository": "todo-backend", "tag": "0.3.1"}),
            settings=policy(),
            read_file=repo_file,
        )
    )
    assert changed_lines(fc) == (['  tag: "0.3.0"'], ['  tag: "0.3.1"'])


def test_rollback_is_not_a_values_patch_and_unknown_kinds_fail() -> None:
    assert plan(rec("rollback", {"revert_of": 4}), settings=policy(), read_file=repo_file) == ()
    with pytest.raises(InputError, match="unknown kind"):
        plan(rec("nonsense", {}), settings=policy(), read_file=repo_file)


def test_unmapped_target_is_skipped_with_the_snippet() -> None:
    target = ObjectRef("Deployment", "todo", "todo-worker")
    live = live_deployment("todo-worker", containers=("worker",))
    out = plan(rec("scale", {"replicas": 2}, target), settings=policy(), read_file=repo_file, live=live)
    assert isinstance(out, Skipped)
    assert out.cause == "unmapped" and out.kind == "scale" and out.target == target
    assert out.snippet is not None
    assert load_settings_text(out.snippet).targets[0].workload == "todo/Deployment/todo-worker"


def test_multi_container_proposal_in_one_file_is_one_change() -> None:
    text = (
        "backend:\n  resources:\n    requests: {cpu: 500m}\n"
        "cache:\n  resources:\n    requests:\n      cpu: 100m\n"
    )
    s = load_settings_text(
        "targets:\n"
        "  - {workload: todo/Deployment/todo-backend, container: backend, file: v.yaml,"
        " keys: {resources: backend.resources}}\n"
        "  - {workload: todo/Deployment/todo-backend, container: cache, file: v.yaml,"
        " keys: {resources: cache.resources}}\n"
    )
    p = {"backend": {"requests": {"cpu": "130m"}}, "cache": {"requests": {"cpu": "20m"}}}
    fc = only(plan(rec("rightsize", p), settings=s, read_file={"v.yaml": text}.get))
    assert fc.new_text == text.replace("500m", "130m").replace("100m", "20m")
    assert [k.path for k in fc.keys] == ["backend.resources.requests.cpu", "cache.resources.requests.cpu"]


def test_crlf_values_file_stays_crlf() -> None:
    with (GOLDEN / "crlf.in.yaml").open(encoding="utf-8", newline="") as fh:
        text = fh.read()
    fc = only(plan(rec("scale", {"replicas": 2}), settings=Settings(), read_file={ENV: text}.get))
    assert fc.new_text == text.replace("replicaCount: 1\r\n", "replicaCount: 2\r\n")


def manifest_settings() -> Settings:
    return load_settings_text(
        "targets:\n  - {workload: todo/Deployment/todo-backend, file: deploy/all.yaml}\n"
    )


def manifest_files() -> dict[str, str]:
    with (GOLDEN / "multidoc.in.yaml").open(encoding="utf-8", newline="") as fh:
        return {"deploy/all.yaml": fh.read()}


def test_raw_manifest_rightsize_restart_image_hpa_config() -> None:
    files = manifest_files()
    s = manifest_settings()
    fc = only(plan(rec("rightsize", RIGHTSIZE), settings=s, read_file=files.get))
    minus, plus = changed_lines(fc)
    assert minus == ['            cpu: "0.5"', "            memory: 536870912", "            memory: 1G"]
    assert plus == ['            cpu: "0.13"', "            memory: 163577856", "            memory: 210M"]
    assert fc.keys[0].path == "spec.template.spec.containers[name=backend].resources.requests.cpu"
    # the sidecar listed first is untouched
    assert "requests: {cpu: 10m, memory: 32Mi}" in (fc.new_text or "")

    restart = only(plan(rec("restart", {"restart": True}), settings=s, read_file=files.get, at=AT))
    assert restart.keys[0].path == 'spec.template.metadata.annotations."aiops.io/restartedAt"'

    image = only(
        plan(
            rec("image", {"repository": "todo-backend", "tag": "0.3.1", "container": "backend"}),
            settings=s,
            read_file=files.get,
        )
    )
    assert changed_lines(image) == (
        ["        image: todo-backend:0.3.0   # pinned"],
        ["        image: todo-backend:0.3.1   # pinned"],
    )

    hpa = only(
        plan(
            rec("hpa", {"minReplicas": 2, "targetCPUUtilizationPercentage": 70}),
            settings=s,
            read_file=files.get,
        )
    )
    assert [(k.path, k.old, k.new) for k in hpa.keys] == [
        ("spec.minReplicas", 1, 2),
        ("spec.metrics[resource.name=cpu].resource.target.averageUtilization", 80, 70),
    ]

    config = only(
        plan(rec("config", {"key": "REDIS_URL", "configmap": "todo-config"}), settings=s, read_file=files.get)
    )
    assert changed_lines(config) == ([], ['  REDIS_URL: ""  # aiops: set REDIS_URL (missing, see PHR)'])

    missing = plan(rec("config", {"key": "X", "configmap": "other"}), settings=s, read_file=files.get)
    assert (
        isinstance(missing, Skipped)
        and missing.cause == "unmapped"
        and "no ConfigMap named other" in missing.reason
    )


def test_read_file_is_the_only_way_in() -> None:
    seen: list[str] = []

    def read(path: str) -> str | None:
        seen.append(path)
        return repo_file(path)

    only(plan(rec("scale", {"replicas": 3}), settings=policy(), read_file=read, live=live_deployment()))
    assert set(seen) == {ENV}


def test_a_value_shared_through_an_anchor_is_skipped_not_overwritten() -> None:
    text = "sizes:\n  res: &res\n    requests: {cpu: 500m}\nresources: *res\nworker:\n  resources: *res\n"
    out = plan(rec("rightsize", RIGHTSIZE), settings=Settings(), read_file={ENV: text}.get)
    assert isinstance(out, Skipped) and out.cause == "unmapped"
    assert "alias of a shared block" in out.reason and out.snippet


def test_plan_all_fills_changes_and_collects_skips() -> None:
    worker = ObjectRef("Deployment", "todo", "todo-worker")
    recs = [rec("rightsize", RIGHTSIZE), rec("scale", {"replicas": 2}, worker), rec("scale", {"replicas": 2})]
    lives = {BACKEND: live_deployment(), worker: live_deployment("todo-worker", containers=("worker",))}
    planned, skipped = plan_all(recs, settings=policy(), read_file=repo_file, live_of=lives.get)
    assert [r.kind for r in planned] == ["rightsize", "scale"]
    assert planned[0].changes is not None and planned[0].changes[0].path == ENV
    assert planned[1].changes == ()  # replicaCount is 2 already
    assert planned[0].tier is None  # the policy fills it
    assert [(s.kind, s.target.name, s.cause) for s in skipped] == [("scale", "todo-worker", "unmapped")]


def test_a_values_file_already_beyond_the_proposal_is_not_moved_backwards() -> None:
    """Drift: the cluster runs 256Mi, git already says 512Mi; an OOM fix proposing 360Mi must not
    lower the file (that would decrease memory right after an OOMKill)."""
    from aiops.gitops.plan import plan
    from aiops.model import ObjectRef, Recommendation
    from aiops.settings import Settings

    values = "resources:\n  requests:\n    memory: 128Mi\n  limits:\n    memory: 512Mi  # raised by hand\n"
    rec = Recommendation(
        kind="rightsize",
        target=ObjectRef("Deployment", "todo", "todo-backend"),
        current={"backend": {"requests": {"memory": "128Mi"}, "limits": {"memory": "256Mi"}}},
        proposed={"backend": {"requests": {"memory": "160Mi"}, "limits": {"memory": "360Mi"}}},
        rationale="OOMKilled at 256Mi",
    )
    path = "manifests/environments/minikube/todo-backend.yaml"
    changes = plan(rec, settings=Settings(), read_file=lambda p: values if p == path else None)
    assert isinstance(changes, tuple) and len(changes) == 1
    new = changes[0].new_text or ""
    assert "memory: 512Mi  # raised by hand" in new  # the limit is left alone
    assert "memory: 160Mi" in new  # the request still moves up
