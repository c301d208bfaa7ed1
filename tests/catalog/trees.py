"""Served trees for the catalog tests, built with the real store code (staging + commit)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from sync.lock import Lock, LockEntry
from sync.served import commit
from sync.tree import Tree
from sync.tree.store import finish_staging, new_staging, writer_lock


@dataclass(frozen=True)
class Spec:
    """One plugin version to place in a test tree."""

    name: str
    version: str
    category: str | None = None
    wasm: bytes = b"\0asm\x01\0\0\0"
    readmes: dict[str, str] = field(default_factory=dict)  # file name -> text
    pulled: str = "2025-03-01T10:00:00Z"
    local: bool = False


def wasm_bytes(seed: int, size: int = 96) -> bytes:
    """A distinct small Wasm-looking module per seed (the catalog never runs it)."""
    filler = hashlib.sha256(str(seed).encode()).digest() * (size // 32 + 1)
    return (b"\0asm\x01\0\0\0" + filler)[:size]


def entry_for(spec: Spec) -> LockEntry:
    files = {f: hashlib.sha256(t.encode()).hexdigest() for f, t in spec.readmes.items()}
    digest_src = f"{spec.name}:{spec.version}:{hashlib.sha256(spec.wasm).hexdigest()}:{sorted(files.items())}"
    return LockEntry(
        name=spec.name,
        version=spec.version,
        source="local" if spec.local else f"oci://registry.example/plugins/{spec.name}:{spec.version}",
        digest=None if spec.local else "sha256:" + hashlib.sha256(digest_src.encode()).hexdigest(),
        format="local" if spec.local else "tar+gzip",
        sha256=hashlib.sha256(spec.wasm).hexdigest(),
        md5=hashlib.md5(spec.wasm).hexdigest(),
        size=len(spec.wasm),
        files=files,
        created="2025-02-01T08:00:00Z",
        pulled=spec.pulled,
        category=spec.category,
    )


def build_tree(root: Path, specs: list[Spec], lock_path: Path | None = None) -> tuple[Tree, Lock]:
    """Place every spec in the tree at ``root`` and commit the lock (which writes the catalog)."""
    tree = Tree(root)
    lock = Lock()
    with writer_lock(tree):
        for spec in specs:
            entry = entry_for(spec)
            if spec.local:
                vdir = tree.version_dir(spec.name, spec.version)
                vdir.mkdir(parents=True)
                target = vdir
            else:
                target = new_staging(tree, spec.name)
            (target / "plugin.wasm").write_bytes(spec.wasm)
            for fname, text in spec.readmes.items():
                (target / fname).write_text(text, encoding="utf-8")
            if not spec.local:
                finish_staging(tree, target, entry)
            lock.put(entry)
        commit(tree, lock, lock_path)
    return tree, lock


README_EN = """---
title: Basic Auth
keywords: [higress, basic auth]
description: Authenticates requests with HTTP Basic Auth credentials.
---
# Features
The `basic-auth` plugin authenticates requests with the HTTP Basic Auth standard.

## Configuration
| Name | Type | Required | Description |
| --- | --- | --- | --- |
| `consumers` | array of object | Yes | The callers of the service |
| `global_auth` | bool | No | Whether authentication applies to every route |

```yaml
consumers:
- credential: admin:123456
  name: consumer1
```
"""

README_ZH = """---
title: 基础认证
description: 基于 HTTP Basic Auth 标准进行认证鉴权。
---
# 功能说明
`basic-auth` 插件实现了基于 HTTP Basic Auth 标准进行认证鉴权的功能。
"""

HOSTILE_README = """# Hostile
<script>document.title = "pwned"; window.pwned = true;</script>
<img src="https://tracker.example/pixel.png" onerror="window.pwned = true">
[click me](javascript:window.pwned=true)
![remote](https://tracker.example/image.png)
"""


def sample_specs() -> list[Spec]:
    """A small tree as a real server holds it: several categories, versions and READMEs."""
    return [
        Spec("ai-proxy", "1.0.0", "AI", wasm_bytes(1, 2_400_000),
             {"README_EN.md": "---\ndescription: Proxies requests to LLM providers with one API.\n---\n# AI Proxy\n"}),
        Spec("basic-auth", "2.0.0", "Auth", wasm_bytes(2, 40_000), {"README.md": README_ZH, "README_EN.md": README_EN}),
        Spec("basic-auth", "1.0.0", "Auth", wasm_bytes(3, 38_500), {"README.md": README_ZH, "README_EN.md": README_EN},
             pulled="2025-02-11T09:30:00Z"),
        Spec("key-auth", "2.0.0", "Auth", wasm_bytes(4, 52_000),
             {"README_EN.md": "---\ndescription: Checks API keys from a header or query.\n---\n# Key Auth\n"}),
        Spec("request-block", "2.0.0", "Security", wasm_bytes(5, 120_000), {"README_EN.md": HOSTILE_README}),
        Spec("transformer", "1.1.0", "Transformation", wasm_bytes(6, 300_000), pulled="2025-03-02T07:15:00Z"),
        Spec("my-filter", "0.1.0", None, wasm_bytes(7, 5_000), local=True),
    ]


def synthetic_specs(count: int) -> list[Spec]:
    """``count`` plugins with READMEs, in a handful of categories, for size and speed checks."""
    categories = ("AI", "Auth", "Security", "Traffic", "Transformation", "Observability")
    return [
        Spec(
            f"plugin-{i:04d}", f"1.{i % 7}.0", categories[i % len(categories)], wasm_bytes(1000 + i, 64),
            {"README_EN.md": f"---\ndescription: Synthetic plugin number {i}.\n---\n" + README_EN.split("---\n", 2)[2]},
            pulled=f"2025-03-{1 + i % 28:02d}T10:00:00Z",
        )
        for i in range(count)
    ]
