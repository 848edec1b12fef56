"""The rolling-update decision (rightsizing.md §5.4), pure, on API-shaped rollout fixtures.

A Deployment `todo-backend` rolls from revision 2 (ReplicaSet OLD, image 1.4.2) to revision 3
(ReplicaSet NEW, image 1.5.0). Only NEW's pods count; everything is judged at the fixture clock.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import factories as f
import objfactories as of
import pytest

from aiops.errors import InputError
from aiops.model import Snapshot
from aiops.recommend.rollout import (
    MetricFigures,
    Observation,
    RolloutDecision,
    RolloutThresholds,
    decide,
    find_replicasets,
    rollback_template,
)
from aiops.settings import settings_from_dict

NS = "todo"
DEP = "todo-backend"
OLD = "todo-backend-7c9f6d5b8"
NEW = "todo-backend-5d8f7c9b4"
OLD_IMG = "ghcr.io/example/todo-backend:1.4.2"
NEW_IMG = "ghcr.io/example/todo-backend:1.5.0"
Obj = dict[str, Any]


def backend(image: str = NEW_IMG) -> Obj:
    return f.container("backend", image, readiness=f.http_probe("/ready"), liveness=f.http_probe("/healthz"))


def new_pod(suffix: str, *, statuses: list[Obj] | None = None, created: float = -5, **kw: Any) -> Obj:
    if statuses is None and kw.get("phase", "Running") == "Running":
        statuses = [f.container_status("backend", NEW_IMG, state=f.running(f.ts(created + 0.5)))]
    return f.pod(
        f"{NEW}-{suffix}",
        NS,
        owner=("ReplicaSet", NEW),
        containers=[backend()],
        container_statuses=statuses,
        created=f.ts(created),
        **kw,
    )


def old_pod(suffix: str, *, statuses: list[Obj] | None = None) -> Obj:
    if statuses is None:
        statuses = [f.container_status("backend", OLD_IMG, state=f.running(f.ts(-60 * 20)))]
    return f.pod(
        f"{OLD}-{suffix}",
        NS,
        owner=("ReplicaSet", OLD),
        containers=[backend(OLD_IMG)],
        container_statuses=statuses,
        created=f.ts(-60 * 24),
    )


def rollout(
    new_pods: list[Obj],
    old_pods: list[Obj] = (),  # type: ignore[assignment]
    *,
    replicas: int = 3,
    progressing: tuple[str, str] = ("True", "ReplicaSetUpdated"),
    since: float = -5,
    extra: tuple[Obj, ...] = (),
    at: float = 0,
    rs_failure: str | None = None,
    generation: int | None = None,
) -> Snapshot:
    """The whole namespace mid-rollout: counts follow the pods given."""
    ready_new = sum(1 for p in new_pods if _ready(p))
    ready_old = sum(1 for p in old_pods if _ready(p))
    dep = of.deployment(
        DEP,
        NS,
        replicas=replicas,
        updated=len(new_pods),
        ready=ready_new + ready_old,
        available=ready_new + ready_old,
        new_rs=NEW,
        progressing=progressing,
        progressing_since=f.ts(since),
        revision=3,
        containers=[backend()],
    )
    dep["status"]["replicas"] = len(new_pods) + len(old_pods)
    if generation is not None:
        dep["metadata"]["generation"] = generation
    new_rs = of.replicaset(
        NEW, NS, replicas=len(new_pods), ready=ready_new, revision=3, created=f.ts(-6), failure=rs_failure
    )
    new_rs["spec"]["template"]["spec"]["containers"] = [backend()]
    old_rs = of.replicaset(
        OLD, NS, replicas=len(old_pods), ready=ready_old, revision=2, created=f.ts(-60 * 48)
    )
    old_rs["spec"]["template"]["spec"]["containers"] = [backend(OLD_IMG)]
    # the controller's latest event: what a kubectl dump of this moment is judged at
    scaled = f.event(
        dep,
        "ScalingReplicaSet",
        f"Scaled up replica set {NEW} to {len(new_pods)}",
        type_="Normal",
        first=f.ts(at),
        last=f.ts(at),
        component="deployment-controller",
        host=None,
    )
    return of.snapshot(dep, new_rs, old_rs, *new_pods, *old_pods, *extra, scaled, at=f.ts(at))


def _ready(p: Obj) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))


def crashloop(suffix: str, *, last: Obj, restarts: int = 3) -> Obj:
    pod_name = f"{NEW}-{suffix}"
    st = f.container_status(
        "backend",
        NEW_IMG,
        state=f.waiting("CrashLoopBackOff", f.back_off_message("backend", pod_name, NS)),
        last_state=last,
        restart_count=restarts,
    )
    return new_pod(suffix, statuses=[st])


def rules(d: RolloutDecision) -> list[str]:
    return [r.rule for r in d.reasons]


# ---- the new ReplicaSet ------------------------------------------------------------------------------
def test_new_replicaset_is_found_by_revision_and_previous_is_the_one_before() -> None:
    snap = rollout([new_pod("a1b2c")], [old_pod("x1y2z"), old_pod("x3y4z")])
    dep = snap.get("Deployment", NS, DEP)
    assert dep is not None
    new, name, others = find_replicasets(snap, dep)
    assert new is not None and name == NEW
    assert [o["metadata"]["name"] for o in others] == [OLD]
    d = decide(snap, NS, DEP)
    assert (d.new_replicaset, d.revision, d.previous_replicaset, d.previous_revision) == (NEW, "3", OLD, "2")


def test_new_replicaset_found_by_template_when_revision_annotations_are_missing() -> None:
    snap = rollout([new_pod("a1b2c")], [old_pod("x1y2z")])
    for obj in snap.items:
        if obj["kind"] in ("Deployment", "ReplicaSet"):
            obj["metadata"]["annotations"].pop("deployment.kubernetes.io/revision")
    dep = snap.get("Deployment", NS, DEP)
    assert dep is not None
    new, name, _ = find_replicasets(snap, dep)
    assert name == NEW and new is not None


# ---- good rollouts --------------------------------------------------------------------------------
def test_good_rollout_in_progress_continues() -> None:
    snap = rollout([new_pod("a1b2c")], [old_pod("x1y2z"), old_pod("x3y4z")])
    d = decide(snap, NS, DEP)
    assert d.decision == "continue", d.lines()
    assert d.reasons == ()
    assert d.progress == "1 out of 3 new replicas have been updated"
    assert d.evidence == (f"new pod {NEW}-a1b2c: Ready",)
    assert not d.stops and not d.failed


def test_good_rollout_completes_over_successive_observations() -> None:
    steps = [
        rollout([new_pod("a1b2c")], [old_pod("x1y2z"), old_pod("x3y4z")], at=0),
        rollout([new_pod("a1b2c"), new_pod("d3e4f", created=-0.5)], [old_pod("x3y4z")], at=0.5),
        rollout(
            [new_pod("a1b2c"), new_pod("d3e4f", created=-0.5), new_pod("g5h6j", created=0.2)],
            [],
            progressing=("True", "NewReplicaSetAvailable"),
            at=1,
        ),
    ]
    seen: list[Observation] = []
    decisions = []
    for snap in steps:
        d = decide(snap, NS, DEP, previous=seen)
        assert d.observation is not None
        seen.append(d.observation)
        decisions.append(d.decision)
    assert decisions == ["continue", "continue", "done"]
    assert d.progress == 'deployment "todo-backend" successfully rolled out'
    assert d.headline.startswith("DONE deploy/todo-backend (revision 3 todo-backend-5d8f7c9b4)")


def test_all_updated_but_not_yet_new_replicaset_available_is_still_continue() -> None:
    pods = [new_pod(s) for s in ("a1b2c", "d3e4f", "g5h6j")]
    d = decide(rollout(pods, [], progressing=("True", "ReplicaSetUpdated")), NS, DEP)
    assert d.decision == "continue"
    assert "waiting for NewReplicaSetAvailable" in d.progress


def test_spec_not_yet_observed_waits() -> None:
    d = decide(rollout([new_pod("a1b2c")], [old_pod("x1y2z")], generation=4), NS, DEP)
    assert d.decision == "continue"
    assert d.progress == "waiting for the deployment spec update to be observed"
    assert "observedGeneration=3" in d.notes[0]


# ---- bad rollouts ---------------------------------------------------------------------------------
def test_crashloop_of_a_new_pod_halts_with_the_diagnosis_finding() -> None:
    bad = crashloop("a1b2c", last=f.terminated("Error", 1, started_at=f.ts(-2), finished_at=f.ts(-1.5)))
    d = decide(rollout([bad], [old_pod("x1y2z"), old_pod("x3y4z")]), NS, DEP)
    assert d.decision == "halt", d.lines()
    assert "H3-crash" in rules(d) and "H4-restarts" in rules(d)
    crash = next(r for r in d.reasons if r.rule == "H3-crash")
    assert crash.code == "CrashLoopBackOff" and crash.object == f"pod {NEW}-a1b2c"
    assert any("CrashLoopBackOff" in e for e in crash.evidence)
    assert d.findings == ("CrashLoopBackOff",)
    assert d.failed and d.stops
    assert any(line.startswith("  halt: pause the rollout") for line in d.lines())


def test_image_pull_backoff_of_a_new_pod_halts() -> None:
    st = f.container_status(
        "backend", NEW_IMG, state=f.waiting("ImagePullBackOff", f'Back-off pulling image "{NEW_IMG}"')
    )
    p = new_pod("a1b2c", statuses=[st])
    ev = f.event(
        p,
        "Failed",
        f'Failed to pull image "{NEW_IMG}": rpc error: code = NotFound desc = failed to pull and unpack '
        f'image "{NEW_IMG}": failed to resolve reference "{NEW_IMG}": {NEW_IMG}: not found',
        count=4,
        first=f.ts(-4),
        last=f.ts(-1),
        container_name="backend",
    )
    d = decide(rollout([p], [old_pod("x1y2z")], extra=(ev,)), NS, DEP)
    assert d.decision == "halt"
    image = next(r for r in d.reasons if r.rule == "H3-image")
    assert image.code == "ImagePullBackOff"
    assert any("cause image-not-found" in e for e in image.evidence)


def test_oomkilled_new_pod_halts_even_when_it_runs_again() -> None:
    st = f.container_status(
        "backend",
        NEW_IMG,
        state=f.running(f.ts(-1)),
        last_state=f.terminated("OOMKilled", 137, started_at=f.ts(-3), finished_at=f.ts(-1.1)),
        restart_count=1,
    )
    d = decide(rollout([new_pod("a1b2c", statuses=[st])], [old_pod("x1y2z")]), NS, DEP)
    assert d.decision == "halt", d.lines()
    oom = next(r for r in d.reasons if r.rule == "H2-oom")
    assert oom.code == "OOMKilled" and oom.container == "backend"


def test_new_pod_not_ready_past_its_readiness_budget_halts_but_not_within_it() -> None:
    st = f.container_status("backend", NEW_IMG, state=f.running(f.ts(-0.9)), ready=False)
    young = new_pod("a1b2c", statuses=[st], created=-1)
    d = decide(rollout([young], [old_pod("x1y2z")]), NS, DEP)
    assert d.decision == "continue", d.lines()
    assert (
        f"pod {NEW}-a1b2c not Ready yet after 54s (budget 90s): "
        "Running, container backend running but not ready" in d.notes
    )

    st_old = f.container_status("backend", NEW_IMG, state=f.running(f.ts(-7.9)), ready=False)
    stuck = new_pod("a1b2c", statuses=[st_old], created=-8)
    d = decide(rollout([stuck], [old_pod("x1y2z")]), NS, DEP)
    assert d.decision == "halt", d.lines()
    ready = next(r for r in d.reasons if r.rule == "H7-readiness")
    assert ready.object == f"pod {NEW}-a1b2c"
    assert ready.summary == f"not Ready for 7m54s since {f.ts(-7.9)} (budget 90s)"  # 0 + 3 × 10 s + 60 s


def test_progress_deadline_exceeded_undoes_to_the_previous_template() -> None:
    st = f.container_status("backend", NEW_IMG, state=f.running(f.ts(-10)), ready=False)
    p = new_pod("a1b2c", statuses=[st], created=-12)
    snap = rollout(
        [p], [old_pod("x1y2z"), old_pod("x3y4z")], progressing=("False", "ProgressDeadlineExceeded"), since=-1
    )
    d = decide(snap, NS, DEP)
    assert d.decision == "undo", d.lines()
    assert d.reasons[0].rule == "H1-deadline" and d.reasons[0].code == "RolloutStuck"
    assert any("ProgressDeadlineExceeded" in e for e in d.reasons[0].evidence)
    assert d.previous_replicaset == OLD
    assert "  undo: roll back to revision 2 (ReplicaSet todo-backend-7c9f6d5b8)" in d.lines()
    back = rollback_template(snap, NS, DEP)
    assert back is not None
    rs, rev, template = back
    assert (rs, rev) == (OLD, "2")
    assert template["spec"]["containers"][0]["image"] == OLD_IMG
    assert "pod-template-hash" not in template["metadata"]["labels"]
    assert template["metadata"]["labels"] == {"app.kubernetes.io/name": DEP}


def test_paused_deployment_is_not_undone_for_its_deadline() -> None:
    snap = rollout([new_pod("a1b2c")], [old_pod("x1y2z")], progressing=("False", "ProgressDeadlineExceeded"))
    dep = snap.get("Deployment", NS, DEP)
    assert dep is not None
    dep["spec"]["paused"] = True
    d = decide(snap, NS, DEP)
    assert d.decision == "continue" and d.paused
    assert any("paused" in n for n in d.notes)


def test_old_replicaset_pod_failure_does_not_count_against_the_new_one() -> None:
    last = f.terminated("Error", 1, started_at=f.ts(-2), finished_at=f.ts(-1.5))
    st = f.container_status(
        "backend",
        OLD_IMG,
        state=f.waiting("CrashLoopBackOff", f.back_off_message("backend", f"{OLD}-x1y2z", NS)),
        last_state=last,
        restart_count=7,
    )
    d = decide(rollout([new_pod("a1b2c")], [old_pod("x1y2z", statuses=[st])]), NS, DEP)
    assert d.decision == "continue", d.lines()
    assert d.findings == ()
    assert any(f"old-ReplicaSet pod {OLD}-x1y2z: CrashLoopBackOff" in n for n in d.notes)


def test_unschedulable_new_pod_halts_only_after_two_minutes() -> None:
    def pending(created: float) -> Obj:
        p = new_pod("a1b2c", phase="Pending", node_name=None, created=created)
        p["status"]["conditions"][0]["lastTransitionTime"] = f.ts(created)
        return p

    def event_for(p: Obj, created: float) -> Obj:
        return f.scheduler_event(
            p,
            "FailedScheduling",
            "0/1 nodes are available: 1 Insufficient memory. preemption: 0/1 nodes are available: "
            "1 No preemption victims found for incoming pod.",
            at=f.micro(created),
        )

    early = pending(-1.5)
    d = decide(rollout([early], [old_pod("x1y2z")], extra=(event_for(early, -1.5),)), NS, DEP)
    assert d.decision == "continue", d.lines()
    assert any("Unschedulable.InsufficientResources for 90s" in n for n in d.notes), d.notes

    late = pending(-5)
    d = decide(rollout([late], [old_pod("x1y2z")], extra=(event_for(late, -5),)), NS, DEP)
    assert d.decision == "halt"
    sched = next(r for r in d.reasons if r.rule == "H5-scheduling")
    assert sched.code == "Unschedulable.InsufficientResources"


def test_replica_failure_on_the_new_replicaset_halts() -> None:
    msg = 'pods "todo-backend-5d8f7c9b4-zz9x8" is forbidden: exceeded quota: compute, requested: memory=1Gi'
    d = decide(rollout([], [old_pod("x1y2z")], rs_failure=msg), NS, DEP)
    assert d.decision == "halt"
    assert rules(d) == ["H6-create-failure"]
    assert "exceeded quota" in d.reasons[0].summary


def test_restarts_summed_over_new_pods() -> None:
    def once(suffix: str) -> Obj:
        st = f.container_status(
            "backend",
            NEW_IMG,
            state=f.running(f.ts(-0.5)),
            last_state=f.terminated("Error", 2, started_at=f.ts(-3), finished_at=f.ts(-0.6)),
            restart_count=1,
        )
        return new_pod(suffix, statuses=[st])

    d = decide(rollout([once("a1b2c")], [old_pod("x1y2z"), old_pod("x3y4z")]), NS, DEP)
    assert "H4-restarts" not in rules(d)
    d = decide(rollout([once("a1b2c"), once("d3e4f")], [old_pod("x1y2z")]), NS, DEP)
    assert d.decision == "halt"
    assert any(r.rule == "H4-restarts" and "restarted 2 times in all" in r.summary for r in d.reasons)


def test_old_restarts_of_a_finished_rollout_are_history() -> None:
    # watching a rollout that completed hours ago: a pod that restarted then and runs Ready since
    def veteran(suffix: str) -> Obj:
        st = f.container_status(
            "backend",
            NEW_IMG,
            state=f.running(f.ts(-119)),
            last_state=f.terminated("Error", 1, started_at=f.ts(-125), finished_at=f.ts(-120)),
            restart_count=3,
        )
        return new_pod(suffix, statuses=[st], created=-60 * 5)

    pods = [veteran("a1b2c"), new_pod("d3e4f", created=-60 * 5), new_pod("g5h6j", created=-60 * 5)]
    d = decide(rollout(pods, [], progressing=("True", "NewReplicaSetAvailable")), NS, DEP)
    assert d.decision == "done", d.lines()
    assert f"new pod {NEW}-a1b2c: Ready, restarts 3" in d.evidence  # shown, not counted


def test_no_progress_across_observations_halts_after_the_stall_budget() -> None:
    st = f.container_status("backend", NEW_IMG, state=f.waiting("ContainerCreating"), ready=False)
    creating = [st]
    seen: list[Observation] = []
    out = []
    for minute in (0, 2, 4, 6):
        # a pod stuck creating for a long time: only the stall budget (5 min) catches it
        p = new_pod("a1b2c", statuses=creating, created=-0.5 + minute)
        snap = rollout([p], [old_pod("x1y2z"), old_pod("x3y4z")], at=minute)
        d = decide(snap, NS, DEP, previous=seen)
        assert d.observation is not None
        seen.append(d.observation)
        out.append(d.decision)
    assert out == ["continue", "continue", "continue", "halt"]
    assert rules(d) == ["H1-stalled"]  # a slow start is not a readiness failure; no progress for 6 min is
    assert d.reasons[0].summary.startswith("available new replicas stayed at 0 for 6m00s")
    assert f"pod {NEW}-a1b2c still starting: Running, container backend waiting ContainerCreating" in d.notes


def test_ready_flapping_halts() -> None:
    seen: list[Observation] = []
    out: list[RolloutDecision] = []
    for i, ready in enumerate([True, False, True, False, True, False]):
        st = f.container_status("backend", NEW_IMG, state=f.running(f.ts(-5)), ready=ready)
        # when not ready, it dropped out of Ready 30 s ago: within its budget, only the flips count
        p = new_pod("a1b2c", statuses=[st], created=-0.5 + i * 0.5)
        d = decide(rollout([p], [old_pod("x1y2z")], at=i * 0.5), NS, DEP, previous=seen)
        assert d.observation is not None
        seen.append(d.observation)
        out.append(d)
    assert [d.decision for d in out] == ["continue"] * 5 + ["halt"]
    assert [(r.rule, r.summary) for r in out[-1].reasons] == [
        ("H7-readiness", "went from Ready to not Ready 3 times in 10m00s (halt above 2)")
    ]


# ---- Prometheus figures ----------------------------------------------------------------------------
def _watch(figures: list[MetricFigures], thresholds: RolloutThresholds) -> list[RolloutDecision]:
    seen: list[Observation] = []
    out: list[RolloutDecision] = []
    for i, m in enumerate(figures):
        snap = rollout([new_pod("a1b2c")], [old_pod("x1y2z"), old_pod("x3y4z")], at=i)
        d = decide(snap, NS, DEP, previous=seen, metrics=m, thresholds=thresholds)
        assert d.observation is not None
        seen.append(d.observation)
        out.append(d)
    return out


def test_error_rate_over_threshold_twice_in_a_row_halts() -> None:
    th = RolloutThresholds.from_settings(settings_from_dict({}).prometheus)
    assert th.error_rate == 0.05 and th.latency_p95_ms is None
    bad = MetricFigures(error_rate=0.12, latency_p95_ms=900.0, request_rate=5.0, source="prometheus")
    ok = MetricFigures(error_rate=0.01, request_rate=5.0)
    ds = _watch([bad, ok, bad, bad], th)
    assert [d.decision for d in ds] == ["continue", "continue", "continue", "halt"]
    assert "error rate 12.00% > 5.00% (1/2 consecutive observations to halt)" in ds[0].notes
    assert rules(ds[3]) == ["M1-error-rate"]  # no latency threshold configured
    assert ds[3].metrics == bad
    assert "  metrics: error rate 12.00%, p95 latency 900 ms, 5.00 req/s (prometheus)" in ds[3].lines()


def test_latency_threshold_from_settings() -> None:
    settings = settings_from_dict(
        {"prometheus": {"latency_p95_ms_threshold": 500, "error_rate_threshold": 0.2}}
    )
    th = RolloutThresholds.from_settings(settings.prometheus)
    slow = MetricFigures(error_rate=0.1, latency_p95_ms=750.0, request_rate=3.0)
    ds = _watch([slow, slow], th)
    assert [d.decision for d in ds] == ["continue", "halt"]
    assert rules(ds[1]) == ["M2-latency"]
    assert "750 ms > 500 ms in 2 consecutive observations" in ds[1].reasons[0].summary


def test_no_traffic_is_inconclusive_not_a_pass_nor_a_halt() -> None:
    quiet = MetricFigures(error_rate=0.5, request_rate=0.02)
    ds = _watch([quiet, quiet, quiet], RolloutThresholds())
    assert [d.decision for d in ds] == ["continue"] * 3
    assert any("inconclusive" in n for n in ds[2].notes)


def test_four_consecutive_metric_errors_pause_for_a_person() -> None:
    err = MetricFigures(error="HTTP 400 (bad_data parse error)", source="prometheus")
    ds = _watch([err] * 4, RolloutThresholds())
    assert [d.decision for d in ds] == ["continue", "continue", "continue", "halt"]
    assert rules(ds[3]) == ["M6-metrics"]


# ---- the record ---------------------------------------------------------------------------------
def test_decision_record_is_json_for_history() -> None:
    bad = crashloop("a1b2c", last=f.terminated("Error", 1, started_at=f.ts(-2), finished_at=f.ts(-1.5)))
    d = decide(rollout([bad], [old_pod("x1y2z")]), NS, DEP, metrics=MetricFigures(error_rate=0.0))
    data = json.loads(json.dumps(d.to_dict()))
    assert data["decision"] == "halt"
    assert data["deployment"] == {"kind": "Deployment", "namespace": NS, "name": DEP}
    assert data["at"] == f.ts(0)
    assert data["new_replicaset"] == NEW and data["previous"] == {"replicaset": OLD, "revision": "2"}
    assert data["replicas"] == {"desired": 3, "updated": 1, "total": 2, "ready": 1, "available": 1}
    assert {r["rule"] for r in data["reasons"]} >= {"H3-crash", "H4-restarts"}
    assert data["findings"] == ["CrashLoopBackOff"]
    assert data["metrics"]["error_rate"] == 0.0
    with pytest.raises(AttributeError):
        d.decision = "done"  # type: ignore[misc]
    back = RolloutDecision.from_dict(data)
    assert back.to_dict() == d.to_dict()
    assert back.lines() == d.lines()
    with pytest.raises(InputError, match="decision 'maybe'"):
        RolloutDecision.from_dict({**data, "decision": "maybe"})


def test_missing_deployment_is_bad_input() -> None:
    snap = rollout([new_pod("a1b2c")], [])
    with pytest.raises(InputError, match="deploy/nope: no Deployment nope in namespace todo"):
        decide(snap, NS, "nope")


def test_judged_at_the_snapshot_time_not_the_wall_clock() -> None:
    st = f.container_status("backend", NEW_IMG, state=f.running(f.ts(-0.9)), ready=False)
    p = new_pod("a1b2c", statuses=[st], created=-1)
    snap = rollout([p], [old_pod("x1y2z")])
    assert decide(snap, NS, DEP).decision == "continue"
    later = Snapshot(items=snap.items, at=snap.at + timedelta(minutes=10))
    assert decide(later, NS, DEP).decision == "halt"
