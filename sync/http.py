"""The one HTTP session setup: connection pooling, timeouts and a User-Agent."""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from sync import __version__

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0
USER_AGENT = f"plugin-sync/{__version__}"


def timeouts(read: float | None = None) -> tuple[float, float]:
    """(connect, read) timeouts; ``read`` bounds each wait for bytes, not the whole body."""
    return (CONNECT_TIMEOUT, read if read is not None else READ_TIMEOUT)


class _Session(requests.Session):
    """requests' Session, reading the environment's proxy and TLS settings once per origin:
    requests scans every environment variable twice a request to find them, a sixth of a
    request's CPU, and a pull sends hundreds of requests at once. The environment does not
    change while a command runs. Requests carry their own ``Authorization`` (the registry's
    tokens, GitHub's): ``~/.netrc`` is never read, so none of its entries replaces them."""

    def __init__(self) -> None:
        super().__init__()
        self._settings: dict[tuple[str, object, object, object], Any] = {}
        self._settings_lock = threading.Lock()
        self.auth = _no_netrc

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
        if (proxies or not isinstance(url, str) or not isinstance(verify, (bool, str, type(None)))
                or not isinstance(cert, (str, type(None)))):
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        parts = urlsplit(url)
        key = (f"{parts.scheme}://{parts.netloc}", stream, verify, cert)
        with self._settings_lock:
            got = self._settings.get(key)
        if got is None:
            got = super().merge_environment_settings(url, proxies, stream, verify, cert)
            with self._settings_lock:
                self._settings[key] = got
        return {**got, "proxies": dict(got["proxies"])}


def _no_netrc(r: requests.PreparedRequest) -> requests.PreparedRequest:
    """The session's auth: leaves a request as it is (a session without one reads ~/.netrc)."""
    return r


def make_session(pool_size: int = 16) -> requests.Session:
    """A session with a pool wide enough for ``pool_size`` concurrent requests per host.

    Retries are not done here but by sync.retry, which also covers streamed bodies.
    """
    s = _Session()
    adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    s.headers["User-Agent"] = USER_AGENT
    s.trust_env = True
    return s


def open_ahead(session: requests.Session, url: str, n: int) -> int:
    """Open up to ``n`` connections to ``url``'s host and leave them idle in ``session``'s
    pool, each in a thread of its own, so that requests sent later start on a connection
    whose TCP (and TLS) set-up is done. At a distance that is two or three round trips
    saved for every request that would have opened one. Returns how many were opened.

    Best effort: a connection that cannot be opened is left for the request that needs it
    to open and report. Nothing is opened through a proxy, whose tunnel is set up per
    request. Requests has no public call for this: the pool is the one requests would
    choose for ``url`` (``get_connection_with_tls_context``, with the session's TLS and
    proxy settings), its connections are taken and given back with the pool's own
    ``_get_conn`` and ``_put_conn``, and a connection whose server closed it meanwhile is
    opened again by urllib3 when it is next taken (tests/test_http.py holds urllib3 to that)."""
    if n <= 0:
        return 0
    settings = session.merge_environment_settings(url, {}, None, None, None)
    if requests.utils.select_proxy(url, settings["proxies"]):
        return 0
    try:
        adapter = session.get_adapter(url)
        pool = adapter.get_connection_with_tls_context(  # type: ignore[attr-defined]
            requests.Request("GET", url).prepare(), settings["verify"], None, settings["cert"])
        conns = [pool._get_conn() for _ in range(n)]
    except Exception:  # noqa: BLE001 - an optimisation only: the requests open their own
        return 0
    opened = 0
    lock = threading.Lock()

    def connect(conn: Any) -> None:
        nonlocal opened
        try:
            if conn.sock is None:  # an idle connection kept from before needs nothing
                conn.timeout = CONNECT_TIMEOUT
                conn.connect()
            with lock:
                opened += 1
        except Exception:  # noqa: BLE001 - see above
            conn.close()

    threads = [threading.Thread(target=connect, args=(c,), daemon=True) for c in conns]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for c in conns:
        pool._put_conn(c)
    return opened
