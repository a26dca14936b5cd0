"""WorkflowRun: walks the plan, forks branches, joins at fan-in nodes, emits events, obeys pause/step/stop.

The main flow runs in the thread that calls :meth:`WorkflowRun.run` with one fresh Lua VM. Each parallel branch
runs through an ``Executor`` with a deep copy of the state at the fork and its own fresh Lua VM, created in the
worker. A branch that forks submits its sub-branches and, while waiting, runs the ones no worker has started yet
itself (each task has a claim flag), so waiting never holds a worker that a sub-branch needs.
"""

from __future__ import annotations

import copy
import operator
import pickle
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from tea_studio.engine import executors as executors_mod
from tea_studio.engine.actions import ActionContext, ActionError, ActionStopped, node_update, run_action
from tea_studio.engine.branching import STOPPED, BranchOutcome, BranchStrategy, ForkRequest
from tea_studio.engine.budget import BudgetExceeded, EngineCaps, FlowHeld, StateBudget, capped_limits, estimate_size
from tea_studio.engine.constructs import CONSTRUCT_KINDS, run_construct, run_item
from tea_studio.engine.errors import RunError, RunStopped
from tea_studio.engine.events import (
    BranchFinished,
    BranchStarted,
    EventSink,
    FanInReady,
    LogBudgetSink,
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
from tea_studio.engine.expressions import (
    ExpressionError,
    ExpressionLimitError,
    edge_condition_holds,
    goto_condition_holds,
    pop_names,
    push_names,
    template_names,
    workflow_names,
)
from tea_studio.engine.lua_vm import LuaNodeError, LuaVM, discard_vm, take_vm, wake_pool, warm_pool
from tea_studio.engine.plan import UNSUPPORTED, Fork, Plan, PlanError, Route, build_plan
from tea_studio.engine.prolog_node import PrologNodeError, run_prolog_node
from tea_studio.engine.python_node import PythonNodeError, run_python_node
from tea_studio.engine.start import StartAt, walk_from
from tea_studio.engine.streams import STREAMS_KEY, adopt, branch_state, gather, hand_over, run_stream_node
from tea_studio.workflow.model import END, STRATEGIES, Workflow
from tea_studio.workflow.routes import GOTO, NEXT, RULE

__all__ = ["BranchOutcome", "RunControl", "RunError", "RunStopped", "WorkflowRun", "run_workflow", "STOPPED"]


class RunControl:
    """Thread-safe control of a run: stop, pause/resume/step, breakpoints, auto-continue."""

    def __init__(self, *, auto_continue: bool = False, breakpoints: set[tuple[str, str]] | None = None) -> None:
        self._cond = threading.Condition()
        self._stopped = False
        self._pause_requested = False
        self._generation = 0
        self._on_stop: list[Any] = []
        self.auto_continue = auto_continue
        self.breakpoints: frozenset[tuple[str, str]] = frozenset(breakpoints or ())

    def set_breakpoint(self, node: str, when: str, enabled: bool) -> None:
        """Pause ``when`` ("before"/"after") ``node`` from now on, or no longer. The set is replaced, never changed
        in place, so flows reading it on other threads see the old set or the new one."""
        with self._cond:
            point = {(node, when)}
            self.breakpoints = self.breakpoints | point if enabled else self.breakpoints - point

    @property
    def stopped(self) -> bool:
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
_KIND = operator.attrgetter("kind")
_OWN_UPDATES = frozenset({"lua", "noop", "prolog"})  # kinds whose updates no node can change later


class _RunContext:
    def __init__(self, plan: Plan, sink: EventSink, control: RunControl, record_states: bool,
                 executor: Executor | None, strategy: str | None,
                 strategies: executors_mod.Strategies | None = None) -> None:
        self.plan = plan
        self.sink = sink
        self.control = control
        self.record_states = record_states
        self.template_names = workflow_names(plan.settings, plan.sections)  # what every walk's templates also see
        self.strategy = strategy or plan.limits.strategy
        self._given = executors_mod.given_strategy(executor) if executor is not None else None
        self._session = strategies
        self._strategies: dict[str, BranchStrategy] = {}
        self._owned: list[BranchStrategy] = []
        self._lock = threading.Lock()
        # In a branch run by a worker elsewhere: how that worker says Stop, and where it is.
        self.remote_stop: Callable[[], bool] | None = None
        self.where = ""
        self.entry_branch = ""
        # Python nodes may change state values in place: events then keep a copy of each update they report.
        self.copy_updates = not set(map(_KIND, plan.steps.values())) <= _OWN_UPDATES
        self.budget = StateBudget()  # the states and results this run holds outside the Lua VMs
        self.walk_setup: tuple[Any, ...] | None = None

    def make_walk_setup(self) -> tuple[Any, ...]:
        """What every walk of this run reads before its first node, gathered once (a run has a walk per branch)."""
        plan, sink = self.plan, self.sink
        if type(sink) is LogBudgetSink:  # it only counts log lines: node events go straight past it
            sink = sink.sink
        self.walk_setup = (plan.steps, plan.forks, plan.routes, plan.pins, plan.limits.lua_timeout,
                           plan.limits.max_iterations, plan.breakpoints, sink, self.record_states, self.copy_updates,
                           self.remote_stop)
        return self.walk_setup

    @property
    def session(self) -> executors_mod.Strategies:
        if self._session is None:
            self._session = executors_mod.session_strategies()
        return self._session

    def strategy_for(self, fork: Fork) -> BranchStrategy:
        name = fork.strategy or self.strategy
        if name not in STRATEGIES:
            raise RunError(f"parallel strategy '{name}' is not supported by TEA Studio (use "
                           f"{', '.join(STRATEGIES)}); export and run with tea", fork.node)
        if self._given is not None and name == executors_mod.ThreadStrategy.name:
            return self._given  # a caller's executor stands in for threads, never for what a file asks
        with self._lock:
            strategy = self._strategies.get(name)
            if strategy is None:
                try:
                    strategy, owned = self.session.strategy(name, self.plan.limits)
                except executors_mod.ExecutorUnavailable as exc:
                    raise RunError(str(exc), fork.node) from None
                self._strategies[name] = strategy
                if owned:
                    self._owned.append(strategy)
            return strategy

    def stopped(self) -> bool:
        """Whether the run was stopped (also when Stop arrives from outside this worker)."""
        return self.control._stopped or (self.remote_stop is not None and self.remote_stop())

    def prepare(self) -> None:
        """Warm what the run's forks will need (process workers) while the main flow runs."""
        names = {fork.strategy or self.strategy for fork in self.plan.forks.values()}
        if names - {executors_mod.ThreadStrategy.name}:
            try:
                self.session.prepare(names, self.plan.limits)
            except executors_mod.ExecutorUnavailable:
                pass  # reported by the fork that needs it

    def close(self) -> None:
        for strategy in self._owned:
            strategy.close()
        self._owned.clear()
        self._strategies.clear()


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
        self.held = FlowHeld(ctx.budget)
        self.deadline = 0.0  # the running node's: its route conditions count against its timeout
        self.siblings: frozenset[str] = frozenset()  # the other branch starts of this branch's fork
        self.join_at: str = END  # where this branch ends when its implicit next node is a sibling branch
        self.channels: dict[str, str] = {}  # stream channel -> the text its producer wrote (engine/streams.py)

    def subflow(self, plan: Plan) -> _Flow:
        """A flow of its own (own Lua VM, own thread strategy) running ``plan`` on this flow's branch and under
        its stop: a dynamic_parallel item's subgraph. The caller ends it with :meth:`end_vm` and ``ctx.close()``."""
        ctx = self.ctx
        sub_ctx = _RunContext(plan, ctx.sink, ctx.control, ctx.record_states, None, "thread")
        sub_ctx.remote_stop, sub_ctx.where, sub_ctx.entry_branch = ctx.remote_stop, ctx.where, ctx.entry_branch
        return _Flow(sub_ctx, self.branch)

    # -- Lua VM ---------------------------------------------------------------------------------------------
    def ensure_vm(self) -> LuaVM:
        if self.vm is None:
            self.vm = self.new_vm()
        return self.vm

    def end_vm(self, keep_held: bool = False) -> float | None:
        """The flow has ended: its state no longer counts against the run's budget (unless ``keep_held``: a
        branch whose final state its fork takes over as a result), and its VM is discarded (never used again);
        returns the VM's memory in KiB."""
        if not keep_held:
            self.held.release()
        vm, self.vm = self.vm, None
        if vm is None:
            return None
        memory = vm.memory_kb()
        discard_vm(vm)
        return memory

    def new_vm(self) -> LuaVM:
        limits = self.plan.limits
        return take_vm().configure(limits.lua_timeout, limits.lua_max_memory_mb, self.stop_check(), self._print)

    def stop_check(self) -> Callable[[], bool]:
        """Whether the run was stopped (also when Stop arrives from outside this branch's worker)."""
        return self.ctx.stopped

    def _print(self, text: str) -> None:
        self.sink.emit(LogLine(t=time.monotonic(), node=self.current, branch=self.branch, text=text))

    # -- walking --------------------------------------------------------------------------------------------
    def walk(self, name: str, state: dict[str, Any], stop_at: frozenset[str], once: bool = False) -> dict[str, Any]:
        """Run from node ``name`` until __end__ or a node in ``stop_at`` (not run); returns the state. ``once``:
        run node ``name`` alone (no fork, no route taken). Every template rendered meanwhile also sees the
        workflow's ``settings`` and ``data``, as in TEA."""
        token = push_names(self.ctx.template_names)
        try:
            return self._walk(name, state, stop_at, once)
        finally:
            pop_names(token)

    def _walk(self, name: str, state: dict[str, Any], stop_at: frozenset[str], once: bool) -> dict[str, Any]:
        ctx = self.ctx
        setup = ctx.walk_setup or ctx.make_walk_setup()
        steps, forks, routes, pins, timeout, limit, static_breaks, sink, record, copy_updates, remote_stop = setup
        control = self.control
        branch = self.branch
        counts = self.counts
        siblings, join_at = self.siblings, self.join_at
        monotonic, perf_counter = time.monotonic, time.perf_counter
        while True:
            if name == END or name in stop_at:
                return state
            # RunControl's fields read directly (its properties cost a call each, twice per node)
            if control._stopped or (remote_stop is not None and remote_stop()):
                raise RunStopped(name, branch)
            if self.iterations >= limit:
                raise RunError(f"max iterations ({limit}) exceeded at node {name}", name, branch, located=False)
            step = steps.get(name)
            if step is None:
                raise RunError(f"route to undefined node '{name}'", self.current or None, branch)
            self.iterations += 1
            count = counts[name] = counts.get(name, 0) + 1
            if static_breaks or control.breakpoints or control._pause_requested:
                self._maybe_pause(name, "before", state)
            self.current = name
            pin = pins.get(name, _NO_PIN) if pins else _NO_PIN
            pinned = pin is not _NO_PIN
            now = monotonic()
            self.deadline = now + timeout
            sink.emit(NodeStarted(t=now, node=name, branch=branch, iteration=count, pinned=pinned))
            started = perf_counter()
            try:
                update = pinned_update(pin) if pinned else self._execute(step, state)
                if update:
                    self.hold(update, name)
            except RunError as exc:
                elapsed = (perf_counter() - started) * 1000.0
                sink.emit(NodeFinished(t=monotonic(), node=name, branch=branch, timing_ms=elapsed, ok=False,
                                       error=exc.message, line=exc.line))
                raise
            elapsed = (perf_counter() - started) * 1000.0
            if update:
                state = {**state, **update}
            sink.emit(NodeFinished(t=monotonic(), node=name, branch=branch, timing_ms=elapsed, ok=True,
                                   update=_snapshot(update) if copy_updates and update else update,
                                   state=copy_state(state) if record else None, pinned=pinned))
            if static_breaks or control.breakpoints or control._pause_requested:
                self._maybe_pause(name, "after", state)
            if once:
                return state
            fork = forks.get(name)
            if fork is not None:
                state = self.fork(fork, state, stop_at)
                if fork.fan_in is None:
                    return state
                name = fork.fan_in
                continue
            candidates = routes[name]
            first = candidates[0] if candidates else None
            if first is not None and first.condition is None and first.when is None:  # taken whatever the state
                target = first.target
                # `to: [a, b, c]` forks: a branch never runs on into a sibling branch by list order
                name = join_at if first.kind is NEXT and target in siblings else target
            else:
                name = self.next_node(name, candidates, state, update)

    def hold(self, update: dict[str, Any], node: str | None, sized_as: FlowHeld | None = None) -> None:
        """Count what ``update`` adds to the run's states against its memory budget (``sized_as``: the account
        of a flow whose state ``update`` copies, so nothing is sized again)."""
        try:
            if sized_as is None:
                self.held.update(update)
            else:
                self.held.start_from(sized_as)
        except BudgetExceeded as exc:
            raise RunError(str(exc), node, self.branch) from None

    def _maybe_pause(self, name: str, when: str, state: dict[str, Any]) -> None:
        control = self.control
        point = (name, when)
        at_breakpoint = point in self.plan.breakpoints or point in control.breakpoints
        requested = control.pause_requested and when == "before"
        if not (at_breakpoint or requested):
            return
        self.sink.emit(Paused(t=time.monotonic(), node=name, branch=self.branch, when=when, state=copy_state(state)))
        if requested or not control.auto_continue:
            control.wait_to_continue()
        if control.stopped:
            raise RunStopped(name, self.branch)
        self.sink.emit(Resumed(t=time.monotonic(), node=name, branch=self.branch))

    def _execute(self, step: Any, state: dict[str, Any]) -> dict[str, Any] | None:
        kind = step.kind
        if kind == "lua":
            vm = self.vm or self.ensure_vm()
            vm.result_budget = self.ctx.budget.remaining
            try:
                return vm.run_node(step.name, step.code, state)
            except LuaNodeError as exc:
                if exc.kind == "stopped":
                    raise RunStopped(step.name, self.branch) from None
                raise RunError(exc.message, step.name, self.branch, exc.line) from None
        if kind == "noop":
            return None
        if kind in CONSTRUCT_KINDS:
            return run_construct(self, step, state)
        if kind == "python":
            try:
                if step.streams is not None:
                    return run_stream_node(self, step, state)
                return run_python_node(step.name, step.code, dict(state), self.plan.variables, self._print)
            except PythonNodeError as exc:
                raise RunError(exc.message, step.name, self.branch, exc.line) from None
        if kind == "action":
            return self._run_action(step, state)
        if kind == "prolog":
            return self._run_prolog(step, state)
        if kind == UNSUPPORTED:
            raise RunError(step.code, step.name, self.branch)
        raise RunError(f"{kind} nodes are not supported yet", step.name, self.branch)

    def action_context(self, node: str) -> ActionContext:
        """What an action run by ``node`` in this flow sees (for ``run_action``): variables, settings, the
        workflow's folder, this flow's events and Stop, and the other nodes (retry.loop's correction node)."""
        limits = self.plan.limits
        return ActionContext(
            node, self.branch, self.plan.variables, self.plan.settings, self.plan.workflow_dir, self.sink.emit,
            self.stop_check(),
            lambda other, inner: self._execute(self.plan.steps[other], inner) if other in self.plan.steps else
            _missing_node(other), limits.lua_timeout, limits.lua_max_memory_mb, self.plan.sections)

    def _run_action(self, step: Any, state: dict[str, Any]) -> dict[str, Any]:
        """A `uses:`/`action:` node: run the action (tea_studio.engine.actions) and store its result."""
        context = self.action_context(step.name)
        try:
            return node_update(run_action(step.uses or "", step.params, state, context), step.output, state, context)
        except ActionStopped:
            raise RunStopped(step.name, self.branch) from None
        except ActionError as exc:
            raise RunError(exc.message, step.name, self.branch) from None

    def _run_prolog(self, step: Any, state: dict[str, Any]) -> dict[str, Any] | None:
        """A Prolog node in its own swipl process (engine/prolog_node.py). A failing goal is no error, as in TEA,
        but a warning: the node's update then holds only what return/2 set before."""
        limits = self.plan.limits
        try:
            result = run_prolog_node(step.name, step.code, state, timeout=limits.prolog_timeout,
                                     memory_mb=limits.prolog_max_memory_mb, stopped=self.stop_check(),
                                     on_print=self._print)
        except PrologNodeError as exc:
            if exc.kind == "stopped":
                raise RunStopped(step.name, self.branch) from None
            raise RunError(exc.message, step.name, self.branch, exc.line) from None
        if result.failed:
            self.sink.emit(RunWarning(t=time.monotonic(), message=f"Prolog node '{step.name}': the goal failed; as "
                                      "in TEA, the node's update holds only what return/2 set before",
                                      node=step.name, branch=self.branch))
        return result.update

    def next_node(self, name: str, candidates: tuple[Route, ...], state: dict[str, Any],
                  update: dict[str, Any] | None = None) -> str:
        """The node after ``name`` by its goto or edge ``candidates`` (the walk itself follows a NEXT route); a
        goto ``if:`` also sees the node's own update as ``result`` (TEA's yaml_edges.py)."""
        for route in candidates:
            kind = route.kind

            def warn(exc: ExpressionError, target: str = route.target) -> None:
                self.sink.emit(RunWarning(
                    t=time.monotonic(),
                    message=f"condition '{exc.expression}' on the route from '{name}' to '{target}' failed "
                    f"({exc}); counted as false", node=name, branch=self.branch))

            try:
                if kind is GOTO or kind is RULE:
                    try:
                        if route.condition is None:
                            holds = True
                        else:
                            with template_names({"result": update or {}}):
                                holds = goto_condition_holds(route.condition, state, self.plan.variables,
                                                             deadline=self.deadline)
                    except ExpressionLimitError:
                        raise
                    except ExpressionError as exc:
                        warn(exc)
                        holds = False
                else:
                    holds = edge_condition_holds(route.condition, route.when, state, self.plan.variables, warn,
                                                 deadline=self.deadline)
            except ExpressionLimitError as exc:
                raise RunError(f"condition '{exc.expression}' on the route to '{route.target}' broke a sandbox "
                               f"rule: {exc.rule}", name, self.branch) from None
            if holds:
                return route.target
        raise RunError(f"no route from node {name}", name, self.branch, located=False)

    # -- forks ------------------------------------------------------------------------------------------------
    def fork(self, fork: Fork, state: dict[str, Any], stop_at: frozenset[str]) -> dict[str, Any]:
        """Run the fork's branches and return the state the fan-in node starts from."""
        inner_stop = stop_at | {fork.fan_in} if fork.fan_in else stop_at
        return self._join(fork, state, self.fan_out(fork, state, inner_stop))

    def fan_out(self, fork: Fork, state: dict[str, Any], inner_stop: frozenset[str] = frozenset()) \
            -> list[BranchOutcome]:
        """Run the fork's branches on its strategy; their outcomes in declaration order."""
        strategy = self.ctx.strategy_for(fork)
        state = branch_state(self, state)
        prefix = f"{self.branch}/" if self.branch else ""
        names = [prefix + start for start in fork.branches]
        ctx = self.ctx

        # The branches start from this flow's state, sized already (unless streams were added to it).
        sized = self.held if len(self.held.sizes) == len(state) else None

        def run_here(i: int) -> BranchOutcome:
            return _run_branch(ctx, names[i], fork.branches[i], i, fork, copy_state(state), inner_stop, sized)

        request = ForkRequest(self.plan, fork, names, state, inner_stop, self.sink, self.control,
                              ctx.record_states, bool(self.branch), run_here,
                              lambda: self.check_picklable(fork, state), run_branch_remote)
        outcomes = strategy.run_fork(request)
        if self.control.stopped:
            raise RunStopped(fork.node, self.branch)
        if self.plan.has_streams or self.channels:
            gather(self, outcomes)
        return outcomes

    def check_picklable(self, fork: Fork, state: dict[str, Any]) -> None:
        bad = unpicklable_path(state)
        if bad:
            raise RunError(f"the state cannot be sent to another process: {bad} does not pickle", fork.node,
                           self.branch)

    def _join(self, fork: Fork, state: dict[str, Any], outcomes: list[BranchOutcome]) -> dict[str, Any]:
        failures = [o for o in outcomes if not o.ok]
        results = []
        size, counted, limit = 56, 0, self.ctx.budget.limit  # estimate_size's list
        for outcome in outcomes:
            if outcome.ok:
                result = outcome.state
                results.append(result)
                if outcome.held is None:  # run elsewhere: not counted here yet
                    size += 8 + estimate_size(result, limit)
                else:
                    size += 72 + 100 * len(result) + outcome.held  # estimate_size's dict around the held values
                    counted += outcome.held
        joined = dict(state)
        joined["parallel_results"] = results
        try:
            self.held.take_over("parallel_results", size, counted)
        except BudgetExceeded as exc:
            raise RunError(str(exc), fork.node, self.branch) from None
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
            self.sink.emit(FanInReady(t=time.monotonic(), node=fork.fan_in, branch=self.branch, results=len(results),
                                       errors=len(failures)))
        return joined


def _missing_node(name: str) -> None:
    raise ActionError(f"node '{name}' does not exist")


_NO_PIN = object()


def pinned_update(pin: Any) -> dict[str, Any] | None:
    """The update a pinned node makes: its pinned output (a mapping merges into the state, as a node's return)."""
    if pin is None:
        return None
    return copy_state(pin) if isinstance(pin, dict) else {"result": copy_state(pin)}


class _OtherStarts:
    """The other branch starts of a branch's fork, read from the fork's one set of starts."""

    __slots__ = ("starts", "own")

    def __init__(self, starts: frozenset[str], own: str) -> None:
        self.starts, self.own = starts, own

    def __contains__(self, name: object) -> bool:
        return name != self.own and name in self.starts


_THIS_THREAD = threading.local()


def _thread_where() -> str:
    """Where a branch runs on this thread, for its BranchStarted (worked out once per thread)."""
    where = getattr(_THIS_THREAD, "where", None)
    if where is None:
        where = _THIS_THREAD.where = f"thread {threading.current_thread().name}"
    return where


def _run_branch(ctx: _RunContext, name: str, start: str, index: int, fork: Fork, state: dict[str, Any],
                stop_at: frozenset[str], sized: FlowHeld | None = None) -> BranchOutcome:
    """Run one branch in the current worker with a fresh VM; never raises. ``sized``: the account of the forking
    flow when ``state`` is a copy of its state (a fork run in this process). A static fork's branch then hands its
    final state to the fork's account as it is (``BranchOutcome.held``); a dynamic_parallel item's result is
    sized by the node that collects it."""
    began = time.perf_counter()
    sink = ctx.sink
    if type(sink) is LogBudgetSink:  # it only counts log lines: branch events go straight past it
        sink = sink.sink
    flow = _Flow(ctx, name)
    vm_ready_us = 0.0
    if ctx.plan.has_lua:
        flow.vm = flow.new_vm()
        vm_ready_us = (time.perf_counter() - began) * 1e6
    where = _thread_where()
    if ctx.where:
        where = ctx.where if ctx.remote_stop is not None and ctx.entry_branch == name else f"{ctx.where}, {where}"
    sink.emit(BranchStarted(t=time.monotonic(), branch=name, fork=fork.node, fan_in=fork.fan_in, index=index,
                            vm_ready_us=vm_ready_us, where=where))
    try:
        if STREAMS_KEY in state:
            adopt(flow, state)
        flow.hold(state, None, sized)
        if fork.items is not None:
            final = run_item(flow, fork, index, state)
        else:
            flow.siblings = _OtherStarts(fork.starts, start)
            flow.join_at = fork.fan_in or END
            final = flow.walk(start, state, stop_at)
    except RunError as exc:
        timing = (time.perf_counter() - began) * 1000.0
        memory = flow.end_vm()
        sink.emit(BranchFinished(t=time.monotonic(), branch=name, fork=fork.node, fan_in=fork.fan_in, index=index,
                                 ok=False, timing_ms=timing, error=exc.detail, node=exc.node, vm_memory_kb=memory))
        stopped = isinstance(exc, RunStopped)
        detail = exc.detail if exc.branch and not stopped else f"branch '{name}': {exc.message}"
        return BranchOutcome(index, name, False, error=exc.message, detail=detail, node=exc.node,
                             failed_branch=exc.branch or name, line=exc.line, timing_ms=timing, stopped=stopped)
    except Exception as exc:  # noqa: BLE001 - an engine bug must not hang the join
        timing = (time.perf_counter() - began) * 1000.0
        message = f"internal error: {type(exc).__name__}: {exc}"
        sink.emit(BranchFinished(t=time.monotonic(), branch=name, fork=fork.node, fan_in=fork.fan_in, index=index,
                                 ok=False, timing_ms=timing, error=message, node=flow.current or None,
                                 vm_memory_kb=flow.end_vm()))
        return BranchOutcome(index, name, False, error=message, detail=f"branch '{name}': {message}",
                             node=flow.current or None, failed_branch=name, timing_ms=timing)
    timing = (time.perf_counter() - began) * 1000.0
    handed = sized is not None and fork.items is None
    memory = flow.end_vm(keep_held=handed)
    sink.emit(BranchFinished(t=time.monotonic(), branch=name, fork=fork.node, fan_in=fork.fan_in, index=index,
                             ok=True, timing_ms=timing, state=copy_state(final) if ctx.record_states else None,
                             vm_memory_kb=memory))
    return BranchOutcome(index, name, True, state=hand_over(flow, final) if flow.channels else final,
                         timing_ms=timing, held=flow.held.total if handed else None)


def run_branch_remote(sink: EventSink, stop: Callable[[], bool] | None, where: str, plan: Plan, name: str,
                      start: str, index: int, fork: Fork, state: dict[str, Any], stop_at: frozenset[str],
                      record_states: bool) -> BranchOutcome:
    """Run a branch inside a worker of another process or machine: events go to ``sink``, Stop arrives through
    ``stop``, breakpoints continue by themselves (there is no way back to the studio's control), and nested
    forks run on threads of that worker. Never raises."""
    ctx = _RunContext(plan, LogBudgetSink(sink), RunControl(auto_continue=True), record_states, None, "thread")
    ctx.remote_stop = stop or (lambda: False)
    ctx.where = where
    ctx.entry_branch = name
    try:
        return _run_branch(ctx, name, start, index, fork, state, stop_at)
    finally:
        ctx.close()


# -- the public run ---------------------------------------------------------------------------------------------
class WorkflowRun:
    """One run of a workflow. ``run()`` blocks (call it from a worker thread, never a GUI thread)."""

    def __init__(self, workflow: Workflow | Plan, inputs: dict[str, Any] | None = None, *,
                 executor: Executor | None = None, sink: EventSink | None = None,
                 control: RunControl | None = None, strategy: str | None = None,
                 record_states: bool = False, strategies: executors_mod.Strategies | None = None,
                 pins: dict[str, Any] | None = None, caps: EngineCaps | None = None,
                 start: StartAt | None = None) -> None:
        self.workflow = workflow if isinstance(workflow, Workflow) else None
        self._plan = workflow if isinstance(workflow, Plan) else None
        self.inputs = dict(inputs or {})
        self.executor = executor
        self.sink = sink or NullSink()
        self.control = control or RunControl()
        self.strategy = strategy
        self.record_states = record_states
        self.strategies = strategies  # the session's process workers and Dask client (default: this process's)
        self.pins = dict(pins or {})  # node -> pinned output, used instead of running the node
        self.caps = caps  # bounds on what the file's limits may ask for, and the run's memory budget
        self.start = start  # begin at a node with a given state (engine/start.py) instead of the entry
        self.run_id = uuid.uuid4().hex[:12]
        self.state: dict[str, Any] | None = None

    @property
    def plan(self) -> Plan:
        if self._plan is None:
            try:
                self._plan = build_plan(self.workflow)  # type: ignore[arg-type]
            except PlanError as exc:
                raise RunError(str(exc), exc.node, located=False) from None
            if self.pins:
                self._plan.pins = {name: pin for name, pin in self.pins.items() if name in self._plan.steps}
        return self._plan

    def run(self) -> dict[str, Any]:
        """Run to the end and return the final state; raises :class:`RunError` (``"stopped"`` after stop())."""
        t0 = time.monotonic()
        began = time.perf_counter()
        sink = self.sink
        try:
            plan = self.plan
        except RunError as exc:
            sink.emit(RunFailed(t=time.monotonic(), error=exc.detail, node=exc.node))
            raise
        limits = capped_limits(plan.limits, self.caps)
        if limits is not plan.limits:
            plan = self._plan = copy.copy(plan)
            plan.limits = limits
        if plan.has_lua:
            warm_pool(1 + max((len(fork.branches) for fork in plan.forks.values()), default=0))
        start = self.start
        if start is None:
            state = copy_state({**plan.initial_state, **self.inputs})  # nodes never reach the workflow's values
            sink.emit(RunStarted(t=t0, run_id=self.run_id, workflow=plan.name, inputs=copy_state(self.inputs)))
        else:
            state = copy_state(start.state)
            sink.emit(RunStarted(t=t0, run_id=self.run_id, workflow=plan.name, inputs=copy_state(start.state),
                                 parent_run=start.parent_run, start_node=start.node, start_mode=start.mode))
        ctx = _RunContext(plan, LogBudgetSink(sink), self.control, self.record_states, self.executor, self.strategy,
                          self.strategies)
        if self.caps is not None:
            ctx.budget = StateBudget(self.caps.state_budget_mb)
        if plan.forks:
            ctx.prepare()
        flow = _Flow(ctx, "")
        try:
            flow.hold(state, None)
            final = flow.walk(plan.entry, state, frozenset()) if start is None else walk_from(flow, start, state)
        except RunError as exc:
            timing = (time.perf_counter() - began) * 1000.0
            sink.emit(RunFailed(t=time.monotonic(), error=exc.detail, node=exc.node, branch=exc.branch, timing_ms=timing,
                                line=exc.line))
            raise
        except Exception as exc:
            timing = (time.perf_counter() - began) * 1000.0
            message = f"internal error: {type(exc).__name__}: {exc}"
            sink.emit(RunFailed(t=time.monotonic(), error=message, node=flow.current or None, timing_ms=timing))
            raise RunError(message, flow.current or None, located=False) from exc
        finally:
            flow.end_vm()
            ctx.close()
            wake_pool()
        self.state = final
        sink.emit(RunFinished(t=time.monotonic(), state=final, timing_ms=(time.perf_counter() - began) * 1000.0))
        return final


def run_workflow(workflow: Workflow, inputs: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    """Convenience: ``WorkflowRun(workflow, inputs, **kwargs).run()``."""
    return WorkflowRun(workflow, inputs, **kwargs).run()
