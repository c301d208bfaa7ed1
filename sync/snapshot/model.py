"""The two files of a gateway-version build, read into value types. Standard library only.

A snapshot (``plugins/release/snapshots/X.Y.Z.json`` upstream)::

    {"schemaVersion": 1, "gatewayVersion": "2.2.4", "sourceCommit": "<sha>",
     "plugins": [{"logicalId": "json-converter", "image": "plugins/jsonrpc-converter",
                  "version": "2.0.1", "ociRef": "HOST/plugins/jsonrpc-converter:2.0.1",
                  "digest": "sha256:<manifest>",
                  "consumers": {"pluginServer": {"inventoryKey": "json-converter",
                                                 "httpPath": "json-converter",
                                                 "aliases": ["jsonrpc-converter"]}}}, ...]}

The unmanaged lock (``unmanaged-plugins.lock.json``)::

    {"schemaVersion": 1, "plugins": {"basic-auth": {"logicalKey": "basic-auth",
        "servedPath": "basic-auth", "servedVersion": "2.0.0",
        "repository": "HOST/plugins/basic-auth", "tag": "2.0.0",
        "digest": "sha256:<manifest>", "wasmSha256": "<hex>"}}}
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from sync.errors import ConfigError
from sync.names import DIGEST, HEX64, HOST, REPOSITORY, check_name, check_version
from sync.versions import parse as parse_version

_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class ImageRef:
    """``HOST/REPOSITORY`` of a registry, as the snapshot and the unmanaged lock write it."""

    host: str
    repository: str

    def __str__(self) -> str:
        return f"{self.host}/{self.repository}"


def parse_repository(text: object, where: str) -> ImageRef:
    """``HOST/REPO`` (the host is required: these files always name their registry)."""
    if not isinstance(text, str) or "/" not in text:
        raise ConfigError(f"{where}: repository {text!r} is not HOST/REPOSITORY")
    host, repo = text.split("/", 1)
    if not HOST.fullmatch(host) or not REPOSITORY.fullmatch(repo) or "." not in host and ":" not in host and host != "localhost":
        raise ConfigError(f"{where}: repository {text!r} is not HOST/REPOSITORY")
    return ImageRef(host, repo)


def check_digest(value: object, where: str) -> str:
    if not isinstance(value, str) or not DIGEST.fullmatch(value):
        raise ConfigError(f"{where}: missing or malformed digest {value!r} (sha256:<64 hex>)")
    return value


@dataclass(frozen=True)
class Served:
    """``consumers.pluginServer``: where the plugin server serves a snapshot entry."""

    inventory_key: str
    http_path: str
    aliases: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        """Every served name: the path, then the inventory key and aliases, once each."""
        out: list[str] = []
        for n in (self.http_path, self.inventory_key, *self.aliases):
            if n not in out:
                out.append(n)
        return tuple(out)

    @property
    def inventory_keys(self) -> tuple[str, ...]:
        out: list[str] = []
        for n in (self.inventory_key, *self.aliases):
            if n not in out:
                out.append(n)
        return tuple(out)


@dataclass(frozen=True)
class SnapshotEntry:
    logical_id: str
    image: ImageRef
    version: str
    digest: str
    served: Served | None

    @property
    def tag(self) -> str:
        return self.version


@dataclass(frozen=True)
class Snapshot:
    gateway_version: str
    source_commit: str
    entries: tuple[SnapshotEntry, ...]
    sha256: str

    @property
    def mapped(self) -> tuple[SnapshotEntry, ...]:
        return tuple(e for e in self.entries if e.served is not None)


def parse_served(raw: object, where: str) -> Served | None:
    """``consumers.pluginServer`` of a snapshot or catalog entry (None: not served)."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: consumers.pluginServer must be an object")
    key = check_name(raw.get("inventoryKey"), f"{where}: inventoryKey: ")
    path = check_name(raw.get("httpPath", key), f"{where}: httpPath: ")
    aliases = raw.get("aliases") or []
    if not isinstance(aliases, list):
        raise ConfigError(f"{where}: aliases must be a list")
    return Served(key, path, tuple(check_name(a, f"{where}: alias: ") for a in aliases))


