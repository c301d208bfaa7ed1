"""The repository's GitHub workflows, loaded for tests, and the lint tools that check them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
NAMES = ("ci.yml", "release.yml", "sync.yml", "gateway-release.yml")


@dataclass(frozen=True)
class Workflow:
    path: Path
    text: str
    data: dict[str, Any]

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def on(self) -> dict[str, Any]:
        # YAML 1.1 reads a bare `on` key as True
        raw = self.data.get("on", self.data.get(True))
        return raw if isinstance(raw, dict) else {k: None for k in ([raw] if isinstance(raw, str) else raw)}

    @property
    def jobs(self) -> dict[str, dict[str, Any]]:
        return self.data["jobs"]

    def steps(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for job_id, job in self.jobs.items():
            for step in job.get("steps", []):
                yield job_id, step

    def step(self, job_id: str, step_id: str) -> dict[str, Any]:
        return next(s for s in self.jobs[job_id]["steps"] if s.get("id") == step_id)

    def uses(self, action: str) -> list[tuple[str, dict[str, Any]]]:
        return [(j, s) for j, s in self.steps() if str(s.get("uses", "")).split("@")[0] == action]


def load(name: str) -> Workflow:
    path = WORKFLOWS / name
    text = path.read_text(encoding="utf-8")
    return Workflow(path, text, yaml.safe_load(text))


def tool(name: str) -> str:
    """A lint tool from PATH or beside this Python (pip installs them as wheels)."""
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if not found:
        raise AssertionError(f"{name} is not installed: pip install -e '.[lint]'")
    return found


def run_tool(*argv: str) -> subprocess.CompletedProcess[str]:
    """Run a lint tool offline: no GitHub token in its environment, nothing fetched."""
    env = {k: v for k, v in os.environ.items() if k not in ("GH_TOKEN", "GITHUB_TOKEN", "ZIZMOR_GITHUB_TOKEN")}
    env["NO_COLOR"] = "1"
    return subprocess.run([tool(argv[0]), *argv[1:]], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
