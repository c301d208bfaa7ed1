"""The server side, against the real nginx with the project's configuration.

200 concurrent clients download modules while pulls update every one of them: each
response must be a complete, correct module of the old or the new version, never a mix.
Then hostile requests (huge headers, bad methods, bad paths, malformed HTTP) are refused
without harm: nginx stays up and still serves the right bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import random
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Iterator

import pytest

from sync.config import Config, PluginSpec, dump_config
from sync.oci.reference import Source
from sync.sample import build_artifact, wasm_module
from tests.support.workspace import Workspace
from tests.reliability.conftest import assert_verified
from tests.reliability.record import Collector
from tests.support.nginx import NginxServer, running_nginx
from tests.support.registry import Registry

AREA = "Serving"
CLIENTS = 200
PLUGINS = 8
SWAPS = 2  # pulls that update every plugin while the clients download


@dataclass
class Site:
    ws: Workspace
    server: NginxServer
    registry: Registry
    configs: dict[str, str]  # variant -> plugins.yaml
    modules: dict[str, dict[str, str]]  # variant -> plugin -> sha256

    def pull(self, variant: str, *extra: str) -> subprocess.CompletedProcess[str]:
        self.ws.config.write_text(self.configs[variant])
        return subprocess.run(
            [sys.executable, "-m", "sync", "--config", str(self.ws.config), "--root", str(self.ws.root), "--lock",
             str(self.ws.lock_path), "pull", "--plain-http", "--gzip", "--registry", self.registry.host, *extra],
            capture_output=True, text=True, timeout=300)


def _config(registry: str, suffix: str) -> str:
    plugins = {}
    for i in range(PLUGINS):
        name = f"served-{i}"
        src = Source("registry", registry, f"plugins/{name}", f"1.0.0{suffix}")
        plugins[name] = PluginSpec(name, src, versions=("1.0.0",), category="Load")
    return dump_config(Config(plugins=plugins, registry=registry))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, registry: Registry) -> Iterator[Site]:
    rng = random.Random(200)
    modules: dict[str, dict[str, str]] = {"a": {}, "b": {}}
    for i in range(PLUGINS):
        for variant, suffix in (("a", ""), ("b", "-b")):
            module = wasm_module(rng.randint(100_000, 300_000), rng.randrange(1 << 30), compressible=0.7)
            registry.push(f"plugins/served-{i}", f"1.0.0{suffix}", build_artifact(module))
            modules[variant][f"served-{i}"] = hashlib.sha256(module).hexdigest()
    ws = Workspace(tmp_path_factory.mktemp("serving"), registry)
    configs = {"a": _config(registry.host, ""), "b": _config(registry.host, "-b")}
    s = Site(ws, None, registry, configs, modules)  # type: ignore[arg-type]
    first = s.pull("a")
    assert first.returncode == 0, first.stderr
    with running_nginx(ws.root, capture_access_log=False) as server:
        s.server = server
        yield s


def _path(name: str) -> str:
    return f"/plugins/{name}/1.0.0/plugin.wasm"


class Client(threading.Thread):
    """Downloads random modules over one keep-alive connection until told to stop."""

    def __init__(self, site: Site, seed: int, stop: threading.Event, tally: Counter[str], lock: threading.Lock,
                 problems: list[str]) -> None:
        super().__init__(daemon=True)
        self.site, self.rng, self.stop, self.tally, self.lock = site, random.Random(seed), stop, tally, lock
        self.problems = problems
        self.gzip = seed % 2 == 1  # half the clients take the precompressed file

    def run(self) -> None:
        conn: http.client.HTTPConnection | None = None
        while not self.stop.is_set():
            name = f"served-{self.rng.randrange(PLUGINS)}"
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(self.site.server.host, self.site.server.port, timeout=30)
                conn.request("GET", _path(name), headers={"Accept-Encoding": "gzip"} if self.gzip else {})
                resp = conn.getresponse()
                body = resp.read()
                status, length, encoding = resp.status, resp.getheader("Content-Length"), resp.getheader(
                    "Content-Encoding")
            except (OSError, http.client.HTTPException) as e:
                self.count("connection error", f"{name}: {type(e).__name__}: {e}")
                if conn is not None:
                    conn.close()
                conn = None
                continue
            if status != 200:
                self.count(f"status {status}", f"{name}: HTTP {status}")
                continue
            if length is not None and int(length) != len(body):
                self.count("short body", f"{name}: {len(body)} bytes of {length}")
                continue
            if encoding == "gzip":
                try:
                    body = gzip.decompress(body)
                except (OSError, EOFError) as e:
                    self.count("bad gzip", f"{name}: {e}")
                    continue
            digest = hashlib.sha256(body).hexdigest()
            which = [v for v, mods in self.site.modules.items() if mods[name] == digest]
            if not which:
                self.count("mixed or torn", f"{name}: sha256 {digest[:12]} is neither version")
                continue
            self.count(("gzip " if encoding == "gzip" else "plain ") + which[0])
        if conn is not None:
            conn.close()

    def count(self, key: str, problem: str | None = None) -> None:
        with self.lock:
            self.tally[key] += 1
            if problem and len(self.problems) < 20:
                self.problems.append(problem)


def test_200_clients_download_while_pulls_update_every_module(site: Site, reliability: Collector) -> None:
    stop, lock = threading.Event(), threading.Lock()
    tally: Counter[str] = Counter()
    problems: list[str] = []
    clients = [Client(site, i, stop, tally, lock, problems) for i in range(CLIENTS)]
    for c in clients:
        c.start()
    start = time.monotonic()
    caught_up: list[float] = []  # seconds until every client got the new version, per pull

    def fresh_counts(seconds: float) -> dict[str, int]:
        with lock:
            before = dict(tally)
        time.sleep(seconds)
        with lock:
            return {k: n - before.get(k, 0) for k, n in tally.items() if n - before.get(k, 0)}

    try:
        time.sleep(0.5)
        variant = "a"
        for _ in range(SWAPS):
            variant = "b" if variant == "a" else "a"
            r = site.pull(variant)
            assert r.returncode == 0, r.stderr
            pulled = time.monotonic()
            # nginx keeps a file it has open for up to open_file_cache_valid (1 s): wait until
            # the new version is all any client gets, counting all the while
            while not all(k.endswith(variant) for k in fresh_counts(0.25)):
                assert time.monotonic() - pulled < 20, tally
            caught_up.append(time.monotonic() - pulled)
    finally:
        stop.set()
        for c in clients:
            c.join(30)
    took = time.monotonic() - start
    assert not problems, (problems, tally)
    assert set(tally) <= {"plain a", "plain b", "gzip a", "gzip b"}, tally
    old_new = {v: tally[f"plain {v}"] + tally[f"gzip {v}"] for v in ("a", "b")}
    assert old_new["a"] > 0 and old_new["b"] > 0, tally
    assert tally["gzip a"] + tally["gzip b"] > 0 and tally["plain a"] + tally["plain b"] > 0, tally
    total = sum(tally.values())
    assert total >= CLIENTS
    assert_verified(site.ws)
    reliability.record(
        AREA, f"{CLIENTS} concurrent clients downloading while {SWAPS} pulls update all {PLUGINS} modules", total,
        f"{total} downloads in {took:.1f} s ({tally['plain a'] + tally['plain b']} plain, "
        f"{tally['gzip a'] + tally['gzip b']} gzip): {old_new['a']} of version A, {old_new['b']} of version B, "
        "0 mixed or torn, 0 errors; every one a complete module. After each pull every client got the new "
        f"version within {', '.join(f'{t:.1f}' for t in caught_up)} s (nginx's open_file_cache_valid is 1 s)")


def _raw(server: NginxServer, data: bytes, timeout: float = 5.0) -> bytes:
    """Send raw bytes, return what comes back until the server closes or goes quiet."""
    with socket.create_connection((server.host, server.port), timeout=timeout) as s:
        s.sendall(data)
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except (socket.timeout, ConnectionResetError):
            pass
    return out


def _status(raw: bytes) -> int:
    line = raw.split(b"\r\n", 1)[0]
    parts = line.split()
    return int(parts[1]) if len(parts) >= 2 and parts[0].startswith(b"HTTP/") and parts[1].isdigit() else 0


GOOD = b"GET /plugins/served-0/1.0.0/plugin.wasm HTTP/1.1\r\nHost: x\r\n"
HOSTILE: dict[str, bytes] = {
    "a 64 KiB header": GOOD + b"X-Big: " + b"a" * 65536 + b"\r\n\r\n",
    "a 1 MiB header": GOOD + b"X-Big: " + b"a" * (1 << 20) + b"\r\n\r\n",
    "2000 headers": GOOD + b"".join(b"X-H%d: v\r\n" % i for i in range(2000)) + b"\r\n",
    "a 16 KiB cookie": GOOD + b"Cookie: " + b"c=" * 8192 + b"\r\n\r\n",
    "a 64 KiB URI": b"GET /plugins/" + b"a" * 65536 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "method DELETE": b"DELETE /plugins/served-0/1.0.0/plugin.wasm HTTP/1.1\r\nHost: x\r\n\r\n",
    "method PUT with a body": b"PUT /plugins/served-0/1.0.0/plugin.wasm HTTP/1.1\r\nHost: x\r\n"
                             b"Content-Length: 8\r\n\r\n\0asmEVIL",
    "method POST with a body": b"POST /plugins/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
    "method PROPFIND": b"PROPFIND /plugins/ HTTP/1.1\r\nHost: x\r\n\r\n",
    "method TRACE": b"TRACE / HTTP/1.1\r\nHost: x\r\n\r\n",
    "method CONNECT": b"CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n",
    "an invented method": b"FROB /plugins/ HTTP/1.1\r\nHost: x\r\n\r\n",
    "a lower-case method": b"get /plugins/ HTTP/1.1\r\nHost: x\r\n\r\n",
    "path ../ to the lock": b"GET /plugins/../plugins.lock.json HTTP/1.1\r\nHost: x\r\n\r\n",
    "path %2e%2e to /etc/passwd": b"GET /plugins/%2e%2e/%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
    "path into .store": b"GET /plugins/served-0/.store/ HTTP/1.1\r\nHost: x\r\n\r\n",
    "path with a NUL": b"GET /plugins/served-0/1.0.0/plugin.wasm%00.txt HTTP/1.1\r\nHost: x\r\n\r\n",
    "path with a raw NUL": b"GET /plugins/\0 HTTP/1.1\r\nHost: x\r\n\r\n",
    "path with backslashes": b"GET /plugins\\..\\..\\etc\\passwd HTTP/1.1\r\nHost: x\r\n\r\n",
    "a path not starting with /": b"GET plugins/ HTTP/1.1\r\nHost: x\r\n\r\n",
    "HTTP/1.1 without Host": b"GET /plugins/ HTTP/1.1\r\n\r\n",
    "two Host headers": b"GET /plugins/ HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "HTTP/9.9": b"GET /plugins/ HTTP/9.9\r\nHost: x\r\n\r\n",
    "a garbage request line": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 TLS hello\r\n\r\n",
    "Content-Length with Transfer-Encoding (smuggling)":
        b"GET /plugins/ HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"0\r\n\r\nGET /plugins/../plugins.lock.json HTTP/1.1\r\nHost: x\r\n\r\n",
    "a negative Content-Length": b"GET /plugins/ HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    "a header without a colon": b"GET /plugins/ HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n",
    "an unsatisfiable Range": b"GET /plugins/served-0/1.0.0/plugin.wasm HTTP/1.1\r\nHost: x\r\n"
                              b"Range: bytes=99999999-\r\n\r\n",
}


def test_hostile_requests_are_refused_without_harm(site: Site, reliability: Collector) -> None:
    lock_head = site.ws.lock_path.read_bytes()[:40]
    statuses: dict[str, int] = {}
    for what, data in HOSTILE.items():
        raw = _raw(site.server, data)
        status = _status(raw)
        statuses[what] = status
        # refused (4xx/5xx without content) or the connection simply closed (0); never served
        assert status == 0 or 400 <= status < 600, (what, raw[:200])
        assert b"\0asm" not in raw and lock_head not in raw and b"root:" not in raw, what
        assert site.server.process.poll() is None, what
    # absolute-form is valid HTTP/1.1: it names our own path, and is never proxied elsewhere
    plain = _raw(site.server, b"GET /plugins/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    absolute = _raw(site.server, b"GET http://evil.example/plugins/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert _status(absolute) == 200 and absolute.split(b"\r\n\r\n", 1)[1] == plain.split(b"\r\n\r\n", 1)[1]
    # nginx still answers, with the right bytes
    for i in range(PLUGINS):
        r = site.server.request("GET", _path(f"served-{i}"))
        assert r.status == 200
        assert hashlib.sha256(r.body).hexdigest() in {m[f"served-{i}"] for m in site.modules.values()}
    assert site.server.request("GET", "/healthz").status == 200
    errors = [ln for ln in site.server.stderr_text().splitlines() if any(w in ln for w in ("[alert]", "[emerg]", "[crit]"))]
    assert not errors, errors
    by_status = Counter(statuses.values())
    reliability.record(AREA, "hostile requests: huge headers and URIs, bad methods, bad paths, malformed HTTP",
                       len(HOSTILE),
                       "answered " + ", ".join(f"{n} × {s or 'connection closed'}" for s, n in sorted(by_status.items()))
                       + "; nothing served (an absolute-form URI to another host got our own listing, as "
                       "HTTP/1.1 says, never a proxied answer); nginx stayed up (no alert/crit in its log) and then served every "
                       "module byte-exact")
