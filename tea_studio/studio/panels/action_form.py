"""The inspector's form for an action node (``uses:`` and its ``with:`` arguments); hidden for other kinds.

Below ``uses`` sits one field per parameter of the action's schema (name, a star when required, the description as
tooltip, the default as placeholder): editing one changes that key of ``with:``. Keys the schema does not declare
stay as written; the raw ``with:`` YAML below the fields shows and edits everything.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFormLayout, QLabel, QLineEdit, QWidget

from tea_studio.studio.panels.fields import YamlField
from tea_studio.studio.panels.node_sections import NodeBinding, NodeSection
from tea_studio.workflow.action_schemas import action_schema
from tea_studio.workflow.model import ACTION


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


class ParamFields(QWidget):
    """One line edit per schema parameter; emits ``params_edited(new with: mapping)`` when one is edited."""

    params_edited = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("actionParams")
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


class ActionForm(NodeSection):
    """``uses`` (the action's name), its schema's parameter fields and ``with`` (the raw YAML mapping)."""

    def __init__(self, binding: NodeBinding) -> None:
        super().__init__(binding)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        self.uses_edit = QLineEdit()
        self.uses_edit.setPlaceholderText("action name, e.g. llm.call")
        self.uses_edit.editingFinished.connect(self.commit_uses)
        self.params = ParamFields()
        self.params.params_edited.connect(self.commit_with)
        self.with_field = YamlField("with: arguments (YAML mapping)", mapping=True)
        self.with_field.committed.connect(self.commit_with)
        self.uses_label = QLabel("Uses")
        self.with_label = QLabel("With")
        form.addRow(self.uses_label, self.uses_edit)
        form.addRow(self.params)
        form.addRow(self.with_label, self.with_field)
        form.addRow("", self.with_field.error)

    def show_node(self, node) -> None:
        self.setVisible(node.kind == ACTION)
        if node.kind == ACTION:
            self.uses_edit.setText(node.uses or "")
            self.with_field.show_value(node.with_args)
            self.params.show_action(node.uses, node.with_args)

    def commit_uses(self) -> None:
        node = self.binding.node()
        uses = self.uses_edit.text().strip() or None
        if node is not None and uses != node.uses:
            self.document.set_node_fields(node.name, uses=uses)

    def commit_with(self, value: Any) -> None:
        node = self.binding.node()
        if node is not None and value != node.with_args:
            self.document.set_node_fields(node.name, with_args=value)
