"""Branch executors behind ``concurrent.futures.Executor``: thread (default), process, dask.

The runner only submits callables and waits on futures, so any Executor works (the studio passes one backed by
QThreadPool). Executors whose workers share this process's memory get branch tasks directly; the others
(process, dask) get picklable tasks and send their events back with the result.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor

DASK_MISSING = ("the dask strategy needs the dask.distributed package, which is not installed; "
                "install it with: pip install \"dask[distributed]\"")


class ExecutorUnavailable(Exception):
    """The strategy asked for cannot be provided here."""


def thread_executor(max_workers: int | None = None) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=max_workers or os.cpu_count() or 2, thread_name_prefix="tea-branch")


def process_executor(max_workers: int | None = None) -> ProcessPoolExecutor:
    """Worker processes started from a fork server that has the engine imported (cheap to start, no inherited
    threads)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tea_studio.engine.runner"])
    return ProcessPoolExecutor(max_workers=max_workers or os.cpu_count() or 2, mp_context=context)


def dask_executor(scheduler: str | None = None) -> Executor:
    try:
        from dask.distributed import Client  # type: ignore[import-not-found]
    except ImportError:
        raise ExecutorUnavailable(DASK_MISSING) from None
    client = Client(scheduler) if scheduler else Client()
    return client.get_executor()


def shares_memory(executor: Executor) -> bool:
    """Whether tasks run in this process (threads, a Qt pool) rather than in other processes or machines."""
    if isinstance(executor, ProcessPoolExecutor):
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
