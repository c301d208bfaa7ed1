"""The one GitHub client setup: PyGithub pointed at ``GITHUB_API_URL`` with ``GITHUB_TOKEN``.

Retries go through ``sync.retry.RetryPolicy`` (the project's single retry policy): a
urllib3 ``Retry`` whose every decision asks the policy, so 5xx bursts, 429s and GitHub's
403 rate limits (``Retry-After``, ``X-RateLimit-Remaining: 0`` + ``X-RateLimit-Reset``) are
waited out up to the policy's bound, and the last answer is then handed to PyGithub, which
raises. A 403 whose headers say nothing may still be a rate limit: GitHub's secondary limit can
come with its message in the body alone. That body is read (as PyGithub's own ``GithubRetry``
does) and, when it tells of a rate limit, the request waits at least a minute and then
exponentially longer (``RetryPolicy.limit_delay``); any other 403 is raised at once, as
PyGithub would raise it. PyGithub's own pacing between requests is turned off; writes keep a short gap
(``PLUGIN_SYNC_GITHUB_WRITE_INTERVAL`` seconds) against GitHub's secondary limits.

A request is sent again only when that cannot do twice what GitHub did once (``may_repeat``):
after any failure, an idempotent method (RFC 9110: GET, HEAD, PUT, DELETE, ...) and PATCH
(GitHub's PATCH sets fields to the values sent: a ref to a commit, a title, a body), the
creation of a git blob, tree or commit (content-addressed: made twice, it is the same object,
or for a commit an unreferenced twin), of a pull request (GitHub keeps one open pull request
per head and base and refuses a second with 422, which ``sync.github.pulls.create_pull`` turns
into an update of the first) and adding labels (a set); any other POST (a ref, a release, a
workflow dispatch) only when GitHub surely did not execute it: the connection was never made,
or GitHub turned it away (429, 503, a rate limit). Such a POST whose answer was lost (a
timeout, a reset, a 502) is not sent again: the caller reads what is there
(``sync.github.gitdata.create_ref``).

The token is kept out of every message: errors are built here from the status and the
server's message, and anything that still holds the token is redacted.
"""

from __future__ import annotations

import json
import os
import re
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

import github
import requests
from github.GithubRetry import GithubRetry
from github.Requester import Requester
from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.util.retry import Retry

from sync.errors import SyncError, UsageError
from sync.http import USER_AGENT
from sync.retry import RetryPolicy

API_URL_ENV = "GITHUB_API_URL"
TOKEN_ENV = "GITHUB_TOKEN"
SERVER_URL_ENV = "GITHUB_SERVER_URL"
WRITE_INTERVAL_ENV = "PLUGIN_SYNC_GITHUB_WRITE_INTERVAL"
DEFAULT_API_URL = "https://api.github.com"
DEFAULT_SERVER_URL = "https://github.com"
DEFAULT_WRITE_INTERVAL = 0.2
TIMEOUT = 30

_secrets: set[str] = set()


