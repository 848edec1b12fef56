"""`aiops rollback --emergency`: restore the cluster now, then go through git as usual.

For a merged PR whose change is hurting production, waiting for the revert PR's approval is too
slow: this flow rolls each release the PR touched back at once (helm: `helm rollback` to the last
good revision; kubectl: re-apply the commit before the merge), puts those releases on hold (so a
later push cannot re-apply the bad change before the revert merges), and opens the revert PR,
which then takes the low-tier fast path (a tier-team member may add the `emergency` label).
In argocd/flux mode the engine owns the cluster: aiops suspends its auto-sync (Argo CD also
syncs back to the commit before the merge; Flux stays at what it last applied), and lifting the
hold when the revert merges restores the auto-sync (DESIGN §4.10).

Composes the apply pipeline's cluster steps; the policy's `cluster` must match the kube context.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiops.errors import InputError, PolicyRefusal
from aiops.gitops.forge import Forge
from aiops.gitops.git import Git
from aiops.model.k8s import format_time
from aiops.settings import Settings


@dataclass
class EmergencyOutcome:
    number: int
    releases: list[dict[str, Any]] = field(default_factory=list)
    holds: str = ""
    revert: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return any(r.get("outcome") != "rolled-back" for r in self.releases)

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "releases": self.releases,
            "holds": self.holds,
            "revert": self.revert,
            "failed": self.failed,
        }


def emergency_rollback(
    forge: Forge,
    git: Git,
    number: int,
    opts: Any,
    settings: Settings,
    *,
    rt: Any = None,
    requested_by: str | None = None,
) -> EmergencyOutcome:
    """Roll back the releases merged PR `number` touched, hold them, and open the revert PR."""
    from aiops.pipeline.apply import (
        HOLDS_SECTION,
        ApplyRuntime,
        Hold,
        ReleaseResult,
        _Cluster,
        _open_revert,
        _releases_of,
        check_context,
        hold_file,
        holds,
        holds_dashboard,
        push_records,
    )

    p = forge.get_proposal(number)
    if p.state != "merged" or not p.merge_sha:
        raise InputError(f"--pr {number}: only a merged proposal can be rolled back (it is {p.state})")
    mode = settings.apply.mode
    if getattr(opts, "observe", False):
        raise PolicyRefusal(
            "--emergency: observe mode never writes to the cluster",
            hint=f"run `aiops rollback --pr {number}` (the revert PR is the rollback)",
        )
    check_context(opts, settings)
    rt = rt or ApplyRuntime()
    now = rt.now()
    previous = git.rev(f"{p.merge_sha}^1")
    cluster = _Cluster(opts, settings, rt, git)
    bot = requested_by or "aiops"
    out = EmergencyOutcome(number)
    current = dict(holds(forge))
    files: dict[str, str] = {}
    names = _releases_of(forge, p, settings)
    if not names:
        raise InputError(f"--pr {number}: it changed no release of apply.releases; nothing to roll back")
    for name in names:
        rel = settings.apply.releases[name]
        res = ReleaseResult(name, rel.namespace, mode)
        if mode in ("argocd", "flux"):
            ok = _suspend_engine(mode, name, previous, opts, res)
        else:
            ok = cluster.roll_back(name, previous, res)
        res.outcome = "rolled-back" if ok else "failed"
        out.releases.append(res.to_dict())
        why = f"emergency rollback of #{number} requested by {bot}"
        path, text = hold_file(name, "held", now, why, prs=[number], by=bot)
        files[path] = text
        current[name] = Hold(name, "held", format_time(now) or "", why, (number,), bot, path)
    out.holds = push_records(
        forge,
        git,
        files,
        f"aiops rollback --emergency: hold {', '.join(names)} (#{number})",
        settings=settings,
        stamp=now.strftime("%Y%m%dT%H%M%SZ"),
    )
    forge.upsert_dashboard(HOLDS_SECTION, holds_dashboard(current))
    # the `emergency` label (shorter SLA) only counts when a tier-team member adds it, so aiops
    # does not add it itself
    out.revert = _open_revert(forge, p, settings, now, bot)
    return out


def _suspend_engine(mode: str, name: str, previous: str | None, opts: Any, res: Any) -> bool:
    """Argo CD / Flux own the cluster: stop their auto-sync (Argo CD syncs back to `previous`)."""
    from aiops.apply.gitops_engines import SyncWatcher

    watcher = SyncWatcher(mode, kubeconfig=opts.kubeconfig, context=opts.context)
    res.rollback = watcher.suspend(name, rollback_to=previous if mode == "argocd" else None)
    return True
