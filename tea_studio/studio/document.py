"""EditableWorkflow: a Workflow plus its undo stack. Every edit is one undo command; changes are announced per item.

What an edit changes is built without Qt by :class:`~tea_studio.workflow.edits.WorkflowEditor`; this class only
pushes it on the undo stack and turns what it touched into signals. Routes are addressed by their stable id
(:mod:`tea_studio.workflow.routes`); ``routes_changed`` carries the ids of the routes an edit added, removed or
redrew, so views update only those.

Nodes with an empty or duplicated name (a file with validation errors) are kept exactly as loaded: the document
never renames them behind the user's back. Views key their items by the node object, not by its name, so each
such node still gets its own item; name-based methods address the first node of that name.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from tea_studio.studio.commands import WorkflowCommand
from tea_studio.workflow.edits import Change, Edit, WorkflowEditor, apply_changes
from tea_studio.workflow.model import END, START, Edge, GotoRule, Node, Workflow
from tea_studio.workflow.routes import Route, RouteStyle, fan_in_counts, flow_targets, list_routes


class EditableWorkflow(QObject):
    """The workflow being edited, its undo stack and its change signals."""

    node_added = Signal(str)
    node_removed = Signal(str)
    node_renamed = Signal(str, str)
    node_changed = Signal(str)
    node_moved = Signal(str)
    routes_changed = Signal(list)  # ids of the routes added, removed or redrawn by one applied edit
    workflow_changed = Signal()
    settings_changed = Signal()
    reset = Signal()

    def __init__(self, workflow: Workflow, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self._busy = False
        self._set_workflow(workflow)
        self.revision = 0  # grows with every change (edit, undo, redo, reset): cached results compare it
        self.workflow_changed.connect(self._next_revision)

    def _set_workflow(self, workflow: Workflow) -> None:
        self.workflow = workflow
        self.editor = WorkflowEditor(workflow)
        self._fallback: dict[str, tuple[float, float]] | None = None
        self._routes: dict[str, Route] = {route.id: route for route in list_routes(workflow)}
        self._interrupts: tuple[int, tuple[frozenset[str], frozenset[str]]] | None = None

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
        return self.editor.node(name)

    def position(self, name: str) -> tuple[float, float]:
        """The node's stored position, or a computed one (auto-layout) when the file has none."""
        stored = self.workflow.layout.positions.get(name)
        if stored is not None:
            return (float(stored[0]), float(stored[1]))
        if self._fallback is None:
            self._fallback = self._compute_fallback()
        return self._fallback.get(name, (0.0, 0.0))

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
        """Every route in drawing order."""
        return list(self._routes.values())

    def route(self, route_id: str) -> Route | None:
        """The route with this id as it is now (None when it no longer exists)."""
        return self._routes.get(route_id)

    def edge_entry(self, route_id: str) -> Edge | None:
        """The ``edges`` entry that writes route ``route_id`` (None for a goto or implicit route, or a gone one)."""
        route = self._routes.get(route_id)
        return None if route is None or route.edge_index is None else self.workflow.edges[route.edge_index]

    def _existing(self, route_id: str) -> Route:
        route = self._routes.get(route_id)
        if route is None:
            raise KeyError(f"no route {route_id!r}")
        return route

    def fan_in_counts(self) -> dict[str, int]:
        return fan_in_counts(self.workflow)

    def breakpoints(self, name: str) -> tuple[bool, bool]:
        """(before, after): whether the run pauses before/after the node (:meth:`Workflow.interrupts`, read once per
        revision: every node the canvas paints asks, and reading it walks every node)."""
        cached = self._interrupts
        if cached is None or cached[0] != self.revision:
            cached = self._interrupts = (self.revision, self.workflow.interrupts())
        before, after = cached[1]
        return name in before, name in after

    # -- applying ------------------------------------------------------------------------------------------
    def push(self, edit: Edit) -> bool:
        """Apply one edit as one undo step (False when it changes nothing). Studio tools that build their own
        changes (notes and frames) push them here too."""
        if self._busy:
            raise RuntimeError("an edit was started while another one is being applied")
        if not edit.changes:
            return False
        self.undo_stack.push(WorkflowCommand(self, edit))
        return True

    def _apply_changes(self, changes: list[Change], forward: bool) -> None:
        if self._busy:
            return  # refuses re-entrant redo/undo
        self._busy = True
        try:
            events = apply_changes(self.workflow, changes, forward)
            if events.nodes:
                self.editor.forget_names()
            if events.nodes or events.routes:
                self._fallback = None
            self._announce_nodes(events)
            if events.routes:
                changed = self._relist_routes()
                if changed:
                    self.routes_changed.emit(changed)
            if events.settings:
                self.settings_changed.emit()
            self.workflow_changed.emit()
        finally:
            self._busy = False

    def _announce_nodes(self, events) -> None:
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

    def _relist_routes(self) -> list[str]:
        """List the routes again; return the ids of those removed, redrawn or added."""
        old = self._routes
        self._routes = new = {route.id: route for route in list_routes(self.workflow)}
        return [i for i, route in old.items() if new.get(i) != route] + [i for i in new if i not in old]

    def replace_workflow(self, workflow: Workflow) -> None:
        """Replace the whole document (a new file): clears the undo history and emits ``reset``."""
        self.undo_stack.clear()
        self._set_workflow(workflow)
        self.reset.emit()
        self.workflow_changed.emit()

    def close_merging(self) -> None:
        """End the current merge run (a drag ended): the next move or typing starts a new undo step."""
        top = self.undo_stack.command(self.undo_stack.index() - 1)
        if isinstance(top, WorkflowCommand):
            top.close()

    # -- nodes ---------------------------------------------------------------------------------------------
    def add_node(self, kind: str, pos: tuple[float, float], name: str | None = None) -> str:
        """Append a node of ``kind`` at ``pos`` (a unique ``kind_N`` name unless ``name`` is given)."""
        edit, name = self.editor.add_node(kind, pos, name)
        self.push(edit)
        return name

    def add_connected_node(self, kind: str, pos: tuple[float, float], source: str) -> str:
        """Add a node of ``kind`` at ``pos`` and a route ``source`` -> it, as one undo step."""
        edit, name = self.editor.add_connected_node(kind, pos, source)
        self.push(edit)
        return name

    def remove_nodes(self, names: Iterable[str]) -> None:
        """Remove nodes with every route that names them; undo restores them exactly (index, routes, position)."""
        self.push(self.editor.remove_nodes(names))

    def move_nodes(self, positions: dict[str, tuple[float, float]]) -> None:
        """Move nodes; consecutive moves of the same nodes merge into one undo step (until close_merging)."""
        if positions:
            self.push(self.editor.move_nodes(positions))

    def apply_layout(self, positions: dict[str, tuple[float, float]]) -> None:
        """Set many positions at once (auto-layout) as one undo step."""
        if positions:
            self.push(Edit("Auto-layout", [self.editor.positions(positions)]))

    def rename_node(self, old: str, new: str) -> None:
        """Rename a node; every goto, edge (from/to/fan_in, list targets), position, pin and breakpoint follows."""
        if old != new:
            self.push(self.editor.rename_node(old, new))

    def set_node_code(self, name: str, code: str) -> None:
        """Replace a node's code; consecutive typing in the same node merges into one undo step."""
        self.push(self.editor.set_node_code(name, code))

    def set_node_kind(self, name: str, kind: str) -> None:
        """Switch a node to Lua, Python, No-op or Action as one undo step (see ``WorkflowEditor``)."""
        self.push(self.editor.set_node_kind(name, kind))

    def set_node_fields(self, name: str, **fields: Any) -> None:
        """Replace node fields (kind, code_form, uses, with_args, output, fan_in, interrupt, extra, goto)."""
        self.push(self.editor.set_node_fields(name, **fields))

    def set_goto(self, name: str, goto: str | list[GotoRule] | None) -> None:
        edit = self.editor.set_node_fields(name, goto=goto)
        edit.text = f"Edit routes of {name}"
        self.push(edit)

    def set_breakpoint(self, name: str, when: str, enabled: bool) -> None:
        """Pause a run before/after a node (written to config.interrupt_before/after)."""
        self.push(self.editor.set_breakpoint(name, when, enabled))

    # -- pinned outputs ------------------------------------------------------------------------------------
    def pinned(self, name: str) -> bool:
        """Whether runs use a pinned output instead of running the node."""
        return name in self.workflow.layout.pins

    def set_pin(self, name: str, output: Any) -> None:
        """Pin the node's output (the update runs use instead of running it); ``output`` is JSON-like."""
        self.push(self.editor.set_pin(name, output))

    def clear_pin(self, name: str) -> None:
        self.push(self.editor.clear_pin(name))

    # -- edges ---------------------------------------------------------------------------------------------
    def add_edge(self, edge: Edge) -> int:
        self.push(self.editor.add_edge(edge))
        return len(self.workflow.edges) - 1

    def remove_edges(self, indexes: Iterable[int]) -> None:
        self.push(self.editor.remove_edges(indexes))

    def set_edge(self, route_id: str, edge: Edge) -> None:
        """Replace the ``edges`` entry that writes route ``route_id`` (one undo step)."""
        self.push(self.editor.set_edge(self._existing(route_id), edge))

    # -- routes, addressed by id ---------------------------------------------------------------------------
    def connect(self, source: str, target: str) -> str | None:
        """A new route source -> target (a goto rule if the source uses goto, else a plain legacy edge); its id."""
        before = set(self._routes)
        if not self.push(self.editor.connect(source, target)):
            return None
        added = [r.id for r in self._routes.values() if r.id not in before and (r.source, r.target) == (source, target)]
        return added[-1] if added else None

    def remove_routes(self, route_ids: Iterable[str]) -> None:
        """Delete routes (implicit next-in-list routes are not stored and cannot be deleted)."""
        self.push(self.editor.remove_routes([self._routes[i] for i in route_ids if i in self._routes]))

    def reconnect_route(self, route_id: str, end: str, node_name: str) -> None:
        """Move one end ("source" or "target") of a route to another node, as one undo step."""
        self.push(self.editor.reconnect_route(self._existing(route_id), end, node_name))

    def insert_node_on_route(self, name: str, route_id: str,
                             positions: dict[str, tuple[float, float]] | None = None) -> bool:
        """Route a -> b becomes a -> name -> b (one undo step, with the moves in ``positions`` that make room)."""
        route = self.route(route_id)
        if route is None:
            return False
        edit = self.editor.insert_node_on_route(name, route)
        if edit.changes and positions:
            edit.changes.append(self.editor.positions(positions))
        return self.push(edit)

    def set_route_condition(self, route_id: str, condition: str | None) -> None:
        """Make a route conditional (or unconditional with an empty condition)."""
        self.push(self.editor.set_route_condition(self._existing(route_id), condition))

    def set_routes_parallel(self, route_ids: Iterable[str], fan_in: str) -> None:
        """Make routes out of one node the parallel branches of one fork joining at ``fan_in`` (one undo step)."""
        self.push(self.editor.set_routes_parallel([self._existing(i) for i in route_ids], fan_in))

    def plain_siblings(self, route_id: str) -> list[str]:
        """The route and the other plain unconditional routes out of its node: the ones that only look like a fork
        (``MULTIPLE_UNCONDITIONAL_ROUTES``), which "Make Parallel" turns into one."""
        route = self._existing(route_id)
        plain = (RouteStyle.SEQUENTIAL, RouteStyle.JOIN)
        if route.style not in plain:
            return [route_id]
        return [r.id for r in self._routes.values() if r.source == route.source and r.kind.stored
                and r.style in plain and r.target != END] or [route_id]

    def join_candidates(self, source: str, targets: Iterable[str]) -> list[str]:
        """Nodes that branches from ``source`` to ``targets`` could join at, best first: where every branch leads
        (nearest first, fan-in nodes before others), then the other fan-in nodes, then the rest. Never the fork
        or a node it routes to (a branch)."""
        targets = list(targets)
        ahead = flow_targets(self.workflow)
        reach: list[dict[str, int]] = []
        for start in targets:
            seen, queue = {start: 0}, [start]
            for name in queue:
                for nxt in ahead.get(name, ()):
                    if nxt not in seen and nxt != source:
                        seen[nxt] = seen[name] + 1
                        queue.append(nxt)
            reach.append(seen)
        excluded = {source, *targets, START, END, *(r.target for r in self._routes.values() if r.source == source)}
        joins = set(self.fan_in_counts())
        fan_ins = [n.name for n in self.workflow.nodes if n.name and (n.fan_in or n.name in joins)]
        common = [name for name in reach[0] if name not in excluded and all(name in r for r in reach)] \
            if reach else []
        common.sort(key=lambda name: (name not in fan_ins, sum(r[name] for r in reach)))
        rest = [n.name for n in self.workflow.nodes if n.name and n.name not in excluded and n.name not in common]
        return common + [n for n in rest if n in fan_ins] + [n for n in rest if n not in fan_ins]

    def set_route_plain(self, route_id: str) -> None:
        """Make a route a plain unconditional route (no condition, not parallel)."""
        self.push(self.editor.set_route_plain(self._existing(route_id)))

    # -- workflow fields and fragments ---------------------------------------------------------------------
    def set_workflow_fields(self, **fields: Any) -> None:
        """Replace top-level fields (name, description, variables, settings, state_schema, initial_state, ...)."""
        self.push(self.editor.set_workflow_fields(**fields))

    def paste_fragment(self, nodes: list[Node], edges: list[Edge], positions: dict[str, tuple[float, float]],
                       offset: tuple[float, float] = (0.0, 0.0)) -> list[str]:
        """Add copied nodes and their edges; clashing names get a free name and their routes follow."""
        edit, names = self.editor.paste_fragment(nodes, edges, positions, offset)
        self.push(edit)
        return names
