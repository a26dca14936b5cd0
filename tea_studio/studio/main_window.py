"""The studio window: canvas, docks (palette, inspector, problems), menus, files, settings and recovery.

The window never edits the workflow itself: edits go through ``self.document`` (an EditableWorkflow), whose undo
stack also decides the dirty ``*`` in the title and the close prompt. Questions to the user (save changes? reload?
restore?) are attributes holding a function, so tests can answer them directly.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QColor, QGuiApplication, QImage, QKeySequence, QPainter
from PySide6.QtWidgets import (
    QApplication,
    QCompleter,
    QDockWidget,
    QFileDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMessageBox,
    QTabBar,
    QToolBar,
)

from tea_studio.studio import recovery
from tea_studio.studio.panels.inspector import Inspector
from tea_studio.studio.panels.palette import NodePalette
from tea_studio.studio.panels.problems import ProblemsPanel
from tea_studio.studio.resources import THEMES, icon
from tea_studio.studio.resources import settings as studio_settings
from tea_studio.workflow import yaml_io
from tea_studio.workflow.model import CREATABLE_KINDS, Workflow

MAX_RECENT_FILES = 10
VALIDATION_DELAY_MS = 300
DISK_CHECK_DELAY_MS = 200
ZOOM_STEP = 1.25
ZOOM_RANGE = (0.1, 4.0)
YAML_FILTER = "TEA workflows (*.yaml *.yml);;All files (*)"
# Bump when the default dock layout changes: saved layouts of another version are ignored.
WINDOW_STATE_VERSION = 2
BOTTOM_DOCK_HEIGHT = 240  # room for the timeline's axis and five lanes

# Answers of the injectable prompts.
SAVE, DISCARD, CANCEL = "save", "discard", "cancel"
RELOAD, KEEP = "reload", "keep"
RESTORE, LATER = "restore", "later"
HEADLESS_PLATFORMS = ("offscreen", "minimal")


def _as_list(value) -> list[str]:
    """A QSettings list value (an ini file gives a str for one item and None for none)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value]


