"""propose's decisions over plain data: files to publish, PR text, what to do with the PR."""

from __future__ import annotations

from dataclasses import replace

from sync.propose.cursor import Cursor, PendingPlugin, Advance
from sync.lock import Lock
from sync.github.model import PullInfo, blob_sha
from sync.propose.plan import (
    body,
    decide,
    fingerprint_of,
    plan,
    title,
)
from sync.upstream.model import Changes, PluginChange, Position, PrRef
from tests.support.locks import numbered

LOCK = "plugins.lock.json"
CURSOR = "upstream-cursor.json"


def files_of(lock: Lock, **extra: bytes) -> dict[str, bytes]:
    return {LOCK: lock.dumps().encode(), **{k.replace("__", "/"): v for k, v in extra.items()}}


def base_of(files: dict[str, bytes]) -> dict[str, str]:
    return {p: blob_sha(d) for p, d in files.items()}


BASE_LOCK = Lock.from_entries([numbered("basic-auth", "1.0.0", 1), numbered("key-auth", "1.0.0", 2)])


def test_nothing_changed_is_empty() -> None:
    files = files_of(BASE_LOCK)
    pub = plan(base_of(files), BASE_LOCK, BASE_LOCK, files, lock_path=LOCK)
    assert pub.empty and pub.plugins == ()


def test_pull_times_alone_are_no_change() -> None:
    local = Lock.from_entries([replace(e, pulled="2025-06-01T00:00:00Z") for e in BASE_LOCK.sorted()])
    pub = plan(base_of(files_of(BASE_LOCK)), BASE_LOCK, local, files_of(local), lock_path=LOCK)
    assert pub.empty


def test_the_cursor_alone_opens_no_pull_request() -> None:
    base_files = files_of(BASE_LOCK, **{CURSOR: b"old"})
    local_files = files_of(BASE_LOCK, **{CURSOR: b"new"})
    pub = plan(base_of(base_files), BASE_LOCK, BASE_LOCK, local_files, lock_path=LOCK, riders=[CURSOR])
    assert pub.empty and pub.riders_only == (CURSOR,)
    assert decide(pub, []).action == "unchanged" and "cursor" in decide(pub, []).reason


def test_a_new_artifact_publishes_lock_and_cursor() -> None:
    local = Lock.from_entries([numbered("basic-auth", "1.0.0", 3), numbered("key-auth", "1.0.0", 2),
                               numbered("ai-cache", "0.1.0", 4)])
    base_files = files_of(BASE_LOCK, **{CURSOR: b"old"})
    local_files = files_of(local, **{CURSOR: b"new"})
    pub = plan(base_of(base_files), BASE_LOCK, local, local_files, lock_path=LOCK, riders=[CURSOR])
    assert [f.path for f in pub.files] == [LOCK, CURSOR]
    assert pub.plugins == ("ai-cache", "basic-auth")
    assert title(pub) == "plugin-sync: update 2 plugins (ai-cache, basic-auth)"
    text = body(pub)
    assert fingerprint_of(text) == pub.fingerprint
    assert f"| basic-auth | 1.0.0 | `sha256:{'1' * 12}` | `sha256:{'3' * 12}` | `{'4' * 64}` | 3,000 |" in text
    assert f"| ai-cache | 0.1.0 | — | `sha256:{'4' * 12}` | `{'5' * 64}` | 4,000 |" in text
    assert "key-auth" not in text.split("### Files")[0]
    # the same change with other pull times has the same fingerprint
    later = Lock.from_entries([replace(e, pulled="2025-09-09T00:00:00Z") for e in local.sorted()])
    again = plan(base_of(base_files), BASE_LOCK, later, files_of(later, **{CURSOR: b"new"}), lock_path=LOCK,
                 riders=[CURSOR])
    assert again.fingerprint == pub.fingerprint
    # another cursor position is another change
    moved = plan(base_of(base_files), BASE_LOCK, local, files_of(local, **{CURSOR: b"newer"}), lock_path=LOCK,
                 riders=[CURSOR])
    assert moved.fingerprint != pub.fingerprint


def test_hand_placed_files_are_written_and_stale_ones_deleted() -> None:
    base = Lock.from_entries([*BASE_LOCK.sorted(), numbered("custom", "1.0.0", 5, local=True)])
    local = Lock.from_entries([*BASE_LOCK.sorted(), numbered("custom", "1.0.0", 6, local=True)])
    d = "plugins/custom/1.0.0"
    base_files = files_of(base, **{f"{d}/plugin.wasm": b"\x00asm-old", f"{d}/old.txt": b"x",
                                   "plugins/README.md": b"keep"})
    local_files = files_of(local, **{f"{d}/plugin.wasm": b"\x00asm\x01\x00new", f"{d}/metadata.txt": b"m"})
    pub = plan(base_of(base_files), base, local, local_files, lock_path=LOCK, managed_dirs={d: "custom"})
    assert [(f.path, f.data) for f in pub.files] == [
        (LOCK, local.dumps().encode()),
        (f"{d}/metadata.txt", b"m"), (f"{d}/old.txt", None), (f"{d}/plugin.wasm", b"\x00asm\x01\x00new")]
    assert "plugins/README.md" not in {f.path for f in pub.files}  # outside the managed directory
    assert pub.plugins == ("custom",)
    assert "hand-placed" in body(pub)


