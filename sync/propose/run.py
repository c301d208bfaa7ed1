"""``plugin-sync propose``: publish the working tree's change as one commit and one pull request.

Reads the base branch through the API (its tree, lock and cursor), decides with
``sync.propose.plan``, then writes with ``sync.github.publish``. If the base moves while we
work, the commit is rebuilt on the new base (a few times at most).

A git checkout whose HEAD does not hold the base's head commit is refused (exit 1): every
tracked file that differs from the base is published, so a checkout behind the base would
revert the base's newer changes (to ``plugins.yaml``, say). A directory that is no git
checkout cannot be checked: it is published as it is (``--verbose`` says so).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterable

import github

from sync.errors import ConfigError, SyncError, UsageError
from sync.github.client import GitHubError, github_errors
from sync.github.gitdata import BaseTree, read_base, read_blob
from sync.github.model import PullInfo
from sync.github.publish import REBUILDS, write_pull
from sync.github.pulls import sync_pulls
from sync.lock import Lock, diff_locks, load_lock, parse_lock
from sync.propose.checkout import Checkout
from sync.propose.cursor import DEFAULT_PENDING_DAYS, Advance, advance, load_cursor
from sync.propose.plan import DEFAULT_BRANCH, Decision, Publication, body, decide, plan, title
from sync.upstream.model import Changes


@dataclass(frozen=True)
class ProposeResult:
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


def _check_head(checkout: Checkout, base: str, commit: str, say: Callable[[str], None]) -> None:
    holds = checkout.head_holds(commit)
    if holds is None:
        say(f"{checkout.root} is no git checkout: cannot tell whether it holds the newest {base} "
             f"({commit[:12]}); its files are published as they are")
    elif not holds:
        head = checkout.head() or "?"
        raise SyncError(f"the checkout is at {head[:12]}, behind {base} (now at {commit[:12]}): publishing it "
                        f"would revert what {base} changed since; update the checkout to {base}, pull, and propose again")


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
) -> ProposeResult:
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
        _check_head(checkout, base, base_tree.commit, say)
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
        outcome = ProposeResult(decision.result, decision, pub, pr_title, pr_body, repo_name, base, branch, labels,
                          decision.pull, None, moved, dry_run)
        if dry_run or decision.action in ("unchanged", "skipped"):
            return outcome
        update = decision.pull if decision.action == "update" else None
        written = write_pull(repo, base_tree, branch, pub.files, update, pr_title, pr_body, labels,
                             "plugin-sync propose", say, warn)
        if written is None:
            continue
        pull, created, commit = written
        result = "created" if created else "updated"
        return ProposeResult(result, decision, pub, pr_title, pr_body, repo_name, base, branch, labels, pull, commit,
                       moved, False)
    raise GitHubError(f"GitHub: base branch {base} of {repo_name} kept moving; gave up after {REBUILDS} tries")
