"""sync.workers: jobs on threads in forked worker processes, with real processes, pipes and
signals. A worker that dies loses only the jobs it held; a caller that dies or is
interrupted leaves no worker behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from sync import workers
from sync.workers import Lost

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="worker processes are forked on Linux")


def collect(jobs: dict[str, object], **kw: object) -> tuple[dict[str, object], list[object]]:
    got: dict[str, object] = {}

    def on_result(key: str, value: object) -> None:
        assert key not in got, f"{key} reported twice"
        assert threading.current_thread() is threading.main_thread()
        got[key] = value

    finished = workers.run(jobs, on_result, **kw)  # type: ignore[arg-type]
    return got, finished


def test_jobs_run_in_as_many_processes_as_asked_and_every_result_arrives_once() -> None:
    counter = {"n": 0}  # the caller's object: each worker has its own copy

    def job(i: int) -> tuple[int, int]:
        counter["n"] += 1
        time.sleep(0.02)
        return i * i, os.getpid()

    jobs = {f"k{i}": (lambda i=i: job(i)) for i in range(20)}
    got, finished = collect(jobs, threads=4, processes=2, start=lambda: counter.update(n=100),
                            finish=lambda: counter["n"])
    assert sorted(got) == sorted(jobs)
    assert all(got[f"k{i}"][0] == i * i for i in range(20))  # type: ignore[index]
    pids = {v[1] for v in got.values()}  # type: ignore[index]
    assert workers.can_fork(), threading.enumerate()
    assert len(pids) == 2 and os.getpid() not in pids
    # start() ran in each worker before its jobs; finish() reports each worker's own count
    assert len(finished) == 2 and sum(finished) == 200 + 20  # type: ignore[arg-type]
    assert counter["n"] == 0  # the caller's copy was never touched


def test_a_brief_made_after_forking_reaches_every_worker_before_its_first_job() -> None:
    state = {"brief": None, "started": 0.0}

    def start() -> None:  # in the worker, while the caller makes the brief
        state["started"] = time.monotonic()

    def brief() -> str:
        time.sleep(0.3)  # the caller's work after forking: a token request, say
        return "tokens"

    def job() -> tuple[object, float, float]:
        return state["brief"], state["started"], time.monotonic()

    jobs = {f"k{i}": job for i in range(6)}
    t0 = time.monotonic()
    got, _ = collect(jobs, threads=3, processes=2, start=start, brief=brief,
                     adopt=lambda b: state.update(brief=b))
    assert all(v[0] == "tokens" for v in got.values())  # type: ignore[index]
    # the workers were forked first and started while the brief was made; no job ran before it came
    assert all(v[1] - t0 < 0.3 <= v[2] - t0 for v in got.values())  # type: ignore[index]
    assert state["brief"] is None  # the caller's copy: adopted in the workers only


def test_without_workers_the_brief_is_made_before_the_jobs() -> None:
    order: list[str] = []
    got, _ = collect({"k": lambda: order.append("job")}, threads=2, processes=1,
                     brief=lambda: order.append("brief"), adopt=lambda b: order.append("adopt"))
    assert order == ["brief", "job"]


def test_a_few_jobs_are_dealt_out_to_every_worker_not_heaped_on_the_first() -> None:
    # 4 jobs, 2 workers of 4 threads: each worker could hold all 4; dealt one at a time
    # they run on both (a few large modules should use every core)
    def job() -> int:
        time.sleep(0.05)
        return os.getpid()

    got, _ = collect({f"k{i}": job for i in range(4)}, threads=8, processes=2)
    pids = list(got.values())
    assert len(set(pids)) == 2 and sorted(pids.count(p) for p in set(pids)) == [2, 2], got


def test_one_process_or_one_job_runs_here_on_threads() -> None:
    got, finished = collect({"a": os.getpid, "b": os.getpid}, threads=2, processes=1, finish=lambda: 1)
    assert set(got.values()) == {os.getpid()} and finished == []
    got, _ = collect({"a": os.getpid}, threads=8, processes=4)
    assert got == {"a": os.getpid()}


def test_with_another_thread_running_nothing_is_forked() -> None:
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        assert not workers.can_fork()
        got, _ = collect({f"k{i}": os.getpid for i in range(4)}, threads=4, processes=2)
        assert set(got.values()) == {os.getpid()}
    finally:
        stop.set()
        t.join()
    assert workers.can_fork()


def test_processes_for() -> None:
    assert workers.processes_for(2, 52, 8) == 2
    assert workers.processes_for(4, 3, 8) == 3  # no more workers than jobs
    assert workers.processes_for(4, 52, 2) == 2  # nor than threads
    assert workers.processes_for(1, 52, 8) == 1
    assert workers.processes_for(None, 52, 64) == workers.usable_cpus()


def test_a_raising_job_and_an_unsendable_result_are_lost_with_the_reason_and_the_rest_goes_on() -> None:
    def boom() -> None:
        raise ValueError("bad bytes")

    jobs = {"ok1": lambda: 1, "boom": boom, "lambda": lambda: (lambda: 0), "ok2": lambda: 2}
    for processes in (1, 2):
        got, _ = collect(jobs, threads=2, processes=processes)
        assert got["ok1"] == 1 and got["ok2"] == 2
        assert got["boom"] == Lost("ValueError: bad bytes")
        if processes == 2:
            assert isinstance(got["lambda"], Lost) and "could not be sent back" in got["lambda"].reason
        else:
            assert callable(got["lambda"])


def test_a_worker_killed_loses_only_the_job_it_held() -> None:
    def die() -> int:
        os.kill(os.getpid(), signal.SIGKILL)
        return 0

    def slow(i: int) -> int:
        time.sleep(0.05)
        return i

    jobs: dict[str, object] = {"a": lambda: slow(1), "die": die}
    jobs.update({f"k{i}": (lambda i=i: slow(i)) for i in range(10)})
    got, finished = collect(jobs, threads=2, processes=2, finish=lambda: "done")  # one job at a time per worker
    assert got["die"] == Lost("the worker process running it ended (killed by signal 9)")
    assert all(got[f"k{i}"] == i for i in range(10)) and got["a"] == 1  # the other worker ran them all
    assert finished == ["done"]


def test_a_worker_that_dies_after_sending_its_result_is_not_sent_more() -> None:
    # the worker sends "first" back, then dies; the caller reads that result only after it
    # has died, and the next key it would give that worker goes to the other one instead
    def first() -> int:
        threading.Thread(target=lambda: (time.sleep(0.05), os.kill(os.getpid(), signal.SIGKILL))).start()
        return os.getpid()

    got: dict[str, object] = {}

    def on_result(key: str, value: object) -> None:
        if key == "first":
            time.sleep(0.5)  # the worker is dead before the caller would feed it
        got[key] = value

    jobs: dict[str, object] = {"first": first, **{f"k{i}": os.getpid for i in range(6)}}
    workers.run(jobs, on_result, threads=2, processes=2)  # type: ignore[arg-type]
    assert sorted(got) == sorted(jobs)
    dead = got["first"]
    assert isinstance(dead, int)
    assert all(isinstance(got[f"k{i}"], int) and got[f"k{i}"] != dead for i in range(6)), got


def test_all_workers_dying_reports_every_job_not_run() -> None:
    def die() -> int:
        os._exit(3)

    got, finished = collect({f"k{i}": die for i in range(6)}, threads=2, processes=2)
    assert sorted(got) == [f"k{i}" for i in range(6)]
    reasons = {v.reason for v in got.values()}  # type: ignore[attr-defined]
    assert reasons <= {"the worker process running it ended (exit code 3)", "no worker process left to run it"}
    assert "no worker process left to run it" in reasons and finished == []


CALLER = textwrap.dedent("""
    import os, sys, time
    from sync import workers

    def job():
        with open(sys.argv[1], "a") as f:
            f.write(f"{os.getpid()}\\n")
        time.sleep(60)
        return 0

    workers.run({f"k{i}": job for i in range(4)}, lambda k, v: None, threads=2, processes=2)
""")


def _started(pids: Path, n: int) -> list[int]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        got = [int(x) for x in pids.read_text().split()] if pids.exists() else []
        if len(got) >= n:
            return got
        time.sleep(0.05)
    raise AssertionError("the workers did not start their jobs")


def _gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("how", ["SIGKILL", "SIGINT"])
def test_workers_end_when_the_caller_is_killed_or_interrupted(tmp_path: Path, how: str) -> None:
    pids = tmp_path / "pids"
    caller = subprocess.Popen([sys.executable, "-c", CALLER, str(pids)], cwd=Path(__file__).parents[2],
                              stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        started = _started(pids, 2)
        assert len(set(started)) == 2 and caller.pid not in started
        if how == "SIGKILL":
            caller.kill()
        else:  # Ctrl-C: the whole process group gets it; the workers leave it to the caller
            os.killpg(caller.pid, signal.SIGINT)
        code = caller.wait(timeout=20)
        assert code != 0
        assert all(_gone(pid) for pid in set(started)), "a worker outlived its caller"
        if how == "SIGINT":
            assert "KeyboardInterrupt" in caller.stderr.read()  # type: ignore[union-attr]
    finally:
        if caller.poll() is None:
            os.killpg(caller.pid, signal.SIGKILL)
