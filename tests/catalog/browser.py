"""Headless Chromium driven by Selenium, set up for a machine without network.

Debian's ``chromium`` and ``chromium-driver`` are used as installed: the driver path is
given explicitly, so Selenium's driver manager never tries a download.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from contextlib import contextmanager
from typing import Any, Iterator

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/bin/chromium"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
WINDOW = (1280, 860)


@contextmanager
def chromium(*, javascript: bool = True, extra_flags: tuple[str, ...] = ()) -> Iterator[webdriver.Chrome]:
    """A fresh headless Chromium with its own profile, logging console and network events."""
    profile = tempfile.mkdtemp(prefix="catalog-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={WINDOW[0]},{WINDOW[1]}", *extra_flags):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def console_errors(driver: webdriver.Chrome) -> list[dict[str, Any]]:
    """Console messages of level SEVERE (errors, failed loads, CSP violations) since the last call."""
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def requested_urls(driver: webdriver.Chrome) -> list[str]:
    """Every URL the page asked for since the last call, from the DevTools network events."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def grant_clipboard(driver: webdriver.Chrome, origin: str) -> None:
    driver.execute_cdp_cmd(
        "Browser.grantPermissions",
        {"origin": origin, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
    )


def read_clipboard(driver: webdriver.Chrome) -> str:
    """What is on the browser's clipboard, read by the current page (which needs the permission)."""
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "navigator.clipboard.readText().then(t => done({text: t}), e => done({error: String(e)}));"
    )
    if "error" in result:
        raise AssertionError(f"cannot read the clipboard: {result['error']}")
    return str(result["text"])


def wait_ready(driver: webdriver.Chrome, scripted: bool = True, timeout: float = 10.0) -> None:
    """Wait for the page to load and, when ``scripted``, for catalog.js to have set it up."""
    from selenium.webdriver.support.ui import WebDriverWait

    def ready(d: webdriver.Chrome) -> bool:
        if d.execute_script("return document.readyState") != "complete":
            return False
        return not scripted or not d.execute_script("return document.getElementById('controls').hidden")

    WebDriverWait(driver, timeout, poll_frequency=0.05).until(ready)
