"""The forked reader process of live reads: same answers as threads, and no loose ends."""

from __future__ import annotations

import json
import os
import socket
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
from aiops.errors import InputError, UnreachableError

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
    monkeypatch.setattr(fetchers, "_serve", lambda *args, **kwargs: 70)  # the child answers nothing
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


def test_a_started_reader_connects_by_itself_and_reads_the_same(
    sample_api: FakeApiServer, kubeconfig: str
) -> None:
    threaded = LiveSource(kubeconfig=kubeconfig, fork=False).read()
    src = LiveSource(kubeconfig=kubeconfig, fork=True)
    src.start()
    assert src._client is None  # this process has not connected: the reader did
    started = src.read()
    assert started.items == threaded.items and started.logs == threaded.logs
    assert started.at == threaded.at and started.sources == threaded.sources
    assert started.cluster == threaded.cluster == "fake"
    assert _no_child_left()
    assert src.read().items == threaded.items  # read again: no reader started, read() does all


def test_a_started_reader_reports_config_and_cluster_errors(tmp_path: Path, kubeconfig: str) -> None:
    src = LiveSource(kubeconfig=str(tmp_path / "missing"), fork=True)
    src.start()
    with pytest.raises(InputError, match="--kubeconfig") as caught:
        src.read()
    assert caught.value.hint  # the whole error came across, hint too
    assert _no_child_left()
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    refused = tmp_path / "refused"
    refused.write_text(Path(kubeconfig).read_text().replace(_server(kubeconfig), f"http://127.0.0.1:{port}"))
    src = LiveSource(kubeconfig=str(refused), fork=True, retries=0)
    src.start()
    with pytest.raises(UnreachableError, match="refused"):
        src.read()
    assert _no_child_left()


