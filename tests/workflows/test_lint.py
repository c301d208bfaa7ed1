"""actionlint and zizmor (offline) over every workflow: no finding at all from actionlint, and
none at all from zizmor with its "pedantic" persona (every severity and confidence, the
"auditor" persona's findings included). ruff and vermin over the package: nothing newer than
Python 3.10, the oldest Python it supports. mypy, strict, over the package: no error.
import-linter over the package: no layer imports
one above it, no package imports in a circle (the contracts are in pyproject.toml)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.workflows.workflows import NAMES, ROOT, WORKFLOWS, run_tool, tool


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


def _lint_imports(package_parent: Path, config: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(package_parent), "NO_COLOR": "1"}
    return subprocess.run([tool("lint-imports"), "--no-logo", "--no-cache", str(config)], cwd=package_parent,
                          env=env, capture_output=True, text=True, timeout=300)


def test_import_linter_contracts_are_kept() -> None:
    proc = _lint_imports(ROOT, ROOT / "pyproject.toml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 kept, 0 broken" in proc.stdout, proc.stdout


def test_import_linter_does_report_an_upward_import_and_a_cycle(tmp_path: Path) -> None:
    """The contracts above are not vacuous: the tree importing the catalog breaks both the
    layers (the tree sits below the catalog) and the acyclic packages (the catalog imports
    the tree)."""
    shutil.copytree(ROOT / "sync", tmp_path / "sync", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    store = tmp_path / "sync" / "tree" / "store.py"
    store.write_text(store.read_text(encoding="utf-8") + "\nfrom sync.catalog import write_catalog  # noqa: E402\n",
                     encoding="utf-8")
    proc = _lint_imports(tmp_path, tmp_path / "pyproject.toml")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "layers BROKEN" in proc.stdout and "no package cycles BROKEN" in proc.stdout, proc.stdout
    assert "sync.tree.store -> sync.catalog" in proc.stdout, proc.stdout


def test_mypy_strict_finds_nothing_in_the_package() -> None:
    """``[tool.mypy]`` in pyproject.toml: strict, on sync/, as Python 3.10 sees it."""
    proc = run_tool("mypy", "--no-incremental", "--cache-dir", "/dev/null")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success: no issues found" in proc.stdout, proc.stdout


def test_mypy_does_report_an_untyped_function_and_a_wrong_type(tmp_path: Path) -> None:
    """The check above is not vacuous: strict mode refuses what the package must not hold."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f(x):\n    return x\n\n\ndef g() -> int:\n    return 'a'\n")
    proc = run_tool("mypy", "--strict", "--no-incremental", "--cache-dir", "/dev/null", str(bad))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "[no-untyped-def]" in proc.stdout and "[return-value]" in proc.stdout, proc.stdout
