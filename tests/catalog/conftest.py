"""Fixtures shared by the catalog's browser tests: one pulled tree behind the real nginx,
and one headless Chromium, for the whole session (starting them is the slow part)."""

from __future__ import annotations

from typing import Iterator

import pytest
from selenium import webdriver

from tests.catalog.browser import chromium, wait_ready
from tests.catalog.site import Site, pull_site
from tests.support.nginx import NginxServer, running_nginx


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return pull_site(tmp_path_factory.mktemp("catalog-site"))


@pytest.fixture(scope="session")
def server(site: Site) -> Iterator[NginxServer]:
    with running_nginx(site.root) as s:
        yield s


@pytest.fixture(scope="session")
def browser() -> Iterator[webdriver.Chrome]:
    with chromium() as driver:
        yield driver


@pytest.fixture
def page(browser: webdriver.Chrome, server: NginxServer) -> webdriver.Chrome:
    """The catalog freshly loaded from the server's root, its scripts done, logs drained."""
    browser.get("about:blank")
    browser.get_log("browser")
    browser.get_log("performance")
    browser.get(server.url + "/")
    wait_ready(browser)
    return browser
