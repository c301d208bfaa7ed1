"""Registry credentials: environment, Docker config, and refusals."""

from __future__ import annotations

import base64
import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from sync.errors import AuthError
from sync.oci.auth import Basic, IdentityToken, credentials_lookup
from sync.oci.reference import parse_source
from sync.oci.registry import RegistryClient
from sync.retry import RetryPolicy
from sync.sample import wasm_module
from tests.support.workspace import Workspace, artifact, assert_no_traceback
from tests.support.registry import Registry, running_registry
from tests.support.tokenserver import TokenService


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


# --- credentials per registry host, and the token service --------------------------------------

def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, auths: dict[str, dict[str, str]]) -> None:
    cfg = tmp_path / "docker"
    cfg.mkdir(exist_ok=True)
    (cfg / "config.json").write_text(json.dumps({"auths": auths}))
    monkeypatch.setenv("DOCKER_CONFIG", str(cfg))


@pytest.fixture
def two_registries():  # type: ignore[no-untyped-def]
    """Registry A (alice) and registry B (bob), each behind its own token service."""
    with TokenService("registry-a", users={"alice": "pw-a"}, refresh_tokens={"idt-alice": "alice"}) as ta, \
            TokenService("registry-b", users={"bob": "pw-b"}) as tb, \
            running_registry(token_service=ta) as a, running_registry(token_service=tb) as b:
        a.bearer = ta.issue("seed", "repository:plugins/a:pull,push")
        a.push("plugins/a", "1.0.0", artifact(700, 3))
        b.bearer = tb.issue("seed", "repository:plugins/b:pull,push")
        b.push("plugins/b", "1.0.0", artifact(700, 4))
        ta.seen.clear()
        tb.seen.clear()
        yield a, ta, b, tb


def test_env_credentials_go_only_to_their_host_and_its_token_service(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, two_registries) -> None:  # type: ignore[no-untyped-def]
    a, ta, b, tb = two_registries
    ws = Workspace(tmp_path, a)
    ws.write_config({"a": {"tag": "1.0.0"}, "b": {"source": f"{b.host}/plugins/b:1.0.0"}})
    monkeypatch.setenv("PLUGIN_SYNC_REGISTRY_USERNAME", "alice")
    monkeypatch.setenv("PLUGIN_SYNC_REGISTRY_PASSWORD", "pw-a")
    monkeypatch.setenv("PLUGIN_SYNC_REGISTRY_HOST", a.host)
    _docker_config(tmp_path, monkeypatch, {b.host: {"auth": base64.b64encode(b"bob:pw-b").decode()}})
    r = ws.pull()
    assert r.code == 0, r.err
    assert (ws.root / "b/1.0.0/plugin.wasm").read_bytes() == wasm_module(700, 4)
    assert {s.authorization for s in ta.seen} == {_basic("alice", "pw-a")}
    assert {s.authorization for s in tb.seen} == {_basic("bob", "pw-b")}  # never alice's


def test_the_default_host_of_the_env_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 two_registries) -> None:  # type: ignore[no-untyped-def]
    """Without PLUGIN_SYNC_REGISTRY_HOST the environment's credentials are for the host the
    caller names (pull: the config's registry); PLUGIN_SYNC_REGISTRY_HOST moves them."""
    a, ta, b, tb = two_registries
    monkeypatch.setenv("PLUGIN_SYNC_REGISTRY_USERNAME", "alice")
    monkeypatch.setenv("PLUGIN_SYNC_REGISTRY_PASSWORD", "pw-a")
    _docker_config(tmp_path, monkeypatch, {b.host: {"auth": base64.b64encode(b"bob:pw-b").decode()}})
    client = RegistryClient(default_host=a.host)
    for reg, repo in ((a, "plugins/a"), (b, "plugins/b")):
        assert client.tags(replace(parse_source(f"{reg.host}/{repo}:1.0.0", a.host), plain_http=True)) == ["1.0.0"]
    assert {s.authorization for s in ta.seen} == {_basic("alice", "pw-a")}
    assert {s.authorization for s in tb.seen} == {_basic("bob", "pw-b")}

    lookup = credentials_lookup(default_host=a.host)
    assert lookup(a.host) == Basic("alice", "pw-a") and lookup(b.host) == Basic("bob", "pw-b")
    monkeypatch.setenv("PLUGIN_SYNC_REGISTRY_HOST", b.host)
    lookup = credentials_lookup(default_host=a.host)
    assert lookup(b.host) == Basic("alice", "pw-a") and lookup(a.host) is None


