"""Running TEA's composite nodes: while_loop, node-level steps, expression, dynamic_parallel.

Inner nodes run through the flow's own ``_execute`` (so Lua, Python and actions behave as top-level nodes do, in
the flow's Lua VM) and report :class:`StepStarted`/:class:`StepFinished`. A dynamic_parallel node fans out through
the runner's fork machinery: every item is a branch named ``node[i]`` with its own fresh Lua VM on the run's
executor (thread, process or dask), so items get the same branch events as static forks.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from tea_studio.engine.actions.context import ActionError
from tea_studio.engine.actions.registry import available_action
from tea_studio.engine.errors import RunError, RunStopped
from tea_studio.engine.events import (
    DynamicParallelFinished,
    DynamicParallelStarted,
    FanInReady,
    LoopFinished,
    LoopIteration,
    LoopStarted,
    RunWarning,
    StepFinished,
    StepStarted,
)
from tea_studio.engine.expressions import ExpressionError, edge_condition_holds, render_value, template_names
from tea_studio.engine.plan import UNSUPPORTED, Fork, Plan, Step
from tea_studio.engine.python_node import PythonNodeError, evaluate_expression
from tea_studio.workflow.constructs import DYNAMIC_PARALLEL, EXPRESSION, STEPS, WHILE_LOOP

if TYPE_CHECKING:
    from tea_studio.engine.branching import BranchOutcome
    from tea_studio.engine.runner import _Flow


class FlowResult(dict):
    """One dynamic_parallel item's result, shaped as TEA's ParallelFlowResult: ``branch`` (``node[i]``),
    ``index``, ``success``, ``state``, ``error``, ``timing_ms``. A plain dict in the state (JSON, Lua tables);
    Python nodes may also read ``result.state`` and, as in TEA, a missing key falls back to the item's state."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __missing__(self, key: Any) -> Any:
        state = dict.get(self, "state")
        if isinstance(state, dict) and key in state:
            return state[key]
        raise KeyError(key)

    def get(self, key: Any, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __reduce__(self):
        return (FlowResult, (dict(self),))


def run_construct(flow: _Flow, step: Step, state: dict[str, Any]) -> dict[str, Any] | None:
    """The update a composite node makes (raises RunError naming the node)."""
    return _RUNNERS[step.kind](flow, step, state)


def _error(flow: _Flow, step: Step, message: str) -> Exception:
    return RunError(message, step.name, flow.branch)


def _run_inner(flow: _Flow, outer: Step, state: dict[str, Any], iteration: int = 0) -> dict[str, Any]:
    """Run ``outer``'s inner steps in order over ``state``; returns their merged update."""
    update: dict[str, Any] = {}
    sink = flow.sink
    labels = [node.name for node in outer.construct.inner]
    what = "body node" if outer.kind == WHILE_LOOP else "step"
    for index, inner in enumerate(outer.inner):
        if flow.control.stopped:
            raise RunStopped(outer.name, flow.branch)
        label = labels[index]
        sink.emit(StepStarted(t=time.monotonic(), node=outer.name, branch=flow.branch, step=label, index=index,
                              iteration=iteration))
        began = time.perf_counter()
        try:
            result = flow._execute(inner, state)
        except RunStopped:
            raise
        except RunError as exc:
            elapsed = (time.perf_counter() - began) * 1000.0
            sink.emit(StepFinished(t=time.monotonic(), node=outer.name, branch=flow.branch, step=label, index=index,
                                   iteration=iteration, timing_ms=elapsed, ok=False, error=exc.message,
                                   line=exc.line))
            at = f" at iteration {iteration}" if iteration else ""
            line = f" line {exc.line}" if exc.line else ""
            raise RunError(f"{what} '{label}'{at}{line}: {exc.message}", outer.name, flow.branch) from None
        elapsed = (time.perf_counter() - began) * 1000.0
        if result:
            state = {**state, **result}
            update.update(result)
        sink.emit(StepFinished(t=time.monotonic(), node=outer.name, branch=flow.branch, step=label, index=index,
                               iteration=iteration, timing_ms=elapsed, ok=True,
                               update=dict(result) if result else None))
    return update


def _steps(flow: _Flow, step: Step, state: dict[str, Any]) -> dict[str, Any] | None:
    return _run_inner(flow, step, state) or None


def _expression(flow: _Flow, step: Step, state: dict[str, Any]) -> dict[str, Any] | None:
    construct = step.construct
    try:
        value = evaluate_expression(step.name, construct.value, state, flow.plan.variables)
    except PythonNodeError as exc:
        raise _error(flow, step, f"expression '{construct.value}': {exc.message}") from None
    return {construct.output_key: value}


def _while_loop(flow: _Flow, step: Step, state: dict[str, Any]) -> dict[str, Any] | None:
    """TEA's loop: the condition before each iteration, the body in order, state carried to the next iteration."""
    construct = step.construct
    limit = construct.max_iterations
    sink = flow.sink
    sink.emit(LoopStarted(t=time.monotonic(), node=step.name, branch=flow.branch, max_iterations=limit))
    update: dict[str, Any] = {}
    iteration = 0
    while iteration < limit:
        if flow.control.stopped:
            raise RunStopped(step.name, flow.branch)
        try:
            holds = edge_condition_holds(construct.condition, None, state, flow.plan.variables)
        except ExpressionError as exc:
            raise _error(flow, step, f"condition '{construct.condition}' failed: {exc}") from None
        sink.emit(LoopIteration(t=time.monotonic(), node=step.name, branch=flow.branch, iteration=iteration + 1,
                                  condition_result=holds))
        if not holds:
            break
        iteration += 1
        changes = _run_inner(flow, step, state, iteration)
        if changes:
            state = {**state, **changes}
            update.update(changes)
    reason = "max_iterations_reached" if iteration >= limit else "condition_false"
    sink.emit(LoopFinished(t=time.monotonic(), node=step.name, branch=flow.branch, iterations_completed=iteration,
                           exit_reason=reason))
    if reason == "max_iterations_reached":
        sink.emit(RunWarning(t=time.monotonic(), message=f"while_loop '{step.name}' stopped after max_iterations "
                             f"({limit}) with its condition still true", node=step.name, branch=flow.branch))
    return update or None


# -- dynamic_parallel ---------------------------------------------------------------------------------------------
def _items(flow: _Flow, step: Step, state: dict[str, Any]) -> list[Any]:
    expression = step.construct.items
    try:
        items = render_value(expression, state, flow.plan.variables) if isinstance(expression, str) else expression
    except ExpressionError as exc:
        raise _error(flow, step, f"items '{expression}' failed: {exc}") from None
    if items is None:
        return []
    if isinstance(items, str) and items.strip().startswith("["):
        items = _listed(items)
    if isinstance(items, dict):
        return list(items)
    if isinstance(items, (str, bytes)) or not hasattr(items, "__iter__"):
        raise _error(flow, step, f"items '{expression}' must give a list, not {type(items).__name__}"
                     + (f" ({items[:60]!r})" if isinstance(items, str) else ""))
    return list(items)


def _listed(text: str) -> Any:
    """Items rendered to the text of a JSON list (``"{{ state.xs | tojson }}"``, ``'[1, 2, 3]'``, a template
    with text around it) are that list: the author meant a list, and a run that stops on its spelling helps no
    one. Any other text stays text (and stops the run as not a list)."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, list) else text


def missing_capability(step: Step) -> str | None:
    """Why an item of this dynamic_parallel could not run at all here (an inner node of a kind or an action TEA
    Studio lacks), or None. Such a node is a run error of the fan-out, never N captured item failures."""
    for inner in step.inner:
        label = inner.name.rpartition("/")[2]
        if inner.kind == UNSUPPORTED:
            return f"step '{label}': {inner.code}"
        if inner.kind == "action":
            try:
                available_action(inner.uses or "")
            except ActionError as exc:
                return f"step '{label}': {exc.message}"
        found = missing_capability(inner)
        if found:
            return found
    return None


def _dynamic_parallel(flow: _Flow, step: Step, state: dict[str, Any]) -> dict[str, Any] | None:
    construct = step.construct
    items = _items(flow, step, state)
    missing = missing_capability(step) if items else None
    if missing:
        raise _error(flow, step, missing)
    sink = flow.sink
    sink.emit(DynamicParallelStarted(t=time.monotonic(), node=step.name, branch=flow.branch, item_count=len(items),
                                     max_concurrency=construct.max_concurrency))
    outcomes: list[BranchOutcome] = []
    if items:
        fork = Fork(step.name, tuple(f"{step.name}[{i}]" for i in range(len(items))), step.name, None,
                    tuple(items), construct.max_concurrency, construct.fail_fast, step)
        outcomes = flow.fan_out(fork, state)
    results = [FlowResult(branch=outcome.branch.rpartition("/")[2], index=i, source_node=step.name,
                          success=outcome.ok, state=outcome.state if outcome.ok else {},
                          error=None if outcome.ok else outcome.error,
                          timing_ms=round(outcome.timing_ms, 3))
               for i, outcome in enumerate(outcomes)]
    failed = [r for r in results if not r["success"]]
    cancelled = sum(1 for outcome in outcomes if outcome.cancelled)
    sink.emit(DynamicParallelFinished(t=time.monotonic(), node=step.name, branch=flow.branch, total=len(results),
                                      successful=len(results) - len(failed), failed=len(failed), cancelled=cancelled))
    sink.emit(FanInReady(t=time.monotonic(), node=step.name, branch=flow.branch, results=len(results) - len(failed),
                         errors=len(failed)))
    if failed:
        sink.emit(RunWarning(t=time.monotonic(), message=f"dynamic_parallel '{step.name}': {len(failed)} of "
                             f"{len(results)} items failed (first: {failed[0]['branch']}: {failed[0]['error']})",
                             node=step.name, branch=flow.branch))
    return {"parallel_results": results, construct.output: results}


def run_item(flow: _Flow, fork: Fork, index: int, state: dict[str, Any]) -> dict[str, Any]:
    """One dynamic_parallel item inside its branch: ``item_var``/``index_var`` set, then the steps, the action or
    the subgraph. Returns the item's final state."""
    step = fork.body
    construct = step.construct
    names = {construct.item_var: fork.items[index], construct.index_var: index}
    state = {**state, **names}
    flow.current = step.name  # what the item's print() lines and errors are logged under
    with template_names(names):
        if step.subplan is not None:
            return _run_subgraph(flow, step, state)
        return {**state, **_run_inner(flow, step, state)}


def _run_subgraph(flow: _Flow, step: Step, state: dict[str, Any]) -> dict[str, Any]:
    """The subgraph file runs as its own flow (own Lua VM) from the ``input:`` mapping rendered over the item."""
    construct = step.construct
    subplan: Plan = step.subplan
    try:
        inputs = {key: render_value(value, state, flow.plan.variables) for key, value in construct.input.items()}
    except ExpressionError as exc:
        raise _error(flow, step, f"subgraph input failed: {exc}") from None
    sub_flow = flow.subflow(subplan)
    try:
        return sub_flow.walk(subplan.entry, {**subplan.initial_state, **inputs}, frozenset())
    except RunError as exc:
        where = (f"node '{exc.node}'" + (f" line {exc.line}" if exc.line else "") + ": ") if exc.node else ""
        raise RunError(f"subgraph '{construct.subgraph}' {where}{exc.message}", step.name, flow.branch) from None
    finally:
        sub_flow.end_vm()
        sub_flow.ctx.close()


_RUNNERS = {WHILE_LOOP: _while_loop, STEPS: _steps, EXPRESSION: _expression, DYNAMIC_PARALLEL: _dynamic_parallel}
CONSTRUCT_KINDS = frozenset(_RUNNERS)
