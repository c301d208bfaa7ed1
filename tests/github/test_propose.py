"""``plugin-sync propose`` end to end against the fake GitHub server."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.fakegithub import TOKEN
from tests.github.site import CONFIG, HAND, REPO, WASM_V1, WASM_V2, Site, hand_placed, lock_v1, site_files
from tests.support.git import GitRepo
from tests.support.gitpush import push
from tests.support.fakegithub import FakeGitHub, State

BRANCH = "plugin-sync/update"


@pytest.fixture
def site(fake: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
         capsys: pytest.CaptureFixture[str]) -> Site:
    s = Site(fake, tmp_path / "checkout", monkeypatch, capsys)
    s.seed(site_files(lock_v1(), WASM_V1))
    return s


def published_paths(site: Site) -> list[str]:
    base = site.repo.files_at("main")
    branch = site.branch_files()
    return sorted(p for p in set(base) | set(branch) if base.get(p) != branch.get(p))


def test_three_runs_one_pull_request_then_an_update(site: Site) -> None:
    lock = site.bump()
    site.write({f"{HAND}/plugin.wasm": WASM_V2})
    lock.put(hand_placed(WASM_V2))
    site.set_lock(lock)
    base_head = site.repo.ref("main")

    rc, out, err = site.propose()
    assert (rc, out) == (0, "created\n")
    assert "created: https://github.com/acme/plugin-server/pull/1" in err
    assert "result=created\n" in site.outputs() and "pull-request=1\n" in site.outputs()
    # one commit on the current base, holding exactly the local bytes (binary included)
    head = site.repo.ref(BRANCH)
    assert head and site.repo.commit(head).parents == (base_head,)
    branch = site.branch_files()
    for rel in ("plugins.lock.json", f"{HAND}/plugin.wasm", "plugins.yaml", f"{HAND}/plugin.wasm.sha256"):
        assert branch[rel] == site.local_bytes(rel), rel
    assert published_paths(site) == ["plugins.lock.json", f"{HAND}/plugin.wasm"]
    assert branch["README.md"] == b"# plugin server\n"  # the rest of the base is kept
    pr = site.repo.pulls[1]
    assert pr.title == "plugin-sync: update 2 plugins (basic-auth, custom)"
    assert pr.labels == ["plugin-sync", "automated"] and pr.head == BRANCH and pr.base == "main"
    assert "| basic-auth | 1.0.0 |" in (pr.body or "")

    for _ in range(2):
        site.fake.reset_log()
        site.bump()  # pulled again: new pull times, same artifacts
        lock = site.bump()
        lock.put(hand_placed(WASM_V2))
        site.set_lock(lock)
        rc, out, err = site.propose()
        assert (rc, out) == (0, "unchanged\n") and "already holds this change" in err
        assert site.fake.writes() == []
    assert len(site.repo.pulls) == 1 and site.repo.ref(BRANCH) == head

    # more changes: the branch is rebuilt on the (moved) base, the same PR is updated
    new_base = site.repo.commit_files({"docs/x.md": b"x"}, "unrelated work on main")
    lock = site.bump(5)
    lock.put(hand_placed(WASM_V2))
    site.set_lock(lock)
    rc, out, _ = site.propose()
    assert (rc, out) == (0, "updated\n")
    assert len(site.repo.pulls) == 1 and site.repo.pulls[1].state == "open"
    new_head = site.repo.ref(BRANCH)
    assert new_head != head and site.repo.commit(new_head).parents == (new_base,)
    assert site.branch_files()["plugins.lock.json"] == site.local_bytes("plugins.lock.json")
    assert "`sha256:555555555555`" in (site.repo.pulls[1].body or "")
    assert "result=updated\n" in site.outputs()


def test_nothing_new_changes_nothing(site: Site) -> None:
    site.bump(1)  # the same artifact again, only the pull time differs
    site.fake.reset_log()
    rc, out, err = site.propose()
    assert (rc, out) == (0, "unchanged\n") and "nothing to publish" in err
    assert site.fake.writes() == [] and site.repo.pulls == {} and site.repo.ref(BRANCH) is None
    assert "result=unchanged\n" in site.outputs()


def test_a_pull_request_closed_unmerged_is_not_reopened(site: Site) -> None:
    site.bump()
    assert site.propose()[1] == "created\n"
    site.repo.close(1)
    site.fake.reset_log()
    rc, out, err = site.propose()
    assert (rc, out) == (0, "skipped\n") and "closed without merging" in err
    assert site.fake.writes() == [] and site.repo.pulls[1].state == "closed"
    # different content is a new proposal
    site.bump(7)
    assert site.propose()[1] == "created\n"
    assert site.repo.pulls[2].state == "open" and len(site.repo.open_pulls()) == 1


def test_after_the_merge_nothing_is_left(site: Site) -> None:
    site.bump()
    assert site.propose()[1] == "created\n"
    site.repo.merge(1)
    site.write(dict(site.repo.files_at("main")))  # the next run checks out the new main
    site.fake.reset_log()
    assert site.propose()[1] == "unchanged\n"
    assert site.fake.writes() == []


def test_base_moving_during_publish_rebuilds_on_the_new_base(site: Site) -> None:
    site.bump()
    moved: list[str] = []

    def someone_merges(state: State) -> None:
        moved.append(state.repo(REPO).commit_files({"CHANGELOG.md": b"other work\n"}, "concurrent merge"))

    site.fake.before("POST", r"/git/commits$", someone_merges)
    assert site.propose()[1] == "created\n"
    head = site.repo.ref(BRANCH)
    assert head and site.repo.commit(head).parents == (moved[0],)
    assert site.fake.count("POST", r"/git/commits$") == 2
    assert site.branch_files()["CHANGELOG.md"] == b"other work\n"


def test_the_branch_deleted_or_created_under_us(site: Site) -> None:
    site.bump()
    site.fake.before("POST", r"/git/refs$", lambda s: s.repo(REPO).set_ref(BRANCH, s.repo(REPO).ref("main")))
    assert site.propose()[1] == "created\n"  # "Reference already exists" -> moved instead
    assert site.branch_files()["plugins.lock.json"] == site.local_bytes("plugins.lock.json")
    site.bump(9)
    site.fake.before("PATCH", r"/git/refs/heads/plugin-sync/update$", lambda s: s.repo(REPO).set_ref(BRANCH, None))
    assert site.propose()[1] == "updated\n"  # "Reference does not exist" -> created again
    assert site.branch_files()["plugins.lock.json"] == site.local_bytes("plugins.lock.json")


def test_a_pull_request_opened_concurrently_is_updated(site: Site) -> None:
    site.bump()

    def other_run_opens_it(state: State) -> None:
        from tests.support.fakegithub import Pull

        repo = state.repo(REPO)
        n = repo.next_number()
        repo.pulls[n] = Pull(n, "from a concurrent run", "old body", BRANCH, "main")

    site.fake.before("POST", r"/pulls$", other_run_opens_it)
    rc, out, _ = site.propose()
    assert (rc, out) == (0, "updated\n")
    assert len(site.repo.pulls) == 1 and site.repo.pulls[1].title.startswith("plugin-sync: update")
    assert site.repo.pulls[1].labels == ["plugin-sync", "automated"]


def test_a_refused_pull_request_fails_in_one_line(site: Site) -> None:
    site.bump()
    site.fake.fail("POST", r"/pulls$", 422, body={"message": "Validation Failed",
                                                 "errors": [{"resource": "PullRequest", "code": "custom",
                                                             "message": "base branch is protected"}]})
    rc, out, err = site.propose()
    assert rc == 1 and out == ""
    assert err.strip().count("\n") == 0
    assert "422 Validation Failed: base branch is protected" in err


def test_rate_limits_and_server_errors_are_waited_out(site: Site) -> None:
    site.bump()
    site.write({f"{HAND}/plugin.wasm": WASM_V2})
    lock = site.bump()
    lock.put(hand_placed(WASM_V2))
    site.set_lock(lock)
    site.fake.rate_limit("POST", r"/git/blobs$", retry_after=1, secondary=True)
    site.fake.rate_limit("POST", r"/pulls$", status=429, retry_after=1)
    site.fake.fail("GET", r"/git/trees/", 502, times=2)
    assert site.propose()[1] == "created\n"
    assert all(f.times == 0 for f in site.fake.faults)
    assert site.branch_files()[f"{HAND}/plugin.wasm"] == WASM_V2


def test_dry_run_prints_everything_and_touches_nothing(site: Site) -> None:
    lock = site.bump()
    site.write({f"{HAND}/plugin.wasm": WASM_V2})
    lock.put(hand_placed(WASM_V2))
    site.set_lock(lock)
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in site.root.rglob("*") if p.is_file()}
    site.fake.reset_log()
    rc, out, _ = site.propose("--dry-run")
    assert rc == 0
    assert site.fake.writes() == [] and site.repo.pulls == {} and site.outputs() == ""
    assert before == {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in site.root.rglob("*") if p.is_file()}
    assert out.startswith("# dry run: would open a pull request on acme/plugin-server (plugin-sync/update -> main)")
    assert "=== file plugins.lock.json" in out and site.local_bytes("plugins.lock.json").decode() in out
    assert f"=== file {HAND}/plugin.wasm ({len(WASM_V2)} bytes" in out
    assert f"(binary: {len(WASM_V2)} bytes, sha256 {hashlib.sha256(WASM_V2).hexdigest()})" in out
    assert "=== pull request title\nplugin-sync: update 2 plugins (basic-auth, custom)\n" in out
    assert "=== pull request labels\nplugin-sync, automated\n" in out
    assert "<!-- plugin-sync:fingerprint=" in out and out.endswith("# result: created\n")


def test_labels_from_the_command_line(site: Site) -> None:
    site.bump()
    assert site.propose("--label", "sync", "--base", "main", "--branch", "bot/sync")[1] == "created\n"
    assert site.repo.pulls[1].labels == ["sync"] and site.repo.pulls[1].head == "bot/sync"


def test_a_label_that_cannot_be_added_is_a_warning(site: Site) -> None:
    site.bump()
    site.fake.fail("POST", r"/issues/\d+/labels$", 403,
                   body={"message": "Must have admin rights to Repository.", "documentation_url": "x"})
    rc, out, err = site.propose()
    assert (rc, out) == (0, "created\n")
    assert "warning: pull request #1 is not labelled: GitHub: labelling pull request #1 of acme/plugin-server: " \
           "403 Must have admin rights to Repository." in err
    assert site.repo.pulls[1].labels == []


def test_bad_input_is_exit_2(site: Site) -> None:
    rc, _, err = site.cli("propose", "--checkout", str(site.root))
    assert rc == 2 and "--repo" in err
    rc, _, err = site.propose("--changes", str(site.root / "missing.json"))
    assert rc == 2 and "no such file" in err
    (site.root / "bad.json").write_text('{"schemaVersion": 7}')
    rc, _, err = site.propose("--changes", str(site.root / "bad.json"))
    assert rc == 2 and "detect document" in err
    rc, _, err = site.cli("propose", "--repo", "not-a-repo")
    assert rc == 2 and "OWNER/REPO" in err
    rc, _, err = site.propose("--branch", "main")
    assert rc == 2 and "is the base branch" in err


def test_the_token_never_appears_in_any_output(site: Site, tmp_path: Path) -> None:
    site.bump()
    site.fake.fail("GET", r"/git/ref/heads/main$", 401, echo_auth=True, times=10)
    env = {**os.environ, "PLUGIN_SYNC_DEBUG": "1", "GITHUB_TOKEN": TOKEN}
    for extra in ([], ["--dry-run"]):
        p = subprocess.run(
            [sys.executable, "-m", "sync", "-v", "--config", str(site.root / "plugins.yaml"),
             "--root", str(site.root / "plugins"), "propose", "--repo", REPO, "--checkout", str(site.root), *extra],
            capture_output=True, text=True, env=env, timeout=60)
        assert p.returncode == 1
        assert TOKEN not in p.stdout + p.stderr
        assert "401 Bad credentials: received 'token ***'" in p.stderr
    assert site.fake.log and all(r.authorized for r in site.fake.log if r.path.endswith("heads/main"))


# --- a checkout behind the base is refused ---------------------------------------------------------

@pytest.fixture
def git_site(fake: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
             capsys: pytest.CaptureFixture[str]) -> tuple[Site, GitRepo]:
    """The site's checkout as a real git clone: its main is the fake's main, commit for commit."""
    s = Site(fake, tmp_path / "checkout", monkeypatch, capsys)
    local = GitRepo(s.root)
    local.commit("seed", files={"README.md": b"# plugin server\n", **site_files(lock_v1(), WASM_V1)})
    push(local, s.repo)
    return s, local


def test_a_checkout_behind_the_base_is_refused(git_site: tuple[Site, GitRepo]) -> None:
    site, local = git_site
    newer_config = CONFIG + b"  ai-proxy:\n    source: oci://r.example/plugins/ai-proxy:1.0.0\n"
    moved = site.repo.commit_files({"plugins.yaml": newer_config}, "add ai-proxy on main")
    site.bump()  # this checkout pulled, still at the older main
    site.fake.reset_log()
    rc, out, err = site.propose()
    assert (rc, out) == (1, "")
    assert err.strip().count("\n") == 0 and "Traceback" not in err
    assert f"the checkout is at {local.head()[:12]}, behind main (now at {moved[:12]})" in err
    assert site.fake.writes() == [] and site.repo.ref(BRANCH) is None
    assert site.repo.files_at("main")["plugins.yaml"] == newer_config
    rc, out, err = site.propose("--dry-run")
    assert rc == 1 and "behind main" in err


def test_a_checkout_at_or_after_the_base_publishes(git_site: tuple[Site, GitRepo]) -> None:
    site, local = git_site
    site.bump()  # HEAD is the base's head, the pull's change not committed
    rc, out, err = site.propose()
    assert (rc, out) == (0, "created\n"), err
    # a local commit on top of the base: HEAD after it
    edited = CONFIG.replace(b"key-auth:1.0.0", b"key-auth:1.0.1")
    local.commit("local edit", files={"plugins.yaml": edited})
    site.bump(5)
    rc, out, err = site.propose()
    assert (rc, out) == (0, "updated\n"), err
    assert site.branch_files()["plugins.yaml"] == edited
