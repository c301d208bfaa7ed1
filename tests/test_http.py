"""``sync.http.open_ahead``: connections opened before the requests that use them, through
urllib3's pool as requests chooses it (the test holds urllib3's behaviour the helper
relies on: an idle connection is taken again, one the server closed is opened again, and
the read timeout still bounds a request on it)."""

from __future__ import annotations

import socket
from pathlib import Path
import threading
import time
from typing import Iterator

import pytest
import requests

from sync.http import make_session, open_ahead
from tests.support.wanproxy import WanProxy


class _Server:
    """A loopback HTTP server on raw sockets: ``mode`` says what each connection meets."""

    def __init__(self, mode: str) -> None:
        self.mode = mode  # "answer", "close" (closed at once, unread), "silent" (read, never answered)
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.accepted = 0
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            if self.mode == "close":
                conn.close()
                continue
            self.held.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buf = b""
        while True:
            try:
                data = conn.recv(65536)
            except OSError:
                return
            if not data:
                return
            buf += data
            while b"\r\n\r\n" in buf:
                _, buf = buf.split(b"\r\n\r\n", 1)
                if self.mode == "silent":
                    continue
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    def close(self) -> None:
        self.sock.close()
        for c in self.held:
            c.close()


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[_Server]:
    s = _Server(request.param)
    yield s
    s.close()


def _accepted(server: _Server, n: int) -> None:
    """Wait until the server has accepted ``n`` connections (the kernel completes a connection
    before the server's thread takes it)."""
    deadline = time.monotonic() + 5
    while server.accepted < n and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.accepted == n


def _get_all(session: requests.Session, url: str, n: int, timeout: tuple[float, float] = (5, 5)) -> list[float]:
    took: list[float] = []

    def one() -> None:
        t0 = time.monotonic()
        assert session.get(url, timeout=timeout).content == b"ok"
        took.append(time.monotonic() - t0)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return took


@pytest.mark.parametrize("server", ["answer"], indirect=True)
def test_the_connections_opened_ahead_are_the_ones_the_requests_use(server: _Server) -> None:
    session = make_session(8)
    assert open_ahead(session, server.url, 6) == 6
    _accepted(server, 6)
    assert len(_get_all(session, server.url + "/x", 6)) == 6
    time.sleep(0.2)  # a seventh connection, had one been opened, is accepted by now
    assert server.accepted == 6  # not one more connection


@pytest.mark.parametrize("server", ["answer"], indirect=True)
def test_at_a_distance_a_request_on_a_connection_opened_ahead_waits_one_round_trip(server: _Server) -> None:
    rtt = 0.1
    with WanProxy(server.url.removeprefix("http://"), rtt, handshake=2) as wan:
        session = make_session(4)
        assert open_ahead(session, wan.url, 4) == 4
        time.sleep(3 * rtt)  # the token service's turns, say
        took = []
        for _ in range(4):
            t0 = time.monotonic()
            session.get(wan.url + "/v2/", timeout=(5, 5)).close()
            took.append(time.monotonic() - t0)
    assert wan.connections == 4
    assert max(took) < 2 * rtt  # without the connections opened ahead: 3 round trips each


@pytest.mark.parametrize("server", ["close"], indirect=True)
def test_a_connection_the_server_closed_meanwhile_is_opened_again(server: _Server) -> None:
    session = make_session(4)
    open_ahead(session, server.url, 3)
    time.sleep(0.2)
    server.mode = "answer"
    assert len(_get_all(session, server.url + "/x", 3)) == 3


@pytest.mark.parametrize("server", ["silent"], indirect=True)
def test_the_read_timeout_bounds_a_request_on_a_connection_opened_ahead(server: _Server) -> None:
    session = make_session(2)
    assert open_ahead(session, server.url, 1) == 1
    t0 = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        session.get(server.url + "/x", timeout=(5, 0.5))
    assert time.monotonic() - t0 < 4


def test_nothing_is_opened_where_a_proxy_carries_the_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert open_ahead(make_session(2), "http://registry.example:5000/v2/", 4) == 0


def test_a_host_that_refuses_leaves_nothing_opened_and_raises_nothing() -> None:
    s = socket.create_server(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    assert open_ahead(make_session(2), f"http://127.0.0.1:{port}/v2/", 3) == 0


class _Echo(_Server):
    """Answers every request with its request line and Authorization header."""

    def _serve(self, conn: socket.socket) -> None:
        buf = b""
        while True:
            try:
                data = conn.recv(65536)
            except OSError:
                return
            if not data:
                return
            buf += data
            while b"\r\n\r\n" in buf:
                head, buf = buf.split(b"\r\n\r\n", 1)
                lines = head.decode("latin-1").split("\r\n")
                auth = next((v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])
                             if k.lower() == "authorization"), "")
                body = f"{lines[0]}\n{auth}".encode()
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))


def test_a_netrc_entry_never_replaces_the_authorization_a_request_carries(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    server = _Echo("answer")
    try:
        got = make_session(2).get(server.url + "/v2/", headers={"Authorization": "Bearer t"}, timeout=(5, 5)).text
        anonymous = make_session(2).get(server.url + "/v2/", timeout=(5, 5)).text
    finally:
        server.close()
    assert got.splitlines()[1] == "Bearer t"
    assert anonymous.splitlines()[1:] == []  # nor is netrc's Basic sent where the request carries none


def test_the_environment_proxy_settings_hold_for_every_request_of_a_session(monkeypatch: pytest.MonkeyPatch) -> None:
    proxy, direct = _Echo("answer"), _Echo("answer")
    try:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.delenv("http_proxy", raising=False)
        session = make_session(2)
        for _ in range(3):  # read once, kept: the same answer every time
            assert session.get("http://registry.invalid/v2/", timeout=(5, 5)).text.startswith(
                "GET http://registry.invalid/v2/ HTTP/1.1")
            assert session.get(direct.url + "/v2/", timeout=(5, 5)).text.startswith("GET /v2/ HTTP/1.1")
    finally:
        proxy.close()
        direct.close()
    assert proxy.accepted >= 1 and direct.accepted >= 1
