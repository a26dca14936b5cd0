"""Routing (FORMAT.md §3, §5) written once: entry, successors, fan-in counts and the routes as drawn.

Precedence for the node after X: X's ``goto`` -> X's sequential ``edges`` (file order, first match) -> the next
node in the list -> ``__end__`` after the last. Entry: the first node, unless an edge leaves ``__start__``.
The planner, validation, the canvas and the live view all read routing from here, so a new routing construct is
added in one place.

Routes carry a stable id made of what the route *is* (kind, source, target, and its rank among identical routes),
never of list positions, so editing one route leaves every other route's id unchanged.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from tea_studio.workflow.constructs import implicit_next
from tea_studio.workflow.model import END, START, Edge, GotoRule, Node, Workflow


class RouteKind(enum.Enum):
    """Where a route is written in the file."""

    GOTO = "goto"  # a node's `goto: target`
    RULE = "rule"  # one `{if, to}` rule of a goto list
    EDGE = "edge"  # one target of an `edges` entry (sequential, conditional or a parallel branch)
    NEXT = "next"  # not written: the node flows to the next node in the list (or __end__)
    ENTRY = "entry"  # not written: the first node is the entry

    @property
    def stored(self) -> bool:
        """Whether the route is written in the file (implicit routes cannot be deleted, only overridden)."""
        return self not in (RouteKind.NEXT, RouteKind.ENTRY)


class RouteStyle(enum.Enum):
    """How a route is drawn."""

    SEQUENTIAL = "sequential"
    CONDITIONAL = "conditional"
    FORK = "fork"  # a parallel branch
    JOIN = "join"  # a plain route into a fan-in node
    CHAIN = "chain"  # an implicit route (next in list, entry)


@dataclass(frozen=True)
class Route:
    """A route as the canvas draws it. ``lane`` counts the routes between the same two ends listed before it.

    ``node``/``rule_index``/``edge_index``/``target_index`` say where the route is written in the workflow it was
    listed from (they shift with edits of other routes, so they take no part in equality: address routes by ``id``).
    """

    id: str
    kind: RouteKind
    source: str
    target: str
    style: RouteStyle
    label: str = ""
    lane: int = 0
    rule_index: int | None = field(default=None, compare=False)
    edge_index: int | None = field(default=None, compare=False)
    target_index: int | None = field(default=None, compare=False)


class Successor(NamedTuple):
    """A candidate next node of a run: tried in order, the first whose condition holds wins.

    ``condition`` is a goto ``if:`` (kind GOTO/RULE) or an edge ``condition`` with its ``when`` (kind EDGE).
    A named tuple: immutable like a frozen dataclass, and several times cheaper to build (one per node per plan).
    """

    target: str
    kind: RouteKind
    condition: Any = None
    when: Any = None


_tuple_new = tuple.__new__
# The members read once per node of every plan and run, as module constants: reading a member off its Enum class
# costs a call to the class's __getattr__ hook in Python 3.11 (longer than building a route).
NEXT, GOTO, RULE, EDGE = RouteKind.NEXT, RouteKind.GOTO, RouteKind.RULE, RouteKind.EDGE


def next_in_list(nodes: list[Node], index: int) -> str:
    """Where node ``index`` flows when nothing else routes it: the next node, or ``__end__`` after the last."""
    return nodes[index + 1].name if index + 1 < len(nodes) else END


def entry_nodes(workflow: Workflow) -> list[str]:
    """Where a run starts: the targets of the ``__start__`` edges (file order), else the first node."""
    starts = [t for e in workflow.edges if e.source == START and not e.parallel for t in e.targets]
    if starts:
        return list(dict.fromkeys(starts))
    return [workflow.nodes[0].name] if workflow.nodes else []


def _sequential_edges(workflow: Workflow) -> dict[str, list[Edge]]:
    out: dict[str, list[Edge]] = {}
    for edge in workflow.edges:
        if not edge.parallel and edge.source != START:
            out.setdefault(edge.source, []).append(edge)
    return out


def successors(workflow: Workflow) -> dict[str, tuple[Successor, ...]]:
    """Each node's candidate successors in precedence order (the first node of a duplicated name wins)."""
    sequential = _sequential_edges(workflow)
    out: dict[str, tuple[Successor, ...]] = {}
    nodes = workflow.nodes
    for i, node in enumerate(nodes):
        name = node.name
        if name in out:
            continue
        if node.goto is not None:
            kind = GOTO if isinstance(node.goto, str) else RULE
            out[name] = tuple(Successor(rule.to, kind, rule.condition) for rule in node.goto_rules)
        elif name in sequential:
            out[name] = tuple(Successor(target, EDGE, edge.condition, edge.when)
                              for edge in sequential[name] for target in edge.targets)
        else:  # a dynamic_parallel with `fan_in:` continues there; built without the named tuple's own __new__
            out[name] = (_tuple_new(Successor, (implicit_next(node) or next_in_list(nodes, i), NEXT, None, None)),)
    return out


