"""What every command shares: where the config, lock and tree are."""

from __future__ import annotations

import argparse
from pathlib import Path

from sync.config import Config, load_config
from sync.lock import Lock, load_lock
from sync.tree import Tree


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
    return config_path(args).resolve().parent / "plugins.lock.json"


def tree(args: argparse.Namespace) -> Tree:
    return Tree(Path(args.root))


def config(args: argparse.Namespace) -> Config:
    """plugins.yaml, or upstream's plugins.properties format when the file is named so."""
    path = config_path(args)
    if path.suffix == ".properties":
        from sync.properties import load_properties

        return load_properties(path)
    return load_config(path)


def lock(args: argparse.Namespace) -> Lock:
    return load_lock(lock_path(args))
