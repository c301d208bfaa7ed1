"""A pull workspace: plugins.yaml, the lock and the tree, and ``plugin-sync pull`` run in a
subprocess exactly as a sync run or an image build runs it (``--json`` for its counters)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import sync
from bench.dataset import BenchPlugin, write_config
from bench.measure import run
from sync.filenames import CONFIG, LOCK


@dataclass(frozen=True)
class PullSample:
    seconds: float
    max_rss: int
    cpu: float
    requests: int
    blob_bytes: int
    summary: dict[str, int]


def clean_env(home: Path) -> dict[str, str]:
    """The environment of every measured command: no registry credentials from the caller,
    and the project's modules compiled to bytecode as an installed copy has them (in
    ``__pycache__`` beside the sources, as Python keeps them), so that no command measures
    Python compiling them where the caller's environment says not to keep bytecode."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PLUGIN_SYNC_") and k != "PYTHONDONTWRITEBYTECODE"}
    docker = home / "docker-config"
    docker.mkdir(parents=True, exist_ok=True)
    env["DOCKER_CONFIG"] = str(docker)
    env.pop("PYTHONPYCACHEPREFIX", None)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(sync.__file__).parent)], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return env


@dataclass
class Workspace:
    dir: Path
    registry: str  # host:port of the registry every source is redirected to
    env: dict[str, str]

    @classmethod
    def create(cls, parent: Path, name: str, plugins: list[BenchPlugin], registry: str,
               config_registry: str) -> "Workspace":
        d = parent / name
        d.mkdir(parents=True)
        write_config(d / CONFIG, plugins, config_registry)
        return cls(d, registry, clean_env(parent))

    @property
    def config(self) -> Path:
        return self.dir / CONFIG

    @property
    def lock(self) -> Path:
        return self.dir / LOCK

    @property
    def root(self) -> Path:
        """The tree; below ``www/`` so that a stock nginx with ``root www`` serves /plugins/."""
        return self.dir / "www" / "plugins"

    def empty(self, keep_lock: bool = False) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        if not keep_lock:
            self.lock.unlink(missing_ok=True)

    def pull(self, *args: str, root: Path | None = None) -> PullSample:
        argv = [sys.executable, "-m", "sync", "--config", str(self.config), "--root", str(root or self.root),
                "--lock", str(self.lock), "pull", "--plain-http", "--registry", self.registry, "--json", *args]
        m = run(argv, env=self.env)
        report = json.loads(m.stdout)
        summary = dict(report["summary"])
        if summary.get("failed"):
            raise RuntimeError(f"pull {' '.join(args)} failed: {m.stderr.strip().splitlines()[-1:]}")
        return PullSample(m.seconds, m.max_rss, m.cpu, int(report["registryRequests"]), int(report["blobBytes"]),
                          summary)