def fork_edges(workflow: Workflow) -> dict[str, list[Edge]]:
    """Fork node -> its parallel edges in declaration order (the order of ``parallel_results``)."""
    out: dict[str, list[Edge]] = {}
    for edge in workflow.edges:
        if edge.parallel:
            out.setdefault(edge.source, []).append(edge)
    return out


def flow_targets(workflow: Workflow) -> dict[str, list[str]]:
    """Where the flow may go after each node: a fork continues at its fan-in node instead of its sequential
    routes (a fork that also has goto may go to both). Parallel branch starts are not included."""
    forks = fork_edges(workflow)
    out: dict[str, list[str]] = {}
    for name, candidates in successors(workflow).items():
        fan_ins = [e.fan_in for e in forks.get(name, []) if e.fan_in]
        if name in forks and not (candidates and candidates[0].kind in (RouteKind.GOTO, RouteKind.RULE)):
            targets = fan_ins
        else:
            targets = [c.target for c in candidates] + fan_ins
        out[name] = list(dict.fromkeys(targets))
    return out


def branch_counts(workflow: Workflow) -> dict[tuple[str, str | None], int]:
    """(fork node, fan-in node) -> how many parallel branches the workflow declares there."""
    counts: dict[tuple[str, str | None], int] = {}
    for edge in workflow.edges:
        if edge.parallel:
            key = (edge.source, edge.fan_in)
            counts[key] = counts.get(key, 0) + len(edge.targets)
    return counts


def fan_in_counts(workflow: Workflow) -> dict[str, int]:
    """Fan-in node name -> how many parallel branches it waits for."""
    counts: dict[str, int] = {}
    for (_fork, fan_in), n in branch_counts(workflow).items():
        if isinstance(fan_in, str) and fan_in:
            counts[fan_in] = counts.get(fan_in, 0) + n
    return counts


def condition_label(edge: Edge) -> str:
    """The condition text of a legacy edge as the user reads it (an else-edge shows ``not (...)``)."""
    if edge.condition is not None:
        text = str(edge.condition)
        return f"not ({text})" if edge.when is False or str(edge.when).lower() == "false" else text
    if edge.when is not None:
        return str(edge.when)
    return ""


class _Listing:
    """Builds the route list, giving each route its stable id and its lane."""

    def __init__(self, workflow: Workflow) -> None:
        self.fan_ins = fan_in_counts(workflow)
        self.routes: list[Route] = []
        self._ids: dict[str, int] = {}
        self._lanes: dict[tuple[str, str], int] = {}

    def plain(self, target: str) -> RouteStyle:
        return RouteStyle.JOIN if target in self.fan_ins else RouteStyle.SEQUENTIAL

    def add(self, kind: RouteKind, source: str, target: str, style: RouteStyle, label: str = "",
            **where: int | None) -> None:
        base = f"{kind.value}:{source}->{target}"
        rank = self._ids.get(base, 0) + 1
        self._ids[base] = rank
        lane = self._lanes.get((source, target), 0)
        self._lanes[(source, target)] = lane + 1
        self.routes.append(Route(base if rank == 1 else f"{base}#{rank}", kind, source, target, style, label, lane,
                                 **where))


def list_routes(workflow: Workflow) -> list[Route]:
    """Every route of the workflow in drawing order: gotos, edges, the implicit entry, implicit next-in-list."""
    listing = _Listing(workflow)
    for node in workflow.nodes:
        if isinstance(node.goto, str):
            listing.add(RouteKind.GOTO, node.name, node.goto, listing.plain(node.goto))
        elif isinstance(node.goto, list):
            for i, rule in enumerate(node.goto):
                if not isinstance(rule, GotoRule):
                    continue
                if rule.condition is None:
                    listing.add(RouteKind.RULE, node.name, rule.to, listing.plain(rule.to), rule_index=i)
                else:
                    listing.add(RouteKind.RULE, node.name, rule.to, RouteStyle.CONDITIONAL, str(rule.condition),
                                rule_index=i)
    for i, edge in enumerate(workflow.edges):
        for j, target in enumerate(edge.targets):
            target = str(target)
            where = {"edge_index": i, "target_index": j if isinstance(edge.target, list) else None}
            if edge.parallel:
                listing.add(RouteKind.EDGE, edge.source, target, RouteStyle.FORK, **where)
            elif edge.is_conditional:
                listing.add(RouteKind.EDGE, edge.source, target, RouteStyle.CONDITIONAL, condition_label(edge),
                            **where)
            else:
                listing.add(RouteKind.EDGE, edge.source, target, listing.plain(target), **where)
    with_edges = {edge.source for edge in workflow.edges}
    nodes = workflow.nodes
    if nodes and START not in with_edges:
        listing.add(RouteKind.ENTRY, START, nodes[0].name, RouteStyle.CHAIN)
    for i, node in enumerate(nodes):
        if node.goto is None and node.name not in with_edges:
            listing.add(RouteKind.NEXT, node.name, next_in_list(nodes, i), RouteStyle.CHAIN)
    return listing.routes
