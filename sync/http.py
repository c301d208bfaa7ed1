"""The one HTTP session setup: connection pooling, timeouts and a User-Agent."""

from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter

from sync import __version__

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0
USER_AGENT = f"plugin-sync/{__version__}"


def timeouts(read: float | None = None) -> tuple[float, float]:
    """(connect, read) timeouts; ``read`` bounds each wait for bytes, not the whole body."""
    return (CONNECT_TIMEOUT, read if read is not None else READ_TIMEOUT)


def make_session(pool_size: int = 16) -> requests.Session:
    """A session with a pool wide enough for ``pool_size`` concurrent requests per host.

    Retries are not done here but by sync.retry, which also covers streamed bodies.
    """
    s = requests.Session()
    adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    s.headers["User-Agent"] = USER_AGENT
    s.trust_env = True
    return s
