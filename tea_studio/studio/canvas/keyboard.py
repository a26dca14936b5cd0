"""Editing the canvas from the keyboard: arrows walk the selection along routes, Alt+arrows nudge the selected
nodes, and "Connect to…" routes the selection to a node named with completion.

Right goes to the node the selected one routes to, Left to a node routing into it, Up and Down to the sibling above
or below (another target of the same source, e.g. the next branch of a fork), or else the nearest node that way.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPoint, QPointF, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QCompleter, QLineEdit

from tea_studio.workflow.model import END, START

NUDGE = 10.0  # Alt+arrow; with Shift, five times as far; with snapping on, one grid step
ARROWS = {Qt.Key.Key_Left: (-1, 0), Qt.Key.Key_Right: (1, 0), Qt.Key.Key_Up: (0, -1), Qt.Key.Key_Down: (0, 1)}


def _links(scene) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(successors, predecessors) by node name, in route order, without __start__/__end__."""
    out: dict[str, list[str]] = {}
    into: dict[str, list[str]] = {}
    for route in scene.document.routes():
        if route.source in (START, END) or route.target in (START, END) or route.source == route.target:
            continue
        out.setdefault(route.source, []).append(route.target)
        into.setdefault(route.target, []).append(route.source)
    return out, into


def neighbour(scene, name: str, dx: int, dy: int) -> str | None:
    """The node the arrow (dx, dy) leads to from ``name`` (see the module docstring), or None."""
    here = scene.node_item(name)
    if here is None:
        return None
    centre = here.centre()

    def nearest(candidates, key):
        items = [scene.node_item(n) for n in dict.fromkeys(candidates) if n != name]
        items = [i for i in items if i is not None]
        return min(items, key=key).name if items else None

    out, into = _links(scene)
    if dx:
        linked = out.get(name, []) if dx > 0 else into.get(name, [])
        found = nearest(linked, lambda i: (abs(i.centre().y() - centre.y()), i.centre().x()))
        if found is not None:
            return found
    else:
        siblings = [t for source in into.get(name, []) for t in out.get(source, [])]
        siblings += [s for target in out.get(name, []) for s in into.get(target, [])]
        ahead = [n for n in siblings if scene.node_item(n) is not None
                 and (scene.node_item(n).centre().y() - centre.y()) * dy > 1]
        found = nearest(ahead, lambda i: abs(i.centre().y() - centre.y()))
        if found is not None:
            return found
    # nothing linked that way: the nearest node in that direction, favouring the straight line
    ahead = [i for i in scene.node_items() if i is not here and
             ((i.centre().x() - centre.x()) * dx > 1 if dx else (i.centre().y() - centre.y()) * dy > 1)]
    if not ahead:
        return None

    def cost(item) -> float:
        d = item.centre() - centre
        along, across = (abs(d.x()), abs(d.y())) if dx else (abs(d.y()), abs(d.x()))
        return along + 3 * across

    return min(ahead, key=cost).name


def handle_key(view, event: QKeyEvent) -> bool:
    """Arrow keys on the canvas: walk the selection (no modifier) or nudge it (Alt, Alt+Shift). True if handled."""
    step = ARROWS.get(event.key())
    if step is None:
        return False
    modifiers = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
    scene = view.workflow_scene
    names = scene.selected_node_names()
    if modifiers & Qt.KeyboardModifier.AltModifier:
        if not names:
            return False
        distance = (view.snapped(NUDGE * 2) if view.snap else NUDGE) * (
            5 if modifiers & Qt.KeyboardModifier.ShiftModifier else 1)
        document = scene.document
        document.move_nodes({n: (x + step[0] * distance, y + step[1] * distance)
                             for n in names for x, y in [document.position(n)]})
        document.close_merging()  # one undo step per press
        return True
    if modifiers != Qt.KeyboardModifier.NoModifier:
        return False
    if not names:
        first = next((n.name for n in scene.document.workflow.nodes if scene.node_item(n.name) is not None), None)
        target = first
    else:
        target = neighbour(scene, names[-1], *step)
    if target is not None:
        scene.select_nodes([target])
        view.ensureVisible(scene.node_item(target), 60, 60)
    return True


class ConnectPopup(QObject):
    """"Connect to…": a name field with completion over the canvas; Enter routes the selected nodes to the node
    named (one undo step each), Escape or leaving it cancels."""

    def __init__(self, view) -> None:
        super().__init__(view)
        self.view = view
        self.edit = QLineEdit(view.viewport())
        self.edit.setObjectName("connectTo")
        self.edit.setPlaceholderText("Connect to… (node name, Enter)")
        self.completer = QCompleter([], self.edit)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.edit.setCompleter(self.completer)
        self.edit.resize(260, self.edit.sizeHint().height())
        self.edit.hide()
        self.edit.installEventFilter(self)
        self.edit.returnPressed.connect(self.accept)
        self.sources: list[str] = []

    def open(self) -> bool:
        """Show the field next to the selected nodes; False when no node is selected."""
        scene = self.view.workflow_scene
        self.sources = scene.selected_node_names()
        if not self.sources:
            return False
        names = [n.name for n in scene.document.workflow.nodes if n.name and n.name not in self.sources]
        self.completer.model().setStringList([*names, END])
        item = scene.node_item(self.sources[-1])
        at = self.view.mapFromScene(item.out_point() + QPointF(12, -12)) if item is not None else QPoint(20, 20)
        viewport = self.view.viewport()
        self.edit.move(max(0, min(at.x(), viewport.width() - self.edit.width())),
                       max(0, min(at.y(), viewport.height() - self.edit.height())))
        self.edit.clear()
        self.edit.show()
        self.edit.raise_()
        self.edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        return True

    def accept(self) -> None:
        text = self.edit.text().strip()
        document = self.view.workflow_scene.document
        names = {n.name.lower(): n.name for n in document.workflow.nodes if n.name}
        target = END if text == END else names.get(text.lower())
        self.close()
        if target is None:
            return
        for source in self.sources:
            if source != target:
                document.connect(source, target)

    def close(self) -> None:
        if self.edit.isVisible():
            self.edit.hide()
            self.view.setFocus()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.KeyPress and event.key() == Qt.Key.Key_Escape:
            self.close()
            return True
        if event.type() == QEvent.Type.FocusOut and not self.completer.popup().isVisible():
            self.close()
        return False


def rename_selected(view) -> bool:
    """F2: ask the window to rename the one selected node (False when not exactly one node is selected)."""
    names = view.workflow_scene.selected_node_names()
    if len(names) != 1:
        return False
    view.rename_requested.emit(names[0])
    return True
