"""Ports: the in port (left middle) and out port (right middle) of a node box.

Ports are drawn by their node item and found by geometry rather than being items of their own: two child items
per node doubled the cost of moving nodes (the scene index re-queried every port at every drag step).
"""

from __future__ import annotations

from PySide6.QtCore import QLineF, QPointF
from PySide6.QtGui import QBrush, QPainter, QPen

from tea_studio.studio.canvas.theme import CanvasTheme

PORT_RADIUS = 6.0
PORT_HIT_RADIUS = 11.0
IN, OUT = "in", "out"
PORT_LOD = 0.35  # below this zoom ports are not drawn


def port_centres(width: float, height: float) -> dict[str, QPointF]:
    """Port centres in node-local coordinates."""
    return {IN: QPointF(0, height / 2), OUT: QPointF(width, height / 2)}


def port_at(local: QPointF, width: float, height: float) -> str | None:
    """Which port (IN/OUT) a node-local point is on, if any."""
    for side, centre in port_centres(width, height).items():
        if QLineF(local, centre).length() <= PORT_HIT_RADIUS:
            return side
    return None


def paint_port(painter: QPainter, theme: CanvasTheme, centre: QPointF, hovered: bool) -> None:
    painter.setPen(QPen(theme.node_fill, 2))
    painter.setBrush(QBrush(theme.port_hover if hovered else theme.port))
    radius = PORT_RADIUS + (1.5 if hovered else 0)
    painter.drawEllipse(centre, radius, radius)
