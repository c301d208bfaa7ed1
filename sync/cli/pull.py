"""plugin-sync pull"""

from __future__ import annotations

import argparse
import json
import sys

from sync.cli import common
from sync.errors import ConfigError, UsageError
from sync.pull.plan import locked_groups
from sync.pull.report import Progress, PullReport, summary
from sync.pull.run import PullOptions, run_pull

# module bodies read at once, on any number of cores. A download waiting for a slot is not
# idle on the link: its request is answered and its bytes queue in the kernel, to be read
# (inflated, hashed, written) once it gets one. At a distance, with 8 slots the last bytes
# had arrived 50 to 100 ms before the pull had read them, with 16 within 10 to 30 ms; on
# loopback 8, 16 and 32 take the same time (docs/performance.md, "The pull at WAN distance").
DEFAULT_JOBS = 16


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
    p.add_argument("--jobs", "-j", type=common.jobs, default=DEFAULT_JOBS,
                   help=f"downloads read at once; every request goes out at once (default {DEFAULT_JOBS})")
    p.add_argument("--processes", type=common.jobs, default=None, metavar="N",
                   help="worker processes sharing the downloads (default: one per core; 1: threads in this process)")
    p.add_argument("--registry", metavar="HOST[:PORT]", help="read every source from this mirror (or oci-layout:PATH)")
    p.add_argument("--plain-http", action="store_true", help="talk HTTP, not HTTPS, to the registry")
    p.add_argument("--timeout", type=seconds, default=None, help="seconds to wait for bytes before retrying (default 60)")
    p.add_argument("--wait", type=float, default=600.0, help="seconds to wait for another writer of the tree (default 600)")
    p.add_argument("--json", action="store_true", help="print a machine-readable report on stdout")
    g = p.add_argument_group("gateway-version builds (see docs/gateway-versions.md)")
    g.add_argument("--snapshot", metavar="FILE",
                   help="build exactly this Higress release snapshot (plugins/release/snapshots/X.Y.Z.json), by digest")
    g.add_argument("--unmanaged-lock", metavar="FILE",
                   help="with --snapshot: also serve these digest-pinned plugins (unmanaged-plugins.lock.json)")
    g.add_argument("--expect-sha256", metavar="HEX", help="with --snapshot: the snapshot file's sha256")
    p.set_defaults(run=run)


def _snapshot_run(args: argparse.Namespace, options: PullOptions, progress: Progress) -> PullReport:
    from pathlib import Path

    from sync.snapshot.load import load_plan
    from sync.snapshot.run import run_snapshot

    if args.plugins or args.locked:
        raise UsageError("--snapshot builds the whole snapshot; it takes no plugin names and no --locked")
    path = common.config_path(args)
    config = common.config(args) if path.exists() else None
    plan = load_plan(Path(args.snapshot), args.expect_sha256,
                     Path(args.unmanaged_lock) if args.unmanaged_lock else None, config, str(path))
    progress.total = len({t.digest for t in plan.targets})
    return run_snapshot(common.tree(args), plan, options, common.lock_path(args), on_outcome=progress,
                        on_wait=_waiting)


def _waiting() -> None:
    print("waiting for another plugin-sync writing this tree ...", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    if (args.unmanaged_lock or args.expect_sha256) and not args.snapshot:
        raise UsageError("--unmanaged-lock and --expect-sha256 go with --snapshot")
    if args.snapshot:
        options = PullOptions(jobs=args.jobs, processes=args.processes, gzip=args.gzip, registry=args.registry, plain_http=args.plain_http,
                              read_timeout=args.timeout, lock_wait=args.wait, credentials_host=_config_registry(args))
        _check_registry(args)
        return _finish(args, _snapshot_run(args, options, Progress(0, quiet=args.json)))
    lock = common.lock(args)
    config = None if args.locked else common.config(args)
    if args.locked and args.plugins:
        raise UsageError("--locked builds the whole lock; it takes no plugin names")
    if config is not None:
        unknown = [n for n in args.plugins if n not in config.plugins]
        if unknown:
            raise UsageError(f"not in {common.config_path(args)}: {', '.join(unknown)}")
    options = PullOptions(
        locked=args.locked, jobs=args.jobs, processes=args.processes, gzip=args.gzip, only=tuple(args.plugins),
        registry=args.registry, plain_http=args.plain_http, read_timeout=args.timeout, lock_wait=args.wait,
        base_dir=common.config_path(args).resolve().parent,
        credentials_host=config.registry if config is not None else _config_registry(args),
    )
    _check_registry(args)
    total = len(locked_groups(lock)) if args.locked else sum(
        len(s.parts()) for n, s in (config.plugins.items() if config else ()) if not args.plugins or n in args.plugins)
    progress = Progress(total, quiet=args.json)
    report = run_pull(
        common.tree(args), config, lock, None if args.locked else common.lock_path(args), options,
        on_outcome=progress, on_wait=_waiting,
    )
    return _finish(args, report)


def _config_registry(args: argparse.Namespace) -> str | None:
    """The config's registry, where the config exists (--locked and --snapshot need no config)."""
    try:
        return common.config(args).registry if common.config_path(args).exists() else None
    except ConfigError:
        return None


def _check_registry(args: argparse.Namespace) -> None:
    if args.registry:
        from sync.oci.reference import LAYOUT_PREFIX, check_host

        if not args.registry.startswith(LAYOUT_PREFIX):
            check_host(args.registry)


def _finish(args: argparse.Namespace, report: PullReport) -> int:
    if args.json:
        json.dump(report.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    print(summary(report), file=sys.stderr)
    if report.failed:
        print(f"plugin-sync: {len(report.failed)} plugin(s) failed: "
              + ", ".join(o.name for o in report.failed), file=sys.stderr)
        return 1
    return 0