class GitHubError(SyncError):
    """GitHub refused or failed a request. The message never holds the token."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(redact(message))
        self.status = status


def remember_secret(secret: str | None) -> None:
    """Register a value that must never appear in any message."""
    if secret and len(secret) >= 4:
        _secrets.add(secret)


def redact(text: str) -> str:
    for s in sorted(_secrets, key=len, reverse=True):
        text = text.replace(s, "***")
    return text


class PolicyRetry(Retry):
    """A urllib3 Retry that asks ``RetryPolicy.delay`` whether and how long to wait."""

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        wait: float = 0.0,
        **kw: Any,
    ) -> None:
        for key in ("total", "connect", "read", "status", "other"):
            kw.setdefault(key, None)
        kw.setdefault("redirect", 0)
        kw.setdefault("allowed_methods", None)  # may_repeat decides, by method, path and failure
        kw.setdefault("raise_on_status", False)  # hand the last answer to PyGithub
        kw.setdefault("respect_retry_after_header", False)  # the policy reads it
        super().__init__(**kw)
        self.policy = policy or RetryPolicy.from_env()
        self._sleep = sleep
        self.wait = wait

    def new(self, **kw: Any) -> "PolicyRetry":
        kw.setdefault("policy", self.policy)
        kw.setdefault("sleep", self._sleep)
        return super().new(**kw)

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        # 403 is retried only when its headers say rate limit; increment() asks the policy
        return status_code in self.policy.statuses or status_code == 403

    def is_exhausted(self) -> bool:
        return False  # the policy decides in increment()

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> "PolicyRetry":
        attempt = len(self.history) + 1
        status = getattr(response, "status", None) if response is not None else None
        headers = response.headers if response is not None else None
        if not may_repeat(method, url, status, error is not None and self._is_connection_error(error)):
            if error is not None:
                raise error  # as urllib3 raises an error it will not retry
            raise MaxRetryError(_pool, url, ResponseError(f"not repeated: {method} answered {status}"))
        wait: float | None
        if status == 403 and headers is not None and not self.policy.is_retryable(status, headers):
            wait = self._told_rate_limit(response, url, attempt)
        else:
            wait = self.policy.delay(attempt, status, headers)
        if wait is None:
            reason = error or ResponseError(f"giving up after {attempt} tries, last status {status}")
            raise MaxRetryError(_pool, url, reason) from reason
        new = super().increment(method, url, response, error, _pool, _stacktrace)
        new.wait = wait
        return new

    def _told_rate_limit(self, response: Any, url: str | None, attempt: int) -> float:
        """The wait for a 403 whose headers name no rate limit: its body may. Anything else is
        raised here as PyGithub raises it, since the body has been read."""
        content = GithubRetry.get_content(response, url or "")
        try:
            data: Any = json.loads(content)
        except ValueError:
            data = content.decode("utf-8", "replace")
        message = str(data.get("message") or "") if isinstance(data, dict) else ""
        wait = self.policy.limit_delay(attempt) if is_rate_limit_message(message) else None
        if wait is None:
            raise Requester.createException(response.status, dict(response.headers), data)
        return wait

    def sleep(self, response: Any = None) -> None:
        if self.wait > 0:
            self._sleep(self.wait)


IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE",  # RFC 9110, 9.2.2
                        "PATCH"})  # GitHub's PATCH sets fields to the values sent
_REPEATABLE_POSTS = re.compile(r"/git/(blobs|trees|commits)$|/pulls$|/issues/\d+/labels$")
NOT_EXECUTED = frozenset({403, 429, 503})  # turned away (403 is retried only as a rate limit)


def may_repeat(method: str | None, url: str | None, status: int | None, unsent: bool) -> bool:
    """Whether a request that failed (with ``status``, or with a transport error, ``unsent``
    when the connection was never made) may be sent again (see the module doc)."""
    if method is None:
        return False
    if method.upper() in IDEMPOTENT or unsent:
        return True
    if url and _REPEATABLE_POSTS.search(urlsplit(url).path):
        return True
    return status in NOT_EXECUTED


def is_rate_limit_message(message: str) -> bool:
    """GitHub's words for a primary or secondary rate limit (the tests PyGithub applies)."""
    return Requester.isRateLimitError(message)


def api_url(env: dict[str, str] | None = None) -> str:
    env = dict(os.environ) if env is None else env
    url = (env.get(API_URL_ENV) or DEFAULT_API_URL).rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"{API_URL_ENV}={url!r} is not an http(s) URL")
    return url


def server_url(env: dict[str, str] | None = None) -> str:
    """The web address of the GitHub server (for links to PRs)."""
    env = dict(os.environ) if env is None else env
    return (env.get(SERVER_URL_ENV) or DEFAULT_SERVER_URL).rstrip("/")


