"""The catalog files as the store writes them: content, safety, stability and size."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from sync.catalog import catalog_files
from sync.catalog.page import human_size, short_time, version_key
from sync.catalog.snippets import PLACEHOLDER_BASE, wasmplugin_yaml
from sync.catalog.write import README_LIMIT, asset, write_catalog
from sync.lock import Lock
from sync.served import commit
from sync.tree import Tree
from sync.tree.layout import CATALOG_FILES
from sync.tree.store import writer_lock
from tests.catalog.pagedata import read_page
from tests.catalog.trees import Spec, build_tree, entry_for, sample_specs, synthetic_specs, wasm_bytes


def html_of(root: Path) -> str:
    return (root / "index.html").read_text(encoding="utf-8")


def test_commit_writes_the_catalog_beside_index_json(tmp_path: Path) -> None:
    specs = sample_specs()
    tree, lock = build_tree(tmp_path / "plugins", specs)
    for name in (*CATALOG_FILES, "index.json"):
        assert (tree.root / name).is_file(), name
    assert (tree.root / "catalog.css").read_bytes() == asset("catalog.css")
    assert (tree.root / "catalog.js").read_bytes() == asset("catalog.js")

    page = read_page(html_of(tree.root))
    assert sorted(page.plugins) == sorted({s.name for s in specs})
    assert {(r.plugin, r.version, r.sha256) for r in page.rows} == {
        (e.name, e.version, e.sha256) for e in lock.sorted()
    }
    assert page.text_by_id["plugin-count"] == str(len({s.name for s in specs}))
    assert page.text_by_id["version-count"] == str(len(specs))
    assert page.text_by_id["updated"] == "2025-03-02 07:15 UTC"  # the latest pull
    assert page.text_by_id["server"] == "plugin-sync " + __import__("sync").__version__


def test_rows_carry_url_path_and_pinned_yaml(tmp_path: Path) -> None:
    tree, lock = build_tree(tmp_path / "plugins", sample_specs())
    rows = {(r.plugin, r.version): r for r in read_page(html_of(tree.root)).rows}
    for e in lock.sorted():
        row = rows[(e.name, e.version)]
        assert row.path == f"{e.name}/{e.version}/plugin.wasm"
        assert (tree.root / row.path).read_bytes()  # the path is served from the tree root
        assert row.yaml == wasmplugin_yaml(e)
        assert f"  url: {PLACEHOLDER_BASE}{row.path}\n" in row.yaml
        assert f"  sha256: {e.sha256}\n" in row.yaml


def test_versions_are_listed_newest_first(tmp_path: Path) -> None:
    specs = [Spec("multi", v, "Traffic", wasm_bytes(k)) for k, v in enumerate(["2.9.1", "2.10.0", "2.10.0-rc1", "1.0.0"])]
    tree, _ = build_tree(tmp_path / "plugins", specs)
    assert [r.version for r in read_page(html_of(tree.root)).rows] == ["2.10.0", "2.10.0-rc1", "2.9.1", "1.0.0"]
    assert sorted(["1.0", "1.0.0", "10.0.0", "9.0.0"], key=version_key)[-1] == "10.0.0"


def test_page_loads_nothing_but_its_own_files(tmp_path: Path) -> None:
    tree, _ = build_tree(tmp_path / "plugins", sample_specs())
    page = read_page(html_of(tree.root))
    loads = [(t, a) for t, a in page.tags if t in ("script", "link", "img", "iframe", "object", "embed", "source",
                                                   "video", "audio", "style", "base", "form")]
    assert loads == [
        ("link", {"rel": "icon", "href": "data:,"}),
        ("link", {"rel": "stylesheet", "href": "catalog.css"}),
        ("script", {"src": "catalog.js", "defer": None}),
    ]
    assert not any("style" in a or any(k.startswith("on") for k in a) for _, a in page.tags)
    csp = next(a["content"] for t, a in page.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert csp and "default-src 'none'" in csp and "script-src 'self'" in csp
    css = (tree.root / "catalog.css").read_text()
    assert not re.search(r"url\(|@import|@font-face", css)
    js = (tree.root / "catalog.js").read_text()
    assert not re.search(r"fetch\(|XMLHttpRequest|WebSocket|import\(|https?://|eval\(", js)


def test_a_readme_cannot_inject_markup(tmp_path: Path) -> None:
    tree, _ = build_tree(tmp_path / "plugins", sample_specs())
    text = html_of(tree.root)
    page = read_page(text)
    assert [a.get("src") for t, a in page.tags if t == "script"] == ["catalog.js"]
    assert not [a for t, a in page.tags if t == "img"]
    hrefs = [a["href"] for t, a in page.tags if t == "a"]
    assert not [h for h in hrefs if h and h.lower().startswith("javascript")]
    assert '&lt;script&gt;document.title = "pwned"' in text
    assert '<span class="link-removed">click me</span>' in text


def test_readme_languages(tmp_path: Path) -> None:
    tree, _ = build_tree(tmp_path / "plugins", sample_specs())
    page = read_page(html_of(tree.root))
    radios = [a for t, a in page.tags if t == "input" and a.get("type") == "radio"]
    assert [(a["name"], a["value"]) for a in radios] == [("lang-basic-auth", "en"), ("lang-basic-auth", "zh")]
    docs = [a for t, a in page.tags if t == "div" and "doc" in (a.get("class") or "").split()]
    assert {(a.get("lang"), a["class"]) for a in docs} >= {("en", "doc doc-0"), ("zh", "doc doc-1"), ("en", "doc single")}
    # plugins without a README have no README block
    transformer = html_of(tree.root).split('id="p-transformer"')[1].split("</tbody>")[0]
    assert "<details" not in transformer


def test_a_readme_outside_the_tree_is_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.md"
    secret.write_text("TOP-SECRET-CONTENT\n")
    tree, lock = build_tree(tmp_path / "plugins", [Spec("hand", "1.0.0", local=True)])
    (tree.version_dir("hand", "1.0.0") / "README.md").symlink_to(secret)
    with writer_lock(tree):
        commit(tree, lock, None)
    assert "TOP-SECRET-CONTENT" not in html_of(tree.root)


def test_a_huge_readme_is_cut(tmp_path: Path) -> None:
    big = "word " * (README_LIMIT // 5 + 1000)
    tree, _ = build_tree(tmp_path / "plugins", [Spec("big", "1.0.0", readmes={"README_EN.md": big})])
    text = html_of(tree.root)
    assert "README cut at 256 KiB" in text
    assert len(text) < README_LIMIT + 20_000


def test_a_noop_commit_rewrites_nothing_and_a_change_rewrites_only_the_page(tmp_path: Path) -> None:
    specs = sample_specs()
    tree, lock = build_tree(tmp_path / "plugins", specs)
    names = (*CATALOG_FILES, "index.json")

    def stats() -> dict[str, tuple[int, int]]:
        return {n: (os.stat(tree.root / n).st_ino, os.stat(tree.root / n).st_mtime_ns) for n in names}

    before = stats()
    with writer_lock(tree):
        commit(tree, lock, None)
    assert stats() == before

    smaller = Lock.from_entries(e for e in lock.sorted() if e.name != "transformer")
    with writer_lock(tree):
        commit(tree, smaller, None)
    after = stats()
    assert after["index.html"] != before["index.html"]
    assert after["catalog.css"] == before["catalog.css"] and after["catalog.js"] == before["catalog.js"]
    assert "transformer" not in read_page(html_of(tree.root)).plugins


def test_generation_is_deterministic(tmp_path: Path) -> None:
    tree, lock = build_tree(tmp_path / "plugins", sample_specs())
    assert catalog_files(tree, lock.sorted()) == catalog_files(tree, reversed(lock.sorted()))


def test_a_commit_that_changes_nothing_renders_nothing_and_a_damaged_page_is_made_again(tmp_path: Path) -> None:
    tree, lock = build_tree(tmp_path / "plugins", sample_specs())
    page = tree.root / "index.html"
    made = page.read_bytes()
    assert write_catalog(tree, lock.sorted()) == []
    # the same bytes, not read back from a new rendering: a README changed behind the page's
    # back (as no pull does: stores are by digest) is not rendered while the entries stay
    readmes = {p.resolve() for p in tree.root.glob("*/*/README_EN.md")}
    assert readmes
    for readme in readmes:
        os.chmod(readme, 0o644)
        readme.write_text("# changed behind the page's back\n")
    assert write_catalog(tree, lock.sorted()) == [] and page.read_bytes() == made
    # a page changed by hand, or cut short, is made again
    for damaged in (made.replace(b"</html>", b"</html><!-- edited -->"), made[:-200]):
        page.write_bytes(damaged)
        assert write_catalog(tree, lock.sorted()) == ["index.html"]
        assert b"changed behind" in page.read_bytes()
        page.write_bytes(made)
    # other entries (a server name) make another page
    assert write_catalog(tree, lock.sorted(), server="http://plugins.example") == ["index.html"]


def test_empty_tree(tmp_path: Path) -> None:
    tree = Tree(tmp_path / "plugins")
    with writer_lock(tree):
        commit(tree, Lock(), None)
    text = html_of(tree.root)
    assert "No plugins are served yet." in text
    assert read_page(text).text_by_id["plugin-count"] == "0"


def test_five_hundred_plugins_make_a_page_of_sane_size(tmp_path: Path) -> None:
    # how long it takes is the benchmark's to measure (bench/), not a timed test's
    tree, lock = build_tree(tmp_path / "plugins", synthetic_specs(500))
    files = catalog_files(tree, lock.sorted())
    page = read_page(files["index.html"].decode())
    assert len(page.plugins) == 500 and len(page.rows) == 500
    assert len(files["index.html"]) < 4_000_000


@pytest.mark.parametrize(
    ("size", "text"), [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (40_000, "39.1 KiB"), (2_400_000, "2.3 MiB")]
)
def test_human_size(size: int, text: str) -> None:
    assert human_size(size) == text


def test_short_time() -> None:
    assert short_time("2025-01-02T03:04:05Z") == "2025-01-02 03:04 UTC"
    assert short_time("2025-01-02T03:04:05.123+00:00") == "2025-01-02 03:04 UTC"
    assert short_time("2025-01-02T03:04:05+08:00") == "2025-01-02T03:04:05+08:00"
    assert short_time(None) == "–"


def test_local_entries_show_as_hand_placed(tmp_path: Path) -> None:
    tree, _ = build_tree(tmp_path / "plugins", [Spec("mine", "0.1.0", local=True)])
    row = html_of(tree.root).split('id="p-mine"')[1].split("</tbody>")[0]
    assert "hand-placed" in row and entry_for(Spec("mine", "0.1.0", local=True)).sha256 in row


def test_pieces_made_while_the_downloads_run_make_the_same_page_and_are_not_made_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pull makes each downloaded plugin's piece of the page as its result comes in,
    before the commit links its versions: the page the commit writes from them is the
    page made from nothing, and no piece is made twice."""
    from sync.catalog import Parts
    from sync.catalog import write as catalog_write
    from sync.tree.store import finish_staging, new_staging

    specs = sample_specs()
    tree = Tree(tmp_path / "plugins")
    lock = Lock()
    with writer_lock(tree):
        for spec in specs:  # stored, not linked yet: where a pull is before its commit
            e = entry_for(spec)
            if spec.local:
                target = tree.version_dir(spec.name, spec.version)
                target.mkdir(parents=True)
            else:
                target = new_staging(tree, spec.name)
            (target / "plugin.wasm").write_bytes(spec.wasm)
            for fname, text in spec.readmes.items():
                (target / fname).write_text(text, encoding="utf-8")
            if not spec.local:
                finish_staging(tree, target, e)
            lock.put(e)
        parts = Parts()
        for name in sorted({s.name for s in specs}):
            parts.make(tree, [e for e in lock.sorted() if e.name == name])
        made = []
        real = catalog_write.plugin_view
        monkeypatch.setattr(catalog_write, "plugin_view", lambda t, es: made.append(es) or real(t, es))
        commit(tree, lock, None, parts=parts)
    assert made == []
    assert (tree.root / "index.html").read_bytes() == catalog_files(tree, lock.sorted())["index.html"]
    assert "Basic Auth" in html_of(tree.root)  # the README, read from the store before the version was linked
