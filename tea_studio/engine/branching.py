"""The seam between the runner and the branch strategies (thread, process, dask).

The runner hands a strategy one :class:`ForkRequest` per fork and gets one :class:`BranchOutcome` per branch
back; it never asks which strategy it has. Strategies that run branches elsewhere call ``request.entry``
(a picklable function of the runner) in the worker, with a sink that carries events back as they happen and a
``stop`` callable, and use :class:`BranchWatch` to report a branch whose worker had to be killed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from tea_studio.engine.events import BranchFinished, BranchStarted, EventSink, NodeFinished, NodeStarted
from tea_studio.engine.plan import Fork, Plan
from tea_studio.workflow.constructs import FAIL_FAST_CANCELLED

STOPPED = "stopped"
KILL_GRACE_S = 0.5  # after a Lua node's timeout (the hook normally ends it first) or a Stop, before the kill


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
    cancelled: bool = False  # a dynamic_parallel item never started because another failed (fail_fast)
    events: list[Any] = field(default_factory=list)
    held: int | None = None  # bytes of ``state`` the run's budget counts already (a branch run in this process)


def failed_outcome(index: int, name: str, message: str, *, node: str | None = None, failed_branch: str = "",
                   timing_ms: float = 0.0) -> BranchOutcome:
    """A branch that failed outside its own code (its worker died, its result could not travel back…)."""
    failed_branch = failed_branch or name
    where = f"branch '{failed_branch}' node '{node}': " if node else f"branch '{failed_branch}': "
    return BranchOutcome(index, name, False, error=message, detail=where + message, node=node,
                         failed_branch=failed_branch, timing_ms=timing_ms)


def stopped_outcome(index: int, name: str, node: str | None = None, timing_ms: float = 0.0) -> BranchOutcome:
    return BranchOutcome(index, name, False, error=STOPPED, detail=f"branch '{name}': {STOPPED}", node=node,
                         failed_branch=name, timing_ms=timing_ms, stopped=True)


def cancelled_outcome(index: int, name: str) -> BranchOutcome:
    """A dynamic_parallel item not started because another item failed and the node has ``fail_fast``."""
    return BranchOutcome(index, name, False, error=FAIL_FAST_CANCELLED,
                         detail=f"branch '{name}': {FAIL_FAST_CANCELLED}", failed_branch=name, cancelled=True)


def concurrency(request: ForkRequest, workers: int) -> int:
    """How many of the fork's branches may run at once: the workers, capped by a dynamic_parallel's
    ``max_concurrency``."""
    return max(1, min(workers, request.fork.max_concurrency or workers))


def cancelled(request: ForkRequest, outcomes: list[BranchOutcome | None]) -> bool:
    """Whether branches not started yet are cancelled: ``fail_fast`` and a branch has failed."""
    return request.fork.fail_fast and any(o is not None and not o.ok for o in outcomes)


class StopSignal(Protocol):
    """The part of ``RunControl`` a strategy needs."""

    @property
    def stopped(self) -> bool: ...

    def on_stop(self, callback: Callable[[], None]) -> None: ...


@dataclass
class ForkRequest:
    """One fork for a strategy to run: branch ``i`` starts at ``fork.branches[i]`` and is named ``names[i]``."""

    plan: Plan
    fork: Fork
    names: list[str]
    state: dict[str, Any]
    stop_at: frozenset[str]
    sink: EventSink
    control: StopSignal
    record_states: bool
    nested: bool  # forked by a branch (which then helps to run its sub-branches itself)
    run_here: Callable[[int], BranchOutcome]  # runs branch i on the calling thread, sharing this process
    check_picklable: Callable[[], None]  # raises the run's error naming the first key path that does not pickle
    entry: Callable[..., BranchOutcome]  # entry(sink, stop, *remote_args(i)) runs branch i in a worker

    def remote_args(self, i: int) -> tuple[Any, ...]:
        return (self.plan, self.names[i], self.fork.branches[i], i, self.fork, self.state, self.stop_at,
                self.record_states)

    @property
    def lua_timeout(self) -> float:
        return self.plan.limits.lua_timeout


class BranchStrategy(Protocol):
    """Runs the branches of forks. One instance serves many forks and runs (and may keep workers warm)."""

    name: str

    def run_fork(self, request: ForkRequest) -> list[BranchOutcome]:
        """Run every branch of the fork; never raises for a branch's failure (it is an outcome)."""
        ...

    def warm(self, count: int) -> None:
        """Get ready for about ``count`` branches soon (start workers, connect) without waiting."""
        ...

    def close(self) -> None: ...


