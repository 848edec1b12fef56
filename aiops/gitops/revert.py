"""Undoing one merged change on top of what the base branch holds now (like `git revert -m 1`).

A revert must take back only the merged PR's own edits: if a later PR changed other lines of the
same file, those stay. `undo_change` is a line-level three-way merge (base = the merged text,
ours = main now, theirs = the text before the merge); overlapping edits are a conflict, never a
guess. Pure text in, text out; the forges read the three versions.
"""

from __future__ import annotations

from collections.abc import Mapping
from difflib import SequenceMatcher

from aiops.errors import InputError


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def undo_change(now: str, *, before: str, after: str) -> str | None:
    """`now` with the change before→after taken back; None when later edits overlap it."""
    if now == after:
        return before
    base, ours, theirs = _lines(after), _lines(now), _lines(before)
    blocks = [
        (i, j, n) for i, j, n in SequenceMatcher(None, base, ours, autojunk=False).get_matching_blocks() if n
    ]

    def mapped(i1: int, i2: int) -> tuple[int, int] | None:
        """Where base[i1:i2] sits in ours, if that stretch is untouched there."""
        for i, j, n in blocks:
            if i1 == i2 and i <= i1 <= i + n:
                return j + (i1 - i), j + (i1 - i)
            if i1 < i2 and i <= i1 and i2 <= i + n:
                return j + (i1 - i), j + (i2 - i)
        return None

    hunks = [
        op for op in SequenceMatcher(None, base, theirs, autojunk=False).get_opcodes() if op[0] != "equal"
    ]
    edits: list[tuple[int, int, list[str]]] = []
    for _tag, i1, i2, j1, j2 in hunks:
        # the changed stretch plus one line of context each side must be untouched in ours
        lo, hi = max(i1 - 1, 0), min(i2 + 1, len(base))
        if mapped(lo, hi) is None:
            return None
        where = mapped(i1, i2)
        if where is None:
            return None
        edits.append((where[0], where[1], theirs[j1:j2]))
    for k1, k2, new in sorted(edits, reverse=True):
        ours[k1:k2] = new
    return "".join(ours)


def revert_texts(
    number: int,
    before: Mapping[str, str | None],
    after: Mapping[str, str | None],
    now: Mapping[str, str | None],
) -> dict[str, str | None]:
    """Per path, the text that undoes PR `number`'s change on top of `now` (None deletes).

    `before`/`after`: the path's text at the merge's first parent / at the merge (None = absent).
    Paths already back to `before` are left out. Overlapping later edits raise `InputError`.
    """
    out: dict[str, str | None] = {}
    for path, old in before.items():
        new, cur = after.get(path), now.get(path)
        if cur == old:
            continue  # nothing of the change is left here
        if cur == new:
            out[path] = old
            continue
        merged = None
        if old is not None and new is not None and cur is not None:
            merged = undo_change(cur, before=old, after=new)
        if merged is None:
            raise InputError(
                f"--pr {number}: {path} was changed again after #{number} merged, on the same lines;"
                " the revert would undo that later change too",
                hint="revert the later change first, or edit the file by hand in a PR",
            )
        out[path] = merged
    return out
