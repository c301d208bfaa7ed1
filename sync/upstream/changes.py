"""Which plugins a list of upstream merges changed: every changed path mapped to served
plugin names (by upstream's catalog where a merge has one, else by extension directory),
and the detect document assembled from that. Pure functions over ``sync.upstream.model``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterable, Mapping

from sync.config import Config
from sync.names import is_name
from sync.upstream.catalog import Catalog, CatalogPlugin
from sync.upstream.inputs import hits
from sync.upstream.model import Changes, Merge, OtherPath, PluginChange, Position, PrRef, SnapshotAdded
from sync.upstream.paths import ExtensionDir, extension_dir


def newest(merges: Iterable[Merge]) -> Merge | None:
    return max(merges, key=lambda m: m.order, default=None)


def after(position: Position | None, merges: Iterable[Merge]) -> list[Merge]:
    """The merges that come after ``position``, oldest first."""
    chosen = [m for m in merges if position is None or position.precedes(m.merged, m.number, m.sha)]
    return sorted(chosen, key=lambda m: m.order)


@dataclass(frozen=True)
class Touched:
    """Which plugins (and which other paths) a list of merges touched, before versions are read."""

    plugins: dict[str, list[Merge]]  # plugin name -> merges, oldest first
    dirs: dict[str, list[ExtensionDir]]  # plugin name -> upstream directories
    other: dict[str, list[int]]  # path -> PR numbers
    rules: dict[int, str] = field(default_factory=dict)  # PR -> "catalog" | "directories"


def catalog_names(plugin: CatalogPlugin, config: Config, known: Iterable[str] = ()) -> tuple[str, ...]:
    """The served names of a catalog plugin: its plugin-server path (or inventory key), plus
    each alias and our own name for its directory when this server serves them."""
    ext = extension_dir(plugin.source_dir + "/")
    own = config.name_for_upstream_dir(ext.name) if ext else plugin.logical_id
    if plugin.served is None:
        return (own,)
    known = set(known)
    primary, *others = plugin.served.names  # the served path first, then inventory key and aliases
    names = [primary]
    names += [n for n in (*others, own) if n not in names and n in known]
    return tuple(names)


def touched(merges: Iterable[Merge], config: Config, catalogs: Mapping[str, Catalog] | None = None,
            served_names: Iterable[str] = ()) -> Touched:
    """Map every changed path of every merge to served plugin names or to 'other'.

    ``catalogs`` maps a merge's sha to the catalog in its tree: such a merge's paths map by
    the catalog's inputs (shared groups included); a merge without one (history before the
    catalog) maps by the extension directory rule.
    """
    catalogs = catalogs or {}
    known = set(config.plugins) | set(served_names)
    plugins: dict[str, list[Merge]] = {}
    dirs: dict[str, list[ExtensionDir]] = {}
    other: dict[str, list[int]] = {}
    rules: dict[int, str] = {}

    def mark(name: str, m: Merge, ext: ExtensionDir | None) -> None:
        lst = plugins.setdefault(name, [])
        if m not in lst:
            lst.append(m)
        dl = dirs.setdefault(name, [])
        if ext is not None and ext not in dl:
            dl.append(ext)

    for m in sorted(merges, key=lambda m: m.order):
        catalog = catalogs.get(m.sha)
        rules[m.number] = "catalog" if catalog is not None else "directories"
        for path in m.paths:
            marked = False
            if catalog is not None:
                for hit in hits(catalog, path):
                    ext = extension_dir(hit.plugin.source_dir + "/")
                    for name in catalog_names(hit.plugin, config, known):
                        if is_name(name):
                            mark(name, m, ext)
                            marked = True
            else:
                ext = extension_dir(path)
                dir_name = config.name_for_upstream_dir(ext.name) if ext else None
                if ext is not None and dir_name is not None and is_name(dir_name):
                    mark(dir_name, m, ext)
                    marked = True
            if not marked:
                nums = other.setdefault(path, [])
                if m.number not in nums:
                    nums.append(m.number)
    return Touched(plugins, dirs, other, rules)


def is_served(name: str, config: Config, served_names: Iterable[str], have_config: bool) -> bool | None:
    if name in config.plugins or name in set(served_names):
        return True
    return False if have_config else None


def build_changes(
    upstream: str,
    since: Position | None,
    merges: list[Merge],
    config: Config,
    versions: Mapping[str, str | None],
    *,
    have_config: bool,
    served_names: Iterable[str] = (),
    carried: Iterable[PluginChange] = (),
    catalogs: Mapping[str, Catalog] | None = None,
    snapshots: Iterable[SnapshotAdded] = (),
    warnings: Iterable[str] = (),
    touched_paths: Touched | None = None,
) -> Changes:
    """Assemble the detection result.

    ``merges`` are the merges after ``since``; ``versions`` maps plugin name to the version
    read from the merged tree; ``carried`` are plugins still pending from the cursor;
    ``catalogs`` the catalog at each merge that had one (see ``touched``); ``snapshots`` the
    gateway release snapshots the merges added; ``touched_paths`` what ``touched`` made of
    these merges, when the caller has it already.
    """
    served_names = set(served_names)
    t = touched_paths if touched_paths is not None else touched(merges, config, catalogs, served_names)
    out: dict[str, PluginChange] = {}
    for name, ms in t.plugins.items():
        out[name] = PluginChange(
            name=name,
            prs=tuple(PrRef.of(m) for m in ms),
            version=versions.get(name),
            dirs=tuple(d.path for d in sorted(t.dirs[name])),
            served=is_served(name, config, served_names, have_config),
        )
    for old in carried:
        new = out.get(old.name)
        if new is None:
            out[old.name] = replace(
                old, pending=True, served=is_served(old.name, config, served_names, have_config)
            )
        else:
            numbers = {p.number for p in new.prs}
            prs = tuple(sorted([*(p for p in old.prs if p.number not in numbers), *new.prs],
                               key=lambda p: (p.merged, p.number)))
            out[old.name] = replace(new, prs=prs, version=new.version or old.version)
    by_pr: dict[int, list[str]] = {}
    for name, ms in t.plugins.items():
        for m in ms:
            by_pr.setdefault(m.number, []).append(name)
    last_merge = newest(merges)
    return Changes(
        upstream=upstream,
        since=since,
        last=last_merge.position if last_merge else since,
        plugins=tuple(out[n] for n in sorted(out)),
        other=tuple(OtherPath(p, tuple(n)) for p, n in sorted(t.other.items())),
        merges=tuple(sorted(merges, key=lambda m: m.order)),
        plugin_names={k: tuple(sorted(v)) for k, v in by_pr.items()},
        rules=t.rules,
        snapshots=tuple(sorted(snapshots, key=lambda x: (x.merged, x.gateway_version))),
        warnings=tuple(warnings),
    )
