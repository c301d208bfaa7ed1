"""release.yml does every step of pipeline 2, in order, with what the toolkit and the
Dockerfile expect: tests, the version, a multi-arch image pushed under the computed tags with
SBOM and provenance, a keyless signature of the pushed digest, the published release."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sync.cli import main
from sync.release.plan import BUMPS
from sync.release.shipping import ShipRules
from tests.release.gitutil import Repo
from tests.release.lockdata import lock
from tests.workflows.workflows import ROOT, load

WF = load("release.yml")


def test_triggers_push_to_main_on_what_ships_and_by_hand() -> None:
    push = WF.on["push"]
    assert push["branches"] == ["main"]
    assert sorted(push["paths"]) == ShipRules().patterns()
    inputs = WF.on["workflow_dispatch"]["inputs"]
    assert inputs["version"]["type"] == "string" and inputs["version"]["required"] is False
    assert inputs["bump"]["type"] == "choice" and tuple(inputs["bump"]["options"]) == BUMPS
    assert inputs["bump"]["default"] == "auto"


def test_registry_and_image_from_variables_with_higress_defaults() -> None:
    env = WF.data["env"]
    assert env["REGISTRY"] == "${{ vars.PLUGIN_SERVER_REGISTRY || 'higress-registry.cn-hangzhou.cr.aliyuncs.com' }}"
    assert env["IMAGE_NAME"] == "${{ vars.PLUGIN_SERVER_IMAGE || 'higress/plugin-server' }}"


def test_jobs_run_in_order() -> None:
    jobs = WF.jobs
    assert "needs" not in jobs["test"]
    assert jobs["version"]["needs"] == "test"
    assert jobs["image"]["needs"] == "version"
    assert jobs["image"]["if"] == "needs.version.outputs.release == 'true'"
    assert jobs["publish"]["needs"] == ["version", "image"]


def test_tests_are_the_readme_command() -> None:
    assert [s["run"] for s in WF.jobs["test"]["steps"] if s.get("name") == "Test"] == ["./scripts/test"]


def test_version_step_runs_release_with_the_inputs() -> None:
    step = WF.step("version", "plan")
    assert step["env"] == {"VERSION": "${{ inputs.version }}", "BUMP": "${{ inputs.bump || 'auto' }}"}
    assert 'plugin-sync release "${args[@]}"' in step["run"]
    assert '--release-version "$VERSION"' in step["run"] and '--bump "$BUMP"' in step["run"]
    checkout = WF.jobs["version"]["steps"][0]
    assert checkout["with"]["fetch-depth"] == 0  # every tag: the last release is found among them


def test_image_is_multi_arch_with_attestations_and_computed_tags() -> None:
    build = WF.step("image", "build")
    assert build["uses"].startswith("docker/build-push-action@")
    w = build["with"]
    assert set(w["platforms"].split(",")) == {"linux/amd64", "linux/arm64"}
    assert w["push"] is True and w["sbom"] is True and w["provenance"] == "mode=max"
    assert w["tags"] == "${{ needs.version.outputs.images }}"
    assert WF.uses("docker/setup-qemu-action") and WF.uses("docker/setup-buildx-action")
    login = WF.uses("docker/login-action")[0][1]["with"]
    assert login == {"registry": "${{ env.REGISTRY }}", "username": "${{ secrets.REGISTRY_USERNAME }}",
                     "password": "${{ secrets.REGISTRY_PASSWORD }}"}


def test_build_args_are_the_dockerfile_args() -> None:
    dockerfile_args = set(re.findall(r"^ARG (\w+)", (ROOT / "Dockerfile").read_text(), re.M))
    w = WF.step("image", "build")["with"]
    args = dict(line.split("=", 1) for line in w["build-args"].strip().splitlines())
    assert set(args) <= dockerfile_args
    assert {"PLUGIN_SERVER_VERSION", "VCS_REF", "BUILD_DATE", "PLUGINS_SOURCE"} <= set(args)
    assert args["PLUGINS_SOURCE"] == "lock"
    assert args["PLUGIN_SERVER_VERSION"] == "${{ needs.version.outputs.version }}"


def test_the_pushed_digest_is_signed_keyless() -> None:
    steps = WF.jobs["image"]["steps"]
    names = [s.get("uses", s.get("run", "")).split("@")[0] for s in steps]
    build, installer = names.index("docker/build-push-action"), names.index("sigstore/cosign-installer")
    sign = next(i for i, s in enumerate(steps) if "cosign sign" in s.get("run", ""))
    assert build < installer < sign
    assert steps[sign]["env"] == {"DIGEST": "${{ steps.build.outputs.digest }}"}
    assert steps[sign]["run"] == 'cosign sign --yes "$REGISTRY/$IMAGE_NAME@$DIGEST"'
    assert WF.jobs["image"]["permissions"]["id-token"] == "write"


def test_publish_tags_the_built_version_with_its_digest() -> None:
    step = WF.jobs["publish"]["steps"][-1]
    assert step["run"].startswith('plugin-sync release --release-version "$VERSION" --publish')
    assert '--image-digest "$DIGEST"' in step["run"]
    assert step["env"] == {"GITHUB_TOKEN": "${{ github.token }}", "VERSION": "${{ needs.version.outputs.version }}",
                           "DIGEST": "${{ needs.image.outputs.digest }}"}


def test_outputs_the_workflow_reads_are_written_by_release(tmp_path: Path, git_env: None,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    repo = Repo(tmp_path / "r")
    repo.write_lock(lock({"basic-auth@2.0.0": 1}))
    repo.write("plugins.yaml", "schemaVersion: 1\nplugins: {}\n")
    repo.commit("initial")
    out = tmp_path / "out"
    monkeypatch.chdir(repo.path)
    monkeypatch.setenv("GITHUB_OUTPUT", str(out))
    assert main(["release", "--image", "registry.example/higress/plugin-server"]) == 0
    written = {line.split("=", 1)[0] for line in out.read_text().splitlines()}
    read = set(re.findall(r"steps\.plan\.outputs\.([\w-]+)", WF.text))
    assert read and read <= written
    assert set(WF.jobs["version"]["outputs"]) <= written
