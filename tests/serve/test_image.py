"""The Dockerfile: hadolint finds nothing, and what the image does agrees with nginx.conf,
the tree layout, the CLI and the Helm chart. (No Docker engine here: the build itself runs
in the release workflow; everything it relies on is checked here.)"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sync.cli import build_parser
from sync.serve import IMAGE_PORT, IMAGE_ROOT, IMAGE_RUN_DIR

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
CONF = (REPO / "nginx" / "nginx.conf").read_text()
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


@dataclass
class Stage:
    base: str
    name: str | None
    platform: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, op: str) -> list[str]:
        return [args for o, args in self.instructions if o == op]

    def last(self, op: str) -> str:
        found = self.all(op)
        assert found, f"no {op} in stage {self.name or self.base}"
        return found[-1]


def _instructions(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    current = ""
    for line in text.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if current and line.lstrip().startswith("#"):
            continue  # a comment inside a continued instruction
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        current += line
        op, _, args = current.strip().partition(" ")
        out.append((op.upper(), args.strip()))
        current = ""
    return out


def _parse() -> tuple[dict[str, str], list[Stage]]:
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for op, args in _instructions(DOCKERFILE.read_text()):
        if op == "FROM":
            words = args.split()
            platform = next((w.split("=", 1)[1] for w in words if w.startswith("--platform=")), None)
            words = [w for w in words if not w.startswith("--")]
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(words[0], name, platform))
        elif not stages and op == "ARG":
            key, _, value = args.partition("=")
            global_args[key] = value
        elif stages:
            stages[-1].instructions.append((op, args))
    return global_args, stages


GLOBAL_ARGS, STAGES = _parse()
BUILDER, RUNTIME = STAGES if len(STAGES) == 2 else (None, None)


def _exec_form(args: str) -> list[str]:
    return list(json.loads(args))


def test_hadolint_finds_nothing() -> None:
    done = subprocess.run(["hadolint", "-f", "json", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout) == []


def test_two_stages_on_base_images_pinned_by_digest() -> None:
    assert BUILDER is not None and RUNTIME is not None
    assert BUILDER.name == "builder" and BUILDER.platform == "$BUILDPLATFORM"  # built once, natively
    for stage in STAGES:
        ref = stage.base
        m = re.fullmatch(r"\$\{(\w+)\}", ref)
        if m:
            ref = GLOBAL_ARGS[m.group(1)]
        assert DIGEST.search(ref), f"{ref} is not pinned by digest"
    assert "nginx-unprivileged" in GLOBAL_ARGS["NGINX_IMAGE"]
    assert "refresh" in DOCKERFILE.read_text()  # the comment says how to renew the pins


def test_runtime_has_no_python_and_runs_as_the_unprivileged_user() -> None:
    assert RUNTIME is not None
    runtime_text = " ".join(args for _, args in RUNTIME.instructions)
    assert not re.search(r"\b(pip|python3?|apk add|apt-get)\b", runtime_text)
    copies_from = [a for a in RUNTIME.all("COPY") if a.startswith("--from=")]
    assert copies_from == [f"--from=builder /build/plugins {IMAGE_ROOT}"]  # only the tree crosses over
    user = RUNTIME.last("USER")
    assert user.isdigit() and int(user) != 0
    # every RUN of the runtime stage happens before the final USER switch
    last_user = max(i for i, (op, _) in enumerate(RUNTIME.instructions) if op == "USER")
    assert all(i < last_user for i, (op, _) in enumerate(RUNTIME.instructions) if op == "RUN")


def test_runtime_config_paths_and_port_agree_with_nginx_conf() -> None:
    assert RUNTIME is not None
    assert "nginx/nginx.conf /etc/nginx/nginx.conf" in RUNTIME.all("COPY")
    entry = _exec_form(RUNTIME.last("ENTRYPOINT"))
    assert entry[0] == "nginx" and entry[entry.index("-c") + 1] == "/etc/nginx/nginx.conf"
    assert "-g" not in entry  # `daemon off` lives in the config; a second one would be an error
    assert re.search(r"^daemon off;$", CONF, re.M)
    assert _exec_form(RUNTIME.last("CMD")) == []
    assert RUNTIME.last("EXPOSE") == str(IMAGE_PORT)
    assert re.search(rf"^\s*listen {IMAGE_PORT};$", CONF, re.M)
    assert f"alias {IMAGE_ROOT}/;" in CONF
    # the one writable directory exists and belongs to the runtime user
    run_dir = [a for a in RUNTIME.all("RUN") if IMAGE_RUN_DIR in a]
    assert run_dir and f"-o {RUNTIME.last('USER')}" in run_dir[0]
    assert f"pid {IMAGE_RUN_DIR}/nginx.pid;" in CONF


def test_healthcheck_asks_readiness_on_the_served_port() -> None:
    assert RUNTIME is not None
    check = RUNTIME.last("HEALTHCHECK")
    assert "--interval=" in check and "--timeout=" in check
    cmd = _exec_form(check.split("CMD", 1)[1].strip())
    assert cmd[0] == "curl" and "-f" in "".join(a for a in cmd if a.startswith("-") and not a.startswith("--"))
    assert cmd[-1] == f"http://127.0.0.1:{IMAGE_PORT}/readyz"
    assert "location = /readyz" in CONF


def test_oci_labels_come_from_build_arguments() -> None:
    assert RUNTIME is not None
    labels = dict(re.findall(r'(org\.opencontainers\.image\.\w+)="([^"]*)"', " ".join(RUNTIME.all("LABEL"))))
    args = {a.partition("=")[0] for a in RUNTIME.all("ARG")}
    for key, arg in (("source", "SOURCE_URL"), ("revision", "PLUGIN_SERVER_SOURCE_COMMIT:-${VCS_REF}"),
                     ("version", "GATEWAY_VERSION:-${PLUGIN_SERVER_VERSION}"), ("created", "BUILD_DATE")):
        assert labels[f"org.opencontainers.image.{key}"] == "${%s}" % arg
        for name in re.findall(r"[A-Z_]+", arg):
            assert name in args
    higress = dict(re.findall(r'(io\.higress\.[\w-]+)="([^"]*)"', " ".join(RUNTIME.all("LABEL"))))
    assert higress == {"io.higress.higress-source-commit": "${HIGRESS_SOURCE_COMMIT}",
                       "io.higress.plugin-snapshot-sha256": "${SNAPSHOT_SHA256}",
                       "io.higress.gateway-version": "${GATEWAY_VERSION}"}


def test_builder_pulls_the_lock_or_packages_the_tree_with_commands_that_exist() -> None:
    assert BUILDER is not None
    # index.json names it: the gateway version for a snapshot build
    assert "PLUGIN_SERVER_VERSION=${GATEWAY_VERSION:-${PLUGIN_SERVER_VERSION}}" in BUILDER.last("ENV")
    assert any(a.startswith("PLUGINS_SOURCE=auto") for a in BUILDER.all("ARG"))
    steps = " ".join(BUILDER.all("RUN"))
    assert "sh scripts/image-tree.sh" in steps
    # dependencies only from the hash lock, then the toolkit alone
    assert "pip install --no-cache-dir --require-hashes --no-deps -r requirements/runtime.txt" in steps
    assert "pip install --no-cache-dir --no-deps --no-build-isolation ." in steps
    script = (REPO / "scripts" / "image-tree.sh").read_text()
    script = re.sub(r"\\\n\s*", " ", script)  # join continued lines
    commands = [seg.split("plugin-sync", 1)[1].strip().replace('"$@"', "").strip()
                for run in [*BUILDER.all("RUN"), *script.splitlines()]
                for seg in re.split(r";|&&|\|\||\)", run) if "plugin-sync " in seg and not seg.strip().startswith("#")]
    assert "--root plugins pull --locked --gzip" in commands
    assert "--root plugins serve --prepare-only" in commands
    assert "--root plugins verify" in commands
    snapshot = next(c for c in commands if "--snapshot" in c)
    commands.remove(snapshot)
    commands.append(snapshot.replace('"$file"', "snapshot.json").replace('"$sha"', "0" * 64))
    parser = build_parser()
    for command in commands:  # every invocation parses with the real CLI
        if command != "--version":
            assert parser.parse_args(shlex.split(command)).run


def _context_patterns() -> list[str]:
    return [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def _in_context(path: str) -> bool:
    """Whether .dockerignore leaves ``path`` in the build context (last match wins)."""
    keep = True
    for pattern in _context_patterns():
        negate = pattern.startswith("!")
        pat = pattern.lstrip("!").rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatchcase(p, pat) or fnmatch.fnmatchcase(p, pat.replace("**/", "")) for p in prefixes):
            keep = negate
    return keep


def test_the_build_context_holds_what_the_builds_copy_and_nothing_stray() -> None:
    assert BUILDER is not None and RUNTIME is not None
    sources: list[str] = []
    for stage in STAGES:
        for args in stage.all("COPY"):
            if args.startswith("--from="):
                continue
            sources += [w.rstrip("/") for w in args.split()[:-1] if not w.startswith("--")]
    # the builder copies the whole context (".") after the toolkit: .dockerignore is the list
    assert set(sources) >= {"pyproject.toml", "README.md", "sync", "nginx/nginx.conf", "."}
    for src in sources:
        assert src == "." or _in_context(src), src
    for path in ("sync/cli/serve.py", "plugins/my-filter/1.0.0/plugin.wasm", "plugins.yaml", "plugins.lock.json",
                 "unmanaged-plugins.lock.json", "snapshots/2.2.4.json", "snapshots/SHA256SUMS", "snapshot.json",
                 "scripts/image-tree.sh"):
        assert _in_context(path), path
    for stray in (".git", "tests/serve/test_image.py", "bench/results", "demo/plugins", "plugins/.lock",
                  "plugins/.journal.json", "sync/__pycache__/x.pyc", ".github/workflows/release.yml",
                  "requirements/test.txt", "scripts/test", "pull_plugins.py", "test_pull_plugins.py"):
        assert not _in_context(stray), stray


@pytest.mark.parametrize("source", ["snapshot", "lock", "default", "tree"])
def test_each_plugins_source_is_handled(source: str) -> None:
    script = (REPO / "scripts" / "image-tree.sh").read_text()
    assert re.search(rf"^  {source}\)$", script, re.M)
    assert "PLUGINS_SOURCE must be auto, snapshot, lock or tree" in script  # anything else stops the build
