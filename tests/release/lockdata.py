"""Lock entries and locks for release tests, built from short descriptions.

``lock({"basic-auth@2.0.0": 1, "local-auth@1.0.0": "local"})``: each key is NAME@VERSION,
each value a content seed (same seed, same bytes) or ``"local"`` for a hand-placed plugin.
"""

from __future__ import annotations

import hashlib

from sync.lock import LOCAL, Lock, LockEntry


def _hex(*parts: object, n: int = 64) -> str:
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:n]


def entry(name: str, version: str, seed: int | str = 1, pulled: str = "2025-01-02T00:00:00Z",
          category: str | None = None) -> LockEntry:
    local = seed == "local"
    return LockEntry(
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


def lock(spec: dict[str, int | str], **kw: str) -> Lock:
    entries = []
    for key, seed in spec.items():
        name, version = key.split("@")
        entries.append(entry(name, version, seed, **kw))
    return Lock.from_entries(entries)
