"""Which catalog plugins a changed upstream path is an input of. Pure.

A path marks a plugin when it matches one of the plugin's ``artifactInputs`` globs, or a
glob of a shared input group the plugin lists (then every plugin listing that group is
marked). Globs: ``**`` is any number of path segments, ``*`` any characters within one
segment, ``?`` one character.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from sync.upstream.catalog import Catalog, CatalogPlugin


@lru_cache(maxsize=4096)
def glob_regex(pattern: str) -> re.Pattern[str]:
    parts = pattern.split("/")
    out = []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "**":
            out.append(".*" if last else "(?:[^/]+/)*")
            continue
        seg = "".join("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c) for c in part)
        out.append(seg if last else seg + "/")
    return re.compile("".join(out) + r"\Z")


def glob_match(pattern: str, path: str) -> bool:
    return glob_regex(pattern).match(path) is not None


@dataclass(frozen=True)
class Hit:
    """A plugin a path is an input of, and how: directly, or through a shared group."""

    plugin: CatalogPlugin
    group: str | None = None  # None: one of the plugin's own artifactInputs


def hits(catalog: Catalog, path: str) -> tuple[Hit, ...]:
    """Every plugin ``path`` is an input of (one hit per plugin; its own inputs win)."""
    groups = {g for g, globs in catalog.shared_inputs.items() if any(glob_match(x, path) for x in globs)}
    out = []
    for p in catalog.plugins:
        if any(glob_match(x, path) for x in p.artifact_inputs):
            out.append(Hit(p))
            continue
        shared = next((g for g in p.shared_groups if g in groups), None)
        if shared is not None:
            out.append(Hit(p, shared))
    return tuple(out)
