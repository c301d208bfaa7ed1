"""The Helm chart is a release artifact: ``plugin-sync release --chart`` sets its version,
appVersion and revision annotation; the real Helm SDK packages it and pushes it to a real
registry, where ``tag-check`` finds the revision in the pushed manifest's annotations."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Iterator

import helm_python as helm
import pytest
import yaml

from sync.cli import main
from sync.errors import UsageError
from sync.release.chart import REVISION, released_chart
from tests.support.git import GitRepo
from tests.support.locks import lock
from tests.support.registry import Registry, running_registry

CHART = Path(__file__).resolve().parents[2] / "charts" / "higress-plugin-server"
pytestmark = pytest.mark.usefixtures("git_env")


def test_released_chart_sets_both_versions_and_the_revision() -> None:
    text = (CHART / "Chart.yaml").read_text()
    out = yaml.safe_load(released_chart(text, "1.4.0", "abc123"))
    before = yaml.safe_load(text)
    assert out["version"] == out["appVersion"] == "1.4.0"
    assert out["annotations"][REVISION] == "abc123"
    assert {k: v for k, v in out.items() if k not in ("version", "appVersion", "annotations")} == \
        {k: v for k, v in before.items() if k not in ("version", "appVersion", "annotations")}


def test_released_chart_keeps_other_annotations() -> None:
    out = yaml.safe_load(released_chart("name: x\nversion: 0.1.0\nannotations:\n  a: b\n", "2.0.0", "r"))
    assert out["annotations"] == {"a": "b", REVISION: "r"}


@pytest.mark.parametrize("text", ["name: [x", "- a\n- b\n", "version: 1\n", "name: x\nannotations: [1]\n"])
def test_a_broken_chart_file_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError):
        released_chart(text, "1.0.0", "r")


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    r = GitRepo(tmp_path / "plugin-server")
    r.write("plugins.yaml", "schemaVersion: 1\nplugins: {}\n")
    r.write_lock(lock({"basic-auth@2.0.0": 1}))
    shutil.copytree(CHART, r.path / "charts" / "higress-plugin-server")
    r.commit("initial")
    monkeypatch.chdir(r.path)
    return r


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[Registry]:
    with running_registry() as reg:
        yield reg


def test_release_sets_the_chart_then_helm_packages_and_pushes_it(repo: GitRepo, registry: Registry, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    head = repo.head()
    assert main(["release", "--release-version", "1.4.0", "--chart", "charts/higress-plugin-server"]) == 0
    chart_file = repo.path / "charts" / "higress-plugin-server" / "Chart.yaml"
    meta = yaml.safe_load(chart_file.read_text())
    assert (meta["version"], meta["appVersion"], meta["annotations"][REVISION]) == ("1.4.0", "1.4.0", head)

    archive = helm.package(chart_file.parent, destination=tmp_path)
    assert Path(archive).name == "higress-plugin-server-1.4.0.tgz"
    helm.push(archive, f"oci://{registry.host}/charts", plain_http=True)
    capsys.readouterr()

    ref = f"{registry.host}/charts/higress-plugin-server:1.4.0"
    assert main(["tag-check", ref, "--plain-http", "--label", f"{REVISION}={head}"]) == 0
    assert capsys.readouterr().out.startswith("skip: ")
    assert main(["tag-check", ref, "--plain-http", "--label", f"{REVISION}={'0' * 40}"]) == 1


def test_no_release_leaves_the_chart_alone(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    repo.tag("v1.0.0")
    before = (repo.path / "charts" / "higress-plugin-server" / "Chart.yaml").read_text()
    assert main(["release", "--chart", "charts/higress-plugin-server"]) == 0
    assert "no release" in capsys.readouterr().out
    assert (repo.path / "charts" / "higress-plugin-server" / "Chart.yaml").read_text() == before


def test_a_missing_chart_is_exit_2(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["release", "--release-version", "1.4.0", "--chart", "nowhere"]) == 2
    assert "no Chart.yaml there" in capsys.readouterr().err
