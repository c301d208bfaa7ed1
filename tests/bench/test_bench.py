"""The benchmark: its pure parts on plain data, and one tiny end-to-end run (real registry,
skopeo, curl, nginx and wrk on loopback) that proves the command works and measures what
it says."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.dataset import SYNTHETIC_PREFIX, config_text, plugin_set, uniform_set
from bench.profile import FULL, QUICK, customise, parse_counts, parse_range, parse_size
from bench.report import med, precompress_cost, ratio, render, serving_ratio, serving_spread, targets
from bench.results import FullRound, Growth, Precompress, Results, Timing, Wire
from bench.fleet import FleetSample, percentile
from bench.serving import Load, parse_wrk, stock_config, wrk_script
from bench.workspace import PullSample
from sync.config import parse_config
from sync.properties import load_properties
from sync.serve import Listen

REPO = Path(__file__).resolve().parents[2]
CONSOLE = REPO / "samples" / "reference" / "higress-console.plugins.properties"
MB = 1_000_000


def pull(seconds: float, rss: int = 60 * MB, requests: int = 52, blob: int = 0, cpu: float = 1.0) -> PullSample:
    return PullSample(seconds, rss, cpu, requests, blob, {"added": 0})


def timing(seconds: float) -> Timing:
    return Timing(seconds, seconds, 10 * MB)


# -- the set ------------------------------------------------------------------------------

def test_the_set_is_the_console_list_then_synthetic_and_repeatable() -> None:
    base = load_properties(CONSOLE)
    assert len(base.plugins) == 52
    big = plugin_set(base, 60)
    assert [p.name for p in big[:52]] == list(base.plugins)
    assert all(p.name.startswith(SYNTHETIC_PREFIX) for p in big[52:])
    assert len({p.name for p in big}) == 60
    # a smaller set is a prefix of a bigger one, byte for byte
    assert plugin_set(base, 10) == big[:10]
    assert plugin_set(base, 60) == big
    assert all(1 << 20 <= p.size <= 10 << 20 for p in big)
    assert len({p.size for p in big}) > 50  # spread over the range, not one size
    formats = [p.fmt for p in big]
    assert formats.count("wasm-layer") == 7 and formats.count("tar+gzip") == 53
    conv = next(p for p in big if p.name == "json-converter")
    assert conv.repository == "plugins/jsonrpc-converter"  # served name kept apart from the image


def test_config_text_reads_back_as_the_same_sources() -> None:
    plugins = plugin_set(load_properties(CONSOLE), 54) + uniform_set("memory-1", 2, 4096)
    import yaml

    cfg = parse_config(yaml.safe_load(config_text(plugins, "higress-registry.cn-hangzhou.cr.aliyuncs.com")))
    assert list(cfg.plugins) == [p.name for p in plugins]
    for p in plugins:
        src = cfg.plugins[p.name].source
        assert (src.repository, src.tag) == (p.repository, p.tag)


# -- options ------------------------------------------------------------------------------

def test_sizes_and_profiles() -> None:
    assert parse_size("64K") == 65536 and parse_size("1.5M") == 1572864 and parse_size("4096") == 4096
    assert parse_range("1M-10M") == (1 << 20, 10 << 20)
    assert parse_counts("10,52,200") == (10, 52, 200)
    for bad in ("", "M", "1X", "-1"):
        with pytest.raises(ValueError):
            parse_size(bad)
    for bad in ("10M", "10M-1M", "1-2"):
        with pytest.raises(ValueError):
            parse_range(bad)
    with pytest.raises(ValueError):
        parse_counts("3,0")
    assert FULL.reps == 3 and FULL.growth == (10, 52, 200) and FULL.connections == (1, 16, 128)
    assert QUICK.reps == 1
    assert customise(QUICK, reps=2, growth=None).growth == QUICK.growth
    assert FULL.fleet_sizes == (1, 50, 200) and FULL.fleet_reps >= 3
    from bench.cli import parse_sections

    assert parse_sections("serving, fleet") == ("serving", "fleet")
    for bad in ("", "fleet,wrk"):
        with pytest.raises(ValueError):
            parse_sections(bad)


# -- the stock nginx config ------------------------------------------------------------------

STOCK = """user www-data;
worker_processes auto;
pid /run/nginx.pid;
error_log /var/log/nginx/error.log;
events { worker_connections 768; }
http {
\tsendfile on;
\t# access_log /var/log/nginx/commented.log;
\taccess_log /var/log/nginx/access.log;
\tinclude /etc/nginx/sites-enabled/*;
}
"""
SITE = """server {
\tlisten 80 default_server;
\tlisten [::]:80 default_server;
\troot /var/www/html;
\tlocation / { try_files $uri $uri/ =404; }
}
"""


def test_stock_config_moves_only_paths_and_listen(tmp_path: Path) -> None:
    text = stock_config(STOCK, SITE, tmp_path / "www", tmp_path / "run", Listen("127.0.0.1", 18080))
    assert text.startswith("daemon off;\n")
    for gone in ("user www-data", "[::]", "/var/", " /run/nginx", "sites-enabled"):
        assert gone not in text, gone
    assert "listen 127.0.0.1:18080 default_server;" in text
    assert f"root {tmp_path / 'www'};" in text
    assert f"pid {tmp_path / 'run'}/nginx.pid;" in text
    assert f"access_log {tmp_path / 'run'}/access.log;" in text
    assert "try_files $uri $uri/ =404;" in text and "worker_processes auto;" in text and "sendfile on;" in text
    with pytest.raises(ValueError):
        stock_config("events {}\nhttp {}\n", SITE, tmp_path, tmp_path, Listen("127.0.0.1", 1))


def test_stock_config_of_the_installed_package_is_valid_nginx(tmp_path: Path) -> None:
    main, site = Path("/etc/nginx/nginx.conf"), Path("/etc/nginx/sites-available/default")
    run = tmp_path / "run"
    run.mkdir()
    conf = run / "nginx.conf"
    conf.write_text(stock_config(main.read_text(), site.read_text(), tmp_path, run, Listen("127.0.0.1", 18081)))
    from sync.serve import NginxRun, find_nginx

    r = NginxRun(find_nginx(), run, conf, Listen("127.0.0.1", 18081))
    p = subprocess.run(r.test_argv(), capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


# -- wrk --------------------------------------------------------------------------------

def test_peak_memory_counts_every_process_of_the_command() -> None:
    """Two forked children holding 64 MB each at the same time: the peak is at least their
    sum, where the kernel's peak of the largest single process would say about 64 MB."""
    from bench.measure import run

    code = (
        "import os, time\n"
        "pids = []\n"
        "for _ in range(2):\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        b = bytearray(os.urandom(64 << 20)); time.sleep(0.5); os._exit(0)\n"
        "    pids.append(pid)\n"
        "for pid in pids:\n"
        "    os.waitpid(pid, 0)\n"
    )
    m = run([sys.executable, "-c", code])
    assert m.max_rss >= 2 * (64 << 20), m.max_rss
    assert m.max_rss < 4 * (64 << 20) + 200 * MB


def test_wrk_script_and_summary() -> None:
    script = wrk_script(["/plugins/a/1.0.0/plugin.wasm", "/plugins/b/2.0.0/plugin.wasm"])
    assert '"/plugins/a/1.0.0/plugin.wasm", "/plugins/b/2.0.0/plugin.wasm"' in script
    assert "i % #paths + 1" in script
    out = "Running 3s test\n  Latency  1.00ms\nBENCH 300 3145728000 3000000 12500 2\nRequests/sec: 100\n"
    load = parse_wrk(out, 16)
    assert load == Load(16, 300, 3145728000, 3.0, 12.5, 2)
    assert load.rps == 100 and load.mib_s == 1000
    with pytest.raises(RuntimeError):
        parse_wrk("no summary", 1)


# -- the report -------------------------------------------------------------------------

def results() -> Results:
    res = Results(FULL, 52, 283 << 20, 178 << 20, 2)
    # round 2 is slow for everyone (a noisy neighbour): ratios within rounds stay steady
    for s in (1.0, 3.0, 1.2):
        res.full.append(FullRound(pull(s, blob=178 << 20, requests=239), upstream=timing(6 * s),
                                  network_floor=timing(0.25 * s), work_floor=timing(1.5 * s)))
    res.noop = [pull(0.4), pull(0.5), pull(0.45)]
    res.precompress = [Precompress(pull(4.4, cpu=8.0), pull(0.4, cpu=0.4)) for _ in range(3)]
    res.gz_after_plain_pull, res.gz_after_gzip_pull = 0, 52
    res.memory = {1 << 20: [pull(1, rss=50 * MB)], 10 << 20: [pull(1, rss=52 * MB)], 50 << 20: [pull(1, rss=55 * MB)]}
    res.growth = [Growth(10, 50 << 20, [pull(0.5)], [pull(0.3, requests=10)])]
    res.serving = {"project": {1: [Load(1, 100, 1, 1.0, 2.0, 0)] * 3, 16: [Load(16, 180, 1, 1.0, 9.0, 0)] * 3},
                   "stock": {1: [Load(1, 100, 1, 1.0, 2.0, 0)] * 3, 16: [Load(16, 200, 1, 1.0, 8.0, 0)] * 3}}
    res.wire = [Wire("project", 100, 60, 52, 52), Wire("stock", 100, 100, 0, 52)]
    res.fleet = {"project": {50: [fleet_sample("project", [1.0] * 50)] * 3},
                 "stock": {50: [fleet_sample("stock", [1.0] * 49 + [1.5])] * 3}}
    return res


def test_ratios_are_taken_within_rounds() -> None:
    res = results()
    assert ratio(res.full, lambda r: r.upstream.seconds) == pytest.approx(6.0)
    assert ratio(res.full, lambda r: r.network_floor.seconds) == pytest.approx(0.25)
    assert med([3.0, 1.0, 2.0]) == 2.0
    assert serving_ratio(res, 16) == pytest.approx(0.9)
    wall, cores = precompress_cost(res)
    assert wall == pytest.approx(4.0) and cores == pytest.approx(1.9)


def test_targets_say_what_is_met_and_what_is_not() -> None:
    got = {t.name: t for t in targets(results())}
    assert got["Full pull at most 0.35x the upstream way's time"].met  # 1/6
    assert got["Full pull at most 0.8x the work floor's time"].met  # 1/1.5
    assert got["No-op pull: at most one registry request per plugin, and one for the challenge"].met
    assert got["No-op pull: no blob downloaded"].met
    assert got["No-op pull under 2 s for 52 plugins"].met
    assert got["Peak memory under 150 MB"].met
    assert got["Peak memory flat as module size grows"].met
    # wrk's throughput is reported, not a target: the fleet's time to all plugins is
    assert got["Serving throughput under wrk, 16 connections (reported)"].met  # 0.90x
    assert "runs 0.90x to 0.90x" in got["Serving throughput under wrk, 16 connections (reported)"].measured
    assert got["Fleet of 50: every gateway gets every plugin byte-exact, every config"].met
    assert got["Fleet of 50: the project's p99 time to all plugins within stock's spread"].met
    assert got["gzip cuts the bytes on the wire"].met
    assert got[".gz files made on all cores"].met
    assert got[".gz files only with --gzip"].met

    res = results()
    res.full = [FullRound(pull(2.0), upstream=timing(5.0), network_floor=timing(0.5), work_floor=timing(1.8))]
    res.noop = [pull(2.5, requests=104, blob=10)]
    res.memory[100 << 20] = [pull(1, rss=160 * MB)]
    res.gz_after_plain_pull = 3
    bad = {t.name: t for t in targets(res)}
    for name in ("Full pull at most 0.35x the upstream way's time", "Full pull at most 0.8x the work floor's time",
                 "No-op pull: at most one registry request per plugin, and one for the challenge", "No-op pull: no blob downloaded",
                 "No-op pull under 2 s for 52 plugins", "Peak memory under 150 MB",
                 "Peak memory flat as module size grows", ".gz files only with --gzip"):
        assert not bad[name].met, name


def test_wrk_throughput_is_reported_with_its_spread_and_control() -> None:
    res = results()
    res.serving = {"project": {1: [Load(1, 98, 1, 1.0, 2.0, 0), Load(1, 103, 1, 1.0, 2.0, 0),
                                   Load(1, 97, 1, 1.0, 2.0, 0)]},
                   "stock": {1: [Load(1, 100, 1, 1.0, 2.0, 0)] * 3},
                   "stock-again": {1: [Load(1, 95, 1, 1.0, 2.0, 0)] * 3}}
    got = {t.name: t for t in targets(res)}["Serving throughput under wrk, 1 connections (reported)"]
    assert got.measured == "0.98x the stock config's (runs 0.97x to 1.03x; a second stock server: 0.95x)"
    assert serving_spread(res, 1) == pytest.approx((0.97, 1.03))
    row = next(line for line in render(res).splitlines() if line.startswith("| 1 | "))
    assert row.split(" | ")[-2] == "0.95x"


def fleet_sample(config: str, times: list[float], failed: int = 0, wrong: int = 0) -> FleetSample:
    return FleetSample(config, len(times) + failed, sorted(times), failed, failed * 5, wrong, max(times), 1.0,
                       20 * MB, 1)


def test_fleet_percentiles_and_targets() -> None:
    assert percentile([float(i) for i in range(1, 101)], 0.99) == 99.0
    assert percentile([float(i) for i in range(1, 101)], 0.5) == 50.0
    assert percentile([3.0], 0.99) == 3.0 and percentile([1.0, 2.0], 0.5) == 1.0
    res = results()
    res.fleet = {"project": {50: [fleet_sample("project", [1.0] * 49 + [2.5])] * 3},
                 "stock": {50: [fleet_sample("stock", [1.0] * 49 + [2.0]), fleet_sample("stock", [1.0] * 49 + [3.0]),
                                fleet_sample("stock", [1.0] * 49 + [2.2])]}}
    got = {t.name: t for t in targets(res)}
    within = got["Fleet of 50: the project's p99 time to all plugins within stock's spread"]
    assert within.met and within.measured == "2.50 s; stock rounds 2.00 to 3.00 s"
    # slower than every stock round: not met; one failed gateway anywhere: not met
    res.fleet["project"][50] = [fleet_sample("project", [1.0] * 49 + [3.5])] * 3
    res.fleet["stock"][50].append(fleet_sample("stock", [1.0] * 49, failed=1))
    bad = {t.name: t for t in targets(res)}
    assert not bad["Fleet of 50: the project's p99 time to all plugins within stock's spread"].met
    fails = bad["Fleet of 50: every gateway gets every plugin byte-exact, every config"]
    assert not fails.met and fails.measured == "1 failures (5 failed attempts) in 7 fleet runs"
    res.fleet["stock"][50].pop()
    res.fleet["stock"][50].append(fleet_sample("stock", [1.0] * 50, wrong=1))  # a body not the lock's
    assert not {t.name: t for t in targets(res)}[
        "Fleet of 50: every gateway gets every plugin byte-exact, every config"].met
    text = render(res)
    assert "### A gateway fleet starting at once" in text
    only_fleet = Results(FULL, 52, 1, 1, 2)
    only_fleet.fleet = res.fleet
    assert "### Pull" not in render(only_fleet) and "### A gateway fleet" in render(only_fleet)
    assert "| 50 | project | 1.00 (1.00–1.00) | 3.50 (3.50–3.50) | 3.50 (3.50–3.50) | 0 | 0 | 20 | 1.00 |" in text


def test_render_has_every_section_and_the_medians() -> None:
    text = render(results())
    for heading in ("### Pull", "### Peak memory as module size grows", "### How cost grows with the number of plugins and versions",
                    "### Serving plugin.wasm", "### Bytes on the wire", "### Targets"):
        assert heading in text
    row = next(line for line in text.splitlines() if line.startswith("| Full pull into an empty tree"))
    assert row.split(" | ")[1:3] == ["1.20", "1.00x"]  # median wall of 1.0, 3.0, 1.2
    up = next(line for line in text.splitlines() if line.startswith("| Upstream way"))
    assert up.split(" | ")[1:3] == ["7.20", "6.00x"]
    assert "| stock | 0.000 | 0.000 | 0 % | 0 of 52 |" in text
    assert "Serving throughput under wrk" in text


# -- one real run -----------------------------------------------------------------------

def test_a_tiny_run_end_to_end(tmp_path: Path) -> None:
    """python -m bench on 4 tiny plugins: every section runs against the real tools."""
    out, raw = tmp_path / "report.md", tmp_path / "results.json"
    p = subprocess.run(
        [sys.executable, "-m", "bench", "--plugins", "4", "--sizes", "4K-16K", "--reps", "1", "--growth", "2,4",
         "--memory-sizes", "8K,32K", "--memory-plugins", "2", "--connections", "1,4", "--wrk-seconds", "1",
         "--serving-reps", "2", "--fleet-sizes", "1,3", "--fleet-reps", "2", "--fleet-plugins", "2",
         "--output", str(out), "--json", str(raw), "--work-dir", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=240)
    assert p.returncode == 0, p.stderr[-3000:]
    assert out.read_text() == p.stdout
    assert sorted(x.name for x in tmp_path.iterdir()) == ["report.md", "results.json"]  # scratch removed
    res = json.loads(raw.read_text())
    assert res["plugins"] == 4
    (full,) = res["full"]
    assert full["pull"]["summary"]["added"] == 4
    assert full["pull"]["blob_bytes"] == res["blob_bytes"] > 0
    for base in ("upstream", "network_floor", "work_floor"):
        assert full[base]["seconds"] > 0
    (noop,) = res["noop"]
    # a manifest each, and the registry's challenge once
    assert noop["requests"] == 4 + 1 and noop["blob_bytes"] == 0 and noop["summary"]["unchanged"] == 4
    (changed,) = res["changed"]
    assert changed["sample"]["summary"]["updated"] == 1
    assert changed["sample"]["blob_bytes"] == changed["expected_bytes"] > 0
    (locked,) = res["locked"]
    assert locked["blob_bytes"] == res["blob_bytes"] and locked["summary"]["added"] == 4
    (locked_gzip,) = res["locked_gzip"]
    assert locked_gzip["blob_bytes"] == res["blob_bytes"]
    assert (res["gz_after_plain_pull"], res["gz_after_gzip_pull"]) == (0, 4)
    assert [(g["plugins"], g["versions"]) for g in res["growth"]] == [(2, 1), (4, 1), (4, 3)]
    versions = res["growth"][2]
    assert versions["full"][0]["summary"]["added"] == 4 and versions["noop"][0]["requests"] == 4 + 1
    assert sorted(int(k) for k in res["memory"]) == [8192, 32768]
    wire = {w["config"]: w for w in res["wire"]}
    assert wire["project"]["gzip_responses"] == 4 and wire["project"]["gzip_bytes"] < wire["project"]["plain_bytes"]
    assert wire["stock"]["gzip_responses"] == 0 and wire["stock"]["gzip_bytes"] == wire["stock"]["plain_bytes"]
    assert wire["project"]["plain_bytes"] == wire["stock"]["plain_bytes"]
    servers = set()
    for config in ("project", "stock", "stock-again"):
        for c in ("1", "4"):
            loads = res["serving"][config][c]
            assert len(loads) == 2 and all(load["requests"] > 0 and load["errors"] == 0 for load in loads)
            servers |= {load["server_pid"] for load in loads}
    assert len(servers) == 3 * 2 * 2 and 0 not in servers  # new servers every round
    fleet_servers = set()
    for config in ("project", "stock", "stock-again"):
        for n in ("1", "3"):
            rounds = res["fleet"][config][n]
            assert len(rounds) == 2
            for s in rounds:
                assert s["gateways"] == int(n) and len(s["times"]) == int(n)
                assert s["failed_gateways"] == s["wrong_bodies"] == 0 and s["server_rss"] > 0
                fleet_servers.add(s["server_pid"])
    assert len(fleet_servers) == 3 * 2 * 2  # new servers every round
    assert res["fleet_paths"] == 2
    assert "| Fleet of 3: every gateway gets every plugin byte-exact, every config | 0 failures" in p.stdout
    assert "| No-op pull: no blob downloaded | 0 blob bytes | yes |" in p.stdout
    assert "| .gz files only with --gzip | 0 without --gzip, 4 of 4 with it | yes |" in p.stdout


def test_servers_and_wrk_get_cores_of_their_own(tmp_path: Path) -> None:
    """nginx (master and workers) on one half of the cores, wrk on the other half."""
    import os

    from bench.serving import family, running, split_cores

    split = split_cores()
    if split is None:
        pytest.skip("one core: nothing to split")
    servers_on, wrk_on = split
    assert servers_on and wrk_on and not servers_on & wrk_on
    assert servers_on | wrk_on == frozenset(os.sched_getaffinity(0))
    tree = tmp_path / "plugins"
    (tree / "a" / "1.0.0").mkdir(parents=True)
    (tree / "a" / "1.0.0" / "plugin.wasm").write_bytes(b"\0asm\1\0\0\0")
    (tree / "index.json").write_text("{}")
    with running("project", tree, "/plugins/a/1.0.0/plugin.wasm", servers_on) as server:
        pids = family(server.process.pid)
        assert len(pids) >= 2  # the master and its workers
        assert all(os.sched_getaffinity(pid) == servers_on for pid in pids)
