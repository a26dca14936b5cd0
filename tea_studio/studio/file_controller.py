"""The open file: new, open, save, save as, export, recent files, changes on disk and crash recovery.

``FileController`` works on the document it is given and asks its questions through ``prompts``. A failed save
or export shows a message and changes nothing: the document stays dirty, under its old path.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QObject, QSettings, QTimer, Signal

from tea_studio.studio import recovery
from tea_studio.studio.image_export import export_scene_image
from tea_studio.studio.prompts import DISCARD, KEEP, RELOAD, RESTORE, SAVE, YAML_FILTER, Prompts
from tea_studio.workflow import yaml_io
from tea_studio.workflow.files import write_atomic
from tea_studio.workflow.model import Workflow

MAX_RECENT_FILES = 10
DISK_CHECK_DELAY_MS = 200


def _as_list(value) -> list[str]:
    """A QSettings list value (an ini file gives a str for one item and None for none)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value]


def _read_disk(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _failure(path: str, exc: Exception) -> str:
    if isinstance(exc, OSError):
        return f"{path}: {exc.strerror or exc}"
    return str(exc) or type(exc).__name__


class FileController(QObject):
    """Files of one document: ``replaced`` after another workflow was opened (or restored, or new),
    ``saved(path)`` after a save, ``message(text)`` for the status bar."""

    replaced = Signal()
    saved = Signal(str)
    message = Signal(str)

    def __init__(self, document, scene, prompts: Prompts, settings: QSettings, autosaver: recovery.Autosaver,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.scene = scene
        self.prompts = prompts
        self.settings = settings
        self.autosaver = autosaver
        self._disk_text: str | None = None
        self._checking_disk = False
        self.watcher = QFileSystemWatcher(self)
        self.watcher.fileChanged.connect(self._file_changed)
        self.disk_timer = QTimer(self)
        self.disk_timer.setSingleShot(True)
        self.disk_timer.setInterval(DISK_CHECK_DELAY_MS)
        self.disk_timer.timeout.connect(self.on_file_changed_on_disk)

    @property
    def path(self) -> str | None:
        return self.document.path

    def is_dirty(self) -> bool:
        return not self.document.undo_stack.isClean()

    # -- opening --------------------------------------------------------------------------------------------
    def maybe_save(self) -> bool:
        """Ask to save unsaved edits; False when the user cancels (or the save fails)."""
        if not self.is_dirty():
            return True
        choice = self.prompts.save_changes(self.path)
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
        path = path or self.prompts.open_path(str(Path(self.path).parent) if self.path else str(Path.cwd()))
        return bool(path) and self.load_file(path)

    def load_file(self, path: str | os.PathLike) -> bool:
        """Open a workflow file (replacing the current one without asking); False on error."""
        path = str(Path(path).resolve())
        try:
            workflow = yaml_io.load_workflow(path)
        except (yaml_io.WorkflowError, OSError) as exc:
            self.prompts.error("Cannot open workflow", _failure(path, exc))
            return False
        self._set_workflow(workflow)
        self._disk_text = _read_disk(path)
        self.add_recent_file(path)
        self.message.emit(f"Opened {Path(path).name}")
        return True

    def _set_workflow(self, workflow: Workflow) -> None:
        for watched in self.watcher.files():
            self.watcher.removePath(watched)
        self.document.replace_workflow(workflow)
        self.autosaver.discard()
        self._disk_text = None
        if workflow.path:
            self._watch(workflow.path)
        self.replaced.emit()

    # -- saving ---------------------------------------------------------------------------------------------
    def save(self) -> bool:
        """Save to the current file (asks for a name when there is none)."""
        if not self.path:
            return self.save_as()
        return self._write(self.path)

    def save_as(self, path: str | os.PathLike | None = None) -> bool:
        path = path or self.prompts.save_path("Save workflow as", self.path or str(Path.cwd() / "workflow.yaml"),
                                              YAML_FILTER)
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
            yaml_io.save_workflow(self.document.workflow, path)
        except Exception as exc:  # noqa: BLE001 - any failure: say so, keep the edits and the old path
            self.document.path = old_path
            self.prompts.error("Cannot save workflow", _failure(path, exc))
            return False
        if old_path != path and old_path:
            self.watcher.removePath(old_path)
        self._disk_text = _read_disk(path)
        self._watch(path)
        self.document.undo_stack.setClean()
        self.autosaver.discard()
        self.saved.emit(path)
        self.message.emit(f"Saved {Path(path).name}")
        return True

    def export_headless(self, path: str | os.PathLike | None = None) -> bool:
        """Write the workflow without x-tea-studio (for `tea run`)."""
        path = path or self.prompts.save_path("Export for headless", self.path or str(Path.cwd()), YAML_FILTER)
        if not path:
            return False
        try:
            write_atomic(path, yaml_io.export_text(self.document.workflow))
        except Exception as exc:  # noqa: BLE001 - any failure is shown
            self.prompts.error("Cannot export", _failure(str(path), exc))
            return False
        self.message.emit(f"Exported {path}")
        return True

    def export_image(self, path: str | os.PathLike | None = None, fmt: str | None = None) -> bool:
        """Render the canvas to a PNG or SVG file (by ``fmt`` or the file's suffix)."""
        if path is None:
            fmt = fmt or "png"
            start = str(Path(self.path).with_suffix(f".{fmt}")) if self.path else str(Path.cwd())
            path = self.prompts.save_path("Export image", start, f"{fmt.upper()} image (*.{fmt})")
            if not path:
                return False
            if not str(path).lower().endswith(f".{fmt}"):
                path = f"{path}.{fmt}"
        fmt = fmt or Path(path).suffix.lstrip(".").lower()
        try:
            ok = export_scene_image(self.scene, str(path), fmt, self.document.workflow.name)
        except OSError as exc:
            self.prompts.error("Cannot export image", _failure(str(path), exc))
            return False
        if not ok:
            self.prompts.error("Cannot export image", f"Could not write {path}")
            return False
        self.message.emit(f"Exported {path}")
        return True

    # -- recent files ---------------------------------------------------------------------------------------
    def recent_files(self) -> list[str]:
        return _as_list(self.settings.value("recentFiles"))

    def add_recent_file(self, path: str) -> None:
        files = [path] + [f for f in self.recent_files() if f != path]
        self.settings.setValue("recentFiles", files[:MAX_RECENT_FILES])
        self.settings.sync()

    def clear_recent_files(self) -> None:
        self.settings.setValue("recentFiles", [])

    # -- the file on disk -----------------------------------------------------------------------------------
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
            text = _read_disk(path)
            if text is None:
                self.message.emit(f"{path} was removed or cannot be read; save to write it again")
                self.document.undo_stack.resetClean()
                return "missing"
            if text == self._disk_text:
                return "unchanged"
            if self.prompts.reload(path, self.is_dirty()) == RELOAD:
                self.load_file(path)
                return RELOAD
            # Keep the version in the window: it now differs from the file, so it counts as unsaved.
            self._disk_text = text
            self.document.undo_stack.resetClean()
            self.message.emit("Kept your version; the file on disk differs until you save")
            return KEEP
        finally:
            self._checking_disk = False

    # -- recovery -------------------------------------------------------------------------------------------
    def offer_recoveries(self) -> list[str]:
        """Offer each recovery copy left by a crashed session; returns the choices made."""
        choices = []
        for found in recovery.find_recoveries():
            choice = self.prompts.restore(found)
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
            self.prompts.error("Cannot restore", str(exc))
            return False
        workflow.path = found.original_path
        self._set_workflow(workflow)
        if found.original_path:
            self._disk_text = _read_disk(found.original_path)
        self.document.undo_stack.resetClean()
        self.autosaver.save_now()
        self.message.emit(f"Restored unsaved edits of {found.title}")
        return True

