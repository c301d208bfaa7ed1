"""A wide-area network on loopback: an HTTP proxy that puts a round-trip time and a shared
bandwidth cap between a client and a server (a registry, a token service).

    with WanProxy(registry.host, rtt=0.150, bandwidth=20e6) as wan:
        run("plugin-sync pull --registry", wan.host, "--plain-http")
        wan.requests        # every request as it arrived: method, path, status, connection

What it costs a client, as a link of that round-trip time would:

- a new connection: ``handshake`` round trips before the first answer can arrive (1 for
  TCP, plus what TLS set-up costs: 1 more for TLS 1.3, 2 for TLS 1.2; the proxy cannot
  terminate TLS, so it adds the turns instead), counted from when the client connected: a
  connection opened ahead of its first request has paid them by then;
- every request and its response: one round trip, added before the answer is sent;
- every body byte sent back: a share of ``bandwidth`` (bytes per second), one bucket for all
  connections, so parallel downloads divide the link between them.

Each client connection gets its own connection to the server, kept alive as long as the
client keeps its own, so connection reuse on the client's side is what it saves on the link.

The proxy runs on one asyncio event loop in a thread of its own. It first ran a thread per
connection: under a pull's load one answer in ten was sent 0.2 to 0.6 s after it was due,
the threads waiting for the interpreter lock, and the bench counted that as the pull's.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
              "transfer-encoding", "upgrade", "content-length"}
CHUNK = 64 * 1024
BACKLOG = 1024  # dozens of connections opened at once: none may wait for a SYN to be sent again
MAX_HEAD = 64 * 1024


class Bucket:
    """A token bucket shared by every connection: ``rate`` bytes a second, no burst beyond
    one chunk, so the cap holds over any interval longer than a chunk's time."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.lock = threading.Lock()
        self.next_free = 0.0  # when the link is free again (time.monotonic)

    def reserve(self, n: int) -> float:
        """Book ``n`` bytes on the link; returns how long to wait before sending them."""
        if self.rate <= 0:
            return 0.0
        with self.lock:
            now = time.monotonic()
            start = max(now, self.next_free)
            self.next_free = start + n / self.rate
            return self.next_free - now

    def take(self, n: int) -> None:
        """Wait until ``n`` bytes may be sent."""
        wait = self.reserve(n)
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


class _Closed(Exception):
    """The client or the server closed its connection."""


async def _read_head(reader: asyncio.StreamReader) -> tuple[str, list[tuple[str, str]]]:
    """A request or status line and its header fields. Whatever does not start as HTTP does
    (a TLS handshake: skopeo tries HTTPS first, then plain HTTP) ends the connection at once."""
    try:
        start = await reader.readexactly(1)
        if not start.isupper():
            raise _Closed()
        raw = start + await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        raise _Closed() from None
    lines = raw.decode("latin-1").split("\r\n")
    fields = []
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            fields.append((k.strip(), v.strip()))
    return lines[0], fields


