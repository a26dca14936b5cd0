"""The Compare dock: two runs of the file side by side (engine/compare.py does the comparing).

On top, both runs' lanes on one time axis, each lane of run A right above the same lane of run B, bars of nodes
that differ outlined; below, one row per node (status, executions, time and output in A and B, differing rows
first and tinted), and the final states key by key. Clicking a bar or a row selects the node on the canvas.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, QRectF, Qt, Signal
from PySide6.QtGui import QFontMetrics, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QLabel, QScrollArea, QSplitter, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from tea_studio.engine.compare import (
    CHANGED,
    COUNT,
    DURATION,
    ONLY_A,
    ONLY_B,
    OUTPUT,
    STATUS,
    RunComparison,
    compare_runs,
)
from tea_studio.engine.record import Execution, RunModel, format_ms
from tea_studio.studio.canvas.theme import BAR_STATUS, CanvasTheme, canvas_theme
from tea_studio.studio.panels.run_timeline import AXIS_H, LABEL_W, LANE_H, lane_label
from tea_studio.studio.panels.state_view import ADDED, DIFF_COLOURS, REMOVED, preview

KEY_TINTS = {ONLY_A: DIFF_COLOURS[REMOVED], ONLY_B: DIFF_COLOURS[ADDED], CHANGED: DIFF_COLOURS[CHANGED]}
NODE_COLUMNS = ("node", "A", "B", "time A", "time B", "Δ time", "output A", "output B")


def run_title(model: RunModel) -> str:
    record = model.record
    result = "ok" if record.ok else "failed" if record.ok is False else "?"
    return f"{record.run_id} ({result}, {format_ms(record.duration_ms)})"


class AlignedTimeline(QWidget):
    """Both runs' lanes on one time axis: for each flow, run A's lane then run B's."""

    node_clicked = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.comparison: RunComparison | None = None
        self.rows: list[tuple[str, RunModel, str]] = []  # (A or B, its model, lane name)
        self.theme: CanvasTheme = canvas_theme("light")
        self.setMinimumHeight(AXIS_H + LANE_H)

    def set_comparison(self, comparison: RunComparison | None) -> None:
        self.comparison = comparison
        self.rows = []
        if comparison is not None:
            a, b = comparison.a, comparison.b
            for lane in dict.fromkeys([*a.lane_order, *b.lane_order]):
                self.rows += [(side, model, lane) for side, model in (("A", a), ("B", b)) if lane in model.lanes]
        self.setMinimumHeight(AXIS_H + LANE_H * max(1, len(self.rows)))
        self.update()

    @property
    def duration(self) -> float:
        if self.comparison is None:
            return 1.0
        ends = [m.end if m.end is not None else m.now for m in (self.comparison.a, self.comparison.b)]
        return max(1e-3, *ends)

    @property
    def scale(self) -> float:
        return max(10, self.width() - LABEL_W - 8) / self.duration

    def bar_rect(self, row: int, execution: Execution) -> QRectF:
        end = execution.end if execution.end is not None else execution.start
        x0 = LABEL_W + execution.start * self.scale
        return QRectF(x0, AXIS_H + row * LANE_H + 3, max(2.0, (end - execution.start) * self.scale), LANE_H - 6)

    def execution_at(self, x: float, y: float) -> Execution | None:
        row = int((y - AXIS_H) // LANE_H)
        if y < AXIS_H or not 0 <= row < len(self.rows):
            return None
        _, model, lane = self.rows[row]
        for execution in model.lanes[lane].executions:
            if self.bar_rect(row, execution).adjusted(-2, 0, 2, 0).contains(x, y):
                return execution
        return None

    def row_of(self, side: str, lane: str = "") -> int:
        return next(i for i, (s, _, name) in enumerate(self.rows) if s == side and name == lane)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        palette = self.palette()
        painter.fillRect(event.rect(), palette.base())
        if self.comparison is None:
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "Select two runs in the Runs dock: Compare")
            return
        differing = {row.node for row in self.comparison.differing_nodes}
        metrics = QFontMetrics(self.font())
        text_colour = palette.text().color()
        for row, (side, model, name) in enumerate(self.rows):
            y = AXIS_H + row * LANE_H
            if side == "B":
                painter.fillRect(QRect(0, y, self.width(), LANE_H), palette.alternateBase())
            lane = model.lanes[name]
            painter.setPen(text_colour)
            label = metrics.elidedText(f"{side} · {lane_label(lane).strip()}", Qt.TextElideMode.ElideMiddle,
                                       LABEL_W - 8)
            painter.drawText(QRect(4, y, LABEL_W - 8, LANE_H), Qt.AlignmentFlag.AlignVCenter, label)
            for execution in lane.executions:
                rect = self.bar_rect(row, execution)
                painter.fillRect(rect, self.theme.status_colours[BAR_STATUS[execution.ok]])
                if execution.node in differing:
                    painter.setPen(QPen(self.theme.bar_selected, 2))
                    painter.drawRect(rect)
                if rect.width() > metrics.horizontalAdvance(execution.node) + 6:
                    painter.setPen(self.theme.node_text)
                    painter.drawText(rect.adjusted(3, 0, 0, 0), Qt.AlignmentFlag.AlignVCenter, execution.node)
        painter.setPen(text_colour)
        painter.drawText(QRect(LABEL_W, 0, self.width() - LABEL_W, AXIS_H), Qt.AlignmentFlag.AlignVCenter,
                         f"0 … {format_ms(self.duration * 1000)} (one axis for both runs)")

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        execution = self.execution_at(event.position().x(), event.position().y())
        if execution is not None:
            self.node_clicked.emit(execution.node)
        super().mousePressEvent(event)


