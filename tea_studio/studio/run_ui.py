"""The studio's Run menu and live view: inputs, trust, run control, breakpoints, docks and run history.

``RunTools(window)`` adds its actions to ``window.run_menu`` / ``window.run_toolbar`` and its docks to the window.
It starts a :class:`LiveRun` on a clone of the document's workflow and applies each coalesced tick to the canvas
(``NodeItem.set_run_info``), the timeline, the state dock, the fan-in list and the log. A finished run goes into
the file's history; a stored run can be re-opened onto the same views.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from tea_studio.studio.live_run import Execution, LiveRun, RunDelta, RunModel, format_ms
from tea_studio.studio.panels.log_view import LogView
from tea_studio.studio.panels.run_timeline import TimelineView
from tea_studio.studio.panels.runs import RunHistory, RunsPanel, data_dir
from tea_studio.studio.panels.state_view import StateDock
from tea_studio.workflow.files import write_atomic
from tea_studio.workflow.inputs import InputError
from tea_studio.workflow.inputs import parse_inputs as parse_run_inputs
from tea_studio.workflow.model import PYTHON

INPUTS_FILE = "run_inputs.json"
CANVAS_REPAINT_S = 0.09  # node statuses are repainted at most this often during a run...
CANVAS_BUSY_REPAINT_S = 0.3  # ...or this often when many change at once (each repaint redraws the edges under them)
CANVAS_BUSY_NODES = 40
TRUST_FILE = "trusted_files.json"


# -- small stores in the data folder --------------------------------------------------------------------------
class _JsonStore:
    """A JSON object in a file of the data folder, keyed by absolute workflow path."""

    def __init__(self, name: str, folder: Path | None = None) -> None:
        self.name = name
        self._folder = folder

    @property
    def file(self) -> Path:
        return (self._folder if self._folder is not None else data_dir()) / self.name

    def read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def write(self, data: dict[str, Any]) -> None:
        self.file.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.file, json.dumps(data, indent=1, ensure_ascii=False))


def _key(path: str | None) -> str:
    return os.path.abspath(path) if path else "<untitled>"


class InputStore(_JsonStore):
    """The last inputs (JSON text) typed for each file."""

    def __init__(self, folder: Path | None = None) -> None:
        super().__init__(INPUTS_FILE, folder)

    def get(self, path: str | None) -> str:
        return str(self.read().get(_key(path), "{}"))

    def put(self, path: str | None, text: str) -> None:
        data = self.read()
        data[_key(path)] = text
        self.write(data)


def python_fingerprint(workflow) -> str | None:
    """A hash of the Python code a workflow would run (None when it has no Python node)."""
    code = [(node.name, node.code or "") for node in workflow.nodes if node.kind == PYTHON]
    if not code:
        return None
    return hashlib.sha256(json.dumps(code, ensure_ascii=False).encode("utf-8")).hexdigest()


class TrustStore(_JsonStore):
    """Files whose Python code the user trusted, by path and hash of that code."""

    def __init__(self, folder: Path | None = None) -> None:
        super().__init__(TRUST_FILE, folder)

    def is_trusted(self, path: str | None, fingerprint: str) -> bool:
        return fingerprint in self.read().get(_key(path), [])

    def trust(self, path: str | None, fingerprint: str) -> None:
        data = self.read()
        data[_key(path)] = [*data.get(_key(path), [])[-4:], fingerprint]
        self.write(data)


# -- the inputs dialog ----------------------------------------------------------------------------------------
def parse_inputs(text: str) -> tuple[dict | None, str | None]:
    """(inputs, None) for a JSON object (blank text = {}), else (None, what is wrong)."""
    try:
        return parse_run_inputs(text, where="the inputs", files=False), None
    except InputError as exc:
        return None, exc.problem.removeprefix("is not valid JSON: ")


class InputDialog(QDialog):
    """Edit the run's inputs as JSON; OK is enabled only while the text is a valid JSON object."""

    def __init__(self, title: str, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Run {title}")
        self.editor = QPlainTextEdit()
        self.editor.setPlainText(text)
        self.editor.setTabChangesFocus(True)
        font = self.editor.font()
        font.setStyleHint(font.StyleHint.Monospace)
        font.setFamily("monospace")
        self.editor.setFont(font)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Run")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Initial state (JSON object, merged over the workflow's initial_state):"))
        layout.addWidget(self.editor, 1)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)
        self.resize(480, 320)
        self.editor.textChanged.connect(self._check)
        self._check()

    def inputs(self) -> dict | None:
        return parse_inputs(self.editor.toPlainText())[0]

    def text(self) -> str:
        return self.editor.toPlainText()

    def _check(self) -> None:
        _value, error = parse_inputs(self.editor.toPlainText())
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(error is None)
        self.status.setText(f"<span style='color:#d32f2f'>Invalid JSON: {error}</span>" if error else "")


