"""WorkflowView: zoom around the cursor, pan, fit, grid with snapping, minimap, quick-add popup, context menu and
palette drops."""

from __future__ import annotations

import math

from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QCursor, QKeyEvent, QKeySequence, QMouseEvent, QPainter, QPen, QWheelEvent
from PySide6.QtWidgets import QFrame, QGraphicsView

from tea_studio.studio.canvas import keyboard
from tea_studio.studio.canvas.annotation_items import AnnotationLayer
from tea_studio.studio.canvas.context_menu import CanvasContextMenu
from tea_studio.studio.canvas.interactions import IdleInteraction, Interaction
from tea_studio.studio.canvas.minimap import Minimap
from tea_studio.studio.canvas.node_item import NODE_H, NODE_W, NodeItem
from tea_studio.studio.canvas.node_search import NodeSearchPopup
from tea_studio.studio.canvas.scene import WorkflowScene
from tea_studio.workflow.layout import FIT_MARGIN, READABLE_ZOOM, free_position

NODE_KIND_MIME = "application/x-tea-node-kind"  # what the node palette drags: a node kind to add where dropped
MIN_ZOOM, MAX_ZOOM = 0.1, 4.0
FIT_MIN_ZOOM, FIT_MAX_ZOOM = READABLE_ZOOM, 1.25  # fitting never shrinks names below reading size
FIND_ZOOM = 1.0  # Find node zooms in at least this far
GRID = 20
MAJOR_EVERY = 5