def test_a_started_reader_that_dies_is_replaced(
    sample_api: FakeApiServer, kubeconfig: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = _summary(LiveSource(kubeconfig=kubeconfig, fork=False).read())
    monkeypatch.setattr(fetchers, "_serve", lambda *args, **kwargs: 70)
    src = LiveSource(kubeconfig=kubeconfig, fork=True)
    src.start()
    assert _summary(src.read()) == expected
    assert _no_child_left()


def _server(kubeconfig: str) -> str:
    import yaml

    return str(yaml.safe_load(Path(kubeconfig).read_text())["clusters"][0]["cluster"]["server"])


def test_the_environment_can_ask_for_the_in_process_reader(
    monkeypatch: pytest.MonkeyPatch,
    sample_api: FakeApiServer,
    kubeconfig: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(threading, "active_count", lambda: 1)  # as in the CLI: no other thread
    assert fetchers.can_fork() == (sys.platform == "linux")
    monkeypatch.setenv("AIOPS_LIVE_READER", "threads")
    assert not fetchers.can_fork()
    monkeypatch.setenv("AIOPS_LIVE_READER", "processes")
    with pytest.raises(InputError, match=r"\$AIOPS_LIVE_READER: expected auto or threads, not 'processes'"):
        fetchers.can_fork()
    from aiops.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["diagnose", "--kubeconfig", kubeconfig, "-A"])
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "AIOPS_LIVE_READER" in err


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
    """`aiops diagnose` run as users run it: one thread, so the reader is forked, early, and this
    process never imports `kubernetes`; the findings are those of the in-process read."""
    script = (
        "import sys, aiops.cluster.fetchers as F\n"
        "real = F.ForkedFetcher.__init__\n"
        "def init(self, *a, **k):\n"
        "    print('forked reader', file=sys.stderr)\n"
        "    real(self, *a, **k)\n"
        "F.ForkedFetcher.__init__ = init\n"
        "import atexit, os\n"
        "me = os.getpid()\n"
        "atexit.register(lambda: os.getpid() == me and print('kubernetes' in sys.modules, file=sys.stderr))\n"
        "from aiops.cli import main\n"
        f"main(['diagnose', '--kubeconfig', {kubeconfig!r}, '-A', '-o', 'json'])\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert proc.stderr.split() == ["forked", "reader", "False"], proc.stderr[-2000:]  # no kubernetes here
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


class _Idle:
    """Requests that answer at once: lists end empty, logs are empty."""

    def fetch_list(self, i: int, token: str, deliver: Any) -> None:
        return None

    def fetch_log(self, key: Any) -> Any:
        return "/".join(key), "", None

    def forget_connections(self) -> None:
        pass


def test_the_reader_cleans_up_its_own_files_and_leaves_the_parents(tmp_path: Path) -> None:
    """A started reader writes the kubeconfig's certificate data to temporary files (the client
    registers their removal at exit): they go with the child, even when it is cancelled. The
    parent's exit handlers (its own such files) are not the child's to run."""
    import atexit

    ours = tmp_path / "parent-ran-in-child"
    theirs = tmp_path / "child-cert.pem"

    def parent_handler() -> None:
        if os.getpid() != me:
            ours.write_text("the child ran the parent's exit handler")

    def setup() -> str:  # what the client's kubeconfig loader does with certificate data
        theirs.write_text("-----BEGIN CERTIFICATE-----")
        atexit.register(theirs.unlink)
        return "ready"

    me = os.getpid()
    atexit.register(parent_handler)
    try:
        for how in ("finished", "cancelled"):
            reader = fetchers.ForkedFetcher(_Idle(), 1, 1, setup=setup)
            assert reader.hello() == "ready" and theirs.exists()
            if how == "finished":
                reader.start_list(0)
                assert reader.next_message() == (0, None, True)
                assert reader.log_results() == []
            else:
                reader.cancel()
            assert not theirs.exists(), how
            assert not ours.exists(), how
            assert _no_child_left()
    finally:
        atexit.unregister(parent_handler)


def test_a_started_reader_removes_the_certificate_files_it_wrote(
    tmp_path: Path, kubeconfig: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real loader, an https cluster with embedded CA data: the file it writes is gone after."""
    import base64
    import tempfile

    import yaml

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    doc = yaml.safe_load(Path(kubeconfig).read_text())
    cluster = doc["clusters"][0]["cluster"]
    cluster["server"] = f"https://127.0.0.1:{port}"
    cluster["certificate-authority-data"] = base64.b64encode(b"-----BEGIN CERTIFICATE-----\n").decode()
    https = tmp_path / "https-kubeconfig"
    https.write_text(yaml.safe_dump(doc))
    src = LiveSource(kubeconfig=str(https), fork=True, retries=0)
    src.start()
    with pytest.raises(UnreachableError):
        src.read()
    assert _no_child_left()
    assert list(tmp.iterdir()) == []


def test_a_started_reader_runs_an_exec_credential_plugin(
    sample_api: FakeApiServer, kubeconfig: str, tmp_path: Path
) -> None:
    """EKS/GKE-style kubeconfigs get their token from an exec plugin: the reader runs it."""
    import yaml

    plugin = tmp_path / "get-token"
    calls = tmp_path / "calls"
    credential = {
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "status": {"token": sample_api.token, "expirationTimestamp": "2099-01-01T00:00:00Z"},
    }
    plugin.write_text(f"#!/bin/sh\necho run >> {calls}\ncat <<'EOF'\n{json.dumps(credential)}\nEOF\n")
    plugin.chmod(0o755)
    doc = yaml.safe_load(Path(kubeconfig).read_text())
    doc["users"][0]["user"] = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": str(plugin),
            "interactiveMode": "Never",
        }
    }
    exec_kc = tmp_path / "exec-kubeconfig"
    exec_kc.write_text(yaml.safe_dump(doc))
    src = LiveSource(kubeconfig=str(exec_kc), fork=True)
    src.start()
    snap = src.read()
    assert BACKEND in snap.logs and snap.cluster == "fake"
    assert calls.read_text().splitlines() == ["run"]  # once, in the reader
    assert _no_child_left()
