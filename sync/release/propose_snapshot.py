"""The GitHub edge of the gateway track's first step: one pull request per upstream snapshot.

Reads the snapshot upstream at the commit that added it (through the API, following a moved
repository), checks its sha256 against detect's report and its git blob id against upstream's,
then commits ``snapshots/X.Y.Z.json`` and the ``SHA256SUMS`` line on ``plugin-sync/snapshot-X.Y.Z``
and opens (or updates) that pull request. Nothing is written when the snapshot is already
committed byte-exact, or an identical pull request is open or was closed unmerged.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Callable, Iterable

import github

from sync.errors import SyncError
from sync.github.client import GitHubError, github_errors
from sync.github.gitdata import read_base, read_blob
from sync.github.model import PullInfo, blob_sha
from sync.github.publish import REBUILDS, write_pull
from sync.github.pulls import sync_pulls
from sync.propose.plan import Decision, decide
from sync.release.snapshots import SNAPSHOTS_DIR, SUMS_FILE, SnapshotProposal, plan_snapshot_pr
from sync.upstream.model import SnapshotAdded


@dataclass(frozen=True)
class SnapshotProposed:
    version: str
    result: str  # created | updated | unchanged | skipped
    reason: str
    proposal: SnapshotProposal
    pull: PullInfo | None = None


def upstream_snapshot(gh: github.Github, upstream: str, snap: SnapshotAdded) -> tuple[str, bytes]:
    """(upstream's canonical name, the snapshot's bytes at the commit that added it), checked
    against upstream's blob id for that path at that commit."""
    with github_errors(f"reading {snap.path} at {snap.commit[:12]} of {upstream}"):
        repo = gh.get_repo(upstream)
        content = repo.get_contents(snap.path, ref=snap.commit)
        if isinstance(content, list) or content.type != "file":
            raise SyncError(f"{upstream} {snap.path} at {snap.commit[:12]} is not a file")
        blob = repo.get_git_blob(content.sha)
        data = base64.b64decode(blob.content) if blob.encoding == "base64" else (blob.content or "").encode()
    if blob_sha(data) != content.sha:
        raise SyncError(f"{upstream} {snap.path} at {snap.commit[:12]}: read bytes hash to blob "
                        f"{blob_sha(data)[:12]}, upstream's blob is {content.sha[:12]}")
    return repo.full_name, data


def propose_snapshot(
    gh: github.Github,
    repo_name: str,
    upstream: str,
    snap: SnapshotAdded,
    web: str,
    *,
    base: str | None = None,
    labels: Iterable[str] = (),
    dry_run: bool = False,
    say: Callable[[str], None] = lambda _: None,
    warn: Callable[[str], None] = lambda _: None,
) -> SnapshotProposed:
    canonical, data = upstream_snapshot(gh, upstream, snap)
    with github_errors(f"reading repository {repo_name}"):
        repo = gh.get_repo(repo_name)
        base = base or repo.default_branch
    for _ in range(REBUILDS):
        base_tree = read_base(repo, base)
        sums_sha = base_tree.files.get(f"{SNAPSHOTS_DIR}/{SUMS_FILE}")
        sums = read_blob(repo, sums_sha).decode("utf-8") if sums_sha else ""
        proposal = plan_snapshot_pr(snap, data, canonical, web, base_tree.files, sums)
        pub = proposal.publication
        decision: Decision = decide(pub, sync_pulls(repo, proposal.branch, base))
        if pub.empty:
            decision = Decision("unchanged", decision.pull,
                                f"snapshots/{snap.gateway_version}.json is already committed on {base}, byte-exact")
        if dry_run or decision.action in ("unchanged", "skipped"):
            return SnapshotProposed(snap.gateway_version, decision.result, decision.reason, proposal, decision.pull)
        update = decision.pull if decision.action == "update" else None
        written = write_pull(repo, base_tree, proposal.branch, pub.files, update, proposal.title, proposal.body,
                             labels, "plugin-sync propose-snapshot", say, warn)
        if written is None:
            continue
        pull, created, _ = written
        return SnapshotProposed(snap.gateway_version, "created" if created else "updated", decision.reason,
                               proposal, pull)
    raise GitHubError(f"GitHub: base branch {base} of {repo_name} kept moving; gave up after {REBUILDS} tries")
