"""Atomic file writes: write beside, fsync, rename."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def tmp_name(path: Path, tag: str = "tmp") -> Path:
    """A hidden sibling of ``path`` with a random suffix, for write-then-rename."""
    return path.with_name(f".{path.name}.{tag}-{secrets.token_hex(4)}")


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes | str, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` so that readers see the old or the new file, never a mix."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_name(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def write_synced(path: Path, data: bytes | str) -> None:
    """Write a new file in a directory no reader sees yet (a staging directory, renamed into
    place whole once complete) and fsync it: no temporary name and no rename of its own."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def write_if_changed(path: Path, data: bytes | str) -> bool:
    """Write atomically unless the file already holds exactly ``data``. Returns True if written."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    write_atomic(path, data)
    return True


def symlink_atomic(target: str, link: Path) -> None:
    """Point ``link`` at ``target`` with one rename; a reader sees the old or the new target."""
    tmp = tmp_name(link, "link")
    os.symlink(target, tmp)
    try:
        os.replace(tmp, link)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def exchange(a: Path, b: Path) -> None:
    """Swap two existing paths (directories too) so that a reader of either name finds the
    old or the new one, never nothing: Linux's ``renameat2(RENAME_EXCHANGE)``. Where the
    system or the file system lacks it, three renames do the same with a moment between."""
    import ctypes
    import errno

    fn = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if fn is not None:
        at_fdcwd, rename_exchange = -100, 2
        if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
            return
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise OSError(err, os.strerror(err), str(a))
    aside = tmp_name(b, "old")
    os.rename(b, aside)
    os.rename(a, b)
    os.rename(aside, a)


def read_input(path: Path, missing_hint: str | None = None) -> str | None:
    """The text of an input file. A missing file gives None, or, when ``missing_hint`` is
    given, a ConfigError naming the file. Unreadable files are a ConfigError."""
    from sync.errors import ConfigError

    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if missing_hint is not None:
            raise ConfigError(f"{path}: no such file{missing_hint}") from None
        return None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read: {e}") from None


def read_json(path: Path) -> object | None:
    """Parsed JSON of ``path``; None if it does not exist; ConfigError if unreadable or invalid."""
    import json

    from sync.errors import ConfigError

    text = read_input(path)
    if text is None:
        return None
    try:
        data: object = json.loads(text)
        return data
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}: not valid JSON: {e}") from None


# Every file and blob is read and written in 64 KiB pieces: with 1 MiB pieces glibc's
# allocator kept several MB per download thread, and peak memory grew with module size
# (see docs/performance.md).
CHUNK = 64 * 1024


def sha256_file(path: Path) -> str:
    """The sha256 of a file, read in chunks."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def hash_file(path: Path) -> tuple[str, str, int]:
    """(sha256, md5, size) of a file, in one read."""
    import hashlib

    sha, md5, size = hashlib.sha256(), hashlib.md5(), 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            sha.update(chunk)
            md5.update(chunk)
            size += len(chunk)
    return sha.hexdigest(), md5.hexdigest(), size
