"""Serving as gateways see it: a fleet of simulated gateways (``tests/support/fleet.py``: the
fetcher's timeout and retry rule, every gateway starting at once) against one nginx, run in
a process of its own on the load generator's cores. Records the time until each gateway had
every plugin, every failed attempt, whether each body hashed to the lock's sha256, and the
server's peak memory and CPU over the fleet's run."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from bench.measure import TreeMemory
from bench.serving import family, pinned, process_cpu
from tests.support.fleet import FleetRun

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class FleetSample:
    config: str
    gateways: int
    times: list[float]  # seconds until each gateway that got everything had it, sorted
    failed_gateways: int
    failed_attempts: int
    wrong_bodies: int  # complete bodies whose sha256 is not the lock's
    seconds: float  # the fleet's run, first request to last answer
    server_cpu: float  # nginx's CPU seconds over the run
    server_rss: int  # nginx's peak resident bytes (master and workers) over the run
    server_pid: int
    causes: dict[str, int] = field(default_factory=dict)

    @property
    def failures(self) -> int:
        """Gateways that did not get everything, and bodies that were not the lock's."""
        return self.failed_gateways + self.wrong_bodies


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) by the nearest rank; nan when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-int(q * 1000) * len(ordered) // 1000))  # ceil(q * n), in integers
    return ordered[min(rank, len(ordered)) - 1]


def summarise(config: str, run: FleetRun, want: Mapping[str, str], server_pid: int, cpu: float,
              rss: int) -> FleetSample:
    wrong = sum(1 for a in run.attempts if not a.cause and a.sha256 != want.get(a.path))
    return FleetSample(config, run.gateways, run.times_to_all(), len(run.failed_gateways()),
                       len(run.failed_attempts()), wrong, run.seconds, cpu, rss, server_pid, dict(run.causes()))


def fleet(config: str, url: str, want: Mapping[str, str], gateways: int, server_pid: int,
          cpus: frozenset[int] | None = None) -> FleetSample:
    """Start ``gateways`` gateways at once against ``url``, each fetching every path of ``want``
    (path -> the lock's sha256)."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    argv = [sys.executable, "-m", "tests.support.fleet", "--host", host, "--port", port,
            "--gateways", str(gateways), *sorted(want)]
    pids = family(server_pid)
    before = process_cpu(pids)
    memory = TreeMemory(server_pid, interval=0.02)
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=900, cwd=REPO, preexec_fn=pinned(cpus))
    finally:
        memory.stop()
    cpu = process_cpu(pids) - before
    if p.returncode != 0:
        raise RuntimeError(f"the fleet failed ({p.returncode}): {p.stderr.strip()[-300:]}")
    return summarise(config, FleetRun.from_json(p.stdout), want, server_pid, cpu, memory.peak)
