from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest

from tests.support.fakegithub import FakeGitHub, Pull, Repo, client_env, parse_time
from tests.upstream.gitrepo import UpstreamGit

GO = "plugins/wasm-go/extensions"
CPP = "plugins/wasm-cpp/extensions"
RUST = "plugins/wasm-rust/extensions"


@pytest.fixture
def upstream(tmp_path: Path) -> UpstreamGit:
    """A small higress-like history: squash merges on main, one true merge, one direct push."""
    g = UpstreamGit(tmp_path / "higress")
    g.commit("initial import", {"README.md": "higress\n", f"{GO}/basic-auth/main.go": "package main\n",
                                f"{GO}/basic-auth/VERSION": "1.0.0\n"}, "2025-01-01T00:00:00Z")
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
    g.commit("direct push without a PR", {f"{GO}/ai-proxy/main.go": "package main\n"}, "2025-01-06T00:00:00Z")
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


DATA = Path(__file__).resolve().parent / "data"
CATALOG = (DATA / "catalog.json").read_bytes()  # upstream's real plugins/release/catalog.json
# upstream's real 2.2.4 snapshot, as this repository commits it (byte-exact)
SNAPSHOT = (Path(__file__).resolve().parents[2] / "snapshots" / "2.2.4.json").read_bytes()
SNAPSHOT_PATH = "plugins/release/snapshots/2.2.4.json"


def release_history(merge: Callable[[int, str, dict[str, bytes | str | None], str], str]) -> dict[int, str]:
    """Upstream as it works now, one squash merge at a time: before the catalog, the catalog
    added, a shared input changed, the MCP library changed, a snapshot added, a Rust plugin
    and a plugin the plugin server does not serve. Returns PR number -> merge commit."""
    steps: list[tuple[int, str, dict[str, bytes | str | None]]] = [
        (201, "fix: basic-auth realm, go builder flags", {f"{GO}/basic-auth/main.go": "package main // 201\n",
                                                          "plugins/wasm-go/Makefile": "all:\n\tgo build\n"}),
        (202, "feat: release catalog; jsonrpc-converter fix", {"plugins/release/catalog.json": CATALOG,
                                                               f"{GO}/jsonrpc-converter/main.go": "package main\n",
                                                               f"{GO}/jsonrpc-converter/VERSION": "2.0.1\n"}),
        (203, "build: bump the go builder", {"plugins/wasm-go/Makefile": "all:\n\ttinygo build\n"}),
        (204, "fix(mcp): session handling", {"plugins/wasm-go/pkg/mcp/server.go": "package mcp\n"}),
        (205, "release: gateway 2.2.4 plugin snapshot", {SNAPSHOT_PATH: SNAPSHOT}),
        (206, "fix(rust): data masking", {f"{RUST}/ai-data-masking/src/lib.rs": "fn mask(){}\n"}),
        (207, "docs: hello world", {f"{GO}/hello-world/main.go": "package main // hi\n"}),
    ]
    out = {}
    for i, (number, title, files) in enumerate(steps):
        out[number] = merge(number, title, files, f"2026-07-{i + 1:02d}T00:00:00Z")
    return out


@pytest.fixture
def release_git(tmp_path: Path) -> tuple[UpstreamGit, dict[int, str]]:
    g = UpstreamGit(tmp_path / "higress-release")
    g.commit("initial import", {f"{GO}/basic-auth/main.go": "package main\n", "plugins/wasm-go/Makefile": "all:\n"},
             "2026-06-01T00:00:00Z")
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
