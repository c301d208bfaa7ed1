"""Fixtures for mirror tests: a source registry holding the 2.2.4 snapshot's plugins
(tests/support/snapshot.py) in the layouts a gateway loads, and targets started per test."""

from __future__ import annotations

from typing import Iterator

import pytest

from tests.support.registry import Registry, running_registry
from tests.support.snapshot import Built, rewrite
from tests.support.workspace import fast_retries, registry, ws  # noqa: F401 - fixtures


@pytest.fixture(scope="module")
def source() -> Iterator[Registry]:
    with running_registry() as r:
        yield r


@pytest.fixture(scope="module")
def built(source: Registry) -> Built:
    return rewrite(source, loadable=True)
