"""Upstream moved from alibaba/higress to higress-group/higress: the old name keeps working
through GitHub's 301, and what we write (cursor, PR links) names the repository as it is now."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from sync.cli import main
from sync.config import DEFAULT_UPSTREAM, parse_config
from sync.propose.cursor import Cursor, save_cursor
from sync.github.client import connect
from sync.upstream.apireader import ApiReader
from sync.upstream.detect import detect
from sync.upstream.gitreader import GitReader
from sync.upstream.model import Position, parse_since
from tests.support.fakegithub import FakeGitHub, Repo
from tests.upstream.conftest import TOKEN
from tests.support.git import GitRepo


@pytest.fixture
def moved(fake_upstream: tuple[FakeGitHub, Repo]) -> tuple[FakeGitHub, Repo]:
    fake, repo = fake_upstream
    fake.state.rename("higress-group/higress", "alibaba/higress")  # as it was
    fake.state.moved.clear()
    fake.state.rename("alibaba/higress", "higress-group/higress")  # and the move
    return fake, repo


def test_the_default_upstream_is_the_new_home() -> None:
    assert DEFAULT_UPSTREAM == "higress-group/higress"
    assert parse_config(None).upstream_repository == "higress-group/higress"
    root = Path(__file__).resolve().parents[2]
    assert json.loads((root / "upstream-cursor.json").read_text())["upstream"] == "higress-group/higress"
    assert "repository: higress-group/higress" in (root / "plugins.yaml").read_text()


def test_the_old_name_answers_301_like_github(moved: tuple[FakeGitHub, Repo]) -> None:
    fake, repo = moved
    raw = requests.get(f"{fake.url}/repos/alibaba/higress/pulls?state=closed", allow_redirects=False,
                       headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert raw.status_code == 301
    assert raw.headers["Location"] == f"{fake.url}/repositories/{repo.id}/pulls?state=closed"
    followed = requests.get(f"{fake.url}/repos/alibaba/higress", headers={"Authorization": f"Bearer {TOKEN}"},
                            timeout=10)
    assert followed.status_code == 200 and followed.json()["full_name"] == "higress-group/higress"
    assert [r.status_code for r in followed.history] == [301]


def test_the_api_reader_follows_the_move_and_names_the_new_home(moved: tuple[FakeGitHub, Repo]) -> None:
    fake, repo = moved
    fake.reset_log()
    r = ApiReader(connect(), "alibaba/higress")
    assert r.upstream == "higress-group/higress"
    assert r.canonical("alibaba/higress") == "higress-group/higress"
    ch = detect(r, r.resolve(parse_since("#105")), parse_config(None), have_config=False)
    assert ch.upstream == "higress-group/higress"
    assert [p.name for p in ch.plugins] == ["basic-auth"]
    assert ch.plugins[0].prs[0].url == "https://github.com/higress-group/higress/pull/106"
    # one redirect for the repository itself; every later request uses the new name
    assert [x.status for x in fake.log if x.path.startswith("/repos/alibaba/")] == [301, 301]
    assert fake.count("GET", r"^/repos/higress-group/higress/pulls$") >= 1


def test_a_clone_knows_the_move_without_asking(upstream: GitRepo) -> None:
    r = GitReader(upstream.path, "alibaba/higress", "HEAD", "https://github.com")
    assert r.upstream == "higress-group/higress"
    assert r.merges_after(r.resolve(parse_since("#106")))[0].url == "https://github.com/higress-group/higress/pull/107"


def test_a_cursor_under_the_old_name_still_starts_detect(moved: tuple[FakeGitHub, Repo], tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    _, repo = moved
    work = tmp_path / "server"
    work.mkdir()
    (work / "plugins.yaml").write_text("schemaVersion: 1\nplugins:\n  basic-auth: oci://r.example/plugins/basic-auth:1.0.0\n")
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "out.txt"))
    sha = repo.pulls[105].merge_commit_sha
    save_cursor(work / "upstream-cursor.json", Cursor("alibaba/higress", Position("2025-01-07T00:00:00Z", 105, sha)))
    for args in ([], ["--upstream", "alibaba/higress"]):
        capsys.readouterr()
        rc = main(["--config", str(work / "plugins.yaml"), "detect", "--json", *args])
        doc = json.loads(capsys.readouterr().out)
        assert rc == 0 and doc["upstream"] == "higress-group/higress"
        assert [m["number"] for m in doc["merges"]] == [106]
