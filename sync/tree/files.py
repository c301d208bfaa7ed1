"""Renderers of the small files in the tree. Pure functions over lock entries."""

from __future__ import annotations

import json
import os
from typing import Any, Iterable

from sync import __version__
from sync.lock import LockEntry
from sync.tree.layout import WASM, url_path


def sha256_file_text(entry: LockEntry) -> str:
    """``plugin.wasm.sha256``, in ``sha256sum`` format."""
    return f"{entry.sha256}  {WASM}\n"


def metadata_text(entry: LockEntry) -> str:
    """``metadata.txt`` in the upstream plugin-server format, plus a SHA256 line."""
    modified = entry.pulled or entry.created or ""
    created = entry.created or entry.pulled or ""
    return (
        f"Plugin Name: {entry.name}\n"
        f"Size: {entry.size} bytes\n"
        f"Last Modified: {modified}\n"
        f"Created: {created}\n"
        f"MD5: {entry.md5}\n"
        f"SHA256: {entry.sha256}\n"
    )


def server_version() -> str:
    """The plugin server's own version, as the image build sets it."""
    return os.environ.get("PLUGIN_SERVER_VERSION") or f"plugin-sync {__version__}"


def index_document(entries: Iterable[LockEntry], server: str | None = None) -> dict[str, Any]:
    items = []
    latest = ""
    for e in sorted(entries, key=lambda e: e.key):
        latest = max(latest, e.pulled or "")
        items.append(
            {
                "name": e.name,
                "version": e.version,
                "path": url_path(e.name, e.version),
                "sha256": e.sha256,
                "md5": e.md5,
                "size": e.size,
                "source": e.source,
                "digest": e.digest,
                "format": e.format,
                "category": e.category,
                "created": e.created,
                "pulled": e.pulled,
                "files": sorted([WASM, *e.files]),
            }
        )
    return {
        "schemaVersion": 1,
        "server": server if server is not None else server_version(),
        "updated": latest or None,
        "count": len(items),
        "plugins": items,
    }


def index_json_text(entries: Iterable[LockEntry], server: str | None = None) -> str:
    return json.dumps(index_document(entries, server), indent=2, sort_keys=True) + "\n"
