"""The studio's commands as one table of QActions, shared by the menu bar, the toolbars and the canvas menu.

Each command is made once (:meth:`ActionTable.add`) and found by key (``actions["save"]``); menus and toolbars
are filled from lists of keys. The canvas's editing commands (:func:`add_canvas_actions`) need only a view, so
a bare canvas has them too; their shortcuts work while the canvas has focus, so text fields keep their own
Ctrl+C/V/X/A and Delete.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QToolBar, QWidget

from tea_studio.studio.canvas.keyboard import ConnectPopup, rename_selected
from tea_studio.studio.resources import icon

Shortcut = str | QKeySequence | QKeySequence.StandardKey | None
ZOOM_STEP = 1.25
ZOOM_RANGE = (0.1, 4.0)


def on_click(signal, slot: Callable[[], object]) -> None:
    """Connect a ``clicked(bool)`` / ``triggered(bool)`` signal to a slot that takes no argument.

    Connecting the slot directly hands it the ``checked`` flag as its first argument: ``add_goto_rule(False)``
    once wrote ``goto: false`` into a document. Every button and action of the studio connects through here.
    """
    signal.connect(lambda _checked=False: slot())


def add_menu_item(menu: QMenu, text: str, name: str, slot: Callable, *, enabled: bool = True,
                  checked: bool | None = None) -> QAction:
    """One entry of a context menu (for what was clicked, so not a table command): named for tests, connected
    like the table's actions (``checked`` not None: a check box whose slot gets the new state)."""
    action = menu.addAction(text)
    action.setObjectName(name)
    action.setEnabled(enabled)
    if checked is not None:
        action.setCheckable(True)
        action.setChecked(checked)
        action.toggled.connect(slot)
    else:
        on_click(action.triggered, slot)
    return action


class ActionTable:
    """QActions by key. Window-wide shortcuts live on ``owner``; canvas ones on ``canvas``."""

    def __init__(self, owner: QWidget, canvas: QWidget | None = None) -> None:
        self.owner = owner
        self.canvas = canvas if canvas is not None else owner
        self._actions: dict[str, QAction] = {}

    def __getitem__(self, key: str) -> QAction:
        return self._actions[key]

    def __contains__(self, key: str) -> bool:
        return key in self._actions

    def add(self, key: str, text: str, slot: Callable, *, shortcut: Shortcut = None, icon_name: str | None = None,
            tip: str | None = None, checkable: bool = False, canvas: bool = False, name: str | None = None,
            checked: bool = False) -> QAction:
        """Make the command ``key``. A checkable action calls ``slot(checked)`` whenever its state changes,
        also when set from code; the others call ``slot()``."""
        action = QAction(text, self.owner)
        action.setObjectName(name or key)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if icon_name:
            action.setIcon(icon(icon_name))
        if tip:
            shown = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            action.setStatusTip(tip)
            action.setToolTip(f"{tip} ({shown})" if shown else tip)
        if checkable:
            action.setCheckable(True)
            action.setChecked(checked)
            action.toggled.connect(slot)
        else:
            on_click(action.triggered, slot)
        return self.adopt(key, action, canvas=canvas)

    def adopt(self, key: str, action: QAction, *, canvas: bool = False) -> QAction:
        """Put an action made elsewhere (undo/redo come from the undo stack) in the table, shortcuts active."""
        if key in self._actions:
            raise ValueError(f"action {key!r} already exists")
        if canvas:
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        (self.canvas if canvas else self.owner).addAction(action)
        self._actions[key] = action
        return action

    def fill(self, target: QMenu | QToolBar, keys: Iterable[str | None]) -> None:
        """Add the actions of ``keys`` to a menu or toolbar; None is a separator; unknown keys are skipped."""
        for key in keys:
            if key is None:
                target.addSeparator()
            elif key in self._actions:
                target.addAction(self._actions[key])


def toggle_breakpoints(view, when: str) -> None:
    """Toggle the ``before``/``after`` breakpoint of each selected node through ``view.breakpoint_handler``
    (the document's, or the run controller's so that a live run follows)."""
    scene = view.workflow_scene
    index = 0 if when == "before" else 1
    for name in scene.selected_node_names():
        view.breakpoint_handler(name, when, not scene.document.breakpoints(name)[index])


def add_canvas_actions(table: ActionTable, view) -> None:
    """The canvas's commands: clipboard, duplicate, delete, select all, zoom, fit, auto-layout and breakpoints."""
    scene = view.workflow_scene
    key = QKeySequence.StandardKey
    add = table.add
    add("cut", "Cu&t", scene.cut_selection, shortcut=key.Cut, tip="Cut the selected nodes", canvas=True)
    add("copy", "&Copy", scene.copy_selection, shortcut=key.Copy, tip="Copy the selected nodes", canvas=True)
    add("paste", "&Paste", lambda: scene.paste(view.cursor_scene_pos()), shortcut=key.Paste,
        tip="Paste nodes (at the mouse pointer when it is over the canvas)", canvas=True)
    add("duplicate", "D&uplicate", scene.duplicate_selection, shortcut="Ctrl+D", name="duplicateNodes",
        tip="Duplicate the selected nodes", canvas=True)
    add("delete", "&Delete", scene.delete_selection, shortcut=key.Delete, icon_name="delete", name="deleteNodes",
        tip="Delete the selection", canvas=True)
    add("select_all", "Select &All", scene.select_all, shortcut=key.SelectAll, tip="Select every node", canvas=True)
    add("group", "&Group Nodes", lambda: view.annotations.group_nodes(scene.selected_node_names()),
        shortcut="Ctrl+G", name="groupNodes", tip="Put a titled frame around the selected nodes", canvas=True)
    add("rename", "&Rename Node…", lambda: rename_selected(view), shortcut="F2", name="renameNode",
        tip="Rename the selected node", canvas=True)
    connect = ConnectPopup(view)
    add("connect_to", "Co&nnect To…", connect.open, shortcut="Ctrl+K", name="connectTo",
        tip="Route the selected nodes to a node you name", canvas=True)
    add("note", "Add &Note", lambda: view.annotations.add_note(view.mapToScene(view.viewport().rect().center())),
        name="addNote", tip="Add a sticky note in the middle of the canvas", canvas=True)
    add("zoom_in", "Zoom &In", lambda: view.set_zoom(min(ZOOM_RANGE[1], view.zoom() * ZOOM_STEP)),
        shortcut=key.ZoomIn, icon_name="zoom-in")
    add("zoom_out", "Zoom &Out", lambda: view.set_zoom(max(ZOOM_RANGE[0], view.zoom() / ZOOM_STEP)),
        shortcut=key.ZoomOut, icon_name="zoom-out")
    add("fit", "&Fit", view.fit_selection, shortcut="F", icon_name="fit", canvas=True,
        tip="Fit the selected nodes in the view, or the whole workflow when nothing is selected")
    add("layout", "&Auto-layout", view.auto_layout, shortcut="Ctrl+L", icon_name="layout", name="autoLayout",
        tip="Arrange the nodes left to right (undoable)")
    for when, shortcut in (("before", "F9"), ("after", "Shift+F9")):
        tip = "Pause before the selected nodes run" if when == "before" else "Pause after the selected nodes ran"
        action = add(f"breakpoint_{when}", f"Toggle Breakpoint &{when.capitalize()} Node",
                     lambda w=when: toggle_breakpoints(view, w), shortcut=shortcut,
                     name=f"breakpoint{when.capitalize()}", tip=tip)
        action.setCheckable(True)  # the canvas menu shows the clicked node's state
