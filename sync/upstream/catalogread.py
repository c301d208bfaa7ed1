"""Reading upstream's ``plugins/release/catalog.json`` into ``catalog`` value types. Pure.

Only what detection needs is read; unknown keys are ignored (upstream adds fields), but the
fields that are read must have the documented shape, else ``ConfigError`` names the entry.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sync.errors import ConfigError
from sync.snapshot.model import parse_served
from sync.upstream.catalog import Catalog, CatalogPlugin


def _strings(raw: Any, where: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(x, str) and x for x in raw):
        raise ConfigError(f"{where} must be a list of strings")
    return tuple(raw)


def _plugin(raw: Any, index: int, groups: dict[str, tuple[str, ...]], where: str) -> CatalogPlugin:
    if not isinstance(raw, dict) or not isinstance(raw.get("logicalId"), str) or not raw["logicalId"]:
        raise ConfigError(f"{where}plugins[{index}]: expected an object with a logicalId")
    here = f"{where}plugin {raw['logicalId']}"
    source_dir = raw.get("sourceDir")
    if not isinstance(source_dir, str) or not source_dir:
        raise ConfigError(f"{here}: sourceDir must be a path")
    shared = _strings(raw.get("sharedInputGroups"), f"{here}: sharedInputGroups")
    unknown = [g for g in shared if g not in groups]
    if unknown:
        raise ConfigError(f"{here}: unknown shared input group {unknown[0]!r}")
    consumers = raw.get("consumers") or {}
    if not isinstance(consumers, dict):
        raise ConfigError(f"{here}: consumers must be an object")
    return CatalogPlugin(
        logical_id=raw["logicalId"],
        implementation=str(raw.get("implementation") or ""),
        source_dir=source_dir.rstrip("/"),
        image=str(raw.get("image") or ""),
        artifact_inputs=_strings(raw.get("artifactInputs"), f"{here}: artifactInputs"),
        shared_groups=shared,
        served=parse_served(consumers.get("pluginServer"), here),
    )


def parse_catalog(data: bytes, where: str = "") -> Catalog:
    """The catalog in ``data`` (the file's bytes); ``where`` prefixes error messages."""
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise ConfigError(f"{where}catalog is not JSON: {e}") from None
    if not isinstance(raw, dict) or raw.get("schemaVersion") != 1:
        raise ConfigError(f"{where}not a plugin catalog (schemaVersion 1)")
    groups_raw = raw.get("sharedInputGroups") or {}
    if not isinstance(groups_raw, dict):
        raise ConfigError(f"{where}sharedInputGroups must map group names to path globs")
    groups = {str(k): _strings(v, f"{where}sharedInputGroups.{k}") for k, v in groups_raw.items()}
    plugins = raw.get("plugins")
    if not isinstance(plugins, list):
        raise ConfigError(f"{where}catalog has no plugins list")
    return Catalog(tuple(_plugin(p, i, groups, where) for i, p in enumerate(plugins)), groups,
                   hashlib.sha256(data).hexdigest())
