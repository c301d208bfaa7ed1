"""The one place that knows where things live in the served tree.

    <root>/                          served at /plugins/
      index.json                     every plugin/version (see sync.tree.files)
      index.html catalog.css catalog.js
      .lock                          held by the writer (flock)
      .journal.json                  a commit in progress (see sync.tree.store)
      .verified.json                 what the last run checked of the store (sync.tree.verified)
      snapshot-inventory.json        built from a gateway release snapshot (sync.snapshot) ...
      .snapshot.json                 ... whose lock and inventory the tree keeps here
      <name>/
        <version> -> .store/<id>     pulled: a symlink, swapped with one rename
        <version>/                   hand-placed: a real directory
        .store/<id>/                 one artifact's files, never changed once complete
          plugin.wasm  plugin.wasm.gz  plugin.wasm.sha256  metadata.txt
          spec.yaml  README.md  README_EN.md

Several versions of one artifact link to the same store directory, so its bytes exist once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sync.filenames import EXTRA_FILES
from sync.filenames import WASM as WASM  # the tree serves it in each version directory
from sync.names import check_name, check_version, is_name, is_version

URL_PREFIX = "/plugins"
WASM_GZ = "plugin.wasm.gz"
SHA256_FILE = "plugin.wasm.sha256"
METADATA = "metadata.txt"
INDEX_JSON = "index.json"
CATALOG_FILES = ("index.html", "catalog.css", "catalog.js")
STORE = ".store"
LOCK_FILE = ".lock"
JOURNAL = ".journal.json"
VERIFIED = ".verified.json"
INVENTORY = "snapshot-inventory.json"  # a tree built from a snapshot: upstream's inventory
SNAPSHOT_STATE = ".snapshot.json"      # ... and the lock it was committed with (not served)
VERSION_FILES = (WASM, WASM_GZ, SHA256_FILE, METADATA, *EXTRA_FILES)


def url_path(name: str, version: str) -> str:
    return f"{URL_PREFIX}/{name}/{version}/{WASM}"


@dataclass(frozen=True)
class Tree:
    root: Path

    @property
    def index_json(self) -> Path:
        return self.root / INDEX_JSON

    @property
    def lock_file(self) -> Path:
        return self.root / LOCK_FILE

    @property
    def verified(self) -> Path:
        return self.root / VERIFIED

    @property
    def journal(self) -> Path:
        return self.root / JOURNAL

    @property
    def inventory(self) -> Path:
        return self.root / INVENTORY

    @property
    def snapshot_state(self) -> Path:
        return self.root / SNAPSHOT_STATE

    def plugin_dir(self, name: str) -> Path:
        return self.root / check_name(name)

    def version_dir(self, name: str, version: str) -> Path:
        return self.plugin_dir(name) / check_version(version)

    def wasm(self, name: str, version: str) -> Path:
        return self.version_dir(name, version) / WASM

    def store(self, name: str) -> Path:
        return self.plugin_dir(name) / STORE

    def store_dir(self, name: str, digest: str) -> Path:
        """Where the artifact with manifest ``digest`` of plugin ``name`` lives."""
        return self.store(name) / digest.replace("sha256:", "")[:32]

    def link_target(self, name: str, digest: str) -> str:
        """The relative symlink target from a version entry to its store directory."""
        return f"{STORE}/{self.store_dir(name, digest).name}"

    def is_pulled(self, name: str, version: str) -> bool:
        return self.version_dir(name, version).is_symlink()

    def is_hand_placed(self, name: str, version: str) -> bool:
        p = self.version_dir(name, version)
        return p.is_dir() and not p.is_symlink()

    def served(self) -> list[tuple[str, str]]:
        """Every (name, version) entry present in the tree, pulled or hand-placed, sorted."""
        out: list[tuple[str, str]] = []
        if not self.root.is_dir():
            return out
        for plugin in sorted(os.scandir(self.root), key=lambda d: d.name):
            if not plugin.is_dir(follow_symlinks=False) or not is_name(plugin.name):
                continue
            for v in sorted(os.scandir(plugin.path), key=lambda d: d.name):
                if is_version(v.name) and not v.name.startswith("."):
                    out.append((plugin.name, v.name))
        return out
