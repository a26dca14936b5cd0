"""Branch strategies behind one interface (:class:`~tea_studio.engine.branching.BranchStrategy`): thread
(default), process (:mod:`.process_pool`), dask (:mod:`.dask_strategy`).

The runner asks a :class:`Strategies` session for the strategy a fork names and hands it the fork; it never
branches on which one it got. A session (one studio, one ``tea-studio run``) keeps process workers warm and a
Dask cluster connected across runs, and closes them at exit.
"""

from __future__ import annotations

import atexit
import itertools
import os
import threading
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

from tea_studio.engine.branching import (
    BranchOutcome,
    BranchStrategy,
    ForkRequest,
    cancelled,
    cancelled_outcome,
    concurrency,
    failed_outcome,
)
from tea_studio.engine.lua_vm import hold_pool, release_pool
from tea_studio.engine.plan import Limits, default_workers
from tea_studio.workflow.model import STRATEGIES

DASK_MISSING = ("the dask strategy needs the dask.distributed package, which is not installed; "
                "install it with: pip install \"tea-studio[dask]\"")


class ExecutorUnavailable(Exception):
    """The strategy asked for cannot be provided here."""


def thread_executor(max_workers: int | None = None) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=max_workers or os.cpu_count() or 2, thread_name_prefix="tea-branch")


def workers_of(executor: Executor) -> int:
    for attribute in ("_max_workers", "max_workers"):
        value = getattr(executor, attribute, None)
        if isinstance(value, int) and value > 0:
            return value
    return os.cpu_count() or 2


class _ForkJob:
    """The branches of one fork on threads. Pool workers and the forking flow claim branches one at a time (in
    declaration order) until none is left, so a flow that waits for its sub-branches runs the unstarted ones
    itself and never holds a worker that they need. One event tells the fork that the last branch finished."""

    def __init__(self, request: ForkRequest) -> None:
        self.request = request
        self.outcomes: list[BranchOutcome | None] = [None] * len(request.names)
        self._claims = itertools.count()  # next() on a count is atomic in CPython
        self._lock = threading.Lock()
        self._remaining = len(self.outcomes)
        self.finished = threading.Event()

    def drain(self) -> None:
        """Run unclaimed branches until there are none left."""
        count = len(self.outcomes)
        while True:
            i = next(self._claims)
            if i >= count:
                return
            try:
                if cancelled(self.request, self.outcomes):
                    self.outcomes[i] = cancelled_outcome(i, self.request.names[i])
                else:
                    self.outcomes[i] = self.request.run_here(i)
            except Exception as exc:  # noqa: BLE001 - e.g. a state that cannot be copied: the branch fails
                self.outcomes[i] = failed_outcome(i, self.request.names[i],
                                                  f"internal error: {type(exc).__name__}: {exc}")
            finally:
                with self._lock:
                    self._remaining -= 1
                    last = self._remaining == 0
                if last:
                    self.finished.set()


class ThreadStrategy:
    """Branches on threads of this process (a ``ThreadPoolExecutor``, or the studio's QThreadPool executor)."""

    name = "thread"

    def __init__(self, executor: Executor, *, owned: bool = True) -> None:
        self.executor = executor
        self._owned = owned

    def run_fork(self, request: ForkRequest) -> list[BranchOutcome]:
        job = _ForkJob(request)
        helpers = min(len(request.names), concurrency(request, workers_of(self.executor))) \
            - (1 if request.nested else 0)
        hold_pool()
        try:
            submitted = 0
            for _ in range(max(helpers, 0)):
                try:
                    self.executor.submit(job.drain)
                except RuntimeError:  # executor shut down: this flow runs the branches itself
                    break
                submitted += 1
            if request.nested or submitted == 0:
                job.drain()
            job.finished.wait()
        finally:
            release_pool()
        return job.outcomes  # type: ignore[return-value]

    def warm(self, count: int) -> None:
        pass

    def close(self) -> None:
        if self._owned:
            self.executor.shutdown(wait=True, cancel_futures=True)


