"""What detection works with and reports, as value types: merges, positions in the upstream
history, and the plugins they changed (``Changes``, the detect document). Readers fill them
from git or the API; ``sync.upstream.changes`` decides which plugins merges touched.

A *position* marks the last merge already handled. Merges are ordered by merge time, then
by PR number, so two merges in the same second are still ordered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from sync.errors import ConfigError, UsageError
from sync.names import is_sha256
from sync.times import utc_iso

SCHEMA = 1
_PR_REF = re.compile(r"#?(\d{1,7})")
_SHA_REF = re.compile(r"[0-9a-fA-F]{7,40}")
_SUBJECT_PR = re.compile(r"\(#(\d+)\)\s*$")


def pr_of_subject(subject: str) -> int | None:
    """The PR number of a squash-merge subject ``Title (#123)``."""
    m = _SUBJECT_PR.search(subject)
    return int(m.group(1)) if m else None


def title_of_subject(subject: str) -> str:
    return _SUBJECT_PR.sub("", subject).rstrip()


@dataclass(frozen=True)
class SinceRef:
    """What ``--since`` named, before a reader resolves it."""

    kind: str  # time | pr | sha
    value: str

    def __str__(self) -> str:
        return f"#{self.value}" if self.kind == "pr" else self.value


def parse_since(text: str) -> SinceRef:
    """``#123``/``123`` (a PR), 7 to 40 hex digits (a commit), or an ISO 8601 time."""
    text = text.strip()
    if _PR_REF.fullmatch(text):
        return SinceRef("pr", text.lstrip("#"))
    if _SHA_REF.fullmatch(text) and not text.isdigit():
        return SinceRef("sha", text.lower())
    try:
        return SinceRef("time", utc_iso(text))
    except UsageError:
        raise UsageError(
            f"--since {text!r}: give a PR number (#123), a commit sha, or an ISO 8601 time"
        ) from None


@dataclass(frozen=True)
class Position:
    """The last merge handled: everything merged after it is new."""

    merged: str  # UTC ISO time
    pr: int | None = None
    sha: str | None = None

    def precedes(self, merged: str, number: int, sha: str | None = None) -> bool:
        """True if the merge (``merged``, ``number``, ``sha``) comes after this position."""
        if sha is not None and self.sha is not None and (sha.startswith(self.sha) or self.sha.startswith(sha)):
            return False
        if merged != self.merged:
            return merged > self.merged
        return self.pr is not None and number > self.pr

    def to_json(self) -> dict[str, Any]:
        return {"merged": self.merged, "pr": self.pr, "sha": self.sha}

    @classmethod
    def from_json(cls, raw: Any, where: str) -> "Position":
        if not isinstance(raw, dict) or not isinstance(raw.get("merged"), str):
            raise ConfigError(f"{where}expected an object with 'merged' (an ISO time)")
        pr, sha = raw.get("pr"), raw.get("sha")
        if pr is not None and (not isinstance(pr, int) or isinstance(pr, bool) or pr < 1):
            raise ConfigError(f"{where}'pr' must be a PR number")
        if sha is not None and (not isinstance(sha, str) or not _SHA_REF.fullmatch(sha)):
            raise ConfigError(f"{where}'sha' must be a commit sha")
        try:
            merged = utc_iso(raw["merged"])
        except UsageError as e:
            raise ConfigError(f"{where}{e}") from None
        return cls(merged, pr, sha)


@dataclass(frozen=True)
class Merge:
    """One PR merged into the upstream default branch."""

    number: int
    title: str
    url: str
    merged: str  # UTC ISO time
    sha: str  # the commit it made on the default branch
    paths: tuple[str, ...] = ()

    @property
    def order(self) -> tuple[str, int]:
        return (self.merged, self.number)

    @property
    def position(self) -> Position:
        return Position(self.merged, self.number, self.sha)


@dataclass(frozen=True)
class PrRef:
    number: int
    title: str
    url: str
    merged: str

    def to_json(self) -> dict[str, Any]:
        return {"number": self.number, "title": self.title, "url": self.url, "merged": self.merged}

    @classmethod
    def of(cls, m: Merge) -> "PrRef":
        return cls(m.number, m.title, m.url, m.merged)

    @classmethod
    def from_json(cls, raw: Any, where: str) -> "PrRef":
        try:
            return cls(int(raw["number"]), str(raw["title"]), str(raw["url"]), utc_iso(str(raw["merged"])))
        except (KeyError, TypeError, ValueError, UsageError) as e:
            raise ConfigError(f"{where}bad PR entry: {e}") from None


@dataclass(frozen=True)
class PluginChange:
    """A served plugin touched by upstream merges (or still pending from an earlier run)."""

    name: str
    prs: tuple[PrRef, ...]
    version: str | None = None
    dirs: tuple[str, ...] = ()  # upstream directories, e.g. plugins/wasm-go/extensions/x
    served: bool | None = None  # in plugins.yaml / the lock; None without a plugins.yaml
    pending: bool = False  # only carried over from the cursor, no new merge this time

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "dirs": list(self.dirs),
            "served": self.served,
            "pending": self.pending,
            "prs": [p.to_json() for p in self.prs],
        }

    @classmethod
    def from_json(cls, name: str, raw: Any, where: str) -> "PluginChange":
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}{name}: expected an object")
        prs = raw.get("prs") or []
        if not isinstance(prs, list):
            raise ConfigError(f"{where}{name}: 'prs' must be a list")
        version = raw.get("version")
        served = raw.get("served")
        return cls(
            name=name,
            prs=tuple(PrRef.from_json(p, f"{where}{name}: ") for p in prs),
            version=str(version) if version is not None else None,
            dirs=tuple(str(d) for d in raw.get("dirs") or []),
            served=bool(served) if served is not None else None,
            pending=bool(raw.get("pending", False)),
        )


