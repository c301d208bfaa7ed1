"""The numeric ``PLUGIN_SYNC_*`` settings read from the environment: one parser for all of them.

Each setting is read when it is used, never at import, and a value that is not what the
setting accepts is a ``UsageError`` (exit 2) naming the variable, what it accepts and what
it holds. The command line checks them all before a command starts (``check_all``), so a bad
value fails every command the same way, before any work, and never inside one plugin's fetch.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from typing import Mapping

from sync.errors import UsageError

_INT = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class Setting:
    """One numeric variable: its default, whether it is whole, and its least value."""

    name: str
    default: float
    whole: bool
    minimum: float
    unit: str

    def accepts(self) -> str:
        kind = "a whole number" if self.whole else "a number"
        return f"{kind} of {self.unit}, at least {self.render(self.minimum)} (default {self.render(self.default)})"

    @staticmethod
    def render(value: float) -> str:
        return str(int(value)) if value == int(value) else str(value)

    def parse(self, raw: str) -> float:
        """``raw`` as this setting's value, or a UsageError naming the variable."""
        text = raw.strip()
        value: float | None = None
        if self.whole:
            value = int(text) if _INT.fullmatch(text) else None
        else:
            try:
                value = float(text)
            except ValueError:
                value = None
            if value is not None and not math.isfinite(value):
                value = None
        if value is None or value < self.minimum:
            raise UsageError(f"{self.name}={raw!r}: expected {self.accepts()}")
        return value


MAX_MODULE_BYTES = Setting("PLUGIN_SYNC_MAX_MODULE_BYTES", 256 * 1024 * 1024, True, 1, "bytes")
RETRY_ATTEMPTS = Setting("PLUGIN_SYNC_RETRY_ATTEMPTS", 5, True, 1, "tries")
RETRY_BASE = Setting("PLUGIN_SYNC_RETRY_BASE", 0.5, False, 0, "seconds")
RETRY_MAX_WAIT = Setting("PLUGIN_SYNC_RETRY_MAX_WAIT", 120.0, False, 0, "seconds")
GITHUB_WRITE_INTERVAL = Setting("PLUGIN_SYNC_GITHUB_WRITE_INTERVAL", 0.2, False, 0, "seconds")
SETTINGS = (MAX_MODULE_BYTES, RETRY_ATTEMPTS, RETRY_BASE, RETRY_MAX_WAIT, GITHUB_WRITE_INTERVAL)


def number(setting: Setting, env: Mapping[str, str] | None = None) -> float:
    """The setting's value now: the environment's (checked), or its default when unset or empty."""
    raw = (os.environ if env is None else env).get(setting.name)
    if raw is None or raw.strip() == "":
        return setting.default
    return setting.parse(raw)


def whole(setting: Setting, env: Mapping[str, str] | None = None) -> int:
    """A whole-number setting's value now (see ``number``)."""
    assert setting.whole
    return int(number(setting, env))


def check_all(env: Mapping[str, str] | None = None) -> None:
    """Every numeric setting of the environment parses: else the first bad one's UsageError."""
    for setting in SETTINGS:
        number(setting, env)
