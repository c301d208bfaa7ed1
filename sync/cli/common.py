"""What the commands share: where the config, lock, cursor and tree are, and reading them."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sync.config import Config, load_config, parse_config
from sync.errors import ConfigError, UsageError
from sync.filenames import LOCK
from sync.lock import Lock, load_lock
from sync.tree import Tree

if TYPE_CHECKING:  # imported by the commands that read one: a pull does not load the upstream model
    from sync.upstream.model import Changes

CURSOR_FILE = "upstream-cursor.json"  # the upstream cursor's default name, beside the config


class Renamed(argparse.Action):
    """An old option spelling, refused with the new one: the subcommands once took
    ``--version VALUE``, a name the global ``plugin-sync --version`` owns."""

    def __init__(self, option_strings: list[str], dest: str, new: str = "", **kw: object) -> None:
        super().__init__(option_strings, dest, nargs="?", help=argparse.SUPPRESS)
        self.new = new

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        parser.error(f"{option_string} is the program's version flag; use {self.new} {values or ''}".rstrip())


def jobs(text: str) -> int:
    """An argparse type: a number of parallel jobs, 1 to 256."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if n < 1 or n > 256:
        raise argparse.ArgumentTypeError("must be between 1 and 256")
    return n


def config_path(args: argparse.Namespace) -> Path:
    return Path(args.config)


def lock_path(args: argparse.Namespace) -> Path:
    if args.lock:
        return Path(args.lock)
    return config_path(args).resolve().parent / LOCK


def cursor_path(args: argparse.Namespace) -> Path:
    if getattr(args, "cursor", None):
        return Path(args.cursor)
    return config_path(args).resolve().parent / CURSOR_FILE


def tree(args: argparse.Namespace) -> Tree:
    return Tree(Path(args.root))


def waiting() -> None:
    """Said once when a command waits for another writer of the tree."""
    print("waiting for another plugin-sync writing this tree ...", file=sys.stderr)


def config(args: argparse.Namespace) -> Config:
    """plugins.yaml, or upstream's plugins.properties format when the file is named so."""
    path = config_path(args)
    if path.suffix == ".properties":
        from sync.properties import load_properties

        return load_properties(path)
    return load_config(path)


def lock(args: argparse.Namespace) -> Lock:
    return load_lock(lock_path(args))


def read_config(args: argparse.Namespace) -> tuple[Config, bool]:
    """plugins.yaml, or the empty config when there is none; and whether there was one."""
    path = config_path(args)
    if path.exists():
        return load_config(path), True
    return parse_config(None), False


def load_changes(path: Path) -> Changes:
    """A ``detect --json`` document given as ``--changes``."""
    from sync.upstream.model import Changes

    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"--changes {path}: no such file") from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ConfigError(f"--changes {path}: cannot read a detect document: {e}") from None
    return Changes.from_json(raw, f"{path}: ")