def test_a_removed_hand_placed_plugin_loses_its_files() -> None:
    base = Lock.from_entries([numbered("custom", "1.0.0", 5, local=True)])
    d = "plugins/custom/1.0.0"
    base_files = files_of(base, **{f"{d}/plugin.wasm": b"w"})
    local = Lock()
    pub = plan(base_of(base_files), base, local, files_of(local), lock_path=LOCK, managed_dirs={d: "custom"})
    assert [(f.path, f.data is None) for f in pub.files] == [(LOCK, False), (f"{d}/plugin.wasm", True)]
    assert "| custom | 1.0.0 | hand-placed | — | removed | — |" in body(pub)


def pull(n: int, state: str, fp: str | None, merged: bool = False, created: str = "2025-01-01T00:00:00Z") -> PullInfo:
    text = f"<!-- plugin-sync:fingerprint={fp} -->\nbody" if fp else "no marker"
    return PullInfo(n, state, merged, text, f"https://github.com/acme/srv/pull/{n}", created)


def test_decide() -> None:
    local = Lock.from_entries([numbered("basic-auth", "1.0.0", 3)])
    pub = plan(base_of(files_of(BASE_LOCK)), BASE_LOCK, local, files_of(local), lock_path=LOCK)
    fp = pub.fingerprint
    assert decide(pub, []).action == "create"
    assert decide(pub, [pull(1, "open", fp)]).action == "unchanged"
    d = decide(pub, [pull(1, "open", "0" * 64)])
    assert (d.action, d.pull.number if d.pull else None, d.result) == ("update", 1, "updated")
    assert decide(pub, [pull(1, "closed", fp)]).action == "skipped"
    assert decide(pub, [pull(1, "closed", fp, merged=True)]).action == "create"
    assert decide(pub, [pull(1, "closed", "0" * 64)]).action == "create"
    # a newer open PR wins over an old closed one with the same content
    assert decide(pub, [pull(1, "closed", fp), pull(2, "open", "1" * 64, created="2025-02-01T00:00:00Z")]).action \
        == "update"


def test_body_links_upstream_prs_and_lists_pending() -> None:
    local = Lock.from_entries([numbered("basic-auth", "1.0.0", 3), numbered("key-auth", "1.0.0", 2)])
    pub = plan(base_of(files_of(BASE_LOCK)), BASE_LOCK, local, files_of(local), lock_path=LOCK)
    p1 = PrRef(101, "feat: realm | pipes <b>", "https://github.com/higress-group/higress/pull/101", "2025-01-02T00:00:00Z")
    p2 = PrRef(102, "key", "https://github.com/higress-group/higress/pull/102", "2025-01-03T00:00:00Z")
    ch = Changes("higress-group/higress", None, Position("2025-01-03T00:00:00Z", 102, "a" * 40),
                 (PluginChange("basic-auth", (p1,), "1.1.0", served=True),
                  PluginChange("key-auth", (p2,), "2.0.0", served=True)))
    adv = Advance(Cursor("higress-group/higress", ch.last, (PendingPlugin("key-auth", "2.0.0", (p2,)),)),
                  ("basic-auth",), ("key-auth",), ("gone",), ("not-ours",))
    text = body(pub, ch, adv)
    assert "- **basic-auth** 1.1.0:" in text
    assert "[#101](https://github.com/higress-group/higress/pull/101) feat: realm \\| pipes &lt;b&gt;" in text
    assert "- key-auth ([#102](https://github.com/higress-group/higress/pull/102))" in text
    assert "followed up to #102" in text and "gone" in text and "not-ours" in text
    assert title(pub) == "plugin-sync: update 1 plugin (basic-auth)"


def test_many_plugins_title_and_body_limit() -> None:
    local = Lock.from_entries([numbered(f"p{i:04d}", "1.0.0", 1 + i % 9) for i in range(2000)])
    pub = plan({}, Lock(), local, files_of(local), lock_path=LOCK)
    assert title(pub) == "plugin-sync: update 2000 plugins"
    text = body(pub)
    assert len(text) <= 60_000 and text.endswith("(truncated: the full list is in the lock file diff)\n")
    assert fingerprint_of(text) == pub.fingerprint