def test_identity_token_from_the_docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               two_registries) -> None:  # type: ignore[no-untyped-def]
    a, ta, _, _ = two_registries
    ws = Workspace(tmp_path, a)
    ws.write_config({"a": {"tag": "1.0.0"}})
    _docker_config(tmp_path, monkeypatch, {a.host: {"auth": "", "identitytoken": "idt-alice"}})
    r = ws.pull()
    assert r.code == 0, r.err
    assert (ws.root / "a/1.0.0/plugin.wasm").read_bytes() == wasm_module(700, 3)
    # the OAuth2 refresh-token grant of the token spec, with no Authorization header
    assert ta.seen and all(s.method == "POST" and s.authorization == "" for s in ta.seen)
    assert ta.seen[0].form == {"grant_type": "refresh_token", "refresh_token": "idt-alice", "client_id": "plugin-sync",
                               "service": "registry-a", "scope": "repository:plugins/a:pull"}
    assert "idt-alice" not in r.err + r.out

    _docker_config(tmp_path, monkeypatch, {a.host: {"identitytoken": "idt-revoked"}})
    shutil.rmtree(ws.root)  # so that the locked build must fetch again
    r = ws.pull("--locked")
    assert r.code == 1 and "identity token refused by the token service (401)" in r.err, r.err
    assert "idt-revoked" not in r.err + r.out


def _credential_helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, user: str, secret_prefix: str) -> Path:
    """``docker-credential-fixture`` on PATH, answering ``user`` and ``secret_prefix`` + the
    server URL it was asked for; returns the (empty) DOCKER_CONFIG directory."""
    helper = tmp_path / "bin" / "docker-credential-fixture"
    helper.parent.mkdir()
    helper.write_text('#!/bin/sh\nread host\n'
                      f'echo "{{\\"ServerURL\\": \\"$host\\", \\"Username\\": \\"{user}\\", '
                      f'\\"Secret\\": \\"{secret_prefix}$host\\"}}"\n')
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{helper.parent}:{os.environ['PATH']}")
    cfg = tmp_path / "docker"
    cfg.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(cfg))
    return cfg


def test_a_credential_helper_identity_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """docker-credential-* helpers give an identity token as the user name ``<token>``."""
    cfg = _credential_helper(tmp_path, monkeypatch, "<token>", "idt-")
    (cfg / "config.json").write_text(json.dumps({"credHelpers": {"reg.example": "fixture"}}))
    assert credentials_lookup()("reg.example") == IdentityToken("idt-reg.example")
    assert credentials_lookup()("other.example") is None


def test_pull_sends_the_env_credentials_only_to_the_configs_registry(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, two_registries) -> None:  # type: ignore[no-untyped-def]
    """No PLUGIN_SYNC_REGISTRY_HOST: pull scopes the environment's credentials to the
    config's registry, so registry B and its token service never see them."""
    a, ta, b, tb = two_registries
    ws = Workspace(tmp_path, a)
    ws.write_config({"a": {"tag": "1.0.0"}, "b": {"source": f"{b.host}/plugins/b:1.0.0"}})
    monkeypatch.setenv("PLUGIN_SYNC_REGISTRY_USERNAME", "alice")
    monkeypatch.setenv("PLUGIN_SYNC_REGISTRY_PASSWORD", "pw-a")
    monkeypatch.delenv("PLUGIN_SYNC_REGISTRY_HOST", raising=False)
    _docker_config(tmp_path, monkeypatch, {b.host: {"auth": base64.b64encode(b"bob:pw-b").decode()}})
    r = ws.pull()
    assert r.code == 0, r.err
    assert {s.authorization for s in ta.seen} == {_basic("alice", "pw-a")}
    assert {s.authorization for s in tb.seen} == {_basic("bob", "pw-b")}


# --- the token exchange: retried as every request, and safe under concurrency --------------------

@pytest.fixture
def token_registry():  # type: ignore[no-untyped-def]
    """A registry behind a token service that knows alice; plugins/a:1.0.0 pushed."""
    with TokenService("registry-t", users={"alice": "pw-a"}) as ts, running_registry(token_service=ts) as reg:
        reg.bearer = ts.issue("seed", "repository:plugins/a:pull,push")
        reg.push("plugins/a", "1.0.0", artifact(700, 3))
        ts.seen.clear()
        yield reg, ts


def _alice_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reg: Registry) -> Workspace:
    ws = Workspace(tmp_path, reg)
    ws.write_config({"a": {"tag": "1.0.0"}})
    monkeypatch.setenv("PLUGIN_SYNC_REGISTRY_USERNAME", "alice")
    monkeypatch.setenv("PLUGIN_SYNC_REGISTRY_PASSWORD", "pw-a")
    return ws


def test_a_blinking_token_service_is_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             token_registry) -> None:  # type: ignore[no-untyped-def]
    """503, 429 (Retry-After: 0) and a dropped connection from the token service are retried
    with back-off, as the registry's own answers are."""
    reg, ts = token_registry
    ts.faults = [503, "drop", 429, 503]
    ts.retry_after = "0"
    ws = _alice_workspace(tmp_path, monkeypatch, reg)
    r = ws.pull()
    assert r.code == 0, r.err
    assert (ws.root / "a/1.0.0/plugin.wasm").read_bytes() == wasm_module(700, 3)
    assert not ts.faults and len(ts.seen) >= 5  # every fault answered, then a token given


