"""The settings loader (DESIGN §4.9): defaults for every key, validation errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiops.errors import EXIT_INPUT, SettingsError
from aiops.settings import Settings, load_settings, load_settings_text


def test_empty_file_gives_defaults() -> None:
    s = load_settings_text("")
    assert s == Settings()
    assert s.rightsizing.margin == pytest.approx(0.30)
    assert s.approvals.tiers["critical"].distinct_people == 2
    assert s.approvals.tiers["critical"].require == ("architects", "security")
    assert s.apply.releases["todo-backend"].namespace == "todo"


def test_missing_file_gives_defaults_unless_required(tmp_path: Path) -> None:
    assert load_settings(tmp_path / "nope.yaml") == Settings()
    with pytest.raises(SettingsError, match="not found"):
        load_settings(tmp_path / "nope.yaml", required=True)


def test_full_design_example_loads() -> None:
    text = """
cluster: minikube
namespaces: [todo]
approvals:
  teams: {architects: org/architects, security: org/security}
  members: {org/architects: [alice], org/security: [bob]}
  bots: ["aiops-bot[bot]", "github-actions[bot]"]
  tiers:
    low:      {require: [architects], sla_minutes: 5}
    medium:   {require: [architects], sla_minutes: 30}
    critical: {require: [architects, security], distinct_people: 2, sla_minutes: 120}
  emergency_sla_minutes: 5
  auto_merge_trivial: true
proposals: {max_open: 10, max_per_hour: 2, snooze_days: 14}
rightsizing: {percentile: 95, margin: 0.30, cpu_limit: none, window_days: 14,
              min_cpu: 10m, min_memory: 32Mi, hysteresis: 0.10,
              prices: {cpu_hour: 0.031611, gib_hour: 0.004237}}
scaling: {max_replicas_cap: 10, target_cpu_utilization: 70, ha_floor: 2}
prometheus: {url: null, bearer_token_env: null, ca_file: null,
             error_rate_threshold: 0.05, latency_p95_ms_threshold: null}
advisors: {llm: {enabled: false, model: null}, kubectl_ai: {enabled: false, model: null},
           kagent: {enabled: false, url: null, agent: k8s-agent}}
targets:
  - {workload: todo/Deployment/todo-backend, container: backend,
     file: manifests/environments/minikube/todo-backend.yaml,
     keys: {resources: resources, replicas: replicaCount, autoscaling: autoscaling}}
apply:
  mode: helm
  records: commit
  stabilization_minutes: 5
  validation_minutes: 60
  releases:
    todo-backend: {chart: manifests/charts/todo-backend, namespace: todo,
                   values: [manifests/environments/minikube/todo-backend.yaml]}
security:
  exemptions:
    - {check: hostPath, namespace: kube-system, name: "*", reason: "node agents"}
retention_days: 365
"""
    s = load_settings_text(text)
    assert s.team_members("architects") == ("alice",)
    assert s.team_members("org/security") == ("bob",)
    assert s.targets[0].keys.replicas == "replicaCount"
    assert s.security.exemptions[0].check == "hostPath"
    assert s.rightsizing.prices.cpu_hour == pytest.approx(0.031611)
    assert list(s.apply.releases) == ["todo-backend"]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("approvals: {tiers: {low: {requir: [x]}}}", "approvals.tiers.low.requir: unknown key"),
        ("rightsizing: {margin: high}", "rightsizing.margin: expected a number"),
        ("rightsizing: {margin: 9}", "rightsizing.margin"),
        ("apply: {mode: terraform}", "apply.mode"),
        ("targets: [{workload: todo/Deployment/x}]", "targets[0].file: required key is missing"),
        ("targets: [{workload: x, file: f.yaml}]", "targets[0].workload"),
        ("approvals: {auto_merge_trivial: 'yes'}", "approvals.auto_merge_trivial: expected true or false"),
        # YAML 1.2 scalars, as ruamel resolved them before: `on`/`yes` are strings, `010` no octal 8
        ("approvals: {auto_merge_trivial: on}", "approvals.auto_merge_trivial: expected true or false"),
        ("proposals: {max_open: 010}", "proposals.max_open: expected an integer"),
        ("approvals: {tiers: {urgent: {require: []}}}", "approvals.tiers.urgent: unknown tier"),
        ("approvals: {tiers: {low: {require: [ops]}}}", "team 'ops' is not in approvals.teams"),
        ("proposals: {max_open: 1.5}", "proposals.max_open: expected an integer"),
        ("rightsizing: {min_memory: lots}", "rightsizing.min_memory"),
        ("namespaces: todo", "namespaces: expected a list"),
        ("- just\n- a list\n", "top level must be a mapping"),
        ("cluster: [unclosed\n", "aiops.yaml"),
        ("frobnicate: 1", "frobnicate: unknown key"),
    ],
)
def test_invalid_settings_name_the_key(text: str, needle: str) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings_text(text)
    assert needle in info.value.one_line()
    assert info.value.exit_code == EXIT_INPUT
    assert "\n" not in info.value.one_line()


def test_yaml_errors_name_the_line() -> None:
    with pytest.raises(SettingsError) as info:
        load_settings_text("namespaces: [todo]\napprovals:\n  tiers: {low: [\n", source="x/aiops.yaml")
    assert info.value.one_line().startswith("x/aiops.yaml: line ")


def test_plain_scalars_resolve_like_yaml_1_2() -> None:
    s = load_settings_text("namespaces: [yes, 'on', 2026-11-25]\nproposals: {max_open: 0x10}\n")
    assert s.namespaces == ("yes", "on", "2026-11-25")
    assert s.proposals.max_open == 16
