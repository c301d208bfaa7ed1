"""The pure parts: the console's files, the fixes, plugins.yaml's per-version sources and
what a snapshot build serves beside the snapshot, all without servers."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from sync.config import load_config, parse_config
from sync.console.model import DEFAULT_PATTERN, from_files, parse_console_lock, parse_list, parse_spec
from sync.console.plan import MISMATCH, MISSING, SERVED, UNVERIFIED, Answer, check, fix, known
from sync.errors import ConfigError
from sync.snapshot.load import configured
from sync.snapshot.model import parse_snapshot, parse_unmanaged
from sync.snapshot.plan import check_unmanaged, managed_names, plan
from tests.console.conftest import DATA, REPO

HOST = "higress-registry.cn-hangzhou.cr.aliyuncs.com"
D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64


def _console() -> tuple:  # type: ignore[type-arg]
    return parse_list((DATA / "console-plugins.json").read_bytes(), (DATA / "plugin-snapshot.lock.json").read_bytes())


def test_the_default_pattern_is_the_charts_and_urls_are_plain_replacements() -> None:
    notes = (REPO / "charts" / "higress-plugin-server" / "templates" / "NOTES.txt").read_text()
    assert "/plugins/${name}/${version}/plugin.wasm" in notes
    assert DEFAULT_PATTERN.startswith("http://higress-plugin-server.higress-system.svc/")
    basic = next(p for p in _console() if p.key == "basic-auth")
    assert basic.url("http://h/p/${name}-${version}?v=${version}") == "http://h/p/basic-auth-1.0.0?v=1.0.0"


@pytest.mark.parametrize("text, message", [
    ("info: [1]\n", "no info mapping"),
    ("info:\n  name: ../x\n  version: 1.0.0\n", "info.name"),
    ("info:\n  name: x\n  version: 1.0/0\n", "info.version"),
    (": : :\n", "not valid YAML"),
])
def test_a_bad_spec_is_one_clear_error(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_spec(text, "x/spec.yaml")


def test_bad_console_files_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="malformed digest"):
        parse_console_lock(json.dumps({"plugins": {"a": {"digest": "sha256:12"}}}).encode())
    with pytest.raises(ConfigError, match="not JSON"):
        parse_list(b"{")
    with pytest.raises(ConfigError, match="needs properties, specName and specVersion"):
        parse_list(json.dumps({"a": {"properties": "oci://h.io/p/a:1.0.0"}}).encode())
    with pytest.raises(ConfigError, match="a/spec.yaml: missing"):
        from_files("a=oci://h.io/plugins/a:1.0.0\n", {})


def test_a_console_lock_entry_of_another_tag_pins_nothing() -> None:
    lock = json.dumps({"plugins": {"a": {"ociRef": "oci://h.io/plugins/a:1.0.1", "digest": D1},
                                   "b": {"ociRef": "oci://h.io/plugins/b:1.0.0", "digest": D2}}}).encode()
    spec = "info:\n  name: {}\n  version: 1.0.0\n"
    a, b = from_files("a=oci://h.io/plugins/a:1.0.0\nb=oci://h.io/plugins/b:1.0.0\n",
                      {"a": spec.format("a"), "b": spec.format("b")}, lock)
    assert (a.digest, b.digest) == (None, D2)


def test_fixes_name_the_plugins_yaml_lines_or_say_the_artifact_is_pinned_nowhere() -> None:
    plugins = {p.key: p for p in _console()}
    before = load_config(DATA / "plugins-before.yaml")
    snap = parse_snapshot((REPO / "snapshots" / "2.2.4.json").read_bytes())
    unmanaged = parse_unmanaged((REPO / "unmanaged-plugins.lock.json").read_bytes())
    k = known(before, None, snap, unmanaged)
    assert fix(plugins["bot-detect"], k) == ("plugins.yaml bot-detect: versions: [2.0.0, 1.0.0]", True)
    assert fix(plugins["ai-agent"], k) == (
        f"plugins.yaml ai-agent: sources: {{2.0.1: oci://{HOST}/plugins/ai-agent:2.0.1@{plugins['ai-agent'].digest}}}", True)
    assert fix(plugins["json-converter"], k)[0].startswith(
        f"plugins.yaml json-converter: sources: {{2.0.1: oci://{HOST}/plugins/jsonrpc-converter:2.0.1@sha256:c169")
    text, pinned = fix(plugins["oauth"], k)
    assert not pinned and text.startswith("artifact not pinned anywhere: no digest for plugins/oauth:2.0.0")
    # without the console's lock, the snapshot's digest is found by repository and tag
    bare = replace(plugins["mcp-router"], digest=None)
    assert fix(bare, k)[0] == (f"plugins.yaml add mcp-router: {{source: oci://{HOST}/plugins/mcp-router:2.0.1, "
                               f"digest: {plugins['mcp-router'].digest}}} (in snapshot 2.2.4 without a plugin-server mapping)")
    # plugins.yaml serves it already: the target is older than the configuration
    now = load_config(REPO / "plugins.yaml")
    assert fix(plugins["bot-detect"], known(now))[0].startswith("plugins.yaml already serves bot-detect/1.0.0")
    assert fix(plugins["ai-agent"], known(now))[0].startswith("plugins.yaml already serves ai-agent/2.0.1")
    assert "only the rolling image serves, not a build of snapshot 2.2.4" in fix(plugins["ai-agent"], known(now, None, snap))[0]
    # nothing known but the console's lock: not in the snapshot
    alone = replace(plugins["oauth"], digest=D1)
    assert fix(alone, k)[0].endswith(f"digest: {D1}, versions: [2.0.0, 1.0.0]}} (not in snapshot 2.2.4)")


def test_check_sorts_answers_into_served_unverified_mismatch_and_missing() -> None:
    plugins = tuple(p for p in _console() if p.key in ("ai-agent", "ai-cache", "ai-rag", "oauth"))
    k = replace(known(), expected={("ai-agent", "2.0.1"): "a" * 64, ("ai-rag", "2.0.1"): "b" * 64})
    answers = {p.url(DEFAULT_PATTERN): a for p, a in zip(plugins, (
        Answer(200, "a" * 64), Answer(200, "c" * 64), Answer(200, "c" * 64), Answer(None, error="ConnectionError")))}
    r = check(plugins, DEFAULT_PATTERN, "t", answers, k)
    assert [f.state for f in r.findings] == [SERVED, UNVERIFIED, MISMATCH, MISSING]
    assert not r.ok and r.to_json()["served"] == 2
    assert r.findings[3].to_json()["error"] == "ConnectionError"


# -- plugins.yaml: versions from their own artifacts


def _config(entry: dict[str, object]) -> object:
    return parse_config({"plugins": {"ai-agent": entry}})


def test_sources_parse_and_split_into_one_spec_per_artifact() -> None:
    cfg = parse_config({"plugins": {"ai-agent": {
        "source": f"oci://{HOST}/plugins/ai-agent:2.0.3",
        "sources": {"2.0.1": f"oci://{HOST}/plugins/ai-agent:2.0.1@{D1}", "1.0.0": f"{HOST}/plugins/old:1.0.0"}}}})
    main, a, b = cfg.plugins["ai-agent"].parts()
    assert (main.source.tag, main.versions, main.sources) == ("2.0.3", (), ())
    assert (a.versions, a.source.tag, a.source.digest) == (("2.0.1",), "2.0.1", D1)
    assert (b.versions, b.source.repository) == (("1.0.0",), "plugins/old")


@pytest.mark.parametrize("entry, message", [
    ({"source": f"{HOST}/plugins/a:2.0.0", "versions": ["2.0.0", "1.0.0"], "sources": {"1.0.0": f"{HOST}/plugins/a:1.0.0"}},
     "both in versions and in sources"),
    ({"source": f"{HOST}/plugins/a:2.0.0", "sources": ["1.0.0"]}, "sources must map versions"),
    ({"source": f"{HOST}/plugins/a:2.0.0", "sources": {"1.0.0": f"{HOST}/plugins/a"}}, "sources: 1.0.0: reference"),
    ({"source": f"{HOST}/plugins/a:2.0.0", "sources": {"../x": f"{HOST}/plugins/a:1.0.0"}}, "sources"),
    ({"source": f"{HOST}/plugins/a:2.0.0", "sources": {"1.0.0": f"{HOST}/plugins/a@sha256:12"}}, "digest"),
])
def test_bad_sources_are_config_errors(entry: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _config(entry)


def test_the_repository_config_round_trips_through_dump(tmp_path: Path) -> None:
    from sync.config import dump_config

    cfg = load_config(REPO / "plugins.yaml")
    (tmp_path / "plugins.yaml").write_text(dump_config(cfg))
    again = load_config(tmp_path / "plugins.yaml")
    assert {n: (s.source, s.versions, s.sources) for n, s in again.plugins.items()} == \
        {n: (s.source, s.versions, s.sources) for n, s in cfg.plugins.items()}


# -- a snapshot build: more versions of a served artifact, unmapped entries pinned by digest


def test_the_repository_config_serves_the_consoles_versions_in_the_gateway_build() -> None:
    cfg = load_config(REPO / "plugins.yaml")
    snap = parse_snapshot((REPO / "snapshots" / "2.2.4.json").read_bytes())
    unmanaged = parse_unmanaged((REPO / "unmanaged-plugins.lock.json").read_bytes())
    conf = configured(cfg)
    check_unmanaged(snap, unmanaged, conf)  # upstream's guard still holds
    p = plan(snap, unmanaged, None, conf)
    served = {(t.name, t.version): t for t in p.targets}
    assert served[("basic-auth", "1.0.0")].digest == served[("basic-auth", "2.0.0")].digest
    assert served[("ai-context-limit", "1.0.0")].digest == next(e.digest for e in snap.entries if e.logical_id == "ai-context-limit")
    asked = {(c.name, c.version) for c in _console()}
    assert sorted(n for n, v in asked - set(served)) == ["custom-response", "hmac-auth", "jwt-auth", "key-rate-limit",
                                                         "oauth", "request-block"]
    # without plugins.yaml the build is the snapshot's mapping and the unmanaged lock, as before
    assert len(plan(snap, unmanaged).targets) == 35 + 1 + 3


def test_an_unmapped_entry_is_adopted_only_by_its_repository_and_digest() -> None:
    snap = parse_snapshot((REPO / "snapshots" / "2.2.4.json").read_bytes())
    entry = next(e for e in snap.entries if e.logical_id == "mcp-router")
    by_tag = parse_config({"plugins": {"mcp-router": f"oci://{HOST}/plugins/mcp-router:2.0.1"}})
    assert "mcp-router" not in managed_names(snap, configured(by_tag))
    with pytest.raises(ConfigError, match="missing mcp-router"):  # a tag alone: pin it in the unmanaged lock
        check_unmanaged(snap, (), configured(by_tag))
    other = parse_config({"plugins": {"mcp-router": {"source": f"oci://{HOST}/plugins/mcp-router:2.0.1", "digest": D2}}})
    assert "mcp-router" not in managed_names(snap, configured(other))
    pinned = parse_config({"plugins": {"mcp-router": {"source": f"oci://{HOST}/plugins/mcp-router:2.0.1",
                                                      "digest": entry.digest}}})
    assert "mcp-router" in managed_names(snap, configured(pinned))


def test_more_versions_follow_the_artifact_served_under_that_name() -> None:
    snap = parse_snapshot((REPO / "snapshots" / "2.2.4.json").read_bytes())
    unmanaged = parse_unmanaged((REPO / "unmanaged-plugins.lock.json").read_bytes())
    cfg = parse_config({"plugins": {
        "basic-auth": {"source": f"oci://{HOST}/plugins/basic-auth:2.0.0", "versions": ["2.0.0", "2.0.1"]},
        "ai-cache": {"source": f"oci://{HOST}/plugins/ai-cache:2.0.1", "versions": ["2.0.1", "2.0.0"]},
        # the rolling image's versions of another tag say nothing about the snapshot's artifact
        "ai-agent": {"source": f"oci://{HOST}/plugins/ai-agent:2.0.3", "versions": ["2.0.3", "2.0.0"]}}})
    targets = {(t.name, t.version): t for t in plan(snap, unmanaged, None, configured(cfg)).targets}
    assert targets[("basic-auth", "2.0.1")].digest == targets[("basic-auth", "2.0.0")].digest
    assert targets[("ai-cache", "2.0.0")].digest == targets[("ai-cache", "2.0.1")].digest
    assert ("ai-agent", "2.0.0") not in targets and ("ai-agent", "2.0.1") in targets


def test_the_console_release_is_read_from_higress_umbrella_chart() -> None:
    from sync.console.model import console_ref

    chart = "dependencies:\n- name: higress-core\n  version: 2.2.4\n- name: higress-console\n  version: {v}\n"
    assert console_ref(chart.format(v="2.2.4")) == "v2.2.4"
    assert console_ref(chart.format(v="v2.1.9")) == "v2.1.9"
    assert console_ref("dependencies: []\n") is None and console_ref(": :") is None
    with pytest.raises(ConfigError, match="higress-console version"):
        console_ref(chart.format(v="'2.2/4'"))


def test_the_unmanaged_lock_contract_holds_for_the_repository_config(tmp_path: Path) -> None:
    """A lock as a pull of plugins.yaml records the unmanaged plugins (2.0.0, and the
    console's 1.0.0 from the same artifact) gives back the committed unmanaged lock exactly:
    plugins pinned by a snapshot digest need no entry, 'versions' adds none."""
    import shutil

    from sync.lock import Lock
    from tests.console.conftest import cli
    from tests.support.locks import entry

    for name in ("plugins.yaml", "unmanaged-plugins.lock.json"):
        shutil.copy(REPO / name, tmp_path / name)
    (tmp_path / "snapshots").mkdir()
    shutil.copy(REPO / "snapshots" / "2.2.4.json", tmp_path / "snapshots" / "2.2.4.json")
    pins = json.loads((REPO / "unmanaged-plugins.lock.json").read_text())["plugins"]
    lock = Lock.from_entries(
        entry(key, version, source=f"oci://{u['repository']}:{u['tag']}", digest=u["digest"], sha256=u["wasmSha256"])
        for key, u in pins.items() for version in (u["tag"], "1.0.0"))
    (tmp_path / "plugins.lock.json").write_text(lock.dumps())
    r = cli("--config", str(tmp_path / "plugins.yaml"), "unmanaged-lock", "--check")
    assert r.code == 0, r.err
    assert "(3 plugin(s))" in r.err
