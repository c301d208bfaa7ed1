"""The fake GitHub server answers like GitHub: checked with PyGithub, raw HTTP and real git."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import github
import pytest
import requests
from github import InputGitTreeElement

from sync.github.client import connect
from sync.retry import RetryPolicy
from tests.support.fakegithub import TOKEN
from tests.support.fakegithub import FakeGitHub, blob_sha, client_env

NO_RETRY = RetryPolicy(attempts=1)


def gh(fake: FakeGitHub) -> github.Github:
    return connect(client_env(fake), policy=NO_RETRY)


def test_object_ids_are_real_git_ids(fake: FakeGitHub, tmp_path: Path) -> None:
    repo = fake.state.create_repo("acme/srv")
    files = {"a.txt": b"hello\n", "dir/b.bin": b"\x00\x01\xff", "dir/sub/c": b"c", "z": b""}
    sha = repo.commit_files(files, "init", date="2025-01-01T00:00:00Z")
    local = tmp_path / "g"
    subprocess.run(["git", "init", "-q", str(local)], check=True)
    for path, data in files.items():
        (local / path).parent.mkdir(parents=True, exist_ok=True)
        (local / path).write_bytes(data)
    subprocess.run(["git", "-C", str(local), "add", "-A"], check=True)
    tree = subprocess.run(["git", "-C", str(local), "write-tree"], check=True, capture_output=True, text=True)
    assert repo.commit(sha).tree == tree.stdout.strip()
    assert repo.files_at("main") == files


def test_pagination_follows_link_headers(fake: FakeGitHub) -> None:
    repo = fake.state.create_repo("acme/srv")
    repo.commit_files({"x": "1"}, "init")
    for i in range(5):
        repo.merge_pull(f"change {i}", {f"f{i}": str(i)}, f"2025-01-0{i + 1}T00:00:00Z")
    fake.max_per_page = 2
    r = requests.get(f"{fake.url}/repos/acme/srv/pulls", params={"state": "closed", "per_page": 100})
    assert len(r.json()) == 2 and 'rel="next"' in r.headers["Link"] and 'rel="last"' in r.headers["Link"]
    numbers = [p.number for p in gh(fake).get_repo("acme/srv").get_pulls(state="closed", sort="created")]
    assert numbers == [5, 4, 3, 2, 1]
    assert fake.count("GET", r"/pulls$") == 1 + 3


def test_git_data_api_and_refs(fake: FakeGitHub) -> None:
    state_repo = fake.state.create_repo("acme/srv")
    base = state_repo.commit_files({"keep": "k", "drop": "d"}, "init")
    repo = gh(fake).get_repo("acme/srv")
    blob = repo.create_git_blob(base64.b64encode(b"\x89PNG\x00").decode(), "base64")
    assert repo.get_git_blob(blob.sha).content.replace("\n", "") == base64.b64encode(b"\x89PNG\x00").decode()
    tree = repo.create_git_tree(
        [InputGitTreeElement("new/icon.png", "100644", "blob", sha=blob.sha),
         InputGitTreeElement("drop", "100644", "blob", sha=None)],
        repo.get_git_tree(state_repo.commit(base).tree),
    )
    commit = repo.create_git_commit("add icon", tree, [repo.get_git_commit(base)])
    repo.create_git_ref("refs/heads/topic", commit.sha)
    assert state_repo.files_at("topic") == {"keep": b"k", "new/icon.png": b"\x89PNG\x00"}
    with pytest.raises(github.GithubException) as e:
        repo.create_git_ref("refs/heads/topic", commit.sha)
    assert e.value.status == 422 and e.value.data["message"] == "Reference already exists"
    other = state_repo.commit_files({"other": "o"}, "elsewhere", branch="other")
    ref = repo.get_git_ref("heads/topic")
    with pytest.raises(github.GithubException, match="not a fast forward"):
        ref.edit(other)
    ref.edit(other, force=True)
    assert state_repo.ref("topic") == other
    with pytest.raises(github.UnknownObjectException):
        _ = repo.get_git_ref("heads/absent").object
    repo.create_git_ref("refs/tags/v1.0.0", base)
    repo.create_git_ref("refs/tags/v1.1.0", other)
    assert [r.ref for r in repo.get_git_matching_refs("tags/v1.")] == ["refs/tags/v1.0.0", "refs/tags/v1.1.0"]
    assert list(repo.get_git_matching_refs("tags/v9")) == []
    assert repo.get_contents("keep", ref="v1.0.0").decoded_content == b"k"


def test_pulls_labels_and_filters(fake: FakeGitHub) -> None:
    state_repo = fake.state.create_repo("acme/srv")
    state_repo.commit_files({"a": "1"}, "init")
    state_repo.commit_files({"a": "2"}, "change", branch="topic")
    repo = gh(fake).get_repo("acme/srv")
    with pytest.raises(github.GithubException, match="No commits between"):
        repo.create_pull(base="topic", head="main", title="backwards")
    pr = repo.create_pull(base="main", head="topic", title="T", body="B")
    with pytest.raises(github.GithubException, match="already exists"):
        repo.create_pull(base="main", head="topic", title="again")
    repo.get_issue(pr.number).add_to_labels("plugin-sync", "automated")
    assert [x.name for x in repo.get_pull(pr.number).labels] == ["plugin-sync", "automated"]
    assert [p.number for p in repo.get_pulls(state="open", head="acme:topic", base="main")] == [pr.number]
    assert list(repo.get_pulls(state="open", head="acme:nope")) == []
    state_repo.close(pr.number)
    closed = repo.get_pull(pr.number)
    assert (closed.state, closed.merged, closed.merged_at) == ("closed", False, None)
    assert [f.filename for f in closed.get_files()] == ["a"]
    pr2 = repo.create_pull(base="main", head="topic", title="T2")
    merge_sha = state_repo.merge(pr2.number)
    merged = repo.get_pull(pr2.number)
    assert merged.merged and merged.merge_commit_sha == merge_sha
    assert state_repo.commit(merge_sha).message == "T2 (#2)"
    assert state_repo.files_at("main") == {"a": b"2"}


def test_releases_and_assets(fake: FakeGitHub) -> None:
    state_repo = fake.state.create_repo("acme/srv")
    head = state_repo.commit_files({"a": "1"}, "init")
    repo = gh(fake).get_repo("acme/srv")
    draft = repo.create_git_release("v1.0.0", "v1.0.0", "notes", draft=True)
    assert "refs/tags/v1.0.0" not in state_repo.refs
    with pytest.raises(github.UnknownObjectException):
        repo.get_release("v1.0.0")  # drafts are not found by tag
    asset = draft.upload_asset_from_memory(b"\x00bin", 4, "plugins.tar.gz", "application/gzip")
    assert asset.size == 4
    draft.update_release("v1.0.0", "final notes", draft=False)
    assert state_repo.refs["refs/tags/v1.0.0"] == head
    got = repo.get_release("v1.0.0")
    assert got.body == "final notes" and [a.name for a in got.assets] == ["plugins.tar.gz"]
    assert requests.get(got.assets[0].browser_download_url).content == b"\x00bin"
    assert repo.get_latest_release().tag_name == "v1.0.0"
    with pytest.raises(github.GithubException, match="already_exists"):
        repo.create_git_release("v1.0.0", "again", "x")
    assert [r.tag_name for r in repo.get_releases()] == ["v1.0.0"]


def test_faults_hooks_auth_and_counting(fake: FakeGitHub) -> None:
    state_repo = fake.state.create_repo("acme/srv")
    state_repo.commit_files({"a": "1"}, "init")
    moved = []
    fake.before("GET", r"/git/ref/heads/main$", lambda s: moved.append(s.repo("acme/srv").ref("main")))
    fake.fail("GET", r"^/repos/acme/srv$", 502, times=1)
    r = requests.get(f"{fake.url}/repos/acme/srv")
    assert r.status_code == 502 and "text/html" in r.headers["Content-Type"]
    assert requests.get(f"{fake.url}/repos/acme/srv").json()["full_name"] == "acme/srv"
    requests.get(f"{fake.url}/repos/acme/srv/git/ref/heads/main")
    requests.get(f"{fake.url}/repos/acme/srv/git/ref/heads/main")
    assert moved == [state_repo.ref("main")]  # the hook ran once
    denied = requests.post(f"{fake.url}/repos/acme/srv/git/blobs", json={"content": "x"})
    assert denied.status_code == 401
    ok = requests.post(f"{fake.url}/repos/acme/srv/git/blobs", json={"content": "x"},
                       headers={"Authorization": f"token {TOKEN}"})
    assert ok.status_code == 201 and ok.json()["sha"] == blob_sha(b"x")
    assert fake.count() == 6 and len(fake.writes()) == 2
    assert requests.get(f"{fake.url}/repos/acme/nope").status_code == 404
