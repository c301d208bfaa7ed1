"""sync.yml, run for real by act: the workflow file's expressions, `if:` conditions and step
outputs, with plugin-sync detect/pull/propose against the fake GitHub and a local OCI layout,
from a fresh checkout of the repository (nothing pulled), as a runner has it."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from sync.cli import main
from sync.sample import build_artifact, wasm_module, write_layout
from tests.support.fakegithub import TOKEN, FakeGitHub, Repo
from tests.support.git import GitRepo
from tests.support.gitpush import push
from tests.support.upstream import CPP, GO, SNAPSHOT, SNAPSHOT_PATH
from tests.workflows.act import Act, Run, act_copy
from tests.workflows.workflows import ROOT

REPO = "acme/plugin-server"
WORKFLOW = "sync.yml"
JOB = "sync"
PROJECT = ("sync", "scripts", "requirements", "nginx", "pyproject.toml", "README.md", "LICENSE", ".gitignore")
REJECTED = "ghs_not_a_token_the_fake_accepts"
APP_ID = 424242
NOW = datetime.now(timezone.utc).replace(microsecond=0)

STEPS = ["Job summary header", "GitHub App token", "Check out", "Set up Python",
         "Install plugin-sync (dependencies from the hash lock)", "Detect upstream changes", "Pull the artifacts",
         "Propose the pull request", "Propose the gateway release snapshots upstream added",
         "Fail if a plugin failed to pull"]


def day(n: int) -> str:
    return (NOW - timedelta(days=n)).strftime("%Y-%m-%dT%H:%M:%SZ")


def steps(*skipped: str) -> list[str]:
    """The steps that run (act reports no result for a step whose `if:` was false)."""
    return [s for s in STEPS if s not in skipped]


class World:
    """Upstream and this repository on the fake GitHub, the artifacts in an OCI layout, and
    the checkout act runs in: the project's files, sync.yml, and plugins.yaml, the lock and the
    cursor as committed (basic-auth and key-auth 1.0.0 pulled earlier)."""

    def __init__(self, tmp: Path, fake: FakeGitHub) -> None:
        self.tmp, self.fake = tmp, fake
        self.layout = tmp / "layout"
        self.artifacts: dict[str, int] = {}
        self.upstream: Repo = fake.state.create_repo("higress-group/higress")
        self.ours: Repo = fake.state.create_repo(REPO)
        self.checkout = GitRepo(tmp / "checkout")
        self.act = Act(tmp)
        self.config = (
            "schemaVersion: 1\nupstream:\n  repository: higress-group/higress\n"
            "pullRequest:\n  labels: [plugin-sync]\nplugins:\n"
            + "".join(f"  {name}:\n    source: oci-layout:{self.layout}#plugins/{name}:1.0.0\n"
                      "    range: \">=1.0.0\"\n" for name in ("basic-auth", "key-auth")))
        self.base_config = self.config

    def add_plugin(self, name: str) -> None:
        """a maintainer added a plugin to plugins.yaml (committed) before upstream published it"""
        self.config += f"  {name}:\n    source: oci-layout:{self.layout}#plugins/{name}:1.0.0\n"

    def publish(self, name: str, tag: str, seed: int) -> None:
        """upstream's build pushed an artifact"""
        self.artifacts[f"plugins/{name}:{tag}"] = seed
        write_layout(self.layout, {ref: build_artifact(wasm_module(96 + s, seed=s)) for ref, s in self.artifacts.items()})

    def corrupt(self, name: str, tag: str) -> None:
        """the layer of an artifact no longer matches its digest (a broken mirror, a bad disk)"""
        art = build_artifact(wasm_module(96 + self.artifacts[f"plugins/{name}:{tag}"],
                                         seed=self.artifacts[f"plugins/{name}:{tag}"]))
        layer = json.loads(art.manifest)["layers"][-1]["digest"].split(":")[1]
        blob = self.layout / "blobs" / "sha256" / layer
        blob.write_bytes(bytes(b ^ 0xFF for b in blob.read_bytes()))

    def start(self) -> None:
        """the repository as committed, before the sync: 1.0.0 of basic-auth and key-auth locked"""
        self.publish("basic-auth", "1.0.0", 1)
        self.publish("key-auth", "1.0.0", 2)
        up = self.upstream
        up.commit_files({f"{GO}/basic-auth/VERSION": "1.0.0\n", f"{CPP}/key_auth/VERSION": "1.0.0\n"}, "import",
                        date=day(9))
        start = up.merge_pull("ci: tidy", {".github/x.yml": "x\n"}, day(8), number=200)
        co = self.checkout.path
        (co / "plugins.yaml").write_text(self.base_config)
        assert main(["--config", str(co / "plugins.yaml"), "--root", str(self.tmp / "tree"), "pull"]) == 0
        (co / "plugins.yaml").write_text(self.config)
        (co / "upstream-cursor.json").write_text(json.dumps({
            "schemaVersion": 1, "upstream": "higress-group/higress",
            "last": {"merged": day(8), "pr": 200, "sha": start.merge_commit_sha}, "pending": {}},
            indent=2, sort_keys=True) + "\n")
        (co / "plugins").mkdir(exist_ok=True)
        shutil.copy(ROOT / "plugins" / "README.md", co / "plugins" / "README.md")
        files = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-co", "--exclude-standard", *PROJECT],
                               check=True, capture_output=True, text=True).stdout.split()
        for rel in files:
            if (ROOT / rel).is_file():
                (co / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / rel, co / rel, follow_symlinks=False)
        (co / ".github" / "workflows").mkdir(parents=True)
        (co / ".github" / "workflows" / WORKFLOW).write_text(act_copy(WORKFLOW))
        self.checkout.git("remote", "add", "origin", f"https://github.com/{REPO}.git")
        self.checkout.commit("the plugin server at this commit")
        # the repository on GitHub is at that commit: act runs where actions/checkout cloned it
        push(self.checkout, self.ours)

    def commit(self, files: dict[str, str], message: str) -> None:
        """a change merged to main here, and the checkout the run starts from is at it"""
        for rel, text in files.items():
            (self.checkout.path / rel).parent.mkdir(parents=True, exist_ok=True)
            (self.checkout.path / rel).write_text(text)
        self.checkout.commit(message)
        push(self.checkout, self.ours)

    def upstream_merges(self) -> None:
        """upstream merges a change to each plugin and publishes both builds"""
        self.upstream.merge_pull("feat: basic-auth realm", {f"{GO}/basic-auth/VERSION": "1.1.0\n"}, day(4), number=201)
        self.upstream.merge_pull("fix(cpp): key auth", {f"{CPP}/key_auth/VERSION": "1.1.0\n"}, day(3), number=202)
        self.publish("basic-auth", "1.1.0", 3)
        self.publish("key-auth", "1.1.0", 4)

    def dispatch(self, *, dry_run: bool = False, app: bool = False, token: str = TOKEN, plugins: str = "",
                 since: str = "", hourly: bool = False) -> Run:
        """upstream's workflow_dispatch of sync.yml on main (inputs are strings in the event), or
        the hourly schedule (no inputs at all)"""
        inputs = {"plugins": plugins, "since": since, "dry_run": "true" if dry_run else "false",
                  "reason": "oras push plugins/basic-auth:1.1.0"}
        event, payload = "workflow_dispatch", {"ref": "refs/heads/main", "inputs": inputs}
        if hourly:
            assert not (dry_run or plugins or since)
            event, payload = "schedule", {"ref": "refs/heads/main", "schedule": "17 * * * *"}
        variables, secrets = {}, {"GITHUB_TOKEN": token}
        if app:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode()
            self.fake.install_app(APP_ID, public, [REPO])
            variables["PLUGIN_SYNC_APP_ID"] = str(APP_ID)
            secrets["PLUGIN_SYNC_APP_PRIVATE_KEY"] = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
        return self.act.run(self.checkout.path, WORKFLOW, event, payload, job=JOB, variables=variables,
                            secrets=secrets, env={"GITHUB_API_URL": self.fake.url})

    def proposed_lock(self) -> dict[str, list[str]]:
        lock = json.loads(self.ours.files_at("plugin-sync/update")["plugins.lock.json"])
        return {name: sorted(versions) for name, versions in lock["plugins"].items()}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with FakeGitHub(token=TOKEN) as fake:
        w = World(tmp_path, fake)
        w.start()
        yield w


