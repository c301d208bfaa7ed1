"""Rolling restarts under a fleet start: two nginx pods behind a round-robin front (a
Kubernetes Service), each stopped the way Kubernetes stops a pod and replaced by a new one,
three times over, while gateways keep starting.

Kubernetes, on deleting a pod, does two things at once: the endpoints controller and
kube-proxy take the pod out of the Service (after a lag), and the kubelet runs the preStop
hook (the chart's `sleep`), then sends SIGQUIT (the image's STOPSIGNAL: nginx finishes what it
is sending, then exits), and SIGKILL when the grace period is over. The test plays that with
times scaled down, and a new pod joins once it answers (the readiness probe).
"""

from __future__ import annotations

import hashlib
import http.client
import signal
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sync import serve
from sync.sample import wasm_module
from sync.tree import Tree
from sync.tree.layout import url_path
from tests.serve.trees import Module, build_tree
from tests.support.fleet import Background, Fetcher, FleetRun, run_fleet
from tests.support.front import RoundRobinFront
from tests.support.nginx import NginxServer, start_nginx

RESTARTS = 3  # of each pod
GATEWAYS = 30
ENDPOINT_LAG = 0.3  # seconds until the Service stops sending new connections to a deleted pod
PRESTOP = 0.6  # the preStop sleep, scaled down as the lag is: it must outlast the lag
# What the kubelet waits after the preStop sleep before SIGKILL: the chart's 30 s less its 5 s,
# not scaled down, since a drain lasts as long as the clients take to read what is in flight
# (nginx.conf's worker_shutdown_timeout, 20 s, ends a drain before it)
GRACE = 25.0


@dataclass
class Restarts:
    in_flight: list[int] = field(default_factory=list)  # connections open on the pod at its SIGQUIT
    drains: list[float] = field(default_factory=list)  # seconds from SIGQUIT until nginx exited
    codes: list[int] = field(default_factory=list)


def _roll(front: RoundRobinFront, pods: list[NginxServer], tree: Tree, prestop: float, done: Restarts) -> None:
    for _ in range(RESTARTS):
        for i in range(len(pods)):
            old = pods[i]
            threading.Timer(ENDPOINT_LAG, front.remove, [i]).start()  # the Service lags behind
            time.sleep(prestop)  # the kubelet's preStop hook
            done.in_flight.append(front.open[i])
            stopped = time.monotonic()
            old.process.send_signal(signal.SIGQUIT)
            old.process.wait(GRACE)  # past the grace period the kubelet would SIGKILL: a failure
            done.drains.append(time.monotonic() - stopped)
            done.codes.append(old.stop())
            time.sleep(max(0.0, ENDPOINT_LAG - prestop))  # the old endpoint is gone before the new one comes
            pods[i] = start_nginx(tree.root, capture_access_log=False)  # answers /healthz: ready
            front.replace(i, (pods[i].host, pods[i].port))
            front.add(i)
            time.sleep(0.3)  # the new pod takes connections before its sibling goes


def _fleets(port: int, paths: list[str], stop: threading.Event) -> list[FleetRun]:
    """Fleet starts one after another until ``stop``: every restart falls inside one."""
    runs = []
    while not stop.is_set():
        runs.append(run_fleet("127.0.0.1", port, paths, GATEWAYS))
    return runs


