"""coverage's bad input: one line, exit 2, nothing else; an unreachable server is a miss."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.console.conftest import DATA, cli
from tests.support.nginx import free_port


@pytest.mark.parametrize("args, message", [
    (("--pattern", "http://h/plugins/${name}/plugin.wasm"), "must contain ${name} and ${version}"),
    (("--pattern", "http://h/wasm/${name}/${version}/plugin.wasm"), "must start with /plugins/"),
    (("--url", "ftp://h"), "expected http(s)://HOST[:PORT]"),
])
def test_bad_options(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    (tmp_path / "plugins").mkdir()
    r = cli("--config", str(tmp_path / "plugins.yaml"), "--root", str(tmp_path / "plugins"), "coverage",
            "--console", str(DATA), *args)
    assert r.code == 2 and message in r.err and r.err.count("\n") == 1 and r.out == "", r.err


def test_bad_console_and_reference_files(tmp_path: Path) -> None:
    (tmp_path / "plugins").mkdir()
    base = ("--config", str(tmp_path / "plugins.yaml"), "--root", str(tmp_path / "plugins"), "coverage")
    r = cli(*base, "--console", str(DATA), "--timeout", "0")  # argparse: usage, then the error
    assert r.code == 2 and r.err.endswith("must be between 0 and 3600 seconds\n")
    r = cli(*base, "--console", str(tmp_path / "nowhere"))
    assert r.code == 2 and "no such console checkout or list" in r.err
    (tmp_path / "empty").mkdir()
    r = cli(*base, "--console", str(tmp_path / "empty"))
    assert r.code == 2 and "neither a console checkout" in r.err
    (tmp_path / "snap.json").write_text("{")
    r = cli(*base, "--console", str(DATA), "--snapshot", str(tmp_path / "snap.json"))
    assert r.code == 2 and "snap.json" in r.err and r.err.count("\n") == 1
    r = cli(*base, "--console", str(DATA), "--console-ref", "main")
    assert r.code == 2 and "not allowed with" in r.err
    r = cli(*base)
    assert r.code == 2


def test_a_server_that_does_not_answer_misses_every_url(tmp_path: Path) -> None:
    (tmp_path / "plugins").mkdir()
    r = cli("--config", str(tmp_path / "plugins.yaml"), "--root", str(tmp_path / "plugins"), "coverage",
            "--console", str(DATA), "--url", f"http://127.0.0.1:{free_port()}", "--timeout", "2")
    assert r.code == 1 and "0 of 52 console URLs served; 52 missing" in r.err
    assert r.out.count("(ConnectionError from http://127.0.0.1:") == 52
