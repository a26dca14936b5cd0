"""Ports: the in port (left) and out port (right) of a node; dragging from the out port draws a new route."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

PORT_RADIUS = 6.0
IN, OUT = "in", "out"
PORT_LOD = 0.35  # below this zoom ports are not drawn


class PortItem(QGraphicsItem):
    """A port child of a node item; holds only which side it is (the node item knows the node)."""

    def __init__(self, side: str, parent: QGraphicsItem) -> None:
        super().__init__(parent)
        self.side = side
        self.hovered = False
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CursorShape.CrossCursor if side == OUT else Qt.CursorShape.ArrowCursor)
        self.setToolTip("Drag to another node to add a route" if side == OUT else "")

    @property
    def node_item(self):
        return self.parentItem()

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        r = PORT_RADIUS + 2
        return QRectF(-r, -r, 2 * r, 2 * r)

    def scene_center(self) -> QPointF:
        return self.scenePos()

    def hoverEnterEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.hovered = True
        self.update()

    def hoverLeaveEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.hovered = False
        self.update()

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        if option.levelOfDetailFromTransform(painter.worldTransform()) < PORT_LOD:
            return
        theme = self.node_item.theme()
        colour = theme.port_hover if self.hovered else theme.port
        painter.setPen(QPen(theme.node_fill, 2))
        painter.setBrush(QBrush(colour))
        r = PORT_RADIUS + (1.5 if self.hovered else 0)
        painter.drawEllipse(QPointF(0, 0), r, r)
