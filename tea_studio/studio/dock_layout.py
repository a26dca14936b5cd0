"""Where the docks go by default, and two repairs of Qt's dock tab groups.

The right column (Inspector above State/Runs) runs the full height; Timeline, Log and Problems are tabbed under
the canvas. Bump ``WINDOW_STATE_VERSION`` when this default changes: saved layouts of another version are ignored.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QMainWindow, QTabBar

WINDOW_STATE_VERSION = 3
BOTTOM_DOCK_HEIGHT = 240  # room for the timeline's axis and five lanes
RIGHT, BOTTOM, LEFT = (Qt.DockWidgetArea.RightDockWidgetArea, Qt.DockWidgetArea.BottomDockWidgetArea,
                       Qt.DockWidgetArea.LeftDockWidgetArea)


def add_dock(window: QMainWindow, title: str, name: str, widget, area: Qt.DockWidgetArea) -> QDockWidget:
    dock = QDockWidget(title, window)
    dock.setObjectName(name)
    dock.setWidget(widget)
    window.addDockWidget(area, dock)
    return dock


def set_corners(window: QMainWindow) -> None:
    """The right column runs the full height; the bottom docks sit under the canvas and the left column."""
    window.setCorner(Qt.Corner.BottomRightCorner, RIGHT)
    window.setCorner(Qt.Corner.TopRightCorner, RIGHT)
    window.setCorner(Qt.Corner.BottomLeftCorner, BOTTOM)


def arrange_docks(window: QMainWindow, palette: QDockWidget, inspector: QDockWidget, problems: QDockWidget,
                  run_docks: dict[str, QDockWidget] | None) -> None:
    """The default layout: Inspector above State/Runs on the right; Timeline, Log and Problems tabbed below."""
    bottom = [problems]
    if run_docks is not None:
        bottom = [run_docks["timeline"], run_docks["log"], problems]
        # the presenter already stacks State/Runs under the Inspector and tabs Timeline with Log; re-tabifying
        # would leave stray tab bars behind
        if problems not in window.tabifiedDockWidgets(run_docks["log"]):
            window.tabifyDockWidget(run_docks["log"], problems)
        run_docks["state"].raise_()
        # the state a run leaves is what a debugging user reads most: about as tall as the inspector
        window.resizeDocks([inspector, run_docks["state"]], [460, 400], Qt.Orientation.Vertical)
    problems.raise_()
    for dock in window.findChildren(QDockWidget):
        dock.dockLocationChanged.connect(lambda _area: QTimer.singleShot(0, lambda: hide_stray_tab_bars(window)))
    window.resizeDocks([palette, inspector], [150, 400], Qt.Orientation.Horizontal)
    window.resizeDocks([bottom[0]], [BOTTOM_DOCK_HEIGHT], Qt.Orientation.Vertical)


def hide_stray_tab_bars(window: QMainWindow) -> int:
    """Hide dock tab bars Qt left on screen after rebuilding a tab group (they show through the live one).

    A live bar sits right under the dock in front of its group, as wide as that dock. Returns how many were hidden.
    """
    shown = [d.geometry() for d in window.findChildren(QDockWidget)
             if not d.isFloating() and d.isVisible() and not d.visibleRegion().isEmpty()]
    hidden = 0
    for bar in window.findChildren(QTabBar, options=Qt.FindChildOption.FindDirectChildrenOnly):
        if not bar.isVisible():
            continue
        geometry = bar.geometry()
        if not any(abs(geometry.top() - dock.bottom() - 1) <= 3 and abs(geometry.left() - dock.left()) <= 2
                   and abs(geometry.width() - dock.width()) <= 2 for dock in shown):
            bar.hide()
            hidden += 1
    return hidden


def raised_bottom_dock(window: QMainWindow) -> QDockWidget | None:
    """The bottom dock whose tab is in front (None when none is shown)."""
    for dock in window.findChildren(QDockWidget):
        if (window.dockWidgetArea(dock) == BOTTOM and not dock.isFloating()
                and not dock.visibleRegion().isEmpty()):  # a tab behind another is "visible" but not seen
            return dock
    return None


def restore_window_state(window: QMainWindow, settings: QSettings) -> bool:
    """Restore the saved size and dock layout; a layout saved by another layout version is ignored."""
    geometry = settings.value("window/geometry")
    state = settings.value("window/state")
    if geometry is not None:
        window.restoreGeometry(geometry)
    restored = state is not None and window.restoreState(state, WINDOW_STATE_VERSION)
    if restored:
        QTimer.singleShot(0, lambda: hide_stray_tab_bars(window))
    return restored


def save_window_state(window: QMainWindow, settings: QSettings) -> None:
    settings.setValue("window/geometry", window.saveGeometry())
    settings.setValue("window/state", window.saveState(WINDOW_STATE_VERSION))
    settings.sync()
