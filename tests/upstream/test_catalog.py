"""Catalog-aware detection: upstream's real plugins/release/catalog.json maps changed paths to
plugins (own inputs, shared input groups, served names and aliases); history before the catalog
keeps the directory rule; snapshots added in the window are reported. Through git and the API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sync.cli import main
from sync.config import parse_config
from sync.errors import ConfigError
from sync.github.client import connect
from sync.upstream.apireader import ApiReader
from sync.upstream.catalogread import parse_catalog
from sync.upstream.detect import detect
from sync.upstream.gitreader import GitReader
from sync.upstream.inputs import glob_match, hits
from sync.upstream.model import Changes, parse_since
from sync.upstream.paths import snapshot_version
from tests.support.fakegithub import FakeGitHub, Repo
from tests.support.upstream import CATALOG, GO, SNAPSHOT, SNAPSHOT_PATH
from tests.support.git import GitRepo

CONFIG = parse_config({
    "schemaVersion": 1,
    "plugins": {
        "basic-auth": "oci://r.example/plugins/basic-auth:1.0.0",
        "json-converter": "oci://r.example/plugins/jsonrpc-converter:2.0.0",
        "mcp-server": "oci://r.example/plugins/mcp-server:2.0.0",
        "ai-data-masking": "oci://r.example/plugins/ai-data-masking:2.0.0",
    },
})
RAW = json.loads(CATALOG)
GO_BUILDER = {p["logicalId"] for p in RAW["plugins"] if "go-builder" in p.get("sharedInputGroups", [])}


def test_the_real_catalog_parses() -> None:
    c = parse_catalog(CATALOG)
    assert len(c.plugins) == 54 and set(c.shared_inputs) == {"go-builder", "go-mcp", "rust-workspace"}
    jc = next(p for p in c.plugins if p.logical_id == "json-converter")
    assert jc.source_dir == f"{GO}/jsonrpc-converter" and jc.image == "plugins/jsonrpc-converter"
    assert jc.served is not None and jc.served.names == ("json-converter", "jsonrpc-converter")
    hello = next(p for p in c.plugins if p.logical_id == "hello-world")
    assert hello.served is None and hello.shared_groups == ()
    assert len(GO_BUILDER) == 43


@pytest.mark.parametrize("bad, message", [
    (b"not json", "not JSON"),
    (b'{"schemaVersion": 2, "plugins": []}', "schemaVersion 1"),
    (b'{"schemaVersion": 1, "plugins": [{"logicalId": "x", "sourceDir": "d", "sharedInputGroups": ["nope"]}]}',
     "plugin x: unknown shared input group 'nope'"),
    (b'{"schemaVersion": 1, "plugins": [{"logicalId": "x", "sourceDir": "d", "artifactInputs": "d/**"}]}',
     "plugin x: artifactInputs must be a list"),
    (b'{"schemaVersion": 1, "plugins": [{"logicalId": "x", "sourceDir": "d",'
     b' "consumers": {"pluginServer": {"inventoryKey": "Bad Name"}}}]}', "plugin x: inventoryKey"),
])
def test_a_malformed_catalog_is_named(bad: bytes, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_catalog(bad, "cat: ")


@pytest.mark.parametrize("pattern, path, expected", [
    ("plugins/wasm-go/extensions/ai-agent/**", "plugins/wasm-go/extensions/ai-agent/main.go", True),
    ("plugins/wasm-go/extensions/ai-agent/**", "plugins/wasm-go/extensions/ai-agent/a/b/c.go", True),
    ("plugins/wasm-go/extensions/ai-agent/**", "plugins/wasm-go/extensions/ai-agent-x/main.go", False),
    ("plugins/wasm-go/extensions/ai-agent/**", "plugins/wasm-go/extensions/ai-agent", False),
    ("plugins/wasm-go/Makefile", "plugins/wasm-go/Makefile", True),
    ("plugins/wasm-go/Makefile", "plugins/wasm-go/Makefile.bak", False),
    ("plugins/**/go.mod", "plugins/go.mod", True),
    ("plugins/**/go.mod", "plugins/a/b/go.mod", True),
    ("plugins/*/go.mod", "plugins/a/b/go.mod", False),
    ("plugins/wasm-?o/*.go", "plugins/wasm-go/x.go", True),
    ("a.b/**", "aXb/c", False),
])
def test_globs(pattern: str, path: str, expected: bool) -> None:
    assert glob_match(pattern, path) is expected


def test_a_shared_input_marks_every_plugin_of_its_group() -> None:
    c = parse_catalog(CATALOG)
    makefile = hits(c, "plugins/wasm-go/Makefile")
    assert {h.plugin.logical_id for h in makefile} == GO_BUILDER
    assert {h.group for h in makefile} == {"go-builder"}
    assert {h.plugin.logical_id for h in hits(c, "plugins/wasm-go/pkg/mcp/x/y.go")} == {"mcp-router", "mcp-server"}
    assert {h.plugin.logical_id for h in hits(c, "plugins/wasm-rust/Cargo.lock")} == {"ai-data-masking"}
    [own] = hits(c, f"{GO}/mcp-server/main.go")
    assert (own.plugin.logical_id, own.group) == ("mcp-server", None)
    assert hits(c, "docs/README.md") == () and hits(c, "plugins/wasm-go/pkg/wrapper/w.go") == ()


def test_snapshot_paths() -> None:
    assert snapshot_version(SNAPSHOT_PATH) == "2.2.4"
    assert snapshot_version("plugins/release/snapshots/2.3.0-rc.1.json") == "2.3.0-rc.1"
    for p in ("plugins/release/snapshots/latest.json", "plugins/release/snapshots/2.2.json",
              "plugins/release/snapshots/x/2.2.4.json", "plugins/release/catalog.json"):
        assert snapshot_version(p) is None


def check_release_window(ch: Changes, shas: dict[int, str], url: str) -> None:
    by = {p.name: p for p in ch.plugins}
    prs = {name: [x.number for x in p.prs] for name, p in by.items()}
    # 201: no catalog in that tree yet: the directory rule; the Makefile is "other"
    assert ch.rules == {201: "directories", 202: "catalog", 203: "catalog", 204: "catalog", 205: "catalog",
                        206: "catalog", 207: "catalog"}
    assert prs["basic-auth"] == [201]  # basic-auth is C++ and unmanaged upstream: not in the catalog
    assert [o.prs for o in ch.other if o.path == "plugins/wasm-go/Makefile"] == [(201,)]
    # 202: the catalog maps jsonrpc-converter's directory to json-converter (the alias is not served here)
    assert prs["json-converter"] == [202, 203]
    assert "jsonrpc-converter" not in by
    assert by["json-converter"].version == "2.0.1" and by["json-converter"].dirs == (f"{GO}/jsonrpc-converter",)
    # 203: the go builder is an input of every Go plugin that lists the group (43 of them)
    expected = {n for p in RAW["plugins"] if p["logicalId"] in GO_BUILDER
                for n in [(p.get("consumers", {}).get("pluginServer") or {}).get("httpPath")
                          or p["sourceDir"].rsplit("/", 1)[1]]}
    assert {n for n, p in prs.items() if 203 in p} == expected and len(expected) == 43
    assert "ai-data-masking" not in expected and "hello-world" not in expected
    # 204: the MCP library is an input of mcp-server and mcp-router only
    assert {n for n, p in prs.items() if 204 in p} == {"mcp-server", "mcp-router"}
    assert by["mcp-server"].served is True and by["mcp-router"].served is False
    # 206: a Rust plugin by its own inputs; 207: a plugin upstream's server does not serve
    assert prs["ai-data-masking"] == [206] and prs["hello-world"] == [207]
    assert by["hello-world"].served is False
    # 205: the snapshot: reported, with the commit that added it and the sha256 of its bytes
    [snap] = ch.snapshots
    assert (snap.gateway_version, snap.path, snap.commit, snap.pr) == ("2.2.4", SNAPSHOT_PATH, shas[205], 205)
    assert snap.sha256 == "09bc798df37e50dae2e684947885c31eb756636c76a98761a9a980fc031e3a1a"
    assert {o.path for o in ch.other} >= {SNAPSHOT_PATH, "plugins/release/catalog.json"}
    assert ch.plugins[0].prs[0].url.startswith(url)
    assert ch.warnings == ()


def test_detect_through_git(release_git: tuple[GitRepo, dict[int, str]]) -> None:
    g, shas = release_git
    r = GitReader(g.path, "higress-group/higress", "HEAD", "https://github.com")
    ch = detect(r, r.resolve(parse_since("2026-06-15")), CONFIG, have_config=True)
    check_release_window(ch, shas, "https://github.com/higress-group/higress/pull/")


def test_detect_through_the_api(release_api: tuple[FakeGitHub, Repo, dict[int, str]]) -> None:
    fake, _, shas = release_api
    r = ApiReader(connect(), "higress-group/higress")
    ch = detect(r, r.resolve(parse_since("2026-06-15")), CONFIG, have_config=True)
    check_release_window(ch, shas, "https://github.com/higress-group/higress/pull/")
    # the catalog is read at each merge that may hold it, not once per plugin
    assert fake.count("GET", r"/contents/plugins/release/catalog\.json$") == 7


def test_an_alias_served_here_is_reported_too(release_git: tuple[GitRepo, dict[int, str]]) -> None:
    g, _ = release_git
    r = GitReader(g.path, "higress-group/higress")
    ch = detect(r, r.resolve(parse_since("#201")), CONFIG, have_config=True, served_names=["jsonrpc-converter"])
    assert [x.number for x in ch.plugin("jsonrpc-converter").prs] == [202, 203]  # type: ignore[union-attr]
    assert ch.plugin("jsonrpc-converter").served is True  # type: ignore[union-attr]


def test_a_broken_catalog_falls_back_to_directories_with_a_warning(
        release_git: tuple[GitRepo, dict[int, str]]) -> None:
    g, _ = release_git
    g.squash(208, "oops", {"plugins/release/catalog.json": "{", f"{GO}/ai-agent/main.go": "package main\n",
                           "plugins/release/snapshots/9.9.9.json": SNAPSHOT,
                           "plugins/release/snapshots/9.9.8.json": '{"gatewayVersion": "9.9.8"}'},
             "2026-07-20T00:00:00Z")
    r = GitReader(g.path, "higress-group/higress")
    ch = detect(r, r.resolve(parse_since("#207")), CONFIG, have_config=True)
    assert ch.rules == {208: "directories"} and [p.name for p in ch.plugins] == ["ai-agent"]
    assert ch.snapshots == ()
    assert len(ch.warnings) == 3 and "not JSON" in ch.warnings[0]
    assert "9.9.8.json" in ch.warnings[1] and "schemaVersion" in ch.warnings[1]
    assert "9.9.9.json" in ch.warnings[2] and "states gatewayVersion 2.2.4, not 9.9.9" in ch.warnings[2]


def test_the_cli_reports_snapshots_in_json_and_step_outputs(
        release_git: tuple[GitRepo, dict[int, str]], tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    g, shas = release_git
    (tmp_path / "plugins.yaml").write_text("schemaVersion: 1\nplugins:\n"
                                           "  mcp-server: oci://r.example/plugins/mcp-server:2.0.0\n")
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "out.txt"))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    rc = main(["--config", str(tmp_path / "plugins.yaml"), "detect", "--git", str(g.path), "--since", "#204",
               "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert doc["snapshots"] == [{"gatewayVersion": "2.2.4", "path": SNAPSHOT_PATH,
                                 "sha256": "09bc798df37e50dae2e684947885c31eb756636c76a98761a9a980fc031e3a1a",
                                 "commit": shas[205], "pr": 205, "merged": "2026-07-05T00:00:00Z"}]
    assert Changes.from_json(doc).snapshots[0].commit == shas[205]
    assert [m["rule"] for m in doc["merges"]] == ["catalog", "catalog", "catalog"]
    out = (tmp_path / "out.txt").read_text()
    assert ('snapshots=[{"gatewayVersion":"2.2.4","path":"plugins/release/snapshots/2.2.4.json",'
            f'"sha256":"09bc798df37e50dae2e684947885c31eb756636c76a98761a9a980fc031e3a1a","commit":"{shas[205]}"}}]\n'
            ) in out
    assert "gateway-versions=2.2.4\n" in out
    assert "| 2.2.4 | `plugins/release/snapshots/2.2.4.json` |" in (tmp_path / "summary.md").read_text()
