from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from tests.support.fakegithub import FakeGitHub, Pull, Repo, client_env, parse_time
from tests.support.git import GitRepo
from tests.support.upstream import CPP, GO, RUST, release_history


@pytest.fixture
def upstream(tmp_path: Path) -> GitRepo:
    """A small higress-like history: squash merges on main, one true merge, one direct push."""
    g = GitRepo(tmp_path / "higress")
    g.commit("initial import", files={"README.md": "higress\n", f"{GO}/basic-auth/main.go": "package main\n",
                                f"{GO}/basic-auth/VERSION": "1.0.0\n"}, date="2025-01-01T00:00:00Z")
    g.squash(101, "feat: basic-auth realm", {f"{GO}/basic-auth/main.go": "package main // realm\n",
                                             f"{GO}/basic-auth/VERSION": "1.1.0\n"}, "2025-01-02T00:00:00Z")
    g.squash(102, "feat(cpp): key auth header", {f"{CPP}/key_auth/plugin.cc": "int x;\n",
                                                 f"{CPP}/key_auth/VERSION": "v2.0.1\n"}, "2025-01-03T00:00:00Z")
    g.squash(103, "feat(rust): say hello", {f"{RUST}/say-hello/src/lib.rs": "fn f(){}\n",
                                            f"{RUST}/say-hello/Cargo.toml":
                                            '[package]\nname = "say-hello"\nversion = "0.2.0"\n'},
             "2025-01-04T00:00:00Z")
    g.squash(104, "docs: typo", {"docs/guide.md": "guide\n", "plugins/wasm-go/pkg/wrapper/w.go": "package w\n"},
             "2025-01-05T00:00:00Z")
    g.commit("direct push without a PR", files={f"{GO}/ai-proxy/main.go": "package main\n"}, date="2025-01-06T00:00:00Z")
    g.merge_branch(105, [("wip: inner change (#999)", {f"{GO}/ai-cache/main.go": "package main\n"}),
                         ("more", {f"{GO}/ai-cache/VERSION": "0.1.0\n"})], "2025-01-07T00:00:00Z")
    g.squash(106, "fix: basic-auth nil check", {f"{GO}/basic-auth/main.go": "package main // nil\n"},
             "2025-01-08T00:00:00Z")
    g.squash(107, "test: add a binary fixture", {f"{GO}/basic-auth/testdata/blob.bin": b"\x00\xff\x00"},
             "2025-01-09T00:00:00Z")
    return g


TOKEN = "ghp_UpstreamReaderToken0123456789"


@pytest.fixture
def fake_upstream(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeGitHub, Repo]]:
    """higress-group/higress on a fake GitHub, with the same merges as ``upstream`` plus API-only cases."""
    with FakeGitHub(token=TOKEN, max_per_page=2) as fake:
        for k, v in client_env(fake).items():
            monkeypatch.setenv(k, v)
        monkeypatch.setenv("PLUGIN_SYNC_RETRY_BASE", "0.01")
        repo = fake.state.create_repo("higress-group/higress")
        repo.commit_files({"README.md": "higress\n", f"{GO}/basic-auth/main.go": "package main\n",
                           f"{GO}/basic-auth/VERSION": "1.0.0\n"}, "initial import", date="2025-01-01T00:00:00Z")
        repo.merge_pull("feat: basic-auth realm", {f"{GO}/basic-auth/main.go": "package main // realm\n",
                                                   f"{GO}/basic-auth/VERSION": "1.1.0\n"},
                        "2025-01-02T00:00:00Z", number=101)
        repo.merge_pull("feat(cpp): key auth header", {f"{CPP}/key_auth/plugin.cc": "int x;\n",
                                                       f"{CPP}/key_auth/VERSION": "v2.0.1\n"},
                        "2025-01-03T00:00:00Z", number=102)
        repo.merge_pull("feat(rust): say hello", {f"{RUST}/say-hello/src/lib.rs": "fn f(){}\n",
                                                  f"{RUST}/say-hello/Cargo.toml":
                                                  '[package]\nname = "say-hello"\nversion = "0.2.0"\n'},
                        "2025-01-04T00:00:00Z", number=103)
        repo.merge_pull("docs: typo", {"docs/guide.md": "guide\n", "plugins/wasm-go/pkg/wrapper/w.go": "package w\n"},
                        "2025-01-05T00:00:00Z", number=104)
        repo.merge_pull("refactor: move ai-cache", {f"{GO}/ai-cache/main.go": "package main\n"},
                        "2025-01-07T00:00:00Z", number=105)
        repo.merge_pull("fix: basic-auth nil check", {f"{GO}/basic-auth/main.go": "package main // nil\n"},
                        "2025-01-08T00:00:00Z", number=106)
        # closed without merging: never reported
        repo.pulls[108] = Pull(108, "rejected idea", None, "idea", "main", state="closed",
                               created_at=parse_time("2025-01-08T01:00:00Z"),
                               updated_at=parse_time("2025-01-09T00:00:00Z"),
                               closed_at=parse_time("2025-01-09T00:00:00Z"))
        yield fake, repo


@pytest.fixture
def release_git(tmp_path: Path) -> tuple[GitRepo, dict[int, str]]:
    g = GitRepo(tmp_path / "higress-release")
    g.commit("initial import", files={f"{GO}/basic-auth/main.go": "package main\n", "plugins/wasm-go/Makefile": "all:\n"},
             date="2026-06-01T00:00:00Z")
    return g, release_history(lambda n, t, f, d: g.squash(n, t, f, d))


@pytest.fixture
def release_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeGitHub, Repo, dict[int, str]]]:
    with FakeGitHub(token=TOKEN) as fake:
        for k, v in client_env(fake).items():
            monkeypatch.setenv(k, v)
        repo = fake.state.create_repo("higress-group/higress")
        repo.commit_files({f"{GO}/basic-auth/main.go": "package main\n", "plugins/wasm-go/Makefile": "all:\n"},
                          "initial import", date="2026-06-01T00:00:00Z")

        def merge(number: int, title: str, files: dict[str, bytes | str | None], date: str) -> str:
            sha = repo.merge_pull(title, files, date, number=number).merge_commit_sha
            assert sha is not None
            return sha

        yield fake, repo, release_history(merge)
