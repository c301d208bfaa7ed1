"""A Higress ``WasmPlugin`` resource that loads a served module over HTTP, pinned by sha256.

The url and sha256 come from the tree's ``index.json``; the phase and priority, when the
plugin's ``spec.yaml`` states them, from there. ``choose`` and ``render`` are pure;
``load_index`` and ``load_spec`` are the I/O.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sync import yamltext
from sync.errors import UsageError
from sync.filenames import SPEC
from sync.oci.versions import best_tag
from sync.tree.layout import URL_PREFIX, Tree

API_VERSION = "extensions.higress.io/v1alpha1"
PHASES = ("UNSPECIFIED_PHASE", "AUTHN", "AUTHZ", "STATS")
DEFAULT_NAMESPACE = "higress-system"


@dataclass(frozen=True)
class Served:
    """One plugin version as ``index.json`` lists it."""

    name: str
    version: str
    path: str
    sha256: str


@dataclass(frozen=True)
class Placement:
    """Where the plugin runs in the filter chain, from its spec.yaml."""

    phase: str | None = None
    priority: int | None = None


def load_index(tree: Tree) -> list[Served]:
    """The entries of the tree's ``index.json``."""
    path = tree.index_json
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path} not found: run `plugin-sync pull` first, or pass --root") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UsageError(f"{path}: cannot read it as JSON: {e}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("plugins"), list):
        raise UsageError(f"{path}: not a plugin index (no 'plugins' list)")
    out: list[Served] = []
    for item in doc["plugins"]:
        try:
            out.append(Served(str(item["name"]), str(item["version"]), str(item["path"]), str(item["sha256"])))
        except (KeyError, TypeError):
            raise UsageError(f"{path}: an entry lacks name, version, path or sha256: {item!r}") from None
    return out


def load_spec(tree: Tree, served: Served) -> Placement:
    """Phase and priority from the version's ``spec.yaml``; nothing when it is absent or odd."""
    return placement_of_file(tree.version_dir(served.name, served.version) / SPEC)


def placement_of_file(spec: Path) -> Placement:
    """Phase and priority from the ``spec.yaml`` at ``spec``; nothing when it is absent or odd."""
    try:
        doc = yamltext.load(spec.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yamltext.YAMLError):
        return Placement()
    return placement_of(doc)


def placement_of(doc: Any) -> Placement:
    spec = doc.get("spec") if isinstance(doc, dict) else None
    if not isinstance(spec, dict):
        return Placement()
    phase = spec.get("phase")
    priority = spec.get("priority")
    return Placement(
        phase if phase in PHASES else None,
        priority if isinstance(priority, int) and not isinstance(priority, bool) else None,
    )


def choose(entries: list[Served], name: str, version: str | None) -> Served:
    """The entry for ``name`` at ``version``, or at its highest version when none is given."""
    mine = {e.version: e for e in entries if e.name == name}
    if not mine:
        names = sorted({e.name for e in entries})
        listed = ", ".join(names) if names else "none"
        raise UsageError(f"no plugin {name!r} in index.json; available: {listed}")
    versions = sorted(mine)
    if version is not None:
        if version not in mine:
            raise UsageError(f"{name} has no version {version!r}; available: {', '.join(versions)}")
        return mine[version]
    best = best_tag(versions, ">=0.0.0")
    if best is None and len(versions) == 1:
        best = versions[0]
    if best is None:
        raise UsageError(f"cannot tell the highest version of {name} among {', '.join(versions)}; pass --plugin-version")
    return mine[best]


def module_url(base_url: str, served: Served) -> str:
    """``base_url`` (the server's root, with or without ``/plugins``) plus the module's path."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise UsageError(f"--base-url {base_url!r}: expected http://HOST[:PORT][/PATH]")
    base = base_url.rstrip("/")
    if base.endswith(URL_PREFIX):
        base = base[: -len(URL_PREFIX)]
    return base + served.path


def _resource_name(text: str) -> str:
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?", text):
        raise UsageError(f"{text!r} is not a valid Kubernetes resource name")
    return text


def render(served: Served, base_url: str, *, namespace: str = DEFAULT_NAMESPACE,
           resource_name: str | None = None, placement: Placement = Placement()) -> str:
    """The WasmPlugin YAML. It acts nowhere until the user adds ``matchRules``, or a
    ``defaultConfig`` with ``defaultConfigDisable: false``: the plugin's config is theirs."""
    spec: dict[str, Any] = {
        "url": module_url(base_url, served),
        "sha256": served.sha256,
        "imagePullPolicy": "IfNotPresent",
    }
    if placement.phase:
        spec["phase"] = placement.phase
    if placement.priority is not None:
        spec["priority"] = placement.priority
    spec["defaultConfigDisable"] = True
    doc = {
        "apiVersion": API_VERSION,
        "kind": "WasmPlugin",
        "metadata": {
            "name": _resource_name(resource_name or served.name.replace("_", "-")),
            "namespace": _resource_name(namespace),
        },
        "spec": spec,
    }
    head = (
        f"# {served.name} {served.version}, served by the plugin server and pinned by sha256.\n"
        "# It acts nowhere yet: add matchRules, or a defaultConfig and defaultConfigDisable: false.\n"
    )
    return head + yamltext.dump(doc, sort_keys=False, default_flow_style=False)
