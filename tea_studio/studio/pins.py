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


class JsonObjectDialog(QDialog):
    """Edits a JSON object (a pinned output, a state to start a run with); OK only while the text is one."""

    def __init__(self, title: str, text: str, value: Any, what: str, parent: QWidget | None = None,
                 name: str = "jsonObject") -> None:
        super().__init__(parent)
        self.setObjectName(f"{name}Dialog")
        self.setWindowTitle(title)
        self.what = what
        layout = QVBoxLayout(self)
        label = QLabel(text)
        label.setWordWrap(True)
        layout.addWidget(label)
        self.editor = QPlainTextEdit(json.dumps(value if value is not None else {}, indent=2, ensure_ascii=False,
                                                default=repr))
        self.editor.setObjectName(f"{name}Editor")
        layout.addWidget(self.editor)
        self.error = QLabel("")
        self.error.setObjectName(f"{name}Error")
        layout.addWidget(self.error)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.editor.textChanged.connect(self._check)
        self.resize(520, 360)
        self._check()

    def value(self) -> dict | None:
        try:
            value = json.loads(self.editor.toPlainText())
        except json.JSONDecodeError:
            return None
        return value if isinstance(value, dict) else None

    def _check(self) -> None:
        try:
            value = json.loads(self.editor.toPlainText())
            message = "" if isinstance(value, dict) else f"{self.what} must be a JSON object"
        except json.JSONDecodeError as exc:
            message = f"not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        self.error.setText(message)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not message)


class PinDialog(JsonObjectDialog):
    """Edits the JSON object a node's runs will use as its output."""

    def __init__(self, name: str, output: Any, source: str, parent: QWidget | None = None) -> None:
        super().__init__(f"Pin output of {name}",
                         f"Runs use this update instead of running <b>{name}</b> ({source}). "
                         "It is saved in the file's studio block and never exported.", output,
                         "the output (the node's update)", parent, name="pin")

    def output(self) -> dict | None:
        return self.value()


def ask_pin(document, prompts, model: Any, name: str, output: dict | None = None) -> bool:
    """Ask (``prompts.pin_output``, the pin dialog) for the output of node ``name``, prefilled with ``output``,
    else its last update in ``model`` (the shown run); pin what the user confirms. Returns whether a pin was set."""
    source = "from a run"
    if output is None:
        output = last_output(model, name)
        source = "its last run's output" if output is not None else "typed"
    pinned = prompts.pin_output(name, output, source)
    if pinned is None:
        return False
    document.set_pin(name, pinned)
    return True
