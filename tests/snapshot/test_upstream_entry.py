"""What upstream's build-plugin-server-from-snapshot workflow runs at this repository's root:
``python3 -m unittest test_pull_plugins.py``, on a runner where nothing was installed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _unittest(*python_flags: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    return subprocess.run([sys.executable, *python_flags, "-m", "unittest", "-v", "test_pull_plugins.py"],
                          cwd=REPO, capture_output=True, text=True, timeout=300, env=env)


def test_passes_with_the_standard_library_alone() -> None:
    """-S: no site-packages at all, as on a runner where nothing was installed."""
    p = _unittest("-S")
    assert p.returncode == 0, p.stderr
    assert "OK (skipped=2)" in p.stderr
    assert re.search(r"test_builds_a_snapshot_and_its_unmanaged_plugins .*\n?.*\.\.\. skipped", p.stderr), p.stderr


def test_runs_the_end_to_end_build_where_plugin_sync_is_installed() -> None:
    p = _unittest()
    assert p.returncode == 0, p.stderr
    assert "skipped" not in p.stderr and "\nOK\n" in p.stderr
