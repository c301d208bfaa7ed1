"""Every reader of versions agrees on the newest gateway snapshot: given 2.2.4, 2.3.0-rc.1 and
2.3.0, it is 2.3.0 (semver precedence: a pre-release is below its release). The readers: the
snapshot loader, the release track, the upstream paths, npm's reading of tags, the catalog's
order of version directories, the ``newest-snapshot`` command and the image build's
``scripts/image-tree.sh``."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import nodesemver
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.catalog.page import version_key
from sync.oci.versions import best_tag, parse_version as npm_version
from sync.release.snapshots import SUMS_FILE, released_versions, render_sums
from sync.release.version import parse_version as release_version
from sync.snapshot.load import newest_snapshot
from sync.upstream.paths import SNAPSHOTS_DIR, snapshot_version
from sync.versions import Version, compare, newest, parse

REPO = Path(__file__).resolve().parents[2]
VERSIONS = ("2.2.4", "2.3.0-rc.1", "2.3.0")


def _snapshots(base: Path, versions: tuple[str, ...] = VERSIONS) -> Path:
    d = base / "snapshots"
    d.mkdir(parents=True)
    sums = {}
    for v in versions:
        data = f'{{"gatewayVersion": "{v}"}}\n'.encode()
        (d / f"{v}.json").write_bytes(data)
        sums[f"{v}.json"] = hashlib.sha256(data).hexdigest()
    (d / "notes.json").write_text("{}\n")  # not a version: no reader takes it
    (d / SUMS_FILE).write_text(render_sums(sums))
    return d


@pytest.mark.parametrize("order", [VERSIONS, tuple(reversed(VERSIONS)), ("2.3.0-rc.1", "2.3.0", "2.2.4")])
def test_the_readers_agree_on_the_newest(tmp_path: Path, order: tuple[str, ...]) -> None:
    d = _snapshots(tmp_path, order)
    assert newest_snapshot(d) == d / "2.3.0.json"  # snapshot/load.py (pull --snapshot, unmanaged-lock)
    assert str(max(released_versions(d))) == "2.3.0"  # the release track
    assert render_sums({f"{v}.json": "0" * 64 for v in order}).splitlines()[-1].endswith("2.3.0.json")
    upstream = [v for v in (snapshot_version(f"{SNAPSHOTS_DIR}/{v}.json") for v in order) if v]
    assert newest(upstream) == "2.3.0"  # upstream/paths.py names them, sync.versions orders them
    assert best_tag(order, "*") == "2.3.0" and best_tag(order, ">=2.3.0-rc.0") == "2.3.0"  # npm
    assert newest(order) == "2.3.0"
    assert max(order, key=version_key) == "2.3.0"  # the catalog's order of version directories


def test_one_parse_and_one_order_for_every_reader() -> None:
    texts = ["2.2.4", "2.3.0-rc.1", "2.3.0", "2.3.0-rc.10", "2.3.0-rc.2", "2.3.0-beta", "1.0.0-alpha.1",
             "10.0.0", "9.9.9", "2.3.0-rc.1.5"]
    ordered = sorted((Version.parse(t) for t in texts))
    assert [str(v) for v in ordered] == ["1.0.0-alpha.1", "2.2.4", "2.3.0-beta", "2.3.0-rc.1", "2.3.0-rc.1.5",
                                         "2.3.0-rc.2", "2.3.0-rc.10", "2.3.0", "9.9.9", "10.0.0"]
    assert sorted(texts, key=version_key) == [str(v) for v in ordered]  # the catalog's display order
    for t in texts:
        assert npm_version(t) == release_version(t) == parse(t)
        assert snapshot_version(f"{SNAPSHOTS_DIR}/{t}.json") == t
    for bad in ("2.3", "02.3.0", "2.3.0-rc.01", "2.3.0-", "v2.3.0 x", "2.3.0.1"):
        assert parse(bad) is None and snapshot_version(f"{SNAPSHOTS_DIR}/{bad}.json") is None
        assert npm_version(bad) is None and release_version(bad) is None
    # the meanings kept apart: npm and release tags allow one leading v; build metadata is no part
    # of the order, and a release version cannot carry it ('+' is not allowed in an image tag)
    assert npm_version("v2.3.0") == release_version("v2.3.0") == parse("2.3.0") and parse("v2.3.0") is None
    assert compare(Version.parse("2.3.0+a"), Version.parse("2.3.0+b")) == 0
    assert release_version("2.3.0+a") is None and str(Version.parse("2.3.0-rc.1+b.2")) == "2.3.0-rc.1+b.2"


_ids = st.one_of(st.integers(0, 12).map(str), st.sampled_from(["rc", "alpha", "beta", "a1", "1a", "-", "x-y"]))
_versions = st.builds(lambda m, n, p, pre: f"{m}.{n}.{p}" + ("-" + ".".join(pre) if pre else ""),
                      st.integers(0, 3), st.integers(0, 3), st.integers(0, 12), st.lists(_ids, max_size=3))


@settings(max_examples=500, deadline=None)
@given(_versions, _versions)
def test_the_order_is_node_semvers(a: str, b: str) -> None:
    """An independent implementation of semver precedence agrees on every pair."""
    assert compare(Version.parse(a), Version.parse(b)) == nodesemver.compare(a, b, False)


def test_the_newest_snapshot_command(tmp_path: Path) -> None:
    d = _snapshots(tmp_path)
    run = [sys.executable, "-m", "sync", "--config", str(tmp_path / "plugins.yaml")]
    p = subprocess.run([*run, "newest-snapshot"], capture_output=True, text=True, timeout=120)
    assert (p.returncode, p.stdout) == (0, f"{d / '2.3.0.json'}\n"), p.stderr
    p = subprocess.run([*run, "newest-snapshot", "snapshots"], capture_output=True, text=True, timeout=120,
                       cwd=tmp_path)
    assert (p.returncode, p.stdout) == (0, "snapshots/2.3.0.json\n"), p.stderr
    p = subprocess.run([*run, "newest-snapshot", str(tmp_path / "none")], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and p.stderr.strip().endswith("none: no snapshot X.Y.Z.json") and not p.stdout


def _image_tree(ctx: Path, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run scripts/image-tree.sh in ``ctx`` with plugin-sync on PATH: the real one for every
    command but the build itself, whose command line is recorded instead."""
    bin_dir, log = tmp_path / "bin", tmp_path / "calls"
    bin_dir.mkdir()
    fake = bin_dir / "plugin-sync"
    fake.write_text(f"""#!/bin/sh
case " $* " in
  *" pull "*) echo "$*" >> "{log}"; exit 3 ;;
esac
exec "{sys.executable}" -m sync "$@"
""")
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(REPO)}
    env.pop("SNAPSHOT_SHA256", None)
    env.pop("PLUGINS_SOURCE", None)
    p = subprocess.run(["sh", str(REPO / "scripts" / "image-tree.sh")], cwd=ctx, env=env, capture_output=True,
                       text=True, timeout=120)
    return p, log.read_text().splitlines() if log.exists() else []


