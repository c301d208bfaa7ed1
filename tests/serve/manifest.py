"""The chart rendered once with its defaults, for installs with plain kubectl.

    python -m tests.serve.manifest > charts/higress-plugin-server/static/higress-plugin-server.yaml

test_chart.py checks that the committed file is exactly this output.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

CHART = Path(__file__).resolve().parents[2] / "charts" / "higress-plugin-server"
STATIC = CHART / "static" / "higress-plugin-server.yaml"
NAMESPACE = "higress-system"
ORDER = ("Service", "PodDisruptionBudget", "Deployment")
HELM_ONLY_LABELS = ("helm.sh/chart", "app.kubernetes.io/managed-by")


def _strip(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in HELM_ONLY_LABELS}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def static_manifest() -> str:
    with helm.Chart.load(CHART) as chart:
        rendered = chart.render(None, name="higress-plugin-server", namespace=NAMESPACE, is_install=True)
        version = chart.metadata["version"]
    docs = [d for path, text in rendered.items() if not path.endswith("NOTES.txt")
            for d in yaml.safe_load_all(text) if d]
    docs.sort(key=lambda d: ORDER.index(d["kind"]))
    head = (f"# higress-plugin-server {version} for plain kubectl, namespace {NAMESPACE}: the Helm chart\n"
            "# charts/higress-plugin-server rendered with its default values. Install with\n"
            "#   kubectl apply -n higress-system -f higress-plugin-server.yaml\n")
    return head + "".join("---\n" + yaml.safe_dump(_strip(d), sort_keys=False) for d in docs)


if __name__ == "__main__":
    print(static_manifest(), end="")
