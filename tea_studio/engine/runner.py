"""WorkflowRun: walks the plan, forks branches, joins at fan-in nodes, emits events, obeys pause/step/stop.

The main flow runs in the thread that calls :meth:`WorkflowRun.run` with one fresh Lua VM. Each parallel branch
runs through an ``Executor`` with a deep copy of the state at the fork and its own fresh Lua VM, created in the
worker. A branch that forks submits its sub-branches and, while waiting, runs the ones no worker has started yet
itself (each task has a claim flag), so waiting never holds a worker that a sub-branch needs.
"""

from __future__ import annotations

import copy
import itertools
import multiprocessing.connection as mp_connection
import os
import pickle
import shutil
import tempfile
import threading
import time
import uuid
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from tea_studio.engine import executors as executors_mod
from tea_studio.engine.events import (
    BranchFinished,
    BranchStarted,
    EventSink,
    FanInReady,
    ListSink,
    LogLine,
    NodeFinished,
    NodeStarted,
    NullSink,
    Paused,
    Resumed,
    RunFailed,
    RunFinished,
    RunStarted,
    RunWarning,
)
from tea_studio.engine.expressions import ExpressionError, edge_condition_holds, goto_condition_holds
from tea_studio.engine.lua_vm import LuaNodeError, LuaVM, discard_vm, hold_pool, release_pool, take_vm, warm_pool
from tea_studio.engine.plan import UNSUPPORTED, Fork, Plan, PlanError, build_plan, default_workers
from tea_studio.engine.python_node import PythonNodeError, run_python_node
from tea_studio.workflow.model import END, STRATEGIES, Workflow

STOPPED = "stopped"


class RunError(Exception):
    """A run failed. ``message`` is the bare reason; ``str()`` names the branch, node and line."""

    def __init__(self, message: str, node: str | None = None, branch: str = "", line: int | None = None,
                 *, located: bool = True, detail: str | None = None) -> None:
        self.message = message
        self.node = node
        self.branch = branch
        self.line = line
        if detail is None:
            where = f"branch '{branch}' " if branch else ""
            if located and node is not None:
                where += f"node '{node}'" + (f" line {line}" if line else "") + ": "
            elif where:
                where = where.rstrip() + ": "
            detail = where + message
        self.detail = detail
        super().__init__(detail)

    def __str__(self) -> str:
        return self.detail

    def __reduce__(self):
        return (_rebuild_run_error, (self.message, self.node, self.branch, self.line, self.detail))


def _rebuild_run_error(message, node, branch, line, detail) -> RunError:
    return RunError(message, node, branch, line, detail=detail)


class RunStopped(RunError):
    def __init__(self, node: str | None = None, branch: str = "") -> None:
        super().__init__(STOPPED, node, branch, located=False, detail=STOPPED)


class RunControl:
    """Thread-safe control of a run: stop, pause/resume/step, breakpoints, auto-continue."""

    def __init__(self, *, auto_continue: bool = False, breakpoints: set[tuple[str, str]] | None = None) -> None:
        self._cond = threading.Condition()
        self._stopped = False
        self._pause_requested = False
        self._generation = 0
        self._on_stop: list[Any] = []
        self.auto_continue = auto_continue
        self.breakpoints: set[tuple[str, str]] = set(breakpoints or ())

    @property
    def stopped(self) -> bool:
        return self._stopped

    def is_stopped(self) -> bool:
        return self._stopped

    def stop(self) -> None:
        """End the run: running Lua code ends within ~100 ms, paused flows wake up, the run fails "stopped"."""
        with self._cond:
            self._stopped = True
            callbacks = list(self._on_stop)
            self._cond.notify_all()
        for callback in callbacks:
            callback()

    def on_stop(self, callback: Any) -> None:
        with self._cond:
            already = self._stopped
            if not already:
                self._on_stop.append(callback)
        if already:
            callback()

    def pause(self) -> None:
        """Pause every flow before the next node it would start."""
        with self._cond:
            self._pause_requested = True

    def resume(self) -> None:
        with self._cond:
            self._pause_requested = False
            self._generation += 1
            self._cond.notify_all()

    def step(self) -> None:
        """Let waiting flows run one node, then pause again."""
        with self._cond:
            self._pause_requested = True
            self._generation += 1
            self._cond.notify_all()

    @property
    def pause_requested(self) -> bool:
        return self._pause_requested

    def wait_to_continue(self) -> None:
        """Block the calling flow until resume/step/stop."""
        with self._cond:
            generation = self._generation
            while not self._stopped and generation == self._generation:
                self._cond.wait()


