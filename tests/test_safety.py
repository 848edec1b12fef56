"""Medium-tier safety checks of a resources diff against the marker's `sizing` evidence (DESIGN §4.6)."""

from __future__ import annotations

from typing import Any

import pytest

from aiops.model.changes import ChangeSet, FileChange
from aiops.policy import safety_check

VALUES = "manifests/environments/minikube/todo-backend.yaml"
MARGIN = 0.30

OLD = """\
replicaCount: 2
resources:
  requests:
    cpu: 500m
    memory: 512Mi
  limits:
    memory: 512Mi
"""


def values(cpu: str = "500m", memory: str = "512Mi", limit: str | None = "512Mi") -> str:
    text = f"replicaCount: 2\nresources:\n  requests:\n    cpu: {cpu}\n    memory: {memory}\n"
    if limit is not None:
        text += f"  limits:\n    memory: {limit}\n"
    return text


def sizing(**kw: Any) -> dict[str, Any]:
    ev: dict[str, Any] = {
        "cpu_p95": 0.1,
        "memory_p95": "120Mi",
        "memory_peak": "151.6Mi",
        "oom_in_window": False,
        "samples": 16128,
        "window_days": 14,
        "clamped": None,
    }
    ev.update(kw)
    return {"backend": ev}


def check(new: str, evidence: dict[str, Any] | None, old: str = OLD) -> Any:
    return safety_check(ChangeSet((FileChange(VALUES, old, new),)), evidence, margin=MARGIN)


def test_the_seed_example_passes() -> None:
    """p95 120Mi → request 156Mi, limit 200Mi; p95 100m → 130m."""
    result = check(values(cpu="130m", memory="156Mi", limit="200Mi"), sizing())
    assert result.ok, result.problems
    assert result.checked == 1


def test_memory_request_below_p95_times_margin_fails() -> None:
    result = check(values(cpu="130m", memory="140Mi", limit="200Mi"), sizing())
    assert not result.ok
    assert result.problems == (
        "backend: memory request 140Mi is below the recorded p95 120Mi × 1.30 = 156Mi (tolerance 5%)",
    )


def test_five_percent_rounding_tolerance() -> None:
    assert check(values(cpu="130m", memory="149Mi", limit="200Mi"), sizing()).ok  # 156 × 0.95 = 148.2
    assert not check(values(cpu="130m", memory="148Mi", limit="200Mi"), sizing()).ok


def test_cpu_request_below_p95_times_margin_fails() -> None:
    result = check(values(cpu="100m", memory="156Mi", limit="200Mi"), sizing())
    assert [p.split(" request")[0] for p in result.problems] == ["backend: cpu"]


def test_sizing_as_quantity_strings_or_numbers() -> None:
    as_numbers = sizing(cpu_p95="100m", memory_p95=120 * 2**20)
    assert check(values(cpu="130m", memory="156Mi", limit="200Mi"), as_numbers).ok
    assert not check(values(cpu="130m", memory="100Mi", limit="200Mi"), as_numbers).ok


def test_limit_below_request_fails_even_without_evidence() -> None:
    result = check(values(cpu="130m", memory="300Mi", limit="200Mi"), None)
    assert result.problems == (f"{VALUES}:resources: memory limit 200Mi is below its request 300Mi",)
    assert "no sizing evidence" in result.notes[0]


def test_clamped_with_a_reason_is_accepted_and_said() -> None:
    evidence = sizing(clamped={"memory": "bounded by the largest node's allocatable"})
    result = check(values(cpu="130m", memory="100Mi", limit="200Mi"), evidence)
    assert result.ok
    assert "accepted, clamped: bounded by the largest node's allocatable" in result.notes[0]


@pytest.mark.parametrize("clamped", [True, {"memory": True}, ["  "], {"memory": ""}])
def test_clamped_without_a_reason_is_not_accepted(clamped: Any) -> None:
    result = check(values(cpu="130m", memory="100Mi", limit="200Mi"), sizing(clamped=clamped))
    assert not result.ok
    assert "without a reason" in result.problems[0]


def test_clamped_for_cpu_does_not_excuse_memory() -> None:
    result = check(values(cpu="130m", memory="100Mi", limit="200Mi"), sizing(clamped={"cpu": "min_cpu"}))
    assert not result.ok


def test_no_memory_decrease_after_an_oomkill() -> None:
    evidence = sizing(oom_in_window=True, memory_p95="300Mi")
    result = check(values(cpu="130m", memory="400Mi", limit="500Mi"), evidence)
    assert result.problems == (
        "backend: lowers the memory request 512Mi → 400Mi after an OOMKill in the window",
        "backend: lowers the memory limit 512Mi → 500Mi after an OOMKill in the window",
    )
    raised = check(values(cpu="130m", memory="600Mi", limit="800Mi"), evidence)
    assert raised.ok, raised.problems


def test_removing_a_request_is_refused() -> None:
    new = "replicaCount: 2\nresources:\n  requests:\n    cpu: 130m\n  limits:\n    memory: 512Mi\n"
    result = check(new, sizing())
    assert "removes the memory request" in result.problems[0]


def test_unchanged_requests_are_not_rechecked() -> None:
    # only the limit changes; the old requests stay whatever they were
    result = check(values(limit="600Mi"), sizing(memory_p95="500Mi"))
    assert result.ok


def test_unreadable_quantities_fail_closed() -> None:
    result = check(values(cpu="lots", memory="156Mi", limit="200Mi"), sizing())
    assert not result.ok and "unreadable quantity" in result.problems[0]
    bad_evidence = check(values(cpu="130m", memory="156Mi", limit="200Mi"), sizing(memory_p95="much"))
    assert not bad_evidence.ok


def test_changes_outside_resources_are_not_checked() -> None:
    result = check(OLD.replace("replicaCount: 2", "replicaCount: 3"), sizing())
    assert result.ok and result.checked == 0


def test_raw_manifest_containers_are_matched_by_name() -> None:
    def deploy(api_mem: str, side_mem: str) -> str:
        return f"""\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: todo-backend, namespace: todo}}
spec:
  template:
    spec:
      containers:
        - name: backend
          resources: {{requests: {{cpu: 130m, memory: {api_mem}}}}}
        - name: proxy
          resources: {{requests: {{cpu: 20m, memory: {side_mem}}}}}
"""

    evidence = {
        "backend": sizing()["backend"],
        "proxy": {"cpu_p95": "10m", "memory_p95": "40Mi", "oom_in_window": False},
    }
    fc = FileChange("manifests/raw/backend.yaml", deploy("512Mi", "64Mi"), deploy("156Mi", "30Mi"))
    result = safety_check(ChangeSet((fc,)), evidence, margin=MARGIN)
    assert [p.split(":")[0] for p in result.problems] == ["proxy"]


def test_ambiguous_container_is_noted_not_guessed() -> None:
    evidence = {"backend": sizing()["backend"], "proxy": sizing()["backend"]}
    result = check(values(cpu="130m", memory="10Mi", limit="200Mi"), evidence)
    assert result.ok
    assert "cannot tell which container" in result.notes[0]
