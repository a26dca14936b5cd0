"""The quick-add popup (Tab or double-click on empty canvas): node kinds and ready-made snippets, each with its icon
and a one-line description; type to filter, Up/Down to choose, Enter or a click adds it.

A kind adds one node (``kind_chosen``); a snippet (``workflow/templates.py``: a fork with its fan-in, a loop, an LLM
call, a dynamic_parallel) is pasted whole (``template_chosen``): one undo step either way.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QModelIndex, QObject, QPointF, QRect, QSize, Qt, Signal
from PySide6.QtGui import QFont, QIcon, QPainter, QPalette
from PySide6.QtWidgets import (
    QFrame,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from tea_studio.studio.resources import icon
from tea_studio.workflow.action_schemas import ACTION_KIND, creatable_kinds
from tea_studio.workflow.templates import TEMPLATES

KIND, TEMPLATE = "kind", "template"
ROLE_KEY = Qt.ItemDataRole.UserRole  # (KIND | TEMPLATE, key)
ROLE_DESCRIPTION = Qt.ItemDataRole.UserRole + 1
ROW_H, ICON = 40, 22


class _EntryDelegate(QStyledItemDelegate):
    """Draws an entry as its icon, its name in bold and, below, its description in a smaller, muted font."""

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:  # noqa: N802 - Qt's name
        return QSize(option.rect.width(), ROW_H)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        style = option.widget.style() if option.widget is not None else None
        if style is not None:
            plain = QStyleOptionViewItem(option)
            self.initStyleOption(plain, index)
            plain.text, plain.icon = "", QIcon()
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, plain, painter, option.widget)
        rect = option.rect
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        group = QPalette.ColorGroup.Active
        text_colour = option.palette.color(group, QPalette.ColorRole.HighlightedText if selected else
                                           QPalette.ColorRole.Text)
        painter.save()
        entry_icon = index.data(Qt.ItemDataRole.DecorationRole)
        if entry_icon is not None:
            entry_icon.paint(painter, QRect(rect.left() + 6, rect.top() + (ROW_H - ICON) // 2, ICON, ICON))
        left = rect.left() + ICON + 14
        title = QFont(option.font)
        title.setBold(True)
        painter.setFont(title)
        painter.setPen(text_colour)
        painter.drawText(QRect(left, rect.top() + 3, rect.right() - left - 4, 18),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, index.data())
        small = QFont(option.font)
        small.setPointSizeF(max(6.5, option.font.pointSizeF() - 1.5))
        painter.setFont(small)
        muted = text_colour if selected else option.palette.color(group, QPalette.ColorRole.PlaceholderText)
        painter.setPen(muted)
        line = QRect(left, rect.top() + 20, rect.right() - left - 4, 16)
        painter.drawText(line, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         painter.fontMetrics().elidedText(index.data(ROLE_DESCRIPTION) or "",
                                                          Qt.TextElideMode.ElideRight, line.width()))
        painter.restore()


class NodeSearchPopup(QFrame):
    """A line edit over the list of kinds and snippets; emits ``kind_chosen`` or ``template_chosen`` with the scene
    position the popup was opened at."""

    kind_chosen = Signal(str, QPointF)
    template_chosen = Signal(str, QPointF)

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("nodeSearchPopup")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.scene_pos = QPointF()
        self.edit = QLineEdit(self)
        self.edit.setPlaceholderText("Add node or snippet…")
        self.list = QListWidget(self)
        self.list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.list.setItemDelegate(_EntryDelegate(self.list))
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._filled = False  # the kinds are listed at the first popup: listing actions loads the plugins
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(3)
        layout.addWidget(self.edit)
        layout.addWidget(self.list)
        self.resize(420, 34 + ROW_H * 9)
        self.edit.textChanged.connect(self._filter)
        self.edit.returnPressed.connect(self.accept)
        self.list.itemClicked.connect(lambda _item: self.accept())
        self.edit.installEventFilter(self)
        self.hide()

    def set_kinds(self, kinds) -> None:
        """The node kinds to offer, as (kind, label, icon name or None, description): the plain kinds, then the
        snippets, then one entry per registered action (so a word like "loop" finds the snippet first)."""
        self._filled = True
        self.list.clear()
        kinds = list(kinds)
        actions = [entry for entry in kinds if entry[0].startswith(ACTION_KIND)]
        kinds = [entry for entry in kinds if entry not in actions] + actions
        entries = [(icon(icon_name) if icon_name else None, label, (KIND, kind), description)
                   for kind, label, icon_name, description in kinds]
        entries[len(kinds) - len(actions):len(kinds) - len(actions)] = [
            (icon(t.icon), t.label, (TEMPLATE, t.key), t.description) for t in TEMPLATES]
        for entry in entries:
            self._add_entry(*entry)

    def _add_entry(self, entry_icon, label: str, key: tuple[str, str], description: str) -> None:
        item = QListWidgetItem(label)
        if entry_icon is not None:
            item.setIcon(entry_icon)
        item.setData(ROLE_KEY, key)
        item.setData(ROLE_DESCRIPTION, description)
        item.setToolTip(description)
        self.list.addItem(item)

    def entries(self) -> list[tuple[str, str]]:
        """The (KIND|TEMPLATE, key) of every entry shown now, top to bottom."""
        return [self.list.item(i).data(ROLE_KEY) for i in range(self.list.count()) if not self.list.item(i).isHidden()]

    def popup(self, viewport_pos, scene_pos: QPointF) -> None:
        if not self._filled:
            self.set_kinds((kind, info.label, info.icon, info.description)
                           for kind, info in creatable_kinds().items())
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
            haystack = f"{item.text()} {item.data(ROLE_KEY)[1]} {item.data(ROLE_DESCRIPTION)}".lower()
            hidden = bool(text) and text not in haystack
            item.setHidden(hidden)
            if not hidden and first is None:
                first = item
        self.list.setCurrentItem(first)

    def accept(self) -> None:
        item = self.list.currentItem()
        self.hide()
        if item is not None and not item.isHidden():
            what, key = item.data(ROLE_KEY)
            (self.kind_chosen if what == KIND else self.template_chosen).emit(key, self.scene_pos)
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
