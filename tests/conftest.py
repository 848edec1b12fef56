"""Shared pytest fixtures: the fake Kubernetes API server (real HTTP) and the bundled sample."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from fakeapi import FakeApiServer  # noqa: E402

SAMPLE_AT = "2026-11-25T10:42:17Z"


@pytest.fixture
def fake_api() -> Iterator[FakeApiServer]:
    """An empty fake API server whose clock (Date header) is the sample's capture time."""
    server = FakeApiServer(now=SAMPLE_AT).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sample_files() -> tuple[str, str]:
    """(cluster.yaml, logs.yaml) of the bundled sample."""
    from aiops.pipeline.diagnosis import sample_paths

    return sample_paths()


@pytest.fixture
def sample_items(sample_files: tuple[str, str]) -> list[dict[str, Any]]:
    from aiops.cluster.files import FileSource

    return [dict(o) for o in FileSource(paths=(sample_files[0],)).read().items]


@pytest.fixture
def sample_api(fake_api: FakeApiServer, sample_files: tuple[str, str]) -> FakeApiServer:
    """The fake API server seeded with the sample cluster; its logs served as previous logs."""
    from aiops.cluster.files import FileSource

    snap = FileSource(paths=(sample_files[0],), logs_path=sample_files[1]).read()
    fake_api.load(snap.items)
    for key, text in snap.logs.items():
        ns, pod, container = key.split("/")
        fake_api.set_log(ns, pod, container, text, previous=True)
        fake_api.set_log(ns, pod, container, "current instance\n")
    return fake_api


@pytest.fixture
def kubeconfig(fake_api: FakeApiServer, tmp_path: Path) -> str:
    return str(fake_api.write_kubeconfig(tmp_path / "kubeconfig", context="fake"))
