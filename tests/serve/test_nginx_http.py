"""The real nginx with nginx/nginx.conf over a pulled tree: what gateways, consoles and people get."""

from __future__ import annotations

import gzip
import hashlib
import re
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from sync.tree import Tree
from sync.tree.layout import WASM
from tests.serve.trees import HAND_PLACED, build_tree
from tests.support.nginx import NginxServer, running_nginx

PLAIN = {"Accept-Encoding": "identity"}
GZIP = {"Accept-Encoding": "gzip"}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_every_module_downloads_byte_exact(server: NginxServer, index: list[dict[str, Any]]) -> None:
    assert {(e["name"], e["version"]) for e in index} == {
        ("basic-auth", "1.0.0"), ("basic-auth", "2.0.0"), ("key-auth", "2.0.0"), (HAND_PLACED[0], HAND_PLACED[1])}
    for entry in index:
        r = server.request("GET", entry["path"], PLAIN)
        assert r.status == 200, entry["path"]
        assert _sha(r.body) == entry["sha256"]
        assert len(r.body) == entry["size"] == int(r.header("content-length") or -1)
        assert r.header("content-type") == "application/wasm"
        assert r.header("content-encoding") is None


def test_a_client_without_accept_encoding_gets_the_plain_module(server: NginxServer, index: list[dict[str, Any]]) -> None:
    entry = index[0]
    r = server.request("GET", entry["path"])  # no Accept-Encoding header at all
    assert r.status == 200 and r.header("content-encoding") is None
    assert _sha(r.body) == entry["sha256"]


def test_gzip_request_gets_the_precompressed_file_that_ungzips_to_the_module(
        server: NginxServer, served_tree: Tree, index: list[dict[str, Any]]) -> None:
    for entry in index:
        r = server.request("GET", entry["path"], GZIP)
        assert r.status == 200
        assert r.header("content-encoding") == "gzip"
        assert r.header("content-type") == "application/wasm"
        assert "Accept-Encoding" in (r.header("vary") or "")
        gz_file = served_tree.version_dir(entry["name"], entry["version"]) / "plugin.wasm.gz"
        assert r.body == gz_file.read_bytes()  # served from disk, not compressed on the fly
        assert len(r.body) < entry["size"] or entry["size"] < 2048
        assert _sha(gzip.decompress(r.body)) == entry["sha256"]


def test_requests_library_like_the_gateway_ungzips_transparently(server: NginxServer, index: list[dict[str, Any]]) -> None:
    big = next(e for e in index if e["name"] == "key-auth")
    r = requests.get(server.url + big["path"], timeout=10)  # sends Accept-Encoding: gzip, deflate
    assert r.headers["Content-Encoding"] == "gzip"
    assert int(r.headers["Content-Length"]) < big["size"] // 2
    assert _sha(r.content) == big["sha256"]


def test_head_answers_headers_without_body(server: NginxServer, index: list[dict[str, Any]]) -> None:
    entry = index[0]
    get = server.request("GET", entry["path"], PLAIN)
    head = server.request("HEAD", entry["path"], PLAIN)
    assert head.status == 200 and head.body == b""
    assert head.header("content-length") == str(entry["size"])
    assert head.header("etag") == get.header("etag") is not None
    assert head.header("last-modified") == get.header("last-modified") is not None


def test_validators_give_304_and_caches_must_revalidate(server: NginxServer, index: list[dict[str, Any]]) -> None:
    path = index[0]["path"]
    first = server.request("GET", path, PLAIN)
    assert first.header("cache-control") == "no-cache"
    etag, modified = first.header("etag"), first.header("last-modified")
    assert etag and modified
    again = server.request("GET", path, {**PLAIN, "If-None-Match": etag})
    assert again.status == 304 and again.body == b""
    assert again.header("etag") == etag
    assert server.request("GET", path, {**PLAIN, "If-Modified-Since": modified}).status == 304
    assert server.request("GET", path, {**PLAIN, "If-None-Match": '"other"'}).status == 200


def test_the_two_encodings_carry_different_validators(server: NginxServer, index: list[dict[str, Any]]) -> None:
    path = index[0]["path"]
    plain, packed = server.request("GET", path, PLAIN), server.request("GET", path, GZIP)
    assert plain.header("etag") != packed.header("etag")
    # a gzip client revalidating with the plain ETag must not get a 304 for the wrong bytes
    assert server.request("GET", path, {**GZIP, "If-None-Match": str(plain.header("etag"))}).status == 200


def test_aliases_serve_the_same_bytes(server: NginxServer) -> None:
    one = server.request("GET", "/plugins/basic-auth/1.0.0/plugin.wasm", PLAIN)
    two = server.request("GET", "/plugins/basic-auth/2.0.0/plugin.wasm", PLAIN)
    assert one.status == two.status == 200 and one.body == two.body