def _entry(raw: object, index: int) -> SnapshotEntry:
    if not isinstance(raw, dict):
        raise ConfigError(f"plugins[{index}]: expected an object")
    lid = raw.get("logicalId")
    where = f"plugin {lid}" if isinstance(lid, str) and lid else f"plugins[{index}]"
    if not isinstance(lid, str) or not lid:
        raise ConfigError(f"{where}: missing logicalId")
    version = check_version(raw.get("version"), f"{where}: ")
    ref = raw.get("ociRef")
    if not isinstance(ref, str) or "@" in ref or ":" not in ref.rsplit("/", 1)[-1]:
        raise ConfigError(f"{where}: ociRef {ref!r} is not HOST/REPOSITORY:TAG")
    repo_text, tag = ref.rsplit(":", 1)
    if tag != version:
        raise ConfigError(f"{where}: ociRef tag {tag!r} differs from version {version!r}")
    image = parse_repository(repo_text, where)
    digest = check_digest(raw.get("digest"), where)
    consumers = raw.get("consumers") or {}
    if not isinstance(consumers, dict):
        raise ConfigError(f"{where}: consumers must be an object")
    return SnapshotEntry(lid, image, version, digest, parse_served(consumers.get("pluginServer"), where))


def parse_snapshot(data: bytes, expect_sha256: str | None = None) -> Snapshot:
    """Read a snapshot file's bytes. Raises ConfigError (exit 2) naming what is wrong."""
    sha = sha256_hex(data)
    if expect_sha256 is not None:
        want = expect_sha256.lower()
        if not HEX64.fullmatch(want):
            raise ConfigError(f"expected sha256 {expect_sha256!r} is not 64 hex digits")
        if sha != want:
            raise ConfigError(f"snapshot sha256 is {sha}, expected {want}")
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise ConfigError(f"snapshot is not JSON: {e}") from None
    if not isinstance(raw, dict):
        raise ConfigError("snapshot is not a JSON object")
    if raw.get("schemaVersion") != 1:
        raise ConfigError(f"snapshot schemaVersion {raw.get('schemaVersion')!r} is not supported (only 1)")
    gateway = raw.get("gatewayVersion")
    if not isinstance(gateway, str) or parse_version(gateway) is None:
        raise ConfigError(f"snapshot gatewayVersion {gateway!r} is not a semver version")
    commit = raw.get("sourceCommit")
    if not isinstance(commit, str) or not re.fullmatch(r"[0-9a-f]{40}", commit):
        raise ConfigError(f"snapshot sourceCommit {commit!r} is not a commit sha")
    plugins = raw.get("plugins")
    if not isinstance(plugins, list):
        raise ConfigError("snapshot has no plugins list")
    return Snapshot(gateway, commit, tuple(_entry(p, i) for i, p in enumerate(plugins)), sha)


@dataclass(frozen=True)
class UnmanagedEntry:
    logical_key: str
    served_path: str
    served_version: str
    image: ImageRef
    tag: str
    digest: str
    wasm_sha256: str


def _unmanaged(key: str, raw: object) -> UnmanagedEntry:
    where = f"unmanaged plugin {key}"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected an object")
    logical = raw.get("logicalKey", key)
    if logical != key:
        raise ConfigError(f"{where}: logicalKey {logical!r} differs from its key")
    path = check_name(raw.get("servedPath"), f"{where}: servedPath: ")
    version = check_version(raw.get("servedVersion"), f"{where}: servedVersion: ")
    tag = raw.get("tag")
    if not isinstance(tag, str) or not _TAG.fullmatch(tag):
        raise ConfigError(f"{where}: bad tag {tag!r}")
    wasm = raw.get("wasmSha256")
    if not isinstance(wasm, str) or not HEX64.fullmatch(wasm):
        raise ConfigError(f"{where}: missing or malformed wasmSha256 {wasm!r}")
    return UnmanagedEntry(key, path, version, parse_repository(raw.get("repository"), where), tag,
                          check_digest(raw.get("digest"), where), wasm)


def parse_unmanaged(data: bytes) -> tuple[UnmanagedEntry, ...]:
    """Read ``unmanaged-plugins.lock.json``. Raises ConfigError (exit 2)."""
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise ConfigError(f"unmanaged lock is not JSON: {e}") from None
    if not isinstance(raw, dict) or raw.get("schemaVersion") != 1 or not isinstance(raw.get("plugins"), dict):
        raise ConfigError("unmanaged lock: not schemaVersion 1 with a plugins object")
    return tuple(_unmanaged(check_name(k, "unmanaged lock: "), v) for k, v in sorted(raw["plugins"].items()))


def unmanaged_json(entries: tuple[UnmanagedEntry, ...]) -> str:
    """The unmanaged lock's text, as upstream writes it (keys sorted, two-space indent)."""
    plugins = {
        e.logical_key: {
            "logicalKey": e.logical_key, "servedPath": e.served_path, "servedVersion": e.served_version,
            "repository": str(e.image), "tag": e.tag, "digest": e.digest, "wasmSha256": e.wasm_sha256,
        }
        for e in entries
    }
    return json.dumps({"schemaVersion": 1, "plugins": plugins}, indent=2) + "\n"