@pytest.mark.parametrize("stray", [False, True])
def test_the_image_build_picks_the_same_newest_snapshot(tmp_path: Path, stray: bool) -> None:
    ctx = tmp_path / "ctx"
    d = _snapshots(ctx)
    if not stray:
        (d / "notes.json").unlink()
    (ctx / "plugins.lock.json").write_text('{"schemaVersion": 1, "plugins": {}}\n')  # empty: build the newest
    p, calls = _image_tree(ctx, tmp_path)
    sha = hashlib.sha256((d / "2.3.0.json").read_bytes()).hexdigest()
    assert calls == [f"--root plugins pull --snapshot snapshots/2.3.0.json --expect-sha256 {sha} "
                     "--unmanaged-lock unmanaged-plugins.lock.json --gzip"], p.stderr
    assert "building the newest gateway release, snapshots/2.3.0.json" in p.stderr


def test_the_image_build_with_no_snapshot_says_so(tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    (ctx / "snapshots").mkdir(parents=True)
    (ctx / "plugins.lock.json").write_text('{"schemaVersion": 1, "plugins": {}}\n')
    p, calls = _image_tree(ctx, tmp_path)
    assert p.returncode == 1 and calls == []
    assert "plugins.lock.json is empty and snapshots/ holds no snapshot: nothing to serve" in p.stderr
