"""Reversible edits of a Workflow, without Qt: change records and the builders that turn one user edit into them.

A change records the old and the new value of one thing it replaces (a node attribute, the edges list, the
positions mapping, a top-level field) or the node it inserts/removes with its index. Changes never mutate a
captured value in place, so undoing restores exactly the objects (and hence the text) that were there before.

:class:`WorkflowEditor` builds one :class:`Edit` per user action (its undo text and changes); the studio's
document pushes it on its undo stack, and anything else (tests, scripts) can apply it with :func:`apply_changes`.
Routes are addressed by the :class:`~tea_studio.workflow.routes.Route` the caller resolved from its stable id.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tea_studio.workflow.action_schemas import ACTION_KIND, starter_params
from tea_studio.workflow.annotations import AnnotationsChange, groups_of, renamed_in_groups, with_annotations
from tea_studio.workflow.constructs import implicit_next
from tea_studio.workflow.model import (
    ACTION,
    CODE_KINDS,
    END,
    FAN_IN,
    FORM_LANGUAGE,
    KINDS,
    LUA,
    NOOP,
    RESERVED_NAMES,
    SWITCHABLE_KINDS,
    Edge,
    GotoRule,
    Node,
    Workflow,
    kind_label,
    unique_name,
)
from tea_studio.workflow.routes import Route, RouteKind

# Merge ids: consecutive edits with the same id and key merge into one undo step.
MOVE_ID = 1
CODE_ID = 2


# -- change records ----------------------------------------------------------------------------------------
@dataclass
class ChangeEvents:
    """What an applied list of changes touched, so the document can emit fine-grained signals."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    renamed: list[tuple[str, str]] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)
    nodes: bool = False  # the node list or a name changed (name index must be rebuilt)
    routes: bool = False
    settings: bool = False
    config: bool = False


class Change:
    """One reversible replacement inside a workflow."""

    def apply(self, workflow: Workflow, forward: bool, events: ChangeEvents) -> None:
        raise NotImplementedError

    def absorbs(self, later: Change) -> bool:
        """Whether :meth:`absorb` can take ``later``'s end value (both change the same thing)."""
        return False

    def absorb(self, later: Change) -> None:
        raise TypeError(f"{type(self).__name__} cannot absorb {type(later).__name__}")


@dataclass
class NodeInsert(Change):
    """Insert ``node`` at ``index`` (``insert=False``: remove it from there)."""

    index: int
    node: Node
    insert: bool = True

    def apply(self, workflow: Workflow, forward: bool, events: ChangeEvents) -> None:
        events.nodes = True
        events.routes = True
        if forward == self.insert:
            workflow.nodes.insert(self.index, self.node)
            events.added.append(self.node.name)
        else:
            taken = workflow.nodes.pop(self.index)
            assert taken is self.node, "node list out of step with the undo stack"
            events.removed.append(self.node.name)


@dataclass
class NodeAttr(Change):
    """Replace one attribute of a node object."""

    node: Node
    attr: str
    old: Any
    new: Any

    def apply(self, workflow: Workflow, forward: bool, events: ChangeEvents) -> None:
        value = self.new if forward else self.old
        setattr(self.node, self.attr, value)
        if self.attr == "name":
            events.nodes = True
            events.routes = True
            events.renamed.append((self.old, self.new) if forward else (self.new, self.old))
            return
        if self.attr == "goto":
            events.routes = True
        events.changed.append(self.node.name)

    def absorbs(self, later: Change) -> bool:
        return isinstance(later, NodeAttr) and later.node is self.node and later.attr == self.attr

    def absorb(self, later: Change) -> None:
        assert isinstance(later, NodeAttr)
        self.new = later.new


@dataclass
class EdgeList(Change):
    """Replace the whole ``edges`` list (the edge objects themselves are never mutated)."""

    old: list
    new: list

    def apply(self, workflow: Workflow, forward: bool, events: ChangeEvents) -> None:
        workflow.edges = list(self.new if forward else self.old)
        events.routes = True


