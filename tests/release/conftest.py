from __future__ import annotations

import pytest

from tests.release.gitutil import git_env  # noqa: F401 - a fixture

ACTIONS_VARS = ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_REPOSITORY", "GITHUB_SERVER_URL",
                "GITHUB_API_URL", "GITHUB_TOKEN")


@pytest.fixture(autouse=True)
def no_actions_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never write to a real runner's output files, nor see its repository or token."""
    for name in ACTIONS_VARS:
        monkeypatch.delenv(name, raising=False)