@dataclass
class BranchOutcome:
    """What a branch hands back to its fork (picklable)."""

    index: int
    branch: str
    ok: bool
    state: dict[str, Any] | None = None
    error: str | None = None
    detail: str | None = None
    node: str | None = None
    failed_branch: str = ""
    line: int | None = None
    timing_ms: float = 0.0
    stopped: bool = False
    events: list[Any] = field(default_factory=list)


# -- state copies ------------------------------------------------------------------------------------------------
_ATOMS = frozenset({str, int, float, bool, type(None), bytes})


def copy_state(value: Any) -> Any:
    """Deep copy, fast for JSON-like data (falls back to ``copy.deepcopy``)."""
    kind = type(value)
    if kind is dict:
        return {k: (v if type(v) in _ATOMS else copy_state(v)) for k, v in value.items()}
    if kind is list:
        return [v if type(v) in _ATOMS else copy_state(v) for v in value]
    if kind in _ATOMS:
        return value
    return copy.deepcopy(value)


def _snapshot(value: Any) -> Any:
    """A copy of ``value`` for an event, or ``value`` itself when it holds something that cannot be copied."""
    try:
        return copy_state(value)
    except Exception:  # noqa: BLE001 - e.g. a lock a Python node put in state: the run reports it elsewhere
        return value


def unpicklable_path(value: Any, path: str = "state") -> str | None:
    """The key path of the first value that does not pickle (None when everything does)."""
    try:
        pickle.dumps(value)
        return None
    except Exception:  # noqa: BLE001 - any pickling failure
        pass
    if isinstance(value, dict):
        for key, item in value.items():
            found = unpicklable_path(item, f"{path}.{key}")
            if found:
                return found
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found = unpicklable_path(item, f"{path}[{i}]")
            if found:
                return found
    return f"{path} ({type(value).__name__})"


# -- the run context shared by the flows of one run ------------------------------------------------------------
class _RunContext:
    def __init__(self, plan: Plan, sink: EventSink, control: RunControl, record_states: bool,
                 executor: Executor | None, strategy: str | None) -> None:
        self.plan = plan
        self.sink = sink
        self.control = control
        self.record_states = record_states
        self.strategy = strategy or plan.limits.strategy
        self._given = executor
        self._executors: dict[str, Executor] = {}
        self._owned: list[Executor] = []
        self._lock = threading.Lock()
        self.stop_file: str | None = None
        self._stop_dir: str | None = None
        self.in_process_branch = False
        # Python nodes may change state values in place: events then keep a copy of each update they report.
        self.copy_updates = any(step.kind == "python" for step in plan.steps.values())

    def executor_for(self, fork: Fork) -> Executor:
        strategy = fork.strategy or self.strategy
        if strategy not in STRATEGIES:
            raise RunError(f"parallel strategy '{strategy}' is not supported by TEA Studio (use thread, process or "
                           "dask); export and run with tea", fork.node)
        if strategy == "thread" and self._given is not None:
            return self._given
        with self._lock:
            executor = self._executors.get(strategy)
            if executor is None:
                if strategy == self.strategy and self._given is not None:
                    return self._given
                limits = self.plan.limits
                try:
                    executor = executors_mod.make_executor(strategy, default_workers(limits), limits.dask_scheduler)
                except executors_mod.ExecutorUnavailable as exc:
                    raise RunError(str(exc), fork.node) from None
                self._executors[strategy] = executor
                self._owned.append(executor)
            return executor

    def stop_flag_file(self) -> str:
        """A file whose existence tells branches in other processes to stop."""
        with self._lock:
            if self.stop_file is None:
                self._stop_dir = tempfile.mkdtemp(prefix="tea-run-")
                self.stop_file = os.path.join(self._stop_dir, "stop")
                path = self.stop_file
                self.control.on_stop(lambda: open(path, "w").close())
            return self.stop_file

    def close(self) -> None:
        for executor in self._owned:
            executor.shutdown(wait=True, cancel_futures=True)
        self._owned.clear()
        self._executors.clear()
        if self._stop_dir:
            shutil.rmtree(self._stop_dir, ignore_errors=True)


class _BranchTask:
    """One branch of a fork, run by whichever thread claims it (a pool worker or the waiting fork)."""

    __slots__ = ("start", "index", "name", "state", "outcome")

    def __init__(self, start: str, index: int, name: str, state: dict[str, Any]) -> None:
        self.start = start
        self.index = index
        self.name = name
        self.state = state
        self.outcome: BranchOutcome | None = None


