"""plugin-sync coverage: the console's 52 plugin URLs against this repository's two images,
before and after the configuration fix, as trees and through the real nginx."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.console.conftest import World, cli, coverage, gateway_tree, rolling_tree
from tests.support.nginx import running_nginx
from tests.support.workspace import assert_no_traceback

NINE = ("basic-auth", "bot-detect", "custom-response", "hmac-auth", "jwt-auth", "key-auth", "key-rate-limit",
        "oauth", "request-block")
UNMAPPED = ("ai-context-limit", "gw-error-format", "hmac-auth-apisix", "log-request-response", "mcp-router",
            "nginx-rewrite-compatible", "response-cache", "simple-jwt-auth")
UNPINNED = ("custom-response", "hmac-auth", "jwt-auth", "key-rate-limit", "oauth", "request-block")


def _missing(report: dict[str, object]) -> dict[str, dict[str, object]]:
    results = report["results"]
    assert isinstance(results, list)
    return {r["name"]: r for r in results if r["state"] == "missing"}


@pytest.fixture(scope="module")
def gateway_before(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return gateway_tree(world, "plugins-before.yaml", tmp_path_factory.mktemp("gw-before") / "plugins")


@pytest.fixture(scope="module")
def gateway_after(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return gateway_tree(world, "plugins.yaml", tmp_path_factory.mktemp("gw-after") / "plugins")


def test_gateway_image_before_the_fix_lists_exactly_the_17_urls_that_404_with_fixes(world: World, gateway_before: Path) -> None:
    r = coverage(world, "plugins-before.yaml", gateway_before, "--snapshot", str(world.file("snapshot.json")), "--json")
    assert r.code == 1, r.err
    report = json.loads(r.out)
    missing = _missing(report)
    assert (report["plugins"], report["served"]) == (52, 35)
    assert set(missing) == set(NINE) | set(UNMAPPED)
    for name, m in missing.items():  # each one 404s in the tree: nothing there
        assert not (gateway_before / name / str(m["version"])).exists()
    assert {n for n in NINE if missing[n]["version"] == "1.0.0"} == set(NINE)
    # served at the tag, asked for at the spec's version: serve both
    assert missing["basic-auth"]["fix"] == "plugins.yaml basic-auth: versions: [2.0.0, 1.0.0]"
    # the snapshot records it, without a plugin-server mapping: pin that digest
    snap = json.loads(world.file("snapshot.json").read_text())
    digest = next(p["digest"] for p in snap["plugins"] if p["logicalId"] == "ai-context-limit")
    fix = str(missing["ai-context-limit"]["fix"])
    assert fix.startswith("plugins.yaml add ai-context-limit: {source: oci://") and f"digest: {digest}" in fix
    assert fix.endswith("(in snapshot 2.2.4 without a plugin-server mapping)")
    for name in UNPINNED:
        assert missing[name]["pinned"] is False and str(missing[name]["fix"]).startswith("artifact not pinned anywhere")
    assert report["unpinned"] == 6


def test_gateway_image_after_the_fix_misses_only_what_is_pinned_nowhere_and_says_so(world: World, gateway_after: Path) -> None:
    r = coverage(world, "plugins.yaml", gateway_after, "--snapshot", str(world.file("snapshot.json")))
    assert r.code == 1
    assert_no_traceback(r)
    lines = [line for line in r.out.splitlines() if line.startswith("missing")]
    assert sorted(line.split("/plugins/")[1].split("/")[0] for line in lines) == sorted(UNPINNED)
    assert r.out.count("fix: artifact not pinned anywhere") == 6
    assert "46 of 52 console URLs served" in r.err and "6 missing, 6 of them with an artifact pinned nowhere" in r.err
    # basic-auth/1.0.0 is the artifact of 2.0.0, stored once
    a, b = gateway_after / "basic-auth" / "1.0.0" / "plugin.wasm", gateway_after / "basic-auth" / "2.0.0" / "plugin.wasm"
    assert os.stat(a).st_ino == os.stat(b).st_ino
    # an unmapped snapshot entry, pinned by digest in plugins.yaml, is served from that digest
    assert (gateway_after / "ai-context-limit" / "1.0.0" / "plugin.wasm").read_bytes() == \
        world.modules[("plugins/ai-context-limit", "1.0.0")]


def test_rolling_image_after_the_fix_serves_the_consoles_version_beside_the_newest_tag(world: World, tmp_path: Path) -> None:
    root = rolling_tree(world, "plugins.yaml", tmp_path / "plugins")
    r = coverage(world, "plugins.yaml", root, "--json")
    assert r.code == 1, r.err
    report = json.loads(r.out)
    assert report["served"] == 46 and set(_missing(report)) == set(UNPINNED)
    # one plugin under two versions with different artifacts, both from the lock
    for version in ("2.0.1", "2.0.3"):
        assert (root / "ai-agent" / version / "plugin.wasm").read_bytes() == world.modules[("plugins/ai-agent", version)]
    lock = json.loads((tmp_path / "plugins.lock.json").read_text())["plugins"]["ai-agent"]
    assert lock["2.0.1"]["digest"] != lock["2.0.3"]["digest"]
    # every served file was compared with the lock
    assert all(x["state"] in ("served", "missing") for x in report["results"])


def test_rolling_image_before_the_fix_serves_none_of_the_52(world: World, tmp_path: Path) -> None:
    root = rolling_tree(world, "plugins-before.yaml", tmp_path / "plugins")
    r = coverage(world, "plugins-before.yaml", root, "--json")
    assert r.code == 1
    report = json.loads(r.out)
    assert report["served"] == 0 and report["missing"] == 52
    missing = _missing(report)
    assert str(missing["ai-agent"]["fix"]).startswith("plugins.yaml ai-agent: sources: {2.0.1: oci://")
    assert missing["key-auth"]["fix"] == "plugins.yaml key-auth: versions: [2.0.0, 1.0.0]"


def test_against_a_running_nginx_with_a_sha256_mismatch(world: World, gateway_after: Path, tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "plugins"
    shutil.copytree(gateway_after, root, symlinks=True)
    inventory = tmp_path / "inventory.json"
    shutil.copy(root / "snapshot-inventory.json", inventory)
    with running_nginx(root) as server:
        r = coverage(world, "plugins.yaml", root, "--url", server.url, "--inventory", str(inventory), "--json")
        assert r.code == 1, r.err
        report = json.loads(r.out)
        assert report["served"] == 46 and report["mismatch"] == 0 and set(_missing(report)) == set(UNPINNED)
        states = {x["name"]: x["state"] for x in report["results"]}
        assert states["ai-agent"] == "served" and states["basic-auth"] == "served"  # inventory, unmanaged lock
        assert all(x["status"] == 404 for x in _missing(report).values())
        # the served bytes change under nginx: the smoke test names the URL
        wasm = (root / "ai-agent" / "2.0.1" / "plugin.wasm").resolve()
        os.chmod(wasm, 0o644)
        wasm.write_bytes(b"\0asm\1\0\0\0tampered")
        r = coverage(world, "plugins.yaml", root, "--url", server.url, "--inventory", str(inventory))
    assert r.code == 1
    differs = [line for line in r.out.splitlines() if line.startswith("differs")]
    assert len(differs) == 1 and "/plugins/ai-agent/2.0.1/plugin.wasm" in differs[0]
    assert "1 with another sha256" in r.err


def test_every_url_served_exits_0(world: World, gateway_after: Path, tmp_path: Path) -> None:
    listing = json.loads((world.console / "console-plugins.json").read_text())
    served = {k: v for k, v in listing.items() if k not in UNPINNED}
    copy = tmp_path / "console-plugins.json"
    copy.write_text(json.dumps(served))
    r = cli("--config", str(world.file("plugins.yaml")), "--root", str(gateway_after), "coverage", "--console", str(copy))
    assert r.code == 0, r.out + r.err
    assert "46 of 46 console URLs served" in r.err and r.out == ""
