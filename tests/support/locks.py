"""Lock entries and locks for tests, built from short descriptions: the one factory.

``entry("basic-auth", "2.0.0", 1)``: a pulled plugin whose digests and checksums derive from
its name, version and content seed (same seed, same bytes); seed ``"local"`` (or
``local=True``) makes a hand-placed plugin. Any field can be set outright by keyword.
``lock({"basic-auth@2.0.0": 1, "local-auth@1.0.0": "local"})``: each key is NAME@VERSION,
each value a seed.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

from sync.lock import LOCAL, Lock, LockEntry


def _hex(*parts: object, n: int = 64) -> str:
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:n]


def entry(name: str, version: str, seed: int | str = 1, pulled: str = "2025-01-02T00:00:00Z",
          category: str | None = None, *, local: bool = False, **fields: Any) -> LockEntry:
    local = local or seed == "local"
    made = LockEntry(
        name=name,
        version=version,
        source=LOCAL if local else f"oci://registry.example/plugins/{name}:{version}",
        digest=None if local else f"sha256:{_hex('manifest', name, version, seed)}",
        format=LOCAL if local else "tar+gzip",
        sha256=_hex("wasm", name, version, seed),
        md5=_hex("md5", name, version, seed, n=32),
        size=1000 + len(name),
        files={} if local else {"spec.yaml": _hex("spec", name, version, seed)},
        created=None if local else "2025-01-01T00:00:00Z",
        pulled=pulled,
        category=category,
    )
    return replace(made, **fields) if fields else made


def lock(spec: dict[str, int | str], **kw: str) -> Lock:
    entries = []
    for key, seed in spec.items():
        name, version = key.split("@")
        entries.append(entry(name, version, seed, **kw))
    return Lock.from_entries(entries)


def numbered(name: str, version: str, n: int, *, local: bool = False,
             pulled: str = "2025-01-01T00:00:00Z") -> LockEntry:
    """An entry whose digests spell its number (``sha256:555…`` for 5, sha256 ``666…``, md5
    ``777…``, size 5000), for tests that look for them in rendered text; ``local`` makes it
    hand-placed."""
    return LockEntry(
        name=name, version=version, source=LOCAL if local else f"oci://r.example/plugins/{name}:{version}",
        digest=None if local else "sha256:" + f"{n:x}" * 64, format=LOCAL if local else "tar+gzip",
        sha256=f"{n + 1:x}" * 64, md5=f"{n + 2:x}" * 32, size=1000 * n, pulled=pulled,
    )
