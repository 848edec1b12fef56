"""Who runs a live read's requests: threads of this process, or a forked reader process.

`LiveSource` decides what to ask (which lists, which previous logs) and parses what comes back; a
fetcher sends the requests and hands each list page over as it arrives. Both fetchers run the same
thread pools and the same request code, and give the same answers:

- `ThreadFetcher`: the pools run in this process. Everything shares one interpreter lock, so a
  page being parsed (orjson holds the lock for 20–30 ms per 500 pods) holds up every reader
  thread's next socket read, and the client side of hundreds of log requests (~0.5–0.8 ms each)
  competes with the parsing.
- `ForkedFetcher`: the same pools run in a forked child; list pages and log tails come back
  through a pipe, raw, so requests and parsing run on two cores. Given a `setup` (what
  `LiveSource.start()` does) the child also loads the kubeconfig and probes the cluster itself, so
  the parent never imports the client (~0.3 s) and does its own start-up meanwhile; otherwise it
  is forked once the parent's client is configured. On the benchmark cluster (5,000 pods, 350
  previous-log reads) the live median went from 1.35 s (threads) to 1.19 s in interleaved runs.
  It is used only where forking is safe: Linux, and no other thread running yet (a fork copies
  only the forking thread; locks held by others would stay locked in the child). If the child
  dies unexpectedly the read is done again with `ThreadFetcher` (`ReaderGone`).

The child never writes to anything but its pipe. It exits with `os._exit` after running only the
exit handlers registered in it: the parent's are the parent's (the client's temporary certificate
files, when the parent loaded the kubeconfig), the child's its own (the same files, when a started
reader loaded it). It stops when the parent closes its command pipe or dies (end of file); a
failure on the parent's side kills it.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pickle
import queue
import signal
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from aiops.errors import InputError

if TYPE_CHECKING:
    from concurrent.futures import Future

__all__ = [
    "READER_ENV",
    "ForkedFetcher",
    "LogKey",
    "LogResult",
    "Message",
    "ReaderGone",
    "Requests",
    "ThreadFetcher",
    "can_fork",
]

LogKey = tuple[str, str, str]  # namespace, pod, container
LogResult = tuple[str, str | None, str | None]  # "ns/pod/container", log tail or None, error or None
# (list index, page body | note | error | None = the list is complete, whether the fetcher stopped
# there); b"" = the list starts again (its continue token expired): drop what came
Message = tuple[int, bytes | str | BaseException | None, bool]

CANCEL_GRACE = 2.0  # seconds a cancelled reader has to clean up before it is killed
_FRAME = struct.Struct("!I")
_PIPE_SIZE = 1 << 20  # fewer wake-ups per 1 MB page; the kernel caps it (EPERM is fine)


class Requests(Protocol):
    """What a fetcher calls: `LiveSource`'s request code."""

    def fetch_list(self, i: int, token: str, deliver: Callable[[bytes, bool], None]) -> str | None: ...

    def fetch_log(self, key: LogKey) -> LogResult: ...

    def forget_connections(self) -> None: ...


class ReaderGone(Exception):
    """The forked reader ended before answering everything (killed, out of memory, a bug)."""


READER_ENV = "AIOPS_LIVE_READER"  # "auto" (default) or "threads": never fork a reader


def can_fork() -> bool:
    """Forking is safe here: Linux, and this is the only thread (a fork keeps only the caller),
    unless $AIOPS_LIVE_READER=threads asks for the in-process reader (a way out, and a baseline)."""
    wanted = os.environ.get(READER_ENV, "auto").strip().lower() or "auto"
    if wanted not in ("auto", "threads"):
        raise InputError(f"${READER_ENV}: expected auto or threads, not {wanted!r}")
    if wanted == "threads":
        return False
    return sys.platform == "linux" and hasattr(os, "fork") and threading.active_count() == 1


