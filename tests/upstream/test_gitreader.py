"""``detect --git``: reading merges from a real local clone."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.config import parse_config
from sync.errors import UsageError
from sync.upstream.detect import detect
from sync.upstream.gitreader import GitReader
from sync.upstream.model import Position, parse_since
from tests.support.upstream import CPP, GO, RUST
from tests.support.git import GitRepo


def reader(g: GitRepo) -> GitReader:
    return GitReader(g.path, "higress-group/higress", "HEAD", "https://github.example")


def test_first_parent_squash_merges_map_to_plugins(upstream: GitRepo) -> None:
    r = reader(upstream)
    since = r.resolve(parse_since("#101"))
    assert since.pr == 101 and since.merged == "2025-01-02T00:00:00Z"
    ch = detect(r, since, parse_config(None), have_config=False)
    assert [m.number for m in ch.merges] == [102, 103, 104, 105, 106, 107]  # not #999, not the direct push
    by = {p.name: p for p in ch.plugins}
    assert sorted(by) == ["ai-cache", "basic-auth", "key-auth", "say-hello"]
    assert by["key-auth"].version == "2.0.1" and by["key-auth"].dirs == (f"{CPP}/key_auth",)
    assert by["say-hello"].version == "0.2.0" and by["say-hello"].dirs == (f"{RUST}/say-hello",)
    assert by["ai-cache"].version == "0.1.0"  # the true merge's whole branch counts
    assert [p.number for p in by["basic-auth"].prs] == [106, 107]
    assert by["basic-auth"].version == "1.1.0"  # read from the merged tree, unchanged by #106
    assert by["basic-auth"].prs[0].url == "https://github.example/higress-group/higress/pull/106"
    assert by["basic-auth"].prs[0].title == "fix: basic-auth nil check"
    assert {o.path for o in ch.other} == {"docs/guide.md", "plugins/wasm-go/pkg/wrapper/w.go"}
    assert ch.last is not None and ch.last.pr == 107


def test_since_a_sha_a_time_and_nothing_new(upstream: GitRepo) -> None:
    r = reader(upstream)
    sha_104 = upstream.git("log", "--format=%H", "--grep", r"(#104)", "-F")
    pos = r.resolve(parse_since(sha_104[:10]))
    assert pos == Position("2025-01-05T00:00:00Z", 104, sha_104)
    assert [m.number for m in r.merges_after(pos)] == [105, 106, 107]
    assert [m.number for m in r.merges_after(r.resolve(parse_since("2025-01-07T12:00:00Z")))] == [106, 107]
    last = r.resolve(parse_since("#107"))
    ch = detect(r, last, parse_config(None), have_config=False)
    assert not ch.changed and ch.merges == () and ch.last == last


def test_renamed_and_deleted_plugin_paths_count(tmp_path: Path) -> None:
    g = GitRepo(tmp_path / "u")
    g.commit("init", files={f"{GO}/old-name/main.go": "package main\n"}, date="2025-01-01T00:00:00Z")
    g.git("mv", f"{GO}/old-name", f"{GO}/new-name")
    g.squash(5, "rename plugin", {}, "2025-01-02T00:00:00Z")
    ch = detect(reader(g), Position("2025-01-01T00:00:00Z"), parse_config(None), have_config=False)
    assert [(p.name, p.version) for p in ch.plugins] == [("new-name", None), ("old-name", None)]


def test_bad_references_are_usage_errors(upstream: GitRepo, tmp_path: Path) -> None:
    r = reader(upstream)
    with pytest.raises(UsageError, match=r"ends in \(#4242\)"):
        r.resolve(parse_since("#4242"))
    with pytest.raises(UsageError, match="no such commit"):
        r.resolve(parse_since("deadbeefdeadbeef"))
    (tmp_path / "plain").mkdir()
    with pytest.raises(UsageError, match="not a git repository"):
        GitReader(tmp_path / "plain", "higress-group/higress")
    with pytest.raises(UsageError, match="no such directory"):
        GitReader(tmp_path / "missing", "higress-group/higress")
