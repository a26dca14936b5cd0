"""Pinning a node's output: runs then use it instead of running the node (a paid LLM call, a database).

The output comes from a past run's execution of the node, or is typed as JSON. Pins are stored in the file's
``x-tea-studio`` block (never exported) through the document, so pinning is one undo step.
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from tea_studio.studio.canvas.theme import current_theme
from tea_studio.workflow.inputs import InputError, parse_inputs


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
    """Edits a JSON object (a run's inputs, a state to start a run with, a pinned output); OK only while the text
    is one. The text is read by :func:`~tea_studio.workflow.inputs.parse_inputs`, the contract of ``--input``
    (blank is ``{}``; NaN and runaway nesting are refused), so every entry point accepts the same objects.
    ``source`` is the JSON text to start from, else ``value`` is shown as JSON."""

    def __init__(self, title: str, text: str, value: Any, what: str, parent: QWidget | None = None,
                 name: str = "jsonObject", *, source: str | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(f"{name}Dialog")
        self.setWindowTitle(title)
        self.what = what
        layout = QVBoxLayout(self)
        label = QLabel(text)
        label.setWordWrap(True)
        layout.addWidget(label)
        if source is None:
            source = json.dumps(value if value is not None else {}, indent=2, ensure_ascii=False, default=repr)
        self.editor = QPlainTextEdit(source)
        self.editor.setObjectName(f"{name}Editor")
        self.editor.setTabChangesFocus(True)
        font = self.editor.font()
        font.setStyleHint(font.StyleHint.Monospace)
        font.setFamily("monospace")
        self.editor.setFont(font)
        layout.addWidget(self.editor, 1)
        self.error = QLabel("")
        self.error.setObjectName(f"{name}Error")
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {current_theme().error.name()}")
        layout.addWidget(self.error)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.editor.textChanged.connect(self._check)
        self.resize(520, 360)
        self._check()

    def text(self) -> str:
        return self.editor.toPlainText()

    def _parse(self) -> tuple[dict | None, str]:
        try:
            return parse_inputs(self.text(), where=self.what, files=False), ""
        except InputError as exc:
            message = str(exc)
            return None, message[:1].upper() + message[1:]

    def value(self) -> dict | None:
        return self._parse()[0]

    def _check(self) -> None:
        message = self._parse()[1]
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
