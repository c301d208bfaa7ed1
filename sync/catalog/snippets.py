"""What the catalog's copy buttons put on the clipboard. Pure functions.

The page does not know the host name it is served under until it is viewed, so the
texts are written here against a placeholder base URL, ``PLACEHOLDER_BASE``, and the
page's script swaps it for the base it was loaded from (``http://<host>/plugins/``).
The placeholder is a URL any YAML renderer writes as it is.
"""

from __future__ import annotations

from sync.lock import LockEntry
from sync.tree.layout import URL_PREFIX, WASM

PLACEHOLDER_BASE = f"http://plugin-server.invalid{URL_PREFIX}/"
PATTERN_PATH = f"${{name}}/${{version}}/{WASM}"  # the console's URL pattern, under the base


def plugin_path(name: str, version: str) -> str:
    """The plugin's URL relative to the tree root (the page's own directory)."""
    return f"{name}/{version}/{WASM}"


def wasmplugin_yaml(entry: LockEntry, base: str = PLACEHOLDER_BASE) -> str:
    """A WasmPlugin resource that loads ``entry`` from this server, pinned by sha256."""
    return (
        "apiVersion: extensions.higress.io/v1alpha1\n"
        "kind: WasmPlugin\n"
        "metadata:\n"
        f"  name: {entry.name}\n"
        "  namespace: higress-system\n"
        "spec:\n"
        f"  url: {base}{plugin_path(entry.name, entry.version)}\n"
        f"  sha256: {entry.sha256}\n"
    )