def _field(fields: list[tuple[str, str]], name: str) -> str | None:
    return next((v for k, v in fields if k.lower() == name), None)


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
        self._port = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._error: BaseException | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self._port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def __enter__(self) -> "WanProxy":
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise self._error
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def reset(self) -> None:
        """Forget what was counted (the link's state, its bucket, stays)."""
        with self.lock:
            self.requests = []
            self.connections = 0
            self.body_bytes = 0

    # -- the event loop's side ---------------------------------------------------------

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as e:  # noqa: BLE001 - reported to __enter__
            self._error = e
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._client, "127.0.0.1", 0, backlog=BACKLOG, limit=MAX_HEAD)
        self._port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await self._stop.wait()
            server.close()
            for task in asyncio.all_tasks() - {asyncio.current_task()}:
                task.cancel()

    def _connected(self) -> int:
        with self.lock:
            self.connections += 1
            return self.connections - 1

    def _record(self, request: Request, body_bytes: int) -> None:
        with self.lock:
            self.requests.append(request)
            self.body_bytes += body_bytes

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        number, opened = self._connected(), time.monotonic()
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        first = True
        try:
            while True:
                line, fields = await _read_head(reader)
                arrived = time.monotonic()
                method, path = line.split(" ")[:2]
                length = int(_field(fields, "content-length") or 0)
                body = await reader.readexactly(length) if length else b""
                if upstream is None:
                    host, port = self.upstream.rsplit(":", 1)
                    upstream = await asyncio.open_connection(host, int(port), limit=MAX_HEAD)
                wants = (_field(fields, "connection") or "").lower()
                sent, status = 0, 0
                close = wants == "close" or (line.endswith("HTTP/1.0") and wants != "keep-alive")
                try:
                    head: dict[str, str] = {}
                    for k, v in fields:  # a repeated field (Accept) as one
                        if k.lower() not in HOP_BY_HOP and k.lower() != "host":
                            head[k] = f"{head[k]}, {v}" if k in head else v
                    head["Host"] = self.upstream
                    if body:
                        head["Content-Length"] = str(len(body))
                    request = (f"{method} {path} HTTP/1.1\r\n".encode("latin-1")
                               + "".join(f"{k}: {v}\r\n" for k, v in head.items()).encode("latin-1") + b"\r\n" + body)
                    try:
                        up_r, up_w = upstream
                        up_w.write(request)
                        await up_w.drain()
                        status_line, answer = await _read_head(up_r)
                    except (_Closed, ConnectionError):  # a kept connection the server closed: once more
                        upstream[1].close()
                        host, port = self.upstream.rsplit(":", 1)
                        upstream = await asyncio.open_connection(host, int(port), limit=MAX_HEAD)
                        up_r, up_w = upstream
                        up_w.write(request)
                        await up_w.drain()
                        status_line, answer = await _read_head(up_r)
                    status = int(status_line.split(" ")[1])
                    # one round trip for the request, from when it could be sent
                    sendable = max(arrived, opened + self.handshake * self.rtt) if first else arrived
                    first = False
                    wait = sendable + self.rtt - time.monotonic()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    size = _field(answer, "content-length")
                    chunked = (_field(answer, "transfer-encoding") or "").lower() == "chunked"
                    out = [f"HTTP/1.1 {status_line.split(' ', 1)[1]}"]
                    out += [f"{k}: {v}" for k, v in answer
                            if k.lower() not in HOP_BY_HOP and k.lower() not in ("date", "server")]
                    if method == "HEAD":
                        out.append(f"Content-Length: {size or 0}")
                    elif size is not None:
                        out.append(f"Content-Length: {size}")
                    else:  # unknown length: the body up to the server's end, then close
                        close = True
                    if close:
                        out.append("Connection: close")
                    writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1"))
                    if method != "HEAD" and status not in (204, 304):
                        if size is not None:
                            sent = await self._relay(up_r, writer, int(size))
                        elif chunked:
                            sent = await self._relay_chunked(up_r, writer)
                        else:
                            sent = await self._relay(up_r, writer, None)
                    await writer.drain()
                    keep = (_field(answer, "connection") or "").lower()
                    if close or keep == "close" or (status_line.startswith("HTTP/1.0") and keep != "keep-alive"):
                        up_w.close()
                        upstream = None
                finally:
                    self._record(Request(arrived, method, path, status, number,
                                         (_field(fields, "authorization") or "").split(" ", 1)[0], opened,
                                         time.monotonic()), sent)
                if close:
                    break
        except (_Closed, ConnectionError, asyncio.IncompleteReadError, ValueError, IndexError):
            pass
        finally:
            if upstream is not None:
                upstream[1].close()
            writer.close()

    async def _send(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        wait = self.bucket.reserve(len(data))
        if wait > 0:
            await asyncio.sleep(wait)
        writer.write(data)
        await writer.drain()

    async def _relay(self, up: asyncio.StreamReader, writer: asyncio.StreamWriter, size: int | None) -> int:
        sent = 0
        while size is None or sent < size:
            data = await up.read(CHUNK if size is None else min(CHUNK, size - sent))
            if not data:
                if size is not None:
                    raise _Closed()
                break
            await self._send(writer, data)
            sent += len(data)
        return sent

    async def _relay_chunked(self, up: asyncio.StreamReader, writer: asyncio.StreamWriter) -> int:
        sent = 0
        while True:
            n = int((await up.readuntil(b"\r\n")).split(b";")[0], 16)
            if n == 0:
                await up.readuntil(b"\r\n")  # no trailers are sent by the servers behind it
                return sent
            data = await up.readexactly(n)
            await up.readexactly(2)
            await self._send(writer, data)
            sent += n
