"""The inline queue: runs go to a few threads of this process; shutdown keeps what has not started for later."""
from __future__ import annotations

import threading
import time

from beffroi.queue import InlineQueue


def wait_until(predicate, limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_every_run_executes_once_on_the_pool_threads_and_a_crash_does_not_stop_them(caplog):
    done, threads, lock = [], set(), threading.Lock()

    def execute(run_id: str) -> None:
        if run_id == "boom":
            raise RuntimeError("runner bug")
        with lock:
            done.append(run_id)
            threads.add(threading.current_thread().name)
        time.sleep(0.001)

    started = []
    queue = InlineQueue(execute, workers=3, initializer=lambda: started.append(threading.current_thread().name))
    queue.submit("first")
    queue.submit_many(["boom", *(f"r{i}" for i in range(200))])
    wait_until(lambda: len(done) == 201)
    queue.shutdown()
    assert sorted(done) == sorted(["first", *(f"r{i}" for i in range(200))])
    assert len(threads) <= 3 and sorted(started) == sorted(f"beffroi-run-{i}" for i in range(3))
    assert "run boom crashed in the runner" in caplog.text


def test_shutdown_waits_for_running_runs_and_leaves_the_others_queued():
    release, entered, done = threading.Event(), threading.Event(), []

    def execute(run_id: str) -> None:
        entered.set()
        release.wait(5)
        done.append(run_id)

    queue = InlineQueue(execute, workers=1)
    queue.submit_many(["running", "waiting-1", "waiting-2"])
    assert entered.wait(5)
    threading.Timer(0.2, release.set).start()
    began = time.monotonic()
    queue.shutdown(timeout=5)
    assert 0.15 < time.monotonic() - began < 5  # returned when the running run ended
    queue.submit("after")  # refused: stays queued in SQL for the next start
    time.sleep(0.05)
    assert done == ["running"]
    queue.shutdown()  # a second call returns at once


def test_shutdown_gives_up_waiting_after_its_timeout():
    release = threading.Event()
    queue = InlineQueue(lambda run_id: release.wait(5), workers=2)
    queue.submit("stuck")
    time.sleep(0.05)
    began = time.monotonic()
    queue.shutdown(timeout=0.2)
    assert time.monotonic() - began < 2  # the stuck run is left `running`; the next start resumes it
    release.set()
