"""Runs the real `helm` binary: version detection, lint, and the rendered diff of a change.

Like Atlantis' plan, a proposal shows what its values change does to the objects Helm renders:
`helm template` of the affected release before and after the change (in a scratch directory, with
private HELM_*_HOME directories, offline), and a unified diff of only the objects that differ.
Helm 3 and 4 are both supported; `HelmVersion.rollback_flag` gives the flag that became
`--rollback-on-failure` in Helm 4 (`--atomic` in Helm 3). When no helm binary is available the
result says so (`available=False` with the reason): rendering is evidence, never a requirement.

Runs only `helm` (never kubectl, never against a cluster); reads the chart from a local checkout
and takes the values files' texts from the change set. No other adapter is imported.
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiops.errors import InputError
from aiops.model.changes import FileChange
from aiops.settings import Release, Settings

TIMEOUT_SECONDS = 60
_VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")
NOT_AVAILABLE = "helm not available (run scripts/install-tools, or put helm on PATH, or set AIOPS_HELM)"


class HelmError(InputError):
    """helm ran and failed (bad chart or values); the message holds helm's first error line."""


@dataclass(frozen=True)
class HelmVersion:
    major: int
    minor: int
    patch: int
    raw: str

    @property
    def rollback_flag(self) -> str:
        """`helm upgrade` flag that rolls back a failed upgrade: renamed in Helm 4."""
        return "--rollback-on-failure" if self.major >= 4 else "--atomic"

    def __str__(self) -> str:
        return f"v{self.major}.{self.minor}.{self.patch}"


def parse_version(text: str) -> HelmVersion:
    """`v4.1.4+g05fa379` (helm version --short) or a BuildInfo line → HelmVersion."""
    m = _VERSION.search(text)
    if not m:
        raise InputError(f"helm version: cannot read a version from {text.strip()[:80]!r}")
    return HelmVersion(int(m.group(1)), int(m.group(2)), int(m.group(3)), text.strip())


def find_helm(explicit: str | None = None, *, repo_dir: Path | None = None) -> str | None:
    """The helm binary to use: `explicit`, $AIOPS_HELM, `helm` on PATH, else `<repo>/tools/bin/helm`."""
    for cand in (explicit, os.environ.get("AIOPS_HELM")):
        if cand:
            return cand if Path(cand).is_file() and os.access(cand, os.X_OK) else None
    found = shutil.which("helm")
    if found:
        return found
    if repo_dir is not None:
        local = repo_dir / "tools" / "bin" / "helm"
        if local.is_file() and os.access(local, os.X_OK):
            return str(local)
    return None


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        env[name] = str(home / name.lower())
    return env


def _run(
    helm: str, args: Sequence[str], home: Path, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [helm, *args],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
            env=_env(home),
            cwd=cwd,
        )
    except subprocess.TimeoutExpired as exc:
        raise HelmError(f"helm {args[0]}: no answer within {TIMEOUT_SECONDS} s") from exc
    except OSError as exc:
        raise HelmError(f"helm: cannot run {helm}: {exc.strerror or exc}") from exc


def helm_version(helm: str) -> HelmVersion:
    with tempfile.TemporaryDirectory(prefix="aiops-helm-") as tmp:
        out = _run(helm, ["version", "--short"], Path(tmp))
    if out.returncode != 0:
        raise HelmError(f"helm version: {_first_error(out.stderr)}")
    return parse_version(out.stdout)


def _first_error(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.lower().startswith("error")]
    return (errors or lines or ["(no output)"])[0]


def template(
    helm: str, release: str, chart: Path, *, namespace: str, values: Sequence[Path], home: Path | None = None
) -> str:
    """`helm template RELEASE CHART -n NS -f V1 -f V2 ...` → the rendered manifests."""
    args = ["template", release, str(chart), "--namespace", namespace]
    for v in values:
        args += ["-f", str(v)]
    with tempfile.TemporaryDirectory(prefix="aiops-helm-") as tmp:
        out = _run(helm, args, home or Path(tmp))
    if out.returncode != 0:
        raise HelmError(f"helm template {release}: {_first_error(out.stderr)}")
    return out.stdout


