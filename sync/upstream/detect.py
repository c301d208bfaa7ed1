"""Detection: which served plugins did upstream merges change since a position.

The reader (git or API) supplies merges and file contents; everything else is pure.
"""

from __future__ import annotations

from typing import Iterable, Protocol

from sync.config import Config
from sync.upstream.model import Changes, Merge, PluginChange, Position, SinceRef, after, build_changes, touched
from sync.upstream.paths import version_of


class Reader(Protocol):
    upstream: str  # the canonical OWNER/REPO (after a move)

    def canonical(self, name: str) -> str: ...

    def resolve(self, ref: SinceRef) -> Position: ...

    def merges_after(self, position: Position | None) -> list[Merge]: ...

    def read_file(self, sha: str, path: str) -> bytes | None: ...


def detect(
    reader: Reader,
    since: Position | None,
    config: Config,
    *,
    have_config: bool,
    served_names: Iterable[str] = (),
    carried: Iterable[PluginChange] = (),
) -> Changes:
    """The plugins changed by merges after ``since``, with versions read from the merged tree."""
    merges = after(since, reader.merges_after(since))
    t = touched(merges, config)
    versions: dict[str, str | None] = {}
    for name, ms in t.plugins.items():
        newest_sha = ms[-1].sha
        files: dict[str, bytes | None] = {}
        for d in sorted(t.dirs[name]):
            for path in d.version_files():
                files[path] = reader.read_file(newest_sha, path)
        versions[name] = version_of(files)
    return build_changes(
        reader.upstream,
        since,
        merges,
        config,
        versions,
        have_config=have_config,
        served_names=served_names,
        carried=carried,
    )
