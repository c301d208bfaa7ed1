"""Tests of pull_plugins.py and the files Higress's gateway-version build requires here.

Higress's build-plugin-server-from-snapshot workflow runs ``python3 -m unittest
test_pull_plugins.py`` at the root of this repository on a runner where nothing was
installed. So this file imports only the standard library at import time: the snapshot and
unmanaged-lock readers it tests (``sync.snapshot.model`` and ``.plan``) use nothing else.
The end-to-end build needs plugin-sync's dependencies (``pip install .``); without them it
is skipped, and the full suite (``./scripts/test``) runs it.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

LAYOUT = HERE / "samples" / "oci-layout"
WASM_LAYER = "application/vnd.module.wasm.content.layer.v1+wasm"
TAR_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"


def _deps_installed() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("requests", "yaml", "github"))


def _newest_snapshot() -> Path:
    def key(p: Path) -> tuple[int, ...]:
        return tuple(int(x) for x in p.stem.split("."))
    return max((HERE / "snapshots").glob("*.json"), key=key)


def _layout_module(repo_tag: str) -> tuple[str, bytes]:
    """(manifest digest, plugin.wasm) of ``repo_tag`` in the sample OCI layout, read directly."""
    index = json.loads((LAYOUT / "index.json").read_text())
    desc = next(m for m in index["manifests"] if m["annotations"]["org.opencontainers.image.ref.name"] == repo_tag)
    manifest = json.loads((LAYOUT / "blobs" / "sha256" / desc["digest"].split(":")[1]).read_bytes())
    for layer in manifest["layers"]:
        blob = (LAYOUT / "blobs" / "sha256" / layer["digest"].split(":")[1]).read_bytes()
        if layer["mediaType"] == WASM_LAYER:
            return desc["digest"], blob
        if layer["mediaType"] == TAR_GZIP:
            with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob))) as t:
                f = t.extractfile("plugin.wasm")
                assert f is not None
                return desc["digest"], f.read()
    raise AssertionError(repo_tag)


class RepositoryFiles(unittest.TestCase):
    """What upstream's workflow checks for, and that those files hold what they claim."""

    def test_the_files_upstream_requires_are_at_the_root(self) -> None:
        for name in ("Dockerfile", "pull_plugins.py", "unmanaged-plugins.lock.json", "test_pull_plugins.py"):
            self.assertTrue((HERE / name).is_file(), name)

    def test_the_dockerfile_takes_upstreams_build_args_and_sets_its_labels(self) -> None:
        text = (HERE / "Dockerfile").read_text()
        for arg in ("SNAPSHOT_SHA256", "HIGRESS_SOURCE_COMMIT", "PLUGIN_SERVER_SOURCE_COMMIT", "GATEWAY_VERSION"):
            self.assertIn(f"ARG {arg}", text)
        for label in ("org.opencontainers.image.revision", "io.higress.higress-source-commit",
                      "io.higress.plugin-snapshot-sha256", "io.higress.gateway-version"):
            self.assertIn(label, text)
        self.assertIn("EXPOSE 8080", text)

    def test_the_unmanaged_lock_is_valid(self) -> None:
        from sync.snapshot.model import parse_unmanaged

        entries = parse_unmanaged((HERE / "unmanaged-plugins.lock.json").read_bytes())
        self.assertTrue(entries)
        for e in entries:
            self.assertEqual(e.served_path, e.logical_key)
            self.assertEqual(e.served_version, e.tag)

    def test_every_committed_snapshot_matches_its_sha256_and_plans_without_conflict(self) -> None:
        from sync.snapshot.model import parse_snapshot, parse_unmanaged
        from sync.snapshot.plan import plan

        sums = dict(reversed(line.split()) for line in (HERE / "snapshots" / "SHA256SUMS").read_text().splitlines())
        unmanaged = parse_unmanaged((HERE / "unmanaged-plugins.lock.json").read_bytes())
        files = sorted((HERE / "snapshots").glob("*.json"))
        self.assertTrue(files)
        for f in files:
            snap = parse_snapshot(f.read_bytes(), sums[f.name])
            self.assertEqual(f.stem, snap.gateway_version)
            p = plan(snap, unmanaged)
            self.assertEqual(len({(t.name, t.version) for t in p.targets}), len(p.targets))

    def test_the_unmanaged_lock_matches_plugins_yaml(self) -> None:
        if importlib.util.find_spec("yaml") is None:
            self.skipTest("reading plugins.yaml needs PyYAML (pip install .)")
        from sync.config import load_config
        from sync.snapshot.load import configured
        from sync.snapshot.model import parse_snapshot, parse_unmanaged
        from sync.snapshot.plan import check_unmanaged

        snap = parse_snapshot(_newest_snapshot().read_bytes())
        unmanaged = parse_unmanaged((HERE / "unmanaged-plugins.lock.json").read_bytes())
        check_unmanaged(snap, unmanaged, configured(load_config(HERE / "plugins.yaml")))


