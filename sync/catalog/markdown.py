"""A small, safe Markdown renderer for plugin READMEs. Pure functions.

It knows what plugin READMEs use: YAML front matter, ATX headings, paragraphs, nested
lists, fenced and indented code, block quotes, GitHub tables, rules, and inline code,
emphasis, strike-through, links and autolinks.

Safety comes first. Every piece of source text is HTML-escaped; the only markup in the
output is the markup this module writes, with a fixed set of tags and attributes. Raw HTML
in a README shows as text. Links keep their ``href`` only for ``http:``, ``https:`` and
``mailto:`` URLs (anything else, such as ``javascript:`` or a path relative to the
README, becomes plain text), and images become links, so a page showing a README loads
nothing from anywhere.
"""

from __future__ import annotations

import html
import re
from typing import Any

import yaml

HEADING_SHIFT = 2  # a README's "# Title" sits under the page's own headings
SAFE_SCHEMES = ("http://", "https://", "mailto:")
_PH_OPEN, _PH_CLOSE = "\ue000", "\ue001"  # placeholders for finished inline HTML
_PH = re.compile(f"{_PH_OPEN}(\\d+){_PH_CLOSE}")

_FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,})\s*([^`\s]*)[^`]*$")
_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_RULE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_BULLET = re.compile(r"^( {0,3})([-*+])([ \t]+|$)(.*)$")
_ORDERED = re.compile(r"^( {0,3})(\d{1,9})([.)])([ \t]+|$)(.*)$")
_QUOTE = re.compile(r"^ {0,3}> ?(.*)$")
_TABLE_SEP = re.compile(r"^ *\|? *:?-+:? *(\| *:?-+:? *)*\|? *$")
_BR_TAG = re.compile(r"&lt;br\s*/?&gt;", re.IGNORECASE)
_BARE_URL = re.compile(r"(?<![\w/&])(https?://[^\s<>\"'`\ue000\ue001]+[^\s<>\"'`.,;:!?)\]\ue000\ue001])")


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """Separate a leading ``---`` YAML block from the body. Bad YAML is treated as no metadata."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    if not text.startswith("---\n"):
        return {}, text
    end = re.search(r"^(?:---|\.\.\.)[ \t]*$", text[4:], re.MULTILINE)
    if not end:
        return {}, text
    raw, body = text[4 : 4 + end.start()], text[4 + end.end() :]
    try:
        meta = yaml.safe_load(raw)
    except yaml.YAMLError:
        return {}, body
    return (meta if isinstance(meta, dict) else {}), body.lstrip("\n")


def render_markdown(text: str) -> str:
    """HTML for a Markdown document (front matter removed). Never raises on any input."""
    _, body = split_front_matter(text)
    body = body.replace("\t", "    ").replace(_PH_OPEN, "").replace(_PH_CLOSE, "").replace("\0", "\ufffd")
    return "".join(_blocks(body.split("\n")))


# ---------------------------------------------------------------- blocks


def _blocks(lines: list[str]) -> list[str]:
    out: list[str] = []
    para: list[str] = []
    i = 0

    def flush() -> None:
        if para:
            out.append(f"<p>{_inline(' '.join(s.strip() for s in para))}</p>\n")
            para.clear()

    while i < len(lines):
        line = lines[i]
        if not line.strip():
            flush()
            i += 1
            continue
        fence = _FENCE.match(line)
        if fence:
            flush()
            i = _fenced(lines, i, fence, out)
            continue
        heading = _HEADING.match(line)
        if heading:
            flush()
            level = min(6, len(heading.group(1)) + HEADING_SHIFT)
            out.append(f"<h{level}>{_inline(heading.group(2) or '')}</h{level}>\n")
            i += 1
            continue
        if _RULE.match(line) and not (para and line.strip().startswith("-")):
            flush()
            out.append("<hr>\n")
            i += 1
            continue
        if _QUOTE.match(line):
            flush()
            quoted: list[str] = []
            while i < len(lines) and lines[i].strip() and (m := _QUOTE.match(lines[i]) or (quoted and _lazy(lines[i]))):
                quoted.append(m.group(1) if isinstance(m, re.Match) else lines[i])
                i += 1
            out.append(f"<blockquote>\n{''.join(_blocks(quoted))}</blockquote>\n")
            continue
        if _BULLET.match(line) or _ORDERED.match(line):
            flush()
            i = _list(lines, i, out)
            continue
        if "|" in line and i + 1 < len(lines) and _TABLE_SEP.match(lines[i + 1]) and "-" in lines[i + 1]:
            flush()
            i = _table(lines, i, out)
            continue
        if line.startswith("    ") and not para:
            code: list[str] = []
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                code.append(lines[i][4:])
                i += 1
            while code and not code[-1].strip():
                code.pop()
            out.append(f"<pre><code>{html.escape(chr(10).join(code))}</code></pre>\n")
            continue
        para.append(line)
        i += 1
    flush()
    return out


def _lazy(line: str) -> bool:
    """A line that continues a block quote's paragraph without its own ``>``."""
    return not (_FENCE.match(line) or _HEADING.match(line) or _BULLET.match(line) or _ORDERED.match(line))


def _fenced(lines: list[str], i: int, fence: re.Match[str], out: list[str]) -> int:
    indent, marker, lang = len(fence.group(1)), fence.group(2), fence.group(3)
    close = re.compile(rf"^ {{0,3}}{re.escape(marker[0])}{{{len(marker)},}}[ \t]*$")
    code: list[str] = []
    i += 1
    while i < len(lines) and not close.match(lines[i]):
        line = lines[i]
        code.append(line[min(indent, len(line) - len(line.lstrip(" "))) :])
        i += 1
    cls = ""
    if lang and re.fullmatch(r"[A-Za-z0-9_+.#-]{1,32}", lang):
        cls = f' class="language-{html.escape(lang)}"'
    out.append(f"<pre><code{cls}>{html.escape(chr(10).join(code))}</code></pre>\n")
    return i + 1


def _item_start(line: str) -> tuple[bool, int, int, str] | None:
    """(ordered, start number, content indent, first line's content) if ``line`` opens a list item."""
    m = _BULLET.match(line)
    if m:
        return False, 1, len(m.group(1)) + 1 + max(1, min(len(m.group(3)), 4)), m.group(4)
    m = _ORDERED.match(line)
    if m:
        indent = len(m.group(1)) + len(m.group(2)) + 1 + max(1, min(len(m.group(4)), 4))
        return True, int(m.group(2)), indent, m.group(5)
    return None


def _list(lines: list[str], i: int, out: list[str]) -> int:
    first = _item_start(lines[i])
    assert first is not None
    ordered = first[0]
    items: list[list[str]] = []
    loose = False
    while i < len(lines):
        start = _item_start(lines[i])
        if start is None or start[0] != ordered:
            break
        _, _, indent, content = start
        body = [content]
        i += 1
        while i < len(lines):
            line = lines[i]
            if not line.strip():
                # a blank line continues the item only if indented content follows
                j = i
                while j < len(lines) and not lines[j].strip():
                    j += 1
                if j < len(lines) and _indent(lines[j]) >= indent:
                    body.extend([""] * (j - i))
                    loose = True
                    i = j
                    continue
                nxt = _item_start(lines[j]) if j < len(lines) else None
                if nxt is not None and nxt[0] == ordered:
                    loose = True
                    i = j
                break
            if _indent(line) >= indent:
                body.append(line[indent:])
            elif _item_start(line) or _FENCE.match(line) or _HEADING.match(line) or _RULE.match(line):
                break
            else:
                body.append(line.strip())  # lazy continuation of the paragraph
            i += 1
        items.append(body)
        if i < len(lines) and not lines[i].strip():
            break
    tag = "ol" if ordered else "ul"
    start_attr = f' start="{first[1]}"' if ordered and first[1] != 1 else ""
    out.append(f"<{tag}{start_attr}>\n")
    for body in items:
        inner = "".join(_blocks(body))
        if not loose and inner.startswith("<p>"):
            # a tight item: its first paragraph is shown without <p>
            end = inner.index("</p>\n")
            inner = inner[3:end] + "\n" + inner[end + 5 :]
        out.append(f"<li>{inner}</li>\n")
    out.append(f"</{tag}>\n")
    return i


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _cells(row: str) -> list[str]:
    row = row.strip()
    if row.startswith("|"):
        row = row[1:]
    if row.endswith("|") and not row.endswith("\\|"):
        row = row[:-1]
    cells, cur, in_code = [], "", 0
    k = 0
    while k < len(row):
        ch = row[k]
        if ch == "\\" and k + 1 < len(row) and row[k + 1] == "|":
            cur += "|"
            k += 2
            continue
        if ch == "`":
            in_code ^= 1
        if ch == "|" and not in_code:
            cells.append(cur.strip())
            cur = ""
        else:
            cur += ch
        k += 1
    cells.append(cur.strip())
    return cells


def _table(lines: list[str], i: int, out: list[str]) -> int:
    header = _cells(lines[i])
    aligns = []
    for spec in _cells(lines[i + 1]):
        left, right = spec.startswith(":"), spec.endswith(":")
        aligns.append("center" if left and right else "right" if right else "left" if left else "")
    width = len(header)
    aligns = (aligns + [""] * width)[:width]

    def row(cells: list[str], tag: str) -> str:
        cells = (cells + [""] * width)[:width]
        parts = []
        for cell, align in zip(cells, aligns):
            cls = f' class="align-{align}"' if align else ""
            parts.append(f"<{tag}{cls}>{_inline(cell)}</{tag}>")
        return "<tr>" + "".join(parts) + "</tr>\n"

    out.append('<div class="table-wrap"><table>\n<thead>\n' + row(header, "th") + "</thead>\n<tbody>\n")
    i += 2
    while i < len(lines) and lines[i].strip() and "|" in lines[i]:
        out.append(row(_cells(lines[i]), "td"))
        i += 1
    out.append("</tbody>\n</table></div>\n")
    return i


# ---------------------------------------------------------------- inline

_CODE = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)", re.DOTALL)
_ESCAPE = re.compile(r"\\([!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])")
_AUTOLINK = re.compile(r"<((?:https?://|mailto:)[^\s<>]+)>", re.IGNORECASE)
_LINK = re.compile(
    r"(!?)\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\(\s*<?([^\s()<>]*(?:\([^\s()<>]*\))?[^\s()<>]*)>?(?:\s+(\"[^\"]*\"|'[^']*'))?\s*\)"
)


