"""Validates Kubernetes objects with kubernetes-validate --strict, run from its own virtualenv.

The tool lives in tools/kv (pinned, made by scripts/install-tools), never in the aiops environment:
when `kubernetes_validate` is importable, `import kubernetes` loads it (and jsonschema) through
kubernetes.dynamic, which made every aiops command slower here than for a user. This module must
not import kubernetes_validate: it sends the objects as JSON to tools/kv/bin/python in one process
and reads back one verdict per object. Tests using it are skipped, saying so, only when the tool is
not installed.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
KV = ROOT / "tools" / "kv"
KV_PYTHON = KV / "bin" / "python"
K8S_VERSION = "1.31.0"

# Runs inside tools/kv: reads {"version": ..., "objects": [...]} on stdin, writes one entry per
# object (null when valid, else the reason) as a JSON list on stdout. Any exception is a failure:
# a missing schema (unknown kind/apiVersion) must not pass silently.
_SCRIPT = """
import json, sys
import kubernetes_validate
from kubernetes_validate.utils import ValidationError
req = json.load(sys.stdin)
out = []
for obj in req["objects"]:
    try:
        kubernetes_validate.validate(obj, req["version"], strict=True)
        out.append(None)
    except ValidationError as e:
        where = ".".join(str(p) for p in e.path) or "(top level)"
        out.append(f"ValidationError at {where}: {e.message}")
    except Exception as e:
        out.append(f"{type(e).__name__}: {e}" if str(e) else type(e).__name__)
json.dump(out, sys.stdout)
"""


def installed() -> bool:
    return (KV / "bin" / "kubernetes-validate").is_file() and os.access(KV_PYTHON, os.X_OK)


needs_kv = pytest.mark.skipif(
    not installed(),
    reason="tools/kv (kubernetes-validate in its own virtualenv) is absent: run scripts/install-tools",
)


def validate(objs: Sequence[dict[str, Any]], version: str = K8S_VERSION) -> list[str | None]:
    """One verdict per object, in order: None when it passes strict validation, else the reason."""
    run = subprocess.run(
        [str(KV_PYTHON), "-c", _SCRIPT],
        input=json.dumps({"version": version, "objects": list(objs)}),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, f"tools/kv/bin/python failed: {run.stderr}"
    verdicts: list[str | None] = json.loads(run.stdout)
    assert len(verdicts) == len(objs)
    return verdicts


def assert_valid(objs: Sequence[dict[str, Any]], version: str = K8S_VERSION) -> None:
    """Fails naming every object that does not pass `kubernetes-validate --strict`."""
    failures = [
        f"{o.get('kind')}/{o.get('metadata', {}).get('name')}: {why}"
        for o, why in zip(objs, validate(objs, version), strict=True)
        if why is not None
    ]
    assert not failures, "\n".join(failures)