class ThreadFetcher:
    """Lists and log reads on two bounded thread pools of this process."""

    def __init__(
        self,
        requests: Requests,
        workers: int,
        log_workers: int,
        deliver: Callable[[Message], None] | None = None,
    ) -> None:
        self._requests = requests
        self._inbox: queue.SimpleQueue[Message] = queue.SimpleQueue()
        self._deliver = deliver or self._inbox.put
        from concurrent.futures import ThreadPoolExecutor  # not needed by a reader's parent

        self._pool = ThreadPoolExecutor(max_workers=max(1, workers))
        self._log_pool = ThreadPoolExecutor(max_workers=max(1, log_workers))
        self._logs: list[Future[LogResult]] = []

    def __enter__(self) -> ThreadFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True)
        self._log_pool.shutdown(wait=True)

    def start_list(self, i: int, token: str = "") -> None:
        self._pool.submit(self._run, i, token)

    def _run(self, i: int, token: str) -> None:
        try:
            end = self._requests.fetch_list(i, token, lambda body, last: self._deliver((i, body, last)))
            self._deliver((i, end, True))
        except BaseException as exc:  # re-raised by whoever reads the messages
            self._deliver((i, exc, True))

    def fetch_logs(self, keys: Sequence[LogKey], done: Callable[[LogResult], None] | None = None) -> None:
        for key in keys:
            future = self._log_pool.submit(self._requests.fetch_log, key)
            if done is not None:
                future.add_done_callback(lambda f: done(f.result()))
            self._logs.append(future)

    def next_message(self) -> Message:
        return self._inbox.get()

    def log_results(self) -> list[LogResult]:
        return [f.result() for f in self._logs]

    def cancel(self) -> None:
        """Stop now: nothing queued starts (requests under way end within their timeout)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._log_pool.shutdown(wait=False, cancel_futures=True)


class ForkedFetcher:
    """A `ThreadFetcher` in a forked child; commands and answers go through two pipes."""

    def __init__(
        self,
        requests: Requests,
        workers: int,
        log_workers: int,
        setup: Callable[[], Any] | None = None,
    ) -> None:
        """`setup`, when given, runs first in the child (connecting, say); its result, or the
        exception it raised, is what `hello()` returns or raises here."""
        cmd_r, cmd_w = os.pipe()
        out_r, out_w = os.pipe()
        _grow(out_w)
        pid = os.fork()
        if pid == 0:  # the child: serve, then leave without running the parent's exit handlers
            code = 70
            try:
                atexit._clear()  # the parent's (its client's temporary certificate files, say)
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
                signal.signal(signal.SIGTERM, _terminated)  # cancel(): leave, cleaning up
                os.close(cmd_w)
                os.close(out_r)
                code = _serve(requests, workers, log_workers, cmd_r, out_w, setup=setup)
            except BaseException:
                code = 70
            finally:
                # its own: a kubeconfig loaded here wrote certificate data to temporary files
                atexit._run_exitfuncs()
                os._exit(code)
        os.close(cmd_r)
        os.close(out_w)
        self._pid = pid
        self._cmd: BinaryIO | None = os.fdopen(cmd_w, "wb")
        self._out: BinaryIO | None = os.fdopen(out_r, "rb", buffering=_PIPE_SIZE)
        self._requests = requests
        self._wanted: list[LogKey] = []
        self._logs: dict[str, LogResult] = {}

    def __enter__(self) -> ForkedFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel()

    def hello(self) -> Any:
        """What the child's `setup` returned; the exception it raised is raised here."""
        answer = self._answer()
        if answer is None:
            raise ReaderGone("the live reader process ended before it was ready")
        tag, payload = answer
        if tag == "failed":
            raise payload
        return payload

    def start_list(self, i: int, token: str = "") -> None:
        self._send(("list", i, token))

    def fetch_logs(self, keys: Sequence[LogKey]) -> None:
        if keys:
            self._wanted.extend(keys)
            self._send(("logs", list(keys)))

    def next_message(self) -> Message:
        """The next list page (or end, note, error); log tails met on the way are kept."""
        while (answer := self._answer()) is not None:
            tag, payload = answer
            if tag == "page":
                return payload  # type: ignore[no-any-return]
            self._logs[payload[0]] = payload
        raise ReaderGone("the live reader process ended before the lists were read")

    def log_results(self) -> list[LogResult]:
        """Every log asked for, in order (the child finishes them once the command pipe closes)."""
        self._close_commands()
        while (answer := self._answer()) is not None:
            if answer[0] == "log":
                self._logs[answer[1][0]] = answer[1]
        self._close_answers()
        self._reap()
        missing = [key for key in self._wanted if "/".join(key) not in self._logs]
        if missing:  # the child ended early: read what it left here (rare; never silently dropped)
            with ThreadFetcher(self._requests, 1, 8) as here:
                here.fetch_logs(missing)
                for res in here.log_results():
                    self._logs[res[0]] = res
        return [self._logs["/".join(key)] for key in self._wanted]

    def cancel(self) -> None:
        """Stop the child now (a failure here, or an interrupt) and reap it: asked to end (it
        removes its temporary files), then killed if it has not within CANCEL_GRACE seconds."""
        self._close_commands()
        self._close_answers()
        if not self._pid:
            return
        pid, self._pid = self._pid, 0
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + CANCEL_GRACE
        while time.monotonic() < deadline:
            if os.waitpid(pid, os.WNOHANG)[0]:
                return
            time.sleep(0.005)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)

    def _answer(self) -> tuple[str, Any] | None:
        """The child's next answer; None once it has closed its end (or sent garbage). They are
        pickles through a private pipe between two copies of this program: nothing foreign."""
        if self._out is None:
            return None
        try:
            frame = _frame(self._out)
            return None if frame is None else pickle.loads(frame)
        except (OSError, pickle.UnpicklingError, EOFError, ValueError):
            return None

    def _send(self, command: tuple[Any, ...]) -> None:
        if self._cmd is None:
            return
        try:
            _write_frame(self._cmd, pickle.dumps(command, protocol=pickle.HIGHEST_PROTOCOL))
            self._cmd.flush()
        except (BrokenPipeError, ValueError):  # the child is gone: its answers will say so
            self._close_commands()

    def _close_commands(self) -> None:
        if self._cmd is not None:
            with contextlib.suppress(OSError):
                self._cmd.close()
            self._cmd = None

    def _close_answers(self) -> None:
        if self._out is not None:
            with contextlib.suppress(OSError):
                self._out.close()
            self._out = None

    def _reap(self) -> None:
        if self._pid:
            pid, self._pid = self._pid, 0
            os.waitpid(pid, 0)


