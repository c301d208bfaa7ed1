"""actionlint and zizmor (offline) over every workflow: no finding at all from actionlint, and
none at all from zizmor with its "pedantic" persona (every severity and confidence, the
"auditor" persona's findings included)."""

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
