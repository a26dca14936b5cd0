"""Workflow -> Plan: what the runner needs, resolved once (FORMAT.md §2-§5). Plans are plain data and pickle.

Routing (entry, successors) comes from :mod:`tea_studio.workflow.routes`. A node with parallel edges is a fork:
its branches start at the targets (declaration order, ``to: [a, b]`` giving one branch per target) and join at the
edges' ``fan_in`` node.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

from tea_studio.workflow.action_schemas import action_call
from tea_studio.workflow.constructs import construct_of
from tea_studio.workflow.model import DEFAULT_STRATEGY, Workflow
from tea_studio.workflow.routes import Successor, entry_nodes, fork_edges, successors
from tea_studio.workflow.streams import stream_spec
from tea_studio.workflow.validation import unsupported_code

DEFAULT_MAX_ITERATIONS = 1000
UNSUPPORTED = "unsupported"  # a Step kind: code TEA Studio cannot run (Step.code holds the reason)


class PlanError(Exception):
    """The workflow cannot be turned into a plan (e.g. a fork whose branches join at different nodes)."""

    def __init__(self, message: str, node: str | None = None) -> None:
        super().__init__(message)
        self.node = node


class Step(NamedTuple):
    """One node: what it runs. ``kind`` as in the model (lua, python, action, noop, while_loop, ...) or
    :data:`UNSUPPORTED`. Steps and routes are named tuples: immutable, and cheap to build for every node of every
    plan (a frozen dataclass sets each field through ``object.__setattr__``)."""

    name: str
    kind: str
    code: str = ""
    uses: str | None = None
    index: int = 0
    construct: Any = None  # while_loop, dynamic_parallel, steps, expression: the workflow Construct
    inner: tuple[Step, ...] = ()  # the construct's body/steps/action, as steps named "outer/inner"
    subplan: Any = None  # dynamic_parallel subgraph mode: the Plan of the subgraph file
    params: dict[str, Any] | None = None  # an action's `with:` (or `params:`), not rendered
    output: Any = None  # an action's `output:` key
    streams: Any = None  # a Python node's `streams:` (workflow.streams.StreamSpec), run by engine/streams.py


_tuple_new = tuple.__new__


def _code_step(name: str, kind: str, code: str, uses: str | None, index: int, streams: Any) -> Step:
    """``Step(name, kind, code, uses, index, streams=streams)``: a node that runs what it says (most nodes of every
    plan), built without the named tuple's Python-level ``__new__``, which cost more than a third of the step."""
    return _tuple_new(Step, (name, kind, code, uses, index, None, (), None, None, None, streams))


# A candidate successor, as routes.successors lists them: ``kind`` GOTO/RULE (``condition`` is a goto ``if:``),
# EDGE (``condition``/``when``) or NEXT (the following node / __end__). Tried in order, the first that holds wins.
Route = Successor


@dataclass(frozen=True)
class Fork:
    node: str
    branches: tuple[str, ...]  # start nodes, in edge declaration order
    fan_in: str | None
    strategy: str | None = None  # a per-edge parallel_strategy
    items: tuple[Any, ...] | None = None  # a dynamic_parallel fan-out: one branch per item, running its body
    max_concurrency: int | None = None
    fail_fast: bool = False
    body: Any = field(default=None, compare=False)  # the dynamic_parallel Step whose body each item runs

    @cached_property
    def starts(self) -> frozenset[str]:
        """The branch starts as a set, made once per fork (not once per branch: a wide fork would be quadratic)."""
        return frozenset(self.branches)


@dataclass(frozen=True)
class Limits:
    max_iterations: int = DEFAULT_MAX_ITERATIONS
    lua_timeout: float = 30.0
    lua_max_memory_mb: float = 256.0
    prolog_timeout: float = 30.0  # TEA's prolog_timeout default
    prolog_max_memory_mb: float = 256.0  # the swipl stacks (the studio's own cap: TEA has none)
    on_branch_error: str = "fail"  # fail | continue
    strategy: str = DEFAULT_STRATEGY
    max_workers: int = 0  # 0 = CPU count
    dask_scheduler: str | None = None


