from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from tests.image.buildah import Buildah, available
from tests.support.registry import Registry, running_registry

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "higress-plugin-server-tests"
PACKAGES = "nginx-light,python3,python3-pip,curl,ca-certificates"


def base_tar() -> Path:
    """A Debian bookworm root with nginx, Python and curl, made once and kept in the cache."""
    key = hashlib.sha256(f"bookworm minbase {PACKAGES}".encode()).hexdigest()[:12]
    out = CACHE / f"base-{key}.tar"
    if not out.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        part = out.with_suffix(".part")
        subprocess.run(["mmdebstrap", "--quiet", "--format=tar", "--variant=minbase", f"--include={PACKAGES}", "bookworm", str(part)],
                       check=True, timeout=900)
        os.replace(part, out)
    return out


@pytest.fixture(scope="session")
def buildah(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Buildah]:
    why = available()
    if why:
        pytest.fail(f"image builds need buildah and mmdebstrap: {why}")
    b = Buildah(tmp_path_factory.mktemp("buildah"))
    b.pick_driver()
    b.make_bases(base_tar())
    yield b
    b.run("rmi", "--all", "--force", check=False)
    subprocess.run(["umount", "-R", str(b.dir / f"storage-{b.driver}" / "overlay")], capture_output=True)
    shutil.rmtree(b.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def image_registry() -> Iterator[Registry]:
    with running_registry() as r:
        yield r


def build_context(dest: Path) -> Path:
    """This checkout's files (tracked, and new ones not ignored), as a build context."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for f in filter(None, files):
        src = REPO / f
        if src.is_file() and not src.is_symlink():
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / f)
        elif src.is_symlink():
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            os.symlink(os.readlink(src), dest / f)
    return dest
