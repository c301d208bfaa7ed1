"""``propose``: publish the working tree's change as one commit and one pull request.

Reads the base branch through the API (its tree, lock and cursor), decides with
``sync.propose``, then writes: one commit through the Git Data API on top of the base,
the fixed branch moved to it, the PR created or updated, labels added. If the base moves
while we work, the commit is rebuilt on the new base (a few times at most).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterable

import github
from github.Repository import Repository

from sync.cursor import DEFAULT_PENDING_DAYS, Advance, advance, load_cursor
from sync.errors import ConfigError, UsageError
from sync.github.client import GitHubError, github_errors
from sync.github.gitdata import BaseTree, branch_head, commit_change, point_branch, read_base, read_blob
from sync.github.pulls import add_labels, create_pull, sync_pulls, update_pull
from sync.lock import Lock, diff_locks, load_lock, parse_lock
from sync.propose import DEFAULT_BRANCH, Decision, FileChange, Publication, PullInfo, body, decide, plan, title
from sync.upstream.model import Changes
from sync.workfiles import Checkout

REBUILDS = 3


@dataclass(frozen=True)
class Outcome:
    result: str  # created | updated | unchanged | skipped (dry run: what would happen)
    decision: Decision
    publication: Publication
    title: str
    body: str
    repo: str
    base: str
    branch: str
    labels: tuple[str, ...]
    pull: PullInfo | None = None
    commit: str | None = None
    advance: Advance | None = None
    dry_run: bool = False


def _base_lock(repo_name: str, base: BaseTree, lock_path: str, read: Callable[[str], bytes]) -> Lock:
    sha = base.files.get(lock_path)
    if sha is None:
        return Lock()
    where = f"{repo_name}@{base.branch}:{lock_path}: "
    try:
        raw = json.loads(read(sha).decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise ConfigError(f"{where}not valid JSON: {e}") from None
    return parse_lock(raw, where)


def propose(
    gh: github.Github,
    repo_name: str,
    checkout: Checkout,
    *,
    base: str | None = None,
    branch: str = DEFAULT_BRANCH,
    labels: Iterable[str] = (),
    changes: Changes | None = None,
    now: datetime,
    pending_days: int = DEFAULT_PENDING_DAYS,
    dry_run: bool = False,
    say: Callable[[str], None] = lambda _: None,
    warn: Callable[[str], None] = lambda _: None,
) -> Outcome:
    labels = tuple(labels)
    with github_errors(f"reading repository {repo_name}"):
        repo = gh.get_repo(repo_name)
        base = base or repo.default_branch
    if branch == base:
        raise UsageError(f"--branch {branch!r} is the base branch; the sync branch must be another one")
    local_lock = load_lock(checkout.lock)
    lock_rel = checkout.rel(checkout.lock, "lock")
    cursor_rel = checkout.rel(checkout.cursor, "cursor")
    local_cursor = load_cursor(checkout.cursor)
    for _ in range(REBUILDS):
        base_tree = read_base(repo, base)
        say(f"base {base} is at {base_tree.commit[:12]}")
        base_lock = _base_lock(repo_name, base_tree, lock_rel, lambda sha: read_blob(repo, sha))
        files = checkout.tracked(local_lock)
        moved: Advance | None = None
        if changes is not None:
            landed = diff_locks(base_lock, local_lock).plugins()
            moved = advance(changes, landed, now, pending_days, previous=local_cursor)
            files[cursor_rel] = moved.cursor.dumps().encode("utf-8")
        elif checkout.cursor.is_file():
            files[cursor_rel] = checkout.cursor.read_bytes()
        pub = plan(
            base_tree.files,
            base_lock,
            local_lock,
            files,
            lock_path=lock_rel,
            riders=[cursor_rel],
            managed_dirs=checkout.hand_placed_dirs(base_lock, local_lock),
        )
        decision = decide(pub, sync_pulls(repo, branch, base))
        pr_title, pr_body = title(pub), body(pub, changes, moved)
        outcome = Outcome(decision.result, decision, pub, pr_title, pr_body, repo_name, base, branch, labels,
                          decision.pull, None, moved, dry_run)
        if dry_run or decision.action in ("unchanged", "skipped"):
            return outcome
        written = write_pull(repo, base_tree, branch, pub.files, decision, pr_title, pr_body, labels,
                             "plugin-sync propose", say, warn)
        if written is None:
            continue
        pull, created, commit = written
        result = "created" if created else "updated"
        return Outcome(result, decision, pub, pr_title, pr_body, repo_name, base, branch, labels, pull, commit,
                       moved, False)
    raise GitHubError(f"GitHub: base branch {base} of {repo_name} kept moving; gave up after {REBUILDS} tries")


def write_pull(
    repo: Repository,
    base_tree: BaseTree,
    branch: str,
    files: Iterable[FileChange],
    decision: Decision,
    title: str,
    body: str,
    labels: Iterable[str],
    by: str,
    say: Callable[[str], None] = lambda _: None,
    warn: Callable[[str], None] = lambda _: None,
) -> tuple[PullInfo, bool, str] | None:
    """Commit ``files`` on ``base_tree``, point ``branch`` at it, create or update the PR, label it.

    Returns (the PR, created?, the commit), or None when the base moved meanwhile (nothing
    was moved: the caller rebuilds on the new base).
    """
    base = base_tree.branch
    commit = commit_change(repo, base_tree, files, f"{title}\n\nPublished by {by}.\n")
    if branch_head(repo, base) != base_tree.commit:
        say(f"base {base} moved while publishing; rebuilding on the new base")
        return None
    point_branch(repo, branch, commit)
    say(f"branch {branch} is at {commit[:12]}")
    if decision.action == "update" and decision.pull is not None:
        pull, created = update_pull(repo, decision.pull.number, title, body), False
    else:
        pull, created = create_pull(repo, branch, base, title, body)
    try:
        add_labels(repo, pull.number, labels)
    except GitHubError as e:  # the PR stands; a missing label is not worth failing the run
        warn(f"pull request #{pull.number} is not labelled: {e.message}")
    return pull, created, commit

