"""Timing a command: wall time, CPU time and peak resident memory, read from the kernel
when the child is reaped (``wait4``): the peak is that of the largest single process."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence


@dataclass(frozen=True)
class Measured:
    seconds: float
    max_rss: int  # bytes: the largest resident set of the command or any child it waited for
    cpu: float  # user + system seconds of the command and the children it waited for
    code: int
    stdout: str
    stderr: str


class CommandFailed(RuntimeError):
    pass


def run(argv: Sequence[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
        check: bool = True) -> Measured:
    """Run ``argv`` to its end; its output goes to files, so pipes never throttle it."""
    import tempfile

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                env=env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        m = Measured(seconds, usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime, proc.returncode,
                     out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"))
    if check and m.code != 0:
        tail = (m.stderr or m.stdout).strip().splitlines()[-5:]
        raise CommandFailed(f"{argv[0]} {' '.join(argv[1:3])} ... exited {m.code}: " + " | ".join(tail))
    return m