class MainWindow(QMainWindow):
    """The TEA Studio main window."""

    document_replaced = Signal()

    def __init__(self, path: str | os.PathLike | None = None, *, autosave_interval_ms: int | None = None,
                 restore_state: bool = True, parent=None):
        super().__init__(parent)
        from tea_studio.studio.canvas.scene import WorkflowScene
        from tea_studio.studio.canvas.view import WorkflowView
        from tea_studio.studio.document import EditableWorkflow

        self.setObjectName("teaStudioMainWindow")
        self.settings = studio_settings()
        self.theme = self._initial_theme()
        # Questions to the user; tests replace them with plain functions.
        self.ask_save_changes: Callable[[], str] = self._ask_save_changes
        self.ask_reload: Callable[[bool], str] = self._ask_reload
        self.ask_restore: Callable[[recovery.Recovery], str] = self._ask_restore
        self.ask_open_path: Callable[[], str | None] = self._ask_open_path
        self.ask_save_path: Callable[[str, str], str | None] = self._ask_save_path
        self.show_error: Callable[[str, str], None] = self._show_error

        self.document = EditableWorkflow(Workflow(), self)
        self.scene = WorkflowScene(self.document)
        self.scene.setParent(self)
        self.view = WorkflowView(self.scene)
        self.view.setObjectName("workflowView")
        self.setCentralWidget(self.view)
        self.problems_by_node: dict[str, list] = {}
        self._disk_text: str | None = None
        self._checking_disk = False

        self._build_docks()
        self._build_actions()
        self._build_menus()
        self._build_toolbars()
        self._build_status_bar()

        self.validation_timer = QTimer(self)
        self.validation_timer.setSingleShot(True)
        self.validation_timer.setInterval(VALIDATION_DELAY_MS)
        self.validation_timer.timeout.connect(self.validate_now)
        self.watcher = QFileSystemWatcher(self)
        self.watcher.fileChanged.connect(self._file_changed)
        self.disk_timer = QTimer(self)
        self.disk_timer.setSingleShot(True)
        self.disk_timer.setInterval(DISK_CHECK_DELAY_MS)
        self.disk_timer.timeout.connect(self.on_file_changed_on_disk)
        self.autosaver = recovery.Autosaver(self.is_dirty, self._recovery_snapshot,
                                            autosave_interval_ms or recovery.DEFAULT_INTERVAL_MS, self)

        self._connect_document()
        self.resize(1400, 900)
        self.apply_theme(self.theme, persist=False)
        self._update_title()
        self._update_status()
        self.run_tools = None
        self._error_count = 0
        if path is not None:
            self.load_file(path)
        else:
            self.validate_now()

        self.run_tools = self._create_run_tools()
        if self.run_tools is not None:
            self.view.breakpoint_handler = self.run_tools.set_breakpoint  # a live run follows the canvas menu
        self._arrange_docks()
        if restore_state:
            self._restore_window_state()

    def _create_run_tools(self):
        """The live-run tools (their own Run actions and docks), or None when they cannot be set up."""
        try:
            from tea_studio.studio.run_ui import RunTools
        except ImportError:
            return None
        try:
            return RunTools(self)
        except Exception as exc:  # editing must stay possible even if the run tools are broken
            traceback.print_exc()
            self.log_message(f"Run tools unavailable: {exc}")
            return None

    # -- building ------------------------------------------------------------------------------------------
    def _dock(self, title: str, name: str, widget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_docks(self) -> None:
        # The right column (inspector, state) runs the full height; the bottom docks sit under the canvas.
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.setCorner(Qt.Corner.TopRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.palette = NodePalette()
        self.palette.node_requested.connect(self.add_node_at_centre)
        self.palette_dock = self._dock("Nodes", "paletteDock", self.palette, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.inspector = Inspector()
        self.inspector_dock = self._dock("Inspector", "inspectorDock", self.inspector,
                                         Qt.DockWidgetArea.RightDockWidgetArea)
        self.problems = ProblemsPanel()
        self.problems.problem_activated.connect(self.show_problem)
        self.problems_dock = self._dock("Problems", "problemsDock", self.problems,
                                        Qt.DockWidgetArea.BottomDockWidgetArea)
        self.palette_dock.setMinimumWidth(130)
        self.inspector_dock.setMinimumWidth(340)
        self.problems.setMinimumHeight(60)

    def _arrange_docks(self) -> None:
        """The default layout: Inspector above State/Runs on the right; Timeline, Log and Problems tabbed below."""
        bottom = [self.problems_dock]
        tools = self.run_tools
        if tools is not None:
            docks = tools.docks
            bottom = [docks["timeline"], docks["log"], self.problems_dock]
            # the run tools already stack State/Runs under the Inspector and tab Timeline with Log; re-tabifying
            # would leave stray tab bars behind
            if self.problems_dock not in self.tabifiedDockWidgets(docks["log"]):
                self.tabifyDockWidget(docks["log"], self.problems_dock)
            docks["state"].raise_()
            self.resizeDocks([self.inspector_dock, docks["state"]], [560, 260], Qt.Orientation.Vertical)
        self.problems_dock.raise_()
        for dock in self.findChildren(QDockWidget):
            dock.dockLocationChanged.connect(lambda _area: QTimer.singleShot(0, self.hide_stray_tab_bars))
        self.resizeDocks([self.palette_dock, self.inspector_dock], [150, 400], Qt.Orientation.Horizontal)
        self.resizeDocks([bottom[0]], [BOTTOM_DOCK_HEIGHT], Qt.Orientation.Vertical)

    def hide_stray_tab_bars(self) -> int:
        """Hide dock tab bars Qt left on screen after rebuilding a tab group (they show through the live one).

        A live bar sits right under the dock in front of its group, as wide as that dock. Returns how many were hidden.
        """
        shown = [d.geometry() for d in self.findChildren(QDockWidget)
                 if not d.isFloating() and d.isVisible() and not d.visibleRegion().isEmpty()]
        hidden = 0
        for bar in self.findChildren(QTabBar, options=Qt.FindChildOption.FindDirectChildrenOnly):
            if not bar.isVisible():
                continue
            geometry = bar.geometry()
            if not any(abs(geometry.top() - dock.bottom() - 1) <= 3 and abs(geometry.left() - dock.left()) <= 2
                       and abs(geometry.width() - dock.width()) <= 2 for dock in shown):
                bar.hide()
                hidden += 1
        return hidden

    def raised_bottom_dock(self) -> QDockWidget | None:
        """The bottom dock whose tab is in front (None when none is shown)."""
        for dock in self.findChildren(QDockWidget):
            if (self.dockWidgetArea(dock) == Qt.DockWidgetArea.BottomDockWidgetArea and not dock.isFloating()
                    and not dock.visibleRegion().isEmpty()):  # a tab behind another is "visible" but not seen
                return dock
        return None

    def _action(self, text: str, slot, shortcut=None, icon_name: str | None = None, tip: str | None = None,
                checkable: bool = False) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if icon_name:
            action.setIcon(icon(icon_name))
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        action.setCheckable(checkable)
        if checkable:
            action.toggled.connect(slot)
        else:
            action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        key = QKeySequence.StandardKey
        a = self._action
        self.new_action = a("&New", self.new_file, key.New, "new", "Start a new workflow")
        self.open_action = a("&Open…", self.open_file, key.Open, "open", "Open a TEA workflow")
        self.save_action = a("&Save", self.save, key.Save, "save", "Save the workflow")
        self.save_as_action = a("Save &As…", self.save_as, key.SaveAs, None, "Save the workflow under a new name")
        self.export_action = a("&Export for headless…", self.export_headless, None, "export",
                               "Write the workflow without studio data (x-tea-studio) for `tea run`")
        self.export_png_action = a("Export image as &PNG…", lambda: self.export_image(None, "png"), None, None,
                                   "Render the canvas to a PNG image")
        self.export_svg_action = a("Export image as S&VG…", lambda: self.export_image(None, "svg"), None, None,
                                   "Render the canvas to an SVG image")
        self.quit_action = a("&Quit", self.close, key.Quit, None, "Close TEA Studio")

        stack = self.document.undo_stack
        self.undo_action = stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence(key.Undo))
        self.undo_action.setIcon(icon("undo"))
        self.redo_action = stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcut(QKeySequence(key.Redo))
        self.redo_action.setIcon(icon("redo"))
        self.addActions([self.undo_action, self.redo_action])
        self.cut_action = a("Cu&t", self.cut, key.Cut, None, "Cut the selected nodes")
        self.copy_action = a("&Copy", self.copy, key.Copy, None, "Copy the selected nodes")
        self.paste_action = a("&Paste", self.paste, key.Paste, None, "Paste nodes")
        self.duplicate_action = a("D&uplicate", self.duplicate, "Ctrl+D", None, "Duplicate the selected nodes")
        self.delete_action = a("&Delete", self.delete_selection, key.Delete, "delete", "Delete the selection")
        self.select_all_action = a("Select &All", self.select_all, key.SelectAll, None, "Select every node")
        self.find_action = a("&Find Node…", self.focus_find, key.Find, "find", "Find a node by name")
        for action in (self.cut_action, self.copy_action, self.paste_action, self.delete_action,
                       self.select_all_action, self.duplicate_action):
            # The canvas's editing keys; text fields keep their own Ctrl+C/V/X/A and Delete.
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.view.addAction(action)
            self.removeAction(action)

        self.zoom_in_action = a("Zoom &In", self.zoom_in, key.ZoomIn, "zoom-in")
        self.zoom_out_action = a("Zoom &Out", self.zoom_out, key.ZoomOut, "zoom-out")
        self.fit_action = a("&Fit", self.fit_selection, "F", "fit",
                            "Fit the selected nodes in the view, or the whole workflow when nothing is selected")
        self.fit_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.view.addAction(self.fit_action)  # a bare F belongs to the canvas, not to text fields or lists
        self.removeAction(self.fit_action)
        self.layout_action = a("&Auto-layout", self.auto_layout, "Ctrl+L", "layout",
                               "Arrange the nodes left to right (undoable)")
        self.grid_action = a("Show &Grid", self.set_grid_visible, None, None, "Show the background grid",
                             checkable=True)
        self.snap_action = a("&Snap to Grid", self.set_snap_enabled, None, None, "Snap moved nodes to the grid",
                             checkable=True)
        self.minimap_action = a("&Minimap", self.set_minimap_visible, None, None, "Show the minimap",
                                checkable=True)
        self.theme_group = QActionGroup(self)
        self.theme_actions: dict[str, QAction] = {}
        for theme in THEMES:
            action = QAction(f"{theme.capitalize()} theme", self, checkable=True)
            action.setData(theme)
            action.setChecked(theme == self.theme)
            action.triggered.connect(lambda _c=False, t=theme: self.apply_theme(t))
            self.theme_group.addAction(action)
            self.theme_actions[theme] = action
        self.grid_action.setChecked(self.settings.value("view/grid", True, type=bool))
        self.snap_action.setChecked(self.settings.value("view/snap", False, type=bool))
        self.minimap_action.setChecked(self.settings.value("view/minimap", True, type=bool))

    def _build_menus(self) -> None:
        bar = self.menuBar()
        self.file_menu = bar.addMenu("&File")
        self.file_menu.addActions([self.new_action, self.open_action])
        self.recent_menu = self.file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self._fill_recent_menu()
        self.file_menu.addSeparator()
        self.file_menu.addActions([self.save_action, self.save_as_action])
        self.file_menu.addSeparator()
        self.file_menu.addActions([self.export_action, self.export_png_action, self.export_svg_action])
        self.file_menu.addSeparator()
        self.file_menu.addAction(self.quit_action)

        self.edit_menu = bar.addMenu("&Edit")
        self.edit_menu.addActions([self.undo_action, self.redo_action])
        self.edit_menu.addSeparator()
        self.edit_menu.addActions([self.cut_action, self.copy_action, self.paste_action, self.duplicate_action,
                                   self.delete_action])
        self.edit_menu.addSeparator()
        self.edit_menu.addActions([self.select_all_action, self.find_action])

        self.view_menu = bar.addMenu("&View")
        self.view_menu.addActions([self.zoom_in_action, self.zoom_out_action, self.fit_action])
        self.view_menu.addSeparator()
        self.view_menu.addAction(self.layout_action)
        self.view_menu.addSeparator()
        self.view_menu.addActions([self.grid_action, self.snap_action, self.minimap_action])
        self.view_menu.addSeparator()
        self.view_menu.addActions(list(self.theme_actions.values()))
        self.view_menu.addSeparator()
        self.panels_menu = self.view_menu.addMenu("&Panels")
        for dock in (self.palette_dock, self.inspector_dock, self.problems_dock):
            self.panels_menu.addAction(dock.toggleViewAction())

        self.run_menu = QMenu("&Run", self)
        bar.addMenu(self.run_menu)

    def _build_toolbars(self) -> None:
        self.file_toolbar = QToolBar("File", self)
        self.file_toolbar.setObjectName("fileToolbar")
        self.file_toolbar.setIconSize(QSize(18, 18))
        self.file_toolbar.addActions([self.new_action, self.open_action, self.save_action])
        self.file_toolbar.addSeparator()
        self.file_toolbar.addActions([self.undo_action, self.redo_action, self.delete_action])
        self.file_toolbar.addSeparator()
        self.file_toolbar.addActions([self.zoom_in_action, self.zoom_out_action, self.fit_action,
                                      self.layout_action])
        self.file_toolbar.addSeparator()
        self.find_edit = QLineEdit()
        self.find_edit.setObjectName("findNode")
        self.find_edit.setPlaceholderText("Find node…")
        self.find_edit.setClearButtonEnabled(True)
        self.find_edit.setMaximumWidth(220)
        self.find_completer = QCompleter([], self.find_edit)
        self.find_completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.find_completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.find_edit.setCompleter(self.find_completer)
        self.find_edit.returnPressed.connect(lambda: self.find_node(self.find_edit.text()))
        self.file_toolbar.addWidget(self.find_edit)
        self.addToolBar(self.file_toolbar)
        self.run_toolbar = QToolBar("Run", self)
        self.run_toolbar.setObjectName("runToolbar")
        self.run_toolbar.setIconSize(QSize(18, 18))
        self.addToolBar(self.run_toolbar)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.file_label = QLabel()
        self.file_label.setObjectName("fileLabel")
        self.node_count_label = QLabel()
        self.problem_label = QLabel()
        self.zoom_label = QLabel()
        for label in (self.file_label, self.node_count_label, self.problem_label, self.zoom_label):
            label.setContentsMargins(8, 0, 8, 0)
            bar.addPermanentWidget(label)

    def _connect_document(self) -> None:
        doc = self.document
        doc.workflow_changed.connect(self._on_workflow_changed)
        doc.undo_stack.cleanChanged.connect(self._on_clean_changed)
        doc.reset.connect(self._on_reset)
        self.scene.selectionChanged.connect(self._on_selection_changed)
        self.inspector.set_document(doc)
        doc.routes_changed.connect(self._on_routes_changed)  # after the scene re-indexed its route items
        self.view.zoom_changed.connect(lambda _zoom: self._update_status())
        self.view.rename_requested.connect(self.start_rename)
        self.view.condition_edit_requested.connect(lambda _ref: self.edit_condition())

    # -- document state ------------------------------------------------------------------------------------
    @property
    def workflow(self) -> Workflow:
        return self.document.workflow

    @property
    def path(self) -> str | None:
        return self.document.path

    def is_dirty(self) -> bool:
        return not self.document.undo_stack.isClean()

    def _on_workflow_changed(self) -> None:
        self.validation_timer.start()
        self._update_title()
        self._update_status()

    def _on_clean_changed(self, clean: bool) -> None:
        self._update_title()
        if clean:
            self.autosaver.discard()

    def _on_reset(self) -> None:
        self.inspector.show_workflow()

    def _on_routes_changed(self) -> None:
        """Edge indexes shift when another edge is added or deleted: show the selected edge at its new index."""
        if self.scene.selected_routes():
            self._on_selection_changed()

    def _on_selection_changed(self) -> None:
        nodes, edges = self.selection()
        self.inspector.show_selection(nodes, edges)

    def _update_title(self) -> None:
        name = Path(self.path).name if self.path else "Untitled"
        dirty = self.is_dirty()
        self.setWindowTitle(f"{name}{'*' if dirty else ''} — TEA Studio")

    def _update_status(self) -> None:
        self.file_label.setText(Path(self.path).name if self.path else "Untitled (not saved)")
        self.file_label.setToolTip(self.path or "")
        count = len(self.workflow.nodes)
        self.node_count_label.setText(f"{count} node{'s' if count != 1 else ''}")
        self.zoom_label.setText(f"Zoom {round(self.zoom_factor() * 100)}%")
        names = [n for n in self.workflow.node_names if n]
        self.find_completer.model().setStringList(names)

    def zoom_factor(self) -> float:
        return float(self.view.zoom())

    def log_message(self, text: str, timeout_ms: int = 6000) -> None:
        """Show a short message in the status bar."""
        self.statusBar().showMessage(text, timeout_ms)

    # -- files -------------------------------------------------------------------------------------------------
    def maybe_save(self) -> bool:
        """Ask to save unsaved edits; False when the user cancels (or the save fails)."""
        if not self.is_dirty():
            return True
        choice = self.ask_save_changes()
        if choice == SAVE:
            return self.save()
        return choice == DISCARD

    def new_file(self) -> bool:
        if not self.maybe_save():
            return False
        self._set_workflow(Workflow())
        return True

    def open_file(self, path: str | os.PathLike | None = None) -> bool:
        if not self.maybe_save():
            return False
        path = path or self.ask_open_path()
        return bool(path) and self.load_file(path)

    def load_file(self, path: str | os.PathLike) -> bool:
        """Open a workflow file in this window (replacing the current one without asking); False on error."""
        path = str(Path(path).resolve())
        try:
            workflow = yaml_io.load_workflow(path)
        except yaml_io.WorkflowError as exc:
            self.show_error("Cannot open workflow", str(exc))
            return False
        except OSError as exc:
            self.show_error("Cannot open workflow", f"{path}: {exc.strerror or exc}")
            return False
        self._set_workflow(workflow)
        self._disk_text = self._read_disk(path)
        self.add_recent_file(path)
        self.log_message(f"Opened {Path(path).name}")
        return True

    def _set_workflow(self, workflow: Workflow) -> None:
        for watched in self.watcher.files():
            self.watcher.removePath(watched)
        self.document.replace_workflow(workflow)
        self.autosaver.discard()
        self._disk_text = None
        if workflow.path:
            self._watch(workflow.path)
        self._update_title()
        self._update_status()
        self.validate_now()
        self.fit_all()
        self.document_replaced.emit()

    def save(self) -> bool:
        """Save to the current file (asks for a name when there is none)."""
        if not self.path:
            return self.save_as()
        return self._write(self.path)

    def save_as(self, path: str | os.PathLike | None = None) -> bool:
        path = path or self.ask_save_path("Save workflow as", YAML_FILTER)
        if not path:
            return False
        path = str(Path(path).resolve())
        if not self._write(path):
            return False
        self.add_recent_file(path)
        return True

    def _write(self, path: str) -> bool:
        old_path = self.path
        try:
            self.document.path = path
            yaml_io.save_workflow(self.workflow, path)
        except OSError as exc:
            self.document.path = old_path
            self.show_error("Cannot save workflow", f"{path}: {exc.strerror or exc}")
            return False
        if old_path != path and old_path:
            self.watcher.removePath(old_path)
        self._disk_text = self._read_disk(path)
        self._watch(path)
        self.document.undo_stack.setClean()
        self.autosaver.discard()
        self._update_title()
        self._update_status()
        self.log_message(f"Saved {Path(path).name}")
        return True

    def export_headless(self, path: str | os.PathLike | None = None) -> bool:
        """Write the workflow without x-tea-studio (for `tea run`)."""
        path = path or self.ask_save_path("Export for headless", YAML_FILTER)
        if not path:
            return False
        try:
            Path(path).write_text(yaml_io.export_text(self.workflow), encoding="utf-8")
        except OSError as exc:
            self.show_error("Cannot export", f"{path}: {exc.strerror or exc}")
            return False
        self.log_message(f"Exported {path}")
        return True

    def render_scene_image(self, scale: float = 2.0) -> QImage:
        """The whole workflow rendered to an image (with the canvas background)."""
        rect = self._scene_rect()
        image = QImage((rect.size() * scale).toSize(), QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(self.scene.backgroundBrush().color() if self.scene.backgroundBrush().style() != Qt.BrushStyle.NoBrush
                   else QColor("#ffffff" if self.theme == "light" else "#1e1f22"))
        painter = QPainter(image)
        painter.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.scene.render(painter, QRectF(image.rect()), rect)
        painter.end()
        return image

    def _scene_rect(self) -> QRectF:
        rect = self.scene.itemsBoundingRect()
        if rect.isEmpty():
            rect = QRectF(0, 0, 400, 300)
        return rect.adjusted(-30, -30, 30, 30)

    def export_image(self, path: str | os.PathLike | None = None, fmt: str | None = None) -> bool:
        """Render the canvas to a PNG or SVG file (by ``fmt`` or the file's suffix)."""
        if path is None:
            fmt = fmt or "png"
            path = self.ask_save_path("Export image", f"{fmt.upper()} image (*.{fmt})")
            if not path:
                return False
            if not str(path).lower().endswith(f".{fmt}"):
                path = f"{path}.{fmt}"
        fmt = fmt or Path(path).suffix.lstrip(".").lower()
        selected = self.scene.selectedItems()
        for item in selected:
            item.setSelected(False)
        try:
            if fmt == "svg":
                ok = self._export_svg(str(path))
            else:
                ok = self.render_scene_image().save(str(path))
        finally:
            for item in selected:
                item.setSelected(True)
        if ok:
            self.log_message(f"Exported {path}")
        else:
            self.show_error("Cannot export image", f"Could not write {path}")
        return ok

    def _export_svg(self, path: str) -> bool:
        from PySide6.QtSvg import QSvgGenerator

        rect = self._scene_rect()
        generator = QSvgGenerator()
        generator.setFileName(path)
        generator.setSize(rect.size().toSize())
        generator.setViewBox(QRectF(0, 0, rect.width(), rect.height()))
        generator.setTitle(self.workflow.name or "TEA workflow")
        painter = QPainter()
        if not painter.begin(generator):
            return False
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.scene.render(painter, QRectF(0, 0, rect.width(), rect.height()), rect)
        painter.end()
        return Path(path).is_file()

    # -- recent files -------------------------------------------------------------------------------------------
    def recent_files(self) -> list[str]:
        return _as_list(self.settings.value("recentFiles"))

    def add_recent_file(self, path: str) -> None:
        files = [path] + [f for f in self.recent_files() if f != path]
        self.settings.setValue("recentFiles", files[:MAX_RECENT_FILES])
        self.settings.sync()

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        files = [f for f in self.recent_files() if Path(f).is_file()]
        for path in files:
            action = self.recent_menu.addAction(Path(path).name)
            action.setToolTip(path)
            action.setStatusTip(path)
            action.triggered.connect(lambda _c=False, p=path: self.open_file(p))
        if not files:
            self.recent_menu.addAction("(none)").setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear list", self._clear_recent)

    def _clear_recent(self) -> None:
        self.settings.setValue("recentFiles", [])

    # -- the file on disk ---------------------------------------------------------------------------------------
    @staticmethod
    def _read_disk(path: str) -> str | None:
        try:
            return Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def _watch(self, path: str) -> None:
        if path not in self.watcher.files() and Path(path).exists():
            self.watcher.addPath(path)

    def _file_changed(self, path: str) -> None:
        if path == self.path:
            self.disk_timer.start()

    def on_file_changed_on_disk(self) -> str:
        """The open file changed on disk: offer to reload; unsaved edits are kept unless the user says otherwise.

        Returns what happened: "reload", "keep", "unchanged" (our own save, or same text), "missing" or "none".
        """
        path = self.path
        if not path or self._checking_disk:
            return "none"
        self._checking_disk = True
        try:
            self._watch(path)  # an atomic replace drops the watch
            text = self._read_disk(path)
            if text is None:
                self.log_message(f"{path} was removed or cannot be read; save to write it again")
                self.document.undo_stack.resetClean()
                return "missing"
            if text == self._disk_text:
                return "unchanged"
            choice = self.ask_reload(self.is_dirty())
            if choice == RELOAD:
                self.load_file(path)
                return RELOAD
            # Keep the version in the window: it now differs from the file, so it counts as unsaved.
            self._disk_text = text
            self.document.undo_stack.resetClean()
            self._update_title()
            self.log_message("Kept your version; the file on disk differs until you save")
            return KEEP
        finally:
            self._checking_disk = False

    # -- recovery ---------------------------------------------------------------------------------------------
    def _recovery_snapshot(self) -> tuple[str, str | None]:
        return yaml_io.dump_workflow(self.workflow), self.path

    def offer_recoveries(self) -> list[str]:
        """Offer each recovery copy left by a crashed session; returns the choices made."""
        choices = []
        for found in recovery.find_recoveries():
            choice = self.ask_restore(found)
            choices.append(choice)
            if choice == RESTORE:
                if self.maybe_save() and self.restore_recovery(found):
                    found.discard()
                break
            if choice == DISCARD:
                found.discard()
        return choices

    def restore_recovery(self, found: recovery.Recovery) -> bool:
        """Show a recovery copy as an unsaved document for its original file."""
        try:
            workflow = yaml_io.load_workflow_text(found.text, path=found.original_path)
        except yaml_io.WorkflowError as exc:
            self.show_error("Cannot restore", str(exc))
            return False
        workflow.path = found.original_path
        self._set_workflow(workflow)
        if found.original_path:
            self._disk_text = self._read_disk(found.original_path)
        self.document.undo_stack.resetClean()
        self._update_title()
        self.autosaver.save_now()
        self.log_message(f"Restored unsaved edits of {found.title}")
        return True

    # -- validation ---------------------------------------------------------------------------------------------
    def validate_now(self) -> list:
        """Validate the workflow now: fill the problems dock and the node markers."""
        self.validation_timer.stop()
        from tea_studio.workflow.validation import validate

        problems = validate(self.workflow)
        self.validated = (self.document, self.document.revision, problems)
        self.problems.set_problems(problems)
        by_node: dict[str, list[tuple[str, str]]] = {}
        for problem in problems:
            if problem.node:
                by_node.setdefault(problem.node, []).append((problem.severity, problem.message))
        self.scene.set_problems(by_node)
        self.problems_by_node = by_node
        self.problem_label.setText(self.problems.summary())
        self.problems_dock.setWindowTitle(f"Problems ({len(problems)})" if problems else "Problems")
        errors = self.problems.counts()[0]
        running = self.run_tools is not None and self.run_tools.running
        if errors > self._error_count and not running:
            self.problems_dock.show()
            self.problems_dock.raise_()  # new errors come forward, except over a live run's timeline
        self._error_count = errors
        return problems

    def show_problem(self, problem) -> None:
        if problem.node and self.select_node(problem.node):
            return
        self.log_message(f"{problem.code}: {problem.message}")

    # -- selection and navigation -------------------------------------------------------------------------------
    def _node_item(self, name: str):
        return self.scene.node_item(name)

    def selection(self) -> tuple[list[str], list[int]]:
        """(selected node names, selected entries of ``edges`` by index)."""
        nodes = list(self.scene.selected_node_names())
        edges = []
        for ref in self.scene.selected_routes():
            if ref.edge_index is not None:
                edges.append(ref.edge_index)
            elif ref.node and not nodes:
                nodes.append(ref.node)  # a goto route: its rules are edited on the source node
        return nodes, sorted(set(edges))

    def select_node(self, name: str, centre: bool = True) -> bool:
        item = self._node_item(name)
        if item is None:
            return False
        self.scene.select_nodes([name])
        if centre:
            self.view.centerOn(item)
        return True

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
        self._on_selection_changed()
        self.inspector.focus_condition()

    def focus_find(self) -> None:
        self.find_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.find_edit.selectAll()

    def find_node(self, text: str) -> str | None:
        """Select and centre the node named ``text`` (or the first whose name contains it)."""
        text = text.strip()
        if not text:
            return None
        names = self.workflow.node_names
        lowered = text.lower()
        match = next((n for n in names if n == text), None) \
            or next((n for n in names if n.lower() == lowered), None) \
            or next((n for n in names if lowered in n.lower()), None)
        if match is None:
            self.log_message(f"No node matches '{text}'")
            return None
        self.select_node(match)
        self.view.setFocus()
        return match

    # -- editing -----------------------------------------------------------------------------------------------
    def add_node_at_centre(self, kind: str) -> str:
        """Add a palette node centred in the visible canvas and select it (one undo step)."""
        if kind not in CREATABLE_KINDS:
            raise ValueError(f"unknown node kind {kind!r}")
        return self.view.add_node_at(kind, self.view.mapToScene(self.view.viewport().rect().center()))

    def copy(self) -> bool:
        return self.scene.copy_selection() is not None

    def cut(self) -> None:
        self.scene.cut_selection()

    def paste(self) -> list[str]:
        return self.scene.paste()

    def duplicate(self) -> list[str]:
        return self.scene.duplicate_selection()

    def delete_selection(self) -> None:
        self.scene.delete_selection()

    def select_all(self) -> None:
        self.scene.select_all()

    # -- view --------------------------------------------------------------------------------------------------
    def zoom_in(self) -> None:
        self.view.set_zoom(min(ZOOM_RANGE[1], self.view.zoom() * ZOOM_STEP))

    def zoom_out(self) -> None:
        self.view.set_zoom(max(ZOOM_RANGE[0], self.view.zoom() / ZOOM_STEP))

    def fit_all(self) -> None:
        """Show the whole workflow."""
        self.view.fit_all()
        self._update_status()

    def fit_selection(self) -> None:
        """Show the selected nodes (everything when nothing is selected)."""
        self.view.fit_selection()
        self._update_status()

    def auto_layout(self) -> None:
        self.view.auto_layout()
        self._update_status()

    def set_grid_visible(self, visible: bool) -> None:
        self.settings.setValue("view/grid", bool(visible))
        self.view.set_grid_visible(bool(visible))

    def set_snap_enabled(self, enabled: bool) -> None:
        self.settings.setValue("view/snap", bool(enabled))
        self.view.set_snap(bool(enabled))

    def set_minimap_visible(self, visible: bool) -> None:
        self.settings.setValue("view/minimap", bool(visible))
        self.view.set_minimap_visible(bool(visible))

    # -- theme and window state ---------------------------------------------------------------------------------
    def _initial_theme(self) -> str:
        theme = os.environ.get("TEA_STUDIO_THEME") or self.settings.value("theme", "light")
        return theme if theme in THEMES else "light"

    def apply_theme(self, theme: str, persist: bool = True) -> None:
        """Switch the light/dark theme of the whole app (and remember it unless ``persist`` is False)."""
        from tea_studio.studio.app import apply_theme

        if theme not in THEMES:
            raise ValueError(f"unknown theme {theme!r}")
        self.theme = theme
        apply_theme(QApplication.instance(), theme)
        self.scene.set_theme(theme)
        self.theme_actions[theme].setChecked(True)
        if persist:
            self.settings.setValue("theme", theme)
            self.settings.sync()

    def _apply_view_toggles(self) -> None:
        self.set_grid_visible(self.grid_action.isChecked())
        self.set_snap_enabled(self.snap_action.isChecked())
        self.set_minimap_visible(self.minimap_action.isChecked())

    def _restore_window_state(self) -> bool:
        """Restore the saved size and dock layout; a layout saved by another layout version is ignored."""
        geometry = self.settings.value("window/geometry")
        state = self.settings.value("window/state")
        if geometry is not None:
            self.restoreGeometry(geometry)
        restored = state is not None and self.restoreState(state, WINDOW_STATE_VERSION)
        if restored:
            QTimer.singleShot(0, self.hide_stray_tab_bars)
        return restored

    def save_window_state(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState(WINDOW_STATE_VERSION))
        self.settings.sync()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._apply_view_toggles()
        QTimer.singleShot(0, self.hide_stray_tab_bars)

    def closeEvent(self, event) -> None:
        if not self.maybe_save():
            event.ignore()
            return
        self.autosaver.stop()
        self.save_window_state()
        event.accept()

    # -- default prompts ---------------------------------------------------------------------------------------
    @staticmethod
    def _nobody_to_ask(question: str, answer: str) -> str | None:
        """On a display nobody sees (offscreen), a modal question would wait forever: answer it safely instead."""
        if QGuiApplication.platformName() not in HEADLESS_PLATFORMS:
            return None
        print(f"tea-studio: no display to ask '{question}'; answering '{answer}'", file=sys.stderr)
        return answer

    def _ask_save_changes(self) -> str:
        headless = self._nobody_to_ask("save changes?", CANCEL)  # keep the edits: never discard unasked
        if headless is not None:
            return headless
        name = Path(self.path).name if self.path else "Untitled"
        buttons = QMessageBox.StandardButton
        answer = QMessageBox.warning(self, "Unsaved changes", f"Save the changes to {name} before closing?",
                                     buttons.Save | buttons.Discard | buttons.Cancel, buttons.Save)
        return {buttons.Save: SAVE, buttons.Discard: DISCARD}.get(answer, CANCEL)

    def _ask_reload(self, dirty: bool) -> str:
        headless = self._nobody_to_ask("reload the changed file?", KEEP)
        if headless is not None:
            return headless
        name = Path(self.path).name if self.path else "the file"
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("File changed on disk")
        if dirty:
            box.setText(f"{name} was changed by another program, and you have unsaved edits here.")
            box.setInformativeText("Keep your edits (saving will overwrite the file), or reload and lose them?")
            keep = box.addButton("Keep my edits", QMessageBox.ButtonRole.RejectRole)
            reload = box.addButton("Reload and discard my edits", QMessageBox.ButtonRole.DestructiveRole)
        else:
            box.setText(f"{name} was changed by another program. Reload it?")
            reload = box.addButton("Reload", QMessageBox.ButtonRole.AcceptRole)
            keep = box.addButton("Keep this version", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(keep)
        box.exec()
        return RELOAD if box.clickedButton() is reload else KEEP

    def _ask_restore(self, found: recovery.Recovery) -> str:
        headless = self._nobody_to_ask("restore unsaved work?", LATER)
        if headless is not None:
            return headless
        import datetime

        when = datetime.datetime.fromtimestamp(found.saved_at).strftime("%Y-%m-%d %H:%M")
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Recover unsaved work")
        box.setText(f"TEA Studio did not close normally. Unsaved edits of {found.title} from {when} were kept.")
        box.setInformativeText(found.original_path or "The workflow was never saved.")
        restore = box.addButton("Restore", QMessageBox.ButtonRole.AcceptRole)
        discard = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton("Ask later", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(restore)
        box.exec()
        clicked = box.clickedButton()
        return RESTORE if clicked is restore else DISCARD if clicked is discard else LATER

    def _ask_open_path(self) -> str | None:
        if self._nobody_to_ask("which file to open?", "none") is not None:
            return None
        start = str(Path(self.path).parent) if self.path else str(Path.cwd())
        path, _ = QFileDialog.getOpenFileName(self, "Open workflow", start, YAML_FILTER)
        return path or None

    def _ask_save_path(self, title: str, filters: str) -> str | None:
        if self._nobody_to_ask(f"{title}: which file?", "none") is not None:
            return None
        start = self.path or str(Path.cwd() / "workflow.yaml")
        path, _ = QFileDialog.getSaveFileName(self, title, start, filters)
        return path or None

    def _show_error(self, title: str, message: str) -> None:
        self.log_message(message)
        if self._nobody_to_ask(f"{title}: {message}", "ok") is None:
            QMessageBox.critical(self, title, message)
