"""The studio window: it puts the canvas, the docks, the menus and the controllers together.

The window never edits the workflow itself: edits go through ``self.document`` (an EditableWorkflow), whose undo
stack also decides the dirty ``*`` in the title and the close prompt. The work is done by parts made with explicit
arguments: ``actions`` (every command, shared by menus, toolbars and the canvas menu), ``files`` (open, save,
export, recent files, changes on disk, recovery), ``validator``, and ``run_tools`` with its presenter (the live
run). Every question to the user goes through ``prompts``; pass an :class:`AnsweredPrompts` to script them.
"""

from __future__ import annotations

import os
import traceback
from pathlib import Path

from PySide6.QtCore import QSize, QTimer, Signal
from PySide6.QtGui import QActionGroup, QKeySequence
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QMenu, QToolBar

from tea_studio.studio import dock_layout, recovery
from tea_studio.studio.actions import ActionTable, add_canvas_actions
from tea_studio.studio.canvas.context_menu import CanvasContextMenu
from tea_studio.studio.canvas.scene import WorkflowScene
from tea_studio.studio.canvas.theme import apply_app_theme
from tea_studio.studio.canvas.view import WorkflowView
from tea_studio.studio.document import EditableWorkflow
from tea_studio.studio.file_controller import FileController
from tea_studio.studio.panels.find_node import FindNodeField
from tea_studio.studio.panels.inspector import Inspector
from tea_studio.studio.panels.palette import NodePalette
from tea_studio.studio.panels.problems import ProblemsPanel
from tea_studio.studio.panes import focus_next_pane
from tea_studio.studio.pins import ask_pin
from tea_studio.studio.preferences import load_preferences, save_preferences
from tea_studio.studio.prompts import Prompts
from tea_studio.studio.recent_menu import RecentFilesMenu
from tea_studio.studio.resources import THEMES, icon
from tea_studio.studio.resources import settings as studio_settings
from tea_studio.studio.validation_controller import Validator
from tea_studio.workflow.action_schemas import creatable_kinds
from tea_studio.workflow.model import Workflow
from tea_studio.workflow.routes import RouteKind

# The menus and the main toolbar, by action key (None: a separator; "<...>": a submenu filled by the window).
MENUS = (
    ("&File", ("new", "open", "<recent>", None, "save", "save_as", None, "export", "export_png", "export_svg", None,
               "quit")),
    ("&Edit", ("undo", "redo", None, "cut", "copy", "paste", "duplicate", "delete", None, "rename", "connect_to",
               "group", "note", None, "select_all", "find", None, "next_pane", "previous_pane", None, "preferences")),
    ("&View", ("zoom_in", "zoom_out", "fit", None, "layout", None, "grid", "snap", "minimap", None, "<themes>", None,
               "<panels>")),
    ("&Run", ("run", "stop", "pause", "step", "continue", None, "run_from_here", "rerun_node", None,
              "breakpoint_before", "breakpoint_after", None, "save_run", "clear_run")),
)
TOOLBAR = ("new", "open", "save", None, "undo", "redo", "delete", None, "zoom_in", "zoom_out", "fit", "layout", None)
RUN_TOOLBAR = ("run", "stop", "pause", "step", "continue")
# Canvas options remembered in the settings: (action key, text, default, tip).
VIEW_OPTIONS = (("grid", "Show &Grid", True, "Show the background grid"),
                ("snap", "&Snap to Grid", False, "Snap moved nodes to the grid"),
                ("minimap", "&Minimap", True, "Show the minimap"))


