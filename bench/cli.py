"""``python -m bench``: set up a registry on loopback, measure, print the markdown report."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

from bench.baselines import missing_tools
from bench.profile import FULL, QUICK, customise, parse_counts, parse_range, parse_sizes
from bench.report import render
from bench.serving import have_tools
from bench.suite import SECTIONS, run_suite
from sync.errors import ConfigError
from sync.properties import load_properties

DEFAULT_SET = Path(__file__).resolve().parents[1] / "samples" / "reference" / "higress-console.plugins.properties"


def _typed(parse):  # type: ignore[no-untyped-def]
    def f(text: str):  # type: ignore[no-untyped-def]
        try:
            return parse(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    return f


def parse_sections(text: str) -> tuple[str, ...]:
    names = tuple(s.strip() for s in text.split(",") if s.strip())
    unknown = [n for n in names if n not in SECTIONS]
    if unknown or not names:
        raise ValueError(f"unknown section(s) {', '.join(unknown) or text!r}; choose from {', '.join(SECTIONS)}")
    return names


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="one run per figure, smaller growth and memory sets, 1 s wrk runs")
    p.add_argument("--properties", type=Path, default=DEFAULT_SET,
                   help="the plugin list (plugins.properties format; default: the console's 52 plugins)")
    p.add_argument("--plugins", type=_typed(lambda t: parse_counts(t)[0]), help="size of the main set")
    p.add_argument("--sizes", type=_typed(parse_range), help="module size range, e.g. 1M-10M")
    p.add_argument("--reps", type=_typed(lambda t: parse_counts(t)[0]), help="runs per figure (the median is shown)")
    p.add_argument("--growth", type=_typed(parse_counts), help="set sizes for the growth table, e.g. 10,52,200")
    p.add_argument("--versions-each", type=_typed(lambda t: parse_counts(t)[0]),
                   help="version directories per plugin in the multi-version growth row (1: no such row)")
    p.add_argument("--memory-sizes", type=_typed(parse_sizes), help="module sizes for the memory table, e.g. 1M,10M,50M")
    p.add_argument("--memory-plugins", type=_typed(lambda t: parse_counts(t)[0]), help="plugins per memory set")
    p.add_argument("--connections", type=_typed(parse_counts), help="wrk connection counts, e.g. 1,16,128")
    p.add_argument("--wrk-seconds", type=_typed(lambda t: parse_counts(t)[0]), help="seconds per wrk run")
    p.add_argument("--serving-reps", type=_typed(lambda t: parse_counts(t)[0]),
                   help="wrk runs per config and connection count")
    p.add_argument("--fleet-sizes", type=_typed(parse_counts), help="gateway fleet sizes, e.g. 1,50,200")
    p.add_argument("--fleet-reps", type=_typed(lambda t: parse_counts(t)[0]),
                   help="fleet rounds per size, new servers each round")
    p.add_argument("--fleet-plugins", type=_typed(lambda t: parse_counts(t)[0]),
                   help="plugins each gateway fetches (the smallest of the main set)")
    p.add_argument("--sections", type=_typed(parse_sections), default=SECTIONS,
                   help=f"the sections to run, comma-separated (default: all of {','.join(SECTIONS)})")
    p.add_argument("--output", type=Path, help="also write the report here")
    p.add_argument("--json", type=Path, help="write every measured figure here as JSON")
    p.add_argument("--work-dir", type=Path, help="make the scratch directory here (default: the system temp dir)")
    p.add_argument("--keep", action="store_true", help="keep the scratch directory (trees, lists, configs)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    missing = missing_tools() + have_tools()
    if missing:
        print(f"bench: missing tools: {', '.join(missing)} (run bench/run, which installs them)", file=sys.stderr)
        return 2
    try:
        base = load_properties(args.properties)
    except ConfigError as e:
        print(f"bench: {e.message}", file=sys.stderr)
        return 2
    size_range = args.sizes or (None, None)
    profile = customise(QUICK if args.quick else FULL, plugins=args.plugins, min_size=size_range[0],
                        max_size=size_range[1], reps=args.reps, growth=args.growth, versions_each=args.versions_each, memory_sizes=args.memory_sizes,
                        memory_plugins=args.memory_plugins, connections=args.connections,
                        wrk_seconds=args.wrk_seconds, serving_reps=args.serving_reps,
                        fleet_sizes=args.fleet_sizes, fleet_reps=args.fleet_reps, fleet_plugins=args.fleet_plugins)
    results = run_suite(base, profile, args.work_dir, args.keep, args.sections)
    text = render(results)
    sys.stdout.write(text)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps(asdict(results), indent=1, default=str) + "\n", encoding="utf-8")
    return 0
