"""From results to the markdown report: medians, ratios within rounds, and the targets (pure)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence, TypeVar

from bench.fleet import percentile
from bench.results import FullRound, Results, Timing
from bench.serving import CONTROL
from bench.workspace import PullSample

T = TypeVar("T")
MB = 1_000_000  # memory is given in MB, as the target is
MIB = 1 << 20  # data sizes in MiB
MEMORY_LIMIT = 150 * MB
FLAT_SLACK = 10 * MB  # "flat": the peak grows by at most this, or 20 %, whichever is more
UPSTREAM_SHARE = 0.35  # the full pull takes at most this share of the upstream way's time
WORK_FLOOR_SHARE = 0.8  # ... and at most this share of the work floor's
NOOP_SECONDS = 2.0
PARALLEL_SHARE = 0.6  # "on all cores": on average at least this share of the cores busy


def med(values: Iterable[float]) -> float:
    vals = list(values)
    return float(statistics.median(vals)) if vals else float("nan")


def med_of(samples: Sequence[T], key: Callable[[T], float]) -> float:
    return med(key(s) for s in samples)


def secs(x: float) -> str:
    return f"{x:.3f}" if x < 0.1 else f"{x:.2f}"


def mib(n: float) -> str:
    x = n / MIB
    return f"{x:.0f}" if x >= 100 else f"{x:.1f}" if x >= 1 else f"{x:.3f}"


def mb(n: float) -> str:
    return f"{n / MB:.0f}"


def times(x: float) -> str:
    return f"{x:.2f}x"


def ratio(rounds: Sequence[FullRound], other: Callable[[FullRound], float]) -> float:
    """Median over rounds of other's wall time / the pull's wall time, both of the same round."""
    return med(other(r) / r.pull.seconds for r in rounds)


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


# -- targets -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    name: str
    measured: str
    met: bool


def _all_pulls(res: Results) -> list[PullSample]:
    out = [r.pull for r in res.full] + res.noop + res.locked + res.locked_gzip + [c.sample for c in res.changed]
    out += [p for s in res.memory.values() for p in s]
    out += [p for g in res.growth for p in g.full + g.noop]
    return out


def precompress_cost(res: Results) -> tuple[float, float]:
    """(wall seconds, cores busy) that ``--gzip`` adds to a pull: median of per-round differences."""
    walls = [p.with_gzip.seconds - p.without.seconds for p in res.precompress]
    cpus = [p.with_gzip.cpu - p.without.cpu for p in res.precompress]
    wall = med(walls)
    return wall, (med(cpus) / wall if wall > 0 else 0.0)


def targets(res: Results) -> list[Target]:
    out: list[Target] = []
    n = res.plugins
    if res.full:
        up = ratio(res.full, lambda r: r.upstream.seconds)
        work = ratio(res.full, lambda r: r.work_floor.seconds)
        net = ratio(res.full, lambda r: r.network_floor.seconds)
        # ratio() is other / pull, so the pull's share of the other's time is its inverse
        out.append(Target(f"Full pull at most {UPSTREAM_SHARE:g}x the upstream way's time",
                          f"the pull takes {1 / up:.2f}x its time", 1 / up <= UPSTREAM_SHARE))
        out.append(Target(f"Full pull at most {WORK_FLOOR_SHARE:g}x the work floor's time",
                          f"the pull takes {1 / work:.2f}x its time", 1 / work <= WORK_FLOOR_SHARE))
        out.append(Target("Full pull: ratio to the network floor (reported)",
                          f"the pull takes {1 / net:.1f}x the floor's time", True))
    if res.noop:
        req = max(s.requests for s in res.noop)
        blob = max(s.blob_bytes for s in res.noop)
        wall = med_of(res.noop, lambda s: s.seconds)
        # a manifest a plugin, and the registry's challenge once (the bench's registry asks
        # for no token: with one, one token request for every repository at once comes too)
        out.append(Target("No-op pull: at most one registry request per plugin, and one for the challenge",
                          f"{req} requests for {n} plugins", req <= n + 1))
        out.append(Target("No-op pull: no blob downloaded", f"{blob} blob bytes", blob == 0))
        out.append(Target(f"No-op pull under {NOOP_SECONDS:g} s for {n} plugins", f"{secs(wall)} s", wall < NOOP_SECONDS))
    if res.precompress:
        wall, cores = precompress_cost(res)
        out.append(Target(".gz files only with --gzip", f"{res.gz_after_plain_pull} without --gzip, "
                          f"{res.gz_after_gzip_pull} of {n} with it",
                          res.gz_after_plain_pull == 0 and res.gz_after_gzip_pull == n))
        out.append(Target(".gz files made on all cores", f"+{secs(wall)} s, {cores:.1f} of {res.cores} cores busy",
                          cores >= PARALLEL_SHARE * res.cores))
    pulls = _all_pulls(res)
    if pulls:
        peak = max(p.max_rss for p in pulls)
        out.append(Target(f"Peak memory under {mb(MEMORY_LIMIT)} MB", f"{mb(peak)} MB at most", peak < MEMORY_LIMIT))
    if len(res.memory) >= 2:
        peaks = [med_of(s, lambda p: p.max_rss) for _, s in sorted(res.memory.items())]
        spread = max(peaks) - min(peaks)
        flat = spread <= max(FLAT_SLACK, 0.2 * min(peaks))
        sizes = sorted(res.memory)
        out.append(Target("Peak memory flat as module size grows",
                          f"{' / '.join(mb(p) for p in peaks)} MB for {' / '.join(mib(s) for s in sizes)} MiB modules",
                          flat))
    for c in sorted(res.serving.get("project", {})):
        r = serving_ratio(res, c)
        lo, hi = serving_spread(res, c)
        control = serving_ratios(res, c, CONTROL)
        noise = f"; a second stock server: {med(control):.2f}x" if control else ""
        # reported only: the fleet's time to all plugins is the serving target (below)
        out.append(Target(f"Serving throughput under wrk, {c} connections (reported)",
                          f"{r:.2f}x the stock config's (runs {lo:.2f}x to {hi:.2f}x{noise})", True))
    out += fleet_targets(res)
    project = [w for w in res.wire if w.config == "project"]
    if project:
        w = project[0]
        out.append(Target("gzip cuts the bytes on the wire", f"{mib(w.plain_bytes)} -> {mib(w.gzip_bytes)} MiB "
                          f"({100 * (1 - w.gzip_bytes / w.plain_bytes):.0f} % less)", w.gzip_bytes < w.plain_bytes))
    return out


def fleet_p99s(res: Results, config: str, gateways: int) -> list[float]:
    """The p99 time to all plugins of each round of ``config`` at this fleet size."""
    return [percentile(s.times, 0.99) for s in res.fleet.get(config, {}).get(gateways, [])]


def fleet_targets(res: Results) -> list[Target]:
    """At every fleet size: no failure, and the project's p99 (median over rounds) within the
    stock servers' spread (at most the highest p99 a stock server had in a round)."""
    out: list[Target] = []
    for n in sorted(res.fleet.get("project", {})):
        samples = [s for config in res.fleet.values() for s in config.get(n, [])]
        failed = sum(s.failures for s in samples)
        attempts = sum(s.failed_attempts for s in samples)
        out.append(Target(f"Fleet of {n}: every gateway gets every plugin byte-exact, every config",
                          f"{failed} failures ({attempts} failed attempts) in {len(samples)} fleet runs", failed == 0))
        project = med(fleet_p99s(res, "project", n))
        stock = fleet_p99s(res, "stock", n) + fleet_p99s(res, CONTROL, n)
        if stock:
            out.append(Target(f"Fleet of {n}: the project's p99 time to all plugins within stock's spread",
                              f"{secs(project)} s; stock rounds {secs(min(stock))} to {secs(max(stock))} s",
                              project <= max(stock)))
    return out


