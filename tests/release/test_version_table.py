"""The release decision as a table: lock and path changes since the last tag, against the
version, level and image tags that must come out. Pure: no git, no server."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from sync.errors import UsageError
from sync.lock import diff_locks
from sync.release.plan import Plan, base_release, plan_release
from sync.release.shipping import ShipRules
from sync.release.version import History, Release
from sync.versions import Version
from tests.support.locks import lock

HEAD = "f" * 40
LOCK = "plugins.lock.json"
BASE = {"basic-auth@2.0.0": 1, "key-auth@2.0.0": 1}


@dataclass(frozen=True)
class Case:
    id: str
    tags: tuple[str, ...]  # release tags reachable from HEAD; the last one listed is the base
    old: dict[str, int | str]
    new: dict[str, int | str]
    paths: tuple[str, ...]
    version: str | None  # expected; None: no release
    image_tags: tuple[str, ...] = ()
    bump: str = "auto"
    override: str | None = None
    others: tuple[str, ...] = ()  # release tags on other branches
    level: str | None = None  # expected level found, when it matters
    message: str | None = None  # a substring of the message
    reason: str | None = None  # one of the reasons given
    warns: bool = False
    at_head: tuple[str, ...] = field(default=())  # tags that point at HEAD


def history(case: Case) -> History:
    merged = tuple(
        Release(Version.parse(t), HEAD if t in case.at_head else f"{i + 1:040x}")
        for i, t in enumerate(case.tags)
    )
    others = tuple(Release(Version.parse(t), f"{i + 100:040x}") for i, t in enumerate(case.others))
    return History(head=HEAD, merged=merged, others=others)


def decide(case: Case) -> Plan:
    h = history(case)
    base, override = base_release(h, case.override)
    return plan_release(h, base, diff_locks(lock(case.old), lock(case.new)), list(case.paths),
                        ShipRules(), case.bump, override)


CASES = [
    # the bump rules
    Case("plugin added: minor", ("1.2.0",), BASE, {**BASE, "hmac-auth@1.0.0": 1}, (LOCK,),
         "1.3.0", ("1.3.0", "1.3", "1", "latest"), level="minor"),
    Case("served version added: minor", ("1.2.0",), BASE, {**BASE, "basic-auth@1.0.0": 1}, (LOCK,),
         "1.3.0", ("1.3.0", "1.3", "1", "latest")),
    Case("content changed: patch", ("1.2.0",), BASE, {**BASE, "key-auth@2.0.0": 2}, (LOCK,),
         "1.2.1", ("1.2.1", "1.2", "1", "latest"), level="patch"),
    Case("plugin removed: major", ("1.2.0",), BASE, {"basic-auth@2.0.0": 1}, (LOCK,),
         "2.0.0", ("2.0.0", "2.0", "2", "latest"), level="major"),
    Case("served version removed: major", ("1.2.0",), {**BASE, "basic-auth@1.0.0": 1}, BASE, (LOCK,),
         "2.0.0", ("2.0.0", "2.0", "2", "latest")),
    Case("added, changed and removed: the highest wins", ("1.2.0",), BASE,
         {"basic-auth@2.0.0": 2, "hmac-auth@1.0.0": 1}, (LOCK,), "2.0.0", level="major"),
    Case("added and changed: minor", ("1.2.0",), BASE,
         {"basic-auth@2.0.0": 2, "key-auth@2.0.0": 1, "hmac-auth@1.0.0": 1}, (LOCK,), "1.3.0"),
    Case("hand-placed plugin added: minor", ("1.2.0",), BASE, {**BASE, "my-auth@1.0.0": "local"},
         (LOCK, "plugins/my-auth/1.0.0/plugin.wasm"), "1.3.0"),
    Case("lock metadata only: patch", ("1.2.0",), BASE, BASE, (LOCK,), "1.2.1",
         reason="plugins.lock.json changed (metadata only)"),
    # only the server config, Dockerfile or chart: patch
    Case("nginx config: patch", ("1.2.0",), BASE, BASE, ("nginx/default.conf",), "1.2.1",
         ("1.2.1", "1.2", "1", "latest"), level="patch"),
    Case("Dockerfile: patch", ("1.2.0",), BASE, BASE, ("Dockerfile",), "1.2.1"),
    Case("chart: patch", ("1.2.0",), BASE, BASE, ("charts/plugin-server/values.yaml",), "1.2.1"),
    Case("plugins.yaml: patch", ("1.2.0",), BASE, BASE, ("plugins.yaml",), "1.2.1"),
    Case("toolkit code: patch", ("1.2.0",), BASE, BASE, ("sync/tree/files.py",), "1.2.1"),
    Case("server config with a plugin added: minor", ("1.2.0",), BASE, {**BASE, "hmac-auth@1.0.0": 1},
         (LOCK, "nginx/default.conf", "Dockerfile"), "1.3.0"),
    # nothing that ships
    Case("docs, tests and workflows only: no release", ("1.2.0",), BASE, BASE,
         ("docs/pipelines.md", "tests/release/test_x.py", "README.md", ".github/workflows/ci.yml"), None,
         level="none", message="nothing that ships changed since v1.2.0 (4 changed, none ships: docs/pipelines.md"),
    Case("no change at all: no release", ("1.2.0",), BASE, BASE, (), None,
         message="no release: nothing that ships changed since v1.2.0"),
    Case("HEAD already released: no release", ("1.1.0", "1.2.0"), BASE, BASE, (), None,
         at_head=("1.2.0",), message="HEAD is already released as v1.2.0"),
    # 0.x
    Case("0.x removed: minor, no major tag", ("0.3.1",), BASE, {"basic-auth@2.0.0": 1}, (LOCK,),
         "0.4.0", ("0.4.0", "0.4", "latest"), level="major"),
    Case("0.x added: minor", ("0.3.1",), BASE, {**BASE, "hmac-auth@1.0.0": 1}, (LOCK,),
         "0.4.0", ("0.4.0", "0.4", "latest")),
    Case("0.x patch", ("0.3.1",), BASE, BASE, ("nginx/default.conf",), "0.3.2", ("0.3.2", "0.3", "latest")),
    Case("0.x --bump major leaves 0.x", ("0.3.1",), BASE, BASE, ("Dockerfile",), "1.0.0",
         ("1.0.0", "1.0", "1", "latest"), bump="major"),
    # the first release
    Case("first release: 1.0.0", (), {}, BASE, (LOCK, "plugins.yaml", "Dockerfile", "README.md"),
         "1.0.0", ("1.0.0", "1.0", "1", "latest"), message="release 1.0.0 (first release)"),
    Case("first release --bump minor: 0.1.0", (), {}, BASE, (LOCK,), "0.1.0", ("0.1.0", "0.1", "latest"),
         bump="minor"),
    Case("first release, nothing ships: no release", (), {}, {}, ("README.md", "docs/pipelines.md"), None,
         message="nothing that ships changed in the repository"),
    Case("first release --release-version", (), {}, BASE, (LOCK,), "2.1.0", ("2.1.0", "2.1", "2", "latest"),
         override="2.1.0"),
    # pre-releases
    Case("after rc, patch completes it", ("1.2.0", "1.3.0-rc.1"), BASE, {**BASE, "key-auth@2.0.0": 2},
         (LOCK,), "1.3.0", ("1.3.0", "1.3", "1", "latest")),
    Case("after rc, minor completes X.Y.0", ("1.2.0", "1.3.0-rc.1"), BASE, {**BASE, "hmac-auth@1.0.0": 1},
         (LOCK,), "1.3.0"),
    Case("after X.0.0 rc, major completes it", ("1.2.0", "2.0.0-rc.1"), BASE, {"basic-auth@2.0.0": 1},
         (LOCK,), "2.0.0", ("2.0.0", "2.0", "2", "latest")),
    Case("after patch rc, minor goes past it", ("1.2.0", "1.2.1-rc.1"), BASE, {**BASE, "hmac-auth@1.0.0": 1},
         (LOCK,), "1.3.0"),
    Case("after minor rc, major goes past it", ("1.2.0", "1.3.0-rc.1"), BASE, {"basic-auth@2.0.0": 1},
         (LOCK,), "2.0.0"),
    Case("--release-version pre-release: own tag only", ("1.2.0",), BASE, {**BASE, "hmac-auth@1.0.0": 1}, (LOCK,),
         "2.1.0-rc.1", ("2.1.0-rc.1",), override="2.1.0-rc.1"),
    Case("--release-version next pre-release", ("1.2.0", "2.1.0-rc.1"), BASE, BASE, ("Dockerfile",),
         "2.1.0-rc.2", ("2.1.0-rc.2",), override="v2.1.0-rc.2"),
    Case("--release-version final after its pre-release", ("1.2.0", "2.1.0-rc.2"), BASE, BASE, (),
         "2.1.0", ("2.1.0", "2.1", "2", "latest"), override="2.1.0"),
    # overrides and forced bumps
    Case("--release-version aligned with Higress, nothing changed", ("1.2.0",), BASE, BASE, (), "2.1.0",
         ("2.1.0", "2.1", "2", "latest"), override="2.1.0", message="release 2.1.0 (--release-version, after v1.2.0)"),
    Case("--release-version of the tag on HEAD: publish again", ("1.2.0", "1.3.0"), BASE, {**BASE, "hmac-auth@1.0.0": 1},
         (LOCK,), "1.3.0", ("1.3.0", "1.3", "1", "latest"), override="1.3.0", at_head=("1.3.0",),
         message="after v1.2.0"),
    Case("--release-version above a tag on HEAD", ("1.2.0", "1.3.0"), BASE, BASE, (), "2.1.0", override="2.1.0",
         at_head=("1.3.0",), message="after v1.3.0"),
    Case("--bump patch forces a release", ("1.2.0",), BASE, BASE, (), "1.2.1", bump="patch"),
    Case("--bump major", ("1.2.0",), BASE, {**BASE, "key-auth@2.0.0": 2}, (LOCK,), "2.0.0", bump="major"),
    Case("--bump below the changes warns", ("1.2.0",), BASE, {"basic-auth@2.0.0": 1}, (LOCK,), "1.3.0",
         bump="minor", warns=True),
    Case("--bump after a pre-release", ("1.2.0", "1.3.0-rc.1"), BASE, BASE, (), "1.3.0", bump="patch"),
    # several lines
    Case("maintenance release keeps latest", ("1.4.2",), BASE, BASE, ("nginx/default.conf",), "1.4.3",
         ("1.4.3", "1.4", "1"), others=("2.0.0",)),
    Case("older minor line keeps major tag", ("1.3.2",), BASE, BASE, ("Dockerfile",), "1.3.3",
         ("1.3.3", "1.3"), others=("1.4.0",)),
    Case("pre-release elsewhere does not hold latest", ("1.2.0",), BASE, BASE, ("Dockerfile",), "1.2.1",
         ("1.2.1", "1.2", "1", "latest"), others=("2.0.0-rc.1",)),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_version_table(case: Case) -> None:
    plan = decide(case)
    assert (str(plan.version) if plan.version else None) == case.version, plan.message
    assert plan.release is (case.version is not None)
    if case.image_tags:  # the table names the bare tags; the rolling track prefixes them
        assert plan.tags == tuple(f"rolling-{t}" for t in case.image_tags)
    if case.version is None:
        assert plan.tags == () and plan.message.startswith("no release: ")
    if case.level:
        assert plan.level.label == case.level
    if case.message:
        assert case.message in plan.message
    if case.reason:
        assert case.reason in [r.text for r in plan.reasons]
    assert bool(plan.warnings) is case.warns
    if case.version is not None and "-" in case.version:
        assert plan.prerelease and not plan.latest


REFUSED = [
    ("not semver", "banana", "invalid --release-version"),
    ("two parts", "2.1", "invalid --release-version"),
    ("build metadata", "2.1.0+build.1", "invalid --release-version"),
    ("leading zero", "2.01.0", "invalid --release-version"),
    ("same as last", "1.2.0", "already exists"),
    ("lower than last", "1.1.9", "does not increase on the last release v1.2.0"),
    ("pre-release of the last", "1.2.0-rc.1", "does not increase"),
    ("existing tag elsewhere", "3.0.0", "tag v3.0.0 already exists at commit"),
]


@pytest.mark.parametrize("text,expect", [(t, e) for _, t, e in REFUSED], ids=[i for i, _, _ in REFUSED])
def test_bad_override_is_refused(text: str, expect: str) -> None:
    case = Case("x", ("1.1.0", "1.2.0"), BASE, BASE, (), None, override=text, others=("3.0.0",))
    with pytest.raises(UsageError) as e:
        decide(case)
    assert expect in e.value.message
    assert e.value.exit_code == 2


def test_bump_and_version_together_are_refused() -> None:
    with pytest.raises(UsageError, match="not both"):
        decide(Case("x", ("1.2.0",), BASE, BASE, (), None, override="2.0.0", bump="minor"))


def test_computed_version_taken_elsewhere_is_refused() -> None:
    with pytest.raises(UsageError, match="already tagged v1.2.1 .* choose one with --release-version"):
        decide(Case("x", ("1.2.0",), BASE, BASE, ("Dockerfile",), None, others=("1.2.1",)))


def test_reasons_name_each_change() -> None:
    plan = decide(Case("x", ("1.2.0",), BASE, {"basic-auth@2.0.0": 2, "hmac-auth@1.0.0": 1},
                       (LOCK, "Dockerfile", "docs/x.md"), "2.0.0"))
    assert [(r.level.label, r.text) for r in plan.reasons] == [
        ("major", "removed key-auth 2.0.0"),
        ("minor", "added hmac-auth 1.0.0"),
        ("patch", "content changed basic-auth 2.0.0"),
        ("patch", "Dockerfile changed"),
    ]
    assert plan.paths == ("Dockerfile",)
