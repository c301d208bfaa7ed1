"""The benchmark's plugin set: which plugins, how big, in which format (pure), and
pushing them to a registry (I/O, on all cores).

The first plugins are the upstream console's list, kept as written (served names,
repositories and tags); sets larger than that list get synthetic names. Every module's
size and bytes follow from the set's seed and the plugin's position, so a set of 10 is
the first 10 of a set of 52 and two runs push the very same bytes.
"""

from __future__ import annotations

import json
import os
import random
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from sync.config import Config, PluginSpec, dump_config
from sync.oci.reference import Source
from sync.sample import TITLE, build_artifact, wasm_module
from tests.support.registry import Registry

MB = 1 << 20
WASM_LAYER_EVERY = 8  # every 8th plugin is published as a raw wasm layer, the rest as plugin.tar.gz
SYNTHETIC_PREFIX = "synthetic-plugin-"


@dataclass(frozen=True)
class BenchPlugin:
    """One plugin of the set: where it is pushed and what its module looks like."""

    name: str  # served name
    repository: str
    tag: str
    size: int  # module bytes
    seed: int
    fmt: str  # "tar+gzip" or "wasm-layer"
    category: str | None = None
    versions: tuple[str, ...] = ()  # version directories served (plugins.yaml's versions); empty: the tag


@dataclass(frozen=True)
class Blob:
    """A blob a pull needs (module layer or a doc layer), as pushed."""

    plugin: str
    digest: str
    size: int
    title: str  # plugin.tar.gz, plugin.wasm, spec.yaml, README.md, README_EN.md


@dataclass(frozen=True)
class Pushed:
    plugin: BenchPlugin
    manifest_digest: str
    blobs: tuple[Blob, ...]


def module_size(index: int, seed: int, min_size: int, max_size: int) -> int:
    """The module size of the plugin at ``index``: uniform in [min_size, max_size], repeatable."""
    return random.Random(seed * 1_000_003 + index).randint(min_size, max_size)


def plugin_set(base: Config, count: int, min_size: int = 1 * MB, max_size: int = 10 * MB,
               seed: int = 7) -> list[BenchPlugin]:
    """The first ``count`` plugins of ``base``, then synthetic ones, with seeded sizes."""
    specs = list(base.plugins.values())
    out: list[BenchPlugin] = []
    for i in range(count):
        if i < len(specs):
            s = specs[i]
            name, repo, tag, category = s.name, s.source.repository, s.source.tag or "1.0.0", s.category
        else:
            name = f"{SYNTHETIC_PREFIX}{i + 1:03d}"
            repo, tag, category = f"plugins/{name}", "1.0.0", "Synthetic"
        fmt = "wasm-layer" if i % WASM_LAYER_EVERY == WASM_LAYER_EVERY - 1 else "tar+gzip"
        out.append(BenchPlugin(name, repo, tag, module_size(i, seed, min_size, max_size), seed * 1000 + i, fmt, category))
    return out


def uniform_set(prefix: str, count: int, size: int, seed: int = 11) -> list[BenchPlugin]:
    """``count`` synthetic plugins whose modules all have ``size`` bytes."""
    return [BenchPlugin(f"{prefix}-{i + 1}", f"plugins/{prefix}-{i + 1}", "1.0.0", size, seed * 1000 + i, "tar+gzip",
                        "Synthetic") for i in range(count)]


def config_text(plugins: list[BenchPlugin], registry: str) -> str:
    """plugins.yaml for ``plugins``, their sources on ``registry`` (redirected with --registry)."""
    specs = {p.name: PluginSpec(p.name, Source("registry", registry, p.repository, p.tag), versions=p.versions,
                                category=p.category) for p in plugins}
    return dump_config(Config(plugins=specs, registry=registry))


def with_versions(plugins: list[BenchPlugin], count: int) -> list[BenchPlugin]:
    """The same plugins, each served under ``count`` version directories (its tag, then
    ``<tag>-compat.1`` ...), as the console serves one artifact under several versions."""
    return [replace(p, versions=(p.tag, *(f"{p.tag}-compat.{k}" for k in range(1, count)))) for p in plugins]


def with_seed(p: BenchPlugin, seed: int) -> BenchPlugin:
    """The same plugin with other module bytes (a new upstream build)."""
    return replace(p, seed=seed)


# -- pushing ----------------------------------------------------------------------------

def _docs(p: BenchPlugin) -> dict[str, str]:
    if p.fmt != "tar+gzip":
        return {}
    spec = (f"apiVersion: 1.0.0\ninfo:\n  name: {p.name}\n  version: {p.tag}\n"
            f"  category: {(p.category or 'custom').lower()}\n  title: {p.name}\n")
    readme = f"# {p.name}\n\nBenchmark module of {p.size} bytes (seed {p.seed}).\n"
    return {"spec": spec, "readme": readme, "readme_en": readme}


def push_one(registry_host: str, p: BenchPlugin) -> Pushed:
    """Build ``p``'s artifact and push it (runs in a worker process)."""
    art = build_artifact(wasm_module(p.size, p.seed), p.fmt, **_docs(p))
    Registry(registry_host, Path(".")).push(p.repository, p.tag, art)
    layers = json.loads(art.manifest)["layers"]
    blobs = tuple(Blob(p.name, d["digest"], d["size"], d.get("annotations", {}).get(TITLE, "plugin.wasm"))
                  for d in layers)
    return Pushed(p, art.digest, blobs)


def push_all(registry_host: str, plugins: list[BenchPlugin], workers: int | None = None) -> list[Pushed]:
    """Push every plugin, building artifacts on all cores. Order follows ``plugins``."""
    if not plugins:
        return []
    with ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 2) as pool:
        return list(pool.map(push_one, [registry_host] * len(plugins), plugins))


def write_config(path: Path, plugins: list[BenchPlugin], registry: str) -> Path:
    path.write_text(config_text(plugins, registry), encoding="utf-8")
    return path
