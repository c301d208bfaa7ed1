"""The README renderer: what plugin READMEs use renders, and nothing can inject markup."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from hypothesis import given, settings
from hypothesis import strategies as st

from sync.catalog.markdown import render_markdown, safe_href, split_front_matter

# every tag and attribute the renderer may write; anything else came from the input
ALLOWED = {
    "h3": set(), "h4": set(), "h5": set(), "h6": set(), "p": set(), "ul": set(), "ol": {"start"},
    "li": set(), "pre": set(), "code": {"class"}, "blockquote": set(), "hr": set(), "br": set(),
    "div": {"class"}, "table": set(), "thead": set(), "tbody": set(), "tr": set(), "th": {"class"},
    "td": {"class"}, "strong": set(), "em": set(), "del": set(), "a": {"href", "rel"}, "span": {"class"},
}


class TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html_text: str) -> TagCollector:
    c = TagCollector()
    c.feed(html_text)
    c.close()
    return c


def assert_safe(html_text: str) -> None:
    for tag, attrs in parse(html_text).tags:
        assert tag in ALLOWED, (tag, html_text)
        assert set(attrs) <= ALLOWED[tag], (tag, attrs, html_text)
        if tag == "a":
            href = attrs["href"] or ""
            assert re.match(r"(https?://|mailto:)", href, re.IGNORECASE), href
        if "class" in attrs:
            assert re.fullmatch(r"[a-z][a-z0-9 +#._-]*", attrs["class"] or ""), attrs


def test_front_matter_is_split_off_and_read() -> None:
    meta, body = split_front_matter("---\ntitle: Key Auth\ndescription: Checks API keys\n---\n# Key Auth\n")
    assert meta == {"title": "Key Auth", "description": "Checks API keys"}
    assert body == "# Key Auth\n"
    assert "title:" not in render_markdown("---\ntitle: Key Auth\n---\ntext\n")


def test_bad_front_matter_is_no_metadata() -> None:
    meta, body = split_front_matter("---\n: [unclosed\n---\nbody\n")
    assert meta == {} and body.strip() == "body"
    assert split_front_matter("---\nnever closed\n")[0] == {}


def test_headings_are_shifted_below_the_page_headings() -> None:
    assert render_markdown("# A\n## B\n###### F\n") == "<h3>A</h3>\n<h4>B</h4>\n<h6>F</h6>\n"
    assert "<h" not in render_markdown("#hashtag is text\n")


def test_paragraphs_emphasis_and_inline_code() -> None:
    out = render_markdown("one **bold** and *em* and _em2_ and ~~old~~\nsame para `a < b`\n\nnext\n")
    assert out == (
        "<p>one <strong>bold</strong> and <em>em</em> and <em>em2</em> and <del>old</del> "
        "same para <code>a &lt; b</code></p>\n<p>next</p>\n"
    )
    assert "<em>" not in render_markdown("snake_case_name and 2*3*4\n")


def test_lists_nest_and_keep_their_start() -> None:
    out = render_markdown("3. three\n4. four\n   - sub *x*\n   - sub2\n\ntext\n")
    assert out == (
        '<ol start="3">\n<li>three\n</li>\n<li>four\n<ul>\n<li>sub <em>x</em>\n</li>\n'
        "<li>sub2\n</li>\n</ul>\n</li>\n</ol>\n<p>text</p>\n"
    )


def test_fenced_and_indented_code_keep_text_verbatim() -> None:
    out = render_markdown("```yaml\nkey: <b>&amp;</b>\n  nested: 1\n```\n\n    indented *x*\n")
    assert out == (
        '<pre><code class="language-yaml">key: &lt;b&gt;&amp;amp;&lt;/b&gt;\n  nested: 1</code></pre>\n'
        "<pre><code>indented *x*</code></pre>\n"
    )
    # an odd info string never reaches the class attribute
    assert 'class="language-' not in render_markdown('```"><script>\nx\n```\n')


def test_tables_with_alignment_escaped_pipes_and_code() -> None:
    out = render_markdown(
        "| Name | Type | Description |\n|:--|:-:|--:|\n| `a|b` | string | x \\| y <br> z |\n| short |\n"
    )
    assert out == (
        '<div class="table-wrap"><table>\n<thead>\n'
        '<tr><th class="align-left">Name</th><th class="align-center">Type</th>'
        '<th class="align-right">Description</th></tr>\n</thead>\n<tbody>\n'
        '<tr><td class="align-left"><code>a|b</code></td><td class="align-center">string</td>'
        '<td class="align-right">x | y <br> z</td></tr>\n'
        '<tr><td class="align-left">short</td><td class="align-center"></td><td class="align-right"></td></tr>\n'
        "</tbody>\n</table></div>\n"
    )


def test_block_quotes_and_rules() -> None:
    assert render_markdown("> quoted **q**\nlazy\n\n---\n") == (
        "<blockquote>\n<p>quoted <strong>q</strong> lazy</p>\n</blockquote>\n<hr>\n"
    )


def test_links_keep_only_harmless_targets() -> None:
    out = render_markdown(
        "[docs](https://higress.io/docs?a=1&b=2) [mail](mailto:dev@example.org) "
        "[js](javascript:alert(1)) [JS](JaVaScRiPt:alert(1)) [data](data:text/html;base64,PHNjcmlwdD4=) "
        "[rel](./README_EN.md) [vb](vbscript:x) <https://example.org/a> see https://example.org/b_c.\n"
    )
    c = parse(out)
    hrefs = [a["href"] for t, a in c.tags if t == "a"]
    assert hrefs == [
        "https://higress.io/docs?a=1&b=2",
        "mailto:dev@example.org",
        "https://example.org/a",
        "https://example.org/b_c",
    ]
    text = "".join(c.text)
    for label in ("js", "JS", "data", "rel", "vb"):
        assert f" {label} " in f" {text} "  # the label stays, as text
    assert_safe(out)


def test_images_become_links_so_nothing_loads() -> None:
    out = render_markdown("![arch](https://img.example/arch.png) ![](javascript:x)\n")
    assert "<img" not in out
    assert '<a href="https://img.example/arch.png" rel="noopener noreferrer nofollow">[image: arch]</a>' in out
    assert '<span class="link-removed">[image]</span>' in out


def test_raw_html_shows_as_text() -> None:
    src = '<script>alert("x")</script>\n\n<img src=x onerror=alert(1)>\n\n<a href="javascript:x">a</a>\n'
    out = render_markdown(src)
    assert "<script" not in out and "<img" not in out and "<a " not in out
    c = parse(out)
    assert c.tags == [("p", {}), ("p", {}), ("p", {})]
    assert '<script>alert("x")</script>' in "".join(c.text)


def test_link_labels_and_urls_cannot_break_out_of_attributes() -> None:
    out = render_markdown('[x" onmouseover="alert(1)](https://e.org/"onmouseover="alert(1))\n')
    assert_safe(out)
    out = render_markdown("[a](https://e.org/a'onclick='x)\n")
    assert_safe(out)
    assert "onclick" not in [k for _, attrs in parse(out).tags for k in attrs]


def test_safe_href() -> None:
    assert safe_href(" https://a.b/c ") == "https://a.b/c"
    assert safe_href("HTTP://A.B") == "HTTP://A.B"
    for bad in ("javascript:x", "java\tscript:x", "https://a\nb", "//evil.example/x", "/abs", "#frag", "mailto:", "data:x"):
        assert safe_href(bad) is None, bad


def test_private_use_placeholders_in_input_are_harmless() -> None:
    out = render_markdown("\ue0000\ue001 `code` \ue000")
    assert out == "<p>0 <code>code</code></p>\n"


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "<script>", "</script>", "<", ">", "&", '"', "'", "`", "``", "*", "**", "_", "~~", "[", "]", "(", ")",
                "!", "|", "\\", "#", "# ", "- ", "1. ", "> ", "```", "    ", "\n", "\n\n", "---", ":", "javascript:",
                "https://e.org/", "<br>", "a", "b c", "\ue000", "\ue001", "0", "on", "=", "\t", "|--|",
            ]
        ),
        max_size=60,
    ).map("".join)
)
def test_any_input_gives_only_the_renderers_own_markup(text: str) -> None:
    assert_safe(render_markdown(text))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_never_raises_and_stays_safe(text: str) -> None:
    assert_safe(render_markdown(text))


# ---------------------------------------------------------------- cases from real Higress READMEs


def test_strong_emphasis_nests() -> None:
    assert render_markdown("***x***\n") == "<p><em><strong>x</strong></em></p>\n"
    assert render_markdown("这是**粗体**文字\n") == "<p>这是<strong>粗体</strong>文字</p>\n"


def test_a_bare_link_stops_at_chinese_punctuation() -> None:
    out = render_markdown("访问 http://example.com:8081。当前端口\n")
    assert out == (
        '<p>访问 <a href="http://example.com:8081" rel="noopener noreferrer nofollow">http://example.com:8081</a>'
        "。当前端口</p>\n"
    )
    # a bare domain or address without a scheme stays text, as before
    assert "<a" not in render_markdown("www.example.com dev@example.org //evil.example/x ftp://f.example/\n")


def test_setext_headings_are_shifted_too() -> None:
    assert render_markdown("Title\n=====\n\nSub\n---\n") == "<h3>Title</h3>\n<h4>Sub</h4>\n"


def test_entities_are_decoded_and_escaped_again() -> None:
    assert render_markdown("a &amp; &copy; &#x41; &lt;b&gt;\n") == "<p>a &amp; © A &lt;b&gt;</p>\n"


def test_reference_links_follow_the_same_rules() -> None:
    out = render_markdown('see [docs][d] and [bad][b]\n\n[d]: https://higress.io "T"\n[b]: javascript:alert(1)\n')
    assert out == (
        '<p>see <a href="https://higress.io" rel="noopener noreferrer nofollow">docs</a>'
        ' and <span class="link-removed">bad</span></p>\n'
    )


def test_hard_breaks() -> None:
    assert render_markdown("one  \ntwo\\\nthree\n") == "<p>one<br>\ntwo<br>\nthree</p>\n"


def test_an_image_inside_a_link_is_its_label() -> None:
    out = render_markdown("[![logo](https://img.example/l.png)](https://higress.io)\n")
    assert out == '<p><a href="https://higress.io" rel="noopener noreferrer nofollow">[image: logo]</a></p>\n'


class Nesting(HTMLParser):
    """Checks that every element the output opens is closed, in order."""

    VOID = {"br", "hr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raise AssertionError(f"self-closing <{tag} />")

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, (tag, self.stack)
        self.stack.pop()


def assert_well_formed(html_text: str) -> None:
    n = Nesting()
    n.feed(html_text)
    n.close()
    assert not n.stack, (n.stack, html_text)
    assert "<script" not in html_text.lower()
    assert not re.search(r'href="\s*javascript:', html_text, re.IGNORECASE), html_text


_PIECES = [
    "<script>", "</script>", "<img src=x onerror=alert(1)>", "<a href='javascript:x'>", "</a>", "<br>", "<br/>",
    "<", ">", "&", "&amp;", "&#x3c;", "&lt;script&gt;", '"', "'", "`", "``", "*", "**", "***", "_", "__", "~~",
    "[", "]", "(", ")", "![", "](", "]: ", "<https://e.org/>", "javascript:", "JaVaScRiPt:", "data:text/html,",
    "https://e.org/", "http://example.com:8081", "。", "当", "mailto:a@b.c", "|", "|--|", "\\", "#", "# ", "=\n",
    "-\n", "- ", "1. ", "> ", "```", "~~~", "    ", "  \n", "\n", "\n\n", "---", ":", "a", "b c", "on", "=", "\t",
]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=80).map("".join))
def test_generated_readmes_are_safe_and_well_formed(text: str) -> None:
    out = render_markdown(text)
    assert_safe(out)
    assert_well_formed(out)
