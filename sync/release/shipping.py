"""What ships in the plugin-server image, as repository paths. Pure.

The image is built from the repository: the lock and ``plugins.yaml`` say what is pulled, the
hand-placed plugins are copied, ``nginx/`` is the server config, ``Dockerfile`` and
``.dockerignore`` shape the build, ``charts/`` is the Helm chart released with it. The toolkit
(``sync/``, ``pyproject.toml`` and its hash lock ``requirements/runtime.txt``) ships too: the build runs ``plugin-sync pull --locked``,
which renders ``metadata.txt``, ``index.json`` and the catalog pages that the server serves,
so a code change can change served bytes. ``scripts/image-tree.sh`` chooses what the build
serves; while the lock is empty that is the newest of ``snapshots/`` with
``unmanaged-plugins.lock.json``. Docs, tests, workflows and other scripts do not ship,
nor do ``README.md`` and ``LICENSE``: the build copies them for the package metadata only, nothing serves them.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from sync.filenames import CONFIG, LOCK, TREE, UNMANAGED_LOCK

# paths that ship besides the lock, the config and the hand-placed plugin tree
SHIPPED_FILES = ("Dockerfile", ".dockerignore", "pyproject.toml", "requirements/runtime.txt", "scripts/image-tree.sh",
                 UNMANAGED_LOCK)
SHIPPED_DIRS = ("nginx", "charts", "sync", "snapshots")


def _clean(path: str) -> str:
    p = posixpath.normpath(path.replace("\\", "/")).lstrip("/")
    return "" if p == "." else p


@dataclass(frozen=True)
class ShipRules:
    """Which repository paths (POSIX, relative to the repository root) end up in the image."""

    lock: str = LOCK
    config: str = CONFIG
    root: str = TREE
    files: tuple[str, ...] = SHIPPED_FILES
    dirs: tuple[str, ...] = SHIPPED_DIRS

    def is_lock(self, path: str) -> bool:
        return _clean(path) == _clean(self.lock)

    def ships(self, path: str) -> bool:
        p = _clean(path)
        if p in {_clean(self.lock), _clean(self.config), *map(_clean, self.files)}:
            return True
        for d in (self.root, *self.dirs):
            d = _clean(d)
            if d and p.startswith(d + "/"):
                return True
        return False

    def shipped(self, paths: list[str] | tuple[str, ...]) -> list[str]:
        """The paths among ``paths`` that ship, sorted and without duplicates."""
        return sorted({_clean(p) for p in paths if self.ships(p)})

    def patterns(self) -> list[str]:
        """The same rules as GitHub Actions path filters (``on.push.paths``)."""
        files = [_clean(self.lock), _clean(self.config), *map(_clean, self.files)]
        dirs = [f"{_clean(d)}/**" for d in (self.root, *self.dirs) if _clean(d)]
        return sorted(set(files + dirs))
