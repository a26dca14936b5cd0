"""Every question the studio asks the user, in one object handed to whoever needs to ask.

:class:`Prompts` shows the dialogs. On a display nobody sees (offscreen) a modal question would wait forever, so
it answers safely instead and says so on stderr: keep the edits, never discard unasked. :class:`AnsweredPrompts`
answers from a table and records what was asked: tests and ``--screenshot`` pass one to the window instead of
patching methods.
"""

from __future__ import annotations

import datetime
import sys
from pathlib import Path

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox, QWidget

# Answers of the questions with more than two outcomes.
SAVE, DISCARD, CANCEL = "save", "discard", "cancel"
RELOAD, KEEP = "reload", "keep"
RESTORE, LATER = "restore", "later"
HEADLESS_PLATFORMS = ("offscreen", "minimal")
YAML_FILTER = "TEA workflows (*.yaml *.yml);;All files (*)"


def _file_name(path: str | None, untitled: str) -> str:
    return Path(path).name if path else untitled


class Prompts:
    """The studio's questions and messages, shown as dialogs over ``parent``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        self.parent = parent

    @staticmethod
    def _nobody_to_ask(question: str, answer: str) -> str | None:
        """The safe answer when no one can see a dialog (offscreen platforms), else None."""
        if QGuiApplication.platformName() not in HEADLESS_PLATFORMS:
            return None
        print(f"tea-studio: no display to ask '{question}'; answering '{answer}'", file=sys.stderr)
        return answer

    def save_changes(self, path: str | None) -> str:
        """Save, discard or cancel before the document is closed or replaced."""
        headless = self._nobody_to_ask("save changes?", CANCEL)
        if headless is not None:
            return headless
        buttons = QMessageBox.StandardButton
        answer = QMessageBox.warning(self.parent, "Unsaved changes",
                                     f"Save the changes to {_file_name(path, 'Untitled')} before closing?",
                                     buttons.Save | buttons.Discard | buttons.Cancel, buttons.Save)
        return {buttons.Save: SAVE, buttons.Discard: DISCARD}.get(answer, CANCEL)

    def reload(self, path: str | None, dirty: bool) -> str:
        """The open file changed on disk: reload it or keep the version in the window."""
        headless = self._nobody_to_ask("reload the changed file?", KEEP)
        if headless is not None:
            return headless
        name = _file_name(path, "the file")
        box = QMessageBox(self.parent)
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

    def restore(self, found) -> str:
        """A recovery copy of a session that did not close normally: restore, discard or ask later."""
        headless = self._nobody_to_ask("restore unsaved work?", LATER)
        if headless is not None:
            return headless
        when = datetime.datetime.fromtimestamp(found.saved_at).strftime("%Y-%m-%d %H:%M")
        box = QMessageBox(self.parent)
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

    def open_path(self, start: str) -> str | None:
        """The workflow file to open (None when cancelled)."""
        if self._nobody_to_ask("which file to open?", "none") is not None:
            return None
        path, _ = QFileDialog.getOpenFileName(self.parent, "Open workflow", start, YAML_FILTER)
        return path or None

    def save_path(self, title: str, start: str, filters: str) -> str | None:
        """The file to write (None when cancelled)."""
        if self._nobody_to_ask(f"{title}: which file?", "none") is not None:
            return None
        path, _ = QFileDialog.getSaveFileName(self.parent, title, start, filters)
        return path or None

    def trust(self, path: str | None, names: list[str]) -> bool:
        """Whether to run the file's (unsandboxed) Python nodes."""
        if self._nobody_to_ask("trust this file's Python code?", "no") is not None:
            return False
        shown = ", ".join(names[:8]) + (" …" if len(names) > 8 else "")
        answer = QMessageBox.question(
            self.parent, "Trust this file?",
            f"{_file_name(path, 'This workflow')} contains Python code or actions ({shown}).\n\n"
            "Python nodes and actions (LLM, HTTP, files, shell) run with your permissions. Run them only if you trust "
            "where this file comes from.\n\nTrust it and run?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def inputs(self, path: str | None, text: str) -> tuple[dict, str] | None:
        """The run's inputs as (value, JSON text) from the inputs dialog; None when cancelled."""
        if self._nobody_to_ask("run inputs?", "cancel") is not None:
            return None
        from tea_studio.studio.run_inputs import InputDialog

        dialog = InputDialog(_file_name(path, "workflow"), text, self.parent)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        inputs = dialog.inputs()
        return (inputs, dialog.text()) if inputs is not None else None

    def pin_output(self, name: str, output: dict | None, source: str) -> dict | None:
        """The output (a JSON object) to pin on node ``name``, edited from ``output``; None when cancelled."""
        if self._nobody_to_ask(f"pin the output of {name}?", "cancel") is not None:
            return None
        from tea_studio.studio.pins import PinDialog

        dialog = PinDialog(name, output, source, self.parent)
        return dialog.output() if dialog.exec() == QDialog.DialogCode.Accepted else None

    def start_state(self, node: str, state: dict, mode: str) -> dict | None:
        """The state (a JSON object) to start node ``node`` with, edited from ``state``; None when cancelled.
        ``mode`` is engine.start's FROM_NODE (run from the node on) or ONLY_NODE (the node alone)."""
        if self._nobody_to_ask(f"the state to start {node} with?", "cancel") is not None:
            return None
        from tea_studio.studio.pins import JsonObjectDialog

        alone = mode == "node"
        dialog = JsonObjectDialog(f"{'Re-run' if alone else 'Run from'} {node}",
                                  f"{'Runs <b>' + node + '</b> alone' if alone else 'Runs from <b>' + node + '</b> on'}"
                                  " with this state (the one it had in the run shown; edit it freely). The run is "
                                  "listed in the history under the run it came from.", state, "the state",
                                  self.parent)
        return dialog.value() if dialog.exec() == QDialog.DialogCode.Accepted else None

    def preferences(self, current):
        """The run preferences (studio.preferences.RunPreferences) edited from ``current``; None when cancelled."""
        if self._nobody_to_ask("preferences?", "cancel") is not None:
            return None
        from tea_studio.studio.preferences import PreferencesDialog

        dialog = PreferencesDialog(current, self.parent)
        return dialog.preferences() if dialog.exec() == QDialog.DialogCode.Accepted else None

    def error(self, title: str, message: str) -> None:
        """Something the user asked for failed."""
        if self._nobody_to_ask(f"{title}: {message}", "ok") is None:
            QMessageBox.critical(self.parent, title, message)

    def warning(self, title: str, message: str) -> None:
        """Something cannot be done now (e.g. a run blocked by validation errors)."""
        if self._nobody_to_ask(f"{title}: {message}", "ok") is None:
            QMessageBox.warning(self.parent, title, message)


class AnsweredPrompts(Prompts):
    """Answers every question from ``answers`` and records it in ``asked``; errors and warnings go to ``shown``.

    ``answers`` keys are the question names (``save_changes``, ``reload``, ``restore``, ``open_path``,
    ``save_path``, ``trust``, ``inputs``, ``pin_output``, ``start_state``, ``preferences``); a value may be a function of the question's arguments. With ``echo``
    the messages are also printed to stderr (``--screenshot`` does this).
    """

    DEFAULTS = {"save_changes": CANCEL, "reload": KEEP, "restore": LATER, "open_path": None, "save_path": None,
                "trust": False, "inputs": None, "pin_output": None, "start_state": None,
                "preferences": None}

    def __init__(self, echo: bool = False, **answers) -> None:
        super().__init__(None)
        self.answers = {**self.DEFAULTS, **answers}
        self.asked: list = []
        self.shown: list[tuple[str, str]] = []
        self.echo = echo

    def _answer(self, question: str, *args):
        self.asked.append((question, *args) if args else question)
        answer = self.answers[question]
        return answer(*args) if callable(answer) else answer

    def save_changes(self, path):
        return self._answer("save_changes")

    def reload(self, path, dirty):
        return self._answer("reload", dirty)

    def restore(self, found):
        return self._answer("restore", found)

    def open_path(self, start):
        return self._answer("open_path")

    def save_path(self, title, start, filters):
        return self._answer("save_path", title)

    def trust(self, path, names):
        return self._answer("trust", names)

    def inputs(self, path, text):
        return self._answer("inputs", path, text)

    def pin_output(self, name, output, source):
        return self._answer("pin_output", name, output)

    def start_state(self, node, state, mode):
        return self._answer("start_state", node, state, mode)

    def preferences(self, current):
        return self._answer("preferences", current)

    def error(self, title, message):
        self._show(title, message)

    def warning(self, title, message):
        self._show(title, message)

    def _show(self, title: str, message: str) -> None:
        self.shown.append((title, message))
        if self.echo:
            print(f"tea-studio: {title}: {message}", file=sys.stderr)
