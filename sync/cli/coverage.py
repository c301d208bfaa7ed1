"""plugin-sync coverage"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sync.cli import common
from sync.cli.pull import seconds
from sync.config import DEFAULT_UPSTREAM
from sync.console.model import DEFAULT_PATTERN, ConsolePlugin
from sync.console.plan import MISMATCH, MISSING, UNVERIFIED, Known, Report, check, known
from sync.errors import ConfigError, UsageError
from sync.filenames import UNMANAGED_LOCK
from sync.fsutil import read_json
from sync.snapshot.model import Snapshot

DESCRIPTION = """\
Check that every plugin URL the Higress console builds is served. The console replaces
${name} and ${version} in its URL pattern with each plugin spec's info.name and
info.version (not the OCI tag). Reads the console's plugin list (a console checkout, a
local copy, or a git ref of the console repository through the GitHub API) and asks the
served tree (--root) or a running server (--url) for each URL. Every
URL not served is listed with its fix (the plugins.yaml lines to add), or as an artifact
pinned nowhere. Against a server each served file's sha256 is compared with the lock,
the unmanaged lock or a snapshot inventory: a post-deploy smoke test.
Exit 0: every URL served; 1: a URL missing or a sha256 differs; 2: bad input."""

DEFAULT_CONSOLE_REPO = "higress-group/higress-console"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("coverage", help="check that every plugin URL the Higress console builds is served",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--console", metavar="PATH", type=Path,
                     help="a console checkout, its plugins directory, or a local copy (console-plugins.json)")
    src.add_argument("--console-ref", metavar="REF",
                     help="a git ref of the console repository, read through the GitHub API; 'auto': the console "
                          "release that Higress ships at the --snapshot's source commit")
    p.add_argument("--console-repo", metavar="OWNER/REPO", default=DEFAULT_CONSOLE_REPO,
                   help=f"with --console-ref (default {DEFAULT_CONSOLE_REPO})")
    p.add_argument("--pattern", default=DEFAULT_PATTERN,
                   help="the console's HIGRESS_ADMIN_WASM_PLUGIN_CUSTOM_IMAGE_URL_PATTERN (default: the Helm chart's)")
    p.add_argument("--url", metavar="BASE", help="ask this running server (http://HOST:PORT) instead of the tree")
    p.add_argument("--snapshot", metavar="FILE", type=Path, help="the gateway release snapshot the target was built from")
    p.add_argument("--unmanaged-lock", metavar="FILE", type=Path,
                   help=f"pinned sha256s and digests (default: {UNMANAGED_LOCK} beside the config, if there)")
    p.add_argument("--inventory", metavar="FILE", type=Path, help="a snapshot-inventory.json to compare sha256s with")
    p.add_argument("--timeout", type=seconds, default=None, help="seconds to wait for a server's bytes (default 60)")
    p.add_argument("--json", action="store_true", help="print a machine-readable report on stdout")
    p.set_defaults(run=run)


def _plugins(args: argparse.Namespace) -> tuple[ConsolePlugin, ...]:
    if args.console is not None:
        from sync.console.read import from_directory

        return from_directory(args.console)
    from sync.console.read import console_ref_at, from_github
    from sync.github.client import connect, parse_repo

    gh = connect()
    repo = parse_repo(args.console_repo, "--console-repo")
    ref = args.console_ref
    if ref == "auto":
        snapshot = _snapshot(args)
        if snapshot is None:
            raise UsageError("--console-ref auto needs --snapshot (its source commit names the Higress release)")
        config = common.config(args) if common.config_path(args).exists() else None
        upstream = config.upstream_repository if config is not None else DEFAULT_UPSTREAM
        ref = console_ref_at(gh, upstream, snapshot.source_commit)
        print(f"coverage: Higress {snapshot.gateway_version} ({upstream} at {snapshot.source_commit[:12]}) "
              f"ships the console {ref}", file=sys.stderr)
    return from_github(gh, repo, ref)


def _snapshot(args: argparse.Namespace) -> Snapshot | None:
    from sync.snapshot.load import read_file
    from sync.snapshot.model import parse_snapshot

    if args.snapshot is None:
        return None
    try:
        return parse_snapshot(read_file(args.snapshot, "snapshot file"))
    except ConfigError as e:
        raise ConfigError(f"{args.snapshot}: {e.message}") from None


def _known(args: argparse.Namespace) -> Known:
    from sync.snapshot.load import read_file
    from sync.snapshot.model import UnmanagedEntry, parse_unmanaged

    config_path = common.config_path(args)
    config = common.config(args) if config_path.exists() else None
    lock = common.lock(args)
    snapshot = _snapshot(args)
    unmanaged_path = args.unmanaged_lock or config_path.resolve().parent / UNMANAGED_LOCK
    unmanaged: tuple[UnmanagedEntry, ...] = ()
    if args.unmanaged_lock is not None or unmanaged_path.exists():
        try:
            unmanaged = parse_unmanaged(read_file(unmanaged_path, "unmanaged lock"))
        except ConfigError as e:
            raise ConfigError(f"{unmanaged_path}: {e.message}") from None
    inventory = None
    if args.inventory is not None:
        raw = read_json(args.inventory)
        if not isinstance(raw, dict) or not all(isinstance(v, dict) for v in raw.values()):
            raise ConfigError(f"{args.inventory}: not a snapshot inventory (an object of objects)")
        inventory = {str(k): {str(a): str(b) for a, b in v.items()} for k, v in raw.items()}
    return known(config, lock, snapshot, unmanaged, inventory)


def _print(report: Report, lines: bool) -> None:
    for f in report.findings if lines else ():
        if f.state == MISSING:
            said = f"HTTP {f.answer.status}" if f.answer.status else (f.answer.error or "no answer")
            print(f"missing   {f.url} ({said})\n  fix: {f.fix}")
        elif f.state == MISMATCH:
            print(f"differs   {f.url}: sha256 {f.answer.sha256}, expected {f.expected}")
    j = report.to_json()
    unverified = len(report.of(UNVERIFIED))
    parts = [f"{j['served']} of {j['plugins']} console URLs served"
             + (f" ({unverified} with no sha256 to compare)" if unverified else "")]
    if j["missing"]:
        parts.append(f"{j['missing']} missing" + (f", {j['unpinned']} of them with an artifact pinned nowhere"
                                                   if j["unpinned"] else ""))
    if j["mismatch"]:
        parts.append(f"{j['mismatch']} with another sha256")
    print(f"coverage of {report.target}: " + "; ".join(parts), file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    if "${name}" not in args.pattern or "${version}" not in args.pattern:
        raise UsageError(f"--pattern {args.pattern!r} must contain ${{name}} and ${{version}}")
    from sync.console.read import server_answers, tree_answers

    plugins = _plugins(args)
    k = _known(args)
    urls = [p.url(args.pattern) for p in plugins]
    if args.url:
        target, answers = args.url, server_answers(args.url, urls, args.timeout)
    else:
        target, answers = str(common.tree(args).root), tree_answers(common.tree(args).root, urls)
    report = check(plugins, args.pattern, target, answers, k)
    if args.json:
        json.dump(report.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    _print(report, not args.json)
    return 0 if report.ok else 1