class MainWindow(QMainWindow):
    """The TEA Studio main window."""

    document_replaced = Signal()

    def __init__(self, path: str | os.PathLike | None = None, *, autosave_interval_ms: int | None = None,
                 restore_state: bool = True, prompts: Prompts | None = None, parent=None):
        super().__init__(parent)
        self.setObjectName("teaStudioMainWindow")
        self.settings = studio_settings()
        self.theme = self._initial_theme()
        self.prompts = prompts if prompts is not None else Prompts(self)
        self.document = EditableWorkflow(Workflow(), self)
        self.scene = WorkflowScene(self.document)
        self.scene.setParent(self)
        self.view = WorkflowView(self.scene)
        self.view.setObjectName("workflowView")
        self.setCentralWidget(self.view)
        self._error_count = 0
        self._build_docks()
        self.actions = ActionTable(self, self.view)
        self.view.context_menu = CanvasContextMenu(self.view, self.actions)
        self.autosaver = recovery.Autosaver(self.is_dirty, self._recovery_snapshot,
                                            autosave_interval_ms or recovery.DEFAULT_INTERVAL_MS, self)
        self.files = FileController(self.document, self.scene, self.prompts, self.settings, self.autosaver, self)
        self.validator = Validator(self.document, parent=self)
        self._build_actions()
        self._build_menus()
        self._build_toolbars()
        self._build_status_bar()
        self.run_tools = self._create_run_tools()
        self.actions.fill(self.menus["&Run"], MENUS[3][1])
        self.actions.fill(self.run_toolbar, RUN_TOOLBAR)
        self._connect()
        self.resize(1400, 900)
        self.apply_theme(self.theme, persist=False)
        self._document_changed()
        if path is None or not self.load_file(path):
            self.validator.validate_now()
        dock_layout.arrange_docks(self, self.palette_dock, self.inspector_dock, self.problems_dock,
                                  self.run_tools.presenter.docks if self.run_tools is not None else None)
        if restore_state:
            dock_layout.restore_window_state(self, self.settings)

    def _create_run_tools(self):
        """The run controller and its presenter, or None when they cannot be set up (editing stays possible)."""
        try:
            from tea_studio.studio.panels.runs import RunHistory
            from tea_studio.studio.run_controller import RunController
            from tea_studio.studio.run_presenter import RunPresenter

            history = RunHistory()
            presenter = RunPresenter(self, self.scene, self.view, open_node_line=self.open_node_line,
                                     log=self.log_message, panels_menu=self.panels_menu, history=history)
            tools = RunController(self.document, presenter, self.actions, self.prompts,
                                  problems_for=self.validator.problems_for, log=self.log_message, history=history,
                                  preferences=lambda: load_preferences(self.settings), parent=self)
        except Exception as exc:  # noqa: BLE001 - shown; editing must stay possible even if running is broken
            traceback.print_exc()
            self.log_message(f"Run tools unavailable: {exc}")
            return None
        self.view.breakpoint_handler = tools.set_breakpoint  # a live run follows the canvas's breakpoints
        presenter.pin_requested.connect(self._pin_output)
        tools.document_replaced()
        return tools

    # -- building ------------------------------------------------------------------------------------------
    def _build_docks(self) -> None:
        dock_layout.set_corners(self)
        self.palette = NodePalette()
        self.palette.node_requested.connect(self.add_node_at_centre)
        self.palette_dock = dock_layout.add_dock(self, "Nodes", "paletteDock", self.palette, dock_layout.LEFT)
        self.inspector = Inspector()
        self.inspector_dock = dock_layout.add_dock(self, "Inspector", "inspectorDock", self.inspector,
                                                   dock_layout.RIGHT)
        self.problems = ProblemsPanel()
        self.problems.problem_activated.connect(self.show_problem)
        self.problems_dock = dock_layout.add_dock(self, "Problems", "problemsDock", self.problems,
                                                  dock_layout.BOTTOM)
        self.palette_dock.setMinimumWidth(130)
        self.inspector_dock.setMinimumWidth(340)
        self.problems.setMinimumHeight(60)

    def _build_actions(self) -> None:
        key, add, files = QKeySequence.StandardKey, self.actions.add, self.files
        add("new", "&New", files.new_file, shortcut=key.New, icon_name="new", tip="Start a new workflow")
        add("open", "&Open…", files.open_file, shortcut=key.Open, icon_name="open", tip="Open a TEA workflow")
        add("save", "&Save", files.save, shortcut=key.Save, icon_name="save", tip="Save the workflow")
        add("save_as", "Save &As…", files.save_as, shortcut=key.SaveAs, tip="Save the workflow under a new name")
        add("export", "&Export for headless…", files.export_headless, icon_name="export",
            tip="Write the workflow without studio data (x-tea-studio) for `tea run`")
        add("export_png", "Export image as &PNG…", lambda: files.export_image(None, "png"),
            tip="Render the canvas to a PNG image")
        add("export_svg", "Export image as S&VG…", lambda: files.export_image(None, "svg"),
            tip="Render the canvas to an SVG image")
        add("quit", "&Quit", self.close, shortcut=key.Quit, tip="Close TEA Studio")
        stack = self.document.undo_stack
        for name, made, shortcut in (("undo", stack.createUndoAction(self, "&Undo"), key.Undo),
                                     ("redo", stack.createRedoAction(self, "&Redo"), key.Redo)):
            made.setShortcuts(list(dict.fromkeys(  # Ctrl+Shift+Z redoes on every platform
                [*QKeySequence.keyBindings(shortcut), *([QKeySequence("Ctrl+Shift+Z")] if name == "redo" else [])])))
            made.setIcon(icon(name))
            self.actions.adopt(name, made)
        add_canvas_actions(self.actions, self.view)
        add("find", "&Find Node…", lambda: self.find_edit.focus(), shortcut=key.Find, icon_name="find",
            tip="Find a node by name")
        add("next_pane", "Next &Pane", lambda: focus_next_pane(self, self.view, self.inspector, True),
            shortcut="F6", tip="Move the keyboard focus to the next pane: canvas, inspector, docks")
        self.actions["next_pane"].setShortcuts([QKeySequence("F6"), QKeySequence("Ctrl+Tab")])
        add("previous_pane", "Previous Pa&ne", lambda: focus_next_pane(self, self.view, self.inspector, False),
            shortcut="Shift+F6", tip="Move the keyboard focus to the previous pane")
        self.actions["previous_pane"].setShortcuts([QKeySequence("Shift+F6"), QKeySequence("Ctrl+Shift+Tab")])
        add("preferences", "P&references…", self.edit_preferences, shortcut="Ctrl+,",
            tip="The Dask scheduler and the caps on a file's timeout and memory")
        for name, text, default, tip in VIEW_OPTIONS:
            add(name, text, lambda on, n=name: self._set_view_option(n, on), tip=tip, checkable=True,
                checked=self.settings.value(f"view/{name}", default, type=bool))
        self.theme_group = QActionGroup(self)
        for theme in THEMES:
            action = add(f"theme_{theme}", f"{theme.capitalize()} theme", lambda t=theme: self.apply_theme(t))
            action.setCheckable(True)
            action.setChecked(theme == self.theme)
            self.theme_group.addAction(action)
        self.theme_actions = {theme: self.actions[f"theme_{theme}"] for theme in THEMES}

    def _build_menus(self) -> None:
        self.menus: dict[str, QMenu] = {}
        for title, keys in MENUS:
            menu = self.menuBar().addMenu(title)
            self.menus[title] = menu
            if title == "&Run":
                continue  # filled once the run controller added its actions
            for key in keys:
                if key == "<recent>":
                    self.recent_menu = RecentFilesMenu(self.files, menu)
                    menu.addMenu(self.recent_menu)
                elif key == "<themes>":
                    menu.addActions(list(self.theme_actions.values()))
                elif key == "<panels>":
                    self.panels_menu = menu.addMenu("&Panels")
                    for dock in (self.palette_dock, self.inspector_dock, self.problems_dock):
                        self.panels_menu.addAction(dock.toggleViewAction())
                else:
                    self.actions.fill(menu, [key])

    def _build_toolbars(self) -> None:
        self.file_toolbar = QToolBar("File", self)
        self.file_toolbar.setObjectName("fileToolbar")
        self.file_toolbar.setIconSize(QSize(18, 18))
        self.actions.fill(self.file_toolbar, TOOLBAR)
        self.find_edit = FindNodeField(lambda: self.workflow.node_names, self._found_node,
                                       lambda text: self.log_message(f"No node matches '{text}'"))
        self.file_toolbar.addWidget(self.find_edit)
        self.addToolBar(self.file_toolbar)
        self.run_toolbar = QToolBar("Run", self)
        self.run_toolbar.setObjectName("runToolbar")
        self.run_toolbar.setIconSize(QSize(18, 18))
        self.addToolBar(self.run_toolbar)

    def _build_status_bar(self) -> None:
        self.file_label = QLabel()
        self.file_label.setObjectName("fileLabel")
        self.node_count_label = QLabel()
        self.problem_label = QLabel()
        self.zoom_label = QLabel()
        for label in (self.file_label, self.node_count_label, self.problem_label, self.zoom_label):
            label.setContentsMargins(8, 0, 8, 0)
            self.statusBar().addPermanentWidget(label)

    def _connect(self) -> None:
        doc = self.document
        doc.workflow_changed.connect(self._document_changed)
        doc.workflow_changed.connect(self.autosaver.edited)
        doc.undo_stack.cleanChanged.connect(self._clean_changed)
        doc.reset.connect(self.inspector.show_workflow)
        self.scene.selectionChanged.connect(self._show_selection)
        self.inspector.set_document(doc)
        self.view.zoom_changed.connect(lambda _zoom: self._update_status())
        self.view.rename_requested.connect(self.start_rename)
        self.view.condition_edit_requested.connect(lambda _ref: self.edit_condition())
        self.view.pin_requested.connect(self._pin_output)
        self.validator.validated.connect(self._show_problems)
        self.files.replaced.connect(self._file_replaced)
        self.files.saved.connect(lambda _path: self._document_changed())
        if self.run_tools is not None:
            self.files.saved.connect(lambda _path: self.run_tools.file_saved())
        self.files.message.connect(self.log_message)
        self.autosaver.failed.connect(lambda error: self.log_message(f"Could not write the recovery copy: {error}"))

    # -- document state ------------------------------------------------------------------------------------
    @property
    def workflow(self) -> Workflow:
        return self.document.workflow

    @property
    def path(self) -> str | None:
        return self.document.path

    def is_dirty(self) -> bool:
        return self.files.is_dirty()

    def load_file(self, path: str | os.PathLike) -> bool:
        """Open a workflow file in this window (replacing the current one without asking); False on error."""
        return self.files.load_file(path)

    def _recovery_snapshot(self) -> tuple[str, str | None]:
        from tea_studio.workflow import yaml_io

        return yaml_io.dump_workflow(self.workflow), self.path

    def _file_replaced(self) -> None:
        self._document_changed()
        self.validator.validate_now()
        self.fit_all()
        if self.run_tools is not None:
            self.run_tools.document_replaced()
        self.document_replaced.emit()

    def _clean_changed(self, clean: bool) -> None:
        self._update_title()
        if clean:
            self.autosaver.discard()  # undone back to the saved state: nothing to recover

    def _document_changed(self) -> None:
        self._update_title()
        self._update_status()

    def _show_selection(self) -> None:
        nodes, edges = self.selection()
        self.inspector.show_selection(nodes, edges)

    def _update_title(self) -> None:
        name = Path(self.path).name if self.path else "Untitled"
        self.setWindowTitle(f"{name}{'*' if self.is_dirty() else ''} — TEA Studio")

    def _update_status(self) -> None:
        self.file_label.setText(Path(self.path).name if self.path else "Untitled (not saved)")
        self.file_label.setToolTip(self.path or "")
        count = len(self.workflow.nodes)
        self.node_count_label.setText(f"{count} node{'s' if count != 1 else ''}")
        self.zoom_label.setText(f"Zoom {round(self.view.zoom() * 100)}%")
        self.find_edit.refresh_names()

    def log_message(self, text: str, timeout_ms: int = 6000) -> None:
        """Show a short message in the status bar."""
        self.statusBar().showMessage(text, timeout_ms)

    # -- validation ---------------------------------------------------------------------------------------------
    def validate_now(self) -> list:
        """Validate the workflow now: fill the problems dock and the node markers."""
        return self.validator.validate_now()

    def _show_problems(self, problems: list) -> None:
        self.problems.set_problems(problems)
        by_node: dict[str, list[tuple[str, str]]] = {}
        for problem in problems:
            if problem.node:
                by_node.setdefault(problem.node, []).append((problem.severity, problem.message))
        self.scene.set_problems(by_node)
        self.problem_label.setText(self.problems.summary())
        self.problems_dock.setWindowTitle(f"Problems ({len(problems)})" if problems else "Problems")
        errors = self.problems.counts()[0]
        running = self.run_tools is not None and self.run_tools.running
        if errors > self._error_count and not running:
            self.problems_dock.show()
            self.problems_dock.raise_()  # new errors come forward, except over a live run's timeline
        self._error_count = errors

    def show_problem(self, problem) -> None:
        if problem.node and self.select_node(problem.node):
            return
        self.log_message(f"{problem.code}: {problem.message}")

    # -- selection and navigation -------------------------------------------------------------------------------
    def selection(self) -> tuple[list[str], list[str]]:
        """(selected node names, ids of the selected routes written in ``edges``, one route per entry)."""
        nodes = list(self.scene.selected_node_names())
        entries: dict[int, str] = {}  # id() of an edges entry -> the first selected route it writes
        writers: dict[str, None] = {}  # a goto route's rules are edited on its source node
        for route in self.scene.selected_routes():
            if (entry := self.document.edge_entry(route.id)) is not None:
                entries.setdefault(id(entry), route.id)
            elif route.kind in (RouteKind.GOTO, RouteKind.RULE):
                writers[route.source] = None
        return nodes or list(writers), list(entries.values())

    def select_node(self, name: str, centre: bool = True) -> bool:
        item = self.scene.node_item(name)
        if item is None:
            return False
        self.scene.select_nodes([name])
        if centre:
            self.view.centerOn(item)
        return True

    def _found_node(self, name: str) -> None:
        self.select_node(name, centre=False)
        self.view.show_node(name)  # zoomed in to where the name reads well
        self.view.setFocus()

    def open_node_line(self, node: str, line: int) -> bool:
        """Select ``node``, show it in the inspector and put the code editor's cursor on ``line`` (highlighted)."""
        if not self.select_node(node):
            return False
        self._show_inspector()
        self.inspector.show_node(node)
        return self.inspector.go_to_code_line(line)

    def _show_inspector(self) -> None:
        self.inspector_dock.show()
        self.inspector_dock.raise_()

    def start_rename(self, name: str) -> None:
        """Rename a node from the canvas: select it and put the cursor in the inspector's name field."""
        if self.select_node(name, centre=False):
            self._show_inspector()
            self.inspector.show_node(name)
            self.inspector.focus_name()

    def edit_condition(self) -> None:
        """Edit the selected route's condition in the inspector."""
        self._show_inspector()
        self._show_selection()
        self.inspector.focus_condition()

    def edit_preferences(self) -> bool:
        """Edit → Preferences…: change the Dask scheduler and the caps; True when they were changed and kept."""
        changed = self.prompts.preferences(load_preferences(self.settings))
        if changed is None:
            return False
        if not save_preferences(self.settings, changed):
            self.prompts.error("Preferences not saved", f"Could not write {self.settings.fileName()}")
            return False
        self.log_message("Preferences saved: they apply from the next run")
        return True

    def _pin_output(self, name: str, output: dict | None = None) -> bool:
        """Pin a node's output (the canvas menu's Pin Output…, a timeline bar's menu), prefilled with ``output``
        or from the shown run."""
        model = self.run_tools.model if self.run_tools is not None else None
        return ask_pin(self.document, self.prompts, model, name, output)

    def add_node_at_centre(self, kind: str) -> str:
        """Add a palette node centred in the visible canvas and select it (one undo step)."""
        if kind not in creatable_kinds():
            raise ValueError(f"unknown node kind {kind!r}")
        return self.view.add_node_at(kind, self.view.mapToScene(self.view.viewport().rect().center()))

    # -- view ----------------------------------------------------------------------------------------------------
    def fit_all(self) -> None:
        """Show the whole workflow."""
        self.view.fit_all()
        self._update_status()

    def _set_view_option(self, name: str, on: bool) -> None:
        self.settings.setValue(f"view/{name}", bool(on))
        setter = {"grid": self.view.set_grid_visible, "snap": self.view.set_snap,
                  "minimap": self.view.set_minimap_visible}[name]
        setter(bool(on))

    def _initial_theme(self) -> str:
        theme = os.environ.get("TEA_STUDIO_THEME") or self.settings.value("theme", "light")
        return theme if theme in THEMES else "light"

    def apply_theme(self, theme: str, persist: bool = True) -> None:
        """Switch the light/dark theme of the whole app (and remember it unless ``persist`` is False)."""
        if theme not in THEMES:
            raise ValueError(f"unknown theme {theme!r}")
        self.theme = theme
        apply_app_theme(QApplication.instance(), theme)
        self.scene.set_theme(theme)
        if self.run_tools is not None:
            self.run_tools.presenter.set_theme(theme)
        self.theme_actions[theme].setChecked(True)
        if persist:
            self.settings.setValue("theme", theme)
            self.settings.sync()

    # -- window state ------------------------------------------------------------------------------------------
    def raised_bottom_dock(self):
        """The bottom dock whose tab is in front (None when none is shown)."""
        return dock_layout.raised_bottom_dock(self)

    def save_window_state(self) -> None:
        dock_layout.save_window_state(self, self.settings)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        for name, *_rest in VIEW_OPTIONS:
            self._set_view_option(name, self.actions[name].isChecked())
        QTimer.singleShot(0, lambda: dock_layout.hide_stray_tab_bars(self))

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if not self.files.maybe_save():
            event.ignore()
            return
        self.autosaver.stop()
        self.save_window_state()
        event.accept()
