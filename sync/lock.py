"""``plugins.lock.json``: the resolved state, one entry per served plugin/version.

    {
      "schemaVersion": 1,
      "plugins": {
        "basic-auth": {
          "2.0.0": {
            "source": "oci://higress-registry.cn-hangzhou.cr.aliyuncs.com/plugins/basic-auth:2.0.0",
            "digest": "sha256:<manifest>",
            "format": "tar+gzip",
            "sha256": "<plugin.wasm>", "md5": "<plugin.wasm>", "size": 123,
            "files": {"spec.yaml": "<sha256>", "README.md": "<sha256>"},
            "created": "2025-01-01T00:00:00Z", "pulled": "2025-01-02T00:00:00Z",
            "category": "Auth"
          }
        }
      }
    }

Hand-placed plugins have ``"source": "local"`` and ``"format": "local"``. Parsing and
diffing are pure; ``load_lock``/``save_lock`` are the only I/O.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Iterable

from sync.errors import ConfigError
from sync.artifact import FORMATS as artifact_formats
from sync.filenames import EXTRA_FILES
from sync.fsutil import read_json, write_if_changed
from sync.names import check_name, check_version, is_digest, is_sha256

LOCAL = "local"
FORMATS = (*(f.name for f in artifact_formats), LOCAL)  # the names the lock accepts
_HEX32 = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class LockEntry:
    name: str
    version: str
    source: str
    digest: str | None
    format: str
    sha256: str
    md5: str
    size: int
    files: dict[str, str] = field(default_factory=dict)
    created: str | None = None
    pulled: str | None = None
    category: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.name, self.version)

    @property
    def is_local(self) -> bool:
        return self.source == LOCAL

    def same_content(self, other: "LockEntry") -> bool:
        """Same bytes served (wasm and extra files), whatever the timestamps say."""
        return (self.sha256, self.files, self.digest) == (other.sha256, other.files, other.digest)

    def to_json(self) -> dict[str, Any]:
        """The entry as the lock file writes it under its name and version: unset fields left
        out. (``dataclasses.asdict`` deep-copies every value: a commit writes hundreds of
        entries, and that copying was a third of its time.)"""
        d = {k: getattr(self, k) for k in _STORED}
        d["files"] = dict(self.files)
        return {k: v for k, v in d.items() if v not in (None, {})}


_STORED = tuple(f.name for f in fields(LockEntry) if f.name not in ("name", "version"))


@dataclass
class Lock:
    entries: dict[tuple[str, str], LockEntry] = field(default_factory=dict)

    def get(self, name: str, version: str) -> LockEntry | None:
        return self.entries.get((name, version))

    def for_plugin(self, name: str) -> list[LockEntry]:
        return [e for e in self.sorted() if e.name == name]

    def names(self) -> list[str]:
        return sorted({n for n, _ in self.entries})

    def sorted(self) -> list[LockEntry]:
        return [self.entries[k] for k in sorted(self.entries)]

    def put(self, entry: LockEntry) -> None:
        self.entries[entry.key] = entry

    def remove(self, name: str, version: str) -> None:
        self.entries.pop((name, version), None)

    def to_json(self) -> dict[str, Any]:
        plugins: dict[str, dict[str, Any]] = {}
        for e in self.sorted():
            plugins.setdefault(e.name, {})[e.version] = e.to_json()
        return {"schemaVersion": 1, "plugins": plugins}

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_entries(cls, entries: Iterable[LockEntry]) -> "Lock":
        return cls({e.key: e for e in entries})


def _text(raw: dict[str, Any], key: str, w: str) -> str:
    """Field ``key`` of an entry, which must be a string, else ConfigError naming it."""
    value = raw.get(key)
    if not isinstance(value, str):
        raise ConfigError(f"{w}field {key!r} must be a string, got {json.dumps(value)}")
    return value


def _optional(raw: dict[str, Any], key: str, w: str) -> str | None:
    """An optional field: absent (or null), else a string."""
    return None if raw.get(key) is None else _text(raw, key, w)


def _entry(name: str, version: str, raw: Any, where: str) -> LockEntry:
    """One entry, every field type-checked: a bad lock is a ConfigError naming the field."""
    w = f"{where}{name}/{version}: "
    if not isinstance(raw, dict):
        raise ConfigError(f"{w}expected an object")
    size = raw.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ConfigError(f"{w}field 'size' must be a whole number of bytes, got {json.dumps(size)}")
    files = raw.get("files", {})
    if not isinstance(files, dict):
        raise ConfigError(f"{w}field 'files' must be an object of file name to sha256, got {json.dumps(files)}")
    for fname, sha in files.items():
        if fname not in EXTRA_FILES or not is_sha256(sha):
            raise ConfigError(f"{w}bad files entry {fname!r}")
    entry = LockEntry(
        name=name,
        version=version,
        source=_text(raw, "source", w),
        digest=_optional(raw, "digest", w),
        format=_text(raw, "format", w),
        sha256=_text(raw, "sha256", w),
        md5=_text(raw, "md5", w),
        size=size,
        files=dict(files),
        created=_time(raw, "created", w),
        pulled=_time(raw, "pulled", w),
        category=_optional(raw, "category", w),
    )
    if entry.format not in FORMATS:
        raise ConfigError(f"{w}unknown format {entry.format!r}")
    if not is_sha256(entry.sha256) or not _HEX32.fullmatch(entry.md5):
        raise ConfigError(f"{w}bad sha256 or md5")
    if not entry.is_local and not is_digest(entry.digest):
        raise ConfigError(f"{w}bad digest {entry.digest!r}")
    return entry


def _time(raw: dict[str, Any], key: str, w: str) -> str | None:
    """A time field: absent, or one line of text (``pulled`` as ``sync.times`` writes it; ``created``
    as the artifact's annotation says). It goes into metadata.txt, so no control characters."""
    value = _optional(raw, key, w)
    if value is not None and not value.isprintable():
        raise ConfigError(f"{w}field {key!r} must be one line of printable text, got {json.dumps(value)}")
    return value


def parse_lock(raw: Any, where: str = "") -> Lock:
    if not isinstance(raw, dict) or raw.get("schemaVersion") != 1 or not isinstance(raw.get("plugins", {}), dict):
        raise ConfigError(f"{where}not a plugins lock (schemaVersion 1)")
    lock = Lock()
    for name, versions in raw.get("plugins", {}).items():
        check_name(name, where)
        if not isinstance(versions, dict):
            raise ConfigError(f"{where}{name}: expected an object of versions")
        for version, entry in versions.items():
            check_version(version, f"{where}{name}: ")
            lock.put(_entry(name, version, entry, where))
    return lock


def load_lock(path: Path) -> Lock:
    """The lock at ``path``; an absent file is an empty lock."""
    raw = read_json(path)
    return Lock() if raw is None else parse_lock(raw, f"{path}: ")


def save_lock(path: Path, lock: Lock) -> bool:
    """Write the lock atomically; returns False when the file already held it."""
    return write_if_changed(path, lock.dumps())


@dataclass(frozen=True)
class LockDiff:
    added: list[LockEntry]
    removed: list[LockEntry]
    changed: list[tuple[LockEntry, LockEntry]]  # (old, new)
    unchanged: list[LockEntry]

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def rows(self) -> list[tuple[LockEntry | None, LockEntry | None]]:
        """Every changed entry as ``(old, new)``, by plugin and version: ``(None, new)`` added,
        ``(old, None)`` removed. What each lock-diff table (PR body, release notes) lists."""
        keyed: list[tuple[tuple[str, str], LockEntry | None, LockEntry | None]] = [
            *((e.key, None, e) for e in self.added), *((n.key, o, n) for o, n in self.changed),
            *((e.key, e, None) for e in self.removed)]
        return [(o, n) for _, o, n in sorted(keyed, key=lambda r: r[0])]

    def plugins(self) -> list[str]:
        """Names of plugins with any change, sorted."""
        names = {e.name for e in self.added + self.removed} | {n.name for _, n in self.changed}
        return sorted(names)


def diff_locks(old: Lock, new: Lock) -> LockDiff:
    """What changed between two locks, entry by entry. Timestamps alone are not a change."""
    added, removed, changed, unchanged = [], [], [], []
    for key in sorted(set(old.entries) | set(new.entries)):
        o, n = old.entries.get(key), new.entries.get(key)
        if o is None and n is not None:
            added.append(n)
        elif n is None and o is not None:
            removed.append(o)
        elif o is not None and n is not None:
            (unchanged.append(n) if o.same_content(n) else changed.append((o, n)))
    return LockDiff(added, removed, changed, unchanged)