class _ForkJob:
    """The branches of one fork. Pool workers and the forking flow claim branches one at a time (in declaration
    order) until none is left, so a flow that waits for its sub-branches runs the unstarted ones itself and
    never holds a worker that they need. One event tells the fork that the last branch has finished."""

    def __init__(self, flow: _Flow, fork: Fork, state: dict[str, Any], stop_at: frozenset[str]) -> None:
        self.ctx = flow.ctx
        self.fork = fork
        self.stop_at = stop_at
        prefix = f"{flow.branch}/" if flow.branch else ""
        self.tasks = [_BranchTask(start, i, prefix + start, copy_state(state))
                      for i, start in enumerate(fork.branches)]
        self._claims = itertools.count()  # next() on a count is atomic in CPython
        self._lock = threading.Lock()
        self._remaining = len(self.tasks)
        self.finished = threading.Event()

    def drain(self) -> None:
        """Run unclaimed branches until there are none left."""
        tasks = self.tasks
        while True:
            i = next(self._claims)
            if i >= len(tasks):
                return
            task = tasks[i]
            try:
                task.outcome = _run_branch(self.ctx, task.name, task.start, task.index, self.fork, task.state,
                                           self.stop_at)
            finally:
                task.state = None  # type: ignore[assignment]
                with self._lock:
                    self._remaining -= 1
                    last = self._remaining == 0
                if last:
                    self.finished.set()


def _workers_of(executor: Executor) -> int:
    for attribute in ("_max_workers", "max_workers"):
        value = getattr(executor, attribute, None)
        if isinstance(value, int) and value > 0:
            return value
    return os.cpu_count() or 2


