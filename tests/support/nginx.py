"""The real nginx, with the project's ``nginx/nginx.conf``, serving a tree on loopback.

    from tests.support.nginx import running_nginx

    with running_nginx(tree_root) as server:
        requests.get(server.url + "/plugins/index.json")
        server.access_log()          # the JSON access-log lines so far, parsed

The config is rendered by ``sync.serve`` exactly as ``plugin-sync serve`` renders it (tree
path, runtime dir and port replaced), so tests see what users and the image see. Works as
root and as a normal user. Each server gets a free port; a port taken between choosing and
binding is retried.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from sync.serve import Listen, NginxRun, find_nginx, prepare

HOST = "127.0.0.1"


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class _Lines:
    """What nginx writes to one of its output streams, kept in an anonymous file: no pipe to
    fill up and no reader thread (a thread in the test process would keep ``sync.workers``
    from forking there)."""

    def __init__(self) -> None:
        self.file = tempfile.TemporaryFile(mode="a+b")  # O_APPEND: reading never moves where nginx writes

    def lines(self) -> list[str]:
        size = os.fstat(self.file.fileno()).st_size
        data = os.pread(self.file.fileno(), size, 0)
        return [line.rstrip("\r") for line in data.decode("utf-8", "replace").split("\n")[:-1]]

    def join(self, timeout: float) -> None:
        """Nothing to wait for: every byte written is in the file."""


@dataclass
class NginxServer:
    root: Path
    port: int
    host: str
    run: NginxRun
    process: subprocess.Popen[bytes]
    _stdout: _Lines = field(repr=False)
    _stderr: _Lines = field(repr=False)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, no trailing slash."""
        return f"http://{self.host}:{self.port}"

    @property
    def plugins_url(self) -> str:
        return f"{self.url}/plugins/"

    def request(self, method: str, path: str, headers: dict[str, str] | None = None,
                body: bytes | None = None) -> Response:
        """One request with ``path`` sent exactly as given (no normalisation of ``..``)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for k, v in (headers or {}).items():
                conn.putheader(k, v)
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            resp = conn.getresponse()
            data = resp.read()
            return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
        finally:
            conn.close()

    def access_log(self) -> list[dict[str, Any]]:
        """Every JSON access-log line nginx wrote to stdout so far, parsed."""
        return [json.loads(line) for line in self._stdout.lines() if line.strip()]

    def stdout_lines(self) -> list[str]:
        return self._stdout.lines()

    def stderr_text(self) -> str:
        return "\n".join(self._stderr.lines())

    def wait_for_log(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5.0) -> dict[str, Any]:
        """The first access-log entry matching ``predicate``, waiting for it to be written."""
        deadline = time.monotonic() + timeout
        while True:
            for entry in self.access_log():
                if predicate(entry):
                    return entry
            if time.monotonic() > deadline:
                raise AssertionError(f"no matching access-log line in {self.stdout_lines()!r}")
            time.sleep(0.02)

    def stop(self) -> int:
        """Fast shutdown; returns nginx's exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._stdout.join(5)
        self._stderr.join(5)
        self.run.cleanup()
        return int(self.process.returncode)


def _wait_up(server: NginxServer, timeout: float) -> bool:
    """True once /healthz answers; False if nginx exited first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        try:
            if server.request("GET", "/healthz").status == 200:
                return True
        except OSError:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"nginx did not answer within {timeout}s: {server.stderr_text()}")


def start_nginx(root: Path, *, host: str = HOST, port: int | None = None, template: Path | None = None,
                start_timeout: float = 10.0, attempts: int = 5, capture_access_log: bool = True) -> NginxServer:
    """Start nginx over ``root``; the caller must ``stop()`` it (or use ``running_nginx``).

    ``capture_access_log=False`` discards the access log instead of keeping every line in
    memory (for load tests); ``access_log()`` is then empty.
    """
    binary = find_nginx()
    last_error = ""
    for _ in range(attempts):
        chosen = port or free_port(host)
        run = prepare(Path(root), Listen(host, chosen), binary=binary, template=template)
        out, err = _Lines(), _Lines()
        proc = subprocess.Popen(run.argv(), stdin=subprocess.DEVNULL,
                                stdout=out.file if capture_access_log else subprocess.DEVNULL, stderr=err.file)
        server = NginxServer(Path(root), chosen, host, run, proc, out, err)
        if _wait_up(server, start_timeout):
            return server
        server.stop()
        last_error = server.stderr_text()
        if "Address already in use" not in last_error or port:
            break
    raise RuntimeError(f"nginx did not start: {last_error}")


@contextmanager
def running_nginx(root: Path, **kwargs: Any) -> Iterator[NginxServer]:
    """``start_nginx`` as a context manager that always stops the server."""
    server = start_nginx(root, **kwargs)
    try:
        yield server
    finally:
        server.stop()
