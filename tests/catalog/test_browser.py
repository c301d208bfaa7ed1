"""The catalog in headless Chromium, served by the real nginx over a pulled tree."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

from sync.cli import main
from tests.catalog.browser import (
    chromium,
    console_errors,
    grant_clipboard,
    read_clipboard,
    requested_urls,
    wait_ready,
)
from tests.catalog.png import read_png
from tests.catalog.site import Site
from tests.catalog.trees import build_tree, sample_specs, synthetic_specs
from tests.support.nginx import NginxServer, free_port, running_nginx

REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "docs" / "images" / "catalog.png"


def visible_plugins(driver: webdriver.Chrome) -> list[str]:
    """Names of the plugins whose rows are rendered (one script call, fine for 500 rows)."""
    return list(driver.execute_script(
        "return Array.from(document.querySelectorAll('#catalog > tbody.plugin'))"
        ".filter(b => b.getClientRects().length > 0).map(b => b.dataset.name);"
    ))


def index_of(server: NginxServer) -> dict[str, object]:
    r = server.request("GET", "/plugins/index.json")
    assert r.status == 200
    return json.loads(r.body)


def type_search(driver: webdriver.Chrome, text: str) -> None:
    """Replace the search text with keystrokes, as a person does (each one an input event)."""
    box = driver.find_element(By.ID, "search")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.BACKSPACE)
    if text:
        box.send_keys(text)


def copy(driver: webdriver.Chrome, selector: str) -> str:
    """Click a copy button and return what the page put on the real clipboard."""
    driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "document.getElementById('status').textContent = '';"
        "navigator.clipboard.writeText('').then(done, done);"
    )
    assert read_clipboard(driver) == ""
    driver.find_element(By.CSS_SELECTOR, selector).click()
    WebDriverWait(driver, 5).until(lambda d: d.find_element(By.ID, "status").text.startswith("Copied"))
    return read_clipboard(driver)


def test_root_shows_the_catalog_with_no_error_and_no_outside_request(page: webdriver.Chrome, server: NginxServer) -> None:
    assert page.current_url == server.plugins_url  # "/" redirects to the catalog
    assert page.title.startswith("Wasm plugins")
    assert console_errors(page) == []
    urls = requested_urls(page)
    own = [u for u in urls if u.startswith(server.url + "/")]
    assert {server.url + "/", server.plugins_url, server.plugins_url + "catalog.css",
            server.plugins_url + "catalog.js"} <= set(own)
    elsewhere = [u for u in urls if urlsplit(u).scheme in ("http", "https", "ws", "wss") and u not in own]
    assert elsewhere == []
    served = {e["uri"]: e["status"] for e in server.access_log()}
    assert served["/plugins/catalog.css"] == 200 and served["/plugins/catalog.js"] == 200


def _document_headers(driver: webdriver.Chrome, url: str) -> dict[str, str]:
    """The response headers the browser received for ``url``, from the DevTools network events."""
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.responseReceived" and message["params"]["response"]["url"] == url:
            return {k.lower(): v for k, v in message["params"]["response"]["headers"].items()}
    raise AssertionError(f"no response for {url}")


def test_under_the_servers_csp_header_search_filter_and_copy_work_without_violations(
        browser: webdriver.Chrome, server: NginxServer, site: Site) -> None:
    from sync.catalog.page import CSP

    browser.get("about:blank")
    browser.get_log("browser")
    browser.get_log("performance")
    browser.get(server.plugins_url)
    wait_ready(browser)
    headers = _document_headers(browser, server.plugins_url)
    assert headers["content-security-policy"] == CSP + "; frame-ancestors 'none'"
    assert headers["referrer-policy"] == "no-referrer"
    everything = visible_plugins(browser)
    type_search(browser, "basic")
    assert visible_plugins(browser) == ["basic-auth"]
    type_search(browser, "")
    Select(browser.find_element(By.ID, "category")).select_by_visible_text("Auth")
    assert set(visible_plugins(browser)) == {"basic-auth", "key-auth"} < set(everything)
    grant_clipboard(browser, server.url)
    row = "#p-basic-auth tr.entry[data-version='1.0.0']"
    Select(browser.find_element(By.ID, "category")).select_by_index(0)
    assert copy(browser, f"{row} button[data-copy=url]") == server.plugins_url + "basic-auth/1.0.0/plugin.wasm"
    assert console_errors(browser) == []


def test_a_csp_violation_would_show_in_the_console(page: webdriver.Chrome, server: NginxServer) -> None:
    """The check above is not vacuous: an inline script is refused and the console says so."""
    page.execute_script("const s = document.createElement('script'); s.textContent = 'window.x = 1';"
                        "document.body.appendChild(s);")
    assert page.execute_script("return window.x") is None
    errors = console_errors(page)
    assert any("Content Security Policy" in e["message"] for e in errors), errors


def test_header_shows_server_version_counts_and_last_sync(page: webdriver.Chrome, server: NginxServer) -> None:
    index = index_of(server)
    text = lambda ident: page.find_element(By.ID, ident).text  # noqa: E731
    assert text("server") == index["server"]
    assert text("version-count") == str(index["count"])
    assert text("plugin-count") == str(len({p["name"] for p in index["plugins"]}))  # type: ignore[union-attr]
    updated = str(index["updated"])
    assert page.find_element(By.CSS_SELECTOR, "#updated time").get_attribute("datetime") == updated
    assert text("updated").startswith(updated[:10])
    assert text("pattern") == server.plugins_url + "${name}/${version}/plugin.wasm"


def test_every_plugin_is_listed_with_the_sha256_of_the_served_bytes(page: webdriver.Chrome, server: NginxServer) -> None:
    index = index_of(server)
    rows = {}
    for tr in page.find_elements(By.CSS_SELECTOR, "#catalog tr.entry"):
        plugin = tr.find_element(By.XPATH, "..").get_attribute("data-name")
        code = tr.find_element(By.CSS_SELECTOR, "td.sha code")
        rows[(plugin, tr.get_attribute("data-version"))] = (code.text, code.get_attribute("title"))
    expected = {(p["name"], p["version"]): p["sha256"] for p in index["plugins"]}  # type: ignore[union-attr]
    assert set(rows) == set(expected)
    for (name, version), sha in expected.items():
        short, full = rows[(name, version)]
        assert full == sha and short == sha[:12]
        body = server.request("GET", f"/plugins/{name}/{version}/plugin.wasm").body
        assert hashlib.sha256(body).hexdigest() == sha


def test_typing_in_search_narrows_the_rows(page: webdriver.Chrome, site: Site) -> None:
    everything = sorted({e.name for e in site.lock.sorted()})
    assert sorted(visible_plugins(page)) == everything
    type_search(page, "auth")
    assert visible_plugins(page) == ["basic-auth", "key-auth"]
    page.find_element(By.ID, "search").send_keys(" key")
    assert visible_plugins(page) == ["key-auth"]
    assert page.find_element(By.ID, "shown").text == f"1 of {len(everything)} plugins"
    sha = site.lock.get("cors", "1.1.0").sha256  # type: ignore[union-attr]
    type_search(page, sha[:10])
    assert visible_plugins(page) == ["cors"]
    type_search(page, "no-such-plugin")
    assert visible_plugins(page) == []
    assert page.find_element(By.ID, "no-match").is_displayed()
    type_search(page, "")
    assert sorted(visible_plugins(page)) == everything
    assert not page.find_element(By.ID, "no-match").is_displayed()


def test_category_filter_works_with_search(page: webdriver.Chrome, site: Site) -> None:
    select = Select(page.find_element(By.ID, "category"))
    assert [o.text for o in select.options] == ["All categories", "AI", "Auth", "Security", "Traffic", "Transformation"]
    select.select_by_visible_text("Auth")
    assert visible_plugins(page) == ["basic-auth", "key-auth"]
    type_search(page, "basic")
    assert visible_plugins(page) == ["basic-auth"]
    select.select_by_visible_text("Security")
    assert visible_plugins(page) == []
    type_search(page, "")
    assert visible_plugins(page) == ["request-block"]
    assert "category=Security" in page.current_url  # the filter is kept in the address
    page.refresh()
    wait_ready(page)
    assert visible_plugins(page) == ["request-block"]


def test_copy_buttons_put_exactly_the_url_pattern_and_yaml_on_the_clipboard(
    page: webdriver.Chrome, server: NginxServer, site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    grant_clipboard(page, server.url)
    row = "#p-basic-auth tr.entry[data-version='1.0.0']"
    url = server.plugins_url + "basic-auth/1.0.0/plugin.wasm"
    assert copy(page, f"{row} button[data-copy=url]") == url
    assert copy(page, f"{row} button[data-copy=pattern]") == server.plugins_url + "${name}/${version}/plugin.wasm"
    assert copy(page, ".pattern button[data-copy=pattern]") == server.plugins_url + "${name}/${version}/plugin.wasm"
    entry = site.lock.get("basic-auth", "1.0.0")
    assert entry is not None
    assert copy(page, f"{row} button[data-copy=sha256]") == entry.sha256
    snippet = copy(page, f"{row} button[data-copy=yaml]")
    # exactly what `plugin-sync wasmplugin` prints for this server
    code = main(["--root", str(site.root), "wasmplugin", "basic-auth", "--plugin-version", "1.0.0", "--base-url", server.url])
    assert code == 0
    assert snippet == capsys.readouterr().out
    doc = yaml.safe_load(snippet)
    assert doc["kind"] == "WasmPlugin" and doc["spec"]["url"] == url and doc["spec"]["sha256"] == entry.sha256
    assert (doc["spec"]["phase"], doc["spec"]["priority"]) == ("AUTHN", 320)  # from the artifact's spec.yaml
    # and what was copied really fetches the pinned bytes
    body = server.request("GET", urlsplit(doc["spec"]["url"]).path).body
    assert hashlib.sha256(body).hexdigest() == doc["spec"]["sha256"]
    assert console_errors(page) == []


def test_copy_works_over_plain_http_under_a_host_name(server: NginxServer) -> None:
    """Served as http://<name>/ the page is not a secure context: no navigator.clipboard."""
    with chromium(extra_flags=("--host-resolver-rules=MAP catalog.test 127.0.0.1",)) as driver:
        origin = f"http://catalog.test:{server.port}"
        driver.get(origin + "/plugins/")
        wait_ready(driver)
        assert driver.execute_script("return window.isSecureContext") is False
        driver.find_element(By.CSS_SELECTOR, "#p-cors button[data-copy=url]").click()
        WebDriverWait(driver, 5).until(lambda d: d.find_element(By.ID, "status").text.startswith("Copied"))
        assert console_errors(driver) == []
        # read the clipboard from a secure page of the same server
        driver.get(server.plugins_url + "index.json")
        grant_clipboard(driver, server.url)
        assert read_clipboard(driver) == origin + "/plugins/cors/1.1.0/plugin.wasm"