def test_a_token_service_asking_too_long_a_wait_fails_in_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, token_registry) -> None:  # type: ignore[no-untyped-def]
    reg, ts = token_registry
    ts.faults = [429] * 10
    ts.retry_after = "3600"
    ws = _alice_workspace(tmp_path, monkeypatch, reg)
    r = ws.pull()
    assert r.code == 1
    assert_no_traceback(r)
    assert "failed    a:" in r.err and "HTTP 429 (the token service asks to wait 3600 s" in r.err, r.err
    assert len(ts.seen) == 1  # not retried: the wait asked for is over the limit


def test_a_token_service_down_gives_up_after_the_policys_tries(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, token_registry) -> None:  # type: ignore[no-untyped-def]
    reg, ts = token_registry
    ts.faults = [503] * 20
    monkeypatch.setenv("PLUGIN_SYNC_RETRY_ATTEMPTS", "3")
    ws = Workspace(tmp_path, reg)
    ws.write_config({"a": {"tag": "1.0.0"}})
    r = ws.pull()
    assert r.code == 1
    assert_no_traceback(r)
    assert "token service" in r.err and "HTTP 503 (gave up after 3 tries)" in r.err, r.err
    assert len(ts.seen) == 3
    assert not (ws.root / "a").exists()


def test_two_requests_refused_at_once_both_use_the_new_token(token_registry) -> None:  # type: ignore[no-untyped-def]
    """Two threads on one repository both get a 401 and both ask the token service, which
    gives both the same token. The one that caches it second must still try it: the token
    it was refused with was none, not this one."""
    reg, ts = token_registry
    ts.stable_tokens = True
    ts.hold = 2  # neither gets its token before both have asked
    client = RegistryClient(policy=RetryPolicy(attempts=1), credentials=lambda host: Basic("alice", "pw-a"))
    src = replace(parse_source(f"{reg.host}/plugins/a:1.0.0", reg.host), plain_http=True)
    with ThreadPoolExecutor(2) as pool:
        got = list(pool.map(lambda _: client.manifest(src, "1.0.0").digest, range(2)))
    assert got[0] == got[1] and got[0].startswith("sha256:")
    assert len(ts.seen) == 2


def test_a_token_refused_again_is_given_up(token_registry) -> None:  # type: ignore[no-untyped-def]
    """A token service that hands back, again, the token the registry just refused: one
    line, and no loop of token requests."""
    reg, ts = token_registry
    ts.stable_tokens = True
    ts.grant = False
    client = RegistryClient(policy=RetryPolicy(attempts=1), credentials=lambda host: Basic("alice", "pw-a"))
    src = replace(parse_source(f"{reg.host}/plugins/a:1.0.0", reg.host), plain_http=True)
    for tries in (1, 2):  # the second request carries the cached token, refused; asks again, same token
        with pytest.raises(AuthError, match=r"credentials refused \(401\)"):
            client.manifest(src, "1.0.0")
        assert len(ts.seen) == tries


# --- Docker config keys, matched as docker matches them ------------------------------------------

def _b64(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize("host", ["docker.io", "registry-1.docker.io", "index.docker.io"])
def test_docker_hub_credentials_under_the_v1_index_key(host: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """``docker login`` files Docker Hub's credentials under ``https://index.docker.io/v1/``."""
    _docker_config(tmp_path, monkeypatch, {"https://index.docker.io/v1/": {"auth": _b64("hub-user", "hub-pw")}})
    assert credentials_lookup()(host) == Basic("hub-user", "hub-pw")
    assert credentials_lookup()("quay.io") is None


def test_keys_with_a_scheme_or_a_path_match_by_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _docker_config(tmp_path, monkeypatch, {"https://reg.example:5000/v2/": {"auth": _b64("u1", "p1")},
                                           "http://other.example/some/path": {"identitytoken": "idt-2"},
                                           "reg.example": {"auth": _b64("no-port", "p")}})
    lookup = credentials_lookup()
    assert lookup("reg.example:5000") == Basic("u1", "p1")
    assert lookup("other.example") == IdentityToken("idt-2")
    assert lookup("reg.example") == Basic("no-port", "p")  # the port tells hosts apart
    assert lookup("example") is None and lookup("docker.io") is None


def test_a_docker_hub_credential_helper_is_asked_for_the_v1_index(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = _credential_helper(tmp_path, monkeypatch, "u", "pw-")
    (cfg / "config.json").write_text(json.dumps({"credHelpers": {"https://index.docker.io/v1/": "fixture"}}))
    assert credentials_lookup()("registry-1.docker.io") == Basic("u", "pw-https://index.docker.io/v1/")
    (cfg / "config.json").write_text(json.dumps({"credsStore": "fixture"}))
    assert credentials_lookup()("docker.io") == Basic("u", "pw-https://index.docker.io/v1/")
    assert credentials_lookup()("reg.example") == Basic("u", "pw-reg.example")


def test_a_pull_finds_credentials_under_a_url_key(auth_ws: Workspace, monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    assert auth_ws.registry
    _docker_config(tmp_path, monkeypatch, {f"http://{auth_ws.registry.host}/v2/": {"auth": _b64("alice", "s3cret-pw")}})
    r = auth_ws.pull()
    assert r.code == 0, r.err
    assert (auth_ws.root / "a/1.0.0/plugin.wasm").read_bytes() == wasm_module(700, 3)
