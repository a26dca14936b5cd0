"""Running a workflow in the studio: a QThreadPool executor and the event bridge.

Worker threads never touch widgets. The engine's sink appends events to a deque (thread-safe, cheap); a GUI
QTimer drains it every ~30 ms, stores the events in the :class:`RunRecord`, folds them into the :class:`RunModel`
(both Qt-free, in :mod:`tea_studio.engine.record`) and emits one :class:`RunDelta` per tick with only what changed.
"""

from __future__ import annotations

import collections
import concurrent.futures
import gc
import os
import sys
import threading
import time

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, QTimer, Signal

from tea_studio.engine import events as ev
from tea_studio.engine.record import RunDelta, RunModel, RunRecord

TICK_MS = 30
# While a live run is going, Python threads hand the GIL over more often so the GUI thread never waits long for it
# behind busy branch threads (CPython's default is 5 ms per hand-over).
LIVE_SWITCH_INTERVAL = 0.001


# -- executor ------------------------------------------------------------------------------------------------
class _FutureRunnable(QRunnable):
    """Runs one submitted call on a pool thread and resolves its Future."""

    def __init__(self, future: concurrent.futures.Future, fn, args, kwargs, done) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._future = future
        self._call = (fn, args, kwargs)
        self._done = done

    def run(self) -> None:
        future, (fn, args, kwargs) = self._future, self._call
        self._call = None
        try:
            if not future.set_running_or_notify_cancel():
                return
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 - handed to the Future's owner
                future.set_exception(exc)
            else:
                future.set_result(result)
        finally:
            self._done(future)


class QtPoolExecutor(concurrent.futures.Executor):
    """A ``concurrent.futures.Executor`` over a ``QThreadPool``: each call runs as a QRunnable.

    ``pool`` defaults to a private pool of ``max_workers`` threads (CPU count). ``shutdown(wait=True)`` waits for
    the calls submitted through this executor only, so a shared pool can serve several executors.
    """

    def __init__(self, pool: QThreadPool | None = None, max_workers: int | None = None) -> None:
        if pool is None:
            pool = QThreadPool()
            pool.setMaxThreadCount(max_workers or os.cpu_count() or 1)
        elif max_workers:
            pool.setMaxThreadCount(max_workers)
        self.pool = pool
        self._max_workers = pool.maxThreadCount()
        self._lock = threading.Lock()
        self._pending: set[concurrent.futures.Future] = set()
        self._idle = threading.Event()
        self._idle.set()
        self._shutdown = False

    @property
    def max_workers(self) -> int:
        return self._max_workers

    def submit(self, fn, /, *args, **kwargs) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            self._pending.add(future)
            self._idle.clear()
        self.pool.start(_FutureRunnable(future, fn, args, kwargs, self._finished))
        return future

    def _finished(self, future: concurrent.futures.Future) -> None:
        with self._lock:
            self._pending.discard(future)
            if not self._pending:
                self._idle.set()

    def pending(self) -> int:
        """How many submitted calls have not finished yet."""
        with self._lock:
            return len(self._pending)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._shutdown = True
            pending = list(self._pending)
        if cancel_futures:
            for future in pending:
                future.cancel()
        if wait:
            self._idle.wait()


# -- the live bridge ------------------------------------------------------------------------------------------
class _QueueSink:
    """The engine's sink: a deque append (and an optional tap, e.g. a counter in tests and benchmarks)."""

    def __init__(self, queue: collections.deque, tap=None) -> None:
        if tap is None:
            self.emit = queue.append
        else:
            append, tap_emit = queue.append, tap.emit

            def emit(event: ev.RunEvent) -> None:
                append(event)
                tap_emit(event)

            self.emit = emit


