"""A pulled tree for the browser tests: artifacts in an OCI layout, a plugins.yaml naming
the public registry, and a real ``plugin-sync pull --registry oci-layout:...``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sync.cli import main
from sync.lock import Lock, load_lock
from sync.sample import Artifact, build_artifact, wasm_module, write_layout
from tests.catalog.trees import HOSTILE_README, README_EN, README_ZH


def _readme(title: str, description: str, body: str) -> str:
    return f"---\ntitle: {title}\ndescription: {description}\n---\n# {title}\n{body}\n"


AI_PROXY_BODY = """The `ai-proxy` plugin speaks the **OpenAI** API to clients and each provider's own API upstream.

| Name | Type | Required | Description |
| --- | --- | --- | --- |
| `provider.type` | string | Yes | The AI provider, e.g. `openai`, `qwen`, `moonshot` |
| `provider.apiTokens` | array of string | No | Tokens used in turn to call the provider |

```yaml
provider:
  type: qwen
  apiTokens: ["YOUR_DASHSCOPE_API_TOKEN"]
```
"""

# served name: (repository, tag, format, size, category, README_EN.md, README.md, served versions)
PLUGINS: dict[str, tuple[str, str, str, int, str, str | None, str | None, tuple[str, ...]]] = {
    "ai-proxy": ("plugins/ai-proxy", "1.0.0", "tar+gzip", 2_400_000, "AI",
                 _readme("AI Proxy", "Proxies requests to LLM providers behind one OpenAI-style API.", AI_PROXY_BODY),
                 None, ()),
    "basic-auth": ("plugins/basic-auth", "2.0.0", "tar+gzip", 40_000, "Auth", README_EN, README_ZH,
                   ("2.0.0", "1.0.0")),
    "key-auth": ("plugins/key-auth", "2.0.0", "tar+gzip", 52_000, "Auth",
                 _readme("Key Auth", "Authenticates API keys from a header or the query string.",
                         "Configure `keys` and `consumers`.\n"), None, ()),
    "request-block": ("plugins/request-block", "2.0.0", "tar+gzip", 120_000, "Security", HOSTILE_README, None, ()),
    "json-converter": ("plugins/jsonrpc-converter", "2.0.3", "wasm-layer", 80_000, "Transformation", None, None, ()),
    "cors": ("plugins/cors", "1.1.0", "tar+gzip", 31_000, "Traffic",
             _readme("CORS", "Answers CORS preflight requests and sets the CORS response headers.", "Simple.\n"),
             None, ()),
}

# a spec.yaml states where the plugin runs; the WasmPlugin snippet carries it
SPECS = {
    "basic-auth": "apiVersion: 1.0.0\ninfo:\n  name: basic-auth\n  version: 2.0.0\nspec:\n  phase: AUTHN\n  priority: 320\n",
}


@dataclass(frozen=True)
class Site:
    root: Path
    lock: Lock


def pull_site(workdir: Path) -> Site:
    arts: dict[str, Artifact] = {}
    lines = ["schemaVersion: 1", "plugins:"]
    for seed, (name, (repo, tag, fmt, size, category, en, zh, versions)) in enumerate(PLUGINS.items()):
        spec = SPECS.get(name)
        arts[f"{repo}:{tag}"] = build_artifact(wasm_module(size, seed), fmt, spec=spec, readme=zh, readme_en=en)
        lines += [f"  {name}:", f"    category: {category}", f"    repository: {repo}", f"    tag: {tag}"]
        if versions:
            lines.append(f"    versions: [{', '.join(versions)}]")
    write_layout(workdir / "layout", arts)
    config = workdir / "plugins.yaml"
    config.write_text("\n".join(lines) + "\n")
    root, lock_path = workdir / "plugins", workdir / "plugins.lock.json"
    code = main(["--config", str(config), "--root", str(root), "--lock", str(lock_path),
                 "pull", "--registry", f"oci-layout:{workdir / 'layout'}"])
    assert code == 0, "the pull of the browser tests' tree failed"
    return Site(root, load_lock(lock_path))
