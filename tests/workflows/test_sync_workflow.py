"""sync.yml does pipeline 1 with the real commands: detect, then pull, then propose, then one
pull request per gateway snapshot upstream added; started by upstream's workflow_dispatch, the
hourly schedule or a maintainer; with an App token when there is one; writing a job summary. The
arguments its scripts pass are accepted by the CLI."""

from __future__ import annotations

import re
import shlex

from sync.cli import build_parser
from tests.workflows.workflows import load

WF = load("sync.yml")
JOB = WF.jobs["sync"]
TOKEN = "${{ steps.app.outputs.token || github.token }}"


def command_steps() -> dict[str, dict]:  # type: ignore[type-arg]
    out = {}
    for step in JOB["steps"]:
        m = re.search(r"^\s*plugin-sync ([\w-]+)", step.get("run", ""), re.M)
        if m:
            out[m.group(1)] = step
    return out


def test_triggers() -> None:
    on = WF.on
    assert set(on) == {"schedule", "workflow_dispatch"}  # upstream uses workflow_dispatch (Actions: write)
    [schedule] = on["schedule"]
    minute, *rest = schedule["cron"].split()
    assert minute.isdigit() and rest == ["*", "*", "*", "*"]  # hourly
    inputs = on["workflow_dispatch"]["inputs"]
    assert {k: v["type"] for k, v in inputs.items()} == {"plugins": "string", "since": "string", "dry_run": "boolean",
                                                         "reason": "string"}
    assert not any(v.get("required") for v in inputs.values())  # upstream sends the reason alone
    assert inputs["dry_run"]["default"] is False


def test_detect_then_pull_then_propose() -> None:
    steps = JOB["steps"]
    commands = command_steps()
    assert list(commands) == ["detect", "pull", "propose", "propose-snapshot"]
    order = [steps.index(commands[c]) for c in ("detect", "pull", "propose", "propose-snapshot")]
    assert order == sorted(order)
    # propose gets detect's document: it links upstream PRs and moves the cursor
    assert '> "$RUNNER_TEMP/changes.json"' in commands["detect"]["run"]
    assert '--changes "$RUNNER_TEMP/changes.json"' in commands["propose"]["run"]


def test_inputs_reach_the_commands_through_env() -> None:
    c = command_steps()
    assert c["detect"]["env"]["SINCE"] == "${{ inputs.since }}" and '--since "$SINCE"' in c["detect"]["run"]
    assert c["pull"]["env"]["PLUGINS"] == "${{ inputs.plugins }}" and 'plugin-sync pull "${names[@]}"' in c["pull"]["run"]
    assert c["propose"]["env"]["DRY_RUN"] == "${{ inputs.dry_run }}" and "--dry-run" in c["propose"]["run"]


def test_app_token_with_github_token_fallback() -> None:
    [(_, app)] = WF.uses("actions/create-github-app-token")
    assert app["id"] == "app" and app["if"] == "vars.PLUGIN_SYNC_APP_ID != ''"
    assert app["with"]["app-id"] == "${{ vars.PLUGIN_SYNC_APP_ID }}"
    assert app["with"]["private-key"] == "${{ secrets.PLUGIN_SYNC_APP_PRIVATE_KEY }}"
    assert {k: v for k, v in app["with"].items() if k.startswith("permission-")} == {
        "permission-contents": "write", "permission-pull-requests": "write"}
    c = command_steps()
    assert c["detect"]["env"]["GITHUB_TOKEN"] == TOKEN and c["propose"]["env"]["GITHUB_TOKEN"] == TOKEN
    assert "GITHUB_TOKEN" not in c["pull"].get("env", {})  # the registry needs no GitHub token


def test_job_summary() -> None:
    header = JOB["steps"][0]
    assert '>> "$GITHUB_STEP_SUMMARY"' in header["run"]
    assert header["env"]["REASON"] == "${{ inputs.reason }}" and "$REASON" in header["run"]


def _argv(script: str, command: str, values: dict[str, str]) -> list[list[str]]:
    """The plugin-sync argument lists the script can run, with its array variables expanded."""
    line = next(x for x in script.splitlines() if x.strip().startswith(f"plugin-sync {command}"))
    words = shlex.split(line.split(">")[0].split("||")[0])[1:]  # the command, without redirection or fallback
    out = []
    for extra in values.get("variants", [[]]):  # type: ignore[attr-defined]
        argv = []
        for w in words:
            if w == "${args[@]}":
                argv += values["args"] + extra  # type: ignore[operator]
            elif w == "${names[@]}":
                argv += ["basic-auth", "key-auth"]
            else:
                argv.append(w)
        out.append(argv)
    return out


def test_the_cli_accepts_what_the_scripts_pass() -> None:
    parser = build_parser()
    c = command_steps()
    runs = (
        _argv(c["detect"]["run"], "detect", {"args": ["--json"], "variants": [[], ["--since", "#1234"]]})
        + _argv(c["pull"]["run"], "pull", {})
        + _argv(c["propose"]["run"], "propose",
                {"args": ["--repo", "acme/plugin-server", "--changes", "changes.json"], "variants": [[], ["--dry-run"]]})
    )
    assert [r[0] for r in runs] == ["detect", "detect", "pull", "propose", "propose"]
    for argv in runs:
        args = parser.parse_args(argv)
        assert args.command == argv[0]
    assert parser.parse_args(runs[1]).since == "#1234"
    assert parser.parse_args(runs[2]).plugins == ["basic-auth", "key-auth"]
    assert parser.parse_args(runs[4]).dry_run is True


def test_scripts_build_the_arguments_they_pass() -> None:
    c = command_steps()
    assert "args=(--json)" in c["detect"]["run"]
    assert 'args=(--repo "$GITHUB_REPOSITORY" --changes "$RUNNER_TEMP/changes.json")' in c["propose"]["run"]
    assert 'read -r -a names <<< "${PLUGINS:-}"' in c["pull"]["run"]


def test_a_failed_plugin_still_lets_the_others_be_proposed() -> None:
    c = command_steps()
    pull = c["pull"]["run"]
    assert "|| status=$?" in pull and 'if [ "$status" -gt 1 ]; then exit "$status"; fi' in pull
    assert "set -e" not in pull.replace("set -uo pipefail", "")
    last = JOB["steps"][-1]
    assert last["if"] == "steps.pull.outputs.status != '0'" and "exit 1" in last["run"]
    names = [s.get("name", "") for s in JOB["steps"]]
    assert names.index(last["name"]) > names.index(c["propose"]["name"])


def test_gateway_snapshots_get_their_own_pull_requests() -> None:
    c = command_steps()
    step = c["propose-snapshot"]
    assert step["if"] == "steps.detect.outputs.gateway-versions != ''"
    assert step["env"]["GITHUB_TOKEN"] == TOKEN and step["env"]["DRY_RUN"] == "${{ inputs.dry_run }}"
    runs = _argv(step["run"], "propose-snapshot",
                 {"args": ["--repo", "acme/plugin-server", "--changes", "changes.json"], "variants": [[], ["--dry-run"]]})
    parser = build_parser()
    assert [parser.parse_args(r).command for r in runs] == ["propose-snapshot", "propose-snapshot"]
    assert parser.parse_args(runs[1]).dry_run is True
    assert '--changes "$RUNNER_TEMP/changes.json"' in step["run"]
    # it runs before the job fails for a plugin that did not pull, so one does not block the other
    steps = JOB["steps"]
    assert steps.index(step) < steps.index(next(s for s in steps if s.get("name", "").startswith("Fail if")))
