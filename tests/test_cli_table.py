"""The command table: a run imports only the module of the command it runs."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from sync.cli import COMMANDS, build_parser, command_in, modules_for


def _registered(modules: list[str]) -> set[str]:
    sub = next(a for a in build_parser(modules)._actions if isinstance(a, argparse._SubParsersAction))
    return set(sub.choices)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_each_table_entry_names_the_module_that_defines_that_command(command: str) -> None:
    assert _registered([COMMANDS[command]]) == {command}


def test_the_full_parser_has_exactly_the_table_s_commands_in_its_order() -> None:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert list(sub.choices) == list(COMMANDS)


@pytest.mark.parametrize("argv, command", [
    ([], None),
    (["--version"], None),
    (["pull"], "pull"),
    (["--config", "pull", "verify"], "verify"),  # the config file may be called "pull"
    (["--root", "r", "--lock", "l", "-v", "pull", "--locked"], "pull"),
    (["--config=c.yaml", "serve"], "serve"),
    (["-v", "--", "verify"], "verify"),
    (["nosuch"], "nosuch"),
])
def test_the_command_is_the_first_word_that_is_no_option_or_option_value(argv: list[str], command: str | None) -> None:
    assert command_in(argv) == command


def test_help_and_unknown_words_load_every_command_and_version_loads_none() -> None:
    every = list(COMMANDS.values())
    assert modules_for(["--help"]) == every and modules_for(["nosuch"]) == every and modules_for([]) == every
    assert modules_for(["--version"]) == []
    assert modules_for(["--root", "x", "import", "f.properties"]) == ["properties"]


_LOADED = ("import json, sys\nfrom sync.cli import main\n"
           "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
           "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n")


def _loaded(*argv: str) -> set[str]:
    p = subprocess.run([sys.executable, "-c", _LOADED, *argv], capture_output=True, text=True, timeout=60)
    return set(json.loads(p.stderr.strip().splitlines()[-1]))


def test_version_imports_no_command_and_no_http_stack() -> None:
    loaded = _loaded("--version")
    assert not {m for m in loaded if m.startswith(("sync.cli.", "sync.oci", "sync.pull", "requests", "yaml"))}


def test_a_command_imports_only_its_own_module() -> None:
    loaded = {m for m in _loaded("import", "--help") if m.startswith("sync.cli.")}
    assert loaded == {"sync.cli.properties"} | ({"sync.cli.common"} & loaded)
    assert "sync.cli.pull" in _loaded("pull", "--help")
