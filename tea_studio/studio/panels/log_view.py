"""The log dock: Lua print lines, warnings and errors by node and branch, filterable by text and level.

Rows are appended in batches (one model insert per tick). Double-clicking an error that carries a Lua line
number emits ``open_node_line(node, line)``; any other row with a node emits ``node_activated(node)``.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QHeaderView, QLineEdit, QTableView, QVBoxLayout, QWidget

from tea_studio.studio.canvas.theme import current_theme
from tea_studio.studio.live_run import LogEntry, RunDelta, RunModel

LEVELS = {"info": 0, "warning": 1, "error": 2}
LEVEL_FILTERS = (("All levels", 0), ("Warnings and errors", 1), ("Errors only", 2))
COLUMNS = ("time", "level", "node", "branch", "message")


class LogModel(QAbstractTableModel):
    """All log entries of a run and the filtered rows shown."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.entries: list[LogEntry] = []
        self.rows: list[LogEntry] = []
        self.text = ""
        self.min_level = 0

    def accepts(self, entry: LogEntry) -> bool:
        if LEVELS.get(entry.level, 0) < self.min_level:
            return False
        if not self.text:
            return True
        needle = self.text
        return (needle in entry.text.lower() or needle in (entry.node or "").lower()
                or needle in entry.branch.lower())

    def reset_entries(self, entries: list[LogEntry]) -> None:
        self.beginResetModel()
        self.entries = list(entries)
        self.rows = [e for e in self.entries if self.accepts(e)]
        self.endResetModel()

    def append(self, entries: list[LogEntry]) -> None:
        self.entries.extend(entries)
        shown = [e for e in entries if self.accepts(e)]
        if shown:
            first = len(self.rows)
            self.beginInsertRows(QModelIndex(), first, first + len(shown) - 1)
            self.rows.extend(shown)
            self.endInsertRows()

    def set_filter(self, text: str, min_level: int) -> None:
        self.text, self.min_level = text.lower().strip(), min_level
        self.reset_entries(self.entries)

    # Qt model ------------------------------------------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802, B008 - Qt override
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802, B008 - Qt override
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802 - Qt override
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        entry = self.rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return f"{entry.t * 1000:.1f} ms"
            if column == 1:
                return entry.level
            if column == 2:
                return (entry.node or "") + (f":{entry.line}" if entry.line else "")
            if column == 3:
                return entry.branch or "main"
            return entry.text
        if role == Qt.ItemDataRole.ForegroundRole:
            colour = {"warning": current_theme().warning, "error": current_theme().error}.get(entry.level)
            return QBrush(colour) if colour is not None else None
        if role == Qt.ItemDataRole.ToolTipRole and column == 4:
            return entry.text
        return None


class LogView(QWidget):
    """The log table with its text filter and level filter."""

    open_node_line = Signal(str, int)
    node_activated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.log_model = LogModel(self)
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter by text, node or branch")
        self.filter_edit.setClearButtonEnabled(True)
        self.level_box = QComboBox()
        for label, level in LEVEL_FILTERS:
            self.level_box.addItem(label, level)
        self.filter_edit.textChanged.connect(self._filter_changed)
        self.level_box.currentIndexChanged.connect(self._filter_changed)
        self.table = QTableView()
        self.table.setModel(self.log_model)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(20)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column, width in enumerate((70, 60, 110, 90)):
            self.table.setColumnWidth(column, width)
        self.table.doubleClicked.connect(self._activated)
        top = QHBoxLayout()
        top.addWidget(self.filter_edit, 1)
        top.addWidget(self.level_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)

    def set_model(self, model: RunModel | None) -> None:
        self.log_model.reset_entries(model.logs if model is not None else [])

    def apply(self, delta: RunDelta) -> None:
        if not delta.logs:
            return
        bar = self.table.verticalScrollBar()
        at_bottom = bar.value() >= bar.maximum() - 2
        self.log_model.append(delta.logs)
        if at_bottom:
            self.table.scrollToBottom()

    def set_filter(self, text: str = "", min_level: int = 0) -> None:
        self.filter_edit.setText(text)
        self.level_box.setCurrentIndex(max(0, [lv for _, lv in LEVEL_FILTERS].index(min_level)))

    def visible_entries(self) -> list[LogEntry]:
        return list(self.log_model.rows)

    def activate_row(self, row: int) -> None:
        """What a double-click on ``row`` does."""
        self._activated(self.log_model.index(row, 0))

    def _filter_changed(self, *_args) -> None:
        self.log_model.set_filter(self.filter_edit.text(), self.level_box.currentData() or 0)

    def _activated(self, index: QModelIndex) -> None:
        if not index.isValid():
            return
        entry = self.log_model.rows[index.row()]
        if not entry.node:
            return
        if entry.line:
            self.open_node_line.emit(entry.node, entry.line)
        else:
            self.node_activated.emit(entry.node)
