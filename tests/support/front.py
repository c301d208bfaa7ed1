"""A round-robin TCP front for several backends, as a Kubernetes Service spreads connections.

    with RoundRobinFront([("127.0.0.1", p1), ("127.0.0.1", p2)]) as front:
        front.port                    # clients connect here
        front.remove(0)               # the endpoint goes: new connections go to the others
        front.add(0)                  # ... and comes back

Like kube-proxy, the front picks a backend for each new connection and forwards its bytes;
connections already set up keep their backend after it leaves the rotation (the kernel's
connection tracking keeps them). When the chosen backend refuses, the client's connection is
reset: there is no retry on another backend, so a client sees what it would see from a
Service whose endpoint list is behind.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections import Counter
from typing import Callable, Sequence

READ = 1 << 18


class RoundRobinFront:
    def __init__(self, backends: Sequence[tuple[str, int]], host: str = "127.0.0.1") -> None:
        self.backends = list(backends)
        self.active = list(range(len(self.backends)))
        self.host = host
        self.port = 0
        self.connections: Counter[int] = Counter()  # backend -> connections sent to it
        self.refused: Counter[int] = Counter()  # backend -> connections it refused (client reset)
        self.open: Counter[int] = Counter()  # backend -> connections open to it now
        # backend -> connections it broke off (a reset) in the middle of an answer
        self.broken: Counter[int] = Counter()
        # backend -> connections it reset before answering the request just sent: a keep-alive
        # connection closed as the request arrived, which an HTTP client sends again
        self.raced: Counter[int] = Counter()
        self._next = 0
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.AbstractServer | None = None

    # -- the endpoint list ------------------------------------------------------------------

    def remove(self, backend: int) -> None:
        with self._lock:
            if backend in self.active:
                self.active.remove(backend)

    def add(self, backend: int) -> None:
        with self._lock:
            if backend not in self.active:
                self.active.append(backend)
                self.active.sort()

    def replace(self, backend: int, address: tuple[str, int]) -> None:
        """A new pod in the old one's place (it joins the rotation with ``add``)."""
        with self._lock:
            self.backends[backend] = address

    def _pick(self) -> int | None:
        with self._lock:
            if not self.active:
                return None
            b = self.active[self._next % len(self.active)]
            self._next += 1
            self.connections[b] += 1
            return b

    # -- forwarding -------------------------------------------------------------------------

    @staticmethod
    def _reset(writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    seen: Callable[[int], None]) -> bool:
        """Copy until the end, telling ``seen`` each chunk's size; False if the reading side
        broke off."""
        try:
            while data := await reader.read(READ):
                seen(len(data))
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
            return True
        except OSError:
            writer.transport.abort()
            return False

    async def _handle(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        b = self._pick()
        if b is None:
            self._reset(c_writer)
            return
        try:
            b_reader, b_writer = await asyncio.open_connection(*self.backends[b])
        except OSError:
            with self._lock:
                self.refused[b] += 1
            self._reset(c_writer)
            return
        with self._lock:
            self.open[b] += 1
        answered = [0]  # bytes of answer since the client last sent something

        def asked(_n: int) -> None:
            answered[0] = 0

        def answer(n: int) -> None:
            answered[0] += n

        up = asyncio.ensure_future(self._pipe(c_reader, b_writer, asked))
        try:
            # the backend finished (or broke off): the client's connection ends with it
            if not await self._pipe(b_reader, c_writer, answer):
                with self._lock:
                    (self.broken if answered[0] else self.raced)[b] += 1
        finally:
            with self._lock:
                self.open[b] -= 1
            up.cancel()
            b_writer.transport.abort()
            c_writer.close()

    async def _start(self) -> int:
        self._server = await asyncio.start_server(self._handle, self.host, 0, backlog=4096)
        return int(self._server.sockets[0].getsockname()[1])

    def __enter__(self) -> "RoundRobinFront":
        self._thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
