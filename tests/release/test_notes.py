"""Release notes, golden-tested: the markdown must match tests/release/golden/*.md byte for byte.

Set PLUGIN_SYNC_UPDATE_GOLDEN=1 to rewrite the golden files after a deliberate change, then
review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sync.lock import diff_locks
from sync.release.notes import ImageInfo, release_title, render_notes
from sync.release.plan import Plan, base_release, plan_release
from sync.release.shipping import ShipRules
from sync.release.version import History, Release
from sync.versions import Version
from tests.support.locks import lock

GOLDEN = Path(__file__).parent / "golden"
HEAD = "f" * 40
IMAGE = "higress-registry.cn-hangzhou.cr.aliyuncs.com/higress/plugin-server"
DIGEST = "sha256:" + "ab" * 32


def plan(tags: tuple[str, ...], old: dict[str, int | str], new: dict[str, int | str], paths: list[str],
         override: str | None = None) -> Plan:
    h = History(HEAD, tuple(Release(Version.parse(t), f"{i + 1:040x}") for i, t in enumerate(tags)))
    base, version = base_release(h, override)
    return plan_release(h, base, diff_locks(lock(old), lock(new)), paths, ShipRules(), "auto", version)


CASES = {
    "mixed": (
        plan(("1.2.0",),
             {"basic-auth@2.0.0": 1, "key-auth@2.0.0": 1, "request-block@1.0.0": 1},
             {"basic-auth@2.0.0": 2, "key-auth@2.0.0": 1, "hmac-auth@1.0.0": 1, "my-auth@1.0.0": "local"},
             ["plugins.lock.json", "plugins/my-auth/1.0.0/plugin.wasm", "nginx/default.conf", "docs/x.md"]),
        ImageInfo(IMAGE, DIGEST, "example/plugin-server"),
    ),
    "first": (
        plan((), {}, {"basic-auth@2.0.0": 1, "key-auth@2.0.0": 1}, ["plugins.lock.json", "Dockerfile"]),
        ImageInfo(IMAGE),
    ),
    "prerelease": (
        plan(("1.2.0",), {"basic-auth@2.0.0": 1}, {"basic-auth@2.0.0": 1},
             ["Dockerfile", *[f"sync/m{i:02}.py" for i in range(22)]], override="2.1.0-rc.1"),
        ImageInfo(),
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_notes_match_golden(name: str) -> None:
    p, image = CASES[name]
    text = render_notes(p, image)
    golden = GOLDEN / f"{name}.md"
    if os.environ.get("PLUGIN_SYNC_UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


def test_notes_are_the_same_for_the_same_inputs() -> None:
    p, image = CASES["mixed"]
    assert render_notes(p, image) == render_notes(p, image)


def test_title_names_the_version() -> None:
    assert release_title(CASES["mixed"][0]) == "plugin-server 2.0.0"


def test_no_release_has_no_notes() -> None:
    p = plan(("1.2.0",), {"basic-auth@2.0.0": 1}, {"basic-auth@2.0.0": 1}, ["docs/x.md"])
    with pytest.raises(ValueError):
        render_notes(p)


def test_notes_do_not_depend_on_how_the_version_was_chosen() -> None:
    """The release workflow computes the version, then publishes with --release-version: same notes."""
    old, new = {"basic-auth@2.0.0": 1}, {"basic-auth@2.0.0": 1, "hmac-auth@1.0.0": 1}
    auto = plan(("1.2.0",), old, new, ["plugins.lock.json"])
    given = plan(("1.2.0",), old, new, ["plugins.lock.json"], override="1.3.0")
    assert (auto.bump, given.bump) == ("auto", "version") and auto.version == given.version
    assert render_notes(auto, ImageInfo(IMAGE)) == render_notes(given, ImageInfo(IMAGE))
