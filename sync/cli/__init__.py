"""The command line: global options, then one command. Each command lives in its own module
here and only wires the library together.

    plugin-sync [--config plugins.yaml] [--root plugins] [--lock plugins.lock.json] COMMAND ...
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from typing import NoReturn, Sequence

from sync import __version__, settings
from sync.errors import SyncError
from sync.filenames import CONFIG, TREE

# command modules, in the order `--help` lists them
COMMANDS = (
    "pull",
    "unmanaged",
    "newest_snapshot",
    "verify",
    "metadata",
    "properties",
    "serve",
    "wasmplugin",
    "detect",
    "propose",
    "propose_snapshot",
    "release",
    "tagcheck",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="plugin-sync", description="Mirror Higress Wasm plugins from OCI into a served tree.")
    p.add_argument("--version", action="version", version=f"plugin-sync {__version__}")
    p.add_argument("--config", default=os.environ.get("PLUGIN_SYNC_CONFIG", CONFIG),
                   help="the desired state (default: plugins.yaml)")
    p.add_argument("--root", default=os.environ.get("PLUGIN_SYNC_ROOT", TREE),
                   help="the served tree (default: plugins)")
    p.add_argument("--lock", default=None,
                   help="the resolved state (default: plugins.lock.json beside the config)")
    p.add_argument("-v", "--verbose", action="store_true", help="more detail on stderr")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMANDS:  # every command ships with the package: none is optional
        try:
            module = importlib.import_module(f"sync.cli.{name}")
        except ImportError as e:
            raise BrokenInstallError(f"command {name!r} cannot be loaded: {e} (a broken installation: "
                                     "reinstall plugin-sync)") from e
        module.register(sub)
    return p


class BrokenInstallError(Exception):
    """A command module or one of its dependencies is missing: a packaging error, never hidden."""


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()
    except BrokenInstallError as e:
        if os.environ.get("PLUGIN_SYNC_DEBUG"):
            traceback.print_exc()
        print(f"plugin-sync: internal error: {e}", file=sys.stderr)
        return 1
    args = parser.parse_args(argv)
    try:
        settings.check_all()  # a bad PLUGIN_SYNC_* number fails every command alike, before any work
        return int(args.run(args) or 0)
    except SyncError as e:
        print(f"plugin-sync: error: {e.message}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("plugin-sync: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception as e:  # noqa: BLE001 - the last line of defence: one line, no traceback
        if os.environ.get("PLUGIN_SYNC_DEBUG"):
            traceback.print_exc()
        print(f"plugin-sync: internal error: {type(e).__name__}: {' '.join(str(e).split())}"
              " (set PLUGIN_SYNC_DEBUG=1 for a traceback)", file=sys.stderr)
        return 1
