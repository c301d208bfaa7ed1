"""Import the upstream ``plugins.properties`` format into a Config.

    # AI                        <- a group comment: the category of what follows
    ai-proxy=oci://higress-registry.cn-hangzhou.cr.aliyuncs.com/plugins/ai-proxy:2.0.3

Served names are kept as written (``json-converter`` from ``plugins/jsonrpc-converter``,
``mcp-server`` from ``mcp-server/all-in-one``): the key is the served name, the value the
image. The license header (a comment block before the first blank line) is not a group.
"""

from __future__ import annotations

from pathlib import Path

from sync.config import DEFAULT_REGISTRY, Config, PluginSpec, parse_plugin
from sync.errors import ConfigError
from sync.fsutil import read_input
from sync.names import check_name
from sync.oci.reference import parse_source


def parse_properties(text: str, where: str = "") -> Config:
    plugins: dict[str, PluginSpec] = {}
    category: str | None = None
    registries: dict[str, int] = {}
    in_header = True
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        at = f"{where}line {lineno}: "
        if not line:
            in_header = False
            continue
        if line.startswith(("#", "!")):
            comment = line.lstrip("#!").strip()
            if not in_header and comment:
                category = comment
            continue
        in_header = False
        sep = min((i for i in (line.find("="), line.find(":")) if i >= 0), default=-1)
        if line[sep:sep + 1] == ":" and line[sep:].startswith("://"):
            sep = line.find("=")
        if sep <= 0:
            raise ConfigError(f"{at}expected name=oci://host/repository:tag, got {line!r}")
        name, value = line[:sep].strip(), line[sep + 1:].strip()
        check_name(name, at)
        if name in plugins:
            raise ConfigError(f"{at}plugin {name!r} listed twice")
        if not value:
            raise ConfigError(f"{at}plugin {name!r} has no image")
        try:
            source = parse_source(value, DEFAULT_REGISTRY)
        except ConfigError as e:
            raise ConfigError(f"{at}plugin {name!r}: {e}") from None
        if not source.tag:
            raise ConfigError(f"{at}plugin {name!r}: image has no tag")
        try:  # the rules of plugins.yaml as well, so that what import writes reads back
            spec = parse_plugin(name, {"source": value, "category": category}, DEFAULT_REGISTRY)
        except ConfigError as e:
            raise ConfigError(f"{at}{e}") from None
        registries[source.host] = registries.get(source.host, 0) + 1
        plugins[name] = spec
    if not plugins:
        raise ConfigError(f"{where}no plugins found")
    registry = max(registries, key=lambda h: registries[h]) if registries else DEFAULT_REGISTRY
    return Config(plugins=plugins, registry=registry)


def load_properties(path: Path) -> Config:
    text = read_input(path, "")
    return parse_properties(str(text), f"{path}: ")
