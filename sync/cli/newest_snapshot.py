"""``plugin-sync newest-snapshot``: the committed gateway snapshot of the highest version.

    plugin-sync newest-snapshot [DIR]

Prints ``DIR/X.Y.Z.json`` for the highest X.Y.Z by semver precedence (``sync.versions``: 2.3.0
is above 2.3.0-rc.1, which is above 2.2.4), the same choice every other reader makes. The image
build (``scripts/image-tree.sh``) builds this snapshot when the lock is empty.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sync.cli import common
from sync.filenames import SNAPSHOTS
from sync.snapshot.load import newest_snapshot


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("newest-snapshot", help="print the committed gateway snapshot of the highest version",
                       description="Print DIR/X.Y.Z.json for the highest gateway version X.Y.Z (semver "
                       "precedence: a pre-release is below its release). Exit 2 when DIR holds none.")
    p.add_argument("directory", metavar="DIR", type=Path, nargs="?",
                   help="the snapshots directory (default: snapshots/ beside the config)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    directory = args.directory or common.config_path(args).resolve().parent / SNAPSHOTS
    print(newest_snapshot(directory))
    return 0
