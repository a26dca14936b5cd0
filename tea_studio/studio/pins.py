"""Pinning a node's output: runs then use it instead of running the node (a paid LLM call, a database).

The output comes from a past run's execution of the node, or is typed as JSON. Pins are stored in the file's
``x-tea-studio`` block (never exported) through the document, so pinning is one undo step.
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QVBoxLayout, QWidget


def execution_output(model: Any, execution: Any) -> dict | None:
    """The update a finished execution made (what pinning it replays), or None when it recorded none."""
    if model is None or execution is None or not execution.ok:
        return None
    event = model.event(execution.event_index)
    update = getattr(event, "update", None)
    return dict(update) if isinstance(update, dict) else None


def last_output(model: Any, name: str) -> dict | None:
    """The update of the node's last successful execution in ``model`` (a RunModel), if any."""
    if model is None:
        return None
    done = [x for x in model.executions_of(name) if x.ok and x.event_index is not None]
    return execution_output(model, done[-1]) if done else None


class PinDialog(QDialog):
    """Edits the JSON object a node's runs will use as its output; OK only while the text is a JSON object."""

    def __init__(self, name: str, output: Any, source: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("pinDialog")
        self.setWindowTitle(f"Pin output of {name}")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"Runs use this update instead of running <b>{name}</b> ({source}). "
                                "It is saved in the file's studio block and never exported."))
        self.editor = QPlainTextEdit(json.dumps(output if output is not None else {}, indent=2, ensure_ascii=False))
        self.editor.setObjectName("pinEditor")
        layout.addWidget(self.editor)
        self.error = QLabel("")
        self.error.setObjectName("pinError")
        layout.addWidget(self.error)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.editor.textChanged.connect(self._check)
        self.resize(520, 360)
        self._check()

    def output(self) -> dict | None:
        try:
            value = json.loads(self.editor.toPlainText())
        except json.JSONDecodeError:
            return None
        return value if isinstance(value, dict) else None

    def _check(self) -> None:
        try:
            value = json.loads(self.editor.toPlainText())
            message = "" if isinstance(value, dict) else "the output must be a JSON object (the node's update)"
        except json.JSONDecodeError as exc:
            message = f"not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        self.error.setText(message)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not message)


def ask_pin(window: Any, name: str, output: dict | None = None) -> bool:
    """Open the pin dialog for node ``name`` (prefilled with ``output``, else its last run's update) and pin
    what the user confirms. Returns whether a pin was set."""
    source = "from a run"
    if output is None:
        model = getattr(getattr(window, "run_tools", None), "model", None)
        output = last_output(model, name)
        source = "its last run's output" if output is not None else "typed"
    dialog = PinDialog(name, output, source, window)
    if dialog.exec() != QDialog.DialogCode.Accepted or dialog.output() is None:
        return False
    window.document.set_pin(name, dialog.output())
    return True