class WorkflowView(QGraphicsView):
    """The canvas widget of a :class:`WorkflowScene`."""

    zoom_changed = Signal(float)
    rename_requested = Signal(str)  # the context menu's Rename: the window focuses the inspector's name field
    pin_requested = Signal(str)  # the context menu's Pin Output…: the window asks for the output to pin
    condition_edit_requested = Signal(str)  # a route id: the window focuses the inspector's condition field

    def __init__(self, scene: WorkflowScene, parent=None) -> None:
        super().__init__(scene, parent)
        self.workflow_scene = scene
        self.snap = False
        self.grid_visible = True
        self.space_held = False
        self._interaction: Interaction = IdleInteraction(self)
        self._last_mouse: QPoint | None = None
        self.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        self.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        self.setCacheMode(QGraphicsView.CacheModeFlag.CacheBackground)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontAdjustForAntialiasing, True)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setDragMode(QGraphicsView.DragMode.NoDrag)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setAcceptDrops(True)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.minimap = Minimap(self, scene)
        self.zoom_changed.connect(lambda _zoom: self.minimap.follow_view())
        self.search_popup = NodeSearchPopup(self.viewport())
        self.search_popup.kind_chosen.connect(self._add_kind)
        self.search_popup.template_chosen.connect(self.add_template_at)
        self.connect_from: str | None = None  # the quick-add popup was opened by dropping a new route here
        self.context_menu = CanvasContextMenu(self)
        self.annotations = AnnotationLayer(self)  # sticky notes and group frames
        # Sets or clears a breakpoint: (node, "before"|"after", enabled); the window routes it through the run tools.
        self.breakpoint_handler = scene.document.set_breakpoint
        scene.theme_changed.connect(lambda _name: self.resetCachedContent())
        self.centerOn(QPointF(NODE_W * 2, NODE_H * 2))

    # -- zoom and pan --------------------------------------------------------------------------------------
    def zoom(self) -> float:
        return self.transform().m11()

    def set_zoom(self, factor: float, anchor=None) -> None:
        """Zoom to ``factor`` keeping the scene point under ``anchor`` (a viewport point) in place."""
        anchor = anchor if anchor is not None else self.viewport().rect().center()
        anchor = QPointF(anchor)
        exact_before = self._map_to_scene_f(anchor)
        current = self.zoom()
        if current <= 0 or math.isclose(current, factor):
            return
        self.scale(factor / current, factor / current)
        after_viewport = self.mapFromScene(exact_before)
        self.pan_by(after_viewport.x() - anchor.x(), after_viewport.y() - anchor.y())
        self.zoom_changed.emit(self.zoom())

    def _map_to_scene_f(self, point: QPointF) -> QPointF:
        transform, _ok = self.viewportTransform().inverted()
        return transform.map(point)

    def pan_by(self, dx: float, dy: float) -> None:
        """Scroll the view by viewport pixels."""
        h, v = self.horizontalScrollBar(), self.verticalScrollBar()
        h.setValue(h.value() + round(dx))
        v.setValue(v.value() + round(dy))

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt's name
        delta = event.angleDelta().y() or event.angleDelta().x()
        if not delta:
            return
        factor = self.zoom() * math.pow(1.2, delta / 120.0)
        low, high = min(MIN_ZOOM, self.zoom()), max(MAX_ZOOM, self.zoom())
        self.set_zoom(min(high, max(low, factor)), event.position())
        event.accept()

    def fit_rect(self, rect: QRectF) -> None:
        """Show ``rect`` whole, or, when that needs a zoom too small to read, its top-left part at a readable zoom
        (where a laid-out flow starts)."""
        if rect.isNull() or rect.isEmpty():
            return
        rect = rect.adjusted(-FIT_MARGIN, -FIT_MARGIN, FIT_MARGIN, FIT_MARGIN)
        viewport = self.viewport().rect()
        factor = min(viewport.width() / rect.width(), viewport.height() / rect.height())
        factor = min(FIT_MAX_ZOOM, max(FIT_MIN_ZOOM, factor))
        self.scale(factor / self.zoom(), factor / self.zoom())
        half_w, half_h = viewport.width() / 2 / factor, viewport.height() / 2 / factor
        self.centerOn(QPointF(min(rect.center().x(), rect.left() + half_w),
                              min(rect.center().y(), rect.top() + half_h)))
        self.zoom_changed.emit(self.zoom())

    def show_node(self, name: str) -> bool:
        """Centre the node named ``name`` at a zoom where it reads well (Find node)."""
        item = self.workflow_scene.node_item(name)
        if item is None:
            return False
        factor = max(self.zoom(), FIND_ZOOM)
        self.scale(factor / self.zoom(), factor / self.zoom())
        self.centerOn(item.centre())
        self.zoom_changed.emit(self.zoom())
        return True

    def fit_all(self) -> None:
        """Show every node, route, note and group frame."""
        self.fit_rect(self.workflow_scene.content_rect().united(self.annotations.bounding_rect()))

    def fit_selection(self) -> None:
        """Show the selected nodes, or everything when nothing is selected."""
        rect = QRectF()
        for item in self.workflow_scene.selectedItems():
            rect = rect.united(item.sceneBoundingRect())
        if rect.isNull():
            self.fit_all()
        else:
            self.fit_rect(rect)

    # -- grid and snapping ---------------------------------------------------------------------------------
    def set_snap(self, enabled: bool) -> None:
        self.snap = bool(enabled)

    def snapped(self, value: float) -> float:
        return round(value / GRID) * GRID

    def set_grid_visible(self, visible: bool) -> None:
        self.grid_visible = bool(visible)
        self.resetCachedContent()
        self.viewport().update()

    def set_minimap_visible(self, visible: bool) -> None:
        """View > Minimap: the map shows when wanted and part of the graph is out of view."""
        self.minimap.set_wanted(visible)

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802 - Qt's name
        theme = self.workflow_scene.theme
        painter.fillRect(rect, theme.background)
        if not self.grid_visible:
            return
        zoom = self.zoom()
        step = GRID if zoom >= 0.5 else GRID * MAJOR_EVERY
        if step * zoom < 6:
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        left = math.floor(rect.left() / step) * step
        top = math.floor(rect.top() / step) * step
        minor, major = [], []
        x = left
        while x < rect.right():
            (major if round(x / GRID) % MAJOR_EVERY == 0 else minor).append((x, True))
            x += step
        y = top
        while y < rect.bottom():
            (major if round(y / GRID) % MAJOR_EVERY == 0 else minor).append((y, False))
            y += step
        for lines, colour in ((minor, theme.grid_minor), (major, theme.grid_major)):
            pen = QPen(colour, 0)
            painter.setPen(pen)
            for value, vertical in lines:
                if vertical:
                    painter.drawLine(QPointF(value, rect.top()), QPointF(value, rect.bottom()))
                else:
                    painter.drawLine(QPointF(rect.left(), value), QPointF(rect.right(), value))

    # -- interactions --------------------------------------------------------------------------------------
    def set_interaction(self, interaction: Interaction) -> None:
        self._interaction = interaction

    @property
    def interaction(self) -> Interaction:
        return self._interaction

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        self.search_popup.hide()
        if not self._interaction.press(event):
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        self._last_mouse = event.position().toPoint()
        if not self._interaction.move(event):
            super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        if not self._interaction.release(event):
            super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        pos = event.position().toPoint()
        if event.button() == Qt.MouseButton.LeftButton and self.annotations.double_clicked(pos):
            return
        if event.button() == Qt.MouseButton.LeftButton and not any(
                isinstance(item, NodeItem) or item.flags() & item.GraphicsItemFlag.ItemIsSelectable
                for item in self.items(pos)):
            self.open_search(pos)
            return
        super().mouseDoubleClickEvent(event)

    def open_search(self, viewport_pos=None, connect_from: str | None = None) -> None:
        """Open the quick-add popup; the chosen node is placed at ``viewport_pos`` (default: the cursor) and, with
        ``connect_from``, gets a route from that node (the node and the route are one undo step)."""
        if viewport_pos is None:
            viewport_pos = self._cursor_viewport_pos() or self.viewport().rect().center()
        self.connect_from = connect_from
        self.search_popup.popup(viewport_pos, self.mapToScene(viewport_pos))

    def _add_kind(self, kind: str, scene_pos: QPointF) -> None:
        source, self.connect_from = self.connect_from, None
        if source is not None and self.workflow_scene.document.node(source) is not None:
            name = self.workflow_scene.document.add_connected_node(
                kind, self._free_origin(self._node_origin(scene_pos, left=True)), source)
            self.workflow_scene.select_nodes([name])
        else:
            self.add_node_at(kind, scene_pos)

    def add_template_at(self, key: str, scene_pos: QPointF) -> list[str]:
        """Insert the snippet ``key`` (workflow/templates.py) with its top-left at ``scene_pos``, as one undo step;
        its nodes are selected."""
        from tea_studio.studio.canvas import clipboard
        from tea_studio.workflow.templates import template_fragment

        self.connect_from = None
        return clipboard.paste_text(self.workflow_scene, template_fragment(key), scene_pos)

    def _free_origin(self, origin: tuple[float, float]) -> tuple[float, float]:
        x, y = free_position(self.workflow_scene.node_boxes(), *origin)
        return (x, self.snapped(y)) if self.snap and y != origin[1] else (x, y)

    def _node_origin(self, scene_pos: QPointF, left: bool = False) -> tuple[float, float]:
        """The top-left corner of a new node centred on ``scene_pos`` (``left``: its in port there instead)."""
        x = scene_pos.x() - (0 if left else NODE_W / 2)
        y = scene_pos.y() - NODE_H / 2
        return (self.snapped(x), self.snapped(y)) if self.snap else (x, y)

    def add_node_at(self, kind: str, scene_pos: QPointF) -> str:
        """Add a node of ``kind`` centred on ``scene_pos`` (snapped when snapping is on; moved down to the first
        free spot when another node is there) and select it."""
        name = self.workflow_scene.document.add_node(kind, self._free_origin(self._node_origin(scene_pos)))
        self.workflow_scene.select_nodes([name])
        return name

    def auto_layout(self) -> None:
        """Arrange the nodes in wrapped rows made to fit this canvas as it is now (one undo step) and fit them."""
        from tea_studio.workflow.layout import auto_layout

        scene = self.workflow_scene
        widths = {item.name: item.width for item in scene.node_items()}
        canvas = self.viewport().size()
        scene.document.apply_layout(auto_layout(scene.document.workflow, lambda name: widths.get(name, NODE_W),
                                                (max(canvas.width(), 400), max(canvas.height(), 300))))
        self.fit_all()

    def contextMenuEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.search_popup.hide()
        self._interaction.cancel()
        menu = self.context_menu.build(event.pos())
        menu.exec(event.globalPos())
        menu.deleteLater()
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        key = event.key()
        scene = self.workflow_scene
        if key == Qt.Key.Key_Space and not event.isAutoRepeat():
            self.space_held = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
        elif key == Qt.Key.Key_Tab:
            self.open_search()
        elif key == Qt.Key.Key_F and not event.modifiers():
            self.fit_selection()
        elif key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            scene.delete_selection()
        elif key == Qt.Key.Key_Escape:
            self._interaction.cancel()
            scene.clearSelection()
        elif event.matches(QKeySequence.StandardKey.SelectAll):
            scene.select_all()
        elif event.matches(QKeySequence.StandardKey.Copy):
            scene.copy_selection()
        elif event.matches(QKeySequence.StandardKey.Cut):
            scene.cut_selection()
        elif event.matches(QKeySequence.StandardKey.Paste):
            scene.paste(self._cursor_scene_pos())
        elif key == Qt.Key.Key_D and event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            scene.duplicate_selection()
        elif keyboard.handle_key(self, event):  # arrows walk the selection along routes, Alt+arrows nudge
            pass
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self.space_held = False
            self.viewport().setCursor(Qt.CursorShape.ArrowCursor)
            event.accept()
            return
        super().keyReleaseEvent(event)

    def focusNextPrevChild(self, forward: bool) -> bool:  # noqa: N802 - Qt's name: Tab opens the popup
        return False

    def _cursor_viewport_pos(self) -> QPoint | None:
        """Where the mouse is over the viewport (last seen move, else the system cursor), or None."""
        for pos in (self._last_mouse, self.viewport().mapFromGlobal(QCursor.pos())):
            if pos is not None and self.viewport().rect().contains(pos):
                return pos
        return None

    def cursor_scene_pos(self) -> QPointF | None:
        """Where the mouse is on the canvas, in scene coordinates (None when it is not over the canvas)."""
        return self._cursor_scene_pos()

    def _cursor_scene_pos(self) -> QPointF | None:
        pos = self._cursor_viewport_pos()
        return self.mapToScene(pos) if pos is not None else None

    # -- palette drops -------------------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.mimeData().hasFormat(NODE_KIND_MIME):
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.mimeData().hasFormat(NODE_KIND_MIME):
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt's name
        mime = event.mimeData()
        if not mime.hasFormat(NODE_KIND_MIME):
            super().dropEvent(event)
            return
        kind = bytes(mime.data(NODE_KIND_MIME)).decode("utf-8").strip()
        self.add_node_at(kind, self.mapToScene(event.position().toPoint()))
        event.acceptProposedAction()
        self.setFocus()

    # -- geometry ------------------------------------------------------------------------------------------
    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self.minimap.place()
        self.minimap.follow_view()

    def focusOutEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.space_held = False
        super().focusOutEvent(event)

    def scrollContentsBy(self, dx: int, dy: int) -> None:  # noqa: N802 - Qt's name
        super().scrollContentsBy(dx, dy)
        self.minimap.follow_view()
