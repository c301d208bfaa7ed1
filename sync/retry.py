"""The one retry policy, shared by the registry client and the GitHub client.

Retries answer 429 and 5xx (except 501/505/511), connection errors and timeouts. A
``Retry-After`` or ``X-RateLimit-Reset`` header is honoured up to ``max_wait``; otherwise
the wait grows exponentially with full jitter. After ``attempts`` tries, or when the
server asks for a longer wait than ``max_wait``, the caller gets the last error.

A rate limit told only in words (GitHub's secondary limit can come as a bare 403 whose body
says so) is waited out as GitHub asks: at least a minute (``limit_wait``), then twice as
long each time (``limit_delay``).
"""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping, TypeVar

from sync import settings

T = TypeVar("T")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 507, 508, 509, 598, 599})


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5  # tries in all, the first included
    base: float = 0.5  # first back-off, seconds
    cap: float = 20.0  # longest back-off, seconds
    max_wait: float = 120.0  # longest wait a server may ask for, seconds
    limit_wait: float = 60.0  # first wait after a rate limit that names no time, seconds
    statuses: frozenset[int] = field(default=RETRY_STATUSES)

    @classmethod
    def from_env(cls) -> "RetryPolicy":
        """Defaults, overridable by PLUGIN_SYNC_RETRY_ATTEMPTS / _BASE / _MAX_WAIT (``sync.settings``)."""
        return cls(
            attempts=settings.whole(settings.RETRY_ATTEMPTS),
            base=settings.number(settings.RETRY_BASE),
            max_wait=settings.number(settings.RETRY_MAX_WAIT),
        )

    def backoff(self, attempt: int) -> float:
        """Exponential back-off with full jitter for retry number ``attempt`` (1-based)."""
        return random.uniform(0, min(self.cap, self.base * (2 ** (attempt - 1))))

    def server_wait(self, headers: Mapping[str, str], now: float | None = None) -> float | None:
        """Seconds the server asked us to wait (Retry-After or a spent rate limit), if any."""
        now = time.time() if now is None else now
        after = headers.get("Retry-After") or headers.get("retry-after")
        if after:
            after = after.strip()
            if after.isdigit():
                return float(after)
            try:
                parsed = email.utils.parsedate_to_datetime(after)
                return max(0.0, parsed.timestamp() - now)
            except (TypeError, ValueError):
                pass
        remaining = headers.get("X-RateLimit-Remaining") or headers.get("x-ratelimit-remaining")
        reset = headers.get("X-RateLimit-Reset") or headers.get("x-ratelimit-reset")
        if remaining == "0" and reset and reset.isdigit():
            return max(0.0, float(reset) - now) + 1.0
        return None

    def limit_delay(self, attempt: int) -> float | None:
        """The wait before retry number ``attempt`` after a rate limit that names no time
        (``limit_wait``, then doubling), or None when the tries are spent."""
        if attempt >= self.attempts:
            return None
        return float(self.limit_wait * 2 ** (attempt - 1))

    def is_retryable(self, status: int, headers: Mapping[str, str]) -> bool:
        if status in self.statuses:
            return True
        # GitHub answers rate limits with 403 and tells so in its headers
        return status == 403 and self.server_wait(headers) is not None

    def delay(self, attempt: int, status: int | None, headers: Mapping[str, str] | None) -> float | None:
        """How long to wait before retry number ``attempt``, or None to give up."""
        if attempt >= self.attempts:
            return None
        if status is not None and headers is not None:
            if not self.is_retryable(status, headers):
                return None
            asked = self.server_wait(headers)
            if asked is not None:
                return asked if asked <= self.max_wait else None
        return self.backoff(attempt)

    def run(
        self,
        fn: Callable[[], T],
        retryable: Callable[[BaseException], tuple[bool, Mapping[str, str] | None, int | None]],
        sleep: Callable[[float], None] = time.sleep,
    ) -> T:
        """Call ``fn`` until it succeeds or the policy gives up.

        ``retryable(exc)`` says whether an exception may be retried, with the response
        status and headers when there was one.
        """
        attempt = 0
        while True:
            attempt += 1
            try:
                return fn()
            except Exception as exc:  # noqa: BLE001 - classified by retryable()
                ok, headers, status = retryable(exc)
                if not ok:
                    raise
                wait = self.delay(attempt, status, headers)
                if wait is None:
                    raise
                sleep(wait)
