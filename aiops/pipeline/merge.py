"""`aiops merge` (local forge only; on GitHub people merge): the gate decision, then a merge commit.

The tier is recomputed from the files the proposal really changes (never from its labels), the
approval decision is `aiops.policy.evaluate` over the forge's reviews, the marker's
`requested_by` and `sizing`, and the local team membership of the policy in force on the base
branch (`.github/aiops.yaml` read at the base head, not from the proposal or the work tree, so a
proposal cannot approve itself by editing the policy). Not approved → `PolicyRefusal` (exit 4)
naming what is missing, nothing written; approved → the `aiops/approval-gate` status on the head
(what `aiops apply` checks) and `LocalForge.merge` makes the merge commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiops.errors import InputError, PolicyRefusal
from aiops.gitops.forge import CommitStatus, Forge, Proposal
from aiops.gitops.local import LocalForge
from aiops.model.changes import ChangeSet, FileChange
from aiops.policy import GateResult, RevertedChange
from aiops.settings import DEFAULT_PATH, Settings, load_settings_text

GATE_CONTEXT = "aiops/approval-gate"


def policy_of(forge: Forge) -> Settings:
    """The policy in force: `.github/aiops.yaml` on the forge's base branch (defaults when absent)."""
    text = forge.read_file(DEFAULT_PATH)
    if text is None:
        return Settings()
    return load_settings_text(text, source=f"{DEFAULT_PATH} (base branch)")


def change_set_of(forge: Forge, proposal: Proposal) -> ChangeSet:
    """What the proposal changes, file by file, as the forge reports it (renames keep old paths)."""
    files = tuple(
        FileChange(path=path, old_text=old, new_text=new, old_path=old_path)
        for path, old_path, old, new in forge.changed_files(proposal.number)
    )
    revert_of = proposal.meta.get("revert_of")
    return ChangeSet(
        files=files,
        author=proposal.author,
        revert_of=revert_of if isinstance(revert_of, int) and not isinstance(revert_of, bool) else None,
        message=proposal.title,
    )


def reverted_change(forge: Forge, change_set: ChangeSet) -> RevertedChange | None:
    """The merged proposal a revert names, with what it changed (for the rollback fast path)."""
    n = change_set.revert_of
    if n is None:
        return None
    try:
        original = forge.get_proposal(n)
    except InputError:
        return None
    return RevertedChange(n, original.state == "merged", change_set_of(forge, original))


def commit_authors(forge: LocalForge, proposal: Proposal) -> tuple[str, ...]:
    """Authors of the commits on the proposal branch (a person's push makes it a person's change)."""
    base = forge.git.merge_base(f"refs/heads/{forge.base}", proposal.head_sha)
    if base is None:
        return ()
    text = forge.git.run("log", "--format=%an", f"{base}..{proposal.head_sha}")
    return tuple(dict.fromkeys(a for a in text.splitlines() if a.strip()))


def gate(forge: LocalForge, number: int, settings: Settings | None = None) -> tuple[Proposal, GateResult]:
    """The approval decision of open proposal N, exactly as `aiops gate` computes it (one function:
    pushers' approvals and altered markers are refused here too)."""
    from aiops.pipeline.gate import LocalHost, evaluate_pr

    p = forge.get_proposal(number)
    if p.state != "open":
        raise InputError(f"--pr {number}: proposal is {p.state}, not open")
    settings = settings or policy_of(forge)
    evaluated = evaluate_pr(forge, LocalHost(forge, settings), number, settings, proposal=p)
    return p, evaluated.result


@dataclass(frozen=True)
class MergeOutcome:
    number: int
    merged_by: str
    merge_sha: str
    gate: GateResult

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "merged": True,
            "merged_by": self.merged_by,
            "merge_sha": self.merge_sha,
            **self.gate.to_dict(),
        }


def merge(forge: LocalForge, number: int, *, by: str) -> MergeOutcome:
    """Merge proposal N when the policy approves it; else PolicyRefusal (exit 4) with what is missing."""
    p, result = gate(forge, number)
    d = result.decision
    if not d.approved or d.state != "success":
        missing = [*d.blockers, *d.missing] or [d.description]
        why = f" ({'; '.join(d.reasons)})" if d.reasons else ""
        raise PolicyRefusal(
            f"#{number} is not approved ({d.tier} tier, {d.state}): " + "; ".join(missing) + why,
            hint="aiops review --pr N --approve --as LOGIN by the required team members",
        )
    # the local stand-in for the gate's status, so `aiops apply` sees the decision it was merged on
    forge.set_status(
        p.head_sha, CommitStatus(context=GATE_CONTEXT, state="success", description=d.description)
    )
    approvers = ", ".join(f"{a.login} ({a.team})" for a in d.approvers) or "none needed"
    extra = f"Tier: {d.tier}\nApproved-by: {approvers}"
    merged = forge.merge(number, by=by, message_extra=extra)
    assert merged.merge_sha is not None
    return MergeOutcome(number, by, merged.merge_sha, result)
