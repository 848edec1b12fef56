"""Log root-cause signatures: real log shapes of Python, Java, Go and Node programs → one cause."""

from __future__ import annotations

from typing import Any

import pytest

from aiops.diagnose.logsigs import SIGNATURES, explain, scan

PY_ENV = """\
Traceback (most recent call last):
  File "/app/main.py", line 5, in <module>
    REDIS_URL = os.environ["REDIS_URL"]
                ~~~~~~~~~~^^^^^^^^^^^^^
  File "<frozen os>", line 679, in __getitem__
KeyError: 'REDIS_URL'
"""

PY_REFUSED = """\
INFO:     Started server process [1]
INFO:     Waiting for application startup.
Traceback (most recent call last):
  File "/usr/local/lib/python3.12/site-packages/redis/connection.py", line 357, in connect
    sock = self.retry.call_with_retry(
ConnectionRefusedError: [Errno 111] Connection refused
redis.exceptions.ConnectionError: Error 111 connecting to redis:6379. Connection refused.
ERROR:    Application startup failed. Exiting.
"""

PG_REFUSED = (
    'sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) connection to server at "postgres" '
    "(10.96.14.2), port 5432 failed: Connection refused\n"
    "\tIs the server running on that host and accepting TCP/IP connections?\n"
)

NODE_REFUSED = """\
node:internal/process/promises:289
            triggerUncaughtException(err, true /* fromPromise */);
            ^

Error: connect ECONNREFUSED 10.96.120.7:27017
    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16) {
  errno: -111,
  code: 'ECONNREFUSED',
}
"""

GO_DNS = (
    '{"level":"error","ts":1732528800.1,"msg":"connect failed",'
    '"error":"dial tcp: lookup redis-master on 10.96.0.10:53: no such host"}\n'
)

JAVA_OOM = """\
2026-11-25 09:58:01.123  INFO 1 --- [main] o.s.b.w.embedded.tomcat.TomcatWebServer : Tomcat started
Exception in thread "http-nio-8080-exec-7" java.lang.OutOfMemoryError: Java heap space
\tat java.base/java.util.Arrays.copyOf(Arrays.java:3537)
"""

NODE_OOM = """\
<--- Last few GCs --->
[1:0x5d4f0a0]   183411 ms: Mark-Compact 2041.2 (2083.5) -> 2040.1 (2083.7) MB
<--- JS stacktrace --->
FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory
 1: 0xb7e6c0 node::Abort() [node]
"""

GO_OOM = "fatal error: runtime: out of memory\n\nruntime stack:\nruntime.throw({0x9a3b1c, 0x16})\n"

SPRING_FATAL = """\
***************************
APPLICATION FAILED TO START
***************************
Exception in thread "main" org.springframework.beans.factory.BeanCreationException: Error creating bean
Caused by: java.lang.IllegalStateException: Failed to load ApplicationContext
Caused by: java.net.UnknownHostException: mysql.todo.svc
"""


