"""A wide-area network on loopback: an HTTP proxy that puts a round-trip time and a shared
bandwidth cap between a client and a server (a registry, a token service).

    with WanProxy(registry.host, rtt=0.150, bandwidth=20e6) as wan:
        run("plugin-sync pull --registry", wan.host, "--plain-http")
        wan.requests        # every request as it arrived: method, path, status, connection

What it costs a client, as a link of that round-trip time would:

- a new connection: ``handshake`` round trips before the first answer can arrive (1 for
  TCP, plus what TLS set-up costs: 1 more for TLS 1.3, 2 for TLS 1.2; the proxy cannot
  terminate TLS, so it adds the turns instead);
- every request and its response: one round trip, added before the answer is sent;
- every body byte sent back: a share of ``bandwidth`` (bytes per second), one bucket for all
  connections, so parallel downloads divide the link between them.

Each client connection gets its own connection to the server, kept alive as long as the
client keeps its own, so connection reuse on the client's side is what it saves on the link.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
              "transfer-encoding", "upgrade", "content-length"}
CHUNK = 16 * 1024


class Bucket:
    """A token bucket shared by every connection: ``rate`` bytes a second, no burst beyond
    one chunk, so the cap holds over any interval longer than a chunk's time."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.lock = threading.Lock()
        self.next_free = 0.0  # when the link is free again (time.monotonic)

    def take(self, n: int) -> None:
        """Wait until ``n`` bytes may be sent."""
        if self.rate <= 0:
            return
        with self.lock:
            now = time.monotonic()
            start = max(now, self.next_free)
            self.next_free = start + n / self.rate
            wait = self.next_free - now
        if wait > 0:
            time.sleep(wait)


@dataclass(frozen=True)
class Request:
    at: float  # time.monotonic() when it arrived
    method: str
    path: str
    status: int
    connection: int  # which client connection carried it (0, 1, ... in order of arrival)
    authorization: str  # the scheme of its Authorization header ("Bearer", "Basic", "")
    opened: float = 0.0  # time.monotonic() when its connection was accepted
    finished: float = 0.0  # time.monotonic() when its answer was sent whole


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # the listen backlog, which ``listen()`` reads when the server starts: with the
    # default 5, dozens of connections opened at once lose SYNs and wait a second to retry
    request_queue_size = 1024


class WanProxy:
    """The proxy; a context manager that starts and stops it on a free loopback port."""

    def __init__(self, upstream: str, rtt: float, bandwidth: float = 0.0, handshake: int = 2) -> None:
        self.upstream = upstream  # host:port of the server behind the link
        self.rtt, self.handshake = rtt, handshake
        self.bucket = Bucket(bandwidth)
        self.lock = threading.Lock()
        self.requests: list[Request] = []
        self.connections = 0
        self.body_bytes = 0
        self.server = _Server(("127.0.0.1", 0), _handler(self))
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def __enter__(self) -> "WanProxy":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    def reset(self) -> None:
        """Forget what was counted (the link's state, its bucket, stays)."""
        with self.lock:
            self.requests.clear()
            self.connections = 0
            self.body_bytes = 0

    def _connected(self) -> int:
        with self.lock:
            self.connections += 1
            return self.connections - 1

    def _record(self, request: Request, body_bytes: int) -> None:
        with self.lock:
            self.requests.append(request)
            self.body_bytes += body_bytes


def _handler(wan: WanProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
            pass

        def handle(self) -> None:
            self.number = wan._connected()
            self.opened = time.monotonic()
            self.upstream_conn: http.client.HTTPConnection | None = None
            try:
                super().handle()
            finally:
                if self.upstream_conn is not None:
                    self.upstream_conn.close()

        def _wait_turn(self, arrived: float) -> None:
            """One round trip for this request, from when it could be sent: a new
            connection's first request cannot go before the handshake is done (counted
            from when the client connected), so a connection opened ahead of its first
            request has paid it already."""
            first = not hasattr(self, "answered")
            self.answered = True
            sendable = max(arrived, self.opened + wan.handshake * wan.rtt) if first else arrived
            due = sendable + wan.rtt
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)

        def _serve(self) -> None:
            arrived = time.monotonic()
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers: dict[str, str] = {}
            for k in dict.fromkeys(self.headers.keys()):  # a repeated header (Accept) as one list
                if k.lower() not in HOP_BY_HOP and k.lower() != "host":
                    headers[k] = ", ".join(self.headers.get_all(k) or [])
            headers["Host"] = wan.upstream
            auth = (self.headers.get("Authorization") or "").split(" ", 1)[0]
            status, sent = 0, 0
            try:
                if self.upstream_conn is None:
                    self.upstream_conn = http.client.HTTPConnection(wan.upstream, timeout=60)
                try:
                    self.upstream_conn.request(self.command, self.path, body=body, headers=headers)
                    resp = self.upstream_conn.getresponse()
                except (OSError, http.client.HTTPException):
                    self.upstream_conn.close()  # a kept connection the server closed: once more
                    self.upstream_conn = http.client.HTTPConnection(wan.upstream, timeout=60)
                    self.upstream_conn.request(self.command, self.path, body=body, headers=headers)
                    resp = self.upstream_conn.getresponse()
                status = resp.status
                self._wait_turn(arrived)
                self.send_response(status)
                for k, v in resp.getheaders():
                    if k.lower() not in HOP_BY_HOP and k.lower() not in ("date", "server"):
                        self.send_header(k, v)
                size = resp.getheader("Content-Length")
                if self.command == "HEAD":
                    self.send_header("Content-Length", size or "0")
                    self.end_headers()
                    resp.read()
                elif size is not None:
                    self.send_header("Content-Length", size)
                    self.end_headers()
                    sent = self._stream(resp)
                else:  # unknown length: the body up to the server's close, then ours
                    self.send_header("Connection", "close")
                    self.end_headers()
                    sent = self._stream(resp)
                    self.close_connection = True
                self.wfile.flush()
                if resp.will_close:
                    self.upstream_conn.close()
                    self.upstream_conn = None
            except (BrokenPipeError, ConnectionResetError, socket.timeout):
                self.close_connection = True
            finally:
                wan._record(Request(arrived, self.command, self.path, status, self.number, auth, self.opened,
                                    time.monotonic()), sent)

        def _stream(self, resp: http.client.HTTPResponse) -> int:
            sent = 0
            while True:
                data = resp.read(CHUNK)
                if not data:
                    return sent
                wan.bucket.take(len(data))
                self.wfile.write(data)
                sent += len(data)

        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    return Handler
