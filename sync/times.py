"""UTC times as this project writes them everywhere (the lock, metadata.txt, the upstream
cursor, pull requests): ``YYYY-MM-DDTHH:MM:SSZ``. The one home of that format."""

from __future__ import annotations

import os
from datetime import datetime, timezone

from sync.errors import UsageError

FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def iso_time(timestamp: float | None = None) -> str:
    """A UTC time as the lock and metadata.txt write it (now, by default)."""
    when = datetime.now(timezone.utc) if timestamp is None else datetime.fromtimestamp(timestamp, timezone.utc)
    return when.strftime(FORMAT)


def stamp_time() -> str:
    """The time a pull stamps on what it stores: ``SOURCE_DATE_EPOCH`` when set (reproducible
    builds: two builds of one commit write the same bytes), else now."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        return iso_time(int(epoch))
    return iso_time()


def utc_iso(value: datetime | str) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` in UTC; text in ISO 8601 (``Z`` or an offset) or a datetime."""
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise UsageError(f"not an ISO 8601 time: {value!r}") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime(FORMAT)