def serving_ratio(res: Results, connections: int) -> float:
    """Median over rounds of project req/s / stock req/s (round i of each, run back to back)."""
    return med(serving_ratios(res, connections))


def serving_ratios(res: Results, connections: int, config: str = "project") -> list[float]:
    """``config`` req/s / stock req/s of each round (round i of each, run back to back)."""
    a = res.serving.get(config, {}).get(connections, [])
    b = res.serving.get("stock", {}).get(connections, [])
    return [x.rps / y.rps for x, y in zip(a, b)]


def serving_spread(res: Results, connections: int) -> tuple[float, float]:
    """The lowest and highest per-round ratio: how far one run can be trusted."""
    rs = serving_ratios(res, connections)
    return (min(rs), max(rs)) if rs else (float("nan"), float("nan"))


def _spread(values: Sequence[float]) -> str:
    """The median over rounds, and the lowest to the highest round."""
    if len(values) < 2:
        return secs(med(values))
    return f"{secs(med(values))} ({secs(min(values))}–{secs(max(values))})"


def fleet_section(res: Results) -> str:
    """The fleet table: per size and config, the time until each gateway had every plugin."""
    reps = max((len(s) for c in res.fleet.values() for s in c.values()), default=0)
    out = [f"### A gateway fleet starting at once ({res.fleet_paths} plugins per gateway, "
           f"{mib(res.fleet_bytes)} MiB; new servers every round, median of {reps} round(s) with the lowest "
           "and highest round)", "",
           "Each gateway fetches every plugin with the gateway's rule (bare GET, 15 s per attempt, up to 5 "
           "attempts, backoff from 0.5 s), 2 at a time on pooled connections; every gateway starts at once. "
           "Time to all plugins: seconds from the fleet's start until a gateway has every plugin; p50, p99 and "
           "max are over the gateways of one round.", ""]
    rows = []
    for n in sorted({n for c in res.fleet.values() for n in c}):
        for config in ("project", "stock", CONTROL):
            samples = res.fleet.get(config, {}).get(n, [])
            if not samples:
                continue
            rows.append([str(n), config, _spread([percentile(s.times, 0.5) for s in samples]),
                         _spread([percentile(s.times, 0.99) for s in samples]),
                         _spread([max(s.times, default=float("nan")) for s in samples]),
                         str(sum(s.failures for s in samples)), str(sum(s.failed_attempts for s in samples)),
                         mb(med(s.server_rss for s in samples)), secs(med(s.server_cpu for s in samples))])
    out += table(["Gateways", "Config", "p50 (s)", "p99 (s)", "Max (s)", "Failures", "Failed attempts",
                  "nginx peak RSS (MB)", "nginx CPU (s)"], rows)
    return "\n".join(out)


