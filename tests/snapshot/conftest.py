"""Fixtures for pulls of a Higress release snapshot (tests/support/snapshot.py)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Iterator

import pytest

from tests.support.registry import Registry, running_registry
from tests.support.snapshot import Built, SnapshotWorkspace, rewrite
from tests.support.workspace import fast_retries, registry, ws  # noqa: F401 - fixtures used here too


@pytest.fixture(scope="module")
def snapshot_registry() -> Iterator[Registry]:
    with running_registry() as r:
        yield r


@pytest.fixture(scope="module")
def built(snapshot_registry: Registry) -> Built:
    return rewrite(snapshot_registry)


@pytest.fixture
def sws(tmp_path: Path, snapshot_registry: Registry, built: Built) -> SnapshotWorkspace:
    w = SnapshotWorkspace(tmp_path, snapshot_registry, copy.deepcopy(built))  # a test may edit its copy
    w.configure_unmanaged()
    return w
