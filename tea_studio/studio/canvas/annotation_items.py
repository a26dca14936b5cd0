"""Sticky notes and group frames on the canvas: their items, gestures and in-place editing.

:class:`AnnotationLayer` mirrors the document's annotations (``workflow/annotations.py``, stored under
``x-tea-studio``) into one :class:`NoteItem` per note and one :class:`GroupItem` per group, and re-syncs after every
applied edit, so undo and redo need nothing of their own. Every gesture is one undo step: dragging a note moves it;
dragging a frame by its title bar moves its member nodes and the notes on it; double-click edits a note's text or a
frame's title in place; Delete removes the selected notes and frames (never the nodes in a frame).
"""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import QEvent, QLineF, QObject, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QMouseEvent, QPainter, QPen, QTextOption
from PySide6.QtWidgets import (
    QApplication,
    QGraphicsItem,
    QLineEdit,
    QPlainTextEdit,
    QStyleOptionGraphicsItem,
    QWidget,
)

from tea_studio.studio.canvas.theme import CanvasTheme, canvas_theme
from tea_studio.workflow.annotations import (
    GROUP_COLOURS,
    NOTE_COLOURS,
    AnnotationsChange,
    Group,
    Note,
    free_id,
    groups_of,
    notes_of,
    with_annotations,
)
from tea_studio.workflow.edits import Edit

GROUP_PAD = 24.0  # between a frame and its member nodes
TITLE_H = 28.0  # the frame's title bar, above the members
NOTE_PAD = 10.0
ANNOTATION_MOVE_ID = 3  # consecutive drag steps of the same notes/frames merge into one undo step

_fonts: dict[str, QFont] = {}


def _font(role: str) -> QFont:
    if role not in _fonts:
        font = QFont()
        font.setPointSizeF(10.0 if role == "title" else 9.5)
        font.setBold(role == "title")
        _fonts[role] = font
    return _fonts[role]


def _theme(item: QGraphicsItem) -> CanvasTheme:
    """The theme of the item's scene (light before it is in one)."""
    return getattr(item.scene(), "theme", None) or canvas_theme("light")


class NoteItem(QGraphicsItem):
    """A sticky note: wrapped text on a coloured card."""

    def __init__(self, layer: AnnotationLayer, note: Note) -> None:
        super().__init__()
        self.layer = layer
        self.note = note
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, True)
        self.setZValue(0.5)  # above routes, below nodes
        self.set_note(note)

    def set_note(self, note: Note) -> None:
        if note != self.note or self.pos() != QPointF(note.x, note.y):
            self.prepareGeometryChange()
        self.note = note
        self.setPos(note.x, note.y)
        self.setToolTip(note.text)
        self.update()

    def rect(self) -> QRectF:
        return QRectF(0, 0, self.note.width, self.note.height)

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        return self.rect().adjusted(-2, -2, 2, 2)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        theme = _theme(self)
        fill = theme.note_fills.get(self.note.colour, theme.note_fills["yellow"])
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        selected = self.isSelected()
        border = theme.node_selected if selected else fill.darker(125)
        painter.setPen(QPen(border, 2.4 if selected else 1.0))
        painter.setBrush(fill)
        painter.drawRoundedRect(self.rect(), 4, 4)
        if option.levelOfDetailFromTransform(painter.worldTransform()) < 0.35:
            return
        painter.setFont(_font("note"))
        painter.setPen(theme.note_text)
        text_rect = self.rect().adjusted(NOTE_PAD, NOTE_PAD, -NOTE_PAD, -NOTE_PAD)
        wrap = QTextOption(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        wrap.setWrapMode(QTextOption.WrapMode.WordWrap)
        painter.save()
        painter.setClipRect(text_rect)
        painter.drawText(text_rect, self.note.text or "Double-click to write", wrap)
        painter.restore()

    def start_interaction(self, view, event: QMouseEvent) -> MoveAnnotationsInteraction:
        return MoveAnnotationsInteraction(view, self, event)


class GroupItem(QGraphicsItem):
    """A titled frame drawn around its member nodes; only its title bar takes the mouse."""

    def __init__(self, layer: AnnotationLayer, group: Group) -> None:
        super().__init__()
        self.layer = layer
        self.group = group
        self._frame = QRectF()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, True)
        self.setZValue(-2.0)  # under routes and nodes
        self.set_group(group)

    def set_group(self, group: Group) -> None:
        self.group = group
        self.setToolTip(f"{group.title}: {', '.join(group.nodes)}")
        self.refresh_frame()

    def members(self) -> list:
        scene = self.layer.scene
        return [item for item in (scene.node_item(name) for name in self.group.nodes) if item is not None]

    def refresh_frame(self) -> None:
        """Fit the frame around the members as they are now."""
        rect = QRectF()
        for item in self.members():
            rect = rect.united(item.mapRectToScene(item.box()))
        frame = rect.adjusted(-GROUP_PAD, -GROUP_PAD - TITLE_H, GROUP_PAD, GROUP_PAD) if not rect.isNull() else QRectF()
        if frame != self._frame:
            self.prepareGeometryChange()
            self._frame = frame
        self.update()

    def frame(self) -> QRectF:
        return QRectF(self._frame)

    def title_rect(self) -> QRectF:
        return QRectF(self._frame.left(), self._frame.top(), self._frame.width(), TITLE_H)

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        return self._frame.adjusted(-2, -2, 2, 2)

    def shape(self):
        from PySide6.QtGui import QPainterPath

        path = QPainterPath()
        path.addRect(self.title_rect())
        return path

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        if self._frame.isNull():
            return
        theme = _theme(self)
        hue = theme.group_hues.get(self.group.colour, theme.group_hues["blue"])
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        fill = QColor(hue)
        fill.setAlpha(theme.group_alpha)
        selected = self.isSelected()
        painter.setPen(QPen(hue, 2.6 if selected else 1.4))
        painter.setBrush(fill)
        painter.drawRoundedRect(self._frame, 10, 10)
        bar = QColor(hue)
        bar.setAlpha(200)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(bar)
        title = self.title_rect()
        painter.drawRoundedRect(title, 10, 10)
        painter.drawRect(title.adjusted(0, TITLE_H / 2, 0, 0))
        if option.levelOfDetailFromTransform(painter.worldTransform()) < 0.2:
            return
        painter.setFont(_font("title"))
        painter.setPen(QColor("white"))
        text = QFontMetricsF(_font("title")).elidedText(self.group.title, Qt.TextElideMode.ElideRight,
                                                       title.width() - 20)
        painter.drawText(title.adjusted(10, 0, -10, 0), Qt.AlignmentFlag.AlignVCenter, text)

    def start_interaction(self, view, event: QMouseEvent) -> MoveAnnotationsInteraction:
        return MoveAnnotationsInteraction(view, self, event)


