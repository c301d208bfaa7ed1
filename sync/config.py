"""``plugins.yaml``: the desired state. Which plugins to serve, from where, under which versions.

Example::

    schemaVersion: 1
    registry: higress-registry.cn-hangzhou.cr.aliyuncs.com   # default host
    upstream:
      repository: higress-group/higress
      names: {jsonrpc-converter: json-converter}            # upstream dir -> served name
    pullRequest:
      labels: [plugin-sync]
    plugins:
      basic-auth:
        category: Auth
        source: oci://higress-registry.cn-hangzhou.cr.aliyuncs.com/plugins/basic-auth:2.0.0
        versions: [2.0.0, 1.0.0]          # default: the resolved tag
      json-converter:
        repository: plugins/jsonrpc-converter
        range: ">=2.0.0 <3.0.0"           # or tag: / digest:
      ai-agent:
        source: oci://higress-registry.cn-hangzhou.cr.aliyuncs.com/plugins/ai-agent:2.0.3
        sources:                          # more versions, each from its own artifact
          2.0.1: oci://higress-registry.cn-hangzhou.cr.aliyuncs.com/plugins/ai-agent:2.0.1@sha256:...

Parsing is pure (``parse_config`` over plain data); ``load_config`` adds the file read.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from sync.errors import ConfigError
from sync.fsutil import read_input
from sync.names import check_name, check_version, is_digest
from sync.oci.reference import Source, parse_source
from sync.oci.versions import parse_range
from sync.yamltext import SafeLoader

DEFAULT_REGISTRY = "higress-registry.cn-hangzhou.cr.aliyuncs.com"
DEFAULT_UPSTREAM = "higress-group/higress"
# upstream repositories that moved (GitHub answers the old name with a 301 to the new one)
RENAMED = {"alibaba/higress": "higress-group/higress"}
DEFAULT_LABELS = ("plugin-sync",)

# tags, versions, digests and ranges are text: 1.10 unquoted would be the number 1.1
_TEXT_KEYS = ("source", "registry", "repository", "tag", "digest", "range")
_PLUGIN_KEYS = {"source", "registry", "repository", "tag", "digest", "range", "versions", "sources", "category",
                "upstream"}
_TOP_KEYS = {"schemaVersion", "registry", "upstream", "pullRequest", "plugins"}


@dataclass(frozen=True)
class PluginSpec:
    """One served plugin: where it comes from and the version directories it is served under."""

    name: str
    source: Source
    versions: tuple[str, ...] = ()  # empty: the resolved tag
    category: str | None = None
    upstream_dirs: tuple[str, ...] = ()  # upstream extension directories that map to this plugin
    sources: tuple[tuple[str, Source], ...] = ()  # (version, source): versions served from their own artifact

    def served_versions(self, resolved_tag: str | None) -> tuple[str, ...]:
        if self.versions:
            return self.versions
        if resolved_tag:
            return (resolved_tag,)
        return ()

    def parts(self) -> tuple[PluginSpec, ...]:
        """One spec per artifact: this one without ``sources``, then one per ``sources``
        version, serving only that version. A pull resolves and fetches each on its own."""
        main = replace(self, sources=())
        return (main, *(replace(main, source=src, versions=(v,)) for v, src in self.sources))


@dataclass(frozen=True)
class Config:
    plugins: dict[str, PluginSpec]
    registry: str = DEFAULT_REGISTRY
    upstream_repository: str = DEFAULT_UPSTREAM
    upstream_names: dict[str, str] = field(default_factory=dict)
    labels: tuple[str, ...] = DEFAULT_LABELS
    path: Path | None = None

    def name_for_upstream_dir(self, directory: str) -> str:
        """The served plugin name of an upstream extension directory."""
        if directory in self.upstream_names:
            return self.upstream_names[directory]
        for spec in self.plugins.values():
            if directory in spec.upstream_dirs:
                return spec.name
        dashed = directory.replace("_", "-")
        for spec in self.plugins.values():
            if spec.source.repository.rsplit("/", 1)[-1] in (directory, dashed) and dashed != spec.name:
                return spec.name
        return dashed


def _where(path: Path | None, plugin: str | None = None) -> str:
    prefix = f"{path}: " if path else ""
    if plugin is not None:
        prefix += f"plugin {plugin!r}: "
    return prefix


def _plugin_mapping(raw: Any, where: str) -> dict[Any, Any]:
    """A plugin's entry as a mapping: empty, a bare source string, or a mapping of known keys."""
    if raw is None:
        raw = {}
    if isinstance(raw, str):
        raw = {"source": raw}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}expected a mapping, got {type(raw).__name__}")
    unknown = set(raw) - _PLUGIN_KEYS
    if unknown:
        raise ConfigError(f"{where}unknown key(s): {', '.join(sorted(map(str, unknown)))}")
    for key in _TEXT_KEYS:
        if key in raw and raw[key] is not None and not isinstance(raw[key], str):
            raise ConfigError(f"{where}{key} must be a string{_quote_hint(key, [raw[key]], False)}")
    if "category" in raw and raw["category"] is not None and not isinstance(raw["category"], (str, int, float)):
        raise ConfigError(f"{where}category must be a string")
    return raw


