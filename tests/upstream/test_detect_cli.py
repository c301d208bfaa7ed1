"""``plugin-sync detect`` from the command line: JSON, Actions outputs, the cursor as default."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sync.cli import main
from sync.propose.cursor import Cursor, PendingPlugin, save_cursor
from sync.upstream.model import Position, PrRef
from tests.support.fakegithub import FakeGitHub, Repo
from tests.upstream.conftest import TOKEN
from tests.support.git import GitRepo

CONFIG = """schemaVersion: 1
upstream:
  repository: higress-group/higress
plugins:
  basic-auth: oci://r.example/plugins/basic-auth:1.0.0
  key-auth: oci://r.example/plugins/key-auth:1.0.0
  say-hello: oci://r.example/plugins/say-hello:0.1.0
"""


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "server"
    d.mkdir()
    (d / "plugins.yaml").write_text(CONFIG)
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "out.txt"))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    return d


def detect(capsys: pytest.CaptureFixture[str], work: Path, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(["--config", str(work / "plugins.yaml"), "detect", *args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_json_document_and_actions_outputs(upstream: GitRepo, work: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = detect(capsys, work, "--git", str(upstream.path), "--since", "#101", "--json")
    assert rc == 0
    doc = json.loads(out)
    assert doc["upstream"] == "higress-group/higress" and doc["changed"] is True
    assert sorted(doc["plugins"]) == ["ai-cache", "basic-auth", "key-auth", "say-hello"]
    assert doc["plugins"]["ai-cache"]["served"] is False and doc["plugins"]["key-auth"]["served"] is True
    assert doc["plugins"]["say-hello"]["version"] == "0.2.0"
    assert doc["plugins"]["key-auth"]["prs"] == [{
        "number": 102, "title": "feat(cpp): key auth header", "url": "https://github.com/higress-group/higress/pull/102",
        "merged": "2025-01-03T00:00:00Z"}]
    assert doc["last"]["pr"] == 107 and doc["since"]["pr"] == 101
    assert {o["path"] for o in doc["other"]} == {"docs/guide.md", "plugins/wasm-go/pkg/wrapper/w.go"}
    assert [m["number"] for m in doc["merges"]] == [102, 103, 104, 105, 106, 107]
    outputs = (work.parent / "out.txt").read_text()
    assert 'changed=true\nplugins=["ai-cache", "basic-auth", "key-auth", "say-hello"]\n' in outputs
    summary = (work.parent / "summary.md").read_text()
    assert "| key-auth | 2.0.1 | [#102](https://github.com/higress-group/higress/pull/102) |  |" in summary
    assert "| ai-cache | 0.1.0 |" in summary and "not served" in summary


def test_the_cursor_is_the_default_start_and_pending_plugins_come_back(
        upstream: GitRepo, work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sha = upstream.git("log", "--format=%H", "-F", "--grep", "(#106)")
    old = PrRef(90, "old change", "https://github.com/higress-group/higress/pull/90", "2025-01-01T00:00:00Z")
    save_cursor(work / "upstream-cursor.json",
                Cursor("higress-group/higress", Position("2025-01-08T00:00:00Z", 106, sha),
                       (PendingPlugin("key-auth", "2.0.0", (old,)),)))
    rc, out, _ = detect(capsys, work, "--git", str(upstream.path), "--json")
    doc = json.loads(out)
    assert rc == 0 and [m["number"] for m in doc["merges"]] == [107]
    assert doc["plugins"]["basic-auth"]["pending"] is False
    assert doc["plugins"]["key-auth"] == {"version": "2.0.0", "dirs": [], "served": True, "pending": True,
                                          "prs": [old.to_json()]}
    rc, out, _ = detect(capsys, work, "--git", str(upstream.path))
    assert rc == 0 and "key-auth 2.0.0 #90 [pending]" in out and "1 merge(s) since #106" in out


def test_nothing_new(upstream: GitRepo, work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = detect(capsys, work, "--git", str(upstream.path), "--since", "#107")
    assert rc == 0 and "no plugin changed" in out
    assert "changed=false\nplugins=[]\n" in (work.parent / "out.txt").read_text()


def test_where_to_start_must_be_known(upstream: GitRepo, work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = detect(capsys, work, "--git", str(upstream.path))
    assert rc == 2 and "no --since given and no cursor" in err and err.count("\n") == 1
    save_cursor(work / "upstream-cursor.json", Cursor("someone/else", Position("2025-01-01T00:00:00Z")))
    rc, _, err = detect(capsys, work, "--git", str(upstream.path))
    assert rc == 2 and "follows someone/else" in err
    rc, _, err = detect(capsys, work, "--git", str(upstream.path), "--since", "last tuesday")
    assert rc == 2 and "ISO 8601" in err
    rc, _, err = detect(capsys, work, "--git", str(upstream.path), "--upstream", "nope", "--since", "#1")
    assert rc == 2 and "OWNER/REPO" in err


def test_through_the_api_without_leaking_the_token(fake_upstream: tuple[FakeGitHub, Repo], work: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    fake, _ = fake_upstream
    rc, out, err = detect(capsys, work, "--since", "#105", "--json")
    assert rc == 0 and TOKEN not in out + err
    assert list(json.loads(out)["plugins"]) == ["basic-auth"]
    fake.fail("GET", r"^/repos/higress-group/higress$", 401, echo_auth=True)
    rc, out, err = detect(capsys, work, "--since", "#105", "--json")
    assert rc == 1 and out == "" and TOKEN not in err and "401" in err
