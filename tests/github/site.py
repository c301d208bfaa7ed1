"""A plugin-server repository on the fake GitHub plus its local checkout, for propose tests."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pytest

from sync.cli import main
from sync.lock import Lock, LockEntry
from tests.support.fakegithub import FakeGitHub, Repo, client_env
from tests.support.locks import numbered

REPO = "acme/plugin-server"
CONFIG = b"""schemaVersion: 1
upstream:
  repository: higress-group/higress
pullRequest:
  labels: [plugin-sync, automated]
plugins:
  basic-auth:
    source: oci://r.example/plugins/basic-auth:1.0.0
  key-auth:
    source: oci://r.example/plugins/key-auth:1.0.0
"""
# a hand-placed module: every byte value, NULs and invalid UTF-8 included
WASM_V1 = b"\x00asm\x01\x00\x00\x00" + bytes(range(256)) * 3
WASM_V2 = b"\x00asm\x01\x00\x00\x00" + bytes(reversed(range(256))) * 5 + b"\r\n\xff"
HAND = "plugins/custom/1.0.0"


def hand_placed(wasm: bytes) -> LockEntry:
    return LockEntry(name="custom", version="1.0.0", source="local", digest=None, format="local",
                     sha256=hashlib.sha256(wasm).hexdigest(), md5=hashlib.md5(wasm).hexdigest(), size=len(wasm),
                     pulled="2025-01-01T00:00:00Z")


def lock_v1() -> Lock:
    return Lock.from_entries([numbered("basic-auth", "1.0.0", 1), numbered("key-auth", "1.0.0", 2), hand_placed(WASM_V1)])


def site_files(lock: Lock, wasm: bytes, cursor: bytes | None = None) -> dict[str, bytes | None]:
    files: dict[str, bytes | None] = {
        "plugins.yaml": CONFIG,
        "plugins.lock.json": lock.dumps().encode(),
        f"{HAND}/plugin.wasm": wasm,
        f"{HAND}/plugin.wasm.sha256": f"{hashlib.sha256(wasm).hexdigest()}  plugin.wasm\n".encode(),
    }
    if cursor is not None:
        files["upstream-cursor.json"] = cursor
    return files


class Site:
    def __init__(self, fake: FakeGitHub, root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
        self.fake = fake
        self.root = root
        self.capsys = capsys
        self.repo: Repo = fake.state.create_repo(REPO)
        self.repo.commit_files({"README.md": b"# plugin server\n", "plugins/README.md": b"hand-placed only\n"},
                               "initial", date="2025-01-01T00:00:00Z")
        self.output = root.parent / "github-output.txt"
        for k, v in client_env(fake).items():
            monkeypatch.setenv(k, v)
        monkeypatch.setenv("PLUGIN_SYNC_RETRY_BASE", "0.01")
        monkeypatch.setenv("GITHUB_OUTPUT", str(self.output))
        monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
        monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)

    def seed(self, files: dict[str, bytes | None]) -> str:
        """The same files on the base branch and in the checkout."""
        self.write(files)
        return self.repo.commit_files(files, "seed", date="2025-01-02T00:00:00Z")

    def write(self, files: dict[str, bytes | None]) -> None:
        for rel, data in files.items():
            p = self.root / rel
            if data is None:
                p.unlink(missing_ok=True)
                continue
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)

    def set_lock(self, lock: Lock) -> None:
        self.write({"plugins.lock.json": lock.dumps().encode()})

    def bump(self, n: int = 3) -> Lock:
        """A pull that brought a new basic-auth artifact (with a fresh pull time)."""
        lock = lock_v1()
        lock.put(numbered("basic-auth", "1.0.0", n, pulled="2025-03-01T00:00:00Z"))
        self.set_lock(lock)
        return lock

    def cli(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        rc = main(["--config", str(self.root / "plugins.yaml"), "--root", str(self.root / "plugins"), *args])
        out = self.capsys.readouterr()
        return rc, out.out, out.err

    def propose(self, *args: str) -> tuple[int, str, str]:
        return self.cli("propose", "--repo", REPO, "--checkout", str(self.root), *args)

    def outputs(self) -> str:
        return self.output.read_text() if self.output.exists() else ""

    def branch_files(self, branch: str = "plugin-sync/update") -> dict[str, bytes]:
        return self.repo.files_at(branch)

    def local_bytes(self, rel: str) -> bytes:
        return (self.root / rel).read_bytes()

    def with_lock(self, lock: Lock, **changes: object) -> Lock:
        return Lock.from_entries([replace(e, **changes) for e in lock.sorted()])  # type: ignore[arg-type]
