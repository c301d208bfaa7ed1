"""The WAN harness: the floor (pure), the link the proxy makes, the token service's scope
rules, and one small end-to-end run of ``python -m bench.wan``."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from bench.wan.floor import Link, floor_seconds, turns
from tests.support.tokenserver import TokenService
from tests.support.wanproxy import Bucket, WanProxy

REPO = Path(__file__).resolve().parents[2]


# -- the floor ----------------------------------------------------------------------------

@pytest.mark.parametrize("handshake, token, noop, expect", [
    (1, False, True, 2),   # connect, the manifests
    (1, False, False, 3),  # ... the blobs
    (2, True, True, 7),    # connect (TCP + TLS), challenge; connect, token; manifests
    (2, True, False, 8),
    (3, True, True, 9),    # TLS 1.2: one more turn per connection
])
def test_turns_count_the_round_trips_one_after_another(handshake: int, token: bool, noop: bool, expect: int) -> None:
    assert turns(Link(0.1, 0, handshake), token=token, noop=noop) == expect


def test_the_floor_adds_the_bytes_at_the_bandwidth_to_a_full_pull_only() -> None:
    link = Link(0.150, 20e6)
    assert floor_seconds(link, 40_000_000, token=True, noop=True) == pytest.approx(7 * 0.150)
    assert floor_seconds(link, 40_000_000, token=True, noop=False) == pytest.approx(8 * 0.150 + 2.0)
    assert floor_seconds(Link(0.0, 0), 40_000_000, token=True, noop=False) == 0.0


# -- the link -----------------------------------------------------------------------------

class _Echo:
    """A tiny HTTP server behind the proxy: answers ``n`` bytes for GET /bytes/n."""

    def __enter__(self) -> "_Echo":
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                n = int(self.path.rsplit("/", 1)[1])
                self.send_response(200)
                self.send_header("Content-Length", str(n))
                self.send_header("X-Accept", self.headers.get("Accept", ""))
                self.end_headers()
                self.wfile.write(b"x" * n)

        class Server(ThreadingHTTPServer):
            request_queue_size = 1024

        self.server = Server(("127.0.0.1", 0), H)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_new_connection_pays_its_handshake_and_every_request_a_round_trip() -> None:
    rtt = 0.1
    with _Echo() as echo, WanProxy(echo.host, rtt, handshake=2) as wan, requests.Session() as s:
        t0 = time.monotonic()
        assert s.get(f"{wan.url}/bytes/10").content == b"x" * 10
        first = time.monotonic() - t0
        t1 = time.monotonic()
        s.get(f"{wan.url}/bytes/10")  # the same connection, kept alive
        second = time.monotonic() - t1
    assert first >= 3 * rtt  # two turns of handshake, one for the request
    assert second >= rtt and second < first
    assert wan.connections == 1 and [r.status for r in wan.requests] == [200, 200]


def test_a_connection_opened_ahead_pays_only_the_turn_of_its_first_request() -> None:
    import http.client

    rtt = 0.1
    with _Echo() as echo, WanProxy(echo.host, rtt, handshake=2) as wan:
        conn = http.client.HTTPConnection(wan.host, timeout=10)
        conn.connect()
        time.sleep(3 * rtt)  # the handshake is done meanwhile
        t0 = time.monotonic()
        conn.request("GET", "/bytes/1")
        assert conn.getresponse().read() == b"x"
        elapsed = time.monotonic() - t0
        conn.close()
    assert rtt <= elapsed < 2 * rtt


def test_dozens_of_connections_opened_at_once_are_all_accepted_without_a_retry() -> None:
    # a listen backlog of 5 dropped SYNs: the connections beyond it waited a second to retry
    rtt = 0.05
    with _Echo() as echo, WanProxy(echo.host, rtt, handshake=2) as wan:
        took: list[float] = []

        def one() -> None:
            t0 = time.monotonic()
            requests.get(f"{wan.url}/bytes/1", timeout=30)
            took.append(time.monotonic() - t0)

        threads = [threading.Thread(target=one) for _ in range(80)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(took) == 80 and wan.connections == 80
    assert max(took) < 0.9, sorted(took)[-5:]  # 3 turns of 50 ms, and no SYN retry (1 s)


def test_a_server_that_closes_after_each_answer_is_reconnected_to_and_the_client_keeps_its_connection() -> None:
    # the token service answers HTTP/1.0 and closes; skopeo's and the pull's clients reuse
    # their connection to the proxy, so the proxy opens a new one to the server each time
    with TokenService("svc", anonymous=True) as ts, WanProxy(f"127.0.0.1:{ts.port}", 0.05) as wan, \
            requests.Session() as s:
        t0 = time.monotonic()
        for _ in range(3):
            r = s.get(f"{wan.url}/token?service=svc&scope=repository:a:pull", timeout=10)
            assert r.status_code == 200 and r.json()["token"]
        elapsed = time.monotonic() - t0
    assert wan.connections == 1 and len(wan.requests) == 3
    assert elapsed < 3 * 0.05 + 2 * 0.05 + 1.0  # no request waited for a timeout


def test_a_client_that_asks_to_close_is_answered_then_closed() -> None:
    import http.client

    with _Echo() as echo, WanProxy(echo.host, 0.0) as wan:
        conn = http.client.HTTPConnection(wan.host, timeout=10)
        conn.request("GET", "/bytes/3", headers={"Connection": "close"})
        r = conn.getresponse()
        assert r.read() == b"xxx" and r.getheader("Connection") == "close"
        conn.close()
    assert wan.connections == 1 and len(wan.requests) == 1


def test_a_client_that_starts_a_tls_handshake_is_closed_at_once() -> None:
    # skopeo asks HTTPS first and falls back to HTTP only when that fails
    import socket

    with _Echo() as echo, WanProxy(echo.host, 0.05) as wan:
        host, port = wan.host.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(bytes.fromhex("16030100c4010000c00303") + b"\x00" * 64)  # a ClientHello's start
            t0 = time.monotonic()
            assert sock.recv(100) == b""  # closed, not left waiting for a request line
            assert time.monotonic() - t0 < 2


def test_a_repeated_header_reaches_the_server_whole() -> None:
    with _Echo() as echo, WanProxy(echo.host, 0.0) as wan:
        import http.client

        conn = http.client.HTTPConnection(wan.host, timeout=10)
        conn.putrequest("GET", "/bytes/1")
        conn.putheader("Accept", "a/b")
        conn.putheader("Accept", "c/d")
        conn.endheaders()
        assert conn.getresponse().getheader("X-Accept") == "a/b, c/d"
        conn.close()


def test_the_bandwidth_is_shared_by_every_connection() -> None:
    rate = 2_000_000
    with _Echo() as echo, WanProxy(echo.host, 0.0, bandwidth=rate) as wan:
        t0 = time.monotonic()
        threads = [threading.Thread(target=lambda: requests.get(f"{wan.url}/bytes/500000", timeout=30))
                   for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - t0
    assert wan.body_bytes == 2_000_000
    assert elapsed >= 0.9  # 2 MB at 2 MB/s, whatever the number of connections


def test_a_bucket_without_a_rate_never_waits() -> None:
    t0 = time.monotonic()
    Bucket(0).take(10**9)
    assert time.monotonic() - t0 < 0.5


# -- the token service's scopes -------------------------------------------------------------

def _granted(multi: bool) -> list[str]:
    import jwt

    with TokenService("svc", anonymous=True, multi_scope=multi) as ts:
        r = requests.get(f"{ts.realm}?service=svc&scope=repository:a:pull&scope=repository:b:pull", timeout=10)
        r.raise_for_status()
        claims = jwt.decode(r.json()["token"], options={"verify_signature": False})
    return [a["name"] for a in claims["access"]]


def test_a_service_that_honours_several_scopes_grants_them_all_and_one_that_does_not_the_first() -> None:
    assert _granted(True) == ["a", "b"]
    assert _granted(False) == ["a"]


def test_without_anonymous_access_a_request_without_credentials_is_refused() -> None:
    with TokenService("svc") as ts:
        assert requests.get(f"{ts.realm}?service=svc&scope=repository:a:pull", timeout=10).status_code == 401


# -- one small run --------------------------------------------------------------------------

def test_the_wan_bench_runs_end_to_end_and_counts_what_crossed_the_link(tmp_path: Path) -> None:
    out = tmp_path / "wan.md"
    p = subprocess.run([sys.executable, "-m", "bench.wan", "--plugins", "3", "--sizes", "10K-20K", "--rtts", "1,40",
                        "--reps", "1", "--upstream-reps", "1", "--output", str(out), "--work-dir", str(tmp_path)],
                       cwd=REPO, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    text = out.read_text()
    assert "| 0 ms |" in text and "| 40 ms |" in text
    assert "grants one scope per request, at 40 ms" in text
    row = next(line for line in text.splitlines() if line.startswith("| 40 ms |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert all(c != "n/a" for c in cells), row
    noop_requests, full_requests, upstream, skopeo_sync = (int(x) for x in cells[11].split(" / "))
    assert noop_requests >= 3 and full_requests > noop_requests  # a manifest a plugin at least; blobs on a full pull
    assert upstream >= full_requests - 1 and skopeo_sync >= full_requests - 1  # they fetch every blob too
    noop_floor, full_floor = (float(x) for x in cells[1].split(" / "))
    assert float(cells[2]) >= noop_floor and float(cells[4]) >= full_floor  # nothing beats the floor
    assert all(float(cells[i].rstrip("x")) >= 1 for i in (3, 5, 8, 10))  # ratios to the floor
    assert not list(tmp_path.glob("plugin-sync-wan-*"))  # the scratch directory is removed
