"""Running many small jobs on every core: threads, and where it is safe, worker processes.

A pull's work per plugin is mostly C code that releases the interpreter lock (hashing,
inflating, writing), with a little Python per 64 KiB piece around it. In one process the
lock changes hands tens of thousands of times and two cores do the work of about 1.3; in
one process per core they do the work of two (docs/performance.md, "Where the time goes").

``run`` gives each job to a thread, in ``processes`` worker processes of ``threads``
threads each. The workers are forked from the caller, so a job is any callable the caller
holds (no pickling of jobs); only the keys go to the workers and only the results come
back, through one pipe per worker. The first keys are dealt out one per worker in turn (four
jobs on two workers run two on each, not four on the first); then each worker is topped up
as its results come back. No lock is shared between processes, so a worker that
dies cannot block the others: its unfinished jobs are reported as ``Lost`` and the rest go
on. Forking is only safe while the caller runs no other thread, so with threads running
(or without ``fork``, or with ``processes`` 1) every job runs on threads in this process.

What the caller learns only once the workers run (a pull's tokens, fetched while each
worker opens its connections) reaches them as a ``brief``: the caller computes it after
forking and sends it to every worker before any key, and each worker ``adopt``s it before
its first job.

A job must not raise: it returns its result (a failure is a result too). An exception that
escapes a job anyway, or a result that cannot be sent back, becomes ``Lost``.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import queue
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, Callable, Generic, Mapping, TypeVar

T = TypeVar("T")
S = TypeVar("S")

_DONE = "\0done"  # a worker's last message: its ``finish()``


@dataclass(frozen=True)
class Lost:
    """A job that gave no result: why, in one line."""

    reason: str


def usable_cpus() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def can_fork() -> bool:
    """Whether worker processes may be forked now: Linux (or another system where ``fork``
    is safe), and no other thread running whose locks a child could inherit held."""
    return (sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()
            and threading.active_count() == 1)


def _call(job: Callable[[], T]) -> T | Lost:
    try:
        return job()
    except Exception as e:  # noqa: BLE001 - a job that raises is reported, the others go on
        return Lost(f"{type(e).__name__}: {e}")


def processes_for(requested: int | None, jobs: int, threads: int) -> int:
    """How many worker processes ``run`` forks for ``jobs`` jobs on ``threads`` threads:
    ``requested`` (default: one per usable core), never more than the jobs or threads to
    share out among them, and none (1: this process) where forking is not safe."""
    n = usable_cpus() if requested is None else requested
    n = min(n, jobs, threads)
    return n if n > 1 and can_fork() else 1


def run(
    jobs: Mapping[str, Callable[[], T]],
    on_result: Callable[[str, T | Lost], None],
    *,
    threads: int,
    processes: int | None = None,
    start: Callable[[], None] | None = None,
    finish: Callable[[], S] | None = None,
    brief: Callable[[], Any] | None = None,
    adopt: Callable[[Any], None] | None = None,
) -> list[S]:
    """Run every job once and give each key's result to ``on_result`` (in this process,
    one at a time, as results arrive). ``threads`` jobs run at once in all, shared out
    among ``processes`` forked workers (``processes_for``). Each worker holds copies of
    the caller's objects as they were when it was forked: it calls ``start()`` first (to
    zero its counters, say) and ``finish()`` last. ``brief()`` runs in this process once
    the workers are forked (without workers: before the jobs), and each worker passes its
    value to ``adopt()`` before its first job. Returns what ``finish()`` gave in every
    worker that ended normally; nothing when the jobs ran in this process."""
    threads = max(1, threads)
    n = processes_for(processes, len(jobs), threads)
    if n == 1:
        if brief:
            brief()
        results: queue.SimpleQueue[tuple[str, T | Lost]] = queue.SimpleQueue()
        with _Threads(min(threads, len(jobs)), lambda key: results.put((key, _call(jobs[key])))) as pool:
            for key in jobs:
                pool.put(key)
            for _ in jobs:
                on_result(*results.get())
        return []
    return _Pool(jobs, on_result, -(-threads // n), n, start, finish, brief, adopt).run()


class _Threads:
    """``n`` threads that each call ``handle(key)`` for the keys ``put`` to them, started
    together before the first key (a ThreadPoolExecutor starts one with each of its first
    ``n`` submissions, while the jobs already running compete with it for the interpreter:
    a pull's first requests went out over a tenth of a second). Leaving the ``with`` block
    lets the threads finish the keys put and waits for them."""

    def __init__(self, n: int, handle: Callable[[str], None]) -> None:
        self.keys: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self.handle = handle
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(max(1, n))]

    def _run(self) -> None:
        while (key := self.keys.get()) is not None:
            self.handle(key)

    def put(self, key: str) -> None:
        self.keys.put(key)

    def __enter__(self) -> "_Threads":
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for _ in self.threads:
            self.keys.put(None)
        for t in self.threads:
            t.join()


class _Worker:
    def __init__(self, process: Any, conn: Connection) -> None:
        self.process, self.conn = process, conn
        self.outstanding: set[str] = set()
        self.closed = False  # told that no more keys come
        self.alive = True


class _Pool(Generic[T, S]):
    def __init__(self, jobs: Mapping[str, Callable[[], T]], on_result: Callable[[str, T | Lost], None],
                 threads: int, processes: int, start: Callable[[], None] | None,
                 finish: Callable[[], S] | None, brief: Callable[[], Any] | None = None,
                 adopt: Callable[[Any], None] | None = None) -> None:
        self.jobs, self.on_result, self.threads = jobs, on_result, threads
        self.start, self.finish, self.brief, self.adopt = start, finish, brief, adopt
        self.processes = processes
        self.pending = deque(jobs)
        self.finished: list[S] = []

    def run(self) -> list[S]:
        ctx = multiprocessing.get_context("fork")
        workers: list[_Worker] = []
        try:
            for _ in range(self.processes):
                mine, theirs = ctx.Pipe()
                others = [w.conn for w in workers] + [mine]
                p = ctx.Process(target=_serve, args=(theirs, others, self.jobs, self.threads, self.start, self.finish,
                                                     self.adopt), daemon=True)
                p.start()
                theirs.close()
                workers.append(_Worker(p, mine))
            told = self.brief() if self.brief else None
            for w in workers:  # the first message to every worker, before any key
                self._send(w, told)
            self._deal(workers)
            while any(w.alive for w in workers):
                live = [w for w in workers if w.alive]
                ready = wait([w.conn for w in live] + [w.process.sentinel for w in live])
                for w in live:
                    if w.conn in ready:
                        self._receive(w)
                    elif w.process.sentinel in ready:
                        self._ended(w)
        except BaseException:
            for w in workers:
                if w.process.is_alive():
                    w.process.terminate()
            raise
        finally:
            for w in workers:
                w.process.join()
                w.conn.close()
        for key in self.pending:  # every worker died before taking these
            self.on_result(key, Lost("no worker process left to run it"))
        return self.finished

    def _deal(self, workers: list[_Worker]) -> None:
        """The first keys, one to each worker in turn, so that a few jobs still run on
        every worker; then as ``_feed``."""
        for _ in range(self.threads):
            for w in workers:
                if self.pending and w.alive:
                    self._give(w)
        for w in workers:
            self._feed(w)

    def _feed(self, w: _Worker) -> None:
        """Keep ``threads`` keys outstanding at ``w``; tell it when there are no more."""
        while w.alive and len(w.outstanding) < self.threads and self.pending:
            self._give(w)
        if not self.pending and not w.closed and w.alive:
            w.closed = self._send(w, None)

    def _give(self, w: _Worker) -> None:
        key = self.pending.popleft()
        if self._send(w, key):
            w.outstanding.add(key)
        else:  # never started: another worker may still run it
            self.pending.appendleft(key)

    def _send(self, w: _Worker, message: str | None) -> bool:
        """Send ``message`` to ``w``; False if ``w`` has died meanwhile (with a result
        sent before it died, read only now), which then ends it here."""
        try:
            w.conn.send(message)
        except OSError:  # BrokenPipeError: nothing reads its pipe any more
            self._ended(w)
            return False
        return True

    def _take(self, w: _Worker, key: str, value: Any) -> None:
        """One message from ``w``: a job's result, or its ``finish()``."""
        if key == _DONE:
            self.finished.append(value)
        else:
            w.outstanding.discard(key)
            self.on_result(key, value)

    def _receive(self, w: _Worker) -> None:
        try:
            key, value = w.conn.recv()
        except (EOFError, OSError):
            self._ended(w)
            return
        self._take(w, key, value)
        self._feed(w)

    def _ended(self, w: _Worker) -> None:
        """``w`` exited: read what it sent before, then report what it still held."""
        while True:
            try:
                if not w.conn.poll():
                    break
                key, value = w.conn.recv()
            except (EOFError, OSError):
                break
            self._take(w, key, value)
        w.alive = False
        w.process.join()
        code = w.process.exitcode
        why = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        for key in sorted(w.outstanding):
            self.on_result(key, Lost(f"the worker process running it ended ({why})"))
        w.outstanding.clear()


def _serve(conn: Connection, inherited: list[Connection], jobs: Mapping[str, Callable[[], Any]], threads: int,
           start: Callable[[], None] | None, finish: Callable[[], Any] | None,
           adopt: Callable[[Any], None] | None = None) -> None:
    """A worker process: take the brief (the first message), then run the keys it is sent
    on ``threads`` threads, send back each result, then ``finish()``. It leaves an
    interrupt to the caller, which stops it, and ends when the caller does (its pipe
    closes)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for c in inherited:  # the caller's ends: keep them open here and a dead caller goes unnoticed
        c.close()
    if start:
        start()
    try:
        told = conn.recv()
    except (EOFError, OSError):  # the caller is gone
        os._exit(1)
    if adopt:
        adopt(told)
    send = threading.Lock()

    def one(key: str) -> None:
        value = _call(jobs[key])
        with send:
            try:
                conn.send((key, value))
            except Exception as e:  # noqa: BLE001 - a result that does not pickle
                conn.send((key, Lost(f"its result could not be sent back ({type(e).__name__}: {e})")))

    with _Threads(threads, one) as pool:
        while True:
            try:
                key = conn.recv()
            except (EOFError, OSError):  # the caller is gone: nobody wants the results
                os._exit(1)
            if key is None:
                break
            pool.put(key)
    conn.send((_DONE, finish() if finish else None))
    conn.close()
