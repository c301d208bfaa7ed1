"""``plugin-sync release --publish`` against the fake GitHub server: the tag on the released
commit and its release are created once; publishing again changes nothing and says so; a tag
on another commit is never moved; the token never shows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from sync.cli import main
from tests.support.gitpush import push
from tests.support.git import GitRepo
from tests.support.locks import lock
from tests.support import fakegithub as fg

pytestmark = pytest.mark.usefixtures("git_env")
TOKEN = "ghp_release_secret_0123456789"
REPO = "acme/plugin-server"
BASE = {"basic-auth@2.0.0": 1, "key-auth@2.0.0": 1}
DIGEST = "sha256:" + "cd" * 32


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[fg.FakeGitHub]:
    with fg.FakeGitHub(token=TOKEN) as gh:
        gh.state.create_repo(REPO)
        monkeypatch.setenv("GITHUB_API_URL", gh.url)
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
        monkeypatch.setenv("PLUGIN_SYNC_GITHUB_WRITE_INTERVAL", "0")
        monkeypatch.setenv("PLUGIN_SYNC_RETRY_ATTEMPTS", "1")
        yield gh


@pytest.fixture
def local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    """A released v1.0.0, then a commit that adds a plugin: the next release is 1.1.0."""
    r = GitRepo(tmp_path / "plugin-server")
    r.write("plugins.yaml", "schemaVersion: 1\nplugins: {}\n")
    r.write_lock(lock(BASE))
    r.write("Dockerfile", "FROM scratch\n")
    r.commit("initial")
    r.tag("v1.0.0")
    r.write_lock(lock({**BASE, "hmac-auth@1.0.0": 1}))
    r.commit("add hmac-auth")
    monkeypatch.chdir(r.path)
    return r


def publish(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["release", "--publish", *args])
    cap = capsys.readouterr()
    assert TOKEN not in cap.out + cap.err
    return code, cap.out, cap.err


def remote(fake: fg.FakeGitHub) -> fg.Repo:
    return fake.state.repo(REPO)


def release_json(fake: fg.FakeGitHub) -> list[dict[str, Any]]:
    return [json.loads(w.body) for w in fake.writes() if w.method == "POST" and w.path.endswith("/releases")]


def test_publish_creates_the_tag_and_release_once(fake: fg.FakeGitHub, local: GitRepo,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    head = push(local, remote(fake), tags=("v1.0.0",))
    code, out, _ = publish(capsys, "--image", "registry.example/higress/plugin-server", "--image-digest", DIGEST)
    assert code == 0
    assert f"publish: created: created tag v1.1.0 at {head[:12]}; created release 'plugin-server 1.1.0'" in out
    repo = remote(fake)
    assert repo.ref("tags/v1.1.0") == head
    [rel] = [r for r in repo.releases if r.tag_name == "v1.1.0"]
    assert rel.name == "plugin-server 1.1.0" and rel.prerelease is False and rel.draft is False
    assert "| `hmac-auth` | `1.0.0` | added |" in rel.body and f"Digest: `{DIGEST}`" in rel.body
    assert rel.body.startswith("Release 1.1.0 follows v1.0.0 (minor changes).")
    [posted] = release_json(fake)
    assert posted["make_latest"] == "true" and posted["target_commitish"] == head
    assert all(w.authorized for w in fake.writes())

    # the same version again: nothing is written, and it says so
    writes = len(fake.writes())
    code, out, _ = publish(capsys, "--release-version", "1.1.0", "--image", "registry.example/higress/plugin-server",
                           "--image-digest", DIGEST)
    assert code == 0
    assert "publish: unchanged: tag v1.1.0 and its release are already published; nothing changed" in out
    assert len(fake.writes()) == writes
    assert len(repo.releases) == 1


def test_republish_after_the_tag_was_fetched(fake: fg.FakeGitHub, local: GitRepo,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """A re-run whose checkout holds the new tag: --release-version of the tag on HEAD is accepted."""
    push(local, remote(fake), tags=("v1.0.0",))
    assert publish(capsys)[0] == 0
    local.tag("v1.1.0")
    code, out, _ = publish(capsys, "--release-version", "1.1.0")
    assert code == 0 and "publish: unchanged" in out
    # and without --release-version there is nothing to release
    code, out, _ = publish(capsys)
    assert (code, out) == (0, "no release: HEAD is already released as v1.1.0\npublish: nothing to publish\n")


def test_changed_notes_update_the_release(fake: fg.FakeGitHub, local: GitRepo,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    push(local, remote(fake), tags=("v1.0.0",))
    assert publish(capsys)[0] == 0
    code, out, _ = publish(capsys, "--image", "registry.example/higress/plugin-server", "--image-digest", DIGEST)
    assert code == 0 and "publish: updated: updated release 'plugin-server 1.1.0'" in out
    [rel] = remote(fake).releases
    assert f"Digest: `{DIGEST}`" in rel.body
    assert fake.count("PATCH", r"/releases/\d+$") == 1 and fake.count("POST", r"/git/refs$") == 1


def test_tag_without_release_gets_its_release(fake: fg.FakeGitHub, local: GitRepo,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """A publish that stopped after the tag: the next one adds the release, keeps the tag."""
    head = push(local, remote(fake), tags=("v1.0.0",))
    repo = remote(fake)
    tagger = fg.Person("Rel", "rel@example.com", 1.7e9)
    tag_obj = repo.put(fg.TagObj("v1.1.0", "release 1.1.0\n", head, "commit", tagger))
    repo.set_ref("tags/v1.1.0", tag_obj)  # annotated: peeled to the commit
    code, out, _ = publish(capsys)
    assert code == 0
    assert "publish: created: created release 'plugin-server 1.1.0'" in out
    assert repo.refs["refs/tags/v1.1.0"] == tag_obj
    assert fake.count("POST", r"/git/refs$") == 0


def test_tag_on_another_commit_is_never_moved(fake: fg.FakeGitHub, local: GitRepo,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    push(local, remote(fake), tags=("v1.0.0",))
    repo = remote(fake)
    other = repo.commit_files({"x": "y"}, "elsewhere\n", branch="other")
    repo.set_ref("tags/v1.1.0", other)
    code, _, err = publish(capsys)
    assert code == 1
    assert err == (f"plugin-sync: error: tag v1.1.0 already exists on {REPO} at commit {other[:12]}, not at "
                   f"{local.head()[:12]}: a release tag is never moved; choose another version with --release-version\n")
    assert repo.releases == [] and repo.refs["refs/tags/v1.1.0"] == other
    assert fake.writes() == []


def test_prerelease_is_not_latest(fake: fg.FakeGitHub, local: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    push(local, remote(fake), tags=("v1.0.0",))
    code, out, _ = publish(capsys, "--release-version", "2.1.0-rc.1")
    assert code == 0 and "tags: rolling-2.1.0-rc.1\n" in out
    [rel] = remote(fake).releases
    assert rel.tag_name == "v2.1.0-rc.1" and rel.prerelease is True
    assert release_json(fake)[0]["make_latest"] == "false"


def test_github_refusal_is_one_line_without_the_token(fake: fg.FakeGitHub, local: GitRepo,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    push(local, remote(fake), tags=("v1.0.0",))
    fake.fail("POST", r"/releases$", 422, times=1)
    code, _, err = publish(capsys)
    assert code == 1
    assert err.startswith("plugin-sync: error: GitHub: create the release of v1.1.0: 422")
    assert len(err.splitlines()) == 1


def test_nothing_to_publish_touches_nothing(fake: fg.FakeGitHub, local: GitRepo,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    local.tag("v1.1.0")
    code, out, _ = publish(capsys)
    assert (code, out) == (0, "no release: HEAD is already released as v1.1.0\npublish: nothing to publish\n")
    assert fake.log == []