@dataclass
class Positions(Change):
    """Replace the positions mapping; ``names`` are the nodes whose position differs."""

    old: dict
    new: dict
    names: list[str]

    def apply(self, workflow: Workflow, forward: bool, events: ChangeEvents) -> None:
        workflow.layout.positions = dict(self.new if forward else self.old)
        events.moved.extend(self.names)

    def absorbs(self, later: Change) -> bool:
        return isinstance(later, Positions)

    def absorb(self, later: Change) -> None:
        assert isinstance(later, Positions)
        self.new = later.new
        self.names = list(dict.fromkeys([*self.names, *later.names]))


@dataclass
class Pins(Change):
    """Replace the pinned outputs (``x-tea-studio`` pins); ``names`` are the nodes whose pin differs."""

    old: dict
    new: dict
    names: list[str]

    def apply(self, workflow: Workflow, forward: bool, events: ChangeEvents) -> None:
        workflow.layout.pins = dict(self.new if forward else self.old)
        events.changed.extend(self.names)


@dataclass
class WorkflowAttr(Change):
    """Replace a top-level field of the workflow (name, description, settings, config, ...)."""

    attr: str
    old: Any
    new: Any

    def apply(self, workflow: Workflow, forward: bool, events: ChangeEvents) -> None:
        setattr(workflow, self.attr, self.new if forward else self.old)
        if self.attr == "config":
            events.config = True
        events.settings = True


def apply_changes(workflow: Workflow, changes: list[Change], forward: bool = True) -> ChangeEvents:
    """Apply changes forward (in order) or backward (in reverse order); say what they touched."""
    events = ChangeEvents()
    for change in changes if forward else reversed(changes):
        change.apply(workflow, forward, events)
    return events


def merge_changes(mine: list[Change], later: list[Change]) -> bool:
    """Fold ``later`` into ``mine`` when each of its changes replaces the same thing as the matching one of
    ``mine``; otherwise change nothing and return False."""
    if len(mine) != len(later) or not all(a.absorbs(b) for a, b in zip(mine, later, strict=True)):
        return False
    for a, b in zip(mine, later, strict=True):
        a.absorb(b)
    return True


@dataclass
class Edit:
    """One user action: its undo text, its changes, and how it merges with the next edit (-1: never)."""

    text: str
    changes: list[Change]
    merge_id: int = -1
    merge_key: Any = None


# -- route drafts ------------------------------------------------------------------------------------------
def replace_edge(edge: Edge, **fields: Any) -> Edge:
    """A changed copy of ``edge`` that keeps its source position."""
    changed = dataclasses.replace(edge, **fields)
    changed.line, changed.col = edge.line, edge.col
    return changed


def replace_rule(rule: GotoRule, **fields: Any) -> GotoRule:
    """A changed copy of ``rule`` that keeps its source position."""
    changed = dataclasses.replace(rule, **fields)
    changed.line, changed.col = rule.line, rule.col
    return changed


def _renamed(name: Any, mapping: dict[str, str]) -> Any:
    return mapping.get(name, name) if isinstance(name, str) else name


def rename_in_edge(edge: Edge, mapping: dict[str, str]) -> Edge:
    """``edge`` with every node name in ``mapping`` replaced at once (a chain a->b, b->c never compounds)."""
    target = [_renamed(t, mapping) for t in edge.target] if isinstance(edge.target, list) else (
        _renamed(edge.target, mapping))
    changed = replace_edge(edge, source=_renamed(edge.source, mapping), target=target,
                           fan_in=_renamed(edge.fan_in, mapping))
    return changed if changed != edge else edge


def rename_in_goto(goto: Any, mapping: dict[str, str]) -> Any:
    """``goto`` with every target in ``mapping`` replaced at once (the same object when nothing changes)."""
    if isinstance(goto, str):
        return mapping.get(goto, goto)
    if isinstance(goto, list) and any(isinstance(r, GotoRule) and r.to in mapping for r in goto):
        return [replace_rule(r, to=mapping[r.to]) if isinstance(r, GotoRule) and r.to in mapping else r
                for r in goto]
    return goto


