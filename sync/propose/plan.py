"""What ``plugin-sync propose`` publishes, and what it does with the sync pull request.

Pure decisions over plain data; ``sync.propose.run`` reads and writes through GitHub.

* Which files change: every tracked local file (lock, ``plugins.yaml``, cursor, hand-placed
  files) whose bytes differ from the base branch, and every base file under a hand-placed
  version directory that is gone locally. The lock counts as changed only when its content
  changed (pull times alone are no change), and the cursor only travels with another
  change: moving the cursor alone opens no pull request.
* The pull request: its title counts the changed plugins, its body holds a table (plugin,
  version, old digest, new digest, sha256, size), the upstream PRs behind it and a hidden
  fingerprint of the change, so a later run can tell "same content" from "new content".
* What to do: ``created``, ``updated`` (an open PR with other content), ``unchanged``
  (nothing to publish, or the open PR already holds this content) or ``skipped`` (a PR with
  this content was closed without merging: it is not reopened).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Iterable, Mapping

from sync.github.model import FileChange, PullInfo, blob_sha
from sync.lock import Lock, LockDiff, LockEntry, diff_locks
from sync.propose.cursor import Advance
from sync.upstream.model import Changes, PrRef

DEFAULT_BRANCH = "plugin-sync/update"
MARKER = "plugin-sync:fingerprint"
_MARKER_RX = re.compile(r"<!--\s*" + re.escape(MARKER) + r"=([0-9a-f]{64})\s*-->")
MAX_BODY = 60_000  # GitHub refuses bodies over 65536 characters


def lock_content(lock: Lock) -> str:
    """The lock as JSON without pull times: what it serves, not when it was fetched."""
    raw = lock.to_json()
    for versions in raw["plugins"].values():
        for entry in versions.values():
            entry.pop("pulled", None)
    return json.dumps(raw, sort_keys=True)


@dataclass(frozen=True)
class Publication:
    """The change to publish on top of the base branch."""

    files: tuple[FileChange, ...]  # sorted by path; empty: nothing to publish
    diff: LockDiff
    plugins: tuple[str, ...]  # plugins whose served content changes
    fingerprint: str
    riders_only: tuple[str, ...] = ()  # changed files that alone open no PR (the cursor)

    @property
    def empty(self) -> bool:
        return not self.files

    @property
    def writes(self) -> tuple[FileChange, ...]:
        return tuple(f for f in self.files if f.data is not None)


def fingerprint(files: Iterable[FileChange], lock_path: str, local_lock: Lock) -> str:
    items: list[list[str | None]] = []
    for f in sorted(files, key=lambda f: f.path):
        if f.path == lock_path and f.data is not None:
            items.append([f.path, "lock:" + hashlib.sha256(lock_content(local_lock).encode()).hexdigest()])
        else:
            items.append([f.path, f.sha])
    return hashlib.sha256(json.dumps(items).encode()).hexdigest()


def _under(path: str, dirs: Iterable[str]) -> bool:
    return any(path.startswith(d.rstrip("/") + "/") for d in dirs)


def plan(
    base_files: Mapping[str, str],
    base_lock: Lock,
    local_lock: Lock,
    local_files: Mapping[str, bytes],
    *,
    lock_path: str,
    riders: Iterable[str] = (),
    managed_dirs: Mapping[str, str] | None = None,
) -> Publication:
    """Decide the files to publish.

    ``base_files`` maps every path of the base tree to its blob sha; ``local_files`` holds
    the tracked local files by repository path; ``riders`` are paths (the cursor) that only
    travel with another change; ``managed_dirs`` maps hand-placed version directories to
    their plugin: base files under them that are not local any more are deleted.
    """
    riders = set(riders)
    managed = dict(managed_dirs or {})
    changes: list[FileChange] = []
    lock_changed = lock_content(base_lock) != lock_content(local_lock)
    for path, data in sorted(local_files.items()):
        if path == lock_path and not lock_changed:
            continue
        if base_files.get(path) != blob_sha(data):
            changes.append(FileChange(path, data))
    for path in sorted(base_files):
        if path not in local_files and _under(path, managed):
            changes.append(FileChange(path, None))
    changes.sort(key=lambda f: f.path)
    diff = diff_locks(base_lock, local_lock)
    hand_placed = {name for f in changes for d, name in managed.items() if _under(f.path, [d])}
    plugins = tuple(sorted(set(diff.plugins()) | hand_placed))
    significant = [f for f in changes if f.path not in riders]
    if not significant:
        return Publication((), diff, plugins, fingerprint((), lock_path, local_lock),
                           tuple(f.path for f in changes))
    return Publication(tuple(changes), diff, plugins, fingerprint(changes, lock_path, local_lock))


# ---------------------------------------------------------------------------- PR text


def title(pub: Publication) -> str:
    n = len(pub.plugins)
    if n == 0:
        return "plugin-sync: update plugin configuration"
    if n <= 3:
        return f"plugin-sync: update {n} plugin{'s' if n != 1 else ''} ({', '.join(pub.plugins)})"
    return f"plugin-sync: update {n} plugins"


def _short(digest: str | None) -> str:
    if not digest:
        return "—"
    algo, _, hexpart = digest.partition(":")
    return f"`{algo}:{hexpart[:12]}`" if hexpart else f"`{digest[:12]}`"


def _digest(e: LockEntry | None) -> str:
    if e is None:
        return "—"
    if e.is_local:
        return "hand-placed"
    return _short(e.digest)


def _row(old: LockEntry | None, new: LockEntry | None) -> str:
    cur = new or old
    assert cur is not None
    name, version = cur.name, cur.version
    sha = f"`{new.sha256}`" if new else "removed"
    size = f"{new.size:,}" if new else "—"
    return f"| {name} | {version} | {_digest(old)} | {_digest(new)} | {sha} | {size} |"


def _pr_link(p: PrRef) -> str:
    return f"[#{p.number}]({p.url}) {_escape(p.title)} (merged {p.merged})"


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;").replace("\n", " ")


def body(
    pub: Publication,
    changes: Changes | None = None,
    advance: Advance | None = None,
) -> str:
    lines = [f"<!-- {MARKER}={pub.fingerprint} -->", ""]
    lines.append("Opened by `plugin-sync propose`: merging it updates what the plugin server serves.")
    lines.append("")
    rows = [_row(old, new) for old, new in pub.diff.rows()]
    if rows:
        lines += [
            "| Plugin | Version | Old digest | New digest | sha256 (plugin.wasm) | Size (bytes) |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
        ]
    extra = [p for p in pub.plugins if p not in pub.diff.plugins()]
    if extra:
        lines += ["Hand-placed files changed for: " + ", ".join(extra) + ".", ""]
    if changes is not None:
        linked = [p for p in changes.plugins if p.name in pub.plugins and p.prs]
        if linked:
            lines += ["### Upstream pull requests", ""]
            for p in linked:
                lines.append(f"- **{p.name}**" + (f" {p.version}" if p.version else "") + ":")
                lines += [f"  - {_pr_link(pr)}" for pr in p.prs]
            lines.append("")
        if changes.last is not None:
            where = f"#{changes.last.pr}" if changes.last.pr else changes.last.merged
            lines += [f"Upstream `{changes.upstream}` is followed up to {where} (merged {changes.last.merged}).", ""]
    if advance is not None:
        if advance.pending:
            lines += ["### Pending", "",
                      "Changed upstream, but no new artifact in the registry yet; the next runs look again:", ""]
            pending = {p.name: p for p in advance.cursor.pending}
            for name in advance.pending:
                prs = ", ".join(f"[#{p.number}]({p.url})" for p in pending[name].prs)
                lines.append(f"- {name}" + (f" ({prs})" if prs else ""))
            lines.append("")
        if advance.expired:
            lines += ["No artifact appeared in time for: " + ", ".join(advance.expired) + " (no longer waited for).", ""]
        if advance.unserved:
            lines += ["Changed upstream but not served here: " + ", ".join(advance.unserved) + ".", ""]
    lines += ["### Files", ""]
    lines += [f"- `{f.path}`" + (" (deleted)" if f.data is None else "") for f in pub.files]
    text = "\n".join(lines).rstrip() + "\n"
    if len(text) > MAX_BODY:
        text = text[: MAX_BODY - 200].rsplit("\n", 1)[0] + "\n\n(truncated: the full list is in the lock file diff)\n"
    return text


def fingerprint_of(body_text: str | None) -> str | None:
    m = _MARKER_RX.search(body_text or "")
    return m.group(1) if m else None


# ---------------------------------------------------------------------------- what to do


@dataclass(frozen=True)
class Decision:
    action: str  # create | update | unchanged | skipped
    pull: PullInfo | None
    reason: str

    @property
    def result(self) -> str:
        return {"create": "created", "update": "updated"}.get(self.action, self.action)


def decide(pub: Publication, pulls: Iterable[PullInfo]) -> Decision:
    """What to do, given the sync PRs that exist for the branch (any state)."""
    pulls = sorted(pulls, key=lambda p: (p.created, p.number), reverse=True)
    open_pull = next((p for p in pulls if p.state == "open"), None)
    if pub.empty:
        why = "nothing to publish"
        if pub.riders_only:
            why += " (only the upstream cursor moved)"
        if open_pull is not None:
            why += f"; pull request #{open_pull.number} is still open"
        return Decision("unchanged", open_pull, why)
    if open_pull is not None:
        if fingerprint_of(open_pull.body) == pub.fingerprint:
            return Decision("unchanged", open_pull, f"pull request #{open_pull.number} already holds this change")
        return Decision("update", open_pull, f"pull request #{open_pull.number} gets the new change")
    for p in pulls:
        if p.state == "closed" and not p.merged and fingerprint_of(p.body) == pub.fingerprint:
            return Decision("skipped", p, f"pull request #{p.number} with this change was closed without merging")
    return Decision("create", None, "new pull request")
