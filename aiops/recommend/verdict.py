"""The verdict of an applied change: improved / unchanged / regressed, with its reasons (DESIGN §4.5).

`judge(pre, post)` compares two measurements of one release, as `aiops.apply.measure` writes them
(plain JSON-safe mappings, the `pre_metrics` / `post_metrics` of the execution record):

- **regressed** when, after the change, fewer replicas are available than wanted (and than
  before), containers restarted or were OOM-killed since the pre measurement (counted per pod, so
  a restart counter carried over from before the change is not new), the error rate is over the
  threshold and higher than before, or p95 latency is over its threshold or grew by more than a
  quarter (and 50 ms);
- **improved** when nothing regressed and something the change was meant to fix got better:
  replicas that were missing are back, pods that restarted or were OOM-killed are replaced by
  quiet ones, CPU/memory requests went down while usage stays within them (right-sizing saved
  money), or the error rate / latency fell by a fifth;
- **unchanged** otherwise (including "no post measurement": the reason says it is inconclusive).

Pure: no I/O, no clock; thresholds are passed in (settings `prometheus.*`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

VerdictName = Literal["improved", "unchanged", "regressed"]

LATENCY_GROWTH = 1.25
LATENCY_MIN_DELTA_MS = 50.0
RELATIVE_GAIN = 0.20
REQUEST_CUT = 0.05


@dataclass(frozen=True)
class Verdict:
    verdict: VerdictName
    reasons: tuple[str, ...]

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "reasons": list(self.reasons)}


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _workloads(m: Mapping[str, Any]) -> Mapping[str, Mapping[str, Any]]:
    w = m.get("workloads")
    return w if isinstance(w, Mapping) else {}


def _per_pod(m: Mapping[str, Any], key: str) -> dict[str, int]:
    pods = m.get("pods")
    if not isinstance(pods, Mapping):
        return {}
    out: dict[str, int] = {}
    for name, row in pods.items():
        if isinstance(row, Mapping):
            v = _num(row.get(key))
            out[str(name)] = int(v) if v is not None else 0
    return out


def new_events(pre: Mapping[str, Any], post: Mapping[str, Any], key: str) -> int:
    """Restarts (`key="restarts"`) or OOM kills (`"oom_kills"`) that happened after `pre`, per pod."""
    before = _per_pod(pre, key)
    return sum(max(0, count - before.get(pod, 0)) for pod, count in _per_pod(post, key).items())


def _short(m: Mapping[str, Any]) -> tuple[int, int]:
    """(missing replicas, desired replicas) over the workloads of a measurement."""
    missing = desired = 0
    for row in _workloads(m).values():
        d = int(_num(row.get("desired")) or 0)
        a = int(_num(row.get("available")) or 0)
        desired += d
        missing += max(0, d - a)
    return missing, desired


def _resource(m: Mapping[str, Any], name: str, field: str) -> float | None:
    r = m.get(name)
    return _num(r.get(field)) if isinstance(r, Mapping) else None


def judge(
    pre: Mapping[str, Any] | None,
    post: Mapping[str, Any] | None,
    *,
    error_rate_threshold: float = 0.05,
    latency_p95_ms_threshold: float | None = None,
) -> Verdict:
    """Compare the post measurement of a release with its pre measurement."""
    if not post:
        return Verdict("unchanged", ("inconclusive: no post-change measurement",))
    pre = pre or {}
    bad: list[str] = []
    good: list[str] = []

    missing_post, desired_post = _short(post)
    missing_pre, _ = _short(pre)
    if missing_post > 0 and missing_post >= missing_pre:
        if missing_post > missing_pre or not pre:
            bad.append(f"{missing_post} of {desired_post} wanted replicas not available after the change")
    elif missing_pre > 0 and missing_post == 0:
        good.append(f"all {desired_post} wanted replicas available again (were {missing_pre} short)")

    restarts = new_events(pre, post, "restarts")
    ooms = new_events(pre, post, "oom_kills")
    if ooms:
        bad.append(f"{ooms} OOM kill(s) since the change")
    if restarts:
        bad.append(f"{restarts} container restart(s) since the change")
    pre_ooms = sum(_per_pod(pre, "oom_kills").values())
    pre_restarts = sum(_per_pod(pre, "restarts").values())
    if not ooms and not restarts and (pre_ooms or pre_restarts):
        carried = set(_per_pod(post, "restarts")) & set(_per_pod(pre, "restarts"))
        if not carried:
            good.append(
                f"pods that had {pre_restarts} restart(s) / {pre_ooms} OOM kill(s) replaced by quiet ones"
            )

    err_pre, err_post = _num(pre.get("error_rate")), _num(post.get("error_rate"))
    if err_post is not None:
        if err_post > error_rate_threshold and (err_pre is None or err_post > err_pre):
            bad.append(f"error rate {err_post:.2%} over the {error_rate_threshold:.2%} threshold")
        elif err_pre is not None and err_pre > 0 and err_post <= err_pre * (1 - RELATIVE_GAIN):
            good.append(f"error rate down from {err_pre:.2%} to {err_post:.2%}")

    lat_pre, lat_post = _num(pre.get("latency_p95_ms")), _num(post.get("latency_p95_ms"))
    if lat_post is not None:
        over = latency_p95_ms_threshold is not None and lat_post > latency_p95_ms_threshold
        grew = (
            lat_pre is not None
            and lat_post > lat_pre * LATENCY_GROWTH
            and lat_post - lat_pre > LATENCY_MIN_DELTA_MS
        )
        if over and (lat_pre is None or lat_post > lat_pre):
            bad.append(f"p95 latency {lat_post:.0f} ms over the {latency_p95_ms_threshold:.0f} ms threshold")
        elif grew:
            bad.append(f"p95 latency up from {lat_pre:.0f} ms to {lat_post:.0f} ms")
        elif lat_pre is not None and lat_pre > 0 and lat_post <= lat_pre * (1 - RELATIVE_GAIN):
            good.append(f"p95 latency down from {lat_pre:.0f} ms to {lat_post:.0f} ms")

    for res, unit in (("cpu", "m"), ("memory", "Mi")):
        req_pre, req_post = _resource(pre, res, "requests"), _resource(post, res, "requests")
        use_post = _resource(post, res, "usage")
        cut = req_pre and req_post is not None and req_post <= req_pre * (1 - REQUEST_CUT)
        if cut and req_post is not None and (use_post is None or use_post <= req_post):
            good.append(f"{res} requests cut from {req_pre:.0f}{unit} to {req_post:.0f}{unit}, usage within")
        if req_post and use_post is not None and req_pre is not None and req_post > req_pre:
            use_pre = _resource(pre, res, "usage")
            if use_pre is not None and use_pre > req_pre and use_post <= req_post:
                good.append(f"{res} usage now within requests ({use_post:.0f}{unit} of {req_post:.0f}{unit})")

    if bad:
        return Verdict("regressed", tuple(bad))
    if good:
        return Verdict("improved", tuple(good))
    return Verdict("unchanged", ("no significant difference between the pre and post measurements",))
