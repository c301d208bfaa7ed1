"""The console's plugin list, read into value types. Pure: parsing over bytes and text.

The Higress console (``higress-group/higress-console``) keeps its built-in plugins in
``backend/sdk/src/main/resources/plugins/``: ``plugins.properties`` (key = OCI reference),
``plugin-snapshot.lock.json`` (the manifest digest of most of them) and one directory per
key holding ``spec.yaml``. With ``HIGRESS_ADMIN_WASM_PLUGIN_CUSTOM_IMAGE_URL_PATTERN`` set it
builds each plugin's URL by replacing ``${name}`` and ``${version}`` with the spec's
``info.name`` and ``info.version`` as plain text: not the OCI tag, which may differ.

A local copy of the list is one JSON file, ``console-plugins.json``::

    {"basic-auth": {"properties": "oci://HOST/plugins/basic-auth:2.0.0",
                    "specName": "basic-auth", "specVersion": "1.0.0"}, ...}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

import yaml

from sync.errors import ConfigError
from sync.filenames import SPEC
from sync.names import check_name, check_version, is_digest
from sync.oci.reference import Source, parse_source
from sync.properties import parse_properties

PLUGINS_DIR = "backend/sdk/src/main/resources/plugins"  # in a console checkout
PROPERTIES = "plugins.properties"
CONSOLE_LOCK = "plugin-snapshot.lock.json"
LIST = "console-plugins.json"  # a local copy of the list
# the Helm chart's (and docs/configure-gateway.md's) pattern, in namespace higress-system
DEFAULT_PATTERN = "http://higress-plugin-server.higress-system.svc/plugins/${name}/${version}/plugin.wasm"


@dataclass(frozen=True)
class ConsolePlugin:
    """One plugin of the console: the URL it asks for comes from ``name`` and ``version``
    (its spec), the artifact it means from ``source`` (its properties line) and ``digest``
    (its lock, when recorded there)."""

    key: str
    name: str
    version: str
    source: Source
    digest: str | None = None

    def url(self, pattern: str) -> str:
        return pattern.replace("${name}", self.name).replace("${version}", self.version)


def parse_spec(text: str, where: str) -> tuple[str, str]:
    """``info.name`` and ``info.version`` of a plugin's ``spec.yaml``."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError:
        raise ConfigError(f"{where}: not valid YAML") from None
    info = raw.get("info") if isinstance(raw, dict) else None
    if not isinstance(info, dict):
        raise ConfigError(f"{where}: no info mapping")
    return (check_name(str(info.get("name") or ""), f"{where}: info.name: "),
            check_version(str(info.get("version") or ""), f"{where}: info.version: "))


def parse_console_lock(data: bytes, where: str = CONSOLE_LOCK) -> dict[str, tuple[str | None, str]]:
    """Each key's reference (``ociRef``, when recorded) and manifest digest in the console's
    ``plugin-snapshot.lock.json``."""
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise ConfigError(f"{where}: not JSON: {e}") from None
    plugins = raw.get("plugins") if isinstance(raw, dict) else None
    if not isinstance(plugins, dict):
        raise ConfigError(f"{where}: no plugins object")
    out: dict[str, tuple[str | None, str]] = {}
    for key, entry in plugins.items():
        digest = entry.get("digest") if isinstance(entry, dict) else None
        if not is_digest(digest):
            raise ConfigError(f"{where}: {key}: missing or malformed digest {digest!r}")
        ref = entry.get("ociRef")
        out[check_name(key, f"{where}: ")] = (ref if isinstance(ref, str) else None, str(digest))
    return out


def _same_artifact(ref: str | None, source: Source) -> bool:
    """The lock's ``ociRef`` names the properties' repository and tag (or is not recorded)."""
    if ref is None:
        return True
    try:
        recorded = parse_source(ref, source.host)
    except ConfigError:
        return False
    return (recorded.repository, recorded.tag) == (source.repository, source.tag)


def from_files(properties: str, specs: Mapping[str, str], lock: bytes | None = None,
               where: str = "") -> tuple[ConsolePlugin, ...]:
    """The list from the console's own files: ``plugins.properties``, each key's
    ``spec.yaml`` text (by key) and, when present, ``plugin-snapshot.lock.json``."""
    config = parse_properties(properties, f"{where}{PROPERTIES}: ")
    pins = parse_console_lock(lock, f"{where}{CONSOLE_LOCK}") if lock is not None else {}
    out: list[ConsolePlugin] = []
    for key, spec in config.plugins.items():
        if key not in specs:
            raise ConfigError(f"{where}{key}/{SPEC}: missing (the console builds {key}'s URL from it)")
        name, version = parse_spec(specs[key], f"{where}{key}/{SPEC}")
        ref, digest = pins.get(key, (None, None))
        # a lock entry for another tag than the properties' pins another artifact
        out.append(ConsolePlugin(key, name, version, spec.source, digest if _same_artifact(ref, spec.source) else None))
    return tuple(sorted(out, key=lambda p: p.key))


def parse_list(data: bytes, lock: bytes | None = None, where: str = LIST) -> tuple[ConsolePlugin, ...]:
    """The list from a local copy (``console-plugins.json``), with the console's lock's
    digests when given."""
    try:
        raw: Any = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise ConfigError(f"{where}: not JSON: {e}") from None
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"{where}: expected an object of plugins")
    lines, specs = [], {}
    for key, entry in raw.items():
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str)
                                                  for k in ("properties", "specName", "specVersion")):
            raise ConfigError(f"{where}: {key}: needs properties, specName and specVersion strings")
        lines.append(f"{key}={entry['properties']}")
        specs[key] = yaml.safe_dump({"info": {"name": entry["specName"], "version": entry["specVersion"]}})
    return from_files("\n".join(lines) + "\n", specs, lock, f"{where}: ")


CHART = "helm/higress/Chart.yaml"  # Higress's umbrella chart: it names the console's chart version


def console_ref(chart: str) -> str | None:
    """The console's git tag (``v`` + its chart version) that Higress's umbrella chart
    depends on, or None when the chart names no ``higress-console`` dependency."""
    try:
        raw = yaml.safe_load(chart)
    except yaml.YAMLError:
        return None
    deps = raw.get("dependencies") if isinstance(raw, dict) else None
    for d in deps if isinstance(deps, list) else []:
        if isinstance(d, dict) and d.get("name") == "higress-console" and d.get("version"):
            version = str(d["version"]).lstrip("v")
            return f"v{check_version(version, f'{CHART}: higress-console version: ')}"
    return None