def test_a_dry_run_succeeds_and_writes_nothing(world: World) -> None:
    world.upstream_merges()
    run = world.dispatch(dry_run=True)
    assert run.code == 0 and run.job_result == "success", run.log
    assert run.ran() == steps("GitHub App token", "Propose the gateway release snapshots upstream added",
                              "Fail if a plugin failed to pull"), run.log
    assert set(run.steps.values()) == {"success"}
    assert run.outputs["pull"] == {"status": "0"} and "propose" not in run.outputs  # a dry run sets none
    assert world.fake.writes() == [], world.fake.writes()
    assert world.ours.open_pulls() == []


def test_the_plugins_and_since_inputs_reach_pull_and_detect(world: World) -> None:
    world.upstream_merges()
    run = world.dispatch(plugins="basic-auth", since="#201")
    assert run.code == 0 and run.job_result == "success", run.log
    assert world.proposed_lock() == {"basic-auth": ["1.1.0"], "key-auth": ["1.0.0"]}  # only basic-auth pulled
    [pr] = world.ours.open_pulls()
    body = pr.body or ""
    assert "[#202](" in body and "[#201](" not in body, body  # detected after #201 only


def test_hourly_with_an_app_the_pull_request_is_opened_with_the_app_token(world: World) -> None:
    world.upstream_merges()
    run = world.dispatch(hourly=True, app=True, token=REJECTED)  # GITHUB_TOKEN would fail every call
    assert run.code == 0 and run.job_result == "success", run.log
    assert run.ran() == steps("Propose the gateway release snapshots upstream added",
                              "Fail if a plugin failed to pull"), run.log
    [app] = world.fake.state.apps.values()
    assert app.tokens_issued == [{"repositories": ["plugin-server"],
                                  "permissions": {"contents": "write", "pull_requests": "write"}}]
    [pr] = world.ours.open_pulls()
    assert run.outputs["propose"]["result"] == "created" and run.outputs["propose"]["pull-request"] == str(pr.number)
    assert pr.head == "plugin-sync/update" and pr.labels == ["plugin-sync"]
    assert world.proposed_lock() == {"basic-auth": ["1.1.0"], "key-auth": ["1.1.0"]}
    writes = world.fake.writes()
    assert writes and all(w.authorized for w in writes if not w.path.startswith("/app/"))
    assert not any(w.status == 401 for w in world.fake.log)  # the rejected GITHUB_TOKEN was never used


