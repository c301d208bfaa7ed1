"""``plugin-sync serve``: serve the tree with nginx and the image's config, in the foreground."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sync import serve
from sync.cli import common
from sync.errors import UsageError


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} is out of range (1-65535)")
    return port



def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "serve",
        help="serve the tree over HTTP with nginx",
        description=(
            "Serve the tree at http://HOST:PORT/plugins/ with the installed nginx and the same "
            "nginx.conf the container image ships. Makes the precompressed plugin.wasm.gz files "
            "first. Runs in the foreground until Ctrl-C or SIGTERM; the access log (JSON lines) "
            "goes to stdout."
        ),
    )
    p.add_argument("--host", default=serve.DEFAULT_HOST,
                   help=f"address to listen on (default: {serve.DEFAULT_HOST}; 0.0.0.0 for every interface)")
    p.add_argument("--port", type=_port, default=serve.DEFAULT_PORT,
                   help=f"port to listen on (default: {serve.DEFAULT_PORT})")
    p.add_argument("--nginx", default=None, metavar="PATH",
                   help="the nginx binary (default: nginx on PATH or in /usr/sbin)")
    p.add_argument("--nginx-conf", default=None, metavar="PATH", type=Path,
                   help="the config template (default: nginx/nginx.conf of this source tree)")
    p.add_argument("--jobs", type=common.jobs, default=None, help="parallel compressions (default: all cores)")
    p.add_argument("--wait", type=float, default=600.0,
                   help="seconds to wait for another plugin-sync writing the tree (default 600)")
    p.add_argument("--prepare-only", action="store_true",
                   help="make the precompressed files and check the setup, then exit without serving "
                        "(the image build uses this for a committed tree)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    tree = common.tree(args)
    listen = serve.Listen(args.host, args.port)
    if not tree.root.is_dir():
        raise UsageError(f"{tree.root}: no such tree; run `plugin-sync pull` first or pass --root")
    binary = None if args.prepare_only else serve.find_nginx(args.nginx)
    written = serve.prepare_tree(tree, common.lock(args), args.jobs, args.wait, common.waiting)
    if written:
        print(f"plugin-sync: precompressed {written} module(s)", file=sys.stderr)
    if binary is None:
        return 0
    return serve.serve(tree, listen, binary=binary, template=args.nginx_conf)