def test_a_readme_holding_script_shows_it_as_text(page: webdriver.Chrome) -> None:
    details = page.find_element(By.CSS_SELECTOR, "#p-request-block details.readme")
    details.find_element(By.TAG_NAME, "summary").click()
    doc = details.find_element(By.CSS_SELECTOR, ".doc")
    assert doc.is_displayed()
    assert '<script>document.title = "pwned"; window.pwned = true;</script>' in doc.text
    assert '<img src="https://tracker.example/pixel.png"' in doc.text
    assert doc.find_elements(By.CSS_SELECTOR, "script, img, iframe") == []
    assert page.execute_script("return window.pwned === undefined")
    assert page.title.startswith("Wasm plugins")
    removed = doc.find_element(By.CSS_SELECTOR, ".link-removed")
    assert removed.text == "click me" and removed.tag_name == "span"
    assert console_errors(page) == []


def test_readme_language_switch(page: webdriver.Chrome) -> None:
    details = page.find_element(By.CSS_SELECTOR, "#p-basic-auth details.readme")
    details.find_element(By.TAG_NAME, "summary").click()
    en = details.find_element(By.CSS_SELECTOR, ".doc[lang=en]")
    zh = details.find_element(By.CSS_SELECTOR, ".doc[lang=zh]")
    assert en.is_displayed() and not zh.is_displayed()
    assert "HTTP Basic Auth standard" in en.text
    details.find_element(By.CSS_SELECTOR, "label[for='lang-basic-auth-1']").click()
    assert zh.is_displayed() and not en.is_displayed()
    assert "认证鉴权" in zh.text
    # the description comes from the README's front matter
    assert page.find_element(By.CSS_SELECTOR, "#p-basic-auth .desc").text.startswith("Authenticates requests")


