"""``upstream-cursor.json``: where following upstream stopped, kept in the plugin-server repo.

    {
      "schemaVersion": 1,
      "upstream": "higress-group/higress",
      "last": {"merged": "2025-01-02T03:04:05Z", "pr": 1234, "sha": "<merge commit>"},
      "pending": {
        "key-auth": {"version": "1.2.0",
                     "prs": [{"number": 1230, "title": "...", "url": "...", "merged": "..."}]}
      }
    }

``last`` is the newest upstream merge handled; ``detect`` starts after it. ``pending`` holds
plugins that upstream changed but whose new artifact was not in the registry yet: ``detect``
reports them again until a pull brings a new artifact, or until they are older than the
expiry. The file moves with the sync pull request, so a merge is handled once: when the
pull request is merged.

Everything in the file is derived from upstream data (no wall-clock time), so two runs over
the same merges write the same bytes. Parsing and ``advance`` are pure.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterable

from sync.errors import ConfigError
from sync.fsutil import read_json, write_if_changed
from sync.names import check_name
from sync.times import utc_iso
from sync.upstream.model import Changes, PluginChange, Position, PrRef

SCHEMA = 1
DEFAULT_PENDING_DAYS = 30


@dataclass(frozen=True)
class PendingPlugin:
    name: str
    version: str | None
    prs: tuple[PrRef, ...]

    @property
    def first_merged(self) -> str | None:
        return min((p.merged for p in self.prs), default=None)

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "prs": [p.to_json() for p in self.prs]}

    def as_change(self) -> PluginChange:
        return PluginChange(name=self.name, prs=self.prs, version=self.version, pending=True)


@dataclass(frozen=True)
class Cursor:
    upstream: str
    last: Position | None = None
    pending: tuple[PendingPlugin, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "schemaVersion": SCHEMA,
            "upstream": self.upstream,
            "last": self.last.to_json() if self.last else None,
            "pending": {p.name: p.to_json() for p in sorted(self.pending, key=lambda p: p.name)},
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n"

    def carried(self) -> list[PluginChange]:
        """The pending plugins, as detection results to report again."""
        return [p.as_change() for p in self.pending]


def parse_cursor(raw: Any, where: str = "") -> Cursor:
    if not isinstance(raw, dict) or raw.get("schemaVersion") != SCHEMA:
        raise ConfigError(f"{where}not an upstream cursor (schemaVersion {SCHEMA})")
    upstream = raw.get("upstream")
    if not isinstance(upstream, str) or upstream.count("/") != 1:
        raise ConfigError(f"{where}'upstream' must be OWNER/REPO")
    last = Position.from_json(raw["last"], f"{where}last: ") if raw.get("last") is not None else None
    pending_raw = raw.get("pending") or {}
    if not isinstance(pending_raw, dict):
        raise ConfigError(f"{where}'pending' must be an object")
    pending = []
    for name, entry in sorted(pending_raw.items()):
        check_name(name, f"{where}pending: ")
        if not isinstance(entry, dict) or not isinstance(entry.get("prs", []), list):
            raise ConfigError(f"{where}pending {name}: expected an object with 'prs'")
        version = entry.get("version")
        pending.append(
            PendingPlugin(
                name,
                str(version) if version is not None else None,
                tuple(PrRef.from_json(p, f"{where}pending {name}: ") for p in entry.get("prs", [])),
            )
        )
    return Cursor(upstream, last, tuple(pending))


def load_cursor(path: Path) -> Cursor | None:
    """The cursor at ``path``; None when there is no such file."""
    raw = read_json(path)
    return None if raw is None else parse_cursor(raw, f"{path}: ")


def save_cursor(path: Path, cursor: Cursor) -> bool:
    """Write the cursor atomically; False when the file already held exactly this."""
    return write_if_changed(path, cursor.dumps())


@dataclass(frozen=True)
class Advance:
    """The cursor after a sync run, and what became of each detected plugin."""

    cursor: Cursor
    landed: tuple[str, ...]  # a new artifact is in the lock
    pending: tuple[str, ...]  # no new artifact yet: kept for the next run
    expired: tuple[str, ...]  # pending for longer than the expiry: dropped
    unserved: tuple[str, ...]  # not served here: nothing to wait for


def advance(
    changes: Changes,
    landed: Iterable[str],
    now: datetime,
    pending_days: int = DEFAULT_PENDING_DAYS,
    previous: Cursor | None = None,
) -> Advance:
    """Move the cursor past ``changes``. ``landed`` names the plugins whose lock entries changed.

    A detected plugin that is served but did not land stays pending, unless its oldest
    upstream PR was merged more than ``pending_days`` before ``now``.
    """
    landed_set = set(landed)
    limit = utc_iso(now - timedelta(days=pending_days))
    done, waiting, expired, unserved = [], [], [], []
    pending: list[PendingPlugin] = []
    for p in changes.plugins:
        if p.name in landed_set:
            done.append(p.name)
        elif p.served is False:
            unserved.append(p.name)
        else:
            entry = PendingPlugin(p.name, p.version, p.prs)
            if entry.first_merged is not None and entry.first_merged < limit:
                expired.append(p.name)
            else:
                waiting.append(p.name)
                pending.append(entry)
    last = changes.last if changes.last is not None else (previous.last if previous else None)
    cursor = Cursor(changes.upstream, last, tuple(pending))
    return Advance(cursor, tuple(done), tuple(waiting), tuple(expired), tuple(unserved))