CASES: list[tuple[str, str, str, dict[str, Any]]] = [
    ("python KeyError on os.environ", PY_ENV, "missing-env", {"var": "REDIS_URL"}),
    (
        "explicit message",
        "Error: environment variable OPENAI_API_KEY is not set\n",
        "missing-env",
        {"var": "OPENAI_API_KEY"},
    ),
    (
        "reverse wording",
        "FATAL: DATABASE_URL environment variable is required\n",
        "missing-env",
        {"var": "DATABASE_URL"},
    ),
    ("go envconfig", "envconfig: required key PORT missing value\n", "missing-env", {"var": "PORT"}),
    (
        "pydantic-settings",
        "1 validation error for Settings\ndatabase_url\n  Field required [type=missing, "
        "input_value={}, input_type=dict]\n",
        "missing-env",
        {"var": "DATABASE_URL"},
    ),
    ("config key", 'panic: config key "redis.url" not found\n', "missing-config-key", {"key": "redis.url"}),
    (
        "spring placeholder",
        "Could not resolve placeholder 'app.jwt.secret' in value \"${app.jwt.secret}\"\n",
        "missing-config-key",
        {"key": "app.jwt.secret"},
    ),
    ("redis refused", PY_REFUSED, "dependency-refused", {"host": "redis", "port": 6379}),
    ("postgres refused", PG_REFUSED, "dependency-refused", {"host": "postgres", "port": 5432}),
    ("node refused", NODE_REFUSED, "dependency-refused", {"host": "10.96.120.7", "port": 27017}),
    (
        "go refused",
        "2026/11/25 09:59:59 dial tcp 10.96.3.3:5432: connect: connection refused\n",
        "dependency-refused",
        {"host": "10.96.3.3", "port": 5432},
    ),
    ("go dns", GO_DNS, "dependency-dns", {"host": "redis-master"}),
    (
        "node dns",
        "Error: getaddrinfo ENOTFOUND mongo\n    at GetAddrInfoReqWrap.onlookup (node:dns:107:26)\n",
        "dependency-dns",
        {"host": "mongo"},
    ),
    (
        "postgres dns",
        'psql: error: could not translate host name "db" to address: Name or service not known\n',
        "dependency-dns",
        {"host": "db"},
    ),
    ("java dns beats the generic fatal line", SPRING_FATAL, "dependency-dns", {"host": "mysql.todo.svc"}),
    ("go bind", "listen tcp :8080: bind: address already in use\n", "address-in-use", {"port": 8080}),
    (
        "node bind",
        "Error: listen EADDRINUSE: address already in use :::3000\n",
        "address-in-use",
        {"port": 3000},
    ),
    (
        "python perm",
        "PermissionError: [Errno 13] Permission denied: '/data/todo.db'\n",
        "permission-denied",
        {"path": "/data/todo.db"},
    ),
    (
        "node perm",
        "Error: EACCES: permission denied, mkdir '/app/.cache'\n",
        "permission-denied",
        {"path": "/app/.cache"},
    ),
    (
        "exec format",
        "exec /usr/local/bin/server: exec format error\n",
        "exec-format",
        {"path": "/usr/local/bin/server"},
    ),
    (
        "runc not found",
        'exec: "gunicorn": executable file not found in $PATH: unknown',
        "exec-not-found",
        {"command": "gunicorn"},
    ),
    (
        "shell not found",
        "/bin/sh: 1: uvicorn: not found\n",
        "exec-not-found",
        {"command": "uvicorn", "shell": True},
    ),
    ("java heap", JAVA_OOM, "oom-runtime-heap", {"runtime": "java", "kind": "Java heap space"}),
    ("node heap", NODE_OOM, "oom-runtime-heap", {"runtime": "node"}),
    ("go oom", GO_OOM, "oom-runtime-heap", {"runtime": "go", "kind": "runtime: out of memory"}),
    (
        "alembic",
        "alembic.util.exc.CommandError: Can't locate revision identified by 'ae10'\n",
        "migration-failed",
        {"message": "Can't locate revision identified by 'ae10'"},
    ),
    (
        "golang-migrate",
        "error: Dirty database version 20241101. Fix and force version.\n",
        "migration-failed",
        {"message": "Dirty database version 20241101. Fix and force version."},
    ),
    (
        "python fatal",
        "Traceback (most recent call last):\n  File \"/app/x.py\", line 1\nValueError: bad port 'x'\n",
        "app-fatal",
        {"runtime": "Python", "exception": "ValueError", "message": "bad port 'x'"},
    ),
    (
        "go panic",
        "panic: runtime error: index out of range [3] with length 3\n\ngoroutine 1 [running]:\n",
        "app-fatal",
        {"runtime": "Go", "message": "runtime error: index out of range [3] with length 3"},
    ),
    (
        "logrus fatal",
        'time="2026-11-25T09:59:00Z" level=fatal msg="invalid TLS certificate"\n',
        "app-fatal",
        {"runtime": "Go", "message": "invalid TLS certificate"},
    ),
    (
        "node fatal",
        "/app/server.js:12\n    throw new TypeError('port must be a number');\n    ^\n\n"
        "TypeError: port must be a number\n    at Object.<anonymous> (/app/server.js:12:11)\n",
        "app-fatal",
        {"runtime": "Node.js", "exception": "TypeError", "message": "port must be a number"},
    ),
    (
        "java fatal",
        'Exception in thread "main" java.lang.IllegalArgumentException: bad config\n',
        "app-fatal",
        {"runtime": "Java", "exception": "java.lang.IllegalArgumentException", "message": "bad config"},
    ),
]


@pytest.mark.parametrize(("label", "log", "cause_type", "detail"), CASES, ids=[c[0] for c in CASES])
def test_signature(label: str, log: str, cause_type: str, detail: dict[str, Any]) -> None:
    found = explain(log)
    assert found is not None, label
    assert found.cause.type == cause_type
    for key, value in detail.items():
        assert found.cause.detail.get(key) == value, (key, found.cause.detail)
    assert found.line in log.replace("\t", "").splitlines() or found.line in [
        ln.strip() for ln in log.splitlines()
    ]
    assert found.text and "\n" not in found.text


@pytest.mark.parametrize(
    "log",
    [
        "",
        "INFO  Started TodoApplication in 3.2 seconds\nGET /api/todos 200 12ms\n",
        'level=info msg="listening on :8080"\n',
        "KeyError: 'user_id'\n",  # lower-case key: not an environment variable, no traceback → nothing
    ],
)
def test_clean_logs_have_no_cause(log: str) -> None:
    assert explain(log) is None


def test_exec_failures_are_flagged_and_shell_misses_are_not() -> None:
    fmt = explain("exec /app/server: exec format error")
    sh = explain("sh: 1: gunicorn: not found")
    assert fmt is not None and fmt.exec_failure
    assert sh is not None and not sh.exec_failure  # exit 127 from a shell is an application exit


def test_most_causal_signature_wins_and_scan_lists_all() -> None:
    found = explain(PY_REFUSED)
    assert found is not None and found.signature == "refused"  # not the Python traceback's last line
    names = [c.signature for c in scan(PY_REFUSED)]
    assert names[0] == "refused" and "python-fatal" in names


def test_last_occurrence_is_quoted() -> None:
    log = "dial tcp 10.0.0.1:5432: connect: connection refused\n" * 3 + (
        "dial tcp 10.0.0.2:6379: connect: connection refused\n"
    )
    found = explain(log)
    assert found is not None and found.cause.detail == {"host": "10.0.0.2", "port": 6379}


def test_long_lines_are_clipped() -> None:
    found = explain("panic: " + "x" * 5000)
    assert found is not None and len(found.line) <= 240


def test_signatures_are_precompiled_and_named_uniquely() -> None:
    names = [s.name for s in SIGNATURES]
    assert len(names) == len(set(names))
    assert all(hasattr(p, "finditer") for s in SIGNATURES for p in s.patterns)
    # every signature has a lower-case keyword pre-check, so most logs never run most patterns
    assert all(s.keywords and all(k == k.lower() for k in s.keywords) for s in SIGNATURES)


def test_generic_fatal_line() -> None:
    found = explain("INFO x\nFATAL could not connect to database postgres.data.svc:5432\n")
    assert found is not None and found.cause.type == "app-fatal"
    assert (
        found.text == "the program logs a fatal error: could not connect to database postgres.data.svc:5432"
    )