class RouteDraft:
    """Working copies of the edges list and of node gotos, turned into changes at the end.

    The route operations (drop, retarget, condition, plain) dispatch on the route's kind here and only here.
    """

    def __init__(self, workflow: Workflow, node_of=None) -> None:
        self.workflow = workflow
        self.edges: list[Edge] = list(workflow.edges)
        self._gotos: dict[int, tuple[Node, Any]] = {}
        self._node_of = node_of or workflow.node

    def node(self, name: str) -> Node:
        node = self._node_of(name)
        if node is None:
            raise KeyError(f"no node named {name!r}")
        return node

    def goto(self, node: Node) -> Any:
        entry = self._gotos.get(id(node))
        return entry[1] if entry else node.goto

    def set_goto(self, node: Node, goto: Any) -> None:
        self._gotos[id(node)] = (node, goto)

    def changes(self) -> list[Change]:
        out: list[Change] = []
        if len(self.edges) != len(self.workflow.edges) or any(
                a is not b for a, b in zip(self.edges, self.workflow.edges, strict=True)):
            out.append(EdgeList(list(self.workflow.edges), list(self.edges)))
        for node, goto in self._gotos.values():
            if goto is not node.goto:
                out.append(NodeAttr(node, "goto", node.goto, goto))
        return out

    def connect(self, source: Node, target: str) -> None:
        """A new unconditional route: a goto rule when the source uses goto, else a plain legacy edge. A bare
        ``goto: __end__`` (see :meth:`end_last_node`) is replaced: the node now goes on to ``target``."""
        goto = self.goto(source)
        if goto == END:
            self.set_goto(source, target)
        elif isinstance(goto, str):
            self.set_goto(source, [GotoRule(to=goto), GotoRule(to=target)])
        elif isinstance(goto, list):
            self.set_goto(source, [*goto, GotoRule(to=target)])
        else:
            self.edges.append(Edge(source=source.name, target=target))

    def end_last_node(self) -> None:
        """Before nodes are appended to the list: a last node that ends the flow only by being last gets an explicit
        ``goto: __end__``, or it would flow into the first appended node (a new node must not change the flow)."""
        nodes = self.workflow.nodes
        last = nodes[-1] if nodes else None
        if last is None or self.goto(last) is not None or implicit_next(last) is not None \
                or any(edge.source == last.name for edge in self.edges):
            return
        self.set_goto(last, END)

    def _replace_rule(self, route: Route, **fields: Any) -> None:
        node = self.node(route.source)
        rules = list(self.goto(node))
        rules[route.rule_index] = replace_rule(rules[route.rule_index], **fields)
        self.set_goto(node, rules)

    def drop(self, routes: Iterable[Route]) -> None:
        """Delete stored routes (implicit routes are not stored and stay)."""
        edges: set[int] = set()
        targets: dict[int, set[int]] = {}
        rules: dict[int, tuple[Node, set[int]]] = {}
        for route in routes:
            if route.kind is RouteKind.GOTO:
                self.set_goto(self.node(route.source), None)
            elif route.kind is RouteKind.RULE:
                node = self.node(route.source)
                rules.setdefault(id(node), (node, set()))[1].add(route.rule_index)
            elif route.kind is RouteKind.EDGE and route.target_index is None:
                edges.add(route.edge_index)
            elif route.kind is RouteKind.EDGE:
                targets.setdefault(route.edge_index, set()).add(route.target_index)
        for node, indexes in rules.values():
            goto = self.goto(node)
            if isinstance(goto, list):
                self.set_goto(node, [r for i, r in enumerate(goto) if i not in indexes] or None)
        kept = []
        for i, edge in enumerate(self.edges):
            if i in targets and isinstance(edge.target, list):
                left = [t for j, t in enumerate(edge.target) if j not in targets[i]]
                edge = replace_edge(edge, target=left) if left else None
            if edge is not None and i not in edges:
                kept.append(edge)
        self.edges = kept

    def retarget(self, route: Route, target: str) -> None:
        """Point a route at another node (an implicit next-in-list route becomes a stored one)."""
        if route.kind is RouteKind.GOTO:
            self.set_goto(self.node(route.source), target)
        elif route.kind is RouteKind.RULE:
            self._replace_rule(route, to=target)
        elif route.kind is RouteKind.EDGE:
            edge = self.edges[route.edge_index]
            if route.target_index is not None and isinstance(edge.target, list):
                targets = list(edge.target)
                targets[route.target_index] = target
                self.edges[route.edge_index] = replace_edge(edge, target=targets)
            else:
                self.edges[route.edge_index] = replace_edge(edge, target=target)
        elif route.kind is RouteKind.NEXT:
            self.connect(self.node(route.source), target)

    def set_condition(self, route: Route, condition: str | None) -> None:
        """Make a route conditional (``condition`` None: unconditional)."""
        if route.kind is RouteKind.GOTO and condition is not None:
            self.set_goto(self.node(route.source), [GotoRule(to=route.target, condition=condition)])
        elif route.kind is RouteKind.RULE:
            self._replace_rule(route, condition=condition)
        elif route.kind is RouteKind.EDGE:
            edge = self.edges[route.edge_index]
            self.edges[route.edge_index] = replace_edge(edge, condition=condition,
                                                        when=edge.when if condition is not None else None)
        elif route.kind is RouteKind.NEXT and condition is not None:
            self.edges.append(Edge(source=route.source, target=route.target, condition=condition))

    def make_plain(self, route: Route) -> None:
        """No condition, not parallel."""
        if route.kind is RouteKind.RULE:
            self._replace_rule(route, condition=None)
        elif route.kind is RouteKind.EDGE:
            self.edges[route.edge_index] = replace_edge(self.edges[route.edge_index], parallel=False, fan_in=None,
                                                        parallel_strategy=None, condition=None, when=None)

    def make_parallel(self, routes: list[Route], fan_in: str) -> None:
        """Parallel fork branches joining at ``fan_in``, with the edges to the fan-in new branches need."""
        self.drop([route for route in routes if route.kind is not RouteKind.EDGE])  # goto rules: in one go
        for route in routes:
            if route.kind is RouteKind.EDGE:
                self.edges[route.edge_index] = replace_edge(self.edges[route.edge_index], parallel=True,
                                                            fan_in=fan_in, condition=None, when=None)
            else:
                self.edges.append(Edge(source=route.source, target=route.target, parallel=True, fan_in=fan_in))
        for route in routes:
            branch = self._node_of(route.target)
            if branch is None or route.target == fan_in or branch.goto is not None:
                continue
            if not any(edge.source == route.target for edge in self.edges):  # TEA needs the join edge (FORMAT §5)
                self.edges.append(Edge(source=route.target, target=fan_in))

    def rename(self, mapping: dict[str, str]) -> None:
        """Every route naming a node in ``mapping`` follows it."""
        self.edges = [rename_in_edge(e, mapping) for e in self.edges]
        for node in self.workflow.nodes:
            goto = self.goto(node)
            renamed = rename_in_goto(goto, mapping)
            if renamed is not goto:
                self.set_goto(node, renamed)

    def drop_nodes(self, gone: set[str]) -> None:
        """Every route to or from a node in ``gone`` disappears; a fork joining at one loses its fan-in."""
        kept = []
        for edge in self.edges:
            if edge.source in gone:
                continue
            if isinstance(edge.target, list):
                targets = [t for t in edge.target if t not in gone]
                if not targets:
                    continue
                if len(targets) != len(edge.target):
                    edge = replace_edge(edge, target=targets)
            elif edge.target in gone:
                continue
            if edge.fan_in in gone:
                edge = replace_edge(edge, fan_in=None)
            kept.append(edge)
        self.edges = kept
        for node in self.workflow.nodes:
            if node.name in gone:
                continue
            goto = node.goto
            if isinstance(goto, str) and goto in gone:
                self.set_goto(node, None)
            elif isinstance(goto, list) and any(isinstance(r, GotoRule) and r.to in gone for r in goto):
                self.set_goto(node, [r for r in goto if not (isinstance(r, GotoRule) and r.to in gone)] or None)


