"""The state-by-fault matrix, as a pure table: for each starting state of a tree, fault and
command, what the command must do (``expect``) or why the pair does not apply. The test
(``test_matrix.py``) runs every cell that applies; ``docs/reliability.md`` shows the table
(``render``), and a test checks that the page holds exactly this table.

Three plugins are configured: ``alpha``, ``bravo`` (two versions of one artifact) and
``victim``, the one the fault hits; a fifth input, the gateway snapshot, pins the same three
artifacts by digest.
"""

from __future__ import annotations

from dataclasses import dataclass

STATES = {
    "fresh": "a fresh clone: plugins.yaml and the lock, no tree",
    "filled": "a tree a pull filled, matching the lock",
    "killed": "after a pull from a fresh clone was killed (SIGKILL) while it downloaded victim",
    "failed": "after a pull from a fresh clone failed on victim (its manifest answered 404)",
}
FAULTS = {
    "none": "no fault",
    "manifest 404": "victim's manifest answers 404",
    "manifest 5xx": "victim's manifest answers 503 on every try",
    "token 503": "the token service answers 503 once for victim's repository",
    "tag moved": "victim's tag pushed again with other bytes",
    "blob truncated": "victim's blobs cut short on every try",
}
COMMANDS = ("pull", "pull --locked", "pull --snapshot", "metadata", "serve --prepare-only", "verify")

# what another branch's fix makes true, by key; a cell that needs one not landed here is
# marked xfail (strict), and the key goes into LANDED once the fix is merged
FIXES = {
    "unwedged": "a failed plugin does not wedge the tree: commit links only what is intact, "
                "recover applies what it can, the next pull converges",
    "locked-by-digest": "pull --locked fetches the locked digest and only warns when the tag moved",
    "token-retry": "token requests are retried under the retry policy",
}
LANDED: frozenset[str] = frozenset({"unwedged", "locked-by-digest", "token-retry"})

# what a plugin serves after the command
NEW = "built"  # what the command builds: the tag now (pull), the lock (--locked), the snapshot
KEPT = "kept"  # exactly what it served before (nothing, if it served nothing)
EITHER = "kept or lock"  # metadata commits the lock: a version it can link intact may appear


@dataclass(frozen=True)
class Expect:
    code: int
    victim: str  # NEW, KEPT or EITHER
    others: str
    needs: frozenset[str] = frozenset()

    @property
    def missing(self) -> frozenset[str]:
        """The fixes this cell needs that this branch lacks."""
        return self.needs - LANDED

    def summary(self) -> str:
        if self.victim == self.others:
            what = {NEW: "all built", KEPT: "all kept", EITHER: "all kept or linked from the lock"}[self.victim]
        else:
            what = f"victim {self.victim}, others {self.others}"
        return f"exit {self.code}: {what}"


REQUESTLESS = ("metadata", "serve --prepare-only", "verify")


def expect(state: str, fault: str, command: str) -> Expect | str:
    """The outcome of ``command`` run from ``state`` under ``fault``, or (a str) why the
    triple is not meaningful."""
    if fault != "none" and command in REQUESTLESS:
        return "makes no registry request"
    if fault == "tag moved" and command == "pull --snapshot":
        return "pulls by digest: a moved tag changes nothing it reads"
    # the failed run left a commit that every writer replays before its own work
    needs = {"unwedged"} if state == "failed" else set()
    stored = state == "filled"  # whether the tree holds victim's artifact (the lock pins it in every state)
    if stored and fault != "none" and command in ("pull --locked", "pull --snapshot"):
        return "the tree holds every artifact by digest, verified: asks the registry nothing"
    if command == "verify":
        # a complete tree verifies; in any other state a version the lock names is missing
        return Expect(0 if stored else 1, KEPT, KEPT, frozenset(needs))
    if command == "serve --prepare-only":
        return Expect(2, KEPT, KEPT) if state == "fresh" else Expect(0, KEPT, KEPT, frozenset(needs))
    if command == "metadata":
        # commits the lock with the hand-placed version: victim's entries with no store
        return Expect(0, EITHER, EITHER, frozenset(needs | ({"unwedged"} if not stored else set())))
    snapshot = command == "pull --snapshot"
    if fault in ("manifest 404", "manifest 5xx") or (fault == "blob truncated" and not stored):
        # victim fails; a snapshot build is all or nothing; a plain pull keeps victim's
        # entries, which a tree without its artifact cannot link
        if command == "pull" and not stored:
            needs.add("unwedged")
        return Expect(1, KEPT, KEPT if snapshot else NEW, frozenset(needs))
    if fault == "tag moved" and command == "pull --locked":
        needs.add("locked-by-digest")
    if fault == "token 503":
        needs.add("token-retry")
    # no fault, a transient one, a moved tag that a plain pull follows, a blob it need not fetch
    return Expect(0, NEW, NEW, frozenset(needs))


def cells() -> list[tuple[str, str, str, Expect]]:
    """Every meaningful (state, fault, command) with its expectation, in table order."""
    return [(s, f, c, e) for s in STATES for c in COMMANDS for f in FAULTS
            if isinstance(e := expect(s, f, c), Expect)]


def render() -> str:
    """The matrix section of docs/reliability.md."""
    out = ["## State by fault", "",
           "Every command run from every starting state under every fault that can reach it "
           "(`tests/reliability/test_matrix.py`). Each cell gives the exit code and what the tree "
           "serves afterwards: *built* is what the command builds (the tag now for `pull`, the lock "
           "for `pull --locked`, the snapshot for `pull --snapshot`), *kept* is exactly what was "
           "served before (nothing, if nothing was). Every cell also checked that no traceback was "
           "printed, and that the next run without the fault (the same command, or `pull` after "
           "`metadata`, `serve` and `verify`) exits 0 and leaves a tree that `verify` passes.", "",
           "States: " + "; ".join(f"*{k}*: {v}" for k, v in STATES.items()) + ".", "",
           "Faults: " + "; ".join(f"*{k}*: {v}" for k, v in FAULTS.items()) + ".", "",
           "| State | Command | " + " | ".join(FAULTS) + " |",
           "|---|---|" + "---|" * len(FAULTS)]
    reasons: dict[str, str] = {}
    for s in STATES:
        for c in COMMANDS:
            row = []
            for f in FAULTS:
                e = expect(s, f, c)
                if isinstance(e, str):
                    mark = reasons.setdefault(e, "n/a" + "†" * (len(reasons) + 1))
                    row.append(mark)
                else:
                    row.append(e.summary())
            out.append(f"| {s} | `{c}` | " + " | ".join(row) + " |")
    out.append("")
    out += [f"- {mark}: {why}." for why, mark in reasons.items()]
    return "\n".join(out) + "\n"
