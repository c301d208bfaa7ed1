"""One commit without a clone, through the Git Data API: blobs, a tree on the base tree,
a commit, then the branch ref (created, or moved with ``force``)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Iterable

from github import InputGitTreeElement
from github.GitRef import GitRef
from github.Repository import Repository

from sync.errors import SyncError
from sync.github.client import GitHubError, github_errors
from sync.github.model import FileChange
from sync.retry import RetryPolicy

MAX_BLOB = 40 * 1024 * 1024  # GitHub refuses blobs somewhere above this
FILE_MODE = "100644"


@dataclass(frozen=True)
class BaseTree:
    """The base branch as the API showed it: head commit, root tree and every file's blob id."""

    branch: str
    commit: str
    tree: str
    files: dict[str, str]


def read_base(repo: Repository, branch: str) -> BaseTree:
    with github_errors(f"reading branch {branch} of {repo.full_name}"):
        sha = repo.get_git_ref(f"heads/{branch}").object.sha
        tree_sha = repo.get_git_commit(sha).tree.sha
        tree = repo.get_git_tree(tree_sha, recursive=True)
        if tree.raw_data.get("truncated"):
            raise GitHubError(f"GitHub: the tree of {repo.full_name}@{branch} is too large to list in one answer")
        files = {e.path: e.sha for e in tree.tree if e.type == "blob"}
    return BaseTree(branch, sha, tree_sha, files)


def _ref(repo: Repository, branch: str) -> GitRef | None:
    """The branch's ref, read completely (so it knows its own URL), or None."""
    try:
        with github_errors(f"reading branch {branch} of {repo.full_name}"):
            ref = repo.get_git_ref(f"heads/{branch}")
            _ = ref.object.sha
            return ref
    except GitHubError as e:
        if e.status == 404:
            return None
        raise


def ref_target(repo: Repository, ref: str) -> str | None:
    """The object ``ref`` (``heads/NAME``, ``tags/NAME``) points at, or None when absent."""
    try:
        with github_errors(f"reading {ref} of {repo.full_name}"):
            return str(repo.get_git_ref(ref).object.sha)
    except GitHubError as e:
        if e.status == 404:
            return None
        raise


class _NotMade(Exception):
    def __init__(self, error: GitHubError) -> None:
        super().__init__(error.message)
        self.error = error


def create_ref(repo: Repository, ref: str, sha: str, what: str, policy: RetryPolicy | None = None) -> None:
    """Create ``refs/<ref>`` at ``sha``, safe to repeat. The client does not send a creation
    again whose answer was lost or was a server error (GitHub may have done it); so then, or
    when GitHub says the ref already exists, the ref is read: at ``sha`` it counts as created
    (an earlier try that GitHub executed); absent, it is created again, under the retry
    policy; anywhere else, the error stands."""
    def attempt() -> None:
        try:
            with github_errors(what):
                repo.create_git_ref(f"refs/{ref}", sha)
            return
        except GitHubError as e:
            if not (e.status is None or e.status >= 500 or (e.status == 422 and "already exists" in e.message)):
                raise
            at = ref_target(repo, ref)
            if at == sha:
                return
            if at is not None:
                raise
            raise _NotMade(e) from None

    try:
        (policy or RetryPolicy.from_env()).run(attempt, lambda e: (isinstance(e, _NotMade), None, None))
    except _NotMade as e:
        raise e.error from None


def branch_head(repo: Repository, branch: str) -> str | None:
    """The commit a branch points at, or None if there is no such branch."""
    ref = _ref(repo, branch)
    return ref.object.sha if ref is not None else None


def read_blob(repo: Repository, sha: str) -> bytes:
    with github_errors(f"reading blob {sha[:12]} of {repo.full_name}"):
        blob = repo.get_git_blob(sha)
        if blob.encoding == "base64":
            return base64.b64decode(blob.content)
        return (blob.content or "").encode("utf-8")


def commit_change(repo: Repository, base: BaseTree, files: Iterable[FileChange], message: str) -> str:
    """Create the commit of ``files`` on top of ``base``; returns its sha (no ref is moved)."""
    elements = []
    for f in sorted(files, key=lambda f: f.path):
        if f.data is None:
            elements.append(InputGitTreeElement(f.path, FILE_MODE, "blob", sha=None))
            continue
        if len(f.data) > MAX_BLOB:
            raise SyncError(f"{f.path}: {len(f.data)} bytes is more than GitHub accepts in one blob ({MAX_BLOB})")
        with github_errors(f"uploading {f.path} to {repo.full_name}"):
            blob = repo.create_git_blob(base64.b64encode(f.data).decode("ascii"), "base64")
        if blob.sha != f.sha:
            raise GitHubError(f"GitHub: {repo.full_name} stored {f.path} as {blob.sha}, expected {f.sha}")
        elements.append(InputGitTreeElement(f.path, FILE_MODE, "blob", sha=blob.sha))
    with github_errors(f"creating the commit on {repo.full_name}"):
        base_tree = repo.get_git_tree(base.tree)
        tree = repo.create_git_tree(elements, base_tree)
        parent = repo.get_git_commit(base.commit)
        return repo.create_git_commit(message, tree, [parent]).sha


def point_branch(repo: Repository, branch: str, sha: str) -> None:
    """Make ``branch`` point at ``sha``: create it, or move it (force: it is rebuilt each run).

    Someone creating or deleting the branch between our read and our write is handled by
    reading it again and switching between create and update, once.
    """
    for _ in range(2):
        current = _ref(repo, branch)
        try:
            if current is not None:
                with github_errors(f"moving branch {branch} of {repo.full_name}"):
                    current.edit(sha, force=True)
            else:
                create_ref(repo, f"heads/{branch}", sha, f"creating branch {branch} of {repo.full_name}")
            return
        except GitHubError as e:
            if e.status == 422 and ("does not exist" in e.message or "already exists" in e.message):
                continue
            raise
    raise GitHubError(f"GitHub: branch {branch} of {repo.full_name} keeps changing under us; try again")
