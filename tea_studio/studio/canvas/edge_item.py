"""Route items: a cached curve from a node's out port to another node's in port, drawn by route style.

The path (and its hit shape) is rebuilt only when an end node moves or the route changes. Routes from
``__start__`` and to ``__end__`` are short stubs with a terminal dot.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPainterPathStroker,
    QPen,
    QPolygonF,
)
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from tea_studio.studio.canvas.node_item import NODE_H, NODE_W
from tea_studio.studio.canvas.port_item import PORT_RADIUS
from tea_studio.studio.canvas.theme import LIGHT, CanvasTheme
from tea_studio.workflow.routes import Route, RouteStyle

STUB = 46.0
ARRIVE = QPointF(PORT_RADIUS + 1.5, 0)  # arrows stop just before the in port so it does not hide them
LABEL_WIDTH = 130  # pixels; longer conditions are elided (the tooltip has the full text)
LABEL_MIN_WIDTH = 48  # a label always shows this much of its condition
LABEL_CLEARANCE = 8  # between a label and the ports at the ends of its route
SKIP_DISTANCE = NODE_W + 160.0
LABEL_LOD = 0.5
HANDLE_RADIUS = 6.0

_PENS: dict[tuple, QPen] = {}  # painting 1000s of routes must not build a pen per route per paint


def _make_pen(theme: CanvasTheme, style: RouteStyle, selected: bool, emphasised: bool, far: bool) -> QPen:
    colour = {RouteStyle.CONDITIONAL: theme.edge_conditional, RouteStyle.FORK: theme.edge_fork,
              RouteStyle.JOIN: theme.edge_join, RouteStyle.CHAIN: theme.edge_implicit}.get(style, theme.edge_sequential)
    if selected:
        colour = theme.edge_selected
    pen = QPen(colour, 2.4 if emphasised else 1.6)
    if far:
        pen.setCosmetic(True)
        pen.setWidthF(1.0)
    elif style is RouteStyle.FORK:
        pen.setStyle(Qt.PenStyle.DashLine)
        pen.setWidthF(pen.widthF() + 0.4)
    elif style is RouteStyle.JOIN:
        pen.setStyle(Qt.PenStyle.DashDotLine)
    elif style is RouteStyle.CHAIN:
        pen.setStyle(Qt.PenStyle.DotLine)
        pen.setWidthF(1.3)
    return pen
_label_font: tuple[QFont, QFontMetricsF] | None = None


def _font() -> tuple[QFont, QFontMetricsF]:
    global _label_font
    if _label_font is None:
        font = QFont()
        font.setPointSizeF(8.0)
        _label_font = (font, QFontMetricsF(font))
    return _label_font


def route_curve(start: QPointF, end: QPointF, lane: int = 0) -> QPainterPath:
    """A left-to-right cubic curve; routes that skip a column arc around the nodes between; a route to a band
    further down (a wrapped layout) turns back through the gap above it; other backward routes loop around below."""
    path = QPainterPath(start)
    dx = end.x() - start.x()
    bend = lane * 16.0
    if dx >= 30:
        reach = max(40.0, dx * 0.5)
        if dx > SKIP_DISTANCE:  # passes over a column of nodes: arc above (or below when going down)
            lift = (-1 if start.y() <= end.y() + 1 else 1) * (NODE_H + 30.0) + bend
            reach = min(reach, 120.0)
            path.cubicTo(QPointF(start.x() + reach, start.y() + lift), QPointF(end.x() - reach, end.y() + lift), end)
        else:
            path.cubicTo(QPointF(start.x() + reach, start.y() + bend), QPointF(end.x() - reach, end.y() + bend),
                         end)
    elif end.y() - start.y() > NODE_H:  # the flow wraps to a band below: turn back through the gap between them
        mid = (start.y() + end.y()) / 2 + bend
        path.cubicTo(QPointF(start.x() + 70, start.y()), QPointF(start.x() + 70, mid), QPointF(start.x(), mid))
        path.lineTo(QPointF(end.x(), mid))
        path.cubicTo(QPointF(end.x() - 70, mid), QPointF(end.x() - 70, end.y()), end)
    else:  # a route going back (a loop): leave right, come in from the left, passing below
        drop = 70.0 + abs(end.y() - start.y()) * 0.15 + bend
        low = max(start.y(), end.y()) + drop
        path.cubicTo(QPointF(start.x() + 90, start.y()), QPointF(start.x() + 90, low),
                     QPointF((start.x() + end.x()) / 2, low))
        path.cubicTo(QPointF(end.x() - 90, low), QPointF(end.x() - 90, end.y()), end)
    return path


class EdgeLabel(QGraphicsItem):
    """The condition of a route, elided, drawn above the nodes; hovering shows the full text."""

    def __init__(self, edge: EdgeItem) -> None:
        super().__init__()
        self.edge = edge
        self.text = ""
        self._rect = QRectF()
        self.setZValue(2.0)
        self.setAcceptHoverEvents(True)

    def set_text(self, full: str, centre: QPointF, room: float = LABEL_WIDTH) -> None:
        """Show ``full`` at ``centre``, elided to ``room`` (the gap between the route's ends: over a node's port
        the label would hide it)."""
        font, metrics = _font()
        text = metrics.elidedText(full, Qt.TextElideMode.ElideRight, max(LABEL_MIN_WIDTH, min(LABEL_WIDTH, room)))
        width = metrics.horizontalAdvance(text) + 12
        self.prepareGeometryChange()
        self.text = text
        self._rect = QRectF(-width / 2, -9, width, 18)
        self.setPos(centre)
        self.setToolTip(full)
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        return self._rect.adjusted(-1, -1, 1, 1)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        if self.edge.dragging_end is not None or option.levelOfDetailFromTransform(
                painter.worldTransform()) < LABEL_LOD:
            return
        theme = self.edge.theme()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        selected = self.edge.isSelected()
        painter.setPen(QPen(theme.edge_selected if selected else theme.edge_conditional, 1.5 if selected else 1))
        painter.setBrush(theme.label_fill)
        painter.drawRoundedRect(self._rect, 9, 9)
        painter.setFont(_font()[0])
        painter.setPen(theme.label_text)
        painter.drawText(self._rect, Qt.AlignmentFlag.AlignCenter, self.text)


class EdgeItem(QGraphicsItem):
    """The item of one route. ``source_item``/``target_item`` are node items (None for __start__/__end__)."""

    def __init__(self, route: Route, source_item, target_item) -> None:
        super().__init__()
        self.route = route
        self.source_item = source_item
        self.target_item = target_item
        self.lane = route.lane
        self.dragging_end: str | None = None  # hidden while its end is dragged
        self._path = QPainterPath()
        self._shape: QPainterPath | None = None
        self._arrow = QPolygonF()
        self.label: EdgeLabel | None = None
        self._bounds = QRectF()
        chain = route.style is RouteStyle.CHAIN
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, not chain)
        self.setAcceptHoverEvents(True)
        self.setZValue(-0.5 if chain else 0.0)
        self.set_route(route)

    def theme(self) -> CanvasTheme:
        scene = self.scene()
        return getattr(scene, "theme", LIGHT) if scene is not None else LIGHT

    def set_route(self, route: Route) -> None:
        """Take a (possibly changed) route description; the path is rebuilt only when the geometry changed."""
        if route == self.route and not self._path.isEmpty():
            return
        changed = route.label != self.route.label or route.lane != self.lane or route.style != self.route.style
        self.route = route
        self.lane = route.lane
        tip = {RouteStyle.CONDITIONAL: "conditional route", RouteStyle.FORK: "parallel branch",
               RouteStyle.JOIN: "join into the fan-in",
               RouteStyle.CHAIN: "next node in the list (implicit)"}.get(route.style, "route")
        text = f"{route.source} → {route.target}: {tip}"
        if route.label:
            text += f"\n{route.label}"
        self.setToolTip(text)
        if changed or self._path.isEmpty():
            self.rebuild()

    def end_points(self) -> tuple[QPointF, QPointF]:
        if self.source_item is not None:
            start = self.source_item.out_point()
            end = self.target_item.in_point() - ARRIVE if self.target_item is not None else start + QPointF(STUB, 0)
        else:
            end = self.target_item.in_point() - ARRIVE
            start = end - QPointF(STUB, 0)
        return start, end

    def rebuild(self) -> None:
        """Recompute the cached path after an end moved."""
        self.prepareGeometryChange()
        start, end = self.end_points()
        if self.source_item is None or self.target_item is None:
            self._path = QPainterPath(start)
            self._path.lineTo(end)
        else:
            self._path = route_curve(start, end, self.lane)
        self._shape = None
        self._arrow = self._arrow_head(end)
        if self.route.label:
            if self.label is None:
                self.label = EdgeLabel(self)
                if self.scene() is not None:
                    self.scene().addItem(self.label)
            start, end = self._path.pointAtPercent(0), self._path.pointAtPercent(1)
            room = end.x() - start.x() - 12 - 2 * LABEL_CLEARANCE if end.x() > start.x() else LABEL_WIDTH
            self.label.set_text(self.route.label, self._path.pointAtPercent(0.5), room)
        elif self.label is not None:
            self.drop_label()
        self._bounds = self._path.boundingRect().united(self._arrow.boundingRect()).adjusted(
            -HANDLE_RADIUS - 2, -HANDLE_RADIUS - 2, HANDLE_RADIUS + 2, HANDLE_RADIUS + 2)
        self.update()

    def drop_label(self) -> None:
        if self.label is not None:
            if self.label.scene() is not None:
                self.label.scene().removeItem(self.label)
            self.label = None

    def itemChange(self, change, value):  # noqa: N802 - Qt's name
        if change == QGraphicsItem.GraphicsItemChange.ItemSceneHasChanged and self.label is not None:
            if value is not None and self.label.scene() is None:
                value.addItem(self.label)
        elif change == QGraphicsItem.GraphicsItemChange.ItemSelectedHasChanged and self.label is not None:
            self.label.update()
        return super().itemChange(change, value)

    def _arrow_head(self, end: QPointF) -> QPolygonF:
        """The arrow at the target, pointing along the path's last tangent (its last control point)."""
        count = self._path.elementCount()
        element = self._path.elementAt(max(0, count - 2))
        before = QPointF(element.x, element.y)
        if QLineF(end, before).length() < 0.5:
            before = end - QPointF(10, 0)
        line = QLineF(end, before)
        angle = math.atan2(line.dy(), line.dx())
        size = 9.0
        left = end + QPointF(math.cos(angle + 0.45) * size, math.sin(angle + 0.45) * size)
        right = end + QPointF(math.cos(angle - 0.45) * size, math.sin(angle - 0.45) * size)
        return QPolygonF([end, left, right])

    def path(self) -> QPainterPath:
        return self._path

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        return self._bounds

    def shape(self) -> QPainterPath:
        if self._shape is None:
            stroker = QPainterPathStroker()
            stroker.setWidth(10)
            self._shape = stroker.createStroke(self._path)
        return self._shape

    def end_handle_at(self, scene_pos: QPointF, radius: float = 12.0) -> str | None:
        """"source"/"target" when ``scene_pos`` is near that end of the route."""
        start, end = self.end_points()
        if QLineF(scene_pos, end).length() <= radius and self.target_item is not None:
            return "target"
        if QLineF(scene_pos, start).length() <= radius and self.source_item is not None:
            return "source"
        return None

    def pen(self, theme: CanvasTheme, far: bool = False) -> QPen:
        """The route's pen (``far``: the thin solid one drawn when zoomed far out); shared, never modified."""
        style = self.route.style
        selected = self.isSelected()
        emphasised = selected or (self.source_item is not None and self.source_item.isSelected() and style is not RouteStyle.CHAIN)
        key = (id(theme), style, selected, emphasised, far)
        pen = _PENS.get(key)
        if pen is None:
            pen = _PENS[key] = _make_pen(theme, style, selected, emphasised, far)
        return pen

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        if self.dragging_end is not None:
            return
        theme = self.theme()
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        if lod < LABEL_LOD:
            painter.setPen(self.pen(theme, far=True))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawPath(self._path)
            return
        pen = self.pen(theme)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._path)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QBrush(pen.color()))
        painter.drawPolygon(self._arrow)
        if self.source_item is None:
            painter.drawEllipse(self._path.pointAtPercent(0), 5, 5)
        elif self.target_item is None:
            end = self._path.pointAtPercent(1)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(QPen(pen.color(), 2))
            painter.drawEllipse(end + QPointF(5, 0), 5, 5)
        if self.isSelected():
            painter.setPen(QPen(theme.edge_selected, 1.5))
            painter.setBrush(QColor(theme.node_fill))
            start, end = self.end_points()
            for point in (start, end):
                painter.drawEllipse(point, HANDLE_RADIUS - 1.5, HANDLE_RADIUS - 1.5)
