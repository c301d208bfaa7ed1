"""The Helm chart follows the release: its ``version`` and ``appVersion`` become the release
version (so its default image tag is the image released with it), and the annotation
``org.opencontainers.image.revision`` names the commit. ``helm push`` copies Chart.yaml's
annotations into the OCI manifest, where ``plugin-sync tag-check`` finds the revision again:
a chart tag, like an image tag, is never moved. Pure.
"""

from __future__ import annotations

from typing import Any

import yaml

from sync.errors import UsageError

REVISION = "org.opencontainers.image.revision"


def released_chart(text: str, version: str, revision: str) -> str:
    """Chart.yaml ``text`` for the release ``version`` built from commit ``revision``."""
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise UsageError(f"Chart.yaml is not YAML: {' '.join(str(e).split())}") from None
    if not isinstance(data, dict) or not data.get("name"):
        raise UsageError("Chart.yaml has no chart name")
    annotations = data.get("annotations") or {}
    if not isinstance(annotations, dict):
        raise UsageError("Chart.yaml: annotations must be a mapping")
    data["version"] = version
    data["appVersion"] = version
    data["annotations"] = {**{str(k): str(v) for k, v in annotations.items()}, REVISION: revision}
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
