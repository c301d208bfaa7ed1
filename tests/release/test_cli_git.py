"""``plugin-sync release`` over real git repositories made by the tests: the lock at the last
``vX.Y.Z`` tag against HEAD, the changed paths, the outputs for GitHub Actions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sync.cli import main
from sync.release import gitrepo
from tests.support.git import GitRepo
from tests.support.locks import lock

pytestmark = pytest.mark.usefixtures("git_env")
BASE = {"basic-auth@2.0.0": 1, "key-auth@2.0.0": 1}
CONFIG = "schemaVersion: 1\nplugins:\n  basic-auth:\n    source: plugins/basic-auth:2.0.0\n"


def parse_outputs(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    lines = iter(path.read_text().splitlines())
    for line in lines:
        if "<<" in line:
            name, delim = line.split("<<", 1)
            body = []
            for more in lines:
                if more == delim:
                    break
                body.append(more)
            out[name] = "\n".join(body)
        else:
            name, value = line.split("=", 1)
            out[name] = value
    return out


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    r = GitRepo(tmp_path / "plugin-server")
    r.write("plugins.yaml", CONFIG)
    r.write_lock(lock(BASE))
    r.write("Dockerfile", "FROM scratch\n")
    r.write("README.md", "# plugin server\n")
    r.commit("initial")
    monkeypatch.chdir(r.path)
    return r


def release(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any] | str, str]:
    code = main(["release", *args])
    cap = capsys.readouterr()
    if "--json" in args and code == 0:
        return code, json.loads(cap.out), cap.err
    return code, cap.out, cap.err


def test_first_release_is_1_0_0(repo: GitRepo, capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    out_file, summary = tmp_path / "out", tmp_path / "summary"
    monkeypatch.setenv("GITHUB_OUTPUT", str(out_file))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, doc, _ = release(capsys, "--json", "--image", "registry.example:5000/higress/plugin-server")
    assert code == 0
    assert isinstance(doc, dict)
    assert doc["release"] is True and doc["version"] == "1.0.0" and doc["previous"] is None
    assert doc["track"] == "rolling"  # the lock's own semver, never a gateway version's tags
    assert doc["tags"] == ["rolling-1.0.0", "rolling-1.0", "rolling-1", "rolling-latest"]
    assert doc["images"][0] == "registry.example:5000/higress/plugin-server:rolling-1.0.0"
    assert "| `basic-auth` | `2.0.0` | added |" in doc["notes"]
    outputs = parse_outputs(out_file)
    assert outputs["release"] == "true" and outputs["version"] == "1.0.0" and outputs["tag"] == "v1.0.0"
    assert outputs["tags"] == "rolling-1.0.0,rolling-1.0,rolling-1,rolling-latest" and outputs["track"] == "rolling"
    assert outputs["images"].split(",")[-1] == "registry.example:5000/higress/plugin-server:rolling-latest"
    assert outputs["prerelease"] == "false" and outputs["latest"] == "true"
    assert "## plugin-server 1.0.0" in summary.read_text()


def test_added_plugin_after_a_tag_is_minor(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    repo.tag("v1.0.0", annotated=True)
    repo.write_lock(lock({**BASE, "hmac-auth@1.0.0": 1}))
    repo.write("docs/hmac.md", "notes\n")
    repo.commit("add hmac-auth")
    code, out, _ = release(capsys)
    assert code == 0
    assert isinstance(out, str)
    assert out.splitlines()[0] == "release 1.1.0 (minor, after v1.0.0)"
    assert "minor  added hmac-auth 1.0.0" in out
    assert "tags: rolling-1.1.0 rolling-1.1 rolling-1 rolling-latest" in out
    assert "docs/hmac.md" not in out


def test_removed_and_changed_since_the_tag(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    repo.tag("v1.4.2")
    repo.write_lock(lock({"basic-auth@2.0.0": 2}))
    repo.commit("drop key-auth, rebuild basic-auth")
    repo.write("nginx/default.conf", "server {}\n")
    repo.commit("server config")
    code, doc, _ = release(capsys, "--json")
    assert code == 0 and isinstance(doc, dict)
    assert doc["version"] == "2.0.0" and doc["level"] == "major" and doc["previous"] == "v1.4.2"
    assert [r["text"] for r in doc["reasons"]] == [
        "removed key-auth 2.0.0", "content changed basic-auth 2.0.0", "nginx/default.conf changed"]


def test_nothing_shipped_is_no_release(repo: GitRepo, capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    out_file = tmp_path / "out"
    monkeypatch.setenv("GITHUB_OUTPUT", str(out_file))
    repo.tag("v1.0.0")
    repo.write("docs/pipelines.md", "how\n")
    repo.commit("docs")
    # uncommitted changes do not count: the release is of HEAD
    repo.write_lock(lock({"basic-auth@2.0.0": 1}))
    code, out, _ = release(capsys)
    assert code == 0
    assert out == "no release: nothing that ships changed since v1.0.0 (1 changed, none ships: docs/pipelines.md)\n"
    outputs = parse_outputs(out_file)
    assert outputs["release"] == "false" and outputs["version"] == "" and outputs["tags"] == ""


def test_head_already_released(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    repo.tag("v1.0.0")
    repo.write("Dockerfile", "FROM scratch\nUSER 101\n")
    repo.commit("user")
    repo.tag("v1.0.1")
    code, out, _ = release(capsys)
    assert (code, out) == (0, "no release: HEAD is already released as v1.0.1\n")
    # publishing that version again is allowed, against the release before it
    code, doc, _ = release(capsys, "--json", "--release-version", "1.0.1")
    assert code == 0 and isinstance(doc, dict)
    assert (doc["version"], doc["previous"]) == ("1.0.1", "v1.0.0")
    assert [r["text"] for r in doc["reasons"]] == ["Dockerfile changed"]


def test_lock_missing_at_the_tag_is_empty(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    repo.git("rm", "-q", "plugins.lock.json")
    repo.commit("no lock yet")
    repo.tag("v0.1.0")
    repo.write_lock(lock(BASE))
    repo.commit("lock")
    code, doc, _ = release(capsys, "--json")
    assert code == 0 and isinstance(doc, dict)
    assert doc["version"] == "0.2.0" and doc["tags"] == ["rolling-0.2.0", "rolling-0.2", "rolling-latest"]


@pytest.mark.parametrize("args,message", [
    (("--release-version", "2.1"), "invalid --release-version '2.1'"),
    (("--release-version", "0.9.0"), "does not increase on the last release v1.0.0"),
    (("--release-version", "1.0.0"), "tag v1.0.0 already exists at commit"),
    (("--release-version", "2.0.0", "--bump", "minor"), "use --bump or --release-version, not both"),
    (("--bump", "huge"), "invalid choice: 'huge'"),
    (("--image", "registry.example/plugin-server:1.0"), "without a tag"),
    (("--image-digest", "sha256:abc"), "expected sha256: and 64 hex digits"),
    (("--publish",), "--publish needs --repo OWNER/REPO"),
])
def test_bad_input_exits_2_in_one_line(repo: GitRepo, capsys: pytest.CaptureFixture[str],
                                       args: tuple[str, ...], message: str) -> None:
    repo.tag("v1.0.0")
    repo.write("Dockerfile", "FROM scratch\nUSER 101\n")
    repo.commit("change")
    if args[0] == "--bump":
        with pytest.raises(SystemExit) as e:
            main(["release", *args])
        code, err = e.value.code, capsys.readouterr().err
    else:
        code, _, err = release(capsys, *args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    if args[0] == "--bump":  # argparse: the usage, then one error line
        assert lines[-1].startswith("plugin-sync release: error: argument --bump")
    else:
        assert lines == [lines[0]] and lines[0].startswith("plugin-sync: error: ")


def test_bad_lock_at_the_tag_is_named(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    repo.write("plugins.lock.json", "{not json")
    repo.commit("broken")
    repo.tag("v1.0.0")
    repo.write_lock(lock(BASE))
    repo.commit("fixed")
    code, _, err = release(capsys)
    assert code == 2
    assert err.startswith("plugin-sync: error: plugins.lock.json at v1.0.0: not valid JSON")


def test_not_a_checkout_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    code, _, err = release(capsys)
    assert code == 2 and "not inside a git checkout" in err


def test_history_splits_tags_reachable_from_head(repo: GitRepo) -> None:
    first = repo.head()
    repo.tag("v1.0.0", annotated=True)
    repo.git("checkout", "-q", "-b", "next")
    repo.write("Dockerfile", "FROM scratch\nUSER 101\n")
    nxt = repo.commit("next")
    repo.tag("v2.0.0")
    repo.tag("not-a-release")
    repo.tag("v3.0")
    repo.git("checkout", "-q", "main")
    h = gitrepo.release_history(repo.path)
    assert h.head == first
    assert [(str(r.version), r.commit) for r in h.merged] == [("1.0.0", first)]
    assert [(str(r.version), r.commit) for r in h.others] == [("2.0.0", nxt)]


def test_maintenance_release_does_not_move_latest(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    repo.tag("v1.4.2")
    repo.git("checkout", "-q", "-b", "next")
    repo.write_lock(lock({"basic-auth@2.0.0": 1}))
    repo.commit("breaking")
    repo.tag("v2.0.0")
    repo.git("checkout", "-q", "main")
    repo.write("nginx/default.conf", "server {}\n")
    repo.commit("fix config")
    code, doc, _ = release(capsys, "--json")
    assert code == 0 and isinstance(doc, dict)
    assert doc["version"] == "1.4.3" and doc["tags"] == ["rolling-1.4.3", "rolling-1.4", "rolling-1"] and doc["latest"] is False


def test_config_in_a_subdirectory(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    repo.tag("v1.0.0")
    repo.write("deploy/plugins.yaml", CONFIG)
    repo.write_lock(lock({"basic-auth@2.0.0": 1}), "deploy/plugins.lock.json")
    repo.commit("second config")
    code, out, _ = main(["--config", "deploy/plugins.yaml", "--root", "deploy/plugins", "release"]), \
        capsys.readouterr().out, None
    assert code == 0
    # against an absent lock at the tag, the plugin is added
    assert "minor  added basic-auth 2.0.0" in out
    assert "patch  deploy/plugins.yaml changed" in out


def test_notes_file(repo: GitRepo, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    notes = tmp_path / "notes.md"
    code, doc, _ = release(capsys, "--json", "--notes", str(notes))
    assert code == 0 and isinstance(doc, dict)
    assert notes.read_text() == doc["notes"]

