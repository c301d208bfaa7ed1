"""Input of the wrong type is bad input: exit 2, one line naming what is wrong and what to write,
no traceback, nothing written. YAML numbers where text belongs, numeric ``PLUGIN_SYNC_*``
settings, and lock fields of the wrong type."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sync.config import load_config
from tests.support.locks import entry, lock
from tests.support.workspace import Workspace, assert_no_traceback


COMMANDS = [("pull",), ("pull", "--locked"), ("verify",), ("metadata", "plugins/a/1.0.0")]


def _one_line_exit_2(ws: Workspace, *args: str) -> str:
    r = ws.cli(*args)
    assert r.code == 2, (args, r.code, r.err)
    assert_no_traceback(r)
    assert len(r.err.strip().splitlines()) == 1, r.err
    return r.err.strip()


# -- YAML: tags, versions, digests and ranges are strings ---------------------------------------

@pytest.mark.parametrize("plugin, expect", [
    ("tag: 1.10", 'tag must be a string, not the number 1.1: write tag: "1.10"'),
    ("tag: 2", 'tag must be a string, not the number 2: write tag: "2"'),
    ("tag: 1_0", 'tag must be a string, not the number 10: write tag: "1_0"'),
    ("tag: 1:20", 'tag must be a string, not the number 80: write tag: "1:20"'),  # YAML 1.1 base 60
    ("tag: '2.0.0'\n    versions: [1.10, 1.20]",
     'versions must be strings, not the number 1.1: write versions: ["1.10", "1.20"]'),
    ("tag: '2.0.0'\n    versions: [2.0.0, 1.10]",
     'versions must be strings, not the number 1.1: write versions: ["2.0.0", "1.10"]'),
    ("tag: '2.0.0'\n    versions: 1.10", 'versions must be strings, not the number 1.1: write versions: "1.10"'),
    ("range: 1.10", 'range must be a string, not the number 1.1: write range: "1.10"'),
    ("digest: 1e5\n    versions: ['1']", "digest must look like sha256:<64 hex>"),  # YAML 1.1: text
    ("tag: yes", "tag must be a string, not the boolean true: quote it"),
])
def test_a_yaml_number_where_text_belongs_is_a_config_error(tmp_path: Path, plugin: str, expect: str) -> None:
    ws = Workspace(tmp_path, None)
    ws.config.write_text(f"plugins:\n  a:\n    {plugin}\n")
    err = _one_line_exit_2(ws, "pull")
    assert f"{ws.config}: plugin 'a': {expect}" in err
    assert not ws.root.exists() and not ws.lock_path.exists()


def test_quoted_scalars_are_the_text_written(tmp_path: Path) -> None:
    path = tmp_path / "plugins.yaml"
    path.write_text("plugins:\n  a:\n    tag: '1.10'\n    versions: [\"1.10\", '1.20', 2.0.0]\n"
                    "  b:\n    range: \"1.10\"\n    category: 2025\n  c:\n    tag: '1'\n    category: 1.10\n")
    cfg = load_config(path)
    assert cfg.plugins["a"].source.tag == "1.10" and cfg.plugins["a"].versions == ("1.10", "1.20", "2.0.0")
    assert cfg.plugins["b"].source.range == "1.10" and cfg.plugins["b"].category == "2025"
    assert cfg.plugins["c"].category == "1.10"  # a category is display text: a number keeps its text


# -- numeric settings from the environment ------------------------------------------------------

@pytest.mark.parametrize("name, value, accepts", [
    ("PLUGIN_SYNC_MAX_MODULE_BYTES", "256M", "a whole number of bytes, at least 1"),
    ("PLUGIN_SYNC_MAX_MODULE_BYTES", "0", "a whole number of bytes, at least 1"),
    ("PLUGIN_SYNC_RETRY_ATTEMPTS", "3.0", "a whole number of tries, at least 1"),
    ("PLUGIN_SYNC_RETRY_ATTEMPTS", "-1", "a whole number of tries, at least 1"),
    ("PLUGIN_SYNC_RETRY_BASE", "fast", "a number of seconds, at least 0"),
    ("PLUGIN_SYNC_RETRY_MAX_WAIT", "inf", "a number of seconds, at least 0"),
    ("PLUGIN_SYNC_GITHUB_WRITE_INTERVAL", "-0.5", "a number of seconds, at least 0"),
])
def test_a_bad_numeric_setting_is_exit_2_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str,
                                                   value: str, accepts: str) -> None:
    for command in COMMANDS:
        _bad_setting(tmp_path / "-".join(command).replace("/", "-"), monkeypatch, name, value, accepts, command)


def _bad_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str, accepts: str,
                 command: tuple[str, ...]) -> None:
    tmp_path.mkdir()
    ws = Workspace(tmp_path, None)
    ws.config.write_text("plugins: {}\n")
    monkeypatch.setenv(name, value)
    err = _one_line_exit_2(ws, *command)
    assert f"{name}={value!r}: expected {accepts}" in err
    assert not ws.root.exists() and not ws.lock_path.exists()


def test_good_numeric_settings_are_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sync import artifact
    from sync.retry import RetryPolicy

    monkeypatch.setenv("PLUGIN_SYNC_MAX_MODULE_BYTES", " 1024 ")
    monkeypatch.setenv("PLUGIN_SYNC_RETRY_ATTEMPTS", "3")
    monkeypatch.setenv("PLUGIN_SYNC_RETRY_MAX_WAIT", "2.5")
    monkeypatch.setenv("PLUGIN_SYNC_RETRY_BASE", "")  # empty: the default
    assert artifact.max_module() == 1024  # read when used, not when the module was imported
    assert (RetryPolicy.from_env().attempts, RetryPolicy.from_env().max_wait, RetryPolicy.from_env().base) == (3, 2.5, 0.5)
    ws = Workspace(tmp_path, None)
    ws.config.write_text("plugins: {}\n")
    r = ws.cli("pull")
    assert r.code == 0, r.err


# -- lock fields are type-checked ----------------------------------------------------------------

@pytest.mark.parametrize("field, value, expect", [
    ("created", 5, "field 'created' must be a string, got 5"),
    ("pulled", ["2025"], "field 'pulled' must be a string, got [\"2025\"]"),
    ("pulled", "2025-01-01\nSHA256: x", "field 'pulled' must be one line of printable text"),
    ("category", {"a": 1}, "field 'category' must be a string, got {\"a\": 1}"),
    ("source", 1, "field 'source' must be a string, got 1"),
    ("digest", 7, "field 'digest' must be a string, got 7"),
    ("format", None, "field 'format' must be a string, got null"),
    ("sha256", 12, "field 'sha256' must be a string, got 12"),
    ("size", "12", "field 'size' must be a whole number of bytes, got \"12\""),
    ("size", 12.5, "field 'size' must be a whole number of bytes, got 12.5"),
    ("size", True, "field 'size' must be a whole number of bytes, got true"),
    ("files", ["spec.yaml"], "field 'files' must be an object of file name to sha256"),
])
def test_a_lock_field_of_the_wrong_type_is_exit_2_naming_it(tmp_path: Path, field: str, value: object,
                                                            expect: str) -> None:
    for command in COMMANDS:
        _bad_lock_field(tmp_path / "-".join(command).replace("/", "-"), field, value, expect, command)


def _bad_lock_field(tmp_path: Path, field: str, value: object, expect: str, command: tuple[str, ...]) -> None:
    tmp_path.mkdir()
    ws = Workspace(tmp_path, None)
    ws.config.write_text("plugins: {}\n")
    raw = json.loads(lock({"basic-auth@2.0.0": 1}).dumps())
    raw["plugins"]["basic-auth"]["2.0.0"][field] = value
    ws.lock_path.write_text(json.dumps(raw))
    before = ws.lock_path.read_bytes()
    err = _one_line_exit_2(ws, *command)
    assert f"{ws.lock_path}: basic-auth/2.0.0: {expect}" in err
    assert ws.lock_path.read_bytes() == before
    assert not ws.root.exists() or {p.name for p in ws.root.iterdir()} <= {".lock"}  # the writer's lock at most


def test_a_missing_lock_field_is_named(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, None)
    ws.config.write_text("plugins: {}\n")
    raw = json.loads(lock({"basic-auth@2.0.0": 1}).dumps())
    del raw["plugins"]["basic-auth"]["2.0.0"]["md5"]
    ws.lock_path.write_text(json.dumps(raw))
    assert "basic-auth/2.0.0: field 'md5' must be a string, got null" in _one_line_exit_2(ws, "verify")


def test_a_lock_with_every_optional_field_absent_still_parses() -> None:
    from sync.lock import parse_lock

    e = entry("basic-auth", "2.0.0", 1, pulled=None, created=None, category=None)  # type: ignore[arg-type]
    raw = json.loads(lock({}).dumps())
    raw["plugins"] = {"basic-auth": {"2.0.0": e.to_json()}}
    assert parse_lock(raw).get("basic-auth", "2.0.0") == e
    raw["plugins"]["basic-auth"]["2.0.0"].update(category=None, created=None)  # null: absent
    assert parse_lock(raw).get("basic-auth", "2.0.0") == e
