from __future__ import annotations

from tests.support.workspace import fast_retries, registry, ws  # noqa: F401 - fixtures
