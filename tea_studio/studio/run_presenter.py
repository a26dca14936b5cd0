"""The live view of a run: node statuses on the canvas, the timeline, the state and fan-in dock, the log and the
run history dock.

The presenter only paints: the run controller hands it a :class:`RunModel` (``set_model``) and each coalesced
tick (``apply``). Node items repaint through a :class:`RepaintThrottle`, so a flood of statuses costs a few
repaints a second; pauses and the end repaint at once.
"""

from __future__ import annotations

from collections.abc import Callable

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu

from tea_studio.studio.live_run import Execution, RunDelta, RunModel, format_ms
from tea_studio.studio.panels.log_view import LogView
from tea_studio.studio.panels.run_timeline import TimelineView
from tea_studio.studio.panels.runs import RunHistory, RunsPanel
from tea_studio.studio.panels.state_view import StateDock
from tea_studio.studio.pins import ask_pin, execution_output
from tea_studio.studio.throttle import LIVE_REPAINT_S, RepaintThrottle

CANVAS_BUSY_REPAINT_S = 0.3  # with many node statuses pending (each repaint redraws the edges under them)...
CANVAS_BUSY_NODES = 40  # ...the canvas interval grows up to this, by pending nodes / this
TIMELINE_HEIGHT = 240  # room for the axis and five lanes the first time a run shows


