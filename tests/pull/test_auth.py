"""Registry credentials: environment, Docker config, and refusals."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from sync.sample import wasm_module
from tests.pull.conftest import Workspace, artifact, assert_no_traceback
from tests.support.registry import running_registry


@pytest.fixture
def auth_ws(tmp_path: Path):  # type: ignore[no-untyped-def]
    with running_registry(auth=("alice", "s3cret-pw")) as reg:
        reg.push("plugins/a", "1.0.0", artifact(700, 3))
        ws = Workspace(tmp_path, reg)
        ws.write_config({"a": {"tag": "1.0.0"}})
        yield ws


def test_env_credentials(auth_ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLUGIN_SYNC_REGISTRY_USERNAME", "alice")
    monkeypatch.setenv("PLUGIN_SYNC_REGISTRY_PASSWORD", "s3cret-pw")
    r = auth_ws.pull()
    assert r.code == 0, r.err
    assert (auth_ws.root / "a/1.0.0/plugin.wasm").read_bytes() == wasm_module(700, 3)


def test_docker_config_credentials(auth_ws: Workspace, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = tmp_path / "docker"
    cfg.mkdir()
    token = base64.b64encode(b"alice:s3cret-pw").decode()
    assert auth_ws.registry
    (cfg / "config.json").write_text(json.dumps({"auths": {auth_ws.registry.host: {"auth": token}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(cfg))
    r = auth_ws.pull()
    assert r.code == 0, r.err


def test_wrong_and_missing_credentials(auth_ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    r = auth_ws.pull()
    assert r.code == 1
    assert_no_traceback(r)
    assert "failed    a:" in r.err and "authentication required" in r.err
    monkeypatch.setenv("PLUGIN_SYNC_REGISTRY_USERNAME", "alice")
    monkeypatch.setenv("PLUGIN_SYNC_REGISTRY_PASSWORD", "wrong-pw")
    r = auth_ws.pull()
    assert r.code == 1
    assert "failed    a:" in r.err and "credentials refused" in r.err
    assert "wrong-pw" not in r.err + r.out
    assert not (auth_ws.root / "a").exists()


def test_tls_to_a_plain_registry_says_plain_http(ws: Workspace) -> None:
    assert ws.registry
    ws.write_config({"a": {"tag": "1.0.0"}})
    r = ws.cli("pull")  # no --plain-http: https to an http registry
    assert r.code == 1
    assert_no_traceback(r)
    assert "failed    a:" in r.err and "needs --plain-http" in r.err
    assert "gave up" not in r.err  # not retried: a second handshake fails the same way