def lint(helm: str, chart: Path, *, values: Sequence[Path], strict: bool = True) -> tuple[bool, str]:
    """`helm lint [--strict] CHART -f ...` → (passed, output)."""
    args = ["lint", str(chart)] + (["--strict"] if strict else [])
    for v in values:
        args += ["-f", str(v)]
    with tempfile.TemporaryDirectory(prefix="aiops-helm-") as tmp:
        out = _run(helm, args, Path(tmp))
    return out.returncode == 0, out.stdout + out.stderr


# ---- rendered diff ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderDiff:
    """The rendered effect of a change on one release."""

    release: str
    available: bool
    reason: str = ""  # why there is no diff (helm missing, helm failed)
    diff: str = ""  # unified diff of the changed rendered objects
    objects: tuple[str, ...] = ()  # "Deployment/todo-backend" of every changed object
    helm_version: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "release": self.release,
            "available": self.available,
            "reason": self.reason,
            "objects": list(self.objects),
            "diff": self.diff,
            "helm_version": self.helm_version,
        }

    def markdown(self) -> str:
        """The section for a PR body: the changed objects and the diff in a fenced block."""
        head = f"**helm template {self.release}**"
        if not self.available:
            return f"{head}: not rendered: {self.reason}\n"
        if not self.objects:
            return f"{head} ({self.helm_version}): no rendered object changes\n"
        fence = "````" if "```" in self.diff else "```"
        return f"{head} ({self.helm_version}): {', '.join(self.objects)}\n\n{fence}diff\n{self.diff}{fence}\n"