# -- flows ----------------------------------------------------------------------------------------------------
class _Flow:
    """One line of execution (the main flow or a branch) with its own Lua VM and counters."""

    def __init__(self, ctx: _RunContext, branch: str, vm: LuaVM | None = None) -> None:
        self.ctx = ctx
        self.plan = ctx.plan
        self.branch = branch
        self.sink = ctx.sink
        self.control = ctx.control
        self.vm = vm
        self.counts: dict[str, int] = {}
        self.iterations = 0
        self.current = ""
        self.failed_node: str | None = None

    # -- Lua VM ---------------------------------------------------------------------------------------------
    def ensure_vm(self) -> LuaVM:
        if self.vm is None:
            self.vm = self.new_vm()
        return self.vm

    def end_vm(self) -> float | None:
        """Discard the flow's VM (never used again); returns its memory in KiB."""
        vm, self.vm = self.vm, None
        if vm is None:
            return None
        memory = vm.memory_kb()
        discard_vm(vm)
        return memory

    def new_vm(self) -> LuaVM:
        limits = self.plan.limits
        stop = self.control.is_stopped
        if self.ctx.stop_file is not None and self.ctx.in_process_branch:
            path = self.ctx.stop_file
            control_stop = stop

            def stop() -> bool:
                return control_stop() or os.path.exists(path)

        return take_vm().configure(limits.lua_timeout, limits.lua_max_memory_mb, stop, self._print)

    def _print(self, text: str) -> None:
        self.sink.emit(LogLine(time.monotonic(), self.current, self.branch, text))

    # -- walking --------------------------------------------------------------------------------------------
    def walk(self, name: str, state: dict[str, Any], stop_at: frozenset[str]) -> dict[str, Any]:
        """Run from node ``name`` until __end__ or a node in ``stop_at`` (not run); returns the state."""
        plan = self.plan
        steps = plan.steps
        forks = plan.forks
        control = self.control
        limit = plan.limits.max_iterations
        static_breaks = plan.breakpoints
        sink = self.sink
        record = self.ctx.record_states
        copy_updates = self.ctx.copy_updates
        branch = self.branch
        stop_file = self.ctx.stop_file if self.ctx.in_process_branch else None
        while True:
            if name == END or name in stop_at:
                return state
            if control._stopped or (stop_file is not None and os.path.exists(stop_file)):
                raise RunStopped(name, branch)
            if self.iterations >= limit:
                raise RunError(f"max iterations ({limit}) exceeded at node {name}", name, branch, located=False)
            step = steps.get(name)
            if step is None:
                raise RunError(f"route to undefined node '{name}'", self.current or None, branch)
            self.iterations += 1
            count = self.counts[name] = self.counts.get(name, 0) + 1
            if static_breaks or control.breakpoints or control._pause_requested:
                self._maybe_pause(name, "before", state)
            self.current = name
            sink.emit(NodeStarted(time.monotonic(), name, branch, count))
            started = time.perf_counter()
            try:
                update = self._execute(step, state)
            except RunError as exc:
                elapsed = (time.perf_counter() - started) * 1000.0
                sink.emit(NodeFinished(time.monotonic(), name, branch, elapsed, False, None, None,
                                       exc.message, exc.line))
                raise
            elapsed = (time.perf_counter() - started) * 1000.0
            if update:
                state = {**state, **update}
            sink.emit(NodeFinished(time.monotonic(), name, branch, elapsed, True,
                                   _snapshot(update) if copy_updates and update else update,
                                   copy_state(state) if record else None))
            if static_breaks or control.breakpoints or control._pause_requested:
                self._maybe_pause(name, "after", state)
            fork = forks.get(name)
            if fork is not None:
                state = self.fork(fork, state, stop_at)
                if fork.fan_in is None:
                    return state
                name = fork.fan_in
                continue
            name = self.next_node(name, state)

    def _maybe_pause(self, name: str, when: str, state: dict[str, Any]) -> None:
        control = self.control
        point = (name, when)
        at_breakpoint = point in self.plan.breakpoints or point in control.breakpoints
        requested = control._pause_requested and when == "before"
        if not (at_breakpoint or requested):
            return
        self.sink.emit(Paused(time.monotonic(), name, self.branch, when, copy_state(state)))
        if requested or not control.auto_continue:
            control.wait_to_continue()
        if control._stopped:
            raise RunStopped(name, self.branch)
        self.sink.emit(Resumed(time.monotonic(), name, self.branch))

    def _execute(self, step: Any, state: dict[str, Any]) -> dict[str, Any] | None:
        kind = step.kind
        if kind == "lua":
            vm = self.vm or self.ensure_vm()
            try:
                return vm.run_node(step.name, step.code, state)
            except LuaNodeError as exc:
                if exc.kind == "stopped":
                    raise RunStopped(step.name, self.branch) from None
                raise RunError(exc.message, step.name, self.branch, exc.line) from None
        if kind == "noop":
            return None
        if kind == "python":
            try:
                return run_python_node(step.name, step.code, dict(state), self.plan.variables)
            except PythonNodeError as exc:
                raise RunError(exc.message, step.name, self.branch, exc.line) from None
        if kind == "action":
            raise RunError(f"action '{step.uses}' is not available in TEA Studio; export and run with tea",
                           step.name, self.branch)
        if kind == UNSUPPORTED:
            raise RunError(step.code, step.name, self.branch)
        raise RunError(f"{kind} nodes are not supported yet", step.name, self.branch)

    def next_node(self, name: str, state: dict[str, Any]) -> str:
        for route in self.plan.routes[name]:
            if route.rule == "next":
                return route.target

            def warn(exc: ExpressionError, target: str = route.target) -> None:
                self.sink.emit(RunWarning(
                    time.monotonic(),
                    f"condition '{exc.expression}' on the route from '{name}' to '{target}' failed "
                    f"({exc}); counted as false", name, self.branch))

            if route.rule == "goto":
                try:
                    holds = route.condition is None or goto_condition_holds(route.condition, state,
                                                                            self.plan.variables)
                except ExpressionError as exc:
                    warn(exc)
                    holds = False
            else:
                holds = edge_condition_holds(route.condition, route.when, state, self.plan.variables, warn)
            if holds:
                return route.target
        raise RunError(f"no route from node {name}", name, self.branch, located=False)

    # -- forks ------------------------------------------------------------------------------------------------
    def fork(self, fork: Fork, state: dict[str, Any], stop_at: frozenset[str]) -> dict[str, Any]:
        """Run the fork's branches and return the state the fan-in node starts from."""
        inner_stop = stop_at | {fork.fan_in} if fork.fan_in else stop_at
        executor = self.ctx.executor_for(fork)
        if isinstance(executor, executors_mod.BranchProcesses):
            outcomes = _ProcessFork(self, executor, fork, state, inner_stop).run()
        elif executors_mod.shares_memory(executor):
            outcomes = self._fork_shared(executor, fork, state, inner_stop)
        else:
            outcomes = self._fork_pickled(executor, fork, state, inner_stop)
        if self.control._stopped:
            raise RunStopped(fork.node, self.branch)
        return self._join(fork, state, outcomes)

    def _fork_shared(self, executor: Executor, fork: Fork, state: dict[str, Any],
                     stop_at: frozenset[str]) -> list[BranchOutcome]:
        hold_pool()
        try:
            return self._run_job(executor, _ForkJob(self, fork, state, stop_at))
        finally:
            release_pool()

    def _run_job(self, executor: Executor, job: _ForkJob) -> list[BranchOutcome]:
        helpers = min(len(job.tasks), _workers_of(executor))
        if self.branch:
            helpers -= 1  # this flow drains too
        submitted = 0
        for _ in range(max(helpers, 0)):
            try:
                executor.submit(job.drain)
            except RuntimeError:  # executor shut down: this flow runs the branches itself
                break
            submitted += 1
        if self.branch or submitted == 0:
            job.drain()
        job.finished.wait()
        return [task.outcome for task in job.tasks]  # type: ignore[misc]

    def check_picklable(self, fork: Fork, state: dict[str, Any]) -> None:
        bad = unpicklable_path(state)
        if bad:
            raise RunError(f"the state cannot be sent to another process: {bad} does not pickle", fork.node,
                           self.branch)

    def _fork_pickled(self, executor: Executor, fork: Fork, state: dict[str, Any],
                      stop_at: frozenset[str]) -> list[BranchOutcome]:
        self.check_picklable(fork, state)
        stop_file = self.ctx.stop_flag_file()
        futures = []
        for i, start in enumerate(fork.branches):
            name = f"{self.branch}/{start}" if self.branch else start
            futures.append(executor.submit(run_branch_in_process, self.plan, name, start, i, fork, state,
                                           stop_at, self.ctx.record_states, stop_file))
        outcomes = []
        for i, future in enumerate(futures):
            try:
                outcome = future.result()
            except Exception as exc:  # noqa: BLE001 - a worker that died or could not unpickle
                start = fork.branches[i]
                name = f"{self.branch}/{start}" if self.branch else start
                outcome = BranchOutcome(i, name, False, error=f"branch worker failed: {exc}",
                                        detail=f"branch '{name}': branch worker failed: {exc}", failed_branch=name)
            for event in outcome.events:
                self.sink.emit(event)
            outcome.events = []
            outcomes.append(outcome)
        return outcomes

    def _join(self, fork: Fork, state: dict[str, Any], outcomes: list[BranchOutcome]) -> dict[str, Any]:
        failures = [o for o in outcomes if not o.ok]
        results = [o.state for o in outcomes if o.ok]
        joined = dict(state)
        joined["parallel_results"] = results
        continue_on_error = self.plan.limits.on_branch_error == "continue"
        if failures and not continue_on_error:
            first = failures[0]
            if len(failures) == 1:
                raise RunError(first.error or "failed", first.node, first.failed_branch, first.line,
                               detail=first.detail)
            detail = f"{len(failures)} branches failed: " + "; ".join(o.detail or o.error or "" for o in failures)
            raise RunError(first.error or "failed", first.node, first.failed_branch, first.line, detail=detail)
        if continue_on_error:
            joined["parallel_errors"] = [
                {"branch": o.branch, "node": o.node,
                 "error": o.error if o.failed_branch == o.branch else o.detail, "timing_ms": o.timing_ms}
                for o in failures]
        if fork.fan_in:
            self.sink.emit(FanInReady(time.monotonic(), fork.fan_in, self.branch, len(results), len(failures)))
        return joined


