"""Golden tests of the comment-preserving YAML patcher (aiops.gitops.patch).

Each case reads `tests/golden/patch/<case>.in.yaml`, applies edits and compares with
`<case>.out.yaml` byte for byte (CRLF included). Besides the golden text, every case checks that
only the lines of the changed keys differ, that the new text loads to the old data plus the edits,
and that applying the same edits again changes nothing. Set AIOPS_UPDATE_GOLDEN=1 to rewrite the
expected files (then read the diff before committing).
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from aiops.errors import InputError
from aiops.gitops.patch import (
    Document,
    Edit,
    PatchError,
    Select,
    format_key_path,
    is_manifest,
    parse_key_path,
    patch_text,
    read_value,
    render_scalar,
    scalar_style,
)

GOLDEN = Path(__file__).parent / "golden" / "patch"
POD = ("spec", "template", "spec", "containers")
DEPLOY = Document("Deployment", "todo-backend")

CASES: dict[str, list[Edit]] = {
    "comments": [
        Edit(("replicaCount",), 3),
        Edit(("resources", "requests", "cpu"), "130m"),
        Edit(("resources", "requests", "memory"), "156Mi"),
        Edit(("resources", "limits", "memory"), "200Mi"),  # added into `limits: {}`
        Edit(("image", "tag"), "0.3.1"),
        Edit(("autoscaling", "maxReplicas"), 4),  # added after the last key, before the blank line
    ],
    "anchors": [
        Edit(("resources", "requests", "memory"), "156Mi"),  # an alias: replaced by its own value
        Edit(("resources", "limits", "memory"), "200Mi"),
        Edit(("autoscaling", "maxReplicas"), 5),  # comes from the merge key: added locally
        Edit(("autoscaling", "targetCPUUtilizationPercentage"), 70),
    ],
    "flow": [
        Edit(("replicaCount",), 3),
        Edit(("resources", "requests", "cpu"), "130m"),
        Edit(("resources", "limits", "memory"), "768Mi"),
        Edit(("resources", "limits", "cpu"), "1"),  # added inside `{ memory: 1Gi }`
        Edit(("podAnnotations", "aiops.io/restartedAt"), "2026-11-25T10:00:00Z"),
        Edit(("autoscaling", "targetCPUUtilizationPercentage"), 70),
    ],
    "multidoc": [
        Edit((*POD, Select("name", "backend"), "resources", "requests", "cpu"), "0.13", DEPLOY),
        Edit((*POD, Select("name", "backend"), "resources", "requests", "memory"), 163577856, DEPLOY),
        Edit((*POD, Select("name", "backend"), "resources", "limits", "memory"), "200M", DEPLOY),
        Edit(
            ("spec", "template", "metadata", "annotations", "aiops.io/restartedAt"),
            "2026-11-25T10:00:00Z",
            DEPLOY,
        ),
        Edit(
            ("spec", "metrics", Select("resource.name", "cpu"), "resource", "target", "averageUtilization"),
            70,
            Document("HorizontalPodAutoscaler", "todo-backend"),
        ),
        Edit(("data", "REDIS_URL"), "", Document("ConfigMap", "todo-config"), comment="aiops: set REDIS_URL"),
    ],
    "crlf": [
        Edit(("resources", "requests", "memory"), "156Mi"),
        Edit(("resources", "limits", "memory"), "200Mi"),
        Edit(("config", "REDIS_URL"), "", comment="aiops: set REDIS_URL (missing, see PHR)"),
    ],
    "quoted": [
        Edit(("replicaCount",), "3"),
        Edit(("image", "tag"), "0.3.1"),
        Edit(("resources", "requests", "cpu"), "0.13"),
        Edit(("resources", "requests", "memory"), "156Mi"),
        Edit(("resources", "limits", "memory"), "2Gi"),
        Edit(("config", "FEATURE_FLAG"), "no"),
    ],
    "added": [
        Edit(("podAnnotations", "aiops.io/restartedAt"), "2026-11-25T10:00:00Z"),
        Edit(("resources", "requests", "memory"), "156Mi"),
        Edit(("resources", "limits", "memory"), "200Mi"),
        Edit(("image", "tag"), "1.10"),
        Edit(("config", "REDIS_URL"), "", comment="aiops: set REDIS_URL (missing, see PHR)"),
        Edit(("autoscaling", "enabled"), True),
    ],
    "nasty": [
        Edit(("block",), "new"),  # a literal block scalar becomes one line
        Edit(("plain",), "p2"),  # a plain scalar over two lines, too
        Edit(("explicit_null", "x"), 1),  # `~` becomes a block (indent: the file's own step, 4)
        Edit(("nested", "items", Select("name", "second"), "extra"), "e"),
        Edit(("flowmulti", "c"), 3),  # a flow mapping over two lines
        Edit(("nested", "deep", "new"), 2),
        Edit(("tagged",), "456"),  # the tag stays
    ],
    "helm-create": [
        Edit(("replicaCount",), 2),
        Edit(("podAnnotations", "aiops.io/restartedAt"), "2026-11-25T10:00:00Z"),
        Edit(("resources", "requests", "cpu"), "130m"),
        Edit(("resources", "requests", "memory"), "156Mi"),
        Edit(("autoscaling", "minReplicas"), 2),
        Edit(("image", "tag"), "1.27"),
    ],
}


def _read(path: Path) -> str:
    with path.open(encoding="utf-8", newline="") as fh:
        return fh.read()


def _data(text: str) -> list[object]:
    return list(YAML(typ="safe", pure=True).load_all(text))


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case: str) -> None:
    src = _read(GOLDEN / f"{case}.in.yaml")
    result = patch_text(src, CASES[case], source=f"{case}.in.yaml")
    expected_path = GOLDEN / f"{case}.out.yaml"
    if os.environ.get("AIOPS_UPDATE_GOLDEN"):
        with expected_path.open("w", encoding="utf-8", newline="") as fh:
            fh.write(result.text)
    assert result.text == _read(expected_path)
    assert len(result.changes) == len(CASES[case])
    # only the changed keys' lines differ: every removed line names a key of an edited path
    keys = {s for e in CASES[case] for s in e.path if isinstance(s, str)}
    for line in difflib.ndiff(src.splitlines(), result.text.splitlines()):
        if line.startswith("- "):
            # (or continues a scalar written over several lines, or closes a flow mapping keys went into)
            assert any(f"{k}:" in line for k in keys) or ":" not in line or line.rstrip().endswith("}"), line
    # idempotent: the same edits again are a no-op
    again = patch_text(result.text, CASES[case])
    assert again.text == result.text and again.changes == ()


def test_crlf_line_endings_are_kept_everywhere() -> None:
    src = _read(GOLDEN / "crlf.in.yaml")
    out = patch_text(src, CASES["crlf"]).text
    assert "\r\n" in out and out.count("\n") == out.count("\r\n")
    assert out.count("\r\n") == src.count("\r\n") + 3  # limits:, its memory, REDIS_URL


def test_new_data_is_old_data_plus_the_edits() -> None:
    src = _read(GOLDEN / "anchors.in.yaml")
    out = patch_text(src, CASES["anchors"]).text
    old, new = _data(src)[0], _data(out)[0]
    assert isinstance(old, dict) and isinstance(new, dict)
    assert new["resources"]["requests"]["memory"] == "156Mi"
    assert new["x-sizes"] == old["x-sizes"]  # the anchored size itself is untouched
    assert new["worker"] == {"cpu": "100m"}  # the other alias still resolves
    assert new["autoscaling"] == {
        "enabled": False,
        "minReplicas": 1,
        "maxReplicas": 5,
        "targetCPUUtilizationPercentage": 70,
    }
    assert "<<: *defaults" in out and "&small-mem 128Mi" in out


def test_editing_an_anchor_shared_by_an_alias_is_refused() -> None:
    src = _read(GOLDEN / "anchors.in.yaml")
    with pytest.raises(PatchError, match="more than the requested keys"):
        patch_text(src, [Edit(("resources", "requests", "cpu"), "130m")])  # `worker.cpu` aliases it


def test_key_changes_report_old_and_new_values() -> None:
    src = _read(GOLDEN / "comments.in.yaml")
    changes = {c.path: (c.old, c.new) for c in patch_text(src, CASES["comments"]).changes}
    assert changes["replicaCount"] == (1, 3)
    assert changes["resources.requests.cpu"] == ("500m", "130m")
    assert changes["resources.limits.memory"] == (None, "200Mi")
    multi = patch_text(_read(GOLDEN / "multidoc.in.yaml"), CASES["multidoc"]).changes
    assert multi[0].path == "spec.template.spec.containers[name=backend].resources.requests.cpu"
    assert multi[0].old == "0.5"
    assert multi[3].path == 'spec.template.metadata.annotations."aiops.io/restartedAt"'


def test_no_op_returns_the_text_unchanged() -> None:
    src = _read(GOLDEN / "comments.in.yaml")
    result = patch_text(src, [Edit(("replicaCount",), 1), Edit(("image", "tag"), "0.3.0")])
    assert result.text is src and not result.changed


def test_type_change_is_a_change() -> None:
    src = "replicaCount: 1\n"
    assert patch_text(src, [Edit(("replicaCount",), "1")]).text == 'replicaCount: "1"\n'


def test_empty_and_comment_only_files_get_the_key() -> None:
    assert patch_text("", [Edit(("a", "b"), 1)]).text == "a:\n  b: 1\n"
    assert patch_text("# only a comment", [Edit(("a",), "x")]).text == "# only a comment\na: x\n"


def test_errors_name_the_key_and_never_guess() -> None:
    src = _read(GOLDEN / "multidoc.in.yaml")
    with pytest.raises(PatchError, match=r"no list item \[name=nope\]"):
        patch_text(src, [Edit((*POD, Select("name", "nope"), "resources", "requests", "cpu"), "1", DEPLOY)])
    with pytest.raises(PatchError, match=r"no document with kind Deployment and metadata\.name other"):
        patch_text(src, [Edit(("spec", "replicas"), 2, Document("Deployment", "other"))])
    with pytest.raises(PatchError, match="is a scalar, not a mapping"):
        patch_text("replicaCount: 1\n", [Edit(("replicaCount", "x"), 1)])
    with pytest.raises(PatchError, match="only scalars are replaced"):
        patch_text("resources:\n  a: 1\n", [Edit(("resources",), "x")])
    with pytest.raises(InputError, match="not valid YAML"):
        patch_text("a: [1,\n", [Edit(("a",), 1)])


def test_key_paths_round_trip() -> None:
    for text in (
        "resources.requests.cpu",
        'podAnnotations."aiops.io/restartedAt"',
        "spec.template.spec.containers[name=backend].resources",
        "spec.metrics[resource.name=cpu].resource.target.averageUtilization",
        "items[0].name",
    ):
        assert format_key_path(parse_key_path(text)) == text
    assert parse_key_path('config."A.B"') == ("config", "A.B")
    for bad in ("", "a..b", "a.", "a[x", 'a."b'):
        with pytest.raises(InputError):
            parse_key_path(bad)


@pytest.mark.parametrize(
    ("value", "style", "expected"),
    [
        ("130m", None, "130m"),
        ("yes", None, '"yes"'),  # a YAML 1.1 boolean in Helm's parser
        ("1.0", None, '"1.0"'),  # would become a float
        ("0.3.1", None, "0.3.1"),
        ("2026-11-25T10:00:00Z", None, '"2026-11-25T10:00:00Z"'),  # a timestamp otherwise
        ("", None, '""'),
        ("a: b", None, '"a: b"'),
        ("it's", "'", "'it''s'"),
        ("x", '"', '"x"'),
        (3, None, "3"),
        (3, '"', '"3"'),
        (0.13, None, "0.13"),
        (True, None, "true"),
    ],
)
def test_render_scalar(value: object, style: str | None, expected: str) -> None:
    assert render_scalar(value, style) == expected


def test_readers() -> None:
    src = _read(GOLDEN / "multidoc.in.yaml")
    path = (*POD, Select("name", "backend"), "resources", "requests", "cpu")
    assert read_value(src, path, document=DEPLOY) == "0.5"
    assert scalar_style(src, path, document=DEPLOY) == '"'
    assert read_value(src, ("spec", "nope"), document=DEPLOY) is None
    assert read_value(_read(GOLDEN / "anchors.in.yaml"), ("autoscaling", "maxReplicas")) == 3
    assert is_manifest(src)
    assert not is_manifest(_read(GOLDEN / "comments.in.yaml"))


def _leaves(data: object, path: tuple[object, ...] = ()) -> list[tuple[tuple[object, ...], object]]:
    out: list[tuple[tuple[object, ...], object]] = []
    if isinstance(data, dict):
        out.append((path, data))
        for k, v in data.items():
            if k != "<<":
                out.extend(_leaves(v, (*path, k)))
    elif isinstance(data, list):
        for v in data:
            if isinstance(v, dict) and "name" in v:
                out.extend(_leaves(v, (*path, Select("name", str(v["name"])))))
    else:
        out.append((path, data))
    return out


SWEEP = [
    *sorted(GOLDEN.glob("*.in.yaml")),
    *sorted((GOLDEN.parents[2] / "manifests").rglob("values.yaml")),
    *sorted((GOLDEN.parents[2] / "manifests" / "environments").rglob("*.yaml")),
]


@pytest.mark.parametrize("path", SWEEP, ids=lambda p: p.name)
def test_every_scalar_and_mapping_of_real_files_patches_minimally(path: Path) -> None:
    """Replace every scalar and add a key to every mapping, one at a time: one line changes (a block
    scalar's lines go with it), the result loads to exactly the intended data, or the edit is
    refused because an anchor shares the value."""
    text = _read(path)
    refused = 0
    for doc in _data(text):
        if doc is None:
            continue
        sel = (
            Document(doc["kind"], doc["metadata"]["name"])
            if isinstance(doc, dict) and "kind" in doc
            else None
        )
        for key_path, value in _leaves(doc):
            if not key_path:
                continue
            is_map = isinstance(value, dict)
            edit = Edit((*key_path, "zz-new"), "v1", sel) if is_map else Edit(key_path, "X1", sel)  # type: ignore[arg-type]
            try:
                result = patch_text(text, [edit])
            except PatchError as exc:
                assert "more than the requested keys" in str(exc)
                refused += 1
                continue
            removed = [
                ln for ln in difflib.ndiff(text.splitlines(), result.text.splitlines()) if ln[:1] == "-"
            ]
            added = [ln for ln in difflib.ndiff(text.splitlines(), result.text.splitlines()) if ln[:1] == "+"]
            assert len(added) <= 2 and len(added) >= 1, (key_path, added)
            if len(removed) > 1:  # only a scalar written over several lines takes them with it
                assert isinstance(value, str) and (" " in value or "\n" in value), (key_path, removed)
    assert refused == (6 if path.name == "anchors.in.yaml" else 0)
