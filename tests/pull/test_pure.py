"""Decisions as pure functions: ranges, manifest shapes, references, lock diffs."""

from __future__ import annotations

import json

import pytest

from sync.artifact import plan
from sync.errors import ArtifactError, ConfigError
from sync.lock import Lock, LockEntry, diff_locks
from sync.oci.manifest import Manifest
from sync.oci.reference import parse_source
from sync.oci.versions import best_tag
from sync.sample import build_artifact, wasm_module
from tests.support.locks import entry

TAGS = ["1.0.0", "2.0.0", "2.0.3", "2.1.0-rc.1", "3.0.0", "latest", "v2.0.9", "2.0"]


@pytest.mark.parametrize("rng, expect", [
    (">=2.0.0 <3", "2.0.9"[0:0] or "v2.0.9"),
    ("^2.0.0", "v2.0.9"),
    ("~2.0", "v2.0.9"),
    ("2.0.3", "2.0.3"),
    (">=2.1.0-rc.0", "3.0.0"),
    (">=2.1.0-rc.0 <3", "2.1.0-rc.1"),
    (">4", None),
    ("<2", "1.0.0"),
])
def test_best_tag(rng: str, expect: str | None) -> None:
    assert best_tag(TAGS, rng) == expect


def test_plan_recognises_both_formats_and_refuses_others() -> None:
    tgz = Manifest.parse(build_artifact(wasm_module(64), "tar+gzip", spec="x", readme="y").manifest)
    p = plan(tgz)
    assert p.format == "tar+gzip" and set(p.extras) == {"spec.yaml", "README.md"}
    raw = Manifest.parse(build_artifact(wasm_module(64), "wasm-layer").manifest)
    assert plan(raw).format == "wasm-layer"

    doc = json.loads(tgz.raw)
    doc["layers"].append(json.loads(raw.raw)["layers"][0])
    with pytest.raises(ArtifactError, match="more than one wasm layer"):
        plan(Manifest.parse(json.dumps(doc).encode()))
    doc["layers"] = [dict(doc["layers"][0], mediaType="application/x-foo")]
    with pytest.raises(ArtifactError, match="no plugin layer .* found: application/x-foo"):
        plan(Manifest.parse(json.dumps(doc).encode()))
    with pytest.raises(ArtifactError, match="unknown manifest media type"):
        Manifest.parse(json.dumps(dict(doc, mediaType="application/x-weird")).encode())
    with pytest.raises(ArtifactError, match="image index"):
        Manifest.parse(json.dumps({"schemaVersion": 2, "manifests": []}).encode())


@pytest.mark.parametrize("text, host, repo, tag", [
    ("oci://h.example.com/plugins/a:1.0.0", "h.example.com", "plugins/a", "1.0.0"),
    ("127.0.0.1:5000/plugins/a:2", "127.0.0.1:5000", "plugins/a", "2"),
    ("plugins/a:3", "default.example", "plugins/a", "3"),
    ("mcp-server/all-in-one:2.0.0", "default.example", "mcp-server/all-in-one", "2.0.0"),
])
def test_references(text: str, host: str, repo: str, tag: str) -> None:
    s = parse_source(text, "default.example")
    assert (s.host, s.repository, s.tag) == (host, repo, tag)
    assert parse_source(s.reference(), "x") == s


@pytest.mark.parametrize("bad", ["", "oci://", "oci://host", "oci://h/UPPER:1", "oci://h/a/../b:1", "oci-layout:x", "http://h/a:1"])
def test_bad_references(bad: str) -> None:
    with pytest.raises(ConfigError):
        parse_source(bad, "d.example")


def _e(name: str, version: str, sha: str, pulled: str = "t1") -> LockEntry:
    return entry(name, version, sha, pulled=pulled, sha256=sha * 64)


def test_diff_locks_ignores_timestamps() -> None:
    old = Lock.from_entries([_e("a", "1", "a"), _e("b", "1", "b"), _e("c", "1", "c")])
    new = Lock.from_entries([_e("a", "1", "a", pulled="t2"), _e("b", "1", "d"), _e("e", "1", "e")])
    d = diff_locks(old, new)
    assert [x.name for x in d.added] == ["e"]
    assert [x.name for x in d.removed] == ["c"]
    assert [(o.name, n.sha256[0]) for o, n in d.changed] == [("b", "d")]
    assert [x.name for x in d.unchanged] == ["a"]
    assert d.plugins() == ["b", "c", "e"]
    assert diff_locks(old, old).empty


def test_a_plain_pull_locks_a_failed_plugin_but_serves_only_what_the_tree_holds() -> None:
    """The lock keeps a failed plugin's entries (the next pull retries it); the tree serves
    them only where they are still served intact, as ``--locked`` decides."""
    from sync.pull.plan import plan, serving
    from tests.support.locks import lock

    old = lock({"a@1.0.0": 1, "b@1.0.0": 1, "c@1.0.0": 1, "h@0.1.0": "local"})
    fresh = {"a": [entry("a", "1.0.0", 2)]}  # a updated, b failed, c left alone (pull a b)
    intact = {("c", "1.0.0")}
    still = lambda e: e.key in intact  # noqa: E731 - the tree's answer, as a table
    new = plan(old, fresh, {"b"}, locked=False, prune=False, still_served=still)
    assert new.entries == {**old.entries, ("a", "1.0.0"): fresh["a"][0]}
    assert sorted(serving(new, fresh, still).entries) == [("a", "1.0.0"), ("c", "1.0.0"), ("h", "0.1.0")]
    intact.add(("b", "1.0.0"))  # b's old version still served: it keeps serving it
    assert ("b", "1.0.0") in serving(new, fresh, still).entries
    # an entry this run fetched is served as fetched, not an old one under the same key
    assert serving(old, fresh, lambda e: False).entries.keys() == {("h", "0.1.0")}