class RunCompareView(QWidget):
    """The Compare dock's widget."""

    node_activated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.comparison: RunComparison | None = None
        self.title = QLabel("No runs compared: select two runs in the Runs dock, then Compare")
        self.title.setObjectName("compareTitle")
        self.title.setWordWrap(True)
        self.timeline = AlignedTimeline()
        self.timeline.node_clicked.connect(self.node_activated)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.timeline)
        self.nodes = QTreeWidget()
        self.nodes.setObjectName("compareNodes")
        self.nodes.setRootIsDecorated(False)
        self.nodes.setHeaderLabels(list(NODE_COLUMNS))
        self.nodes.itemClicked.connect(lambda item, _c: self.node_activated.emit(item.text(0)))
        self.state = QTreeWidget()
        self.state.setObjectName("compareState")
        self.state.setRootIsDecorated(False)
        self.state.setHeaderLabels(["final state", "A", "B"])
        splitter = QSplitter(Qt.Orientation.Vertical)
        for widget in (scroll, self.nodes, self.state):
            splitter.addWidget(widget)
        splitter.setSizes([AXIS_H + 10 * LANE_H, 150, 100])  # room for five flows of both runs
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.title)
        layout.addWidget(splitter, 1)

    def set_theme(self, name: str) -> None:
        self.timeline.theme = canvas_theme(name)
        self.timeline.update()

    def show_runs(self, a: RunModel, b: RunModel) -> RunComparison:
        comparison = self.comparison = compare_runs(a, b)
        differing = comparison.differing_nodes
        self.title.setText(f"A: {run_title(a)}   vs   B: {run_title(b)} — {len(differing)} of "
                           f"{len(comparison.nodes)} nodes differ")
        self.timeline.set_comparison(comparison)
        self.nodes.clear()
        for row in sorted(comparison.nodes, key=lambda r: not r.differences):
            item = QTreeWidgetItem([row.node, row.a.status + _times(row.a.count),
                                    row.b.status + _times(row.b.count), format_ms(row.a.total_ms),
                                    format_ms(row.b.total_ms), delta_text(row.delta_ms),
                                    preview(row.a.output, 60), preview(row.b.output, 60)])
            tinted = {0} if row.differences else set()
            tinted |= {1, 2} if {STATUS, COUNT} & set(row.differences) else set()
            tinted |= {3, 4, 5} if DURATION in row.differences else set()
            tinted |= {6, 7} if OUTPUT in row.differences else set()
            for column in tinted:
                item.setBackground(column, DIFF_COLOURS[CHANGED])
            item.setToolTip(0, "differs in " + ", ".join(row.differences) if row.differences else "the same")
            self.nodes.addTopLevelItem(item)
        self.state.clear()
        for key in comparison.state:
            item = QTreeWidgetItem([key.key, "—" if key.kind == ONLY_B else preview(key.a, 80),
                                    "—" if key.kind == ONLY_A else preview(key.b, 80)])
            item.setToolTip(0, key.kind)
            if key.kind in KEY_TINTS:
                for column in range(3):
                    item.setBackground(column, KEY_TINTS[key.kind])
            self.state.addTopLevelItem(item)
        for tree in (self.nodes, self.state):
            for column in range(tree.columnCount() - 1):
                tree.resizeColumnToContents(column)
        return comparison

    def node_rows(self) -> list[list[str]]:
        """What the node table shows, row by row (for tests and scripts)."""
        return [[self.nodes.topLevelItem(i).text(c) for c in range(len(NODE_COLUMNS))]
                for i in range(self.nodes.topLevelItemCount())]

    def state_rows(self) -> list[list[str]]:
        return [[self.state.topLevelItem(i).text(c) for c in range(3)] for i in range(self.state.topLevelItemCount())]


def delta_text(ms: float) -> str:
    """B's time minus A's, signed ("±0" under 0.05 ms)."""
    if abs(ms) < 0.05:
        return "±0"
    return ("+" if ms > 0 else "−") + format_ms(abs(ms))


def _times(count: int) -> str:
    return f" ×{count}" if count > 1 else ""
