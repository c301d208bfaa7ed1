"""Timing a command: wall time and CPU time, read from the kernel when the child is reaped
(``wait4``), and peak resident memory: the largest sum of the resident sets of the command
and all its descendants at one moment, sampled every 2 ms from /proc (a worker process
grows and ends within a few tens of ms; 10 ms samples missed its peak one time in three).
Pages that forked processes share are counted in each, so this is an upper bound. The
kernel's peak of the largest single process is the floor."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from tests.support.procs import children


@dataclass(frozen=True)
class Measured:
    seconds: float
    max_rss: int  # bytes: the peak memory of the command and its descendants (see above)
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
        sampler = TreeMemory(proc.pid)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            sampler.stop()
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        m = Measured(seconds, max(usage.ru_maxrss * 1024, sampler.peak), usage.ru_utime + usage.ru_stime, proc.returncode,
                     out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"))
    if check and m.code != 0:
        tail = (m.stderr or m.stdout).strip().splitlines()[-5:]
        raise CommandFailed(f"{argv[0]} {' '.join(argv[1:3])} ... exited {m.code}: " + " | ".join(tail))
    return m


_PAGE = os.sysconf("SC_PAGE_SIZE")


def tree_rss(pid: int) -> int:
    """Bytes resident now in ``pid`` and all its descendants (0 for what has ended)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * _PAGE
        except (OSError, ValueError):
            continue  # ended meanwhile
        todo += children(p)
    return total


class TreeMemory:
    """Samples ``tree_rss(pid)`` every ``interval`` seconds in a thread; ``peak`` is the highest."""

    def __init__(self, pid: int, interval: float = 0.002) -> None:
        self.pid, self.interval, self.peak = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(self.pid))
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
