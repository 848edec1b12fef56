"""`aiops rollback --pr N`: open the revert proposal of merged proposal N (DESIGN §4.5, §4.6).

The revert proposal (branch `aiops/revert-<N>`, title `Revert "<title>"`, kind `rollback`,
proposed `{"revert_of": N}`) carries the files of `Forge.revert_files(N)` — the non-history
changes of N undone; records are never removed — plus a `rollback` stage record of N's decision
(`history/prompts/YYYY/MM/<id>--rollback.md` with `revert_of` and `rollback_requested_at`). Its
tier comes from `classify` with the revert context: a pure revert of a non-critical change is the
low fast path, a revert of a critical change stays critical. Idempotent: an open revert of N is
reported, not duplicated. Talks only to the `Forge` port; the apply side (`--emergency`) is not here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from aiops.errors import InputError
from aiops.gitops.forge import Forge, Proposal
from aiops.model.changes import ChangeSet, FileChange
from aiops.model.k8s import ObjectRef
from aiops.model.phr import decision_id, record_path
from aiops.model.recommendations import Recommendation
from aiops.pipeline.merge import change_set_of
from aiops.pipeline.proposal import bot_login, default_requester, forge_base, needs_text, reviewers_for
from aiops.settings import Settings


@dataclass(frozen=True)
class RollbackOutcome:
    action: str  # opened | unchanged | would-open
    revert_of: int
    number: int | None
    branch: str
    id: str
    tier: str | None = None
    tier_reasons: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    url: str | None = None
    reason: str = ""
    body: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "revert_of": self.revert_of,
            "number": self.number,
            "branch": self.branch,
            "id": self.id,
            "tier": self.tier,
            "tier_reasons": list(self.tier_reasons),
            "files": list(self.files),
            "url": self.url,
            "reason": self.reason,
        }

    def line(self) -> str:
        verb = self.action.replace("-", " ")
        head = f"{verb} #{self.number}" if self.number is not None else verb
        text = f"{head}: revert of #{self.revert_of} ({self.branch})"
        if self.tier:
            text += f" [{self.tier}]"
        if self.reason:
            text += f" — {self.reason}"
        return text


def revert_branch(number: int) -> str:
    return f"aiops/revert-{number}"


def _target(original: Proposal) -> ObjectRef:
    t = original.meta.get("target")
    if isinstance(t, Mapping) and t.get("kind") and t.get("name"):
        return ObjectRef(str(t["kind"]), str(t.get("namespace") or ""), str(t["name"]))
    return ObjectRef("PullRequest", "", str(original.number))


def rollback(
    forge: Forge,
    number: int,
    *,
    settings: Settings,
    requested_by: str | None = None,
    now: datetime | None = None,
    dry_run: bool = False,
) -> RollbackOutcome:
    """Open (or find) the revert proposal of merged proposal `number`."""
    from aiops.phr import recommendation_record, render_pr_body, render_record
    from aiops.policy import ClassifyContext, RevertedChange, classify

    now = now or datetime.now(UTC)
    original = forge.get_proposal(number)
    branch = revert_branch(number)
    record_id = original.id or decision_id(now, f"pr-{number}")
    for p in forge.find_proposals(state="all"):
        if p.meta.get("revert_of") == number or p.branch == branch:
            if p.state == "open":
                return RollbackOutcome(
                    "unchanged",
                    number,
                    p.number,
                    p.branch,
                    p.id or record_id,
                    tier=str(p.meta.get("tier") or "") or None,
                    url=p.url,
                    reason="the revert proposal is already open",
                )
            if p.state == "merged":
                raise InputError(f"--pr {number}: already reverted by merged proposal #{p.number}")
    if original.state != "merged":
        raise InputError(f"--pr {number}: only a merged proposal can be rolled back (it is {original.state})")
    reverting = forge.revert_files(number)
    if not reverting:
        raise InputError(
            f"--pr {number}: nothing to revert (its changes are no longer on {forge_base(forge)})"
        )
    requester = default_requester(forge, requested_by)
    changes = tuple(
        FileChange(path=path, old_text=forge.read_file(path), new_text=text)
        for path, text in sorted(reverting.items())
    )
    rpath = record_path(record_id, "rollback", now)
    if forge.read_file(rpath) is not None:
        raise InputError(f"{rpath}: a rollback record of {record_id} already exists on the base branch")
    original_cs = change_set_of(forge, original)
    tier_result = classify(
        ChangeSet(
            files=(*changes, FileChange(path=rpath, old_text=None, new_text="record\n")),
            author=bot_login(settings),
            revert_of=number,
        ),
        ClassifyContext.from_settings(settings, reverted=RevertedChange(number, True, original_cs)),
    )
    tier = tier_result.tier
    rec = Recommendation(
        kind="rollback",
        target=_target(original),
        current=dict(original.meta.get("proposed") or {})
        if isinstance(original.meta.get("proposed"), Mapping)
        else {},
        proposed={"revert_of": number},
        rationale=(
            f"Roll back #{number} ({original.title}): revert its changes outside history/, "
            "keeping every record."
        ),
        evidence=(f"#{number} merged at {original.merged_at} as {original.merge_sha}",),
        confidence="high",
        tier=tier,
        changes=changes,
        id=record_id,
    )
    base = recommendation_record(
        rec,
        record_id=record_id,
        created=now,
        cluster=settings.cluster,
        tier=tier,
        tier_reasons=tier_result.reasons,
        needs=needs_text(tier, settings),
        requested_by=requester,
        pr={"number": number, "url": original.url},
    )
    record = replace(
        base,
        stage="rollback",
        front={**base.front, "revert_of": number, "rollback_requested_at": now, "outcome": "pending"},
    )
    record_text = render_record(record)
    diff = "".join(fc.diff() for fc in changes)
    base_sha = forge.base_sha()
    body = f"Reverts #{number}.\n\n" + render_pr_body(
        rec,
        record,
        diff,
        tier=tier,
        tier_reasons=tier_result.reasons,
        requested_by=requester,
        base_sha=base_sha,
        revert_of=number,
    )
    from aiops.phr import build_meta

    meta = build_meta(
        rec, record_id=record_id, tier=tier, requested_by=requester, base_sha=base_sha, revert_of=number
    )
    files: dict[str, str | None] = dict(reverting)
    files[rpath] = record_text
    title = f'Revert "{original.title}"'
    message = (
        f"{title}\n\nThis reverts proposal #{number}"
        + (f" (merge {original.merge_sha})" if original.merge_sha else "")
        + "; records under history/ are kept.\n\n"
        + f"Aiops-Id: {record_id}\n"
    )
    if dry_run:
        return RollbackOutcome(
            "would-open",
            number,
            None,
            branch,
            record_id,
            tier,
            tuple(tier_result.reasons),
            tuple(sorted(files)),
            body=body,
        )
    p = forge.propose(
        branch=branch,
        title=title,
        body=body,
        files=files,
        message=message,
        labels=[f"risk:{tier}", "rollback"],
        reviewers=reviewers_for(tier, settings),
        meta=meta,
    )
    return RollbackOutcome(
        "opened",
        number,
        p.number,
        p.branch,
        record_id,
        tier,
        tuple(tier_result.reasons),
        tuple(sorted(files)),
        url=p.url,
        body=body,
    )
