"""Mouse interactions on the canvas, one small class per gesture.

The view hands its mouse events to the current interaction; an interaction decides what the gesture means and
turns it into document edits (never touching items' data itself). Idle picks the next interaction on a press.
"""

from __future__ import annotations

from typing import Any, Protocol

from PySide6.QtCore import QLineF, QPoint, QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QMouseEvent, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem, QRubberBand, QWidget

from tea_studio.studio.canvas.edge_item import EdgeItem, EdgeLabel, route_curve
from tea_studio.studio.canvas.node_item import NODE_H, NODE_W, NodeItem
from tea_studio.studio.canvas.port_item import OUT
from tea_studio.studio.canvas.scene import WorkflowScene
from tea_studio.workflow.model import END
from tea_studio.workflow.routes import RouteKind, RouteStyle

DRAG_THRESHOLD = 4
INSERT_GAP = 60  # between a node inserted onto a route and its neighbours


class CanvasView(Protocol):
    """What an interaction asks of the canvas view (the view imports this module, never the reverse)."""

    workflow_scene: WorkflowScene
    snap: bool
    space_held: bool

    def set_interaction(self, interaction: Interaction) -> None: ...
    def snapped(self, value: float) -> float: ...
    def pan_by(self, dx: float, dy: float) -> None: ...
    def open_search(self, viewport_pos: Any = None, connect_from: str | None = None) -> None: ...
    def mapToScene(self, point: Any) -> Any: ...  # noqa: N802 - Qt's name
    def mapFromScene(self, point: Any) -> Any: ...  # noqa: N802 - Qt's name
    def items(self, point: Any) -> list[QGraphicsItem]: ...
    def viewport(self) -> QWidget: ...
    def setFocus(self) -> None: ...  # noqa: N802 - Qt's name


def _additive(event: QMouseEvent) -> bool:
    return bool(event.modifiers() & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier))


class Interaction:
    """A gesture in progress. Handlers return True when they consumed the event."""

    def __init__(self, view: CanvasView) -> None:
        self.view = view
        self.scene = view.workflow_scene
        self.document = self.scene.document

    def press(self, event: QMouseEvent) -> bool:
        return False

    def move(self, event: QMouseEvent) -> bool:
        return False

    def release(self, event: QMouseEvent) -> bool:
        return False

    def cancel(self) -> None:
        """Abandon the gesture (Escape, focus lost)."""
        self.finish()

    def finish(self) -> None:
        self.view.set_interaction(IdleInteraction(self.view))

    def node_at(self, viewport_pos: QPoint, exclude=None) -> NodeItem | None:
        for item in self.view.items(viewport_pos):
            if isinstance(item, NodeItem) and item is not exclude:
                return item
        return None


class IdleInteraction(Interaction):
    """Nothing in progress: a press starts panning, a new route, a reconnection, a node drag or a rubber band."""

    def press(self, event: QMouseEvent) -> bool:
        button = event.button()
        if button == Qt.MouseButton.MiddleButton or (button == Qt.MouseButton.LeftButton and self.view.space_held):
            self.view.set_interaction(PanInteraction(self.view, event.position().toPoint()))
            return True
        if button != Qt.MouseButton.LeftButton:
            return False
        pos = event.position().toPoint()
        scene_pos = self.view.mapToScene(pos)
        items = self.view.items(pos)
        for item in items:
            if isinstance(item, EdgeItem) and item.isSelected():
                end = item.end_handle_at(scene_pos)
                if end is not None:
                    self.view.set_interaction(ReconnectInteraction(self.view, item, end, scene_pos))
                    return True
        top = items[0] if items else None
        if isinstance(top, EdgeLabel):
            top = top.edge
        start = getattr(top, "start_interaction", None)  # notes and group frames bring their own gesture
        if start is not None:
            self.view.set_interaction(start(self.view, event))
            return True
        if isinstance(top, NodeItem) and top.port_at(scene_pos) == OUT:
            self.view.set_interaction(NewRouteInteraction(self.view, top, scene_pos))
            return True
        if isinstance(top, NodeItem):
            was_selected = top.isSelected()
            if _additive(event):
                top.setSelected(not was_selected)
                if was_selected:
                    return True
            elif not was_selected:
                self.scene.clearSelection()
                top.setSelected(True)
            self.view.set_interaction(DragNodesInteraction(self.view, top, scene_pos, was_selected and
                                                           not _additive(event)))
            return True
        if isinstance(top, EdgeItem):
            if _additive(event):
                top.setSelected(not top.isSelected())
            else:
                self.scene.clearSelection()
                top.setSelected(True)
            return True
        self.view.set_interaction(RubberBandInteraction(self.view, pos, _additive(event)))
        return True


