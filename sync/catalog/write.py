"""Writing the catalog into the tree: the I/O edge around ``sync.catalog.page``.

``write_catalog`` is called by the step that writes ``index.json``. Each file is written
atomically and only when its bytes change, so a pull that changes nothing rewrites nothing.
"""

from __future__ import annotations

import re
from importlib import resources
from itertools import groupby
from pathlib import Path
from typing import Iterable

from sync.catalog.markdown import render_markdown, split_front_matter
from sync.catalog.page import Header, PluginView, Readme, render_page, version_key
from sync.catalog.snippets import served, wasmplugin_yaml
from sync.filenames import README, README_EN
from sync.fsutil import write_if_changed
from sync.lock import LockEntry
from sync.tree.files import index_document
from sync.tree.layout import CATALOG_FILES, Tree
from sync.wasmplugin import load_spec

README_LIMIT = 256 * 1024  # bytes of a README shown; the rest is cut with a note
DESCRIPTION_LIMIT = 200
ASSETS = ("catalog.css", "catalog.js")
# README_EN.md is English by the publishing convention; README.md is the plugin's default
# language, Chinese for the Higress plugins: labelled by what its text holds.
_CJK = re.compile(r"[\u3400-\u9fff]")


def asset(name: str) -> bytes:
    """A static file shipped with this package (``catalog.css``, ``catalog.js``)."""
    return resources.files("sync.catalog").joinpath(name).read_bytes()


def _read_inside(tree: Tree, path: Path) -> str | None:
    """The text of ``path`` if it is a regular file that resolves inside the tree, else None."""
    try:
        real = path.resolve(strict=True)
        if not real.is_relative_to(tree.root.resolve()) or not real.is_file():
            return None
        with open(real, "rb") as f:
            data = f.read(README_LIMIT + 1)
    except (OSError, RuntimeError):
        return None
    text = data[:README_LIMIT].decode("utf-8", errors="replace")
    if len(data) > README_LIMIT:
        text += f"\n\n*(README cut at {README_LIMIT // 1024} KiB)*\n"
    return text


def _description(meta: dict[str, object]) -> str | None:
    desc = meta.get("description")
    if not isinstance(desc, str) or not desc.strip():
        return None
    desc = " ".join(desc.split())
    return desc if len(desc) <= DESCRIPTION_LIMIT else desc[: DESCRIPTION_LIMIT - 1].rstrip() + "…"


def plugin_view(tree: Tree, entries: list[LockEntry]) -> PluginView:
    """Everything the page shows about one plugin: its versions and its newest README."""
    entries = sorted(entries, key=lambda e: version_key(e.version), reverse=True)
    newest = entries[0]
    category = next((e.category for e in entries if e.category), None)
    readmes: list[Readme] = []
    description = None
    vdir = tree.version_dir(newest.name, newest.version)
    for fname in (README_EN, README):
        text = _read_inside(tree, vdir / fname)
        if text is None:
            continue
        meta, _ = split_front_matter(text)
        description = description or _description(meta)
        if fname == README_EN:
            lang, label = "en", "English"
        elif _CJK.search(text):
            lang, label = "zh", "中文"
        else:
            lang, label = "", README
        readmes.append(Readme(lang, label, render_markdown(text)))
    return PluginView(
        name=newest.name,
        category=category,
        description=description,
        entries=tuple(entries),
        readmes=tuple(readmes),
        readme_version=newest.version if readmes else None,
    )


def catalog_files(tree: Tree, entries: Iterable[LockEntry], server: str | None = None) -> dict[str, bytes]:
    """The catalog's files by name: ``index.html`` made from the tree, and the static assets."""
    entries = sorted(entries, key=lambda e: e.key)
    doc = index_document(entries, server)
    views = [plugin_view(tree, list(group)) for _, group in groupby(entries, key=lambda e: e.name)]
    header = Header(server=doc["server"], updated=doc["updated"], plugins=len(views), versions=doc["count"])
    # the WasmPlugin snippets carry the phase and priority of each version's spec.yaml
    yamls = {e.key: wasmplugin_yaml(e, load_spec(tree, served(e))) for e in entries}
    files = {"index.html": render_page(header, views, lambda e: yamls[e.key]).encode("utf-8")}
    files.update({name: asset(name) for name in ASSETS})
    assert set(files) == set(CATALOG_FILES)
    return files


def write_catalog(tree: Tree, entries: Iterable[LockEntry], server: str | None = None) -> list[str]:
    """Write the catalog at the root of ``tree``. Returns the names of the files that changed."""
    changed = []
    for name, data in catalog_files(tree, entries, server).items():
        if write_if_changed(tree.root / name, data):
            changed.append(name)
    return changed