class RunPresenter(QObject):
    """Paints a run model onto the canvas (``scene``/``view``) and the run docks it adds to ``host``.

    ``open_node_line(node, line)`` shows a Lua line of a node in the editor (from an error in the log);
    ``log(text)`` reports in the status bar; ``panels_menu`` gets the docks' show/hide toggles.
    """

    view_updated = Signal()  # after a tick was applied to the views
    history_open_requested = Signal(str)  # run id
    history_save_requested = Signal(str)  # run id

    def __init__(self, host: QMainWindow, scene, view, *, open_node_line: Callable[[str, int], bool],
                 log: Callable[[str], None], panels_menu: QMenu | None = None, history: RunHistory) -> None:
        super().__init__(host)
        self.host, self.scene, self.view = host, scene, view
        self._open_node_line = open_node_line
        self._log = log
        self.model: RunModel | None = None
        self._pending_nodes: set[str] = set()
        self._throttle = RepaintThrottle(LIVE_REPAINT_S, CANVAS_BUSY_REPAINT_S, CANVAS_BUSY_NODES)
        self._selecting = False
        self._docks_sized = False
        self._build_docks(history, panels_menu)
        scene.selectionChanged.connect(self._selection_changed)

    def _build_docks(self, history: RunHistory, panels_menu: QMenu | None) -> None:
        self.timeline = TimelineView()
        self.state_dock = StateDock()
        self.state_view = self.state_dock.state
        self.fan_in_view = self.state_dock.fan_in
        self.log_view = LogView()
        self.runs_panel = RunsPanel(history)
        self.docks: dict[str, QDockWidget] = {}
        area = Qt.DockWidgetArea
        for key, title, widget, where in (("timeline", "Timeline", self.timeline, area.BottomDockWidgetArea),
                                          ("log", "Log", self.log_view, area.BottomDockWidgetArea),
                                          ("state", "State", self.state_dock, area.RightDockWidgetArea),
                                          ("runs", "Runs", self.runs_panel, area.RightDockWidgetArea)):
            dock = QDockWidget(title, self.host)
            dock.setObjectName(f"{key}Dock")
            dock.setWidget(widget)
            self.host.addDockWidget(where, dock)
            self.docks[key] = dock
            if panels_menu is not None:
                panels_menu.addAction(dock.toggleViewAction())
        self.host.tabifyDockWidget(self.docks["timeline"], self.docks["log"])
        self.host.tabifyDockWidget(self.docks["state"], self.docks["runs"])
        self.docks["timeline"].raise_()
        self.docks["state"].raise_()
        self.timeline.execution_clicked.connect(self.show_execution)
        self.timeline.pin_requested.connect(
            lambda execution: ask_pin(self.host, execution.node, execution_output(self.model, execution)))
        self.fan_in_view.result_selected.connect(self._show_branch_result)
        self.log_view.open_node_line.connect(self.open_node_line)
        self.log_view.node_activated.connect(self.select_node)
        self.runs_panel.open_requested.connect(self.history_open_requested)
        self.runs_panel.save_requested.connect(self.history_save_requested)

    def set_theme(self, name: str) -> None:
        self.timeline.set_theme(name)

    # -- painting -------------------------------------------------------------------------------------------
    def set_model(self, model: RunModel | None) -> None:
        """Show ``model`` (a live or stored run) everywhere; None clears the run view."""
        self.model = model
        self._pending_nodes.clear()
        self.timeline.set_model(model)
        self.fan_in_view.set_model(model)
        self.log_view.set_model(model)
        for item in self.scene.node_items():
            if model is None:
                item.clear_run_info()
            else:
                self._paint_node(item, item.name)
        if model is None:
            self.state_view.clear()

    def _paint_node(self, item, name: str) -> None:
        info = self.model.nodes.get(name)
        if info is None:
            item.clear_run_info()
            return
        fan_in = self.model.fan_ins.get(name)
        item.set_run_info(info.status, info.badge, fan_in.progress if fan_in is not None else None)

    def apply(self, delta: RunDelta) -> None:
        """One coalesced tick of the live run."""
        if self.model is None or delta is None:
            return
        self._pending_nodes.update(delta.nodes)
        self._pending_nodes.update(delta.fan_ins)
        if self._throttle.due(force=bool(delta.finished or delta.paused or delta.resumed),
                              pending=len(self._pending_nodes)):
            for name in self._pending_nodes:
                item = self.scene.node_item(name)
                if item is not None:
                    self._paint_node(item, name)
            self._pending_nodes.clear()
        self.timeline.apply(delta)
        self.fan_in_view.apply(delta)
        self.log_view.apply(delta)
        if delta.paused:
            pause = delta.paused[-1]
            event = self.model.event(pause.event_index)
            where = f" in branch {pause.branch}" if pause.branch else ""
            self.state_view.show_state(f"Paused {pause.when} {pause.node}{where}", getattr(event, "state", None))
            self._log(f"Paused {pause.when} {pause.node}{where} — Continue (F8) or Step (F10)")
        self.view_updated.emit()

    def show_run_docks(self) -> None:
        """Bring the timeline forward with room for a few lanes (once; the user's sizes win afterwards)."""
        dock = self.docks["timeline"]
        dock.show()
        dock.raise_()
        if dock.height() < 200 and not self._docks_sized:
            self.host.resizeDocks([dock], [TIMELINE_HEIGHT], Qt.Orientation.Vertical)
        self._docks_sized = True

    def show_state(self, title: str, state, before=None) -> None:
        self.state_view.show_state(title, state, before)

    # -- showing states -------------------------------------------------------------------------------------
    def show_execution(self, execution: Execution) -> None:
        """Show the state after a node execution with its diff, and select the node on the canvas."""
        if self.model is None:
            return
        self.timeline.select(execution)
        self.select_node(execution.node, show_state=False)
        after = self.model.state_after(execution)
        where = f" · branch {execution.branch}" if execution.branch else ""
        count = f" · run {execution.iteration}" if execution.iteration > 1 else ""
        if after is None:
            self.state_view.show_state(f"{execution.node}{where}{count}: no state recorded yet", None)
            return
        took = f" · {format_ms(execution.timing_ms)}" if execution.timing_ms is not None else ""
        status = "" if execution.ok else " · failed"
        self.state_view.show_state(f"State after {execution.node}{where}{count}{took}{status}", after,
                                   self.model.state_before(execution))

    def show_node_state(self, name: str) -> bool:
        """Show the state after the node's last execution (False when it has not run)."""
        if self.model is None:
            return False
        execution = self.model.last_execution(name)
        if execution is None:
            return False
        self.show_execution(execution)
        return True

    def _show_branch_result(self, result) -> None:
        if self.model is None:
            return
        state = self.model.branch_state(result)
        text = "ok" if result.ok else f"error: {result.error}"
        self.state_view.show_state(f"Branch {result.branch} result ({text}, {format_ms(result.timing_ms)})", state)

    def _selection_changed(self) -> None:
        if self.model is None or self._selecting or not shiboken6.isValid(self.scene):
            return  # (a scene being destroyed drops its selection too)
        names = self.scene.selected_node_names()
        if len(names) == 1:
            self.show_node_state(names[0])

    def select_node(self, name: str, show_state: bool = True) -> None:
        item = self.scene.node_item(name)
        if item is None:
            return
        self._selecting = not show_state
        try:
            self.scene.clearSelection()
            item.setSelected(True)
            self.view.ensureVisible(item)
        finally:
            self._selecting = False
        if show_state:
            self.show_node_state(name)

    def open_node_line(self, node: str, line: int) -> None:
        """Jump to a Lua line of a node's code (from an error in the log)."""
        self._selecting = True  # the jump is about the code: keep the state view as it is
        try:
            opened = self._open_node_line(node, line)
        finally:
            self._selecting = False
        if not opened:
            self._log(f"{node}: line {line}")
