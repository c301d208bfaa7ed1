"""gateway-release.yml's `versions` job, run for real by act: which gateway versions a push or a
dispatch releases, and its main-only guard. (The `image` job builds with buildx and signs
with cosign through OIDC: act cannot run it without Docker; see docs/pipelines.md.)"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.support.git import GitRepo
from tests.support.upstream import SNAPSHOT
from tests.workflows.act import Act, Run, act_copy

WORKFLOW = "gateway-release.yml"
GUARD = "Releases come from main only"
CHECKOUT = "Check out (with history, to see what the push added)"
LIST = "List the snapshots added or changed"


def sums(**files: bytes) -> str:
    return "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in sorted(files.items()))


class Repository:
    """A checkout of this repository: the workflow, then the 2.2.3 snapshot; ``before`` is there."""

    def __init__(self, tmp: Path) -> None:
        self.git = GitRepo(tmp / "checkout")
        self.act = Act(tmp)
        self.old = SNAPSHOT.replace(b'"2.2.4"', b'"2.2.3"')
        self.git.write(f".github/workflows/{WORKFLOW}", act_copy(WORKFLOW))
        self.git.git("remote", "add", "origin", "https://github.com/acme/plugin-server.git")
        self.before = self.git.commit("snapshot 2.2.3", files={
            "snapshots/2.2.3.json": self.old, "snapshots/SHA256SUMS": sums(**{"2.2.3.json": self.old})})

    def merge_snapshot(self) -> str:
        """a snapshot pull request merged: snapshots/2.2.4.json and its SHA256SUMS line"""
        return self.git.commit("plugin-sync: gateway 2.2.4 plugin snapshot (#7)", files={
            "snapshots/2.2.4.json": SNAPSHOT,
            "snapshots/SHA256SUMS": sums(**{"2.2.3.json": self.old, "2.2.4.json": SNAPSHOT})})

    def run(self, event: str, payload: dict[str, object]) -> Run:
        return self.act.run(self.git.path, WORKFLOW, event, payload, job="versions")


@pytest.fixture
def repo(tmp_path: Path) -> Repository:
    return Repository(tmp_path)


def versions(run: Run) -> list[str]:
    assert run.code == 0 and run.job_result == "success", run.log
    assert run.ran() == [CHECKOUT, LIST] and set(run.steps.values()) == {"success"}, run.log
    return json.loads(run.outputs["list"]["versions"])  # type: ignore[no-any-return]


def test_a_push_that_adds_a_snapshot_releases_its_version(repo: Repository) -> None:
    after = repo.merge_snapshot()
    run = repo.run("push", {"ref": "refs/heads/main", "before": repo.before, "after": after})
    assert versions(run) == ["2.2.4"]


def test_a_push_without_a_usable_before_releases_every_listed_snapshot(repo: Repository) -> None:
    after = repo.merge_snapshot()
    run = repo.run("push", {"ref": "refs/heads/main", "before": "0" * 40, "after": after, "created": True})
    assert versions(run) == ["2.2.3", "2.2.4"]


def test_a_push_that_adds_no_snapshot_releases_nothing(repo: Repository) -> None:
    after = repo.git.commit("snapshots: a note beside them", files={"snapshots/README.md": "byte-exact copies\n"})
    run = repo.run("push", {"ref": "refs/heads/main", "before": repo.before, "after": after})
    assert versions(run) == []  # the image job's `if:` compares with '[]'


def test_a_dispatch_releases_the_version_it_names(repo: Repository) -> None:
    run = repo.run("workflow_dispatch", {"ref": "refs/heads/main", "inputs": {"gateway_version": "2.2.3"}})
    assert versions(run) == ["2.2.3"]


def test_a_run_from_another_ref_is_refused_in_its_first_step(repo: Repository) -> None:
    after = repo.merge_snapshot()
    run = repo.run("push", {"ref": "refs/heads/feature", "before": repo.before, "after": after})
    assert run.code != 0 and run.job_result == "failure"
    assert run.ran() == [GUARD] and run.steps[GUARD] == "failure", run.log
    assert "list" not in run.outputs
