"""The quick-add popup (Tab or double-click on empty canvas): type to filter node kinds, Enter adds one."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPointF, Qt, Signal
from PySide6.QtWidgets import QFrame, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from tea_studio.workflow.model import CREATABLE_KINDS, kind_label


class NodeSearchPopup(QFrame):
    """A line edit over a list of node kinds; emits ``kind_chosen(kind, scene_pos)``."""

    kind_chosen = Signal(str, QPointF)

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("nodeSearchPopup")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.scene_pos = QPointF()
        self.edit = QLineEdit(self)
        self.edit.setPlaceholderText("Add node…")
        self.list = QListWidget(self)
        self.list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for kind in CREATABLE_KINDS:
            item = QListWidgetItem(kind_label(kind))
            item.setData(Qt.ItemDataRole.UserRole, kind)
            self.list.addItem(item)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(3)
        layout.addWidget(self.edit)
        layout.addWidget(self.list)
        self.resize(200, 170)
        self.edit.textChanged.connect(self._filter)
        self.edit.returnPressed.connect(self.accept)
        self.list.itemClicked.connect(lambda _item: self.accept())
        self.edit.installEventFilter(self)
        self.hide()

    def popup(self, viewport_pos, scene_pos: QPointF) -> None:
        self.scene_pos = QPointF(scene_pos)
        self.edit.clear()
        self._filter("")
        parent = self.parentWidget()
        x = min(max(0, viewport_pos.x()), max(0, parent.width() - self.width()))
        y = min(max(0, viewport_pos.y()), max(0, parent.height() - self.height()))
        self.move(x, y)
        self.show()
        self.raise_()
        self.edit.setFocus()

    def _filter(self, text: str) -> None:
        text = text.strip().lower()
        first = None
        for i in range(self.list.count()):
            item = self.list.item(i)
            hidden = bool(text) and text not in item.text().lower() and text not in item.data(
                Qt.ItemDataRole.UserRole)
            item.setHidden(hidden)
            if not hidden and first is None:
                first = item
        self.list.setCurrentItem(first)

    def accept(self) -> None:
        item = self.list.currentItem()
        self.hide()
        if item is not None and not item.isHidden():
            self.kind_chosen.emit(item.data(Qt.ItemDataRole.UserRole), self.scene_pos)
        self.parentWidget().setFocus()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if watched is self.edit and event.type() == QEvent.Type.KeyPress:
            key = event.key()
            if key == Qt.Key.Key_Escape:
                self.hide()
                self.parentWidget().setFocus()
                return True
            if key in (Qt.Key.Key_Down, Qt.Key.Key_Up):
                rows = [i for i in range(self.list.count()) if not self.list.item(i).isHidden()]
                if rows:
                    current = self.list.currentRow()
                    pos = rows.index(current) if current in rows else -1
                    pos = min(len(rows) - 1, pos + 1) if key == Qt.Key.Key_Down else max(0, pos - 1)
                    self.list.setCurrentRow(rows[pos])
                return True
        if watched is self.edit and event.type() == QEvent.Type.FocusOut and self.isVisible():
            if not self.list.underMouse():
                self.hide()
        return super().eventFilter(watched, event)
