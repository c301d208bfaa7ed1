"""A fleet of simulated gateways fetching their plugins the way the gateway's Wasm fetcher does.

    from tests.support.fleet import Fetcher, run_fleet

    run = run_fleet("127.0.0.1", port, paths, gateways=50)
    run.failed_gateways()        # [] when every gateway got every plugin
    run.times_to_all()           # seconds from the fleet's start until each gateway had everything
    run.attempts                 # every attempt: status or transport error, bytes, sha256 of the body

The fetcher's rule (Higress's Wasm fetcher, docs/configure-gateway.md): a bare GET per
plugin URL, only 200 accepted; one attempt may take ``timeout`` seconds (15 s; the gateway's
``WASM_HTTP_REQUEST_TIMEOUT`` can set 5 s); up to 5 attempts, waiting 0.5 s, then twice as
long each time; transport errors, timeouts and 5xx other than 501, 505 and 511 are tried
again, any other status is not. ``accept_gzip`` asks for gzip, as the fetcher's Go HTTP
client does, and hashes the body after un-gzipping it. Each gateway keeps its connections
open between requests (an HTTP client's pool: a GET whose pooled connection was closed
before any answer is sent again at once on a new one) and fetches ``parallel`` URLs at
once. Every gateway starts at the same moment, as a fleet does after a rollout.

Everything runs on one asyncio loop with raw sockets (no thread per connection); the fleet is
bounded by ``gateways * parallel`` connections. ``python -m tests.support.fleet`` runs one
fleet and prints its attempts as JSON (the benchmark runs it so, on cores of its own).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sys
import threading
import time
import zlib
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Callable, Generic, Sequence, TypeVar

T = TypeVar("T")
NO_RETRY_5XX = frozenset({501, 505, 511})
READ = 1 << 18


@dataclass(frozen=True)
class Fetcher:
    """How one gateway fetches one URL."""

    timeout: float = 15.0  # seconds per attempt, connection to last body byte
    attempts: int = 5
    backoff: float = 0.5  # the first wait; each next one doubles
    parallel: int = 2  # URLs a gateway fetches at once, each on a pooled connection
    accept_gzip: bool = False  # a bare GET sends no Accept-Encoding

    def retryable(self, status: int) -> bool:
        """A status worth another attempt (0: a transport error or a timeout)."""
        return status == 0 or (500 <= status < 600 and status not in NO_RETRY_5XX)

    def wait(self, attempt: int) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based)."""
        return self.backoff * 2 ** (attempt - 1)

    @property
    def retry_window(self) -> float:
        """Seconds of waiting between the first and the last attempt: an outage shorter than
        this (with attempts that fail fast) is covered by the retries."""
        return sum(self.wait(a) for a in range(1, self.attempts))

    @property
    def longest(self) -> float:
        """The most time one URL can take before the gateway gives up on it."""
        return self.attempts * self.timeout + self.retry_window


@dataclass(frozen=True)
class Attempt:
    gateway: int
    path: str
    attempt: int  # 1-based
    start: float  # seconds since the fleet's start
    end: float
    status: int  # 0: no HTTP answer (see cause)
    cause: str  # "" for a 200 with a complete body
    size: int  # body bytes received (decoded)
    sha256: str  # of the (decoded) body, "" unless complete
    encoding: str = ""