def _quote_hint(key: str, values: list[Any], as_list: bool) -> str:
    """For scalars YAML read as numbers or booleans: what YAML made of the first, and the quoted
    form to write instead, from the text as written (``1.10``, which YAML reads as 1.1)."""
    if not values or not all(isinstance(v, (str, int, float)) for v in values):
        return ""
    flag = next((v for v in values if isinstance(v, bool)), None)
    if flag is not None:  # yes, on, true: which one was written is lost
        return f", not the boolean {json.dumps(flag)}: quote it"
    bad = next(v for v in values if not isinstance(v, str))
    quoted = [json.dumps(v if isinstance(v, str) else written(v)) for v in values]
    form = f"[{', '.join(quoted)}]" if as_list else quoted[0]
    return f", not the number {json.dumps(bad)}: write {key}: {form}"


def _base_source(name: str, raw: dict[Any, Any], default_registry: str, where: str) -> Source:
    """The repository the plugin comes from: ``source``, or ``registry``/``repository``."""
    try:
        if raw.get("source"):
            if any(raw.get(k) for k in ("registry", "repository")):
                raise ConfigError(f"{where}give either source or registry/repository, not both")
            return parse_source(str(raw["source"]), default_registry)
        registry = str(raw.get("registry") or default_registry)
        repository = str(raw.get("repository") or f"plugins/{name}")
        return parse_source(f"oci://{registry}/{repository}", default_registry, need_tag=False)
    except ConfigError as e:
        raise ConfigError(f"{where}{e}") from None


def _pinned(source: Source, raw: dict[Any, Any], where: str) -> Source:
    """``source`` with the entry's ``tag``, ``digest`` or ``range``, each checked."""
    tag = raw.get("tag")
    digest = raw.get("digest")
    rng = raw.get("range")
    if tag is not None:
        source = replace(source, tag=str(tag))
    if digest is not None:
        source = replace(source, digest=str(digest))
    if rng is not None:
        if source.tag and tag is not None:
            raise ConfigError(f"{where}give either tag or range, not both")
        try:
            parse_range(str(rng))
        except ValueError as e:
            raise ConfigError(f"{where}bad range {rng!r}: {e}") from None
        source = replace(source, tag=None, range=str(rng))
    if source.digest is not None and not is_digest(source.digest):
        raise ConfigError(f"{where}digest must look like sha256:<64 hex>, got {source.digest!r}")
    if source.tag is not None and not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", source.tag):
        raise ConfigError(f"{where}invalid tag {source.tag!r}")
    if not (source.tag or source.digest or source.range):
        raise ConfigError(f"{where}needs a tag, a digest or a range")
    return source


def _served_versions(raw: dict[Any, Any], source: Source, where: str) -> tuple[str, ...]:
    """The entry's explicit ``versions`` (one or a list), checked against its source."""
    versions_raw = raw.get("versions", [])
    if versions_raw is None:
        versions_raw = []
    one = not isinstance(versions_raw, list)
    if one:
        versions_raw = [versions_raw]
    if not all(isinstance(v, str) for v in versions_raw):
        raise ConfigError(f"{where}versions must be strings{_quote_hint('versions', versions_raw, not one)}")
    versions = tuple(check_version(v, where) for v in versions_raw)
    if len(set(versions)) != len(versions):
        raise ConfigError(f"{where}versions lists one version twice")
    if not versions and not (source.tag or source.range):
        raise ConfigError(f"{where}a source pinned only by digest needs explicit versions")
    if not versions and source.tag:
        check_version(source.tag, where)
    return versions


