"""actionlint and zizmor (offline) over every workflow: no finding at all from actionlint, and
none at all from zizmor with its "pedantic" persona (every severity and confidence, the
"auditor" persona's findings included). ruff and vermin over the package: nothing newer than
Python 3.10, the oldest Python it supports."""

from __future__ import annotations

import json

import pytest

from tests.workflows.workflows import NAMES, WORKFLOWS, run_tool


def test_the_workflows_exist() -> None:
    assert sorted(p.name for p in WORKFLOWS.glob("*.yml")) == sorted(NAMES)


def test_actionlint_finds_nothing() -> None:
    proc = run_tool("actionlint", "-no-color", *(str(WORKFLOWS / n) for n in NAMES))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == ""


def test_actionlint_does_report_a_broken_workflow(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The check above is not vacuous: a bad expression is reported."""
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n"
                   "      - run: echo ${{ github.nope.nope }}\n")
    proc = run_tool("actionlint", "-no-color", str(bad))
    assert proc.returncode == 1 and "nope" in proc.stdout


@pytest.mark.parametrize("persona", ["pedantic", "auditor"])
def test_zizmor_offline_finds_nothing(persona: str) -> None:
    proc = run_tool("zizmor", "--offline", "--persona", persona, "--format", "json",
                    *(str(WORKFLOWS / n) for n in NAMES))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    findings = json.loads(proc.stdout or "[]")
    assert findings == [], json.dumps(findings, indent=1)[:4000]


def test_zizmor_does_report_an_unsafe_workflow(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The check above is not vacuous: template injection and an unpinned action are found."""
    bad = tmp_path / "bad.yml"
    bad.write_text("on: issues\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n"
                   "      - uses: actions/checkout@v4\n"
                   "      - run: echo \"${{ github.event.issue.title }}\"\n")
    proc = run_tool("zizmor", "--offline", "--min-severity", "medium", "--format", "json", str(bad))
    idents = {f["ident"] for f in json.loads(proc.stdout)}
    assert {"template-injection", "unpinned-uses"} <= idents


def test_ruff_finds_nothing_in_the_package() -> None:
    proc = run_tool("ruff", "check", "--no-cache", "sync")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_vermin_finds_nothing_newer_than_python_310_in_the_package() -> None:
    proc = run_tool("vermin", "-t=3.10-", "--violations", "--eval-annotations", "--no-tips", "sync")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_and_vermin_do_report_what_python_310_lacks(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The checks above are not vacuous: 3.11 syntax fails ruff, 3.11 library calls fail vermin."""
    syntax = tmp_path / "syntax.py"
    syntax.write_text("try:\n    pass\nexcept* ValueError:\n    pass\n")
    proc = run_tool("ruff", "check", "--no-cache", "--config", "pyproject.toml", str(syntax))
    assert proc.returncode == 1 and "Python 3.11" in proc.stdout, proc.stdout + proc.stderr
    library = tmp_path / "library.py"
    library.write_text("import tomllib\nfrom typing import Self\n\nprint(tomllib, Self)\n")
    proc = run_tool("vermin", "-t=3.10-", "--violations", "--eval-annotations", "--no-tips", str(library))
    assert proc.returncode == 1 and "'tomllib' module requires" in proc.stdout, proc.stdout + proc.stderr


def test_the_pedantic_persona_reports_what_the_default_one_lets_pass(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Pedantic is stricter: a write grant without a comment and a workflow without a
    concurrency group pass the default persona and are findings here."""
    lax = tmp_path / "lax.yml"
    lax.write_text("name: lax\non: push\npermissions: {}\njobs:\n  a:\n    name: a\n    runs-on: ubuntu-24.04\n"
                   "    permissions:\n      contents: write\n    steps:\n      - run: echo hi\n")
    default = run_tool("zizmor", "--offline", "--format", "json", str(lax))
    pedantic = run_tool("zizmor", "--offline", "--persona", "pedantic", "--format", "json", str(lax))
    assert json.loads(default.stdout or "[]") == []
    assert {"undocumented-permissions", "concurrency-limits"} <= {f["ident"] for f in json.loads(pedantic.stdout)}
