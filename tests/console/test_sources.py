"""The console's list from each source: a checkout, its plugins directory, a local copy,
and a git ref read through the GitHub API (the fake GitHub, in GitHub's shapes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pytest

from sync.console.model import PLUGINS_DIR, ConsolePlugin
from sync.console.read import from_directory
from tests.console.conftest import DATA, World, cli, gateway_tree
from tests.support.fakegithub import TOKEN, FakeGitHub


def checkout_files(data: Path) -> dict[str, str]:
    """The console's files as its repository holds them: properties, lock, one spec per key."""
    listing = json.loads((data / "console-plugins.json").read_text())
    files = {f"{PLUGINS_DIR}/{n}": (data / n).read_text() for n in ("plugins.properties", "plugin-snapshot.lock.json")}
    for key, p in listing.items():
        files[f"{PLUGINS_DIR}/{key}/spec.yaml"] = (
            f"apiVersion: 1.0.0\ninfo:\n  category: custom\n  name: {p['specName']}\n  title: {key}\n"
            f"  version: {p['specVersion']}\nspec:\n  phase: UNSPECIFIED_PHASE\n")
        files[f"{PLUGINS_DIR}/{key}/README.md"] = f"# {key}\n"
    return files


def write_checkout(root: Path, files: dict[str, str]) -> Path:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return root


def _by_key(plugins: tuple[ConsolePlugin, ...]) -> dict[str, tuple[str, str, str, str | None]]:
    return {p.key: (p.name, p.version, p.source.reference(), p.digest) for p in plugins}


def test_a_checkout_its_plugins_directory_and_the_local_copy_read_the_same(tmp_path: Path) -> None:
    checkout = write_checkout(tmp_path / "console", checkout_files(DATA))
    from_copy = _by_key(from_directory(DATA))
    assert len(from_copy) == 52
    assert from_copy["basic-auth"][1] == "1.0.0" and from_copy["basic-auth"][2].endswith("basic-auth:2.0.0")
    assert from_copy["json-converter"][2].endswith("plugins/jsonrpc-converter:2.0.1")
    assert sum(1 for v in from_copy.values() if v[3]) == 43  # the console's lock pins 43
    assert _by_key(from_directory(checkout)) == from_copy
    assert _by_key(from_directory(checkout / PLUGINS_DIR)) == from_copy
    assert _by_key(from_directory(DATA / "console-plugins.json")) == from_copy


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub(token=TOKEN) as f:
        yield f


def test_a_git_ref_through_the_github_api_gives_the_same_report(world: World, fake: FakeGitHub, tmp_path: Path) -> None:
    repo = fake.state.create_repo("higress-group/higress-console")
    files = {p: world.rewrite(t) for p, t in checkout_files(DATA).items()}
    sha = repo.commit_files({"README.md": "# console\n", **files}, "plugins at b5ae4b23")
    repo.commit_files({f"{PLUGINS_DIR}/basic-auth/spec.yaml": None}, "a later commit drops a spec")
    root = gateway_tree(world, "plugins.yaml", tmp_path / "plugins")
    env = {"GITHUB_API_URL": fake.url, "GITHUB_TOKEN": TOKEN}
    args = ("--config", str(world.file("plugins.yaml")), "--root", str(root), "coverage", "--json",
            "--unmanaged-lock", str(world.file("unmanaged-plugins.lock.json")))
    by_ref = cli(*args, "--console-ref", sha, env=env)
    local = cli(*args, "--console", str(world.console))
    assert by_ref.code == local.code == 1, by_ref.err
    assert json.loads(by_ref.out)["results"] == json.loads(local.out)["results"]
    assert TOKEN not in by_ref.out + by_ref.err
    # the branch's head lacks basic-auth's spec: one line naming it, exit 2
    head = cli(*args, "--console-ref", "main", env=env)
    assert head.code == 2 and head.err.count("\n") == 1 and "basic-auth/spec.yaml: missing" in head.err
    # an unknown ref is bad input, in one line
    gone = cli(*args, "--console-ref", "no-such-ref", env=env)
    assert gone.code == 2 and gone.err.count("\n") == 1 and "--console-ref no-such-ref" in gone.err, gone.err


CHART = """apiVersion: v2
appVersion: 2.2.4
dependencies:
- name: higress-core
  repository: file://../core
  version: 2.2.4
- name: higress-console
  repository: https://higress.io/helm-charts/
  version: 2.2.4
name: higress
version: 2.2.4
"""


def test_auto_reads_the_console_release_from_higress_umbrella_chart(world: World, fake: FakeGitHub, tmp_path: Path) -> None:
    snapshot = json.loads(world.file("snapshot.json").read_text())
    higress = fake.state.create_repo("higress-group/higress")
    commit = higress.commit_files({"helm/higress/Chart.yaml": CHART}, "release 2.2.4")
    snapshot["sourceCommit"] = commit
    snap = tmp_path / "snapshot.json"
    snap.write_text(json.dumps(snapshot))
    console = fake.state.create_repo("higress-group/higress-console")
    sha = console.commit_files({p: world.rewrite(t) for p, t in checkout_files(DATA).items()}, "console 2.2.4")
    console.set_ref("refs/tags/v2.2.4", sha)
    console.commit_files({f"{PLUGINS_DIR}/basic-auth/spec.yaml": None}, "later")  # main moves on
    root = tmp_path / "plugins"
    root.mkdir()
    env = {"GITHUB_API_URL": fake.url, "GITHUB_TOKEN": TOKEN}
    args = ("--config", str(world.file("plugins.yaml")), "--root", str(root), "coverage", "--snapshot", str(snap))
    r = cli(*args, "--console-ref", "auto", env=env)
    assert r.code == 1 and "ships the console v2.2.4" in r.err and "0 of 52 console URLs served" in r.err, r.err
    # a Higress commit whose chart names no console: exit 2, one line, the documented step takes over
    snapshot["sourceCommit"] = higress.commit_files({"helm/higress/Chart.yaml": "apiVersion: v2\nname: higress\n"}, "x")
    snap.write_text(json.dumps(snapshot))
    r = cli(*args, "--console-ref", "auto", env=env)
    assert r.code == 2 and "names no higress-console dependency; give --console-ref" in r.err and r.err.count("\n") == 1
    r = cli("--config", str(world.file("plugins.yaml")), "--root", str(root), "coverage", "--console-ref", "auto", env=env)
    assert r.code == 2 and "--console-ref auto needs --snapshot" in r.err
