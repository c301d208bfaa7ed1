"""Run by tests/test_isolation.py under a hostile environment: what a test sees of it.

Not collected by a normal run (the name does not start with ``test_``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.env import PINNED, leaks

AT_IMPORT = dict(os.environ)  # what module imports and session fixtures see


def _leaked(env: dict[str, str]) -> list[str]:
    return sorted(n for n in env if leaks(n) and env[n] != PINNED.get(n))


def test_imports_see_a_clean_environment() -> None:
    assert _leaked(AT_IMPORT) == []


def test_a_test_and_its_subprocesses_see_a_clean_environment() -> None:
    assert _leaked(dict(os.environ)) == []
    for name, value in PINNED.items():
        assert os.environ[name] == value
    child = subprocess.run([sys.executable, "-c", "import json, os; print(json.dumps(dict(os.environ)))"],
                           check=True, capture_output=True, text=True).stdout
    assert _leaked(json.loads(child)) == []


def test_git_reads_no_configuration_and_no_leaked_repository(tmp_path: Path) -> None:
    r = subprocess.run(["git", "config", "--get", "user.name"], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 1 and r.stdout == ""
    r = subprocess.run(["git", "rev-parse", "--git-dir"], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode != 0  # GIT_DIR does not lead git into another repository


def test_a_direct_write_does_not_reach_the_next_test_part_1() -> None:
    os.environ["GITHUB_TOKEN"] = "written-by-a-test"


def test_a_direct_write_does_not_reach_the_next_test_part_2() -> None:
    assert "GITHUB_TOKEN" not in os.environ