class LiveRun(QObject):
    """One run of a workflow in the studio: main flow on a worker thread, thread-strategy branches on a QThreadPool
    (process and dask forks run on the session's strategies, as headless).

    ``updated(RunDelta)`` is emitted at most once per tick with the coalesced changes; ``finished(bool ok)`` once
    every event is in :attr:`record` and every branch has returned.
    """

    updated = Signal(object)
    finished = Signal(bool)
    _worker_done = Signal()  # emitted from the worker thread, delivered queued: drain at once, not on the next tick

    def __init__(self, workflow, inputs: dict | None = None, *, control=None, pool: QThreadPool | None = None,
                 tick_ms: int = TICK_MS, tap=None, start=None, caps=None, strategies=None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        from tea_studio.engine.runner import RunControl

        self.workflow = workflow
        self.start_at = start  # an engine.start.StartAt: begin at that node with its state
        self.caps = caps  # engine.budget.EngineCaps: the user's caps on the file's limits
        self.strategies = strategies  # engine.executors.Strategies for process and dask forks (None: the session's)
        self.inputs = dict(start.state if start is not None else inputs or {})
        self.control = control if control is not None else RunControl()
        self.record = RunRecord(path=workflow.path, inputs=self.inputs)
        self.model = RunModel(self.record, workflow)
        max_workers = workflow.setting("parallel", "max_workers", default=None)
        self.executor = QtPoolExecutor(pool, max_workers=max_workers if isinstance(max_workers, int) else None)
        self._queue: collections.deque = collections.deque()
        self._sink = _QueueSink(self._queue, tap)
        self._done = threading.Event()
        self._error: BaseException | None = None
        self.result: dict | None = None
        self._thread: threading.Thread | None = None
        self.worker_thread_id: int | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(tick_ms)
        self._timer.timeout.connect(self.drain)
        self._worker_done.connect(self.drain, Qt.ConnectionType.QueuedConnection)
        self._ended = False

    # control ---------------------------------------------------------------------------------------------------
    _live_runs = 0
    _saved_switch_interval: float | None = None

    def start(self) -> None:
        if LiveRun._live_runs == 0:
            LiveRun._saved_switch_interval = sys.getswitchinterval()
            sys.setswitchinterval(min(LIVE_SWITCH_INTERVAL, LiveRun._saved_switch_interval))
        LiveRun._live_runs += 1
        gc.freeze()
        self._thread = threading.Thread(target=self._work, name=f"tea-run-{self.record.run_id}", daemon=True)
        self._timer.start()
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread is not None and not self._ended

    @property
    def ended(self) -> bool:
        return self._ended

    def stop(self) -> None:
        self.control.stop()

    def pause(self) -> None:
        self.control.pause()

    def resume(self) -> None:
        self.control.resume()

    def step(self) -> None:
        self.control.step()

    # worker thread ---------------------------------------------------------------------------------------------
    def _work(self) -> None:
        self.worker_thread_id = threading.get_ident()
        try:
            from tea_studio.engine.runner import WorkflowRun

            run = WorkflowRun(self.workflow, self.inputs, executor=self.executor, sink=self._sink,
                              control=self.control, record_states=True, pins=self.workflow.layout.pins,
                              start=self.start_at, caps=self.caps, strategies=self.strategies)
            self.result = run.run()
        except BaseException as exc:  # noqa: BLE001 - reported as the run's failure
            self._error = exc
        finally:
            self._done.set()
            self._worker_done.emit()

    # GUI thread ------------------------------------------------------------------------------------------------
    def drain(self) -> None:
        """Take every queued event, fold it in, emit one delta; finish when the run and its branches are done."""
        if self._ended:
            return
        done = self._done.is_set() and self.executor.pending() == 0
        delta = self._take()
        if done:
            if self.model.ok is None:  # the engine ended without a terminal event (e.g. it could not start)
                self._sink.emit(ev.RunFailed(t=time.monotonic(), error=_error_text(self._error)))
                extra = self._take()
                delta = delta.merge(extra) if delta else extra
            self._ended = True
            self._timer.stop()
            LiveRun._live_runs -= 1
            if LiveRun._live_runs == 0:
                if LiveRun._saved_switch_interval is not None:
                    sys.setswitchinterval(LiveRun._saved_switch_interval)
                gc.unfreeze()  # the run's cyclic garbage (VMs, tracebacks) becomes collectable again
            self.executor.shutdown(wait=False)
            delta = self.model.finish(delta)
        elif delta is None and self.model.has_open_executions:  # nothing new, but running bars grow
            self.model.now = time.monotonic() - (self.model.t0 or time.monotonic())
            delta = RunDelta(executions=True)
        if delta is not None:
            self.updated.emit(delta)
        if self._ended:
            self.finished.emit(bool(self.model.ok))

    def _take(self) -> RunDelta | None:
        queue = self._queue
        n = len(queue)
        if not n:
            return None
        # What the run has kept so far (events, states, bars) lives until the run ends: move it out of the
        # collector's generations, so a full collection - which stops every thread while it walks all objects
        # (50-70 ms after 50,000 events) - never has to walk the record. Cheap: it relinks lists.
        gc.freeze()
        popleft = queue.popleft
        batch = [popleft() for _ in range(n)]
        self.record.events.extend(batch)
        delta = self.model.apply(batch)
        self.model.now = max(self.model.now, time.monotonic() - (self.model.t0 or time.monotonic()))
        return delta


def _error_text(error: BaseException | None) -> str:
    if error is None:
        return "the run ended without a result"
    return str(error) or type(error).__name__
