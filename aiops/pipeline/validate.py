"""`aiops validate`: post-deployment monitoring of applied changes (DESIGN §1.5, §4.5; seed: one hour).

Every `execution` record with outcome `success` and no `validation` record yet is re-measured
(the releases it names, the same measurement as `aiops apply`) and judged against its
`pre_metrics`:
- **regressed** → the failure path of `aiops apply` at once: the release is rolled back, held, the
  revert PR opened, and the `validation` record says `regressed` / `rolled-back`;
- otherwise, once `apply.validation_minutes` have passed since `applied_at`, the `validation`
  record is written with the verdict and `recovered_at` (the change is confirmed healthy; MTTR =
  `recovered_at − approved_at`); before that the change is reported as still monitored.
The PR's metrics comment gets a Validation section. Records are pushed as `aiops apply` pushes
them (`apply.records`). Run on a schedule (`validate.yml`), or in-cluster in observe mode.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiops.errors import InputError
from aiops.gitops.forge import Forge
from aiops.gitops.git import Git
from aiops.model import format_time, parse_time
from aiops.model.phr import PhrRecord
from aiops.pipeline.apply import (
    METRICS_COMMENT,
    ApplyOptions,
    ApplyRuntime,
    ReleaseResult,
    _Cluster,
    _open_revert,
    _record_texts,
    check_context,
    hold_file,
    holds,
    holds_dashboard,
    push_records,
)
from aiops.settings import Settings

CARRY = (
    "title",
    "kind",
    "tier",
    "target",
    "codes",
    "failure_started_at",
    "detected_at",
    "recommended_at",
    "confidence",
    "cost",
    "pr",
    "approvals",
    "approved_at",
    "merged_at",
    "applied_at",
    "applied_commit",
    "releases",
    "mode",
    "pre_metrics",
)


@dataclass
class Validation:
    id: str
    pr: int | None
    state: str  # validated | regressed | monitoring | skipped
    verdict: str | None = None
    reasons: list[str] = field(default_factory=list)
    record: str | None = None
    minutes_left: float | None = None
    releases: list[ReleaseResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "pr": self.pr,
            "state": self.state,
            "verdict": self.verdict,
            "reasons": self.reasons,
            "record": self.record,
            "minutes_left": self.minutes_left,
            "releases": [r.to_dict() for r in self.releases],
        }


@dataclass
class ValidateReport:
    validations: list[Validation] = field(default_factory=list)
    records_pushed: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def regressed(self) -> bool:
        return any(v.state == "regressed" for v in self.validations)

    def to_dict(self) -> dict[str, Any]:
        return {
            "validations": [v.to_dict() for v in self.validations],
            "records_pushed": self.records_pushed,
            "notes": self.notes,
        }

    def lines(self) -> list[str]:
        if not self.validations:
            return ["nothing to validate: every applied change has its validation record"]
        out = []
        for v in self.validations:
            head = f"{v.id} (#{v.pr}): {v.state}"
            if v.verdict:
                head += f", verdict {v.verdict}"
            if v.minutes_left is not None:
                head += f", {v.minutes_left:.0f} min of monitoring left"
            out.append(head)
            out.extend(f"  {r}" for r in v.reasons)
            if v.record:
                out.append(f"  record: {v.record}")
        if self.records_pushed:
            out.append(f"records pushed: {self.records_pushed}")
        out.extend(f"note: {n}" for n in self.notes)
        return out


def pending_executions(forge: Forge) -> list[PhrRecord]:
    """Execution records with outcome success whose decision has no validation record yet."""
    from aiops.phr import parse_record

    texts = _record_texts(forge, "history/prompts")
    validated = {
        p.rsplit("/", 1)[-1].removesuffix("--validation.md") for p in texts if p.endswith("--validation.md")
    }
    out: list[PhrRecord] = []
    for path, text in sorted(texts.items()):
        if not path.endswith("--execution.md"):
            continue
        try:
            rec = parse_record(text, where=path)
        except InputError:
            continue
        if rec.id in validated or rec.front.get("outcome") != "success":
            continue
        out.append(rec)
    return out


def _validation_comment(
    old: str | None, record_id: str, verdict: str, reasons: list[str], at: datetime
) -> str:
    from aiops.phr.render import escape_text

    base = (old or "").split("\n#### Validation", 1)[0].rstrip("\n")
    lines = [
        "",
        "#### Validation",
        "",
        f"`{record_id}` re-measured at {format_time(at)}: **{verdict}**.",
        "",
    ]
    lines.extend(f"- {escape_text(r)}" for r in reasons)
    return base + "\n" + "\n".join(lines) + "\n"


def run_validate(
    forge: Forge,
    git: Git,
    opts: ApplyOptions,
    rt: ApplyRuntime | None = None,
    settings: Settings | None = None,
) -> ValidateReport:
    from aiops.phr import render_record
    from aiops.phr.render import comment_marker
    from aiops.pipeline.merge import policy_of
    from aiops.recommend.verdict import judge

    rt = rt or ApplyRuntime()
    settings = settings or policy_of(forge)
    report = ValidateReport()
    todo = pending_executions(forge)
    if not todo:
        return report
    check_context(opts, settings)
    now = rt.now()
    cluster = _Cluster(opts, settings, rt, git)
    current_holds = holds(forge)
    files: dict[str, str] = {}
    window = timedelta(minutes=settings.apply.validation_minutes)
    for rec in todo:
        pr = rec.front.get("pr")
        number = int(pr["number"]) if isinstance(pr, Mapping) and isinstance(pr.get("number"), int) else None
        applied = parse_time(rec.front.get("applied_at"))
        releases = [str(r) for r in rec.front.get("releases") or [] if str(r) in settings.apply.releases]
        v = Validation(rec.id, number, "monitoring")
        report.validations.append(v)
        if opts.releases and not set(releases) & set(opts.releases):
            v.state = "skipped"
            continue
        pre_all = rec.front.get("pre_metrics") if isinstance(rec.front.get("pre_metrics"), Mapping) else {}
        assert isinstance(pre_all, Mapping)
        verdicts: list[str] = []
        post_all: dict[str, Any] = {}
        for name in releases:
            if name in current_holds:
                v.reasons.append(f"{name}: on hold; not validated")
                continue
            rel = settings.apply.releases[name]
            mode = "observe" if opts.observe else str(rec.front.get("mode") or settings.apply.mode)
            res = ReleaseResult(name, rel.namespace, mode)
            v.releases.append(res)
            res.pre = pre_all.get(name) if isinstance(pre_all.get(name), dict) else None
            res.post = cluster.measure(name, rel.namespace)
            post_all[name] = res.post
            verdict = judge(
                res.pre,
                res.post,
                error_rate_threshold=settings.prometheus.error_rate_threshold,
                latency_p95_ms_threshold=settings.prometheus.latency_p95_ms_threshold,
            )
            res.verdict, res.verdict_reasons = verdict.verdict, verdict.reasons
            verdicts.append(verdict.verdict)
            v.reasons.extend(f"{name}: {r}" for r in verdict.reasons)
            if verdict.verdict == "regressed" and not opts.dry_run:
                back = cluster.roll_back(name, None, res)
                res.outcome = "rolled-back" if back else "failed"
                why = f"validation: verdict regressed: {verdict.reason}"
                path, text = hold_file(
                    name, "held", now, why, prs=[number] if number else [], by=opts.actor or "aiops"
                )
                files[path] = text
                from aiops.pipeline.apply import Hold

                current_holds[name] = Hold(
                    name, "held", format_time(now) or "", why, (number,) if number else (), "aiops", path
                )
                if number is not None:
                    p = forge.get_proposal(number)
                    res.reverts.append(_open_revert(forge, p, settings, now, opts.actor or "aiops"))
        verdict_all = (
            "regressed"
            if "regressed" in verdicts
            else ("improved" if "improved" in verdicts else ("unchanged" if verdicts else None))
        )
        v.verdict = verdict_all
        due = applied is None or now - applied >= window
        if verdict_all != "regressed" and not due:
            assert applied is not None
            v.minutes_left = (applied + window - now).total_seconds() / 60
            continue
        if verdict_all is None:
            v.state = "skipped"
            continue
        v.state = "regressed" if verdict_all == "regressed" else "validated"
        if opts.dry_run:
            continue
        outcome = "success"
        if verdict_all == "regressed":
            outs = [r.outcome for r in v.releases]
            outcome = "failed" if "failed" in outs else "rolled-back"
        front: dict[str, Any] = {k: rec.front.get(k) for k in CARRY if k in rec.front}
        front.update(
            post_metrics=post_all,
            verdict=verdict_all,
            outcome=outcome,
            validated_at=format_time(now),
            recovered_at=format_time(now) if verdict_all != "regressed" else None,
        )
        sections = {
            "Validation": "\n".join(f"- {r}" for r in v.reasons) or "- nothing to compare",
            "Execution": f"Applied at {rec.front.get('applied_at')} ({rec.front.get('applied_commit')}).",
            "Rollback procedure": f"`aiops rollback --pr {number}`"
            if number
            else "revert the change by a PR",
        }
        vrec = PhrRecord(id=rec.id, stage="validation", created=now, front=front, sections=sections)
        if forge.read_file(vrec.path) is None:
            files[vrec.path] = render_record(vrec)
            v.record = vrec.path
        if number is not None:
            marker = comment_marker(METRICS_COMMENT)
            old = next((c.body for c in forge.comments(number) if marker in c.body), None)
            forge.upsert_comment(
                number, METRICS_COMMENT, _validation_comment(old, rec.id, verdict_all, v.reasons, now)
            )
    if any(p.startswith("history/holds/") for p in files):
        forge.upsert_dashboard("holds", holds_dashboard(current_holds))
    if files:
        ids = ", ".join(v.id for v in report.validations if v.record)
        message = f"aiops validate: records of {ids or 'holds'}\n\n" + "".join(
            f"Aiops-Id: {v.id}\n" for v in report.validations if v.record
        )
        report.records_pushed = push_records(
            forge, git, files, message, settings=settings, stamp=now.strftime("%Y%m%dT%H%M%SZ") + "v"
        )
    return report
