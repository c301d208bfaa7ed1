"""The install, gateway and troubleshooting docs say what the code does."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from sync.cli import build_parser, main
from sync.tree import Tree

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "docs" / n for n in ("install.md", "configure-gateway.md", "troubleshooting.md")]
PATTERN = "http://higress-plugin-server.higress-system.svc/plugins/${name}/${version}/plugin.wasm"


def _commands(text: str) -> list[str]:
    """Every `plugin-sync ...` command in the docs' code: fenced lines and inline spans."""
    found: list[str] = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.S):
        for line in re.sub(r"\\\n\s*", " ", block).splitlines():
            if line.startswith("plugin-sync "):
                found.append(line.split("#", 1)[0])
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    found += re.findall(r"`(plugin-sync [^`]+)`", prose)
    return found


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_every_plugin_sync_command_in_the_docs_parses(doc: Path) -> None:
    parser = build_parser()
    commands = _commands(doc.read_text())
    assert commands
    names = {a.dest: a for a in parser._actions}["command"].choices  # type: ignore[attr-defined]
    for command in commands:
        words = shlex.split(re.sub(r"<([a-z]+)>", r"\1", command).replace("$S", "http://h"))[1:]
        if len(words) == 1:  # a command named in prose
            assert words[0] in names, command
        else:
            assert parser.parse_args(words).run, command


def test_the_docs_name_serve_and_wasmplugin_commands() -> None:
    text = "\n".join(d.read_text() for d in DOCS)
    assert "plugin-sync serve --host 0.0.0.0 --port 9000" in text
    assert "plugin-sync wasmplugin basic-auth --base-url http://higress-plugin-server.higress-system.svc" in text


def test_the_wasmplugin_example_is_what_the_command_prints(served_tree: Tree, capsys: pytest.CaptureFixture[str]) -> None:
    doc = (REPO / "docs" / "configure-gateway.md").read_text()
    example = re.search(r"```yaml\n(# basic-auth 2\.0\.0.*?)```", doc, re.S)
    assert example
    assert main(["--root", str(served_tree.root), "wasmplugin", "basic-auth",
                 "--base-url", "http://higress-plugin-server.higress-system.svc"]) == 0
    assert capsys.readouterr().out == example.group(1)


def test_the_url_pattern_is_the_one_the_chart_prints() -> None:
    import helm_python as helm

    with helm.Chart.load(REPO / "charts" / "higress-plugin-server") as chart:
        notes = next(t for p, t in chart.render(None, name="x", namespace="higress-system").items()
                     if p.endswith("NOTES.txt"))
    assert PATTERN in notes
    assert PATTERN in (REPO / "docs" / "configure-gateway.md").read_text()
    assert "HIGRESS_ADMIN_WASM_PLUGIN_CUSTOM_IMAGE_URL_PATTERN" in (REPO / "docs" / "configure-gateway.md").read_text()


def test_the_chart_defaults_in_install_md_are_the_values() -> None:
    values = yaml.safe_load((REPO / "charts" / "higress-plugin-server" / "values.yaml").read_text())
    text = (REPO / "docs" / "install.md").read_text()
    a = values["autoscaling"]
    assert f"| off, {a['minReplicas']}, {a['maxReplicas']}, {a['targetCPUUtilizationPercentage']} |" in text
    assert f"| `replicas` | {values['replicas']} |" in text
    assert f"| {values['podDisruptionBudget']['minAvailable']} | pods kept during node drains" in text


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_relative_links_resolve_and_no_machine_paths(doc: Path) -> None:
    text = doc.read_text()
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
        assert (doc.parent / target).exists(), target
    assert not re.search(r"(^|\s)/(home|root|Users)/", text)  # no machine-specific paths


def test_install_doc_verifies_with_the_identity_the_release_signs_with() -> None:
    """The user-side cosign commands and Kyverno policy name the release workflow's exact
    signer and issuer, and check the attestation types the release attaches."""
    from sync.release.notes import ATTESTATIONS, OIDC_ISSUER, RELEASE_REF, RELEASE_WORKFLOW

    text = (REPO / "docs" / "install.md").read_text()
    identity = f"https://github.com/OWNER/REPO/{RELEASE_WORKFLOW}@{RELEASE_REF}"
    assert f"--certificate-identity {identity}" in text and f"--certificate-oidc-issuer {OIDC_ISSUER}" in text
    assert set(re.findall(r"cosign verify-attestation --type (\w+)", text)) == set(ATTESTATIONS)
    [policy] = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if "ClusterPolicy" in b]
    [verify] = policy["spec"]["rules"][0]["verifyImages"]
    keyless = [verify["attestors"][0]["entries"][0]["keyless"]]
    keyless += [a["attestors"][0]["entries"][0]["keyless"] for a in verify["attestations"]]
    assert {(k["subject"], k["issuer"]) for k in keyless} == {(identity, OIDC_ISSUER)}
    # cosign's names for the predicate types the release attests
    assert {a["type"] for a in verify["attestations"]} == {"https://slsa.dev/provenance/v0.2", "https://spdx.dev/Document"}
