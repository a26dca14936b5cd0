"""The node palette: the kinds of node a user can add, dragged onto the canvas or double-clicked.

A drag carries the mime type ``application/x-tea-node-kind`` with the palette kind as text; a double-click asks the
window to add the node at the view centre. The kinds are the document's creatable kinds (``fan_in`` is a Lua node
with ``fan_in: true``).
"""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QSize, Qt, Signal
from PySide6.QtGui import QDrag
from PySide6.QtWidgets import QAbstractItemView, QListWidget, QListWidgetItem

from tea_studio.studio.canvas.view import NODE_KIND_MIME
from tea_studio.studio.resources import icon
from tea_studio.workflow.model import CREATABLE_KINDS, KINDS


class NodePalette(QListWidget):
    """The list of node kinds; emits ``node_requested(kind)`` on double-click or Enter."""

    node_requested = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("nodePalette")
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setIconSize(QSize(22, 22))
        self.setSpacing(2)
        for kind in CREATABLE_KINDS:
            info = KINDS[kind]
            item = QListWidgetItem(icon(info.icon), info.label)
            item.setData(Qt.ItemDataRole.UserRole, kind)
            item.setToolTip(f"{info.description}\nDrag onto the canvas, or double-click to add at the centre.")
            self.addItem(item)
        self.itemActivated.connect(lambda item: self.node_requested.emit(self.kind_of(item)))

    @staticmethod
    def kind_of(item: QListWidgetItem) -> str:
        return item.data(Qt.ItemDataRole.UserRole)

    def item_for_kind(self, kind: str) -> QListWidgetItem | None:
        for row in range(self.count()):
            if self.kind_of(self.item(row)) == kind:
                return self.item(row)
        return None

    def mime_for_kind(self, kind: str) -> QMimeData:
        mime = QMimeData()
        mime.setData(NODE_KIND_MIME, kind.encode())
        mime.setText(kind)
        return mime

    def mimeData(self, items) -> QMimeData:
        return self.mime_for_kind(self.kind_of(items[0])) if items else QMimeData()

    def mimeTypes(self) -> list[str]:
        return [NODE_KIND_MIME, "text/plain"]

    def startDrag(self, actions) -> None:
        item = self.currentItem()
        if item is None:
            return
        drag = QDrag(self)
        drag.setMimeData(self.mime_for_kind(self.kind_of(item)))
        drag.setPixmap(item.icon().pixmap(32, 32))
        drag.exec(Qt.DropAction.CopyAction)

    def mouseDoubleClickEvent(self, event) -> None:
        item = self.itemAt(event.position().toPoint())
        if item is not None:
            self.node_requested.emit(self.kind_of(item))
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