class PanInteraction(Interaction):
    """Middle-button drag or Space + left drag moves the view."""

    def __init__(self, view: CanvasView, start: QPoint) -> None:
        super().__init__(view)
        self.last = start
        view.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)

    def move(self, event: QMouseEvent) -> bool:
        pos = event.position().toPoint()
        delta = pos - self.last
        self.last = pos
        self.view.pan_by(-delta.x(), -delta.y())
        return True

    def release(self, event: QMouseEvent) -> bool:
        self.finish()
        return True

    def finish(self) -> None:
        self.view.viewport().setCursor(Qt.CursorShape.OpenHandCursor if self.view.space_held
                                       else Qt.CursorShape.ArrowCursor)
        super().finish()


class RubberBandInteraction(Interaction):
    """Dragging on empty canvas selects the nodes the band touches (Ctrl/Shift adds to the selection)."""

    def __init__(self, view: CanvasView, start: QPoint, additive: bool) -> None:
        super().__init__(view)
        self.start = start
        self.additive = additive
        self.initial = {id(i) for i in self.scene.selectedItems()} if additive else set()
        if not additive:
            self.scene.clearSelection()
        self.band = QRubberBand(QRubberBand.Shape.Rectangle, view.viewport())
        self.band.setGeometry(QRect(start, QSize()))
        self.band.show()

    def move(self, event: QMouseEvent) -> bool:
        rect = QRect(self.start, event.position().toPoint()).normalized()
        self.band.setGeometry(rect)
        scene_rect = self.view.mapToScene(rect).boundingRect()
        inside = {id(item) for item in self.scene.items(scene_rect, Qt.ItemSelectionMode.IntersectsItemShape)
                  if isinstance(item, NodeItem)}
        scene = self.scene
        scene.blockSignals(True)
        changed = False
        try:
            for item in scene.node_items():
                want = id(item) in inside or id(item) in self.initial
                if item.isSelected() != want:
                    item.setSelected(want)
                    changed = True
        finally:
            scene.blockSignals(False)
        if changed:
            scene.selectionChanged.emit()
        return True

    def release(self, event: QMouseEvent) -> bool:
        self.finish()
        return True

    def finish(self) -> None:
        self.band.hide()
        self.band.deleteLater()
        super().finish()


class DragNodesInteraction(Interaction):
    """Dragging selected nodes moves them (one undo step per drag); dropping one node onto a route inserts it."""

    def __init__(self, view: CanvasView, grabbed: NodeItem, scene_pos: QPointF, reselect_on_click: bool) -> None:
        super().__init__(view)
        self.grabbed = grabbed
        self.start = scene_pos
        self.reselect_on_click = reselect_on_click
        self.names = self.scene.selected_node_names()
        self.origins = {name: self.document.position(name) for name in self.names}
        self.moved = False

    def move(self, event: QMouseEvent) -> bool:
        scene_pos = self.view.mapToScene(event.position().toPoint())
        delta = scene_pos - self.start
        if not self.moved and QLineF(self.view.mapFromScene(self.start).toPointF(),
                                     event.position()).length() < DRAG_THRESHOLD:
            return True
        self.moved = True
        dx, dy = delta.x(), delta.y()
        if self.view.snap and self.grabbed.name in self.origins:
            gx, gy = self.origins[self.grabbed.name]
            dx = self.view.snapped(gx + dx) - gx
            dy = self.view.snapped(gy + dy) - gy
        self.document.move_nodes({name: (x + dx, y + dy) for name, (x, y) in self.origins.items()})
        return True

    def release(self, event: QMouseEvent) -> bool:
        if self.moved:
            self.document.close_merging()
            if len(self.names) == 1:
                self._insert_onto_route()
        elif self.reselect_on_click:
            self.scene.clearSelection()
            self.grabbed.setSelected(True)
        self.finish()
        return True

    def _insert_onto_route(self) -> None:
        item = self.grabbed
        if any(e.route.style is not RouteStyle.CHAIN and e.route.target != END for e in item.edges):
            return  # only a node without routes of its own (an end it was given aside) is inserted
        centre = item.pos() + QPointF(NODE_W / 2, NODE_H / 2)
        probe = QRectF(centre - QPointF(6, 6), centre + QPointF(6, 6))
        for other in self.scene.items(probe, Qt.ItemSelectionMode.IntersectsItemShape):
            if isinstance(other, EdgeItem) and other not in item.edges and other.route.kind is not RouteKind.ENTRY \
                    and other.target_item is not None and other.source_item is not None:
                self.document.insert_node_on_route(item.name, other.route.id,
                                                   self._room_between(other.source_item, item, other.target_item))
                return

    def _room_between(self, source: NodeItem, item: NodeItem, target: NodeItem) -> dict[str, tuple[float, float]]:
        """Where the inserted node goes so that it overlaps neither end: right after ``source``, on its row; when
        ``target`` lies ahead on that row, it and every node from its column on move right to make the room."""
        x, y = source.pos().x() + source.width + INSERT_GAP, source.pos().y()
        moves = {item.name: (x, y)}
        tx = target.pos().x()
        shift = x + item.width + INSERT_GAP - tx
        if tx > source.pos().x() and abs(target.pos().y() - y) < NODE_H and shift > 0:
            for other in self.scene.node_items():
                if other is not item and other.pos().x() >= tx - 1:
                    moves[other.name] = (other.pos().x() + shift, other.pos().y())
        elif not (tx > source.pos().x() and abs(target.pos().y() - y) < NODE_H):
            moves[item.name] = self.view._free_origin((x, y))
        return moves


