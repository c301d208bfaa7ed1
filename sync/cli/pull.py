"""plugin-sync pull"""

from __future__ import annotations

import argparse
import json
import os
import sys

from sync.cli import common
from sync.errors import UsageError
from sync.pull import PullOptions, run_pull
from sync.report import Progress, summary

DEFAULT_JOBS = min(16, 4 * (os.cpu_count() or 2))


def seconds(text: str) -> float:
    try:
        n = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < n <= 3600:
        raise argparse.ArgumentTypeError("must be between 0 and 3600 seconds")
    return n


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("pull", help="resolve plugins.yaml, fetch what changed, update the lock and tree")
    p.add_argument("plugins", nargs="*", metavar="PLUGIN", help="only these plugins (default: all)")
    p.add_argument("--locked", action="store_true", help="build exactly what the lock says; fail if the registry differs")
    p.add_argument("--gzip", action="store_true", help="also write plugin.wasm.gz for nginx's gzip_static")
    p.add_argument("--jobs", "-j", type=common.jobs, default=DEFAULT_JOBS, help=f"concurrent downloads (default {DEFAULT_JOBS})")
    p.add_argument("--registry", metavar="HOST[:PORT]", help="read every source from this mirror (or oci-layout:PATH)")
    p.add_argument("--plain-http", action="store_true", help="talk HTTP, not HTTPS, to the registry")
    p.add_argument("--timeout", type=seconds, default=None, help="seconds to wait for bytes before retrying (default 60)")
    p.add_argument("--wait", type=float, default=600.0, help="seconds to wait for another writer of the tree (default 600)")
    p.add_argument("--json", action="store_true", help="print a machine-readable report on stdout")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    lock = common.lock(args)
    config = None if args.locked else common.config(args)
    if args.locked and args.plugins:
        raise UsageError("--locked builds the whole lock; it takes no plugin names")
    if config is not None:
        unknown = [n for n in args.plugins if n not in config.plugins]
        if unknown:
            raise UsageError(f"not in {common.config_path(args)}: {', '.join(unknown)}")
    options = PullOptions(
        locked=args.locked, jobs=args.jobs, gzip=args.gzip, only=tuple(args.plugins),
        registry=args.registry, plain_http=args.plain_http, read_timeout=args.timeout, lock_wait=args.wait,
        base_dir=common.config_path(args).resolve().parent,
    )
    if args.registry:
        from sync.oci.reference import LAYOUT_PREFIX, check_host

        if not args.registry.startswith(LAYOUT_PREFIX):
            check_host(args.registry)
    total = len(lock.entries) if args.locked else len(args.plugins or (config.plugins if config else []))
    progress = Progress(total, quiet=args.json)
    report = run_pull(
        common.tree(args), config, lock, None if args.locked else common.lock_path(args), options,
        on_outcome=progress,
        on_wait=lambda: print("waiting for another plugin-sync writing this tree ...", file=sys.stderr),
    )
    if args.json:
        json.dump(report.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    print(summary(report), file=sys.stderr)
    if report.failed:
        print(f"plugin-sync: {len(report.failed)} plugin(s) failed: "
              + ", ".join(o.name for o in report.failed), file=sys.stderr)
        return 1
    return 0
