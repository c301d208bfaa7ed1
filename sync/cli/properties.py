"""plugin-sync import"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sync.config import dump_config
from sync.fsutil import write_atomic
from sync.properties import load_properties


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("import", help="turn an upstream plugins.properties into plugins.yaml")
    p.add_argument("file", type=Path, metavar="FILE.properties")
    p.add_argument("-o", "--output", type=Path, help="write here (default: stdout)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    cfg = load_properties(args.file)
    text = dump_config(cfg)
    if args.output:
        write_atomic(args.output, text)
        print(f"wrote {args.output}: {len(cfg.plugins)} plugins", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
