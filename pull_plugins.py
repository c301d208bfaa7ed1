#!/usr/bin/env python3
"""Build the plugin tree of a gateway-version image from a Higress release snapshot.

The entry point Higress's ``build-plugin-server-from-snapshot.yaml`` workflow looks for at the
root of the plugin-server repository, with upstream's flags. It runs the same code as
``plugin-sync pull --snapshot`` (package ``sync/``):

    python3 pull_plugins.py --snapshot snapshot.json --output plugins \\
        [--properties plugins.yaml|plugins.properties] [--unmanaged-lock unmanaged-plugins.lock.json] \\
        [--expect-sha256 HEX] [--registry HOST[:PORT]|oci-layout:PATH] [--plain-http] [--gzip]

Every snapshot entry with a ``consumers.pluginServer`` mapping is fetched by manifest digest and
served at ``<output>/<httpPath>/<version>/plugin.wasm`` (and under its inventory key and aliases);
each unmanaged plugin at ``<output>/<servedPath>/<servedVersion>/plugin.wasm``, its sha256 checked
against ``wasmSha256``; ``<output>/snapshot-inventory.json`` lists the snapshot's plugins. The
unmanaged lock is checked against the properties (or plugins.yaml) before any download. All or
nothing: on any failure the output tree is left as it was. Exit codes: 0 done, 1 a plugin
failed, 2 bad input.
"""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path
from typing import Sequence

HERE = Path(__file__).resolve().parent


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pull_plugins.py", description=__doc__.split("\n\n", 1)[0])
    p.add_argument("--snapshot", required=True, help="the release snapshot (plugins/release/snapshots/X.Y.Z.json)")
    p.add_argument("--output", default="plugins", help="the tree to build (default: plugins)")
    p.add_argument("--properties", default=None,
                   help="the full served set the unmanaged lock is checked against: plugins.yaml or a "
                        "plugins.properties file (default: plugins.yaml beside this script, when present)")
    p.add_argument("--unmanaged-lock", default=None,
                   help="digest-pinned plugins the snapshot does not manage (default: "
                        "unmanaged-plugins.lock.json beside this script, when present)")
    p.add_argument("--expect-sha256", default=None, help="the snapshot file's sha256")
    p.add_argument("--registry", default=None, help="read every artifact from this mirror (or oci-layout:PATH)")
    p.add_argument("--plain-http", action="store_true", help="talk HTTP, not HTTPS, to the registry")
    p.add_argument("--gzip", action="store_true", help="also write plugin.wasm.gz for nginx's gzip_static")
    p.add_argument("--jobs", type=int, default=8, help="concurrent downloads (default 8)")
    return p


def _default(given: str | None, name: str) -> Path | None:
    if given is not None:
        return Path(given)
    path = HERE / name
    return path if path.exists() else None


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    sys.path.insert(0, str(HERE))
    try:
        from sync.cli import main as plugin_sync
    except ImportError as e:
        print(f"pull_plugins.py: plugin-sync's dependencies are missing ({e.name}): run 'pip install .' here first",
              file=sys.stderr)
        return 2
    properties = _default(args.properties, "plugins.yaml")
    unmanaged = _default(args.unmanaged_lock, "unmanaged-plugins.lock.json")
    argv2 = ["--root", args.output]
    if properties is not None:
        argv2 += ["--config", str(properties)]
    argv2 += ["pull", "--snapshot", args.snapshot, "--jobs", str(args.jobs)]
    for flag, value in (("--unmanaged-lock", unmanaged), ("--expect-sha256", args.expect_sha256),
                        ("--registry", args.registry)):
        if value is not None:
            argv2 += [flag, str(value)]
    argv2 += [f for f, on in (("--plain-http", args.plain_http), ("--gzip", args.gzip)) if on]
    return plugin_sync(argv2)


if __name__ == "__main__":
    code = main()
    gc.freeze()  # as plugin-sync's own exit does (sync.cli.run): no last walk over what the pull made
    sys.exit(code)
