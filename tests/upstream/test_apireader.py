"""Detection through the GitHub REST API (PyGithub against the fake server)."""

from __future__ import annotations

import time

import pytest
import requests

from sync.config import parse_config
from sync.errors import UsageError
from sync.github.client import connect
from sync.upstream.apireader import ApiReader
from sync.upstream.detect import detect
from sync.upstream.model import parse_since
from tests.support.fakegithub import FakeGitHub, Repo, client_env
from tests.support.upstream import CPP, GO, RUST


def test_merged_prs_map_to_plugins_with_versions(fake_upstream: tuple[FakeGitHub, Repo]) -> None:
    fake, repo = fake_upstream
    r = ApiReader(connect(), "higress-group/higress")
    since = r.resolve(parse_since("#101"))
    assert (since.pr, since.merged, since.sha) == (101, "2025-01-02T00:00:00Z", repo.pulls[101].merge_commit_sha)
    fake.reset_log()
    ch = detect(r, since, parse_config(None), have_config=False)
    assert [m.number for m in ch.merges] == [102, 103, 104, 105, 106]  # not the closed-unmerged #108
    by = {p.name: p for p in ch.plugins}
    assert sorted(by) == ["ai-cache", "basic-auth", "key-auth", "say-hello"]
    assert (by["key-auth"].version, by["key-auth"].dirs) == ("2.0.1", (f"{CPP}/key_auth",))
    assert (by["say-hello"].version, by["say-hello"].dirs) == ("0.2.0", (f"{RUST}/say-hello",))
    assert by["ai-cache"].version is None  # no VERSION file: unknown, not an error
    assert by["basic-auth"].version == "1.1.0"
    assert by["basic-auth"].prs[0].url == "https://github.com/higress-group/higress/pull/106"
    assert {o.path for o in ch.other} == {"docs/guide.md", "plugins/wasm-go/pkg/wrapper/w.go"}
    # every page of closed PRs was followed (2 per page: 7 PRs -> 4 pages)
    assert fake.count("GET", r"/pulls$") == 4
    assert fake.count("GET", r"/pulls/\d+/files$") >= 5


def test_paging_stops_at_prs_updated_before_the_position(fake_upstream: tuple[FakeGitHub, Repo]) -> None:
    fake, repo = fake_upstream
    r = ApiReader(connect(), "higress-group/higress")
    since = r.resolve(parse_since("#105"))
    fake.reset_log()
    assert [m.number for m in r.merges_after(since)] == [106]
    assert fake.count("GET", r"/pulls$") == 2


def test_since_a_commit_and_a_time(fake_upstream: tuple[FakeGitHub, Repo]) -> None:
    _, repo = fake_upstream
    r = ApiReader(connect(), "higress-group/higress")
    sha = repo.pulls[103].merge_commit_sha
    assert sha is not None
    pos = r.resolve(parse_since(sha[:12]))
    assert (pos.pr, pos.merged, pos.sha) == (103, "2025-01-04T00:00:00Z", sha)
    assert [m.number for m in r.merges_after(pos)] == [104, 105, 106]
    assert [m.number for m in r.merges_after(r.resolve(parse_since("2025-01-06")))] == [105, 106]


def test_an_unmerged_pr_is_no_starting_point(fake_upstream: tuple[FakeGitHub, Repo]) -> None:
    r = ApiReader(connect(), "higress-group/higress")
    with pytest.raises(UsageError, match="not merged"):
        r.resolve(parse_since("#108"))


def test_rate_limited_listing_is_waited_out(fake_upstream: tuple[FakeGitHub, Repo]) -> None:
    fake, _ = fake_upstream
    r = ApiReader(connect(), "higress-group/higress")
    since = r.resolve(parse_since("#104"))
    fake.rate_limit("GET", r"/pulls$", retry_after=1)
    fake.rate_limit("GET", r"/pulls/\d+/files$", status=429, reset_in=0)
    started = time.monotonic()
    assert [m.number for m in r.merges_after(since)] == [105, 106]
    assert time.monotonic() - started >= 1.0  # Retry-After: 1 was honoured
    assert [f.times for f in fake.faults] == [0, 0]


def test_enterprise_api_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeGitHub(token="ghs_enterprise_token_1234", prefix="/api/v3") as fake:
        for k, v in client_env(fake).items():
            monkeypatch.setenv(k, v)
        repo = fake.state.create_repo("corp/higress")
        repo.commit_files({"x": "1"}, "init", date="2025-01-01T00:00:00Z")
        repo.merge_pull("feat", {f"{GO}/basic-auth/VERSION": "3.0.0\n"}, "2025-01-02T00:00:00Z", number=7)
        r = ApiReader(connect(), "corp/higress")
        ch = detect(r, r.resolve(parse_since("2025-01-01")), parse_config(None), have_config=False)
        assert [(p.name, p.version) for p in ch.plugins] == [("basic-auth", "3.0.0")]
        assert fake.url.endswith("/api/v3") and all(entry.authorized for entry in fake.log)


def test_a_file_over_1_mb_is_read_through_the_blob_api(fake_upstream: tuple[FakeGitHub, Repo]) -> None:
    """GitHub's contents API leaves out a file over 1 MB (``encoding: "none"``, empty content);
    the reader then reads the git blob."""
    fake, repo = fake_upstream
    big = bytes(range(256)) * (5 * 1024)  # 1.25 MiB, every byte value
    sha = repo.commit_files({f"{GO}/basic-auth/README.md": big, f"{GO}/basic-auth/VERSION": "1.2.0\n"},
                            "docs: a large README", date="2025-02-01T00:00:00Z")
    answer = requests.get(f"{fake.url}/repos/higress-group/higress/contents/{GO}/basic-auth/README.md",
                          params={"ref": sha}, headers={"Authorization": f"Bearer {fake.token}"}, timeout=10).json()
    assert (answer["encoding"], answer["content"], answer["size"]) == ("none", "", len(big))
    r = ApiReader(connect(), "higress-group/higress")
    fake.reset_log()
    assert r.read_file(sha, f"{GO}/basic-auth/README.md") == big
    assert fake.count("GET", r"/git/blobs/[0-9a-f]{40}$") == 1
    assert r.read_file(sha, f"{GO}/basic-auth/VERSION") == b"1.2.0\n"  # a small file: the contents API alone
    assert fake.count("GET", r"/git/blobs/[0-9a-f]{40}$") == 1