def _serve(
    requests: Requests,
    workers: int,
    log_workers: int,
    cmd_fd: int,
    out_fd: int,
    *,
    setup: Callable[[], Any] | None = None,
) -> int:
    """The child's loop: `setup` first (its result or error is the first answer), then run what
    the parent asks, sending every page and log tail back in order of arrival, until the parent
    closes the command pipe and every request has ended."""
    try:
        with os.fdopen(out_fd, "wb") as out:

            def send(msg: tuple[str, Any]) -> None:
                _write_frame(out, pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL))
                out.flush()

            if setup is not None:
                try:
                    hello = setup()
                except Exception as exc:
                    send(("failed", _portable((0, exc, True))[1]))
                    return 0
                send(("hello", hello))
            else:
                requests.forget_connections()  # the parent's pooled connections are the parent's
            outbox: queue.SimpleQueue[tuple[str, Any] | None] = queue.SimpleQueue()
            fetcher = ThreadFetcher(
                requests, workers, log_workers, deliver=lambda m: outbox.put(("page", _portable(m)))
            )

            def commands() -> None:
                try:
                    with os.fdopen(cmd_fd, "rb") as cmd:
                        for frame in _frames(cmd):
                            command = pickle.loads(frame)
                            if command[0] == "list":
                                fetcher.start_list(command[1], command[2])
                            else:
                                fetcher.fetch_logs(command[1], done=lambda res: outbox.put(("log", res)))
                finally:
                    with fetcher:  # waits for every request under way
                        pass
                    outbox.put(None)

            threading.Thread(target=commands, name="aiops-live-commands", daemon=True).start()
            while (msg := outbox.get()) is not None:
                send(msg)
    except BrokenPipeError:  # the parent is gone
        pass
    return 0


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _portable(msg: Message) -> Message:
    """A message that survives pickling: an exception that cannot is sent as a RuntimeError."""
    i, body, last = msg
    if isinstance(body, BaseException):
        try:
            pickle.loads(pickle.dumps(body))
        except Exception:
            return i, RuntimeError(f"{type(body).__name__}: {body}"), last
    return msg


def _write_frame(out: BinaryIO, data: bytes) -> None:
    out.write(_FRAME.pack(len(data)))
    out.write(data)


def _frame(src: BinaryIO) -> bytes | None:
    head = src.read(_FRAME.size)
    if len(head) < _FRAME.size:
        return None
    (size,) = _FRAME.unpack(head)
    data = src.read(size)
    return data if len(data) == size else None


def _frames(src: BinaryIO) -> Iterator[bytes]:
    while (frame := _frame(src)) is not None:
        yield frame


def _grow(fd: int) -> None:
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, _PIPE_SIZE)
    except (ImportError, AttributeError, OSError):
        pass