def _run_branch(ctx: _RunContext, name: str, start: str, index: int, fork: Fork, state: dict[str, Any],
                stop_at: frozenset[str]) -> BranchOutcome:
    """Run one branch in the current worker with a fresh VM; never raises."""
    began = time.perf_counter()
    sink = ctx.sink
    flow = _Flow(ctx, name)
    vm_ready_us = 0.0
    if ctx.plan.has_lua:
        flow.vm = flow.new_vm()
        vm_ready_us = (time.perf_counter() - began) * 1e6
    sink.emit(BranchStarted(time.monotonic(), name, fork.node, fork.fan_in, index, vm_ready_us))
    try:
        final = flow.walk(start, state, stop_at)
    except RunError as exc:
        timing = (time.perf_counter() - began) * 1000.0
        memory = flow.end_vm()
        sink.emit(BranchFinished(time.monotonic(), name, fork.node, fork.fan_in, index, False, timing, None,
                                 exc.detail, exc.node, memory))
        stopped = isinstance(exc, RunStopped)
        detail = exc.detail if exc.branch and not stopped else f"branch '{name}': {exc.message}"
        return BranchOutcome(index, name, False, error=exc.message, detail=detail, node=exc.node,
                             failed_branch=exc.branch or name, line=exc.line, timing_ms=timing, stopped=stopped)
    except Exception as exc:  # noqa: BLE001 - an engine bug must not hang the join
        timing = (time.perf_counter() - began) * 1000.0
        message = f"internal error: {type(exc).__name__}: {exc}"
        sink.emit(BranchFinished(time.monotonic(), name, fork.node, fork.fan_in, index, False, timing, None,
                                 message, flow.current or None, flow.end_vm()))
        return BranchOutcome(index, name, False, error=message, detail=f"branch '{name}': {message}",
                             node=flow.current or None, failed_branch=name, timing_ms=timing)
    timing = (time.perf_counter() - began) * 1000.0
    memory = flow.end_vm()
    sink.emit(BranchFinished(time.monotonic(), name, fork.node, fork.fan_in, index, True, timing,
                             copy_state(final) if ctx.record_states else None, None, None, memory))
    return BranchOutcome(index, name, True, state=final, timing_ms=timing)


