"""The one loader of `.github/aiops.yaml` (DESIGN §4.9): policy and settings, validated.

Every key has a default, so an empty file (or none) works. The shape is declared once, as frozen
dataclasses below; `load_settings_text` walks a parsed YAML mapping against them and rejects unknown
keys and wrong types with an error naming the key path (`approvals.tiers.low.sla_minutes`).
A capability that needs a new key adds a field here (with a default) and to DESIGN §4.9.
Reads at most the one file it is given; no other I/O.
"""

from __future__ import annotations

import dataclasses
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from aiops.errors import SettingsError

DEFAULT_PATH = ".github/aiops.yaml"


@dataclass(frozen=True)
class TierRule:
    require: tuple[str, ...] = ()
    sla_minutes: int = 30
    distinct_people: int = 1


def _default_tiers() -> dict[str, TierRule]:
    return {
        "low": TierRule(require=("architects",), sla_minutes=5),
        "medium": TierRule(require=("architects",), sla_minutes=30),
        "critical": TierRule(require=("architects", "security"), sla_minutes=120, distinct_people=2),
    }


@dataclass(frozen=True)
class Approvals:
    teams: dict[str, str] = field(
        default_factory=lambda: {"architects": "org/architects", "security": "org/security"}
    )
    members: dict[str, tuple[str, ...]] = field(default_factory=dict)
    bots: tuple[str, ...] = ("aiops-bot[bot]", "github-actions[bot]")
    tiers: dict[str, TierRule] = field(default_factory=_default_tiers)
    emergency_sla_minutes: int = 5
    auto_merge_trivial: bool = True


@dataclass(frozen=True)
class Proposals:
    max_open: int = 10
    max_per_hour: int = 2
    snooze_days: int = 14


@dataclass(frozen=True)
class Prices:
    cpu_hour: float = 0.031611
    gib_hour: float = 0.004237


@dataclass(frozen=True)
class Rightsizing:
    percentile: float = 95
    margin: float = 0.30
    cpu_limit: Literal["none", "ratio", "keep-ratio", "percentile"] = "none"
    window_days: int = 14
    min_cpu: str = "10m"
    min_memory: str = "32Mi"
    hysteresis: float = 0.10
    prices: Prices = field(default_factory=Prices)


@dataclass(frozen=True)
class Scaling:
    max_replicas_cap: int = 10
    target_cpu_utilization: int = 70
    ha_floor: int = 2


@dataclass(frozen=True)
class Prometheus:
    url: str | None = None
    bearer_token_env: str | None = None
    ca_file: str | None = None
    error_rate_threshold: float = 0.05
    latency_p95_ms_threshold: float | None = None


@dataclass(frozen=True)
class Advisor:
    enabled: bool = False
    model: str | None = None


@dataclass(frozen=True)
class KagentAdvisor:
    enabled: bool = False
    url: str | None = None
    agent: str = "k8s-agent"
    namespace: str = "kagent"  # the agent's namespace: POST {url}/api/a2a/{namespace}/{agent}/


@dataclass(frozen=True)
class Advisors:
    llm: Advisor = field(default_factory=Advisor)
    kubectl_ai: Advisor = field(default_factory=Advisor)
    kagent: KagentAdvisor = field(default_factory=KagentAdvisor)


@dataclass(frozen=True)
class TargetKeys:
    resources: str | None = "resources"
    replicas: str | None = "replicaCount"
    autoscaling: str | None = "autoscaling"
    pod_annotations: str | None = "podAnnotations"
    image: str | None = "image"
    config: str | None = "config"


@dataclass(frozen=True)
class Target:
    workload: str  # namespace/Kind/name
    file: str
    container: str | None = None
    keys: TargetKeys = field(default_factory=TargetKeys)


@dataclass(frozen=True)
class Release:
    chart: str
    namespace: str = "default"
    values: tuple[str, ...] = ()


def _default_releases() -> dict[str, Release]:
    return {
        "todo-backend": Release(
            chart="manifests/charts/todo-backend",
            namespace="todo",
            values=("manifests/environments/minikube/todo-backend.yaml",),
        ),
        "todo-frontend": Release(
            chart="manifests/charts/todo-frontend",
            namespace="todo",
            values=("manifests/environments/minikube/todo-frontend.yaml",),
        ),
    }


@dataclass(frozen=True)
class Apply:
    mode: Literal["helm", "kubectl", "argocd", "flux"] = "helm"
    records: Literal["commit", "pr"] = "commit"
    stabilization_minutes: int = 5
    validation_minutes: int = 60
    releases: dict[str, Release] = field(default_factory=_default_releases)


@dataclass(frozen=True)
class Exemption:
    check: str
    namespace: str = "*"
    name: str = "*"
    reason: str = ""


@dataclass(frozen=True)
class Security:
    exemptions: tuple[Exemption, ...] = ()


@dataclass(frozen=True)
class Settings:
    cluster: str = "minikube"
    namespaces: tuple[str, ...] = ("todo",)
    approvals: Approvals = field(default_factory=Approvals)
    proposals: Proposals = field(default_factory=Proposals)
    rightsizing: Rightsizing = field(default_factory=Rightsizing)
    scaling: Scaling = field(default_factory=Scaling)
    prometheus: Prometheus = field(default_factory=Prometheus)
    advisors: Advisors = field(default_factory=Advisors)
    targets: tuple[Target, ...] = ()
    apply: Apply = field(default_factory=Apply)
    security: Security = field(default_factory=Security)
    retention_days: int = 365

    def team_members(self, team: str) -> tuple[str, ...]:
        """Local-forge members of a tier team name ("architects") or slug ("org/architects")."""
        slug = self.approvals.teams.get(team, team)
        return self.approvals.members.get(slug, ())


