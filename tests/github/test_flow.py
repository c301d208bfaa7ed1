"""The sync pipeline end to end: detect (real git clone) -> pull (OCI layout) -> propose (fake GitHub),
then the maintainer merges, an artifact appears late, and the next run picks it up."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from sync.cli import main
from sync.propose.cursor import load_cursor, parse_cursor
from sync.sample import build_artifact, wasm_module, write_layout
from tests.support.fakegithub import FakeGitHub, client_env
from tests.support.git import GitRepo

GO = "plugins/wasm-go/extensions"
CPP = "plugins/wasm-cpp/extensions"
REPO = "acme/plugin-server"
CONFIG = """schemaVersion: 1
upstream:
  repository: higress-group/higress
plugins:
  basic-auth:
    source: oci-layout:../layout#plugins/basic-auth:1.0.0
    range: ">=1.0.0"
  key-auth:
    source: oci-layout:../layout#plugins/key-auth:1.0.0
    range: ">=1.0.0"
"""
# recent dates: a plugin waits for its artifact for 30 days only
NOW = datetime.now(timezone.utc).replace(microsecond=0)


def day(n: int) -> str:
    return (NOW - timedelta(days=n)).strftime("%Y-%m-%dT%H:%M:%SZ")


TRACKED = ("plugins.yaml", "plugins.lock.json", "upstream-cursor.json")


class Pipeline:
    def __init__(self, tmp: Path, fake: FakeGitHub, capsys: pytest.CaptureFixture[str]) -> None:
        self.tmp, self.fake, self.capsys = tmp, fake, capsys
        self.checkout = tmp / "co"
        self.checkout.mkdir()
        self.layout: dict[str, bytes] = {}
        self.upstream = GitRepo(tmp / "higress")
        self.repo = fake.state.create_repo(REPO)

    def publish_artifact(self, name: str, tag: str, seed: int) -> None:
        self.layout[f"plugins/{name}:{tag}"] = seed  # type: ignore[assignment]
        arts = {ref: build_artifact(wasm_module(64 + s, seed=s)) for ref, s in self.layout.items()}  # type: ignore[arg-type]
        write_layout(self.tmp / "layout", arts)

    def cli(self, *args: str) -> tuple[int, str]:
        self.capsys.readouterr()
        rc = main(["--config", str(self.checkout / "plugins.yaml"), "--root", str(self.checkout / "plugins"), *args])
        return rc, self.capsys.readouterr().out

    def run(self) -> str:
        """One scheduled sync: detect, pull, propose. Returns propose's result."""
        rc, out = self.cli("detect", "--git", str(self.upstream.path), "--json")
        assert rc == 0
        (self.tmp / "changes.json").write_text(out)
        assert self.cli("pull")[0] == 0
        rc, out = self.cli("propose", "--repo", REPO, "--checkout", str(self.checkout),
                           "--changes", str(self.tmp / "changes.json"))
        assert rc == 0
        return out.strip()

    def check_out_main(self) -> None:
        for rel, data in self.repo.files_at("main").items():
            if rel in TRACKED:
                (self.checkout / rel).write_bytes(data)


def test_detect_pull_propose_merge_and_a_late_artifact(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeGitHub(token="ghs_installation_token_for_flow") as fake:
        for k, v in client_env(fake).items():
            monkeypatch.setenv(k, v)
        monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
        monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
        p = Pipeline(tmp_path, fake, capsys)
        up = p.upstream
        up.commit("import", files={f"{GO}/basic-auth/VERSION": "1.0.0\n", f"{CPP}/key_auth/VERSION": "1.0.0\n"},
                  date=day(6))
        up.squash(200, "ci: tidy", {".github/x.yml": "x\n"}, day(5))
        p.publish_artifact("basic-auth", "1.0.0", 1)
        p.publish_artifact("key-auth", "1.0.0", 2)
        (p.checkout / "plugins.yaml").write_text(CONFIG)
        # the first sync, started by hand from a known point, is what the repository begins with
        assert p.cli("detect", "--git", str(up.path), "--since", "#200", "--json")[0] == 0
        assert p.cli("pull")[0] == 0
        # a cursor written before upstream moved: still the same repository, renamed on the next move
        (p.checkout / "upstream-cursor.json").write_text(json.dumps({
            "schemaVersion": 1, "upstream": "alibaba/higress",
            "last": {"merged": day(5), "pr": 200, "sha": up.git("rev-parse", "HEAD")},
            "pending": {}}, indent=2, sort_keys=True) + "\n")
        p.repo.commit_files({rel: (p.checkout / rel).read_bytes() for rel in TRACKED}, "start")

        # upstream merges two plugin changes; only basic-auth's artifact is published so far
        up.squash(201, "feat: basic-auth realm", {f"{GO}/basic-auth/VERSION": "1.1.0\n"}, day(4))
        up.squash(202, "fix(cpp): key auth", {f"{CPP}/key_auth/plugin.cc": "int y;\n"}, day(3))
        p.publish_artifact("basic-auth", "1.1.0", 3)

        assert p.run() == "created"
        branch = p.repo.files_at("plugin-sync/update")
        assert branch["plugins.lock.json"] == (p.checkout / "plugins.lock.json").read_bytes()
        lock = json.loads(branch["plugins.lock.json"])
        assert list(lock["plugins"]["basic-auth"]) == ["1.1.0"]
        cursor = parse_cursor(json.loads(branch["upstream-cursor.json"]))
        assert cursor.last is not None and cursor.last.pr == 202
        assert cursor.upstream == "higress-group/higress"  # the canonical name, not the cursor's old one
        assert [x.name for x in cursor.pending] == ["key-auth"]
        assert load_cursor(p.checkout / "upstream-cursor.json").last.pr == 200  # type: ignore[union-attr]
        body = p.repo.pulls[1].body or ""
        assert "[#201](https://github.com/higress-group/higress/pull/201)" in body and "- key-auth ([#202]" in body

        fake.reset_log()
        assert p.run() == "unchanged"  # the next scheduled run, before anyone merged
        assert fake.writes() == []

        # the maintainer merges; key-auth's artifact appears late; upstream merges docs only
        p.repo.merge(1)
        p.check_out_main()
        p.publish_artifact("key-auth", "1.0.1", 4)
        up.squash(203, "docs: more", {"docs/y.md": "y\n"}, day(2))
        assert p.run() == "created"
        pr = p.repo.pulls[2]
        assert pr.title == "plugin-sync: update 1 plugin (key-auth)"
        assert "[#202](https://github.com/higress-group/higress/pull/202)" in (pr.body or "")
        cursor = parse_cursor(json.loads(p.repo.files_at("plugin-sync/update")["upstream-cursor.json"]))
        assert cursor.last is not None and cursor.last.pr == 203 and cursor.pending == ()
        p.repo.merge(2)
        p.check_out_main()
        fake.reset_log()
        assert p.run() == "unchanged"
        assert fake.writes() == []
