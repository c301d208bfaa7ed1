"""GitHub faults against the fake GitHub server, during ``plugin-sync propose``: 502 bursts
on every route it uses, primary and secondary rate limits, a 422 on PR creation, and
branches changed by someone else while it works. Each gets a bounded retry or one clear
line, and there is never more than one pull request."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

import pytest

from tests.support.fakegithub import TOKEN
from tests.github.site import REPO, WASM_V1, Site, lock_v1, site_files
from tests.reliability.record import Collector
from tests.support.fakegithub import FakeGitHub, Pull, State

AREA = "GitHub faults"
BRANCH = "plugin-sync/update"
ATTEMPTS = 5


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Site]:
    with FakeGitHub(token=TOKEN) as fake:
        s = Site(fake, tmp_path / "checkout", monkeypatch, capsys)
        s.seed(site_files(lock_v1(), WASM_V1))
        s.bump()  # a pull brought a new artifact: there is something to propose
        yield s


def assert_one_pull_with_local_bytes(site: Site) -> None:
    assert len(site.repo.pulls) == 1, site.repo.pulls
    assert len(site.repo.open_pulls()) == 1
    assert site.branch_files()["plugins.lock.json"] == site.local_bytes("plugins.lock.json")


def next_run_creates_one(site: Site) -> None:
    """With the faults and hooks gone, propose creates the pull request, and it is the only one."""
    site.fake.faults.clear()
    site.fake.hooks.clear()
    rc, out, err = site.propose()
    assert (rc, out) == (0, "created\n"), err
    assert_one_pull_with_local_bytes(site)


def assert_failed_in_one_line(rc: int, out: str, err: str, *words: str) -> str:
    assert rc == 1 and out == "", (rc, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err and TOKEN not in err
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0].replace("plugin-sync: error: ", "")


# every route a first propose uses, in the order it uses them
ROUTES = [
    ("GET", r"/repos/acme/plugin-server$", "the repository"),
    ("GET", r"/git/ref/heads/main$", "the base branch ref"),
    ("GET", r"/git/trees/", "the base tree"),
    ("GET", r"/git/blobs/", "the base lock blob"),
    ("GET", r"/pulls$", "the pull request list"),
    ("POST", r"/git/blobs$", "blob upload"),
    ("POST", r"/git/trees$", "tree creation"),
    ("POST", r"/git/commits$", "commit creation"),
    ("POST", r"/git/refs$", "branch creation"),
    ("POST", r"/pulls$", "pull request creation"),
    ("POST", r"/issues/\d+/labels$", "labelling"),
]


def test_502_bursts_on_every_route(site: Site, reliability: Collector) -> None:
    for method, route, _ in ROUTES:
        site.fake.fail(method, route, 502, times=3)
    rc, out, err = site.propose()
    assert (rc, out) == (0, "created\n"), err
    assert all(f.times == 0 for f in site.fake.faults)
    for method, route, what in ROUTES:
        assert site.fake.count(method, route) >= 4, what
    assert_one_pull_with_local_bytes(site)
    assert site.repo.pulls[1].labels == ["plugin-sync", "automated"]
    reliability.record(AREA, f"burst of 3 × HTTP 502 on each of the {len(ROUTES)} API routes a propose uses", 1,
                       f"{3 * len(ROUTES)} answers of 502 retried; the pull request created, labelled, holding "
                       f"the local bytes; one pull request; routes: {', '.join(w for _, _, w in ROUTES)}")


def test_502_without_end_on_pr_creation_then_a_clean_run(site: Site, reliability: Collector) -> None:
    site.fake.fail("POST", r"/pulls$", 502, times=100)
    rc, out, err = site.propose()
    line = assert_failed_in_one_line(rc, out, err, "502")
    tries = site.fake.count("POST", r"/pulls$")
    assert tries == ATTEMPTS
    assert site.repo.pulls == {}
    next_run_creates_one(site)
    reliability.record(AREA, "HTTP 502 on every try of the pull request creation", 1,
                       f"{tries} tries (the bound), then `{line}`; no pull request; the next run created exactly one")


def test_pull_request_created_but_the_answer_lost(site: Site, reliability: Collector) -> None:
    def github_creates_it(state: State) -> None:
        repo = state.repo(REPO)
        n = repo.next_number()
        repo.pulls[n] = Pull(n, "plugin-sync: update", "", BRANCH, "main")

    site.fake.before("POST", r"/pulls$", github_creates_it)
    site.fake.fail("POST", r"/pulls$", 502)
    rc, out, err = site.propose()
    assert rc == 0 and out in ("created\n", "updated\n"), err
    assert_one_pull_with_local_bytes(site)
    assert "plugin-sync:fingerprint=" in (site.repo.pulls[1].body or "")
    reliability.record(AREA, "pull request created, but GitHub's answer lost (502), then retried", 1,
                       f"the retry met 422 'already exists' and updated that pull request ({out.strip()}); "
                       "one pull request")


@pytest.mark.parametrize("kind", ["primary (403, X-RateLimit-Remaining: 0, reset in 1 s)",
                                  "primary (429, Retry-After: 1)",
                                  "secondary (403, Retry-After: 1, 'secondary rate limit')"])
def test_rate_limits_are_waited_out(site: Site, reliability: Collector, kind: str) -> None:
    if kind.startswith("primary (403"):
        site.fake.rate_limit("GET", r"/pulls$", status=403, reset_in=1)
    elif kind.startswith("primary (429"):
        site.fake.rate_limit("POST", r"/git/trees$", status=429, retry_after=1)
    else:
        site.fake.rate_limit("POST", r"/git/blobs$", status=403, retry_after=1, secondary=True, times=2)
    start = time.monotonic()
    rc, out, err = site.propose()
    took = time.monotonic() - start
    assert (rc, out) == (0, "created\n"), err
    assert all(f.times == 0 for f in site.fake.faults)
    assert took >= 0.9
    assert_one_pull_with_local_bytes(site)
    reliability.record(AREA, f"rate limit, {kind}", 1,
                       f"waited as asked, then went on: created the pull request in {took:.1f} s; one pull request")


def test_rate_limit_longer_than_the_bound_fails_at_once(site: Site, reliability: Collector,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLUGIN_SYNC_RETRY_MAX_WAIT", "5")
    site.fake.rate_limit("POST", r"/git/commits$", status=403, reset_in=3600, times=10)
    start = time.monotonic()
    rc, out, err = site.propose()
    took = time.monotonic() - start
    line = assert_failed_in_one_line(rc, out, err, "403", "GitHub asks to wait")
    assert took < 5 and site.fake.count("POST", r"/git/commits$") == 1
    assert site.repo.pulls == {} and site.repo.ref(BRANCH) is None
    next_run_creates_one(site)
    reliability.record(AREA, "primary rate limit resetting in an hour (wait bound 5 s)", 1,
                       f"no wait, one request: `{line}`; nothing written; the next run created one pull request")


def test_422_on_pull_request_creation(site: Site, reliability: Collector) -> None:
    site.fake.fail("POST", r"/pulls$", 422, body={
        "message": "Validation Failed",
        "errors": [{"resource": "PullRequest", "code": "custom", "message": "No commits between main and x"}]})
    rc, out, err = site.propose()
    line = assert_failed_in_one_line(rc, out, err, "422 Validation Failed", "No commits between")
    assert site.fake.count("POST", r"/pulls$") == 1  # a 422 is not retried
    assert site.repo.pulls == {}
    next_run_creates_one(site)
    reliability.record(AREA, "HTTP 422 on pull request creation", 1,
                       f"not retried: `{line}`; the next run created exactly one pull request")


def test_sync_branch_flipping_under_every_write(site: Site, reliability: Collector) -> None:
    def flip(state: State) -> None:  # someone creates or deletes the branch just before our write
        repo = state.repo(REPO)
        repo.set_ref(BRANCH, None if repo.ref(BRANCH) else repo.ref("main"))

    for method, route in (("POST", r"/git/refs$"), ("PATCH", r"/git/refs/heads/plugin-sync/update$")):
        site.fake.before(method, route, flip, times=100)
    rc, out, err = site.propose()
    line = assert_failed_in_one_line(rc, out, err, "keeps changing", "try again")
    writes = site.fake.count("POST", r"/git/refs$") + site.fake.count("PATCH", r"/git/refs/")
    assert writes == 2  # one try, one more after reading the branch again: bounded
    assert site.repo.pulls == {}
    next_run_creates_one(site)
    reliability.record(AREA, "sync branch created/deleted by someone else before every write", 1,
                       f"{writes} writes (bounded), then `{line}`; no pull request; the next run created one")


def test_base_branch_moving_under_every_commit(site: Site, reliability: Collector) -> None:
    def someone_merges(state: State) -> None:
        state.repo(REPO).commit_files({"CHANGELOG.md": f"{time.monotonic()}\n".encode()}, "concurrent merge")

    site.fake.before("POST", r"/git/commits$", someone_merges, times=100)
    rc, out, err = site.propose()
    line = assert_failed_in_one_line(rc, out, err, "kept moving")
    commits = site.fake.count("POST", r"/git/commits$")
    assert commits == 3
    assert site.repo.pulls == {} and site.repo.ref(BRANCH) is None
    next_run_creates_one(site)
    head = site.repo.ref(BRANCH)
    assert head and site.repo.commit(head).parents == (site.repo.ref("main"),)
    reliability.record(AREA, "base branch moved by someone else during every commit", 1,
                       f"rebuilt on the new base {commits} times (the bound), then `{line}`; nothing pushed; "
                       "the next run built on the latest base and created one pull request")


def test_sync_branch_pushed_by_someone_else_between_runs(site: Site, reliability: Collector) -> None:
    assert site.propose()[1] == "created\n"
    site.repo.commit_files({"plugins.lock.json": b"{}\n"}, "someone else's push", branch=BRANCH)
    site.bump(6)  # the next pull brings another artifact
    rc, out, err = site.propose()
    assert (rc, out) == (0, "updated\n"), err
    assert_one_pull_with_local_bytes(site)
    reliability.record(AREA, "sync branch pushed to by someone else between two runs", 1,
                       "the next run rebuilt the branch from the base with the local files and updated the "
                       "same pull request; one pull request")
