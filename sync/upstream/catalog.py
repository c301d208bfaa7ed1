"""Upstream's plugin catalog (``plugins/release/catalog.json``) as value types. No logic.

For each plugin the catalog names its source directory, the path globs its artifact is built
from (``artifactInputs``, with ``**``), the shared input groups it also depends on (top-level
``sharedInputGroups``: a change to ``plugins/wasm-go/Makefile`` is an input of every Go
plugin), and how the plugin server serves it (``consumers.pluginServer``). Parsing lives in
``catalogread``, the path rules in ``inputs``; where the file lives, in ``paths``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

@dataclass(frozen=True)
class ServedAs:
    """``consumers.pluginServer``: the names the plugin server serves a plugin under."""

    inventory_key: str
    http_path: str | None = None
    aliases: tuple[str, ...] = ()

    @property
    def primary(self) -> str:
        return self.http_path or self.inventory_key

    @property
    def names(self) -> tuple[str, ...]:
        """The served path (or inventory key), then every alias, once each."""
        out = [self.primary]
        out += [a for a in self.aliases if a not in out]
        return tuple(out)


@dataclass(frozen=True)
class CatalogPlugin:
    logical_id: str
    implementation: str  # go | rust | ...
    source_dir: str  # e.g. plugins/wasm-go/extensions/jsonrpc-converter
    image: str  # e.g. plugins/jsonrpc-converter
    artifact_inputs: tuple[str, ...]  # path globs
    shared_groups: tuple[str, ...] = ()  # names of top-level sharedInputGroups
    served: ServedAs | None = None  # None: not served by upstream's plugin server


@dataclass(frozen=True)
class Catalog:
    plugins: tuple[CatalogPlugin, ...]
    shared_inputs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # group -> globs
    sha256: str = ""
