"""A thin wrapper over the real `git` CLI (the only place aiops runs git).

Builds commits with plumbing (temporary index, hash-object, write-tree, commit-tree, update-ref)
so proposals never touch the user's work tree or index. Errors become `InputError` (not a
repository, unknown ref) or `PolicyRefusal`-free plain failures with git's own message.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from aiops.errors import AiopsError, InputError

BOT_NAME = "aiops-bot[bot]"
BOT_EMAIL = "aiops-bot@users.noreply.local"


class GitError(AiopsError):
    """A git command failed (exit 2: the repository is not in the state the command needs)."""


def init_repository(path: str | Path, *, branch: str = "main") -> Path:
    """`git init -b BRANCH` at `path` (created if needed); refuses a directory that holds a repository."""
    p = Path(path)
    if (p / ".git").exists():
        raise InputError(f"{p} already holds a git repository")
    p.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        ["git", "init", "-q", "-b", branch, str(p)], capture_output=True, check=False, env=_git_env()
    )
    if proc.returncode != 0:
        msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(f"git init {p}: {msg[-1] if msg else f'exit {proc.returncode}'}")
    return p


def _git_env() -> dict[str, str]:
    env = dict(os.environ)
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["LC_ALL"] = "C"
    return env


class Git:
    """Runs git in one repository."""

    def __init__(self, repo: str | Path) -> None:
        self.repo = Path(repo)
        if not self.repo.exists():
            raise InputError(f"--repo {self.repo}: no such directory")
        try:
            out = self.run("rev-parse", "--git-dir")
        except GitError as exc:
            raise InputError(f"--repo {self.repo}: not a git repository") from exc
        self.git_dir = (self.repo / out).resolve() if not os.path.isabs(out) else Path(out)

    def run(
        self,
        *args: str,
        input: str | bytes | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
    ) -> str:
        full_env = dict(os.environ)
        full_env.setdefault("GIT_AUTHOR_NAME", BOT_NAME)
        full_env.setdefault("GIT_AUTHOR_EMAIL", BOT_EMAIL)
        full_env.setdefault("GIT_COMMITTER_NAME", BOT_NAME)
        full_env.setdefault("GIT_COMMITTER_EMAIL", BOT_EMAIL)
        full_env["GIT_TERMINAL_PROMPT"] = "0"
        full_env["LC_ALL"] = "C"
        if env:
            full_env.update(env)
        data = input.encode("utf-8") if isinstance(input, str) else input
        proc = subprocess.run(
            ["git", "-C", str(self.repo), *args],
            input=data,
            capture_output=True,
            env=full_env,
            check=False,
        )
        if check and proc.returncode != 0:
            msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise GitError(f"git {args[0]}: {msg[-1] if msg else f'exit {proc.returncode}'}")
        return proc.stdout.decode("utf-8", "replace").strip()

    def _rc(self, *args: str) -> int:
        return subprocess.run(
            ["git", "-C", str(self.repo), *args], capture_output=True, check=False
        ).returncode

    def rev(self, ref: str) -> str | None:
        """The commit a ref points to, or None."""
        if self._rc("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}") != 0:
            return None
        return self.run("rev-parse", "--verify", f"{ref}^{{commit}}")

    def show(self, ref: str, path: str) -> str | None:
        """File text at a ref, None when absent (bytes decoded as UTF-8; CRLF kept)."""
        proc = subprocess.run(
            ["git", "-C", str(self.repo), "show", f"{ref}:{path}"], capture_output=True, check=False
        )
        if proc.returncode != 0:
            return None
        return proc.stdout.decode("utf-8", "replace")

    def ls_files(self, ref: str, prefix: str = "") -> list[str]:
        args = ["ls-tree", "-r", "--name-only", ref]
        if prefix:
            args += ["--", prefix]
        out = self.run(*args)
        return [ln for ln in out.splitlines() if ln]

    def commit_files(
        self,
        parent: str | None,
        files: Mapping[str, str | None],
        message: str,
        *,
        author: tuple[str, str] | None = None,
        extra_parents: tuple[str, ...] = (),
    ) -> str:
        """A new commit = parent's tree with `files` written (None deletes); returns its sha.

        Uses a temporary index so the user's index and work tree are never touched.
        """
        with tempfile.TemporaryDirectory(prefix="aiops-idx-") as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            if parent:
                self.run("read-tree", parent, env=env)
            else:
                self.run("read-tree", "--empty", env=env)
            for path, text in files.items():
                if text is None:
                    self.run("update-index", "--force-remove", "--", path, env=env)
                    continue
                blob = self.run("hash-object", "-w", "--stdin", input=text.encode("utf-8"))
                self.run("update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
            tree = self.run("write-tree", env=env)
        args = ["commit-tree", tree]
        for p in ((parent,) if parent else ()) + extra_parents:
            args += ["-p", p]
        cenv: dict[str, str] = {}
        if author:
            cenv = {"GIT_AUTHOR_NAME": author[0], "GIT_AUTHOR_EMAIL": author[1]}
        return self.run(*args, input=message, env=cenv)

    def update_ref(self, ref: str, new: str, old: str | None = None) -> None:
        args = ["update-ref", ref, new]
        if old is not None:
            args.append(old)
        self.run(*args)

    def delete_ref(self, ref: str) -> None:
        self.run("update-ref", "-d", ref)

    def for_each_ref(self, prefix: str) -> list[str]:
        out = self.run("for-each-ref", "--format=%(refname)", prefix)
        return [ln for ln in out.splitlines() if ln]

    def merge_base(self, a: str, b: str) -> str | None:
        if self._rc("merge-base", a, b) != 0:
            return None
        return self.run("merge-base", a, b)

    def merge_tree(self, ours: str, theirs: str) -> str:
        """The merged tree of two commits (git ≥ 2.38), or GitError on conflicts."""
        proc = subprocess.run(
            ["git", "-C", str(self.repo), "merge-tree", "--write-tree", "--no-messages", ours, theirs],
            capture_output=True,
            check=False,
        )
        out = proc.stdout.decode().strip().splitlines()
        if proc.returncode != 0:
            raise GitError(f"git merge-tree: the proposal conflicts with {ours[:12]}; re-run `aiops propose`")
        return out[0]

    def commit_tree(self, tree: str, parents: tuple[str, ...], message: str) -> str:
        args = ["commit-tree", tree]
        for p in parents:
            args += ["-p", p]
        return self.run(*args, input=message)

    def current_branch(self) -> str | None:
        if self._rc("symbolic-ref", "-q", "HEAD") != 0:
            return None
        return self.run("symbolic-ref", "--short", "-q", "HEAD")

    def is_bare(self) -> bool:
        return self.run("rev-parse", "--is-bare-repository") == "true"

    def diff_name_status(self, a: str, b: str) -> list[tuple[str, str, str | None]]:
        """(status letter, path, old path for renames) between two commits."""
        out = self.run("diff", "--name-status", "-M", "--no-color", a, b)
        rows: list[tuple[str, str, str | None]] = []
        for line in out.splitlines():
            parts = line.split("\t")
            if not parts or not parts[0]:
                continue
            st = parts[0][0]
            if st in "RC" and len(parts) >= 3:
                rows.append((st, parts[2], parts[1]))
            elif len(parts) >= 2:
                rows.append((st, parts[1], None))
        return rows

    def config(self, key: str) -> str | None:
        if self._rc("config", "--get", key) != 0:
            return None
        return self.run("config", "--get", key)
