"""``git push`` into the fake GitHub server: copy a local repository's commits, trees and
blobs into a fake repo, object by object, checking that both sides agree on every id.

So a test can release a commit of a real local repository and publish its tag on the fake
server, which (like GitHub) only accepts refs to objects it holds.
"""

from __future__ import annotations

from tests.support.git import GitRepo
from tests.support import fakegithub as fg


def _person(line: str) -> fg.Person:
    who, _, when = line.rpartition("> ")
    name, _, email = who.partition(" <")
    ts, tz = when.split()
    assert tz == "+0000", f"commit time zone {tz}: the fake server writes +0000 only"
    return fg.Person(name, email, float(ts))


def _tree(local: GitRepo, remote: fg.Repo, sha: str) -> str:
    raw = local.raw("tree", sha)
    entries: list[fg.Entry] = []
    i = 0
    while i < len(raw):
        space, nul = raw.index(b" ", i), raw.index(b"\0", i)
        mode, name, child = raw[i:space].decode(), raw[space + 1:nul].decode(), raw[nul + 1:nul + 21].hex()
        i = nul + 21
        if mode == "40000":
            entries.append(fg.Entry(name, "040000", "tree", _tree(local, remote, child)))
        else:
            assert remote.put(fg.Blob(local.raw("blob", child))) == child
            entries.append(fg.Entry(name, mode, "blob", child))
    assert remote.put(fg.TreeObj(tuple(entries))) == sha
    return sha


def _commit(local: GitRepo, remote: fg.Repo, sha: str) -> None:
    head, _, message = local.raw("commit", sha).decode().partition("\n\n")
    fields: dict[str, list[str]] = {}
    for line in head.splitlines():
        key, _, value = line.partition(" ")
        fields.setdefault(key, []).append(value)
    tree = _tree(local, remote, fields["tree"][0])
    obj = fg.CommitObj(tree, tuple(fields.get("parent", [])), message,
                       _person(fields["author"][0]), _person(fields["committer"][0]))
    assert remote.put(obj) == sha


def push(local: GitRepo, remote: fg.Repo, branch: str = "main", tags: tuple[str, ...] = ()) -> str:
    """Copy every commit reachable from ``branch`` and set the branch (and lightweight
    ``tags``) on the fake repo. Returns the branch's commit."""
    for sha in local.git("rev-list", "--reverse", branch).split():
        _commit(local, remote, sha)
    head = local.git("rev-parse", branch)
    remote.set_ref(f"heads/{branch}", head)
    for tag in tags:
        remote.set_ref(f"tags/{tag}", local.git("rev-parse", f"{tag}^{{commit}}"))
    return head
