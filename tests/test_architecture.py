"""Enforces DESIGN §3: imports only go downwards, the pure core does no I/O, heavy libs are confined."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "aiops"

BOTTOM = {"model", "settings", "errors", "redact", "__init__"}
PURE = {"diagnose", "recommend", "policy", "phr", "security"}
# below the adapters, above the pure core: loads a kubeconfig into the official client, so the
# adapters that talk to the cluster share it without importing each other
KUBE = {"kube"}
ADAPTERS = {"cluster", "gitops", "apply", "report", "advisors", "watch", "metrics", "demo"}
TOP = {"pipeline", "cli"}

PURE_LAYER = 1  # this layer and those below do no I/O
ADAPTER_LAYER = 3  # units of this layer never import each other

LAYER = {
    **dict.fromkeys(BOTTOM, 0),
    **dict.fromkeys(PURE, PURE_LAYER),
    **dict.fromkeys(KUBE, 2),
    **dict.fromkeys(ADAPTERS, ADAPTER_LAYER),
    "pipeline": 4,
    "cli": 5,
    "__main__": 6,
}

IO_MODULES = {
    "subprocess",
    "socket",
    "requests",
    "urllib3",
    "urllib",
    "http",
    "kubernetes",
    "github",
    "shutil",
}
PURE_STDLIB = {"urllib.parse", "http.HTTPStatus"}
KUBERNETES_OK = {"kube", "cluster", "apply", "watch", "demo", "metrics"}
# the config loader sends no request: of the I/O modules it may use only the official client (and
# urllib3's Retry type, the retry policy a caller hands to that client)
KUBE_IO_OK = {"kubernetes", "urllib3.util.retry"}
SUBPROCESS_OK = {"gitops", "apply", "advisors", "report"}


def _modules() -> list[Path]:
    return sorted(p for p in PKG.rglob("*.py"))


def _unit(path: Path) -> str:
    rel = path.relative_to(PKG).parts
    return rel[0].removesuffix(".py")


def _imports(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((a.name, node.lineno) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.module, node.lineno))
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            pytest.fail(f"{path}: relative import at line {node.lineno}; use absolute aiops.* imports")
    return out


def test_every_module_belongs_to_a_layer() -> None:
    for path in _modules():
        assert _unit(path) in LAYER, (
            f"{path.relative_to(ROOT)} is in no layer of DESIGN §3 (tests/test_architecture.py)"
        )


def test_imports_only_go_downwards() -> None:
    problems: list[str] = []
    for path in _modules():
        unit = _unit(path)
        for name, line in _imports(path):
            if not name.startswith("aiops."):
                continue
            target = name.split(".")[1]
            if target == unit:
                continue
            if target not in LAYER:
                problems.append(f"{path.relative_to(ROOT)}:{line} imports unknown unit {name}")
                continue
            if LAYER[target] > LAYER[unit]:
                problems.append(f"{path.relative_to(ROOT)}:{line} imports upward: {name}")
            elif LAYER[target] == LAYER[unit] == ADAPTER_LAYER:
                problems.append(f"{path.relative_to(ROOT)}:{line} adapter imports another adapter: {name}")
    assert not problems, "\n".join(problems)


def test_pure_core_does_no_io_and_heavy_libs_are_confined() -> None:
    problems: list[str] = []
    for path in _modules():
        unit = _unit(path)
        for name, line in _imports(path):
            root = name.split(".")[0]
            where = f"{path.relative_to(ROOT)}:{line}"
            pure_helper = name in PURE_STDLIB  # e.g. urllib.parse only builds strings
            if LAYER.get(unit, 9) <= PURE_LAYER and root in IO_MODULES and not pure_helper:
                problems.append(f"{where}: pure/bottom layer imports I/O module {name}")
            kube_ok = root in KUBE_IO_OK or name in KUBE_IO_OK
            if unit in KUBE and root in IO_MODULES and not kube_ok and not pure_helper:
                problems.append(
                    f"{where}: the kube config loader imports I/O module {name} (it sends no request)"
                )
            if root == "kubernetes" and unit not in KUBERNETES_OK:
                problems.append(f"{where}: kubernetes imported outside kube/cluster/apply/watch/metrics")
            if root == "github" and not (unit == "gitops" and path.name.startswith("github")):
                problems.append(f"{where}: github imported outside the GitHub forge")
            if root == "subprocess" and unit not in SUBPROCESS_OK:
                problems.append(f"{where}: subprocess imported outside tool-running adapters")
    assert not problems, "\n".join(problems)


def test_heavy_imports_are_lazy() -> None:
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from aiops.cli import cli\n"
        "r = CliRunner().invoke(cli, ['--help'])\n"
        "assert r.exit_code == 0, r.output\n"
        "heavy = [m for m in ('kubernetes', 'github', 'ruamel', 'jinja2', 'numpy') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"`aiops --help` imported heavy modules: {out.stdout.strip()}"