class FuturesStrategy:
    """Branches on a caller's executor whose workers are other processes (e.g. a ``ProcessPoolExecutor``):
    picklable tasks whose events come back with the result."""

    name = "futures"

    def __init__(self, executor: Executor) -> None:
        self.executor = executor

    def run_fork(self, request: ForkRequest) -> list[BranchOutcome]:
        request.check_picklable()
        futures = [self.executor.submit(run_collecting, request.entry, request.remote_args(i))
                   for i in range(len(request.names))]
        outcomes = []
        for i, future in enumerate(futures):
            try:
                outcome = future.result()
            except Exception as exc:  # noqa: BLE001 - a worker that died or could not unpickle
                outcome = failed_outcome(i, request.names[i], f"branch worker failed: {exc}")
            for event in outcome.events:
                request.sink.emit(event)
            outcome.events = []
            outcomes.append(outcome)
        return outcomes

    def warm(self, count: int) -> None:
        pass

    def close(self) -> None:
        pass


def run_collecting(entry: Any, args: tuple[Any, ...]) -> BranchOutcome:
    """Runs in the other process: the branch's events travel back with its outcome."""
    from tea_studio.engine.events import ListSink

    sink = ListSink()
    outcome = entry(sink, None, f"process {os.getpid()}", *args)
    outcome.events = sink.events
    return outcome


def shares_memory(executor: Executor) -> bool:
    """Whether tasks run in this process (threads, a Qt pool) rather than in other processes or machines."""
    if isinstance(executor, ProcessPoolExecutor):
        return False
    module = type(executor).__module__ or ""
    return not module.startswith(("distributed", "dask"))


def given_strategy(executor: Executor) -> BranchStrategy:
    """The strategy for an executor a caller passed in (which the caller shuts down)."""
    return ThreadStrategy(executor, owned=False) if shares_memory(executor) else FuturesStrategy(executor)


class Strategies:
    """The branch strategies of one session: the process pool and Dask client are made on first use, reused by
    later runs and closed by :meth:`close`. ``dask_scheduler`` (``--dask-scheduler``, the studio's preferences)
    wins over a file's ``settings.parallel.dask.scheduler``; with neither, Dask runs a LocalCluster on
    127.0.0.1 started once for the session."""

    def __init__(self, *, dask_scheduler: str | None = None) -> None:
        self.dask_scheduler = dask_scheduler
        self._lock = threading.Lock()
        self._shared: dict[tuple[str, str | None], BranchStrategy] = {}

    def strategy(self, name: str, limits: Limits) -> tuple[BranchStrategy, bool]:
        """(the strategy for ``name``, whether the caller owns it and must close it after the run)."""
        if name not in STRATEGIES:
            raise ExecutorUnavailable(f"unknown parallel strategy '{name}' (use {', '.join(STRATEGIES)})")
        if name == "thread":
            return ThreadStrategy(thread_executor(default_workers(limits))), True
        address = (self.dask_scheduler or limits.dask_scheduler or None) if name == "dask" else None
        with self._lock:
            found = self._shared.get((name, address))
            if found is None:
                found = self._shared[(name, address)] = self._make(name, address)
            return found, False

    def prepare(self, names: set[str], limits: Limits) -> None:
        """Start what the run will need in the background (process workers, the Dask connection or cluster), so
        its first fork does not wait for it."""
        for name in sorted(names - {"thread"}):
            strategy, _ = self.strategy(name, limits)
            strategy.warm(default_workers(limits))

    @staticmethod
    def _make(name: str, address: str | None) -> BranchStrategy:
        if name == "process":
            from tea_studio.engine.process_pool import ProcessStrategy

            return ProcessStrategy()
        try:
            from tea_studio.engine.dask_strategy import DaskStrategy
        except ImportError:
            raise ExecutorUnavailable(DASK_MISSING) from None
        return DaskStrategy(address)

    def close(self) -> None:
        with self._lock:
            shared = list(self._shared.values())
            self._shared.clear()
        for strategy in shared:
            strategy.close()


_SESSION: Strategies | None = None
_SESSION_LOCK = threading.Lock()


def session_strategies() -> Strategies:
    """This process's session (closed at exit): runs that are given none share it."""
    global _SESSION
    with _SESSION_LOCK:
        if _SESSION is None:
            _SESSION = Strategies()
            atexit.register(_SESSION.close)
        return _SESSION
