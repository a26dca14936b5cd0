"""The live view of a run: node statuses on the canvas, the timeline, the state and fan-in dock, the log and the
run history dock.

The presenter only paints: the run controller hands it a :class:`RunModel` (``set_model``) and each coalesced
tick (``apply``). Node items repaint through a :class:`RepaintThrottle`, so a flood of statuses costs a few
repaints a second; pauses and the end repaint at once.
"""

from __future__ import annotations

from collections.abc import Callable

import shiboken6
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QMenu

from tea_studio.engine import events as ev
from tea_studio.engine.record import (
    DONE,
    FAILED,
    PAUSED,
    QUEUED,
    RUNNING,
    SKIPPED,
    STOPPED,
    WAITING,
    Execution,
    RunDelta,
    RunModel,
    format_ms,
)
from tea_studio.studio.panels.log_view import LogView
from tea_studio.studio.panels.node_io import NodeIOView
from tea_studio.studio.panels.run_banner import RunBanner
from tea_studio.studio.panels.run_compare import RunCompareView
from tea_studio.studio.panels.run_timeline import TimelineView
from tea_studio.studio.panels.runs import RunHistory, RunsPanel
from tea_studio.studio.panels.state_view import StateDock
from tea_studio.studio.pins import execution_output
from tea_studio.studio.throttle import LIVE_REPAINT_S, RepaintThrottle

CANVAS_BUSY_REPAINT_S = 0.3  # with many node statuses pending (each repaint redraws the edges under them)...
CANVAS_BUSY_NODES = 40  # ...the canvas interval grows up to this, by pending nodes / this
STATUS_WORDS = {PAUSED: "paused", QUEUED: "queued"}  # states a colour alone does not tell apart: said on the badge
TIMELINE_HEIGHT = 240  # room for the axis and five lanes the first time a run shows


def progress_text(model: RunModel) -> str:
    """The run's progress for the status bar: how many nodes are done, running, paused, queued (a branch waiting
    for a worker), failed and not run yet."""
    counts: dict[str, int] = {}
    for info in model.nodes.values():
        counts[info.status] = counts.get(info.status, 0) + 1
    words = ((DONE, "done"), (RUNNING, "running"), (PAUSED, "paused"), (QUEUED, "queued"), (FAILED, "failed"), (STOPPED, "stopped"),
             (WAITING, "waiting"), (SKIPPED, "not run"))
    return " · ".join(f"{counts[status]} {word}" for status, word in words if counts.get(status))


