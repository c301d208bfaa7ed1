"""A stateful fake of the GitHub REST API, on loopback, for tests.

It answers in GitHub's JSON shapes (the fields PyGithub reads), keeps real git objects
(blob, tree and commit ids are real git SHA-1s), paginates with ``Link`` headers, and lets a
test inject faults per route and count requests::

    with FakeGitHub(token="ghp_test") as gh:
        repo = gh.state.create_repo("acme/plugin-server")
        repo.commit_files({"plugins.yaml": b"..."}, "initial")
        gh.fail("POST", r"/git/blobs$", 502, times=2)
        gh.rate_limit("GET", r"/pulls$", retry_after=1)
        gh.drop_answer("POST", r"/git/refs$")   # do the write, then close without answering
        env = {"GITHUB_API_URL": gh.url, "GITHUB_TOKEN": "ghp_test"}
        ...
        assert repo.files_at("plugin-sync/update")["plugins.lock.json"] == local_bytes
        assert gh.count("POST", r"/pulls$") == 1

Routes, only those something calls (the code under test, or this fake's own tests):
repositories, one commit with its files, pulls (list with state/head/base filters and
sorting, create, get, update, files), an issue and adding its labels, the Git Data API
(blobs, trees with ``base_tree``, commits, refs incl. matching-refs, annotated tags read),
contents, releases (create, list, by tag, latest, update, asset upload) and workflow dispatches.
A repository moved with ``state.rename`` answers its old name's paths with GitHub's 301 (307
for writes) to ``/repositories/<id>/...``, which is served too.

Test helpers on ``Repo``: ``commit_files`` (a commit on a branch), ``merge_pull`` (an
upstream-style squash merge with subject ``Title (#N)``), ``merge`` / ``close`` of an open
PR, ``files_at`` (every file of a ref, as bytes) and ``ref``/``set_ref``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
import threading
import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

DOCS = "https://docs.github.com/rest"
BOT = "plugin-sync-bot"
TOKEN = "ghp_FAKEtoken_4b1d3c0ffee5ecre7"  # the token tests give the fake server and the client


def iso(ts: float) -> str:
    return datetime.fromtimestamp(int(ts), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str | float | int | None) -> float:
    if text is None:
        return time.time()
    if isinstance(text, (int, float)):
        return float(text)
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def git_sha(kind: str, body: bytes) -> str:
    return hashlib.sha1(f"{kind} {len(body)}\0".encode() + body).hexdigest()


def blob_sha(data: bytes) -> str:
    return git_sha("blob", data)


# ---------------------------------------------------------------------------- git objects


@dataclass(frozen=True)
class Blob:
    data: bytes


@dataclass(frozen=True)
class Entry:
    name: str
    mode: str  # 100644 100755 120000 040000 160000
    type: str  # blob | tree | commit
    sha: str


@dataclass(frozen=True)
class TreeObj:
    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    date: float


@dataclass(frozen=True)
class CommitObj:
    tree: str
    parents: tuple[str, ...]
    message: str
    author: Person
    committer: Person


@dataclass(frozen=True)
class TagObj:
    tag: str
    message: str
    object: str
    type: str
    tagger: Person


def _tree_bytes(entries: tuple[Entry, ...]) -> bytes:
    out = b""
    for e in entries:
        mode = "40000" if e.type == "tree" else e.mode
        out += f"{mode} {e.name}".encode() + b"\0" + bytes.fromhex(e.sha)
    return out


def _person_line(p: Person) -> str:
    return f"{p.name} <{p.email}> {int(p.date)} +0000"


def _commit_bytes(c: CommitObj) -> bytes:
    lines = [f"tree {c.tree}", *(f"parent {p}" for p in c.parents),
             f"author {_person_line(c.author)}", f"committer {_person_line(c.committer)}"]
    return ("\n".join(lines) + "\n\n" + c.message).encode()


def _tag_bytes(t: TagObj) -> bytes:
    return (f"object {t.object}\ntype {t.type}\ntag {t.tag}\ntagger {_person_line(t.tagger)}\n\n{t.message}").encode()


def _sort_key(e: Entry) -> str:
    return e.name + "/" if e.type == "tree" else e.name


# ---------------------------------------------------------------------------- state


@dataclass
class Pull:
    number: int
    title: str
    body: str | None
    head: str  # branch name
    base: str
    user: str = BOT
    state: str = "open"
    draft: bool = False
    merged: bool = False
    merged_at: float | None = None
    closed_at: float | None = None
    merge_commit_sha: str | None = None
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    labels: list[str] = field(default_factory=list)
    head_sha: str | None = None  # frozen when closed or merged
    base_sha: str | None = None
    files: list[dict[str, Any]] | None = None  # frozen file list (squash-merged upstream PRs)


@dataclass
class Asset:
    id: int
    name: str
    label: str | None
    content_type: str
    data: bytes
    created_at: float = field(default_factory=time.time)


@dataclass
class Release:
    id: int
    tag_name: str
    target_commitish: str
    name: str | None
    body: str | None
    draft: bool
    prerelease: bool
    created_at: float = field(default_factory=time.time)
    published_at: float | None = None
    assets: list[Asset] = field(default_factory=list)


class Repo:
    def __init__(self, state: "State", full_name: str, default_branch: str = "main", private: bool = False) -> None:
        self.state = state
        self.owner, self.name = full_name.split("/")
        self.id = state.next_id()
        self.default_branch = default_branch
        self.private = private
        self.objects: dict[str, Blob | TreeObj | CommitObj | TagObj] = {}
        self.refs: dict[str, str] = {}  # "refs/heads/main" -> sha
        self.pulls: dict[int, Pull] = {}
        self.labels: dict[str, dict[str, Any]] = {}
        self.releases: list[Release] = []
        self.dispatches: list[dict[str, Any]] = []
        # workflow file name -> its workflow_dispatch inputs (name -> {"required": bool, ...});
        # a workflow must be registered here to accept POST .../actions/workflows/<file>/dispatches
        self.workflows: dict[str, dict[str, dict[str, Any]]] = {}
        self.workflow_dispatches: list[dict[str, Any]] = []  # {"workflow", "ref", "inputs"}
        self._number = 0

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def next_number(self) -> int:
        self._number += 1
        return self._number

    # -- objects
    def put(self, obj: Blob | TreeObj | CommitObj | TagObj) -> str:
        if isinstance(obj, Blob):
            sha = git_sha("blob", obj.data)
        elif isinstance(obj, TreeObj):
            sha = git_sha("tree", _tree_bytes(obj.entries))
        elif isinstance(obj, CommitObj):
            sha = git_sha("commit", _commit_bytes(obj))
        else:
            sha = git_sha("tag", _tag_bytes(obj))
        self.objects[sha] = obj
        return sha

    def put_blob(self, data: bytes) -> str:
        return self.put(Blob(data))

    def obj(self, sha: str) -> Any:
        return self.objects.get(sha)

    def flatten(self, tree_sha: str, prefix: str = "") -> dict[str, Entry]:
        """Every non-tree entry under a tree, by full path."""
        out: dict[str, Entry] = {}
        tree = self.objects[tree_sha]
        assert isinstance(tree, TreeObj)
        for e in tree.entries:
            path = prefix + e.name
            if e.type == "tree":
                out.update(self.flatten(e.sha, path + "/"))
            else:
                out[path] = Entry(path, e.mode, e.type, e.sha)
        return out

    def build(self, flat: dict[str, Entry]) -> str:
        """Store the trees for a flat path map; returns the root tree sha."""
        children: dict[str, Entry] = {}
        subdirs: dict[str, dict[str, Entry]] = {}
        for path, e in flat.items():
            head, _, rest = path.partition("/")
            if rest:
                subdirs.setdefault(head, {})[rest] = e
            else:
                children[head] = Entry(head, e.mode, e.type, e.sha)
        for d, sub in subdirs.items():
            children[d] = Entry(d, "040000", "tree", self.build(sub))
        return self.put(TreeObj(tuple(sorted(children.values(), key=_sort_key))))

    def empty_tree(self) -> str:
        return self.put(TreeObj(()))

    # -- refs
    @staticmethod
    def _full_ref(ref: str) -> str:
        if ref.startswith("refs/"):
            return ref
        if ref.startswith(("heads/", "tags/")):
            return "refs/" + ref
        return "refs/heads/" + ref

    def ref(self, ref: str) -> str | None:
        return self.refs.get(self._full_ref(ref))

    def set_ref(self, ref: str, sha: str | None) -> None:
        if sha is None:
            self.refs.pop(self._full_ref(ref), None)
        else:
            self.refs[self._full_ref(ref)] = sha

    def resolve(self, ref: str | None) -> str | None:
        """A commit sha for a branch, tag, full ref or (abbreviated) sha."""
        ref = ref or self.default_branch
        for candidate in (f"refs/heads/{ref}", f"refs/tags/{ref}", ref if ref.startswith("refs/") else None):
            if candidate and candidate in self.refs:
                return self.peel(self.refs[candidate])
        if re.fullmatch(r"[0-9a-f]{7,40}", ref):
            hits = [s for s in self.objects if s.startswith(ref) and isinstance(self.objects[s], CommitObj)]
            if len(hits) == 1:
                return hits[0]
        return None

    def peel(self, sha: str) -> str:
        obj = self.objects.get(sha)
        while isinstance(obj, TagObj):
            sha = obj.object
            obj = self.objects.get(sha)
        return sha

    def commit(self, sha: str) -> CommitObj:
        obj = self.objects[sha]
        assert isinstance(obj, CommitObj)
        return obj

    def ancestors(self, sha: str) -> set[str]:
        seen, todo = set(), [sha]
        while todo:
            s = todo.pop()
            if s in seen or s not in self.objects:
                continue
            seen.add(s)
            todo.extend(self.commit(s).parents)
        return seen

    def merge_base(self, a: str, b: str) -> str | None:
        base = self.ancestors(a)
        order, todo, seen = [], [b], set()
        while todo:  # breadth first from b
            s = todo.pop(0)
            if s in seen:
                continue
            seen.add(s)
            if s in base:
                return s
            order.append(s)
            todo.extend(self.commit(s).parents)
        return None

    # -- helpers for tests
    def commit_files(
        self,
        files: dict[str, bytes | str | None],
        message: str,
        branch: str | None = None,
        date: str | float | None = None,
        author: str = "Dev",
    ) -> str:
        """Commit ``files`` (None deletes) on ``branch``. Returns the sha.

        An absent branch starts from the default branch (or from nothing in an empty repo).
        """
        branch = branch or self.default_branch
        parent = self.ref(branch) or self.ref(self.default_branch)
        flat = self.flatten(self.commit(parent).tree) if parent else {}
        for path, data in files.items():
            if data is None:
                flat.pop(path, None)
                continue
            raw = data.encode() if isinstance(data, str) else data
            flat[path] = Entry(path, "100644", "blob", self.put_blob(raw))
        when = parse_time(date)
        person = Person(author, f"{author.lower()}@example.com", when)
        sha = self.put(CommitObj(self.build(flat), (parent,) if parent else (), message, person, person))
        self.set_ref(branch, sha)
        return sha

    def merge_pull(
        self,
        title: str,
        files: dict[str, bytes | str | None],
        merged_at: str | float | None = None,
        number: int | None = None,
        base: str | None = None,
        updated_at: str | float | None = None,
    ) -> Pull:
        """An upstream-style PR: squash-merged onto ``base`` as ``Title (#N)``, head branch gone."""
        number = number or self.next_number()
        self._number = max(self._number, number)
        base = base or self.default_branch
        before = self.ref(base)
        when = parse_time(merged_at)
        sha = self.commit_files(files, f"{title} (#{number})", base, when)
        pull = Pull(number, title, f"Body of {title}", head=f"feature-{number}", base=base, user="contributor",
                    state="closed", merged=True, merged_at=when, closed_at=when, merge_commit_sha=sha,
                    created_at=when - 3600, updated_at=parse_time(updated_at) if updated_at is not None else when,
                    head_sha=sha, base_sha=before)
        pull.files = self.diff(self.commit(before).tree if before else self.empty_tree(), self.commit(sha).tree)
        self.pulls[number] = pull
        return pull

    def files_at(self, ref: str | None = None) -> dict[str, bytes]:
        """Every file of a ref (branch, tag or sha), as bytes."""
        sha = self.resolve(ref)
        if sha is None:
            raise KeyError(ref)
        out = {}
        for path, e in self.flatten(self.commit(sha).tree).items():
            blob = self.objects[e.sha]
            if isinstance(blob, Blob):
                out[path] = blob.data
        return out

    def diff(self, old_tree: str, new_tree: str) -> list[dict[str, Any]]:
        """GitHub's ``files`` list between two trees (exact-content renames detected)."""
        old, new = self.flatten(old_tree), self.flatten(new_tree)
        removed = {p: e for p, e in old.items() if p not in new}
        added = {p: e for p, e in new.items() if p not in old}
        files = []
        for path in sorted(set(old) | set(new)):
            o, n = old.get(path), new.get(path)
            if o and n and o.sha == n.sha and o.mode == n.mode:
                continue
            if o and n:
                files.append(self._file(path, n, "modified"))
            elif n:
                source = next((p for p, e in removed.items() if e.sha == n.sha), None)
                if source is not None:
                    del removed[source]
                    files.append({**self._file(path, n, "renamed"), "previous_filename": source})
                else:
                    files.append(self._file(path, n, "added"))
        for path, e in removed.items():
            if path in added:
                continue
            files.append(self._file(path, e, "removed"))
        files.sort(key=lambda f: f["filename"])
        return files

    def _file(self, path: str, e: Entry, status: str) -> dict[str, Any]:
        blob = self.objects.get(e.sha)
        lines = blob.data.count(b"\n") if isinstance(blob, Blob) else 0
        add = lines if status in ("added", "modified") else 0
        dele = lines if status == "removed" else 0
        web = self.state.web
        return {
            "sha": e.sha,
            "filename": path,
            "status": status,
            "additions": add,
            "deletions": dele,
            "changes": add + dele,
            "blob_url": f"{web}/{self.full_name}/blob/{e.sha}/{quote(path)}",
            "raw_url": f"{web}/{self.full_name}/raw/{e.sha}/{quote(path)}",
            "contents_url": f"{self.state.api}/repos/{self.full_name}/contents/{quote(path)}?ref={e.sha}",
        }

    def merge(self, number: int, when: str | float | None = None) -> str:
        """Squash-merge an open PR the way a maintainer would. Returns the new base sha."""
        pull = self.pulls[number]
        assert pull.state == "open", "only open PRs merge"
        head, base = self.ref(pull.head), self.ref(pull.base)
        assert head and base
        mb = self.merge_base(base, head) or head
        flat_head = self.flatten(self.commit(head).tree)
        files: dict[str, bytes | str | None] = {}
        for f in self.diff(self.commit(mb).tree, self.commit(head).tree):
            if f["status"] == "removed":
                files[f["filename"]] = None
                continue
            if f.get("previous_filename"):
                files[f["previous_filename"]] = None
            blob = self.objects[flat_head[f["filename"]].sha]
            assert isinstance(blob, Blob)
            files[f["filename"]] = blob.data
        sha = self.commit_files(files, f"{pull.title} (#{number})", pull.base, when)
        t = parse_time(when)
        pull.state, pull.merged, pull.merged_at, pull.closed_at = "closed", True, t, t
        pull.merge_commit_sha, pull.head_sha, pull.updated_at = sha, head, t
        return sha

    def close(self, number: int) -> None:
        """Close an open PR without merging it."""
        pull = self.pulls[number]
        pull.state, pull.closed_at, pull.updated_at = "closed", time.time(), time.time()
        pull.head_sha = self.ref(pull.head)

    def open_pulls(self) -> list[Pull]:
        return [p for p in self.pulls.values() if p.state == "open"]


class State:
    """Every repository the fake serves; tests seed and inspect it."""

    def __init__(self, api: str = "", web: str = "https://github.com") -> None:
        self.api = api
        self.root = ""
        self.web = web
        self.repos: dict[str, Repo] = {}
        self.moved: dict[str, Repo] = {}  # old full name (lower case) -> the repository it became
        self._id = 1000
        self.lock = threading.RLock()

    def next_id(self) -> int:
        self._id += 1
        return self._id

    def create_repo(self, full_name: str, default_branch: str = "main", private: bool = False) -> Repo:
        repo = Repo(self, full_name, default_branch, private)
        self.repos[full_name.lower()] = repo
        return repo

    def repo(self, full_name: str) -> Repo:
        return self.repos[full_name.lower()]

    def rename(self, old: str, new: str) -> Repo:
        """Move a repository to a new owner/name, as a transfer or rename does on GitHub: the
        old name's API paths answer 301 (307 for writes) to ``/repositories/<id>/...``."""
        repo = self.repos.pop(old.lower())
        repo.owner, repo.name = new.split("/")
        self.repos[new.lower()] = repo
        self.moved[old.lower()] = repo
        return repo


# ---------------------------------------------------------------------------- faults and log


@dataclass
class Fault:
    method: str
    pattern: re.Pattern[str]
    status: int
    headers: dict[str, str]
    body: Any
    times: int
    echo_auth: bool = False


@dataclass
class Hook:
    method: str
    pattern: re.Pattern[str]
    fn: Callable[[State], None]
    times: int


@dataclass(frozen=True)
class Logged:
    method: str
    path: str  # without the API prefix
    query: str
    status: int
    authorized: bool
    body: bytes = b""


class HTTPError(Exception):
    def __init__(self, status: int, message: str, errors: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.headers = headers or {}


def _not_found() -> HTTPError:
    return HTTPError(404, "Not Found")


def _invalid(message: str, resource: str = "", code: str = "custom", field_: str = "") -> HTTPError:
    err: dict[str, Any] = {"resource": resource, "code": code, "message": message}
    if field_:
        err["field"] = field_
    return HTTPError(422, "Validation Failed", [err])


@dataclass
class Response:
    status: int
    body: Any = None  # JSON-able, or bytes
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # handled, but the connection is closed instead of answering


# ---------------------------------------------------------------------------- the server


class FakeGitHub:
    """The fake server. Use as a context manager; ``url`` is the value for ``GITHUB_API_URL``."""

    def __init__(self, token: str | None = None, prefix: str = "", web: str = "https://github.com",
                 per_page_default: int = 30, max_per_page: int = 100) -> None:
        self.token = token
        self.prefix = prefix.rstrip("/")
        self.per_page_default = per_page_default
        self.max_per_page = max_per_page  # lower it to make small data span pages
        self.state = State(web=web)
        self.faults: list[Fault] = []
        self.hooks: list[Hook] = []
        self.drops: list[Hook] = []
        self.log: list[Logged] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.root = ""
        self.url = ""

    # -- lifecycle
    def __enter__(self) -> "FakeGitHub":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        fake = self

        class Handler(_Handler):
            owner = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        port = self._server.server_address[1]
        self.root = f"http://127.0.0.1:{port}"
        self.url = self.root + self.prefix
        self.state.api = self.url
        self.state.root = self.root
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- faults, hooks, counting
    def fail(self, method: str, pattern: str, status: int, *, headers: dict[str, str] | None = None,
             body: Any = None, times: int = 1, echo_auth: bool = False) -> None:
        """Answer the next ``times`` matching requests with ``status`` instead of handling them."""
        self.faults.append(Fault(method.upper(), re.compile(pattern), status, dict(headers or {}), body, times,
                                 echo_auth))

    def rate_limit(self, method: str, pattern: str, *, status: int = 403, retry_after: int | None = None,
                   reset_in: int | None = None, secondary: bool = False, times: int = 1) -> None:
        """A rate-limit answer: ``Retry-After``, or ``X-RateLimit-Remaining: 0`` + ``X-RateLimit-Reset``."""
        headers: dict[str, str] = {}
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        if reset_in is not None:
            headers.update({"X-RateLimit-Remaining": "0", "X-RateLimit-Limit": "5000",
                            "X-RateLimit-Reset": str(int(time.time() + reset_in))})
        message = ("You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
                   if secondary else "API rate limit exceeded for installation.")
        self.fail(method, pattern, status, headers=headers, body={"message": message, "documentation_url": DOCS},
                  times=times)

    def drop_answer(self, method: str, pattern: str, times: int = 1) -> None:
        """Handle the next ``times`` matching requests, then close the connection without
        answering: a write GitHub executed whose answer the client never got (a timeout or a
        reset on the way back)."""
        self.drops.append(Hook(method.upper(), re.compile(pattern), lambda state: None, times))

    def before(self, method: str, pattern: str, fn: Callable[[State], None], times: int = 1) -> None:
        """Run ``fn(state)`` before handling the next ``times`` matching requests (e.g. a concurrent change)."""
        self.hooks.append(Hook(method.upper(), re.compile(pattern), fn, times))

    def count(self, method: str | None = None, pattern: str | None = None) -> int:
        rx = re.compile(pattern) if pattern else None
        return sum(1 for r in self.log if (method is None or r.method == method.upper())
                   and (rx is None or rx.search(r.path)))

    def writes(self) -> list[Logged]:
        """Requests that would change state (not GET/HEAD)."""
        return [r for r in self.log if r.method not in ("GET", "HEAD")]

    def reset_log(self) -> None:
        self.log.clear()

    # -- request handling (under the state lock)
    def handle(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> Response:
        qs = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        auth = headers.get("authorization", "")
        given = auth.split(" ", 1)[1].strip() if " " in auth else ""
        authorized = bool(self.token) and given == self.token
        with self.state.lock:
            resp = self._dispatch(method, path, qs, query, headers, body, auth, given, authorized)
            self.log.append(Logged(method, path, query, resp.status, authorized, body))
            for drop in self.drops:
                if drop.method == method and drop.pattern.search(path) and drop.times > 0:
                    drop.times -= 1
                    resp.drop = True
                    break
            return resp

    def _dispatch(self, method: str, path: str, qs: dict[str, str], query: str, headers: dict[str, str],
                  body: bytes, auth: str, given: str, authorized: bool) -> Response:
        for hook in list(self.hooks):
            if hook.method == method and hook.pattern.search(path) and hook.times > 0:
                hook.times -= 1
                hook.fn(self.state)
        for fault in self.faults:
            if fault.method == method and fault.pattern.search(path) and fault.times > 0:
                fault.times -= 1
                payload = fault.body
                if fault.echo_auth:
                    payload = {"message": f"Bad credentials: received {auth!r}", "documentation_url": DOCS}
                if payload is None:
                    payload = (b"<html><body><h1>%d</h1>upstream trouble</body></html>" % fault.status
                               if fault.status >= 500 else {"message": "fault", "documentation_url": DOCS})
                return Response(fault.status, payload, dict(fault.headers))
        if self.token is not None and given and not authorized:
            return Response(401, {"message": "Bad credentials", "documentation_url": DOCS})
        if self.token is not None and not authorized and method not in ("GET", "HEAD"):
            return Response(401, {"message": "Requires authentication", "documentation_url": DOCS})
        if method == "GET" and path.startswith("/_download/"):
            return self._download(path)
        moved = _MOVED.match(path)
        if moved and moved.group("name").lower() in self.state.moved and \
                moved.group("name").lower() not in self.state.repos:
            repo = self.state.moved[moved.group("name").lower()]
            where = f"{self.url}/repositories/{repo.id}{moved.group('rest') or ''}" + (f"?{query}" if query else "")
            return Response(301 if method in ("GET", "HEAD") else 307,
                            {"message": "Moved Permanently", "url": where, "documentation_url": DOCS},
                            {"Location": where})
        by_id = _BY_ID.match(path)
        if by_id:
            repo = next((r for r in self.state.repos.values() if r.id == int(by_id.group("id"))), None)
            if repo is None:
                return Response(404, {"message": "Not Found", "documentation_url": DOCS})
            path = f"/repos/{repo.full_name}{by_id.group('rest') or ''}"
        try:
            return _route(self, method, path, qs, query, headers, body)
        except HTTPError as e:
            payload: dict[str, Any] = {"message": e.message, "documentation_url": DOCS, "status": str(e.status)}
            if e.errors:
                payload["errors"] = e.errors
            return Response(e.status, payload, e.headers)

    def _download(self, path: str) -> Response:
        parts = [unquote(p) for p in path.split("/")[2:]]
        if len(parts) != 4:
            raise _not_found()
        owner, name, tag, asset = parts
        repo = self.state.repos.get(f"{owner}/{name}".lower())
        rel = next((r for r in repo.releases if r.tag_name == tag), None) if repo else None
        a = next((x for x in rel.assets if x.name == asset), None) if rel else None
        if a is None:
            return Response(404, b"Not Found", {"Content-Type": "text/plain"})
        return Response(200, a.data, {"Content-Type": "application/octet-stream"})


class _Handler(BaseHTTPRequestHandler):
    owner: FakeGitHub
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # small answers go out at once, not after the 40 ms ack delay

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output clean
        return

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        path = parts.path
        fake = self.owner
        if path.startswith("/_download/"):
            pass
        elif fake.prefix and path.startswith(fake.prefix):
            path = path[len(fake.prefix):] or "/"
        elif fake.prefix:
            self._send(Response(404, {"message": "Not Found", "documentation_url": DOCS}))
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        resp = fake.handle(self.command, path, parts.query, headers, body)
        if resp.drop:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._send(resp)

    def _send(self, resp: Response) -> None:
        if isinstance(resp.body, bytes):
            data = resp.body
            ctype = resp.headers.pop("Content-Type", "text/html; charset=utf-8")
        elif resp.body is None:
            data, ctype = b"", "application/json; charset=utf-8"
        else:
            data = json.dumps(resp.body).encode()
            ctype = "application/json; charset=utf-8"
        self.send_response(resp.status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-GitHub-Media-Type", "github.v3; format=json")
        self.send_header("X-GitHub-Api-Version-Selected", "2022-11-28")
        if "X-RateLimit-Remaining" not in resp.headers:
            self.send_header("X-RateLimit-Limit", "5000")
            self.send_header("X-RateLimit-Remaining", "4999")
            self.send_header("X-RateLimit-Reset", str(int(time.time()) + 3600))
            self.send_header("X-RateLimit-Resource", "core")
        for k, v in resp.headers.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _serve


# ---------------------------------------------------------------------------- JSON shapes


def _user(state: State, login: str) -> dict[str, Any]:
    return {
        "login": login, "id": zlib.crc32(login.encode()) % 10_000_000, "node_id": f"U_{login}", "type": "User",
        "site_admin": False, "url": f"{state.api}/users/{login}", "html_url": f"{state.web}/{login}",
        "avatar_url": f"{state.web}/{login}.png",
    }


def _repo_json(repo: Repo) -> dict[str, Any]:
    api, web = repo.state.api, repo.state.web
    return {
        "id": repo.id, "node_id": f"R_{repo.id}", "name": repo.name, "full_name": repo.full_name,
        "owner": _user(repo.state, repo.owner), "private": repo.private, "fork": False,
        "html_url": f"{web}/{repo.full_name}", "url": f"{api}/repos/{repo.full_name}",
        "default_branch": repo.default_branch, "visibility": "private" if repo.private else "public",
        "archived": False, "disabled": False,
        "permissions": {"admin": False, "maintain": False, "push": True, "triage": True, "pull": True},
        "pulls_url": f"{api}/repos/{repo.full_name}/pulls{{/number}}",
        "git_refs_url": f"{api}/repos/{repo.full_name}/git/refs{{/sha}}",
        "releases_url": f"{api}/repos/{repo.full_name}/releases{{/id}}",
    }


def _person(p: Person) -> dict[str, Any]:
    return {"name": p.name, "email": p.email, "date": iso(p.date)}


def _git_commit_json(repo: Repo, sha: str) -> dict[str, Any]:
    c = repo.commit(sha)
    api, web = repo.state.api, repo.state.web
    return {
        "sha": sha, "node_id": f"C_{sha}", "url": f"{api}/repos/{repo.full_name}/git/commits/{sha}",
        "html_url": f"{web}/{repo.full_name}/commit/{sha}", "author": _person(c.author),
        "committer": _person(c.committer), "message": c.message,
        "tree": {"sha": c.tree, "url": f"{api}/repos/{repo.full_name}/git/trees/{c.tree}"},
        "parents": [{"sha": p, "url": f"{api}/repos/{repo.full_name}/git/commits/{p}",
                     "html_url": f"{web}/{repo.full_name}/commit/{p}"} for p in c.parents],
        "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None},
    }


def _commit_json(repo: Repo, sha: str, with_files: bool) -> dict[str, Any]:
    c = repo.commit(sha)
    api, web = repo.state.api, repo.state.web
    git = _git_commit_json(repo, sha)
    out: dict[str, Any] = {
        "sha": sha, "node_id": f"C_{sha}", "url": f"{api}/repos/{repo.full_name}/commits/{sha}",
        "html_url": f"{web}/{repo.full_name}/commit/{sha}",
        "comments_url": f"{api}/repos/{repo.full_name}/commits/{sha}/comments",
        "commit": {"url": git["url"], "author": git["author"], "committer": git["committer"],
                   "message": c.message, "tree": git["tree"], "comment_count": 0,
                   "verification": git["verification"]},
        "author": None, "committer": None,
        "parents": [{"sha": p, "url": f"{api}/repos/{repo.full_name}/commits/{p}",
                     "html_url": f"{web}/{repo.full_name}/commit/{p}"} for p in c.parents],
    }
    if with_files:
        old = repo.commit(c.parents[0]).tree if c.parents else repo.empty_tree()
        files = repo.diff(old, c.tree)
        adds = sum(f["additions"] for f in files)
        dels = sum(f["deletions"] for f in files)
        out["stats"] = {"total": adds + dels, "additions": adds, "deletions": dels}
        out["files"] = files
    return out


def _label_json(repo: Repo, name: str) -> dict[str, Any]:
    lab = repo.labels[name]
    return {"id": lab["id"], "node_id": f"L_{lab['id']}", "name": name, "color": lab["color"],
            "description": lab.get("description"), "default": False,
            "url": f"{repo.state.api}/repos/{repo.full_name}/labels/{quote(name)}"}


def _ensure_label(repo: Repo, name: str, color: str = "ededed", description: str | None = None) -> None:
    if name not in repo.labels:
        repo.labels[name] = {"id": repo.state.next_id(), "color": color, "description": description}


def _pull_json(repo: Repo, p: Pull) -> dict[str, Any]:
    api, web = repo.state.api, repo.state.web
    url = f"{api}/repos/{repo.full_name}/pulls/{p.number}"
    head_sha = p.head_sha if p.state != "open" else repo.ref(p.head)
    base_sha = repo.ref(p.base) if p.state == "open" else (p.base_sha or repo.ref(p.base))
    return {
        "url": url, "id": 50_000 + p.number, "node_id": f"PR_{p.number}", "number": p.number,
        "html_url": f"{web}/{repo.full_name}/pull/{p.number}",
        "diff_url": f"{web}/{repo.full_name}/pull/{p.number}.diff",
        "patch_url": f"{web}/{repo.full_name}/pull/{p.number}.patch",
        "issue_url": f"{api}/repos/{repo.full_name}/issues/{p.number}",
        "commits_url": f"{url}/commits", "review_comments_url": f"{url}/comments",
        "comments_url": f"{api}/repos/{repo.full_name}/issues/{p.number}/comments",
        "statuses_url": f"{api}/repos/{repo.full_name}/statuses/{head_sha}",
        "state": p.state, "locked": False, "title": p.title, "body": p.body, "draft": p.draft,
        "user": _user(repo.state, p.user),
        "labels": [_label_json(repo, n) for n in p.labels if n in repo.labels],
        "created_at": iso(p.created_at), "updated_at": iso(p.updated_at),
        "closed_at": iso(p.closed_at) if p.closed_at else None,
        "merged_at": iso(p.merged_at) if p.merged_at else None,
        "merge_commit_sha": p.merge_commit_sha, "merged": p.merged,
        "mergeable": None, "mergeable_state": "unknown", "rebaseable": None,
        "head": {"label": f"{repo.owner}:{p.head}", "ref": p.head, "sha": head_sha,
                 "user": _user(repo.state, repo.owner), "repo": _repo_json(repo)},
        "base": {"label": f"{repo.owner}:{p.base}", "ref": p.base, "sha": base_sha,
                 "user": _user(repo.state, repo.owner), "repo": _repo_json(repo)},
        "author_association": "CONTRIBUTOR", "comments": 0, "review_comments": 0, "commits": 1,
        "additions": 0, "deletions": 0, "changed_files": len(_pull_files(repo, p)),
        "maintainer_can_modify": False,
    }


def _issue_json(repo: Repo, p: Pull) -> dict[str, Any]:
    api, web = repo.state.api, repo.state.web
    return {
        "url": f"{api}/repos/{repo.full_name}/issues/{p.number}", "id": 60_000 + p.number,
        "node_id": f"I_{p.number}", "number": p.number, "title": p.title, "body": p.body, "state": p.state,
        "html_url": f"{web}/{repo.full_name}/pull/{p.number}", "user": _user(repo.state, p.user),
        "labels": [_label_json(repo, n) for n in p.labels if n in repo.labels],
        "labels_url": f"{api}/repos/{repo.full_name}/issues/{p.number}/labels{{/name}}",
        "comments": 0, "created_at": iso(p.created_at), "updated_at": iso(p.updated_at),
        "closed_at": iso(p.closed_at) if p.closed_at else None,
        "pull_request": {"url": f"{api}/repos/{repo.full_name}/pulls/{p.number}",
                         "html_url": f"{web}/{repo.full_name}/pull/{p.number}"},
    }


def _pull_files(repo: Repo, p: Pull) -> list[dict[str, Any]]:
    if p.files is not None:
        return p.files
    head = p.head_sha or repo.ref(p.head)
    base = repo.ref(p.base)
    if not head or not base:
        return []
    mb = repo.merge_base(base, head) or base
    return repo.diff(repo.commit(mb).tree, repo.commit(head).tree)


def _ref_json(repo: Repo, ref: str) -> dict[str, Any]:
    sha = repo.refs[ref]
    obj = repo.objects.get(sha)
    kind = "tag" if isinstance(obj, TagObj) else "commit"
    api = repo.state.api
    return {"ref": ref, "node_id": f"REF_{ref}", "url": f"{api}/repos/{repo.full_name}/git/{ref}",
            "object": {"type": kind, "sha": sha, "url": f"{api}/repos/{repo.full_name}/git/{kind}s/{sha}"}}


def _tree_json(repo: Repo, sha: str, recursive: bool) -> dict[str, Any]:
    api = repo.state.api
    items = []

    def walk(tsha: str, prefix: str) -> None:
        tree = repo.objects[tsha]
        assert isinstance(tree, TreeObj)
        for e in tree.entries:
            item: dict[str, Any] = {"path": prefix + e.name, "mode": e.mode, "type": e.type, "sha": e.sha,
                                    "url": f"{api}/repos/{repo.full_name}/git/{e.type}s/{e.sha}"}
            if e.type == "blob":
                blob = repo.objects[e.sha]
                item["size"] = len(blob.data) if isinstance(blob, Blob) else 0
            items.append(item)
            if recursive and e.type == "tree":
                walk(e.sha, prefix + e.name + "/")

    walk(sha, "")
    return {"sha": sha, "url": f"{api}/repos/{repo.full_name}/git/trees/{sha}", "tree": items, "truncated": False}


CONTENTS_INLINE_LIMIT = 1024 * 1024  # the contents API sends no content for a larger file


def _content_json(repo: Repo, path: str, e: Entry, ref: str) -> dict[str, Any]:
    api, web = repo.state.api, repo.state.web
    blob = repo.objects[e.sha]
    data = blob.data if isinstance(blob, Blob) else b""
    url = f"{api}/repos/{repo.full_name}/contents/{quote(path)}?ref={quote(ref)}"
    git_url = f"{api}/repos/{repo.full_name}/git/blobs/{e.sha}"
    html = f"{web}/{repo.full_name}/blob/{quote(ref)}/{quote(path)}"
    # GitHub leaves out the content of a file over 1 MB: encoding "none", content ""
    large = len(data) > CONTENTS_INLINE_LIMIT
    return {
        "type": "file", "encoding": "none" if large else "base64", "size": len(data), "name": path.rsplit("/", 1)[-1],
        "path": path, "content": "" if large else base64.encodebytes(data).decode(), "sha": e.sha, "url": url,
        "git_url": git_url,
        "html_url": html, "download_url": f"{web}/{repo.full_name}/raw/{quote(ref)}/{quote(path)}",
        "_links": {"self": url, "git": git_url, "html": html},
    }


def _asset_json(repo: Repo, rel: Release, a: Asset) -> dict[str, Any]:
    api = repo.state.api
    return {
        "url": f"{api}/repos/{repo.full_name}/releases/assets/{a.id}", "id": a.id, "node_id": f"RA_{a.id}",
        "name": a.name, "label": a.label, "content_type": a.content_type, "state": "uploaded",
        "size": len(a.data), "digest": "sha256:" + hashlib.sha256(a.data).hexdigest(), "download_count": 0,
        "created_at": iso(a.created_at), "updated_at": iso(a.created_at), "uploader": _user(repo.state, BOT),
        "browser_download_url": f"{repo.state.root}/_download/{repo.full_name}/{quote(rel.tag_name)}/{quote(a.name)}",
    }


def _release_json(repo: Repo, rel: Release) -> dict[str, Any]:
    api, web = repo.state.api, repo.state.web
    url = f"{api}/repos/{repo.full_name}/releases/{rel.id}"
    return {
        "url": url, "html_url": f"{web}/{repo.full_name}/releases/tag/{quote(rel.tag_name)}",
        "assets_url": f"{url}/assets", "upload_url": f"{url}/assets{{?name,label}}",
        "tarball_url": f"{api}/repos/{repo.full_name}/tarball/{rel.tag_name}",
        "zipball_url": f"{api}/repos/{repo.full_name}/zipball/{rel.tag_name}",
        "id": rel.id, "node_id": f"RE_{rel.id}", "tag_name": rel.tag_name,
        "target_commitish": rel.target_commitish, "name": rel.name, "body": rel.body, "draft": rel.draft,
        "prerelease": rel.prerelease, "created_at": iso(rel.created_at),
        "published_at": iso(rel.published_at) if rel.published_at else None,
        "author": _user(repo.state, BOT), "assets": [_asset_json(repo, rel, a) for a in rel.assets],
    }


# ---------------------------------------------------------------------------- routes


def _json_body(body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    try:
        data = json.loads(body)
    except ValueError:
        raise HTTPError(400, "Problems parsing JSON") from None
    if not isinstance(data, dict):
        raise HTTPError(400, "Problems parsing JSON")
    return data


def _page(fake: FakeGitHub, path: str, qs: dict[str, str], items: list[Any]) -> Response:
    try:
        per_page = min(fake.max_per_page, max(1, int(qs.get("per_page") or fake.per_page_default)))
        page = max(1, int(qs.get("page") or 1))
    except ValueError:
        raise HTTPError(400, "Invalid page") from None
    last = max(1, -(-len(items) // per_page))
    chunk = items[(page - 1) * per_page: page * per_page]
    links = []

    def link(n: int, rel: str) -> str:
        q = dict(qs)
        q["page"] = str(n)
        q["per_page"] = str(per_page)
        return f'<{fake.url}{path}?{urlencode(q)}>; rel="{rel}"'

    if page < last:
        links += [link(page + 1, "next"), link(last, "last")]
    if page > 1:
        links += [link(1, "first"), link(page - 1, "prev")]
    return Response(200, chunk, {"Link": ", ".join(links)} if links else {})


_ROUTES: list[tuple[str, re.Pattern[str], Callable[..., Response]]] = []


def route(method: str, pattern: str) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    def deco(fn: Callable[..., Response]) -> Callable[..., Response]:
        _ROUTES.append((method, re.compile("^" + pattern + "$"), fn))
        return fn

    return deco


def _route(fake: FakeGitHub, method: str, path: str, qs: dict[str, str], query: str,
           headers: dict[str, str], body: bytes) -> Response:
    for m, rx, fn in _ROUTES:
        match = rx.match(path)
        if not match or m != method:
            continue
        args = {k: unquote(v) for k, v in match.groupdict().items()}
        repo = None
        if "owner" in args:
            repo = fake.state.repos.get(f"{args.pop('owner')}/{args.pop('repo')}".lower())
            if repo is None:
                raise _not_found()
        ctx = _Ctx(fake, repo, path, qs, headers, body)
        return fn(ctx, **args)
    raise _not_found()


@dataclass
class _Ctx:
    fake: FakeGitHub
    repo_: Repo | None
    path: str
    qs: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @property
    def repo(self) -> Repo:
        assert self.repo_ is not None
        return self.repo_

    def json(self) -> dict[str, Any]:
        return _json_body(self.body)


R = r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
_MOVED = re.compile(r"^/repos/(?P<name>[^/]+/[^/]+)(?P<rest>/.*)?$")
_BY_ID = re.compile(r"^/repositories/(?P<id>\d+)(?P<rest>/.*)?$")


@route("GET", R)
def _get_repo(c: _Ctx) -> Response:
    return Response(200, _repo_json(c.repo))


@route("POST", R + "/actions/workflows/(?P<workflow>[^/]+)/dispatches")
def _workflow_dispatch(c: _Ctx, workflow: str) -> Response:
    """``workflow_dispatch``: GitHub checks the ref and the inputs against the workflow file."""
    inputs_spec = c.repo.workflows.get(workflow)
    if inputs_spec is None:
        raise _not_found()
    data = c.json()
    ref = data.get("ref")
    if not isinstance(ref, str) or not ref:
        raise _invalid("ref is required", "Workflow", "missing_field", "ref")
    name = ref.removeprefix("refs/heads/").removeprefix("refs/tags/")
    if c.repo.ref(f"heads/{name}") is None and c.repo.ref(f"tags/{name}") is None:
        raise HTTPError(422, f"No ref found for: {ref}")
    inputs = data.get("inputs") or {}
    if not isinstance(inputs, dict) or not all(isinstance(v, str) for v in inputs.values()):
        raise HTTPError(422, "inputs must be an object of strings")
    unexpected = sorted(set(inputs) - set(inputs_spec))
    if unexpected:
        raise HTTPError(422, f"Unexpected inputs provided: {unexpected}")
    missing = sorted(k for k, v in inputs_spec.items() if v.get("required") and k not in inputs)
    if missing:
        raise HTTPError(422, f"Required input '{missing[0]}' not provided")
    c.repo.workflow_dispatches.append({"workflow": workflow, "ref": ref, "inputs": dict(inputs)})
    return Response(204, None)


@route("GET", R + "/commits/(?P<ref>[^/]+)")
def _get_commit(c: _Ctx, ref: str) -> Response:
    sha = c.repo.resolve(ref)
    if sha is None:
        raise HTTPError(422, f"No commit found for SHA: {ref}")
    return Response(200, _commit_json(c.repo, sha, True))


@route("GET", R + "/pulls")
def _list_pulls(c: _Ctx) -> Response:
    repo, qs = c.repo, c.qs
    state = qs.get("state", "open")
    pulls = list(repo.pulls.values())
    if state in ("open", "closed"):
        pulls = [p for p in pulls if p.state == state]
    elif state != "all":
        raise _invalid(f"state {state!r} is not valid")
    if qs.get("head"):
        owner, _, branch = qs["head"].partition(":")
        if not branch:
            raise _invalid("head must be OWNER:BRANCH")
        pulls = [p for p in pulls if p.head == branch and owner.lower() == repo.owner.lower()]
    if qs.get("base"):
        pulls = [p for p in pulls if p.base == qs["base"]]
    sort = qs.get("sort", "created")
    key = {"created": lambda p: (p.created_at, p.number), "updated": lambda p: (p.updated_at, p.number),
           "popularity": lambda p: p.number, "long-running": lambda p: p.created_at}.get(sort)
    if key is None:
        raise _invalid(f"sort {sort!r} is not valid")
    pulls.sort(key=key, reverse=qs.get("direction", "desc") == "desc")
    return _page(c.fake, c.path, qs, [_pull_json(repo, p) for p in pulls])


def _check_pull_refs(repo: Repo, head: str, base: str) -> tuple[str, str]:
    head_sha, base_sha = repo.ref(f"heads/{head}"), repo.ref(f"heads/{base}")
    if head_sha is None:
        raise _invalid("head is invalid", "PullRequest", "invalid", "head")
    if base_sha is None:
        raise _invalid("base is invalid", "PullRequest", "invalid", "base")
    return head_sha, base_sha


@route("POST", R + "/pulls")
def _create_pull(c: _Ctx) -> Response:
    repo, data = c.repo, c.json()
    title, head, base = data.get("title"), data.get("head"), data.get("base")
    if not isinstance(title, str) or not title.strip():
        raise _invalid("title is missing", "PullRequest", "missing_field", "title")
    if not isinstance(head, str) or not isinstance(base, str):
        raise _invalid("head and base are required", "PullRequest", "missing_field", "head")
    if ":" in head:
        owner, _, head = head.partition(":")
        if owner.lower() != repo.owner.lower():
            raise _invalid("head is invalid", "PullRequest", "invalid", "head")
    head_sha, base_sha = _check_pull_refs(repo, head, base)
    if any(p.state == "open" and p.head == head and p.base == base for p in repo.pulls.values()):
        raise _invalid(f"A pull request already exists for {repo.owner}:{head}.", "PullRequest")
    if head_sha in repo.ancestors(base_sha):
        raise _invalid(f"No commits between {base} and {head}", "PullRequest")
    body = data.get("body")
    p = Pull(repo.next_number(), title, body if isinstance(body, str) else None, head, base,
             draft=bool(data.get("draft", False)))
    repo.pulls[p.number] = p
    return Response(201, _pull_json(repo, p))


def _pull(repo: Repo, number: str) -> Pull:
    p = repo.pulls.get(int(number))
    if p is None:
        raise _not_found()
    return p


@route("GET", R + r"/pulls/(?P<number>\d+)")
def _get_pull(c: _Ctx, number: str) -> Response:
    return Response(200, _pull_json(c.repo, _pull(c.repo, number)))


@route("PATCH", R + r"/pulls/(?P<number>\d+)")
def _update_pull(c: _Ctx, number: str) -> Response:
    repo, p, data = c.repo, _pull(c.repo, number), c.json()
    if "title" in data:
        if not isinstance(data["title"], str) or not data["title"].strip():
            raise _invalid("title is missing", "PullRequest", "missing_field", "title")
        p.title = data["title"]
    if "body" in data:
        p.body = data["body"]
    if "base" in data:
        _check_pull_refs(repo, p.head, data["base"])
        p.base = data["base"]
    if "state" in data:
        if data["state"] == "closed" and p.state == "open":
            repo.close(p.number)
        elif data["state"] == "open" and p.state == "closed":
            if p.merged:
                raise _invalid("state cannot be changed. The pull request has been merged.", "PullRequest")
            if repo.ref(f"heads/{p.head}") is None:
                raise _invalid("state cannot be changed. The head branch was deleted.", "PullRequest")
            p.state, p.closed_at, p.head_sha = "open", None, None
        elif data["state"] not in ("open", "closed"):
            raise _invalid("state is not valid", "PullRequest", "invalid", "state")
    p.updated_at = time.time()
    return Response(200, _pull_json(repo, p))


@route("GET", R + r"/pulls/(?P<number>\d+)/files")
def _pull_files_route(c: _Ctx, number: str) -> Response:
    return _page(c.fake, c.path, c.qs, _pull_files(c.repo, _pull(c.repo, number)))


@route("GET", R + r"/issues/(?P<number>\d+)")
def _get_issue(c: _Ctx, number: str) -> Response:
    return Response(200, _issue_json(c.repo, _pull(c.repo, number)))


def _label_names(data: Any) -> list[str]:
    raw = data.get("labels") if isinstance(data, dict) else data
    if not isinstance(raw, list):
        raise _invalid("labels must be a list", "Label", "invalid", "labels")
    names = []
    for item in raw:
        name = item.get("name") if isinstance(item, dict) else item
        if not isinstance(name, str) or not name.strip():
            raise _invalid("label name is invalid", "Label", "invalid", "name")
        names.append(name)
    return names


@route("POST", R + r"/issues/(?P<number>\d+)/labels")
def _add_labels(c: _Ctx, number: str) -> Response:
    p = _pull(c.repo, number)
    data = json.loads(c.body or b"{}")
    for name in _label_names(data):
        _ensure_label(c.repo, name)
        if name not in p.labels:
            p.labels.append(name)
    return Response(200, [_label_json(c.repo, n) for n in p.labels])


# -- git data


@route("POST", R + "/git/blobs")
def _create_blob(c: _Ctx) -> Response:
    data = c.json()
    content, encoding = data.get("content"), data.get("encoding", "utf-8")
    if not isinstance(content, str):
        raise _invalid("content is missing", "Blob", "missing_field", "content")
    if encoding == "base64":
        try:
            raw = base64.b64decode(content, validate=False)
        except ValueError:
            raise _invalid("content is not valid Base64", "Blob") from None
    elif encoding in ("utf-8", "utf8"):
        raw = content.encode()
    else:
        raise _invalid(f"encoding {encoding!r} is not supported", "Blob", "invalid", "encoding")
    sha = c.repo.put_blob(raw)
    return Response(201, {"url": f"{c.fake.state.api}/repos/{c.repo.full_name}/git/blobs/{sha}", "sha": sha})


@route("GET", R + "/git/blobs/(?P<sha>[0-9a-f]{40})")
def _get_blob(c: _Ctx, sha: str) -> Response:
    blob = c.repo.objects.get(sha)
    if not isinstance(blob, Blob):
        raise _not_found()
    return Response(200, {"sha": sha, "node_id": f"B_{sha}", "size": len(blob.data),
                          "url": f"{c.fake.state.api}/repos/{c.repo.full_name}/git/blobs/{sha}",
                          "content": base64.encodebytes(blob.data).decode(), "encoding": "base64"})


@route("POST", R + "/git/trees")
def _create_tree(c: _Ctx) -> Response:
    repo, data = c.repo, c.json()
    entries = data.get("tree")
    if not isinstance(entries, list):
        raise _invalid("tree is missing", "Tree", "missing_field", "tree")
    base = data.get("base_tree")
    if base is not None:
        if not isinstance(repo.objects.get(base), TreeObj):
            raise HTTPError(422, "Invalid tree info")
        flat = repo.flatten(base)
    else:
        flat = {}
    for item in entries:
        if not isinstance(item, dict) or not isinstance(item.get("path"), str):
            raise HTTPError(422, "Invalid tree info")
        path, mode, kind = item["path"].strip("/"), item.get("mode"), item.get("type")
        if not path or any(part in ("", ".", "..", ".git") for part in path.split("/")):
            raise HTTPError(422, f"tree.path contains a malformed path component: {item['path']!r}")
        if mode not in ("100644", "100755", "040000", "160000", "120000") or kind not in ("blob", "tree", "commit"):
            raise HTTPError(422, "Invalid tree info")
        if "content" in item and item["content"] is not None:
            sha = repo.put_blob(str(item["content"]).encode())
        else:
            sha = item.get("sha")
        for p in [p for p in flat if p == path or p.startswith(path + "/")]:
            del flat[p]
        if sha is None:
            continue
        obj = repo.objects.get(sha)
        if kind == "blob" and not isinstance(obj, Blob):
            raise HTTPError(422, f"tree.sha {sha} is not a valid blob")
        if kind == "tree":
            if not isinstance(obj, TreeObj):
                raise HTTPError(422, f"tree.sha {sha} is not a valid tree")
            flat.update({f"{path}/{p}": Entry(f"{path}/{p}", e.mode, e.type, e.sha)
                         for p, e in repo.flatten(sha).items()})
            continue
        flat[path] = Entry(path, mode, kind, sha)
    sha = repo.build(flat)
    return Response(201, _tree_json(repo, sha, False))


@route("GET", R + "/git/trees/(?P<ref>[^/]+)")
def _get_tree(c: _Ctx, ref: str) -> Response:
    repo = c.repo
    sha = ref if isinstance(repo.objects.get(ref), TreeObj) else None
    if sha is None:
        commit = repo.resolve(ref)
        sha = repo.commit(commit).tree if commit else None
    if sha is None:
        raise _not_found()
    recursive = c.qs.get("recursive") not in (None, "", "0", "false")
    return Response(200, _tree_json(repo, sha, recursive))


@route("POST", R + "/git/commits")
def _create_git_commit(c: _Ctx) -> Response:
    repo, data = c.repo, c.json()
    message, tree, parents = data.get("message"), data.get("tree"), data.get("parents", [])
    if not isinstance(message, str):
        raise _invalid("message is missing", "Commit", "missing_field", "message")
    if not isinstance(repo.objects.get(tree), TreeObj):
        raise HTTPError(422, "Tree SHA does not exist")
    if not isinstance(parents, list) or not all(isinstance(repo.objects.get(p), CommitObj) for p in parents):
        raise HTTPError(422, "Parent SHA does not exist or is not a commit object")
    now = time.time()

    def person(raw: Any) -> Person:
        if isinstance(raw, dict) and raw.get("name") and raw.get("email"):
            return Person(str(raw["name"]), str(raw["email"]), parse_time(raw.get("date")) if raw.get("date") else now)
        return Person(BOT, f"{BOT}@users.noreply.github.com", now)

    author = person(data.get("author"))
    committer = person(data.get("committer")) if data.get("committer") else author
    sha = repo.put(CommitObj(tree, tuple(parents), message, author, committer))
    return Response(201, _git_commit_json(repo, sha))


@route("GET", R + "/git/commits/(?P<sha>[0-9a-f]{40})")
def _get_git_commit(c: _Ctx, sha: str) -> Response:
    if not isinstance(c.repo.objects.get(sha), CommitObj):
        raise _not_found()
    return Response(200, _git_commit_json(c.repo, sha))


@route("GET", R + "/git/tags/(?P<sha>[0-9a-f]{40})")
def _get_tag(c: _Ctx, sha: str) -> Response:
    t = c.repo.objects.get(sha)
    if not isinstance(t, TagObj):
        raise _not_found()
    api = c.fake.state.api
    return Response(200, {"sha": sha, "node_id": f"T_{sha}", "url": f"{api}/repos/{c.repo.full_name}/git/tags/{sha}",
                          "tag": t.tag, "message": t.message, "tagger": _person(t.tagger),
                          "object": {"type": t.type, "sha": t.object,
                                     "url": f"{api}/repos/{c.repo.full_name}/git/commits/{t.object}"}})


@route("GET", R + "/git/ref/(?P<ref>.+)")
def _get_ref(c: _Ctx, ref: str) -> Response:
    full = "refs/" + ref
    if full not in c.repo.refs:
        raise _not_found()
    return Response(200, _ref_json(c.repo, full))


@route("GET", R + "/git/matching-refs/(?P<ref>.*)")
def _matching_refs(c: _Ctx, ref: str) -> Response:
    full = "refs/" + ref
    return _page(c.fake, c.path, c.qs, [_ref_json(c.repo, r) for r in sorted(c.repo.refs) if r.startswith(full)])


@route("POST", R + "/git/refs")
def _create_ref(c: _Ctx) -> Response:
    repo, data = c.repo, c.json()
    ref, sha = data.get("ref"), data.get("sha")
    if not isinstance(ref, str) or not ref.startswith("refs/") or ref.count("/") < 2:
        raise HTTPError(422, "Reference name must start with 'refs/' and have at least two slashes.")
    if not isinstance(sha, str) or sha not in repo.objects:
        raise HTTPError(422, "Object does not exist")
    if ref in repo.refs:
        raise HTTPError(422, "Reference already exists")
    repo.refs[ref] = sha
    return Response(201, _ref_json(repo, ref))


@route("PATCH", R + "/git/refs/(?P<ref>.+)")
def _update_ref(c: _Ctx, ref: str) -> Response:
    repo, data = c.repo, c.json()
    full = "refs/" + ref
    sha = data.get("sha")
    if full not in repo.refs:
        raise HTTPError(422, "Reference does not exist")
    if not isinstance(sha, str) or not isinstance(repo.objects.get(sha), (CommitObj, TagObj)):
        raise HTTPError(422, "Object does not exist")
    current = repo.refs[full]
    if not data.get("force") and isinstance(repo.objects.get(sha), CommitObj) and current not in repo.ancestors(sha):
        raise HTTPError(422, "Update is not a fast forward")
    repo.refs[full] = sha
    return Response(200, _ref_json(repo, full))


@route("GET", R + "/contents(?:/(?P<path>.*))?")
def _get_contents(c: _Ctx, path: str | None = None) -> Response:
    repo = c.repo
    ref = c.qs.get("ref") or repo.default_branch
    sha = repo.resolve(ref)
    if sha is None:
        raise HTTPError(404, f"No commit found for the ref {ref}")
    path = (path or "").strip("/")
    flat = repo.flatten(repo.commit(sha).tree)
    if path in flat:
        return Response(200, _content_json(repo, path, flat[path], ref))
    prefix = path + "/" if path else ""
    children: dict[str, dict[str, Any]] = {}
    for p, e in flat.items():
        if p.startswith(prefix):
            name, _, rest = p[len(prefix):].partition("/")
            full = prefix + name
            if rest:
                children.setdefault(name, {"type": "dir", "name": name, "path": full, "sha": None, "size": 0})
            else:
                item = _content_json(repo, full, e, ref)
                item.pop("content")
                item.pop("encoding")
                children[name] = item
    if not children:
        raise _not_found()
    return Response(200, [children[k] for k in sorted(children)])


# -- releases


def _release(repo: Repo, rid: str) -> Release:
    rel = next((r for r in repo.releases if r.id == int(rid)), None)
    if rel is None:
        raise _not_found()
    return rel


@route("GET", R + "/releases")
def _list_releases(c: _Ctx) -> Response:
    rels = sorted(c.repo.releases, key=lambda r: (r.created_at, r.id), reverse=True)
    return _page(c.fake, c.path, c.qs, [_release_json(c.repo, r) for r in rels])


def _publish_tag(repo: Repo, rel: Release) -> None:
    ref = f"refs/tags/{rel.tag_name}"
    if ref not in repo.refs:
        target = repo.resolve(rel.target_commitish)
        if target is None:
            raise _invalid("target_commitish is invalid", "Release", "invalid", "target_commitish")
        repo.refs[ref] = target


@route("POST", R + "/releases")
def _create_release(c: _Ctx) -> Response:
    repo, data = c.repo, c.json()
    tag = data.get("tag_name")
    if not isinstance(tag, str) or not tag:
        raise _invalid("tag_name is missing", "Release", "missing_field", "tag_name")
    if any(r.tag_name == tag for r in repo.releases):
        raise _invalid("already_exists", "Release", "already_exists", "tag_name")
    rel = Release(c.fake.state.next_id(), tag, str(data.get("target_commitish") or repo.default_branch),
                  data.get("name"), data.get("body"), bool(data.get("draft", False)),
                  bool(data.get("prerelease", False)))
    if not rel.draft:
        _publish_tag(repo, rel)
        rel.published_at = time.time()
    repo.releases.append(rel)
    return Response(201, _release_json(repo, rel))


@route("GET", R + "/releases/latest")
def _latest_release(c: _Ctx) -> Response:
    rels = [r for r in c.repo.releases if not r.draft and not r.prerelease]
    if not rels:
        raise _not_found()
    return Response(200, _release_json(c.repo, max(rels, key=lambda r: (r.published_at or 0, r.id))))


@route("GET", R + "/releases/tags/(?P<tag>.+)")
def _release_by_tag(c: _Ctx, tag: str) -> Response:
    rel = next((r for r in c.repo.releases if r.tag_name == tag and not r.draft), None)
    if rel is None:
        raise _not_found()
    return Response(200, _release_json(c.repo, rel))


@route("PATCH", R + r"/releases/(?P<rid>\d+)")
def _update_release(c: _Ctx, rid: str) -> Response:
    repo, rel, data = c.repo, _release(c.repo, rid), c.json()
    if "tag_name" in data and data["tag_name"] != rel.tag_name:
        if any(r.tag_name == data["tag_name"] for r in repo.releases):
            raise _invalid("already_exists", "Release", "already_exists", "tag_name")
        rel.tag_name = data["tag_name"]
    for key in ("target_commitish", "name", "body"):
        if key in data:
            setattr(rel, key, data[key])
    if "prerelease" in data:
        rel.prerelease = bool(data["prerelease"])
    if "draft" in data:
        if rel.draft and not data["draft"]:
            _publish_tag(repo, rel)
            rel.published_at = time.time()
        rel.draft = bool(data["draft"])
    return Response(200, _release_json(repo, rel))


@route("POST", R + r"/releases/(?P<rid>\d+)/assets")
def _upload_asset(c: _Ctx, rid: str) -> Response:
    rel = _release(c.repo, rid)
    name = c.qs.get("name")
    if not name:
        raise _invalid("name is missing", "ReleaseAsset", "missing_field", "name")
    if any(a.name == name for a in rel.assets):
        raise _invalid("already_exists", "ReleaseAsset", "already_exists", "name")
    asset = Asset(c.fake.state.next_id(), name, c.qs.get("label"),
                  c.headers.get("content-type", "application/octet-stream"), c.body)
    rel.assets.append(asset)
    return Response(201, _asset_json(c.repo, rel, asset))


def _asset(repo: Repo, aid: str) -> tuple[Release, Asset]:
    for rel in repo.releases:
        for a in rel.assets:
            if a.id == int(aid):
                return rel, a
    raise _not_found()


def client_env(fake: FakeGitHub, token: str | None = None) -> dict[str, str]:
    """The environment a GitHub Actions job would give plugin-sync, pointed at ``fake``."""
    return {
        "GITHUB_API_URL": fake.url,
        "GITHUB_TOKEN": token if token is not None else (fake.token or ""),
        "PLUGIN_SYNC_GITHUB_WRITE_INTERVAL": "0",
    }