@pytest.mark.parametrize("prestop", [PRESTOP, 0.0], ids=["chart-prestop", "no-prestop"])
def test_rolling_restarts_during_fleet_starts_lose_no_gateway(fleet_tree: tuple[Tree, dict[str, str]],
                                                              prestop: float) -> None:
    tree, want = fleet_tree
    paths = sorted(want)
    pods = [start_nginx(tree.root, capture_access_log=False) for _ in range(2)]
    done, stop = Restarts(), threading.Event()
    try:
        with RoundRobinFront([(p.host, p.port) for p in pods]) as front:
            # two streams of fleet starts, so that one is in full swing while the other ends
            streams = [Background(lambda: _fleets(front.port, paths, stop)) for _ in range(2)]
            for s in streams:
                s.__enter__()
            try:
                time.sleep(0.5)  # the first fleets are under way
                _roll(front, pods, tree, prestop, done)
            finally:
                stop.set()
                for s in streams:
                    s.__exit__()
            runs = [r for s in streams for r in s.result or []]
    finally:
        for p in pods:
            p.stop()
    assert runs
    attempts = [a for r in runs for a in r.attempts]
    failed_gateways = sum(len(r.failed_gateways()) for r in runs)
    assert failed_gateways == 0, [r.causes() for r in runs]
    # every body complete and right, whichever pod sent it
    for r in runs:
        assert r.bodies() == {p: {sha} for p, sha in want.items()}
    assert len(done.drains) == 2 * RESTARTS and done.codes == [0] * (2 * RESTARTS)
    # the pods were busy when stopped, and what they were sending reached the gateways:
    # no connection broke off in the middle of an answer, no body was cut short (a request
    # that met a keep-alive connection as nginx closed it was sent again by the client)
    # (with the preStop sleep a pod may have no connection left when SIGQUIT comes: the
    # Service sent new ones elsewhere for a while, and fleets that ended closed theirs; on a
    # loaded machine, with fleets slowed down, most restarts can meet none)
    assert sum(n > 0 for n in done.in_flight) >= 2, done.in_flight
    assert sum(front.broken.values()) == 0
    assert not [a for a in attempts if a.cause.startswith("body cut short")]
    retried = [a for a in attempts if a.cause]
    print(f"restarts ({'preStop %g s' % prestop if prestop else 'no preStop'}, Service lag {ENDPOINT_LAG:g} s): "
          f"{len(runs)} fleet starts of {GATEWAYS} gateways, {len(attempts)} attempts, {2 * RESTARTS} restarts; "
          f"open connections at SIGQUIT {done.in_flight}; drains {', '.join(f'{d:.2f}' for d in done.drains)} s; "
          f"refused {sum(front.refused.values())}; keep-alive races {sum(front.raced.values())}; failed attempts {len(retried)} "
          f"({dict(Counter(a.cause for a in retried))}); longest transfer "
          f"{max(r.longest_transfer() for r in runs):.2f} s; 0 failed gateways")
    if prestop >= ENDPOINT_LAG:
        # the Service let go of each pod before it stopped listening: nothing was refused,
        # and no gateway needed a retry
        assert sum(front.refused.values()) == 0
        assert [a for a in attempts if a.cause] == []
    else:
        # without the preStop sleep new connections met a closed port for as long as the
        # Service lagged; the gateways' retries (waiting 0.5 s first) carried them over it
        assert sum(front.refused.values()) > 0
        assert ENDPOINT_LAG < Fetcher().retry_window


def test_sigquit_lets_every_response_in_flight_complete(tmp_path: Path) -> None:
    """20 gateways each in the middle of an 8 MiB module, read at 4 MiB/s, when nginx gets
    SIGQUIT: every one gets its whole module, byte-exact; new connections are refused at
    once; nginx exits once the last response is sent."""
    module = wasm_module(8 << 20, seed=7, compressible=0.5)
    tree, _ = build_tree(tmp_path / "plugins", gzip=False, modules=(Module("big", ("1.0.0",), module),),
                         hand_placed=None)
    server = start_nginx(tree.root, capture_access_log=False)
    got: list[str] = []
    started = threading.Barrier(21)

    def slow_fetch() -> None:
        conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
        conn.request("GET", url_path("big", "1.0.0"))
        resp = conn.getresponse()
        digest = hashlib.sha256(resp.read(1 << 20))
        started.wait(10)
        while chunk := resp.read(1 << 20):
            digest.update(chunk)
            time.sleep(0.25)  # 4 MiB/s
        got.append(digest.hexdigest() if resp.status == 200 else f"HTTP {resp.status}")
        conn.close()

    clients = [threading.Thread(target=slow_fetch) for _ in range(20)]
    try:
        for c in clients:
            c.start()
        started.wait(10)  # every response under way
        quit_at = time.monotonic()
        server.process.send_signal(signal.SIGQUIT)
        time.sleep(0.2)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((server.host, server.port), timeout=2)
        assert server.process.poll() is None  # still sending
        for c in clients:
            c.join(30)
        server.process.wait(10)
        drained = time.monotonic() - quit_at
    finally:
        server.stop()
    assert got == [hashlib.sha256(module).hexdigest()] * 20
    assert server.process.returncode == 0
    assert drained > 1.0  # it waited for the responses (7 MiB each at 4 MiB/s)
    print(f"SIGQUIT with 20 responses of 8 MiB in flight: all complete and byte-exact; nginx exited "
          f"{drained:.1f} s after SIGQUIT")