class _RubberRoute:
    """The temporary curve drawn while a route end is dragged."""

    def __init__(self, view: CanvasView) -> None:
        theme = view.workflow_scene.theme
        pen = QPen(theme.edge_selected, 2, Qt.PenStyle.DashLine)
        self.item = QGraphicsPathItem()
        self.item.setPen(pen)
        self.item.setZValue(10)
        view.workflow_scene.addItem(self.item)

    def show(self, start: QPointF, end: QPointF) -> None:
        self.item.setPath(route_curve(start, end) if end.x() - start.x() >= 30 else _line(start, end))

    def remove(self) -> None:
        scene = self.item.scene()
        if scene is not None:
            scene.removeItem(self.item)


def _line(start: QPointF, end: QPointF) -> QPainterPath:
    path = QPainterPath(start)
    path.lineTo(end)
    return path


class NewRouteInteraction(Interaction):
    """Dragging from an out port to a node adds a route (a goto rule when the source uses goto, else an edge);
    releasing on empty canvas opens the quick-add popup there for a node the route then leads to."""

    def __init__(self, view: CanvasView, source: NodeItem, scene_pos: QPointF) -> None:
        super().__init__(view)
        self.source = source
        self.start = view.mapFromScene(scene_pos)
        self.rubber = _RubberRoute(view)
        self.rubber.show(source.out_point(), scene_pos)

    def move(self, event: QMouseEvent) -> bool:
        target = self.node_at(event.position().toPoint())
        end = target.in_point() if target is not None else self.view.mapToScene(event.position().toPoint())
        self.rubber.show(self.source.out_point(), end)
        return True

    def release(self, event: QMouseEvent) -> bool:
        pos = event.position().toPoint()
        target = self.node_at(pos)
        self.finish()
        if target is not None:
            self.document.connect(self.source.name, target.name)
        elif QLineF(QPointF(self.start), QPointF(pos)).length() >= DRAG_THRESHOLD * 3:
            self.view.open_search(pos, connect_from=self.source.name)
        return True

    def finish(self) -> None:
        self.rubber.remove()
        super().finish()


class ReconnectInteraction(Interaction):
    """Dragging an end of a selected route onto another node moves that end there."""

    def __init__(self, view: CanvasView, edge: EdgeItem, end: str, scene_pos: QPointF) -> None:
        super().__init__(view)
        self.edge = edge
        self.end = end
        self.route_id = edge.route.id
        start, finish = edge.end_points()
        self.fixed = start if end == "target" else finish
        edge.dragging_end = end
        edge.update()
        self.rubber = _RubberRoute(view)
        self._show(scene_pos)

    def _show(self, scene_pos: QPointF) -> None:
        if self.end == "target":
            self.rubber.show(self.fixed, scene_pos)
        else:
            self.rubber.show(scene_pos, self.fixed)

    def move(self, event: QMouseEvent) -> bool:
        self._show(self.view.mapToScene(event.position().toPoint()))
        return True

    def release(self, event: QMouseEvent) -> bool:
        target = self.node_at(event.position().toPoint())
        self.finish()
        if target is not None:
            self.document.reconnect_route(self.route_id, self.end, target.name)
        return True

    def finish(self) -> None:
        self.rubber.remove()
        self.edge.dragging_end = None
        self.edge.update()
        super().finish()