@dataclass
class FleetRun:
    paths: list[str]
    gateways: int
    fetcher: Fetcher
    attempts: list[Attempt] = field(default_factory=list)
    seconds: float = 0.0

    def _got(self) -> dict[int, dict[str, float]]:
        got: dict[int, dict[str, float]] = {g: {} for g in range(self.gateways)}
        for a in self.attempts:
            if not a.cause:
                got[a.gateway][a.path] = a.end
        return got

    def times_to_all(self) -> list[float]:
        """For each gateway that got every path, the seconds from the fleet's start until the
        last one arrived."""
        return sorted(max(t.values(), default=0.0) for t in self._got().values() if len(t) == len(set(self.paths)))

    def failed_gateways(self) -> list[int]:
        """Gateways that did not get every path."""
        want = set(self.paths)
        return [g for g, t in self._got().items() if set(t) != want]

    def failed_attempts(self) -> list[Attempt]:
        return [a for a in self.attempts if a.cause]

    def causes(self) -> Counter[str]:
        """How often each cause of a failed attempt happened."""
        return Counter(a.cause for a in self.attempts if a.cause)

    def bodies(self) -> dict[str, set[str]]:
        """path -> every sha256 a complete body of it hashed to."""
        out: dict[str, set[str]] = {}
        for a in self.attempts:
            if not a.cause:
                out.setdefault(a.path, set()).add(a.sha256)
        return out

    def longest_transfer(self) -> float:
        return max((a.end - a.start for a in self.attempts if not a.cause), default=0.0)

    def to_json(self) -> str:
        return json.dumps({"paths": self.paths, "gateways": self.gateways, "fetcher": asdict(self.fetcher),
                           "seconds": self.seconds, "attempts": [asdict(a) for a in self.attempts]})

    @classmethod
    def from_json(cls, text: str) -> "FleetRun":
        d = json.loads(text)
        return cls(d["paths"], d["gateways"], Fetcher(**d["fetcher"]), [Attempt(**a) for a in d["attempts"]],
                   d["seconds"])


class _Failed(Exception):
    def __init__(self, status: int, cause: str) -> None:
        super().__init__(cause)
        self.status, self.cause = status, cause


class _Conn:
    """One pooled HTTP/1.1 connection of a gateway."""

    def __init__(self) -> None:
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    def close(self) -> None:
        if self.writer is not None:
            self.writer.transport.abort()
        self.reader = self.writer = None

    async def get(self, host: str, port: int, path: str, gzip: bool,
                  keep: list[bytes] | None = None) -> tuple[int, str, int, str]:
        """(status, sha256 of the decoded body, its size, content encoding); the body's chunks
        are appended to ``keep`` if given. Raises _Failed on anything but a complete answer;
        the connection is then closed."""
        fresh = self.writer is None
        try:
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(host, port, limit=READ * 2)
            assert self.reader is not None
            head = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: fleet-gateway\r\n"
            if gzip:
                head += "Accept-Encoding: gzip\r\n"
            try:
                self.writer.write((head + "\r\n").encode())
                await self.writer.drain()
                raw = await self.reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionResetError, BrokenPipeError) as e:
                partial = isinstance(e, asyncio.IncompleteReadError) and e.partial
                # a pooled connection the server closed meanwhile, before any byte of an answer:
                # an HTTP client (Go's among them) sends a GET again at once on a new one
                if not fresh and not partial:
                    self.close()
                    return await self.get(host, port, path, gzip, keep)
                if isinstance(e, asyncio.IncompleteReadError):
                    raise _Failed(0, "closed in the headers" if partial else "closed before answering") from None
                raise
            lines = raw.decode("latin-1").split("\r\n")
            parts = lines[0].split(" ", 2)
            status = int(parts[1])
            headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
            chunked = headers.get("transfer-encoding", "").lower() == "chunked"
            length = int(headers.get("content-length", "-1"))
            if length < 0 and not chunked:
                raise _Failed(status, "no Content-Length")
            digest, size = hashlib.sha256(), 0
            encoding = headers.get("content-encoding", "")
            inflate = zlib.decompressobj(wbits=31) if encoding == "gzip" else None

            def take(chunk: bytes) -> None:
                nonlocal size
                if inflate is not None:
                    chunk = inflate.decompress(chunk)
                digest.update(chunk)
                size += len(chunk)
                if keep is not None:
                    keep.append(chunk)

            async def body(n: int) -> None:
                left = n
                while left:
                    chunk = await self.reader.read(min(left, READ))  # type: ignore[union-attr]
                    if not chunk:
                        raise _Failed(status, f"body cut short: {n - left} of {n} bytes")
                    left -= len(chunk)
                    take(chunk)

            if chunked:  # what nginx sends when it compresses on the fly
                while n := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
                    await body(n)
                    await self.reader.readexactly(2)
                await self.reader.readuntil(b"\r\n")  # no trailers
            else:
                await body(length)
            if inflate is not None and not inflate.eof:
                raise _Failed(status, "gzip body cut short")
            if headers.get("connection", "").lower() == "close":
                self.close()
            return status, digest.hexdigest(), size, encoding
        except _Failed:
            self.close()
            raise
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, IndexError) as e:
            self.close()
            cause = {ConnectionRefusedError: "connection refused",
                     ConnectionResetError: "connection reset"}.get(type(e), f"{type(e).__name__}: {e}")
            raise _Failed(0, cause) from None
        except asyncio.CancelledError:
            self.close()
            raise


