"""Usage files (DESIGN §4.3): Prometheus query_range matrix JSON → ContainerSeries, and bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from aiops.errors import InputError
from aiops.metrics import load_usage, parse_usage_spec, read_usage_dir
from aiops.metrics.promfile import (
    _parse_fast,
    _parse_plain,
    dump_matrix,
    format_value,
    merge_series,
    parse_matrix,
    read_matrix_file,
)
from aiops.model.usage import ContainerSeries
from aiops.settings import Settings

T0 = 1_764_000_000  # 2025-11-24T16:00:00Z


def matrix(result: list[dict[str, Any]]) -> dict[str, Any]:
    return {"status": "success", "data": {"resultType": "matrix", "result": result}}


def entry(
    pod: str, values: list[list[Any]], *, ns: str = "todo", container: str = "backend"
) -> dict[str, Any]:
    return {"metric": {"namespace": ns, "pod": pod, "container": container}, "values": values}


def write(path: Path, doc: Any, *, indent: int | None = None) -> str:
    path.write_text(json.dumps(doc, indent=indent) if not isinstance(doc, str) else doc, encoding="utf-8")
    return str(path)


def by_pod(series: list[ContainerSeries]) -> dict[str, ContainerSeries]:
    return {s.pod: s for s in series}


MIXED = matrix(
    [
        entry("todo-backend-7c9f6d5b8-4kq2z", [[T0, "0.093"], [T0 + 60, "0.101"], [T0 + 120, "0.5"]]),
        entry(
            "todo-backend-7c9f6d5b8-x8d2p",
            [[T0, "NaN"], [T0 + 60, "+Inf"], [T0 + 120, "-Inf"], [T0 + 180, "-0.2"]],
        ),
        entry("ghost-pod-that-is-gone", [[T0 + 0.5, "1e-05"]], ns="elsewhere", container="app"),
        entry("todo-frontend-5d8f7-abcde", [], container="frontend"),
    ]
)


def test_reads_labels_times_and_values() -> None:
    series = parse_matrix(json.dumps(MIXED).encode(), resource="cpu", source="cpu.json")
    assert [s.pod for s in series] == [
        "todo-backend-7c9f6d5b8-4kq2z",
        "todo-backend-7c9f6d5b8-x8d2p",
        "ghost-pod-that-is-gone",
        "todo-frontend-5d8f7-abcde",
    ]
    first = series[0]
    assert (first.namespace, first.container, first.resource) == ("todo", "backend", "cpu")
    assert first.timestamps.tolist() == [T0, T0 + 60, T0 + 120]
    assert first.values.tolist() == [0.093, 0.101, 0.5]
    assert first.timestamps.dtype == np.float64 and first.values.flags["C_CONTIGUOUS"]


def test_bad_samples_are_data_not_errors() -> None:
    series = by_pod(parse_matrix(json.dumps(MIXED).encode(), resource="cpu", source="cpu.json"))
    odd = series["todo-backend-7c9f6d5b8-x8d2p"].values
    # NaN and ±Inf carry no usage: all become NaN; a negative value is kept for the engine to filter
    assert [math.isnan(v) for v in odd[:3]] == [True, True, True]
    assert odd[3] == -0.2
    ghost = series["ghost-pod-that-is-gone"]
    assert (ghost.namespace, ghost.timestamps.tolist(), ghost.values.tolist()) == (
        "elsewhere",
        [T0 + 0.5],
        [1e-05],
    )
    assert len(series["todo-frontend-5d8f7-abcde"]) == 0


def test_fast_and_plain_paths_agree_and_pretty_printed_files_work(tmp_path: Path) -> None:
    compact = json.dumps(MIXED, separators=(",", ":")).encode()  # what Prometheus and curl give
    fast = _parse_fast(compact, "memory", "m.json")
    spaced = _parse_fast(json.dumps(MIXED).encode(), "memory", "m.json")  # json.dumps' ", " and ": "
    plain = _parse_plain(compact, "memory", "m.json")
    pretty = read_matrix_file(write(tmp_path / "pretty.json", MIXED, indent=2), resource="memory")
    for a, b, c, d in zip(fast, plain, pretty, spaced, strict=True):
        assert (a.pod, a.container) == (b.pod, b.container) == (c.pod, c.container) == (d.pod, d.container)
        for other in (b, c, d):
            assert np.array_equal(a.timestamps, other.timestamps)
            assert np.array_equal(a.values, other.values, equal_nan=True)


def test_data_object_alone_and_empty_results_are_accepted() -> None:
    only_data = json.dumps(MIXED["data"]).encode()
    assert len(parse_matrix(only_data, resource="cpu", source="x")) == 4
    empty = json.dumps(matrix([])).encode()
    assert parse_matrix(empty, resource="cpu", source="x") == []
    no_result = json.dumps({"status": "success", "data": {"resultType": "matrix", "result": None}}).encode()
    assert parse_matrix(no_result, resource="cpu", source="x") == []


def test_unsorted_and_duplicate_samples_are_sorted_keeping_the_maximum() -> None:
    doc = matrix([entry("p", [[T0 + 120, "3"], [T0, "1"], [T0 + 60, "2"], [T0 + 60, "5"], [T0, "NaN"]])])
    (s,) = parse_matrix(json.dumps(doc).encode(), resource="memory", source="x")
    assert s.timestamps.tolist() == [T0, T0 + 60, T0 + 120]
    assert s.values.tolist() == [1.0, 5.0, 3.0]


def test_series_split_over_files_are_merged() -> None:
    a = parse_matrix(
        json.dumps(matrix([entry("p", [[T0, "1"], [T0 + 60, "2"]])])).encode(), resource="cpu", source="a"
    )
    b = parse_matrix(
        json.dumps(matrix([entry("p", [[T0 + 60, "4"], [T0 + 120, "3"]]), entry("q", [[T0, "9"]])])).encode(),
        resource="cpu",
        source="b",
    )
    merged = by_pod(merge_series(a + b))
    assert merged["p"].timestamps.tolist() == [T0, T0 + 60, T0 + 120]
    assert merged["p"].values.tolist() == [1.0, 4.0, 3.0]
    assert merged["q"].values.tolist() == [9.0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("this is not json", "not JSON"),
        ('{"status": "success", "data": {"resultType": "vector", "result": []}}', "resultType is 'vector'"),
        ('{"status": "error", "errorType": "bad_data", "error": "parse error"}', "error response"),
        ('{"kind": "List", "items": []}', "not a Prometheus query_range response"),
        ("[1, 2, 3]", "top level is not an object"),
        (json.dumps(matrix([entry("p", [[T0, "1", 3]])])), "not a list of [time, value] pairs"),
        (
            json.dumps(matrix([entry("p", [[T0], [T0 + 60, "2", "3", "4"]])])),
            "not a list of [time, value] pairs",
        ),
        (
            json.dumps(matrix([entry("p", [[T0, "1", T0 + 60, "2"], []])])),
            "not a list of [time, value] pairs",
        ),
        (json.dumps(matrix([entry("p", [[T0, "abc"]])])), "not a list of [time, value] pairs"),
        (json.dumps(matrix([entry("p", [[None, "1"]])])), "time that is not a number"),
        (json.dumps(matrix([entry("p", {"a": 1})])), "values is not a list"),
        (json.dumps(matrix(["x"])), "result[0] is not an object"),
        (json.dumps(matrix([{"metric": "x", "values": []}])), "metric is not an object"),
    ],
)
def test_what_is_not_a_matrix_is_an_input_error_naming_the_file(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path / "usage-cpu.json", text)
    with pytest.raises(InputError) as err:
        load_usage([f"cpu={path}"], None, None, Settings(), ["todo"], None, None)
    assert path in err.value.message
    assert expected in err.value.message
    assert err.value.exit_code == 2
    assert "\n" not in err.value.one_line()


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("usage.json", "the kind is missing"),
        ("disk=usage.json", "unknown kind 'disk'"),
        ("cpu=", "the kind is missing"),
    ],
)
def test_usage_spec_needs_a_known_kind(spec: str, expected: str) -> None:
    with pytest.raises(InputError) as err:
        parse_usage_spec(spec)
    assert expected in err.value.message
    assert spec in err.value.message


def test_spec_errors_come_before_reading_any_file(tmp_path: Path) -> None:
    good = write(tmp_path / "cpu.json", MIXED)
    with pytest.raises(InputError, match=r"mem\.json"):
        load_usage([f"cpu={good}", "mem.json"], None, None, Settings(), [], None, None)


def test_missing_file_and_directory_given_as_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.json: cannot read usage file"):
        load_usage([f"memory={tmp_path / 'nope.json'}"], None, None, Settings(), [], None, None)
    with pytest.raises(InputError, match="is a directory"):
        load_usage([f"memory={tmp_path}"], None, None, Settings(), [], None, None)


def test_load_usage_reads_both_kinds_and_records_the_window(tmp_path: Path) -> None:
    cpu = write(tmp_path / "cpu.json", matrix([entry("p", [[T0, "0.1"], [T0 + 60, "0.2"]])]))
    mem = write(tmp_path / "mem.json", matrix([entry("p", [[T0, "134217728"]])]))
    from datetime import UTC, datetime

    end = datetime(2025, 11, 25, tzinfo=UTC)
    data = load_usage([f"cpu={cpu}", f"memory={mem}"], None, None, Settings(), ["todo"], None, end)
    assert [(s.resource, s.pod, len(s)) for s in data.series] == [("cpu", "p", 2), ("memory", "p", 1)]
    assert next(iter(data.for_resource("memory"))).values.tolist() == [134217728.0]
    assert data.end == end and data.start is not None and (end - data.start).days == 14
    assert data.errors == {}
    assert data.sources == (f"file cpu={cpu}", f"file memory={mem}")


def test_load_usage_accepts_the_pipelines_keyword_names(tmp_path: Path) -> None:
    cpu = write(tmp_path / "cpu.json", matrix([entry("p", [[T0, "0.1"]])]))
    data = load_usage(
        files=[("cpu", cpu)], usage_dir=None, prometheus=None, settings=Settings(), namespaces=[]
    )
    assert [s.pod for s in data.series] == ["p"]


def test_nothing_given_is_empty_usage_not_an_error() -> None:
    data = load_usage([], None, None, Settings(), ["todo"], None, None)
    assert data.series == () and data.errors == {}


def test_usage_dir(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such directory"):
        read_usage_dir(str(tmp_path / "missing"))
    with pytest.raises(InputError, match=r"neither cpu\.json nor memory\.json") as err:
        read_usage_dir(str(tmp_path))
    assert err.value.hint and "aiops collect" in err.value.hint
    write(tmp_path / "memory.json", matrix([entry("p", [[T0, "1000"]])]))
    series = read_usage_dir(str(tmp_path))
    assert [(s.resource, s.values.tolist()) for s in series] == [("memory", [1000.0])]
    write(tmp_path / "cpu.json", "{broken")
    with pytest.raises(InputError, match=r"cpu\.json: not JSON"):
        read_usage_dir(str(tmp_path))


def test_dump_matrix_round_trips_in_prometheus_notation() -> None:
    s = ContainerSeries(
        namespace="todo",
        pod="p",
        container="c",
        resource="memory",
        timestamps=np.array([T0, T0 + 60.25, T0 + 120]),
        values=np.array([131936256.0, 0.093542117, float("nan")]),
    )
    raw = dump_matrix([s])
    doc = json.loads(raw)
    assert doc["data"]["result"][0]["values"] == [
        [T0, "131936256"],
        [T0 + 60.25, "0.093542117"],
        [T0 + 120, "NaN"],
    ]
    (back,) = parse_matrix(raw, resource="memory", source="x")
    assert np.array_equal(back.values, s.values, equal_nan=True)
    assert back.timestamps.tolist() == s.timestamps.tolist()


def test_format_value() -> None:
    assert [format_value(v) for v in (1e-05, 2.5e20, float("inf"), float("-inf"), -3.0)] == [
        "0.00001",
        "250000000000000000000",
        "+Inf",
        "-Inf",
        "-3",
    ]


def test_cli_bad_usage_file_exits_2_naming_it(
    tmp_path: Path, sample_files: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    from aiops.cli import main

    bad = write(tmp_path / "usage.json", matrix([entry("p", [[T0, "1", "2"]])]))
    for spec in (f"cpu={bad}", bad):
        with pytest.raises(SystemExit) as exit_:
            main(["recommend", "--snapshot", sample_files[0], "--usage", spec, "-o", "json"])
        assert exit_.value.code == 2
        err = capsys.readouterr().err.strip()
        assert bad in err and err.count("\n") == 0 and "Traceback" not in err
