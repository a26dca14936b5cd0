"""Starting a run somewhere else than the entry: from any node with a given state (a fork of a past run at that
node, like a checkpoint), or one node alone with the input it had.

What "from a node" means where flows meet:

- a node of the main flow runs on as the file routes it, forks and joins included, to ``__end__``;
- a node inside a parallel branch runs the rest of that branch (the innermost fork's) and stops before the branch's
  fan-in node: the run's result is the branch's state, as the fan-in would receive it; siblings are not run again;
- a fan-in node starts from the state it received: the fork's state plus ``parallel_results`` (what
  :func:`recorded_input` rebuilds from a past run), and the run goes on after it.

A run started this way names the run it came from (``RunStarted.parent_run``), so the history lists it as a child.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tea_studio.engine.errors import RunError
from tea_studio.engine.plan import Fork, Plan
from tea_studio.workflow.model import END

FROM_NODE = "from"  # run from the node on
ONLY_NODE = "node"  # run the node alone


@dataclass(frozen=True)
class StartAt:
    """Where a run starts: ``node`` with ``state`` (the whole state, not inputs merged into the file's initial
    state); ``mode`` :data:`FROM_NODE` or :data:`ONLY_NODE`; ``parent_run`` the history id of the run it came from."""

    node: str
    state: dict[str, Any]
    mode: str = FROM_NODE
    parent_run: str | None = None

    def describe(self) -> str:
        return f"{'from' if self.mode == FROM_NODE else 'only'} {self.node}"


def _reach(plan: Plan, start: str, fan_in: str | None) -> set[str]:
    """The nodes a branch starting at ``start`` can run before it reaches ``fan_in`` (nested forks included)."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        if name in seen or name == fan_in or name not in plan.steps:
            continue
        seen.add(name)
        todo.extend(route.target for route in plan.routes.get(name, ()))
        inner = plan.forks.get(name)
        if inner is not None:
            todo.extend(inner.branches)
            if inner.fan_in:
                todo.append(inner.fan_in)
    return seen


def enclosing_branch(plan: Plan, node: str) -> tuple[Fork, str] | None:
    """The innermost fork whose branch runs ``node`` before its fan-in, and that branch's start node; None for a
    node of the main flow (or a fan-in, which runs where its fork joined)."""
    best: tuple[int, Fork, str] | None = None
    for fork in plan.forks.values():
        if fork.items is not None:
            continue
        for start in fork.branches:
            reach = _reach(plan, start, fork.fan_in)
            if node in reach and (best is None or len(reach) < best[0]):
                best = (len(reach), fork, start)
    return None if best is None else (best[1], best[2])


def walk_from(flow: Any, start: StartAt, state: dict[str, Any]) -> dict[str, Any]:
    """Run ``flow`` (the runner's main flow) from ``start``; returns the final state. Raises the runner's
    RunError for a node the workflow does not have."""
    plan = flow.plan
    if start.node not in plan.steps:
        raise RunError(f"cannot start at '{start.node}': the workflow has no node of that name", None,
                       located=False)
    if start.mode == ONLY_NODE:
        return flow.walk(start.node, state, frozenset(), once=True)
    found = enclosing_branch(plan, start.node)
    if found is None:
        return flow.walk(start.node, state, frozenset())
    fork, branch_start = found
    flow.siblings = frozenset(fork.branches) - {branch_start}
    flow.join_at = fork.fan_in or END
    return flow.walk(start.node, state, frozenset({fork.fan_in}) if fork.fan_in else frozenset())


def recorded_input(model: Any, execution: Any) -> dict[str, Any]:
    """The state ``execution`` (of a :class:`~tea_studio.engine.record.RunModel`) started from; for a fan-in
    node, the fork's state with the branches' ``parallel_results`` in declaration order, as the join made it."""
    before = dict(model.state_before(execution) or {})
    fan_in = model.fan_ins.get(execution.node)
    lane = model.lanes.get(execution.branch)
    if fan_in is None or lane is None:
        return before
    earlier = [x for x in lane.executions if x.start < execution.start and x.event_index is not None]
    forked = bool(earlier) and any(branch.fork == earlier[-1].node and branch.fan_in == execution.node
                                   for branch in model.lanes.values())
    if forked:
        results = sorted((r for r in fan_in.results if r.ok), key=lambda r: r.index)
        before["parallel_results"] = [model.branch_state(r) for r in results]
    return before
