"""The canvas's right-click menu: what it offers depends on what is under the cursor.

On a node: rename, duplicate, delete, breakpoints, fan-in, pin/unpin its output. On a route: delete, make parallel / plain, edit the
condition. On empty canvas: add a node of each kind there, paste, fit, auto-layout. Every action is a document
edit (one undo step) or asks the view to hand over to the window (rename and condition editing use the inspector).
Commands that are not tied to the clicked point (duplicate, delete, breakpoints, fit, auto-layout) are the shared
actions of the window's :class:`ActionTable`, not copies of them. The builder returns the menu without showing it,
so it can be inspected and triggered directly.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF
from PySide6.QtWidgets import QMenu

from tea_studio.studio.actions import ActionTable, add_canvas_actions, add_menu_item
from tea_studio.studio.canvas.edge_item import EdgeItem, EdgeLabel
from tea_studio.studio.canvas.node_item import NodeItem
from tea_studio.workflow.model import CREATABLE_KINDS, START, kind_label
from tea_studio.workflow.routes import RouteKind, RouteStyle


class CanvasContextMenu:
    """Builds the context menu of a ``WorkflowView`` for a viewport position.

    ``actions`` is the table holding the canvas commands (the window's); a bare canvas makes its own on first use.
    """

    def __init__(self, view, actions: ActionTable | None = None) -> None:
        self.view = view
        self._actions = actions

    @property
    def actions(self) -> ActionTable:
        if self._actions is None:
            self._actions = ActionTable(self.view)
            add_canvas_actions(self._actions, self.view)
        return self._actions

    @property
    def scene(self):
        return self.view.workflow_scene

    @property
    def document(self):
        return self.scene.document

    def build(self, viewport_pos: QPoint) -> QMenu:
        """The menu for what is at ``viewport_pos`` (the clicked node or route becomes the selection)."""
        menu = QMenu(self.view)
        menu.setObjectName("canvasContextMenu")
        target = self._item_at(viewport_pos)
        if isinstance(target, NodeItem):
            self._node_menu(menu, target)
        elif isinstance(target, EdgeItem):
            self._route_menu(menu, target)
        elif (annotation := self.view.annotations.item_at(viewport_pos)) is not None:
            self._annotation_menu(menu, annotation)
        else:
            self._canvas_menu(menu, self.view.mapToScene(viewport_pos))
        return menu

    def _item_at(self, viewport_pos: QPoint):
        for item in self.view.items(viewport_pos):
            if isinstance(item, EdgeLabel):
                item = item.edge
            if isinstance(item, NodeItem | EdgeItem):
                return item
        return None

    # -- on a node -----------------------------------------------------------------------------------------
    def _node_menu(self, menu: QMenu, item: NodeItem) -> None:
        if not item.isSelected():
            self.scene.clearSelection()
            item.setSelected(True)
        name = item.name
        view, document, actions = self.view, self.document, self.actions
        add_menu_item(menu, "Rename…", "renameNode", lambda: view.rename_requested.emit(name), enabled=bool(name))
        actions.fill(menu, ["duplicate", "delete", "group", None])
        for when, on in zip(("before", "after"), document.breakpoints(name), strict=True):
            action = actions[f"breakpoint_{when}"]
            action.setChecked(on)  # shows the clicked node's state; triggering toggles the selection's
            menu.addAction(action)
        menu.addSeparator()
        add_menu_item(menu, "Fan-in (collects parallel results)", "makeFanIn",
                  lambda checked: document.set_node_fields(name, fan_in=bool(checked)), enabled=bool(name),
                  checked=bool(item.node.fan_in))
        plain = next((r.id for r in document.routes() if r.source == name and r.kind.stored
                      and len(document.plain_siblings(r.id)) > 1), None)
        if plain is not None:  # several plain routes out: only the first would ever run
            self._make_parallel_menu(menu, document.plain_siblings(plain))
        menu.addSeparator()
        add_menu_item(menu, "Pin Output…", "pinOutput", lambda: view.pin_requested.emit(name), enabled=bool(name))
        add_menu_item(menu, "Unpin Output", "unpinOutput", lambda: document.clear_pin(name),
                  enabled=bool(name) and document.pinned(name))
        actions.fill(menu, [None, "run_from_here", "rerun_node"])  # the window's run commands (none on a bare canvas)

    # -- on a route ----------------------------------------------------------------------------------------
    def _route_menu(self, menu: QMenu, item: EdgeItem) -> None:
        if not item.isSelected():
            self.scene.clearSelection()
            item.setSelected(True)
        route = item.route
        ref = route.id
        document, view = self.document, self.view
        stored = route.kind.stored
        add_menu_item(menu, "Delete Route", "deleteRoute", lambda: document.remove_routes([ref]), enabled=stored)
        self._make_parallel_menu(menu, document.plain_siblings(ref) if stored else [ref],
                                 route.kind is not RouteKind.ENTRY and route.source != START)
        add_menu_item(menu, "Make Plain", "makePlain", lambda: document.set_route_plain(ref),
                  enabled=route.kind in (RouteKind.RULE, RouteKind.EDGE)
                  and route.style in (RouteStyle.FORK, RouteStyle.CONDITIONAL))
        add_menu_item(menu, "Edit Condition…", "editCondition", lambda: view.condition_edit_requested.emit(ref),
                  enabled=route.kind is not RouteKind.ENTRY)

    # -- on a note or a group frame ------------------------------------------------------------------------
    def _annotation_menu(self, menu: QMenu, item) -> None:
        layer = self.view.annotations
        if not item.isSelected():
            layer.select([item])
        is_note = hasattr(item, "note")
        key = item.note.id if is_note else item.group.id
        setter = layer.set_note if is_note else layer.set_group
        add_menu_item(menu, "Edit Text…" if is_note else "Rename Group…", "editAnnotation", lambda: layer.edit(item))
        colours = menu.addMenu("Colour")
        colours.setObjectName("annotationColour")
        current = item.note.colour if is_note else item.group.colour
        for colour in layer.colours_for(item):
            add_menu_item(colours, colour.capitalize(), f"colour:{colour}",
                      lambda _checked, c=colour: setter(key, colour=c), checked=colour == current)
        menu.addSeparator()
        add_menu_item(menu, "Delete Note" if is_note else "Ungroup (Keep Nodes)", "deleteAnnotation",
                  layer.delete_selected)

    def _make_parallel_menu(self, menu: QMenu, route_ids: list[str], enabled: bool = True) -> None:
        """"Make Parallel, Joining At ▸": the routes (a node's plain routes that only look like a fork) become one
        fork's branches in one step, joining at the node chosen; where they all lead comes first."""
        document = self.document
        routes = [document.route(i) for i in route_ids]
        title = "Make Parallel, Joining At" if len(routes) == 1 else f"Make {len(routes)} Routes Parallel, Joining At"
        parallel = menu.addMenu(title)
        parallel.setObjectName("makeParallel")
        candidates = document.join_candidates(routes[0].source, [r.target for r in routes])
        parallel.setEnabled(enabled and bool(candidates))
        for fan_in in candidates:
            add_menu_item(parallel, fan_in, f"fanIn:{fan_in}",
                      lambda f=fan_in: document.set_routes_parallel(route_ids, f))

    # -- on empty canvas -----------------------------------------------------------------------------------
    def _canvas_menu(self, menu: QMenu, scene_pos: QPointF) -> None:
        view, scene = self.view, self.scene
        for kind in CREATABLE_KINDS:
            add_menu_item(menu, f"Add {kind_label(kind)} Node", f"add:{kind}", lambda k=kind: view.add_node_at(k, scene_pos))
        menu.addSeparator()
        add_menu_item(menu, "Paste Here", "paste", lambda: scene.paste(scene_pos))
        add_menu_item(menu, "Add Note Here", "addNote", lambda: view.annotations.add_note(scene_pos))
        menu.addSeparator()
        self.actions.fill(menu, ["fit", "layout"])
