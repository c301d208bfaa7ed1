"""Serving: nginx with the project's ``nginx/nginx.conf`` against nginx with the stock
config its Debian package ships, both over the same pulled tree on loopback. With two cores
or more the servers run on one half of them and wrk on the other, so the load generator
does not compete with the server it measures.

The stock config is the package's ``/etc/nginx/nginx.conf`` with its default site, changed
only where a run as this user on a free loopback port must: the listen address, the
document root, and the pid, log and temp paths moved into a private directory. Both
configs log every request to a file (the project's to stdout, which is sent to a file, as a
container runtime does). Load comes from wrk, cycling through every ``plugin.wasm``.

Each round starts new servers (``compared``): the project's, the stock one, and a second
stock one as the control. Two servers of one config were seen to differ by 5 % for as long
as they ran; new servers every round make that a noise the median evens out, not a bias.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator, Sequence

from sync.serve import Listen, NginxRun, find_nginx, prepare
from tests.support.procs import children
from tests.support.registry import free_port

STOCK_MAIN = Path("/etc/nginx/nginx.conf")
STOCK_SITE = Path("/etc/nginx/sites-available/default")
HOST = "127.0.0.1"


def _strip_comments(text: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if not line.lstrip().startswith("#"))


def stock_config(main: str, site: str, www: Path, run_dir: Path, listen: Listen) -> str:
    """The stock ``nginx.conf`` + default site, relocated to ``run_dir`` and ``listen``,
    serving ``www`` as its document root. Raises ValueError if the text is not the stock
    layout this expects (a ``sites-enabled`` include, a ``listen 80`` and a ``root``)."""
    main, site = _strip_comments(main), _strip_comments(site)
    site, n_listen = re.subn(r"^(\s*)listen\s+80\s+default_server;",
                             rf"\1listen {listen.host}:{listen.port} default_server;", site, flags=re.M)
    site = re.sub(r"^\s*listen\s+\[::\]:80\s+default_server;\n", "", site, flags=re.M)
    site, n_root = re.subn(r"^(\s*)root\s+[^;]+;", rf"\1root {www};", site, flags=re.M)
    temp = "".join(f"\t{kind}_temp_path {run_dir}/{kind};\n"
                   for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    main, n_sites = re.subn(r"^\s*include\s+/etc/nginx/sites-enabled/\*;", lambda _m: temp + site, main, flags=re.M)
    if not (n_listen and n_root and n_sites):
        raise ValueError("not the stock Debian nginx.conf layout (sites-enabled include, listen 80, root)")
    main = re.sub(r"^\s*user\s+[^;]+;\n", "", main, flags=re.M)
    main = re.sub(r"^(\s*)pid\s+[^;]+;", rf"\1pid {run_dir}/nginx.pid;", main, flags=re.M)
    main = re.sub(r"^(\s*)error_log\s+[^;]+;", rf"\1error_log {run_dir}/error.log;", main, flags=re.M)
    main = re.sub(r"^(\s*)access_log\s+[^;]+;", rf"\1access_log {run_dir}/access.log;", main, flags=re.M)
    return "daemon off;\n" + main


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    run: NginxRun


def _wait_ready(url: str, path: str, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    host, port = url.removeprefix("http://").split(":")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"nginx exited with status {proc.returncode}")
        try:
            conn = http.client.HTTPConnection(host, int(port), timeout=2)
            conn.request("HEAD", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"nginx at {url} did not serve {path} within {timeout}s")


def split_cores() -> tuple[frozenset[int], frozenset[int]] | None:
    """(the servers' cores, the load generator's): the upper and the lower half of the cores
    this process may use, so that wrk does not compete with the nginx it measures. None on
    one core."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return None
    half = len(cores) // 2
    return frozenset(cores[half:]), frozenset(cores[:half])


def pinned(cpus: frozenset[int] | None) -> Callable[[], None] | None:
    """A ``preexec_fn`` that confines the child (and what it forks) to ``cpus``."""
    if cpus is None:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