def _scaled(conf: str, directive: str, real: int, played: int) -> str:
    line = f"{directive} {real}s;"
    assert conf.count(line) == 1, line
    return conf.replace(line, f"{directive} {played}s;")


def test_clients_that_never_finish_hold_a_sigquit_no_longer_than_nginx_timeouts(tmp_path: Path) -> None:
    """A client that stops reading in the middle of a module, one that connected and sent
    nothing yet, and one whose request line never ends keep nginx from finishing a graceful
    stop. worker_shutdown_timeout (20 s) closes the first two (send_timeout alone would wait
    30 s, client_header_timeout 10 s), client_header_timeout the third (the shutdown timer
    does not end a request nginx is still reading), and nginx exits 0: before the kubelet's
    SIGKILL 25 s after SIGQUIT would cut every other response with them. Played at 1 s and 2 s."""
    conf = serve.default_template().read_text()
    conf = _scaled(conf, "worker_shutdown_timeout", 20, 1)
    conf = _scaled(conf, "client_header_timeout", 10, 2)
    template = tmp_path / "nginx.conf"
    template.write_text(conf)
    module = wasm_module(8 << 20, seed=9, compressible=0.0)
    tree, _ = build_tree(tmp_path / "plugins", gzip=False, modules=(Module("big", ("1.0.0",), module),),
                         hand_placed=None)
    server = start_nginx(tree.root, capture_access_log=False, template=template)
    reader = socket.socket()
    silent = socket.socket()
    halfway = socket.socket()
    try:
        reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        reader.connect((server.host, server.port))
        reader.sendall(f"GET {url_path('big', '1.0.0')} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert reader.recv(4096).startswith(b"HTTP/1.1 200")  # under way, then not read for a while
        silent.connect((server.host, server.port))
        halfway.connect((server.host, server.port))
        halfway.sendall(b"GET /plugins/big/1.0.0/plugin.wa")
        time.sleep(0.2)  # nginx holds both
        quit_at = time.monotonic()
        server.process.send_signal(signal.SIGQUIT)
        time.sleep(0.5)
        assert server.process.poll() is None  # it waits for them first ...
        time.sleep(1.0)  # ... until its shutdown timeout closed the reader's and the silent one:
        silent.settimeout(5)
        assert silent.recv(1) == b""
        reader.settimeout(5)
        received = 0
        while chunk := reader.recv(1 << 16):  # what the socket buffers held, then the end
            received += len(chunk)
        assert received < len(module) // 2
        assert server.process.poll() is None  # the half request still holds it ...
        server.process.wait(8)  # ... until client_header_timeout
        drained = time.monotonic() - quit_at
    finally:
        for s in (reader, silent, halfway):
            s.close()
        code = server.stop()
    assert code == 0
    assert 1.5 < drained < 8
    print(f"SIGQUIT with a client that stopped reading, one that sent nothing and one whose request never "
          f"ended: nginx closed the first two at worker_shutdown_timeout (1 s here), the third at "
          f"client_header_timeout (2 s), and exited 0 {drained:.1f} s after SIGQUIT")
