"""WorkflowScene: mirrors the document's change signals into node and route items; it owns no workflow data.

Node items are keyed by the model node object (so nodes with an empty or a duplicated name, which a file with
validation errors may hold, each keep their own item); name lookups go through the document's name index.
"""

from __future__ import annotations

from collections import Counter

from PySide6.QtCore import QPointF, QRectF, Signal
from PySide6.QtWidgets import QGraphicsScene

from tea_studio.studio.canvas import clipboard
from tea_studio.studio.canvas.edge_item import EdgeItem
from tea_studio.studio.canvas.node_item import NodeItem
from tea_studio.studio.canvas.theme import CanvasTheme, canvas_theme
from tea_studio.studio.document import EditableWorkflow
from tea_studio.workflow.model import END, START, Node
from tea_studio.workflow.routes import Route

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
        self._edges: dict[str, EdgeItem] = {}  # route id -> item
        self._live: set[int] | None = None
        self._duplicates: set[str] | None = None
        self._stale_edges: set[EdgeItem] = set()
        self.setSceneRect(QRectF(-SCENE_EXTENT / 2, -SCENE_EXTENT / 2, SCENE_EXTENT, SCENE_EXTENT))
        document.node_added.connect(self._on_node_added)
        document.node_removed.connect(self._on_node_removed)
        document.node_renamed.connect(self._on_node_renamed)
        document.node_changed.connect(self._on_node_changed)
        document.node_moved.connect(self._on_node_moved)
        document.routes_changed.connect(self._on_routes_changed)
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

    def edge_item(self, route_id: str) -> EdgeItem | None:
        return self._edges.get(route_id)

    def selected_node_names(self) -> list[str]:
        """Selected nodes in document order."""
        chosen = {id(item.node) for item in self.selectedItems() if isinstance(item, NodeItem)}
        return [node.name for node in self.document.workflow.nodes if id(node) in chosen]

    def selected_routes(self) -> list[Route]:
        """The selected routes as the document lists them now."""
        routes = (self.document.route(item.route.id) for item in self.selectedItems() if isinstance(item, EdgeItem))
        return [route for route in routes if route is not None]

    def node_boxes(self) -> list[tuple[float, float, float, float]]:
        """Every node's box in scene coordinates as (x, y, width, height): where a new node must not land."""
        return [(r.x(), r.y(), r.width(), r.height()) for r in (item.mapRectToScene(item.box())
                                                                for item in self.node_items())]

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
        if self._edges.get(edge.route.id) is edge:
            del self._edges[edge.route.id]
        self.removeItem(edge)

    def _end_item(self, name: str) -> NodeItem | None | bool:
        """The node item a route end names, None for __start__/__end__, False when the node does not exist."""
        if name in (START, END):
            return None
        item = self.node_item(name)
        return item if item is not None else False

    def _sync_routes(self) -> None:
        """Build the items of every route (after a rebuild)."""
        self._on_routes_changed([route.id for route in self.document.routes()])

    def _on_routes_changed(self, route_ids: list[str]) -> None:
        """Bring the items of these routes in line with the document; other routes are not touched."""
        for route_id in route_ids:
            self._sync_route(route_id)
        counts = self.document.fan_in_counts()
        for item in self._nodes.values():
            item.set_fan_in_count(counts.get(item.node.name))

    def _sync_route(self, route_id: str) -> None:
        route = self.document.route(route_id)
        item = self._edges.get(route_id)
        source = target = False
        if route is not None:
            source, target = self._end_item(route.source), self._end_item(route.target)
        if source is False or target is False or (source is None and target is None):
            if item is not None:  # gone, or dangling (validation reports it)
                self._drop_edge(item)
            return
        if item is not None and (item.source_item is not source or item.target_item is not target):
            self._drop_edge(item)
            item = None
        if item is None:
            item = EdgeItem(route, source, target)
            self._edges[route_id] = item
            for end in (source, target):
                if end is not None:
                    end.edges.add(item)
            self.addItem(item)
        else:
            item.set_route(route)

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
        clipboard.select_all(self)

    def delete_selection(self) -> None:
        clipboard.delete_selection(self)

    def copy_selection(self) -> str | None:
        return clipboard.copy_selection(self)

    def cut_selection(self) -> None:
        clipboard.cut_selection(self)

    def paste(self, at: QPointF | None = None) -> list[str]:
        return clipboard.paste(self, at)

    def duplicate_selection(self) -> list[str]:
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
