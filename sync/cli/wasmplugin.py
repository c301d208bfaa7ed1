"""``plugin-sync wasmplugin``: print a WasmPlugin that loads a served module by URL and sha256."""

from __future__ import annotations

import argparse
import sys

from sync import wasmplugin
from sync.cli import common


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "wasmplugin",
        help="print a WasmPlugin resource for a served plugin",
        description=(
            "Print a Higress WasmPlugin (extensions.higress.io/v1alpha1) whose url points at the "
            "plugin server and whose sha256 is the one in the tree's index.json."
        ),
    )
    p.add_argument("name", help="the served plugin name")
    p.add_argument("--plugin-version", dest="plugin_version", default=None, metavar="V",
                   help="the served version (default: the highest)")
    p.add_argument("--version", action=common.Renamed, new="--plugin-version")
    p.add_argument("--base-url", required=True, metavar="URL",
                   help="the plugin server as the gateway reaches it, "
                        "e.g. http://higress-plugin-server.higress-system.svc")
    p.add_argument("--namespace", default=wasmplugin.DEFAULT_NAMESPACE,
                   help=f"the resource's namespace (default: {wasmplugin.DEFAULT_NAMESPACE})")
    p.add_argument("--resource-name", default=None, metavar="NAME",
                   help="the resource's name (default: the plugin name)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    tree = common.tree(args)
    served = wasmplugin.choose(wasmplugin.load_index(tree), args.name, args.plugin_version)
    sys.stdout.write(
        wasmplugin.render(
            served,
            args.base_url,
            namespace=args.namespace,
            resource_name=args.resource_name,
            placement=wasmplugin.load_spec(tree, served),
        )
    )
    return 0
