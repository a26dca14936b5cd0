"""The run timeline: a Gantt chart with the main flow and one lane per branch, painted by hand.

A bar per node execution, a tick for each branch's VM-ready time, tooltips with timing and VM memory. Click a
bar to select that execution; the wheel zooms around the cursor (Shift+wheel pans). Repaints happen only when
the live run's tick says something changed. The branches of one fork form a group; a group of more than
:data:`GROUP_LIMIT` branches (a dynamic_parallel over hundreds of items) starts collapsed into one summary row,
and clicking a group's label row collapses or expands it. A loop, steps node or dynamic_parallel item step list
has a row of its own under the flow running it (``› loop``): one bar per step, each iteration numbered where it
starts. Executions that used a pinned output are hatched.
"""

from __future__ import annotations

import bisect
import math

from PySide6.QtCore import QPoint, QRect, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFontMetrics, QMouseEvent, QPainter, QPaintEvent, QPen, QWheelEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMenu,
    QScrollArea,
    QScrollBar,
    QToolButton,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from tea_studio.engine.events import BranchStarted
from tea_studio.engine.record import Execution, Lane, RunDelta, RunModel, format_ms
from tea_studio.studio.actions import add_menu_item, on_click
from tea_studio.studio.canvas.theme import BAR_STATUS, CanvasTheme, canvas_theme
from tea_studio.studio.throttle import RepaintThrottle

LANE_H = 20
LABEL_W = 130
AXIS_H = 18
MIN_SCALE = 1.0  # px per second
MAX_SCALE = 5e6

GROUP_LIMIT = 50  # larger branch groups start collapsed
PINNED_MIN_W = 8.0  # px: the hatched bar of an execution that used a pinned output


