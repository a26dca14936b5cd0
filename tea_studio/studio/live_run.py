"""Running a workflow in the studio: a QThreadPool executor, the event bridge and the run record.

Worker threads never touch widgets. The engine's sink appends events to a deque (thread-safe, cheap); a GUI
QTimer drains it every ~30 ms, stores the events in the :class:`RunRecord`, folds them into the :class:`RunModel`
(last status per node wins, timings appended) and emits one :class:`RunDelta` per tick with only what changed.
Large payloads (states) stay in the record's events and are rendered when the user asks for them.
"""

from __future__ import annotations

import bisect
import collections
import concurrent.futures
import gc
import json
import os
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, QTimer, Signal

from tea_studio.engine import events as ev
from tea_studio.workflow.files import write_atomic
from tea_studio.workflow.routes import branch_counts

TICK_MS = 30
# While a live run is going, Python threads hand the GIL over more often so the GUI thread never waits long for it
# behind busy branch threads (CPython's default is 5 ms per hand-over).
LIVE_SWITCH_INTERVAL = 0.001
# A background writer (the run history) works in slices of this long, then lets the GUI thread have the GIL.
BACKGROUND_SLICE_S = 0.002
BACKGROUND_PAUSE_S = 0.0005

# Node statuses shown on the canvas (NodeItem.set_run_info).
WAITING = "waiting"
RUNNING = "running"
DONE = "done"
FAILED = "failed"
SKIPPED = "skipped"
PAUSED = "paused"


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


# -- run record ----------------------------------------------------------------------------------------------
def _json_default(value: Any) -> Any:
    if isinstance(value, (set, tuple)):
        return list(value)
    return repr(value)


class RunRecord:
    """Everything a run emitted, in arrival order, with what the history lists about it.

    Saved as NDJSON in the ``--stream`` format: one ``event_to_dict(event, t0)`` object per line.
    """

    def __init__(self, run_id: str | None = None, path: str | None = None, inputs: dict | None = None) -> None:
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.path = path
        self.inputs = dict(inputs or {})
        self.started_at = time.time()  # wall clock, for the history list
        self.events: list[ev.RunEvent] = []

    # derived facts -----------------------------------------------------------------------------------------
    @property
    def t0(self) -> float:
        for event in self.events:
            if isinstance(event, ev.RunStarted):
                return event.t
        return self.events[0].t if self.events else 0.0

    def terminal(self) -> ev.RunFinished | ev.RunFailed | None:
        for event in reversed(self.events):
            if isinstance(event, (ev.RunFinished, ev.RunFailed)):
                return event
        return None

    @property
    def ok(self) -> bool | None:
        end = self.terminal()
        return None if end is None else isinstance(end, ev.RunFinished)

    @property
    def error(self) -> str | None:
        end = self.terminal()
        return end.error if isinstance(end, ev.RunFailed) else None

    @property
    def final_state(self) -> dict | None:
        end = self.terminal()
        return end.state if isinstance(end, ev.RunFinished) else None

    @property
    def duration_ms(self) -> float:
        end = self.terminal()
        if end is not None and end.timing_ms:
            return end.timing_ms
        return (self.events[-1].t - self.t0) * 1000.0 if self.events else 0.0

    # NDJSON ------------------------------------------------------------------------------------------------
    def lines(self):
        t0 = self.t0
        for event in self.events:
            yield json.dumps(ev.event_to_dict(event, t0), default=_json_default, ensure_ascii=False)

    def save(self, path: str | os.PathLike, *, background: bool = False) -> None:
        """Write the run as NDJSON (atomically).

        ``background``: the caller is a background thread. Serialising is pure Python, and a GUI thread hands the
        GIL over at every Qt call and then waits a whole switch interval for it; so the writer pauses briefly
        every few milliseconds, and a repaint meanwhile takes milliseconds, not hundreds of them.
        """
        clock = time.perf_counter
        next_pause = clock() + BACKGROUND_SLICE_S

        def pieces():
            nonlocal next_pause
            for n, line in enumerate(self.lines()):
                yield line + "\n"
                if background and not n % 64 and clock() >= next_pause:
                    time.sleep(BACKGROUND_PAUSE_S)
                    next_pause = clock() + BACKGROUND_SLICE_S

        write_atomic(path, pieces(), sync=False)

    @classmethod
    def load(cls, path: str | os.PathLike, run_id: str | None = None) -> RunRecord:
        """Read a run saved with :meth:`save` (or printed by ``tea-studio run --stream``)."""
        record = cls(run_id=run_id or Path(path).stem)
        with open(path, encoding="utf-8") as src:
            for line in src:
                if line.strip():
                    record.events.append(ev.event_from_dict(json.loads(line)))
        for event in record.events:
            if isinstance(event, ev.RunStarted):
                record.inputs = dict(event.inputs or {})
                record.path = event.workflow or None
                break
        return record


