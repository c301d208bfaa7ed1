"""release.yml under act: no job of it can run here. Every job needs `test`, which runs in a
container (`container:` image), and act plans that job first and stops at its set-up without
a Docker engine; `image` and `chart` also build with buildx and sign through OIDC. This test
holds that claim (docs/pipelines.md) to act's own planner: when a job stops depending on the
container job, it fails, and that job gets an act test like sync.yml's."""

from __future__ import annotations

from pathlib import Path

from tests.support.git import GitRepo
from tests.workflows.act import Act, act_copy
from tests.workflows.workflows import load

WORKFLOW = "release.yml"


def test_every_job_of_release_yml_starts_with_the_container_job(tmp_path: Path) -> None:
    wf = load(WORKFLOW)
    assert "container" in wf.jobs["test"] and "container" not in wf.jobs["version"]
    checkout = GitRepo(tmp_path / "checkout")
    checkout.write(f".github/workflows/{WORKFLOW}", act_copy(WORKFLOW))
    checkout.commit("release.yml")
    act = Act(tmp_path)
    plans = {job: act.plan(checkout.path, WORKFLOW, "workflow_dispatch", job) for job in wf.jobs}
    for job, stages in plans.items():
        assert stages[0] == ["test"] and stages[-1] == [job], (job, stages)
    assert plans["publish"] == [["test"], ["version"], ["image"], ["chart"], ["publish"]]
