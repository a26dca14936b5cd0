"""WorkflowScene: mirrors the document's change signals into node and route items; it owns no workflow data.

Node items are keyed by the model node object (so nodes with an empty or a duplicated name, which a file with
validation errors may hold, each keep their own item); name lookups go through the document's name index.
"""

from __future__ import annotations

from collections import Counter

from PySide6.QtCore import QPointF, QRectF, Signal
from PySide6.QtWidgets import QGraphicsScene

from tea_studio.studio.canvas.edge_item import EdgeItem
from tea_studio.studio.canvas.node_item import NodeItem
from tea_studio.studio.canvas.theme import CanvasTheme, canvas_theme
from tea_studio.studio.document import EditableWorkflow, Route, RouteRef
from tea_studio.workflow.model import END, START, Node

SCENE_EXTENT = 200_000.0
DUPLICATE_OFFSET = 26.0


class WorkflowScene(QGraphicsScene):
    """The canvas scene of one document."""

    theme_changed = Signal(str)
    nodes_changed = Signal()  # a node was added, removed or moved (the minimap listens)

    def __init__(self, document: EditableWorkflow, parent=None) -> None:
        super().__init__(parent if parent is not None else document)
        self.document = document
        self.theme: CanvasTheme = canvas_theme("light")
        self._nodes: dict[int, NodeItem] = {}
        self._edges: dict[tuple, EdgeItem] = {}
        self._live: set[int] | None = None
        self._duplicates: set[str] | None = None
        self._stale_edges: set[EdgeItem] = set()
        self.setSceneRect(QRectF(-SCENE_EXTENT / 2, -SCENE_EXTENT / 2, SCENE_EXTENT, SCENE_EXTENT))
        document.node_added.connect(self._on_node_added)
        document.node_removed.connect(self._on_node_removed)
        document.node_renamed.connect(self._on_node_renamed)
        document.node_changed.connect(self._on_node_changed)
        document.node_moved.connect(self._on_node_moved)
        document.routes_changed.connect(self._sync_routes)
        document.workflow_changed.connect(self._after_edit)
        document.reset.connect(self.rebuild)
        self.rebuild()

    # -- lookups -------------------------------------------------------------------------------------------
    def node_item(self, name: str) -> NodeItem | None:
        node = self.document.node(name)
        return self._nodes.get(id(node)) if node is not None else None

    def node_items(self) -> list[NodeItem]:
        return list(self._nodes.values())

    def edge_items(self) -> list[EdgeItem]:
        return list(self._edges.values())

    def edge_item(self, ref: RouteRef) -> EdgeItem | None:
        for item in self._edges.values():
            if item.route.ref == ref:
                return item
        return None

    def selected_node_names(self) -> list[str]:
        """Selected nodes in document order."""
        chosen = {id(item.node) for item in self.selectedItems() if isinstance(item, NodeItem)}
        return [node.name for node in self.document.workflow.nodes if id(node) in chosen]

    def selected_routes(self) -> list[RouteRef]:
        return [item.route.ref for item in self.selectedItems() if isinstance(item, EdgeItem)]

    def selected_route(self) -> RouteRef | None:
        """The selected route (for the inspector), or None when no single route is selected."""
        routes = self.selected_routes()
        return routes[0] if len(routes) == 1 else None

    def nodes_rect(self) -> QRectF:
        """The scene rectangle covering every node."""
        rect = QRectF()
        for item in self._nodes.values():
            rect = rect.united(item.sceneBoundingRect())
        return rect

    def content_rect(self) -> QRectF:
        """The scene rectangle covering every node and route (what "fit all" shows)."""
        rect = self.nodes_rect()
        for item in self._edges.values():
            rect = rect.united(item.sceneBoundingRect())
        return rect

    def _items_named(self, name: str) -> list[NodeItem]:
        if self._duplicates is None:
            counts = Counter(node.name for node in self.document.workflow.nodes)
            self._duplicates = {n for n, c in counts.items() if c > 1}
        if name in self._duplicates:
            return [item for item in self._nodes.values() if item.node.name == name]
        item = self.node_item(name)
        return [item] if item is not None else []

    def _forget_indexes(self) -> None:
        self._live = None
        self._duplicates = None

    # -- items from the model ------------------------------------------------------------------------------
    def rebuild(self) -> None:
        """Drop every item and build them again from the document (a new file)."""
        self.clearSelection()
        for item in list(self._edges.values()):
            item.drop_label()
            self.removeItem(item)
        for item in list(self._nodes.values()):
            self.removeItem(item)
        self._edges.clear()
        self._nodes.clear()
        self._forget_indexes()
        for node in self.document.workflow.nodes:
            self._create_node_item(node)
        self._sync_routes()
        self.nodes_changed.emit()

    def _node_pos(self, node: Node) -> QPointF:
        x, y = self.document.position(node.name)
        first = self.document.node(node.name)
        if first is not None and first is not node:  # a duplicated name: offset so both can be seen
            same = [n for n in self.document.workflow.nodes if n.name == node.name]
            k = next(i for i, n in enumerate(same) if n is node)
            return QPointF(x + k * DUPLICATE_OFFSET, y + k * DUPLICATE_OFFSET)
        return QPointF(x, y)

    def _create_node_item(self, node: Node) -> NodeItem:
        item = NodeItem(node)
        item.setPos(self._node_pos(node))
        self._nodes[id(node)] = item
        self.addItem(item)
        return item

    def _on_node_added(self, name: str) -> None:
        self._forget_indexes()
        for node in self.document.workflow.nodes:
            if node.name == name and id(node) not in self._nodes:
                self._create_node_item(node)
        self.nodes_changed.emit()

    def _on_node_removed(self, name: str) -> None:
        if self._live is None:
            self._live = {id(node) for node in self.document.workflow.nodes}
        for key in [k for k, item in self._nodes.items() if k not in self._live and item.node.name == name]:
            item = self._nodes.pop(key)
            for edge in list(item.edges):
                self._drop_edge(edge)
            self.removeItem(item)
        self._duplicates = None
        self.nodes_changed.emit()

    def _on_node_renamed(self, old: str, new: str) -> None:
        self._duplicates = None
        for item in self._items_named(new):
            item.refresh()

    def _on_node_changed(self, name: str) -> None:
        for item in self._items_named(name):
            item.refresh()

    def _on_node_moved(self, name: str) -> None:
        for item in self._items_named(name):
            item.setPos(self._node_pos(item.node))
            self._stale_edges.update(item.edges)

    def _after_edit(self) -> None:
        """End of one applied edit: rebuild each moved route once, however many of its ends moved."""
        self._live = None
        if self._stale_edges:
            stale, self._stale_edges = self._stale_edges, set()
            for edge in stale:
                if edge.scene() is self:
                    edge.rebuild()
            self.nodes_changed.emit()

    # -- routes --------------------------------------------------------------------------------------------
    def _drop_edge(self, edge: EdgeItem) -> None:
        edge.drop_label()
        for end in (edge.source_item, edge.target_item):
            if end is not None:
                end.edges.discard(edge)
        for key, item in list(self._edges.items()):
            if item is edge:
                del self._edges[key]
                break
        self.removeItem(edge)

    def _end_item(self, name: str) -> NodeItem | None | bool:
        """The node item a route end names, None for __start__/__end__, False when the node does not exist."""
        if name in (START, END):
            return None
        item = self.node_item(name)
        return item if item is not None else False

    def _sync_routes(self) -> None:
        """Bring route items in line with the model, reusing the items of routes that still exist."""
        wanted: dict[tuple, tuple[Route, NodeItem | None, NodeItem | None, int]] = {}
        seen: Counter = Counter()
        lanes: Counter = Counter()
        for route in self.document.routes():
            source, target = self._end_item(route.source), self._end_item(route.target)
            if source is False or target is False or (source is None and target is None):
                continue  # a dangling route: validation reports it
            key = (route.ref.kind, route.source, route.target)
            seen[key] += 1
            pair = (route.source, route.target)
            lane = lanes[pair]
            lanes[pair] += 1
            wanted[(*key, seen[key])] = (route, source, target, lane)
        for key in [k for k in self._edges if k not in wanted]:
            self._drop_edge(self._edges[key])
        for key, (route, source, target, lane) in wanted.items():
            item = self._edges.get(key)
            if item is not None and (item.source_item is not source or item.target_item is not target):
                self._drop_edge(item)
                item = None
            if item is None:
                item = EdgeItem(route, source, target, lane)
                self._edges[key] = item
                for end in (source, target):
                    if end is not None:
                        end.edges.add(item)
                self.addItem(item)
            else:
                item.set_route(route, lane)
        counts = self.document.fan_in_counts()
        for item in self._nodes.values():
            item.set_fan_in_count(counts.get(item.node.name))

    # -- overlays ------------------------------------------------------------------------------------------
    def set_problems(self, problems_by_node: dict[str, list[tuple[str, str]]]) -> None:
        """Show validation problems: {node name: [(severity, message)]}; nodes not listed are cleared."""
        for item in self._nodes.values():
            item.set_problems(problems_by_node.get(item.node.name, []))

    def clear_run_info(self) -> None:
        for item in self._nodes.values():
            item.clear_run_info()

    def set_theme(self, name: str) -> None:
        """Switch the canvas colours ("light" or "dark")."""
        self.theme = canvas_theme(name)
        self.setBackgroundBrush(self.theme.background)
        for view in self.views():
            view.resetCachedContent()
            view.viewport().update()
        self.update()
        self.theme_changed.emit(self.theme.name)

    # -- editing entry points for menus (implemented in clipboard.py) --------------------------------------
    def select_all(self) -> None:
        from tea_studio.studio.canvas import clipboard

        clipboard.select_all(self)

    def delete_selection(self) -> None:
        from tea_studio.studio.canvas import clipboard

        clipboard.delete_selection(self)

    def copy_selection(self) -> str | None:
        from tea_studio.studio.canvas import clipboard

        return clipboard.copy_selection(self)

    def cut_selection(self) -> None:
        from tea_studio.studio.canvas import clipboard

        clipboard.cut_selection(self)

    def paste(self, at: QPointF | None = None) -> list[str]:
        from tea_studio.studio.canvas import clipboard

        return clipboard.paste(self, at)

    def duplicate_selection(self) -> list[str]:
        from tea_studio.studio.canvas import clipboard

        return clipboard.duplicate_selection(self)

    def select_nodes(self, names) -> None:
        """Select exactly these nodes (one selectionChanged)."""
        wanted = set(names)
        self.blockSignals(True)
        try:
            self.clearSelection()
            for item in self._nodes.values():
                if item.node.name in wanted:
                    item.setSelected(True)
        finally:
            self.blockSignals(False)
        self.selectionChanged.emit()

    def node_center(self, name: str) -> QPointF:
        item = self.node_item(name)
        return item.centre() if item is not None else QPointF()