class TimelineCanvas(QWidget):
    """The painted lanes. Horizontal zoom/pan is its own (scale + origin); vertical scrolling is the scroll area's."""

    execution_clicked = Signal(object)  # Execution
    pin_requested = Signal(object)  # Execution: its bar's menu asked to pin the node's output from this run
    start_requested = Signal(object, str)  # Execution, engine.start mode: run from it (or it alone) with its input
    view_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model: RunModel | None = None
        self.scale = 100.0  # px per second
        self.origin = 0.0  # seconds at the left edge of the bar area
        self.follow = True  # keep the whole run in view while it grows
        self.selected: Execution | None = None
        self.theme: CanvasTheme = canvas_theme("light")
        self._throttle = RepaintThrottle()
        self._lanes_changed = False
        self._where_record: object = None  # where each branch ran, read from the record's events on hover
        self._where_seen = 0
        self._wheres: dict[str, str] = {}
        self.toggled: set[tuple] = set()  # groups the user collapsed or expanded (against the default)
        self._rows: list[Lane | tuple] = []  # what each row shows: a lane, or a group header (parent, fork)
        self.setMouseTracking(True)
        self.setMinimumHeight(AXIS_H + LANE_H)

    # data ----------------------------------------------------------------------------------------------------
    def set_model(self, model: RunModel | None) -> None:
        self.model = model
        self.selected = None
        self.follow = True
        self._resize_lanes()
        self.refresh()

    def refresh(self) -> None:
        if self.follow:
            self.fit()
        self.update()

    def _resize_lanes(self) -> None:
        self._rows = self._layout_rows()
        self.setMinimumHeight(AXIS_H + LANE_H * max(1, len(self._rows)))

    def group_of(self, lane: Lane) -> tuple | None:
        """(parent flow, fork node) of a branch lane; None for the main flow and step rows."""
        if lane.fork is None or not lane.branch:
            return None
        return lane.branch.rpartition("/")[0], lane.fork

    def collapsed(self, group: tuple, size: int) -> bool:
        return (size > GROUP_LIMIT) != (group in self.toggled)

    def _layout_rows(self) -> list[Lane | tuple]:
        """The lanes in order, a header row before each group of branches, collapsed groups folded into it."""
        if self.model is None:
            return []
        lanes = [self.model.lanes[name] for name in self.model.lane_order]
        sizes: dict[tuple, int] = {}
        for lane in lanes:
            group = self.group_of(lane)
            if group is not None:
                sizes[group] = sizes.get(group, 0) + 1
        rows: list[Lane | tuple] = []
        shown: set[tuple] = set()
        hidden: set[str] = set()  # lanes folded into a collapsed group, and everything nested below them
        for lane in lanes:
            if lane.branch and lane.branch.rpartition("/")[0] in hidden:
                hidden.add(lane.branch)
                continue
            group = self.group_of(lane)
            if group is not None and group not in shown:
                shown.add(group)
                rows.append(group)
            if group is not None and self.collapsed(group, sizes[group]):
                hidden.add(lane.branch)
                continue
            rows.append(lane)
        return rows

    def group_lanes(self, group: tuple) -> list[Lane]:
        return [lane for lane in self.model.lanes.values() if self.group_of(lane) == group] if self.model else []

    def toggle_group(self, group: tuple) -> None:
        self.toggled ^= {group}
        self._resize_lanes()
        self.update()

    def apply(self, delta: RunDelta) -> bool:
        """Repaint (and grow with new lanes) on at most one tick in three while running; at once at the end.
        Returns whether new lanes were shown."""
        self._lanes_changed |= delta.lanes or delta.reset
        if self._throttle.due(force=bool(delta.finished or delta.reset)):
            grown = self._lanes_changed
            if grown:
                self._lanes_changed = False
                self._resize_lanes()
            self.refresh()
            return grown
        return False

    def set_theme(self, name: str) -> None:
        """Paint with the canvas's status colours of theme ``name``."""
        self.theme = canvas_theme(name)
        self.update()

    def bar_colour(self, ok: bool | None) -> QColor:
        return self.theme.status_colours[BAR_STATUS[ok]]

    @property
    def duration(self) -> float:
        if self.model is None:
            return 1.0
        if self.model.end is not None:
            return max(self.model.end, 1e-3)
        return max(self.model.now, 1e-3)

    # zoom ----------------------------------------------------------------------------------------------------
    def bar_width(self) -> int:
        return max(10, self.width() - LABEL_W - 8)

    def fit(self) -> None:
        self.scale = min(MAX_SCALE, max(MIN_SCALE, self.bar_width() / self.duration))
        self.origin = 0.0
        self.view_changed.emit()

    def zoom(self, factor: float, anchor_x: float | None = None) -> None:
        anchor_x = LABEL_W + self.bar_width() / 2 if anchor_x is None else anchor_x
        anchor_t = self.time_at(anchor_x)
        self.scale = min(MAX_SCALE, max(MIN_SCALE, self.scale * factor))
        self.origin = max(0.0, anchor_t - (anchor_x - LABEL_W) / self.scale)
        self.follow = False
        self.view_changed.emit()
        self.update()

    def set_origin(self, seconds: float) -> None:
        self.origin = max(0.0, seconds)
        self.follow = False
        self.update()

    def x_of(self, t: float) -> float:
        return LABEL_W + (t - self.origin) * self.scale

    def time_at(self, x: float) -> float:
        return self.origin + (x - LABEL_W) / self.scale

    # geometry ------------------------------------------------------------------------------------------------
    def row_at(self, y: float) -> Lane | tuple | None:
        if self.model is None or y < AXIS_H:
            return None
        row = int((y - AXIS_H) // LANE_H)
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def lane_at(self, y: float) -> Lane | None:
        row = self.row_at(y)
        return row if isinstance(row, Lane) else None

    def lane_row(self, branch: str) -> int | None:
        """The row a lane is drawn on (None while its group is collapsed)."""
        for i, row in enumerate(self._rows):
            if isinstance(row, Lane) and row.branch == branch:
                return i
        return None

    def execution_at(self, pos: QPoint) -> Execution | None:
        lane = self.lane_at(pos.y())
        if lane is None or pos.x() < LABEL_W:
            return None
        t = self.time_at(pos.x())
        slack = 3 / self.scale  # a few pixels, so tiny bars can be hit
        i = bisect.bisect_right(lane.starts, t + slack)
        for execution in reversed(lane.executions[max(0, i - 8):i]):
            end = execution.end if execution.end is not None else self.duration
            if execution.start - slack <= t <= end + slack:
                return execution
        return None

    def bar_rect(self, lane_row: int, execution: Execution) -> QRectF:
        end = execution.end if execution.end is not None else self.duration
        x0, x1 = self.x_of(execution.start), self.x_of(end)
        return QRectF(x0, AXIS_H + lane_row * LANE_H + 3, max(1.0, x1 - x0), LANE_H - 6)

    # painting ------------------------------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        palette = self.palette()
        painter.fillRect(event.rect(), palette.base())
        if self.model is None:
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No run yet")
            return
        clip: QRect = event.rect()
        text_colour = palette.text().color()
        metrics = QFontMetrics(self.font())
        rows = self._rows
        first = max(0, (clip.top() - AXIS_H) // LANE_H)
        last = min(len(rows) - 1, (clip.bottom() - AXIS_H) // LANE_H + 1)
        width = self.width()
        t_from, t_to = self.time_at(LABEL_W), self.time_at(width)
        alternate = palette.alternateBase()
        painter.setClipRect(QRect(LABEL_W, 0, width - LABEL_W, self.height()))
        for row in range(first, last + 1):
            y = AXIS_H + row * LANE_H
            if row % 2:
                painter.fillRect(QRect(LABEL_W, y, width, LANE_H), alternate)
            entry = rows[row]
            if isinstance(entry, Lane):
                self._paint_lane(painter, row, entry, t_from, t_to)
            elif self.collapsed(entry, len(self.group_lanes(entry))):
                for lane in self.group_lanes(entry):  # a collapsed group: every branch's bars on one row
                    self._paint_lane(painter, row, lane, t_from, t_to)
        painter.setClipping(False)
        # lane labels and axis on top
        painter.fillRect(QRect(0, 0, LABEL_W, self.height()), palette.window())
        painter.setPen(text_colour)
        for row in range(first, last + 1):
            entry = rows[row]
            if isinstance(entry, Lane):
                label = lane_label(entry)
            else:
                label = self.group_label(entry)
            text = metrics.elidedText(label, Qt.TextElideMode.ElideMiddle, LABEL_W - 8)
            painter.drawText(QRect(4, AXIS_H + row * LANE_H, LABEL_W - 8, LANE_H),
                             Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, text)
        self._paint_axis(painter, t_from, t_to, metrics, text_colour)

    def group_label(self, group: tuple) -> str:
        lanes = self.group_lanes(group)
        failed = sum(1 for lane in lanes if lane.ok is False)
        arrow = "▸" if self.collapsed(group, len(lanes)) else "▾"
        return f"{arrow} {group[1]}: {len(lanes)}" + (f" ({failed} ✗)" if failed else "")

    def _paint_lane(self, painter: QPainter, row: int, lane: Lane, t_from: float, t_to: float) -> None:
        """Paint the lane's bars in [t_from, t_to]: finished ones as merged spans, then the open tail on top.

        Each QPainter call hands the GIL over (and waits for it behind busy branch threads), so bars that touch
        within a pixel and share a colour become one rectangle: a lane costs a few calls, not one per execution.
        """
        scale, origin = self.scale, self.origin
        y = AXIS_H + row * LANE_H + 3
        h = LANE_H - 6
        painter.setPen(Qt.PenStyle.NoPen)
        spans = lane.spans(2.0 ** math.floor(math.log2(1.0 / scale)))  # merge gaps under half to one pixel
        starts, ends, oks = spans.starts, spans.ends, spans.oks
        first = max(0, bisect.bisect_left(starts, t_from) - 1)
        run_ok, run_x0, run_x1 = None, 0.0, None  # the rectangle being merged
        for j in range(first, len(starts)):
            start = starts[j]
            if start > t_to:
                break
            x0 = LABEL_W + (start - origin) * scale
            x1 = max(x0 + 1.0, LABEL_W + (ends[j] - origin) * scale)
            ok = oks[j]
            if run_x1 is not None and ok is run_ok and x0 <= run_x1 + 1.0:
                run_x1 = max(run_x1, x1)
                continue
            if run_x1 is not None:
                painter.fillRect(QRectF(run_x0, y, run_x1 - run_x0, h), self.bar_colour(run_ok))
            run_ok, run_x0, run_x1 = ok, x0, x1
        if run_x1 is not None:
            painter.fillRect(QRectF(run_x0, y, run_x1 - run_x0, h), self.bar_colour(run_ok))
        duration = self.duration
        for execution in lane.executions[spans.done:]:  # running (and not yet folded) bars
            self._paint_bar(painter, execution, y, h, duration, t_from, t_to)
        selected = self.selected
        if selected is not None and selected.branch == lane.branch and self.lane_row(lane.branch) == row:
            self._paint_bar(painter, selected, y, h, duration, t_from, t_to, self.theme.bar_selected)
        if lane.pinned:
            paint_pinned(self, painter, lane, y, h, t_from, t_to)
        if is_step_row(lane):
            paint_iterations(self, painter, lane, y, h, t_from, t_to)
        if lane.vm_ready is not None and t_from <= lane.vm_ready <= t_to:
            x = self.x_of(lane.vm_ready)
            painter.setPen(QPen(self.theme.vm_ready, 2))
            painter.drawLine(int(x), y - 2, int(x), y + h + 2)

    def _paint_bar(self, painter: QPainter, execution: Execution, y: int, h: int, duration: float, t_from: float,
                   t_to: float, colour: QColor | None = None) -> None:
        end = execution.end if execution.end is not None else duration
        if execution.start > t_to or end < t_from:
            return
        x0 = self.x_of(execution.start)
        x1 = max(x0 + 1.0, self.x_of(end))
        painter.fillRect(QRectF(x0, y, x1 - x0, h), colour or self.bar_colour(execution.ok))

    def _paint_axis(self, painter: QPainter, t_from: float, t_to: float, metrics: QFontMetrics, colour) -> None:
        painter.fillRect(QRect(LABEL_W, 0, self.width() - LABEL_W, AXIS_H), self.palette().window())
        span = max(t_to - t_from, 1e-6)
        step = 10 ** int(f"{span / 6:e}".split("e")[1])
        while span / step > 8:
            step *= 2
        t = (int(t_from / step) + 1) * step if t_from > 0 else 0.0
        painter.setPen(colour)
        while t <= t_to:
            x = int(self.x_of(t))
            painter.drawLine(x, AXIS_H - 4, x, AXIS_H)
            painter.drawText(x + 2, AXIS_H - 5, format_ms(t * 1000))
            t += step

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        if self.follow and event.oldSize().width() != event.size().width():
            self.fit()

    # interaction ---------------------------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        row = self.row_at(event.position().y())
        if isinstance(row, tuple) and event.position().x() < LABEL_W:
            self.toggle_group(row)
            return
        execution = self.execution_at(event.position().toPoint())
        if execution is not None:
            self.select(execution)
            self.execution_clicked.emit(execution)
        super().mousePressEvent(event)

    def select(self, execution: Execution | None) -> None:
        self.selected = execution
        self.update()

    def contextMenuEvent(self, event) -> None:  # noqa: N802 - Qt override
        """A bar's menu: pin the node's output as this execution produced it (a node of the workflow, finished ok)."""
        execution = self.execution_at(event.pos())
        if execution is None:
            return
        menu = QMenu(self)
        known = execution.node in (self.model.nodes if self.model else {})
        add_menu_item(menu, f"Pin This Output of {execution.node}", "pinExecutionOutput",
                      lambda: self.pin_requested.emit(execution), enabled=bool(execution.ok) and known)
        menu.addSeparator()
        for text, name, mode in (("Run From Here…", "runFromExecution", "from"),
                                 ("Re-run This Node…", "rerunExecution", "node")):
            add_menu_item(menu, text, name, lambda m=mode: self.start_requested.emit(execution, m), enabled=known)
        menu.exec(event.globalPos())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        pos = event.position().toPoint()
        execution = self.execution_at(pos)
        if execution is None:
            QToolTip.hideText()
        else:
            QToolTip.showText(event.globalPosition().toPoint(), self.tooltip(execution), self)
        super().mouseMoveEvent(event)

    def tooltip(self, execution: Execution) -> str:
        lane = self.model.lanes.get(execution.branch) if self.model else None
        lines = [f"<b>{execution.node}</b>" + (f" (x{execution.iteration})" if execution.iteration > 1 else ""),
                 *(["📌 pinned output: the node did not run"] if execution.pinned else []),
                 f"flow: {execution.branch or 'main'}",
                 f"start: {format_ms(execution.start * 1000)}"]
        if execution.timing_ms is not None:
            lines.append(f"duration: {format_ms(execution.timing_ms)}")
        else:
            lines.append("running…")
        if execution.error:
            lines.append(f"error: {execution.error}")
        if lane is not None and lane.branch:
            if lane.vm_ready is not None and lane.start is not None:
                lines.append(f"VM ready: {format_ms((lane.vm_ready - lane.start) * 1000)} after branch start")
            if lane.vm_memory_kb is not None:
                lines.append(f"VM memory: {lane.vm_memory_kb:.0f} KiB")
            where = self.where(lane.branch)
            if where:
                lines.append(f"ran on: {where}")
        return "<br>".join(lines)

    def where(self, branch: str) -> str:
        """Where the branch ran (thread, process id or Dask worker), from its BranchStarted events."""
        record = self.model.record if self.model else None
        if record is None:
            return ""
        if self._where_record is not record:
            self._where_record, self._where_seen, self._wheres = record, 0, {}
        events = record.events
        for event in events[self._where_seen:]:
            if type(event) is BranchStarted and event.where:
                self._wheres[event.branch] = event.where
        self._where_seen = len(events)
        return self._wheres.get(branch, "")

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt override
        delta = event.angleDelta().y() or event.angleDelta().x()
        if not delta:
            return
        if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            self.set_origin(self.origin - delta / 120 * 60 / self.scale)
            self.view_changed.emit()
        else:
            self.zoom(1.25 if delta > 0 else 0.8, event.position().x())
        event.accept()


class TimelineView(QWidget):
    """The timeline dock's widget: zoom buttons, the lanes and a horizontal scroll bar."""

    execution_clicked = Signal(object)  # Execution
    pin_requested = Signal(object)  # Execution
    start_requested = Signal(object, str)  # Execution, mode

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas = TimelineCanvas()
        self.canvas.execution_clicked.connect(self.execution_clicked)
        self.canvas.pin_requested.connect(self.pin_requested)
        self.canvas.start_requested.connect(self.start_requested)
        self.canvas.view_changed.connect(self._sync_scrollbar)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setWidget(self.canvas)
        self.hbar = QScrollBar(Qt.Orientation.Horizontal)
        self.hbar.valueChanged.connect(self._scrolled)
        self.summary = QLabel()
        bar = QHBoxLayout()
        bar.setContentsMargins(2, 2, 2, 2)
        for text, tip, slot in (("−", "Zoom out", lambda: self.canvas.zoom(0.5)),
                                ("+", "Zoom in", lambda: self.canvas.zoom(2.0)),
                                ("Fit", "Show the whole run", self.fit)):
            button = QToolButton()
            button.setText(text)
            button.setToolTip(tip)
            on_click(button.clicked, slot)
            bar.addWidget(button)
        bar.addWidget(self.summary, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(bar)
        layout.addWidget(self.scroll, 1)
        layout.addWidget(self.hbar)
        self._syncing = False

    def set_theme(self, name: str) -> None:
        """Paint with the status colours of theme ``name`` (the canvas's)."""
        self.canvas.set_theme(name)

    def set_model(self, model: RunModel | None) -> None:
        self.canvas.set_model(model)
        self._update_summary()

    def apply(self, delta: RunDelta) -> None:
        # the summary follows the lanes shown (a label's new text re-lays out the dock: not on every tick)
        if self.canvas.apply(delta) or delta.finished or delta.reset:
            self._update_summary()

    def fit(self) -> None:
        self.canvas.follow = True
        self.canvas.refresh()

    def select(self, execution: Execution | None) -> None:
        self.canvas.select(execution)

    @property
    def lane_count(self) -> int:
        return len(self.canvas.model.lane_order) if self.canvas.model else 0

    def _update_summary(self) -> None:
        model = self.canvas.model
        if model is None:
            self.summary.setText("")
            return
        branches = sum(1 for lane in model.branch_lanes if not is_step_row(lane))
        parts = [f"{branches} branch{'es' if branches != 1 else ''}"] if branches else []
        if model.end is not None:
            parts.append(format_ms(model.end * 1000))
        self.summary.setText(" · ".join(parts))

    def _sync_scrollbar(self) -> None:
        canvas = self.canvas
        visible = canvas.bar_width() / canvas.scale
        total = max(canvas.duration, canvas.origin + visible)
        self._syncing = True
        self.hbar.setRange(0, max(0, int((total - visible) * 1000)))
        self.hbar.setPageStep(max(1, int(visible * 1000)))
        self.hbar.setValue(int(canvas.origin * 1000))
        self._syncing = False

    def _scrolled(self, value: int) -> None:
        if not self._syncing:
            self.canvas.set_origin(value / 1000)


def is_step_row(lane: Lane) -> bool:
    """Whether the lane is the step row of a loop or steps node (not a flow)."""
    return lane.branch.rpartition("/")[2].startswith("▸")


def lane_label(lane: Lane) -> str:
    """A lane's label: the main flow, a branch (indented), or a step row (``› loop ×3``: its iterations)."""
    if is_step_row(lane):
        iterations = lane.executions[-1].iteration if lane.executions else 0
        label = "  › " + lane.branch.rpartition("/")[2][1:] + (f" ×{iterations}" if iterations > 1 else "")
    else:
        label = ("  " if lane.fork is not None else "") + (lane.branch or "main flow")
        if lane.fork is not None and lane.start is None:
            label += " · queued"  # forked, waiting for a worker (a run's end drops rows that never started)
    return ("✗ " + label) if lane.ok is False else label


def paint_pinned(canvas: TimelineCanvas, painter: QPainter, lane: Lane, y: int, h: int, t_from: float,
                 t_to: float) -> None:
    """Hatch the bars of executions that used a pinned output (the node did not run)."""
    colour = canvas.palette().text().color()
    brush = QBrush(colour, Qt.BrushStyle.BDiagPattern)
    painter.setPen(QPen(colour, 1))
    for execution in lane.pinned:  # at least a few pixels wide: a pinned node takes no time
        end = execution.end if execution.end is not None else canvas.duration
        if execution.start <= t_to and end >= t_from:
            x0 = canvas.x_of(execution.start)
            rect = QRectF(x0, y, max(PINNED_MIN_W, canvas.x_of(end) - x0), h)
            painter.fillRect(rect, canvas.bar_colour(execution.ok))
            painter.fillRect(rect, brush)
            painter.drawRect(rect)
    painter.setPen(Qt.PenStyle.NoPen)


def paint_iterations(canvas: TimelineCanvas, painter: QPainter, lane: Lane, y: int, h: int, t_from: float,
                     t_to: float) -> None:
    """On a loop's step row: a mark where each iteration starts, with its number where there is room."""
    executions = lane.executions
    if not executions or executions[-1].iteration <= 1:
        return
    starts = [(e.start, e.iteration) for i, e in enumerate(executions)
              if i == 0 or e.iteration != executions[i - 1].iteration]
    painter.setPen(canvas.palette().text().color())
    metrics = QFontMetrics(canvas.font())
    for j, (start, iteration) in enumerate(starts):
        if start > t_to:
            break
        following = starts[j + 1][0] if j + 1 < len(starts) else None
        if following is not None and following < t_from:
            continue
        x = canvas.x_of(start)
        painter.drawLine(int(x), y - 2, int(x), y + h + 2)
        text = str(iteration)
        room = (canvas.x_of(following) if following is not None else canvas.width()) - x
        if room >= metrics.horizontalAdvance(text) + 6:
            painter.drawText(QRectF(x + 2, y, room - 2, h), Qt.AlignmentFlag.AlignVCenter, text)
