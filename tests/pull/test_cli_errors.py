"""Bad input: one clear line, exit 2, no traceback, nothing written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.workspace import Workspace, assert_no_traceback


@pytest.mark.parametrize(
    "yaml_text, expect",
    [
        ("plugins:\n  Bad_Name:\n    tag: 1.0.0\n", "invalid plugin name 'Bad_Name'"),
        ("plugins:\n  a:\n    tag: 1.0.0\n    versions: ['../x']\n", "plugin 'a': invalid version '../x'"),
        ("plugins:\n  a:\n    range: '>=banana'\n", "plugin 'a': bad range"),
        ("plugins:\n  a:\n    digest: sha256:abc\n    versions: [1.0.0]\n", "plugin 'a': digest must look like"),
        ("plugins:\n  a:\n    colour: blue\n    tag: 1.0.0\n", "plugin 'a': unknown key(s): colour"),
        ("plugins:\n  a: {}\n", "plugin 'a': needs a tag, a digest or a range"),
        ("plugins:\n  a:\n    source: ftp://x/y:1\n", "plugin 'a': unsupported source scheme"),
        ("plugins: [\n", "not valid YAML at line"),
        ("- just\n- a list\n", "expected a mapping at the top level"),
    ],
)
def test_config_errors_name_file_plugin_problem(tmp_path: Path, yaml_text: str, expect: str) -> None:
    ws = Workspace(tmp_path, None)
    ws.config.write_text(yaml_text)
    r = ws.cli("pull")
    assert r.code == 2, r.err
    assert_no_traceback(r)
    assert str(ws.config) in r.err and expect in r.err
    assert len(r.err.strip().splitlines()) == 1
    assert not ws.root.exists() and not ws.lock_path.exists()


def test_usage_errors(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, None)
    ws.config.write_text("plugins:\n  a:\n    tag: 1.0.0\n")
    for args, expect in [
        (("pull", "--jobs", "0"), "must be between 1 and 256"),
        (("pull", "nope"), "not in"),
        (("pull", "--registry", "bad host!"), "invalid registry host"),
        (("pull", "--locked", "a"), "takes no plugin names"),
        (("frobnicate",), "invalid choice"),
    ]:
        r = ws.cli(*args)
        assert r.code == 2, (args, r.err)
        assert expect in r.err, (args, r.err)
        assert_no_traceback(r)


def test_missing_config_and_bad_lock(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, None)
    r = ws.cli("pull")
    assert r.code == 2 and "no such file" in r.err
    ws.config.write_text("plugins: {}\n")
    ws.lock_path.write_text("{not json")
    r = ws.cli("pull")
    assert r.code == 2 and "plugins.lock.json: not valid JSON" in r.err
    assert_no_traceback(r)


def test_import_reference_lists(tmp_path: Path) -> None:
    import yaml

    from sync.config import load_config

    ref = Path(__file__).resolve().parents[2] / "samples" / "reference"
    ws = Workspace(tmp_path, None)
    for name, count in (("higress-console", 52), ("plugin-server", 43)):
        out = tmp_path / f"{name}.yaml"
        r = ws.cli("import", str(ref / f"{name}.plugins.properties"), "-o", str(out))
        assert r.code == 0, r.err
        cfg = load_config(out)
        assert len(cfg.plugins) == count
        jc = cfg.plugins["json-converter"].source
        assert jc.repository == "plugins/jsonrpc-converter"
        assert cfg.plugins["basic-auth"].category == "Auth"
        assert cfg.plugins["ai-proxy"].category == "AI"
        assert "Copyright" not in yaml.safe_dump([s.category for s in cfg.plugins.values()])
        assert cfg.name_for_upstream_dir("jsonrpc-converter") == "json-converter"
    old = load_config(tmp_path / "plugin-server.yaml")
    assert old.plugins["mcp-server"].source.repository == "mcp-server/all-in-one"
    assert old.plugins["mcp-server"].source.tag == "2.0.0"
    bad = tmp_path / "bad.properties"
    bad.write_text("# x\n\nno-equals-sign-here\n")
    r = ws.cli("import", str(bad))
    assert r.code == 2 and "line 3" in r.err


@pytest.mark.parametrize("missing", ["sync.cli.detect", "sync.propose.cursor"])
def test_a_missing_module_is_a_loud_packaging_error(missing: str) -> None:
    """A command module left out of the package, or a dependency not installed, is not hidden
    as a missing subcommand: every command fails with one line naming what is missing."""
    code = (f"import sys; sys.modules[{missing!r}] = None\n"
            "from sync.cli import main\n"
            "sys.exit(main(['--help']))\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "Traceback" not in p.stderr and p.stdout == ""
    assert p.stderr.startswith("plugin-sync: internal error: command 'detect' cannot be loaded"), p.stderr
    assert missing in p.stderr and "broken installation" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def test_every_command_help_is_plain_text_with_one_usage(capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from sync.cli import build_parser, main

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert len(sub.choices) >= 10
    for name in sub.choices:
        with pytest.raises(SystemExit) as e:
            main([name, "--help"])
        out = capsys.readouterr().out
        assert e.value.code == 0
        assert "``" not in out, (name, out)
        assert out.count("usage:") == 1 and out.count(f"plugin-sync {name} [") == 1, (name, out)


@pytest.mark.parametrize("args, expect", [
    (("release", "--version", "2.1.0"), "--version is the program's version flag; use --release-version 2.1.0"),
    (("wasmplugin", "a", "--version", "1.0.0", "--base-url", "http://h"),
     "--version is the program's version flag; use --plugin-version 1.0.0"),
])
def test_the_old_version_option_of_a_command_is_refused_with_its_new_name(
        tmp_path: Path, args: tuple[str, ...], expect: str) -> None:
    r = Workspace(tmp_path, None).cli(*args)
    assert r.code == 2 and expect in r.err, r.err
    assert_no_traceback(r)
    v = Workspace(tmp_path, None).cli("--version")
    assert v.code == 0 and v.out.startswith("plugin-sync ")
