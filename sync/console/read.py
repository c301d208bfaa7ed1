"""The I/O of ``coverage``: the console's list from a checkout, a local copy or a git ref
read through the GitHub API, and what a tree or a running server answers for each URL."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Iterable
from urllib.parse import urlsplit

import github
import requests

from sync.errors import ConfigError, UsageError
from sync.filenames import SPEC
from sync.fsutil import sha256_file
from sync.github.client import GitHubError, github_errors
from sync.http import make_session, timeouts
from sync.properties import parse_properties
from sync.console.model import (
    CHART, CONSOLE_LOCK, LIST, PLUGINS_DIR, PROPERTIES, ConsolePlugin, console_ref, from_files, parse_list,
)
from sync.console.plan import Answer

TREE_PREFIX = "/plugins/"  # where nginx serves the tree


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from None


def from_directory(path: Path) -> tuple[ConsolePlugin, ...]:
    """A console checkout (``backend/sdk/src/main/resources/plugins/`` inside it), that
    directory itself, or a directory holding a local copy (``console-plugins.json``, with
    ``plugin-snapshot.lock.json`` beside it when there is one)."""
    if path.is_file():
        data = _read(path)
        assert data is not None
        return parse_list(data, _read(path.parent / CONSOLE_LOCK), str(path))
    if not path.is_dir():
        raise ConfigError(f"{path}: no such console checkout or list")
    copy = _read(path / LIST)
    if copy is not None:
        return parse_list(copy, _read(path / CONSOLE_LOCK), str(path / LIST))
    base = path / PLUGINS_DIR if (path / PLUGINS_DIR).is_dir() else path
    properties = _read(base / PROPERTIES)
    if properties is None:
        raise ConfigError(f"{path}: neither a console checkout ({PLUGINS_DIR}/{PROPERTIES}) nor a list ({LIST})")
    specs = {d.name: text.decode("utf-8", "replace") for d in sorted(base.iterdir())
             if d.is_dir() and (text := _read(d / SPEC)) is not None}
    return from_files(properties.decode("utf-8", "replace"), specs, _read(base / CONSOLE_LOCK), f"{base}/")


def from_github(gh: github.Github, repo_name: str, ref: str) -> tuple[ConsolePlugin, ...]:
    """The console's files at ``ref`` of ``repo_name``, read through the GitHub API: the
    properties, the lock and the spec of each key the properties list."""
    try:
        with github_errors(f"reading {ref} of {repo_name}"):
            repo = gh.get_repo(repo_name)
            sha = repo.get_commit(ref).sha
    except GitHubError as e:
        if e.status in (404, 422):  # no such repository or ref: bad input
            raise UsageError(f"--console-ref {ref}: {e.message}") from None
        raise

    def read(path: str) -> bytes | None:
        try:
            with github_errors(f"reading {PLUGINS_DIR}/{path} at {sha[:12]} of {repo_name}"):
                content = repo.get_contents(f"{PLUGINS_DIR}/{path}", ref=sha)
                return None if isinstance(content, list) else content.decoded_content
        except GitHubError as e:
            if e.status == 404:
                return None
            raise

    properties = read(PROPERTIES)
    if properties is None:
        raise UsageError(f"--console-ref {ref}: {repo_name} has no {PLUGINS_DIR}/{PROPERTIES} there")
    text = properties.decode("utf-8", "replace")
    specs = {k: spec.decode("utf-8", "replace") for k in parse_properties(text).plugins
             if (spec := read(f"{k}/{SPEC}")) is not None}
    return from_files(text, specs, read(CONSOLE_LOCK), f"{repo_name}@{ref}: ")


def console_ref_at(gh: github.Github, upstream: str, commit: str) -> str:
    """The console release that Higress at ``commit`` ships (its umbrella chart's
    ``higress-console`` dependency), as a git tag of the console repository."""
    try:
        with github_errors(f"reading {CHART} at {commit[:12]} of {upstream}"):
            content = gh.get_repo(upstream).get_contents(CHART, ref=commit)
            text = b"" if isinstance(content, list) else content.decoded_content
    except GitHubError as e:
        if e.status == 404:
            raise UsageError(f"cannot tell the console of {upstream} at {commit[:12]}: no {CHART}; "
                             "give --console-ref") from None
        raise
    ref = console_ref(text.decode("utf-8", "replace"))
    if ref is None:
        raise UsageError(f"cannot tell the console of {upstream} at {commit[:12]}: {CHART} names no "
                         "higress-console dependency; give --console-ref")
    return ref


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def tree_answers(root: Path, urls: Iterable[str]) -> dict[str, Answer]:
    """What the tree ``root`` (served at /plugins/) holds for each URL: 200 and the sha256
    of a regular file inside it, else 404."""
    if not root.is_dir():
        raise ConfigError(f"{root}: no such tree")
    real_root = os.path.realpath(root)
    out: dict[str, Answer] = {}
    for url in urls:
        path = urlsplit(url).path
        if not path.startswith(TREE_PREFIX):
            raise UsageError(f"the URL pattern's path must start with {TREE_PREFIX} to check a tree, got {path!r}")
        file = os.path.realpath(os.path.join(real_root, path[len(TREE_PREFIX):]))
        if os.path.commonpath([file, real_root]) != real_root or not os.path.isfile(file):
            out[url] = Answer(404)
        else:
            out[url] = Answer(200, sha256_file(Path(file)))
    return out


def server_answers(base: str, urls: Iterable[str], read_timeout: float | None = None) -> dict[str, Answer]:
    """What the server at ``base`` answers for each URL's path: a plain GET, as the gateway
    sends it; a 200's body is hashed as it streams."""
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"--url {base!r}: expected http(s)://HOST[:PORT]")
    out: dict[str, Answer] = {}
    with make_session() as session:
        for url in urls:
            full = base.rstrip("/") + _path(url)
            try:
                with session.get(full, stream=True, timeout=timeouts(read_timeout)) as r:
                    if r.status_code != 200:
                        out[url] = Answer(r.status_code)
                        continue
                    h = hashlib.sha256()
                    for chunk in r.iter_content(1 << 16):
                        h.update(chunk)
                    out[url] = Answer(200, h.hexdigest())
            except requests.RequestException as e:
                out[url] = Answer(None, error=f"{type(e).__name__} from {full}")
    return out
