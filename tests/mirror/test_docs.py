"""docs/private-registry.md says what the code does."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from sync.cli import build_parser
from sync.mirror.plan import DOCKER_LAYER, OCI_LAYER, WASM_LAYER
DOC = Path(__file__).resolve().parents[2] / "docs" / "private-registry.md"


def _commands(text: str) -> list[str]:
    """Every `plugin-sync ...` command: in code blocks (indented ones in the steps too, and
    after a comment's ``or:``) and in inline spans."""
    found: list[str] = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.S):
        for line in re.sub(r"\\\n[\s#]*", " ", block).splitlines():
            line = re.sub(r"^\s*(#\s*or:\s*)?", "", line)
            if line.startswith("plugin-sync "):
                found.append(line.split("#", 1)[0])
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    return found + re.findall(r"`(plugin-sync [^`]+)`", prose)


def test_every_mirror_and_pull_command_in_the_doc_parses() -> None:
    parser = build_parser()
    commands = _commands(DOC.read_text())
    assert sum(c.split()[1] == "mirror" for c in commands) >= 5
    for command in commands:
        words = shlex.split(re.sub(r"<([a-z]+)>", r"\1", command))[1:]
        assert parser.parse_args(words).run, command


def test_the_doc_names_the_settings_and_the_layer_types() -> None:
    text = DOC.read_text()
    for name in ("HIGRESS_ADMIN_WASM_PLUGIN_CUSTOM_IMAGE_URL_PATTERN", "HIGRESS_ADMIN_WASM_PLUGIN_IMAGE_REGISTRY",
                 "HIGRESS_ADMIN_WASM_PLUGIN_IMAGE_NAMESPACE", "HIGRESS_ADMIN_WASM_PLUGIN_IMAGE_PULL_SECRET",
                 "global.hub", "global.pluginNamespace", DOCKER_LAYER, OCI_LAYER, WASM_LAYER):
        assert name in text, name