def run_branch_in_process(plan: Plan, name: str, start: str, index: int, fork: Fork, state: dict[str, Any],
                          stop_at: frozenset[str], record_states: bool, stop_file: str | None) -> BranchOutcome:
    """Entry point for a branch in another process: events are collected and returned with the outcome.

    Breakpoints inside such a branch continue automatically (there is no way back to the studio's control).
    Nested forks inside it run on threads of that process.
    """
    sink = ListSink()
    outcome = _run_branch_here(sink, plan, name, start, index, fork, state, stop_at, record_states, stop_file)
    outcome.events = sink.events
    return outcome


def _run_branch_here(sink: Any, plan: Plan, name: str, start: str, index: int, fork: Fork, state: dict[str, Any],
                     stop_at: frozenset[str], record_states: bool, stop_file: str | None) -> BranchOutcome:
    """Run a branch inside a worker process: breakpoints continue by themselves, Stop arrives through
    ``stop_file``, and nested forks run on threads of this process."""
    ctx = _RunContext(plan, sink, RunControl(auto_continue=True), record_states, None, "thread")
    ctx.stop_file = stop_file
    ctx.in_process_branch = True
    try:
        return _run_branch(ctx, name, start, index, fork, state, stop_at)
    finally:
        ctx.close()


# -- the process strategy: one killable worker process per running branch -----------------------------------------
KILL_GRACE_S = 0.5  # after a Lua node's timeout (the hook normally ends it first) or a Stop, before the kill


class _PipeSink:
    """Sends a branch process's events to the forking flow as they happen."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._lock = threading.Lock()

    def emit(self, event: Any) -> None:
        try:
            data = pickle.dumps(("event", event))
        except Exception as exc:  # noqa: BLE001 - e.g. a Python node put something unpicklable in its update
            data = pickle.dumps(("event", RunWarning(time.monotonic(), f"an event could not be sent from the "
                                                     f"branch process: {type(exc).__name__}: {exc}",
                                                     getattr(event, "node", None), getattr(event, "branch", ""))))
        with self._lock:
            self._conn.send_bytes(data)


def _branch_process_main(conn: Any, plan: Plan, name: str, start: str, index: int, fork: Fork,
                         state: dict[str, Any], stop_at: frozenset[str], record_states: bool,
                         stop_file: str) -> None:
    """Entry point of a branch's worker process: events go through ``conn`` as they happen, then the outcome."""
    sink = _PipeSink(conn)
    outcome = _run_branch_here(sink, plan, name, start, index, fork, state, stop_at, record_states, stop_file)
    try:
        data = pickle.dumps(("done", outcome))
    except Exception as exc:  # noqa: BLE001 - a final state that does not pickle
        message = f"the branch result cannot be sent back: {type(exc).__name__}: {exc}"
        data = pickle.dumps(("done", BranchOutcome(index, name, False, error=message,
                                                   detail=f"branch '{name}': {message}", failed_branch=name,
                                                   timing_ms=outcome.timing_ms)))
    with sink._lock:
        conn.send_bytes(data)
    conn.close()


class _Worker:
    """The parent's view of one branch process: what runs in it (from its events) and its outcome."""

    def __init__(self, index: int, name: str, process: Any, conn: Any) -> None:
        self.index = index
        self.name = name
        self.process = process
        self.conn = conn
        self.began = time.perf_counter()
        self.running: dict[str, tuple[str, float]] = {}  # branch -> (Lua node, start time)
        self.current: dict[str, str] = {}  # branch -> node that runs now (any kind)
        self.open: dict[str, BranchStarted] = {}  # branches started in the process and not finished
        self.outcome: BranchOutcome | None = None
        self.eof = False


