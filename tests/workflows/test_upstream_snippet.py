"""The workflow that docs/upstream-trigger.md gives higress-group/higress: valid for actionlint,
clean for zizmor, pinned like ours, and sending the event type sync.yml listens for."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from tests.workflows.workflows import ROOT, load, run_tool

DOC = ROOT / "docs" / "upstream-trigger.md"


def snippet() -> str:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1
    return blocks[0]


def test_snippet_passes_actionlint_and_zizmor(tmp_path: Path) -> None:
    path = tmp_path / ".github" / "workflows" / "notify-plugin-server.yml"
    path.parent.mkdir(parents=True)
    path.write_text(snippet())
    lint = run_tool("actionlint", "-no-color", str(path))
    assert lint.returncode == 0, lint.stdout + lint.stderr
    for persona in ("regular", "auditor"):
        audit = run_tool("zizmor", "--offline", "--persona", persona, "--min-severity", "medium",
                         "--format", "json", str(path))
        assert audit.returncode == 0 and json.loads(audit.stdout or "[]") == [], audit.stdout


def test_snippet_sends_what_sync_listens_for() -> None:
    data = yaml.safe_load(snippet())
    on = data.get("on", data.get(True))
    assert "pull_request_target" not in on and "pull_request" not in on
    assert all(p.startswith("plugins/wasm-") and p.endswith("/extensions/**") for p in on["push"]["paths"])
    assert data["permissions"] == {}
    [send] = [s for s in data["jobs"]["dispatch"]["steps"] if "run" in s]
    [event] = re.findall(r"event_type=([\w-]+)", send["run"])
    assert load("sync.yml").on["repository_dispatch"]["types"] == [event]
    assert "${{" not in send["run"] and send["env"]["GH_TOKEN"] == "${{ steps.app.outputs.token }}"


def test_snippet_pins_actions_like_our_workflows() -> None:
    ours = set(re.findall(r"uses: (\S+@[0-9a-f]{40} # v\S+)", load("sync.yml").text))
    theirs = set(re.findall(r"uses: (\S+@[0-9a-f]{40} # v\S+)", snippet()))
    assert theirs and theirs <= ours