def test_without_an_app_the_github_token_is_used(world: World) -> None:
    world.upstream_merges()
    run = world.dispatch(token=REJECTED)
    assert run.code != 0 and run.job_result == "failure"
    assert run.steps["Detect upstream changes"] == "failure", run.log
    assert "GitHub App token" not in run.steps and world.fake.state.apps == {}
    assert any(r.status == 401 for r in world.fake.log) and world.ours.open_pulls() == []


def proposed_then_failed(run: Run, world: World) -> None:
    """pull exited 1; the pull request was still proposed; the job failed in its last step"""
    assert run.code != 0 and run.job_result == "failure"
    assert run.outputs["pull"] == {"status": "1"}, run.log
    assert run.ran() == steps("GitHub App token", "Propose the gateway release snapshots upstream added"), run.log
    assert run.steps["Propose the pull request"] == "success", run.log
    assert run.steps["Fail if a plugin failed to pull"] == "failure"
    assert run.outputs["propose"]["result"] == "created", run.log
    assert [p.head for p in world.ours.open_pulls()] == ["plugin-sync/update"]


def test_a_plugin_not_published_yet_fails_the_job_after_the_others_are_proposed(tmp_path: Path) -> None:
    with FakeGitHub(token=TOKEN) as fake:
        world = World(tmp_path, fake)
        world.add_plugin("bot-detect")
        world.start()
        world.upstream_merges()
        run = world.dispatch()
    proposed_then_failed(run, world)
    assert world.proposed_lock() == {"basic-auth": ["1.1.0"], "key-auth": ["1.1.0"]}


def test_one_plugin_failing_from_a_fresh_checkout_proposes_the_others_and_fails_the_job(world: World) -> None:
    world.upstream_merges()
    world.corrupt("key-auth", "1.1.0")
    run = world.dispatch()
    proposed_then_failed(run, world)
    # basic-auth moves on; key-auth keeps its last good state
    assert world.proposed_lock() == {"basic-auth": ["1.1.0"], "key-auth": ["1.0.0"]}


def test_a_snapshot_added_upstream_is_proposed_through_the_gateway_versions_output(world: World) -> None:
    world.commit({"snapshots/SHA256SUMS": ""}, "no snapshot yet")
    world.upstream.merge_pull("release: gateway 2.2.4 plugin snapshot", {SNAPSHOT_PATH: SNAPSHOT}, day(2), number=205)
    run = world.dispatch()
    assert run.code == 0 and run.job_result == "success", run.log
    assert run.outputs["detect"]["gateway-versions"] == "2.2.4"
    assert run.ran() == steps("GitHub App token", "Fail if a plugin failed to pull"), run.log
    [pr] = [p for p in world.ours.open_pulls() if p.head == "plugin-sync/snapshot-2.2.4"]
    results = json.loads(run.outputs["snapshots"]["results"])
    assert results == {"2.2.4": {"result": "created", "pull-request": pr.number, "branch": pr.head}}
    assert world.ours.files_at(pr.head)["snapshots/2.2.4.json"] == SNAPSHOT
