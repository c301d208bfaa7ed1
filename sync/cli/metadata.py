"""plugin-sync metadata"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sync import handplaced
from sync.cli import common
from sync.lock import Lock
from sync.served import commit, recover
from sync.times import iso_time
from sync.tree.store import served_intact, writer_lock


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("metadata", help="record hand-placed plugin.wasm files: metadata.txt, .sha256, lock, index")
    p.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                   help="<name>/<version> directories or their plugin.wasm (default: every hand-placed one)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    tree = common.tree(args)
    lock_path = common.lock_path(args)
    with writer_lock(tree):
        recover(tree, lock_path)
        lock = common.lock(args)
        targets = handplaced.find(tree, args.paths)
        new, written = handplaced.register(tree, lock, targets, iso_time())
        # the tree goes on serving what it serves intact (on a fresh clone: none of the
        # pulled versions), the lock keeps them all for the next pull to fetch
        served = Lock.from_entries(e for e in new.sorted() if e.is_local or served_intact(tree, e))
        commit(tree, new, lock_path, served=served)
    for e in written:
        print(f"local     {e.name} {e.version} sha256:{e.sha256[:12]} {e.size} bytes")
    if not written:
        print("no hand-placed plugins found", file=sys.stderr)
    unserved = len(new.entries) - len(served.entries)
    if unserved:
        print(f"{unserved} pulled plugin version(s) of the lock are not in the tree; 'plugin-sync pull' fetches them",
              file=sys.stderr)
    return 0
