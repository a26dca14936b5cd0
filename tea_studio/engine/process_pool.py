"""The process strategy: branches in warm worker processes (:mod:`.process_worker`), watched from the fork.

Workers are started ahead of need and reused: each takes one branch at a time and gives it a fresh Lua VM. The
forking flow forwards a worker's events as they arrive; a Lua node that outlives ``settings.lua.timeout``
(plus a grace), or a branch still running a grace after Stop, gets its worker killed and replaced, and the
branch fails like any other while its siblings go on. Workers are plain child processes of this one (no
forkserver, no resource tracker, no temporary files) and die with it, however it ends.
"""

from __future__ import annotations

import itertools
import os
import pickle
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing import connection as mp_connection
from multiprocessing.connection import Connection
from typing import Any

from tea_studio.engine.branching import (
    KILL_GRACE_S,
    STOPPED,
    BranchOutcome,
    BranchWatch,
    ForkRequest,
    cancelled,
    cancelled_outcome,
    concurrency,
    stopped_outcome,
)
from tea_studio.engine.plan import default_workers

_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class ProcessWorker:
    """The parent's end of one worker process."""

    def __init__(self) -> None:
        tasks_r, tasks_w = os.pipe()
        events_r, events_w = os.pipe()
        path = os.environ.get("PYTHONPATH")
        env = {**os.environ, "PYTHONPATH": _PACKAGE_ROOT + (os.pathsep + path if path else "")}
        try:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "tea_studio.engine.process_worker", str(tasks_r), str(events_w),
                 str(os.getpid())],
                pass_fds=(tasks_r, events_w), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, env=env)
        finally:
            os.close(tasks_r)
            os.close(events_w)
        self.pid = self.popen.pid
        self.tasks = Connection(tasks_w, readable=False)
        self.events = Connection(events_r, writable=False)
        self.job: int | None = None  # the fork whose plan and state it holds

    def send(self, data: bytes) -> bool:
        try:
            self.tasks.send_bytes(data)
            return True
        except OSError:  # it died: its event pipe says so next
            return False

    def kill(self) -> int | None:
        """End the process now; returns its exit code."""
        if self.popen.poll() is None:
            self.popen.kill()
        code = self.popen.wait()
        for conn in (self.tasks, self.events):
            conn.close()
        return code


class WorkerPool:
    """Warm worker processes shared by every fork of the session. Workers are started on one long-lived thread
    (the parent-death signal follows the thread that started a process)."""

    def __init__(self, keep: int | None = None) -> None:
        self.keep = keep or os.cpu_count() or 2
        self._lock = threading.Lock()
        self._idle: list[ProcessWorker] = []
        self._all: set[ProcessWorker] = set()
        self._starter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tea-process-starter")
        self._closed = False

    def _start(self) -> ProcessWorker:
        worker = ProcessWorker()
        with self._lock:
            self._all.add(worker)
            closed = self._closed
        if closed:
            worker.kill()
            raise RuntimeError("the process pool is closed")
        return worker

    def _start_idle(self) -> None:
        with self._lock:
            if self._closed or len(self._idle) >= self.keep:
                return
        worker = self._start()
        with self._lock:
            self._idle.append(worker)

    def warm(self, count: int) -> None:
        """Start workers in the background until ``count`` (at most ``keep``) are idle."""
        with self._lock:
            if self._closed:
                return
            missing = min(count, self.keep) - len(self._idle)
        for _ in range(max(missing, 0)):
            self._starter.submit(self._start_idle)

    def _pop_idle(self) -> ProcessWorker | None:
        with self._lock:
            if self._closed:
                raise RuntimeError("the process pool is closed")
            while self._idle:
                worker = self._idle.pop()
                if worker.popen.poll() is None:
                    return worker
                self._all.discard(worker)
        return None

    def take(self) -> ProcessWorker:
        """An idle worker; else the first one that the starter thread brings up. Asking the starter (rather than
        starting one here) queues behind the warm-ups under way, so that a fork never starts more workers than
        it uses."""
        worker = self._pop_idle()
        if worker is not None:
            return worker
        return self._starter.submit(lambda: self._pop_idle() or self._start()).result()

    def give_back(self, worker: ProcessWorker) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < self.keep and worker.popen.poll() is None:
                self._idle.append(worker)
                return
        self.discard(worker)

    def discard(self, worker: ProcessWorker) -> None:
        """Kill a worker (stuck, or not wanted back); a replacement starts in the background."""
        worker.kill()
        with self._lock:
            self._all.discard(worker)
        self.warm(1)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers = list(self._all)
            self._all.clear()
            self._idle.clear()
        for worker in workers:
            worker.kill()
        self._starter.shutdown(wait=False)


class _Task:
    """One branch running in one worker."""

    def __init__(self, task_id: int, worker: ProcessWorker, watch: BranchWatch) -> None:
        self.id = task_id
        self.worker = worker
        self.watch = watch
        self.outcome: BranchOutcome | None = None
        self.eof = False


