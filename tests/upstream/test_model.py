"""Detection decisions over plain data: since refs, ordering, name mapping, the result document."""

from __future__ import annotations

import json

import pytest

from sync.config import parse_config
from sync.errors import ConfigError, UsageError
from sync.times import utc_iso
from sync.upstream.changes import after, build_changes
from sync.upstream.model import (
    Changes,
    Merge,
    PluginChange,
    Position,
    PrRef,
    SinceRef,
    parse_since,
    pr_of_subject,
    title_of_subject,
)

GO = "plugins/wasm-go/extensions"
CPP = "plugins/wasm-cpp/extensions"


def merge(n: int, merged: str, *paths: str, sha: str | None = None) -> Merge:
    return Merge(n, f"PR {n}", f"https://github.com/higress-group/higress/pull/{n}", merged, sha or f"{n:040x}", paths)


def test_parse_since() -> None:
    assert parse_since("#123") == SinceRef("pr", "123")
    assert parse_since("4567") == SinceRef("pr", "4567")
    assert parse_since("a1b2c3d") == SinceRef("sha", "a1b2c3d")
    assert parse_since("A1B2C3D4E5F60718293a4b5c6d7e8f9012345678") == SinceRef(
        "sha", "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678")
    assert parse_since("2025-01-02") == SinceRef("time", "2025-01-02T00:00:00Z")
    assert parse_since("2025-01-02T10:00:00+08:00") == SinceRef("time", "2025-01-02T02:00:00Z")
    with pytest.raises(UsageError, match="PR number"):
        parse_since("yesterday")


def test_utc_iso_and_subjects() -> None:
    assert utc_iso("2024-05-06T07:08:09Z") == "2024-05-06T07:08:09Z"
    assert utc_iso("2024-05-06T07:08:09-01:00") == "2024-05-06T08:08:09Z"
    assert pr_of_subject("feat: add ai-cache (#1234)") == 1234
    assert pr_of_subject("Merge branch 'main'") is None
    assert pr_of_subject("fix (#12) and more") is None
    assert title_of_subject("feat: add ai-cache (#1234)") == "feat: add ai-cache"


def test_position_orders_by_time_then_number() -> None:
    pos = Position("2025-01-01T00:00:00Z", 10, "a" * 40)
    assert pos.precedes("2025-01-01T00:00:01Z", 5)
    assert not pos.precedes("2024-12-31T23:59:59Z", 99)
    assert pos.precedes("2025-01-01T00:00:00Z", 11)  # same second, later PR
    assert not pos.precedes("2025-01-01T00:00:00Z", 10)
    assert not pos.precedes("2025-01-02T00:00:00Z", 12, "a" * 40)  # the very merge
    time_only = Position("2025-01-01T00:00:00Z")
    assert not time_only.precedes("2025-01-01T00:00:00Z", 1)
    assert time_only.precedes("2025-01-01T00:00:01Z", 1)


def test_after_sorts_oldest_first() -> None:
    ms = [merge(3, "2025-01-03T00:00:00Z"), merge(1, "2025-01-01T00:00:00Z"), merge(2, "2025-01-02T00:00:00Z")]
    assert [m.number for m in after(Position("2025-01-01T00:00:00Z", 1), ms)] == [2, 3]
    assert [m.number for m in after(None, ms)] == [1, 2, 3]


CONFIG = parse_config({
    "upstream": {"names": {"jsonrpc-converter": "json-converter"}},
    "plugins": {
        "basic-auth": "oci://r.example/plugins/basic-auth:1.0.0",
        "key-auth": "oci://r.example/plugins/key-auth:1.0.0",
        "json-converter": {"repository": "plugins/jsonrpc-converter", "tag": "1.0.0"},
        "mcp-server": {"source": "oci://r.example/mcp-server/all-in-one:1.0.0", "upstream": ["mcp-servers"]},
    },
})


