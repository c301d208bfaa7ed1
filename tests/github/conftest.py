from __future__ import annotations

from typing import Iterator

import pytest

from tests.support.fakegithub import TOKEN, FakeGitHub


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub(token=TOKEN) as f:
        yield f
