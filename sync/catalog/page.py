"""The catalog page's HTML, made from plain data. Pure functions.

One ``<tbody class="plugin">`` per plugin holds one row per served version (newest first)
and, when the plugin came with a README, a row with the rendered README. Everything the
page shows is in the HTML, so it works without JavaScript; ``catalog.js`` adds search, the
category filter and the copy buttons, which it reads from ``data-*`` attributes.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Callable, Iterable

from sync.catalog.snippets import PATTERN_PATH, PLACEHOLDER_BASE, plugin_path
from sync.lock import LockEntry
from sync.tree.layout import INDEX_JSON, URL_PREFIX
from sync.versions import parse as parse_version

SHORT_SHA = 12
COLUMNS = ("Plugin", "Category", "Version", "Size", "SHA-256", "Source", "Pulled", "Copy")
# The page loads its own CSS and JS and nothing else; README links are clicks, not loads.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'"
)


@dataclass(frozen=True)
class Readme:
    lang: str  # "en", "zh" or "" when unknown
    label: str  # what the language switch says
    html: str  # rendered, safe HTML


@dataclass(frozen=True)
class PluginView:
    name: str
    category: str | None
    description: str | None
    entries: tuple[LockEntry, ...]  # newest version first
    readmes: tuple[Readme, ...] = ()
    readme_version: str | None = None


@dataclass(frozen=True)
class Header:
    server: str
    updated: str | None
    plugins: int
    versions: int
    fingerprint: str = ""  # what the page was made from (``sync.catalog.write``), in its head


def version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders ``2.10.0`` after ``2.9.1`` and a pre-release before its release.
    A semver name goes by semver precedence (``sync.versions``: ``rc.10`` after ``rc.2``, build
    metadata ignored), as every other reader orders versions; any other name by its parts."""
    semver = parse_version(version)
    if semver is not None:
        main: list[tuple[int, int | str]] = [(1, n) for n in semver.base]
        if not semver.prerelease:
            return (*main, (3, ""))
        ids = [(1, i) if isinstance(i, int) else (2, i) for i in semver.prerelease]
        # kinds: 0 text, 1 number, 2 text, 3 the end of a release; each kind holds one type
        return (*main, (2, ""), *ids, (0, ""))
    main_text, _, pre = version.partition("-")
    parts: list[tuple[int, int | str]] = [
        (1, int(p)) if p.isdigit() else (0, p) for p in re.split(r"[.+]", main_text) if p
    ]
    parts.append((0, pre) if pre else (3, ""))
    return tuple(parts)


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def short_time(stamp: str | None) -> str:
    """``2025-01-02T03:04:05Z`` as ``2025-01-02 03:04 UTC``; anything else as it is."""
    if not stamp:
        return "–"
    m = re.fullmatch(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d)(?::\d\d(?:\.\d+)?)?(Z|[+-]00:?00)", stamp)
    return f"{m.group(1)} {m.group(2)} UTC" if m else stamp


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _time(stamp: str | None) -> str:
    if not stamp:
        return "–"
    return f'<time datetime="{_e(stamp)}">{_e(short_time(stamp))}</time>'


def _source(entry: LockEntry) -> str:
    if entry.is_local:
        return '<span class="local">hand-placed</span>'
    digest = entry.digest or ""
    short = digest.replace("sha256:", "")[:SHORT_SHA]
    return (
        f'<code class="ref">{_e(entry.source)}</code>'
        f'<code class="digest" title="{_e(digest)}">@sha256:{_e(short)}</code>'
    )


_COPY_BUTTONS = "".join(
    f'<button type="button" data-copy="{kind}" title="{title}" hidden>{label}</button>'
    for kind, label, title in (
        ("pattern", "Pattern", "Copy the console URL pattern (HIGRESS_ADMIN_WASM_PLUGIN_CUSTOM_IMAGE_URL_PATTERN)"),
        ("url", "URL", "Copy this version's plugin URL"),
        ("yaml", "YAML", "Copy a WasmPlugin resource with this URL and sha256"),
        ("sha256", "sha256", "Copy the full sha256 of plugin.wasm"),
    )
)


def _version_row(view: PluginView, entry: LockEntry, first: bool, yaml_of: Callable[[LockEntry], str]) -> str:
    path = plugin_path(entry.name, entry.version)
    cells = []
    if first:
        rows = len(view.entries)
        desc = f'<p class="desc">{_e(view.description)}</p>' if view.description else ""
        cells.append(
            f'<th scope="rowgroup" rowspan="{rows}" class="name">'
            f'<a href="#p-{_e(view.name)}">{_e(view.name)}</a>{desc}</th>'
            f'<td rowspan="{rows}" class="category">{_e(view.category or "–")}</td>'
        )
    cells.append(
        f'<td class="version"><a href="{_e(path)}" title="{_e(URL_PREFIX)}/{_e(path)}">{_e(entry.version)}</a></td>'
        f'<td class="size" title="{entry.size} bytes">{_e(human_size(entry.size))}</td>'
        f'<td class="sha"><code title="{_e(entry.sha256)}">{_e(entry.sha256[:SHORT_SHA])}</code></td>'
        f'<td class="source">{_source(entry)}</td>'
        f'<td class="pulled">{_time(entry.pulled or entry.created)}</td>'
        '<td class="copy">'
        f"{_COPY_BUTTONS}"
        "</td>"
    )
    return (
        f'<tr class="entry" data-version="{_e(entry.version)}" data-path="{_e(path)}" '
        f'data-sha256="{_e(entry.sha256)}" data-yaml="{_e(yaml_of(entry))}">' + "".join(cells) + "</tr>\n"
    )