def split_objects(rendered: str) -> dict[str, str]:
    """`helm template` output → {"Kind/name": document text}, in output order."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    out: dict[str, str] = {}
    for chunk in re.split(r"(?m)^---[ \t]*$\n?", rendered):
        if not chunk.strip():
            continue
        data = yaml.load(chunk)
        if not isinstance(data, dict):
            continue
        meta = data.get("metadata")
        obj_name = meta.get("name", "?") if isinstance(meta, dict) else "?"
        name = f"{data.get('kind', '?')}/{obj_name}"
        body = "\n".join(ln for ln in chunk.splitlines() if not ln.startswith("# Source:")).strip("\n")
        out[name] = body + "\n"
    return out


def diff_rendered(before: str, after: str) -> tuple[str, tuple[str, ...]]:
    """Unified diff of the objects that differ between two renders, and their names."""
    a, b = split_objects(before), split_objects(after)
    names = list(a) + [n for n in b if n not in a]
    parts: list[str] = []
    changed: list[str] = []
    for name in names:
        old, new = a.get(name, ""), b.get(name, "")
        if old == new:
            continue
        changed.append(name)
        parts.extend(
            difflib.unified_diff(
                old.splitlines(keepends=True),
                new.splitlines(keepends=True),
                fromfile=f"a/{name}" if old else "/dev/null",
                tofile=f"b/{name}" if new else "/dev/null",
            )
        )
    return "".join(parts), tuple(changed)


def affected_releases(changes: Sequence[FileChange], settings: Settings) -> list[str]:
    """Releases whose chart directory or values files a change set touches, in settings order."""
    paths = {p for c in changes for p in (c.path, c.old_path) if p}
    out: list[str] = []
    for name, rel in settings.apply.releases.items():
        chart = rel.chart.rstrip("/") + "/"
        if any(p in rel.values or p.startswith(chart) for p in paths):
            out.append(name)
    return out


ReadFile = Callable[[str], str | None]
ReadTree = Callable[[str], Mapping[str, str | bytes] | None]
"""A directory in the repository → {path relative to it: content}, None when absent (a forge's tree API)."""


def render_diff(
    changes: Sequence[FileChange],
    *,
    settings: Settings,
    repo_dir: Path | None = None,
    read_file: ReadFile | None = None,
    read_tree: ReadTree | None = None,
    helm: str | None = None,
) -> tuple[RenderDiff, ...]:
    """`helm template` before/after for every release the change set affects (DESIGN §1 Propose).

    The base comes from a checkout (`repo_dir`) or, without one, from `read_file` (values files)
    and `read_tree` (the chart directory), e.g. the GitHub API; the change set is laid over it.
    """
    releases = affected_releases(changes, settings)
    if not releases:
        return ()
    if repo_dir is None and (read_file is None or read_tree is None):
        return tuple(
            RenderDiff(r, False, "no checkout and no file/tree reader to build the chart from")
            for r in releases
        )
    binary = find_helm(helm, repo_dir=repo_dir)
    if binary is None:
        return tuple(RenderDiff(r, False, NOT_AVAILABLE) for r in releases)
    try:
        version = str(helm_version(binary))
    except (HelmError, InputError) as exc:
        return tuple(RenderDiff(r, False, f"helm not usable: {exc}") for r in releases)
    if repo_dir is not None:
        read_file = _disk_file(repo_dir)  # a checkout wins over any reader given
    out: list[RenderDiff] = []
    for name in releases:
        rel = settings.apply.releases[name]
        out.append(
            _render_release(
                name,
                rel,
                changes,
                repo_dir=repo_dir,
                read_file=read_file,
                read_tree=read_tree,
                helm=binary,
                version=version,
            )
        )
    return tuple(out)


def _disk_file(repo_dir: Path) -> ReadFile:
    def read(path: str) -> str | None:
        f = repo_dir / path
        if not f.is_file():
            return None
        with f.open(encoding="utf-8", newline="") as fh:
            return fh.read()

    return read


def _materialize_chart(
    chart: str, dest: Path, *, repo_dir: Path | None, read_tree: ReadTree | None
) -> str | None:
    """Copy the chart directory to dest; the reason when it cannot be found."""
    if repo_dir is not None:
        src = repo_dir / chart
        if not src.is_dir():
            return f"chart directory {chart} not found under {repo_dir}"
        shutil.copytree(src, dest)
        return None
    tree = read_tree(chart) if read_tree is not None else None
    if not tree:
        return f"chart directory {chart} not found"
    for rel_path, content in tree.items():
        target = dest / rel_path
        if ".." in Path(rel_path).parts or Path(rel_path).is_absolute():
            return f"chart file {rel_path!r} escapes {chart}"
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8", newline="")
    return None


def _render_release(
    name: str,
    rel: Release,
    changes: Sequence[FileChange],
    *,
    repo_dir: Path | None,
    read_file: ReadFile | None,
    read_tree: ReadTree | None,
    helm: str,
    version: str,
) -> RenderDiff:
    by_path = {c.path: c for c in changes}
    chart = rel.chart.rstrip("/")
    with tempfile.TemporaryDirectory(prefix="aiops-render-") as tmp:
        root = Path(tmp)
        rendered: dict[str, str] = {}
        for side in ("before", "after"):
            base = root / side
            chart_dir = base / "chart"
            problem = _materialize_chart(chart, chart_dir, repo_dir=repo_dir, read_tree=read_tree)
            if problem:
                return RenderDiff(name, False, problem, helm_version=version)
            for c in changes:
                if c.path.startswith(chart + "/"):
                    text = c.old_text if side == "before" else c.new_text
                    target = chart_dir / c.path[len(chart) + 1 :]
                    if text is None:
                        target.unlink(missing_ok=True)
                    else:
                        target.parent.mkdir(parents=True, exist_ok=True)
                        target.write_text(text, encoding="utf-8", newline="")
            values: list[Path] = []
            for i, vpath in enumerate(rel.values):
                change = by_path.get(vpath)
                if change is not None:
                    text = change.old_text if side == "before" else change.new_text
                else:
                    text = read_file(vpath) if read_file is not None else None
                if text is None:
                    return RenderDiff(name, False, f"values file {vpath} not found", helm_version=version)
                vfile = base / f"values-{i}.yaml"
                vfile.write_text(text, encoding="utf-8", newline="")
                values.append(vfile)
            try:
                rendered[side] = template(
                    helm, name, chart_dir, namespace=rel.namespace, values=values, home=root / "home"
                )
            except HelmError as exc:
                where = "the base" if side == "before" else "this change"
                return RenderDiff(name, False, f"helm template fails on {where}: {exc}", helm_version=version)
    diff, objects = diff_rendered(rendered["before"], rendered["after"])
    return RenderDiff(name, True, "", diff, objects, version)
