"""gateway-release.yml: merging a snapshot builds image X.Y.Z from it with upstream's build
contract, after `plugin-sync release --gateway` decided; signed; the CLI accepts what it passes."""

from __future__ import annotations

import re
import shlex

from sync.cli import build_parser
from tests.workflows.workflows import load

WF = load("gateway-release.yml")


def test_triggers() -> None:
    assert WF.on["push"] == {"branches": ["main"], "paths": ["snapshots/**"]}
    assert WF.on["workflow_dispatch"]["inputs"]["gateway_version"]["required"] is True


def test_the_plan_decides_and_every_push_step_obeys_it() -> None:
    image = WF.jobs["image"]
    plan = WF.step("image", "plan")
    words = shlex.split(plan["run"])
    args = build_parser().parse_args(words[1:])
    assert args.command == "release" and args.gateway == "$VERSION" and args.revision == "$GITHUB_SHA"
    assert plan["env"]["VERSION"] == "${{ matrix.version }}"
    after = image["steps"][image["steps"].index(plan) + 1:]
    assert after and all(s.get("if") == "steps.plan.outputs.action == 'build'" for s in after)
    # the login comes first: the plan reads the tag's current labels with those credentials
    names = [s.get("uses", "").split("@")[0] for s in image["steps"]]
    assert names.index("docker/login-action") < image["steps"].index(plan)


def test_upstreams_build_contract() -> None:
    build = WF.step("image", "build")
    w = build["with"]
    assert w["context"] == "." and w["platforms"] == "linux/amd64,linux/arm64"
    assert w["outputs"] == "type=image,push=true,rewrite-timestamp=true"  # pushed, reproducibly
    assert w["tags"] == "${{ steps.plan.outputs.images }}"
    args = w["build-args"].strip().splitlines()
    assert args[0] == "${{ steps.plan.outputs.build-args }}"  # the four of upstream's contract
    assert "SOURCE_DATE_EPOCH=${{ steps.meta.outputs.epoch }}" in args
    assert build["env"]["SOURCE_DATE_EPOCH"] == "${{ steps.meta.outputs.epoch }}"
    copy = next(s for s in WF.jobs["image"]["steps"] if "snapshot.json" in s.get("run", ""))
    assert copy["run"] == 'cp "$SNAPSHOT" snapshot.json' and copy["env"]["SNAPSHOT"] == "${{ steps.plan.outputs.snapshot }}"
    steps = WF.jobs["image"]["steps"]
    assert steps.index(copy) < steps.index(build)


def test_signed_like_the_rolling_image() -> None:
    sign = next(s for s in WF.jobs["image"]["steps"] if "cosign sign" in s.get("run", ""))
    assert sign["env"]["DIGEST"] == "${{ steps.build.outputs.digest }}"
    assert re.search(r'cosign sign --yes "\$REGISTRY/\$IMAGE_NAME@\$DIGEST"', sign["run"])
    assert WF.jobs["image"]["permissions"] == {"contents": "read", "id-token": "write"}
    assert WF.jobs["image"]["environment"] == "release"
    verify = next(s for s in WF.jobs["image"]["steps"] if "cosign verify " in s.get("run", ""))
    assert "cosign verify-attestation --type slsaprovenance" in verify["run"]
    assert WF.data["env"]["SIGNER_IDENTITY"] == (
        "https://github.com/${{ github.repository }}/.github/workflows/gateway-release.yml@refs/heads/main")
    steps = WF.jobs["image"]["steps"]
    assert steps.index(sign) < steps.index(verify)


def test_one_version_at_a_time_each_on_its_own() -> None:
    strategy = WF.jobs["image"]["strategy"]
    assert strategy["max-parallel"] == 1 and strategy["fail-fast"] is False
    assert strategy["matrix"]["version"] == "${{ fromJSON(needs.versions.outputs.versions) }}"
