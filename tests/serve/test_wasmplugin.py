"""`plugin-sync wasmplugin`: a WasmPlugin whose url and sha256 load the served module."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from sync.cli import main
from sync.errors import UsageError
from sync.tree import Tree
from sync.wasmplugin import Placement, Served, choose, module_url, placement_of, render
from tests.support.nginx import NginxServer


def _entries(*pairs: tuple[str, str]) -> list[Served]:
    return [Served(n, v, f"/plugins/{n}/{v}/plugin.wasm", hashlib.sha256(f"{n}{v}".encode()).hexdigest())
            for n, v in pairs]


def test_choose_takes_the_highest_semver_by_default() -> None:
    entries = _entries(("a", "1.9.0"), ("a", "1.10.0"), ("a", "2.0.0-rc.1"), ("b", "3.0.0"))
    assert choose(entries, "a", None).version == "1.10.0"  # not a pre-release, not string order
    assert choose(entries, "a", "2.0.0-rc.1").version == "2.0.0-rc.1"
    assert choose(_entries(("c", "latest")), "c", None).version == "latest"


def test_choose_explains_what_is_available() -> None:
    entries = _entries(("a", "1.0.0"), ("a", "2.0.0"), ("b", "1.0.0"))
    with pytest.raises(UsageError, match=r"no plugin 'zzz' in index.json; available: a, b"):
        choose(entries, "zzz", None)
    with pytest.raises(UsageError, match=r"a has no version '3.0.0'; available: 1.0.0, 2.0.0"):
        choose(entries, "a", "3.0.0")
    with pytest.raises(UsageError, match="pass --plugin-version"):
        choose(_entries(("c", "latest"), ("c", "stable")), "c", None)


@pytest.mark.parametrize("base", [
    "http://higress-plugin-server.higress-system.svc",
    "http://higress-plugin-server.higress-system.svc/",
    "http://higress-plugin-server.higress-system.svc/plugins",
    "http://higress-plugin-server.higress-system.svc/plugins/",
])
def test_module_url_accepts_the_server_root_or_its_plugins_path(base: str) -> None:
    served = _entries(("a", "1.0.0"))[0]
    assert module_url(base, served) == "http://higress-plugin-server.higress-system.svc/plugins/a/1.0.0/plugin.wasm"


def test_module_url_keeps_a_path_prefix() -> None:
    served = _entries(("a", "1.0.0"))[0]
    assert module_url("https://cdn.example:8443/mirror", served) == "https://cdn.example:8443/mirror/plugins/a/1.0.0/plugin.wasm"


@pytest.mark.parametrize("base", ["oci://registry/plugins", "higress-plugin-server", "http://", "http://h/?x=1"])
def test_module_url_refuses_what_is_not_an_http_base(base: str) -> None:
    with pytest.raises(UsageError, match="--base-url"):
        module_url(base, _entries(("a", "1.0.0"))[0])


def test_placement_comes_from_the_spec_when_valid() -> None:
    assert placement_of({"spec": {"phase": "AUTHN", "priority": 320}}) == Placement("AUTHN", 320)
    assert placement_of({"spec": {"phase": "EARLY", "priority": "high"}}) == Placement()
    assert placement_of({"spec": {"priority": True}}) == Placement()
    assert placement_of(["not", "a", "spec"]) == Placement()


def test_render_is_a_disabled_wasmplugin_pinned_by_sha256() -> None:
    served = _entries(("my_plugin", "1.0.0"))[0]
    text = render(served, "http://server", placement=Placement("AUTHZ", 5))
    assert text.startswith("# my_plugin 1.0.0")
    doc = yaml.safe_load(text)
    assert doc == {
        "apiVersion": "extensions.higress.io/v1alpha1",
        "kind": "WasmPlugin",
        "metadata": {"name": "my-plugin", "namespace": "higress-system"},
        "spec": {"url": "http://server/plugins/my_plugin/1.0.0/plugin.wasm", "sha256": served.sha256,
                 "imagePullPolicy": "IfNotPresent", "phase": "AUTHZ", "priority": 5,
                 "defaultConfigDisable": True},
    }
    with pytest.raises(UsageError, match="resource name"):
        render(served, "http://server", resource_name="Bad_Name")


def _cli(tree: Tree, *args: str) -> list[str]:
    return ["--root", str(tree.root), "wasmplugin", *args]


def test_cli_prints_the_highest_version_with_index_sha256_and_spec_placement(
        served_tree: Tree, index: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(_cli(served_tree, "basic-auth", "--base-url", "http://higress-plugin-server.higress-system.svc"))
    assert rc == 0
    doc = yaml.safe_load(capsys.readouterr().out)
    want = next(e for e in index if (e["name"], e["version"]) == ("basic-auth", "2.0.0"))
    assert doc["spec"]["url"] == "http://higress-plugin-server.higress-system.svc/plugins/basic-auth/2.0.0/plugin.wasm"
    assert doc["spec"]["sha256"] == want["sha256"]
    assert (doc["spec"]["phase"], doc["spec"]["priority"]) == ("AUTHN", 320)  # from spec.yaml


def test_cli_version_namespace_and_name(served_tree: Tree, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(_cli(served_tree, "my-filter", "--plugin-version", "0.1.0", "--base-url", "http://h:8080",
                   "--namespace", "gw", "--resource-name", "custom"))
    assert rc == 0
    doc = yaml.safe_load(capsys.readouterr().out)
    assert doc["metadata"] == {"name": "custom", "namespace": "gw"}
    assert "phase" not in doc["spec"]  # a hand-placed plugin without spec.yaml


def test_cli_errors_are_one_line_and_exit_2(served_tree: Tree, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = [
        (_cli(served_tree, "nope", "--base-url", "http://h"), "available: basic-auth, key-auth, my-filter"),
        (_cli(served_tree, "key-auth", "--plugin-version", "1.0.0", "--base-url", "http://h"), "available: 2.0.0"),
        (_cli(served_tree, "key-auth", "--base-url", "ftp://h"), "--base-url"),
        (["--root", str(tmp_path), "wasmplugin", "key-auth", "--base-url", "http://h"], "run `plugin-sync pull` first"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    (tmp_path / "index.json").write_text("{not json")
    assert main(["--root", str(tmp_path), "wasmplugin", "x", "--base-url", "http://h"]) == 2
    assert "cannot read it as JSON" in capsys.readouterr().err
    (tmp_path / "index.json").write_text(json.dumps({"plugins": [{"name": "x"}]}))
    assert main(["--root", str(tmp_path), "wasmplugin", "x", "--base-url", "http://h"]) == 2
    assert "lacks" in capsys.readouterr().err


def test_the_printed_url_serves_bytes_matching_the_printed_sha256(
        served_tree: Tree, server: NginxServer, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("basic-auth", "key-auth", "my-filter"):
        assert main(_cli(served_tree, name, "--base-url", server.url)) == 0
        spec = yaml.safe_load(capsys.readouterr().out)["spec"]
        path = spec["url"][len(server.url):]
        r = server.request("GET", path)  # a plain GET, as the gateway's fetcher sends
        assert r.status == 200 and hashlib.sha256(r.body).hexdigest() == spec["sha256"]
