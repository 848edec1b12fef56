"""`aiops demo`: the whole loop on a SIMULATED cluster and a local git repository, offline.

Four scenarios of the seed, each through the real pipeline functions (diagnosis over the live
reader, `recommend`, `run_propose`, the local forge's reviews and `merge`, `run_apply` and
`run_validate` in observe mode, `rollback`, `audit`):
- a: pod failures → diagnosis → approval → remediation → validation (todo-backend OOMKilled;
  todo-frontend missing the config key REDIS_URL, whose value a developer supplies on the PR);
- b: scaling trigger (traffic growth in the load model) → HPA recommendation → approval → execution;
- c: resource optimisation of the over-provisioned todo-frontend, with the savings in $;
- d: a release a developer asks for (todo-backend 0.4.0, proposed through aiops as an `image`
  change so it carries its record) → rolling update → health monitoring → halt → hold and revert
  PR → approval → merge → recovered.

The cluster is `aiops.demo.simcluster.SimCluster` (an in-process API server with a minimal
controller, seeded from the bundled sample snapshot, on a simulated clock); the demo plays the
GitOps engine: after each merge the simulator syncs the values files of `main` (as Argo CD would),
and `aiops apply` runs in observe mode (watch, measure, records). The repository is a fresh git
repository made from the package's copy of `manifests/` and `.github/aiops.yaml`; every commit is
dated on the simulated clock, so two runs give the same history. Progress goes to `emit`; the
result is a `DemoReport`. No exit codes and no click here.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiops.errors import InputError
from aiops.model import Recommendation, format_time

SCENARIOS = ("a", "b", "c", "d")
SIM = "[simulated cluster]"
TITLES = {
    "a": "pod failure → diagnosis → approval → remediation → validation",
    "b": "scaling trigger → recommendation → approval → execution",
    "c": "resource optimization (savings in $)",
    "d": "rolling update → health monitoring → halt → revert",
}
ARCHITECT_FALLBACK = "alice"
DEVELOPER = ("carol", "carol@example.com")


@dataclass(frozen=True)
class DemoOptions:
    workdir: str | None = None
    scenarios: tuple[str, ...] = SCENARIOS


@dataclass
class ScenarioResult:
    name: str
    title: str
    outcome: str = "pending"
    proposals: list[int] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.name,
            "title": self.title,
            "outcome": self.outcome,
            "proposals": self.proposals,
            **self.details,
        }


@dataclass
class DemoReport:
    workdir: str
    repo: str
    kubeconfig: str
    helm: str
    scenarios: list[ScenarioResult] = field(default_factory=list)
    audit: dict[str, Any] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "workdir": self.workdir,
            "repo": self.repo,
            "kubeconfig": self.kubeconfig,
            "cluster": "simulated (in-process API server)",
            "helm": self.helm,
            "scenarios": [s.to_dict() for s in self.scenarios],
            "audit": self.audit,
            "log": self.log,
            "next": next_steps(self.repo),
        }


def next_steps(repo: str) -> list[str]:
    return [
        f"git -C {repo} log --graph --format='%h %ad %an: %s' --date=iso main",
        f"git -C {repo} log --format='%h %s%n%(trailers:key=Aiops-Id,valueonly)' main",
        f"ls {repo}/history/prompts/*/*/",
        f"aiops proposals --repo {repo}",
        f"aiops audit --repo {repo}",
    ]


class _Demo:
    def __init__(self, opts: DemoOptions, emit: Callable[[str], None]) -> None:
        self.opts = opts
        self._emit = emit
        self.lines: list[str] = []
        self.workdir = Path(opts.workdir) if opts.workdir else Path(tempfile.mkdtemp(prefix="aiops-demo-"))
        self.repo = self.workdir / "repo"
        self.usage_dir = self.workdir / "usage"
        self.kubeconfig = self.workdir / "kubeconfig-simulated.yaml"

    # ---- printing ---------------------------------------------------------------------------
    def say(self, text: str = "") -> None:
        for line in text.splitlines() or [""]:
            self.lines.append(line)
            self._emit(line)

    def cluster(self, text: str) -> None:
        for line in text.splitlines():
            self.say(f"  {SIM} {line}")

    def step(self, text: str) -> None:
        self.say(f"  → {text}")

    # ---- the clock ---------------------------------------------------------------------------
    @property
    def now(self) -> datetime:
        return self.sim.now

    def stamp(self) -> None:
        """Date the next git commits on the simulated clock (deterministic history)."""
        os.environ.update(_dates(self.now))

    def clock_text(self) -> str:
        return format_time(self.now) or ""

    # ---- set-up ---------------------------------------------------------------------------------
    def setup(self) -> None:
        import yaml

        from aiops.demo.load import MODEL_TEXT, LoadModel
        from aiops.demo.repo import demo_files
        from aiops.demo.simcluster import SimCluster
        from aiops.gitops.git import Git, init_repository
        from aiops.gitops.local import LocalForge
        from aiops.pipeline.diagnosis import sample_paths
        from aiops.settings import load_settings

        if self.repo.exists() and any(self.repo.iterdir()):
            raise InputError(
                f"--workdir {self.workdir}: {self.repo} exists and is not empty; pick a new directory"
            )
        self.workdir.mkdir(parents=True, exist_ok=True)
        cluster_file, logs_file = sample_paths()
        with open(cluster_file, encoding="utf-8") as fh:
            items = yaml.safe_load(fh)["items"]
        with open(logs_file, encoding="utf-8") as fh:
            logs = yaml.safe_load(fh) or {}
        times = sorted(
            str(o.get("lastTimestamp") or "")
            for o in items
            if o.get("kind") == "Event" and o.get("lastTimestamp")
        )
        start = datetime.strptime(times[-1], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        self.t0 = start
        self.load = LoadModel(surge_at=start + timedelta(days=1))
        self.sim = SimCluster(items, logs, now=start, load=self.load)

        self.say(f"aiops demo — workdir {self.workdir}")
        self.say("")
        self.say("Set-up")
        files = demo_files()
        if not files:
            raise InputError("aiops demo: the package data aiops/data/gitops is missing (a broken install)")
        init_repository(self.repo)
        self.git = Git(self.repo)
        # the repository existed before the incident: its import is dated a day before the snapshot
        with _env(**_dates(start - timedelta(days=1))):
            sha = self._import(files)
        self.git.update_ref("refs/heads/main", sha)
        self.git.run("read-tree", "-u", "--reset", "HEAD")
        # the simulated cluster runs this commit (the seed below): it is the last applied one
        from aiops.pipeline.apply import APPLIED_REF

        self.git.update_ref(APPLIED_REF, sha)
        self.step(
            f"git repository {self.repo} (branch main, {len(files)} files: manifests/, .github/aiops.yaml)"
        )
        self.settings = load_settings(str(self.repo / ".github" / "aiops.yaml"), required=True)
        self.forge = LocalForge(self.repo, clock=self.clock_text)
        members = self.settings.approvals.members
        teams = self.settings.approvals.teams
        self.architect = (members.get(teams.get("architects", ""), []) or [ARCHITECT_FALLBACK])[0]
        self.step(
            "approvals from the policy's local members: "
            + ", ".join(f"{team} {', '.join(people)}" for team, people in sorted(members.items()))
        )
        self.bot = self.forge.actor

        # the simulated cluster: the sample snapshot, then main's values written into it in place
        self.sim.start()
        self.sim.write_kubeconfig(self.kubeconfig, context=self.settings.cluster)
        self.cluster(
            f"in-process API server {self.sim.url}, seeded from the bundled snapshot "
            f"(aiops/data/sample/cluster.yaml, taken {format_time(start)}); clock starts there"
        )
        self.cluster(f"kubeconfig {self.kubeconfig} (context {self.settings.cluster!r}, simulated)")
        for name, rel in self.settings.apply.releases.items():
            changed = self.sim.sync(name, rel.namespace, self.values_of(name), in_place=True)
            if changed:
                self.cluster(f"seed: {name} takes main's values in place: " + "; ".join(changed))
        self.cluster(MODEL_TEXT)
        self.cluster(
            "controller rules (simulated): new template → new ReplicaSet; a missing ConfigMap key →"
            " CreateContainerConfigError; memory limit below the peak working set → OOMKilled;"
            " image todo-backend:0.4.0 → exits 1 (CrashLoopBackOff)"
        )
        from aiops.gitops.helm import find_helm

        helm = find_helm(None, repo_dir=self.repo)
        if helm is None:
            self.helm = "absent"
            self.step(
                "helm: not found — rendering falls back to what the simulator needs: it reads the"
                " values files of main directly (replicaCount, resources, autoscaling, podAnnotations,"
                " image, config)"
            )
        else:
            self.helm = "present"
            self.step(
                f"helm: found ({helm}); not needed here — the simulator syncs the values files of main"
                " itself (an Argo CD-like engine), and `aiops apply` runs in observe mode"
            )

    def _import(self, files: Mapping[str, str]) -> str:
        return self.git.commit_files(
            None,
            files,
            "Import the Todo Chatbot's manifests and the aiops policy\n\n"
            "The starting point of `aiops demo`: the charts and values aiops manages, and\n"
            ".github/aiops.yaml (teams, tiers, SLAs, releases).\n",
            author=("platform-team", "platform@example.com"),
        )

    def values_of(self, release: str) -> Mapping[str, Any]:
        import yaml

        rel = self.settings.apply.releases[release]
        text = self.forge.read_file(rel.values[-1]) or "{}"
        data = yaml.safe_load(text) or {}
        return data if isinstance(data, Mapping) else {}

    # ---- the pipeline steps ------------------------------------------------------------------
    def diagnose(self) -> Any:
        from aiops.pipeline.diagnosis import ClusterOptions, diagnose

        d = diagnose(ClusterOptions(kubeconfig=str(self.kubeconfig)), self.settings)
        if not d.findings:
            self.cluster(f"aiops diagnose at {self.clock_text()}: no findings — every workload is healthy")
        else:
            self.cluster(f"aiops diagnose at {self.clock_text()}: {len(d.findings)} findings")
        for f in d.findings:
            self.cluster(f"  {f.severity:8} {f.code:27} {f.object.kind}/{f.object.name}: {f.summary}")
        return d

    def usage(self) -> None:
        from aiops.demo.load import HistoryPod, write_usage_dir

        pods: list[HistoryPod] = []
        for name, rel in self.settings.apply.releases.items():
            dep = self.sim.deployment_of(name, rel.namespace)
            if dep is None:
                continue
            base = self.sim.current_replicaset_name(name, rel.namespace) or f"{name}-5c7d9f8b6"
            container = dep["spec"]["template"]["spec"]["containers"][0]["name"]
            replicas = int(dep["spec"].get("replicas") or 1)
            pods.extend(HistoryPod(name, f"{base}-h{i}x7q", container) for i in range(max(replicas, 1)))
        write_usage_dir(self.usage_dir, self.load, pods, end=self.now)
        self.cluster(
            f"14 days of usage from the load model written to {self.usage_dir}/cpu.json, memory.json"
            " (Prometheus matrix, as `aiops collect` records it) — simulated"
        )

    def recommend(self, keep: Callable[[Recommendation], bool]) -> tuple[Any, list[Recommendation]]:
        from aiops.pipeline.recommendation import RecommendRequest, recommend

        out = recommend(
            RecommendRequest(
                kubeconfig=str(self.kubeconfig),
                usage_dir=str(self.usage_dir),
                config_path=str(self.repo / ".github" / "aiops.yaml"),
            )
        )
        recs = [r for r in out.result.recommendations if keep(r)]
        self.step(
            f"aiops recommend (simulated cluster, simulated usage): {len(out.result.recommendations)}"
            f" recommendations, {len(recs)} for this scenario"
        )
        for r in recs:
            cost = ""
            if r.cost is not None and r.kind == "rightsize":
                cost = f", ${r.cost.monthly_before:.2f} → ${r.cost.monthly_after:.2f}/month"
            self.say(f"      [simulated] {r.kind} {r.target.namespace}/{r.target.name}: {r.rationale}{cost}")
        return out, recs

    def propose(self, outcome: Any, recs: Sequence[Recommendation]) -> list[int]:
        from aiops.pipeline.proposal import ProposeOptions, run_propose

        self.stamp()
        result = run_propose(
            recs,
            (),
            forge=self.forge,
            settings=self.settings,
            snapshot=outcome.snapshot,
            findings=outcome.diagnosis.findings,
            options=ProposeOptions(now=self.now, render=False),
        )
        numbers = []
        for ln in result.lines:
            self.step(f"aiops propose: {ln.line()}")
            if ln.number is not None and ln.action in ("opened", "updated", "unchanged"):
                numbers.append(ln.number)
        return numbers

    def approve_and_merge(self, number: int, *, wait_minutes: float = 7.0) -> Any:
        from aiops.pipeline.merge import gate, merge

        self.sim.advance(wait_minutes * 60.0, step=60.0)
        self.stamp()
        p = self.forge.get_proposal(number)
        _p, before = gate(self.forge, number, self.settings)
        self.step(f"#{number} tier {before.decision.tier}: needs {before.decision.description}")
        self.forge.add_review(number, self.architect, "APPROVED", "Looks right; approved in the demo.")
        self.step(f"{self.architect} (architects) approves #{number} at {self.clock_text()}")
        self.sim.advance(60.0, step=60.0)
        self.stamp()
        out = merge(self.forge, number, by=self.architect)
        self.step(f"aiops merge #{number}: merge commit {out.merge_sha[:12]} on main ({p.title})")
        return out

    def sync(self, releases: Sequence[str]) -> None:
        for name in releases:
            rel = self.settings.apply.releases[name]
            changed = self.sim.sync(name, rel.namespace, self.values_of(name))
            self.cluster(
                f"GitOps sync of main → {name}: " + ("; ".join(changed) if changed else "nothing to change")
            )

    def apply(self) -> Any:
        from aiops.pipeline.apply import ApplyOptions, run_apply

        self.stamp()
        rt = self._runtime()
        report = run_apply(
            self.forge,
            self.git,
            ApplyOptions(repo=str(self.repo), kubeconfig=str(self.kubeconfig), observe=True, actor=self.bot),
            rt,
            self.settings,
        )
        for r in report.releases:
            for ro in r.rollout:
                self.cluster(f"rollout of {r.release}: {ro.get('decision')} — {ro.get('headline')}")
            self.cluster(f"{r.release} pods now: {self.sim.pods_line(r.namespace, r.release)}")
        for line in report.lines():
            self.step(f"aiops apply (observe mode, simulated cluster): {line}")
        return report

    def validate(self) -> Any:
        from aiops.pipeline.apply import ApplyOptions
        from aiops.pipeline.validate import run_validate

        minutes = self.settings.apply.validation_minutes + 1
        self.sim.advance(minutes * 60.0, step=60.0)
        self.cluster(f"{minutes} simulated minutes of post-deployment monitoring pass")
        self.stamp()
        report = run_validate(
            self.forge,
            self.git,
            ApplyOptions(repo=str(self.repo), kubeconfig=str(self.kubeconfig), observe=True, actor=self.bot),
            self._runtime(),
            self.settings,
        )
        for line in report.lines():
            self.step(f"aiops validate (simulated cluster): {line}")
        return report

    def _runtime(self) -> Any:
        from aiops.pipeline.apply import ApplyRuntime

        epoch = self.t0

        def sleep(seconds: float) -> None:
            self.sim.advance(seconds, step=min(10.0, max(seconds, 1.0)))

        return ApplyRuntime(
            now=lambda: self.sim.now,
            sleep=sleep,
            monotonic=lambda: float((self.sim.now - epoch).total_seconds()),
            poll_s=10.0,
            watch_timeout_s=900.0,
        )

    def next_day(self, hours: float = 24.0) -> None:
        self.sim.jump(self.t0 + timedelta(hours=hours))
        self.say("")

    # ---- scenarios ------------------------------------------------------------------------------
    def scenario_a(self) -> ScenarioResult:
        res = ScenarioResult("a", TITLES["a"])
        d = self.diagnose()
        codes = sorted({f.code for f in d.findings})
        res.details["findings_before"] = codes
        self.usage()
        outcome, recs = self.recommend(lambda r: bool(r.findings))
        numbers = self.propose(outcome, recs)
        res.proposals = numbers
        for n in numbers:
            p = self.forge.get_proposal(n)
            if p.meta.get("kind") == "config":
                self.supply_config_value(n)
        for n in numbers:
            self.approve_and_merge(n)
        self.sync(list(self.settings.apply.releases))
        self.apply()
        self.validate()
        after = self.diagnose()
        res.details["findings_after"] = sorted({f.code for f in after.findings})
        res.outcome = "recovered" if not after.findings and numbers else "not recovered"
        return res

    def supply_config_value(self, number: int) -> None:
        """The config proposal leaves the value to a person: a developer commits it on the PR branch."""
        p = self.forge.get_proposal(number)
        key = str((p.meta.get("proposed") or {}).get("key") or "REDIS_URL")
        path = next((f for f, *_ in self.forge.changed_files(number) if f.startswith("manifests/")), None)
        if path is None:
            return
        text = self.git.show(p.head_sha, path) or ""
        value = "redis://todo-redis.todo.svc.cluster.local:6379/0"
        lines = []
        for line in text.splitlines(keepends=True):
            if line.lstrip().startswith(f"{key}:"):
                indent = line[: len(line) - len(line.lstrip())]
                line = f"{indent}{key}: {value}   # the cache the chat history uses (set by {DEVELOPER[0]})\n"
            lines.append(line)
        self.sim.advance(180.0, step=60.0)
        self.stamp()
        sha = self.git.commit_files(
            p.head_sha,
            {path: "".join(lines)},
            f"Set {key} for todo-frontend\n\n"
            f"The value aiops left for a person to supply (proposal #{number}).\n",
            author=DEVELOPER,
        )
        self.git.update_ref(f"refs/heads/{p.branch}", sha, p.head_sha)
        self.step(f"{DEVELOPER[0]} (developer) supplies {key} on #{number}'s branch: commit {sha[:12]}")

    def scenario_b(self) -> ScenarioResult:
        res = ScenarioResult("b", TITLES["b"])
        self.cluster(
            f"{self.clock_text()}: traffic has grown ×{self.load.growth(self.now):.1f}"
            " over three days (a launch)"
        )
        self.usage()
        outcome, recs = self.recommend(lambda r: r.kind in ("scale", "hpa"))
        numbers = self.propose(outcome, recs)
        res.proposals = numbers
        for n in numbers:
            self.approve_and_merge(n)
        if numbers:
            self.sync(list(self.settings.apply.releases))
            self.apply()
            self.validate()
        hpa = self.sim.get("HorizontalPodAutoscaler", "todo", "todo-backend")
        dep = self.sim.deployment_of("todo-backend", "todo")
        if hpa is not None and dep is not None:
            self.cluster(
                f"HPA todo-backend {hpa['spec']['minReplicas']}–{hpa['spec']['maxReplicas']}: "
                f"{dep['spec'].get('replicas')} replicas now "
                f"({dep.get('status', {}).get('readyReplicas', 0)} ready)"
            )
            res.details["hpa"] = {
                "minReplicas": hpa["spec"]["minReplicas"],
                "maxReplicas": hpa["spec"]["maxReplicas"],
                "replicas": dep["spec"].get("replicas"),
            }
        res.outcome = "scaled" if numbers and hpa is not None else "no scaling change"
        return res

    def scenario_c(self) -> ScenarioResult:
        res = ScenarioResult("c", TITLES["c"])
        self.usage()
        outcome, recs = self.recommend(lambda r: r.kind == "rightsize" and r.target.name == "todo-frontend")
        numbers = self.propose(outcome, recs)
        res.proposals = numbers
        ok = False
        saved = 0.0
        for r in recs:
            if r.cost is not None:
                saved += r.cost.monthly_before - r.cost.monthly_after
                self.step(
                    f"savings: ${r.cost.monthly_before:.2f} → ${r.cost.monthly_after:.2f} per month "
                    f"(${r.cost.monthly_before - r.cost.monthly_after:.2f} saved,"
                    f" {r.cost.savings_percent:.0f} %)"
                )
        res.details["monthly_saved_usd"] = round(saved, 2)
        for n in numbers:
            self.approve_and_merge(n)
        if numbers:
            self.sync(list(self.settings.apply.releases))
            report = self.apply()
            ok = _succeeded(report, "todo-frontend")
            self.validate()
        after = self.diagnose()
        still = [f for f in after.findings if f.owner is not None and f.owner.name == "todo-frontend"]
        res.outcome = "optimized" if numbers and ok and not still else "not optimized"
        return res

    def scenario_d(self) -> ScenarioResult:
        res = ScenarioResult("d", TITLES["d"])
        from aiops.model import ObjectRef
        from aiops.pipeline.proposal import ProposeOptions, run_propose

        image = self.values_of("todo-backend").get("image") or {}
        repository, tag = str(image.get("repository") or "todo-backend"), str(image.get("tag") or "")
        release = Recommendation(
            kind="image",
            target=ObjectRef("Deployment", "todo", "todo-backend"),
            current={"repository": repository, "tag": tag, "container": "backend"},
            proposed={"repository": repository, "tag": "0.4.0"},
            rationale=f"Release todo-backend 0.4.0 (the new chat module), requested by {DEVELOPER[0]}.",
            evidence=("release notes: chat v4 — streaming answers, new context builder",),
            confidence="high",
        )
        self.step(
            f"{DEVELOPER[0]} (developer) asks aiops to roll out todo-backend 0.4.0 (image tag {tag} → 0.4.0)"
        )
        self.stamp()
        result = run_propose(
            [release],
            (),
            forge=self.forge,
            settings=self.settings,
            options=ProposeOptions(now=self.now, render=False, requested_by=DEVELOPER[0]),
        )
        for ln in result.lines:
            self.step(f"aiops propose: {ln.line()}")
        opened = [ln.number for ln in result.lines if ln.number is not None]
        if not opened:
            res.outcome = "release not proposed"
            return res
        p = self.forge.get_proposal(opened[0])
        res.proposals.append(p.number)
        self.approve_and_merge(p.number)
        self.sync(["todo-backend"])
        report = self.apply()
        halted = [ro for r in report.releases for ro in r.rollout if ro.get("decision") in ("halt", "undo")]
        reverts = [x for r in report.releases for x in r.reverts if x.get("number")]
        res.details["rollout"] = halted[0].get("decision") if halted else "not halted"
        revert_n = int(reverts[0]["number"]) if reverts else None
        if revert_n is None:
            from aiops.pipeline.rollback import rollback

            self.stamp()
            out = rollback(self.forge, p.number, settings=self.settings, requested_by=self.bot, now=self.now)
            revert_n = out.number
        if revert_n is None:
            res.outcome = "no revert opened"
            return res
        self.step(f"revert proposal #{revert_n} of #{p.number} is open")
        res.proposals.append(revert_n)
        self.approve_and_merge(revert_n, wait_minutes=2.0)
        self.sync(["todo-backend"])
        final = self.apply()
        self.diagnose()
        res.details["revert"] = revert_n
        res.outcome = "reverted" if halted and _succeeded(final, "todo-backend") else "not reverted"
        return res

    def run(self) -> DemoReport:
        started = time.perf_counter()
        runners = {"a": self.scenario_a, "b": self.scenario_b, "c": self.scenario_c, "d": self.scenario_d}
        try:
            self.setup()
            report = DemoReport(
                workdir=str(self.workdir),
                repo=str(self.repo),
                kubeconfig=str(self.kubeconfig),
                helm=self.helm,
            )
            wanted = set(self.opts.scenarios)
            if wanted and "a" not in wanted:
                # b, c and d start from a healthy app: the failures of the snapshot are fixed first
                wanted.add("a")
                self.say("")
                self.say("(scenario a runs first: the others start from the app it repairs)")
            for i, name in enumerate(SCENARIOS):
                if name not in wanted:
                    continue
                if i:
                    self.next_day(24.0 * i)
                self.say("")
                self.say(f"Scenario {name}: {TITLES[name]}   [simulated clock {self.clock_text()}]")
                res = runners[name]()
                report.scenarios.append(res)
                self.say(f"  = scenario {name}: {res.outcome}")
            from aiops.pipeline.audit import audit

            self.say("")
            self.say("Audit: aiops audit over what the demo did (git log + history/ records)")
            report.audit = audit(str(self.repo), self.settings, since=self.t0, forge=self.forge, now=self.now)
        finally:
            if hasattr(self, "sim"):
                self.sim.stop()
        report.elapsed_s = time.perf_counter() - started
        report.log = list(self.lines)
        return report


def _succeeded(report: Any, release: str) -> bool:
    mine = [r for r in report.releases if r.release == release]
    return bool(mine) and all(r.outcome == "success" for r in mine)


def _dates(when: datetime) -> dict[str, str]:
    text = when.strftime("%Y-%m-%dT%H:%M:%S+0000")
    return {"GIT_AUTHOR_DATE": text, "GIT_COMMITTER_DATE": text}


@contextlib.contextmanager
def _env(**values: str) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_demo(opts: DemoOptions, emit: Callable[[str], None] = lambda _line: None) -> DemoReport:
    """Run the demo's scenarios (see the module docstring); progress lines go to `emit`."""
    bad = [s for s in opts.scenarios if s not in SCENARIOS]
    if bad:
        raise InputError(f"--scenario {bad[0]}: not one of a, b, c, d, all")
    keep = ("GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE")
    saved = {k: os.environ.get(k) for k in keep}
    try:
        return _Demo(opts, emit).run()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


__all__ = ["SCENARIOS", "DemoOptions", "DemoReport", "ScenarioResult", "run_demo"]