@contextmanager
def running(kind: str, tree: Path, probe: str, cpus: frozenset[int] | None = None) -> Iterator[Server]:
    """nginx over ``tree`` (served at /plugins/) with the ``project`` or the ``stock`` config,
    its processes on ``cpus`` (default: anywhere)."""
    binary = find_nginx()
    listen = Listen(HOST, free_port())
    if kind == "project":
        run = prepare(tree, listen, binary=binary)
    else:
        run_dir = Path(tempfile.mkdtemp(prefix="bench-nginx-stock-"))
        conf = run_dir / "nginx.conf"
        conf.write_text(stock_config(STOCK_MAIN.read_text(), STOCK_SITE.read_text(), tree.resolve().parent,
                                     run_dir, listen))
        run = NginxRun(binary=binary, run_dir=run_dir, conf=conf, listen=listen)
    log = open(run.run_dir / "stdout.log", "wb")
    proc = subprocess.Popen(run.argv(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            preexec_fn=pinned(cpus))
    server = Server(kind, listen.url, proc, run)
    try:
        _wait_ready(server.url, probe, proc)
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()
        run.cleanup()


CONTROL = "stock-again"  # a second server with the stock config: how far two equal servers differ here


@contextmanager
def compared(tree: Path, probe: str, cpus: frozenset[int] | None = None) -> Iterator[list[Server]]:
    """The servers a serving round compares, over ``tree`` on ``cpus``: the project's
    config, the stock one, and a second stock one as the control."""
    with running("project", tree, probe, cpus) as project, \
            running("stock", tree, probe, cpus) as stock, \
            running("stock", tree, probe, cpus) as again:
        again.name = CONTROL
        yield [project, stock, again]


# -- wrk ----------------------------------------------------------------------------------

WRK_SCRIPT = """\
local paths = {%s}
local i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH %%d %%d %%d %%d %%d\\n", summary.requests, summary.bytes, summary.duration,
    latency:percentile(99), e.connect + e.read + e.write + e.status + e.timeout))
end
"""


@dataclass(frozen=True)
class Load:
    connections: int
    requests: int
    bytes: int
    seconds: float
    p99_ms: float
    errors: int
    server_cpu: float = 0.0  # CPU seconds nginx's processes spent during the run
    server_pid: int = 0  # the nginx (master) that served the run

    @property
    def cpu_per_gib(self) -> float:
        """nginx CPU seconds per GiB sent: what a request costs the server, steadier than
        throughput when other work shares the machine."""
        return self.server_cpu / (self.bytes / (1 << 30)) if self.bytes else 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def mib_s(self) -> float:
        return self.bytes / self.seconds / (1 << 20)


def wrk_script(paths: Sequence[str]) -> str:
    return WRK_SCRIPT % ", ".join(f'"{p}"' for p in paths)


def parse_wrk(output: str, connections: int) -> Load:
    m = re.search(r"^BENCH (\d+) (\d+) (\d+) (\d+) (\d+)$", output, flags=re.M)
    if not m:
        raise RuntimeError(f"wrk printed no summary: {output[-500:]!r}")
    requests, nbytes, duration_us, p99_us, errors = map(int, m.groups())
    return Load(connections, requests, nbytes, duration_us / 1e6, p99_us / 1000, errors)


def process_cpu(pids: Sequence[int]) -> float:
    """User + system CPU seconds of ``pids`` so far (0 for any that is gone)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / tick


def family(pid: int) -> list[int]:
    """``pid`` and its children (nginx's master and workers)."""
    return [pid, *children(pid)]


def wrk(url: str, script: Path, connections: int, seconds: int, server_pid: int | None = None,
        threads: int = 2, cpus: frozenset[int] | None = None) -> Load:
    threads = max(1, min(threads, connections))
    argv = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s",
            "--latency", "-s", str(script), url]
    pids = family(server_pid) if server_pid else []
    before = process_cpu(pids)
    p = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, preexec_fn=pinned(cpus))
    cpu = process_cpu(pids) - before
    if p.returncode != 0:
        raise RuntimeError(f"wrk failed ({p.returncode}): {p.stderr.strip()[-300:]}")
    return replace(parse_wrk(p.stdout, connections), server_cpu=cpu, server_pid=server_pid or 0)


# -- bytes on the wire ----------------------------------------------------------------

def wire_bytes(url: str, paths: Sequence[str], gzip: bool) -> tuple[int, int]:
    """(body bytes, responses with Content-Encoding gzip) for fetching every path once."""
    config = "".join(f'url = "{url}{p}"\noutput = "/dev/null"\n' for p in paths)
    argv = ["curl", "--no-progress-meter", "--fail", "--config", "-",
            "--write-out", "%{size_download} %{content_type} %header{content-encoding}\\n"]
    if gzip:
        argv += ["--header", "Accept-Encoding: gzip"]
    p = subprocess.run(argv, input=config, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise RuntimeError(f"curl failed ({p.returncode}): {p.stderr.strip()[-300:]}")
    total = encoded = 0
    for line in p.stdout.splitlines():
        parts = line.split()
        if parts:
            total += int(parts[0])
            encoded += "gzip" in parts[2:]
    return total, encoded


def have_tools() -> list[str]:
    """The serving tools that are missing."""
    missing = [t for t in ("wrk", "curl") if shutil.which(t) is None]
    try:
        find_nginx()
    except Exception:  # noqa: BLE001 - reported as missing
        missing.append("nginx")
    return missing
