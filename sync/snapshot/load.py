"""The inputs of a snapshot build, read from files and checked before any download."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from sync.config import Config
from sync.errors import ConfigError
from sync.filenames import CONFIG
from sync.oci.versions import best_tag
from sync.snapshot.model import ImageRef, UnmanagedEntry, parse_snapshot, parse_unmanaged
from sync.snapshot.plan import Configured, Plan, check_unmanaged, plan
from sync.versions import newest


def read_file(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such {what}") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the {what}: {e.strerror}") from None


def newest_snapshot(directory: Path) -> Path:
    """The snapshot of the highest gateway version in ``directory`` (files X.Y.Z.json), by
    semver precedence (``sync.versions``: 2.3.0 is above 2.3.0-rc.1, which is above 2.2.4)."""
    stems = sorted(p.name[: -len(".json")] for p in directory.glob("*.json"))
    best = newest(stems)
    if best is None:
        raise ConfigError(f"{directory}: no snapshot X.Y.Z.json")
    return directory / f"{best}.json"


def _in_range(rng: str) -> Callable[[str], bool]:
    """Whether a tag is the one ``rng`` picks among itself alone (it satisfies the range)."""
    return lambda t: best_tag([t], rng) == t


def configured(config: Config) -> dict[str, Configured]:
    """plugins.yaml's plugins as the unmanaged check compares them."""
    out: dict[str, Configured] = {}
    for name, spec in config.plugins.items():
        s = spec.source
        rng = s.range
        out[name] = Configured(name, ImageRef(s.host, s.repository), s.tag, rng, s.digest,
                               _in_range(rng) if rng else None, spec.versions)
    return out


def load_plan(snapshot: Path, expect_sha256: str | None, unmanaged: Path | None,
              config: Config | None, config_name: str = CONFIG) -> Plan:
    """Read and check everything a snapshot build needs: the snapshot (against its expected
    sha256), the unmanaged lock, and the lock against the configuration."""
    try:
        snap = parse_snapshot(read_file(snapshot, "snapshot file"), expect_sha256)
    except ConfigError as e:
        raise ConfigError(f"{snapshot}: {e.message}") from None
    entries: tuple[UnmanagedEntry, ...] = ()
    if unmanaged is not None:
        try:
            entries = parse_unmanaged(read_file(unmanaged, "unmanaged lock"))
        except ConfigError as e:
            raise ConfigError(f"{unmanaged}: {e.message}") from None
    conf = configured(config) if config is not None else {}
    if config is not None:
        check_unmanaged(snap, entries, conf, f"{unmanaged or 'unmanaged lock'} against {config_name}")
    cats = {n: s.category for n, s in config.plugins.items()} if config is not None else {}
    return plan(snap, entries, cats, conf)