def test_side_files_have_useful_types(server: NginxServer, index: list[dict[str, Any]]) -> None:
    entry = next(e for e in index if e["name"] == "basic-auth")
    base = entry["path"].rsplit("/", 1)[0]
    sha = server.request("GET", base + "/plugin.wasm.sha256", PLAIN)
    assert sha.status == 200 and sha.header("content-type", ).startswith("text/plain")  # type: ignore[union-attr]
    assert sha.body.decode().split() == [entry["sha256"], WASM]
    meta = server.request("GET", base + "/metadata.txt", PLAIN)
    assert meta.status == 200 and b"Plugin Name: basic-auth" in meta.body
    spec = server.request("GET", base + "/spec.yaml", PLAIN)
    assert spec.status == 200 and spec.header("content-type", ).startswith("application/yaml")  # type: ignore[union-attr]
    idx = server.request("GET", "/plugins/index.json", PLAIN)
    assert idx.status == 200 and idx.header("content-type", ).startswith("application/json")  # type: ignore[union-attr]


def test_missing_plugin_version_or_file_is_404(server: NginxServer) -> None:
    for path in ("/plugins/no-such-plugin/1.0.0/plugin.wasm", "/plugins/basic-auth/9.9.9/plugin.wasm",
                 "/plugins/basic-auth/1.0.0/nothing.wasm", "/plugins/no-such-plugin/", "/elsewhere",
                 "/index.json"):
        assert server.request("GET", path).status == 404, path


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND", "TRACE"])
def test_only_get_and_head_exist(server: NginxServer, index: list[dict[str, Any]], method: str) -> None:
    for path in (index[0]["path"], "/plugins/", "/plugins/no-such/file", "/healthz"):
        r = server.request(method, path, body=b"x" if method in ("POST", "PUT", "PATCH") else None)
        assert r.status == 405, (method, path)
        assert r.header("allow") == "GET, HEAD"


def test_allow_header_is_not_sent_on_success(server: NginxServer, index: list[dict[str, Any]]) -> None:
    assert server.request("GET", index[0]["path"]).header("allow") is None


TRAVERSALS = [
    "/plugins/../plugins.lock.json",
    "/plugins/basic-auth/../../plugins.lock.json",
    "/plugins/%2e%2e/plugins.lock.json",
    "/plugins/%2E%2E/%2E%2E/etc/passwd",
    "/plugins/.%2e/plugins.lock.json",
    "/plugins/..%2fplugins.lock.json",
    "/plugins/basic-auth%2f..%2f..%2fplugins.lock.json",
    "/plugins/basic-auth/1.0.0/..%5c..%5cplugins.lock.json",
    "/plugins/basic-auth/1.0.0/..\\..\\..\\plugins.lock.json",
    "/plugins/./index.json",
    "/plugins/.lock",
    "/plugins/.journal.json",
    "/plugins/.verified.json",
    "/plugins/basic-auth/.store/",
    "/plugins/%2estore/",
    "/plugins/basic-auth/%2Estore/",
    "//plugins/../../plugins.lock.json",
    "/plugins/.hidden-file",
]


def test_traversal_and_dotfiles_are_refused(server: NginxServer, served_tree: Tree) -> None:
    # things that exist and must never be served
    (served_tree.root / ".journal.json").write_text('{"secret": "journal"}')
    (served_tree.root / ".hidden-file").write_text("secret hidden")
    store = next((served_tree.root / "basic-auth" / ".store").iterdir())
    paths = TRAVERSALS + [f"/plugins/basic-auth/.store/{store.name}/plugin.wasm",
                          f"/plugins/basic-auth/%2estore/{store.name}/plugin.wasm"]
    lock_text = (served_tree.root.parent / "plugins.lock.json").read_bytes()
    try:
        for path in paths:
            r = server.request("GET", path)
            assert r.status in (400, 403, 404), (path, r.status)
            assert b"secret" not in r.body and lock_text[:40] not in r.body, path
            assert b"\0asm" not in r.body, path
    finally:
        (served_tree.root / ".journal.json").unlink()
        (served_tree.root / ".hidden-file").unlink()


def test_listings_hide_the_store_and_dotfiles(server: NginxServer) -> None:
    r = server.request("GET", "/plugins/basic-auth/")
    assert r.status == 200 and r.header("content-type", ).startswith("text/html")  # type: ignore[union-attr]
    assert b'href="1.0.0/"' in r.body and b'href="2.0.0/"' in r.body
    assert b".store" not in r.body
    version = server.request("GET", "/plugins/basic-auth/1.0.0/")
    assert version.status == 200 and b'href="plugin.wasm"' in version.body