@dataclass(frozen=True)
class SnapshotAdded:
    """A gateway release snapshot (``plugins/release/snapshots/X.Y.Z.json``) an upstream merge added."""

    gateway_version: str
    path: str
    sha256: str  # of the file's bytes at ``commit``
    commit: str  # the merge commit that added it
    pr: int | None = None
    merged: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"gatewayVersion": self.gateway_version, "path": self.path, "sha256": self.sha256,
                "commit": self.commit, "pr": self.pr, "merged": self.merged}

    @classmethod
    def from_json(cls, raw: Any, where: str) -> "SnapshotAdded":
        try:
            out = cls(str(raw["gatewayVersion"]), str(raw["path"]), str(raw["sha256"]), str(raw["commit"]),
                      int(raw["pr"]) if raw.get("pr") is not None else None, str(raw.get("merged") or ""))
        except (KeyError, TypeError, ValueError) as e:
            raise ConfigError(f"{where}bad snapshot entry: {e}") from None
        if not is_sha256(out.sha256) or not _SHA_REF.fullmatch(out.commit):
            raise ConfigError(f"{where}snapshot {out.gateway_version}: bad sha256 or commit")
        return out


@dataclass(frozen=True)
class OtherPath:
    """A changed path that belongs to no plugin (docs, shared libraries, CI, ...)."""

    path: str
    prs: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "prs": list(self.prs)}


@dataclass(frozen=True)
class Changes:
    """The result of one detection: the document ``plugin-sync detect --json`` prints."""

    upstream: str
    since: Position | None
    last: Position | None  # the newest merge handled (the cursor moves here); None: nothing known
    plugins: tuple[PluginChange, ...] = ()
    other: tuple[OtherPath, ...] = ()
    merges: tuple[Merge, ...] = ()
    plugin_names: Mapping[int, tuple[str, ...]] = field(default_factory=dict)  # PR -> plugins
    rules: Mapping[int, str] = field(default_factory=dict)  # PR -> "catalog" | "directories"
    snapshots: tuple[SnapshotAdded, ...] = ()  # gateway release snapshots added upstream
    warnings: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.plugins)

    def plugin(self, name: str) -> PluginChange | None:
        return next((p for p in self.plugins if p.name == name), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "schemaVersion": SCHEMA,
            "upstream": self.upstream,
            "since": self.since.to_json() if self.since else None,
            "last": self.last.to_json() if self.last else None,
            "changed": self.changed,
            "plugins": {p.name: p.to_json() for p in self.plugins},
            "other": [o.to_json() for o in self.other],
            "merges": [
                {
                    **PrRef.of(m).to_json(),
                    "sha": m.sha,
                    "plugins": list(self.plugin_names.get(m.number, ())),
                    "rule": self.rules.get(m.number, "directories"),
                }
                for m in self.merges
            ],
            "snapshots": [x.to_json() for x in self.snapshots],
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_json(cls, raw: Any, where: str = "") -> "Changes":
        """Read back a detect document (as far as ``propose`` needs it)."""
        if not isinstance(raw, dict) or raw.get("schemaVersion") != SCHEMA:
            raise ConfigError(f"{where}not a plugin-sync detect document (schemaVersion {SCHEMA})")
        plugins = raw.get("plugins") or {}
        if not isinstance(plugins, dict):
            raise ConfigError(f"{where}'plugins' must be an object")
        upstream = raw.get("upstream")
        if not isinstance(upstream, str):
            raise ConfigError(f"{where}'upstream' must be OWNER/REPO")
        return cls(
            upstream=upstream,
            since=Position.from_json(raw["since"], f"{where}since: ") if raw.get("since") else None,
            last=Position.from_json(raw["last"], f"{where}last: ") if raw.get("last") else None,
            plugins=tuple(PluginChange.from_json(n, p, where) for n, p in sorted(plugins.items())),
            snapshots=tuple(SnapshotAdded.from_json(x, f"{where}snapshots: ") for x in raw.get("snapshots") or []),
        )