class Snapshot(unittest.TestCase):
    """The snapshot reader refuses what it must, with the entry named (standard library only)."""

    def setUp(self) -> None:
        self.raw = json.loads(_newest_snapshot().read_text())

    def parse(self) -> object:
        from sync.snapshot.model import parse_snapshot

        return parse_snapshot(json.dumps(self.raw).encode())

    def assertRefused(self, message: str) -> None:
        from sync.errors import ConfigError

        with self.assertRaises(ConfigError) as cm:
            self.parse()
        self.assertIn(message, str(cm.exception))
        self.assertEqual(cm.exception.exit_code, 2)

    def test_schema_version(self) -> None:
        self.raw["schemaVersion"] = 2
        self.assertRefused("schemaVersion 2 is not supported")

    def test_oci_ref_tag_must_be_the_version(self) -> None:
        entry = self.raw["plugins"][0]
        entry["ociRef"] = entry["ociRef"].rsplit(":", 1)[0] + ":9.9.9"
        self.assertRefused(f"plugin {entry['logicalId']}: ociRef tag '9.9.9' differs")

    def test_digest(self) -> None:
        entry = self.raw["plugins"][1]
        entry["digest"] = "sha256:abc"
        self.assertRefused(f"plugin {entry['logicalId']}: missing or malformed digest")

    def test_two_entries_claiming_one_name(self) -> None:
        from sync.errors import ConfigError
        from sync.snapshot.model import parse_snapshot
        from sync.snapshot.plan import plan

        mapped = [p for p in self.raw["plugins"] if (p.get("consumers") or {}).get("pluginServer")]
        mapped[1]["consumers"]["pluginServer"]["aliases"] = [mapped[0]["consumers"]["pluginServer"]["httpPath"]]
        with self.assertRaises(ConfigError) as cm:
            plan(parse_snapshot(json.dumps(self.raw).encode()))
        self.assertIn("both claim the served name", str(cm.exception))

    def test_sha256_is_checked_first(self) -> None:
        from sync.errors import ConfigError
        from sync.snapshot.model import parse_snapshot

        with self.assertRaises(ConfigError):
            parse_snapshot(b"{}", "0" * 64)


class PullPlugins(unittest.TestCase):
    """pull_plugins.py end to end, on the sample OCI layout shipped in samples/."""

    def run_script(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(HERE / "pull_plugins.py"), *args], capture_output=True,
                              text=True, timeout=300, env={**os.environ, "DOCKER_CONFIG": "/nonexistent"})

    def test_help_needs_nothing_installed(self) -> None:
        p = self.run_script("--help")
        self.assertEqual(p.returncode, 0, p.stderr)
        for flag in ("--snapshot", "--output", "--properties", "--unmanaged-lock"):
            self.assertIn(flag, p.stdout)

    def test_builds_a_snapshot_and_its_unmanaged_plugins(self) -> None:
        if not _deps_installed():
            self.skipTest("plugin-sync's dependencies are not installed (pip install .)")
        host = "higress-registry.cn-hangzhou.cr.aliyuncs.com"
        jc_digest, jc = _layout_module("plugins/jsonrpc-converter:2.0.3")
        snapshot = {"schemaVersion": 1, "gatewayVersion": "2.2.9", "sourceCommit": "a" * 40, "plugins": [
            {"logicalId": "json-converter", "image": "plugins/jsonrpc-converter", "version": "2.0.3",
             "ociRef": f"{host}/plugins/jsonrpc-converter:2.0.3", "digest": jc_digest,
             "consumers": {"pluginServer": {"inventoryKey": "json-converter", "httpPath": "json-converter",
                                            "aliases": ["jsonrpc-converter"]}}},
            {"logicalId": "not-served", "image": "plugins/not-served", "version": "1.0.0",
             "ociRef": f"{host}/plugins/not-served:1.0.0", "digest": "sha256:" + "1" * 64, "consumers": {}},
        ]}
        ka_digest, ka = _layout_module("plugins/key-auth:2.0.0")
        unmanaged = {"schemaVersion": 1, "plugins": {"key-auth": {
            "logicalKey": "key-auth", "servedPath": "key-auth", "servedVersion": "2.0.0",
            "repository": f"{host}/plugins/key-auth", "tag": "2.0.0", "digest": ka_digest,
            "wasmSha256": hashlib.sha256(ka).hexdigest()}}}
        with tempfile.TemporaryDirectory() as tmp:
            d = Path(tmp)
            (d / "snapshot.json").write_text(json.dumps(snapshot))
            (d / "unmanaged.json").write_text(json.dumps(unmanaged))
            (d / "plugins.properties").write_text(f"key-auth=oci://{host}/plugins/key-auth:2.0.0\n")
            args = ["--snapshot", str(d / "snapshot.json"), "--output", str(d / "out"),
                    "--properties", str(d / "plugins.properties"), "--unmanaged-lock", str(d / "unmanaged.json"),
                    "--registry", f"oci-layout:{LAYOUT}"]
            p = self.run_script(*args)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual((d / "out" / "json-converter" / "2.0.3" / "plugin.wasm").read_bytes(), jc)
            self.assertEqual((d / "out" / "jsonrpc-converter" / "2.0.3" / "plugin.wasm").read_bytes(), jc)
            self.assertEqual((d / "out" / "key-auth" / "2.0.0" / "plugin.wasm").read_bytes(), ka)
            self.assertFalse((d / "out" / "not-served").exists())
            inventory = json.loads((d / "out" / "snapshot-inventory.json").read_text())
            self.assertEqual(set(inventory), {"json-converter", "jsonrpc-converter"})
            self.assertEqual(inventory["jsonrpc-converter"]["wasmSha256"], hashlib.sha256(jc).hexdigest())

            # a properties line the lock does not cover: refused before any download, tree untouched
            before = sorted(str(p.relative_to(d / "out")) for p in (d / "out").rglob("*"))
            (d / "plugins.properties").write_text(
                f"key-auth=oci://{host}/plugins/key-auth:2.0.0\nbasic-auth=oci://{host}/plugins/basic-auth:2.0.0\n")
            p = self.run_script(*args)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn("missing basic-auth", p.stderr)
            self.assertEqual(before, sorted(str(p.relative_to(d / "out")) for p in (d / "out").rglob("*")))


if __name__ == "__main__":
    unittest.main()
