"""scripts/lib.sh: a failed pip install fails the script; pip's root warning alone is dropped."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

LIB = Path(__file__).resolve().parents[2] / "scripts" / "lib.sh"


def _install(tmp_path: Path, python: str) -> subprocess.CompletedProcess[str]:
    """install_project with an empty hash lock, so only the project itself is installed."""
    (tmp_path / "requirements").mkdir(exist_ok=True)
    (tmp_path / "requirements" / "empty.txt").write_text("")
    script = f'set -euo pipefail; . "{LIB}"; PY="{python}"; install_project empty; echo installed'
    return subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300)


def test_a_failed_install_fails_the_script(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project\nthis is not TOML\n")
    p = _install(tmp_path, sys.executable)
    assert p.returncode != 0 and "installed" not in p.stdout, p.stdout + p.stderr
    assert "TOMLDecodeError" in p.stdout + p.stderr  # pip's own error is shown


def test_the_root_warning_is_dropped_and_other_output_kept(tmp_path: Path) -> None:
    fake = tmp_path / "python"  # stands in for pip: what it prints and how it exits
    for status in (0, 3):
        fake.write_text("#!/bin/sh\necho \"WARNING: Running pip as the 'root' user can result in broken permissions\"\n"
                        f"echo 'a real warning' >&2\nexit {status}\n")
        fake.chmod(0o755)
        p = _install(tmp_path, str(fake))
        assert "Running pip as" not in p.stdout + p.stderr and "a real warning" in p.stdout
        assert (p.returncode == 0 and "installed" in p.stdout) if status == 0 else \
            (p.returncode == status and "installed" not in p.stdout)