# -- the coalesced view of a run ------------------------------------------------------------------------------
def format_ms(ms: float) -> str:
    if ms >= 1000:
        return f"{ms / 1000:.2f} s"
    if ms >= 10:
        return f"{ms:.0f} ms"
    return f"{ms:.1f} ms"


@dataclass
class NodeRunInfo:
    """What the canvas shows on one node: status, executions and their total time."""

    status: str = WAITING
    count: int = 0
    total_ms: float = 0.0
    resume_status: str | None = None  # the status to restore when a pause ends

    @property
    def badge(self) -> str | None:
        if self.count == 0:
            return None
        if self.count == 1:
            return format_ms(self.total_ms)
        return f"x{self.count} · {format_ms(self.total_ms)}"


@dataclass
class Execution:
    """One node execution: a bar on the timeline. Times are seconds since the run start."""

    node: str
    branch: str
    start: float
    iteration: int = 1
    end: float | None = None
    ok: bool | None = None
    timing_ms: float | None = None
    error: str | None = None
    event_index: int | None = None  # index of the NodeFinished event in the record (its state snapshot)


@dataclass
class Lane:
    """The main flow ("") or one branch: its executions in start order and the branch's facts."""

    branch: str
    key: tuple = ()
    fork: str | None = None
    fan_in: str | None = None
    index: int = 0
    start: float | None = None
    end: float | None = None
    vm_ready: float | None = None  # seconds since run start
    vm_memory_kb: float | None = None
    ok: bool | None = None
    error: str | None = None
    executions: list[Execution] = field(default_factory=list)
    starts: list[float] = field(default_factory=list)  # execution start times (for bisect when painting)
    _spans: dict[float, Spans] = field(default_factory=dict, repr=False, compare=False)

    def add(self, execution: Execution) -> None:
        self.executions.append(execution)
        self.starts.append(execution.start)

    def visible(self, t_from: float, t_to: float) -> int:
        """Index of the first execution that may overlap [t_from, ...]."""
        i = bisect.bisect_left(self.starts, t_from)
        return max(0, i - 1)

    def spans(self, tolerance: float) -> Spans:
        """The finished executions merged where a gap is under ``tolerance`` seconds (brought up to date)."""
        spans = self._spans.get(tolerance)
        if spans is None:
            if len(self._spans) >= 4:  # zooming around: keep only the scales in use
                self._spans.clear()
            spans = self._spans[tolerance] = Spans(tolerance)
        spans.extend(self.executions)
        return spans


class Spans:
    """A lane's finished executions merged into runs: consecutive executions with the same result whose gap is
    under ``tolerance`` become one span. The timeline paints spans when bars are narrower than a pixel, so a paint
    costs what is visible, not the number of executions. Extended incrementally as executions finish."""

    __slots__ = ("tolerance", "starts", "ends", "oks", "done")

    def __init__(self, tolerance: float) -> None:
        self.tolerance = tolerance
        self.starts: list[float] = []
        self.ends: list[float] = []
        self.oks: list[bool | None] = []
        self.done = 0  # executions folded in; the first open one (a running bar) stops the folding

    def extend(self, executions: list[Execution]) -> None:
        i, n = self.done, len(executions)
        if i == n:
            return
        starts, ends, oks, tolerance = self.starts, self.ends, self.oks, self.tolerance
        while i < n:
            execution = executions[i]
            end = execution.end
            if end is None:
                break
            if oks and execution.ok is oks[-1] and execution.start - ends[-1] < tolerance:
                if end > ends[-1]:
                    ends[-1] = end
            else:
                starts.append(execution.start)
                ends.append(end)
                oks.append(execution.ok)
            i += 1
        self.done = i


@dataclass
class FanInResult:
    branch: str
    index: int
    ok: bool
    timing_ms: float
    error: str | None
    event_index: int  # the BranchFinished event (its state)


@dataclass
class FanInInfo:
    """A fan-in node filling up: results in arrival order, in declaration order once joined."""

    node: str
    expected: int = 0
    results: list[FanInResult] = field(default_factory=list)
    joined: bool = False

    @property
    def progress(self) -> tuple[int, int]:
        return len(self.results), max(self.expected, len(self.results))

    def listed(self) -> list[FanInResult]:
        return sorted(self.results, key=lambda r: r.index) if self.joined else list(self.results)


