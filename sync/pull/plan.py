"""``plugin-sync pull``, the decisions as pure functions over plain data: what a plugin's new
lock entries are, whether anything must be downloaded, the new lock (``plan``) and what the
tree serves of it (``serving``)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from sync.lock import Lock, LockEntry


@dataclass(frozen=True)
class Resolved:
    """What the registry says a plugin is now."""

    name: str
    source: str  # reference recorded in the lock (tag, no digest)
    digest: str  # manifest digest
    versions: tuple[str, ...]
    created: str | None
    category: str | None


def reusable(resolved: Resolved, old: Lock) -> LockEntry | None:
    """An existing entry holding the same artifact, if any: its content need not be fetched."""
    for e in old.for_plugin(resolved.name):
        if e.digest == resolved.digest and not e.is_local:
            return e
    return None


def entries_for(resolved: Resolved, content: LockEntry) -> list[LockEntry]:
    """The lock entries of a resolved plugin, given the content entry of its artifact
    (sha256, md5, size, files, and ``pulled``: when those bytes were first stored). All
    versions served from one store directory share it, as its metadata.txt does."""
    return [
        replace(content, name=resolved.name, version=v, source=resolved.source, digest=resolved.digest,
                created=resolved.created, category=resolved.category)
        for v in resolved.versions
    ]


def status(name: str, old: Lock, new_entries: list[LockEntry]) -> str:
    """added, updated or unchanged, comparing a plugin's entries before and after."""
    before = {e.version: e for e in old.for_plugin(name) if not e.is_local}
    if not before:
        return "added"
    after = {e.version: e for e in new_entries}
    if before.keys() == after.keys() and all(before[v].same_content(after[v]) for v in after):
        return "unchanged"
    return "updated"


def merge(old: Lock, results: dict[str, list[LockEntry]], keep: set[str], prune: bool) -> Lock:
    """The new lock: fresh entries for resolved plugins, old ones for failed or untouched
    plugins (``keep``), hand-placed entries always; others dropped when ``prune``."""
    new = Lock()
    for e in old.sorted():
        if e.is_local or e.name in keep or (not prune and e.name not in results):
            new.put(e)
    for entries in results.values():
        for e in entries:
            if old.get(e.name, e.version) is not None and old.get(e.name, e.version).is_local:  # type: ignore[union-attr]
                continue  # never overwrite a hand-placed version
            new.put(e)
    return new


def locked_groups(lock: Lock) -> dict[tuple[str, str | None], list[LockEntry]]:
    """The work of ``pull --locked``: one download per plugin and artifact."""
    groups: dict[tuple[str, str | None], list[LockEntry]] = {}
    for e in lock.sorted():
        if not e.is_local:
            groups.setdefault((e.name, e.digest), []).append(e)
    return groups


def plan(old: Lock, results: dict[str, list[LockEntry]], failed: set[str], *, locked: bool, prune: bool,
         still_served: Callable[[LockEntry], bool]) -> Lock:
    """The lock a pull commits, given the entries of each plugin it resolved (``results``,
    by task) and the plugins that failed. A failed plugin keeps what it served before: in a
    plain pull its old entries; in ``--locked``, those the tree still serves intact
    (``still_served``)."""
    if locked:
        return Lock.from_entries([e for e in old.sorted() if e.is_local] +
                                 [e for es in results.values() for e in es if e.name not in failed] +
                                 [e for e in old.sorted() if e.name in failed and still_served(e)])
    return merge(old, results, keep=failed, prune=prune)


def serving(new: Lock, results: dict[str, list[LockEntry]], still_served: Callable[[LockEntry], bool]) -> Lock:
    """What the tree serves of the lock ``new`` a pull commits: the hand-placed entries, the
    entries this run fetched or checked (``results``), and of the others (a failed plugin's
    kept entries, plugins this run left alone) those the tree still serves intact. A plain
    pull's lock keeps a failed plugin's entries, so the next pull retries it; the tree never
    claims what it does not hold."""
    fresh = {e.key: e for es in results.values() for e in es}
    return Lock.from_entries(e for e in new.sorted()
                             if e.is_local or fresh.get(e.key) == e or still_served(e))