def _version_sources(raw: dict[Any, Any], default_registry: str, versions: tuple[str, ...],
                     where: str) -> tuple[tuple[str, Source], ...]:
    """``sources``: more served versions, each from its own artifact (a tag or a digest,
    never a range: the version directory names one artifact)."""
    raw_sources = raw.get("sources") or {}
    if not isinstance(raw_sources, dict):
        raise ConfigError(f"{where}sources must map versions to sources")
    out: list[tuple[str, Source]] = []
    for version, ref in raw_sources.items():
        if not isinstance(version, str):  # a key YAML read as a number: 1.10 would be 1.1
            raise ConfigError(f"{where}sources: versions must be strings: write \"{written(version)}\":")
        v = check_version(version, where + "sources: ")
        if v in versions:
            raise ConfigError(f"{where}version {v} is both in versions and in sources")
        if not isinstance(ref, str):
            raise ConfigError(f"{where}sources: {v}: expected a source string")
        try:
            src = parse_source(ref, default_registry)
        except ConfigError as e:
            raise ConfigError(f"{where}sources: {v}: {e}") from None
        if src.digest is not None and not is_digest(src.digest):
            raise ConfigError(f"{where}sources: {v}: digest must look like sha256:<64 hex>, got {src.digest!r}")
        out.append((v, src))
    return tuple(out)


def _upstream_dirs(raw: dict[Any, Any], where: str) -> tuple[str, ...]:
    upstream = raw.get("upstream") or []
    if isinstance(upstream, str):
        upstream = [upstream]
    if not isinstance(upstream, list) or not all(isinstance(u, str) for u in upstream):
        raise ConfigError(f"{where}upstream must be a list of directory names")
    return tuple(upstream)


def parse_plugin(name: str, raw: Any, default_registry: str, path: Path | None = None) -> PluginSpec:
    where = _where(path, name)
    check_name(name, _where(path))
    entry = _plugin_mapping(raw, where)
    source = _pinned(_base_source(name, entry, default_registry, where), entry, where)
    versions = _served_versions(entry, source, where)
    category = entry.get("category")
    return PluginSpec(
        name=name,
        source=source,
        versions=versions,
        category=written(category) if category is not None else None,  # 1.10 stays 1.10
        upstream_dirs=_upstream_dirs(entry, where),
        sources=_version_sources(entry, default_registry, versions, where),
    )


def parse_config(raw: Any, path: Path | None = None) -> Config:
    """Build a Config from parsed YAML. Raises ConfigError naming the file and plugin."""
    where = _where(path)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}expected a mapping at the top level")
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        raise ConfigError(f"{where}unknown top-level key(s): {', '.join(sorted(map(str, unknown)))}")
    if raw.get("schemaVersion", 1) != 1:
        raise ConfigError(f"{where}unsupported schemaVersion {raw.get('schemaVersion')!r}")
    registry = raw.get("registry") or DEFAULT_REGISTRY
    if not isinstance(registry, str):
        raise ConfigError(f"{where}registry must be a string")
    upstream = raw.get("upstream") or {}
    if not isinstance(upstream, dict):
        raise ConfigError(f"{where}upstream must be a mapping")
    names = upstream.get("names") or {}
    if not isinstance(names, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in names.items()):
        raise ConfigError(f"{where}upstream.names must map directory names to plugin names")
    for v in names.values():
        check_name(v, where + "upstream.names: ")
    pr = raw.get("pullRequest") or {}
    if not isinstance(pr, dict):
        raise ConfigError(f"{where}pullRequest must be a mapping")
    labels = pr.get("labels", list(DEFAULT_LABELS))
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise ConfigError(f"{where}pullRequest.labels must be a list of strings")
    plugins_raw = raw.get("plugins") or {}
    if not isinstance(plugins_raw, dict):
        raise ConfigError(f"{where}plugins must be a mapping of name to source")
    plugins: dict[str, PluginSpec] = {}
    for name, spec in plugins_raw.items():
        plugins[str(name)] = parse_plugin(name if isinstance(name, str) else repr(name), spec, registry, path)
    return Config(
        plugins=plugins,
        registry=registry,
        upstream_repository=str(upstream.get("repository") or DEFAULT_UPSTREAM),
        upstream_names=dict(names),
        labels=tuple(labels),
        path=path,
    )