class _ProcessFork:
    """Runs a fork's branches in worker processes and watches them from the forking flow's thread: events are
    forwarded as they arrive, a Lua node that outlives ``settings.lua.timeout`` (plus a grace) or a Stop
    (plus a grace) gets its process killed, and the branch fails like any other."""

    def __init__(self, flow: _Flow, executor: executors_mod.BranchProcesses, fork: Fork, state: dict[str, Any],
                 stop_at: frozenset[str]) -> None:
        self.flow = flow
        self.executor = executor
        self.fork = fork
        self.state = state
        self.stop_at = stop_at
        self.plan = flow.plan
        self.sink = flow.sink
        self.control = flow.control
        self.timeout = flow.plan.limits.lua_timeout
        prefix = f"{flow.branch}/" if flow.branch else ""
        self.names = [prefix + start for start in fork.branches]

    def run(self) -> list[BranchOutcome]:
        self.flow.check_picklable(self.fork, self.state)
        stop_file = self.flow.ctx.stop_flag_file()
        wake_r, wake_w = os.pipe()
        wake_lock = threading.Lock()
        wake_open = [True]

        def wake() -> None:
            with wake_lock:
                if wake_open[0]:
                    os.write(wake_w, b"x")

        self.control.on_stop(wake)
        outcomes: list[BranchOutcome | None] = [None] * len(self.names)
        running: list[_Worker] = []
        pending = list(range(len(self.names)))
        workers = max(1, _workers_of(self.executor))
        stop_deadline: float | None = None
        try:
            while pending or running:
                stopped = self.control._stopped
                while pending and len(running) < workers and not stopped:
                    i = pending.pop(0)
                    process, conn = self.executor.start(
                        _branch_process_main, self.plan, self.names[i], self.fork.branches[i], i, self.fork,
                        self.state, self.stop_at, self.flow.ctx.record_states, stop_file)
                    running.append(_Worker(i, self.names[i], process, conn))
                if stopped:
                    for i in pending:
                        outcomes[i] = self._stopped_outcome(i, self.names[i], None, 0.0)
                    pending = []
                    if stop_deadline is None:
                        stop_deadline = time.monotonic() + KILL_GRACE_S
                if not running:
                    break
                wait_s = self._next_deadline(running, stop_deadline)
                waitables: list[Any] = [wake_r] if stop_deadline is None else []  # (a Stop leaves it readable)
                for worker in running:
                    waitables.append(worker.process.sentinel if worker.eof else worker.conn)
                mp_connection.wait(waitables, None if wait_s is None else max(0.0, wait_s - time.monotonic()))
                for worker in running:
                    self._read(worker)
                now = time.monotonic()
                for worker in list(running):
                    if worker.outcome is None and not worker.eof:
                        self._check_deadline(worker, now)
                    if worker.outcome is None and stop_deadline is not None and now >= stop_deadline:
                        self._kill(worker, STOPPED, None, stopped=True)
                    if worker.outcome is not None or worker.eof:
                        if worker.outcome is None:  # the process ended without a word (crashed, killed by someone)
                            worker.process.join()
                            code = worker.process.exitcode
                            self._kill(worker, f"branch worker failed: the process ended (exit code {code})",
                                       None)
                        if not worker.eof and worker.process.is_alive():
                            # sent its outcome: let it exit on its own (it only closes the pipe now)
                            worker.process.join(KILL_GRACE_S)
                        self.executor.end(worker.process, kill=True)
                        worker.conn.close()
                        outcomes[worker.index] = worker.outcome
                        running.remove(worker)
        finally:
            with wake_lock:
                wake_open[0] = False
                os.close(wake_r)
                os.close(wake_w)
            for worker in running:
                self.executor.end(worker.process, kill=True)
                worker.conn.close()
        return outcomes  # type: ignore[return-value]

    def _next_deadline(self, running: list[_Worker], stop_deadline: float | None) -> float | None:
        deadlines = [stop_deadline] if stop_deadline is not None else []
        if self.timeout > 0:
            limit = self.timeout + KILL_GRACE_S
            deadlines += [started + limit for worker in running for _, started in worker.running.values()]
        return min(deadlines) if deadlines else None

    def _read(self, worker: _Worker) -> None:
        """Forward everything the worker has sent so far."""
        conn = worker.conn
        while not worker.eof:
            try:
                if not conn.poll():
                    return
                kind, item = pickle.loads(conn.recv_bytes())
            except (EOFError, OSError, pickle.UnpicklingError):
                worker.eof = True
                return
            if kind == "done":
                if worker.outcome is None:
                    worker.outcome = item
                continue
            self._track(worker, item)
            self.sink.emit(item)

    def _track(self, worker: _Worker, event: Any) -> None:
        kind = type(event)
        if kind is NodeStarted:
            worker.current[event.branch] = event.node
            step = self.plan.steps.get(event.node)
            if step is not None and step.kind == "lua":
                worker.running[event.branch] = (event.node, event.t)
        elif kind is NodeFinished:
            worker.running.pop(event.branch, None)
            worker.current.pop(event.branch, None)
        elif kind is BranchStarted:
            worker.open[event.branch] = event
        elif kind is BranchFinished:
            worker.open.pop(event.branch, None)
            worker.running.pop(event.branch, None)
            worker.current.pop(event.branch, None)

    def _check_deadline(self, worker: _Worker, now: float) -> None:
        if self.timeout <= 0:
            return
        for branch, (node, started) in worker.running.items():
            if now >= started + self.timeout + KILL_GRACE_S:
                self._kill(worker, f"execution timeout ({self.timeout:g} s)", (branch, node))
                return

    def _kill(self, worker: _Worker, message: str, culprit: tuple[str, str] | None, *,
              stopped: bool = False) -> None:
        """End the worker's process and report its branch (and the branches and nodes open in it) as failed."""
        if worker.process.is_alive():
            worker.process.kill()
        worker.eof = True
        now = time.monotonic()
        failed_branch, node = culprit or (worker.name, worker.current.get(worker.name))
        for branch, current in sorted(worker.current.items(), key=lambda item: -len(item[0])):
            started = worker.running.get(branch, (current, now))[1]
            error = message if branch == failed_branch else f"ended with the branch process ({message})"
            self.sink.emit(NodeFinished(now, current, branch, (now - started) * 1000.0, False, None, None, error))
        timing = (time.perf_counter() - worker.began) * 1000.0
        if stopped:
            outcome = self._stopped_outcome(worker.index, worker.name, node, timing)
        else:
            where = f"branch '{failed_branch}' " + (f"node '{node}': " if node else ": ")
            outcome = BranchOutcome(worker.index, worker.name, False, error=message, detail=where + message,
                                    node=node, failed_branch=failed_branch, timing_ms=timing)
        for branch, began in sorted(worker.open.items(), key=lambda item: -len(item[0])):
            self.sink.emit(BranchFinished(now, branch, began.fork, began.fan_in, began.index, False,
                                          (now - began.t) * 1000.0 + began.vm_ready_us / 1000.0, None,
                                          outcome.detail, worker.current.get(branch)))
        worker.running.clear()
        worker.current.clear()
        worker.open.clear()
        worker.outcome = outcome

    @staticmethod
    def _stopped_outcome(index: int, name: str, node: str | None, timing: float) -> BranchOutcome:
        return BranchOutcome(index, name, False, error=STOPPED, detail=f"branch '{name}': {STOPPED}", node=node,
                             failed_branch=name, timing_ms=timing, stopped=True)


