"""Node items: a box showing a node's name, kind glyph, fan-in count, breakpoints, problems and run status.

An item keeps the model node it shows and reads it when painting; the only state of its own is what the view
overlays (validation problems, live-run status), which the window and the run view feed in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from tea_studio.studio.canvas.port_item import OUT, PORT_LOD, PORT_RADIUS, paint_port, port_at, port_centres
from tea_studio.studio.canvas.theme import LIGHT, CanvasTheme
from tea_studio.workflow.constructs import construct_label
from tea_studio.workflow.layout import NAME_ROOM, NODE_H, node_width
from tea_studio.workflow.layout import NODE_W as NODE_W  # the narrowest box, for the canvas modules
from tea_studio.workflow.model import ACTION, DYNAMIC_PARALLEL, LUA, NOOP, PROLOG, PYTHON, WHILE_LOOP, Node, kind_label

TEXT_LOD = 0.45  # below this zoom a node is a coloured box without text
NAME_LEFT = 40  # the name starts after the glyph and leaves room for the problem marker (NAME_ROOM in all)
NAME_RIGHT_ROOM = NAME_ROOM - NAME_LEFT
SUB_LEFT = 16
BADGE_GAP = 6
ERROR_STRIP_H = 18
_fonts: dict[str, tuple[QFont, QFontMetricsF]] = {}


@dataclass(frozen=True)
class NodeText:
    """Where a node item draws its texts: the (elided) name, kind subtitle and run badge, in item coordinates."""

    name: str
    name_rect: QRectF
    subtitle: str
    subtitle_rect: QRectF
    badge: str
    badge_rect: QRectF  # empty when there is no badge


def _font(role: str) -> tuple[QFont, QFontMetricsF]:
    if role not in _fonts:
        font = QFont()
        if role == "name":
            font.setPointSizeF(10.0)
            font.setBold(True)
        else:
            font.setPointSizeF(8.0)
        _fonts[role] = (font, QFontMetricsF(font))
    return _fonts[role]


def kind_key(node: Node, fan_in: bool) -> str:
    """The glyph/colour key of a node: its kind, or "fan_in" for a collector."""
    return "fan_in" if fan_in else node.kind


def node_caption(node: Node, fan_in_count: int | None) -> str:
    """The line under a node's name: its kind (a composite node's shape), what it collects or which action it uses."""
    label = construct_label(node) or kind_label(node.kind)
    if fan_in_count is not None:
        return f"Fan-in · waits for {fan_in_count}" if node.kind == NOOP else f"{label} · fan-in of {fan_in_count}"
    if node.kind == ACTION and node.uses:
        return f"{label} · {node.uses}"
    return label


def draw_kind_glyph(painter: QPainter, key: str, rect: QRectF, colour: QColor) -> None:
    """A small vector glyph for a node kind inside ``rect``."""
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    c = rect.center()
    r = min(rect.width(), rect.height()) / 2
    pen = QPen(colour, max(1.2, r / 4.5))
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    if key == LUA:  # the Lua planet with its moon
        painter.setBrush(QBrush(colour))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.drawEllipse(QPointF(c.x() - r * 0.12, c.y() + r * 0.12), r * 0.78, r * 0.78)
        painter.setBrush(QBrush(QColor("white")))
        painter.drawEllipse(QPointF(c.x() + r * 0.1, c.y() - r * 0.05), r * 0.22, r * 0.22)
        painter.setBrush(QBrush(colour))
        painter.drawEllipse(QPointF(c.x() + r * 0.72, c.y() - r * 0.72), r * 0.22, r * 0.22)
    elif key == PYTHON:  # two interlocking rounded squares
        s = r * 1.05
        painter.drawRoundedRect(QRectF(c.x() - s, c.y() - s, s * 1.25, s * 1.25), r * 0.3, r * 0.3)
        painter.drawRoundedRect(QRectF(c.x() - s * 0.25, c.y() - s * 0.25, s * 1.25, s * 1.25), r * 0.3, r * 0.3)
    elif key == PROLOG:  # Prolog's neck, ":-"
        painter.setBrush(QBrush(colour))
        painter.setPen(Qt.PenStyle.NoPen)
        for dy in (-0.45, 0.45):
            painter.drawEllipse(QPointF(c.x() - r * 0.55, c.y() + dy * r), r * 0.2, r * 0.2)
        painter.setPen(pen)
        painter.drawLine(QPointF(c.x() - r * 0.05, c.y()), QPointF(c.x() + r * 0.85, c.y()))
    elif key == ACTION:  # a lightning bolt
        painter.setBrush(QBrush(colour))
        painter.setPen(Qt.PenStyle.NoPen)
        pts = [(0.2, -1.0), (-0.55, 0.15), (-0.05, 0.15), (-0.25, 1.0), (0.55, -0.2), (0.05, -0.2)]
        painter.drawPolygon(QPolygonF([QPointF(c.x() + x * r, c.y() + y * r) for x, y in pts]))
    elif key == "fan_in":  # three lines converging into one
        end = QPointF(c.x() + r * 0.9, c.y())
        for dy in (-0.85, 0.0, 0.85):
            painter.drawLine(QPointF(c.x() - r * 0.9, c.y() + dy * r), QPointF(c.x() + r * 0.15, c.y()))
        painter.drawLine(QPointF(c.x() + r * 0.15, c.y()), end)
    elif key in (WHILE_LOOP, DYNAMIC_PARALLEL):  # a circular arrow
        painter.drawArc(QRectF(c.x() - r * 0.8, c.y() - r * 0.8, r * 1.6, r * 1.6), 60 * 16, 280 * 16)
        tip = QPointF(c.x() + r * 0.8 * math.cos(math.radians(60)), c.y() - r * 0.8 * math.sin(math.radians(60)))
        painter.drawLine(tip, tip + QPointF(r * 0.45, 0))
        painter.drawLine(tip, tip + QPointF(0, r * 0.45))
    else:  # no-op: a hollow ring
        painter.drawEllipse(c, r * 0.7, r * 0.7)
    painter.restore()


class NodeItem(QGraphicsItem):
    """The item of one workflow node."""

    def __init__(self, node: Node) -> None:
        super().__init__()
        self.node = node
        self.problems: list[tuple[str, str]] = []
        self.run_status: str | None = None
        self.run_badge: str | None = None
        self.run_error: str | None = None  # why the node failed in the run shown
        self.fan_in_progress: tuple[int, int] | None = None
        self.fan_in_count: int | None = None
        self.edges: set = set()  # edge items attached to this node (kept by the scene)
        self._text: NodeText | None = None
        self.width = self.fitted_width()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, True)
        self.setAcceptHoverEvents(True)
        self.setZValue(1.0)
        self.hovered_port: str | None = None
        self._refresh_tooltip()

    # -- identity ------------------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.node.name

    def theme(self) -> CanvasTheme:
        scene = self.scene()
        return getattr(scene, "theme", LIGHT) if scene is not None else LIGHT

    def _document(self):
        scene = self.scene()
        return getattr(scene, "document", None) if scene is not None else None

    def in_point(self) -> QPointF:
        return self.pos() + QPointF(0, NODE_H / 2)

    def out_point(self) -> QPointF:
        return self.pos() + QPointF(self.width, NODE_H / 2)

    def centre(self) -> QPointF:
        return self.pos() + QPointF(self.width / 2, NODE_H / 2)

    def box(self) -> QRectF:
        return QRectF(0, 0, self.width, NODE_H)

    def fitted_width(self) -> float:
        """The box width that shows the whole name (up to NODE_MAX_W; longer names are elided)."""
        return node_width(self.node.name, _font("name")[1].horizontalAdvance(self.node.name or "(no name)"))

    # -- overlays fed from outside -------------------------------------------------------------------------
    def set_problems(self, problems: list[tuple[str, str]]) -> None:
        """Validation problems of this node as (severity, message); shown as a marker and in the tooltip."""
        problems = list(problems)
        if problems != self.problems:
            self.problems = problems
            self._refresh_tooltip()
            self.update()

    def set_run_info(self, status: str | None, badge: str | None = None,
                     fan_in_progress: tuple[int, int] | None = None, error: str | None = None) -> None:
        """Live-run overlay: status colour, a duration badge, k/N for a fan-in and, for a failed node, its error
        (a strip under the box and the tooltip). Repaints this item only."""
        if (status, badge, fan_in_progress) != (self.run_status, self.run_badge, self.fan_in_progress):
            self.run_status, self.run_badge, self.fan_in_progress = status, badge, fan_in_progress
            self._text = None
            self.update()
        if error != self.run_error:
            self.prepareGeometryChange()
            self.run_error = error
            self._refresh_tooltip()
            self.update()

    def clear_run_info(self) -> None:
        self.set_run_info(None)

    def set_fan_in_count(self, count: int | None) -> None:
        if count != self.fan_in_count:
            self.fan_in_count = count
            self._text = None
            self._refresh_tooltip()
            self.update()

    def refresh(self) -> None:
        """The node changed (name, kind, code, breakpoints): resize to the name, repaint, refresh the tooltip."""
        width = self.fitted_width()
        if width != self.width:
            self.prepareGeometryChange()
            self.width = width
            for edge in self.edges:
                edge.rebuild()
        self._text = None
        self._refresh_tooltip()
        self.update()

    def _refresh_tooltip(self) -> None:
        lines = [f"<b>{_escape(self.node.name) or '(no name)'}</b> — {node_caption(self.node, self.fan_in_count)}"]
        if self.run_error:
            lines.append(f"⛔ <b>failed:</b> {_escape(self.run_error)}")
        for severity, message in self.problems:
            lines.append(f"{'⛔' if severity == 'error' else '⚠'} {_escape(message)}")
        document = self._document()
        if document is not None and document.pinned(self.node.name):
            lines.append("📌 output pinned: runs use it instead of running the node")
        self.setToolTip("<br>".join(lines))

    # -- painting ------------------------------------------------------------------------------------------
    def badge_text(self) -> str:
        """The run badge: fan-in progress k/N and the duration (empty when there was no run)."""
        texts = []
        if self.fan_in_progress is not None:
            done, total = self.fan_in_progress
            texts.append(f"{done}/{total}")
        if self.run_badge:
            texts.append(self.run_badge)
        return " · ".join(texts)

    def text_layout(self) -> NodeText:
        """The texts as drawn: the subtitle is elided so that it ends before the run badge starts."""
        if self._text is not None:
            return self._text
        _font_small, small = _font("small")
        badge = self.badge_text()
        badge_rect = QRectF()
        sub_right = self.width - 12
        if badge:
            width = small.horizontalAdvance(badge) + 12
            badge_rect = QRectF(self.width - width - 6, NODE_H - 20, width, 16)
            sub_right = badge_rect.left() - BADGE_GAP
        sub_rect = QRectF(SUB_LEFT, 34, max(0.0, sub_right - SUB_LEFT), 18)
        subtitle = small.elidedText(node_caption(self.node, self.fan_in_count), Qt.TextElideMode.ElideRight,
                                    sub_rect.width())
        name_rect = QRectF(NAME_LEFT, 8, self.width - NAME_LEFT - NAME_RIGHT_ROOM, 22)
        name = _font("name")[1].elidedText(self.node.name or "(no name)", Qt.TextElideMode.ElideRight,
                                           name_rect.width())
        self._text = NodeText(name, name_rect, subtitle, sub_rect, badge, badge_rect)
        return self._text

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        return QRectF(-8, -8, self.width + 16, NODE_H + 16 + (ERROR_STRIP_H + 4 if self.run_error else 0))

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRect(self.box())
        for centre in port_centres(self.width, NODE_H).values():
            path.addEllipse(centre, PORT_RADIUS + 2, PORT_RADIUS + 2)
        return path

    def port_at(self, scene_pos: QPointF) -> str | None:
        """"in"/"out" when ``scene_pos`` is on that port of this node."""
        return port_at(self.mapFromScene(scene_pos), self.width, NODE_H)

    def hoverMoveEvent(self, event) -> None:  # noqa: N802 - Qt's name
        port = port_at(event.pos(), self.width, NODE_H)
        if port != self.hovered_port:
            self.hovered_port = port
            if port == OUT:
                self.setCursor(Qt.CursorShape.CrossCursor)
            else:
                self.unsetCursor()
            self.update()

    def hoverLeaveEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self.hovered_port is not None:
            self.hovered_port = None
            self.unsetCursor()
            self.update()

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        theme = self.theme()
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        node = self.node
        key = kind_key(node, self.fan_in_count is not None or node.fan_in)
        accent = theme.kind_colours.get(key, theme.node_border)
        status_colour = theme.status_colours.get(self.run_status) if self.run_status else None
        selected = self.isSelected()
        box = self.box()
        if lod < TEXT_LOD:  # far out: a plain box in the kind (or status) colour
            painter.setPen(QPen(theme.node_selected, 3 / max(lod, 0.01)) if selected else Qt.PenStyle.NoPen)
            painter.setBrush(status_colour or accent)
            painter.drawRect(box)
            if self.problems:
                painter.setBrush(self._problem_colour(theme))
                painter.setPen(Qt.PenStyle.NoPen)
                painter.drawRect(QRectF(self.width - 40, 0, 40, 24))
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        fill = theme.node_fill
        if self.run_status == "skipped":
            fill = QColor(fill)
            fill.setAlpha(110)
        border = theme.node_selected if selected else (status_colour or theme.node_border)
        painter.setPen(QPen(border, 2.6 if (selected or status_colour) else 1.2))
        painter.setBrush(fill)
        painter.drawRoundedRect(box, 8, 8)
        # kind stripe on the left
        stripe = QPainterPath()
        stripe.addRoundedRect(QRectF(0.6, 0.6, 14, NODE_H - 1.2), 7, 7)
        clip = QPainterPath()
        clip.addRect(QRectF(0, 0, 6, NODE_H))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(status_colour or accent)
        painter.drawPath(stripe.intersected(clip))
        # glyph, name and kind
        draw_kind_glyph(painter, key, QRectF(16, 10, 18, 18), accent)
        text = self.text_layout()
        painter.setFont(_font("name")[0])
        painter.setPen(theme.node_text if node.name else theme.error)
        painter.drawText(text.name_rect, Qt.AlignmentFlag.AlignVCenter, text.name)
        painter.setFont(_font("small")[0])
        painter.setPen(theme.node_subtext)
        painter.drawText(text.subtitle_rect, Qt.AlignmentFlag.AlignVCenter, text.subtitle)
        if lod >= PORT_LOD:
            for side, centre in port_centres(self.width, NODE_H).items():
                paint_port(painter, theme, centre, side == self.hovered_port)
        self._paint_run_badge(painter, theme, status_colour, text)
        self._paint_breakpoints(painter, theme)
        self._paint_pin(painter, theme)
        if self.problems:
            self._paint_problem_marker(painter, theme)
        if self.run_error:
            self._paint_error_strip(painter, theme)

    def _paint_error_strip(self, painter: QPainter, theme: CanvasTheme) -> None:
        """The run's error under the box, elided to its width (the tooltip has it whole)."""
        strip = QRectF(0, NODE_H + 4, self.width, ERROR_STRIP_H)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(theme.error)
        painter.drawRoundedRect(strip, 5, 5)
        font, metrics = _font("small")
        painter.setFont(font)
        painter.setPen(QColor("white"))
        text = metrics.elidedText(" ".join(self.run_error.split()), Qt.TextElideMode.ElideRight,
                                  strip.width() - 12)
        painter.drawText(strip.adjusted(6, 0, -6, 0), Qt.AlignmentFlag.AlignVCenter, text)

    def _paint_run_badge(self, painter: QPainter, theme: CanvasTheme, status_colour: QColor | None,
                         text: NodeText) -> None:
        if not text.badge:
            return
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(status_colour or theme.node_header)
        painter.drawRoundedRect(text.badge_rect, 8, 8)
        painter.setFont(_font("small")[0])
        painter.setPen(QColor("white") if status_colour is not None else theme.node_text)
        painter.drawText(text.badge_rect, Qt.AlignmentFlag.AlignCenter, text.badge)

    def _paint_breakpoints(self, painter: QPainter, theme: CanvasTheme) -> None:
        document = self._document()
        if document is None:
            return
        before, after = document.breakpoints(self.node.name)
        painter.setPen(QPen(theme.node_fill, 1.5))
        painter.setBrush(theme.breakpoint)
        if before:
            painter.drawEllipse(QPointF(0, 14), 5.5, 5.5)
        if after:
            painter.drawEllipse(QPointF(self.width, 14), 5.5, 5.5)

    def _paint_pin(self, painter: QPainter, theme: CanvasTheme) -> None:
        """A pin left of the problem marker: runs use the node's pinned output instead of running it."""
        document = self._document()
        if document is None or not document.pinned(self.node.name):
            return
        head = QPointF(self.width - 36, 11)
        painter.setPen(QPen(theme.node_subtext, 1.6))
        painter.drawLine(head + QPointF(0, 4), head + QPointF(-3, 12))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(theme.breakpoint)
        painter.drawEllipse(head, 4.5, 4.5)

    def _problem_colour(self, theme: CanvasTheme) -> QColor:
        return theme.error if any(s == "error" for s, _ in self.problems) else theme.warning

    def _paint_problem_marker(self, painter: QPainter, theme: CanvasTheme) -> None:
        centre = QPointF(self.width - 14, 14)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self._problem_colour(theme))
        painter.drawEllipse(centre, 8, 8)
        painter.setPen(QPen(QColor("white"), 2.2))
        painter.drawLine(centre + QPointF(0, -4.2), centre + QPointF(0, 1.2))
        painter.drawPoint(centre + QPointF(0, 4.2))

    def itemChange(self, change, value):  # noqa: N802 - Qt's name
        if change == QGraphicsItem.GraphicsItemChange.ItemSelectedHasChanged:
            for edge in self.edges:
                edge.update()
        return super().itemChange(change, value)


def _escape(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
