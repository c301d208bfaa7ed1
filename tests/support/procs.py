"""A process's children, read from /proc (Linux): the worker processes of a pull, the
workers of an nginx, what a measured command started."""

from __future__ import annotations

import os


def children(pid: int) -> list[int]:
    """The pids of ``pid``'s child processes now, forked by any of its threads (none once
    it has ended)."""
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(c) for c in f.read().split()]
    except OSError:  # ended meanwhile
        pass
    return out
