"""The inspector's form for an action node (``uses:`` and its ``with:`` arguments); hidden for other kinds."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QFormLayout, QLabel, QLineEdit

from tea_studio.studio.panels.fields import YamlField
from tea_studio.studio.panels.node_sections import NodeBinding, NodeSection
from tea_studio.workflow.model import ACTION


class ActionForm(NodeSection):
    """``uses`` (the action's name) and ``with`` (a YAML mapping of its arguments)."""

    def __init__(self, binding: NodeBinding) -> None:
        super().__init__(binding)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        self.uses_edit = QLineEdit()
        self.uses_edit.setPlaceholderText("action name, e.g. llm.call")
        self.uses_edit.editingFinished.connect(self.commit_uses)
        self.with_field = YamlField("with: arguments (YAML mapping)", mapping=True)
        self.with_field.committed.connect(self.commit_with)
        self.uses_label = QLabel("Uses")
        self.with_label = QLabel("With")
        form.addRow(self.uses_label, self.uses_edit)
        form.addRow(self.with_label, self.with_field)
        form.addRow("", self.with_field.error)

    def show_node(self, node) -> None:
        self.setVisible(node.kind == ACTION)
        if node.kind == ACTION:
            self.uses_edit.setText(node.uses or "")
            self.with_field.show_value(node.with_args)

    def commit_uses(self) -> None:
        node = self.binding.node()
        uses = self.uses_edit.text().strip() or None
        if node is not None and uses != node.uses:
            self.document.set_node_fields(node.name, uses=uses)

    def commit_with(self, value: Any) -> None:
        node = self.binding.node()
        if node is not None and value != node.with_args:
            self.document.set_node_fields(node.name, with_args=value)