@dataclass
class LogEntry:
    t: float
    level: str
    node: str | None
    branch: str
    text: str
    line: int | None = None


@dataclass
class PauseInfo:
    node: str
    branch: str
    when: str
    event_index: int


@dataclass
class RunDelta:
    """What one tick changed. Panels update only these parts."""

    first_event: int = 0
    last_event: int = 0
    nodes: dict[str, NodeRunInfo] = field(default_factory=dict)
    fan_ins: dict[str, FanInInfo] = field(default_factory=dict)
    logs: list[LogEntry] = field(default_factory=list)
    executions: bool = False
    lanes: bool = False
    paused: list[PauseInfo] = field(default_factory=list)
    resumed: bool = False
    finished: bool = False
    ok: bool | None = None
    reset: bool = False


class RunModel:
    """Folds run events into what the live view shows. Pure Python; fed by LiveRun or by a saved record."""

    def __init__(self, record: RunRecord, workflow=None) -> None:
        self.record = record
        self.node_names = list(workflow.node_names) if workflow is not None else []
        self._fork_sizes = branch_counts(workflow) if workflow is not None else {}
        self.nodes: dict[str, NodeRunInfo] = {name: NodeRunInfo() for name in self.node_names}
        self.lanes: dict[str, Lane] = {"": Lane("", key=())}
        self.lane_order: list[str] = [""]
        self.fan_ins: dict[str, FanInInfo] = {}
        self.logs: list[LogEntry] = []
        self.paused: dict[tuple[str, str], PauseInfo] = {}
        self.t0: float | None = None
        self.now = 0.0  # seconds since start: the right end of running bars
        self.end: float | None = None
        self.ok: bool | None = None
        self.error: str | None = None
        self._open: dict[tuple[str, str], Execution] = {}
        self._applied = 0

    # feeding -------------------------------------------------------------------------------------------------
    def apply(self, batch: list[ev.RunEvent]) -> RunDelta:
        """Fold the events that were just appended to the record (``batch``) and say what changed."""
        delta = RunDelta(first_event=self._applied, last_event=self._applied + len(batch))
        if self.t0 is None and batch:
            self.t0 = self.record.t0 if self.record.events else batch[0].t
        t0 = self.t0 or 0.0
        index = self._applied
        nodes = delta.nodes
        for event in batch:
            kind = type(event)
            t = event.t - t0
            if kind is ev.NodeStarted:
                lane = self._lane(event.branch, delta)
                execution = Execution(event.node, event.branch, t, event.iteration)
                lane.add(execution)
                self._open[(event.branch, event.node)] = execution
                info = self._node(event.node)
                info.status = RUNNING
                nodes[event.node] = info
                delta.executions = True
            elif kind is ev.NodeFinished:
                execution = self._open.pop((event.branch, event.node), None)
                if execution is None:  # a finish without a start (a truncated file): a zero-length bar
                    execution = Execution(event.node, event.branch, t - event.timing_ms / 1000.0)
                    self._lane(event.branch, delta).add(execution)
                execution.end = t
                execution.ok = event.ok
                execution.timing_ms = event.timing_ms
                execution.error = event.error
                execution.event_index = index
                info = self._node(event.node)
                info.count += 1
                info.total_ms += event.timing_ms
                info.status = DONE if event.ok else FAILED
                nodes[event.node] = info
                delta.executions = True
                if not event.ok:
                    self._log(delta, LogEntry(t, "error", event.node, event.branch,
                                              event.error or "failed", event.line))
            elif kind is ev.StepStarted:
                lane_name = self._step_lane(event.branch, event.node)
                execution = Execution(f"{event.node} › {event.step}", lane_name, t, event.iteration or 1)
                self._lane(lane_name, delta).add(execution)
                self._open[(lane_name, execution.node)] = execution
                delta.executions = True
            elif kind is ev.StepFinished:
                lane_name = self._step_lane(event.branch, event.node)
                execution = self._open.pop((lane_name, f"{event.node} › {event.step}"), None)
                if execution is not None:
                    execution.end, execution.ok = t, event.ok
                    execution.timing_ms, execution.error = event.timing_ms, event.error
                    execution.event_index = index
                    delta.executions = True
            elif kind is ev.DynamicParallelStarted:
                fan_in = self.fan_ins[event.node] = FanInInfo(event.node, expected=event.item_count)
                delta.fan_ins[event.node] = fan_in
            elif kind is ev.LogLine:
                self._log(delta, LogEntry(t, event.level, event.node, event.branch, event.text))
            elif kind is ev.BranchStarted:
                lane = self._lane(event.branch, delta, event)
                # The engine emits BranchStarted once the branch's VM is ready.
                lane.start = t - event.vm_ready_us / 1e6
                lane.vm_ready = t
                lane.end = lane.ok = lane.error = None
                if event.fan_in is not None:
                    fan_in = self.fan_ins.get(event.fan_in)
                    if fan_in is None or fan_in.joined:
                        fan_in = self.fan_ins[event.fan_in] = FanInInfo(event.fan_in)
                    fan_in.expected = max(fan_in.expected, self._fork_sizes.get((event.fork, event.fan_in), 0),
                                          event.index + 1)
                    delta.fan_ins[event.fan_in] = fan_in
                    self._node(event.fan_in)
                    nodes[event.fan_in] = self.nodes[event.fan_in]
            elif kind is ev.BranchFinished:
                lane = self._lane(event.branch, delta, event)
                lane.end = t
                lane.ok = event.ok
                lane.error = event.error
                lane.vm_memory_kb = event.vm_memory_kb
                delta.lanes = True
                if event.fan_in is not None:
                    fan_in = self.fan_ins.setdefault(event.fan_in, FanInInfo(event.fan_in))
                    fan_in.results.append(FanInResult(event.branch, event.index, event.ok, event.timing_ms,
                                                      event.error, index))
                    delta.fan_ins[event.fan_in] = fan_in
                    self._node(event.fan_in)
                    nodes[event.fan_in] = self.nodes[event.fan_in]
                if not event.ok:
                    self._log(delta, LogEntry(t, "error", event.node, event.branch,
                                              f"branch '{event.branch}' failed: {event.error}"))
            elif kind is ev.FanInReady:
                fan_in = self.fan_ins.setdefault(event.node, FanInInfo(event.node))
                fan_in.joined = True
                delta.fan_ins[event.node] = fan_in
            elif kind is ev.Paused:
                info = self._node(event.node)
                if info.status != PAUSED:
                    info.resume_status = info.status
                info.status = PAUSED
                nodes[event.node] = info
                pause = PauseInfo(event.node, event.branch, event.when, index)
                self.paused[(event.branch, event.node)] = pause
                delta.paused.append(pause)
            elif kind is ev.Resumed:
                self.paused.pop((event.branch, event.node), None)
                info = self._node(event.node)
                if info.status == PAUSED:
                    info.status = info.resume_status or WAITING
                nodes[event.node] = info
                delta.resumed = True
            elif kind is ev.RunWarning:
                self._log(delta, LogEntry(t, "warning", event.node, event.branch, event.message))
            elif kind is ev.RunStarted:
                self.t0 = event.t
                t0 = event.t
            elif kind is ev.RunFinished or kind is ev.RunFailed:
                self.end = t
                self.ok = kind is ev.RunFinished
                if kind is ev.RunFailed:
                    self.error = event.error
                    self._log(delta, LogEntry(t, "error", event.node, event.branch, f"run failed: {event.error}",
                                              event.line))
            if t > self.now:
                self.now = t
            index += 1
        self._applied = index
        return delta

    def finish(self, delta: RunDelta | None = None) -> RunDelta:
        """The run is over: close open bars, mark never-run nodes skipped and running ones failed."""
        delta = delta or RunDelta(first_event=self._applied, last_event=self._applied)
        end = self.end if self.end is not None else self.now
        for execution in self._open.values():
            execution.end = end
            execution.ok = False
        self._open.clear()
        self.paused.clear()
        for name, info in self.nodes.items():
            status = info.status
            if status == WAITING:
                info.status = SKIPPED
            elif status in (RUNNING, PAUSED):
                info.status = FAILED if self.ok is False else DONE
            else:
                continue
            delta.nodes[name] = info
        delta.finished = True
        delta.ok = bool(self.ok)
        delta.executions = True
        return delta

    @classmethod
    def replay(cls, record: RunRecord, workflow=None) -> RunModel:
        """The model of a finished (saved) run."""
        model = cls(record, workflow)
        model.apply(record.events)
        model.finish()
        return model

    # helpers -----------------------------------------------------------------------------------------------
    def _node(self, name: str) -> NodeRunInfo:
        info = self.nodes.get(name)
        if info is None:
            info = self.nodes[name] = NodeRunInfo()
        return info

    def _log(self, delta: RunDelta, entry: LogEntry) -> None:
        self.logs.append(entry)
        delta.logs.append(entry)

    def _step_lane(self, branch: str, node: str) -> str:
        """Where a composite node's inner steps are drawn: a row of their own under the flow running the node
        (``flow/▸node``), or the flow itself when the node does not run there (a dynamic_parallel item's branch)."""
        if (branch, node) in self._open:
            return f"{branch}/▸{node}" if branch else f"▸{node}"
        return branch

    def _lane(self, branch: str, delta: RunDelta, started: ev.BranchStarted | ev.BranchFinished | None = None) -> Lane:
        lane = self.lanes.get(branch)
        if lane is None:
            parent = branch.rpartition("/")[0] if "/" in branch else ""
            parent_key = self.lanes[parent].key if parent in self.lanes else ()
            index = started.index if started is not None else len(self.lanes)
            lane = self.lanes[branch] = Lane(branch, key=(*parent_key, index, branch))
            bisect.insort(self.lane_order, branch, key=lambda name: self.lanes[name].key)
            delta.lanes = True
        if started is not None and lane.fork is None:
            lane.fork, lane.fan_in, lane.index = started.fork, started.fan_in, started.index
        return lane

    # reading (on demand) -----------------------------------------------------------------------------------
    @property
    def has_open_executions(self) -> bool:
        return bool(self._open)

    @property
    def applied(self) -> int:
        """How many events of the record have been folded in."""
        return self._applied

    @property
    def branch_lanes(self) -> list[Lane]:
        return [self.lanes[name] for name in self.lane_order if name]

    def executions_of(self, node: str) -> list[Execution]:
        found = [x for lane in self.lanes.values() for x in lane.executions if x.node == node]
        return sorted(found, key=lambda x: x.start)

    def last_execution(self, node: str) -> Execution | None:
        found = [x for x in self.executions_of(node) if x.event_index is not None]
        return found[-1] if found else None

    def event(self, index: int | None) -> ev.RunEvent | None:
        if index is None or not 0 <= index < len(self.record.events):
            return None
        return self.record.events[index]

    def state_after(self, execution: Execution) -> dict | None:
        event = self.event(execution.event_index)
        return getattr(event, "state", None)

    def state_before(self, execution: Execution) -> dict | None:
        """The state the node started from: the previous snapshot in its flow, else where its branch forked."""
        lane = self.lanes.get(execution.branch)
        if lane is not None:
            earlier = [x for x in lane.executions if x.event_index is not None and x.start < execution.start
                       and x is not execution]
            if earlier:
                return self.state_after(earlier[-1])
            if lane.fork is not None:
                parent = execution.branch.rpartition("/")[0] if "/" in execution.branch else ""
                parent_lane = self.lanes.get(parent)
                if parent_lane is not None:
                    forks = [x for x in parent_lane.executions if x.node == lane.fork and x.event_index is not None
                             and x.start <= execution.start]
                    if forks:
                        return self.state_after(forks[-1])
        return dict(self.record.inputs)

    def branch_state(self, result: FanInResult) -> dict | None:
        return getattr(self.event(result.event_index), "state", None)


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
    """One run of a workflow in the studio: main flow on a worker thread, branches on a QThreadPool.

    ``updated(RunDelta)`` is emitted at most once per tick with the coalesced changes; ``finished(bool ok)`` once
    every event is in :attr:`record` and every branch has returned.
    """

    updated = Signal(object)
    finished = Signal(bool)
    _worker_done = Signal()  # emitted from the worker thread, delivered queued: drain at once, not on the next tick

    def __init__(self, workflow, inputs: dict | None = None, *, control=None, pool: QThreadPool | None = None,
                 tick_ms: int = TICK_MS, tap=None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        from tea_studio.engine.runner import RunControl

        self.workflow = workflow
        self.inputs = dict(inputs or {})
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
                              control=self.control, record_states=True, pins=self.workflow.layout.pins)
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
                delta = _merge(delta, extra) if delta else extra
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
            delta = RunDelta(self.model.applied, self.model.applied, executions=True)
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


def _merge(first: RunDelta, second: RunDelta) -> RunDelta:
    first.last_event = second.last_event
    first.nodes.update(second.nodes)
    first.fan_ins.update(second.fan_ins)
    first.logs.extend(second.logs)
    first.executions |= second.executions
    first.lanes |= second.lanes
    first.paused.extend(second.paused)
    first.resumed |= second.resumed
    return first
