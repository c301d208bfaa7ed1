"""plugin-sync unmanaged-lock"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sync.cli import common
from sync.errors import ConfigError
from sync.filenames import UNMANAGED_LOCK
from sync.fsutil import write_if_changed
from sync.oci.reference import parse_source
from sync.snapshot.load import configured, newest_snapshot, read_file
from sync.snapshot.model import ImageRef, parse_snapshot, unmanaged_json
from sync.snapshot.plan import Pinned, unmanaged_from_lock

DESCRIPTION = """\
Write unmanaged-plugins.lock.json: every plugin of plugins.yaml that the newest gateway
release snapshot (snapshots/X.Y.Z.json) does not manage, pinned by manifest digest and
module sha256 as plugins.lock.json resolved it. A gateway-version image serves these
beside the snapshot's plugins. Pull a plugin before it can be pinned here."""


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("unmanaged-lock", help="pin the plugins a gateway snapshot does not manage, from the lock",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--snapshot", metavar="FILE", type=Path,
                   help="the snapshot (default: the newest in snapshots/ beside the config)")
    p.add_argument("--output", "-o", metavar="FILE", type=Path,
                   help="where to write (default: unmanaged-plugins.lock.json beside the config)")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 if the file is not up to date")
    p.set_defaults(run=run)


def _pinned(args: argparse.Namespace) -> dict[str, Pinned]:
    """Each plugin's main artifact as the lock resolved it (not a version of its ``sources``)."""
    config = common.config(args)
    out: dict[str, Pinned] = {}
    for e in common.lock(args).sorted():
        spec = config.plugins.get(e.name)
        if e.is_local or e.digest is None or spec is not None and e.version in dict(spec.sources):
            continue
        src = parse_source(e.source, "")
        if src.kind == "registry" and src.tag == e.version:
            out[e.name] = Pinned(e.name, ImageRef(src.host, src.repository), src.tag, e.digest, e.sha256)
    return out


def run(args: argparse.Namespace) -> int:
    base = common.config_path(args).resolve().parent
    snapshot_path = args.snapshot or newest_snapshot(base / "snapshots")
    snapshot = parse_snapshot(read_file(snapshot_path, "snapshot file"))
    entries = unmanaged_from_lock(snapshot, configured(common.config(args)), _pinned(args))
    text = unmanaged_json(entries)
    out = args.output or base / UNMANAGED_LOCK
    if args.check:
        try:
            current = out.read_text(encoding="utf-8")
        except FileNotFoundError:
            current = ""
        if current != text:
            print(f"{out} is not up to date with plugins.yaml, plugins.lock.json and {snapshot_path.name}: "
                  "run 'plugin-sync unmanaged-lock'", file=sys.stderr)
            return 1
        print(f"{out}: up to date ({len(entries)} plugin(s))", file=sys.stderr)
        return 0
    if not entries and not out.exists():
        raise ConfigError("nothing to pin: every configured plugin is managed by the snapshot")
    changed = write_if_changed(out, text)
    print(f"{out}: {'written' if changed else 'unchanged'} ({len(entries)} plugin(s))", file=sys.stderr)
    return 0
