"""The command line: global options, then one command. Each command lives in its own module
here and only wires the library together.

    plugin-sync [--config plugins.yaml] [--root plugins] [--lock plugins.lock.json] COMMAND ...
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
import traceback
from typing import NoReturn, Sequence

from sync import __version__, settings
from sync.errors import SyncError
from sync.filenames import CONFIG, TREE

# each command and the module under sync/cli/ that defines it, in the order `--help` lists
# them; a run imports only the module of the command it runs (as pip's command table does), so
# that `--version`, `verify` or `import` do not load the registry client, requests or the catalog
COMMANDS = {
    "pull": "pull",
    "mirror": "mirror",
    "unmanaged-lock": "unmanaged",
    "newest-snapshot": "newest_snapshot",
    "verify": "verify",
    "coverage": "coverage",
    "metadata": "metadata",
    "import": "properties",
    "serve": "serve",
    "wasmplugin": "wasmplugin",
    "detect": "detect",
    "propose": "propose",
    "propose-snapshot": "propose_snapshot",
    "release": "release",
    "tag-check": "tagcheck",
}

# the global options that take a value: the word after them is not the command
_VALUED = ("--config", "--root", "--lock")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())}\n")


def command_in(argv: Sequence[str]) -> str | None:
    """The command ``argv`` runs, if it names one: the first word that is neither an option
    nor the value of a global option."""
    words = iter(argv)
    for word in words:
        if word == "--":
            return next(words, None)
        if word in _VALUED:
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def modules_for(argv: Sequence[str]) -> list[str]:
    """The command modules a run of ``argv`` needs: the one of the command it names; none for
    ``--version`` alone (answered before a command is read); every one otherwise (``--help``,
    or a word that is no command, whose error lists them all)."""
    command = command_in(argv)
    if command in COMMANDS:
        return [COMMANDS[command]]
    if command is None and "--version" in argv:
        return []
    return list(COMMANDS.values())


def build_parser(modules: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser of the global options and the commands of ``modules`` (default: every
    command); only those modules are imported."""
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
    for name in COMMANDS.values() if modules is None else modules:
        try:  # every command ships with the package: none is optional
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
        parser = build_parser(modules_for(sys.argv[1:] if argv is None else argv))
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


def run() -> NoReturn:
    """The console script and ``python -m sync``: ``main``, then exit. Everything the run made
    is first moved out of the cyclic collector's sight (``gc.freeze``): the interpreter's exit
    would otherwise walk it all in one last collection, 30 to 50 ms after a pull, once the work
    is done (docs/performance.md, "The pull at WAN distance"). Files, locks and worker
    processes are closed by then; atexit handlers and stream flushes still run. Not in
    ``main``, which tests and ``pull_plugins.py`` call in a process that goes on."""
    code = main()
    gc.freeze()
    sys.exit(code)
