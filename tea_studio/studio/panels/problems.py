"""The problems dock: validation results of the open workflow; activating one selects its node."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QAbstractItemView, QStyle, QTreeWidget, QTreeWidgetItem

COLUMNS = ("", "Line", "Node", "Code", "Message")


class ProblemsPanel(QTreeWidget):
    """One row per Problem (severity icon, line, node, code, message); ``problem_activated(problem)`` on click."""

    problem_activated = Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("problemsPanel")
        self.problems: list = []
        self.setColumnCount(len(COLUMNS))
        self.setHeaderLabels(COLUMNS)
        self.setRootIsDecorated(False)
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.header()
        header.setStretchLastSection(True)
        for column, width in enumerate((28, 48, 120, 150)):
            self.setColumnWidth(column, width)
        self.itemClicked.connect(self._activate)
        self.itemActivated.connect(self._activate)

    def set_problems(self, problems: list) -> None:
        self.problems = list(problems)
        self.clear()
        style = self.style()
        icons = {
            "error": style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxCritical),
            "warning": style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning),
            "info": style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxInformation),
        }
        for index, problem in enumerate(self.problems):
            row = QTreeWidgetItem(["", str(problem.line or ""), problem.node or "", problem.code, problem.message])
            row.setIcon(0, icons.get(problem.severity, icons["warning"]))
            row.setToolTip(0, problem.severity)
            row.setToolTip(4, problem.message)
            row.setData(0, Qt.ItemDataRole.UserRole, index)
            self.addTopLevelItem(row)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().paintEvent(event)
        if not self.problems:  # say so instead of showing an empty table
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().placeholderText().color())
            painter.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter, "No problems found")
            painter.end()

    def counts(self) -> tuple[int, int]:
        """(errors, warnings); notes (severity info) are neither."""
        errors = sum(1 for p in self.problems if p.severity == "error")
        return errors, sum(1 for p in self.problems if p.severity == "warning")

    def summary(self) -> str:
        errors, warnings = self.counts()
        if not errors and not warnings:
            return "No problems"
        parts = []
        if errors:
            parts.append(f"{errors} error{'s' if errors != 1 else ''}")
        if warnings:
            parts.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
        return ", ".join(parts)

    def row_for(self, code: str, node: str | None = None) -> QTreeWidgetItem | None:
        """The first row with this problem code (and node, when given)."""
        for i in range(self.topLevelItemCount()):
            problem = self.problems[i]
            if problem.code == code and (node is None or problem.node == node):
                return self.topLevelItem(i)
        return None

    def _activate(self, row: QTreeWidgetItem, _column: int = 0) -> None:
        index = row.data(0, Qt.ItemDataRole.UserRole)
        if index is not None and 0 <= index < len(self.problems):
            self.problem_activated.emit(self.problems[index])
