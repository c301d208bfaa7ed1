"""A fault-injecting HTTP proxy on loopback, between the toolkit and a real registry.

    with FaultProxy(registry.host) as proxy:
        proxy.add(Fault.respond(503, times=3, match=r"GET /v2/plugins/a/manifests/"))
        proxy.add(Fault.flip(at=100, match=r"/blobs/"))
        run("plugin-sync pull --registry", proxy.host, "--plain-http")
        proxy.hits            # every request as it arrived: times, method, path, fault, status

Requests matching no pending fault are forwarded unchanged. Each fault applies to the
matching requests after the first ``skip``, ``times`` times (``None``: for ever). Faults:

    respond   answer with this status and headers, without asking the registry
    reset     send the headers and ``at`` body bytes, then reset the connection (RST)
    truncate  send only ``at`` body bytes, announced as the whole body (valid framing)
    flip      flip one bit of body byte ``at``
    delay     wait ``seconds`` before answering at all
    stall     send the headers and ``at`` body bytes, then wait ``seconds``, then the rest
    body      answer with ``body`` and ``content_type`` instead of the registry's answer
    close     close the connection without answering
"""

from __future__ import annotations

import http.client
import re
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Mapping

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
              "transfer-encoding", "upgrade", "content-length"}


@dataclass
class Fault:
    kind: str
    match: str = ""  # regex searched in "METHOD PATH"
    times: int | None = 1
    skip: int = 0
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    at: int = 0
    seconds: float = 0.0
    body: bytes = b""
    content_type: str = ""
    seen: int = 0  # matching requests so far
    applied: int = 0  # requests this fault was applied to

    @classmethod
    def respond(cls, status: int, match: str = "", times: int | None = 1, skip: int = 0,
                headers: Mapping[str, str] | None = None) -> "Fault":
        return cls("respond", match, times, skip, status=status, headers=dict(headers or {}))

    @classmethod
    def reset(cls, at: int, match: str = "", times: int | None = 1, skip: int = 0) -> "Fault":
        return cls("reset", match, times, skip, at=at)

    @classmethod
    def truncate(cls, at: int, match: str = "", times: int | None = 1, skip: int = 0) -> "Fault":
        return cls("truncate", match, times, skip, at=at)

    @classmethod
    def flip(cls, at: int, match: str = "", times: int | None = 1, skip: int = 0) -> "Fault":
        return cls("flip", match, times, skip, at=at)

    @classmethod
    def delay(cls, seconds: float, match: str = "", times: int | None = 1, skip: int = 0) -> "Fault":
        return cls("delay", match, times, skip, seconds=seconds)

    @classmethod
    def stall(cls, at: int, seconds: float, match: str = "", times: int | None = 1, skip: int = 0) -> "Fault":
        return cls("stall", match, times, skip, at=at, seconds=seconds)

    @classmethod
    def replace(cls, body: bytes, content_type: str, match: str = "", times: int | None = None,
                skip: int = 0) -> "Fault":
        return cls("body", match, times, skip, status=200, body=body, content_type=content_type)

    @classmethod
    def close(cls, match: str = "", times: int | None = 1, skip: int = 0) -> "Fault":
        return cls("close", match, times, skip)

    def matches(self, line: str) -> bool:
        return re.search(self.match, line) is not None

    @property
    def pending(self) -> bool:
        return self.times is None or self.applied < self.times


@dataclass
class Hit:
    at: float  # time.monotonic() when the request arrived
    wall: float  # time.time() when the request arrived
    method: str
    path: str
    fault: str  # the fault kind applied, "" when forwarded unchanged
    status: int = 0  # the status sent (0 when none was, or not yet)