def _readme_row(view: PluginView) -> str:
    if not view.readmes:
        return ""
    parts = [f'<tr class="readme-row"><td colspan="{len(COLUMNS)}"><details class="readme">']
    parts.append(f"<summary>README <span class=\"muted\">({_e(view.readme_version)})</span></summary>")
    switch = len(view.readmes) > 1
    if switch:
        # radio buttons and CSS switch the language, with or without JavaScript
        group = f"lang-{view.name}"
        labels = []
        for k, doc in enumerate(view.readmes):
            rid = f"{group}-{k}"
            checked = " checked" if k == 0 else ""
            parts.append(
                f'<input type="radio" name="{_e(group)}" id="{_e(rid)}" value="{_e(doc.lang)}" '
                f'class="lang lang-{k}"{checked}>'
            )
            labels.append(f'<label for="{_e(rid)}">{_e(doc.label)}</label>')
        parts.append('<div class="langs" aria-label="README language">' + "".join(labels) + "</div>")
    for k, doc in enumerate(view.readmes):
        lang = f' lang="{_e(doc.lang)}"' if doc.lang else ""
        cls = f"doc doc-{k}" if switch else "doc single"
        parts.append(f'<div class="{cls}"{lang}>\n{doc.html}</div>')
    parts.append("</details></td></tr>\n")
    return "".join(parts)


def _search_text(view: PluginView) -> str:
    words = [view.name, view.category or "", view.description or ""]
    for e in view.entries:
        words += [e.version, e.source, e.sha256]
    return " ".join(w for w in words if w).lower()


def _plugin(view: PluginView, yaml_of: Callable[[LockEntry], str]) -> str:
    rows = "".join(_version_row(view, e, k == 0, yaml_of) for k, e in enumerate(view.entries))
    return (
        f'<tbody class="plugin" id="p-{_e(view.name)}" data-name="{_e(view.name)}" '
        f'data-category="{_e(view.category or "")}" data-search="{_e(_search_text(view))}">\n'
        f"{rows}{_readme_row(view)}</tbody>\n"
    )


GENERATOR = "plugin-sync catalog"


def _generator(header: Header) -> str:
    return f'\n<meta name="generator" content="{GENERATOR} {_e(header.fingerprint)}">' if header.fingerprint else ""


def render_page(header: Header, views: Iterable[PluginView], yaml_of: Callable[[LockEntry], str]) -> str:
    """The whole ``index.html``. Deterministic: the same data gives the same bytes."""
    views = list(views)
    categories = sorted({v.category for v in views if v.category}, key=str.lower)
    options = "".join(f'<option value="{_e(c)}">{_e(c)}</option>' for c in categories)
    head_cells = "".join(f'<th scope="col">{c}</th>' for c in COLUMNS)
    body = "".join(_plugin(v, yaml_of) for v in views)
    empty = "" if views else f'<tbody><tr><td colspan="{len(COLUMNS)}">No plugins are served yet.</td></tr></tbody>\n'
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">{_generator(header)}
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="referrer" content="no-referrer">
<title>Wasm plugins · {_e(header.server)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="catalog.css">
<script src="catalog.js" defer></script>
</head>
<body data-placeholder-base="{_e(PLACEHOLDER_BASE)}" data-pattern-path="{_e(PATTERN_PATH)}">
<header class="top">
<h1>Wasm plugins</h1>
<dl class="facts">
<div><dt>Server</dt><dd id="server">{_e(header.server)}</dd></div>
<div><dt>Plugins</dt><dd id="plugin-count">{header.plugins}</dd></div>
<div><dt>Versions</dt><dd id="version-count">{header.versions}</dd></div>
<div><dt>Last sync</dt><dd id="updated">{_time(header.updated)}</dd></div>
</dl>
<p class="pattern">Console URL pattern
<code id="pattern">{_e(URL_PREFIX)}/{_e(PATTERN_PATH)}</code>
<button type="button" data-copy="pattern" hidden>Copy</button>
· <a href="{INDEX_JSON}">{INDEX_JSON}</a></p>
</header>
<main>
<noscript><p class="note">Search, filter and copy buttons need JavaScript; the table lists everything.</p></noscript>
<div class="controls" id="controls" hidden>
<input type="search" id="search" placeholder="Search name, category, version, source, sha256" aria-label="Search plugins" autocomplete="off" spellcheck="false">
<select id="category" aria-label="Category"><option value="">All categories</option>{options}</select>
<output id="shown" aria-live="polite">{header.plugins} of {header.plugins} plugins</output>
</div>
<div class="table-scroll">
<table id="catalog">
<thead><tr>{head_cells}</tr></thead>
{body}{empty}</table>
</div>
<p id="no-match" class="note" hidden>No plugin matches.</p>
<p id="status" class="status" role="status" aria-live="polite"></p>
</main>
</body>
</html>
"""
