"""Upstream's plugin catalog (``plugins/release/catalog.json``) as value types. No logic.

For each plugin the catalog names its source directory, the path globs its artifact is built
from (``artifactInputs``, with ``**``), the shared input groups it also depends on (top-level
``sharedInputGroups``: a change to ``plugins/wasm-go/Makefile`` is an input of every Go
plugin), and how the plugin server serves it (``consumers.pluginServer``, the same shape as
in a release snapshot: ``sync.snapshot.model.Served``). Parsing lives in
``catalogread``, the path rules in ``inputs``; where the file lives, in ``paths``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from sync.snapshot.model import Served


@dataclass(frozen=True)
class CatalogPlugin:
    logical_id: str
    implementation: str  # go | rust | ...
    source_dir: str  # e.g. plugins/wasm-go/extensions/jsonrpc-converter
    image: str  # e.g. plugins/jsonrpc-converter
    artifact_inputs: tuple[str, ...]  # path globs
    shared_groups: tuple[str, ...] = ()  # names of top-level sharedInputGroups
    served: Served | None = None  # consumers.pluginServer; None: not served by upstream's plugin server


@dataclass(frozen=True)
class Catalog:
    plugins: tuple[CatalogPlugin, ...]
    shared_inputs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # group -> globs
    sha256: str = ""
