"""The steps docs/upstream-trigger.md gives higress-group/higress: valid for actionlint and clean
for zizmor inside a publishing job, pinned like ours, asking for Actions: write only, and sending
a workflow_dispatch that GitHub (the fake) accepts for our sync.yml, with the inputs it declares."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import requests
import yaml

from tests.support.fakegithub import FakeGitHub
from tests.workflows.workflows import ROOT, load, run_tool

DOC = ROOT / "docs" / "upstream-trigger.md"
TOKEN = "ghs_PluginServerActionsOnly0123"


def snippet() -> str:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1
    return blocks[0]


def steps() -> list[dict[str, Any]]:
    data = yaml.safe_load(snippet())
    assert isinstance(data, list) and len(data) == 2
    return data


def publishing_workflow() -> str:
    """Upstream's publishing job as it would look with the steps appended after ``oras push``."""
    head = (
        "name: build and push a plugin\n"
        "on:\n  push:\n    tags: ['wasm-go-*-v*']\n"
        "permissions: {}\n"
        "jobs:\n  build:\n    runs-on: ubuntu-24.04\n    timeout-minutes: 30\n"
        # a publishing job keeps its registry credentials (and the App key) in an environment
        "    environment:\n      name: plugin-release\n      deployment: false\n    steps:\n"
        "      - name: Push the plugin\n"
        "        run: oras push example.invalid/plugins/demo:1.0.0 ./plugin.tar.gz\n"
    )
    return head + snippet()


def test_the_steps_pass_actionlint_and_zizmor_in_a_publishing_job(tmp_path: Path) -> None:
    path = tmp_path / ".github" / "workflows" / "build-and-push-plugin.yml"
    path.parent.mkdir(parents=True)
    path.write_text(publishing_workflow())
    lint = run_tool("actionlint", "-no-color", str(path))
    assert lint.returncode == 0, lint.stdout + lint.stderr
    for persona in ("regular", "auditor"):
        audit = run_tool("zizmor", "--offline", "--persona", persona, "--min-severity", "medium",
                         "--format", "json", str(path))
        assert audit.returncode == 0 and json.loads(audit.stdout or "[]") == [], audit.stdout


def test_the_token_may_only_start_workflows() -> None:
    app, send = steps()
    assert app["uses"].startswith("actions/create-github-app-token@")
    assert {k: v for k, v in app["with"].items() if k.startswith("permission-")} == {"permission-actions": "write"}
    assert send["env"]["GH_TOKEN"] == f"${{{{ steps.{app['id']}.outputs.token }}}}"
    assert "${{" not in send["run"]


def test_sync_starts_by_workflow_dispatch_and_keeps_its_schedule() -> None:
    on = load("sync.yml").on
    assert "repository_dispatch" not in on
    assert "reason" in on["workflow_dispatch"]["inputs"] and on["schedule"]


def gh_api_request(run: str, env: dict[str, str]) -> tuple[str, str, dict[str, Any]]:
    """What ``gh api --method M PATH -f k=v ...`` sends: method, path and JSON body (``a[b]=v``
    nests, as gh does)."""
    words = shlex.split(run.replace("\\\n", " "))
    assert words[:2] == ["gh", "api"]
    method, path, body = "GET", "", {}  # type: ignore[var-annotated]
    i = 2
    while i < len(words):
        w = words[i]
        if w in ("--method", "-X"):
            method, i = words[i + 1], i + 2
            continue
        if w in ("-f", "--raw-field"):
            key, _, value = words[i + 1].partition("=")
            for name, val in env.items():
                value = value.replace(f"${name}", val)
            m = re.fullmatch(r"(\w+)\[(\w+)\]", key)
            if m:
                body.setdefault(m.group(1), {})[m.group(2)] = value
            else:
                body[key] = value
            i += 2
            continue
        path, i = w, i + 1
    for name, val in env.items():
        path = path.replace(f"${name}", val)
    return method, path, body


def test_the_documented_request_starts_our_sync_on_github() -> None:
    _, send = steps()
    env = {"TARGET": "acme/plugin-server", "REASON": "build wasm-go-ai-proxy-v2.0.1 at abc123"}
    method, path, body = gh_api_request(send["run"], env)
    assert (method, path) == ("POST", "repos/acme/plugin-server/actions/workflows/sync.yml/dispatches")
    with FakeGitHub(token=TOKEN) as fake:
        repo = fake.state.create_repo("acme/plugin-server")
        repo.commit_files({"README.md": "x\n"}, "initial")
        sync = load("sync.yml").on["workflow_dispatch"]["inputs"]
        repo.workflows["sync.yml"] = {k: {"required": bool(v.get("required"))} for k, v in sync.items()}
        headers = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/vnd.github+json"}
        r = requests.post(f"{fake.url}/{path}", json=body, headers=headers, timeout=10)
        assert r.status_code == 204, r.text
        assert repo.workflow_dispatches == [{"workflow": "sync.yml", "ref": "main", "inputs": {"reason": env["REASON"]}}]
        assert repo.dispatches == []  # no repository_dispatch
        # what GitHub refuses, the fake refuses too: an input sync.yml does not declare, a missing ref
        bad = requests.post(f"{fake.url}/{path}", json={"ref": "main", "inputs": {"sha": "x"}}, headers=headers,
                            timeout=10)
        assert bad.status_code == 422 and "Unexpected inputs" in bad.json()["message"]
        assert requests.post(f"{fake.url}/{path}", json={"ref": "nope"}, headers=headers, timeout=10).status_code == 422
        assert requests.post(f"{fake.url}/{path}", json=body, timeout=10).status_code == 401


def test_the_steps_pin_actions_like_our_workflows() -> None:
    ours = set(re.findall(r"uses: (\S+@[0-9a-f]{40} # v\S+)", load("sync.yml").text))
    theirs = set(re.findall(r"uses: (\S+@[0-9a-f]{40} # v\S+)", snippet()))
    assert theirs and theirs <= ours
