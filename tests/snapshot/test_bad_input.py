"""Bad snapshots and unmanaged locks: exit 2, one line naming the entry, nothing touched,
nothing downloaded."""

from __future__ import annotations

import hashlib
from typing import Any, Callable

import pytest

from tests.support.snapshot import Built, SnapshotWorkspace
from tests.support.workspace import assert_no_traceback, tree_state


def _first_mapped(b: Built) -> dict[str, Any]:
    return next(p for p in b.snapshot["plugins"] if (p.get("consumers") or {}).get("pluginServer"))


def _schema(b: Built) -> None:
    b.snapshot["schemaVersion"] = 2


def _tag(b: Built) -> None:
    b.entry("ai-cache")["ociRef"] = b.entry("ai-cache")["ociRef"].rsplit(":", 1)[0] + ":2.0.0"


def _dup_alias(b: Built) -> None:
    b.entry("ai-cache")["consumers"]["pluginServer"]["aliases"] = ["jsonrpc-converter"]


def _dup_path(b: Built) -> None:
    b.entry("ai-rag")["consumers"]["pluginServer"]["httpPath"] = "ai-cache"


def _dup_key(b: Built) -> None:
    b.entry("ai-rag")["consumers"]["pluginServer"]["inventoryKey"] = "ai-cache"


def _missing_digest(b: Built) -> None:
    del b.entry("ai-proxy")["digest"]


def _bad_digest(b: Built) -> None:
    b.entry("ai-proxy")["digest"] = "sha256:XYZ"


def _unmanaged_claims_managed_path(b: Built) -> None:
    b.unmanaged["plugins"]["key-auth"]["servedPath"] = "cors"


def _unmanaged_bad_digest(b: Built) -> None:
    b.unmanaged["plugins"]["key-auth"]["digest"] = "md5:0"


CASES: dict[str, tuple[Callable[[Built], None], str]] = {
    "schemaVersion": (_schema, "schemaVersion 2"),
    "ociRef tag": (_tag, "plugin ai-cache: ociRef tag '2.0.0' differs from version '2.0.1'"),
    "alias twice": (_dup_alias, "'jsonrpc-converter'"),
    "path twice": (_dup_path, "both claim the served name 'ai-cache'"),
    "inventory key twice": (_dup_key, "both claim the served name 'ai-cache'"),
    "missing digest": (_missing_digest, "plugin ai-proxy: missing or malformed digest None"),
    "malformed digest": (_bad_digest, "plugin ai-proxy: missing or malformed digest 'sha256:XYZ'"),
    "unmanaged path taken": (_unmanaged_claims_managed_path, "servedPath 'cors' is not its key"),
    "unmanaged digest": (_unmanaged_bad_digest, "unmanaged plugin key-auth: missing or malformed digest"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_snapshot_is_refused_before_anything_is_touched(sws: SnapshotWorkspace, case: str) -> None:
    assert sws.snapshot_pull().code == 0
    before = tree_state(sws.root)
    assert sws.built is not None
    change, message = CASES[case]
    change(sws.built)
    r = sws.snapshot_pull("--json")
    assert_no_traceback(r)
    assert r.code == 2, r.err
    assert message in r.err, r.err
    assert len(r.err.strip().splitlines()) == 1, r.err
    assert tree_state(sws.root) == before


def test_expect_sha256_checks_the_file_first(sws: SnapshotWorkspace) -> None:
    assert sws.built is not None
    s, _ = sws.built.write(sws.dir)
    good = hashlib.sha256(s.read_bytes()).hexdigest()
    r = sws.snapshot_pull("--expect-sha256", "0" * 64)
    assert r.code == 2 and f"snapshot sha256 is {good}, expected {'0' * 64}" in r.err, r.err
    assert not sws.root.exists()
    assert sws.snapshot_pull("--expect-sha256", good.upper()).code == 0


@pytest.mark.parametrize("case", ["missing", "extra", "repository", "tag"])
def test_unmanaged_lock_is_checked_against_plugins_yaml_before_any_download(sws: SnapshotWorkspace, case: str) -> None:
    assert sws.built is not None and sws.registry is not None
    host = sws.registry.host
    if case == "missing":  # configured, not managed by the snapshot, not in the lock
        sws.configure_unmanaged({"jwt-auth": {"source": f"oci://{host}/plugins/jwt-auth:2.0.0"}})
        expect = "missing jwt-auth: configured, not managed by snapshot 2.2.4"
    elif case == "extra":
        sws.write_config({k: {"source": f"oci://{u['repository']}:{u['tag']}"}
                          for k, u in sws.built.unmanaged["plugins"].items() if k != "bot-detect"})
        expect = "bot-detect is not configured in plugins.yaml"
    elif case == "repository":
        sws.configure_unmanaged({"basic-auth": {"source": f"oci://{host}/other/basic-auth:2.0.0"}})
        expect = f"basic-auth: repository {host}/plugins/basic-auth differs from plugins.yaml's {host}/other/basic-auth"
    else:
        sws.configure_unmanaged({"key-auth": {"source": f"oci://{host}/plugins/key-auth:2.0.1"}})
        expect = "key-auth: tag '2.0.0' differs from plugins.yaml's '2.0.1'"
    r = sws.snapshot_pull("--json")
    assert_no_traceback(r)
    assert r.code == 2 and expect in r.err, r.err
    assert not sws.root.exists()


def test_managed_plugins_in_plugins_yaml_need_no_lock_entry_and_a_range_is_honoured(sws: SnapshotWorkspace) -> None:
    assert sws.built is not None and sws.registry is not None
    host = sws.registry.host
    sws.configure_unmanaged({
        "ai-proxy": {"source": f"oci://{host}/plugins/ai-proxy:1.0.0"},  # managed: the snapshot decides
        "json-converter": {"repository": "plugins/jsonrpc-converter", "tag": "2.0.0"},
        "key-auth": {"repository": "plugins/key-auth", "range": "^2"},
    })
    r = sws.snapshot_pull()
    assert r.code == 0, r.err
    sws.configure_unmanaged({"key-auth": {"repository": "plugins/key-auth", "range": "^3"}})
    r = sws.snapshot_pull()
    assert r.code == 2 and "outside plugins.yaml's range '^3'" in r.err, r.err


def test_flags_that_need_a_snapshot(sws: SnapshotWorkspace) -> None:
    r = sws.pull("--unmanaged-lock", "x.json")
    assert r.code == 2 and "go with --snapshot" in r.err
    assert sws.built is not None
    s, _ = sws.built.write(sws.dir)
    r = sws.pull("--snapshot", str(s), "--locked")
    assert r.code == 2 and "--snapshot builds the whole snapshot" in r.err
    r = sws.pull("--snapshot", str(sws.dir / "nope.json"))
    assert r.code == 2 and "nope.json: no such snapshot file" in r.err
