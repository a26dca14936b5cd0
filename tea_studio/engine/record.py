"""A run as data, without Qt: the :class:`RunRecord` (every event, saved as NDJSON) and the :class:`RunModel`
that folds events into what a live view shows, returning one :class:`RunDelta` per batch with only what changed.

The studio feeds the model from its event queue and paints the deltas; a saved record replays into the same model.
Large payloads (states) stay in the record's events and are read when the user asks for them.
"""

from __future__ import annotations

import bisect
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tea_studio.engine import events as ev
from tea_studio.workflow.files import write_atomic
from tea_studio.workflow.routes import branch_counts, fork_edges

# A background writer (the run history) works in slices of this long, then lets the GUI thread have the GIL.
BACKGROUND_SLICE_S = 0.002
BACKGROUND_PAUSE_S = 0.0005

# Node statuses shown on the canvas.
WAITING = "waiting"
RUNNING = "running"
DONE = "done"
FAILED = "failed"
SKIPPED = "skipped"
PAUSED = "paused"
QUEUED = "queued"  # the first node of a parallel branch whose fork has run, waiting for a worker
STOPPED = "stopped"  # running (or paused) when the user stopped the run: not a failure of the node


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

    @property
    def started(self) -> ev.RunStarted | None:
        """The RunStarted event: the inputs and, for a run started from a past one, where (``parent_run``,
        ``start_node``, ``start_mode``)."""
        for event in self.events:
            if isinstance(event, ev.RunStarted):
                return event
        return None

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
    pinned: bool = False  # the node's pinned output was used: it did not run


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
    pinned: list[Execution] = field(default_factory=list)  # the executions that used a pinned output
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

    nodes: dict[str, NodeRunInfo] = field(default_factory=dict)
    fan_ins: dict[str, FanInInfo] = field(default_factory=dict)
    logs: list[LogEntry] = field(default_factory=list)
    logs_grown: bool = False  # an earlier log entry got more text (model output streaming in)
    executions: bool = False
    lanes: bool = False
    paused: list[PauseInfo] = field(default_factory=list)
    resumed: bool = False
    finished: bool = False
    ok: bool | None = None
    reset: bool = False

    def merge(self, later: RunDelta) -> RunDelta:
        """This delta followed by ``later`` (what changed over both)."""
        self.nodes.update(later.nodes)
        self.fan_ins.update(later.fan_ins)
        self.logs.extend(later.logs)
        self.executions |= later.executions
        self.lanes |= later.lanes
        self.paused.extend(later.paused)
        self.resumed |= later.resumed
        return self


