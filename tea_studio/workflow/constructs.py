"""TEA's composite nodes, read from a node's keys: ``type: while_loop``, ``type: dynamic_parallel``, node-level
``steps:`` and ``run: {type: expression}`` (TEA's docs/shared/yaml-reference/nodes.md, methods 4-7).

The file keeps these keys as written (``Node.extra``); :func:`construct_of` reads them into a :class:`Construct`
for the validator, the planner and the studio, so each rule lives here once. Inner nodes (a loop's ``body``, the
``steps`` of a node or of a dynamic_parallel item, its ``action``) are read with the file's own node rules.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from tea_studio.workflow.action_schemas import trusted_content
from tea_studio.workflow.model import DYNAMIC_PARALLEL, NOOP, WHILE_LOOP, Node

STEPS = "steps"
EXPRESSION = "expression"
MAX_LOOP_ITERATIONS = 1000  # TEA's range for while_loop max_iterations: 1..1000
DEFAULT_OUTPUT = "parallel_results"
FAIL_FAST_CANCELLED = "Cancelled due to fail_fast"  # TEA's error text for items never started after a failure


@dataclass
class Construct:
    """A composite node. ``inner`` holds the loop body, the steps, or the one action of a dynamic_parallel item.

    ``problems`` are configuration errors TEA refuses to load (``(key, message)``, key = where it is written).
    """

    kind: str
    inner: list[Node] = field(default_factory=list)
    inner_key: str = ""  # the key the inner nodes are written under (body | steps | action)
    condition: Any = None
    max_iterations: int = 0
    items: Any = None
    item_var: str = "item"
    index_var: str = "index"
    max_concurrency: int | None = None
    fail_fast: bool = False
    output: str = DEFAULT_OUTPUT
    fan_in: str | None = None
    mode: str = ""  # dynamic_parallel: action | steps | subgraph
    subgraph: str | None = None
    subgraph_path: str | None = None  # resolved against the workflow's folder
    input: dict[str, Any] = field(default_factory=dict)
    value: Any = None  # expression
    output_key: str = "result"
    problems: list[tuple[str, str]] = field(default_factory=list)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def construct_of(node: Node, workflow_path: str | None = None) -> Construct | None:
    """The composite node ``node`` is, or None for a plain node."""
    extra = node.extra
    if node.kind == WHILE_LOOP:
        return _while_loop(node, workflow_path)
    if node.kind == DYNAMIC_PARALLEL:
        return _dynamic_parallel(node, workflow_path)
    if node.kind != NOOP:
        return None
    run = extra.get("run")
    if isinstance(run, dict) and run.get("type") == EXPRESSION:
        construct = Construct(EXPRESSION, value=run.get("value"))
        key = run.get("output_key", "result")
        construct.output_key = key if isinstance(key, str) and key else "result"
        if not isinstance(construct.value, str) or not construct.value.strip():
            construct.problems.append(("run", "an expression node needs `value:` (a Python expression)"))
        return construct
    if "steps" in extra:
        construct = Construct(STEPS)
        _read_inner(construct, extra.get("steps"), "steps", workflow_path)
        return construct
    return None


def _read_inner(construct: Construct, items: Any, key: str, workflow_path: str | None) -> None:
    from tea_studio.workflow.yaml_io import WorkflowError, nodes_from_data

    construct.inner_key = key
    if not isinstance(items, list) or not items:
        construct.problems.append((key, f"`{key}` must be a list of at least one node"))
        return
    bad = [i for i, item in enumerate(items) if not isinstance(item, dict)]
    if bad:
        construct.problems.append((key, f"entry {bad[0] + 1} of `{key}` must be a node mapping"))
        return
    try:
        construct.inner = nodes_from_data(items, workflow_path)
    except WorkflowError as exc:
        construct.problems.append((key, f"`{key}`: {exc.message}"))


def _while_loop(node: Node, workflow_path: str | None) -> Construct:
    extra = node.extra
    construct = Construct(WHILE_LOOP, condition=extra.get("condition"))
    if construct.condition is None or construct.condition == "":
        construct.problems.append(("type", "a while_loop needs `condition:`"))
    limit = extra.get("max_iterations")
    if limit is None:
        construct.problems.append(("type", "a while_loop needs `max_iterations:` (1-1000)"))
    elif not _is_int(limit) or not 1 <= limit <= MAX_LOOP_ITERATIONS:
        construct.problems.append(("max_iterations", f"max_iterations must be an integer from 1 to "
                                                     f"{MAX_LOOP_ITERATIONS}, not {limit!r}"))
    else:
        construct.max_iterations = limit
    _read_inner(construct, extra.get("body"), "body", workflow_path)
    for inner in construct.inner:
        if inner.kind == WHILE_LOOP:
            construct.problems.append(("body", f"nested while_loops are not supported (TEA refuses them): body node "
                                               f"'{inner.name}'"))
    return construct


def _dynamic_parallel(node: Node, workflow_path: str | None) -> Construct:
    extra = node.extra
    config = extra.get("parallel_config") if isinstance(extra.get("parallel_config"), dict) else {}
    construct = Construct(DYNAMIC_PARALLEL, items=extra.get("items"))
    problems = construct.problems
    if construct.items is None or construct.items == "":
        problems.append(("type", "a dynamic_parallel node needs `items:` (an expression giving a list)"))
    for attribute in ("item_var", "index_var"):
        value = extra.get(attribute, getattr(construct, attribute))
        if not isinstance(value, str) or not value.isidentifier():
            problems.append((attribute, f"{attribute} must be a name, not {value!r}"))
        else:
            setattr(construct, attribute, value)
    limit = extra.get("max_concurrency", config.get("max_concurrency"))
    if limit is not None and (not _is_int(limit) or limit < 1):
        problems.append(("max_concurrency", f"max_concurrency must be a positive integer, not {limit!r}"))
    elif limit is not None:
        construct.max_concurrency = limit
    construct.fail_fast = bool(extra.get("fail_fast", config.get("fail_fast", False)))
    output = extra.get("output", DEFAULT_OUTPUT)
    if not isinstance(output, str) or not output:
        problems.append(("output", f"output must be a state key, not {output!r}"))
    else:
        construct.output = output
    fan_in = extra.get("fan_in")
    construct.fan_in = fan_in if isinstance(fan_in, str) and fan_in else None
    modes = [key for key in ("action", "steps", "subgraph") if extra.get(key) is not None]
    if len(modes) != 1:
        problems.append(("type", "a dynamic_parallel node needs exactly one of `action:`, `steps:`, `subgraph:`"
                         + (f" (it has {', '.join(modes)})" if modes else "")))
        return construct
    construct.mode = modes[0]
    if construct.mode == "steps":
        _read_inner(construct, extra["steps"], "steps", workflow_path)
    elif construct.mode == "action":
        action = extra["action"]
        if isinstance(action, str):  # `action: name` with the node's own `with:`
            action = {"uses": action, **({"with": extra["with"]} if isinstance(extra.get("with"), dict) else {})}
        if not isinstance(action, dict) or not isinstance(action.get("uses", action.get("action")), str):
            problems.append(("action", "`action:` must name an action (`uses: name`, `with:`, `output:`)"))
        else:
            _read_inner(construct, [{"name": "action", **action}], "action", workflow_path)
    else:
        subgraph = extra["subgraph"]
        mapping = extra.get("input", {})
        construct.input = mapping if isinstance(mapping, dict) else {}
        if not isinstance(subgraph, str) or not subgraph:
            problems.append(("subgraph", "`subgraph:` must be the path of a workflow file"))
        elif "://" in subgraph:
            problems.append(("subgraph", f"subgraph '{subgraph}' is remote: TEA Studio loads local files only"))
        else:
            construct.subgraph = subgraph
            folder = os.path.dirname(os.path.abspath(workflow_path)) if workflow_path else os.getcwd()
            construct.subgraph_path = os.path.normpath(os.path.join(folder, subgraph))
    return construct


def construct_label(node: Node) -> str | None:
    """A short line for the canvas (e.g. ``loop · 2 steps · max 10``), read from the keys without parsing the inner
    nodes (it is drawn on every paint); None for a plain node."""
    extra = node.extra

    def count(key: str) -> str:
        items = extra.get(key)
        n = len(items) if isinstance(items, list) else 0
        return f"{n} step{'s' * (n != 1)}"

    if node.kind == WHILE_LOOP:
        return f"loop · {count('body')} · max {extra.get('max_iterations', '?')}"
    if node.kind == DYNAMIC_PARALLEL:
        mode = next((key for key in ("steps", "action", "subgraph") if extra.get(key) is not None), "?")
        return f"fan-out · each {extra.get('item_var', 'item')} · {mode}"
    if node.kind != NOOP:
        return None
    run = extra.get("run")
    if isinstance(run, dict) and run.get("type") == EXPRESSION:
        return f"expression → {run.get('output_key', 'result')}"
    if "steps" in extra:
        return f"steps · {count('steps')}"
    return None


CONSTRUCT_KEYS = ("condition", "max_iterations", "body", "items", "item_var", "index_var", "max_concurrency",
                  "fail_fast", "parallel_config", "action", "with", "subgraph", "input", "steps", "output", "fan_in")


def construct_keys(node: Node) -> dict[str, Any]:
    """What a composite node runs, as written (its loop, fan-out or steps keys; the expression's ``run``), for a
    read-only view; {} for a plain node."""
    if construct_label(node) is None:
        return {}
    if node.kind not in (WHILE_LOOP, DYNAMIC_PARALLEL) and "steps" not in node.extra:
        return {"run": node.extra.get("run")}
    return {key: node.extra[key] for key in CONSTRUCT_KEYS if key in node.extra}


def python_code(workflow: Any, depth: int = 0) -> list[tuple[str, Any]]:
    """``(node, code)`` of all the trusted code a run of ``workflow`` may execute: Python nodes and actions that reach
    outside the process (their name and parameters), those inside loop bodies and steps, expression nodes, and the
    same in local subgraph files (the trust prompt covers them all)."""
    found: list[tuple[str, Any]] = []

    def visit(nodes: list[Node], prefix: str, path: str | None, level: int) -> None:
        for node in nodes:
            name = prefix + node.name
            trusted = trusted_content(node)  # Python code, or a trusted action's name and parameters
            if trusted is not None:
                found.append((name, trusted))
            construct = construct_of(node, path)
            if construct is None:
                continue
            if construct.kind == EXPRESSION:
                found.append((name, str(construct.value)))
            visit(construct.inner, f"{name}/", path, level)
            if construct.subgraph_path and level < 8 and os.path.isfile(construct.subgraph_path):
                from tea_studio.workflow.yaml_io import WorkflowError, load_workflow

                try:
                    sub = load_workflow(construct.subgraph_path)
                except WorkflowError:
                    continue
                visit(sub.nodes, f"{name}/", sub.path, level + 1)

    visit(workflow.nodes, "", workflow.path, depth)
    return found


def implicit_next(node: Node) -> str | None:
    """Where a node goes when it has no goto or edges, if not to the next node: a dynamic_parallel's ``fan_in``."""
    if node.kind != DYNAMIC_PARALLEL:
        return None
    fan_in = node.extra.get("fan_in")
    return fan_in if isinstance(fan_in, str) and fan_in else None
