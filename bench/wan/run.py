"""The WAN section's measurements: at each round-trip time, the project's full and no-op
pulls, the upstream way (skopeo, plugin by plugin) and ``skopeo sync`` of the same set, in
rounds whose order rotates, with what each asked over the link."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from bench.baselines import Baselines
from bench.dataset import BenchPlugin, Pushed, push_all
from bench.wan.floor import Link, floor_seconds
from bench.wan.servers import Counts, Wan, wan_registry
from bench.workspace import Workspace, clean_env
from sync.cli.pull import DEFAULT_JOBS
from tests.support.registry import running_registry


@dataclass(frozen=True)
class Sample:
    seconds: float
    counts: Counts


@dataclass
class Row:
    """Every sample at one link."""

    link: Link
    blob_bytes: int
    repositories: int
    multi_scope: bool = True
    samples: dict[str, list[Sample]] = field(default_factory=dict)  # command -> rounds

    def floor(self, noop: bool) -> float:
        return floor_seconds(self.link, self.blob_bytes, token=True, noop=noop)


COMMANDS = ("full", "noop", "locked_noop", "upstream", "skopeo_sync")
PROJECT = ("full", "noop", "locked_noop")


def say(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


def skopeo_sync_yaml(registry: str, pushed: list[Pushed]) -> str:
    images: dict[str, list[str]] = {}
    for p in pushed:
        images.setdefault(p.plugin.repository, []).append(p.plugin.tag)
    lines = [f"{registry}:", "  tls-verify: false", "  images:"]
    lines += [f"    {repo}: [{', '.join(repr(t) for t in tags)}]" for repo, tags in images.items()]
    return "\n".join(lines) + "\n"


class WanSuite:
    def __init__(self, plugins: list[BenchPlugin], rtts: list[float], bandwidth: float, reps: int,
                 upstream_reps: int, work: Path, handshake: int = 2) -> None:
        self.plugins, self.rtts, self.bandwidth = plugins, rtts, bandwidth
        self.reps, self.upstream_reps, self.work, self.handshake = reps, upstream_reps, work, handshake
        self.env = clean_env(work)
        self.skopeo_sync_out = work / "skopeo-sync"

    def _timed(self, wan: Wan, command: Callable[[], object], setup: Callable[[], object] | None = None) -> Sample:
        if setup is not None:  # not part of what is measured: clearing what the last round left
            setup()
        wan.reset()
        start = time.perf_counter()
        command()
        return Sample(time.perf_counter() - start, wan.counts())

    def _fresh_skopeo_sync_out(self) -> None:
        shutil.rmtree(self.skopeo_sync_out, ignore_errors=True)
        self.skopeo_sync_out.mkdir()

    def _skopeo_sync(self, yaml_file: Path) -> None:
        subprocess.run(["skopeo", "--insecure-policy", "sync", "--scoped", "--src", "yaml", "--dest", "dir",
                        str(yaml_file), str(self.skopeo_sync_out)], check=True, env=self.env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=3600)

    def _row(self, wan: Wan, link: Link, pushed: list[Pushed], multi_scope: bool,
             commands: tuple[str, ...]) -> Row:
        wan.set_link(link)
        row = Row(link, sum(b.size for p in pushed for b in p.blobs), len({p.plugin.repository for p in pushed}),
                  multi_scope)
        ws = Workspace.create(self.work, f"wan-{int(link.rtt * 1000)}ms-{'multi' if multi_scope else 'single'}",
                              self.plugins, wan.registry.host, "higress-registry.cn-hangzhou.cr.aliyuncs.com")
        base = Baselines(self.work / f"baselines-{int(link.rtt * 1000)}", wan.registry.host, pushed, DEFAULT_JOBS,
                         self.env)
        sync_yaml = self.work / "skopeo-sync.yaml"
        sync_yaml.write_text(skopeo_sync_yaml(wan.registry.host, pushed))
        locked_root = self.work / "locked" / "plugins"

        def locked_noop() -> None:
            ws.pull("--locked", root=locked_root)

        steps: dict[str, Callable[[], object]] = {
            "full": ws.pull, "noop": ws.pull, "locked_noop": locked_noop, "upstream": base.upstream,
            "skopeo_sync": lambda: self._skopeo_sync(sync_yaml),
        }
        setups: dict[str, Callable[[], object]] = {
            "full": ws.empty, "upstream": base.fresh_out, "skopeo_sync": self._fresh_skopeo_sync_out,
        }
        # blocks run back to back, their order rotating from round to round; the project's
        # pulls are one block, in this order, as a no-op needs the full pull before it
        blocks = [[c for c in PROJECT if c in commands]] + [[c] for c in commands if c not in PROJECT]
        for r in range(max(self.reps, self.upstream_reps)):
            for block in blocks[r % len(blocks):] + blocks[:r % len(blocks)]:
                for name in block:
                    if r >= (self.reps if name in PROJECT else self.upstream_reps):
                        continue
                    if name == "locked_noop":  # a tree --locked built, then the measured no-op
                        shutil.rmtree(locked_root.parent, ignore_errors=True)
                        ws.pull("--locked", root=locked_root)
                    say(f"WAN {link.rtt * 1000:.0f} ms, round {r + 1}: {name}")
                    row.samples.setdefault(name, []).append(self._timed(wan, steps[name], setups.get(name)))
        shutil.rmtree(base.out, ignore_errors=True)
        ws.empty()
        return row

    def run(self) -> list[Row]:
        link0 = Link(0.0, self.bandwidth, self.handshake)
        with running_registry() as seed:
            say(f"pushing {len(self.plugins)} artifacts")
            pushed = push_all(seed.host, self.plugins)
            with wan_registry(seed.root, link0) as wan:
                rows = [self._row(wan, Link(rtt, self.bandwidth, self.handshake), pushed, True, COMMANDS)
                        for rtt in self.rtts]
            # a token service that grants one scope per request: the project's pulls only
            with wan_registry(seed.root, link0, multi_scope=False) as wan:
                mid = sorted(self.rtts)[len(self.rtts) // 2]
                rows.append(self._row(wan, Link(mid, self.bandwidth, self.handshake), pushed, False, PROJECT))
        return rows


def run_wan(plugins: list[BenchPlugin], rtts: list[float], bandwidth: float, reps: int, upstream_reps: int,
            parent: Path | None = None) -> list[Row]:
    work = Path(tempfile.mkdtemp(prefix="plugin-sync-wan-", dir=parent))
    try:
        return WanSuite(plugins, rtts, bandwidth, reps, upstream_reps, work).run()
    finally:
        shutil.rmtree(work, ignore_errors=True)
