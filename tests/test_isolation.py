"""Tests run the same whatever the environment they inherit: a runner's GitHub context and
token, plugin-sync settings, Docker credentials, SOURCE_DATE_EPOCH, git's repository and
configuration and a proxy are all taken away by tests/conftest.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def hostile_env(tmp_path: Path) -> dict[str, str]:
    """An environment as a developer's shell or a CI runner may pass it, every value wrong."""
    docker = tmp_path / "docker"
    docker.mkdir()
    (docker / "config.json").write_text(json.dumps({"auths": {"127.0.0.1": {"auth": "bGVhazpsZWFr"}}}))
    outputs = tmp_path / "runner"
    outputs.mkdir()
    gitconfig = tmp_path / "gitconfig"
    gitconfig.write_text("[user]\n\tname = Leaked User\n\temail = leak@example.invalid\n"
                         "[commit]\n\tgpgsign = true\n")
    return {
        **os.environ,
        "GITHUB_ACTIONS": "true",
        "GITHUB_TOKEN": "ghp_leaked_from_the_shell",
        "GITHUB_REPOSITORY": "someone/else",
        "GITHUB_API_URL": "http://127.0.0.1:9",
        "GITHUB_OUTPUT": str(outputs / "output"),
        "GITHUB_STEP_SUMMARY": str(outputs / "summary"),
        "GH_TOKEN": "ghp_leaked_gh_cli",
        "RUNNER_TEMP": str(outputs),
        "PLUGIN_SYNC_REGISTRY_USERNAME": "leak",
        "PLUGIN_SYNC_REGISTRY_PASSWORD": "leak",
        "PLUGIN_SYNC_RETRY_ATTEMPTS": "0",
        "PLUGIN_SYNC_MAX_MODULE_BYTES": "1",
        "PLUGIN_SERVER_VERSION": "leaked 0.0.0",
        "DOCKER_CONFIG": str(docker),
        "SOURCE_DATE_EPOCH": "1",
        "GIT_DIR": str(tmp_path / "elsewhere.git"),
        "GIT_AUTHOR_DATE": "1970-01-01T00:00:00Z",
        "GIT_CONFIG_GLOBAL": str(gitconfig),
        "HTTP_PROXY": "http://127.0.0.1:9",
        "https_proxy": "http://127.0.0.1:9",
    }


def run_pytest(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def test_a_hostile_environment_reaches_no_test(tmp_path: Path) -> None:
    env = hostile_env(tmp_path)
    r = run_pytest(env, "tests/support/envprobe.py")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "5 passed" in r.stdout
    # the probe does see the environment when the root conftest.py is not loaded
    r = run_pytest(env, "--noconftest", "tests/support/envprobe.py")
    assert r.returncode == 1 and "4 failed" in r.stdout, r.stdout


def test_real_modules_pass_under_a_hostile_environment(tmp_path: Path) -> None:
    """Release tests (git, GitHub Actions outputs) and a pull against a real registry."""
    env = hostile_env(tmp_path)
    r = run_pytest(env, "tests/release/test_cli_git.py", "tests/pull/test_auth.py")
    assert r.returncode == 0, r.stdout + r.stderr
    assert not (tmp_path / "runner" / "output").exists()
    assert not (tmp_path / "runner" / "summary").exists()