class BranchWatch:
    """What runs inside one branch run elsewhere, known from its events: when its worker must be killed (a Lua
    node past its timeout, a Stop) the branch and everything open in it are reported as failed."""

    def __init__(self, index: int, name: str, plan: Plan) -> None:
        self.index = index
        self.name = name
        self.plan = plan
        self.began = time.perf_counter()
        self.running: dict[str, tuple[str, float]] = {}  # branch -> (Lua node, start time)
        self.current: dict[str, str] = {}  # branch -> node that runs now (any kind)
        self.open: dict[str, BranchStarted] = {}  # branches started and not finished
        self.where = ""

    def track(self, event: Any) -> None:
        kind = type(event)
        if kind is NodeStarted:
            self.current[event.branch] = event.node
            step = self.plan.steps.get(event.node)
            if step is not None and step.kind == "lua":
                self.running[event.branch] = (event.node, event.t)
        elif kind is NodeFinished:
            self.running.pop(event.branch, None)
            self.current.pop(event.branch, None)
        elif kind is BranchStarted:
            self.open[event.branch] = event
            if event.branch == self.name:
                self.where = getattr(event, "where", "")
        elif kind is BranchFinished:
            self.open.pop(event.branch, None)
            self.running.pop(event.branch, None)
            self.current.pop(event.branch, None)

    def deadline(self, timeout: float) -> float | None:
        """When the longest-running Lua node in the branch is overdue (monotonic time), or None."""
        if timeout <= 0 or not self.running:
            return None
        return min(started for _, started in self.running.values()) + timeout + KILL_GRACE_S

    def overdue(self, now: float, timeout: float) -> tuple[str, str] | None:
        """(branch, node) of a Lua node past its timeout plus the grace, or None."""
        if timeout <= 0:
            return None
        for branch, (node, started) in self.running.items():
            if now >= started + timeout + KILL_GRACE_S:
                return branch, node
        return None

    def fail(self, sink: EventSink, message: str, culprit: tuple[str, str] | None = None, *,
             stopped: bool = False) -> BranchOutcome:
        """Report the branch (and the nodes and branches open in it) as ended by ``message``."""
        now = time.monotonic()
        failed_branch, node = culprit or (self.name, self.current.get(self.name))
        for branch, current in sorted(self.current.items(), key=lambda item: -len(item[0])):
            started = self.running.get(branch, (current, now))[1]
            error = message if branch == failed_branch else f"ended with the branch worker ({message})"
            sink.emit(NodeFinished(t=now, node=current, branch=branch, timing_ms=(now - started) * 1000.0, ok=False,
                                   error=error))
        timing = (time.perf_counter() - self.began) * 1000.0
        if stopped:
            outcome = stopped_outcome(self.index, self.name, node, timing)
        else:
            outcome = failed_outcome(self.index, self.name, message, node=node, failed_branch=failed_branch,
                                     timing_ms=timing)
        for branch, began in sorted(self.open.items(), key=lambda item: -len(item[0])):
            sink.emit(BranchFinished(t=now, branch=branch, fork=began.fork, fan_in=began.fan_in, index=began.index,
                                     ok=False, timing_ms=(now - began.t) * 1000.0 + began.vm_ready_us / 1000.0,
                                     error=outcome.detail, node=self.current.get(branch)))
        self.running.clear()
        self.current.clear()
        self.open.clear()
        return outcome
