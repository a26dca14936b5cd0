"""Running the open workflow from the studio: inputs, validation, trust, run control, breakpoints and history.

``RunController`` starts a :class:`LiveRun` on a clone of the document's workflow, hands the run model and each
tick to the :class:`RunPresenter`, and stores a finished run in the file's history (off the GUI thread). It adds
the Run commands to the shared :class:`ActionTable` and keeps them enabled as the run's state allows.
"""

from __future__ import annotations

import concurrent.futures
import json
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QKeySequence

from tea_studio.engine.record import RunModel, format_ms
from tea_studio.engine.start import FROM_NODE, ONLY_NODE, StartAt, recorded_input
from tea_studio.studio.actions import ActionTable
from tea_studio.studio.live_run import LiveRun
from tea_studio.studio.panels.runs import RunHistory
from tea_studio.studio.preferences import RunPreferences, strategies_for
from tea_studio.studio.prompts import Prompts
from tea_studio.studio.run_inputs import InputStore, TrustStore, parse_inputs, python_fingerprint
from tea_studio.studio.run_presenter import RunPresenter
from tea_studio.workflow.constructs import python_code
from tea_studio.workflow.state_schema import declared_inputs

MAX_LISTED_ERRORS = 12


class RunController(QObject):
    """Runs the document's workflow and shows it through ``presenter``.

    ``problems_for(workflow)`` validates (the problems dock's result when it checked this very revision);
    ``prompts`` asks for inputs and trust and shows what blocked a run; ``log(text)`` reports in the status bar;
    ``preferences()`` gives the user's caps and Dask scheduler for the next run.
    """

    run_started = Signal()
    run_ended = Signal(bool)
    run_blocked = Signal(str)
    run_stored = Signal(str, str)  # run id, error text ("" when stored): the history has the finished run
    _stored_signal = Signal(str, str)  # from the storing thread; delivered queued to _stored

    def __init__(self, document, presenter: RunPresenter, actions: ActionTable, prompts: Prompts, *,
                 problems_for: Callable, log: Callable[[str], None], history: RunHistory,
                 inputs_store: InputStore | None = None, trust_store: TrustStore | None = None,
                 preferences: Callable[[], RunPreferences] | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.presenter = presenter
        self.actions = actions
        self.prompts = prompts
        self._problems_for = problems_for
        self._log = log
        self.history = history
        self.inputs_store = inputs_store or InputStore()
        self.trust_store = trust_store or TrustStore()
        self.preferences = preferences or RunPreferences  # read at every start: a change applies to the next run
        self.live: LiveRun | None = None
        self.event_tap = None  # an extra sink seeing every event (benchmarks count with it)
        self._storer: concurrent.futures.ThreadPoolExecutor | None = None
        self._stored_signal.connect(self._stored, Qt.ConnectionType.QueuedConnection)
        presenter.history_open_requested.connect(self.open_history_run)
        presenter.history_save_requested.connect(lambda run_id: self.save_run(run_id=run_id))
        presenter.history_compare_requested.connect(self.compare_runs)
        presenter.start_requested.connect(lambda execution, mode: self.run_from(execution.node, mode, execution))
        self._add_actions()
        self.update_actions()

    def _add_actions(self) -> None:
        add = self.actions.add
        add("run", "&Run…", self.run, shortcut="F5", icon_name="run", tip="Run the workflow with inputs")
        add("stop", "&Stop", self.stop, shortcut="Shift+F5", icon_name="stop", tip="Stop the run")
        add("pause", "&Pause", self.pause, shortcut="F7", icon_name="pause", tip="Pause every flow at its next node")
        self.actions["pause"].setShortcuts([QKeySequence("F7"), QKeySequence("Pause")])  # F6 moves between panes
        add("step", "S&tep", self.step, shortcut="F10", icon_name="step", tip="Run the next node, then pause again")
        add("continue", "&Continue", self.resume, shortcut="F8", icon_name="continue", tip="Continue a paused run")
        add("run_from_here", "Run &From Here…", lambda: self.run_from_selected(FROM_NODE), name="runFromHere",
            tip="Run from the selected node on, with the state it had in the run shown (editable)")
        add("rerun_node", "Re-run &Node…", lambda: self.run_from_selected(ONLY_NODE), name="rerunNode",
            tip="Run the selected node alone with the input it had in the run shown (editable)")
        add("save_run", "Save Run as &NDJSON…", self.save_run, tip="Save the shown run's events (the --stream format)")
        add("clear_run", "C&lear Run View", self.clear_run_view, tip="Remove run statuses from the canvas and panels")

    # -- state ----------------------------------------------------------------------------------------------
    @property
    def path(self) -> str | None:
        return self.document.path

    @property
    def model(self) -> RunModel | None:
        return self.presenter.model

    @property
    def running(self) -> bool:
        return self.live is not None and self.live.running

    @property
    def paused(self) -> bool:
        return self.running and self.model is not None and bool(self.model.paused)

    def document_replaced(self) -> None:
        """Another document is open: stop a live run and clear its view."""
        if self.running:
            self.live.stop()
        self._detach_live()
        self.presenter.set_model(None)
        self.presenter.runs_panel.set_workflow_path(self.path)
        self.update_actions()

    def file_saved(self) -> None:
        """The document was saved, maybe under a new name (Save As): the Runs panel lists that file's runs."""
        if self.presenter.runs_panel.workflow_path != self.path:
            self.presenter.runs_panel.set_workflow_path(self.path)

    def update_actions(self) -> None:
        running, paused, shown = self.running, self.paused, self.model is not None
        for key, enabled in (("run", not running), ("stop", running), ("pause", running and not paused),
                             ("step", paused), ("continue", paused), ("save_run", shown and not running),
                             ("clear_run", shown and not running), ("run_from_here", not running),
                             ("rerun_node", not running)):
            self.actions[key].setEnabled(enabled)

    # -- starting -------------------------------------------------------------------------------------------
    def run(self) -> bool:
        """Run (F5): ask for the inputs (last ones of this file pre-filled), then start."""
        if self.running:
            return False
        asked = self.prompts.inputs(self.path, self._last_inputs())
        if asked is None:
            return False
        inputs, text = asked
        try:
            self.inputs_store.put(self.path, text)
        except OSError as exc:
            self._log(f"Could not remember the inputs: {exc.strerror or exc}")
        blocked: list[str] = []
        self.run_blocked.connect(blocked.append)
        try:
            started = self.start_run(inputs)
        finally:
            self.run_blocked.disconnect(blocked.append)
        if blocked:
            self.prompts.warning("Cannot run", blocked[-1])
        return started

    def _last_inputs(self) -> str:
        """The inputs last typed for this file; for a file never run here, the keys its ``state_schema``
        declares (each with its default or its type's empty value)."""
        declared = declared_inputs(self.document.workflow)
        return self.inputs_store.get(self.path, json.dumps(declared, indent=1, ensure_ascii=False) if declared
                                     else "{}")

    def start_run(self, inputs: dict | None = None, *, trusted: bool = False, auto_continue: bool = False,
                  start: StartAt | None = None) -> bool:
        """Start a run of the document's workflow. Returns False (and emits ``run_blocked(text)`` and
        ``run_ended(False)``) when validation errors or a refused trust prompt block it; never shows a modal box.

        ``inputs`` None uses the last inputs of this file. ``trusted`` skips the Python trust prompt;
        ``auto_continue`` continues at every breakpoint. ``start``: begin at that node with its state.
        """
        if self.running:
            self._log("A run is already in progress")
            return False
        workflow = self.document.workflow
        if inputs is None and start is None:
            inputs = parse_inputs(self._last_inputs())[0] or {}
        if not self._valid_for_run(workflow) or not self._trusted(workflow, trusted):
            self.run_ended.emit(False)
            return False
        from tea_studio.engine.runner import RunControl

        run_workflow = workflow.clone()
        run_workflow.path = self.path
        control = RunControl(auto_continue=auto_continue)
        self._detach_live()
        preferences = self.preferences()
        self.live = LiveRun(run_workflow, inputs, control=control, tap=self.event_tap, start=start,
                            caps=preferences.caps(), strategies=strategies_for(preferences), parent=self)
        self.live.updated.connect(self._apply)
        self.live.finished.connect(self._finished)
        self.live.start()  # the engine starts while the views are prepared (its first tick comes after this)
        self.presenter.set_model(self.live.model)
        self.presenter.show_run_docks()
        self.update_actions()
        where = f" {start.describe()}" if start is not None else ""
        self._log(f"Running {Path(self.path).name if self.path else 'workflow'}{where}…")
        self.run_started.emit()
        return True

    def _valid_for_run(self, workflow) -> bool:
        problems = self._problems_for(workflow)
        errors = [p for p in problems if p.severity == "error"]
        warnings = len(problems) - len(errors)
        if errors:
            lines = [f"line {p.line}: {p.message}" if p.line else p.message for p in errors[:MAX_LISTED_ERRORS]]
            more = f"\n… and {len(errors) - MAX_LISTED_ERRORS} more" if len(errors) > MAX_LISTED_ERRORS else ""
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
        if fingerprint is None:
            return True
        if not trusted and not self.trust_store.is_trusted(self.path, fingerprint):
            names = list(dict.fromkeys(name for name, _ in python_code(workflow)))
            if not self.prompts.trust(self.path, names):
                text = "Run cancelled: the file's Python code was not trusted"
                self._log(text)
                self.run_blocked.emit(text)
                return False
        try:
            self.trust_store.trust(self.path, fingerprint)
        except OSError as exc:
            self._log(f"Could not remember the trust: {exc.strerror or exc}")
        return True

    # -- from a past run ---------------------------------------------------------------------------------------
    def run_from_selected(self, mode: str) -> bool:
        """Run From Here / Re-run Node on the node selected on the canvas."""
        names = self.presenter.scene.selected_node_names()
        if len(names) != 1:
            self._log("Select one node to run from")
            return False
        return self.run_from(names[0], mode)

    def run_from(self, node: str, mode: str = FROM_NODE, execution=None) -> bool:
        """Start at ``node`` (``mode`` FROM_NODE: and on; ONLY_NODE: alone) with the state ``execution`` (default:
        the node's last one in the run shown) started from, as the user edits it; the new run is a child of the run
        shown in the history. A node the shown run never reached starts from that run's inputs."""
        if self.running:
            return False
        model = self.model
        if execution is None and model is not None:
            execution = model.last_execution(node)
        if execution is not None:
            state = recorded_input(model, execution)
        else:
            state = dict(model.record.inputs) if model is not None else {}
        state = self.prompts.start_state(node, state, mode)
        if state is None:
            return False
        parent = model.record.run_id if model is not None and model.record.ok is not None else None
        blocked: list[str] = []
        self.run_blocked.connect(blocked.append)
        try:
            started = self.start_run(start=StartAt(node, state, mode, parent))
        finally:
            self.run_blocked.disconnect(blocked.append)
        if blocked:
            self.prompts.warning("Cannot run", blocked[-1])
        return started

    def compare_runs(self, first: str, second: str) -> bool:
        """Compare two stored runs of the file in the Compare dock (A: ``first``, B: ``second``)."""
        workflow = self.document.workflow
        try:
            a, b = (RunModel.replay(self.history.load(self.path, run_id), workflow) for run_id in (first, second))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self.prompts.warning("Cannot compare runs", f"A stored run could not be read: {exc}")
            return False
        comparison = self.presenter.show_comparison(a, b)
        self._log(f"Compared runs {first} and {second}: {len(comparison.differing_nodes)} node(s) differ")
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

    def set_breakpoint(self, name: str, when: str, enabled: bool) -> None:
        """Set or clear one breakpoint in the document; a live run follows at once."""
        self.document.set_breakpoint(name, when, enabled)
        if self.running:
            self.live.control.set_breakpoint(name, when, enabled)

    # -- a live run -----------------------------------------------------------------------------------------
    def _apply(self, delta) -> None:
        if self.live is None or delta is None:
            return
        self.presenter.apply(delta)
        if delta.paused or delta.resumed or delta.finished:
            self.update_actions()

    def _finished(self, ok: bool) -> None:
        record = self.live.record
        self.update_actions()
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
            except Exception as exc:  # noqa: BLE001 - reported to the user on the GUI thread
                error = str(exc) or type(exc).__name__
            try:
                self._stored_signal.emit(record.run_id, error)
            except RuntimeError:  # the window was closed meanwhile: the run is stored, nobody to tell
                pass

        if self._storer is None:
            self._storer = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="tea-store")
        self._storer.submit(store)

    def _stored(self, run_id: str, error: str) -> None:
        if error:
            self._log(f"Could not store the run in the history: {error}")
            self.prompts.error("Cannot store the run", f"The run was not added to the history: {error}")
        self.presenter.runs_panel.set_workflow_path(self.path)  # the file may have been saved under a new name
        self.run_stored.emit(run_id, error)

    def _detach_live(self) -> None:
        if self.live is None:
            return
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

    # -- history --------------------------------------------------------------------------------------------
    def open_history_run(self, run_id: str) -> bool:
        """Show a stored run on the canvas, timeline, state, fan-in and log."""
        if self.running:
            self.prompts.warning("Run in progress", "Stop the current run before opening a past one.")
            return False
        try:
            record = self.history.load(self.path, run_id)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self.prompts.warning("Cannot open run", f"The stored run could not be read: {exc}")
            return False
        self._detach_live()
        self.presenter.set_model(RunModel.replay(record, self.document.workflow))
        self.presenter.show_state(f"Final state of run {record.run_id}", record.final_state)
        self.update_actions()
        self._log(f"Showing run {record.run_id} ({'ok' if record.ok else 'failed'})")
        return True

    def save_run(self, path: str | None = None, run_id: str | None = None) -> str | None:
        """Save the shown run (or a stored one) as NDJSON; asks for the path when not given. None when nothing
        was written (cancelled, or the failure was shown)."""
        try:
            record = self.history.load(self.path, run_id) if run_id is not None else (
                self.model.record if self.model is not None else None)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self.prompts.error("Cannot save run", f"The stored run could not be read: {exc}")
            return None
        if record is None:
            return None
        if path is None:
            suggested = f"{Path(self.path).stem if self.path else 'run'}-{record.run_id}.ndjson"
            path = self.prompts.save_path("Save run", suggested, "Run events (*.ndjson)")
            if not path:
                return None
        try:
            record.save(path)
        except OSError as exc:
            self.prompts.error("Cannot save run", f"{path}: {exc.strerror or exc}")
            return None
        self._log(f"Saved run to {path}")
        return path

    def clear_run_view(self) -> None:
        if self.running:
            return
        self._detach_live()
        self.presenter.set_model(None)
        self.update_actions()