@dataclass
class Plan:
    name: str
    entry: str
    steps: dict[str, Step]
    routes: dict[str, tuple[Route, ...]]
    forks: dict[str, Fork]
    limits: Limits
    variables: dict[str, Any] = field(default_factory=dict)
    initial_state: dict[str, Any] = field(default_factory=dict)
    interrupt_before: frozenset[str] = frozenset()
    interrupt_after: frozenset[str] = frozenset()
    has_lua: bool = False
    has_streams: bool = False  # a node (or a construct's inner step) writes stream channels
    breakpoints: frozenset[tuple[str, str]] = frozenset()  # (node, "before"|"after") from config and nodes
    pins: dict[str, Any] = field(default_factory=dict)  # node -> pinned output used instead of running it
    settings: dict[str, Any] = field(default_factory=dict)
    workflow_dir: str | None = None  # where relative paths of actions (file.read...) start
    sections: dict[str, Any] = field(default_factory=dict)  # other top-level keys (extraction_schema...) for actions

    def __post_init__(self) -> None:
        self.breakpoints = frozenset({(n, "before") for n in self.interrupt_before}
                                     | {(n, "after") for n in self.interrupt_after})


def _number(value: Any, default: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default
    return value


def build_limits(workflow: Workflow) -> Limits:
    parallel = workflow.setting("parallel", default={})
    parallel = parallel if isinstance(parallel, dict) else {}
    dask = parallel.get("dask") if isinstance(parallel.get("dask"), dict) else {}
    strategy = str(parallel.get("strategy") or DEFAULT_STRATEGY)
    on_error = str(parallel.get("on_branch_error") or "fail").lower()
    workers = _number(parallel.get("max_workers"), 0)
    return Limits(
        max_iterations=int(_number(workflow.setting("max_iterations"), DEFAULT_MAX_ITERATIONS)),
        lua_timeout=float(_number(workflow.setting("lua", "timeout"), 30.0)),
        lua_max_memory_mb=float(_number(workflow.setting("lua", "max_memory_mb"), 256.0)),
        prolog_timeout=float(_number(workflow.setting("prolog", "timeout"), 30.0)),
        prolog_max_memory_mb=float(_number(workflow.setting("prolog", "max_memory_mb"), 256.0)),
        on_branch_error="continue" if on_error == "continue" else "fail",
        strategy=strategy,
        max_workers=int(workers) if workers and workers > 0 else 0,
        dask_scheduler=dask.get("scheduler"),
    )


# A Dask scheduler address: host:port with an optional scheme Dask's comms know; an IPv6 host goes in brackets.
_SCHEDULER = re.compile(r"^(?:(tcp|tls|ws|wss|ucx)://)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$")


def scheduler_address(address: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of a Dask scheduler address (scheme ``tcp`` when left out), None when ``address``
    cannot name one. The one rule for ``--dask-scheduler``, the studio's preferences and the file's setting."""
    match = _SCHEDULER.match(address.strip())
    if match is None or not 0 < int(match.group(3)) < 65536:
        return None
    return match.group(1) or "tcp", match.group(2).strip("[]"), int(match.group(3))


def scheduler_problem(address: str) -> str | None:
    """Why ``address`` cannot name a Dask scheduler (one line), or None when it can."""
    if scheduler_address(address) is None:
        return f"'{address.strip()}' is not a Dask scheduler address: write tcp://host:port"
    return None


def default_workers(limits: Limits) -> int:
    return limits.max_workers or os.cpu_count() or 2


MAX_SUBGRAPH_DEPTH = 8


def _step(node: Any, index: int, path: str | None, depth: int = 0, prefix: str = "") -> Step:
    """What one node runs. A construct's inner nodes become steps named ``outer/inner`` (their own Lua function
    and compile-cache entries); what cannot run becomes an :data:`UNSUPPORTED` step holding the reason."""
    name = prefix + node.name
    unsupported = unsupported_code(node)
    if unsupported is not None:
        return Step(name, UNSUPPORTED, unsupported, None, index)
    call = action_call(node)
    if call is not None:  # `uses:` or the Rust spelling `action:` (never a no-op)
        return Step(name, "action", "", call.name, index, params=call.params, output=call.output)
    construct = construct_of(node, path)
    if construct is None:
        return _code_step(name, node.kind, node.code or "", node.uses, index, stream_spec(node))
    if construct.problems:
        return Step(name, UNSUPPORTED, construct.problems[0][1], None, index)
    inner = tuple(_step(item, i, path, depth, f"{name}/") for i, item in enumerate(construct.inner))
    subplan = None
    if construct.subgraph_path is not None:
        if depth >= MAX_SUBGRAPH_DEPTH:
            return Step(name, UNSUPPORTED, f"subgraphs nest more than {MAX_SUBGRAPH_DEPTH} deep", None, index)
        from tea_studio.workflow.yaml_io import WorkflowError, load_workflow

        try:
            subplan = build_plan(load_workflow(construct.subgraph_path), depth + 1)
        except WorkflowError as exc:
            return Step(name, UNSUPPORTED, f"subgraph '{construct.subgraph}' cannot be loaded: {exc}", None, index)
        except PlanError as exc:
            return Step(name, UNSUPPORTED, f"subgraph '{construct.subgraph}' cannot run: {exc}", None, index)
    return Step(name, construct.kind, "", None, index, construct, inner, subplan)


def _runs_lua(step: Step) -> bool:
    return step.kind == "lua" or any(_runs_lua(inner) for inner in step.inner)


def _writes_streams(step: Step) -> bool:
    return step.streams is not None or any(_writes_streams(inner) for inner in step.inner)


def build_plan(workflow: Workflow, depth: int = 0) -> Plan:
    """Resolve routing, forks and settings. Raises :class:`PlanError` for what cannot run at all."""
    nodes = [node for node in workflow.nodes if node.name]
    steps: dict[str, Step] = {}
    path = workflow.path
    for i, node in enumerate(nodes):
        if node.name not in steps:
            steps[node.name] = _step(node, i, path, depth)
    if not steps:
        raise PlanError("the workflow has no nodes")

    entry = entry_nodes(workflow)[0]

    forks: dict[str, Fork] = {}
    for source, edges in fork_edges(workflow).items():
        fan_ins = [edge.fan_in for edge in edges if edge.fan_in]
        if len(set(fan_ins)) > 1:
            raise PlanError(f"fork '{source}' has branches joining at different fan-in nodes: "
                            f"{', '.join(sorted(set(fan_ins)))}", source)
        branches = tuple(target for edge in edges for target in edge.targets)
        strategy = next((edge.parallel_strategy for edge in edges if edge.parallel_strategy), None)
        forks[source] = Fork(source, branches, fan_ins[0] if fan_ins else None, strategy)

    routes = successors(workflow)
    if routes.keys() != steps.keys():  # nodes without a name have no step
        routes = {name: candidates for name, candidates in routes.items() if name in steps}

    before, after = workflow.interrupts()

    initial = workflow.initial_state if isinstance(workflow.initial_state, dict) else {}
    return Plan(
        name=workflow.name or (os.path.basename(workflow.path) if workflow.path else "workflow"),
        entry=entry,
        steps=steps,
        routes=routes,
        forks=forks,
        limits=build_limits(workflow),
        variables=dict(workflow.section("variables")),
        initial_state=dict(initial),
        interrupt_before=before,
        interrupt_after=after,
        has_lua=any(_runs_lua(step) for step in steps.values()),
        has_streams=any(_writes_streams(step) for step in steps.values()),
        settings=dict(workflow.section("settings")),
        workflow_dir=os.path.dirname(os.path.abspath(workflow.path)) if workflow.path else None,
        sections=dict(workflow.extra),
    )
