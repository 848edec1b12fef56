"""The local forge (DESIGN §4.8): proposals as plain git branches, for the demo and offline users.

Each proposal N is a branch `aiops/<key>` with one commit on top of the base branch; its
metadata (title, body, marker, state, reviews, statuses, comments) is JSON kept in a chain of
commits under `refs/aiops/proposals/<N>` (every change is a new commit, so the history of a
proposal is itself auditable). `merge` makes a real merge commit on the base branch; nothing here
touches the user's index, and the work tree only moves by a fast-forward when the base branch is
checked out and clean.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from aiops.errors import InputError, PolicyRefusal
from aiops.gitops.forge import (
    DASHBOARD_MARKER,
    Comment,
    CommitStatus,
    Proposal,
    ProposalState,
    Review,
    comment_marker,
    replace_section,
)
from aiops.gitops.git import BOT_NAME, Git, GitError
from aiops.gitops.revert import revert_texts

PROPOSAL_REFS = "refs/aiops/proposals/"
STATUS_REF = "refs/aiops/statuses"
DASHBOARD_REF = "refs/aiops/dashboard"
META_FILE = "proposal.json"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class LocalForge:
    """A forge over a local git repository (bare or not)."""

    name = "local"

    def __init__(self, repo: str | Path, *, base: str = "main", actor: str | None = None, clock: Any = None):
        self.git = Git(repo)
        self.base = base
        self._clock = clock or _now
        if self.git.rev(f"refs/heads/{base}") is None:
            raise InputError(f"--repo {repo}: branch {base!r} does not exist (commit something first)")
        self.actor = actor or self.git.config("user.name") or BOT_NAME

    # ---- files -------------------------------------------------------------------------
    def base_sha(self) -> str:
        sha = self.git.rev(f"refs/heads/{self.base}")
        assert sha is not None
        return sha

    def read_file(self, path: str, ref: str | None = None) -> str | None:
        return self.git.show(ref or f"refs/heads/{self.base}", path)

    def list_files(self, prefix: str, ref: str | None = None) -> list[str]:
        return self.git.ls_files(ref or f"refs/heads/{self.base}", prefix)

    # ---- metadata store ----------------------------------------------------------------
    def _load(self, number: int) -> dict[str, Any]:
        ref = f"{PROPOSAL_REFS}{number}"
        if self.git.rev(ref) is None:
            raise InputError(f"--pr {number}: no such proposal in {self.git.repo}")
        text = self.git.show(ref, META_FILE)
        if text is None:
            raise InputError(f"{ref}: {META_FILE} is missing")
        data = json.loads(text)
        assert isinstance(data, dict)
        return data

    def _save(self, number: int, data: dict[str, Any], message: str) -> None:
        ref = f"{PROPOSAL_REFS}{number}"
        old = self.git.rev(ref)
        text = json.dumps(data, indent=2, sort_keys=True) + "\n"
        sha = self.git.commit_files(None, {META_FILE: text}, message, extra_parents=(old,) if old else ())
        self.git.update_ref(ref, sha, old or "0" * 40)

    def _numbers(self) -> list[int]:
        out: list[int] = []
        for ref in self.git.for_each_ref(PROPOSAL_REFS):
            tail = ref[len(PROPOSAL_REFS) :]
            if tail.isdigit():
                out.append(int(tail))
        return sorted(out)

    def _proposal(self, data: Mapping[str, Any]) -> Proposal:
        head = self.git.rev(f"refs/heads/{data['branch']}") or str(data.get("head_sha", ""))
        if data["state"] != "open":
            head = str(data.get("head_sha", head))
        return Proposal(
            number=int(data["number"]),
            title=str(data["title"]),
            body=str(data["body"]),
            branch=str(data["branch"]),
            base=str(data["base"]),
            head_sha=head,
            state=cast(ProposalState, data["state"]),
            author=str(data["author"]),
            meta=dict(data.get("meta") or {}),
            labels=tuple(data.get("labels") or ()),
            url=f"local:{self.git.repo}#{data['number']}",
            created_at=str(data.get("created_at", "")),
            merged_at=data.get("merged_at"),
            closed_at=data.get("closed_at"),
            merge_sha=data.get("merge_sha"),
        )

    # ---- proposals ---------------------------------------------------------------------
    def find_proposals(self, *, key: str | None = None, state: str = "open") -> list[Proposal]:
        out: list[Proposal] = []
        for n in self._numbers():
            data = self._load(n)
            if state != "all" and data["state"] != state:
                continue
            if key is not None and (data.get("meta") or {}).get("key") != key:
                continue
            out.append(self._proposal(data))
        return out

    def get_proposal(self, number: int) -> Proposal:
        return self._proposal(self._load(number))

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
        ref = f"refs/heads/{branch}"
        open_same = [p for p in self.find_proposals(state="open") if p.branch == branch]
        if open_same:
            raise InputError(f"branch {branch} already has open proposal #{open_same[0].number}")
        base = self.base_sha()
        commit = self.git.commit_files(base, files, message)
        old = self.git.rev(ref)
        # a branch left from a closed/merged proposal is reused: the new proposal starts afresh
        self.git.update_ref(ref, commit, old or "0" * 40)
        number = (self._numbers() or [0])[-1] + 1
        data: dict[str, Any] = {
            "number": number,
            "title": title,
            "body": body,
            "branch": branch,
            "base": self.base,
            "base_sha": base,
            "head_sha": commit,
            "bot_commits": [commit],
            "state": "open",
            "author": BOT_NAME,
            "meta": dict(meta or {}),
            "labels": sorted(set(labels)),
            "reviewers": list(reviewers),
            "reviews": [],
            "comments": [],
            "created_at": self._clock(),
            "merged_at": None,
            "closed_at": None,
            "merge_sha": None,
        }
        self._save(number, data, f"proposal #{number} opened")
        return self._proposal(data)

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
        data = self._load(number)
        if data["state"] != "open":
            raise InputError(f"--pr {number}: proposal is {data['state']}, not open")
        ref = f"refs/heads/{data['branch']}"
        head = self.git.rev(ref)
        if head not in data.get("bot_commits", []):
            raise PolicyRefusal(
                f"proposal #{number}: branch {data['branch']} has commits made by a person; not overwriting",
                hint="aiops leaves a comment instead",
            )
        base = self.base_sha()
        commit = self.git.commit_files(base, files, message)
        self.git.update_ref(ref, commit, head)
        data.update(
            title=title,
            body=body,
            head_sha=commit,
            base_sha=base,
            labels=sorted(set(labels)) if labels else data["labels"],
            bot_commits=[*data.get("bot_commits", []), commit],
        )
        if meta is not None:
            data["meta"] = dict(meta)
        self._save(number, data, f"proposal #{number} updated")
        return self._proposal(data)

    def set_labels(self, number: int, labels: Sequence[str]) -> None:
        data = self._load(number)
        if sorted(set(labels)) != data["labels"]:
            data["labels"] = sorted(set(labels))
            self._save(number, data, f"proposal #{number} labels")

    def close_proposal(self, number: int, *, comment: str) -> None:
        data = self._load(number)
        if data["state"] != "open":
            return
        data["head_sha"] = self.git.rev(f"refs/heads/{data['branch']}") or data["head_sha"]
        data["state"] = "closed"
        data["closed_at"] = self._clock()
        if comment:
            data["comments"].append(self._new_comment(data, BOT_NAME, comment))
        self._save(number, data, f"proposal #{number} closed")

    def changed_files(self, number: int) -> list[tuple[str, str | None, str | None, str | None]]:
        data = self._load(number)
        p = self._proposal(data)
        if p.state == "merged" and p.merge_sha:
            a, b = f"{p.merge_sha}^1", p.merge_sha
        else:
            b = p.head_sha
            a = self.git.merge_base(f"refs/heads/{self.base}", b) or str(data["base_sha"])
        rows = []
        for status, path, old_path in self.git.diff_name_status(a, b):
            old_text = None if status == "A" else self.git.show(a, old_path or path)
            new_text = None if status == "D" else self.git.show(b, path)
            rows.append((path, old_path, old_text, new_text))
        return rows

    # ---- reviews, statuses, comments ---------------------------------------------------
    def add_review(self, number: int, login: str, state: str, body: str = "") -> Review:
        """Record a review on the proposal's head commit (local forge only; GitHub has its own)."""
        state = state.upper()
        if state not in ("APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED"):
            raise InputError(f"review state {state!r} is not APPROVED, CHANGES_REQUESTED or COMMENTED")
        data = self._load(number)
        if data["state"] != "open":
            raise InputError(f"--pr {number}: proposal is {data['state']}; reviews need an open proposal")
        head = self.git.rev(f"refs/heads/{data['branch']}") or data["head_sha"]
        review = {
            "login": login,
            "state": state,
            "commit_sha": head,
            "submitted_at": self._clock(),
            "body": body,
        }
        data["reviews"].append(review)
        self._save(number, data, f"proposal #{number}: {login} {state.lower()}")
        return Review(login, state, head, review["submitted_at"])

    def reviews(self, number: int) -> list[Review]:
        return [
            Review(str(r["login"]), str(r["state"]), str(r["commit_sha"]), str(r["submitted_at"]))
            for r in self._load(number)["reviews"]
        ]

    def _status_data(self) -> dict[str, Any]:
        if self.git.rev(STATUS_REF) is None:
            return {}
        text = self.git.show(STATUS_REF, "statuses.json")
        return cast(dict[str, Any], json.loads(text)) if text else {}

    def set_status(self, sha: str, status: CommitStatus) -> None:
        data = self._status_data()
        entries = [s for s in data.get(sha, []) if s["context"] != status.context]
        new = {
            "context": status.context,
            "state": status.state,
            "description": status.description,
            "target_url": status.target_url,
            "creator": status.creator or BOT_NAME,
            "app_id": status.app_id,
        }
        if new in data.get(sha, []):
            return
        data[sha] = [*entries, new]
        old = self.git.rev(STATUS_REF)
        text = json.dumps(data, indent=2, sort_keys=True) + "\n"
        commit = self.git.commit_files(
            None,
            {"statuses.json": text},
            f"status {status.context}={status.state} on {sha[:12]}",
            extra_parents=(old,) if old else (),
        )
        self.git.update_ref(STATUS_REF, commit, old or "0" * 40)

    def statuses(self, sha: str) -> list[CommitStatus]:
        return [
            CommitStatus(
                context=s["context"],
                state=s["state"],
                description=s["description"],
                target_url=s.get("target_url"),
                creator=s.get("creator"),
                app_id=s.get("app_id"),
            )
            for s in self._status_data().get(sha, [])
        ]

    def _new_comment(self, data: dict[str, Any], author: str, body: str) -> dict[str, Any]:
        ids = [int(c["id"]) for c in data["comments"]]
        return {"id": max(ids, default=0) + 1, "author": author, "body": body, "created_at": self._clock()}

    def comments(self, number: int) -> list[Comment]:
        return [
            Comment(int(c["id"]), str(c["author"]), str(c["body"]), str(c["created_at"]))
            for c in self._load(number)["comments"]
        ]

    def add_comment(self, number: int, body: str, author: str | None = None) -> None:
        data = self._load(number)
        data["comments"].append(self._new_comment(data, author or BOT_NAME, body))
        self._save(number, data, f"proposal #{number}: comment")

    def upsert_comment(self, number: int, name: str, body: str) -> bool:
        marker = comment_marker(name)
        text = body if marker in body else f"{marker}\n{body}"
        data = self._load(number)
        for c in data["comments"]:
            if marker in c["body"] and c["author"] == BOT_NAME:
                if c["body"] == text:
                    return False
                c["body"] = text
                self._save(number, data, f"proposal #{number}: comment {name} updated")
                return True
        data["comments"].append(self._new_comment(data, BOT_NAME, text))
        self._save(number, data, f"proposal #{number}: comment {name}")
        return True

    def upsert_dashboard(self, section: str, body: str, *, title: str = "aiops dashboard") -> bool:
        old = self.git.rev(DASHBOARD_REF)
        current = self.git.show(DASHBOARD_REF, "dashboard.md") if old else None
        new_text = replace_section(current or f"{DASHBOARD_MARKER}\n# {title}\n", section, body)
        if new_text == current:
            return False
        commit = self.git.commit_files(
            None, {"dashboard.md": new_text}, f"dashboard: {section}", extra_parents=(old,) if old else ()
        )
        self.git.update_ref(DASHBOARD_REF, commit, old or "0" * 40)
        return True

    def dashboard(self) -> str | None:
        return self.git.show(DASHBOARD_REF, "dashboard.md") if self.git.rev(DASHBOARD_REF) else None

    # ---- merge and revert --------------------------------------------------------------
    def merge(self, number: int, *, by: str, message_extra: str = "") -> Proposal:
        """A real merge commit of the proposal branch into the base branch (the caller checks approval)."""
        data = self._load(number)
        if data["state"] != "open":
            raise InputError(f"--pr {number}: proposal is {data['state']}, not open")
        base_ref = f"refs/heads/{self.base}"
        base_head = self.base_sha()
        head = self.git.rev(f"refs/heads/{data['branch']}")
        if head is None:
            raise InputError(f"proposal #{number}: branch {data['branch']} is gone")
        tree = self.git.merge_tree(base_head, head)
        msg = f"Merge proposal #{number} from {data['branch']}\n\n{data['title']}\n"
        trailers = []
        if (data.get("meta") or {}).get("id"):
            trailers.append(f"Aiops-Id: {data['meta']['id']}")
        trailers.append(f"Merged-by: {by}")
        msg += "\n" + (message_extra.rstrip() + "\n\n" if message_extra else "") + "\n".join(trailers) + "\n"
        merge_sha = self.git.commit_tree(tree, (base_head, head), msg)
        self._advance_base(base_ref, merge_sha, base_head)
        data.update(state="merged", merged_at=self._clock(), merge_sha=merge_sha, head_sha=head, merged_by=by)
        self._save(number, data, f"proposal #{number} merged by {by}")
        return self._proposal(data)

    def _advance_base(self, base_ref: str, new: str, old: str) -> None:
        if not self.git.is_bare() and self.git.current_branch() == self.base:
            # keep the checked-out work tree in step; refuses (and changes nothing) if it would clobber edits
            try:
                self.git.run("merge", "--ff-only", "--quiet", new)
            except GitError as exc:
                raise InputError(
                    f"{self.git.repo}: cannot fast-forward the checked-out {self.base}: {exc}",
                    hint="commit or stash local changes, then retry",
                ) from exc
            return
        self.git.update_ref(base_ref, new, old)

    def revert_files(self, number: int) -> dict[str, str | None]:
        p = self.get_proposal(number)
        if p.state != "merged" or not p.merge_sha:
            raise InputError(f"--pr {number}: only a merged proposal can be reverted (it is {p.state})")
        parent = f"{p.merge_sha}^1"
        before: dict[str, str | None] = {}
        for status, path, old_path in self.git.diff_name_status(parent, p.merge_sha):
            if path.startswith("history/") and status == "A":
                continue  # records are append-only: a revert never removes them (DESIGN §4.5)
            if old_path and old_path != path:
                before[path] = None
                before[old_path] = self.git.show(parent, old_path)
            else:
                before[path] = None if status == "A" else self.git.show(parent, path)
        now = {path: self.read_file(path) for path in before}
        after = {path: self.git.show(p.merge_sha, path) for path in before}
        return revert_texts(number, before, after, now)