def test_without_javascript_the_table_and_readmes_are_there(server: NginxServer, site: Site) -> None:
    with chromium(javascript=False) as driver:
        driver.get(server.url + "/")
        wait_ready(driver, scripted=False)
        assert driver.current_url == server.plugins_url
        rows = driver.find_elements(By.CSS_SELECTOR, "#catalog tr.entry")
        assert {(r.find_element(By.XPATH, "..").get_attribute("data-name"), r.get_attribute("data-version"),
                 r.find_element(By.CSS_SELECTOR, "td.sha code").get_attribute("title")) for r in rows} == {
            (e.name, e.version, e.sha256) for e in site.lock.sorted()
        }
        assert all(r.is_displayed() for r in rows)
        assert not driver.find_element(By.ID, "controls").is_displayed()
        assert not any(b.is_displayed() for b in driver.find_elements(By.CSS_SELECTOR, "button[data-copy]"))
        assert driver.find_element(By.TAG_NAME, "noscript")
        # a version links to its module; READMEs open and switch language with HTML and CSS alone
        link = driver.find_element(By.CSS_SELECTOR, "#p-cors td.version a")
        assert link.get_attribute("href") == server.plugins_url + "cors/1.1.0/plugin.wasm"
        details = driver.find_element(By.CSS_SELECTOR, "#p-basic-auth details.readme")
        details.find_element(By.TAG_NAME, "summary").click()
        details.find_element(By.CSS_SELECTOR, "label[for='lang-basic-auth-1']").click()
        assert details.find_element(By.CSS_SELECTOR, ".doc[lang=zh]").is_displayed()
        assert not details.find_element(By.CSS_SELECTOR, ".doc[lang=en]").is_displayed()
        assert console_errors(driver) == []


