"""plugin-sync metadata"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sync import handplaced
from sync.cli import common
from sync.served import commit, recover
from sync.times import iso_time
from sync.tree.store import writer_lock


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
        commit(tree, new, lock_path)
    for e in written:
        print(f"local     {e.name} {e.version} sha256:{e.sha256[:12]} {e.size} bytes")
    if not written:
        print("no hand-placed plugins found", file=sys.stderr)
    return 0
