"""The WAN table and its targets, from the rows measured (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from bench.report import med, secs, table, times
from bench.wan.run import Row, Sample

NOOP_SLACK = 0.5  # seconds over the floor a no-op may take at 150 ms, start-up included
FULL_FLOOR_SHARE = 1.2  # a full pull takes at most this many times the floor
UPSTREAM_SHARE = 0.2  # ... and at most this share of the upstream way's time
TARGET_RTT = 0.150


def _med(samples: list[Sample], key: str = "seconds") -> float:
    if key == "seconds":
        return med(s.seconds for s in samples)
    return med(getattr(s.counts, key) for s in samples)


def _cell(row: Row, command: str) -> str:
    got = row.samples.get(command)
    return secs(_med(got)) if got else "n/a"


def _over(row: Row, command: str, noop: bool = False) -> str:
    """``command``'s median over the row's floor (the no-op's or the full pull's)."""
    floor, got = row.floor(noop), row.samples.get(command)
    return times(_med(got) / floor) if got and floor > 0 else "n/a"


def _asked(row: Row, command: str) -> str:
    got = row.samples.get(command)
    return f"{_med(got, 'requests'):.0f}" if got else "n/a"


@dataclass(frozen=True)
class Target:
    name: str
    measured: str
    met: bool


def targets(rows: list[Row]) -> list[Target]:
    out: list[Target] = []
    for row in rows:
        if abs(row.link.rtt - TARGET_RTT) > 1e-9:
            continue
        s = row.samples
        if row.multi_scope:
            noop, full = _med(s["noop"]), _med(s["full"])
            out.append(Target(f"no-op at {TARGET_RTT * 1000:.0f} ms <= floor + {NOOP_SLACK} s",
                              f"{secs(noop)} s, floor {secs(row.floor(True))} s", noop <= row.floor(True) + NOOP_SLACK))
            out.append(Target(f"full pull at {TARGET_RTT * 1000:.0f} ms <= {FULL_FLOOR_SHARE}x floor",
                              times(full / row.floor(False)), full <= FULL_FLOOR_SHARE * row.floor(False)))
            if s.get("upstream"):
                share = med(f.seconds for f in s["full"]) / _med(s["upstream"])
                out.append(Target(f"full pull <= {UPSTREAM_SHARE}x the upstream way", times(share),
                                  share <= UPSTREAM_SHARE))
        else:
            noop = s["noop"]
            worst_tokens = max(x.counts.token_requests for x in noop)
            worst_401 = max(x.counts.challenges for x in noop)
            out.append(Target("one scope per token request: <= 1 token request per repository (no-op)",
                              f"{worst_tokens} token requests for {row.repositories} repositories",
                              worst_tokens <= row.repositories))
            out.append(Target("no 401 after the first per host (no-op)", f"{worst_401} answered 401",
                              worst_401 <= 1))
    return out


def render(rows: list[Row], plugins: int) -> str:
    main = [r for r in rows if r.multi_scope]
    lines = ["## The pull at WAN distance", "",
             f"{plugins} plugins, {main[0].blob_bytes / 1e6:.1f} MB of blobs; bandwidth capped at "
             f"{main[0].link.bandwidth / 1e6:g} MB/s shared; a new connection costs {main[0].link.handshake} "
             "round trips (TCP and TLS 1.3), every request one; anonymous bearer tokens per repository. "
             "Seconds are medians over rounds; the floor is the least any client needs (bench/wan/floor.py). "
             "The upstream way and skopeo sync keep nothing between runs: their no-op is a full run, and their "
             "ratio is to the full pull's floor.", ""]
    header = ["RTT", "floor: no-op / full", "no-op", "x floor", "full", "x floor", "--locked no-op",
              "upstream way", "x floor", "skopeo sync", "x floor",
              "requests: no-op / full / upstream way / skopeo sync", "token requests (no-op)"]
    body = []
    for r in main:
        body.append([f"{r.link.rtt * 1000:.0f} ms", f"{secs(r.floor(True))} / {secs(r.floor(False))}",
                     _cell(r, "noop"), _over(r, "noop", True), _cell(r, "full"), _over(r, "full"),
                     _cell(r, "locked_noop"), _cell(r, "upstream"), _over(r, "upstream"),
                     _cell(r, "skopeo_sync"), _over(r, "skopeo_sync"),
                     " / ".join(_asked(r, c) for c in ("noop", "full", "upstream", "skopeo_sync")),
                     f"{_med(r.samples['noop'], 'token_requests'):.0f}"])
    lines += table(header, body)
    single = [r for r in rows if not r.multi_scope]
    for r in single:
        s = r.samples
        lines += ["", f"Against a token service that grants one scope per request, at {r.link.rtt * 1000:.0f} ms: "
                  f"no-op {_cell(r, 'noop')} s with {_med(s['noop'], 'token_requests'):.0f} token requests and "
                  f"{_med(s['noop'], 'challenges'):.0f} answered 401; full {_cell(r, 'full')} s."]
    lines += ["", "| Target | Measured | Met |", "|---|---|---|"]
    lines += [f"| {t.name} | {t.measured} | {'yes' if t.met else '**no**'} |" for t in targets(rows)]
    return "\n".join(lines) + "\n"
