"""``plugin-sync pull --snapshot``: build the tree a plan says, all at once or not at all.

Each artifact is fetched once, by its manifest digest (never by tag), with every check of
a plain pull. Its other served names get hard links to the same bytes. The tree is
committed only when every target succeeded; otherwise whatever this run stored is
removed and the tree is left exactly as it was.

A served store directory is never changed in place. One that is intact is reused with the
entry it was written for (from the tree's snapshot state, or the repository's lock when a
plain pull built the tree); one that is not is rebuilt beside it and swapped in, with one
atomic exchange, only when the build commits.
"""

from __future__ import annotations

import time
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, Callable

from sync.errors import ArtifactError, SyncError
from sync.lock import Lock, LockEntry, load_lock
from sync.oci.reference import Source
from sync.pull.plan import Resolved, reusable
from sync.pull.report import PluginResult, PullReport
from sync.pull.run import Puller, PullOptions, Task, run_tasks
from sync.served import commit, recover
from sync.snapshot.plan import Plan, Target, inventory
from sync.tree import Tree
from sync.tree.precompress import precompress
from sync.tree.store import (
    built_store, collect_garbage, finish_staging, link_store, remove_new, remove_replacements, snapshot_state,
    store_paths, swap_in_next, writer_lock,
)


def _entry(base: LockEntry, t: Target) -> LockEntry:
    return replace(base, name=t.name, version=t.version, source=t.source, digest=t.digest, category=t.category)


class _BesidePuller(Puller):
    """``pull``'s Puller, except that a store directory that is there already is rebuilt
    beside it, not removed: it may be served until the build commits."""

    def place(self, staging: Path, entry: LockEntry) -> None:
        finish_staging(self.tree, staging, entry, beside=True)


class SnapshotPuller:
    def __init__(self, tree: Tree, old: Lock, options: PullOptions, known: tuple[Lock, ...] = ()) -> None:
        self.tree, self.old = tree, old
        self.known = (old, *known)
        self.puller = _BesidePuller(tree, old, options)

    def _known(self, name: str, digest: str) -> LockEntry | None:
        """An entry of ``name`` for this artifact whose store directory is intact: the
        tree's own, or the repository lock's (a tree a plain pull built)."""
        for lock in self.known:
            known = reusable(Resolved(name, "", digest, (), None, None), lock)
            if known is not None and self.puller.stored(name, known):
                return known
        return None

    def source(self, t: Target) -> Source:
        """Where this run reads ``t``'s artifact."""
        return self.puller.where(Source("registry", t.image.host, t.image.repository, t.tag))

    def _content(self, name: str, digest: str, src: Source) -> tuple[LockEntry, bool]:
        """The content entry of the artifact ``digest``, and whether it was downloaded. One the
        tree holds intact asks the registry nothing: the digest already says what it is."""
        known = self._known(name, digest)
        if known is not None:
            return known, False
        manifest = self.puller.sources.of(src).manifest(src, digest)
        if manifest.digest != digest:
            raise ArtifactError(f"registry answered {manifest.digest[:19]} for {digest[:19]}")
        return self.puller.fetch(name, src, manifest, None)

    def artifact(self, digest: str, targets: list[Target]) -> tuple[list[LockEntry], PluginResult]:
        """Fetch one artifact (by digest) and serve it under each of its targets' names."""
        first = targets[0]
        names = list(dict.fromkeys(t.name for t in targets))
        content, downloaded = self._content(names[0], digest, self.source(first))
        for t in targets:
            if t.wasm_sha256 is not None and content.sha256 != t.wasm_sha256:
                raise ArtifactError(f"module sha256 {content.sha256[:12]} is not the pinned wasmSha256 {t.wasm_sha256[:12]}")
        bases = {names[0]: content}
        for name in names[1:]:
            known = self._known(name, digest)
            if known is None:
                known = replace(content, name=name)
                link_store(self.tree, built_store(self.tree, names[0], digest), known, beside=True)
            bases[name] = known
        entries = [_entry(bases[t.name], t) for t in targets]
        out = PluginResult(first.owner, "added" if downloaded else "unchanged", sorted({f"{t.name}/{t.version}" for t in targets}),
                      first.source, digest, content.sha256, downloaded=downloaded)
        return entries, out


def _facts(p: Plan, entries: list[LockEntry]) -> dict[str, Any]:
    sha = {e.digest: e.sha256 for e in entries if e.digest}
    s = p.snapshot
    return {"gatewayVersion": s.gateway_version, "sourceCommit": s.source_commit, "sha256": s.sha256,
            "inventory": inventory(s, sha)}


def _repository_lock(path: Path | None) -> tuple[Lock, ...]:
    """The repository's lock, which tells what a plain pull wrote into the tree; a build needs
    none, so one that cannot be read is left out."""
    try:
        return (load_lock(path),) if path is not None else ()
    except SyncError:
        return ()


def run_snapshot(
    tree: Tree,
    p: Plan,
    options: PullOptions,
    lock_path: Path | None = None,
    on_outcome: Callable[[PluginResult], None] | None = None,
    on_wait: Callable[[], None] | None = None,
) -> PullReport:
    """Build exactly ``p`` into ``tree``. ``lock_path`` is only for finishing a plain pull's
    interrupted commit; a snapshot build never writes the repository's lock."""
    start = time.monotonic()
    with writer_lock(tree, options.lock_wait, on_wait):
        recover(tree, lock_path)
        for t in p.targets:
            if tree.is_hand_placed(t.name, t.version):
                raise SyncError(f"{t.name}/{t.version} holds hand-placed files; a snapshot build serves only the snapshot")
        state = snapshot_state(tree)
        remove_replacements(tree)  # those a killed build left
        puller = SnapshotPuller(tree, state[0] if state else Lock(), options, _repository_lock(lock_path))
        groups: dict[str, list[Target]] = {}
        for t in p.targets:
            groups.setdefault(t.digest, []).append(t)
        before = store_paths(tree)
        outcomes: list[PluginResult] = []
        entries: list[LockEntry] = []
        tasks = {d: Task(partial(puller.artifact, d, ts), ts[0].owner, ts[0].source, d) for d, ts in groups.items()}
        # tokens before the work, for the artifacts the tree does not hold already
        sources = [puller.source(ts[0]) for d, ts in groups.items() if not tree.store_dir(ts[0].name, d).is_dir()]

        def done(_: str, got: list[LockEntry], outcome: PluginResult) -> None:
            entries.extend(got)
            outcomes.append(outcome)
            if on_outcome:
                on_outcome(outcome)

        try:
            processes, requests, blob_bytes = run_tasks(puller.puller, tasks, sources, done)
        except BaseException:
            remove_new(tree, before)
            raise
        gzipped = 0
        if any(o.status == "failed" for o in outcomes):
            remove_new(tree, before)
        else:
            lock = Lock.from_entries(entries)
            swap_in_next(tree)
            commit(tree, lock, None, _facts(p, entries))
            collect_garbage(tree, lock)
            puller.puller.stamps.save((tree.store_dir(e.name, str(e.digest)), e) for e in lock.sorted() if e.digest)
            gzipped = precompress(tree, lock, None) if options.gzip else 0
    return PullReport(outcomes, requests, blob_bytes, time.monotonic() - start, gzipped, processes)
