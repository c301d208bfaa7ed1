"""Where plugins live in the upstream source tree, and what their version files say.

Pure functions: a changed path maps to an extension directory (or to nothing), and the
text of a ``VERSION`` or ``Cargo.toml`` file maps to a version (or to nothing).

Upstream layout (a plugin's inputs are named by the catalog once it exists: ``inputs``)::

    plugins/wasm-go/extensions/<dir>/     VERSION
    plugins/wasm-cpp/extensions/<dir>/    VERSION        (<dir> uses underscores)
    plugins/wasm-rust/extensions/<dir>/   Cargo.toml, sometimes VERSION
    plugins/release/catalog.json          the plugin catalog
    plugins/release/snapshots/X.Y.Z.json  a gateway release's plugin set
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sync.names import is_version
from sync.versions import parse as parse_version

LANGUAGES = ("go", "cpp", "rust")
VERSION_FILE = "VERSION"
CARGO_FILE = "Cargo.toml"
CATALOG_PATH = "plugins/release/catalog.json"  # which paths feed which plugin (since mid-2026)
SNAPSHOTS_DIR = "plugins/release/snapshots"  # one immutable X.Y.Z.json per gateway release


def snapshot_version(path: str) -> str | None:
    """The gateway version of a release snapshot path ``plugins/release/snapshots/X.Y.Z.json``."""
    prefix = SNAPSHOTS_DIR + "/"
    if not path.startswith(prefix) or not path.endswith(".json"):
        return None
    name = path[len(prefix):-len(".json")]
    return name if "/" not in name and parse_version(name) is not None else None


def extensions_prefix(language: str) -> str:
    return f"plugins/wasm-{language}/extensions/"


@dataclass(frozen=True, order=True)
class ExtensionDir:
    """One upstream plugin source directory."""

    language: str  # go | cpp | rust
    name: str  # the directory name under extensions/

    @property
    def path(self) -> str:
        return extensions_prefix(self.language) + self.name

    def version_files(self) -> tuple[str, ...]:
        """Files that may state the version, in the order they are trusted."""
        files = [f"{self.path}/{VERSION_FILE}"]
        if self.language == "rust":
            files.append(f"{self.path}/{CARGO_FILE}")
        return tuple(files)


def extension_dir(path: str) -> ExtensionDir | None:
    """The extension directory a changed path belongs to, or None for any other path.

    A file directly in ``extensions/`` (a README, a Makefile) belongs to no plugin.
    """
    for language in LANGUAGES:
        prefix = extensions_prefix(language)
        if path.startswith(prefix):
            rest = path[len(prefix):]
            if "/" not in rest:
                return None
            name = rest.split("/", 1)[0]
            if not name or name.startswith("."):
                return None
            return ExtensionDir(language, name)
    return None


def _clean(text: str) -> str | None:
    value = text.strip().strip("\"'")
    if value[:1] in ("v", "V") and value[1:2].isdigit():
        value = value[1:]
    if not value or not value[0].isdigit() or not is_version(value):
        return None
    return value


def version_from_version_file(text: str) -> str | None:
    """The version in a ``VERSION`` file: its first non-blank line (a leading ``v`` dropped)."""
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            return _clean(line)
    return None


_SECTION = re.compile(r"^\s*\[\s*([A-Za-z0-9_.-]+)\s*\]\s*(?:#.*)?$")
_VERSION_KEY = re.compile(r"""^\s*version\s*=\s*(?:"([^"]*)"|'([^']*)')\s*(?:#.*)?$""")


def version_from_cargo(text: str) -> str | None:
    """``version`` of the ``[package]`` table of a ``Cargo.toml``; None for a workspace version."""
    section = None
    for line in text.splitlines():
        m = _SECTION.match(line)
        if m:
            section = m.group(1)
            continue
        if section != "package":
            continue
        v = _VERSION_KEY.match(line)
        if v:
            return _clean(v.group(1) if v.group(1) is not None else v.group(2))
    return None


def version_of(files: dict[str, bytes | None]) -> str | None:
    """The version stated by the first readable version file (path -> bytes, None if absent)."""
    for path, data in files.items():
        if data is None:
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        found = version_from_cargo(text) if path.endswith(CARGO_FILE) else version_from_version_file(text)
        if found:
            return found
    return None
