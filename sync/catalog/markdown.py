"""A safe Markdown renderer for plugin READMEs, on markdown-it-py. Pure functions.

CommonMark plus GitHub tables, strike-through and bare URLs (linkify-it-py), after YAML front
matter is split off. markdown-it-py parses; this module only rewrites the token stream and
renders a few tokens its own way.

Safety comes first. Raw HTML is off (``html=False``): HTML in a README shows as text, and the
only markup in the output is the renderer's, with a fixed set of tags and attributes (a
``<br>`` written in the text, common in README tables, is the one tag read from the source).
Links keep their ``href`` only for ``http:``, ``https:`` and ``mailto:`` URLs; anything else,
such as ``javascript:`` or a path relative to the README, becomes its label as plain text.
Images become links, so a page showing a README loads nothing from anywhere. Headings are
shifted down by ``HEADING_SHIFT``: a README's ``# Title`` sits under the page's own headings.
"""

from __future__ import annotations

import html
import re
from typing import Any, cast, Sequence

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.rules_inline.state_inline import Delimiter, StateInline
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

from sync import yamltext

HEADING_SHIFT = 2  # a README's "# Title" sits under the page's own headings
SAFE_SCHEMES = ("http://", "https://", "mailto:")
REL = "noopener noreferrer nofollow"
_LANG = re.compile(r"[A-Za-z0-9_+.#-]{1,32}")
_BR_TAG = re.compile(r"<br\s*/?>", re.IGNORECASE)
_ALIGN = re.compile(r"text-align:(left|center|right)")
_CODE_SPAN = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)")
_TABLE_PIPE = re.compile(r"(?<!\\)\|")


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
        meta = yamltext.load(raw)
    except yamltext.YAMLError:
        return {}, body
    return (meta if isinstance(meta, dict) else {}), body.lstrip("\n")


def safe_href(url: str) -> str | None:
    """``url`` if a click on it is harmless (http, https, mailto), else None."""
    url = url.strip()
    if any(ord(c) < 0x20 or c in "\\\x7f" for c in url):
        return None
    if url.lower().startswith(SAFE_SCHEMES) and len(url) > len("mailto:"):
        return url
    return None


def render_markdown(text: str) -> str:
    """HTML for a Markdown document (front matter removed). Never raises on any input."""
    _, body = split_front_matter(text)
    # U+E000 and U+E001 were this renderer's placeholders once; they are still dropped
    body = body.replace("\ue000", "").replace("\ue001", "")
    env: dict[str, Any] = {}
    tokens = _MD.parse(body, env)
    escaped = _code_pipes_escaped(body, tokens)
    if escaped != body:
        env = {}
        tokens = _MD.parse(escaped, env)
    _rewrite(tokens)
    return str(_MD.renderer.render(tokens, _MD.options, env))


def _code_pipes_escaped(body: str, tokens: list[Token]) -> str:
    """``body`` with each ``|`` inside a code span of a table row escaped, so that
    ``| `a|b` |`` is one cell holding ``a|b``, as README tables of options mean it."""
    lines = body.split("\n")
    for token in tokens:
        if token.type == "table_open" and token.map:
            for i in range(*token.map):
                lines[i] = _CODE_SPAN.sub(lambda m: _TABLE_PIPE.sub(r"\\|", m.group(0)), lines[i])
    return "\n".join(lines)


def _emphasis(state: StateInline, silent: bool) -> bool:
    """markdown-it's emphasis delimiter scan, except that a single ``*`` between two word
    characters is text: ``2*3*4`` is arithmetic, not emphasis."""
    start, marker = state.pos, state.src[state.pos]
    if silent or marker not in ("_", "*"):
        return False
    scanned = state.scanDelims(start, marker == "*")
    can_open, can_close = scanned.can_open, scanned.can_close
    before = state.src[start - 1] if start > 0 else " "
    after = state.src[start + 1] if start + 1 < state.posMax else " "
    if marker == "*" and scanned.length == 1 and (before.isalnum() and after.isalnum()):
        can_open = can_close = False
    for _ in range(scanned.length):
        token = state.push("text", "", 0)
        token.content = marker
        state.delimiters.append(Delimiter(marker=ord(marker), length=scanned.length, token=len(state.tokens) - 1,
                                          end=-1, open=can_open, close=can_close))
    state.pos += scanned.length
    return True


# ---------------------------------------------------------------- the token rewrite


