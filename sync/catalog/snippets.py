"""What the catalog's copy buttons put on the clipboard. Pure functions.

The page does not know the host name it is served under until it is viewed, so the
texts are written here against a placeholder base URL, ``PLACEHOLDER_BASE``, and the
page's script swaps it for the base it was loaded from (``http://<host>/plugins/``).
The placeholder is a URL that any YAML renderer writes as it is.

The WasmPlugin text is the one ``plugin-sync wasmplugin`` prints (``sync.wasmplugin``).
"""

from __future__ import annotations

from sync.lock import LockEntry
from sync.tree.layout import URL_PREFIX, WASM, url_path
from sync.wasmplugin import Placement, Served, render

PLACEHOLDER_ORIGIN = "http://plugin-server.invalid"
PLACEHOLDER_BASE = f"{PLACEHOLDER_ORIGIN}{URL_PREFIX}/"
PATTERN_PATH = f"${{name}}/${{version}}/{WASM}"  # the console's URL pattern, under the base


def plugin_path(name: str, version: str) -> str:
    """The plugin's URL relative to the tree root (the page's own directory)."""
    return f"{name}/{version}/{WASM}"


def served(entry: LockEntry) -> Served:
    return Served(entry.name, entry.version, url_path(entry.name, entry.version), entry.sha256)


def wasmplugin_yaml(entry: LockEntry, placement: Placement = Placement(), base: str = PLACEHOLDER_ORIGIN) -> str:
    """A WasmPlugin resource that loads ``entry`` from the server at ``base``, pinned by sha256."""
    return render(served(entry), base, placement=placement)
