from __future__ import annotations

import pytest

from tests.release.conftest import no_actions_env  # noqa: F401 - autouse fixture
from tests.release.gitutil import git_env  # noqa: F401 - a fixture
