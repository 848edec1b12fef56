"""Live Prometheus source (DESIGN §4.3, §4.7) against `responses`: queries, chunking, auth, failures."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from aiops.errors import InputError, UnreachableError
from aiops.metrics import load_usage
from aiops.metrics.prometheus import MAX_POINTS, PrometheusSource, chunks, default_step
from aiops.settings import Prometheus, Settings, settings_from_dict

URL = "http://prometheus.monitoring:9090"
QR = f"{URL}/api/v1/query_range"
END = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
START = END - timedelta(days=14)


def params(call: Any) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


def matrix_callback(request: Any) -> tuple[int, dict[str, str], str]:
    """Answer like Prometheus: one sample per step from start to end, for one pod per namespace."""
    import json

    q = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
    start, end, step = float(q["start"]), float(q["end"]), float(q["step"])
    assert (end - start) / step <= MAX_POINTS, "Prometheus would answer 400: exceeded maximum resolution"
    ns = q["query"].split('namespace="')[1].split('"')[0] if 'namespace="' in q["query"] else "any"
    value = "0.25" if "cpu" in q["query"] else "157286400"
    n = int((end - start) // step) + 1
    values = [[start + i * step, value] for i in range(n)]
    body = {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [
                {"metric": {"namespace": ns, "pod": f"{ns}-pod-1", "container": "app"}, "values": values}
            ],
        },
    }
    return 200, {"Content-Type": "application/json"}, json.dumps(body)


def source(**kwargs: Any) -> PrometheusSource:
    kwargs.setdefault("backoff_factor", 0)
    return PrometheusSource(URL, **kwargs)


def test_step_and_chunks_stay_under_the_resolution_limit() -> None:
    t0, t1 = START.timestamp(), END.timestamp()
    assert default_step(t0, t1) == 110  # 14 days / 11,000, rounded up; never below 60 s
    assert default_step(t0, t0 + 3600) == 60
    pieces = chunks(t0, t1, 60)
    assert len(pieces) == 2
    assert pieces[0][0] == t0 and pieces[-1][1] == t1
    assert pieces[1][0] == pieces[0][1] + 60  # no point fetched twice
    assert all((e - s) / 60 + 1 <= MAX_POINTS for s, e in pieces)
    assert chunks(t1, t0, 60) == []


@responses.activate
def test_queries_per_namespace_and_resource_with_the_documented_promql() -> None:
    responses.add_callback(responses.GET, QR, callback=matrix_callback)
    data = source().fetch(["todo", "shop"], START, END)
    queries = [params(c)["query"] for c in responses.calls]
    assert queries == [
        'max by (namespace, pod, container) (rate(container_cpu_usage_seconds_total{namespace="todo",'
        'container!="",container!="POD"}[5m]))',
        'max by (namespace, pod, container) (container_memory_working_set_bytes{namespace="todo",'
        'container!="",container!="POD"})',
        'max by (namespace, pod, container) (rate(container_cpu_usage_seconds_total{namespace="shop",'
        'container!="",container!="POD"}[5m]))',
        'max by (namespace, pod, container) (container_memory_working_set_bytes{namespace="shop",'
        'container!="",container!="POD"})',
    ]
    assert {params(c)["step"] for c in responses.calls} == {"110"}
    assert params(responses.calls[0])["start"] == str(int(START.timestamp()))
    assert [(s.namespace, s.resource) for s in data.series] == [
        ("todo", "cpu"),
        ("todo", "memory"),
        ("shop", "cpu"),
        ("shop", "memory"),
    ]
    assert data.series[1].values[0] == 157286400.0
    assert data.errors == {} and data.sources == (f"prometheus {URL}",)
    assert responses.calls[0].request.headers["Accept"] == "application/json"
    assert "Authorization" not in responses.calls[0].request.headers


@responses.activate
def test_a_60s_step_over_14_days_is_fetched_in_chunks_and_joined() -> None:
    responses.add_callback(responses.GET, QR, callback=matrix_callback)
    data = source(step=60).fetch(["todo"], START, END)
    assert len(responses.calls) == 4  # 2 chunks × (cpu, memory)
    cpu = next(data.for_resource("cpu"))
    expected = int((END - START).total_seconds() // 60) + 1
    assert len(cpu) == expected == 20161
    assert cpu.timestamps[0] == START.timestamp() and cpu.timestamps[-1] == END.timestamp()
    assert (cpu.timestamps[1:] - cpu.timestamps[:-1] == 60).all()


@responses.activate
def test_all_namespaces_has_no_namespace_matcher() -> None:
    responses.add_callback(responses.GET, QR, callback=matrix_callback)
    data = source().fetch([], START, START + timedelta(hours=1))
    assert all("namespace=" not in params(c)["query"] for c in responses.calls)
    assert {s.namespace for s in data.series} == {"any"}


@responses.activate
def test_bearer_token_from_the_named_env_var_and_ca_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    responses.add_callback(responses.GET, QR, callback=matrix_callback)
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    monkeypatch.setenv("PROM_TOKEN", "s3cret-token")
    settings = settings_from_dict({"prometheus": {"bearer_token_env": "PROM_TOKEN", "ca_file": str(ca)}})
    src = PrometheusSource.from_settings(URL, settings.prometheus, backoff_factor=0)
    assert src.session.verify == str(ca)
    src.fetch(["todo"], START, END)
    assert {c.request.headers["Authorization"] for c in responses.calls} == {"Bearer s3cret-token"}


def test_token_env_var_unset_or_ca_missing_is_bad_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROM_TOKEN", raising=False)
    with pytest.raises(InputError, match="bearer_token_env: environment variable PROM_TOKEN"):
        PrometheusSource.from_settings(URL, Prometheus(bearer_token_env="PROM_TOKEN"))
    with pytest.raises(InputError, match="ca_file") as err:
        PrometheusSource.from_settings(URL, Prometheus(ca_file=str(tmp_path / "nope.pem")))
    assert err.value.exit_code == 2


@responses.activate
def test_a_4xx_skips_that_namespace_only() -> None:
    responses.add(
        responses.GET,
        QR,
        status=400,
        json={"status": "error", "errorType": "bad_data", "error": "1:10: parse error: unexpected <by>"},
        match=[
            responses.matchers.query_param_matcher({"query": _query_containing("shop")}, strict_match=False)
        ],
    )
    responses.add_callback(responses.GET, QR, callback=matrix_callback)
    data = source().fetch(["shop", "todo"], START, END)
    assert set(data.errors) == {"shop/*"}
    reason = data.errors["shop/*"]
    assert "HTTP 400" in reason and "parse error" in reason and URL in reason
    assert "\n" not in reason
    # the memory query of shop answered: its data is kept, the error still skips shop's targets later
    assert [(s.namespace, s.resource) for s in data.series] == [
        ("shop", "memory"),
        ("todo", "cpu"),
        ("todo", "memory"),
    ]


def _query_containing(ns: str) -> str:
    return (
        'max by (namespace, pod, container) (rate(container_cpu_usage_seconds_total{namespace="'
        + ns
        + '",container!="",container!="POD"}[5m]))'
    )


@responses.activate
def test_403_is_recorded_for_every_query_of_the_namespace() -> None:
    responses.add(responses.GET, QR, status=403, body="forbidden")
    data = source().fetch(["todo"], START, END)
    assert list(data.errors) == ["todo/*"]
    assert data.errors["todo/*"].count("HTTP 403") == 2  # cpu and memory
    assert data.series == ()


@responses.activate
def test_5xx_is_retried_then_unreachable_exit_3() -> None:
    responses.add(responses.GET, QR, status=503, json={"status": "error", "error": "query timed out"})
    with pytest.raises(UnreachableError) as err:
        source(retries=3).fetch(["todo"], START, END)
    assert len(responses.calls) == 4  # the first try and three retries
    assert err.value.exit_code == 3
    assert URL in err.value.message and "503" in err.value.message


@responses.activate
def test_a_5xx_that_recovers_is_just_retried() -> None:
    responses.add(responses.GET, QR, status=502)
    responses.add_callback(responses.GET, QR, callback=matrix_callback)
    data = source().fetch(["todo"], START, END)
    assert len(data.series) == 2 and data.errors == {}


@responses.activate
def test_timeout_is_unreachable() -> None:
    responses.add(responses.GET, QR, body=requests.exceptions.ReadTimeout("read timed out"))
    with pytest.raises(UnreachableError, match="timed out") as err:
        source().fetch(["todo"], START, END)
    assert err.value.exit_code == 3


def test_connection_refused_is_unreachable_naming_the_url() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(UnreachableError) as err:
        PrometheusSource(url, retries=1, backoff_factor=0).fetch(["todo"], START, END)
    assert err.value.message == f"Prometheus {url} unreachable: connection refused"
    assert err.value.exit_code == 3


@responses.activate
def test_a_page_that_is_not_prometheus_is_bad_input() -> None:
    responses.add(responses.GET, QR, body="<html>Grafana</html>", content_type="text/html")
    with pytest.raises(InputError) as err:
        source().fetch(["todo"], START, END)
    assert URL in err.value.message and err.value.hint and "base URL" in err.value.hint


@responses.activate
def test_load_usage_uses_settings_url_only_without_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    responses.add_callback(responses.GET, QR, callback=matrix_callback)
    monkeypatch.setenv("TOKEN_FOR_PROM", "abc")
    settings = settings_from_dict({"prometheus": {"url": URL, "bearer_token_env": "TOKEN_FOR_PROM"}})
    data = load_usage([], None, None, settings, ["todo"], END - timedelta(hours=2), END)
    assert {s.resource for s in data.series} == {"cpu", "memory"}
    assert responses.calls[0].request.headers["Authorization"] == "Bearer abc"
    n = len(responses.calls)
    cpu = tmp_path / "cpu.json"
    cpu.write_text('{"status":"success","data":{"resultType":"matrix","result":[]}}', encoding="utf-8")
    load_usage([f"cpu={cpu}"], None, None, settings, ["todo"], None, END)
    assert len(responses.calls) == n  # a file was given: the configured Prometheus is not asked


@responses.activate
def test_cli_prometheus_unreachable_exits_3(
    sample_files: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    from aiops.cli import main

    responses.add(responses.GET, QR, body=requests.exceptions.ConnectionError("Connection refused"))
    with pytest.raises(SystemExit) as exit_:
        main(["recommend", "--snapshot", sample_files[0], "--prometheus", URL, "-o", "json"])
    assert exit_.value.code == 3
    err = capsys.readouterr().err.strip()
    assert URL in err and "connection refused" in err and "\n" not in err


def test_settings_default_is_no_prometheus() -> None:
    assert Settings().prometheus.url is None


@responses.activate
def test_cli_a_4xx_makes_the_targets_skipped_with_source_error(
    sample_files: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from aiops.cli import main

    responses.add(
        responses.GET,
        QR,
        status=403,
        json={"status": "error", "errorType": "forbidden", "error": "no access"},
    )
    with pytest.raises(SystemExit) as exit_:
        main(["recommend", "--snapshot", sample_files[0], "-n", "todo", "--prometheus", URL, "-o", "json"])
    assert exit_.value.code == 0
    out = json.loads(capsys.readouterr().out)
    rightsize = {s["target"]["name"]: s for s in out["skipped"] if s["kind"] == "rightsize"}
    assert rightsize["todo-frontend"]["cause"] == "source-error"
    assert "HTTP 403" in rightsize["todo-frontend"]["reason"]
    recommended = {r["target"]["name"] for r in out["recommendations"] if r["kind"] == "rightsize"}
    assert "todo-frontend" not in recommended
    # the backend's OOM fix stands without usage; one answer per key, never a recommendation and a skip
    assert "todo-backend" in recommended and "todo-backend" not in rightsize


def test_a_hung_prometheus_is_retried_once_then_unreachable(
    httpserver: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Real HTTP: a server that never answers in time; read timeouts get one retry, not three."""
    import threading

    from werkzeug import Response

    seen: list[str] = []
    release = threading.Event()

    def slow(request: Any) -> Response:
        seen.append(request.args["query"])
        release.wait(2)
        return Response("{}", content_type="application/json")

    httpserver.expect_request("/api/v1/query_range").respond_with_handler(slow)
    url = httpserver.url_for("/").rstrip("/")
    try:
        with pytest.raises(UnreachableError, match="timed out") as err:
            PrometheusSource(url, timeout=0.2, retries=3, backoff_factor=0).fetch(["todo"], START, END)
    finally:
        release.set()
    assert err.value.message.startswith(f"Prometheus {url} unreachable")
    assert seen  # it was asked (a single-threaded test server queues the retry behind the first)
    retries = [
        r for r in caplog.records if r.name.startswith("urllib3") and "Read timed out" in r.getMessage()
    ]
    assert len(retries) == 1