class _Fleet:
    def __init__(self, host: str, port: int, fetcher: Fetcher) -> None:
        self.host, self.port, self.fetcher = host, port, fetcher
        self.attempts: list[Attempt] = []
        self.t0 = 0.0

    def now(self) -> float:
        return time.monotonic() - self.t0

    async def fetch(self, gateway: int, conn: _Conn, path: str, keep: list[bytes] | None = None) -> Attempt:
        """One URL under the fetcher's rule; returns the last attempt."""
        f = self.fetcher
        n = 0
        while True:
            n += 1
            start = self.now()
            if keep is not None:
                keep.clear()
            try:
                status, sha, size, enc = await asyncio.wait_for(
                    conn.get(self.host, self.port, path, f.accept_gzip, keep), f.timeout)
                cause = "" if status == 200 else f"HTTP {status}"
                a = Attempt(gateway, path, n, start, self.now(), status, cause, size, sha if not cause else "", enc)
            except _Failed as e:
                a = Attempt(gateway, path, n, start, self.now(), e.status, e.cause, 0, "")
            except asyncio.TimeoutError:
                conn.close()
                a = Attempt(gateway, path, n, start, self.now(), 0, f"timed out after {f.timeout:g} s", 0, "")
            self.attempts.append(a)
            if not a.cause or n >= f.attempts or not f.retryable(a.status):
                return a
            await asyncio.sleep(f.wait(n))

    async def gateway(self, g: int, paths: Sequence[str]) -> None:
        queue = list(paths)

        async def worker() -> None:
            conn = _Conn()
            try:
                while queue:
                    await self.fetch(g, conn, queue.pop(0))
            finally:
                conn.close()

        await asyncio.gather(*(worker() for _ in range(min(self.fetcher.parallel, len(queue)))))

    async def run(self, gateways: int, paths: Sequence[str]) -> None:
        self.t0 = time.monotonic()
        await asyncio.gather(*(self.gateway(g, paths) for g in range(gateways)))

    async def watcher(self, g: int, index: str, stop: threading.Event, indexes: list[tuple[str, list[str]]]) -> None:
        """Read the index, then fetch every module it names, again and again until ``stop``."""
        conn = _Conn()
        try:
            while not stop.is_set():
                body: list[bytes] = []
                a = await self.fetch(g, conn, index, body)
                if a.cause:
                    continue
                named = [e["path"] for e in json.loads(b"".join(body))["plugins"]]
                indexes.append((a.sha256, named))
                for path in named:
                    await self.fetch(g, conn, path)
        finally:
            conn.close()


def watch_fleet(host: str, port: int, gateways: int, stop: threading.Event, fetcher: Fetcher = Fetcher(),
                index: str = "/plugins/index.json", sink: list[Attempt] | None = None,
                ) -> tuple[FleetRun, list[tuple[str, list[str]]]]:
    """``gateways`` gateways that each read ``index`` and fetch every module it names, over
    and over until ``stop`` is set. Returns every attempt, and each index read (its sha256 and
    the paths it named). Attempts are appended to ``sink`` as they end, if given."""
    fleet = _Fleet(host, port, fetcher)
    if sink is not None:
        fleet.attempts = sink
    indexes: list[tuple[str, list[str]]] = []

    async def main() -> None:
        fleet.t0 = time.monotonic()
        await asyncio.gather(*(fleet.watcher(g, index, stop, indexes) for g in range(gateways)))

    asyncio.run(main())
    return FleetRun([index], gateways, fetcher, fleet.attempts, fleet.now()), indexes


def run_fleet(host: str, port: int, paths: Sequence[str], gateways: int, fetcher: Fetcher = Fetcher()) -> FleetRun:
    """Start ``gateways`` gateways at once, each fetching every path; wait until every one
    has everything or has given up."""
    fleet = _Fleet(host, port, fetcher)
    asyncio.run(fleet.run(gateways, paths))
    return FleetRun(list(paths), gateways, fetcher, fleet.attempts, fleet.now())


