"""`plugin-sync serve`: the real nginx in the foreground over a tree, stopped by signals."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from sync import serve
from sync.cli import main
from sync.tree.layout import WASM_GZ
from tests.serve.trees import build_tree
from tests.support.nginx import free_port
from tests.support.procs import children


def _start(root: Path, port: int, *extra: str) -> subprocess.Popen[str]:
    tmp = root.parent / "tmp"  # the runtime directory goes here, so a test can see it go
    tmp.mkdir(exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-m", "sync", "--root", str(root), "--lock", str(root.parent / "plugins.lock.json"),
         "serve", "--port", str(port), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "TMPDIR": str(tmp)},
    )


def _wait_healthy(proc: subprocess.Popen[str], port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.05)
    raise AssertionError("serve did not come up")


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_serve_precompresses_serves_and_stops_on_signal(tmp_path: Path, stop: signal.Signals) -> None:
    tree, lock = build_tree(tmp_path / "plugins", gzip=False)
    gz_files = {tree.version_dir(e.name, e.version).resolve() / WASM_GZ for e in lock.sorted()}
    assert not any(p.exists() for p in gz_files)
    port = free_port()
    proc = _start(tree.root, port)
    try:
        _wait_healthy(proc, port)
        assert all(p.exists() for p in gz_files)  # serve made them before nginx started
        assert len(list((tmp_path / "tmp").glob("plugin-sync-nginx-*/nginx.conf"))) == 1
        index = requests.get(f"http://127.0.0.1:{port}/plugins/index.json", timeout=5).json()
        for entry in index["plugins"]:
            url = f"http://127.0.0.1:{port}{entry['path']}"
            plain = requests.get(url, headers={"Accept-Encoding": "identity"}, timeout=5)
            assert hashlib.sha256(plain.content).hexdigest() == entry["sha256"]
            packed = requests.get(url, headers={"Accept-Encoding": "gzip"}, stream=True, timeout=5)
            assert packed.headers["Content-Encoding"] == "gzip"
            assert hashlib.sha256(gzip.decompress(packed.raw.read())).hexdigest() == entry["sha256"]
        assert requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
    finally:
        proc.send_signal(stop)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert not list((tmp_path / "tmp").iterdir())  # the runtime directory is gone
    assert f"serving {tree.root} at http://127.0.0.1:{port}/plugins/" in err
    assert "precompressed 3 module(s)" in err
    logged = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert any(e["uri"] == "/plugins/index.json" and e["status"] == 200 for e in logged)
    # a second run has nothing left to compress
    proc2 = _start(tree.root, port)
    try:
        _wait_healthy(proc2, port)
    finally:
        proc2.send_signal(signal.SIGTERM)
        _, err2 = proc2.communicate(timeout=20)
    assert proc2.returncode == 0 and "precompressed" not in err2


def test_serve_without_a_tree_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["--root", str(tmp_path / "nothing"), "serve", "--port", str(free_port())])
    err = capsys.readouterr().err
    assert rc == 2 and "no such tree" in err and len(err.strip().splitlines()) == 1


def test_serve_on_a_port_in_use_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tree, _ = build_tree(tmp_path / "plugins")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        rc = main(["--root", str(tree.root), "--lock", str(tmp_path / "plugins.lock.json"), "serve", "--port", str(port)])
    err = capsys.readouterr().err
    assert rc == 2 and f"127.0.0.1:{port} is already in use" in err and "--port" in err


def test_serve_without_nginx_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    tree, _ = build_tree(tmp_path / "plugins", gzip=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(serve, "_NGINX_DIRS", ())
    rc = main(["--root", str(tree.root), "--lock", str(tmp_path / "plugins.lock.json"), "serve"])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1 and "apt-get install nginx" in err and "Traceback" not in err
    assert not list(tree.root.rglob(WASM_GZ))  # nothing done before the check


def test_prepare_only_precompresses_without_nginx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tree, lock = build_tree(tmp_path / "plugins", gzip=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(serve, "_NGINX_DIRS", ())
    rc = main(["--root", str(tree.root), "--lock", str(tmp_path / "plugins.lock.json"), "serve", "--prepare-only"])
    assert rc == 0
    for e in lock.sorted():
        gz = tree.version_dir(e.name, e.version) / WASM_GZ
        assert hashlib.sha256(gzip.decompress(gz.read_bytes())).hexdigest() == e.sha256


def test_nginx_refusing_the_config_is_reported_in_one_line(tmp_path: Path) -> None:
    tree, _ = build_tree(tmp_path / "plugins")
    broken = tmp_path / "broken.conf"
    broken.write_text((Path(serve.default_template())).read_text().replace("server_tokens off;", "no_such_directive on;"))
    proc = _start(tree.root, free_port(), "--nginx-conf", str(broken))
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 1
    assert "no_such_directive" in err  # nginx's own message
    assert err.strip().splitlines()[-1] == "plugin-sync: error: nginx exited with status 1; its message is above"


@pytest.mark.parametrize("args", [["--port", "0"], ["--port", "http"], ["--jobs", "0"], ["--host", "bad host"]])
def test_bad_options_exit_2(tmp_path: Path, args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    tree, _ = build_tree(tmp_path / "plugins", gzip=False)
    try:
        code = main(["--root", str(tree.root), "--lock", str(tmp_path / "plugins.lock.json"), "serve", *args])
    except SystemExit as e:  # argparse refuses before the command runs
        code = e.code
    assert code == 2
    err = capsys.readouterr().err
    assert "error" in err and "Traceback" not in err
    assert not list(tree.root.rglob(WASM_GZ))  # refused before doing anything


def _nginx_master(proc: subprocess.Popen[str]) -> int:
    (pid,) = children(proc.pid)
    return pid


@pytest.mark.parametrize("stop", [signal.SIGQUIT, signal.SIGTERM])
def test_a_stop_signal_sent_to_nginx_itself_is_a_clean_stop_said_so(tmp_path: Path, stop: signal.Signals) -> None:
    tree, _ = build_tree(tmp_path / "plugins")
    port = free_port()
    proc = _start(tree.root, port)
    try:
        _wait_healthy(proc, port)
        os.kill(_nginx_master(proc), stop)  # as `nginx -s quit` or a process manager would
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("plugin-sync: nginx stopped by itself with status 0: a stop signal"), err
    assert "its message is above" not in err and "error" not in err


def test_nginx_killed_by_a_signal_is_reported_with_the_signal(tmp_path: Path) -> None:
    tree, _ = build_tree(tmp_path / "plugins")
    port = free_port()
    proc = _start(tree.root, port)
    try:
        _wait_healthy(proc, port)
        master = _nginx_master(proc)
        workers = children(master)
        os.kill(master, signal.SIGKILL)
        for w in workers:  # orphaned workers would hold the output pipes open
            os.kill(w, signal.SIGKILL)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 1, err
    assert err.strip().splitlines()[-1] == "plugin-sync: error: nginx was killed by signal SIGKILL"
