"""The form of an action node: one field per parameter of the action's schema (name, required mark, description
as tooltip). Editing a field changes that key of ``with:``; keys the schema does not declare stay as written (the
raw YAML field below the form shows and edits everything)."""

from __future__ import annotations

import copy
from typing import Any

import yaml
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFormLayout, QLabel, QLineEdit, QWidget

from tea_studio.workflow.action_schemas import action_schema


def field_text(value: Any) -> str:
    """A parameter value as one line: text as it is, anything else as YAML flow (``[a, b]``, ``{k: v}``)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, allow_unicode=True, width=10**6)
    return text.strip().removesuffix("...").strip()  # a bare scalar ends with the document end marker


def field_value(text: str, kind: str) -> Any:
    """The value typed for a parameter of type ``kind``: strings stay text; other types read as YAML (text that
    does not parse, e.g. a template, stays text)."""
    if not text.strip():
        return None
    if kind == "string":
        return text
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


class ActionForm(QWidget):
    """Emits ``params_edited(new with: mapping)`` when a field is edited."""

    params_edited = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("actionForm")
        self.form = QFormLayout(self)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.fields: dict[str, QLineEdit] = {}
        self._params: dict[str, Any] = {}
        self._schema = None

    def show_action(self, name: str | None, params: dict[str, Any] | None) -> None:
        """Rebuild the fields for action ``name`` (none for an unknown action) showing ``params``."""
        schema = action_schema(name)
        self._params = dict(params or {})
        if schema is not self._schema:
            self._schema = schema
            while self.form.rowCount():
                self.form.removeRow(0)
            self.fields = {}
            for param in schema.params if schema is not None else ():
                edit = QLineEdit()
                edit.setObjectName(f"param_{param.name}")
                edit.setToolTip(f"{param.description or param.name} ({param.type}"
                                f"{', required' if param.required else ''})")
                if param.default is not None:
                    edit.setPlaceholderText(f"default: {field_text(param.default)}")
                edit.editingFinished.connect(lambda p=param: self._edited(p))
                label = QLabel(param.name + (" *" if param.required else ""))
                label.setToolTip(edit.toolTip())
                self.form.addRow(label, edit)
                self.fields[param.name] = edit
        for key, edit in self.fields.items():
            text = field_text(self._params.get(key))
            if edit.text() != text:
                edit.setText(text)
        self.setVisible(bool(self.fields))

    def _edited(self, param: Any) -> None:
        value = field_value(self.fields[param.name].text(), param.type)
        if value == self._params.get(param.name) and (value is not None or param.name not in self._params):
            return
        params = copy.deepcopy(self._params)
        if value is None:
            params.pop(param.name, None)
        else:
            params[param.name] = value
        self._params = params
        self.params_edited.emit(params)