# -- the report ---------------------------------------------------------------------------

def _pull_row(what: str, samples: Sequence[PullSample], compared: str = "") -> list[str]:
    return [what, secs(med_of(samples, lambda s: s.seconds)), compared, secs(med_of(samples, lambda s: s.cpu)),
            mb(med_of(samples, lambda s: s.max_rss)), f"{med_of(samples, lambda s: s.requests):.0f}",
            mib(med_of(samples, lambda s: s.blob_bytes))]


def _timing_row(what: str, rounds: Sequence[FullRound], get: Callable[[FullRound], Timing]) -> list[str]:
    vals = [get(r) for r in rounds]
    return [what, secs(med(v.seconds for v in vals)), times(ratio(rounds, lambda r: get(r).seconds)),
            secs(med(v.cpu for v in vals)), mb(med(v.max_rss for v in vals)), "", ""]


def render(res: Results) -> str:
    p = res.profile
    out = [f"Set: {res.plugins} plugins, {mib(res.module_bytes)} MiB of modules ({mib(res.blob_bytes)} MiB of blobs "
           f"to download), {res.cores} cores; every figure is the median of {p.reps} run(s). "
           "\"Time / pull\" is the median over rounds of that command's time over the pull's in the same round.", ""]
    rows = []
    if res.full:
        rows.append(_pull_row("Full pull into an empty tree", [r.pull for r in res.full], times(1)))
        rows.append(_timing_row("Upstream way (skopeo copy + tar, plugin by plugin)", res.full, lambda r: r.upstream))
        rows.append(_timing_row("Work floor (curl in parallel, then tar/sha256sum/md5sum on all cores)", res.full,
                                lambda r: r.work_floor))
        rows.append(_timing_row("Network floor (curl, all blobs in parallel)", res.full, lambda r: r.network_floor))
    if res.noop:
        rows.append(_pull_row("No-op pull (nothing changed)", res.noop))
    if res.changed:
        rows.append(_pull_row("One plugin changed", [c.sample for c in res.changed]))
    if res.locked:
        rows.append(_pull_row("pull --locked into an empty tree", res.locked))
    if res.locked_gzip:
        rows.append(_pull_row("pull --locked --gzip into an empty tree (the image build)", res.locked_gzip))
    if res.precompress:
        wall, cores = precompress_cost(res)
        cpu = med(x.with_gzip.cpu - x.without.cpu for x in res.precompress)
        rows.append([".gz precompression alone (--gzip minus no-op)", secs(wall), "", secs(cpu), "", "", ""])
    if rows:  # none when only the serving or fleet sections ran
        out += ["### Pull", ""]
        out += table(["What", "Wall (s)", "Time / pull", "CPU (s)", "Peak memory (MB)", "Registry requests",
                      "Downloaded (MiB)"], rows)
    if res.changed:
        exp = med(c.expected_bytes for c in res.changed)
        out += ["", f"One plugin changed: the changed plugin's blobs are {mib(exp)} MiB."]
    if res.memory:
        out += ["", "### Peak memory as module size grows", ""]
        out += table(["Module size (MiB)", "Plugins", "Wall (s)", "Peak memory (MB)"],
                     [[mib(size), str(p.memory_plugins), secs(med_of(s, lambda x: x.seconds)),
                       mb(med_of(s, lambda x: x.max_rss))] for size, s in sorted(res.memory.items())])
    if res.growth:
        out += ["", "### How cost grows with the number of plugins and versions", ""]
        out += table(["Plugins", "Versions each", "Modules (MiB)", "Full pull (s)", "Per plugin (ms)",
                      "Per MiB (ms)", "Full peak memory (MB)", "No-op pull (s)", "No-op requests",
                      "No-op downloaded (MiB)"],
                     [[str(g.plugins), str(g.versions), mib(g.module_bytes), secs(med_of(g.full, lambda x: x.seconds)),
                       f"{1000 * med_of(g.full, lambda x: x.seconds) / g.plugins:.0f}",
                       f"{1000 * med_of(g.full, lambda x: x.seconds) / (g.module_bytes / MIB):.1f}",
                       mb(med_of(g.full, lambda x: x.max_rss)), secs(med_of(g.noop, lambda x: x.seconds)),
                       f"{med_of(g.noop, lambda x: x.requests):.0f}", mib(med_of(g.noop, lambda x: x.blob_bytes))]
                      for g in sorted(res.growth, key=lambda g: (g.plugins, g.versions))])
    if res.serving:
        out += ["", f"### Serving plugin.wasm (wrk, {p.wrk_seconds} s per run, median of {p.serving_reps} runs, "
                f"cycling through all {res.plugins} modules)", ""]
        rows = []
        for c in sorted(res.serving.get("project", {})):
            a, b = res.serving["project"][c], res.serving.get("stock", {}).get(c, [])
            control = serving_ratios(res, c, CONTROL)
            rows.append([str(c), f"{med(x.rps for x in a):.0f}", f"{med(x.rps for x in b):.0f}",
                         times(serving_ratio(res, c)),
                         " to ".join(times(x) for x in serving_spread(res, c)), f"{med(x.mib_s for x in a):.0f}", f"{med(x.mib_s for x in b):.0f}",
                         f"{med(x.p99_ms for x in a):.1f}", f"{med(x.p99_ms for x in b):.1f}",
                         f"{med(x.cpu_per_gib for x in a):.2f}", f"{med(x.cpu_per_gib for x in b):.2f}",
                         times(med(control)) if control else "",
                         str(sum(x.errors for x in a + b))])
        out += table(["Connections", "Project req/s", "Stock req/s", "Project / stock", "Runs (lowest to highest)",
                      "Project MiB/s",
                      "Stock MiB/s", "Project p99 (ms)", "Stock p99 (ms)", "Project nginx CPU (s/GiB)",
                      "Stock nginx CPU (s/GiB)", "Second stock / stock (noise)", "Errors"], rows)
    if res.wire:
        out += ["", "### Bytes on the wire (every plugin.wasm once)", ""]
        out += table(["Config", "Without Accept-Encoding (MiB)", "With Accept-Encoding: gzip (MiB)", "Saved",
                      "Responses gzipped"],
                     [[w.config, mib(w.plain_bytes), mib(w.gzip_bytes),
                       f"{100 * (1 - w.gzip_bytes / w.plain_bytes):.0f} %", f"{w.gzip_responses} of {w.files}"]
                      for w in res.wire])
    if res.fleet:
        out += ["", fleet_section(res)]
    ts = targets(res)
    if ts:
        out += ["", "### Targets", ""]
        out += table(["Target", "Measured", "Met"], [[t.name, t.measured, "yes" if t.met else "**no**"] for t in ts])
    return "\n".join(out) + "\n"
