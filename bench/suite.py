"""The benchmark run: a registry on loopback seeded with every set, then each section in
turn. Commands that are compared run back to back in every round, the order rotating from
round to round, so that a noisy neighbour hurts all of them alike."""

from __future__ import annotations

import os
import sys
import tempfile
import shutil
from pathlib import Path
from typing import Callable, Iterable, TypeVar

from bench.baselines import Baselines
from bench.fleet import fleet
from bench.dataset import BenchPlugin, Pushed, plugin_set, push_all, uniform_set, with_seed, with_versions
from bench.measure import Measured
from bench.profile import Profile
from bench.results import Changed, FullRound, Growth, Precompress, Results, Timing, Wire
from bench.serving import compared, running, split_cores, wire_bytes, wrk, wrk_script
from bench.workspace import Workspace, clean_env
from sync.cli.pull import DEFAULT_JOBS
from sync.config import Config
from sync.tree import Tree
from sync.lock import load_lock
from sync.tree.layout import URL_PREFIX, WASM, WASM_GZ, url_path
from tests.support.registry import running_registry

T = TypeVar("T")
SECTIONS = ("full", "noop", "gzip", "memory", "growth", "changed", "locked", "serving", "fleet")  # in run order


def say(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


def timing(m: Measured) -> Timing:
    return Timing(m.seconds, m.cpu, m.max_rss)


def rotated(items: list[T], by: int) -> list[T]:
    k = by % len(items) if items else 0
    return items[k:] + items[:k]


class Suite:
    def __init__(self, base: Config, profile: Profile, work: Path, sections: Iterable[str] = SECTIONS) -> None:
        self.base, self.profile, self.work = base, profile, work
        self.sections = set(sections)
        self.main = plugin_set(base, profile.plugins, profile.min_size, profile.max_size)
        biggest = max([profile.plugins, *profile.growth])
        self.everyone = plugin_set(base, biggest, profile.min_size, profile.max_size)
        self.memory_sets = {size: uniform_set(f"memory-{size}", profile.memory_plugins, size)
                            for size in profile.memory_sizes}
        self.env = clean_env(work)
        self.registry = ""
        self.pushed: dict[str, Pushed] = {}

    # -- helpers --------------------------------------------------------------------------

    def gz_files(self, ws: Workspace) -> int:
        """How many served versions of the main set have a precompressed module."""
        tree = Tree(ws.root)
        return sum((tree.version_dir(p.name, p.tag) / WASM_GZ).is_file() for p in self.main)

    def workspace(self, name: str, plugins: list[BenchPlugin]) -> Workspace:
        return Workspace.create(self.work, name, plugins, self.registry, self.base.registry)

    def seed(self) -> None:
        # what the chosen sections pull: the main set, the growth set around it, the memory sets
        everything = (self.everyone if "growth" in self.sections else self.main) + (
            [p for s in self.memory_sets.values() for p in s] if "memory" in self.sections else [])
        total = sum(p.size for p in everything)
        say(f"pushing {len(everything)} artifacts ({total / (1 << 20):.0f} MiB of modules) to {self.registry}")
        for pushed in push_all(self.registry, everything):
            self.pushed[pushed.plugin.name] = pushed

    # -- sections -------------------------------------------------------------------------

    def full(self, res: Results, ws: Workspace) -> None:
        pushed = [self.pushed[p.name] for p in self.main]
        # the floors fetch as many blobs at once as the pull does by default on this machine
        base = Baselines(self.work / "baselines", self.registry, pushed, DEFAULT_JOBS, self.env)
        for r in range(self.profile.reps):
            got: dict[str, object] = {}

            def pull() -> None:
                ws.empty()
                got["pull"] = ws.pull()

            steps: list[tuple[str, Callable[[], None]]] = [
                ("pull", pull),
                ("upstream", lambda: got.__setitem__("upstream", timing(base.upstream()))),
                ("network_floor", lambda: got.__setitem__("network_floor", timing(base.network_floor()))),
                ("work_floor", lambda: got.__setitem__("work_floor", timing(base.work_floor()))),
            ]
            for name, step in rotated(steps, r):
                say(f"full pull round {r + 1}/{self.profile.reps}: {name}")
                step()
            res.full.append(FullRound(**got))  # type: ignore[arg-type]
        shutil.rmtree(base.out, ignore_errors=True)

    def noop(self, res: Results, ws: Workspace) -> None:
        say("no-op pulls")
        for _ in range(self.profile.reps):
            res.noop.append(ws.pull())

    def gzip(self, res: Results, ws: Workspace) -> None:
        for r in range(self.profile.reps):
            say(f".gz cost, round {r + 1}/{self.profile.reps}")
            ws.empty()
            ws.pull()
            res.gz_after_plain_pull = self.gz_files(ws)
            with_gzip = ws.pull("--gzip")
            res.gz_after_gzip_pull = self.gz_files(ws)
            res.precompress.append(Precompress(with_gzip, ws.pull()))

    def changed(self, res: Results, ws: Workspace) -> None:
        tars = [p for p in self.main if p.fmt == "tar+gzip"]
        for r in range(self.profile.reps):
            say(f"one plugin changed, round {r + 1}/{self.profile.reps}")
            p = tars[r % len(tars)]
            (pushed,) = push_all(self.registry, [with_seed(p, p.seed + 100_000 * (r + 1))], workers=1)
            sample = ws.pull()
            res.changed.append(Changed(sample, sum(b.size for b in pushed.blobs)))

    def locked(self, res: Results, ws: Workspace) -> None:
        root = self.work / "locked" / "plugins"
        for r in range(self.profile.reps):
            for flags, samples in rotated([(("--locked",), res.locked), (("--locked", "--gzip"), res.locked_gzip)], r):
                say(f"pull {' '.join(flags)} into an empty tree, round {r + 1}/{self.profile.reps}")
                shutil.rmtree(root.parent, ignore_errors=True)
                samples.append(ws.pull(*flags, root=root))
        shutil.rmtree(root.parent, ignore_errors=True)

    def memory(self, res: Results) -> None:
        for size, plugins in self.memory_sets.items():
            ws = self.workspace(f"memory-{size}", plugins)
            samples = res.memory.setdefault(size, [])
            for r in range(self.profile.reps):
                say(f"memory, {len(plugins)} modules of {size / (1 << 20):g} MiB, round {r + 1}/{self.profile.reps}")
                ws.empty()
                samples.append(ws.pull())
            ws.empty()

    def growth(self, res: Results, main: Workspace) -> None:
        rows = [(n, 1) for n in self.profile.growth]
        if self.profile.versions_each > 1:
            rows.append((self.profile.plugins, self.profile.versions_each))
        for n, versions in rows:
            plugins = self.everyone[:n]
            g = Growth(n, sum(p.size for p in plugins), versions=versions)
            if n == self.profile.plugins and versions == 1 and res.full:
                g.full = [f.pull for f in res.full]
                g.noop = list(res.noop)
                res.growth.append(g)
                continue
            if versions > 1:
                plugins = with_versions(plugins, versions)
            ws = self.workspace(f"growth-{n}x{versions}", plugins)
            for r in range(self.profile.reps):
                say(f"growth, {n} plugins, {versions} version(s) each, round {r + 1}/{self.profile.reps}")
                ws.empty()
                g.full.append(ws.pull())
                g.noop.append(ws.pull())
            ws.empty()
            res.growth.append(g)

    def serving(self, res: Results, ws: Workspace) -> None:
        ws.pull("--gzip")  # every module with its .gz, as the image serves them
        paths = [f"{URL_PREFIX}/{p.name}/{p.tag}/{WASM}" for p in self.main]
        script = self.work / "paths.lua"
        script.write_text(wrk_script(paths))
        split = split_cores()
        servers_on, wrk_on = split if split else (None, None)
        for kind in ("project", "stock"):
            with running(kind, ws.root, paths[0], servers_on) as server:
                plain, _ = wire_bytes(server.url, paths, gzip=False)
                zipped, encoded = wire_bytes(server.url, paths, gzip=True)
                res.wire.append(Wire(server.name, plain, zipped, encoded, len(paths)))
        reps = self.profile.serving_reps
        for c in self.profile.connections:
            for r in range(reps):
                # new servers every round: two servers of one config differ by a few per cent
                # for as long as they run (where their memory lies, which worker takes the
                # connection), a bias that new ones turn into noise the median evens out
                with compared(ws.root, paths[0], servers_on) as servers:
                    for server in rotated(servers, r):
                        say(f"wrk, {server.name} config, {c} connections, round {r + 1}/{reps}")
                        load = wrk(server.url, script, c, self.profile.wrk_seconds, server.process.pid,
                                   cpus=wrk_on)
                        res.serving.setdefault(server.name, {}).setdefault(c, []).append(load)

    def fleet(self, res: Results, ws: Workspace) -> None:
        """Gateway fleets starting at once against new servers every round: the project's
        config, the stock one and a second stock one (the control)."""
        ws.pull("--gzip")  # the tree as the image serves it (a no-op after the serving section)
        plugins = sorted(self.main, key=lambda p: (p.size, p.name))[: self.profile.fleet_plugins]
        lock = {url_path(e.name, e.version): e.sha256 for e in load_lock(ws.lock).sorted()}
        want = {url_path(p.name, p.tag): lock[url_path(p.name, p.tag)] for p in plugins}
        res.fleet_bytes, res.fleet_paths = sum(p.size for p in plugins), len(want)
        split = split_cores()
        servers_on, client_on = split if split else (None, None)
        reps = self.profile.fleet_reps
        for n in self.profile.fleet_sizes:
            for r in range(reps):
                with compared(ws.root, sorted(want)[0], servers_on) as servers:
                    for server in rotated(servers, r):
                        say(f"fleet of {n}, {server.name} config, round {r + 1}/{reps}")
                        sample = fleet(server.name, server.url, want, n, server.process.pid, client_on)
                        res.fleet.setdefault(server.name, {}).setdefault(n, []).append(sample)

    # -- the run --------------------------------------------------------------------------

    def run(self) -> Results:
        with running_registry() as reg:
            self.registry = reg.host
            self.seed()
            main = self.workspace("main", self.main)
            pushed = [self.pushed[p.name] for p in self.main]
            res = Results(self.profile, len(self.main), sum(p.size for p in self.main),
                          sum(b.size for p in pushed for b in p.blobs), os.cpu_count() or 1)
            steps: dict[str, Callable[[], None]] = {
                "full": lambda: self.full(res, main), "noop": lambda: self.noop(res, main),
                "gzip": lambda: self.gzip(res, main), "memory": lambda: self.memory(res),
                "growth": lambda: self.growth(res, main), "changed": lambda: self.changed(res, main),
                "locked": lambda: self.locked(res, main), "serving": lambda: self.serving(res, main),
                "fleet": lambda: self.fleet(res, main),
            }
            if "full" not in self.sections and self.sections & {"noop", "changed"}:
                main.pull()  # the filled tree they start from
            for name, step in steps.items():
                if name in self.sections:
                    step()
            return res


def run_suite(base: Config, profile: Profile, parent: Path | None = None, keep: bool = False,
              sections: Iterable[str] = SECTIONS) -> Results:
    """Run the sections in a scratch directory (under ``parent``), removed after unless ``keep``."""
    work = Path(tempfile.mkdtemp(prefix="plugin-sync-bench-", dir=parent))
    try:
        return Suite(base, profile, work, sections).run()
    finally:
        if keep:
            say(f"kept the scratch directory {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