def token(env: dict[str, str] | None = None) -> str | None:
    env = dict(os.environ) if env is None else env
    value = (env.get(TOKEN_ENV) or "").strip()
    remember_secret(value)
    return value or None


def write_interval(env: dict[str, str] | None = None) -> float:
    env = dict(os.environ) if env is None else env
    raw = env.get(WRITE_INTERVAL_ENV)
    if raw is None or raw == "":
        return DEFAULT_WRITE_INTERVAL
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"{WRITE_INTERVAL_ENV} must be a number of seconds, got {raw!r}") from None
    if value < 0:
        raise UsageError(f"{WRITE_INTERVAL_ENV} must not be negative")
    return value


def connect(
    env: dict[str, str] | None = None,
    policy: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> github.Github:
    """A PyGithub client for ``GITHUB_API_URL`` (default api.github.com) with ``GITHUB_TOKEN``."""
    secret = token(env)
    auth = github.Auth.Token(secret) if secret else None
    return github.Github(
        auth=auth,
        base_url=api_url(env),
        timeout=TIMEOUT,
        user_agent=USER_AGENT,
        per_page=100,
        retry=PolicyRetry(policy or RetryPolicy.from_env(), sleep=sleep),
        seconds_between_requests=0,
        seconds_between_writes=write_interval(env),
    )


def _server_message(data: Any) -> str:
    if isinstance(data, dict):
        message = str(data.get("message") or "").strip()
        details = []
        for err in data.get("errors") or []:
            if isinstance(err, dict):
                details.append(str(err.get("message") or err.get("code") or "").strip())
            elif isinstance(err, str):
                details.append(err)
        details = [d for d in details if d]
        if details:
            message = f"{message}: {'; '.join(details)}" if message else "; ".join(details)
        return message
    if isinstance(data, (bytes, str)):
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        return text.strip()[:200]
    return ""


def _wait_hint(status: int, headers: Any) -> str:
    if status not in (403, 429) or not headers:
        return ""
    asked = RetryPolicy().server_wait({str(k): str(v) for k, v in dict(headers).items()})
    if asked is None:
        return ""
    return f" (GitHub asks to wait {asked:.0f} s; the bound is PLUGIN_SYNC_RETRY_MAX_WAIT)"


def error_summary(exc: BaseException) -> tuple[str, int | None]:
    """One line naming what GitHub (or the network) said, and the HTTP status if any."""
    if isinstance(exc, github.GithubException):
        status = exc.status
        message = " ".join(_server_message(exc.data).split()) or "no message"
        return f"{status} {message}{_wait_hint(status, exc.headers)}", status
    if isinstance(exc, requests.exceptions.RetryError):
        return "gave up after repeated server errors", None
    if isinstance(exc, requests.exceptions.ConnectionError):
        if "Connection aborted" in str(exc):
            return f"the connection to {api_url()} closed before an answer", None
        return f"cannot connect to {api_url()}", None
    if isinstance(exc, requests.exceptions.Timeout):
        return f"no answer from {api_url()} within {TIMEOUT} s", None
    if isinstance(exc, requests.exceptions.RequestException):
        return f"request failed: {type(exc).__name__}", None
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}", None


@contextmanager
def github_errors(what: str) -> Iterator[None]:
    """Turn PyGithub and network exceptions into one-line ``GitHubError``\\ s about ``what``."""
    try:
        yield
    except SyncError:
        raise
    except (github.GithubException, requests.exceptions.RequestException) as e:
        message, status = error_summary(e)
        raise GitHubError(f"GitHub: {what}: {message}", status) from None


def parse_repo(full_name: str, option: str = "--repo") -> str:
    parts = full_name.strip().split("/")
    if len(parts) != 2 or not all(parts) or any(p in (".", "..") for p in parts):
        raise UsageError(f"{option} {full_name!r}: expected OWNER/REPO")
    return "/".join(parts)
