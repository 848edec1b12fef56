"""The forked reader process of live reads: same answers as threads, and no loose ends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from fakeapi import FakeApiServer

import aiops.cluster.fetchers as fetchers
import aiops.cluster.live as live
from aiops.cluster.live import LiveSource
from aiops.errors import UnreachableError

ROOT = Path(__file__).resolve().parents[1]
BACKEND = "todo/todo-backend-7c9f6d5b8-4kq2z/backend"


def _no_child_left() -> bool:
    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def _summary(snap: Any) -> tuple[int, dict[str, str], tuple[str, ...]]:
    return len(snap.items), dict(snap.logs), snap.notes


def test_forked_and_threaded_reads_agree(sample_api: FakeApiServer, kubeconfig: str) -> None:
    forked = LiveSource(kubeconfig=kubeconfig, fork=True).read()
    threaded = LiveSource(kubeconfig=kubeconfig, fork=False).read()
    assert forked.items == threaded.items
    assert forked.logs == threaded.logs and BACKEND in forked.logs
    assert forked.at == threaded.at and forked.notes == threaded.notes == ()
    assert _no_child_left()


def test_a_reader_that_dies_at_once_is_replaced_by_threads(
    sample_api: FakeApiServer, kubeconfig: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = _summary(LiveSource(kubeconfig=kubeconfig, fork=False).read())
    monkeypatch.setattr(fetchers, "_serve", lambda *args: 70)  # the child answers nothing
    assert _summary(LiveSource(kubeconfig=kubeconfig, fork=True).read()) == expected
    assert _no_child_left()


def test_a_reader_that_dies_on_its_first_log_read_loses_nothing(
    sample_api: FakeApiServer, kubeconfig: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed mid-way (out of memory, say): what it had not sent is read again in this process."""
    expected = _summary(LiveSource(kubeconfig=kubeconfig, fork=False).read())
    parent = os.getpid()
    real = live._Calls.fetch_log

    def fetch_log(self: Any, key: Any) -> Any:
        if os.getpid() != parent:
            os._exit(70)
        return real(self, key)

    monkeypatch.setattr(live._Calls, "fetch_log", fetch_log)
    assert _summary(LiveSource(kubeconfig=kubeconfig, fork=True).read()) == expected
    assert _no_child_left()


def test_a_failure_stops_and_reaps_the_reader(sample_api: FakeApiServer, kubeconfig: str) -> None:
    sample_api.fail(r"^/apis/apps/v1/deployments$", status=500, times=10)
    with pytest.raises(UnreachableError, match="deployments"):
        LiveSource(kubeconfig=kubeconfig, fork=True, retries=0).read()
    assert _no_child_left()


def test_no_fork_while_another_thread_runs() -> None:
    assert fetchers.can_fork() == (sys.platform == "linux" and threading.active_count() == 1)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert not fetchers.can_fork()
    finally:
        stop.set()
        other.join()


def test_an_exception_that_cannot_cross_the_pipe_arrives_as_its_text() -> None:
    class Odd(Exception):
        def __init__(self, a: int, b: int) -> None:  # pickles, but cannot be rebuilt from args
            super().__init__(f"{a}/{b}")

    _, sent, _ = fetchers._portable((3, Odd(1, 2), True))
    assert isinstance(sent, RuntimeError) and str(sent) == "Odd: 1/2"
    err = UnreachableError("cluster x: GET /api failed", hint="check it")
    _, same, _ = fetchers._portable((3, err, True))
    assert same is err


def test_the_cli_reads_through_a_reader_process(
    sample_api: FakeApiServer, kubeconfig: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`aiops diagnose` run as users run it: one thread, so the reader is forked; the findings are
    those of the in-process read."""
    script = (
        "import sys, aiops.cluster.fetchers as F\n"
        "real = F.ForkedFetcher.__init__\n"
        "def init(self, *a):\n"
        "    print('forked reader', file=sys.stderr)\n"
        "    real(self, *a)\n"
        "F.ForkedFetcher.__init__ = init\n"
        "from aiops.cli import main\n"
        f"main(['diagnose', '--kubeconfig', {kubeconfig!r}, '-A', '-o', 'json'])\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert "forked reader" in proc.stderr, proc.stderr[-2000:]
    assert proc.returncode == 0, proc.stderr[-2000:]
    forked = json.loads(proc.stdout)
    from aiops.cli import main

    with pytest.raises(SystemExit):
        main(["diagnose", "--kubeconfig", kubeconfig, "-A", "-o", "json"])  # threads: pytest's
    threaded = json.loads(capsys.readouterr().out)
    for doc in (forked, threaded):
        doc.pop("elapsed_ms", None)
        doc.pop("stats", None)
    assert forked == threaded and forked["findings"]
    assert any(r.path.endswith("/log") for r in sample_api.requests)
