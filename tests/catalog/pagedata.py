"""Reading the generated catalog back as data, with the standard HTML parser."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Row:
    plugin: str
    version: str
    sha256: str
    path: str
    yaml: str


@dataclass
class Page:
    rows: list[Row] = field(default_factory=list)
    plugins: list[str] = field(default_factory=list)
    tags: list[tuple[str, dict[str, str | None]]] = field(default_factory=list)
    text_by_id: dict[str, str] = field(default_factory=dict)


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self._plugin = ""
        self._id_stack: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.page.tags.append((tag, a))
        if tag == "tbody" and "plugin" in (a.get("class") or "").split():
            self._plugin = a.get("data-name") or ""
            self.page.plugins.append(self._plugin)
        if tag == "tr" and "entry" in (a.get("class") or "").split():
            self.page.rows.append(
                Row(self._plugin, a["data-version"] or "", a["data-sha256"] or "", a["data-path"] or "",
                    a["data-yaml"] or "")
            )
        if a.get("id") and tag in ("dd", "code", "output"):
            self._id_stack.append((tag, a["id"] or ""))
            self.page.text_by_id[a["id"] or ""] = ""

    def handle_endtag(self, tag: str) -> None:
        if self._id_stack and self._id_stack[-1][0] == tag:
            self._id_stack.pop()

    def handle_data(self, data: str) -> None:
        for _, ident in self._id_stack:
            self.page.text_by_id[ident] += data


def read_page(html_text: str) -> Page:
    reader = _Reader()
    reader.feed(html_text)
    reader.close()
    return reader.page
