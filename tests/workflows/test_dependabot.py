"""Dependabot keeps every kind of pin fresh: action SHAs, base image digests and the Python
hash locks, each checked weekly and grouped into one pull request per ecosystem."""

from __future__ import annotations

import yaml

from tests.workflows.workflows import ROOT

CONFIG = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())


def test_every_pinned_ecosystem_is_updated_weekly_and_grouped() -> None:
    assert CONFIG["version"] == 2
    updates = {u["package-ecosystem"]: u for u in CONFIG["updates"]}
    assert set(updates) == {"github-actions", "docker", "pip"}
    for name, u in updates.items():
        assert u["directory"] == "/", name
        assert u["schedule"]["interval"] == "weekly", name
        [group] = u["groups"].values()
        assert group["patterns"] == ["*"], name


def test_pip_moves_the_locks_not_the_ranges() -> None:
    [pip] = [u for u in CONFIG["updates"] if u["package-ecosystem"] == "pip"]
    assert pip["versioning-strategy"] == "increase-if-necessary"
    assert (ROOT / "requirements" / "runtime.txt").is_file() and (ROOT / "requirements" / "test.txt").is_file()