class FaultProxy:
    """The proxy; a context manager that starts and stops it on a free loopback port."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream  # host:port of the real registry
        self.faults: list[Fault] = []
        self.hits: list[Hit] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "FaultProxy":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    # -- driving it ---------------------------------------------------------------------

    def add(self, *faults: Fault) -> "FaultProxy":
        with self.lock:
            self.faults.extend(faults)
        return self

    def clear(self) -> None:
        with self.lock:
            self.faults.clear()
            self.hits.clear()

    def requests_to(self, pattern: str) -> list[Hit]:
        """The requests matching ``pattern``, in the order they arrived."""
        with self.lock:
            found = [h for h in self.hits if re.search(pattern, f"{h.method} {h.path}")]
        return sorted(found, key=lambda h: h.at)

    def applied(self) -> int:
        with self.lock:
            return sum(f.applied for f in self.faults)

    def _choose(self, method: str, path: str) -> Fault | None:
        line = f"{method} {path}"
        with self.lock:
            for f in self.faults:
                if f.pending and f.matches(line):
                    f.seen += 1
                    if f.seen > f.skip:
                        f.applied += 1
                        return f
                    return None
        return None

    def _record(self, hit: Hit) -> None:
        with self.lock:
            self.hits.append(hit)

    def sleep(self, seconds: float) -> None:
        self.stopping.wait(seconds)


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out as separate writes

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
            pass

        def _serve(self) -> None:
            hit = Hit(time.monotonic(), time.time(), self.command, self.path, "")
            length = int(self.headers.get("Content-Length") or 0)
            request_body = self.rfile.read(length) if length else None
            fault = proxy._choose(self.command, self.path)
            hit.fault = fault.kind if fault else ""
            proxy._record(hit)
            sent = 0
            try:
                if fault and fault.kind == "close":
                    self.close_connection = True
                    return
                if fault and fault.kind == "delay":
                    proxy.sleep(fault.seconds)
                if fault and fault.kind == "respond":
                    body = b'{"errors":[{"code":"UNAVAILABLE","message":"injected by the fault proxy"}]}'
                    sent = fault.status
                    self._send(fault.status, {"Content-Type": "application/json", **fault.headers}, body)
                    return
                if fault and fault.kind == "body":
                    sent = 200
                    self._send(200, {"Content-Type": fault.content_type}, fault.body)
                    return
                status, headers, body = self._forward(request_body)
                sent = status
                if fault is None or self.command == "HEAD" or not body:
                    self._send(status, headers, body)
                elif fault.kind == "flip":
                    at = min(fault.at, len(body) - 1)
                    flipped = bytearray(body)
                    flipped[at] ^= 0x01
                    self._send(status, headers, bytes(flipped))
                elif fault.kind == "truncate":
                    self._send(status, headers, body[: fault.at])
                elif fault.kind in ("reset", "stall"):
                    self._head(status, headers, len(body))
                    self.wfile.write(body[: fault.at])
                    self.wfile.flush()
                    if fault.kind == "reset":
                        self._reset()
                        return
                    proxy.sleep(fault.seconds)
                    self.wfile.write(body[fault.at:])
                    self.wfile.flush()
                else:
                    self._send(status, headers, body)
            except (BrokenPipeError, ConnectionResetError, socket.timeout):
                self.close_connection = True
            finally:
                hit.status = sent

        def _forward(self, body: bytes | None) -> tuple[int, dict[str, str], bytes]:
            conn = http.client.HTTPConnection(proxy.upstream, timeout=30)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                out = {k: v for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP}
                if self.command == "HEAD":
                    out["Content-Length"] = resp.getheader("Content-Length") or "0"
                return resp.status, out, data
            finally:
                conn.close()

        def _head(self, status: int, headers: Mapping[str, str], length: int) -> None:
            self.send_response(status)
            for k, v in headers.items():
                if k.lower() not in ("content-length", "date", "server"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(length) if self.command != "HEAD" else headers.get("Content-Length", "0"))
            self.end_headers()

        def _send(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
            self._head(status, headers, len(body))
            if self.command != "HEAD":
                self.wfile.write(body)
            self.wfile.flush()

        def _reset(self) -> None:
            """Close with a TCP reset instead of an orderly shutdown."""
            self.close_connection = True
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()

        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    return Handler
