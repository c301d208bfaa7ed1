"""``python -m bench.wan``: the pull at WAN distance (see ``bench.wan``); prints the markdown table."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from bench.baselines import missing_tools
from bench.cli import DEFAULT_SET
from bench.dataset import plugin_set
from bench.profile import parse_counts, parse_range
from bench.wan.report import render
from bench.wan.run import run_wan
from sync.errors import ConfigError
from sync.properties import load_properties


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.wan", description=__doc__)
    p.add_argument("--plugins", type=int, default=52, help="plugins in the set (default: the console's 52)")
    p.add_argument("--sizes", type=parse_range, default=parse_range("100K-1500K"),
                   help="module size range (default: 100K-1500K, as Higress's plugins are)")
    p.add_argument("--rtts", type=parse_counts, default=(1, 50, 150, 300),
                   help="round-trip times in ms (default: 1,50,150,300; 1 stands for 0: the loopback itself)")
    p.add_argument("--bandwidth", type=float, default=20.0, help="MB/s shared by every connection (default: 20)")
    p.add_argument("--reps", type=int, default=5, help="rounds of the project's pulls (default: 5)")
    p.add_argument("--upstream-reps", type=int, default=1,
                   help="rounds of the upstream way and skopeo sync (default: 1; they take minutes at distance)")
    p.add_argument("--output", type=Path, help="also write the table here")
    p.add_argument("--work-dir", type=Path, help="make the scratch directory here")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    missing = missing_tools()
    if missing:
        print(f"bench: missing tools: {', '.join(missing)} (run bench/run, which installs them)", file=sys.stderr)
        return 2
    try:
        base = load_properties(DEFAULT_SET)
    except ConfigError as e:
        print(f"bench: {e.message}", file=sys.stderr)
        return 2
    plugins = plugin_set(base, args.plugins, *args.sizes)
    rtts = [0.0 if ms <= 1 else ms / 1000 for ms in args.rtts]
    rows = run_wan(plugins, rtts, args.bandwidth * 1e6, args.reps, args.upstream_reps, args.work_dir)
    text = render(rows, len(plugins))
    sys.stdout.write(text)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    return 0