def _rewrite(tokens: list[Token]) -> None:
    """Shift headings, keep only safe links, turn images into links, name table alignments."""
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(6, int(token.tag[1]) + HEADING_SHIFT)}"
        elif token.type in ("th_open", "td_open"):
            align = _ALIGN.search(str(token.attrs.pop("style", "")))
            if align:
                token.attrs["class"] = f"align-{align.group(1)}"
        elif token.type == "inline" and token.children:
            token.children = _inline(token.children)


def _inline(children: list[Token]) -> list[Token]:
    out: list[Token] = []
    links: list[bool] = []  # for each open link: whether it keeps its href
    for token in children:
        if token.type == "link_open":
            href = safe_href(str(token.attrs.get("href", "")))
            links.append(href is not None)
            out.append(_open(href))
        elif token.type == "link_close":
            out.append(_close(links.pop() if links else False))
        elif token.type == "image":
            out.extend(_image(token, inside_link=bool(links)))
        elif token.type in ("s_open", "s_close"):
            token.tag = "del"
            out.append(token)
        elif token.type == "text" and _BR_TAG.search(token.content):
            out.extend(_text_with_breaks(token.content))
        else:
            out.append(token)
    return out


def _open(href: str | None) -> Token:
    if href is None:
        return Token("link_open", "span", 1, attrs={"class": "link-removed"})
    return Token("link_open", "a", 1, attrs={"href": href, "rel": REL})


def _close(kept: bool) -> Token:
    return Token("link_close", "a" if kept else "span", -1)


def _image(token: Token, inside_link: bool) -> list[Token]:
    """An image as a link to it, labelled with its alt text: nothing is loaded."""
    alt = _RENDERER.renderInlineAsText(token.children or [], _MD.options, {})
    label = Token("text", "", 0, content=f"[image: {alt}]" if alt else "[image]")
    if inside_link:  # a link cannot hold another
        return [label]
    href = safe_href(str(token.attrs.get("src", "")))
    return [_open(href), label, _close(href is not None)]


def _text_with_breaks(content: str) -> list[Token]:
    """Text with ``<br>`` tags in it: the text, and a line break for each tag."""
    out: list[Token] = []
    for i, part in enumerate(_BR_TAG.split(content)):
        if i:
            out.append(Token("html_inline", "", 0, content="<br>"))
        if part:
            out.append(Token("text", "", 0, content=part))
    return out


# ---------------------------------------------------------------- rendering


class _Renderer(RendererHTML):
    """markdown-it's HTML, in the shape the catalog page styles: soft breaks as spaces, code
    without its last newline, text with its quotes as they are, tables in a scrolling wrapper with one row a line, and a tight
    list item's text followed by a newline."""

    def renderToken(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        token = tokens[idx]
        if token.hidden and token.type == "paragraph_close":
            return "\n"
        out = super().renderToken(tokens, idx, options, env)
        if idx and tokens[idx - 1].hidden and tokens[idx - 1].type == "paragraph_close":
            out = out.removeprefix("\n")
        if token.type in ("tr_open", "th_close", "td_close"):
            out = out.rstrip("\n")
        return out

    def text(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return html.escape(tokens[idx].content, quote=False)  # quotes are harmless outside attributes

    def softbreak(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return " "

    def fence(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        token = tokens[idx]
        lang = token.info.split()[0] if token.info.strip() else ""
        cls = f' class="language-{html.escape(lang)}"' if _LANG.fullmatch(lang) else ""
        return f"<pre><code{cls}>{html.escape(token.content.removesuffix(chr(10)))}</code></pre>\n"

    def code_block(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        content = tokens[idx].content.removesuffix("\n")
        return f"<pre><code>{html.escape(content)}</code></pre>\n"

    def table_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return '<div class="table-wrap"><table>\n'

    def table_close(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return "</table></div>\n"


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "xhtmlOut": False, "linkify": True, "typographer": False},
                    renderer_cls=_Renderer)
    md.enable(["table", "strikethrough", "linkify"])
    md.inline.ruler.at("emphasis", _emphasis)
    linkify = md.linkify
    assert linkify is not None  # linkify-it-py is installed (a dependency)
    linkify.set({"fuzzy_link": False, "fuzzy_email": False})  # bare URLs only with a scheme
    linkify.add("ftp:", None).add("//", None)
    # every link is parsed; _inline keeps only the safe ones
    setattr(md, "validateLink", lambda url: True)  # noqa: B010 - a hook markdown-it-py documents
    return md


_MD = _markdown()
_RENDERER = cast(_Renderer, _MD.renderer)  # renderer_cls=_Renderer above
