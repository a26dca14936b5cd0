"""A warm branch worker process: ``python -m tea_studio.engine.process_worker TASKS_FD EVENTS_FD PARENT_PID``.

It runs one branch at a time, each with a fresh Lua VM, for as long as its parent lives. Messages are pickled
tuples. In (TASKS_FD): ``("job", job_id, job, state)`` (a fork's plan and state, kept for the next branches of
that fork), ``("run", task_id, job_id, name, start, index)``, ``("stop", task_id)``. Out (EVENTS_FD):
``("event", task_id, event)`` as they happen, then ``("done", task_id, outcome)``.

It dies with its parent even when the parent is killed with SIGKILL: the kernel sends it SIGKILL
(``PR_SET_PDEATHSIG``, Linux), and elsewhere a thread that reads the task pipe sees it close and exits.
"""

from __future__ import annotations

import os
import pickle
import queue
import signal
import sys
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

PR_SET_PDEATHSIG = 1


def _die_with_parent(parent_pid: int) -> None:
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # the parent died before the line above
        os._exit(0)


class _PipeSink:
    """Sends a branch's events to the parent as they happen."""

    def __init__(self, conn: Connection, lock: threading.Lock, task_id: int) -> None:
        self._conn = conn
        self._lock = lock
        self._task = task_id

    def emit(self, event: Any) -> None:
        try:
            data = pickle.dumps(("event", self._task, event))
        except Exception as exc:  # noqa: BLE001 - e.g. a Python node put something unpicklable in its update
            from tea_studio.engine.events import RunWarning

            warning = RunWarning(t=time.monotonic(), message=f"an event could not be sent from the branch process: "
                                 f"{type(exc).__name__}: {exc}", node=getattr(event, "node", None),
                                 branch=getattr(event, "branch", ""))
            data = pickle.dumps(("event", self._task, warning))
        with self._lock:
            self._conn.send_bytes(data)


def serve(tasks: Connection, events: Connection) -> None:
    from tea_studio.engine.branching import failed_outcome
    from tea_studio.engine.lua_vm import warm_pool

    inbox: queue.SimpleQueue = queue.SimpleQueue()
    stopped: set[int] = set()

    def listen() -> None:
        try:
            while True:
                message = pickle.loads(tasks.recv_bytes())
                if message[0] == "stop":
                    stopped.add(message[1])
                else:
                    inbox.put(message)
        except (EOFError, OSError):  # the parent is gone: nobody wants what runs here
            os._exit(0)

    threading.Thread(target=listen, name="tea-worker-listen", daemon=True).start()
    warm_pool(2)
    import tea_studio.engine.runner  # noqa: F401 - what a job's entry needs, loaded while idle rather than in a branch's time
    send_lock = threading.Lock()
    where = f"process {os.getpid()}"
    job_id, job, state_bytes = None, None, b""
    while True:
        message = inbox.get()
        if message[0] == "job":
            _, job_id, job_bytes, state_bytes = message
            job = pickle.loads(job_bytes)
            continue
        _, task_id, wanted, name, start, index = message
        if wanted != job_id or job is None:
            outcome = failed_outcome(index, name, "branch worker failed: it was not sent the fork")
        else:
            entry, plan, fork, stop_at, record_states = job
            sink = _PipeSink(events, send_lock, task_id)
            try:
                outcome = entry(sink, lambda task=task_id: task in stopped, where, plan, name, start, index, fork,
                                pickle.loads(state_bytes), stop_at, record_states)
            except Exception as exc:  # noqa: BLE001 - reported as the branch's failure, never a dead worker
                outcome = failed_outcome(index, name, f"internal error: {type(exc).__name__}: {exc}")
        try:
            data = pickle.dumps(("done", task_id, outcome))
        except Exception as exc:  # noqa: BLE001 - a final state that does not pickle
            data = pickle.dumps(("done", task_id, failed_outcome(
                index, name, f"the branch result cannot be sent back: {type(exc).__name__}: {exc}",
                timing_ms=outcome.timing_ms)))
        with send_lock:
            events.send_bytes(data)
        stopped.discard(task_id)


def main(argv: list[str]) -> None:
    tasks_fd, events_fd, parent_pid = (int(arg) for arg in argv[:3])
    _die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent decides
    serve(Connection(tasks_fd, writable=False), Connection(events_fd, readable=False))


if __name__ == "__main__":
    main(sys.argv[1:])