def test_names_map_cpp_underscores_config_names_and_upstream_dirs() -> None:
    ms = [
        merge(1, "2025-01-01T00:00:00Z", f"{GO}/basic-auth/main.go", "docs/a.md"),
        merge(2, "2025-01-02T00:00:00Z", f"{CPP}/key_auth/plugin.cc", f"{GO}/jsonrpc-converter/main.go"),
        merge(3, "2025-01-03T00:00:00Z", f"{GO}/mcp-servers/x.go", f"{GO}/basic-auth/VERSION",
              "plugins/wasm-go/pkg/wrapper/w.go"),
        merge(4, "2025-01-04T00:00:00Z", f"{GO}/brand-new/main.go", f"{GO}/Bad_Name/main.go"),
    ]
    ch = build_changes("higress-group/higress", Position("2024-12-31T00:00:00Z"), ms, CONFIG,
                       {"basic-auth": "1.1.0"}, have_config=True)
    by = {p.name: p for p in ch.plugins}
    assert sorted(by) == ["basic-auth", "brand-new", "json-converter", "key-auth", "mcp-server"]
    assert [p.number for p in by["basic-auth"].prs] == [1, 3]
    assert by["basic-auth"].version == "1.1.0"
    assert by["key-auth"].dirs == (f"{CPP}/key_auth",)
    assert by["json-converter"].served is True
    assert by["brand-new"].served is False
    assert ch.last == Position("2025-01-04T00:00:00Z", 4, f"{4:040x}")
    # a directory whose name cannot be a served name is reported apart, like docs
    assert {o.path: o.prs for o in ch.other} == {
        "docs/a.md": (1,), "plugins/wasm-go/pkg/wrapper/w.go": (3,), f"{GO}/Bad_Name/main.go": (4,)}
    doc = ch.to_json()
    assert doc["changed"] is True
    assert doc["merges"][1]["plugins"] == ["json-converter", "key-auth"]
    assert doc["plugins"]["basic-auth"]["prs"][0] == {
        "number": 1, "title": "PR 1", "url": "https://github.com/higress-group/higress/pull/1",
        "merged": "2025-01-01T00:00:00Z"}


def test_without_config_dir_names_are_plugin_names() -> None:
    ch = build_changes("higress-group/higress", None, [merge(1, "2025-01-01T00:00:00Z", f"{CPP}/key_auth/a.cc")],
                       parse_config(None), {}, have_config=False)
    assert [(p.name, p.served) for p in ch.plugins] == [("key-auth", None)]


def test_carried_pending_plugins_merge_with_new_merges() -> None:
    old_pr = PrRef(7, "old", "https://github.com/higress-group/higress/pull/7", "2024-12-01T00:00:00Z")
    carried = [PluginChange("key-auth", (old_pr,), "0.9.0", pending=True),
               PluginChange("basic-auth", (old_pr,), "1.0.0", pending=True)]
    ms = [merge(9, "2025-01-01T00:00:00Z", f"{GO}/basic-auth/main.go")]
    ch = build_changes("higress-group/higress", Position("2024-12-31T00:00:00Z", 8), ms, CONFIG,
                       {"basic-auth": None}, have_config=True, carried=carried)
    by = {p.name: p for p in ch.plugins}
    assert by["key-auth"].pending is True and by["key-auth"].version == "0.9.0"
    assert by["basic-auth"].pending is False
    assert [p.number for p in by["basic-auth"].prs] == [7, 9]
    assert by["basic-auth"].version == "1.0.0"  # the merged tree said nothing new


def test_no_merges_keeps_the_position() -> None:
    since = Position("2025-01-01T00:00:00Z", 5, "b" * 40)
    ch = build_changes("higress-group/higress", since, [], CONFIG, {}, have_config=True)
    assert ch.last == since and not ch.changed and ch.to_json()["plugins"] == {}


def test_changes_document_round_trips() -> None:
    ms = [merge(1, "2025-01-01T00:00:00Z", f"{GO}/basic-auth/main.go")]
    ch = build_changes("higress-group/higress", Position("2024-01-01T00:00:00Z"), ms, CONFIG, {"basic-auth": "2.0.0"},
                       have_config=True)
    back = Changes.from_json(json.loads(json.dumps(ch.to_json())))
    assert back.plugins == ch.plugins and back.last == ch.last and back.since == ch.since
    with pytest.raises(ConfigError, match="detect document"):
        Changes.from_json({"schemaVersion": 9})
    with pytest.raises(ConfigError, match="bad PR entry"):
        Changes.from_json({"schemaVersion": 1, "upstream": "a/b", "plugins": {"x": {"prs": [{"number": 1}]}}})