class RunModel:
    """Folds run events into what the live view shows. Pure Python; fed by LiveRun or by a saved record."""

    def __init__(self, record: RunRecord, workflow=None) -> None:
        self.record = record
        self.node_names = list(workflow.node_names) if workflow is not None else []
        self._fork_sizes = branch_counts(workflow) if workflow is not None else {}
        self._branch_starts = {fork: [(t, edge.fan_in) for edge in edges for t in edge.targets]
                               for fork, edges in fork_edges(workflow).items()} if workflow is not None else {}
        self.nodes: dict[str, NodeRunInfo] = {name: NodeRunInfo() for name in self.node_names}
        self.lanes: dict[str, Lane] = {"": Lane("", key=())}
        self.lane_order: list[str] = [""]
        self.fan_ins: dict[str, FanInInfo] = {}
        self.logs: list[LogEntry] = []
        self._streams: dict[tuple[str, str], LogEntry] = {}  # (branch, node) -> the log entry its tokens extend
        self.paused: dict[tuple[str, str], PauseInfo] = {}
        self.t0: float | None = None
        self.now = 0.0  # seconds since start: the right end of running bars
        self.end: float | None = None
        self.ok: bool | None = None
        self.error: str | None = None
        self._open: dict[tuple[str, str], Execution] = {}
        self._failed_nodes: set[str] = set()  # nodes whose failure is in the log
        self._applied = 0

    # feeding -------------------------------------------------------------------------------------------------
    def apply(self, batch: list[ev.RunEvent]) -> RunDelta:
        """Fold the events that were just appended to the record (``batch``) and say what changed."""
        delta = RunDelta()
        if self.t0 is None and batch:
            self.t0 = self.record.t0 if self.record.events else batch[0].t
        t0 = self.t0 or 0.0
        index = self._applied
        handlers = _HANDLERS
        for event in batch:
            t = event.t - t0
            handler = handlers.get(type(event))
            if handler is not None:
                handler(self, event, t, index, delta)
                if t0 != self.t0:  # RunStarted: times count from the run's own start
                    t0 = self.t0
            if t > self.now:
                self.now = t
            index += 1
        self._applied = index
        return delta

    # one handler per event type: (event, seconds since start, its index in the record, the tick's delta) ----
    def _node_started(self, event: ev.NodeStarted, t: float, index: int, delta: RunDelta) -> None:
        execution = Execution(event.node, event.branch, t, event.iteration, pinned=event.pinned)
        lane = self._lane(event.branch, delta)
        lane.add(execution)
        if event.pinned:
            lane.pinned.append(execution)
        self._open[(event.branch, event.node)] = execution
        self._set_status(delta, event.node, RUNNING)
        delta.executions = True

    def _node_finished(self, event: ev.NodeFinished, t: float, index: int, delta: RunDelta) -> None:
        self._streams.pop((event.branch, event.node), None)
        execution = self._open.pop((event.branch, event.node), None)
        if execution is None:  # a finish without a start (a truncated file): a zero-length bar
            execution = Execution(event.node, event.branch, t - event.timing_ms / 1000.0)
            self._lane(event.branch, delta).add(execution)
        execution.end, execution.ok, execution.timing_ms = t, event.ok, event.timing_ms
        execution.error, execution.event_index = event.error, index
        info = self._set_status(delta, event.node, DONE if event.ok else FAILED)
        info.count += 1
        info.total_ms += event.timing_ms
        delta.executions = True
        if event.ok:  # a fork's branches wait for workers until each one starts
            prefix = f"{event.branch}/" if event.branch else ""
            for index, (start, fan_in) in enumerate(self._branch_starts.get(event.node, ())):
                if self._node(start).status not in (RUNNING, PAUSED):
                    self._set_status(delta, start, QUEUED)
                self._lane(prefix + start, delta, ev.BranchStarted(t=event.t, branch=prefix + start, fork=event.node,
                                                                   fan_in=fan_in, index=index))  # its row, empty
        if not event.ok:
            self._failed_nodes.add(event.node)
            self._log(delta, LogEntry(t, "error", event.node, event.branch, event.error or "failed", event.line))

    def _step_started(self, event: ev.StepStarted, t: float, index: int, delta: RunDelta) -> None:
        lane_name = self._step_lane(event.branch, event.node)
        execution = Execution(f"{event.node} › {event.step}", lane_name, t, event.iteration or 1)
        self._lane(lane_name, delta).add(execution)
        self._open[(lane_name, execution.node)] = execution
        delta.executions = True

    def _step_finished(self, event: ev.StepFinished, t: float, index: int, delta: RunDelta) -> None:
        lane_name = self._step_lane(event.branch, event.node)
        execution = self._open.pop((lane_name, f"{event.node} › {event.step}"), None)
        if execution is not None:
            execution.end, execution.ok = t, event.ok
            execution.timing_ms, execution.error = event.timing_ms, event.error
            execution.event_index = index
            delta.executions = True

    def _dynamic_parallel_started(self, event: ev.DynamicParallelStarted, t: float, index: int,
                                  delta: RunDelta) -> None:
        fan_in = self.fan_ins[event.node] = FanInInfo(event.node, expected=event.item_count)
        delta.fan_ins[event.node] = fan_in

    def _log_line(self, event: ev.LogLine, t: float, index: int, delta: RunDelta) -> None:
        self._log(delta, LogEntry(t, event.level, event.node, event.branch, event.text))

    def _llm_token(self, event: ev.LlmToken, t: float, index: int, delta: RunDelta) -> None:
        """One log entry per model answer, growing as its tokens arrive."""
        entry = self._streams.get((event.branch, event.node))
        if entry is None:
            self._streams[(event.branch, event.node)] = entry = LogEntry(t, "info", event.node, event.branch, "")
            self._log(delta, entry)
        entry.text += event.text
        delta.logs_grown = True

    def _branch_started(self, event: ev.BranchStarted, t: float, index: int, delta: RunDelta) -> None:
        lane = self._lane(event.branch, delta, event)
        lane.start = t - event.vm_ready_us / 1e6  # the engine emits BranchStarted once the branch's VM is ready
        lane.vm_ready = t
        lane.end = lane.ok = lane.error = None
        if event.fan_in is not None:
            fan_in = self.fan_ins.get(event.fan_in)
            if fan_in is None or fan_in.joined:
                fan_in = self.fan_ins[event.fan_in] = FanInInfo(event.fan_in)
            fan_in.expected = max(fan_in.expected, self._fork_sizes.get((event.fork, event.fan_in), 0),
                                  event.index + 1)
            self._fan_in_changed(delta, fan_in)

    def _branch_finished(self, event: ev.BranchFinished, t: float, index: int, delta: RunDelta) -> None:
        lane = self._lane(event.branch, delta, event)
        lane.end, lane.ok, lane.error, lane.vm_memory_kb = t, event.ok, event.error, event.vm_memory_kb
        delta.lanes = True
        if event.fan_in is not None:
            fan_in = self.fan_ins.setdefault(event.fan_in, FanInInfo(event.fan_in))
            fan_in.results.append(FanInResult(event.branch, event.index, event.ok, event.timing_ms, event.error,
                                              index))
            self._fan_in_changed(delta, fan_in)
        if not event.ok and event.node not in self._failed_nodes:  # one log entry per failure
            self._log(delta, LogEntry(t, "error", event.node, event.branch,
                                      f"branch '{event.branch}' failed: {event.error}"))

    def _fan_in_ready(self, event: ev.FanInReady, t: float, index: int, delta: RunDelta) -> None:
        fan_in = self.fan_ins.setdefault(event.node, FanInInfo(event.node))
        fan_in.joined = True
        delta.fan_ins[event.node] = fan_in

    def _paused(self, event: ev.Paused, t: float, index: int, delta: RunDelta) -> None:
        info = self._node(event.node)
        if info.status != PAUSED:
            info.resume_status = info.status
        self._set_status(delta, event.node, PAUSED)
        pause = PauseInfo(event.node, event.branch, event.when, index)
        self.paused[(event.branch, event.node)] = pause
        delta.paused.append(pause)

    def _resumed(self, event: ev.Resumed, t: float, index: int, delta: RunDelta) -> None:
        self.paused.pop((event.branch, event.node), None)
        info = self._set_status(delta, event.node, None)
        if info.status == PAUSED:
            info.status = info.resume_status or WAITING
        delta.resumed = True

    def _warning(self, event: ev.RunWarning, t: float, index: int, delta: RunDelta) -> None:
        self._log(delta, LogEntry(t, "warning", event.node, event.branch, event.message))

    def _run_started(self, event: ev.RunStarted, t: float, index: int, delta: RunDelta) -> None:
        self.t0 = event.t

    def _run_finished(self, event: ev.RunFinished, t: float, index: int, delta: RunDelta) -> None:
        self.end, self.ok = t, True

    def _run_failed(self, event: ev.RunFailed, t: float, index: int, delta: RunDelta) -> None:
        self.end, self.ok, self.error = t, False, event.error
        if event.node is None or event.node not in self._failed_nodes:  # else its node's entry says it already
            self._log(delta, LogEntry(t, "error", event.node, event.branch, f"run failed: {event.error}", event.line))

    def finish(self, delta: RunDelta | None = None) -> RunDelta:
        """The run is over: close open bars, mark never-run nodes skipped and running ones failed (stopped when the
        user stopped the run)."""
        delta = delta or RunDelta()
        end = self.end if self.end is not None else self.now
        for execution in self._open.values():
            execution.end = end
            execution.ok = False
        self._open.clear()
        self.paused.clear()
        for name in [name for name, lane in self.lanes.items() if name and lane.start is None and lane.ok is None
                     and not lane.executions]:
            del self.lanes[name]  # a queued branch that never started (a stop, a failing sibling): no row
            self.lane_order.remove(name)
            delta.lanes = True
        stopped = self.error == STOPPED
        for name, info in self.nodes.items():
            status = info.status
            if status in (WAITING, QUEUED):
                info.status = SKIPPED
            elif status in (RUNNING, PAUSED):
                info.status = STOPPED if stopped else FAILED if self.ok is False else DONE
            elif stopped and status == FAILED and all(x.error in (None, STOPPED) for x in self.executions_of(name)):
                info.status = STOPPED  # its code was interrupted by the stop
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

    def _set_status(self, delta: RunDelta, name: str, status: str | None) -> NodeRunInfo:
        """Give a node a status (None: keep it) and put it in the delta."""
        info = self._node(name)
        if status is not None:
            info.status = status
        delta.nodes[name] = info
        return info

    def _fan_in_changed(self, delta: RunDelta, fan_in: FanInInfo) -> None:
        delta.fan_ins[fan_in.node] = fan_in
        self._set_status(delta, fan_in.node, None)

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
            if parent not in self.lanes:  # a fan-out run by a loop or steps node: under that node's step row
                head, _, leaf = parent.rpartition("/")
                parent = f"{head}/▸{leaf}" if head else f"▸{leaf}"
            parent_key = self.lanes[parent].key if parent in self.lanes else ()
            if branch.rpartition("/")[2].startswith("▸"):  # a step row: right under its flow, before its branches
                key = (*parent_key, -1, len(self.lanes), branch)
            else:
                key = (*parent_key, started.index if started is not None else len(self.lanes), branch)
            lane = self.lanes[branch] = Lane(branch, key=key)
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


_HANDLERS = {
    ev.NodeStarted: RunModel._node_started,
    ev.NodeFinished: RunModel._node_finished,
    ev.StepStarted: RunModel._step_started,
    ev.StepFinished: RunModel._step_finished,
    ev.DynamicParallelStarted: RunModel._dynamic_parallel_started,
    ev.LogLine: RunModel._log_line,
    ev.LlmToken: RunModel._llm_token,
    ev.BranchStarted: RunModel._branch_started,
    ev.BranchFinished: RunModel._branch_finished,
    ev.FanInReady: RunModel._fan_in_ready,
    ev.Paused: RunModel._paused,
    ev.Resumed: RunModel._resumed,
    ev.RunWarning: RunModel._warning,
    ev.RunStarted: RunModel._run_started,
    ev.RunFinished: RunModel._run_finished,
    ev.RunFailed: RunModel._run_failed,
}
