"""Log root-cause signatures: turn the last lines of a (previous) container log into one cause.

A table of precompiled regular expressions, most causal first: runtime out-of-memory, exec
failures, missing env vars / config keys, DNS and connection-refused errors to a dependency,
address already in use, permission denied, failed migrations, and finally the fatal line of a
Python / Java / Go / Node / Rust program. `explain(text)` returns the best `LogCause` (one line,
the log line quoted, a structured `Cause`), or None.

Pure and fast: each signature is one scan of the text by a compiled pattern (no per-line Python
loop), so hundreds of logs cost milliseconds. No I/O, no knowledge of pods or findings.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiops.model import Cause

MAX_LINE = 240


@dataclass(frozen=True)
class LogCause:
    """What a log says went wrong.

    `text` is the one-line cause ("environment variable REDIS_URL is not set"), `line` the log
    line it was read from, `cause` the structured form, `exec_failure` True when the process
    could not be started at all (exec format error, binary missing, not executable), which the
    classification rules count as RunContainerError rather than an application exit.
    """

    cause: Cause
    text: str
    line: str
    signature: str
    exec_failure: bool = False

    def evidence(self) -> str:
        return f"log: {self.line}"


Builder = Callable[[Mapping[str, Any]], tuple[Cause, str]]


@dataclass(frozen=True)
class Signature:
    name: str
    patterns: tuple[re.Pattern[str], ...]
    build: Builder
    exec_failure: bool = False
    requires: re.Pattern[str] | None = None  # the text must also contain this (cheap context check)
    keywords: tuple[str, ...] = ()  # lower-case; the text must contain one before any pattern runs

    def may_match(self, lowered: str) -> bool:
        """Cheap substring pre-check so most signatures never run their patterns on a log."""
        return not self.keywords or any(k in lowered for k in self.keywords)


def _c(*patterns: str, flags: int = re.MULTILINE) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, flags) for p in patterns)


def _host_port(g: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    host = g.get("host")
    if host:
        out["host"] = str(host).strip("[]\"'")
    port = g.get("port")
    if port:
        out["port"] = int(port)
    return out


def _dep_text(verb: str, g: Mapping[str, Any]) -> str:
    d = _host_port(g)
    if "host" in d and "port" in d:
        return f"{verb} {d['host']}:{d['port']}"
    if "host" in d:
        return f"{verb} {d['host']}"
    return verb


# ---- builders ------------------------------------------------------------------------------------
def _oom(runtime: str) -> Builder:
    names = {"java": "Java heap", "node": "Node.js (V8) heap", "go": "Go runtime", "python": "Python process"}

    def build(g: Mapping[str, Any]) -> tuple[Cause, str]:
        detail: dict[str, Any] = {"runtime": runtime}
        what = (g.get("what") or "").strip()
        if what:
            detail["kind"] = what
        extra = f" ({what})" if what else ""
        return Cause("oom-runtime-heap", detail), f"the {names[runtime]} ran out of memory{extra}"

    return build


def _exec_format(g: Mapping[str, Any]) -> tuple[Cause, str]:
    path = g.get("path")
    detail = {"path": path} if path else {}
    where = f"{path} " if path else "the entrypoint "
    return Cause("exec-format", detail), f"exec format error: {where}is built for another CPU architecture"


def _exec_missing(g: Mapping[str, Any]) -> tuple[Cause, str]:
    cmd = str(g.get("cmd") or "").strip()
    return Cause("exec-not-found", {"command": cmd}), f"the command {cmd} does not exist in the image"


def _shell_missing(g: Mapping[str, Any]) -> tuple[Cause, str]:
    cmd = str(g.get("cmd") or "").strip()
    return (
        Cause("exec-not-found", {"command": cmd, "shell": True}),
        f"the start script runs {cmd}, which is not found (exit 127 from the shell)",
    )


def _exec_perm(g: Mapping[str, Any]) -> tuple[Cause, str]:
    path = str(g.get("path") or "").strip()
    return (
        Cause("permission-denied", {"path": path, "exec": True}),
        f"{path} is not executable (permission denied on exec)",
    )


def _missing_env(g: Mapping[str, Any]) -> tuple[Cause, str]:
    var = str(g.get("var") or "").strip()
    if g.get("upper"):
        var = var.upper()
    return Cause("missing-env", {"var": var}), f"environment variable {var} is not set"


def _missing_key(g: Mapping[str, Any]) -> tuple[Cause, str]:
    key = str(g.get("key") or "").strip()
    detail: dict[str, Any] = {"key": key}
    if g.get("cm"):
        detail["configmap"] = g["cm"]
        return Cause("missing-config-key", detail), f"key {key} is missing from ConfigMap {g['cm']}"
    return Cause("missing-config-key", detail), f"configuration key {key} is missing"


def _addr_in_use(g: Mapping[str, Any]) -> tuple[Cause, str]:
    port = g.get("port")
    if port:
        return Cause("address-in-use", {"port": int(port)}), f"port {port} is already in use in the pod"
    return Cause("address-in-use", {}), "the listen address is already in use in the pod"


def _perm(g: Mapping[str, Any]) -> tuple[Cause, str]:
    path = str(g.get("path") or "").strip()
    if path:
        return Cause("permission-denied", {"path": path}), f"permission denied on {path}"
    return Cause("permission-denied", {}), "permission denied"


def _dns(g: Mapping[str, Any]) -> tuple[Cause, str]:
    return Cause("dependency-dns", _host_port(g)), _dep_text("cannot resolve the dependency's host", g)


def _refused(g: Mapping[str, Any]) -> tuple[Cause, str]:
    return Cause("dependency-refused", _host_port(g)), _dep_text("connection refused by", g)


def _migration(g: Mapping[str, Any]) -> tuple[Cause, str]:
    msg = str(g.get("msg") or "").strip()
    detail = {"message": msg} if msg else {}
    return Cause("migration-failed", detail), "a database migration failed" + (f": {msg}" if msg else "")


def _fatal(runtime: str) -> Builder:
    def build(g: Mapping[str, Any]) -> tuple[Cause, str]:
        exc = str(g.get("exc") or "").strip()
        msg = str(g.get("msg") or "").strip()
        detail: dict[str, Any] = {"runtime": runtime}
        if exc:
            detail["exception"] = exc
        if msg:
            detail["message"] = msg
        what = ": ".join(p for p in (exc, msg) if p) or "a fatal error"
        if runtime == "application":
            return Cause("app-fatal", detail), f"the program logs a fatal error: {what}"
        return Cause("app-fatal", detail), f"the {runtime} program stops with {what}"

    return build


# ---- the table, most causal first ----------------------------------------------------------------
_ENV_WORDS = (
    r"(?i:not set|missing|required|undefined|not defined|must be (?:set|defined|provided)|is empty|unset)"
)
_ENV_NOUN = r"(?i:environment variable|env(?:ironment)?[ \t]+var(?:iable)?)"
_DNS_WORDS = (
    r"(?:Name or service not known|Temporary failure in name resolution|nodename nor servname provided)"
)
_VAR = r"[A-Z][A-Z0-9_]{1,}"
_SH = r"^(?:/usr)?(?:/bin/)?(?:ba|da|z)?sh: (?:\d+: )?(?:line \d+: )?(?P<cmd>[^:\r\n]+): "

SIGNATURES: tuple[Signature, ...] = (
    Signature(
        "java-oom",
        _c(r"java\.lang\.OutOfMemoryError(?::[ \t]*(?P<what>[^\r\n]+))?"),
        _oom("java"),
        keywords=("outofmemoryerror",),
    ),
    Signature(
        "node-oom",
        _c(r"(?P<what>JavaScript heap out of memory)", r"FATAL ERROR: (?P<what>[^\r\n]*heap limit[^\r\n]*)"),
        _oom("node"),
        keywords=("heap out of memory", "heap limit"),
    ),
    Signature(
        "go-oom",
        _c(r"fatal error: (?P<what>runtime: out of memory)"),
        _oom("go"),
        keywords=("runtime: out of memory",),
    ),
    Signature("python-oom", _c(r"^[ \t]*MemoryError\b(?P<what>)"), _oom("python"), keywords=("memoryerror",)),
    Signature(
        "exec-format",
        _c(
            r"exec (?P<path>\S+): exec format error",
            r"exec user process caused:? \"?exec format error",
            r"\bexec format error\b",
        ),
        _exec_format,
        exec_failure=True,
        keywords=("exec format error",),
    ),
    Signature(
        "exec-not-found",
        _c(
            r"exec: \\?\"(?P<cmd>[^\"\\]+)\\?\": executable file not found in \$PATH",
            r"^exec (?P<cmd>/\S+): no such file or directory",
        ),
        _exec_missing,
        exec_failure=True,
        keywords=("executable file not found", "no such file or directory"),
    ),
    Signature(
        "exec-permission",
        _c(r"exec:? \\?\"?(?P<path>/?[\w./-]+)\\?\"?: permission denied"),
        _exec_perm,
        exec_failure=True,
        keywords=("permission denied",),
    ),
    Signature(
        "shell-not-found",
        _c(
            _SH + r"(?:command )?not found",
            r"^env: ['‘](?P<cmd>[^'’]+)['’]: No such file or directory",
            _SH + r"No such file or directory",
        ),
        _shell_missing,
        keywords=("not found", "no such file or directory"),
    ),
    Signature(
        "missing-env",
        _c(
            rf"{_ENV_NOUN}s?[ \t:]+[\"'`$]?(?P<var>{_VAR})[\"'`]?[ \t]+(?:is[ \t]+)?{_ENV_WORDS}",
            rf"[\"'`]?(?P<var>{_VAR})[\"'`]?[ \t]+{_ENV_NOUN}[ \t]+(?:is[ \t]+)?{_ENV_WORDS}",
            rf"(?i:missing|undefined|unset)[ \t]+(?i:required[ \t]+)?{_ENV_NOUN}s?[ \t:]+"
            rf"[\"'`]?(?P<var>{_VAR})",
            rf"required key (?P<var>{_VAR}) missing value",
            rf"(?i:no value (?:set )?for (?:{_ENV_NOUN}|required variable))[ \t:]+[\"'`]?(?P<var>{_VAR})",
            rf"^KeyError: '(?P<var>{_VAR})'",
            r"^(?P<upper>(?P<var>[A-Za-z_][A-Za-z0-9_]*))\r?\n[ \t]+Field required \[type=missing",
        ),
        _missing_env,
        keywords=("env var", "environment var", "required key", "keyerror:", "field required", "no value"),
    ),
    Signature(
        "missing-config-key",
        _c(
            r"couldn't find key (?P<key>\S+) in ConfigMap [^/\s]+/(?P<cm>[\w.-]+)",
            r"(?i:config(?:uration)?|setting)[ \t]+(?:key|option|value|entry)[ \t]+"
            r"[\"'`]?(?P<key>[\w.-]+)[\"'`]?[ \t]+(?:is[ \t]+)?"
            r"(?:not found|missing|required|not set|undefined)",
            r"(?i:missing)[ \t]+(?:required[ \t]+)?(?i:config(?:uration)?)[ \t]+(?:key|value|option|entry)s?"
            r"[ \t:]+[\"'`]?(?P<key>[\w.-]+)",
            r"Could not resolve placeholder '(?P<key>[^']+)'",
        ),
        _missing_key,
        keywords=("couldn't find key", "config", "setting", "could not resolve placeholder"),
    ),
    Signature(
        "dns",
        _c(
            r"getaddrinfo (?:ENOTFOUND|EAI_AGAIN) (?P<host>[\w.-]+)",
            r"dial tcp: lookup (?P<host>[\w.-]+)(?: on [\d.:\[\]a-f]+)?: "
            r"(?:no such host|server misbehaving|i/o timeout)",
            r"could not translate host name \"(?P<host>[^\"]+)\" to address",
            r"UnknownHostException: (?P<host>[\w.-]+)",
            r"connecting to (?P<host>[\w.-]+):(?P<port>\d+)\. " + _DNS_WORDS,
            r"Unknown MySQL server host '(?P<host>[^']+)'",
            _DNS_WORDS,
        ),
        _dns,
        keywords=(
            "getaddrinfo",
            "lookup ",
            "could not translate host",
            "unknownhost",
            "name or service not known",
            "name resolution",
            "unknown mysql server host",
            "nodename nor servname",
        ),
    ),
    Signature(
        "refused",
        _c(
            r"dial tcp (?P<host>[\w.-]+|\[[0-9a-fA-F:]+\]):(?P<port>\d+): connect: connection refused",
            r"connect ECONNREFUSED (?P<host>\S+?):(?P<port>\d+)\b",
            r"Error 111 connecting to (?P<host>[\w.-]+):(?P<port>\d+)\. Connection refused",
            r"connection to server at \"(?P<host>[^\"]+)\"(?: \([^)]*\))?, port (?P<port>\d+) "
            r"failed: Connection refused",
            r"Is the server running on host \"(?P<host>[^\"]+)\"[^\n]*? port (?P<port>\d+)",
            r"Can't connect to MySQL server on '(?P<host>[^']+)'(?::(?P<port>\d+))? \(111",
            r"Connection refused(?: \(Connection refused\))?: (?:[\w.-]+/)?(?P<host>[\w.-]+):(?P<port>\d+)",
            r"(?i:connection refused)",
            r"ECONNREFUSED",
        ),
        _refused,
        keywords=("refused", "is the server running"),
    ),
    Signature(
        "address-in-use",
        _c(
            r"listen tcp [^\s]*:(?P<port>\d+): bind: address already in use",
            r"EADDRINUSE: address already in use \S*?:(?P<port>\d+)",
            r"error while attempting to bind on address \('[^']*', (?P<port>\d+)\)",
            r"(?i:address already in use)",
            r"EADDRINUSE",
        ),
        _addr_in_use,
        keywords=("address already in use", "eaddrinuse", "attempting to bind"),
    ),
    Signature(
        "permission",
        _c(
            r"PermissionError: \[Errno 13\] Permission denied: '(?P<path>[^']+)'",
            r"EACCES: permission denied, \w+ '(?P<path>[^']+)'",
            r"open (?P<path>/\S+): permission denied",
            r"(?P<path>/[\w./-]+): Permission denied",
            r"(?i:permission denied)",
        ),
        _perm,
        keywords=("permission denied", "eacces"),
    ),
    Signature(
        "migration",
        _c(
            r"alembic\.util\.exc\.CommandError: (?P<msg>[^\r\n]+)",
            r"django\.db\.migrations\.exceptions\.\w+: (?P<msg>[^\r\n]+)",
            r"(?:org\.flywaydb\.core\.api\.)?FlywayException: (?P<msg>[^\r\n]+)",
            r"liquibase\.exception\.\w+: (?P<msg>[^\r\n]+)",
            r"(?P<msg>migrate found failed migrations[^\r\n]*)",
            r"(?P<msg>Dirty database version \d+[^\r\n]*)",
            r"(?i:(?P<msg>migration[^\r\n]{0,120}?\bfailed\b[^\r\n]*))",
        ),
        _migration,
        keywords=("alembic", "django.db.migrations", "flyway", "liquibase", "migrat", "dirty database"),
    ),
    Signature(
        "java-fatal",
        _c(
            r"^Caused by: (?P<exc>[\w.$]+(?:Exception|Error))(?:: (?P<msg>[^\r\n]*))?",
            r"Exception in thread \"[^\"]+\" (?P<exc>[\w.$]+)(?:: (?P<msg>[^\r\n]*))?",
        ),
        _fatal("Java"),
        keywords=("caused by: ", "exception in thread"),
    ),
    Signature(
        "python-fatal",
        _c(
            r"^(?P<exc>[A-Za-z_][\w.]*(?:Error|Exception|Exit|Failure|Interrupt))"
            r"(?:: (?P<msg>[^\r\n]*))?\r?$",
        ),
        _fatal("Python"),
        requires=re.compile(r"Traceback \(most recent call last\):"),
        keywords=("traceback (most recent call last)",),
    ),
    Signature(
        "go-fatal",
        _c(
            r"^panic: (?P<msg>[^\r\n]+)",
            r"^fatal error: (?P<msg>[^\r\n]+)",
            r"level=fatal msg=\"(?P<msg>(?:[^\"\\]|\\.)*)\"",
            r"\"level\":\"fatal\"[^\r\n]*?\"msg\":\"(?P<msg>(?:[^\"\\]|\\.)*)\"",
        ),
        _fatal("Go"),
        keywords=("panic: ", "fatal error: ", "level=fatal", '"level":"fatal"'),
    ),
    Signature(
        "node-fatal",
        _c(
            r"^(?P<exc>(?:[A-Z]\w*)?Error(?: \[[A-Z_]+\])?): (?P<msg>[^\r\n]+)",
            r"(?P<exc>UnhandledPromiseRejection\w*):? (?P<msg>[^\r\n]+)",
        ),
        _fatal("Node.js"),
        requires=re.compile(r"node:internal|    at |throw |UnhandledPromiseRejection"),
        keywords=("error",),
    ),
    Signature(
        "rust-fatal",
        _c(r"thread '[^']+' panicked at (?P<msg>[^\r\n]+)"),
        _fatal("Rust"),
        keywords=("panicked at",),
    ),
    Signature(
        "generic-fatal",
        _c(r"^(?:\S+ )?(?:\[?FATAL\]?|CRITICAL)[:\s]+(?P<msg>[^\r\n]+)"),
        _fatal("application"),
        keywords=("fatal", "critical"),
    ),
)


def _line_at(text: str, pos: int) -> str:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    line = text[start : end if end >= 0 else len(text)].strip()
    return line if len(line) <= MAX_LINE else line[: MAX_LINE - 1] + "…"


def _last_match(sig: Signature, text: str) -> re.Match[str] | None:
    """The most informative match of a signature: the first pattern that matches, at its last place."""
    for pat in sig.patterns:
        tail = deque(pat.finditer(text), maxlen=1)
        if tail:
            return tail[0]
    return None


def _to_cause(sig: Signature, m: re.Match[str], text: str) -> LogCause:
    groups = {k: v for k, v in m.groupdict().items() if v is not None}
    cause, line_text = sig.build(groups)
    return LogCause(
        cause=cause,
        text=line_text,
        line=_line_at(text, m.start()),
        signature=sig.name,
        exec_failure=sig.exec_failure,
    )


def scan(text: str | None) -> list[LogCause]:
    """Every signature that matches, most causal first (one entry per signature)."""
    if not text:
        return []
    lowered = text.lower()
    out: list[LogCause] = []
    for sig in SIGNATURES:
        if not sig.may_match(lowered):
            continue
        if sig.requires is not None and sig.requires.search(text) is None:
            continue
        m = _last_match(sig, text)
        if m is not None:
            out.append(_to_cause(sig, m, text))
    return out


def explain(text: str | None) -> LogCause | None:
    """The most causal signature found in a log (or a termination message), else None."""
    if not text:
        return None
    lowered = text.lower()
    for sig in SIGNATURES:
        if not sig.may_match(lowered):
            continue
        if sig.requires is not None and sig.requires.search(text) is None:
            continue
        m = _last_match(sig, text)
        if m is not None:
            return _to_cause(sig, m, text)
    return None
