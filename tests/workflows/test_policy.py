"""The hardening rules every workflow keeps, checked on the files themselves: least
privilege, pinned actions and images, no dangerous triggers, no expressions in scripts,
secrets only through env or action inputs (registry secrets only in the protected release
environment), concurrency groups, no persisted credentials, Python packages only from the hash
lock."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.workflows.workflows import NAMES, ROOT, Workflow, load

PINNED = re.compile(r"^\s*(?:-\s+)?uses:\s+([\w.-]+/[\w./-]+)@([0-9a-f]{40}) # v\d+(?:\.\d+){0,2}\s*$")
# the write grants each job may hold; every other job reads only
WRITE_GRANTS = {
    ("release.yml", "image"): {"id-token": "write"},
    ("gateway-release.yml", "image"): {"id-token": "write"},
    ("release.yml", "chart"): {"id-token": "write"},
    ("release.yml", "publish"): {"contents": "write"},
    ("sync.yml", "sync"): {"contents": "write", "pull-requests": "write"},
}


@pytest.fixture(params=NAMES)
def wf(request: pytest.FixtureRequest) -> Workflow:
    return load(request.param)


def test_top_level_permissions_read_only(wf: Workflow) -> None:
    assert wf.data["permissions"] == {"contents": "read"}


def test_write_grants_only_where_needed(wf: Workflow) -> None:
    for job_id, job in wf.jobs.items():
        perms = job.get("permissions", {})
        writes = {k: v for k, v in perms.items() if v == "write"}
        assert writes == WRITE_GRANTS.get((wf.name, job_id), {}), f"{wf.name} {job_id}"
        assert set(perms.values()) <= {"read", "write", "none"}


def test_every_action_pinned_by_sha_with_version_comment(wf: Workflow) -> None:
    uses_lines = [line for line in wf.text.splitlines() if re.match(r"^\s*(?:-\s+)?uses:", line)]
    assert uses_lines
    for line in uses_lines:
        assert PINNED.match(line), f"{wf.name}: not pinned by full SHA with '# vX' comment: {line.strip()}"


def test_the_same_action_is_pinned_the_same_everywhere() -> None:
    pins: dict[str, set[str]] = {}
    for name in NAMES:
        for line in load(name).text.splitlines():
            m = PINNED.match(line)
            if m:
                pins.setdefault(m.group(1), set()).add(line.split("@", 1)[1].strip())
    assert {a: p for a, p in pins.items() if len(p) > 1} == {}


def test_container_images_pinned_by_digest(wf: Workflow) -> None:
    for job_id, job in wf.jobs.items():
        container = job.get("container")
        if container is not None:
            image = container["image"] if isinstance(container, dict) else container
            m = re.fullmatch(r"\$\{\{\s*matrix\.(\w+)\s*\}\}", image)
            # an image from the matrix: every value the matrix gives it must be pinned
            images = [row[m.group(1)] for row in job["strategy"]["matrix"]["include"]] if m else [image]
            for image in images:
                assert re.search(r"@sha256:[0-9a-f]{64}$", image), f"{wf.name} {job_id}: {image}"


def test_ci_runs_every_python_the_package_supports() -> None:
    """requires-python says >= 3.10; CI covers each minor version from there to 3.13."""
    job = load("ci.yml").jobs["test"]
    rows = job["strategy"]["matrix"]["include"]
    assert [r["python"] for r in rows] == ["3.10", "3.11", "3.12", "3.13"]
    for r in rows:
        assert f"/python:{r['python']}-slim-bookworm@sha256:" in r["image"]
    text = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert 'requires-python = ">=3.10"' in text


def test_no_dangerous_triggers(wf: Workflow) -> None:
    assert not {"pull_request_target", "workflow_run"} & set(wf.on)


def test_no_expression_inside_a_script(wf: Workflow) -> None:
    for job_id, step in wf.steps():
        assert "${{" not in str(step.get("run", "")), f"{wf.name} {job_id}: {step.get('name')}"


def test_secrets_only_in_env_or_action_inputs(wf: Workflow) -> None:
    for job_id, step in wf.steps():
        for key, value in step.items():
            if "secrets." in str(value):
                assert key in ("env", "with"), f"{wf.name} {job_id}: secret in {key}"
    # and never at the workflow or job level, where every step would see it
    assert "secrets." not in str(wf.data.get("env", ""))
    for job in wf.jobs.values():
        assert "secrets." not in str(job.get("env", ""))


def test_concurrency_group(wf: Workflow) -> None:
    conc = wf.data["concurrency"]
    assert conc["group"]
    if wf.name in ("release.yml", "sync.yml", "gateway-release.yml"):
        # two releases or two syncs never race, and a running one is never cancelled
        assert conc["cancel-in-progress"] is False
        assert "github.ref" not in conc["group"] and "run_id" not in conc["group"]


def test_checkout_never_persists_credentials(wf: Workflow) -> None:
    checkouts = wf.uses("actions/checkout")
    assert checkouts
    for job_id, step in checkouts:
        assert step.get("with", {}).get("persist-credentials") is False, f"{wf.name} {job_id}"


def test_jobs_have_timeouts(wf: Workflow) -> None:
    for job_id, job in wf.jobs.items():
        assert 0 < int(job["timeout-minutes"]) <= 90, f"{wf.name} {job_id}"


def test_registry_secrets_only_in_jobs_of_the_release_environment(wf: Workflow) -> None:
    for job_id, job in wf.jobs.items():
        if "secrets.REGISTRY_" in str(job.get("steps", [])):
            env = job.get("environment")
            assert (env["name"] if isinstance(env, dict) else env) == "release", f"{wf.name} {job_id}"


def test_python_packages_come_only_from_the_hash_lock(wf: Workflow) -> None:
    """No workflow step runs pip itself: they run ./scripts/install or ./scripts/test, whose one
    install function takes every dependency from a hash lock and then the project alone."""
    for job_id, step in wf.steps():
        run = str(step.get("run", ""))
        assert "pip install" not in run and "pip3 install" not in run, f"{wf.name} {job_id}: {step.get('name')}"
    installs = [s for _, s in wf.steps() if re.search(r"\./scripts/(install|test)\b", str(s.get("run", "")))]
    if any("python" in str(s.get("uses", "")) for _, s in wf.steps()) or wf.name == "ci.yml":
        assert installs, wf.name
    lib = (ROOT / "scripts" / "lib.sh").read_text()
    body = lib[lib.index("install_project() {"):]
    body = body[:body.index("\n}\n")]
    pips = re.findall(r"pip install [^\n]*", body)
    assert len(pips) == 2
    assert "--require-hashes --no-deps -r \"requirements/$1.txt\"" in pips[0]
    assert "--no-deps --no-build-isolation -e ." in pips[1]
