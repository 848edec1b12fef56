"""`aiops sla`: open PRs past their tier's approval window, and the approval latency of each (DESIGN §4.11).

For every open aiops PR the gate's own reading is reused (`gate.evaluate_pr`: tier from the diff,
reviews, membership, the emergency label's actor), so the SLA is the one the gate states. The
clock starts at the recommendation record's `recommended_at` (the PR's `history/prompts/...
--recommendation.md`), else the marker's, else the PR's creation. An unapproved PR past its window
is labelled `overdue` and gets ONE comment (`<!-- aiops:comment:sla -->`, written once, never
re-edited); approval latency (`approved_at − recommended_at`) is reported for the audit.
Must not: change a decision, post statuses, or comment twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiops.gitops.forge import Forge
from aiops.model.changes import ChangeSet
from aiops.model.k8s import format_time, parse_time
from aiops.pipeline.gate import GateHost, evaluate_pr, own_logins
from aiops.pipeline.merge import policy_of
from aiops.settings import Settings

OVERDUE_LABEL = "overdue"
COMMENT_NAME = "sla"
_RECOMMENDED = re.compile(r"^recommended_at:\s*['\"]?(?P<at>[^'\"\s#]+)", re.M)


@dataclass(frozen=True)
class SlaEntry:
    """One open PR against its tier's window."""

    number: int
    url: str
    tier: str
    state: str
    started_at: str | None
    started_from: str
    sla_minutes: int | None
    emergency: bool
    elapsed_minutes: float | None
    approved_at: str | None
    latency_minutes: float | None
    overdue: bool
    labelled: bool = False
    commented: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "pr": self.number,
            "url": self.url,
            "tier": self.tier,
            "state": self.state,
            "started_at": self.started_at,
            "started_from": self.started_from,
            "sla_minutes": self.sla_minutes,
            "emergency": self.emergency,
            "elapsed_minutes": self.elapsed_minutes,
            "approved_at": self.approved_at,
            "approval_latency_minutes": self.latency_minutes,
            "within_sla": (
                None
                if self.sla_minutes is None or self.latency_minutes is None
                else self.latency_minutes <= self.sla_minutes
            ),
            "overdue": self.overdue,
            "labelled_overdue": self.labelled,
            "commented": self.commented,
        }


def recommended_at(change_set: ChangeSet, meta: Any) -> datetime | None:
    """`recommended_at` of the PR's recommendation record, else of the marker."""
    for fc in change_set.files:
        if fc.path.startswith("history/prompts/") and fc.path.endswith("--recommendation.md") and fc.new_text:
            head = fc.new_text.split("\n---", 2)[0] if fc.new_text.startswith("---") else ""
            m = _RECOMMENDED.search(head)
            if m and (t := parse_time(m.group("at"))) is not None:
                return t
    if isinstance(meta, dict) and meta.get("recommended_at"):
        return parse_time(meta["recommended_at"])
    return None


def _minutes(a: datetime | None, b: datetime | None) -> float | None:
    if a is None or b is None:
        return None
    return round((b - a).total_seconds() / 60.0, 1)


def _comment(entry: SlaEntry, missing: tuple[str, ...], teams: dict[str, str]) -> str:
    from aiops.phr.render import escape_text

    lines = [
        f"### aiops: #{entry.number} is past its approval SLA",
        "",
        f"{entry.tier} tier: {entry.sla_minutes} min"
        + (" (emergency)" if entry.emergency else "")
        + f" from {entry.started_from} {entry.started_at}.",
    ]
    if missing:
        lines.append("")
        lines.append("Still needed:")
        lines.extend(f"- {escape_text(m)}" for m in missing)
        wanted = [slug for team, slug in teams.items() if any(f" {team} " in f" {m} " for m in missing)]
        if wanted:
            lines.append("")
            lines.append("Review requested from " + ", ".join(f"@{slug}" for slug in wanted) + ".")
    lines.append("")
    lines.append(f"Labelled `{OVERDUE_LABEL}`; this comment is written once.")
    return "\n".join(lines) + "\n"


def run_sla(
    forge: Forge,
    host: GateHost,
    *,
    now: datetime,
    settings: Settings | None = None,
    dry_run: bool = False,
) -> list[SlaEntry]:
    """Check every open aiops PR against its window; label and comment the overdue ones once."""
    from aiops.phr.render import comment_marker

    settings = settings or policy_of(forge)
    marker = comment_marker(COMMENT_NAME)
    out: list[SlaEntry] = []
    for p in forge.find_proposals(state="open"):
        ev = evaluate_pr(forge, host, p.number, settings, proposal=p)
        d = ev.result.decision
        start = recommended_at(ev.change_set, ev.proposal.meta)
        source = "recommended_at"
        if start is None:
            start, source = parse_time(ev.proposal.created_at), "PR creation"
        approved_at: datetime | None = None
        if d.approved and d.approvers:
            times = [parse_time(a.at) for a in d.approvers]
            if all(t is not None for t in times):
                approved_at = max(t for t in times if t is not None)
        elapsed = _minutes(start, now)
        overdue = (
            d.sla_minutes is not None and not d.approved and elapsed is not None and elapsed > d.sla_minutes
        )
        entry = SlaEntry(
            number=p.number,
            url=ev.proposal.url,
            tier=d.tier,
            state=d.state,
            started_at=format_time(start),
            started_from=source,
            sla_minutes=d.sla_minutes,
            emergency=d.emergency,
            elapsed_minutes=elapsed,
            approved_at=format_time(approved_at),
            latency_minutes=_minutes(start, approved_at),
            overdue=overdue,
        )
        if overdue and not dry_run:
            labelled = commented = False
            if OVERDUE_LABEL not in ev.proposal.labels:
                forge.set_labels(p.number, [*ev.proposal.labels, OVERDUE_LABEL])
                labelled = True
            own = own_logins(forge)
            ours = [c for c in forge.comments(p.number) if not own or c.author.strip().lower() in own]
            if not any(marker in c.body for c in ours):
                forge.upsert_comment(
                    p.number, COMMENT_NAME, _comment(entry, d.missing, settings.approvals.teams)
                )
                commented = True
            entry = SlaEntry(**{**entry.__dict__, "labelled": labelled, "commented": commented})
        out.append(entry)
    return out