class _Int(int):
    """An int as YAML read it, with the text it was written as."""

    text = ""


class _Float(float):
    """A float as YAML read it, with the text it was written as (``1.10``, not ``1.1``)."""

    text = ""


def written(value: object) -> str:
    """The text a YAML number was written as, when ``load_config`` read it (else its str)."""
    return getattr(value, "text", "") or str(value)


class _Loader(SafeLoader):  # type: ignore[misc]
    """The safe loader (libyaml's where PyYAML has it: a tenth of the pure-Python parser's
    time, which was a tenth of a pull's start), whose ints and floats remember the text they
    were written as."""


def _keep_text(kind: type[_Int] | type[_Float], construct: Any) -> Any:
    def constructor(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
        value = kind(construct(loader, node))
        value.text = node.value
        return value
    return constructor


_Loader.add_constructor("tag:yaml.org,2002:int", _keep_text(_Int, yaml.SafeLoader.construct_yaml_int))
_Loader.add_constructor("tag:yaml.org,2002:float", _keep_text(_Float, yaml.SafeLoader.construct_yaml_float))


def load_config(path: Path) -> Config:
    text = read_input(path, " (create one, or run 'plugin-sync import')")
    assert text is not None  # a missing file is a ConfigError when a hint is given
    try:
        raw = yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader that keeps numbers' text
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}: not valid YAML{at}: {getattr(e, 'problem', e)}") from None
    # layout sources stay as written (relative to the config file's directory): the
    # lock records them so, and pull resolves them against PullOptions.base_dir
    return parse_config(raw, path)


def dump_config(cfg: Config) -> str:
    """Render a Config as plugins.yaml text, with plugins grouped by category."""
    lines = [
        "# Plugins served by this plugin server: the desired state.",
        "# 'plugin-sync pull' resolves it into plugins.lock.json and the tree under plugins/.",
        "schemaVersion: 1",
        f"registry: {cfg.registry}",
        "upstream:",
        f"  repository: {cfg.upstream_repository}",
    ]
    if cfg.upstream_names:
        lines.append("  names:")
        for k, v in sorted(cfg.upstream_names.items()):
            lines.append(f"    {_q(k)}: {_q(v)}")
    lines += ["pullRequest:", f"  labels: [{', '.join(_q(x) for x in cfg.labels)}]", "plugins:"]
    current: object = object()
    for spec in cfg.plugins.values():
        if spec.category != current:
            current = spec.category
            if spec.category:  # a comment is not escaped: control characters would break the YAML
                lines.append("  # " + "".join(c if c.isprintable() else " " for c in spec.category))
        lines.append(f"  {spec.name}:")
        if spec.category:
            lines.append(f"    category: {_q(spec.category)}")
        lines.append(f"    source: {_q(spec.source.reference(cfg.registry))}")
        if spec.source.range:
            lines.append(f"    range: {_q(spec.source.range)}")
        if spec.versions:
            lines.append(f"    versions: [{', '.join(_q(v) for v in spec.versions)}]")
        if spec.sources:
            lines.append("    sources:")
            lines += [f"      {_q(v)}: {_q(src.reference(cfg.registry))}" for v, src in spec.sources]
        if spec.upstream_dirs:
            lines.append(f"    upstream: [{', '.join(_q(v) for v in spec.upstream_dirs)}]")
    return "\n".join(lines) + "\n"


def _q(value: str) -> str:
    """Quote a scalar only when YAML would read it as something else."""
    dumped = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    if dumped.endswith("\n...") or dumped.endswith("..."):
        dumped = dumped.rsplit("\n", 1)[0].strip()
    return dumped
