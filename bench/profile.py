"""How much the benchmark does: the full profile, ``--quick``, and explicit overrides (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from bench.dataset import MB

_SIZE = re.compile(r"(\d+(?:\.\d+)?)([KMG]?)", re.I)
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


@dataclass(frozen=True)
class Profile:
    plugins: int = 52  # the main set: the console's list
    min_size: int = 1 * MB
    max_size: int = 10 * MB
    reps: int = 3  # every figure is the median of this many runs
    growth: tuple[int, ...] = (10, 52, 200)
    versions_each: int = 3  # the multi-version row: the main set, each plugin served under this many versions
    memory_sizes: tuple[int, ...] = (1 * MB, 10 * MB, 50 * MB)  # module size of each memory set
    memory_plugins: int = 4
    connections: tuple[int, ...] = (1, 16, 128)
    wrk_seconds: int = 2
    # wrk runs per config and connection count, the two configs alternating: throughput is the
    # noisiest figure on a shared machine, and many short pairs give a steadier median ratio
    serving_reps: int = 11
    # the gateway fleet: gateways starting at once, each fetching fleet_plugins plugins (the
    # smallest of the main set), new servers every round
    fleet_sizes: tuple[int, ...] = (1, 50, 200)
    fleet_reps: int = 5
    fleet_plugins: int = 10


FULL = Profile()
QUICK = Profile(reps=1, growth=(10, 52), memory_sizes=(1 * MB, 10 * MB, 25 * MB), wrk_seconds=1, serving_reps=1,
                fleet_sizes=(1, 50), fleet_reps=1)


def parse_size(text: str) -> int:
    """``64K``, ``1M``, ``1.5M``, ``4096`` -> bytes."""
    m = _SIZE.fullmatch(text.strip())
    if not m:
        raise ValueError(f"not a size: {text!r} (use e.g. 64K, 1M, 10M)")
    return int(float(m.group(1)) * _UNITS[m.group(2).upper()])


def parse_sizes(text: str) -> tuple[int, ...]:
    return tuple(parse_size(s) for s in text.split(",") if s.strip())


def parse_counts(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise ValueError(f"not a list of numbers: {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise ValueError(f"expected positive numbers, got {text!r}")
    return values


def parse_range(text: str) -> tuple[int, int]:
    """``1M-10M`` -> (1 MiB, 10 MiB)."""
    lo, sep, hi = text.partition("-")
    if not sep:
        raise ValueError(f"not a size range: {text!r} (use e.g. 1M-10M)")
    a, b = parse_size(lo), parse_size(hi)
    if a < 64 or b < a:
        raise ValueError(f"bad size range {text!r}: need 64 <= MIN <= MAX")
    return a, b


def customise(base: Profile, **overrides: object) -> Profile:
    """``base`` with every override that is not None."""
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})
