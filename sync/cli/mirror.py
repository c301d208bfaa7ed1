"""plugin-sync mirror"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sync.cli import common
from sync.cli.pull import DEFAULT_JOBS, _check_registry, _config_registry, seconds
from sync.errors import UsageError
from sync.mirror.plan import Copy, Pinned, copies
from sync.mirror.run import LayoutTarget, Mirror, MirrorReport, RegistryTarget, Target, run_mirror
from sync.names import REPOSITORY
from sync.oci.push import DEFAULT_CHUNK, Pusher
from sync.oci.reference import LAYOUT_PREFIX, Source, check_host, parse_source
from sync.oci.registry import RegistryClient
from sync.pull.report import Progress
from sync.retry import RetryPolicy

DESCRIPTION = """\
Copy every artifact the lock pins (or a gateway release snapshot, with --snapshot) into a
private OCI registry, HOST[:PORT]/NAMESPACE, so that oci://HOST/NAMESPACE/<image>:<version>
resolves there with the same manifest digest; or into an OCI image layout
(--to oci-layout:DIR) to carry into an air-gapped network, where `mirror --registry
oci-layout:DIR --to ...` completes the transfer. Artifacts a gateway cannot load from a
registry are refused. See docs/private-registry.md."""


def byte_size(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of bytes: {text!r}") from None
    if not 1 << 20 <= n <= 1 << 30:
        raise argparse.ArgumentTypeError("must be between 1 MiB and 1 GiB")
    return n


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("mirror", help="copy the pinned plugins into a private OCI registry or an OCI layout",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--to", required=True, metavar="HOST[:PORT]/NAMESPACE",
                   help="the target registry and namespace, or oci-layout:DIR")
    p.add_argument("--registry", metavar="HOST[:PORT]", help="read every source from this mirror (or oci-layout:PATH)")
    p.add_argument("--plain-http", action="store_true", help="talk HTTP, not HTTPS, to the source registry")
    p.add_argument("--to-plain-http", action="store_true", help="talk HTTP, not HTTPS, to the target registry")
    p.add_argument("--jobs", "-j", type=common.jobs, default=DEFAULT_JOBS, help=f"artifacts copied at once (default {DEFAULT_JOBS})")
    p.add_argument("--chunk-size", type=byte_size, default=DEFAULT_CHUNK, metavar="BYTES",
                   help=f"upload blobs larger than this in chunks of this size (default {DEFAULT_CHUNK})")
    p.add_argument("--timeout", type=seconds, default=None, help="seconds to wait for bytes before retrying (default 60)")
    p.add_argument("--json", action="store_true", help="print a machine-readable report on stdout")
    g = p.add_argument_group("what to copy (default: the lock)")
    g.add_argument("--snapshot", metavar="FILE", help="the artifacts of this Higress release snapshot, by digest")
    g.add_argument("--unmanaged-lock", metavar="FILE", help="with --snapshot: also these digest-pinned plugins")
    g.add_argument("--expect-sha256", metavar="HEX", help="with --snapshot: the snapshot file's sha256")
    p.set_defaults(run=run)


def parse_target(text: str) -> tuple[str, str, str | None]:
    """``("layout", DIR, None)`` or ``("registry", HOST, NAMESPACE)``."""
    if text.startswith(LAYOUT_PREFIX):
        path = text[len(LAYOUT_PREFIX):]
        if not path:
            raise UsageError("--to oci-layout: needs a directory")
        return "layout", path, None
    host, _, namespace = text.partition("/")
    if not namespace or not REPOSITORY.fullmatch(namespace):
        raise UsageError(f"--to {text!r}: use HOST[:PORT]/NAMESPACE (e.g. registry.example:5000/plugins) "
                         "or oci-layout:DIR")
    try:
        return "registry", check_host(host), namespace
    except UsageError as e:
        raise UsageError(f"--to: {e.message}") from None


def _pinned(args: argparse.Namespace) -> list[Pinned]:
    if args.snapshot:
        from sync.snapshot.load import load_plan

        path = common.config_path(args)
        config = common.config(args) if path.exists() else None
        plan = load_plan(Path(args.snapshot), args.expect_sha256,
                         Path(args.unmanaged_lock) if args.unmanaged_lock else None, config, str(path))
        return [Pinned(t.name, t.version, Source("registry", t.image.host, t.image.repository, t.tag), t.digest)
                for t in plan.targets]
    base = common.config_path(args).resolve().parent
    return [Pinned(e.name, e.version, parse_source(e.source, "").relative_to(base), e.digest)
            for e in common.lock(args).sorted() if not e.is_local and e.digest]


def run(args: argparse.Namespace) -> int:
    if (args.unmanaged_lock or args.expect_sha256) and not args.snapshot:
        raise UsageError("--unmanaged-lock and --expect-sha256 go with --snapshot")
    kind, where, namespace = parse_target(args.to)
    _check_registry(args)
    pinned = [Pinned(p.name, p.version, p.source.redirect(args.registry, args.plain_http), p.digest)
              for p in _pinned(args)]
    if not pinned:
        raise UsageError(f"nothing to mirror: {common.lock_path(args)} pins no artifact (pull first, or give --snapshot)")
    todo: list[Copy] = copies(pinned, namespace)
    source_host = args.registry if args.registry and not args.registry.startswith(LAYOUT_PREFIX) else _config_registry(args)
    policy = RetryPolicy.from_env()
    # the environment's credentials are for the target registry (else the source's), unless
    # PLUGIN_SYNC_REGISTRY_HOST names one; the Docker config's apply to each host
    client = RegistryClient(policy, pool_size=max(4, args.jobs), read_timeout=args.timeout,
                            default_host=where if kind == "registry" else source_host)
    pusher = Pusher(client, args.chunk_size)
    target: Target = (RegistryTarget(pusher, where, args.to_plain_http) if kind == "registry"
                      else LayoutTarget(Path(where), pusher.stats))
    progress = Progress(len(todo), quiet=args.json)
    report = run_mirror(Mirror(client, target, pusher.stats, policy), todo, args.to, args.jobs, progress)
    return _finish(args, report)


def _finish(args: argparse.Namespace, report: MirrorReport) -> int:
    if args.json:
        json.dump(report.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    print(report.summary(), file=sys.stderr)
    if report.failed:
        print(f"plugin-sync: {len(report.failed)} artifact(s) failed: "
              + ", ".join(o.name for o in report.failed), file=sys.stderr)
        return 1
    return 0
