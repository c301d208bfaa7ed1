"""release.yml does every step of pipeline 2, in order, with what the toolkit and the
Dockerfile expect: from main only; tests, the version, a reproducible multi-arch image pushed
under the computed tags (never over a release tag with other content), a keyless signature and
signed SBOM and provenance attestations of the pushed digest, checked with cosign verify; the
chart at the same version, pushed and signed; the published release, whose notes carry the
same verification commands."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from sync.cli import build_parser, main
from sync.release.notes import ATTESTATIONS, OIDC_ISSUER, RELEASE_REF, RELEASE_WORKFLOW
from sync.release.plan import BUMPS
from sync.release.shipping import ShipRules
from tests.support.git import GitRepo
from tests.support.locks import lock
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
    assert jobs["image"]["if"] == "needs.version.outputs.release == 'true' && github.ref == 'refs/heads/main'"
    assert jobs["chart"]["needs"] == ["version", "image"]
    assert jobs["chart"]["if"] == "github.ref == 'refs/heads/main'"
    assert jobs["publish"]["needs"] == ["version", "image", "chart"]


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
    assert "push" not in w and w["sbom"] is True and w["provenance"] == "mode=max"
    # pushed by the image exporter, file times rewritten to SOURCE_DATE_EPOCH (reproducible)
    assert w["outputs"] == "type=image,push=true,rewrite-timestamp=true"
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
    assert steps[sign]["if"] == "steps.existing.outputs.action == 'push'"
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
    repo = GitRepo(tmp_path / "r")
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


# -- releases only from main -----------------------------------------------------------------

def test_a_run_off_main_fails_in_its_first_step() -> None:
    first = WF.jobs["test"]["steps"][0]
    assert first["if"] == "github.ref != 'refs/heads/main'"
    assert first["env"] == {"REF": "${{ github.ref }}"}
    assert "::error::releases run only from refs/heads/main" in first["run"] and first["run"].rstrip().endswith("exit 1")
    # and the jobs holding registry secrets check it again, beside the environment's branch rule
    for job in ("image", "chart"):
        assert "github.ref == 'refs/heads/main'" in WF.jobs[job]["if"]
        assert WF.jobs[job]["environment"] == "release"


def test_the_main_guard_stops_a_branch_run_and_lets_main_pass() -> None:
    """The guard's script, run by bash as the runner would on each ref."""
    import subprocess

    first = WF.jobs["test"]["steps"][0]
    proc = subprocess.run(["bash", "-c", first["run"]], env={"REF": "refs/heads/feature", "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stdout.strip() == ("::error::releases run only from refs/heads/main, not from refs/heads/feature: "
                                   "start the workflow on main")


# -- immutable tags, reproducible builds -------------------------------------------------------

def _names(job: str) -> list[str]:
    return [s.get("id") or s.get("uses", "").split("@")[0] or s.get("name", "") for s in WF.jobs[job]["steps"]]


def test_an_existing_release_tag_is_checked_before_anything_is_pushed() -> None:
    steps = WF.jobs["image"]["steps"]
    check = WF.step("image", "existing")
    # the first computed image: rolling-X.Y.Z, the full-version tag of the rolling track
    assert check["run"] == ('plugin-sync tag-check "${IMAGES%%,*}" '
                            '--label "org.opencontainers.image.revision=$REVISION"')
    assert check["env"] == {"IMAGES": "${{ needs.version.outputs.images }}", "REVISION": "${{ github.sha }}"}
    names = _names("image")
    assert names.index("docker/login-action") < names.index("existing") < names.index("build")
    # what pushes or signs runs only when the tag is new; the same commit is skipped
    for s in steps:
        if s.get("id") == "build" or "cosign sign" in s.get("run", "") or "cosign attest" in s.get("run", ""):
            assert s["if"] == "steps.existing.outputs.action == 'push'", s.get("name")
    pushed = WF.step("image", "pushed")
    assert pushed["env"] == {"BUILT": "${{ steps.build.outputs.digest }}", "HELD": "${{ steps.existing.outputs.digest }}"}
    assert WF.jobs["image"]["outputs"]["digest"] == "${{ steps.pushed.outputs.digest }}"


def test_the_label_the_check_compares_is_the_one_the_build_sets() -> None:
    w = WF.step("image", "build")["with"]
    args = dict(line.split("=", 1) for line in w["build-args"].strip().splitlines())
    assert args["VCS_REF"] == "${{ github.sha }}"
    # the rolling build passes no PLUGIN_SERVER_SOURCE_COMMIT, so the label is VCS_REF
    assert "PLUGIN_SERVER_SOURCE_COMMIT" not in args
    assert 'org.opencontainers.image.revision="${PLUGIN_SERVER_SOURCE_COMMIT:-${VCS_REF}}"' in (ROOT / "Dockerfile").read_text()


def test_builds_are_reproducible_from_the_commit_time() -> None:
    meta = WF.step("image", "meta")
    assert 'echo "epoch=$(git log -1 --format=%ct)" >> "$GITHUB_OUTPUT"' in meta["run"]
    build = WF.step("image", "build")
    assert build["env"] == {"SOURCE_DATE_EPOCH": "${{ steps.meta.outputs.epoch }}"}
    args = dict(line.split("=", 1) for line in build["with"]["build-args"].strip().splitlines())
    assert args["SOURCE_DATE_EPOCH"] == "${{ steps.meta.outputs.epoch }}"
    assert "rewrite-timestamp=true" in build["with"]["outputs"]


# -- signatures, attestations and their verification --------------------------------------------

def _verify_step(job: str) -> dict:  # type: ignore[type-arg]
    [step] = [s for s in WF.jobs[job]["steps"] if "cosign verify " in s.get("run", "")]
    return step


def test_sbom_and_provenance_are_attested_signed() -> None:
    [attest] = [s for s in WF.jobs["image"]["steps"] if "cosign attest" in s.get("run", "")]
    run = attest["run"]
    assert attest["env"] == {"DIGEST": "${{ steps.build.outputs.digest }}"}
    assert set(re.findall(r"cosign attest --yes --type (\w+)", run)) == set(ATTESTATIONS)
    assert "(index .SBOM" in run and "(index .Provenance" in run
    platforms = set(WF.step("image", "build")["with"]["platforms"].split(","))
    assert set(re.search(r"for platform in ([^;]+);", run).group(1).split()) == platforms  # type: ignore[union-attr]


def test_every_push_is_followed_by_cosign_verify_with_the_exact_identity() -> None:
    env = WF.data["env"]
    assert env["SIGNER_IDENTITY"] == "https://github.com/${{ github.repository }}/" + f"{RELEASE_WORKFLOW}@{RELEASE_REF}"
    assert env["SIGNER_ISSUER"] == OIDC_ISSUER
    for job, last_push in (("image", "Attest the SBOM and the SLSA provenance (signed, keyless)"),
                           ("chart", "Sign the chart (keyless)")):
        step = _verify_step(job)
        names = [s.get("name") for s in WF.jobs[job]["steps"]]
        assert names.index(step["name"]) > names.index(last_push)
        assert "if" not in step  # a skipped (already released) tag is verified too
        run = step["run"]
        assert '--certificate-identity "$SIGNER_IDENTITY"' in run and '--certificate-oidc-issuer "$SIGNER_ISSUER"' in run
        assert "regexp" not in run
    image_run = _verify_step("image")["run"]
    assert set(re.findall(r"cosign verify-attestation --type (\w+)", image_run)) == set(ATTESTATIONS)
    assert _verify_step("image")["env"] == {"DIGEST": "${{ steps.pushed.outputs.digest }}"}


# -- the chart --------------------------------------------------------------------------------

def test_the_chart_is_versioned_packaged_checked_pushed_and_signed_in_order() -> None:
    steps = WF.jobs["chart"]["steps"]
    runs = [s.get("run", "") for s in steps]

    def at(text: str) -> int:
        return next(i for i, r in enumerate(runs) if text in r)

    order = [at('plugin-sync release --release-version "$VERSION" --chart "charts/$CHART_NAME"'),
             at('helm package "charts/$CHART_NAME"'), at("plugin-sync tag-check"), at("helm push"),
             at("cosign sign --yes"), at("cosign verify ")]
    assert order == sorted(order)
    assert WF.data["env"]["CHART_NAME"] == (ROOT / "charts").joinpath("higress-plugin-server").name
    assert 'oci://$REGISTRY/$CHARTS' in runs[at("helm push")]
    assert WF.data["env"]["CHARTS"] == "${{ vars.PLUGIN_SERVER_CHARTS || 'charts' }}"
    assert WF.jobs["chart"]["steps"][0]["with"]["fetch-depth"] == 0  # release --release-version reads the tags
    # registry password through env and stdin, never on a command line
    push = next(s for s in steps if s.get("id") == "push")
    assert push["env"]["REGISTRY_PASSWORD"] == "${{ secrets.REGISTRY_PASSWORD }}"
    assert "--password-stdin" in push["run"] and "--password " not in push["run"]


def test_the_cli_accepts_what_the_release_scripts_pass() -> None:
    parser = build_parser()
    args = parser.parse_args(["release", "--release-version", "1.2.3", "--chart", "charts/higress-plugin-server"])
    assert (args.release_version, args.chart) == ("1.2.3", "charts/higress-plugin-server")
    for job in ("image", "chart"):
        line = WF.step(job, "existing")["run"]
        words = shlex.split(line.replace("${IMAGES%%,*}", "registry.example/higress/plugin-server:rolling-1.2.3")
                                .replace("$REGISTRY/$CHARTS/$CHART_NAME", "registry.example/charts/x")
                                .replace("$VERSION", "1.2.3").replace("$REVISION", "a" * 40))
        args = parser.parse_args(words[1:])
        assert args.command == "tag-check" and args.label == ["org.opencontainers.image.revision=" + "a" * 40]


# -- a release run against the fake GitHub shows the verification steps -------------------------

def test_the_published_release_shows_the_verification_the_workflow_runs(
        tmp_path: Path, git_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The publish step's command, with the environment the workflow gives it, against the fake
    GitHub: the release it creates tells users to run the same cosign checks the image job ran."""
    from tests.support.gitpush import push
    from tests.support import fakegithub as fg

    token, slug, image = "ghp_release_secret_0123456789", "acme/plugin-server", "registry.example/higress/plugin-server"
    digest = "sha256:" + "cd" * 32
    repo = GitRepo(tmp_path / "r")
    repo.write("plugins.yaml", "schemaVersion: 1\nplugins: {}\n")
    repo.write_lock(lock({"basic-auth@2.0.0": 1}))
    repo.commit("initial")
    with fg.FakeGitHub(token=token) as gh:
        remote = gh.state.create_repo(slug)
        push(repo, remote)
        for k, v in {"GITHUB_API_URL": gh.url, "GITHUB_TOKEN": token, "GITHUB_REPOSITORY": slug,
                     "GITHUB_SERVER_URL": "https://github.com", "PLUGIN_SYNC_GITHUB_WRITE_INTERVAL": "0",
                     "PLUGIN_SYNC_RETRY_ATTEMPTS": "1"}.items():
            monkeypatch.setenv(k, v)
        monkeypatch.chdir(repo.path)
        step = WF.jobs["publish"]["steps"][-1]
        argv = shlex.split(step["run"].replace('"$VERSION"', "0.1.0").replace('"$REGISTRY/$IMAGE_NAME"', image)
                           .replace('"$DIGEST"', digest))
        assert main(argv[1:]) == 0
        assert token not in capsys.readouterr().out
        [rel] = remote.releases
    identity = WF.data["env"]["SIGNER_IDENTITY"].replace("${{ github.repository }}", slug)
    ref = f"{image}@{digest}"
    commands = " ".join(rel.body.split("```sh", 1)[1].split("```", 1)[0].replace("\\\n", " ").split())
    assert f"cosign verify {ref} --certificate-identity {identity} --certificate-oidc-issuer {OIDC_ISSUER}" in commands
    ran = set(re.findall(r"cosign verify-attestation --type (\w+)", _verify_step("image")["run"]))
    shown = set(re.findall(rf"cosign verify-attestation --type (\w+) {re.escape(ref)} --certificate-identity "
                           rf"{re.escape(identity)} --certificate-oidc-issuer {re.escape(OIDC_ISSUER)}", commands))
    assert shown == ran == set(ATTESTATIONS)
