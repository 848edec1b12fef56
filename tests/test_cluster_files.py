"""FileSource: kubectl List YAML/JSON, several files, logs, --at and the default judging time, bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from aiops.cluster.files import FileSource, parse_at
from aiops.errors import InputError
from aiops.model import newest_timestamp


def _pod(name: str, ns: str = "todo", started: str = "2026-11-25T10:00:00Z") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "uid": f"uid-{name}", "creationTimestamp": started},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]},
        "status": {"phase": "Running", "startTime": started},
    }


def _list(*items: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": list(items)}


def _write(tmp_path: Path, name: str, data: Any) -> str:
    p = tmp_path / name
    if name.endswith(".json"):
        p.write_text(json.dumps(data), encoding="utf-8")
    else:
        p.write_text(yaml.safe_dump(data), encoding="utf-8")
    return str(p)


def test_sample_yaml_reads_every_item_and_defaults_to_newest_timestamp(sample_files: tuple[str, str]) -> None:
    snap = FileSource(paths=(sample_files[0],), logs_path=sample_files[1]).read()
    raw = yaml.safe_load(Path(sample_files[0]).read_text(encoding="utf-8"))
    assert snap.count() == len(raw["items"]) == 47
    assert snap.at == newest_timestamp(snap.items) == datetime(2026, 11, 25, 10, 41, 58, tzinfo=UTC)
    # timestamps stay strings, as kubectl -o json would give them
    pod = snap.get("Pod", "todo", "todo-backend-7c9f6d5b8-4kq2z")
    assert pod is not None and isinstance(pod["metadata"]["creationTimestamp"], str)
    assert "OOMKilled" in json.dumps(pod["status"])
    assert snap.log(
        "todo",
        "todo-backend-7c9f6d5b8-4kq2z",
        "backend",
    ).startswith("INFO:")  # type: ignore[union-attr]
    assert {
        "Deployment",
        "ReplicaSet",
        "Pod",
        "Event",
        "Service",
        "Endpoints",
        "ConfigMap",
        "Node",
        "HorizontalPodAutoscaler",
        "PodMetrics",
        "Namespace",
        "Job",
        "DaemonSet",
    } <= set(snap.kinds())


def test_json_and_yaml_give_the_same_snapshot(tmp_path: Path, sample_files: tuple[str, str]) -> None:
    raw = yaml.safe_load(Path(sample_files[0]).read_text(encoding="utf-8"))
    as_json = _write(tmp_path, "cluster.json", raw)
    a = FileSource(paths=(sample_files[0],)).read()
    b = FileSource(paths=(as_json,)).read()
    assert a.items == b.items and a.at == b.at


def test_several_files_merge_and_a_later_file_wins(tmp_path: Path) -> None:
    first = _write(tmp_path, "a.yaml", _list(_pod("web-1"), _pod("web-2")))
    newer = _pod("web-2", started="2026-11-25T11:00:00Z")
    second = _write(tmp_path, "b.json", _list(newer, _pod("db-0", ns="data")))
    snap = FileSource(paths=(first, second)).read()
    names = [o["metadata"]["name"] for o in snap.items]
    assert names == ["web-1", "web-2", "db-0"]
    assert snap.get("Pod", "todo", "web-2")["status"]["startTime"] == "2026-11-25T11:00:00Z"  # type: ignore[index]
    assert snap.sources == (first, second)
    assert snap.at == datetime(2026, 11, 25, 11, 0, tzinfo=UTC)


def test_at_overrides_the_default_time(tmp_path: Path) -> None:
    f = _write(tmp_path, "a.yaml", _list(_pod("web-1")))
    at = parse_at("2026-11-26T08:30:00+01:00")
    snap = FileSource(paths=(f,), at=at).read()
    assert snap.at == datetime(2026, 11, 26, 7, 30, tzinfo=UTC)


def test_bad_at_is_input_error() -> None:
    with pytest.raises(InputError, match="--at: 'yesterday'"):
        parse_at("yesterday")


def test_typed_list_items_get_their_kind_back(tmp_path: Path) -> None:
    pod = _pod("web-1")
    del pod["kind"], pod["apiVersion"]
    f = _write(tmp_path, "pods.json", {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": [pod]})
    snap = FileSource(paths=(f,)).read()
    assert snap.items[0]["kind"] == "Pod" and snap.items[0]["apiVersion"] == "v1"


def test_secrets_are_dropped_with_a_note(tmp_path: Path) -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "todo"},
        "data": {"password": "czNjcjN0"},
    }
    f = _write(tmp_path, "a.yaml", _list(_pod("web-1"), secret))
    snap = FileSource(paths=(f,)).read()
    assert [o["kind"] for o in snap.items] == ["Pod"]
    assert any("1 Secret" in n for n in snap.notes)
    assert "czNjcjN0" not in json.dumps(list(snap.items))


def test_unquoted_yaml_timestamps_stay_strings(tmp_path: Path) -> None:
    p = tmp_path / "a.yaml"
    p.write_text(
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Event\n"
        "  metadata: {name: e1, namespace: todo}\n  lastTimestamp: 2026-11-25T10:00:00Z\n"
        "  involvedObject: {kind: Pod, name: p, namespace: todo}\n",
        encoding="utf-8",
    )
    snap = FileSource(paths=(str(p),)).read()
    assert snap.items[0]["lastTimestamp"] == "2026-11-25T10:00:00Z"
    assert snap.at == datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def test_empty_list_and_no_timestamps(tmp_path: Path) -> None:
    f = _write(tmp_path, "empty.yaml", {"apiVersion": "v1", "kind": "List", "items": []})
    snap = FileSource(paths=(f,)).read()
    assert snap.count() == 0


def test_utf16_file_from_powershell_is_read(tmp_path: Path) -> None:
    p = tmp_path / "ps.yaml"
    p.write_bytes(yaml.safe_dump(_list(_pod("web-1"))).encode("utf-16"))
    assert FileSource(paths=(str(p),)).read().count() == 1


def test_logs_file(tmp_path: Path) -> None:
    f = _write(tmp_path, "a.yaml", _list(_pod("web-1")))
    logs = tmp_path / "logs.yaml"
    logs.write_text('todo/web-1/app: |\n  panic: boom\n"todo/web-2/app": [a, b]\n', encoding="utf-8")
    snap = FileSource(paths=(f,), logs_path=str(logs)).read()
    assert snap.log("todo", "web-1", "app") == "panic: boom\n"
    assert snap.log("todo", "web-2", "app") == "a\nb"


# ---- every bad input: one line naming the file (and item) ---------------------------------------

BAD_CASES: list[tuple[str, bytes, str]] = [
    ("binary.yaml", b"\x7fELF\x02\x01\x01\x00\x00\x00", "binary file"),
    ("latin1.yaml", b"kind: List\nitems: []\nname: caf\xe9\n", "not UTF-8"),
    ("empty.yaml", b"  \n\n", "empty file"),
    ("broken.json", b'{"kind": "List", "items": [', "not valid JSON (line 1"),
    ("broken.yaml", b"kind: List\nitems:\n  - a: [1,\n", "not valid YAML or JSON (line"),
    ("text.yaml", b"hello world\n", "is a string, not a kubectl List"),
    ("pod.yaml", yaml.safe_dump(_pod("web-1")).encode(), "is a Pod, not a kubectl List"),
    ("items.yaml", b"kind: List\nitems: {a: 1}\n", "items is a mapping, not a list"),
    ("nokind.yaml", b"kind: List\nitems:\n- metadata: {name: x}\n", "items[0] has no kind"),
    (
        "nometa.yaml",
        b"kind: List\nitems:\n- {kind: Pod, apiVersion: v1}\n- {kind: Pod}\n",
        "items[0] (Pod) has no metadata",
    ),
    (
        "noname.yaml",
        b"kind: List\nitems:\n- kind: Pod\n  metadata: {namespace: a}\n",
        "items[0] (Pod) has no metadata.name",
    ),
    (
        "scalar-item.yaml",
        b"kind: List\nitems:\n- kind: Pod\n  metadata: {name: a}\n- 42\n",
        "items[1] is a number",
    ),
    ("multi.yaml", b"kind: List\nitems: []\n---\nkind: Pod\nmetadata: {name: a}\n", "document 2: is a Pod"),
]


@pytest.mark.parametrize(("name", "content", "message"), BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_snapshot_is_one_line_naming_the_file(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(InputError) as err:
        FileSource(paths=(str(p),)).read()
    text = err.value.one_line()
    assert str(p) in text and message in text, text
    assert "\n" not in text and err.value.exit_code == 2


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.yaml: no such file"):
        FileSource(paths=(str(tmp_path / "nope.yaml"),)).read()
    with pytest.raises(InputError, match="is a directory"):
        FileSource(paths=(str(tmp_path),)).read()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"- a\n- b\n", "is a list, expected a mapping"),
        (b"todo/web-1: x\n", "'todo/web-1' is not namespace/pod/container"),
        (b"todo/web-1/app: {a: 1}\n", "todo/web-1/app: is a mapping, expected the log text"),
    ],
)
def test_bad_logs_file(tmp_path: Path, content: bytes, message: str) -> None:
    f = _write(tmp_path, "a.yaml", _list(_pod("web-1")))
    logs = tmp_path / "logs.yaml"
    logs.write_bytes(content)
    with pytest.raises(InputError) as err:
        FileSource(paths=(f,), logs_path=str(logs)).read()
    assert f"logs {logs}" in str(err.value) and message in str(err.value)


def test_default_time_matches_the_reference_parser(sample_items: list[dict[str, Any]]) -> None:
    from aiops.cluster.files import default_time

    assert default_time(sample_items) == newest_timestamp(sample_items)
    ev = {
        "kind": "Event",
        "metadata": {"name": "e", "namespace": "a"},
        "lastTimestamp": None,
        "eventTime": "2026-11-25T10:41:58.123456Z",  # same second as the sample's newest, later fraction
    }
    assert default_time([*sample_items, ev]) == datetime(2026, 11, 25, 10, 41, 58, 123456, tzinfo=UTC)
    odd = {
        "kind": "Event",
        "metadata": {"name": "o", "namespace": "a"},
        "lastTimestamp": "2026-11-25T12:00:00+02:00",
    }
    assert default_time([*sample_items, odd]) == newest_timestamp([*sample_items, odd])
    broken = {
        "kind": "Event",
        "metadata": {"name": "b", "namespace": "a"},
        "lastTimestamp": "2026-99-99T99:99:99Z",
    }
    assert default_time([*sample_items, broken]) == newest_timestamp([*sample_items, broken])
    only_created = [
        {"kind": "ConfigMap", "metadata": {"name": "c", "creationTimestamp": "2026-01-02T03:04:05Z"}}
    ]
    assert default_time(only_created) == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_dash_reads_standard_input(monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import sys

    data = json.dumps(_list(_pod("web-1"))).encode()
    monkeypatch.setattr(sys, "stdin", type("In", (), {"buffer": io.BytesIO(data)})())
    snap = FileSource(paths=("-",)).read()
    assert [o["metadata"]["name"] for o in snap.items] == ["web-1"]
