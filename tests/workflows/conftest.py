from __future__ import annotations

from tests.support.git import git_env  # noqa: F401 - a fixture