# ---- loading ------------------------------------------------------------------------------


def load_settings(path: str | Path | None = None, *, required: bool = False) -> Settings:
    """Load settings from a file; a missing file gives the defaults unless `required`."""
    p = Path(path) if path is not None else Path(DEFAULT_PATH)
    if not p.exists():
        if required:
            raise SettingsError(f"{p}: settings file not found")
        return Settings()
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{p}: cannot read settings: {exc}") from exc
    return load_settings_text(text, source=str(p))


def load_settings_text(text: str, *, source: str = DEFAULT_PATH) -> Settings:
    """Parse and validate settings YAML text."""
    import yaml

    from aiops.model.yamlload import fast_safe_loader

    try:
        # the C parser (every live command reads this file; ruamel's pure one cost ~0.05 s of a
        # 1.5 s diagnosis), plain scalars resolved the YAML 1.2 way, as ruamel's safe loader did
        data = yaml.load(text, Loader=fast_safe_loader(yaml_1_2=True))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise SettingsError(f"{source}:{where}: {problem}") from exc
    if data is None:
        data = {}
    return settings_from_dict(data, source=source)


def settings_from_dict(data: Any, *, source: str = DEFAULT_PATH) -> Settings:
    if not isinstance(data, dict):
        raise SettingsError(f"{source}: top level must be a mapping, got {type(data).__name__}")
    result = _build(Settings, data, "", source)
    assert isinstance(result, Settings)
    _check_semantics(result, source)
    return result


def _check_semantics(s: Settings, source: str) -> None:
    for name, rule in s.approvals.tiers.items():
        if name not in ("low", "medium", "critical"):
            raise SettingsError(f"{source}: approvals.tiers.{name}: unknown tier (low, medium, critical)")
        for team in rule.require:
            if team not in s.approvals.teams:
                raise SettingsError(
                    f"{source}: approvals.tiers.{name}.require: team {team!r} is not in approvals.teams"
                )
    if not 0 <= s.rightsizing.margin <= 5:
        raise SettingsError(f"{source}: rightsizing.margin: {s.rightsizing.margin} is out of range 0..5")
    if not 50 <= s.rightsizing.percentile <= 100:
        raise SettingsError(f"{source}: rightsizing.percentile: must be within 50..100")
    if not 1 <= s.scaling.target_cpu_utilization <= 100:
        raise SettingsError(f"{source}: scaling.target_cpu_utilization: must be within 1..100")
    for i, t in enumerate(s.targets):
        if t.workload.count("/") != 2:
            raise SettingsError(
                f"{source}: targets[{i}].workload: {t.workload!r} must be namespace/Kind/name"
            )
    from aiops.errors import InputError
    from aiops.model.quantity import parse_cpu, parse_memory

    try:
        parse_cpu(s.rightsizing.min_cpu, field=f"{source}: rightsizing.min_cpu")
        parse_memory(s.rightsizing.min_memory, field=f"{source}: rightsizing.min_memory")
    except InputError as exc:
        raise SettingsError(exc.message) from exc


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(tp))
    if origin is tuple:
        return f"list of {_type_name(get_args(tp)[0])}"
    if origin is dict:
        return f"mapping of {_type_name(get_args(tp)[1])}"
    if dataclasses.is_dataclass(tp):
        return "mapping"
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", str(tp))


def _build(tp: Any, value: Any, path: str, source: str) -> Any:
    where = f"{source}: {path or '(top level)'}"
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        errors: list[SettingsError] = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _build(arg, value, path, source)
            except SettingsError as exc:
                errors.append(exc)
        raise SettingsError(f"{where}: expected {_type_name(tp)}, got {value!r}")
    if origin is Literal:
        if value not in get_args(tp):
            raise SettingsError(f"{where}: {value!r} is not one of {_type_name(tp)}")
        return value
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if not isinstance(value, dict):
            raise SettingsError(f"{where}: expected a mapping, got {type(value).__name__}")
        hints = get_type_hints(tp)
        fields = {f.name: f for f in dataclasses.fields(tp)}
        unknown = [k for k in value if k not in fields]
        if unknown:
            known = ", ".join(sorted(fields))
            raise SettingsError(f"{source}: {_join(path, str(unknown[0]))}: unknown key (known: {known})")
        kwargs: dict[str, Any] = {}
        for name, f in fields.items():
            if name in value:
                kwargs[name] = _build(hints[name], value[name], _join(path, name), source)
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise SettingsError(f"{source}: {_join(path, name)}: required key is missing")
        return tp(**kwargs)
    if origin is tuple:
        (item_tp, *_rest) = get_args(tp)
        if value is None:
            return ()
        if not isinstance(value, list):
            raise SettingsError(f"{where}: expected a list, got {type(value).__name__}")
        return tuple(_build(item_tp, v, f"{path}[{i}]", source) for i, v in enumerate(value))
    if origin is dict:
        _key_tp, val_tp = get_args(tp)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise SettingsError(f"{where}: expected a mapping, got {type(value).__name__}")
        return {str(k): _build(val_tp, v, _join(path, str(k)), source) for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise SettingsError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SettingsError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SettingsError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise SettingsError(f"{where}: expected a string, got {value!r}")
        return str(value)
    raise SettingsError(f"{where}: unsupported type {tp!r}")  # pragma: no cover


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
