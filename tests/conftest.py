"""Every test starts from the same environment, whatever the developer's shell or the CI runner
holds (tests/support/env.py lists what is taken away and what is pinned).

The environment is cleared once when the session starts, so session fixtures, module imports
and subprocesses see it clean, and again before each test, so that one test's direct writes to
``os.environ`` never reach the next. tests/test_isolation.py proves it.
"""

from __future__ import annotations

import os

import pytest

from tests.support.env import PINNED, isolate, leaks


def pytest_configure(config: pytest.Config) -> None:
    isolate(os.environ)


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if leaks(n)]:
        monkeypatch.delenv(name)
    for name, value in PINNED.items():
        monkeypatch.setenv(name, value)