# -- run tools ------------------------------------------------------------------------------------------------
class RunTools(QObject):
    """The Run menu, toolbar buttons and run docks of a MainWindow."""

    run_started = Signal()
    run_ended = Signal(bool)
    run_blocked = Signal(str)
    view_updated = Signal()  # after a tick was applied to the views (tests wait on it)
    run_stored = Signal(str, str)  # run id, error text ("" when stored): the history has the finished run
    _stored_signal = Signal(str, str)  # from the storing thread; delivered queued to _stored

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.history = RunHistory()
        self.inputs_store = InputStore()
        self.trust_store = TrustStore()
        self.live: LiveRun | None = None
        self.model: RunModel | None = None
        self.last_message: tuple[str, str] | None = None
        self._pending_nodes: set[str] = set()
        self._canvas_painted_at = 0.0
        self.event_tap = None  # an extra sink seeing every event (benchmarks count with it)
        # injectable for tests and scripts
        self.trust_prompt: Callable[[str | None, list[str]], bool] = self._ask_trust
        self.input_prompt: Callable[[str | None, str], tuple[dict, str] | None] = self._ask_inputs
        self.message: Callable[[str, str], None] = self._show_message
        self._stored_signal.connect(self._stored, Qt.ConnectionType.QueuedConnection)
        self._build_docks()
        self._build_actions()
        self._connect_window()
        self._update_actions()

    # -- construction ---------------------------------------------------------------------------------------
    def _build_docks(self) -> None:
        self.timeline = TimelineView()
        self.state_dock = StateDock()
        self.state_view = self.state_dock.state
        self.fan_in_view = self.state_dock.fan_in
        self.log_view = LogView()
        self.runs_panel = RunsPanel(self.history)
        self.docks: dict[str, QDockWidget] = {}
        area = Qt.DockWidgetArea
        for key, title, widget, where in (("timeline", "Timeline", self.timeline, area.BottomDockWidgetArea),
                                          ("log", "Log", self.log_view, area.BottomDockWidgetArea),
                                          ("state", "State", self.state_dock, area.RightDockWidgetArea),
                                          ("runs", "Runs", self.runs_panel, area.RightDockWidgetArea)):
            dock = QDockWidget(title, self.window)
            dock.setObjectName(f"{key}Dock")
            dock.setWidget(widget)
            self.window.addDockWidget(where, dock)
            self.docks[key] = dock
        self.window.tabifyDockWidget(self.docks["timeline"], self.docks["log"])
        self.window.tabifyDockWidget(self.docks["state"], self.docks["runs"])
        self.docks["timeline"].raise_()
        self.docks["state"].raise_()
        view_menu = getattr(self.window, "panels_menu", None) or getattr(self.window, "view_menu", None)
        if view_menu is not None:
            for dock in self.docks.values():
                view_menu.addAction(dock.toggleViewAction())
        self.timeline.execution_clicked.connect(self.show_execution)
        self.fan_in_view.result_selected.connect(self._show_branch_result)
        self.log_view.open_node_line.connect(self.open_node_line)
        self.log_view.node_activated.connect(self.select_node)
        self.runs_panel.open_requested.connect(self.open_history_run)
        self.runs_panel.save_requested.connect(lambda run_id: self.save_run(run_id=run_id))

    def _action(self, text: str, shortcut: str | QKeySequence | None, slot, tip: str, icon: str | None = None):
        action = QAction(text, self.window)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.setToolTip(f"{tip} ({QKeySequence(shortcut).toString()})" if shortcut else tip)
        action.setStatusTip(tip)
        if icon:
            try:
                from tea_studio.studio.resources import icon as load_icon

                action.setIcon(load_icon(icon))
            except ImportError:
                pass
        action.triggered.connect(lambda _checked=False: slot())
        self.window.addAction(action)
        return action

    def _build_actions(self) -> None:
        self.run_action = self._action("&Run…", "F5", self.run, "Run the workflow with inputs", "run")
        self.stop_action = self._action("&Stop", "Shift+F5", self.stop, "Stop the run", "stop")
        self.pause_action = self._action("&Pause", "F6", self.pause, "Pause every flow at its next node", "pause")
        self.step_action = self._action("S&tep", "F10", self.step, "Run the next node, then pause again", "step")
        self.continue_action = self._action("&Continue", "F8", self.resume, "Continue a paused run", "continue")
        self.break_before_action = self._action("Toggle Breakpoint &Before Node", "F9",
                                                lambda: self.toggle_breakpoint("before"),
                                                "Pause before the selected nodes run")
        self.break_after_action = self._action("Toggle Breakpoint &After Node", "Shift+F9",
                                               lambda: self.toggle_breakpoint("after"),
                                               "Pause after the selected nodes ran")
        self.save_run_action = self._action("Save Run as &NDJSON…", None, self.save_run,
                                            "Save the shown run's events (the --stream format)")
        self.clear_action = self._action("C&lear Run View", None, self.clear_run_view,
                                         "Remove run statuses from the canvas and panels")
        menu = getattr(self.window, "run_menu", None)
        if menu is not None:
            for action in (self.run_action, self.stop_action, self.pause_action, self.step_action,
                           self.continue_action):
                menu.addAction(action)
            menu.addSeparator()
            menu.addAction(self.break_before_action)
            menu.addAction(self.break_after_action)
            menu.addSeparator()
            menu.addAction(self.save_run_action)
            menu.addAction(self.clear_action)
        toolbar = getattr(self.window, "run_toolbar", None)
        if toolbar is not None:
            for action in (self.run_action, self.stop_action, self.pause_action, self.step_action,
                           self.continue_action):
                toolbar.addAction(action)

    @property
    def breakpoint_actions(self) -> list[QAction]:
        """For the canvas context menu."""
        return [self.break_before_action, self.break_after_action]

    def _connect_window(self) -> None:
        replaced = getattr(self.window, "document_replaced", None)
        if replaced is not None:
            replaced.connect(self._document_replaced)
        self._scene = None
        self._document_replaced()

    def _document_replaced(self) -> None:
        if self.live is not None and self.live.running:
            self.live.stop()
        self._detach_live()
        self.model = None
        self._set_views(None)
        scene = getattr(self.window, "scene", None)
        if scene is not self._scene:
            if self._scene is not None:
                try:
                    self._scene.selectionChanged.disconnect(self._selection_changed)
                except (RuntimeError, TypeError):
                    pass
            self._scene = scene
            if scene is not None:
                scene.selectionChanged.connect(self._selection_changed)
        self.runs_panel.set_workflow_path(self.path)
        self._update_actions()

    # -- properties -----------------------------------------------------------------------------------------
    @property
    def document(self):
        return getattr(self.window, "document", None)

    @property
    def path(self) -> str | None:
        document = self.document
        if document is None:
            return None
        return getattr(document, "path", None) or document.workflow.path

    @property
    def running(self) -> bool:
        return self.live is not None and self.live.running

    @property
    def paused(self) -> bool:
        return self.running and self.model is not None and bool(self.model.paused)

    # -- starting -------------------------------------------------------------------------------------------
    def run(self) -> bool:
        """Run (F5): ask for the inputs (last ones of this file pre-filled), then start."""
        if self.running:
            return False
        asked = self.input_prompt(self.path, self.inputs_store.get(self.path))
        if asked is None:
            return False
        inputs, text = asked
        self.inputs_store.put(self.path, text)
        blocked: list[str] = []
        self.run_blocked.connect(blocked.append)
        try:
            started = self.start_run(inputs)
        finally:
            self.run_blocked.disconnect(blocked.append)
        if blocked:
            self.message("Cannot run", blocked[-1])
        return started

    def start_run(self, inputs: dict | None = None, *, trusted: bool = False, auto_continue: bool = False) -> bool:
        """Start a run of the document's workflow. Returns False (and emits ``run_blocked(text)`` and
        ``run_ended(False)``) when validation errors or a refused trust prompt block it; never shows a modal box.

        ``inputs`` None uses the last inputs of this file. ``trusted`` skips the Python trust prompt;
        ``auto_continue`` continues at every breakpoint.
        """
        if self.running:
            self._log("A run is already in progress")
            return False
        document = self.document
        if document is None:
            return False
        workflow = document.workflow
        if inputs is None:
            inputs = parse_inputs(self.inputs_store.get(self.path))[0] or {}
        if not self._valid_for_run(workflow) or not self._trusted(workflow, trusted):
            self.run_ended.emit(False)
            return False
        from tea_studio.engine.runner import RunControl

        run_workflow = workflow.clone()
        run_workflow.path = self.path
        control = RunControl()
        control.auto_continue = auto_continue
        self._detach_live()
        self.live = LiveRun(run_workflow, inputs, control=control, tap=self.event_tap, parent=self)
        self.live.updated.connect(self._apply)
        self.live.finished.connect(self._finished)
        self.model = self.live.model
        self.live.start()  # the engine starts while the views are prepared (its first tick comes after this)
        self._set_views(self.model)
        self._show_run_docks()
        self.state_view.clear()
        self._update_actions()
        self._log(f"Running {Path(self.path).name if self.path else 'workflow'}…")
        self.run_started.emit()
        return True

    def _show_run_docks(self) -> None:
        """Bring the timeline forward with room for a few lanes (once; the user's sizes win afterwards)."""
        dock = self.docks["timeline"]
        dock.show()
        dock.raise_()
        if dock.height() < 200 and not self._docks_sized:
            self.window.resizeDocks([dock], [240], Qt.Orientation.Vertical)
        self._docks_sized = True

    _docks_sized = False

    def _valid_for_run(self, workflow) -> bool:
        from tea_studio.workflow.validation import validate

        document = self.window.document
        cached = getattr(self.window, "validated", None)
        if cached and cached[0] is document and cached[1] == document.revision and document.workflow is workflow:
            problems = cached[2]  # the problems dock already checked this very revision
        else:
            problems = validate(workflow)
        errors = [p for p in problems if p.severity == "error"]
        warnings = len(problems) - len(errors)
        if errors:
            lines = [f"line {p.line}: {p.message}" if p.line else p.message for p in errors[:12]]
            more = f"\n… and {len(errors) - 12} more" if len(errors) > 12 else ""
            text = (f"The workflow has {len(errors)} error{'s' if len(errors) > 1 else ''}; fix "
                    f"{'them' if len(errors) > 1 else 'it'} before running:\n\n" + "\n".join(lines) + more)
            self._log(f"Run blocked: {len(errors)} validation error(s)")
            self.run_blocked.emit(text)
            return False
        if warnings:
            self._log(f"{warnings} validation warning(s); running anyway")
        return True

    def _trusted(self, workflow, trusted: bool) -> bool:
        fingerprint = python_fingerprint(workflow)
        if fingerprint is None or trusted or self.trust_store.is_trusted(self.path, fingerprint):
            if fingerprint is not None and trusted:
                self.trust_store.trust(self.path, fingerprint)
            return True
        names = [node.name for node in workflow.nodes if node.kind == PYTHON]
        if not self.trust_prompt(self.path, names):
            text = "Run cancelled: the file's Python code was not trusted"
            self._log(text)
            self.run_blocked.emit(text)
            return False
        self.trust_store.trust(self.path, fingerprint)
        return True

    # -- control --------------------------------------------------------------------------------------------
    def stop(self) -> None:
        if self.running:
            self.live.stop()
            self._log("Stopping…")

    def pause(self) -> None:
        if self.running:
            self.live.pause()

    def step(self) -> None:
        if self.running:
            self.live.step()

    def resume(self) -> None:
        if self.running:
            self.live.resume()

    def toggle_breakpoint(self, when: str, names: list[str] | None = None) -> None:
        """Toggle a breakpoint before/after the selected nodes (saved in config.interrupt_before/after)."""
        document = self.document
        if document is None:
            return
        names = names if names is not None else self._selected_names()
        index = 0 if when == "before" else 1
        for name in names:
            self.set_breakpoint(name, when, not document.breakpoints(name)[index])

    def set_breakpoint(self, name: str, when: str, enabled: bool) -> None:
        """Set or clear one breakpoint in the document; a live run follows at once."""
        self.document.set_breakpoint(name, when, enabled)
        if self.running:
            breakpoints = getattr(self.live.control, "breakpoints", None)
            if breakpoints is not None:
                (breakpoints.add if enabled else breakpoints.discard)((name, when))

    # -- applying ticks -------------------------------------------------------------------------------------
    def _set_views(self, model: RunModel | None) -> None:
        self._pending_nodes.clear()
        self.timeline.set_model(model)
        self.fan_in_view.set_model(model)
        self.log_view.set_model(model)
        for name in self._node_names():
            item = self._item(name)
            if item is None:
                continue
            if model is None:
                item.clear_run_info()
            else:
                self._paint_node(item, name)

    def _paint_node(self, item, name: str) -> None:
        info = self.model.nodes.get(name)
        if info is None:
            item.clear_run_info()
            return
        fan_in = self.model.fan_ins.get(name)
        item.set_run_info(info.status, info.badge, fan_in.progress if fan_in is not None else None)

    def _apply(self, delta: RunDelta) -> None:
        if self.model is None or self.live is None or delta is None:
            return
        # node items are repainted at most every CANVAS_REPAINT_S during a run, less often when many nodes changed
        # (each repaint redraws the edges crossing the items), and at once for pauses and the end
        self._pending_nodes.update(delta.nodes)
        self._pending_nodes.update(delta.fan_ins)
        now = time.monotonic()
        pending = len(self._pending_nodes)
        interval = min(CANVAS_BUSY_REPAINT_S, CANVAS_REPAINT_S * max(1.0, pending / CANVAS_BUSY_NODES))
        if delta.finished or delta.paused or delta.resumed or now - self._canvas_painted_at >= interval:
            self._canvas_painted_at = now
            for name in self._pending_nodes:
                item = self._item(name)
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
        if delta.paused or delta.resumed or delta.finished:
            self._update_actions()
        self.view_updated.emit()

    def _finished(self, ok: bool) -> None:
        record = self.live.record
        self._update_actions()
        if ok:
            self._log(f"Run finished in {format_ms(record.duration_ms)}")
        else:
            self._log(f"Run failed: {record.error}")
        self.run_ended.emit(ok)
        self._store(record, self.path)

    def _store(self, record, path: str | None) -> None:
        """Write the finished run into the history off the GUI thread (50,000 events take ~0.4 s to serialise:
        the window must not freeze at the end of a big run); ``run_stored`` follows on the GUI thread. Runs are
        stored one after the other, in the order they ended; the interpreter waits for the writer at exit."""

        def store() -> None:
            try:
                self.history.add(record, path, background=True)
                error = ""
            except OSError as exc:
                error = str(exc) or type(exc).__name__
            try:
                self._stored_signal.emit(record.run_id, error)
            except RuntimeError:  # the window was closed meanwhile: the run is stored, nobody to tell
                pass

        if self._storer is None:
            self._storer = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="tea-store")
        self._storer.submit(store)

    _storer: concurrent.futures.ThreadPoolExecutor | None = None

    def _stored(self, run_id: str, error: str) -> None:
        if error:
            self._log(f"Could not store the run in the history: {error}")
        self.runs_panel.refresh()
        self.run_stored.emit(run_id, error)

    def _detach_live(self) -> None:
        if self.live is not None:
            try:
                self.live.updated.disconnect(self._apply)
                self.live.finished.disconnect(self._finished)
            except (RuntimeError, TypeError):
                pass
            if self.live.running:
                self.live.finished.connect(self.live.deleteLater)
            else:
                self.live.deleteLater()
            self.live = None

    def _update_actions(self) -> None:
        running, paused = self.running, self.paused
        self.run_action.setEnabled(not running)
        self.stop_action.setEnabled(running)
        self.pause_action.setEnabled(running and not paused)
        self.step_action.setEnabled(paused)
        self.continue_action.setEnabled(paused)
        self.save_run_action.setEnabled(self.model is not None and not running)
        self.clear_action.setEnabled(self.model is not None and not running)

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
        if self.model is None or self._selecting:
            return
        names = self._selected_names()
        if len(names) == 1:
            self.show_node_state(names[0])

    _selecting = False

    def select_node(self, name: str, show_state: bool = True) -> None:
        item = self._item(name)
        if item is None:
            return
        self._selecting = not show_state
        try:
            item.scene().clearSelection()
            item.setSelected(True)
            view = getattr(self.window, "view", None)
            if view is not None:
                view.ensureVisible(item)
        finally:
            self._selecting = False
        if show_state:
            self.show_node_state(name)

    def open_node_line(self, node: str, line: int) -> None:
        """Jump to a Lua line of a node's code (from an error in the log): the window shows it in the editor."""
        self._selecting = True  # the jump is about the code: keep the state view as it is
        try:
            opened = self.window.open_node_line(node, line)
        finally:
            self._selecting = False
        if not opened:
            self._log(f"{node}: line {line}")

    # -- history --------------------------------------------------------------------------------------------
    def open_history_run(self, run_id: str) -> bool:
        """Show a stored run on the canvas, timeline, state, fan-in and log."""
        if self.running:
            self.message("Run in progress", "Stop the current run before opening a past one.")
            return False
        try:
            record = self.history.load(self.path, run_id)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self.message("Cannot open run", f"The stored run could not be read: {exc}")
            return False
        self._detach_live()
        workflow = self.document.workflow if self.document is not None else None
        self.model = RunModel.replay(record, workflow)
        self._set_views(self.model)
        self.state_view.show_state(f"Final state of run {record.run_id}", record.final_state)
        self._update_actions()
        self._log(f"Showing run {record.run_id} ({'ok' if record.ok else 'failed'})")
        return True

    def save_run(self, path: str | None = None, run_id: str | None = None) -> str | None:
        """Save the shown run (or a stored one) as NDJSON; asks for the path when not given."""
        if run_id is not None:
            record = self.history.load(self.path, run_id)
        elif self.model is not None:
            record = self.model.record
        else:
            return None
        if path is None:
            suggested = f"{Path(self.path).stem if self.path else 'run'}-{record.run_id}.ndjson"
            path, _ = QFileDialog.getSaveFileName(self.window, "Save run", suggested, "Run events (*.ndjson)")
            if not path:
                return None
        record.save(path)
        self._log(f"Saved run to {path}")
        return path

    def clear_run_view(self) -> None:
        if self.running:
            return
        self._detach_live()
        self.model = None
        self._set_views(None)
        self.state_view.clear()
        self._update_actions()

    # -- helpers --------------------------------------------------------------------------------------------
    def _node_names(self) -> list[str]:
        document = self.document
        return [node.name for node in document.workflow.nodes] if document is not None else []

    def _item(self, name: str):
        scene = getattr(self.window, "scene", None)
        if scene is None:
            return None
        try:
            return scene.node_item(name)
        except KeyError:
            return None

    def _selected_names(self) -> list[str]:
        scene = getattr(self.window, "scene", None)
        if scene is None:
            return []
        try:
            return list(scene.selected_node_names())
        except (AttributeError, RuntimeError):
            return []

    def _log(self, text: str) -> None:
        log = getattr(self.window, "log_message", None)
        if callable(log):
            log(text)

    def _show_message(self, title: str, text: str) -> None:
        self.last_message = (title, text)
        QMessageBox.warning(self.window, title, text)

    def _ask_trust(self, path: str | None, names: list[str]) -> bool:
        shown = ", ".join(names[:8]) + (" …" if len(names) > 8 else "")
        answer = QMessageBox.question(
            self.window, "Trust this file?",
            f"{Path(path).name if path else 'This workflow'} contains Python code ({shown}).\n\n"
            "Python nodes run with your permissions and are not sandboxed. Run them only if you trust "
            "where this file comes from.\n\nTrust it and run?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def _ask_inputs(self, path: str | None, text: str) -> tuple[dict, str] | None:
        dialog = InputDialog(Path(path).name if path else "workflow", text, self.window)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        inputs = dialog.inputs()
        return (inputs, dialog.text()) if inputs is not None else None
