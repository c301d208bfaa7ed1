"""Five behaviours of oras-py's registry client, measured against a throw-away registry on
loopback (no network): why ``sync/oci/registry.py`` is written here (docs/design.md).

    python -m venv /tmp/oras && /tmp/oras/bin/pip install oras==0.2.43
    /tmp/oras/bin/python bench/oras_py_check.py

oras is no dependency of this project: this script is run by hand, not by the tests.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import oras.client
import oras.layout
import oras.provider

GOOD = b"the real layer bytes\n"
DIGEST = "sha256:" + hashlib.sha256(GOOD).hexdigest()
SEEN: list[tuple[str, str]] = []  # (path, Authorization)
STATE = {"throttled": 0}


class Registry(BaseHTTPRequestHandler):
    def log_message(self, *a: object) -> None:
        pass

    def _send(self, code: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        path, _, query = self.path.partition("?")
        auth = self.headers.get("Authorization", "")
        SEEN.append((path, auth))
        host = f"127.0.0.1:{self.server.server_address[1]}"
        if path == "/token":  # one token per scope, as distribution's token servers give
            scope = dict(p.split("=", 1) for p in query.split("&")).get("scope", "")
            self._send(200, json.dumps({"token": "tok-" + scope.replace("%3A", ":")}).encode())
            return
        if path.startswith("/v2/private-"):
            repo = path.split("/")[2]
            if auth != f"Bearer tok-repository:{repo}:pull":
                self._send(401, b"{}", {"WWW-Authenticate": f'Bearer realm="http://{host}/token",'
                                                           f'service="r",scope="repository:{repo}:pull"'})
                return
            self._send(200, GOOD)
            return
        if path.startswith("/v2/tampered/blobs/"):
            self._send(200, b"NOT the bytes the digest names\n")
            return
        if path.startswith("/v2/throttled/blobs/"):
            STATE["throttled"] += 1
            if STATE["throttled"] == 1:
                self._send(429, b"{}", {"Retry-After": "3"})
            else:
                self._send(200, GOOD)
            return
        if path.startswith("/v2/silent/"):
            time.sleep(4)
            self._send(200, GOOD)
            return
        self._send(404)


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Registry)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host = f"127.0.0.1:{server.server_address[1]}"
    out = Path(tempfile.mkdtemp())
    reg = oras.provider.Registry(hostname=host, insecure=True)

    # 1. one token for every repository
    SEEN.clear()
    r1 = reg.get_blob(f"{host}/private-a", DIGEST)
    r2 = reg.get_blob(f"{host}/private-b", DIGEST)
    print(f"1. token: repository a -> {r1.status_code}, then repository b -> {r2.status_code}; "
          f"b was sent {[a for p, a in SEEN if 'private-b' in p]}")

    # 2. bytes that do not match the digest are saved
    saved = reg.download_blob(f"{host}/tampered", DIGEST, str(out / "layer"))
    data = Path(saved).read_bytes()
    print(f"2. tampered blob saved without error: {data != GOOD} "
          f"(file sha256 {hashlib.sha256(data).hexdigest()[:12]}, asked {DIGEST[7:19]})")

    # 3. no timeout: record what reaches requests
    calls: list[object] = []
    real = reg.session.request

    def spy(*a: object, **kw: object) -> object:
        calls.append(kw.get("timeout"))
        return real(*a, **kw)

    reg.session.request = spy  # type: ignore[method-assign]
    t = time.monotonic()
    reg.get_blob(f"{host}/silent", DIGEST)
    print(f"3. timeout passed to requests: {calls} (a 4 s silent server took {time.monotonic() - t:.1f} s)")
    reg.session.request = real  # type: ignore[method-assign]

    # 4. Retry-After
    t = time.monotonic()
    r = reg.get_blob(f"{host}/throttled", DIGEST)
    print(f"4. 429 with Retry-After: 3 -> status {r.status_code} after {time.monotonic() - t:.1f} s")

    # 5. a layout resolving a digest outside itself
    lay = out / "layout"
    (lay / "blobs" / "sha256").mkdir(parents=True)
    (lay / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (lay / "index.json").write_text('{"schemaVersion": 2, "manifests": []}')
    layout = oras.layout.Layout(str(lay))
    p = layout.digest_to_blob_path("sha256:../../../outside")
    print(f"5. Layout path of 'sha256:../../../outside': {p} -> resolves to {p.resolve()} "
          f"(inside the layout: {p.resolve().is_relative_to(lay.resolve())})")
    server.shutdown()


if __name__ == "__main__":
    main()
