"""GitHub Actions step outputs and job summaries (``$GITHUB_OUTPUT``, ``$GITHUB_STEP_SUMMARY``).

Both files are appended to, as the runner expects; outside Actions (variables unset)
nothing is written.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Mapping

OUTPUT_ENV = "GITHUB_OUTPUT"
SUMMARY_ENV = "GITHUB_STEP_SUMMARY"


def output_lines(values: Mapping[str, str]) -> str:
    """``name=value`` lines; a value with a line break uses the heredoc form."""
    out = []
    for name, value in values.items():
        if "\n" in value or "\r" in value:
            delimiter = f"EOF_{secrets.token_hex(8)}"
            out.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
        else:
            out.append(f"{name}={value}\n")
    return "".join(out)


def _append(path: str, text: str) -> None:
    with open(Path(path), "a", encoding="utf-8") as f:
        f.write(text)


def set_outputs(values: Mapping[str, str], env: Mapping[str, str] | None = None) -> bool:
    """Append step outputs when running in Actions. Returns True if written."""
    env = os.environ if env is None else env
    path = env.get(OUTPUT_ENV)
    if not path:
        return False
    _append(path, output_lines(values))
    return True


def add_summary(markdown: str, env: Mapping[str, str] | None = None) -> bool:
    """Append Markdown to the job summary when running in Actions. Returns True if written."""
    env = os.environ if env is None else env
    path = env.get(SUMMARY_ENV)
    if not path:
        return False
    _append(path, markdown if markdown.endswith("\n") else markdown + "\n")
    return True