class Background(Generic[T]):
    """A fleet on a thread, so that the caller can restart or update the servers meanwhile.

        with Background(lambda: run_fleet(...)) as bg:
            ...                       # restarts, pulls
        bg.result                     # the FleetRun
    """

    def __init__(self, work: Callable[[], T]) -> None:
        self._work = work
        self.result: T | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.result = self._work()
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            self.error = e

    def running(self) -> bool:
        return self._thread.is_alive()

    def __enter__(self) -> "Background[T]":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.join(600)
        if self.error is not None:
            raise self.error


# -- clients that read forever --------------------------------------------------------------

async def _trickle(host: str, port: int, path: str, until: float, got: list[int]) -> None:
    """One client that asks for ``path`` and then reads one byte a second until ``until``."""
    import socket

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window: the server must wait
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    try:
        await loop.sock_connect(sock, (host, port))
        await loop.sock_sendall(sock, f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        n = 0
        while loop.time() < until:
            try:
                data = await asyncio.wait_for(loop.sock_recv(sock, 1), 2)
            except asyncio.TimeoutError:
                continue
            if not data:
                break
            n += 1
            await asyncio.sleep(1)
        got.append(n)
    except OSError:
        got.append(-1)
    finally:
        sock.close()


async def _stuck(host: str, port: int, until: float, got: list[int]) -> None:
    """One client that sends half a request line and then nothing (slowloris)."""
    loop = asyncio.get_running_loop()
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        got.append(-1)
        return
    writer.write(b"GET /plugins/ HT")
    try:
        data = await asyncio.wait_for(reader.read(1), max(0.1, until - loop.time()))
        got.append(0 if not data else 1)  # 0: the server closed it
    except ConnectionResetError:
        got.append(0)  # closed with a reset (nginx's reset_timedout_connection)
    except (asyncio.TimeoutError, OSError):
        got.append(2)  # still open at the end
    finally:
        writer.transport.abort()


def slow_clients(host: str, port: int, path: str, trickling: int, stuck: int, seconds: float) -> dict[str, int]:
    """``trickling`` clients reading ``path`` one byte a second and ``stuck`` clients that send
    half a request line, for ``seconds``. Returns what became of them: trickling clients
    still reading, stuck ones the server closed and those still open."""

    async def main() -> tuple[list[int], list[int]]:
        until = asyncio.get_running_loop().time() + seconds
        t: list[int] = []
        s: list[int] = []
        await asyncio.gather(*(_trickle(host, port, path, until, t) for _ in range(trickling)),
                             *(_stuck(host, port, until, s) for _ in range(stuck)))
        return t, s

    t, s = asyncio.run(main())
    return {"trickling_reading": sum(1 for n in t if n > 0), "trickling_failed": sum(1 for n in t if n < 0),
            "stuck_closed": s.count(0), "stuck_open": s.count(2), "stuck_failed": s.count(-1)}


def index_paths(host: str, port: int, index: str = "/plugins/index.json") -> list[str]:
    """Every module path the server's index names: what the console would have gateways fetch."""
    import http.client

    conn = http.client.HTTPConnection(host, port, timeout=15)
    try:
        conn.request("GET", index)
        resp = conn.getresponse()
        if resp.status != 200:
            raise RuntimeError(f"{index}: HTTP {resp.status}")
        return [str(e["path"]) for e in json.loads(resp.read())["plugins"]]
    finally:
        conn.close()


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.support.fleet", description="run one gateway fleet")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--gateways", type=int, required=True)
    p.add_argument("--parallel", type=int, default=Fetcher.parallel)
    p.add_argument("--timeout", type=float, default=Fetcher.timeout)
    p.add_argument("paths", nargs="*", help="URL paths (default: every module /plugins/index.json names)")
    args = p.parse_args(argv)
    paths = args.paths or index_paths(args.host, args.port)
    run = run_fleet(args.host, args.port, paths, args.gateways,
                    Fetcher(timeout=args.timeout, parallel=args.parallel))
    sys.stdout.write(run.to_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