class MoveAnnotationsInteraction:
    """Press on a note or a frame's title: select it; drag to move it (a frame takes its nodes and notes along).

    A canvas interaction (press/move/release/cancel, see ``canvas/interactions.py``); when it ends, the interaction
    that started it (the idle one) takes over again.
    """

    def __init__(self, view, grabbed: NoteItem | GroupItem, event: QMouseEvent) -> None:
        self.view = view
        self.idle = view.interaction
        self.scene = view.workflow_scene
        self.document = self.scene.document
        self.layer: AnnotationLayer = self.scene.annotations
        self.grabbed = grabbed
        self.press_pos = event.position()
        self.start = view.mapToScene(event.position().toPoint())
        additive = bool(event.modifiers() & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier))
        if additive:
            grabbed.setSelected(not grabbed.isSelected())
        elif not grabbed.isSelected():
            self.scene.clearSelection()
            grabbed.setSelected(True)
        self.note_origins: dict[str, tuple[float, float]] = {}
        self.node_origins: dict[str, tuple[float, float]] = {}
        for item in self.scene.selectedItems():
            if isinstance(item, NoteItem):
                self.note_origins[item.note.id] = (item.note.x, item.note.y)
            elif isinstance(item, GroupItem):
                for name in item.group.nodes:
                    if self.document.node(name) is not None:
                        self.node_origins[name] = self.document.position(name)
                for note in self.layer.notes_inside(item.frame()):
                    self.note_origins.setdefault(note.id, (note.x, note.y))
        self.moved = False

    def move(self, event: QMouseEvent) -> bool:
        if not self.moved and QLineF(self.press_pos, event.position()).length() < QApplication.startDragDistance():
            return True
        self.moved = True
        delta = self.view.mapToScene(event.position().toPoint()) - self.start
        dx, dy = delta.x(), delta.y()
        notes = [dataclasses.replace(n, x=self.note_origins[n.id][0] + dx, y=self.note_origins[n.id][1] + dy)
                 if n.id in self.note_origins else n for n in self.layer.note_list()]
        self.layer.commit("Move annotations", notes=notes if self.note_origins else None,
                          positions={name: (x + dx, y + dy) for name, (x, y) in self.node_origins.items()},
                          merge=(ANNOTATION_MOVE_ID, (tuple(self.note_origins), tuple(self.node_origins))))
        return True

    def release(self, event: QMouseEvent) -> bool:
        if self.moved:
            self.document.close_merging()
        self.finish()
        return True

    def press(self, event: QMouseEvent) -> bool:
        return True

    def cancel(self) -> None:
        self.finish()

    def finish(self) -> None:
        self.view.set_interaction(self.idle)


