"""A small translucent minimap overlay in the bottom-right corner of the view: every node as a small rectangle and the visible area as a frame.
It shows only while part of the graph is out of view: with everything in sight it would only cover nodes.

The node picture is cached in a pixmap rebuilt (at most every 100 ms) when nodes change; the viewport frame is
drawn on top at every scroll. Clicking or dragging on the minimap centres the view there.
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsView, QWidget

from tea_studio.studio.canvas.node_item import NODE_H, NODE_W
from tea_studio.studio.canvas.scene import WorkflowScene

MARGIN = 10
SIZE = (180, 112)  # the largest size; a small view gets a smaller map (at most a quarter of its width and height)
BACKGROUND_ALPHA = 150


class Minimap(QWidget):
    """The map of ``view``, which shows ``scene`` (the view owns the minimap; the minimap never imports it)."""

    def __init__(self, view: QGraphicsView, scene: WorkflowScene) -> None:
        super().__init__(view)
        self.view = view
        self.scene = scene
        self.setObjectName("canvasMinimap")
        self.setAttribute(Qt.WidgetAttribute.WA_TranslucentBackground, True)
        self.resize(*SIZE)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Minimap: click or drag to move the view")
        self._pixmap: QPixmap | None = None
        self._world = QRectF()
        self._scale = 1.0
        self._offset = QPointF()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(100)
        self._timer.timeout.connect(self.invalidate_nodes)
        self.wanted = True  # View > Minimap
        self._nodes_rect: QRectF | None = None  # the nodes' extent, kept until they change (scrolling reads it)
        scene = self.scene
        scene.nodes_changed.connect(self._timer.start)
        scene.theme_changed.connect(lambda _name: self.invalidate_nodes())
        view.horizontalScrollBar().valueChanged.connect(self.update)
        view.verticalScrollBar().valueChanged.connect(self.update)

    def set_wanted(self, wanted: bool) -> None:
        self.wanted = bool(wanted)
        self.follow_view()

    def follow_view(self) -> None:
        """Show the map (when wanted) only while some node is out of view (the view calls this as it scrolls)."""
        if not shiboken6.isValid(self.scene):  # the window is going away
            return
        nodes = self._nodes()
        seen = self.view.mapToScene(self.view.viewport().rect()).boundingRect()
        self.setVisible(self.wanted and not nodes.isNull() and not seen.contains(nodes))

    def place(self) -> None:
        """Keep to the bottom-right corner of the view's viewport."""
        viewport = self.view.viewport().geometry()
        width = max(60, min(SIZE[0], viewport.width() // 4))
        height = max(40, min(SIZE[1], viewport.height() // 4))
        if (width, height) != (self.width(), self.height()):
            self.resize(width, height)
            self._pixmap = None
        self.move(viewport.x() + viewport.width() - self.width() - MARGIN,
                  viewport.y() + viewport.height() - self.height() - MARGIN)

    def _nodes(self) -> QRectF:
        if self._nodes_rect is None:
            self._nodes_rect = self.scene.nodes_rect()
        return self._nodes_rect

    def invalidate_nodes(self) -> None:
        self._pixmap = None
        self._nodes_rect = None
        self.follow_view()
        self.update()

    def _frame(self) -> None:
        world = QRectF(self._nodes())
        if world.isNull():
            world = QRectF(0, 0, NODE_W, NODE_H)
        world = world.adjusted(-60, -60, 60, 60)
        self._world = world
        self._scale = min((self.width() - 8) / world.width(), (self.height() - 8) / world.height())
        used_w, used_h = world.width() * self._scale, world.height() * self._scale
        self._offset = QPointF((self.width() - used_w) / 2, (self.height() - used_h) / 2)

    def to_map(self, point: QPointF) -> QPointF:
        return (point - self._world.topLeft()) * self._scale + self._offset

    def to_scene(self, point: QPointF) -> QPointF:
        return (point - self._offset) / self._scale + self._world.topLeft()

    def _render_nodes(self) -> QPixmap:
        self._frame()
        theme = self.scene.theme
        pixmap = QPixmap(self.size())
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        background = QColor(theme.node_fill)
        background.setAlpha(BACKGROUND_ALPHA)
        border = QColor(theme.node_border)
        border.setAlpha(160)
        painter.setPen(QPen(border, 1))
        painter.setBrush(background)
        painter.drawRoundedRect(QRectF(0.5, 0.5, self.width() - 1, self.height() - 1), 6, 6)
        painter.setPen(Qt.PenStyle.NoPen)
        nodes = QColor(theme.edge_sequential)
        nodes.setAlpha(200)
        painter.setBrush(nodes)
        w = max(1.5, NODE_W * self._scale)
        h = max(1.5, NODE_H * self._scale)
        for item in self.scene.node_items():
            p = self.to_map(item.pos())
            painter.drawRect(QRectF(p.x(), p.y(), w, h))
        painter.end()
        return pixmap

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self._pixmap is None or self._pixmap.size() != self.size():
            self._pixmap = self._render_nodes()
        painter = QPainter(self)
        painter.drawPixmap(0, 0, self._pixmap)
        visible = self.view.mapToScene(self.view.viewport().rect()).boundingRect()
        top_left, bottom_right = self.to_map(visible.topLeft()), self.to_map(visible.bottomRight())
        frame = QRectF(top_left, bottom_right).intersected(QRectF(self.rect()).adjusted(1, 1, -1, -1))
        theme = self.scene.theme
        painter.setPen(QPen(theme.node_selected, 1.5))
        fill = QColor(theme.node_selected)
        fill.setAlpha(30)
        # everything in view: a frame around the whole map says so without tinting it
        painter.setBrush(Qt.BrushStyle.NoBrush if visible.contains(self._world) else fill)
        painter.drawRect(frame)
        painter.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        self._centre_at(event.position())
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._centre_at(event.position())
        event.accept()

    def _centre_at(self, point: QPointF) -> None:
        if self._pixmap is None:
            self._pixmap = self._render_nodes()
        self.view.centerOn(self.to_scene(point))
        self.update()
