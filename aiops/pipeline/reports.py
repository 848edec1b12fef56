"""The report and runbook flows: read the cluster (and usage, forge, history), build, deliver.

`run_report(ReportRequest)` builds a health, utilization or security report from the bundled
sample, snapshot files or the live cluster; earlier reports (week-over-week, trends) are read
from `--repo` (a checkout) or, without one, through the forge (no checkout needed in-cluster).
Delivery: the text is returned (the CLI prints it); `write=True` writes
`history/reports/<kind>/<date>.md` under `--repo`/`--out` (append-only, see
`aiops.report.store`), or, with a forge and no directory, proposes it as a trivial-tier PR; with
a forge, the report's summary replaces its one section of the dashboard issue.
`run_runbooks` regenerates `history/runbooks/<code>.md` from `history/prompts/`.
The report date is the snapshot's judging day (`--date` overrides), never the wall clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiops.errors import InputError
from aiops.pipeline.diagnosis import ClusterOptions, read_snapshot, scope_namespaces
from aiops.report.document import KINDS, Report, check_date
from aiops.report.store import DirReader, Reader, Written, plan_report_write, report_path, write_report
from aiops.settings import Settings, load_settings


@dataclass(frozen=True)
class ReportRequest:
    kind: str
    cluster: ClusterOptions = field(default_factory=ClusterOptions)
    usage: tuple[str, ...] = ()
    usage_dir: str | None = None
    prometheus: str | None = None
    config_path: str | None = None
    repo: str | None = None
    out_dir: str | None = None
    date: str | None = None
    write: bool = False
    forge: str | None = None
    helm: str | None = None


@dataclass(frozen=True)
class ReportOutcome:
    report: Report
    written: Written | None = None
    dashboard_updated: bool | None = None
    proposal: int | None = None
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out = self.report.to_dict()
        out["delivery"] = {
            "written": self.written.to_dict() if self.written else None,
            "dashboard_updated": self.dashboard_updated,
            "proposal": self.proposal,
        }
        return out


def settings_for(config_path: str | None, repo: str | None) -> Settings:
    if config_path:
        return load_settings(config_path, required=True)
    if repo:
        return load_settings(Path(repo) / ".github" / "aiops.yaml")
    return load_settings()


def _source_label(opts: ClusterOptions, snapshot: Any) -> str:
    return ", ".join(snapshot.sources) or ("live cluster" if opts.is_live else "snapshot")


def _usage(req: ReportRequest, settings: Settings, snapshot: Any) -> tuple[Any, str]:
    from aiops.pipeline.recommendation import RecommendRequest, load_usage
    from aiops.report.utilization import podmetrics_usage

    if req.usage_dir and not Path(req.usage_dir).is_dir():
        raise InputError(f"--usage-dir: {req.usage_dir}: no such directory")
    rreq = RecommendRequest(usage=req.usage, usage_dir=req.usage_dir, prometheus=req.prometheus)
    namespaces = scope_namespaces(req.cluster, settings) or sorted(
        {str((o.get("metadata") or {}).get("namespace") or "") for o in snapshot.items} - {""}
    )
    usage = load_usage(rreq, settings, snapshot, namespaces)
    if usage.series:
        return usage, "usage history: " + (", ".join(usage.sources) or "given files")
    pm = podmetrics_usage(snapshot)
    if pm.series:
        return pm, "PodMetrics point sample in the snapshot (no usage history given)"
    return usage, "no usage data (give --usage, --usage-dir or --prometheus)"


def _proposal_rows(forge: Any, settings: Settings, at: datetime) -> tuple[list[Any], dict[str, Any]]:
    from aiops.model.k8s import parse_time
    from aiops.policy.approval import fold_reviews
    from aiops.report.health import ProposalRow

    rows: list[ProposalRow] = []
    links: dict[str, ProposalRow] = {}
    for p in forge.find_proposals(state="open"):
        tier = str(p.meta.get("tier") or "unclassified")
        rule = settings.approvals.tiers.get(tier)
        created = parse_time(p.created_at)
        age = max(0.0, (at - created).total_seconds() / 60.0) if created else 0.0
        sla = rule.sla_minutes if rule else None
        if "emergency" in p.labels and rule is not None:
            sla = min(
                sla or settings.approvals.emergency_sla_minutes, settings.approvals.emergency_sla_minutes
            )
        folded = fold_reviews(forge.reviews(p.number))
        approvals = sum(
            1
            for r in folded.values()
            if r.state == "APPROVED"
            and (not r.commit_sha or r.commit_sha == p.head_sha)
            and r.login != p.author
        )
        required = 0 if rule is None or tier == "trivial" else max(len(rule.require), rule.distinct_people)
        row = ProposalRow(p.number, p.title, p.url, p.key or "", tier, age, sla, approvals, required)
        rows.append(row)
        if p.key:
            links[p.key] = row
    rows.sort(key=lambda r: r.number)
    return rows, links


def _render_releases(req: ReportRequest, settings: Settings, forge: Any = None) -> dict[str, Any]:
    """Each release of `apply.releases` rendered by `helm template` and checked: from the checkout
    (`--repo`), or, without one, from the chart and values files read through the forge."""
    import tempfile

    from aiops.gitops import helm

    if req.repo:
        root = Path(req.repo)
        return _render_from(root, helm.find_helm(req.helm, repo_dir=root), settings)
    if forge is None:
        return dict.fromkeys(settings.apply.releases, "no checkout (--repo) and no forge: not rendered")
    with tempfile.TemporaryDirectory(prefix="aiops-charts-") as tmp:
        root = Path(tmp)
        for rel in settings.apply.releases.values():
            for path in [*forge.list_files(rel.chart.rstrip("/")), *rel.values]:
                text = forge.read_file(path)
                target = root / path
                if text is None or ".." in Path(path).parts or Path(path).is_absolute():
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
        return _render_from(root, helm.find_helm(req.helm), settings)


def _render_from(root: Path, binary: str | None, settings: Settings) -> dict[str, Any]:
    import dataclasses

    import yaml

    from aiops.gitops import helm
    from aiops.model.snapshot import Snapshot
    from aiops.security import run_checks

    out: dict[str, Any] = {}
    for name, rel in sorted(settings.apply.releases.items()):
        if binary is None:
            out[name] = helm.NOT_AVAILABLE
            continue
        try:
            text = helm.template(
                binary, name, root / rel.chart, namespace=rel.namespace, values=[root / v for v in rel.values]
            )
        except InputError as exc:
            out[name] = str(exc)
            continue
        items = []
        for doc in yaml.safe_load_all(text):
            if isinstance(doc, dict) and doc.get("kind"):
                md = doc.setdefault("metadata", {})
                if isinstance(md, dict) and not md.get("namespace") and doc["kind"] != "Namespace":
                    md["namespace"] = rel.namespace  # what `helm install -n` does
                items.append(doc)
        posture = run_checks(
            Snapshot(items=tuple(items), at=datetime(1970, 1, 1, tzinfo=UTC)), settings.security.exemptions
        )
        out[name] = dataclasses.replace(posture, notes=())
    return out


def _reader(req: ReportRequest, forge: Any) -> Reader | None:
    if req.repo:
        return DirReader(Path(req.repo))
    if req.out_dir:
        return DirReader(Path(req.out_dir))
    return forge if forge is not None else None


def run_report(req: ReportRequest) -> ReportOutcome:
    if req.kind not in KINDS:
        raise InputError(f"report kind {req.kind!r}: use one of {', '.join(KINDS)}")
    if req.date:
        check_date(req.date)
    if req.repo and not Path(req.repo).is_dir():
        raise InputError(f"--repo {req.repo}: no such directory")
    settings = settings_for(req.config_path, req.repo)
    forge = None
    if req.forge:
        from aiops.pipeline.forges import open_forge

        forge = open_forge(req.forge, repo=req.repo or ".")
    snapshot = read_snapshot(req.cluster, settings)
    cluster = snapshot.cluster or settings.cluster
    date = req.date or snapshot.at.astimezone(UTC).date().isoformat()
    source = _source_label(req.cluster, snapshot)
    reader = _reader(req, forge)
    from aiops.report.store import previous_reports, week_before

    history = previous_reports(reader, req.kind, date)
    notes: list[str] = list(snapshot.notes)
    section: str | None = None
    if req.kind == "security":
        from aiops.report import security as sec
        from aiops.security import run_checks

        live = run_checks(snapshot, settings.security.exemptions)
        rendered = _render_releases(req, settings, forge)
        report = sec.build(
            date=date,
            cluster=cluster,
            live=live,
            rendered=rendered,
            previous=week_before(history, date),
            source=source,
        )
        section = sec.dashboard_section(report, report_path("security", date), live)
    elif req.kind == "health":
        from aiops.pipeline.diagnosis import diagnose
        from aiops.recommend import run_all
        from aiops.report import health

        diagnosis = diagnose(req.cluster, settings, snapshot=snapshot)
        usage, _ = _usage(req, settings, snapshot)
        result = run_all(snapshot, usage, diagnosis.findings, settings, snapshot.at)
        rows: list[Any] = []
        links: Mapping[str, Any] = {}
        proposal_source = forge
        if proposal_source is None and req.repo:
            try:
                from aiops.gitops.local import LocalForge

                proposal_source = LocalForge(req.repo)
            except InputError as exc:
                notes.append(f"open PRs not listed: {exc}")
        if proposal_source is not None:
            rows, links = _proposal_rows(proposal_source, settings, snapshot.at)
        else:
            notes.append("open PRs not listed: no --forge and no --repo")
        report = health.build(
            date=date,
            cluster=cluster,
            source=source,
            snapshot=snapshot,
            diagnosis=diagnosis,
            recommendations=result.recommendations,
            proposals=rows,
            links=links,
            previous=week_before(history, date),
            notes=notes,
        )
        section = health.dashboard_section(report, report_path("health", date))
    else:
        from aiops.report import utilization

        usage, basis = _usage(req, settings, snapshot)
        report = utilization.build(
            date=date,
            cluster=cluster,
            source=source,
            snapshot=snapshot,
            usage=usage,
            usage_basis=basis,
            settings=settings,
            history=history,
            notes=notes,
        )
    return _deliver(req, report, forge, section)


def _deliver(req: ReportRequest, report: Report, forge: Any, section: str | None) -> ReportOutcome:
    text = report.markdown()
    written: Written | None = None
    proposal: int | None = None
    if req.write:
        root = req.out_dir or req.repo
        if root:
            written = write_report(Path(root), report.kind, report.date, text)
        elif forge is not None:
            written = plan_report_write(forge, report.kind, report.date, text)
            if written.status != "unchanged":
                stem = written.path.rsplit("/", 1)[-1].removesuffix(".md")
                p = forge.propose(
                    branch=f"aiops/report-{report.kind}-{stem}",
                    title=f"aiops: {report.kind} report {report.date}",
                    body=f"Scheduled {report.kind} report: a new record under history/reports/.",
                    files={written.path: text},
                    message=f"aiops: {report.kind} report {report.date}",
                    labels=["risk:trivial"],
                )
                proposal = p.number
        else:
            raise InputError("--write needs --repo DIR, --out DIR or --forge")
    updated: bool | None = None
    if forge is not None and section is not None:
        updated = forge.upsert_dashboard(report.kind, section)
    return ReportOutcome(report, written, updated, proposal)


# ---- runbooks ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunbooksOutcome:
    written: tuple[Written, ...]
    records: int
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "runbooks": [w.to_dict() for w in self.written],
            "notes": list(self.notes),
        }


def render_runbooks(reader: Reader | None) -> tuple[dict[str, str], int, list[str]]:
    """code → runbook text, from the records the reader holds; plus record count and notes."""
    from aiops.phr.render import parse_record
    from aiops.report.runbooks import all_codes, decisions_by_code, render_runbook
    from aiops.report.store import read_records

    parsed: list[tuple[str, Mapping[str, Any]]] = []
    notes: list[str] = []
    for path, text in read_records(reader):
        try:
            rec = parse_record(text, where=path)
        except InputError as exc:
            notes.append(f"skipped: {exc}")
            continue
        parsed.append((path, {"id": rec.id, "stage": rec.stage, **dict(rec.front)}))
    past = decisions_by_code(parsed)
    return (
        {code: render_runbook(code, past.get(code, [])) for code in all_codes(list(past))},
        len(parsed),
        notes,
    )


def run_runbooks(repo: str, *, check: bool = False) -> RunbooksOutcome:
    """Regenerate every runbook under `repo` (only changed files are rewritten); `check` writes
    nothing and reports which would change."""
    from aiops.report.store import runbook_path, write_runbook

    root = Path(repo)
    if not root.is_dir():
        raise InputError(f"--repo {repo}: no such directory")
    texts, count, notes = render_runbooks(DirReader(root))
    out: list[Written] = []
    for code, text in texts.items():
        if check:
            f = root / runbook_path(code)
            same = f.is_file() and f.read_bytes() == text.encode("utf-8")
            out.append(Written(runbook_path(code), "unchanged" if same else "stale"))
        else:
            out.append(write_runbook(root, code, text))
    return RunbooksOutcome(tuple(out), count, tuple(notes))