class ProcessStrategy:
    """Branches in warm worker processes, at most ``settings.parallel.max_workers`` at a time per fork."""

    name = "process"

    def __init__(self) -> None:
        self.pool = WorkerPool()
        self._ids = itertools.count(1)

    def warm(self, count: int) -> None:
        self.pool.warm(count)

    def close(self) -> None:
        self.pool.close()

    def run_fork(self, request: ForkRequest) -> list[BranchOutcome]:
        request.check_picklable()
        return _ProcessFork(self, request).run()


class _ProcessFork:
    """One fork's branches in workers, watched from the forking flow's thread."""

    def __init__(self, strategy: ProcessStrategy, request: ForkRequest) -> None:
        self.pool = strategy.pool
        self.ids = strategy._ids
        self.request = request
        self.sink = request.sink
        self.timeout = request.lua_timeout
        self.job_id = next(self.ids)
        job = pickle.dumps((request.entry, request.plan, request.fork, request.stop_at, request.record_states))
        self.job = pickle.dumps(("job", self.job_id, job, pickle.dumps(request.state)))

    def run(self) -> list[BranchOutcome]:
        request = self.request
        names = request.names
        wake_r, wake_w = os.pipe()
        wake_lock = threading.Lock()
        wake_open = [True]

        def wake() -> None:
            with wake_lock:
                if wake_open[0]:
                    os.write(wake_w, b"x")

        request.control.on_stop(wake)
        outcomes: list[BranchOutcome | None] = [None] * len(names)
        running: list[_Task] = []
        pending = list(range(len(names)))
        limit = concurrency(request, default_workers(request.plan.limits))
        stop_deadline: float | None = None
        try:
            while pending or running:
                stopped = request.control.stopped
                while pending and len(running) < limit and not stopped:
                    if cancelled(request, outcomes):
                        i = pending.pop(0)
                        outcomes[i] = cancelled_outcome(i, names[i])
                        continue
                    running.append(self._start(pending.pop(0)))
                if stopped:
                    for i in pending:
                        outcomes[i] = stopped_outcome(i, names[i])
                    pending = []
                    if stop_deadline is None:
                        stop_deadline = time.monotonic() + KILL_GRACE_S
                        for task in running:
                            task.worker.send(pickle.dumps(("stop", task.id)))
                if not running:
                    break
                deadlines = [d for d in (task.watch.deadline(self.timeout) for task in running) if d is not None]
                if stop_deadline is not None:
                    deadlines.append(stop_deadline)
                waitables: list[Any] = [wake_r] if stop_deadline is None else []  # (a Stop leaves it readable)
                waitables += [task.worker.events for task in running]
                wait_s = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
                mp_connection.wait(waitables, wait_s)
                for task in running:
                    self._read(task)
                now = time.monotonic()
                for task in list(running):
                    if task.outcome is None and not task.eof:
                        culprit = task.watch.overdue(now, self.timeout)
                        if culprit is not None:
                            self._kill(task, f"execution timeout ({self.timeout:g} s)", culprit)
                    if task.outcome is None and stop_deadline is not None and now >= stop_deadline:
                        self._kill(task, STOPPED, None, stopped=True)
                    if task.outcome is None and task.eof:  # the process ended without a word
                        code = task.worker.kill()
                        task.outcome = task.watch.fail(
                            self.sink, f"branch worker failed: the process ended (exit code {code})")
                        self.pool.discard(task.worker)
                    elif task.outcome is not None and not task.eof:
                        self.pool.give_back(task.worker)
                    if task.outcome is not None:
                        outcomes[task.watch.index] = task.outcome
                        running.remove(task)
        finally:
            with wake_lock:
                wake_open[0] = False
                os.close(wake_r)
                os.close(wake_w)
            for task in running:
                self.pool.discard(task.worker)
        return outcomes  # type: ignore[return-value]

    def _start(self, i: int) -> _Task:
        worker = self.pool.take()
        if worker.job != self.job_id:
            worker.send(self.job)
            worker.job = self.job_id
        task = _Task(next(self.ids), worker, BranchWatch(i, self.request.names[i], self.request.plan))
        worker.send(pickle.dumps(("run", task.id, self.job_id, self.request.names[i], self.request.fork.branches[i],
                                  i)))
        return task

    def _read(self, task: _Task) -> None:
        """Forward everything the worker has sent so far."""
        conn = task.worker.events
        while not task.eof and task.outcome is None:
            try:
                if not conn.poll():
                    return
                kind, _, item = pickle.loads(conn.recv_bytes())
            except (EOFError, OSError, pickle.UnpicklingError):
                task.eof = True
                return
            if kind == "done":
                task.outcome = item
                return
            task.watch.track(item)
            self.sink.emit(item)

    def _kill(self, task: _Task, message: str, culprit: tuple[str, str] | None, *, stopped: bool = False) -> None:
        """End the worker's process (a replacement starts) and report its branch as failed."""
        task.worker.kill()
        task.eof = True
        self.pool.discard(task.worker)
        task.outcome = task.watch.fail(self.sink, message, culprit, stopped=stopped)
