"""What every command shares: where the config, lock and tree are."""

from __future__ import annotations

import argparse
from pathlib import Path

from sync.config import Config, load_config
from sync.lock import Lock, load_lock
from sync.tree import Tree


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