def test_screenshot_is_not_blank(page: webdriver.Chrome, tmp_path: Path) -> None:
    """The README's screenshot; UPDATE_SCREENSHOT=1 writes it to docs/images/catalog.png."""
    page.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                         {"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False})
    try:
        page.refresh()
        wait_ready(page)
        page.find_element(By.CSS_SELECTOR, "#p-ai-proxy details.readme summary").click()
        page.execute_script("document.activeElement.blur(); window.scrollTo(0, 0);")
        png = page.get_screenshot_as_png()
    finally:
        page.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    image = read_png(png)
    assert (image.width, image.height) == (1280, 800)
    colours = image.colours(step=2)
    assert len(colours) > 50, "the screenshot is (nearly) blank"
    # text is drawn: many rows hold both light and dark pixels
    dark_rows = sum(1 for y in range(0, image.height, 4) if any(sum(image.pixel(x, y)[:3]) < 200 for x in range(0, image.width, 3)))
    assert dark_rows > 40
    target = SCREENSHOT if os.environ.get("UPDATE_SCREENSHOT") == "1" else tmp_path / "catalog.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(png)
    assert read_png(target.read_bytes()).width == 1280


def test_five_hundred_plugins_stay_usable(tmp_path: Path, browser: webdriver.Chrome) -> None:
    count = 500
    specs = synthetic_specs(count)
    tree, _ = build_tree(tmp_path / "plugins", specs)
    with running_nginx(tree.root) as big:
        browser.get("about:blank")
        browser.get_log("browser")
        browser.get(big.plugins_url)
        wait_ready(browser)
        loaded = browser.execute_script(
            "const t = performance.getEntriesByType('navigation')[0]; return t.domContentLoadedEventEnd;")
        assert loaded < 5000, f"DOMContentLoaded after {loaded:.0f} ms"
        assert len(visible_plugins(browser)) == count
        took = browser.execute_script(
            "const box = document.getElementById('search'); const t0 = performance.now();"
            "box.value = 'plugin-0123'; box.dispatchEvent(new Event('input'));"
            "return performance.now() - t0;")
        assert took < 500, f"filtering {count} plugins took {took:.0f} ms"
        assert visible_plugins(browser) == ["plugin-0123"]
        Select(browser.find_element(By.ID, "category")).select_by_visible_text("Security")
        assert visible_plugins(browser) == []  # plugin-0123 is in another category
        type_search(browser, "")
        assert visible_plugins(browser) == [s.name for s in specs if s.category == "Security"]
        assert console_errors(browser) == []


def test_plugin_sync_serve_shows_the_catalog_at_the_root(browser: webdriver.Chrome, tmp_path: Path) -> None:
    specs = sample_specs()
    build_tree(tmp_path / "plugins", specs, tmp_path / "plugins.lock.json")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sync", "--root", str(tmp_path / "plugins"), "--lock", str(tmp_path / "plugins.lock.json"),
         "serve", "--port", str(port)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "serve exited"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                assert time.monotonic() < deadline, "plugin-sync serve did not come up"
                time.sleep(0.05)
        browser.get(f"http://127.0.0.1:{port}/")
        wait_ready(browser)
        assert browser.current_url == f"http://127.0.0.1:{port}/plugins/"
        assert sorted(visible_plugins(browser)) == sorted({s.name for s in specs})
        assert console_errors(browser) == []
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stderr:
            proc.stderr.close()
