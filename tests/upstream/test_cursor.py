"""The upstream cursor: file model and how a run moves it."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from sync.propose.cursor import Cursor, PendingPlugin, advance, load_cursor, parse_cursor, save_cursor
from sync.errors import ConfigError
from sync.upstream.model import Changes, PluginChange, Position, PrRef

NOW = datetime(2025, 3, 1, tzinfo=timezone.utc)


def pr(n: int, merged: str) -> PrRef:
    return PrRef(n, f"PR {n}", f"https://github.com/higress-group/higress/pull/{n}", merged)


def changes(*plugins: PluginChange, last: Position | None = Position("2025-02-20T00:00:00Z", 30, "c" * 40)) -> Changes:
    return Changes("higress-group/higress", Position("2025-01-01T00:00:00Z", 1), last, plugins)


def test_round_trip_and_stable_bytes(tmp_path: Path) -> None:
    c = Cursor("higress-group/higress", Position("2025-01-02T03:04:05Z", 12, "a" * 40),
               (PendingPlugin("key-auth", "1.2.0", (pr(11, "2025-01-01T00:00:00Z"),)),))
    path = tmp_path / "upstream-cursor.json"
    assert save_cursor(path, c) is True
    assert save_cursor(path, c) is False  # same bytes: not rewritten
    assert load_cursor(path) == c
    raw = json.loads(path.read_text())
    assert raw["last"] == {"merged": "2025-01-02T03:04:05Z", "pr": 12, "sha": "a" * 40}
    assert raw["pending"]["key-auth"]["prs"][0]["number"] == 11
    assert not list(tmp_path.glob(".*"))  # no temporaries left


def test_missing_and_bad_files(tmp_path: Path) -> None:
    assert load_cursor(tmp_path / "none.json") is None
    bad = tmp_path / "c.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_cursor(bad)
    with pytest.raises(ConfigError, match="upstream cursor"):
        parse_cursor({"schemaVersion": 2})
    with pytest.raises(ConfigError, match="OWNER/REPO"):
        parse_cursor({"schemaVersion": 1, "upstream": "nope"})
    with pytest.raises(ConfigError, match="invalid plugin name"):
        parse_cursor({"schemaVersion": 1, "upstream": "a/b", "pending": {"../x": {"prs": []}}})
    with pytest.raises(ConfigError, match="merged"):
        parse_cursor({"schemaVersion": 1, "upstream": "a/b", "last": {"pr": 3}})


def test_advance_lands_keeps_pending_expires_and_drops_unserved() -> None:
    ch = changes(
        PluginChange("basic-auth", (pr(20, "2025-02-10T00:00:00Z"),), "1.1.0", served=True),
        PluginChange("key-auth", (pr(21, "2025-02-11T00:00:00Z"),), "2.0.0", served=True),
        PluginChange("old-one", (pr(2, "2025-01-05T00:00:00Z"), pr(25, "2025-02-15T00:00:00Z")), None,
                     served=True, pending=True),
        PluginChange("not-ours", (pr(22, "2025-02-12T00:00:00Z"),), None, served=False),
        PluginChange("unknown", (pr(23, "2025-02-13T00:00:00Z"),), None, served=None),
    )
    a = advance(ch, landed=["basic-auth"], now=NOW, pending_days=30)
    assert a.landed == ("basic-auth",)
    assert a.pending == ("key-auth", "unknown")
    assert a.expired == ("old-one",)  # first PR merged more than 30 days ago
    assert a.unserved == ("not-ours",)
    assert a.cursor.last == Position("2025-02-20T00:00:00Z", 30, "c" * 40)
    assert [p.name for p in a.cursor.pending] == ["key-auth", "unknown"]
    # the same input gives the same bytes: no wall-clock time in the file
    assert advance(ch, ["basic-auth"], NOW, 30).cursor.dumps() == a.cursor.dumps()


def test_advance_without_merges_keeps_the_previous_position() -> None:
    prev = Cursor("higress-group/higress", Position("2025-01-01T00:00:00Z", 5, "d" * 40))
    a = advance(changes(last=None), [], NOW, previous=prev)
    assert a.cursor.last == prev.last and a.cursor.pending == ()
