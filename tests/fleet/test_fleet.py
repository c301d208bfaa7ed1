"""A gateway fleet starting at once against the real nginx: the fetcher's rule as the client
follows it, every gateway getting every module byte-exact from the project's config and the
stock one, and a fleet that slow and stuck clients do not starve."""

from __future__ import annotations

import http.server
import threading
import time
from collections import Counter
from typing import Iterator

import pytest

from bench.serving import running
from sync.tree import Tree
from tests.support.fleet import Background, Fetcher, FleetRun, index_paths, run_fleet, slow_clients
from tests.support.nginx import running_nginx

FLEET = 50


class _Stub(http.server.BaseHTTPRequestHandler):
    """Answers by path: /ok, /flaky (503 twice, then 200), /gone (404), /status/N, /stall."""

    seen: Counter[str] = Counter()
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.seen[self.path] += 1
        if self.path == "/stall":
            time.sleep(1)
            return
        status = {"/ok": 200, "/gone": 404}.get(self.path, 0)
        if self.path == "/flaky":
            status = 503 if self.seen[self.path] <= 2 else 200
        if self.path.startswith("/status/"):
            status = int(self.path.rsplit("/", 1)[1])
        body = b"module " + self.path.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def stub() -> Iterator[int]:
    _Stub.seen = Counter()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def test_the_client_follows_the_fetchers_rule(stub: int) -> None:
    """One gateway per path, all at once."""
    rule = Fetcher(timeout=0.3, backoff=0.1, parallel=1)
    paths = ["/ok", "/flaky", "/gone", "/status/501", "/status/505", "/status/511", "/status/500",
             "/status/502", "/status/302", "/stall"]
    fleets = [Background(lambda p=p: run_fleet("127.0.0.1", stub, [p], 1, rule)) for p in paths]  # type: ignore[misc]
    for f in fleets:
        f.__enter__()
    for f in fleets:
        f.__exit__()
    runs = {p: f.result for p, f in zip(paths, fleets)}
    run = FleetRun(paths, len(paths), rule, [a for r in runs.values() if r for a in r.attempts])
    tries = Counter(a.path for a in run.attempts)
    last = {a.path: a for a in run.attempts}
    # 5xx but 501/505/511, and timeouts: tried again, up to 5 attempts
    assert tries["/flaky"] == 3 and last["/flaky"].cause == ""
    assert tries["/status/500"] == tries["/status/502"] == tries["/stall"] == 5
    assert last["/stall"].cause == "timed out after 0.3 s"
    # any 4xx, 501, 505, 511 and anything else not 200: one attempt
    assert all(tries[p] == 1 for p in ("/ok", "/gone", "/status/501", "/status/505", "/status/511", "/status/302"))
    assert last["/gone"].cause == "HTTP 404" and last["/status/302"].cause == "HTTP 302"
    # the waits double from the base: 0.1, 0.2, 0.4, 0.8 s
    errors = [a for a in run.attempts if a.path == "/status/500"]
    waits = [b.start - a.end for a, b in zip(errors, errors[1:])]
    assert all(w >= rule.wait(n) for n, w in enumerate(waits, 1)), waits
    assert {p for p, r in runs.items() if r and r.failed_gateways()} == set(paths) - {"/ok", "/flaky"}
    assert rule.retry_window == pytest.approx(0.1 + 0.2 + 0.4 + 0.8)
    # nothing listening: transport errors, each tried again
    refused = run_fleet("127.0.0.1", 1, ["/x"], 1, rule)
    assert [a.cause for a in refused.attempts] == ["connection refused"] * 5


@pytest.mark.parametrize("config", ["project", "stock"])
def test_a_fleet_starting_at_once_gets_every_module_byte_exact(fleet_tree: tuple[Tree, dict[str, str]],
                                                                config: str) -> None:
    tree, want = fleet_tree
    paths = sorted(want)
    with running(config, tree.root, paths[0]) as server:
        host, port = server.url.removeprefix("http://").split(":")
        run = run_fleet(host, int(port), paths, FLEET)
        # what the console would have the gateways request: every module the index names
        named = sorted(index_paths(host, int(port)))
    assert named == paths
    assert run.failed_gateways() == [] and run.failed_attempts() == [], run.causes()
    assert len(run.times_to_all()) == FLEET
    assert run.bodies() == {p: {sha} for p, sha in want.items()}
    assert len(run.attempts) == FLEET * len(paths)

    times = run.times_to_all()
    print(f"fleet start, {config} config: {FLEET} gateways x {len(paths)} modules, time to all plugins "
          f"p50 {times[len(times) // 2]:.2f} s, max {times[-1]:.2f} s; 0 failed attempts")


def test_slow_and_stuck_clients_do_not_starve_the_fleet(fleet_tree: tuple[Tree, dict[str, str]]) -> None:
    """300 clients reading one byte a second and 100 that never finish their request line hold
    connections while a fleet starts: every gateway gets everything at the first attempt."""
    tree, want = fleet_tree
    paths = sorted(want)
    seconds = 12.0  # past client_header_timeout (10 s), so the stuck clients are seen closed
    with running_nginx(tree.root, capture_access_log=False) as server:
        with Background(lambda: slow_clients(server.host, server.port, paths[-1], 300, 100, seconds)) as slow:
            time.sleep(2)  # every slow client connected and reading
            run = run_fleet(server.host, server.port, paths, FLEET)
            assert slow.running()  # the fleet finished while they were all still there
        fates = slow.result
        assert server.process.poll() is None
    assert run.failed_attempts() == [], run.causes()
    assert run.bodies() == {p: {sha} for p, sha in want.items()}
    assert fates is not None
    # the trickling clients were still being served at the end (slow, not refused) ...
    assert fates["trickling_reading"] == 300 and fates["trickling_failed"] == 0
    # ... and nginx closed every half-sent request (client_header_timeout)
    assert fates["stuck_closed"] == 100, fates
    times = run.times_to_all()
    print(f"slow clients: {fates}; fleet of {FLEET}: max time to all plugins {times[-1]:.2f} s, 0 failed attempts")
