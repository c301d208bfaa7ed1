from __future__ import annotations

from typing import Iterator

import pytest

from tests.support.fakegithub import FakeGitHub

TOKEN = "ghp_FAKEtoken_4b1d3c0ffee5ecre7"


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub(token=TOKEN) as f:
        yield f