def test_root_redirects_relatively_to_the_catalog(server: NginxServer, served_tree: Tree) -> None:
    root = server.request("GET", "/")
    assert root.status == 302 and root.header("location") == "plugins/"
    bare = server.request("GET", "/plugins")
    assert bare.status == 301 and bare.header("location") == "plugins/"
    sub = server.request("GET", "/plugins/basic-auth")
    assert sub.status == 301 and not str(sub.header("location")).startswith("http")
    page = server.request("GET", "/plugins/")
    assert page.status == 200
    assert page.body == (served_tree.root / "index.html").read_bytes()
    followed = requests.get(server.url + "/", timeout=10)
    assert followed.url == server.plugins_url and followed.status_code == 200


def test_without_a_catalog_page_the_root_is_listed(fresh_tree: Tree) -> None:
    (fresh_tree.root / "index.html").unlink()
    with running_nginx(fresh_tree.root) as s:
        r = s.request("GET", "/plugins/")
        assert r.status == 200
        assert b"Index of /plugins/" in r.body and b'href="basic-auth/"' in r.body
        assert b".store" not in r.body and b".lock" not in r.body


def test_health_endpoints(fresh_tree: Tree) -> None:
    fresh_tree.index_json.rename(fresh_tree.root / "index.json.away")
    with running_nginx(fresh_tree.root) as s:
        live = s.request("GET", "/healthz")
        assert live.status == 200 and live.header("cache-control") == "no-store"
        assert s.request("GET", "/readyz").status == 503
        assert s.request("HEAD", "/readyz").status == 503
        (fresh_tree.root / "index.json.away").rename(fresh_tree.index_json)
        ready = s.request("GET", "/readyz")  # no cached miss: ready at once
        assert ready.status == 200 and ready.header("cache-control") == "no-store"
        assert s.request("GET", "/healthz").status == 200
        # probes do not flood the access log
        assert not [e for e in s.access_log() if e["uri"] in ("/healthz", "/readyz")]


def test_access_log_is_one_json_object_per_request_on_stdout(server: NginxServer, index: list[dict[str, Any]]) -> None:
    entry = index[-1]
    server.request("GET", entry["path"] + "?probe=log", {**PLAIN, "User-Agent": 'quote"agent'})
    line = server.wait_for_log(lambda e: e["uri"] == entry["path"] + "?probe=log")
    assert line["status"] == 200 and line["method"] == "GET"
    assert line["bytes"] == entry["size"]
    assert line["agent"] == 'quote"agent'  # escaped, still valid JSON
    assert isinstance(line["duration"], float) and line["time"]
    server.request("GET", "/plugins/nothing-here?probe=404")
    missing = server.wait_for_log(lambda e: e["uri"] == "/plugins/nothing-here?probe=404")
    assert missing["status"] == 404
    assert all(line.startswith("{") for line in server.stdout_lines())


def test_no_version_in_server_header_and_no_sniffing(server: NginxServer, index: list[dict[str, Any]]) -> None:
    r = server.request("GET", index[0]["path"])
    assert r.header("server") == "nginx"
    assert r.header("x-content-type-options") == "nosniff"
    error = server.request("GET", "/plugins/missing/")
    assert b"nginx/" not in error.body


def test_keepalive_serves_many_requests_on_one_connection(server: NginxServer, index: list[dict[str, Any]]) -> None:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        for entry in index:
            conn.request("GET", entry["path"], headers=PLAIN)
            resp = conn.getresponse()
            assert resp.status == 200 and _sha(resp.read()) == entry["sha256"]
            assert resp.getheader("connection", "keep-alive").lower() == "keep-alive"
        sock = conn.sock
        conn.request("GET", "/plugins/index.json")
        conn.getresponse().read()
        assert conn.sock is sock  # the same connection throughout
    finally:
        conn.close()


def test_a_repointed_version_serves_the_new_bytes(fresh_tree: Tree) -> None:
    """A version path whose content is replaced: clients see the new bytes and a new ETag
    within the open-file cache's validity (1 s, per worker), never a mix."""
    from tests.serve.trees import Module, _pulled
    from sync.lock import Lock, load_lock
    from sync.sample import wasm_module
    from sync.served import commit

    lock_path = fresh_tree.root.parent / "plugins.lock.json"
    path = "/plugins/key-auth/2.0.0/plugin.wasm"
    with running_nginx(fresh_tree.root) as s:
        before = s.request("GET", path, PLAIN)
        new = wasm_module(50_000, seed=99)
        entries = _pulled(fresh_tree, Module("key-auth", ("2.0.0",), new))
        lock = load_lock(lock_path)
        commit(fresh_tree, Lock.from_entries([e for e in lock.sorted() if e.name != "key-auth"] + entries), lock_path)
        deadline = time.monotonic() + 8
        while True:
            r = s.request("GET", path, PLAIN)
            assert r.body in (before.body, new)
            if r.body == new:
                break
            assert time.monotonic() < deadline, "still the old bytes"
            time.sleep(0.2)
        assert r.header("etag") != before.header("etag")
        # each worker revalidates its own cache: past the validity, every one has the new file
        time.sleep(1.5)
        assert s.request("GET", path, {**PLAIN, "If-None-Match": str(before.header("etag"))}).status == 200


