"""plugin-sync verify"""

from __future__ import annotations

import argparse
import sys

from sync.cli import common
from sync.tree.store import recover, snapshot_state, writer_lock
from sync.tree.verify import verify


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("verify", help="check the tree against the lock and index.json (exit 1 on any mismatch)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    tree = common.tree(args)
    lock_path = common.lock_path(args)
    if tree.root.is_dir():
        with writer_lock(tree):
            # a commit that a killed writer left half-done is finished first, as any writer would
            if recover(tree, lock_path):
                print("finished an interrupted commit", file=sys.stderr)
    state = snapshot_state(tree)
    if state is not None:
        # a tree built from a gateway release snapshot carries its own lock
        lock, snapshot = state
        print(f"verify: built from the snapshot of gateway {snapshot.get('gatewayVersion')} "
              f"(sha256 {str(snapshot.get('sha256'))[:12]})", file=sys.stderr)
    else:
        lock, snapshot = common.lock(args), None
    problems = verify(tree, lock, snapshot=snapshot)
    for p in problems:
        print(p)
    if problems:
        print(f"verify: {len(problems)} problem(s) in {tree.root}", file=sys.stderr)
        return 1
    print(f"verify: {len(lock.entries)} plugin version(s) OK in {tree.root}", file=sys.stderr)
    return 0
