"""EditableWorkflow: a Workflow plus its undo stack. Every edit is one undo command; changes are announced per item.

Nodes with an empty or duplicated name (a file with validation errors) are kept exactly as loaded: the document
never renames them behind the user's back. Views key their items by the node object, not by its name, so each
such node still gets its own item; name-based methods address the first node of that name.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from tea_studio.studio.commands import (
    CODE_ID,
    MOVE_ID,
    Change,
    ChangeEvents,
    EdgeList,
    NodeAttr,
    NodeInsert,
    Pins,
    Positions,
    WorkflowAttr,
    WorkflowCommand,
)
from tea_studio.workflow.model import (
    ACTION,
    DYNAMIC_PARALLEL,
    END,
    FORM_LANGUAGE,
    LUA,
    NOOP,
    PYTHON,
    RESERVED_NAMES,
    START,
    WHILE_LOOP,
    Edge,
    GotoRule,
    Node,
    Workflow,
    unique_name,
)

FAN_IN = "fan_in"  # a creatable kind: a Lua node that collects parallel results (fan_in: true)

# Kinds the canvas offers to create, with their label and the base of their generated names.
CREATABLE_KINDS: dict[str, tuple[str, str]] = {
    LUA: ("Lua", "lua"),
    PYTHON: ("Python", "python"),
    ACTION: ("Action", "action"),
    NOOP: ("No-op", "noop"),
    FAN_IN: ("Fan-in", "fan_in"),
}

# Kinds a node can be switched between in the inspector.
SWITCHABLE_KINDS = (LUA, PYTHON, NOOP, ACTION)

_NEW_CODE = {
    LUA: "return {}\n",
    PYTHON: "return {}\n",
    FAN_IN: "local results = state.parallel_results or {}\nreturn {count = #results}\n",
}

# Route kinds (RouteRef.kind) and how a route is drawn (Route.style).
GOTO, RULE, EDGE, IMPLICIT, ENTRY = "goto", "rule", "edge", "implicit", "entry"
SEQUENTIAL, CONDITIONAL, FORK, JOIN, CHAIN = "sequential", "conditional", "fork", "join", "implicit"


@dataclass(frozen=True)
class RouteRef:
    """Where a route lives in the model.

    ``goto``: ``node``'s ``goto: target`` string; ``rule``: rule ``rule_index`` of ``node``'s goto list;
    ``edge``: ``edges[edge_index]`` (``target_index`` picks one target of a ``to: [a, b]`` list);
    ``implicit``: ``node`` flows to the next node in the list; ``entry``: the first node is the entry.
    """

    kind: str
    node: str | None = None
    edge_index: int | None = None
    rule_index: int | None = None
    target_index: int | None = None


@dataclass(frozen=True)
class Route:
    """A route as the canvas draws it: a source, a target, a style and a label (a condition)."""

    ref: RouteRef
    source: str
    target: str
    style: str
    label: str = ""


def condition_label(edge: Edge) -> str:
    """The condition text of a legacy edge as the user reads it (an else-edge shows ``not (...)``)."""
    if edge.condition is not None:
        text = str(edge.condition)
        return f"not ({text})" if edge.when is False or str(edge.when).lower() == "false" else text
    if edge.when is not None:
        return str(edge.when)
    return ""


def fan_in_nodes(workflow: Workflow) -> dict[str, int]:
    """Fan-in node name -> how many parallel branches it waits for."""
    counts: dict[str, int] = {}
    for edge in workflow.edges:
        if edge.parallel and isinstance(edge.fan_in, str) and edge.fan_in:
            counts[edge.fan_in] = counts.get(edge.fan_in, 0) + len(edge.targets)
    return counts


def list_routes(workflow: Workflow) -> list[Route]:
    """Every route of the workflow in the order the canvas draws them (FORMAT.md §3, §5)."""
    routes: list[Route] = []
    fan_ins = fan_in_nodes(workflow)

    def plain_style(target: str) -> str:
        return JOIN if target in fan_ins else SEQUENTIAL

    with_edges = {edge.source for edge in workflow.edges}
    for node in workflow.nodes:
        if isinstance(node.goto, str):
            routes.append(Route(RouteRef(GOTO, node.name), node.name, node.goto, plain_style(node.goto)))
        elif isinstance(node.goto, list):
            for i, rule in enumerate(node.goto):
                if not isinstance(rule, GotoRule):
                    continue
                if rule.condition is None:
                    routes.append(Route(RouteRef(RULE, node.name, rule_index=i), node.name, rule.to,
                                        plain_style(rule.to)))
                else:
                    routes.append(Route(RouteRef(RULE, node.name, rule_index=i), node.name, rule.to, CONDITIONAL,
                                        str(rule.condition)))
    for i, edge in enumerate(workflow.edges):
        targets = edge.target if isinstance(edge.target, list) else [edge.target]
        for j, target in enumerate(targets):
            ref = RouteRef(EDGE, edge.source, edge_index=i, target_index=j if isinstance(edge.target, list) else None)
            if edge.parallel:
                routes.append(Route(ref, edge.source, str(target), FORK, ""))
            elif edge.is_conditional:
                routes.append(Route(ref, edge.source, str(target), CONDITIONAL, condition_label(edge)))
            else:
                routes.append(Route(ref, edge.source, str(target), plain_style(str(target))))
    nodes = workflow.nodes
    if nodes and START not in with_edges:
        routes.append(Route(RouteRef(ENTRY), START, nodes[0].name, CHAIN))
    for i, node in enumerate(nodes):
        if node.goto is None and node.name not in with_edges:
            target = nodes[i + 1].name if i + 1 < len(nodes) else END
            routes.append(Route(RouteRef(IMPLICIT, node.name), node.name, target, CHAIN))
    return routes


class _RouteDraft:
    """Working copies of the edges list and of node gotos, turned into changes at the end."""

    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow
        self.edges: list[Edge] = list(workflow.edges)
        self._gotos: dict[int, tuple[Node, Any]] = {}

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
        """A new unconditional route: a goto rule when the source uses goto, else a plain legacy edge."""
        goto = self.goto(source)
        if isinstance(goto, str):
            self.set_goto(source, [GotoRule(to=goto), GotoRule(to=target)])
        elif isinstance(goto, list):
            self.set_goto(source, [*goto, GotoRule(to=target)])
        else:
            self.edges.append(Edge(source=source.name, target=target))


def _renamed(name: Any, mapping: dict[str, str]) -> Any:
    return mapping.get(name, name) if isinstance(name, str) else name


def _rename_in_edge(edge: Edge, mapping: dict[str, str]) -> Edge:
    """``edge`` with every node name in ``mapping`` replaced at once (a chain a->b, b->c never compounds)."""
    target = [_renamed(t, mapping) for t in edge.target] if isinstance(edge.target, list) else (
        _renamed(edge.target, mapping))
    changed = dataclasses.replace(edge, source=_renamed(edge.source, mapping), target=target,
                                  fan_in=_renamed(edge.fan_in, mapping))
    changed.line, changed.col = edge.line, edge.col
    return changed if changed != edge else edge


def _replace_edge(edge: Edge, **fields: Any) -> Edge:
    changed = dataclasses.replace(edge, **fields)
    changed.line, changed.col = edge.line, edge.col
    return changed


def _rename_in_goto(goto: Any, mapping: dict[str, str]) -> Any:
    """``goto`` with every target in ``mapping`` replaced at once (the same object when nothing changes)."""
    if isinstance(goto, str):
        return mapping.get(goto, goto)
    if isinstance(goto, list) and any(isinstance(r, GotoRule) and r.to in mapping for r in goto):
        return [_replace_rule(r, to=mapping[r.to]) if isinstance(r, GotoRule) and r.to in mapping else r
                for r in goto]
    return goto


def _replace_rule(rule: GotoRule, **fields: Any) -> GotoRule:
    changed = dataclasses.replace(rule, **fields)
    changed.line, changed.col = rule.line, rule.col
    return changed


class EditableWorkflow(QObject):
    """The workflow being edited, its undo stack and its change signals (see the contracts for the API)."""

    node_added = Signal(str)
    node_removed = Signal(str)
    node_renamed = Signal(str, str)
    node_changed = Signal(str)
    node_moved = Signal(str)
    routes_changed = Signal()
    workflow_changed = Signal()
    settings_changed = Signal()
    reset = Signal()

    def __init__(self, workflow: Workflow, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.workflow = workflow
        self.undo_stack = QUndoStack(self)
        self._busy = False
        self._by_name: dict[str, Node] | None = None
        self._fallback: dict[str, tuple[float, float]] | None = None
        self.revision = 0  # grows with every change (edit, undo, redo, reset): cached results compare it
        self.workflow_changed.connect(self._next_revision)

    def _next_revision(self) -> None:
        self.revision += 1

    # -- reading -------------------------------------------------------------------------------------------
    @property
    def path(self) -> str | None:
        return self.workflow.path

    @path.setter
    def path(self, value: str | None) -> None:
        self.workflow.path = value

    def node(self, name: str) -> Node | None:
        """The first node called ``name`` (constant time)."""
        if self._by_name is None:
            index: dict[str, Node] = {}
            for node in self.workflow.nodes:
                index.setdefault(node.name, node)
            self._by_name = index
        return self._by_name.get(name)

    def _require(self, name: str) -> Node:
        node = self.node(name)
        if node is None:
            raise KeyError(f"no node named {name!r}")
        return node

    def position(self, name: str) -> tuple[float, float]:
        """The node's stored position, or a computed one (auto-layout) when the file has none."""
        stored = self.workflow.layout.positions.get(name)
        if stored is not None:
            return (float(stored[0]), float(stored[1]))
        if self._fallback is None:
            self._fallback = self._compute_fallback()
        return self._fallback.get(name, (0.0, 0.0))

    def has_position(self, name: str) -> bool:
        return name in self.workflow.layout.positions

    def _compute_fallback(self) -> dict[str, tuple[float, float]]:
        try:
            from tea_studio.workflow.layout import auto_layout

            placed = {k: (float(v[0]), float(v[1])) for k, v in auto_layout(self.workflow).items()}
        except Exception:  # noqa: BLE001 - a broken or missing layout must not stop the document opening
            placed = {}
        below = max((y for _, y in placed.values()), default=-140.0) + 140.0
        for node in self.workflow.nodes:  # nodes the layout leaves out (no name): a row below the others
            if node.name not in placed:
                placed[node.name] = (len(placed) % 10 * 260.0, below + len(placed) // 10 * 140.0)
        return placed

    def routes(self) -> list[Route]:
        return list_routes(self.workflow)

    def fan_in_counts(self) -> dict[str, int]:
        return fan_in_nodes(self.workflow)

    def breakpoints(self, name: str) -> tuple[bool, bool]:
        """(before, after): whether the run pauses before/after the node (config lists and node ``interrupt``)."""
        config = self.workflow.section("config")
        node = self.node(name)
        interrupt = node.interrupt if node else None
        before = name in _as_list(config.get("interrupt_before")) or interrupt == "before"
        after = name in _as_list(config.get("interrupt_after")) or interrupt == "after"
        return before, after

    # -- applying ------------------------------------------------------------------------------------------
    def _push(self, text: str, changes: list[Change], merge_id: int = -1, merge_key: Any = None) -> bool:
        if self._busy:
            raise RuntimeError("an edit was started while another one is being applied")
        if not changes:
            return False
        self.undo_stack.push(WorkflowCommand(self, text, changes, merge_id, merge_key))
        return True

    def _apply_changes(self, changes: list[Change], forward: bool) -> None:
        if self._busy:
            return  # refuses re-entrant redo/undo
        self._busy = True
        try:
            events = ChangeEvents()
            for change in changes:
                change.apply(self.workflow, forward, events)
            if events.nodes:
                self._by_name = None
            if events.nodes or events.routes:
                self._fallback = None
            for name in events.removed:
                self.node_removed.emit(name)
            for old, new in events.renamed:
                self.node_renamed.emit(old, new)
            for name in events.added:
                self.node_added.emit(name)
            for name in dict.fromkeys(events.changed):
                self.node_changed.emit(name)
            if events.config:
                for node in self.workflow.nodes:
                    self.node_changed.emit(node.name)
            for name in dict.fromkeys(events.moved):
                self.node_moved.emit(name)
            if events.routes:
                self.routes_changed.emit()
            if events.settings:
                self.settings_changed.emit()
            self.workflow_changed.emit()
        finally:
            self._busy = False

    def replace_workflow(self, workflow: Workflow) -> None:
        """Replace the whole document (a new file): clears the undo history and emits ``reset``."""
        self.undo_stack.clear()
        self.workflow = workflow
        self._by_name = None
        self._fallback = None
        self.reset.emit()
        self.workflow_changed.emit()

    def close_merging(self) -> None:
        """End the current merge run (a drag ended): the next move or typing starts a new undo step."""
        top = self.undo_stack.command(self.undo_stack.index() - 1)
        if isinstance(top, WorkflowCommand):
            top.close()

    # -- nodes ---------------------------------------------------------------------------------------------
    def new_node(self, kind: str, name: str | None = None) -> Node:
        """A fresh node of a creatable kind (not yet in the workflow)."""
        label_base = CREATABLE_KINDS.get(kind, (kind, kind))[1]
        name = name or unique_name(self.workflow.node_names, label_base, numbered=True)
        if kind == FAN_IN:
            return Node(name=name, kind=LUA, code=_NEW_CODE[FAN_IN], code_form=FORM_LANGUAGE, fan_in=True)
        if kind in (LUA, PYTHON):
            return Node(name=name, kind=kind, code=_NEW_CODE[kind], code_form=FORM_LANGUAGE)
        if kind == ACTION:
            return Node(name=name, kind=ACTION, uses="", with_args={})
        if kind in (WHILE_LOOP, DYNAMIC_PARALLEL):
            return Node(name=name, kind=kind)
        return Node(name=name, kind=NOOP)

    def add_node(self, kind: str, pos: tuple[float, float], name: str | None = None) -> str:
        """Append a node of ``kind`` at ``pos`` (a unique ``kind_N`` name unless ``name`` is given)."""
        if name is not None and (name in RESERVED_NAMES or self.node(name) is not None):
            raise ValueError(f"a node named {name!r} exists or the name is reserved")
        node = self.new_node(kind, name)
        changes: list[Change] = [NodeInsert(len(self.workflow.nodes), node)]
        changes.append(self._positions_change({node.name: pos}))
        self._push(f"Add {node.name}", changes)
        return node.name

    def _positions_change(self, updates: dict[str, tuple[float, float]]) -> Positions:
        old = self.workflow.layout.positions
        new = dict(old)
        for name, pos in updates.items():
            new[name] = (float(pos[0]), float(pos[1]))
        return Positions(old, new, list(updates))

    def remove_nodes(self, names: Iterable[str]) -> None:
        """Remove nodes with every route that names them; undo restores them exactly (index, routes, position)."""
        wanted = set(names)
        doomed = [(i, n) for i, n in enumerate(self.workflow.nodes) if n.name in wanted]
        if not doomed:
            return
        gone = {n.name for _, n in doomed}
        draft = _RouteDraft(self.workflow)
        kept_edges = []
        for edge in draft.edges:
            if edge.source in gone:
                continue
            if isinstance(edge.target, list):
                targets = [t for t in edge.target if t not in gone]
                if not targets:
                    continue
                if len(targets) != len(edge.target):
                    edge = _replace_edge(edge, target=targets)
            elif edge.target in gone:
                continue
            if edge.fan_in in gone:
                edge = _replace_edge(edge, fan_in=None)
            kept_edges.append(edge)
        draft.edges = kept_edges
        for node in self.workflow.nodes:
            if node.name in gone:
                continue
            goto = node.goto
            if isinstance(goto, str) and goto in gone:
                draft.set_goto(node, None)
            elif isinstance(goto, list) and any(isinstance(r, GotoRule) and r.to in gone for r in goto):
                rules = [r for r in goto if not (isinstance(r, GotoRule) and r.to in gone)]
                draft.set_goto(node, rules or None)
        changes: list[Change] = draft.changes()
        changes += self._config_without(gone)
        positions = self.workflow.layout.positions
        if any(name in positions for name in gone):
            changes.append(Positions(positions, {k: v for k, v in positions.items() if k not in gone},
                                     [k for k in gone if k in positions]))
        for index, node in reversed(doomed):
            changes.append(NodeInsert(index, node, insert=False))
        label = doomed[0][1].name if len(doomed) == 1 else f"{len(doomed)} nodes"
        self._push(f"Delete {label}", changes)

    def _config_without(self, gone: set[str]) -> list[Change]:
        config = self.workflow.config
        if not isinstance(config, dict):
            return []
        new = dict(config)
        for key in ("interrupt_before", "interrupt_after"):
            value = config.get(key)
            if isinstance(value, list) and any(v in gone for v in value):
                new[key] = [v for v in value if v not in gone]
        return [WorkflowAttr("config", config, new)] if new != config else []

    def move_nodes(self, positions: dict[str, tuple[float, float]]) -> None:
        """Move nodes; consecutive moves of the same nodes merge into one undo step (until close_merging)."""
        if not positions:
            return
        current = self.workflow.layout.positions
        if all(tuple(current.get(n, (None, None))) == (float(p[0]), float(p[1])) for n, p in positions.items()):
            return
        key = frozenset(positions)
        label = next(iter(positions)) if len(positions) == 1 else f"{len(positions)} nodes"
        self._push(f"Move {label}", [self._positions_change(positions)], MOVE_ID, key)

    def apply_layout(self, positions: dict[str, tuple[float, float]]) -> None:
        """Set many positions at once (auto-layout) as one undo step."""
        if positions:
            self._push("Auto-layout", [self._positions_change(positions)])

    def rename_node(self, old: str, new: str) -> None:
        """Rename a node; every goto, edge (from/to/fan_in, list targets), position and breakpoint follows."""
        if old == new:
            return
        node = self._require(old)
        new = new.strip() if isinstance(new, str) else new
        if not new or new in RESERVED_NAMES or self.node(new) is not None:
            raise ValueError(f"cannot rename {old!r} to {new!r}: the name is empty, reserved or taken")
        changes: list[Change] = [NodeAttr(node, "name", old, new)]
        changes += self._renamed_routes({old: new})
        positions = self.workflow.layout.positions
        if old in positions:
            changes.append(Positions(positions, {(new if k == old else k): v for k, v in positions.items()},
                                     [new]))
        self._push(f"Rename {old} to {new}", changes)

    def _renamed_routes(self, mapping: dict[str, str], nodes: list[Node] | None = None) -> list[Change]:
        draft = _RouteDraft(self.workflow)
        draft.edges = [_rename_in_edge(e, mapping) for e in draft.edges]
        for node in nodes if nodes is not None else self.workflow.nodes:
            goto = draft.goto(node)
            renamed = _rename_in_goto(goto, mapping)
            if renamed is not goto:
                draft.set_goto(node, renamed)
        changes = draft.changes()
        config = self.workflow.config
        if isinstance(config, dict):
            new_config = dict(config)
            for key in ("interrupt_before", "interrupt_after"):
                value = config.get(key)
                if isinstance(value, list) and any(v in mapping for v in value):
                    new_config[key] = [mapping.get(v, v) for v in value]
            if new_config != config:
                changes.append(WorkflowAttr("config", config, new_config))
        return changes

    def set_node_code(self, name: str, code: str) -> None:
        """Replace a node's code; consecutive typing in the same node merges into one undo step."""
        node = self._require(name)
        if node.code == code:
            return
        self._push(f"Edit code of {name}", [NodeAttr(node, "code", node.code, code)], CODE_ID, id(node))

    def set_node_kind(self, name: str, kind: str) -> None:
        """Switch a node to Lua, Python, No-op or Action as one undo step.

        Lua <-> Python keeps the code; a code node is written in the ``language:`` form; a node that is no
        longer an action loses ``uses``/``with``, and one that no longer runs code loses its code.
        """
        if kind not in SWITCHABLE_KINDS:
            raise ValueError(f"a node cannot be switched to kind {kind!r}")
        node = self._require(name)
        if node.kind == kind:
            return
        wanted: dict[str, Any] = {"kind": kind}
        if kind in (LUA, PYTHON):
            wanted["code_form"] = FORM_LANGUAGE
            wanted["code"] = node.code if node.kind in (LUA, PYTHON) and node.code else _NEW_CODE[kind]
        else:
            wanted["code_form"] = None
            wanted["code"] = None
        if kind == ACTION:
            wanted["uses"] = node.uses if node.uses is not None else ""
            wanted["with_args"] = node.with_args if node.with_args is not None else {}
        else:
            wanted["uses"] = None
            wanted["with_args"] = None
        changes: list[Change] = [NodeAttr(node, attr, getattr(node, attr), value)
                                 for attr, value in wanted.items() if getattr(node, attr) != value]
        label = CREATABLE_KINDS.get(kind, (kind,))[0]
        self._push(f"Make {name} a {label} node", changes)

    def add_connected_node(self, kind: str, pos: tuple[float, float], source: str) -> str:
        """Add a node of ``kind`` at ``pos`` and a route ``source`` -> it, as one undo step."""
        source_node = self._require(source)
        node = self.new_node(kind)
        draft = _RouteDraft(self.workflow)
        draft.connect(source_node, node.name)
        changes: list[Change] = [NodeInsert(len(self.workflow.nodes), node), self._positions_change({node.name: pos}),
                                 *draft.changes()]
        self._push(f"Add {node.name} after {source}", changes)
        return node.name

    def set_node_fields(self, name: str, **fields: Any) -> None:
        """Replace node fields (kind, code_form, uses, with_args, output, fan_in, interrupt, extra, goto)."""
        if "name" in fields:
            raise ValueError("use rename_node to change a name")
        node = self._require(name)
        changes: list[Change] = []
        for attr, value in fields.items():
            if not hasattr(node, attr):
                raise AttributeError(f"nodes have no field {attr!r}")
            if getattr(node, attr) != value:
                changes.append(NodeAttr(node, attr, getattr(node, attr), copy.deepcopy(value)))
        self._push(f"Edit {name}", changes)

    def set_goto(self, name: str, goto: str | list[GotoRule] | None) -> None:
        node = self._require(name)
        if node.goto != goto:
            self._push(f"Edit routes of {name}", [NodeAttr(node, "goto", node.goto, copy.deepcopy(goto))])

    def set_breakpoint(self, name: str, when: str, enabled: bool) -> None:
        """Pause a run before/after a node (written to config.interrupt_before/after)."""
        if when not in ("before", "after"):
            raise ValueError("when is 'before' or 'after'")
        node = self._require(name)
        key = f"interrupt_{when}"
        config = self.workflow.config if isinstance(self.workflow.config, dict) else None
        listed = _as_list((config or {}).get(key))
        changes: list[Change] = []
        if enabled and name not in listed and node.interrupt != when:
            new_config = dict(config or {})
            new_config[key] = [*listed, name]
            changes.append(WorkflowAttr("config", self.workflow.config, new_config))
        elif not enabled:
            if name in listed:
                new_config = dict(config or {})
                new_config[key] = [v for v in listed if v != name]
                changes.append(WorkflowAttr("config", self.workflow.config, new_config))
            if node.interrupt == when:
                changes.append(NodeAttr(node, "interrupt", node.interrupt, None))
        self._push(f"{'Set' if enabled else 'Clear'} breakpoint {when} {name}", changes)

    # -- pinned outputs ------------------------------------------------------------------------------------
    def pinned(self, name: str) -> bool:
        """Whether runs use a pinned output instead of running the node."""
        return name in self.workflow.layout.pins

    def set_pin(self, name: str, output: Any) -> None:
        """Pin the node's output (the update runs use instead of running it); ``output`` is JSON-like."""
        self._require(name)
        old = self.workflow.layout.pins
        self._push(f"Pin output of {name}", [Pins(dict(old), {**old, name: copy.deepcopy(output)}, [name])])

    def clear_pin(self, name: str) -> None:
        old = self.workflow.layout.pins
        if name in old:
            self._push(f"Unpin output of {name}",
                       [Pins(dict(old), {k: v for k, v in old.items() if k != name}, [name])])

    # -- edges ---------------------------------------------------------------------------------------------
    def add_edge(self, edge: Edge) -> int:
        edges = self.workflow.edges
        self._push(f"Connect {edge.source}", [EdgeList(list(edges), [*edges, copy.deepcopy(edge)])])
        return len(self.workflow.edges) - 1

    def remove_edges(self, indexes: Iterable[int]) -> None:
        drop = set(indexes)
        edges = self.workflow.edges
        if drop:
            self._push("Delete routes", [EdgeList(list(edges), [e for i, e in enumerate(edges) if i not in drop])])

    def set_edge(self, index: int, edge: Edge) -> None:
        edges = list(self.workflow.edges)
        if edges[index] != edge:
            new = copy.deepcopy(edge)
            new.line, new.col = edges[index].line, edges[index].col
            edges[index] = new
            self._push("Edit route", [EdgeList(list(self.workflow.edges), edges)])

    # -- routes as the canvas sees them --------------------------------------------------------------------
    def connect(self, source: str, target: str) -> RouteRef | None:
        """A new route source -> target: a goto rule if the source uses goto, else a plain legacy edge."""
        node = self._require(source)
        draft = _RouteDraft(self.workflow)
        draft.connect(node, target)
        if not self._push(f"Connect {source} to {target}", draft.changes()):
            return None
        if isinstance(node.goto, list):
            return RouteRef(RULE, source, rule_index=len(node.goto) - 1)
        return RouteRef(EDGE, source, edge_index=len(self.workflow.edges) - 1)

    def route(self, ref: RouteRef) -> Route | None:
        """The route a reference points at (None when it no longer exists)."""
        for route in self.routes():
            if route.ref == ref:
                return route
        return None

    def _drop_route(self, draft: _RouteDraft, ref: RouteRef, dropped_edges: set[int],
                    dropped_targets: dict[int, set[int]], dropped_rules: dict[int, tuple[Node, set[int]]]) -> None:
        if ref.kind == GOTO and ref.node is not None:
            draft.set_goto(self._require(ref.node), None)
        elif ref.kind == RULE and ref.node is not None and ref.rule_index is not None:
            node = self._require(ref.node)
            dropped_rules.setdefault(id(node), (node, set()))[1].add(ref.rule_index)
        elif ref.kind == EDGE and ref.edge_index is not None:
            if ref.target_index is None:
                dropped_edges.add(ref.edge_index)
            else:
                dropped_targets.setdefault(ref.edge_index, set()).add(ref.target_index)

    def _routes_without(self, refs: Iterable[RouteRef]) -> _RouteDraft:
        draft = _RouteDraft(self.workflow)
        dropped_edges: set[int] = set()
        dropped_targets: dict[int, set[int]] = {}
        dropped_rules: dict[int, tuple[Node, set[int]]] = {}
        for ref in refs:
            self._drop_route(draft, ref, dropped_edges, dropped_targets, dropped_rules)
        for node, indexes in dropped_rules.values():
            goto = draft.goto(node)
            if isinstance(goto, list):
                rules = [r for i, r in enumerate(goto) if i not in indexes]
                draft.set_goto(node, rules or None)
        edges = []
        for i, edge in enumerate(draft.edges):
            if i in dropped_edges:
                continue
            if i in dropped_targets and isinstance(edge.target, list):
                targets = [t for j, t in enumerate(edge.target) if j not in dropped_targets[i]]
                if not targets:
                    continue
                edge = _replace_edge(edge, target=targets)
            edges.append(edge)
        draft.edges = edges
        return draft

    def remove_routes(self, refs: Iterable[RouteRef]) -> None:
        """Delete routes (implicit next-in-list routes are not stored and cannot be deleted)."""
        draft = self._routes_without(refs)
        self._push("Delete routes", draft.changes())

    def _retarget(self, draft: _RouteDraft, ref: RouteRef, target: str) -> None:
        """Point an existing route at a new target inside a draft."""
        if ref.kind == GOTO and ref.node is not None:
            draft.set_goto(self._require(ref.node), target)
        elif ref.kind == RULE and ref.node is not None and ref.rule_index is not None:
            node = self._require(ref.node)
            rules = list(draft.goto(node))
            rules[ref.rule_index] = _replace_rule(rules[ref.rule_index], to=target)
            draft.set_goto(node, rules)
        elif ref.kind == EDGE and ref.edge_index is not None:
            edge = draft.edges[ref.edge_index]
            if ref.target_index is not None and isinstance(edge.target, list):
                targets = list(edge.target)
                targets[ref.target_index] = target
                draft.edges[ref.edge_index] = _replace_edge(edge, target=targets)
            else:
                draft.edges[ref.edge_index] = _replace_edge(edge, target=target)
        elif ref.kind == IMPLICIT and ref.node is not None:
            draft.connect(self._require(ref.node), target)

    def reconnect_route(self, ref: RouteRef, end: str, node_name: str) -> None:
        """Move one end ("source" or "target") of a route to another node, as one undo step."""
        route = self.route(ref)
        if route is None:
            raise KeyError(f"no route {ref}")
        draft = _RouteDraft(self.workflow)
        if end == "target":
            if route.target == node_name:
                return
            self._retarget(draft, ref, node_name)
        elif end == "source":
            if route.source == node_name:
                return
            new_source = self._require(node_name)
            if ref.kind == EDGE and ref.edge_index is not None and ref.target_index is None:
                draft.edges[ref.edge_index] = _replace_edge(draft.edges[ref.edge_index], source=node_name)
            else:
                draft = self._routes_without([ref])
                draft.connect(new_source, route.target)
        else:
            raise ValueError("end is 'source' or 'target'")
        self._push(f"Reconnect {route.source} to {route.target}", draft.changes())

    def insert_node_on_route(self, name: str, ref: RouteRef) -> bool:
        """Route a -> b becomes a -> name -> b (one undo step)."""
        route = self.route(ref)
        node = self._require(name)
        if route is None or ref.kind == ENTRY or name in (route.source, route.target):
            return False
        draft = _RouteDraft(self.workflow)
        self._retarget(draft, ref, name)
        draft.connect(node, route.target)
        return self._push(f"Insert {name}", draft.changes())

    def set_route_condition(self, ref: RouteRef, condition: str | None) -> None:
        """Make a route conditional (or unconditional with an empty condition)."""
        condition = condition or None
        route = self.route(ref)
        if route is None:
            raise KeyError(f"no route {ref}")
        draft = _RouteDraft(self.workflow)
        if ref.kind == GOTO and ref.node is not None:
            if condition is not None:
                draft.set_goto(self._require(ref.node), [GotoRule(to=route.target, condition=condition)])
        elif ref.kind == RULE and ref.node is not None and ref.rule_index is not None:
            node = self._require(ref.node)
            rules = list(node.goto)
            rules[ref.rule_index] = _replace_rule(rules[ref.rule_index], condition=condition)
            draft.set_goto(node, rules)
        elif ref.kind == EDGE and ref.edge_index is not None:
            edge = draft.edges[ref.edge_index]
            draft.edges[ref.edge_index] = _replace_edge(edge, condition=condition,
                                                        when=edge.when if condition is not None else None)
        elif ref.kind == IMPLICIT and ref.node is not None and condition is not None:
            draft.edges.append(Edge(source=ref.node, target=route.target, condition=condition))
        self._push("Edit condition", draft.changes())

    def set_route_parallel(self, ref: RouteRef, fan_in: str) -> None:
        """Make a route a parallel fork branch joining at ``fan_in``."""
        route = self.route(ref)
        if route is None:
            raise KeyError(f"no route {ref}")
        if ref.kind == EDGE and ref.edge_index is not None:
            draft = _RouteDraft(self.workflow)
            edge = draft.edges[ref.edge_index]
            draft.edges[ref.edge_index] = _replace_edge(edge, parallel=True, fan_in=fan_in, condition=None,
                                                        when=None)
        else:
            draft = self._routes_without([ref])
            draft.edges.append(Edge(source=route.source, target=route.target, parallel=True, fan_in=fan_in))
        self._join_branch(draft, route.target, fan_in)
        self._push("Make route parallel", draft.changes())

    def _join_branch(self, draft: _RouteDraft, branch: str, fan_in: str) -> None:
        """Give a new branch that leads nowhere yet the explicit edge to its fan-in that TEA needs (FORMAT §5)."""
        node = self.workflow.node(branch)
        if node is None or branch == fan_in or node.goto is not None:
            return
        if any(edge.source == branch for edge in draft.edges):
            return
        draft.edges.append(Edge(source=branch, target=fan_in))

    def set_route_plain(self, ref: RouteRef) -> None:
        """Make a route a plain unconditional route (no condition, not parallel)."""
        route = self.route(ref)
        if route is None:
            raise KeyError(f"no route {ref}")
        draft = _RouteDraft(self.workflow)
        if ref.kind == RULE and ref.node is not None and ref.rule_index is not None:
            node = self._require(ref.node)
            rules = list(node.goto)
            rules[ref.rule_index] = _replace_rule(rules[ref.rule_index], condition=None)
            draft.set_goto(node, rules)
        elif ref.kind == EDGE and ref.edge_index is not None:
            edge = draft.edges[ref.edge_index]
            draft.edges[ref.edge_index] = _replace_edge(edge, parallel=False, fan_in=None, parallel_strategy=None,
                                                        condition=None, when=None)
        self._push("Make route plain", draft.changes())

    # -- workflow fields and fragments ---------------------------------------------------------------------
    def set_workflow_fields(self, **fields: Any) -> None:
        """Replace top-level fields (name, description, variables, settings, state_schema, initial_state, ...)."""
        changes: list[Change] = []
        for attr, value in fields.items():
            if attr in ("nodes", "edges", "layout", "path", "source") or not hasattr(self.workflow, attr):
                raise AttributeError(f"{attr!r} is not an editable workflow field")
            if getattr(self.workflow, attr) != value:
                changes.append(WorkflowAttr(attr, getattr(self.workflow, attr), copy.deepcopy(value)))
        self._push("Edit workflow", changes)

    def paste_fragment(self, nodes: list[Node], edges: list[Edge], positions: dict[str, tuple[float, float]],
                       offset: tuple[float, float] = (0.0, 0.0)) -> list[str]:
        """Add copied nodes and their edges; clashing names get a free name and their routes follow."""
        taken = set(self.workflow.node_names)
        mapping: dict[str, str] = {}
        fresh: list[Node] = []
        for node in nodes:
            new = copy.deepcopy(node)
            name = node.name if node.name and node.name not in taken and node.name not in RESERVED_NAMES \
                else unique_name(taken, node.name or "node", numbered=True)
            taken.add(name)
            if name != node.name:
                mapping[node.name] = name
            new.name = name
            new.line = new.col = 0
            fresh.append(new)
        for new in fresh:
            new.goto = _rename_in_goto(new.goto, mapping)
        new_edges = []
        for edge in edges:
            fresh_edge = _rename_in_edge(copy.deepcopy(edge), mapping)
            fresh_edge.line = fresh_edge.col = 0
            new_edges.append(fresh_edge)
        start = len(self.workflow.nodes)
        changes: list[Change] = [NodeInsert(start + i, node) for i, node in enumerate(fresh)]
        if new_edges:
            changes.append(EdgeList(list(self.workflow.edges), [*self.workflow.edges, *new_edges]))
        dx, dy = offset
        placed = {}
        for i, node in enumerate(nodes):
            pos = positions.get(node.name)
            placed[fresh[i].name] = (pos[0] + dx, pos[1] + dy) if pos is not None else (dx + 30.0 * i, dy)
        if placed:
            changes.append(self._positions_change(placed))
        self._push(f"Paste {len(fresh)} node{'s' if len(fresh) != 1 else ''}", changes)
        return [node.name for node in fresh]


def _as_list(value: Any) -> list:
    return list(value) if isinstance(value, list) else []