def safe_href(url: str) -> str | None:
    """``url`` if a click on it is harmless (http, https, mailto), else None."""
    url = url.strip()
    if any(ord(c) < 0x20 or c in "\\\x7f" for c in url):
        return None
    if url.lower().startswith(SAFE_SCHEMES) and len(url) > len("mailto:"):
        return url
    return None


def _link_html(text_html: str, url: str) -> str:
    href = safe_href(url)
    if href is None:
        return f'<span class="link-removed">{text_html}</span>'
    return f'<a href="{html.escape(href, quote=True)}" rel="noopener noreferrer nofollow">{text_html}</a>'


def _inline(text: str) -> str:
    """Inline Markdown to HTML: code, links and escapes become placeholders, the rest is escaped."""
    held: list[str] = []

    def hold(fragment: str) -> str:
        held.append(fragment)
        return f"{_PH_OPEN}{len(held) - 1}{_PH_CLOSE}"

    text = _CODE.sub(lambda m: hold(f"<code>{html.escape(m.group(2).strip() or m.group(2))}</code>"), text)
    text = _ESCAPE.sub(lambda m: hold(html.escape(m.group(1))), text)
    text = _AUTOLINK.sub(lambda m: hold(_link_html(html.escape(m.group(1)), m.group(1))), text)

    def link(m: re.Match[str]) -> str:
        image, label, url = m.group(1), m.group(2), m.group(3)
        if image:
            label_html = html.escape(f"[image: {label}]" if label else "[image]")
            return hold(_link_html(label_html, url))
        return hold(_link_html(_emphasis(html.escape(label, quote=False)), url))

    text = _LINK.sub(link, text)
    escaped = html.escape(text, quote=False)
    escaped = _BARE_URL.sub(lambda m: hold(_link_html(m.group(1), html.unescape(m.group(1)))), escaped)
    escaped = _BR_TAG.sub("<br>", escaped)
    escaped = _emphasis(escaped)
    # placeholders may nest (a link label holding code); expand until none is left
    for _ in range(4):
        if _PH_OPEN not in escaped:
            break
        escaped = _PH.sub(lambda m: held[int(m.group(1))], escaped)
    return escaped


_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_EM_STAR = re.compile(r"(?<![*\w])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![*\w])")
_EM_UNDER = re.compile(r"(?<![\w_])_(?=[^\s_])(.+?)(?<=[^\s_])_(?![\w_])")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")


def _emphasis(escaped: str) -> str:
    """Emphasis over already escaped text: only adds <strong>, <em> and <del>."""
    escaped = _STRONG.sub(r"<strong>\2</strong>", escaped)
    escaped = _EM_STAR.sub(r"<em>\1</em>", escaped)
    escaped = _EM_UNDER.sub(r"<em>\1</em>", escaped)
    return _STRIKE.sub(r"<del>\1</del>", escaped)
