"""What ships: the rules against the Dockerfile and .dockerignore they describe."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from sync.release.shipping import ShipRules

ROOT = Path(__file__).resolve().parents[2]
# read by the build but not shipping content of this repository: the package's readme and
# license (metadata only), and the snapshot upstream's gateway-version build copies into the
# context (never committed here)
BUILD_ONLY = {"README.md", "LICENSE", "snapshot.json"}


def copy_sources(dockerfile: str) -> list[str]:
    """The context paths of every COPY/ADD that does not copy from another stage."""
    text = dockerfile.replace("\\\n", " ")
    sources: list[str] = []
    for line in text.splitlines():
        words = shlex.split(line, comments=True) if line.strip() else []
        if not words or words[0].upper() not in ("COPY", "ADD"):
            continue
        args = [w for w in words[1:] if not w.startswith("--")]
        if any(w.startswith("--from") for w in words[1:]):
            continue
        sources += args[:-1]
    return sources


@pytest.mark.parametrize("path,ships", [
    ("plugins.lock.json", True), ("plugins.yaml", True), ("plugins/my-auth/1.0.0/plugin.wasm", True),
    ("nginx/nginx.conf", True), ("Dockerfile", True), (".dockerignore", True),
    ("charts/higress-plugin-server/values.yaml", True), ("sync/pull.py", True), ("pyproject.toml", True),
    ("requirements/runtime.txt", True), ("requirements/test.txt", False), ("LICENSE", False),
    ("README.md", False), ("docs/pipelines.md", False), ("tests/release/test_x.py", False),
    (".github/workflows/release.yml", False), ("scripts/test", False), ("plugins", False),
    ("pluginsx/a", False), ("syncer.py", False), ("./nginx/x.conf", True),
    ("snapshots/2.2.4.json", True), ("unmanaged-plugins.lock.json", True), ("scripts/image-tree.sh", True),
    ("pull_plugins.py", False),
])
def test_ships(path: str, ships: bool) -> None:
    assert ShipRules().ships(path) is ships


def test_rules_follow_the_configured_paths() -> None:
    rules = ShipRules(lock="deploy/plugins.lock.json", config="deploy/plugins.yaml", root="deploy/plugins")
    assert rules.ships("deploy/plugins/x/1.0.0/plugin.wasm") and rules.ships("deploy/plugins.lock.json")
    assert not rules.ships("plugins.lock.json") and not rules.ships("plugins/x/1.0.0/plugin.wasm")
    assert rules.is_lock("deploy/plugins.lock.json") and not rules.is_lock("plugins.lock.json")


def test_every_path_the_dockerfile_copies_ships() -> None:
    sources = copy_sources((ROOT / "Dockerfile").read_text())
    # the builder copies the whole context: what it holds is what .dockerignore admits (below)
    assert "." in sources and "nginx/nginx.conf" in sources
    rules = ShipRules()
    missing = [s for s in sources if s.rstrip("/") not in BUILD_ONLY | {"."}
               and not rules.ships(s) and not rules.ships(s.rstrip("/") + "/x")]
    assert missing == []


def test_every_path_the_build_context_admits_ships() -> None:
    admitted = [line[1:] for line in (ROOT / ".dockerignore").read_text().splitlines() if line.startswith("!")]
    assert admitted
    rules = ShipRules()
    missing = [p for p in admitted if p not in BUILD_ONLY and not rules.ships(p) and not rules.ships(p + "/x")]
    assert missing == []


def test_copy_sources_reads_the_dockerfile_forms() -> None:
    text = "FROM a AS b\nCOPY --chown=1:1 x y/ /dst/\nCOPY --from=b /a /b\nADD z \\\n  /w\n# COPY no /no\n"
    assert copy_sources(text) == ["x", "y/", "z"]