class _InPlaceEditor(QObject):
    """A text box over a note or a frame title; Enter (Ctrl+Enter in a note) or leaving it commits, Escape cancels."""

    def __init__(self, layer: AnnotationLayer, widget: QLineEdit | QPlainTextEdit, commit) -> None:
        super().__init__(widget)
        self.layer = layer
        self.widget = widget
        self._commit = commit
        self._done = False
        widget.installEventFilter(self)

    def text(self) -> str:
        w = self.widget
        return w.toPlainText() if isinstance(w, QPlainTextEdit) else w.text()

    def finish(self, keep: bool) -> None:
        if self._done:
            return
        self._done = True
        text = self.text()
        self.widget.hide()
        self.widget.deleteLater()
        self.layer.editor = None
        self.layer.view.setFocus()
        if keep:
            self._commit(text)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.KeyPress:
            key = event.key()
            if key == Qt.Key.Key_Escape:
                self.finish(keep=False)
                return True
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and (
                    isinstance(self.widget, QLineEdit) or event.modifiers() & Qt.KeyboardModifier.ControlModifier):
                self.finish(keep=True)
                return True
        elif event.type() == QEvent.Type.FocusOut:
            self.finish(keep=True)
        return False


class AnnotationLayer(QObject):
    """The notes and frames of one view's scene, kept in step with the document."""

    def __init__(self, view) -> None:
        super().__init__(view)
        self.view = view
        self.scene = view.workflow_scene
        self.document = self.scene.document
        self.scene.annotations = self
        self.notes: dict[str, NoteItem] = {}
        self.groups: dict[str, GroupItem] = {}
        self.editor: _InPlaceEditor | None = None
        self.document.workflow_changed.connect(self.sync)
        self.document.reset.connect(self.sync)
        self.scene.theme_changed.connect(lambda _name: self.scene.update())
        self.sync()

    # -- the model -----------------------------------------------------------------------------------------
    def _extra(self) -> dict:
        return self.document.workflow.layout.extra

    def note_list(self) -> list[Note]:
        return notes_of(self._extra())

    def group_list(self) -> list[Group]:
        return groups_of(self._extra())

    def bounding_rect(self) -> QRectF:
        """The scene rectangle covering every note and frame (null when there is none)."""
        rect = QRectF()
        for item in [*self.notes.values(), *self.groups.values()]:
            rect = rect.united(item.sceneBoundingRect())
        return rect

    def notes_inside(self, frame: QRectF) -> list[Note]:
        """The notes whose centre lies on ``frame``."""
        return [n for n in self.note_list() if frame.contains(QPointF(n.x + n.width / 2, n.y + n.height / 2))]

    def sync(self) -> None:
        """Bring the items in line with the document (after any edit, undo, redo or a new file)."""
        for items, wanted, make in ((self.notes, {n.id: n for n in self.note_list()}, NoteItem),
                                    (self.groups, {g.id: g for g in self.group_list()}, GroupItem)):
            for key in [k for k in items if k not in wanted]:
                self.scene.removeItem(items.pop(key))
            for key, value in wanted.items():
                item = items.get(key)
                if item is None:
                    items[key] = item = make(self, value)
                    self.scene.addItem(item)
                elif isinstance(item, NoteItem):
                    item.set_note(value)
                else:
                    item.set_group(value)

    # -- edits (each one undo step) ------------------------------------------------------------------------
    def commit(self, text: str, notes: list[Note] | None = None, groups: list[Group] | None = None,
               positions: dict[str, tuple[float, float]] | None = None, merge: tuple | None = None) -> None:
        extra = self._extra()
        changes = [self.document.editor.positions(positions)] if positions else []
        new_extra = with_annotations(extra, notes, groups)
        if new_extra != extra:
            changes.append(AnnotationsChange(extra, new_extra))
        merge_id, merge_key = merge if merge is not None else (-1, None)
        self.document.push(Edit(text, changes, merge_id, merge_key))

    def add_note(self, scene_pos: QPointF, text: str = "") -> str:
        """A new note centred on ``scene_pos``; returns its id."""
        notes = self.note_list()
        note = Note(free_id("note", [n.id for n in notes]), text)
        note = dataclasses.replace(note, x=scene_pos.x() - note.width / 2, y=scene_pos.y() - note.height / 2)
        self.commit("Add note", notes=[*notes, note])
        self.select([self.notes[note.id]])
        return note.id

    def group_nodes(self, names: list[str], title: str = "Group") -> str | None:
        """A new frame around ``names`` (nodes already in another frame leave it); returns its id."""
        names = [n for n in dict.fromkeys(names) if self.document.node(n) is not None]
        if not names:
            return None
        groups = self.group_list()
        chosen = set(names)
        kept = [dataclasses.replace(g, nodes=tuple(n for n in g.nodes if n not in chosen)) for g in groups]
        kept = [g for g in kept if g.nodes]
        used = {g.colour for g in kept}
        colour = next((c for c in GROUP_COLOURS if c not in used), GROUP_COLOURS[len(kept) % len(GROUP_COLOURS)])
        group = Group(free_id("group", [g.id for g in groups]), title, tuple(names), colour)
        self.commit("Group nodes", groups=[*kept, group])
        self.select([self.groups[group.id]])
        return group.id

    def set_note(self, note_id: str, **fields) -> None:
        notes = [dataclasses.replace(n, **fields) if n.id == note_id else n for n in self.note_list()]
        self.commit("Edit note", notes=notes)

    def set_group(self, group_id: str, **fields) -> None:
        if "title" in fields:
            fields["title"] = fields["title"].strip() or "Group"
        groups = [dataclasses.replace(g, **fields) if g.id == group_id else g for g in self.group_list()]
        self.commit("Edit group", groups=groups)

    def selected(self) -> tuple[list[str], list[str]]:
        """The ids of the selected notes and frames."""
        chosen = self.scene.selectedItems()
        return ([i.note.id for i in chosen if isinstance(i, NoteItem)],
                [i.group.id for i in chosen if isinstance(i, GroupItem)])

    def delete_selected(self) -> bool:
        """Remove the selected notes and frames (their nodes stay); False when none is selected."""
        notes, groups = self.selected()
        if not notes and not groups:
            return False
        self.commit("Delete annotations", notes=[n for n in self.note_list() if n.id not in notes] if notes else None,
                    groups=[g for g in self.group_list() if g.id not in groups] if groups else None)
        return True

    def select(self, items: list[QGraphicsItem]) -> None:
        self.scene.clearSelection()
        for item in items:
            item.setSelected(True)

    # -- finding and editing in place ----------------------------------------------------------------------
    def item_at(self, viewport_pos) -> NoteItem | GroupItem | None:
        for item in self.view.items(viewport_pos):
            if isinstance(item, NoteItem | GroupItem):
                return item
        return None

    def edit(self, item: NoteItem | GroupItem) -> QWidget:
        """Open the in-place editor of a note's text or a frame's title; returns the editor widget."""
        if self.editor is not None:
            self.editor.finish(keep=True)
        viewport = self.view.viewport()
        if isinstance(item, NoteItem):
            widget: QLineEdit | QPlainTextEdit = QPlainTextEdit(viewport)
            widget.setPlainText(item.note.text)
            widget.setToolTip("Ctrl+Enter or click away to keep, Escape to cancel")
            rect = item.mapRectToScene(item.rect())
            key, field_name, setter = item.note.id, "text", self.set_note
        else:
            widget = QLineEdit(item.group.title, viewport)
            rect = item.title_rect()
            key, field_name, setter = item.group.id, "title", self.set_group
        widget.setObjectName("annotationEditor")
        shown = self.view.mapFromScene(rect).boundingRect()
        widget.setGeometry(shown.adjusted(0, 0, 1, 1) if isinstance(widget, QPlainTextEdit) else
                           shown.adjusted(0, 0, 0, max(0, 26 - shown.height())))
        self.editor = _InPlaceEditor(self, widget, lambda text: setter(key, **{field_name: text}))
        widget.show()
        widget.setFocus(Qt.FocusReason.OtherFocusReason)
        widget.selectAll()
        return widget

    def double_clicked(self, viewport_pos) -> bool:
        """Double-click on a note or a frame title edits it; False when there is none there."""
        item = self.item_at(viewport_pos)
        if item is None:
            return False
        self.edit(item)
        return True

    def colours_for(self, item: NoteItem | GroupItem) -> tuple[str, ...]:
        return NOTE_COLOURS if isinstance(item, NoteItem) else GROUP_COLOURS

