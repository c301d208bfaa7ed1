"""Writing the catalog into the tree: the I/O edge around ``sync.catalog.page``.

``write_catalog`` is called by the step that writes ``index.json``. Each file is written
atomically and only when its bytes change, so a pull that changes nothing rewrites nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import cache
from importlib import resources, util
from itertools import groupby
from pathlib import Path
from typing import Iterable

from sync import wasmplugin
from sync.catalog import page, snippets
from sync.catalog.page import GENERATOR, Header, PluginView, Readme, render_page, version_key
from sync.catalog.snippets import wasmplugin_yaml
from sync.filenames import README, README_EN, SPEC
from sync.fsutil import write_if_changed
from sync.lock import LockEntry
from sync.tree import files as tree_files
from sync.tree.files import index_document
from sync.tree.layout import CATALOG_FILES, Tree
from sync.wasmplugin import placement_of_file

README_LIMIT = 256 * 1024  # bytes of a README shown; the rest is cut with a note
DESCRIPTION_LIMIT = 200
ASSETS = ("catalog.css", "catalog.js")
# README_EN.md is English by the publishing convention; README.md is the plugin's default
# language, Chinese for the Higress plugins: labelled by what its text holds.
_CJK = re.compile(r"[\u3400-\u9fff]")
_SEAL = re.compile(rb"<!-- sha256:([0-9a-f]{64}) -->\n\Z")
_GENERATOR = re.compile(r'<meta name="generator" content="' + re.escape(GENERATOR) + r' ([0-9a-f]{64})">')


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


def _files_of(tree: Tree, entry: LockEntry) -> Path:
    """Where ``entry``'s files are: its store directory when pulled (the version directory
    links there, and it is whole before the commit links it), else its own directory."""
    if entry.digest and not entry.is_local:
        return tree.store_dir(entry.name, entry.digest)
    return tree.version_dir(entry.name, entry.version)


def plugin_view(tree: Tree, entries: list[LockEntry]) -> PluginView:
    """Everything the page shows about one plugin: its versions and its newest README."""
    from sync.catalog.markdown import render_markdown, split_front_matter  # markdown-it: only to make a page

    entries = sorted(entries, key=lambda e: version_key(e.version), reverse=True)
    newest = entries[0]
    category = next((e.category for e in entries if e.category), None)
    readmes: list[Readme] = []
    description = None
    vdir = _files_of(tree, newest)
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


@cache
def _renderer() -> bytes:
    """The digest of the code and assets the page is made with: a new renderer makes a new page."""
    h = hashlib.sha256()
    # the Markdown renderer by its file: importing it (markdown-it) is for a page made anew
    spec = util.find_spec("sync.catalog.markdown")
    assert spec is not None and spec.origin
    for file in (page.__file__, spec.origin, snippets.__file__, wasmplugin.__file__, tree_files.__file__, __file__):
        h.update(Path(str(file)).read_bytes())
    for name in ASSETS:
        h.update(asset(name))
    return h.digest()


def fingerprint(entries: Iterable[LockEntry], server: str | None) -> str:
    """What the page is made from: the served entries (the READMEs and specs it reads are
    theirs, by digest), the server's name and the renderer."""
    h = hashlib.sha256(_renderer())
    h.update(json.dumps([[e.to_json() for e in sorted(entries, key=lambda e: e.key)], server],
                        sort_keys=True).encode())
    return h.hexdigest()


class Parts:
    """The page's pieces, each kept by what it is made from: a plugin's view (its versions,
    README and description) and a version's WasmPlugin snippet. A pull makes them for each
    artifact it downloaded as its result comes in, while the other downloads run; the page
    at the commit then reuses every piece made from the same entries."""

    def __init__(self) -> None:
        self.views: dict[tuple[str, str], PluginView] = {}
        self.yamls: dict[tuple[str, str], str] = {}

    @staticmethod
    def _key(tree: Tree, entries: Iterable[LockEntry]) -> tuple[str, str]:
        return str(tree.root), json.dumps([e.to_json() for e in entries], sort_keys=True)

    def view(self, tree: Tree, entries: list[LockEntry]) -> PluginView:
        key = self._key(tree, entries)
        if key not in self.views:
            self.views[key] = plugin_view(tree, entries)
        return self.views[key]

    def yaml(self, tree: Tree, entry: LockEntry) -> str:
        """The WasmPlugin snippet, with the phase and priority of the version's spec.yaml."""
        key = self._key(tree, [entry])
        if key not in self.yamls:
            spec = _files_of(tree, entry) / SPEC
            self.yamls[key] = wasmplugin_yaml(entry, placement_of_file(spec))
        return self.yamls[key]

    def make(self, tree: Tree, entries: Iterable[LockEntry]) -> None:
        """Make the pieces of ``entries`` now (one plugin's, say)."""
        entries = sorted(entries, key=lambda e: e.key)
        for _, group in groupby(entries, key=lambda e: e.name):
            self.view(tree, list(group))
        for e in entries:
            self.yaml(tree, e)


def catalog_files(tree: Tree, entries: Iterable[LockEntry], server: str | None = None,
                  made_from: str | None = None, parts: Parts | None = None) -> dict[str, bytes]:
    """The catalog's files by name: ``index.html`` made from the tree, and the static assets
    (``made_from``: the entries' ``fingerprint``, when the caller has it; ``parts``: pieces
    made before)."""
    parts = parts or Parts()
    entries = sorted(entries, key=lambda e: e.key)
    doc = index_document(entries, server)
    views = [parts.view(tree, list(group)) for _, group in groupby(entries, key=lambda e: e.name)]
    header = Header(server=doc["server"], updated=doc["updated"], plugins=len(views), versions=doc["count"],
                    fingerprint=made_from or fingerprint(entries, server))
    files = {"index.html": _sealed(render_page(header, views, lambda e: parts.yaml(tree, e)).encode("utf-8"))}
    files.update({name: asset(name) for name in ASSETS})
    assert set(files) == set(CATALOG_FILES)
    return files


def _sealed(page: bytes) -> bytes:
    """The page with a last line holding the sha256 of all before it."""
    return page + f"<!-- sha256:{hashlib.sha256(page).hexdigest()} -->\n".encode()


def _made_from(path: Path) -> str | None:
    """The fingerprint in the head of the page at ``path``, if the page is whole: its last
    line's sha256 matches the rest (a page changed by hand or cut short is made again)."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    seal = _SEAL.search(data)
    if seal is None or hashlib.sha256(data[:seal.start()]).hexdigest() != seal.group(1).decode():
        return None
    made = _GENERATOR.search(data[:4096].decode("utf-8", "replace"))
    return made.group(1) if made else None


def write_catalog(tree: Tree, entries: Iterable[LockEntry], server: str | None = None,
                  parts: Parts | None = None) -> list[str]:
    """Write the catalog at the root of ``tree``. Returns the names of the files that changed.
    A whole page made from the same entries by the same renderer is left as it is: a pull
    that changes nothing renders nothing."""
    entries = list(entries)
    fp = fingerprint(entries, server)
    if _made_from(tree.root / "index.html") == fp:
        out = {name: asset(name) for name in ASSETS}
    else:
        out = catalog_files(tree, entries, server, fp, parts)
    return [name for name, data in out.items() if write_if_changed(tree.root / name, data)]
