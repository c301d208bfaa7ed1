"""Publishing a change through GitHub: one commit through the Git Data API on top of the base
branch, a branch moved to it, the pull request created or updated, labels added. The caller
rebuilds on the new base when the base moved meanwhile (``REBUILDS`` times at most).
"""

from __future__ import annotations

from typing import Callable, Iterable

from github.Repository import Repository

from sync.github.client import GitHubError
from sync.github.gitdata import BaseTree, branch_head, commit_change, point_branch
from sync.github.model import FileChange, PullInfo
from sync.github.pulls import add_labels, create_pull, update_pull

REBUILDS = 3


def write_pull(
    repo: Repository,
    base_tree: BaseTree,
    branch: str,
    files: Iterable[FileChange],
    update: PullInfo | None,
    title: str,
    body: str,
    labels: Iterable[str],
    by: str,
    say: Callable[[str], None] = lambda _: None,
    warn: Callable[[str], None] = lambda _: None,
) -> tuple[PullInfo, bool, str] | None:
    """Commit ``files`` on ``base_tree``, point ``branch`` at it, create or update the PR, label it.

    ``update`` is the open pull request to update; None creates one. Returns (the PR, created?, the commit), or None when the base moved meanwhile (nothing
    was moved: the caller rebuilds on the new base).
    """
    base = base_tree.branch
    commit = commit_change(repo, base_tree, files, f"{title}\n\nPublished by {by}.\n")
    if branch_head(repo, base) != base_tree.commit:
        say(f"base {base} moved while publishing; rebuilding on the new base")
        return None
    point_branch(repo, branch, commit)
    say(f"branch {branch} is at {commit[:12]}")
    if update is not None:
        pull, created = update_pull(repo, update.number, title, body), False
    else:
        pull, created = create_pull(repo, branch, base, title, body)
    try:
        add_labels(repo, pull.number, labels)
    except GitHubError as e:  # the PR stands; a missing label is not worth failing the run
        warn(f"pull request #{pull.number} is not labelled: {e.message}")
    return pull, created, commit

