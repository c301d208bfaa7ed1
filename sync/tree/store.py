"""Changing the tree safely: the writer's lock, staging, the commit journal and clean-up.

A pull prepares each new artifact in a hidden staging directory, renames it into
``<name>/.store/<id>`` once complete, then commits: it writes into ``.journal.json`` what
the tree is to serve and the lock file to save (they differ when a plugin failed: the lock
keeps its entries, so the next pull retries it, while the tree serves only what it still
holds intact), points every served version at its store directory with one rename each,
writes ``index.json`` and the derived files it is given (the catalog, from
``sync.served``) and the lock file, and removes the journal. A run killed at any point
leaves complete files only; the next writer finds the journal and finishes the commit
before anything else (``recover``). A journal can never wedge the tree: a version whose
store directory is gone is dropped from what is served (and said so), and a journal that
cannot be applied at all is dropped, so the run goes on to commit its own state.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import secrets
import shutil
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from sync.errors import LockedTreeError, SyncError, error_text
from sync.fsutil import (exchange, fsync_dir, read_json, sha256_file, symlink_atomic, tmp_name, write_atomic, write_if_changed,
                         write_synced)
from sync.lock import Lock, LockEntry, parse_lock, save_lock
from sync.names import is_name
from sync.tree.files import index_json_text, metadata_text, sha256_file_text
from sync.tree.layout import METADATA, SHA256_FILE, STORE, WASM, Tree

STAGING_PREFIX = ".staging-"
NEXT_PREFIX = ".next-"  # a store directory's replacement, built beside it

# writes the files derived from the served entries (the catalog pages) into the tree; the
# layer above passes it in (``sync.served``), so the tree knows no renderer
Derived = Callable[[Tree, list[LockEntry]], object]
# says one line (what a commit or a recovery dropped, and why); the layer above prints it
Warn = Callable[[str], object]


def _flock(fd: int, mode: int, tree: Tree, wait: float, on_wait: Callable[[], None] | None) -> None:
    """Take ``mode`` (LOCK_EX or LOCK_SH) on ``fd``; waits up to ``wait`` seconds, then refuses clearly."""
    deadline = time.monotonic() + wait
    told = False
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            if time.monotonic() >= deadline:
                raise LockedTreeError(
                    f"{tree.root}: another plugin-sync is writing this tree; try again when it ends"
                ) from None
            if not told and on_wait:
                on_wait()
                told = True
            time.sleep(0.1)


@contextmanager
def writer_lock(tree: Tree, wait: float = 600.0, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold the tree's writer lock. Waits up to ``wait`` seconds, then refuses clearly."""
    tree.root.mkdir(parents=True, exist_ok=True)
    fd = os.open(tree.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _flock(fd, fcntl.LOCK_EX, tree, wait, on_wait)
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError:
            pass
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@contextmanager
def reader_lock(tree: Tree, wait: float = 600.0, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Keep writers out while reading, writing nothing: a shared lock on the lock file, opened
    read-only. A tree no writer ever locked, or one where the file cannot be opened or locked
    (a read-only copy, a file system without locks), is read without it: no writer is there."""
    try:
        fd = os.open(tree.lock_file, os.O_RDONLY)
    except OSError:
        yield
        return
    try:
        try:
            _flock(fd, fcntl.LOCK_SH, tree, wait, on_wait)
        except OSError:
            pass
        yield
    finally:
        os.close(fd)


def new_staging(tree: Tree, name: str) -> Path:
    store = tree.store(name)
    store.mkdir(parents=True, exist_ok=True)
    path = store / f"{STAGING_PREFIX}{secrets.token_hex(6)}"
    path.mkdir()
    return path


def next_dir(tree: Tree, name: str, digest: str) -> Path:
    """Where a run builds the replacement of a store directory that is served but wrong,
    beside it, until ``swap_in_next`` puts it in its place."""
    final = tree.store_dir(name, digest)
    return final.with_name(f"{NEXT_PREFIX}{final.name}")


def finish_staging(tree: Tree, staging: Path, entry: LockEntry, *, beside: bool = False) -> Path:
    """Write the small files, fsync, and rename staging into the store. Returns the store dir.
    When the store directory exists already, the complete one there is kept; with ``beside``,
    staging becomes its replacement instead (``next_dir``), and that is returned. No reader
    sees staging before its rename, so its files are written in place, each fsynced."""
    write_synced(staging / SHA256_FILE, sha256_file_text(entry))
    write_synced(staging / METADATA, metadata_text(entry))
    for f in staging.iterdir():
        if f.is_file():
            os.chmod(f, 0o644)
    os.chmod(staging, 0o755)
    fsync_dir(staging)
    assert entry.digest
    final = tree.store_dir(entry.name, entry.digest)
    if final.exists():
        if not beside:
            # another version of the same artifact got here first; keep the complete one
            shutil.rmtree(staging, ignore_errors=True)
            return final
        final = next_dir(tree, entry.name, entry.digest)
        shutil.rmtree(final, ignore_errors=True)
    os.rename(staging, final)
    fsync_dir(final.parent)
    return final


def built_store(tree: Tree, name: str, digest: str) -> Path:
    """The store directory this run built for ``name``'s artifact: the replacement beside the
    served one when there is one, else the served one."""
    nxt = next_dir(tree, name, digest)
    return nxt if nxt.is_dir() else tree.store_dir(name, digest)


def _replacements(tree: Tree) -> list[Path]:
    return [d for name in _plugin_dirs(tree) if tree.store(name).is_dir()
            for d in tree.store(name).iterdir() if d.name.startswith(NEXT_PREFIX)]


def remove_replacements(tree: Tree) -> None:
    """Remove the replacements a killed run left (before a run builds its own)."""
    for d in _replacements(tree):
        shutil.rmtree(d, ignore_errors=True)


def swap_in_next(tree: Tree) -> int:
    """Put every replacement in the place of the store directory it replaces, each with one
    atomic exchange (a version linked there never points at nothing), and remove the old
    one. Returns how many were swapped."""
    swapped = 0
    for nxt in _replacements(tree):
        final = nxt.with_name(nxt.name[len(NEXT_PREFIX):])
        if final.is_dir():
            exchange(nxt, final)
            shutil.rmtree(nxt, ignore_errors=True)
        else:
            os.rename(nxt, final)
        fsync_dir(final.parent)
        swapped += 1
    return swapped


def store_matches(path: Path, entry: LockEntry) -> bool:
    """A store directory still holds all ``entry`` says: the module, the extra files and
    the small files (so a pull repairs whatever verify would find wrong there)."""
    try:
        return (sha256_file(path / WASM) == entry.sha256
                and all(sha256_file(path / f) == sha for f, sha in entry.files.items())
                and (path / SHA256_FILE).read_text(encoding="utf-8") == sha256_file_text(entry)
                and (path / METADATA).read_text(encoding="utf-8") == metadata_text(entry))
    except (OSError, UnicodeDecodeError):
        return False


def served_intact(tree: Tree, entry: LockEntry,
                  matches: Callable[[Path, LockEntry], bool] = store_matches) -> bool:
    """The tree serves ``entry`` now: its version links to the artifact's store directory,
    which holds all the entry says (``matches``)."""
    if entry.is_local or not entry.digest or not tree.is_pulled(entry.name, entry.version):
        return False
    link = tree.version_dir(entry.name, entry.version)
    return os.readlink(link) == tree.link_target(entry.name, entry.digest) and matches(
        tree.store_dir(entry.name, entry.digest), entry)


def _applicable(tree: Tree, lock: Lock, warn: Warn) -> Lock:
    """``lock`` without the pulled versions whose store directory is missing, each dropped
    with one line: linking them would fail, and a commit that fails every time wedges the tree."""
    kept = Lock()
    for e in lock.sorted():
        if e.is_local or (e.digest and tree.store_dir(e.name, e.digest).is_dir()):
            kept.put(e)
        else:
            store = tree.link_target(e.name, e.digest) if e.digest else "(no digest)"
            warn(f"{e.name}/{e.version}: not served: its store directory {store} is missing; "
                 "the next pull fetches it")
    return kept


def _points_at(link: Path, target: str) -> bool:
    """Whether the version entry ``link`` is a symlink to ``target`` already."""
    return link.is_symlink() and os.readlink(link) == target


class Links:
    """Version links made ahead of the commit, while the downloads run: each under a hidden
    temporary name beside its version entry (``fsutil.tmp_name``'s, which nginx does not
    serve and ``collect_garbage`` removes when a run is killed), so that the commit renames
    it into place. Creating a symlink to a store directory costs this machine's file system
    about 0.4 ms, a rename a twentieth of that: a pull of 52 plugins spent 15 to 25 ms of
    its commit on them, after its last byte had arrived."""

    def __init__(self) -> None:
        self.made: dict[tuple[str, str], tuple[str, Path]] = {}  # version -> (target, link made)

    def prepare(self, tree: Tree, entries: Iterable[LockEntry]) -> None:
        """Make the links of ``entries`` (those the tree does not already serve as they are)."""
        for e in entries:
            if e.is_local or not e.digest or e.key in self.made:
                continue
            link, target = tree.version_dir(e.name, e.version), tree.link_target(e.name, e.digest)
            if _points_at(link, target):
                continue
            tmp = tmp_name(link, "link")
            os.symlink(target, tmp)
            self.made[e.key] = (target, tmp)

    def take(self, entry: LockEntry, target: str) -> Path | None:
        """The link made for ``entry``, if it points at ``target``; the caller renames it."""
        made = self.made.pop(entry.key, None)
        if made is None:
            return None
        if made[0] != target:
            made[1].unlink(missing_ok=True)
            return None
        return made[1]

    def discard(self) -> None:
        """Remove the links no commit took."""
        for _, tmp in self.made.values():
            tmp.unlink(missing_ok=True)
        self.made.clear()


def _link_version(tree: Tree, entry: LockEntry, links: Links | None = None) -> None:
    assert entry.digest
    link = tree.version_dir(entry.name, entry.version)
    target = tree.link_target(entry.name, entry.digest)
    if _points_at(link, target):
        return
    if not (link.parent / target).is_dir():
        raise SyncError(f"{entry.name}/{entry.version}: store directory {target} is missing")
    if link.is_dir() and not link.is_symlink():
        # a real directory from an older tree layout: move it aside first
        aside = tmp_name(link, "old")
        os.rename(link, aside)
        shutil.rmtree(aside, ignore_errors=True)
    made = links.take(entry, target) if links is not None else None
    if made is None:
        symlink_atomic(target, link)
    else:
        os.replace(made, link)


def apply(tree: Tree, lock: Lock, derived: Derived, index_text: str | None = None, links: Links | None = None) -> None:
    """Make the tree serve exactly what ``lock`` says (idempotent), ``derived`` files included
    (``index_text``: index.json as already rendered for ``lock``; ``links``: version links
    made before)."""
    index_text = index_json_text(lock.sorted()) if index_text is None else index_text
    wanted = set(lock.entries)
    for entry in lock.sorted():
        if entry.is_local:
            continue
        _link_version(tree, entry, links)
    for name, version in tree.served():
        if (name, version) not in wanted and tree.is_pulled(name, version):
            tree.version_dir(name, version).unlink()
    for name in {n for n, _ in tree.served()} | _plugin_dirs(tree):
        fsync_dir(tree.plugin_dir(name))
    write_if_changed(tree.index_json, index_text)
    derived(tree, lock.sorted())


def _plugin_dirs(tree: Tree) -> set[str]:
    if not tree.root.is_dir():
        return set()
    return {d.name for d in tree.root.iterdir() if d.is_dir() and not d.is_symlink() and is_name(d.name)}


def _journal_text(served: Lock, recorded: Lock | None, snapshot: dict[str, Any] | None) -> str:
    """The journal: the served entries as a lock document (what a snapshot build also keeps
    as its state), with the lock file to save under ``lock`` when it records more."""
    doc = served.to_json()
    if recorded is not None and recorded.entries != served.entries:
        doc["lock"] = recorded.to_json()
    if snapshot is not None:
        doc["snapshot"] = snapshot
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def inventory_text(snapshot: dict[str, Any]) -> str:
    return json.dumps(snapshot["inventory"], indent=2, sort_keys=True) + "\n"


def _apply_snapshot(tree: Tree, journal: str, snapshot: dict[str, Any] | None) -> None:
    """A snapshot build keeps its lock and inventory in the tree; any other commit removes them."""
    if snapshot is None:
        tree.inventory.unlink(missing_ok=True)
        tree.snapshot_state.unlink(missing_ok=True)
        return
    write_if_changed(tree.snapshot_state, journal)
    write_if_changed(tree.inventory, inventory_text(snapshot))


def _ignore(_: str) -> None:
    pass


def commit(tree: Tree, lock: Lock, lock_path: Path | None, snapshot: dict[str, Any] | None = None, *,
           derived: Derived, served: Lock | None = None, warn: Warn = _ignore, links: Links | None = None) -> None:
    """Publish the tree's state, surviving a kill at any point (see module doc): the tree
    serves ``served`` (default: ``lock``) and ``lock`` is saved at ``lock_path`` (when
    given). A served version whose store directory is missing is left out (``warn`` says
    so). ``snapshot`` (a snapshot build's ``gatewayVersion``, ``sha256`` and
    ``inventory``) is kept in the tree beside it. ``links``: version links made before
    (``Links``); those the commit does not take are removed, whether it succeeds or not."""
    try:
        _commit(tree, lock, lock_path, snapshot, derived, served, warn, links)
    finally:
        if links is not None:
            links.discard()


def _commit(tree: Tree, lock: Lock, lock_path: Path | None, snapshot: dict[str, Any] | None, derived: Derived,
            served: Lock | None, warn: Warn, links: Links | None) -> None:
    serve = _applicable(tree, lock if served is None else served, warn)
    journal = _journal_text(serve, lock if lock_path is not None else None, snapshot)
    # never write a journal the next run could not read back or render: it would fail that
    # run too (this raises before anything in the tree changed)
    raw = json.loads(journal)
    parse_lock(raw)
    parse_lock(raw.get("lock", raw))
    index_text = index_json_text(serve.sorted())
    write_atomic(tree.journal, journal)
    apply(tree, serve, derived, index_text, links)
    _apply_snapshot(tree, journal, snapshot)
    if lock_path is not None:
        save_lock(lock_path, lock)
    tree.journal.unlink(missing_ok=True)
    fsync_dir(tree.root)


def snapshot_state(tree: Tree) -> tuple[Lock, dict[str, Any]] | None:
    """The lock and snapshot facts a snapshot build committed to the tree, if it was one."""
    raw = read_json(tree.snapshot_state)
    if raw is None:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("snapshot"), dict):
        raise SyncError(f"{tree.snapshot_state}: not a snapshot build's state")
    return parse_lock(raw, f"{tree.snapshot_state}: "), raw["snapshot"]


def recover(tree: Tree, lock_path: Path | None, *, derived: Derived, warn: Warn = _ignore) -> bool:
    """Finish a commit that a killed run left behind, as far as it can be: versions whose
    store directory is gone are dropped (one ``warn`` line each), and a journal that cannot
    be applied at all is dropped with one line, so it never fails a run twice. Returns True
    if there was a journal."""
    if not tree.journal.exists():
        return False
    try:
        raw = json.loads(tree.journal.read_text(encoding="utf-8"))
        served = parse_lock(raw)
        recorded = parse_lock(raw["lock"]) if isinstance(raw, dict) and "lock" in raw else served
    except (ValueError, SyncError) as e:
        # the journal is written atomically, so this is someone else's file: leave the tree
        tree.journal.unlink(missing_ok=True)
        warn(f"{tree.journal.name}: dropped: not a commit journal "
             f"({error_text(e)})")
        return False
    snapshot = raw.get("snapshot")
    try:
        # a snapshot build never writes the repository's lock
        commit(tree, recorded, None if snapshot else lock_path, snapshot if isinstance(snapshot, dict) else None,
               derived=derived, served=served, warn=warn)
    except (SyncError, ValueError, TypeError, KeyError, AttributeError) as e:
        # what the journal holds cannot be served (the files are still complete, the run
        # commits its own state next); retrying it would fail every run the same way
        tree.journal.unlink(missing_ok=True)
        warn(f"{tree.journal.name}: dropped the interrupted commit, which cannot be finished "
             f"({error_text(e)})")
    return True


def collect_garbage(tree: Tree, lock: Lock) -> int:
    """Remove staging leftovers, unreferenced store directories and empty plugin dirs."""
    removed = 0
    referenced = {
        (e.name, tree.store_dir(e.name, e.digest).name) for e in lock.sorted() if not e.is_local and e.digest
    }
    for name in _plugin_dirs(tree):
        store = tree.store(name)
        if store.is_dir():
            for d in store.iterdir():
                if (name, d.name) not in referenced:
                    shutil.rmtree(d, ignore_errors=True) if d.is_dir() else d.unlink(missing_ok=True)
                    removed += 1
                else:
                    _remove_temporaries(d)
            if not any(store.iterdir()):
                store.rmdir()
        pdir = tree.plugin_dir(name)
        for version in pdir.iterdir():
            if version.is_dir() and not version.is_symlink() and not version.name.startswith("."):
                _remove_temporaries(version)  # a hand-placed version
        for leftover in pdir.glob(".*.link-*"):
            leftover.unlink(missing_ok=True)
        for leftover in pdir.glob(".*.old-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        try:
            pdir.rmdir()  # only when empty
        except OSError:
            pass
    for leftover in tree.root.glob(".*.tmp-*") if tree.root.is_dir() else []:
        leftover.unlink(missing_ok=True)
    return removed


def _remove_temporaries(d: Path) -> None:
    """What a writer killed mid-way left in a served directory: ``fsutil.tmp_name``
    temporaries (a half-written ``plugin.wasm.gz``, ``metadata.txt``, ...)."""
    for leftover in d.glob(".*.tmp-*"):
        if leftover.is_file():
            leftover.unlink(missing_ok=True)


def link_store(tree: Tree, source: Path, entry: LockEntry, *, beside: bool = False) -> Path:
    """A store directory for ``entry.name`` holding the artifact files of the store
    directory ``source`` (another served name of the same artifact) as hard links, so the
    bytes exist once. The small files are written for ``entry``; ``beside`` as in
    ``finish_staging``."""
    staging = new_staging(tree, entry.name)
    try:
        for f in sorted(source.iterdir()):
            if f.is_file() and f.name not in (SHA256_FILE, METADATA):
                os.link(f, staging / f.name)
        return finish_staging(tree, staging, entry, beside=beside)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def store_paths(tree: Tree) -> set[Path]:
    """Every plugin directory, store and store directory now in the tree."""
    out: set[Path] = set()
    for name in _plugin_dirs(tree):
        out.add(tree.plugin_dir(name))
        store = tree.store(name)
        if store.is_dir():
            out.add(store)
            out.update(store.iterdir())
    return out


def remove_new(tree: Tree, before: set[Path]) -> None:
    """Undo a run that commits nothing: remove the store directories (and the then empty
    stores and plugin directories) that were not there ``before``."""
    now = store_paths(tree)
    for p in sorted(now - before, key=lambda p: len(p.parts), reverse=True):
        if p.parent.name == STORE:
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
            continue
        try:
            p.rmdir()  # a store or plugin directory: only when it is empty
        except OSError:
            pass
