"""The keyboard's way between the window's panes (F6 / Ctrl+Tab forward, Shift+F6 / Ctrl+Shift+Tab back).

Tab cannot do it: on the canvas it opens quick add and in the code editor it indents. The panes are the canvas, the
inspector, then every other visible dock (the front tab of a tabbed group); the focus goes to the pane's first
focusable widget.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDockWidget, QMainWindow, QWidget


def panes(window: QMainWindow, canvas: QWidget, inspector: QWidget | None) -> list[QWidget]:
    """The canvas, the inspector, then the other visible docks top to bottom, the ones left of the canvas last
    (docks hidden behind a tab are left out)."""
    shown = [dock for dock in window.findChildren(QDockWidget)
             if dock.isVisible() and not dock.visibleRegion().isEmpty() and dock.widget() is not None]

    def rank(dock: QDockWidget) -> tuple:
        corner = dock.mapTo(window, dock.rect().topLeft())
        first = inspector is not None and (dock.widget() is inspector or dock.widget().isAncestorOf(inspector))
        left = dock.mapTo(window, dock.rect().topRight()).x() < canvas.mapTo(window, canvas.rect().topLeft()).x()
        return (not first, left, corner.y(), corner.x())

    shown.sort(key=rank)
    return [canvas, *(dock.widget() for dock in shown)]


def _first_focusable(widget: QWidget) -> QWidget:
    if widget.focusPolicy() & Qt.FocusPolicy.TabFocus and widget.isEnabled():
        return widget
    for child in widget.findChildren(QWidget):
        if child.isVisible() and child.isEnabled() and child.focusPolicy() & Qt.FocusPolicy.TabFocus:
            return child
    return widget


def focus_next_pane(window: QMainWindow, canvas: QWidget, inspector: QWidget | None,
                    forward: bool = True) -> QWidget | None:
    """Move the focus to the next (or previous) pane of ``window``; returns the widget that got it."""
    order = panes(window, canvas, inspector)
    focus = QApplication.focusWidget()
    current = next((i for i, pane in enumerate(order) if focus is not None and
                    (focus is pane or pane.isAncestorOf(focus))), -1)
    if current < 0:
        target = order[0] if forward else order[-1]
    else:
        target = order[(current + (1 if forward else -1)) % len(order)]
    chosen = _first_focusable(target)
    chosen.setFocus(Qt.FocusReason.TabFocusReason)
    return chosen
