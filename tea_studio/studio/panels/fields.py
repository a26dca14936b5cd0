"""Small form fields of the inspector: text areas committed on focus-out, YAML fields that check what they hold,
and node pickers."""

from __future__ import annotations

from typing import Any

import yaml
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QLabel, QPlainTextEdit


def error_label() -> QLabel:
    """The red message shown under a field whose text cannot be used."""
    label = QLabel()
    label.setObjectName("fieldError")
    label.setWordWrap(True)
    label.hide()
    return label


def yaml_text(value: Any) -> str:
    """``value`` as block YAML for a text field ("" for None)."""
    if value is None:
        return ""
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, default_flow_style=False).rstrip("\n")


def parse_scalar(text: str) -> Any:
    """A YAML scalar typed in a line edit ("" -> None, "false" -> False, otherwise the text's YAML value)."""
    text = text.strip()
    if not text:
        return None
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, bool | int | float | str) else text


class TextField(QPlainTextEdit):
    """A small text area committed on focus-out (or Ctrl+Enter): ``committed(value)`` when the text changed."""

    committed = Signal(object)

    def __init__(self, placeholder: str, parent=None):
        super().__init__(parent)
        self.setPlaceholderText(placeholder)
        self.setFixedHeight(84)
        self.setTabChangesFocus(True)
        self.error = error_label()
        self._shown = ""

    def format_value(self, value: Any) -> str:
        return "" if value is None else str(value)

    def parse(self, text: str) -> Any:
        """The value of ``text``; raises ValueError with a message when it is not acceptable."""
        return text.strip() or None

    def show_value(self, value: Any) -> None:
        text = self.format_value(value)
        self._shown = text
        if text != self.toPlainText():
            self.setPlainText(text)
        self.error.hide()

    def commit(self) -> bool:
        """Emit ``committed`` if the text changed; False (and a message under the field) when it does not parse."""
        text = self.toPlainText()
        if text == self._shown:
            return True
        try:
            value = self.parse(text)
        except ValueError as exc:
            self.error.setText(str(exc))
            self.error.show()
            return False
        self.error.hide()
        self._shown = text
        self.committed.emit(value)
        return True

    def focusOutEvent(self, event) -> None:
        self.commit()
        super().focusOutEvent(event)

    def keyPressEvent(self, event) -> None:
        if (event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
                and event.modifiers() & Qt.KeyboardModifier.ControlModifier):
            self.commit()
            return
        super().keyPressEvent(event)


def refers_to_itself(value: Any, _inside: frozenset[int] = frozenset()) -> bool:
    """Whether a loaded YAML value contains itself (an alias to an enclosing anchor): it cannot be written out."""
    if not isinstance(value, dict | list):
        return False
    if id(value) in _inside:
        return True
    inside = _inside | {id(value)}
    items = value.values() if isinstance(value, dict) else value
    return any(refers_to_itself(item, inside) for item in items)


class YamlField(TextField):
    """A TextField holding YAML (variables, state_schema, action arguments); ``mapping=True`` accepts only a
    mapping (or nothing)."""

    def __init__(self, placeholder: str, parent=None, *, mapping: bool = False):
        super().__init__(placeholder, parent)
        self.mapping = mapping

    def format_value(self, value: Any) -> str:
        return yaml_text(value)

    def parse(self, text: str) -> Any:
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError as exc:
            raise ValueError(f"Not valid YAML: {exc}") from exc
        if self.mapping and value is not None and not isinstance(value, dict):
            raise ValueError("This must be a mapping of names to values (name: value lines).")
        if refers_to_itself(value):
            raise ValueError("The value refers to itself (an alias inside its own anchor) and cannot be saved.")
        return value


def node_combo(names: list[str], current: str | None, allow_none: bool = False) -> QComboBox:
    combo = QComboBox()
    items = ([""] if allow_none else []) + names
    if current is not None and current not in items:
        items.append(current)  # an undefined target stays visible (validation reports it)
    combo.addItems(items)
    combo.setCurrentText(current or "")
    return combo
