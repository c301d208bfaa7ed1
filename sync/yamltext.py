"""YAML in and out for documents read in bulk (every plugin's ``spec.yaml``, README front
matter, the catalog's WasmPlugin snippets): through libyaml where PyYAML was built with it,
whose parser and emitter read and write the same documents as PyYAML's pure-Python ones at
a tenth of the cost (the catalog of 52 plugins spent most of its time there), else through
PyYAML's own. Both take only the safe subset of YAML. ``plugins.yaml``'s loader
(``sync.config``) is this one, made to keep numbers' text for its error messages."""

from __future__ import annotations

from typing import Any

import yaml

SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
SafeDumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
YAMLError = yaml.YAMLError


def load(text: str) -> Any:
    """The one document in ``text`` (safe types only)."""
    return yaml.load(text, Loader=SafeLoader)  # noqa: S506 - a safe loader, libyaml's or PyYAML's


def dump(doc: Any, **options: Any) -> str:
    """``doc`` as YAML (``yaml.safe_dump``'s options)."""
    return str(yaml.dump(doc, Dumper=SafeDumper, **options))