# -- the public run ---------------------------------------------------------------------------------------------
class WorkflowRun:
    """One run of a workflow. ``run()`` blocks (call it from a worker thread, never a GUI thread)."""

    def __init__(self, workflow: Workflow | Plan, inputs: dict[str, Any] | None = None, *,
                 executor: Executor | None = None, sink: EventSink | None = None,
                 control: RunControl | None = None, strategy: str | None = None,
                 record_states: bool = False) -> None:
        self.workflow = workflow if isinstance(workflow, Workflow) else None
        self._plan = workflow if isinstance(workflow, Plan) else None
        self.inputs = dict(inputs or {})
        self.executor = executor
        self.sink = sink or NullSink()
        self.control = control or RunControl()
        self.strategy = strategy
        self.record_states = record_states
        self.run_id = uuid.uuid4().hex[:12]
        self.state: dict[str, Any] | None = None

    @property
    def plan(self) -> Plan:
        if self._plan is None:
            try:
                self._plan = build_plan(self.workflow)  # type: ignore[arg-type]
            except PlanError as exc:
                raise RunError(str(exc), exc.node, located=False) from None
        return self._plan

    def run(self) -> dict[str, Any]:
        """Run to the end and return the final state; raises :class:`RunError` (``"stopped"`` after stop())."""
        t0 = time.monotonic()
        began = time.perf_counter()
        sink = self.sink
        try:
            plan = self.plan
        except RunError as exc:
            sink.emit(RunFailed(time.monotonic(), exc.detail, exc.node, "", 0.0, None))
            raise
        if plan.has_lua:
            warm_pool(1 + max((len(fork.branches) for fork in plan.forks.values()), default=0))
        state = copy_state({**plan.initial_state, **self.inputs})  # nodes never reach the workflow's values
        sink.emit(RunStarted(t0, self.run_id, plan.name, copy_state(self.inputs)))
        ctx = _RunContext(plan, sink, self.control, self.record_states, self.executor, self.strategy)
        flow = _Flow(ctx, "")
        try:
            final = flow.walk(plan.entry, state, frozenset())
        except RunError as exc:
            timing = (time.perf_counter() - began) * 1000.0
            sink.emit(RunFailed(time.monotonic(), exc.detail, exc.node, exc.branch, timing, exc.line))
            raise
        except Exception as exc:
            timing = (time.perf_counter() - began) * 1000.0
            message = f"internal error: {type(exc).__name__}: {exc}"
            sink.emit(RunFailed(time.monotonic(), message, flow.current or None, "", timing, None))
            raise RunError(message, flow.current or None, located=False) from exc
        finally:
            flow.end_vm()
            ctx.close()
        self.state = final
        sink.emit(RunFinished(time.monotonic(), final, (time.perf_counter() - began) * 1000.0))
        return final


def run_workflow(workflow: Workflow, inputs: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    """Convenience: ``WorkflowRun(workflow, inputs, **kwargs).run()``."""
    return WorkflowRun(workflow, inputs, **kwargs).run()
