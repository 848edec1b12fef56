"""The `Forge` port (DESIGN §4.8) and the records it trades in.

Two implementations: `aiops.gitops.local.LocalForge` (plain git) and the GitHub forge
(`aiops.gitops.github_forge`). The pipeline talks only to this protocol. No I/O here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

ProposalState = Literal["open", "closed", "merged"]
StatusState = Literal["pending", "success", "failure", "error"]

DASHBOARD_MARKER = "<!-- aiops:dashboard -->"


def comment_marker(name: str) -> str:
    """The hidden marker of a comment aiops keeps up to date (DESIGN §4.5)."""
    return f"<!-- aiops:comment:{name} -->"


def section_markers(section: str) -> tuple[str, str]:
    """Begin/end markers of one writer's section of the dashboard issue (DESIGN §4.8)."""
    return f"<!-- aiops:dashboard:{section} -->", f"<!-- /aiops:dashboard:{section} -->"


def replace_section(text: str, section: str, body: str) -> str:
    """Replace (or append) one section of the dashboard body, leaving the others untouched."""
    begin, end = section_markers(section)
    block = f"{begin}\n{body.rstrip()}\n{end}"
    i = text.find(begin)
    j = text.find(end, i + len(begin)) if i >= 0 else -1
    if i >= 0 and j >= 0:
        return text[:i] + block + text[j + len(end) :]
    if not text.strip():
        text = DASHBOARD_MARKER + "\n"
    return text.rstrip("\n") + "\n\n" + block + "\n"


@dataclass(frozen=True)
class Review:
    login: str
    state: str  # APPROVED | CHANGES_REQUESTED | COMMENTED | DISMISSED
    commit_sha: str
    submitted_at: str


@dataclass(frozen=True)
class CommitStatus:
    context: str
    state: StatusState
    description: str
    target_url: str | None = None
    creator: str | None = None
    app_id: int | None = None


@dataclass(frozen=True)
class Comment:
    id: int
    author: str
    body: str
    created_at: str


@dataclass(frozen=True)
class Proposal:
    """One proposal (a pull request): its branch, head commit, state and marker metadata."""

    number: int
    title: str
    body: str
    branch: str
    base: str
    head_sha: str
    state: ProposalState
    author: str
    meta: Mapping[str, Any] = field(default_factory=dict)
    labels: tuple[str, ...] = ()
    url: str = ""
    created_at: str = ""
    merged_at: str | None = None
    closed_at: str | None = None
    merge_sha: str | None = None

    @property
    def key(self) -> str | None:
        k = self.meta.get("key")
        return str(k) if k else None

    @property
    def id(self) -> str | None:
        i = self.meta.get("id")
        return str(i) if i else None


class Forge(Protocol):
    """What aiops needs from a code host (DESIGN §4.8)."""

    name: str

    def read_file(self, path: str, ref: str | None = None) -> str | None:
        """File text at a ref (default: the base branch head); None when absent."""
        ...

    def list_files(self, prefix: str, ref: str | None = None) -> list[str]:
        """Paths under a directory prefix at a ref."""
        ...

    def base_sha(self) -> str: ...

    def find_proposals(self, *, key: str | None = None, state: str = "open") -> list[Proposal]:
        """aiops proposals (by marker), optionally for one key; state open, closed, merged or all."""
        ...

    def get_proposal(self, number: int) -> Proposal: ...

    def propose(
        self,
        *,
        branch: str,
        title: str,
        body: str,
        files: Mapping[str, str | None],
        message: str,
        labels: Sequence[str] = (),
        reviewers: Sequence[str] = (),
        meta: Mapping[str, Any] | None = None,
    ) -> Proposal:
        """Branch from the base head + ONE commit with all files (None deletes) + the proposal.

        `meta` is the marker content (also embedded in `body` as `<!-- aiops:meta ... -->`).
        """
        ...

    def update_proposal(
        self,
        number: int,
        *,
        title: str,
        body: str,
        files: Mapping[str, str | None],
        message: str,
        labels: Sequence[str] = (),
        meta: Mapping[str, Any] | None = None,
    ) -> Proposal:
        """Replace the proposal commit by a fresh one on the current base (never over a person's)."""
        ...

    def close_proposal(self, number: int, *, comment: str) -> None: ...

    def set_labels(self, number: int, labels: Sequence[str]) -> None: ...

    def add_comment(self, number: int, body: str) -> None: ...

    def changed_files(self, number: int) -> list[tuple[str, str | None, str | None, str | None]]:
        """(path, old_path, old_text, new_text) for each file the proposal changes against its merge base."""
        ...

    def reviews(self, number: int) -> list[Review]: ...

    def set_status(self, sha: str, status: CommitStatus) -> None: ...

    def statuses(self, sha: str) -> list[CommitStatus]: ...

    def comments(self, number: int) -> list[Comment]: ...

    def upsert_comment(self, number: int, name: str, body: str) -> bool:
        """Create or edit the comment carrying `<!-- aiops:comment:<name> -->`; False when unchanged."""
        ...

    def upsert_dashboard(self, section: str, body: str, *, title: str = "aiops dashboard") -> bool:
        """Replace one section of the one dashboard issue; False when unchanged."""
        ...

    def revert_files(self, number: int) -> dict[str, str | None]:
        """For a merged proposal: the files that undo its non-history changes (records are never removed)."""
        ...
