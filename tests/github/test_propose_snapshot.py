"""The gateway track's pull request: upstream's snapshot committed here byte-exact, with its
SHA256SUMS line, on its own branch; idempotent; never replacing a committed snapshot. Against
the fake GitHub holding upstream's release history (real catalog and 2.2.4 snapshot)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from sync.cli import main
from sync.github.model import blob_sha
from tests.support.fakegithub import FakeGitHub, Repo, client_env
from tests.support.upstream import SNAPSHOT, SNAPSHOT_PATH, release_history

SHA = hashlib.sha256(SNAPSHOT).hexdigest()
OLD_LINE = f"{'1' * 64}  2.2.3.json\n"


@pytest.fixture
def world(fake: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
          capsys: pytest.CaptureFixture[str]) -> tuple[FakeGitHub, Repo, Repo, Path]:
    for k, v in client_env(fake).items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    up = fake.state.create_repo("alibaba/higress")
    up.commit_files({"README.md": "higress\n"}, "initial", date="2026-06-01T00:00:00Z")
    release_history(lambda n, t, f, d: up.merge_pull(t, f, d, number=n).merge_commit_sha or "")
    fake.state.rename("alibaba/higress", "higress-group/higress")
    ours = fake.state.create_repo("acme/plugin-server")
    ours.commit_files({"plugins.yaml": "schemaVersion: 1\nplugins: {}\n", "snapshots/SHA256SUMS": OLD_LINE},
                      "initial")
    (tmp_path / "plugins.yaml").write_text("schemaVersion: 1\nupstream:\n  repository: alibaba/higress\nplugins: {}\n")
    changes = tmp_path / "changes.json"
    capsys.readouterr()
    rc = main(["--config", str(tmp_path / "plugins.yaml"), "detect", "--since", "#204", "--json"])
    assert rc == 0
    changes.write_text(capsys.readouterr().out)
    return fake, up, ours, changes


def propose(capsys: pytest.CaptureFixture[str], tmp_path: Path, *extra: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(["--config", str(tmp_path / "plugins.yaml"), "propose-snapshot", "--repo", "acme/plugin-server",
               "--changes", str(tmp_path / "changes.json"), *extra])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_the_snapshot_pull_request(world: tuple[FakeGitHub, Repo, Repo, Path], tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    fake, up, ours, changes = world
    doc = json.loads(changes.read_text())
    assert doc["upstream"] == "higress-group/higress" and doc["snapshots"][0]["gatewayVersion"] == "2.2.4"
    commit = doc["snapshots"][0]["commit"]

    rc, out, _ = propose(capsys, tmp_path, "--dry-run")
    assert rc == 0 and "2.2.4: created" in out and f"blob {blob_sha(SNAPSHOT)}" in out and not fake.writes()

    rc, out, err = propose(capsys, tmp_path)
    assert rc == 0 and out.startswith("2.2.4: created "), err
    files = ours.files_at("plugin-sync/snapshot-2.2.4")
    assert files["snapshots/2.2.4.json"] == SNAPSHOT == up.files_at(commit)[SNAPSHOT_PATH]
    assert files["snapshots/SHA256SUMS"].decode() == OLD_LINE + f"{SHA}  2.2.4.json\n"
    [pr] = ours.open_pulls()
    assert pr.title == "plugin-sync: gateway 2.2.4 plugin snapshot" and pr.head == "plugin-sync/snapshot-2.2.4"
    body = pr.body or ""
    assert f"https://github.com/higress-group/higress/blob/{commit}/{SNAPSHOT_PATH}" in body
    assert "[#205](https://github.com/higress-group/higress/pull/205)" in body and SHA in body
    assert "`7774663e4353652f5c3cecd7e98a1a43b05ee15c`" in body  # the snapshot's own sourceCommit
    assert pr.labels == ["plugin-sync"]

    # again: the open pull request already holds this; nothing is written
    fake.reset_log()
    rc, out, _ = propose(capsys, tmp_path)
    assert rc == 0 and "2.2.4: unchanged" in out and fake.writes() == []

    # merged: the snapshot is on main, byte-exact: nothing to propose
    ours.merge(pr.number)
    fake.reset_log()
    rc, out, _ = propose(capsys, tmp_path)
    assert rc == 0 and "already committed on main, byte-exact" in out and fake.writes() == []


def test_a_committed_snapshot_is_never_replaced(world: tuple[FakeGitHub, Repo, Repo, Path], tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    fake, _, ours, changes = world
    ours.commit_files({"snapshots/2.2.4.json": b"{}\n"}, "someone else's 2.2.4")
    fake.reset_log()
    rc, out, err = propose(capsys, tmp_path)
    assert rc == 1 and "never replaced" in err and err.count("\n") == 1 and fake.writes() == []


def test_bytes_that_differ_from_what_detect_saw_are_refused(world: tuple[FakeGitHub, Repo, Repo, Path],
                                                            tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake, _, _, changes = world
    doc = json.loads(changes.read_text())
    doc["snapshots"][0]["sha256"] = "0" * 64
    changes.write_text(json.dumps(doc))
    fake.reset_log()
    rc, _, err = propose(capsys, tmp_path)
    assert rc == 1 and f"has sha256 {SHA}, but detect reported {'0' * 64}" in err and fake.writes() == []