def test_the_helper_can_discard_the_access_log_for_load_tests(served_tree: Tree) -> None:
    with running_nginx(served_tree.root, capture_access_log=False) as s:
        assert s.request("GET", "/plugins/index.json").status == 200
        assert s.access_log() == []
    assert s.process.returncode is not None


def test_the_config_runs_without_root() -> None:
    """As the image runs it: an unprivileged user, writing only to its runtime directory."""
    import os
    import pwd
    import shutil
    import subprocess
    import tempfile

    from sync.serve import Listen, find_nginx, prepare
    from tests.support.nginx import free_port

    me = os.geteuid()
    user = pwd.getpwnam("nobody") if me == 0 else pwd.getpwuid(me)
    base = Path(tempfile.mkdtemp(prefix="plugin-server-nonroot-"))  # readable by that user
    try:
        os.chmod(base, 0o755)
        tree, lock = build_tree(base / "plugins")
        for d, dirs, files in os.walk(base):
            os.chmod(d, 0o755)
            for f in files:
                os.chmod(os.path.join(d, f), 0o644)
        port = free_port()
        run = prepare(tree.root, Listen("127.0.0.1", port), binary=find_nginx())
        os.chown(run.run_dir, user.pw_uid, user.pw_gid)
        argv = run.argv()[:7]  # no `user` directive: the process is already that user
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                user=user.pw_uid, group=user.pw_gid, extra_groups=[])
        try:
            deadline = time.monotonic() + 10
            while True:
                assert proc.poll() is None, proc.communicate()[1]
                try:
                    r = requests.get(f"http://127.0.0.1:{port}/plugins/key-auth/2.0.0/plugin.wasm", timeout=2)
                    break
                except requests.ConnectionError:
                    assert time.monotonic() < deadline
                    time.sleep(0.05)
            entry = next(e for e in lock.sorted() if e.name == "key-auth")
            assert r.status_code == 200 and _sha(r.content) == entry.sha256
            status = Path(f"/proc/{proc.pid}/status").read_text()
            uids = re.search(r"^Uid:\s+(\d+)\s+(\d+)", status, re.M)
            assert uids and int(uids.group(1)) == int(uids.group(2)) == user.pw_uid
            written = {p.relative_to(run.run_dir).parts[0] for p in run.run_dir.rglob("*")}
            assert written <= {"nginx.conf", "nginx.pid", "client_body", "proxy", "fastcgi", "uwsgi", "scgi"}
        finally:
            proc.terminate()
            proc.wait(10)
            run.cleanup()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_the_catalog_page_gets_a_content_security_policy_and_no_referrer(server: NginxServer) -> None:
    from sync.catalog.page import CSP

    for path in ("/plugins/", "/plugins/index.html"):
        r = server.request("GET", path)
        assert r.status == 200 and r.header("content-type") == "text/html; charset=utf-8"
        # the page's own <meta> policy, and what only a header can add: no framing
        assert r.header("content-security-policy") == CSP + "; frame-ancestors 'none'"
        assert r.header("referrer-policy") == "no-referrer"
        assert f'content="{CSP}"' in r.body.decode()
    # an error page too: the headers are sent with every status
    assert server.request("GET", "/nowhere").header("referrer-policy") == "no-referrer"


def test_the_image_config_serves_over_ipv4_and_ipv6(served_tree: Tree, tmp_path: Path) -> None:
    """The image listens on 8080 over both families; here on loopback, at a free port."""
    from sync.serve import IMAGE_LISTEN6, default_template
    from tests.support.nginx import free_port

    port = free_port()
    text = default_template().read_text()
    assert IMAGE_LISTEN6 in text
    template = tmp_path / "nginx.conf"
    template.write_text(text.replace(IMAGE_LISTEN6, f"listen [::1]:{port};"))
    with running_nginx(served_tree.root, port=port, template=template) as s:
        for host in ("127.0.0.1", "[::1]"):
            r = requests.get(f"http://{host}:{port}/plugins/index.json", headers=PLAIN, timeout=5)
            assert r.status_code == 200
            assert r.content == s.request("GET", "/plugins/index.json", PLAIN).body
