"""What the act tests stand on: the create-github-app-token stand-in with the fake GitHub's App
endpoints (a token is issued only to a JWT signed with the App's key, for a repository the App
is installed on), and the workflow files as act reads them."""

from __future__ import annotations

import difflib
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.fakegithub import TOKEN, FakeGitHub
from tests.workflows.act import STAND_INS, act_copy
from tests.workflows.workflows import NAMES, WORKFLOWS

SCRIPT = STAND_INS / "create-github-app-token" / "app_token.py"
APP_ID = 31337


def pem_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub(token=TOKEN) as f:
        f.state.create_repo("acme/plugin-server")
        yield f


def ask(fake: FakeGitHub, tmp: Path, private: str, repo: str = "acme/plugin-server",
        administration: str = "") -> tuple[int, str, str]:
    """The stand-in's script, with the inputs sync.yml gives it (and ``permission-administration``)."""
    out = tmp / "github-output"
    env = {"PATH": "/usr/bin:/bin", "API_URL": fake.url, "APP_ID": str(APP_ID), "PRIVATE_KEY": private,
           "GITHUB_REPOSITORY": repo, "GITHUB_OUTPUT": str(out), "PERMISSION_CONTENTS": "write",
           "PERMISSION_PULL_REQUESTS": "write", "PERMISSION_ADMINISTRATION": administration}
    p = subprocess.run([sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr, out.read_text() if out.exists() else ""


def test_the_apps_key_gets_an_installation_token_for_the_repository(fake: FakeGitHub, tmp_path: Path) -> None:
    private, public = pem_pair()
    app = fake.install_app(APP_ID, public, ["acme/plugin-server"])
    code, log, outputs = ask(fake, tmp_path, private)
    assert code == 0, log
    assert outputs == f"token={TOKEN}\ninstallation-id={app.installation_id}\napp-slug=plugin-sync\n"
    assert app.tokens_issued == [{"repositories": ["plugin-server"],
                                  "permissions": {"contents": "write", "pull_requests": "write"}}]
    assert f"::add-mask::{TOKEN}" in log  # masked in the job's log, as the real action does
    paths = [(r.method, r.path, r.status) for r in fake.log]
    assert paths == [("GET", "/repos/acme/plugin-server/installation", 200),
                     ("POST", f"/app/installations/{app.installation_id}/access_tokens", 201)]


def test_another_key_gets_nothing(fake: FakeGitHub, tmp_path: Path) -> None:
    _, public = pem_pair()
    app = fake.install_app(APP_ID, public, ["acme/plugin-server"])
    code, log, outputs = ask(fake, tmp_path, pem_pair()[0])
    assert code != 0 and outputs == "" and app.tokens_issued == []
    [line] = [x for x in log.splitlines() if x.startswith("::error::")]
    assert "/installation: 401" in line and "JSON web token could not be decoded" in line


def test_a_repository_the_app_is_not_installed_on_gets_nothing(fake: FakeGitHub, tmp_path: Path) -> None:
    private, public = pem_pair()
    fake.state.create_repo("acme/other")
    app = fake.install_app(APP_ID, public, ["acme/plugin-server"])
    code, log, outputs = ask(fake, tmp_path, private, repo="acme/other")
    assert code != 0 and outputs == "" and app.tokens_issued == []
    assert "::error::GET " in log and "/repos/acme/other/installation: 404" in log


def test_act_reads_the_workflow_files_less_only_the_deployment_line() -> None:
    for name in NAMES:
        original = (WORKFLOWS / name).read_text(encoding="utf-8").splitlines()
        changes = [x for x in difflib.ndiff(original, act_copy(name).splitlines()) if x[:2] in ("- ", "+ ")]
        assert changes == (["-       deployment: false"] if name == "sync.yml" else []), (name, changes)


def test_a_permission_the_installation_lacks_gets_nothing(fake: FakeGitHub, tmp_path: Path) -> None:
    private, public = pem_pair()
    app = fake.install_app(APP_ID, public, ["acme/plugin-server"])
    code, log, outputs = ask(fake, tmp_path, private, administration="write")
    assert code != 0 and outputs == "" and app.tokens_issued == []
    assert "access_tokens: 422" in log and "not granted to this installation" in log