# -- edits -------------------------------------------------------------------------------------------------
def new_node(workflow: Workflow, kind: str, name: str | None = None) -> Node:
    """A fresh node of a creatable kind (not yet in the workflow), with a free ``kind_N`` name by default."""
    action = kind[len(ACTION_KIND):] if kind.startswith(ACTION_KIND) else None  # e.g. action:llm.call
    name = name or unique_name(workflow.node_names, action.replace(".", "_") if action else kind, numbered=True)
    if action is not None:
        return Node(name=name, kind=ACTION, uses=action, with_args=starter_params(action))
    info = KINDS.get(kind)
    code = info.new_code if info is not None else None
    if kind == FAN_IN:
        return Node(name=name, kind=LUA, code=code, code_form=FORM_LANGUAGE, fan_in=True)
    if code is not None:
        return Node(name=name, kind=kind, code=code, code_form=FORM_LANGUAGE)
    if kind == ACTION:
        return Node(name=name, kind=ACTION, uses="", with_args={})
    return Node(name=name, kind=kind if info is not None else NOOP)


def as_list(value: Any) -> list:
    return list(value) if isinstance(value, list) else []


_BREAKPOINT_KEYS = ("interrupt_before", "interrupt_after")


class WorkflowEditor:
    """Builds the :class:`Edit` of each user action on one workflow; it never changes the workflow itself.

    Node names are looked up through an index that :meth:`forget_names` drops after the node list changed.
    """

    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow
        self._by_name: dict[str, Node] | None = None

    # -- lookups -------------------------------------------------------------------------------------------
    def node(self, name: str) -> Node | None:
        """The first node called ``name`` (constant time)."""
        if self._by_name is None:
            index: dict[str, Node] = {}
            for node in self.workflow.nodes:
                index.setdefault(node.name, node)
            self._by_name = index
        return self._by_name.get(name)

    def forget_names(self) -> None:
        self._by_name = None

    def require(self, name: str) -> Node:
        node = self.node(name)
        if node is None:
            raise KeyError(f"no node named {name!r}")
        return node

    def draft(self) -> RouteDraft:
        return RouteDraft(self.workflow, self.node)

    def positions(self, updates: dict[str, tuple[float, float]]) -> Positions:
        old = self.workflow.layout.positions
        new = dict(old)
        for name, pos in updates.items():
            new[name] = (float(pos[0]), float(pos[1]))
        return Positions(old, new, list(updates))

    def _config(self, rewrite) -> list[Change]:
        """The config change that rewrites the breakpoint lists with ``rewrite(list) -> list`` (if any)."""
        config = self.workflow.config
        if not isinstance(config, dict):
            return []
        new = dict(config)
        for key in _BREAKPOINT_KEYS:
            value = config.get(key)
            if isinstance(value, list):
                rewritten = rewrite(value)
                if rewritten != value:
                    new[key] = rewritten
        return [WorkflowAttr("config", config, new)] if new != config else []

    # -- nodes ---------------------------------------------------------------------------------------------
    def add_node(self, kind: str, pos: tuple[float, float], name: str | None = None) -> tuple[Edit, str]:
        if name is not None and (name in RESERVED_NAMES or self.node(name) is not None):
            raise ValueError(f"a node named {name!r} exists or the name is reserved")
        node = new_node(self.workflow, kind, name)
        draft = self.draft()
        draft.end_last_node()
        changes: list[Change] = [*draft.changes(), NodeInsert(len(self.workflow.nodes), node),
                                 self.positions({node.name: pos})]
        return Edit(f"Add {node.name}", changes), node.name

    def add_connected_node(self, kind: str, pos: tuple[float, float], source: str) -> tuple[Edit, str]:
        source_node = self.require(source)
        node = new_node(self.workflow, kind)
        draft = self.draft()
        draft.connect(source_node, node.name)
        draft.end_last_node()
        changes: list[Change] = [NodeInsert(len(self.workflow.nodes), node), self.positions({node.name: pos}),
                                 *draft.changes()]
        return Edit(f"Add {node.name} after {source}", changes), node.name

    def remove_nodes(self, names: Iterable[str]) -> Edit:
        """Remove nodes with every route that names them; undo restores them exactly (index, routes, position)."""
        wanted = set(names)
        doomed = [(i, n) for i, n in enumerate(self.workflow.nodes) if n.name in wanted]
        if not doomed:
            return Edit("", [])
        gone = {n.name for _, n in doomed}
        draft = self.draft()
        draft.drop_nodes(gone)
        changes: list[Change] = draft.changes()
        changes += self._config(lambda names: [v for v in names if v not in gone])
        positions = self.workflow.layout.positions
        if any(name in positions for name in gone):
            changes.append(Positions(positions, {k: v for k, v in positions.items() if k not in gone},
                                     [k for k in gone if k in positions]))
        changes += [NodeInsert(index, node, insert=False) for index, node in reversed(doomed)]
        label = doomed[0][1].name if len(doomed) == 1 else f"{len(doomed)} nodes"
        return Edit(f"Delete {label}", changes)

    def move_nodes(self, positions: dict[str, tuple[float, float]]) -> Edit:
        """Consecutive moves of the same nodes merge into one undo step."""
        current = self.workflow.layout.positions
        if all(tuple(current.get(n, (None, None))) == (float(p[0]), float(p[1])) for n, p in positions.items()):
            return Edit("", [])
        label = next(iter(positions)) if len(positions) == 1 else f"{len(positions)} nodes"
        return Edit(f"Move {label}", [self.positions(positions)], MOVE_ID, frozenset(positions))

    def rename_node(self, old: str, new: str) -> Edit:
        """Every goto, edge (from/to/fan_in, list targets), position, pin and breakpoint follows the new name."""
        node = self.require(old)
        new = new.strip() if isinstance(new, str) else new
        if not new or new in RESERVED_NAMES or self.node(new) is not None:
            raise ValueError(f"cannot rename {old!r} to {new!r}: the name is empty, reserved or taken")
        draft = self.draft()
        draft.rename({old: new})
        changes: list[Change] = [NodeAttr(node, "name", old, new), *draft.changes()]
        changes += self._config(lambda names: [new if v == old else v for v in names])
        positions = self.workflow.layout.positions
        if old in positions:
            changes.append(Positions(positions, {(new if k == old else k): v for k, v in positions.items()},
                                     [new]))
        pins = self.workflow.layout.pins
        if old in pins:  # the pin follows its node
            changes.append(Pins(dict(pins), {(new if k == old else k): v for k, v in pins.items()}, [new]))
        extra = self.workflow.layout.extra
        groups = groups_of(extra)
        renamed = renamed_in_groups(groups, {old: new})
        if renamed != groups:  # so does its place in a group frame
            changes.append(AnnotationsChange(extra, with_annotations(extra, groups=renamed)))
        return Edit(f"Rename {old} to {new}", changes)

    def set_node_code(self, name: str, code: str) -> Edit:
        """Consecutive typing in the same node merges into one undo step."""
        node = self.require(name)
        if node.code == code:
            return Edit("", [])
        return Edit(f"Edit code of {name}", [NodeAttr(node, "code", node.code, code)], CODE_ID, id(node))

    def set_node_kind(self, name: str, kind: str) -> Edit:
        """Between Lua, Python and Prolog the code is kept; a code node is written in the ``language:`` form; a node that is no
        longer an action loses ``uses``/``with``, and one that no longer runs code loses its code."""
        if kind not in SWITCHABLE_KINDS:
            raise ValueError(f"a node cannot be switched to kind {kind!r}")
        node = self.require(name)
        if node.kind == kind:
            return Edit("", [])
        runs_code = kind in CODE_KINDS
        wanted: dict[str, Any] = {
            "kind": kind,
            "code_form": FORM_LANGUAGE if runs_code else None,
            "code": (node.code if node.kind in CODE_KINDS and node.code else KINDS[kind].new_code)
            if runs_code else None,
            "uses": (node.uses if node.uses is not None else "") if kind == ACTION else None,
            "with_args": (node.with_args if node.with_args is not None else {}) if kind == ACTION else None,
        }
        changes: list[Change] = [NodeAttr(node, attr, getattr(node, attr), value)
                                 for attr, value in wanted.items() if getattr(node, attr) != value]
        return Edit(f"Make {name} a {kind_label(kind)} node", changes)

    def set_node_fields(self, name: str, **fields: Any) -> Edit:
        if "name" in fields:
            raise ValueError("use rename_node to change a name")
        node = self.require(name)
        changes: list[Change] = []
        for attr, value in fields.items():
            if not hasattr(node, attr):
                raise AttributeError(f"nodes have no field {attr!r}")
            if getattr(node, attr) != value:
                changes.append(NodeAttr(node, attr, getattr(node, attr), copy.deepcopy(value)))
        return Edit(f"Edit {name}", changes)

    def set_breakpoint(self, name: str, when: str, enabled: bool) -> Edit:
        """Pause a run before/after a node (written to config.interrupt_before/after)."""
        if when not in ("before", "after"):
            raise ValueError("when is 'before' or 'after'")
        node = self.require(name)
        key = f"interrupt_{when}"
        config = self.workflow.config if isinstance(self.workflow.config, dict) else None
        listed = as_list((config or {}).get(key))
        changes: list[Change] = []
        if enabled and name not in listed and node.interrupt != when and node.extra.get(key) is not True:
            changes.append(WorkflowAttr("config", self.workflow.config, {**(config or {}), key: [*listed, name]}))
        elif not enabled:
            if name in listed:
                changes.append(WorkflowAttr("config", self.workflow.config,
                                            {**(config or {}), key: [v for v in listed if v != name]}))
            if node.interrupt == when:
                changes.append(NodeAttr(node, "interrupt", node.interrupt, None))
            if key in node.extra:  # TEA's node-level `interrupt_after: true`
                changes.append(NodeAttr(node, "extra", node.extra, {k: v for k, v in node.extra.items() if k != key}))
        return Edit(f"{'Set' if enabled else 'Clear'} breakpoint {when} {name}", changes)

    def set_pin(self, name: str, output: Any) -> Edit:
        """Pin the node's output (the update runs use instead of running it); ``output`` is JSON-like."""
        self.require(name)
        old = self.workflow.layout.pins
        return Edit(f"Pin output of {name}", [Pins(dict(old), {**old, name: copy.deepcopy(output)}, [name])])

    def clear_pin(self, name: str) -> Edit:
        old = self.workflow.layout.pins
        if name not in old:
            return Edit("", [])
        return Edit(f"Unpin output of {name}", [Pins(dict(old), {k: v for k, v in old.items() if k != name}, [name])])

    # -- edges and routes ----------------------------------------------------------------------------------
    def edges(self, text: str, edges: list[Edge]) -> Edit:
        return Edit(text, [EdgeList(list(self.workflow.edges), edges)])

    def add_edge(self, edge: Edge) -> Edit:
        """Append a copy of ``edge`` to ``edges``."""
        return self.edges(f"Connect {edge.source}", [*self.workflow.edges, copy.deepcopy(edge)])

    def remove_edges(self, indexes: Iterable[int]) -> Edit:
        drop = set(indexes)
        if not drop:
            return Edit("", [])
        return self.edges("Delete routes", [e for i, e in enumerate(self.workflow.edges) if i not in drop])

    def set_edge(self, route: Route, edge: Edge) -> Edit:
        """Replace the ``edges`` entry that writes ``route`` (its place in the file stays)."""
        if route.edge_index is None:
            raise KeyError(f"route {route.id!r} is not written in edges")
        edges = list(self.workflow.edges)
        old = edges[route.edge_index]
        if old == edge:
            return Edit("", [])
        edges[route.edge_index] = new = copy.deepcopy(edge)
        new.line, new.col = old.line, old.col
        return self.edges("Edit route", edges)

    def connect(self, source: str, target: str) -> Edit:
        """A goto rule if the source uses goto, else a plain legacy edge."""
        draft = self.draft()
        draft.connect(self.require(source), target)
        return Edit(f"Connect {source} to {target}", draft.changes())

    def remove_routes(self, routes: Iterable[Route]) -> Edit:
        draft = self.draft()
        draft.drop(routes)
        return Edit("Delete routes", draft.changes())

    def reconnect_route(self, route: Route, end: str, node_name: str) -> Edit:
        """Move one end ("source" or "target") of a route to another node."""
        draft = self.draft()
        if end == "target":
            if route.target != node_name:
                draft.retarget(route, node_name)
        elif end == "source":
            if route.source == node_name:
                return Edit("", [])
            new_source = self.require(node_name)
            if route.kind is RouteKind.EDGE and route.target_index is None:
                draft.edges[route.edge_index] = replace_edge(draft.edges[route.edge_index], source=node_name)
            else:
                draft.drop([route])
                draft.connect(new_source, route.target)
        else:
            raise ValueError("end is 'source' or 'target'")
        return Edit(f"Reconnect {route.source} to {route.target}", draft.changes())

    def insert_node_on_route(self, name: str, route: Route) -> Edit:
        """Route a -> b becomes a -> name -> b."""
        node = self.require(name)
        if route.kind is RouteKind.ENTRY or name in (route.source, route.target):
            return Edit("", [])
        draft = self.draft()
        draft.retarget(route, name)
        draft.connect(node, route.target)
        return Edit(f"Insert {name}", draft.changes())

    def set_route_condition(self, route: Route, condition: str | None) -> Edit:
        draft = self.draft()
        draft.set_condition(route, condition or None)
        return Edit("Edit condition", draft.changes())

    def set_routes_parallel(self, routes: list[Route], fan_in: str) -> Edit:
        """Routes out of one node become the branches of one fork joining at ``fan_in`` (one edit)."""
        draft = self.draft()
        draft.make_parallel(routes, fan_in)
        return Edit("Make route parallel" if len(routes) == 1 else "Make routes parallel", draft.changes())

    def set_route_plain(self, route: Route) -> Edit:
        draft = self.draft()
        draft.make_plain(route)
        return Edit("Make route plain", draft.changes())

    # -- workflow fields and fragments ---------------------------------------------------------------------
    def set_workflow_fields(self, **fields: Any) -> Edit:
        changes: list[Change] = []
        for attr, value in fields.items():
            if attr in ("nodes", "edges", "layout", "path", "source") or not hasattr(self.workflow, attr):
                raise AttributeError(f"{attr!r} is not an editable workflow field")
            if getattr(self.workflow, attr) != value:
                changes.append(WorkflowAttr(attr, getattr(self.workflow, attr), copy.deepcopy(value)))
        return Edit("Edit workflow", changes)

    def paste_fragment(self, nodes: list[Node], edges: list[Edge], positions: dict[str, tuple[float, float]],
                       offset: tuple[float, float] = (0.0, 0.0)) -> tuple[Edit, list[str]]:
        """Add copied nodes and their edges; clashing names get a free name and their routes follow."""
        taken = set(self.workflow.node_names)
        mapping: dict[str, str] = {}
        fresh: list[Node] = []
        for node in nodes:
            new = copy.deepcopy(node)
            free = node.name and node.name not in taken and node.name not in RESERVED_NAMES
            new.name = node.name if free else unique_name(taken, node.name or "node", numbered=True)
            taken.add(new.name)
            if new.name != node.name:
                mapping[node.name] = new.name
            new.line = new.col = 0
            fresh.append(new)
        for new in fresh:
            new.goto = rename_in_goto(new.goto, mapping)
        new_edges = []
        for edge in edges:
            fresh_edge = rename_in_edge(copy.deepcopy(edge), mapping)
            fresh_edge.line = fresh_edge.col = 0
            new_edges.append(fresh_edge)
        start = len(self.workflow.nodes)
        draft = self.draft()
        draft.end_last_node()
        changes: list[Change] = [*draft.changes(), *(NodeInsert(start + i, node) for i, node in enumerate(fresh))]
        if new_edges:
            changes.append(EdgeList(list(self.workflow.edges), [*self.workflow.edges, *new_edges]))
        dx, dy = offset
        placed = {}
        for i, node in enumerate(nodes):
            pos = positions.get(node.name)
            placed[fresh[i].name] = (pos[0] + dx, pos[1] + dy) if pos is not None else (dx + 30.0 * i, dy)
        if placed:
            changes.append(self.positions(placed))
        return Edit(f"Paste {len(fresh)} node{'s' if len(fresh) != 1 else ''}", changes), [n.name for n in fresh]
