"""Change sets: file text in, file text out, with the value-level changes that explain them.

The planner (gitops) produces them; the policy classifies them; forges commit them. No I/O.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class KeyChange:
    """One changed value: dotted key path inside a file, old and new value (None = absent)."""

    path: str
    old: Any
    new: Any

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.path, "old": self.old, "new": self.new}


@dataclass(frozen=True)
class FileChange:
    """A whole-file change. `old_text` None = added file; `new_text` None = deleted file."""

    path: str
    old_text: str | None
    new_text: str | None
    keys: tuple[KeyChange, ...] = ()
    old_path: str | None = None  # set when the file was renamed from old_path

    @property
    def status(self) -> str:
        if self.old_text is None:
            return "added"
        if self.new_text is None:
            return "deleted"
        if self.old_path and self.old_path != self.path:
            return "renamed"
        return "modified"

    def diff(self) -> str:
        """Unified diff, `a/` and `b/` prefixed like git."""
        old = (self.old_text or "").splitlines(keepends=True)
        new = (self.new_text or "").splitlines(keepends=True)
        a = "/dev/null" if self.old_text is None else f"a/{self.old_path or self.path}"
        b = "/dev/null" if self.new_text is None else f"b/{self.path}"
        lines = list(difflib.unified_diff(old, new, fromfile=a, tofile=b))
        return "".join(ln if ln.endswith("\n") else ln + "\n\\ No newline at end of file\n" for ln in lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.path,
            "old_path": self.old_path,
            "status": self.status,
            "keys": [k.to_dict() for k in self.keys],
            "diff": self.diff(),
        }


@dataclass(frozen=True)
class ChangeSet:
    """Everything one proposal (or one PR) changes, and who made it."""

    files: tuple[FileChange, ...]
    author: str | None = None
    revert_of: int | None = None
    message: str = ""

    @property
    def paths(self) -> tuple[str, ...]:
        out: list[str] = []
        for f in self.files:
            out.append(f.path)
            if f.old_path and f.old_path != f.path:
                out.append(f.old_path)
        return tuple(out)

    def diff(self) -> str:
        return "".join(f.diff() for f in self.files)