class RunPresenter(QObject):
    """Paints a run model onto the canvas (``scene``/``view``) and the run docks it adds to ``host``.

    ``open_node_line(node, line)`` shows a Lua line of a node in the editor (from an error in the log);
    ``log(text)`` reports in the status bar; ``panels_menu`` gets the docks' show/hide toggles.
    """

    view_updated = Signal()  # after a tick was applied to the views
    history_open_requested = Signal(str)  # run id
    history_save_requested = Signal(str)  # run id
    history_compare_requested = Signal(str, str)  # run ids A and B
    pin_requested = Signal(str, object)  # node, the update of the execution chosen on the timeline
    start_requested = Signal(object, str)  # an Execution on the timeline, engine.start mode

    def __init__(self, host: QMainWindow, scene, view, *, open_node_line: Callable[[str, int], bool],
                 log: Callable[[str], None], panels_menu: QMenu | None = None, history: RunHistory) -> None:
        super().__init__(host)
        self.host, self.scene, self.view = host, scene, view
        self._open_node_line = open_node_line
        self._log = log
        self.model: RunModel | None = None
        self._pending_nodes: set[str] = set()
        self._throttle = RepaintThrottle(LIVE_REPAINT_S, CANVAS_BUSY_REPAINT_S, CANVAS_BUSY_NODES)
        # A paused run sends no more ticks: what a tick left pending is painted by this timer instead.
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.timeout.connect(self._paint_pending)
        self._selecting = False
        self._docks_sized = False
        self._build_docks(history, panels_menu)
        self.banner = RunBanner(view)
        self.progress = QLabel()
        self.progress.setObjectName("runProgress")
        self.progress.setToolTip("Nodes of the run shown: done, running, paused, queued (a branch waiting for a "
                                 "worker), failed, not run yet")
        host.statusBar().addPermanentWidget(self.progress)
        self.banner.show_log_requested.connect(self.show_log)
        self.banner.line_requested.connect(self.open_node_line)
        scene.selectionChanged.connect(self._selection_changed)

    def _build_docks(self, history: RunHistory, panels_menu: QMenu | None) -> None:
        self.timeline = TimelineView()
        self.state_dock = StateDock()
        self.state_view = self.state_dock.state
        self.fan_in_view = self.state_dock.fan_in
        self.log_view = LogView()
        self.io_view = NodeIOView()
        self.runs_panel = RunsPanel(history)
        self.compare_view = RunCompareView()
        self.docks: dict[str, QDockWidget] = {}
        area = Qt.DockWidgetArea
        for key, title, widget, where in (("timeline", "Timeline", self.timeline, area.BottomDockWidgetArea),
                                          ("log", "Log", self.log_view, area.BottomDockWidgetArea),
                                          ("io", "Input / Output", self.io_view, area.BottomDockWidgetArea),
                                          ("compare", "Compare", self.compare_view, area.BottomDockWidgetArea),
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
        self.host.tabifyDockWidget(self.docks["log"], self.docks["io"])
        self.host.tabifyDockWidget(self.docks["io"], self.docks["compare"])
        self.host.tabifyDockWidget(self.docks["state"], self.docks["runs"])
        self.docks["timeline"].raise_()
        self.docks["state"].raise_()
        self.timeline.execution_clicked.connect(self.show_execution)
        self.timeline.pin_requested.connect(
            lambda execution: self.pin_requested.emit(execution.node, execution_output(self.model, execution)))
        self.timeline.start_requested.connect(self.start_requested)
        self.fan_in_view.result_selected.connect(self._show_branch_result)
        self.log_view.open_node_line.connect(self.open_node_line)
        self.log_view.node_activated.connect(self.select_node)
        self.runs_panel.open_requested.connect(self.history_open_requested)
        self.runs_panel.save_requested.connect(self.history_save_requested)
        self.runs_panel.compare_requested.connect(self.history_compare_requested)
        self.compare_view.node_activated.connect(lambda name: self.select_node(name, show_state=False))

    def set_theme(self, name: str) -> None:
        self.timeline.set_theme(name)
        self.compare_view.set_theme(name)

    # -- painting -------------------------------------------------------------------------------------------
    def set_model(self, model: RunModel | None) -> None:
        """Show ``model`` (a live or stored run) everywhere; None clears the run view."""
        self.model = model
        self._pending_nodes.clear()
        self.banner.hide()
        self.progress.clear()
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
            self.io_view.clear()
        else:
            self.progress.setText(progress_text(model))

    def _paint_pending(self) -> None:
        self._flush_timer.stop()
        if self.model is not None:
            for name in self._pending_nodes:
                item = self.scene.node_item(name)
                if item is not None:
                    self._paint_node(item, name)
            self.progress.setText(progress_text(self.model))
        self._pending_nodes.clear()

    def _paint_node(self, item, name: str) -> None:
        info = self.model.nodes.get(name)
        if info is None:
            item.clear_run_info()
            return
        fan_in = self.model.fan_ins.get(name)
        badge = " · ".join(text for text in (STATUS_WORDS.get(info.status), info.badge) if text) or None
        item.set_run_info(info.status, badge, fan_in.progress if fan_in is not None else None,
                          self._node_error(name, info.status))

    def _node_error(self, name: str, status: str) -> str | None:
        """Why ``name`` failed: its failed execution's error, else the run's error when the run failed there."""
        if status == FAILED:
            execution = self.model.last_execution(name)
            if execution is not None and execution.ok is False and execution.error:
                return execution.error
        failure = self._failure()  # e.g. max iterations names the node that would have run next
        return failure.error if failure is not None and failure.node == name and failure.error != STOPPED else None

    def _failure(self):
        """The run's RunFailed event, or None."""
        events = self.model.record.events if self.model is not None else []
        last = events[-1] if events else None
        return last if isinstance(last, ev.RunFailed) else None

    def show_log(self) -> None:
        dock = self.docks["log"]
        dock.show()
        dock.raise_()

    def apply(self, delta: RunDelta) -> None:
        """One coalesced tick of the live run."""
        if self.model is None or delta is None:
            return
        self._pending_nodes.update(delta.nodes)
        self._pending_nodes.update(delta.fan_ins)
        failure = self._failure() if delta.finished else None
        if failure is not None and failure.node:
            self._pending_nodes.add(failure.node)  # the node a run failed at carries the error, whatever its status
        if self._throttle.due(force=bool(delta.finished or delta.paused or delta.resumed),
                              pending=len(self._pending_nodes)):
            self._paint_pending()
        elif self._pending_nodes and not self._flush_timer.isActive():
            self._flush_timer.start(round(CANVAS_BUSY_REPAINT_S * 1000))
        self.timeline.apply(delta)
        self.fan_in_view.apply(delta)
        self.log_view.apply(delta)
        if delta.finished and delta.ok is False and self.model.error != STOPPED:  # a stop is not a failure
            failure = self._failure()
            self.banner.show_failure(failure.error if failure is not None else (self.model.error or "failed"),
                                     failure.node if failure is not None else None,
                                     failure.line if failure is not None else None)
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

    def show_comparison(self, a: RunModel, b: RunModel):
        """Compare two runs in the Compare dock (brought forward); returns the comparison."""
        comparison = self.compare_view.show_runs(a, b)
        dock = self.docks["compare"]
        dock.show()
        dock.raise_()
        return comparison

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
        before = self.model.state_before(execution)
        self.state_view.show_state(f"State after {execution.node}{where}{count}{took}{status}", after, before)
        finished = self.model.event(execution.event_index)
        self.io_view.show_execution(f"{execution.node}{where}{count}{took}{status}", before,
                                    getattr(finished, "update", None), after)

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
