"""Branch executors behind ``concurrent.futures.Executor``: thread (default), process, dask.

The runner only submits callables and waits on futures, so any Executor works (the studio passes one backed by
QThreadPool). Executors whose workers share this process's memory get branch tasks directly; the others
(dask, a caller's process pool) get picklable tasks and send their events back with the result. The process
strategy (:class:`BranchProcesses`) runs each branch in its own worker process that streams its events through a
pipe, so the runner can kill a stuck branch.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

DASK_MISSING = ("the dask strategy needs the dask.distributed package, which is not installed; "
                "install it with: pip install \"dask[distributed]\"")


class ExecutorUnavailable(Exception):
    """The strategy asked for cannot be provided here."""


def thread_executor(max_workers: int | None = None) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=max_workers or os.cpu_count() or 2, thread_name_prefix="tea-branch")


def _forkserver_context() -> Any:
    """Processes forked from a server that has the engine imported (cheap to start, no inherited threads)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tea_studio.engine.runner"])
    return context


class BranchProcesses(Executor):
    """The process strategy: one worker process per running branch, at most ``max_workers`` at a time per fork.

    Unlike a process pool, a worker can be killed (a branch stuck in one long C call that no Lua hook can
    interrupt, or a Stop) without breaking the others. The runner starts branches with :meth:`start` and watches
    their pipes; :meth:`submit` is not offered.
    """

    def __init__(self, max_workers: int | None = None) -> None:
        self._max_workers = max_workers or os.cpu_count() or 2
        self._lock = threading.Lock()
        self._live: set[Any] = set()
        self._shut = False

    def start(self, target: Callable[..., Any], *args: Any) -> tuple[Any, Any]:
        """Run ``target(conn, *args)`` in a new worker process; returns (process, the reading end of conn)."""
        with self._lock:
            if self._shut:
                raise RuntimeError("cannot start branches after shutdown")
        context = _forkserver_context()
        reader, writer = context.Pipe(duplex=False)
        process = context.Process(target=target, args=(writer, *args), name="tea-branch")
        try:
            process.start()
        finally:
            writer.close()
        with self._lock:
            self._live.add(process)
        return process, reader

    def end(self, process: Any, *, kill: bool = False) -> None:
        """Reap ``process`` (killing it first when asked)."""
        if kill and process.is_alive():
            process.kill()
        process.join()
        with self._lock:
            self._live.discard(process)
        process.close()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        raise NotImplementedError("BranchProcesses runs branches through start()")

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._shut = True
            live = list(self._live)
        for process in live:
            self.end(process, kill=True)


def process_executor(max_workers: int | None = None) -> BranchProcesses:
    return BranchProcesses(max_workers)


def dask_executor(scheduler: str | None = None) -> Executor:
    try:
        from dask.distributed import Client  # type: ignore[import-not-found]
    except ImportError:
        raise ExecutorUnavailable(DASK_MISSING) from None
    client = Client(scheduler) if scheduler else Client()
    return client.get_executor()


def shares_memory(executor: Executor) -> bool:
    """Whether tasks run in this process (threads, a Qt pool) rather than in other processes or machines."""
    if isinstance(executor, (ProcessPoolExecutor, BranchProcesses)):
        return False
    module = type(executor).__module__ or ""
    return not module.startswith(("distributed", "dask"))


def make_executor(strategy: str, max_workers: int | None = None, dask_scheduler: str | None = None) -> Executor:
    """A new executor for ``strategy`` (thread | process | dask)."""
    if strategy == "process":
        return process_executor(max_workers)
    if strategy == "dask":
        return dask_executor(dask_scheduler)
    if strategy in ("thread", "", None):
        return thread_executor(max_workers)
    raise ExecutorUnavailable(f"unknown parallel strategy '{strategy}' (use thread, process or dask)")
