"""The inspector's goto rules of a node: a table of ``if`` / ``to`` rows with Add, Remove, Up and Down.

Rules are tried in order; a rule without ``if`` always holds. A single unconditional rule is written back in the
``goto: name`` spelling it came in.
"""

from __future__ import annotations

import copy
import dataclasses

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from tea_studio.studio.actions import on_click
from tea_studio.studio.panels.fields import node_combo
from tea_studio.studio.panels.node_sections import NodeBinding, NodeSection
from tea_studio.workflow.model import END, GotoRule


class GotoRulesForm(NodeSection):
    """Edits ``goto`` of the shown node, one undo step per change."""

    def __init__(self, binding: NodeBinding) -> None:
        super().__init__(binding)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        box = QGroupBox("Goto rules (tried in order; a rule without 'if' always holds)")
        outer.addWidget(box)
        layout = QVBoxLayout(box)
        self.table = QTableWidget(0, 2)
        self.table.setObjectName("gotoTable")
        self.table.setHorizontalHeaderLabels(["if", "to"])
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        self.table.setColumnWidth(1, 150)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setMinimumHeight(70)
        self.table.itemChanged.connect(self._condition_edited)
        buttons = QHBoxLayout()
        self.add_button = QPushButton("Add")
        self.remove_button = QPushButton("Remove")
        self.up_button = QPushButton("Up")
        self.down_button = QPushButton("Down")
        on_click(self.add_button.clicked, self.add_rule)
        on_click(self.remove_button.clicked, lambda: self.remove_rule(self.table.currentRow()))
        on_click(self.up_button.clicked, lambda: self.move_rule(self.table.currentRow(), -1))
        on_click(self.down_button.clicked, lambda: self.move_rule(self.table.currentRow(), 1))
        for button in (self.add_button, self.remove_button, self.up_button, self.down_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout.addWidget(self.table)
        layout.addLayout(buttons)

    def show_node(self, node) -> None:
        table = self.table
        current = table.currentRow()
        table.blockSignals(True)
        try:
            table.setRowCount(0)
            names = [*self.binding.workflow.node_names, END]
            for row, rule in enumerate(node.goto_rules):
                table.insertRow(row)
                table.setItem(row, 0, QTableWidgetItem(rule.condition if rule.condition is not None else ""))
                combo = node_combo(names, rule.to)
                combo.activated.connect(lambda _i, r=row, c=combo: self.set_target(r, c.currentText()))
                table.setCellWidget(row, 1, combo)
            if 0 <= current < table.rowCount():
                table.setCurrentCell(current, 0)
        finally:
            table.blockSignals(False)

    def focus(self) -> None:
        self.table.setFocus(Qt.FocusReason.OtherFocusReason)

    def rules(self) -> list[GotoRule]:
        """Copies of the shown node's rules (to edit and commit)."""
        node = self.binding.node()
        return [dataclasses.replace(rule, extra=copy.deepcopy(rule.extra)) for rule in node.goto_rules] if node else []

    def _commit(self, rules: list[GotoRule], select_row: int | None = None) -> None:
        node = self.binding.node()
        if node is None:
            return
        if not rules:
            goto = None
        elif (len(rules) == 1 and rules[0].condition is None and not rules[0].extra
              and not isinstance(node.goto, list)):
            goto = rules[0].to  # keep the `goto: name` spelling
        else:
            goto = rules
        if goto == node.goto:
            return
        self.document.set_goto(node.name, goto)
        if select_row is not None:
            self.table.setCurrentCell(select_row, 0)

    def add_rule(self, to: str | None = None, condition: str | None = None) -> None:
        """Append a rule (to the first other node by default)."""
        rules = self.rules()
        if to is None:
            others = [n for n in self.binding.workflow.node_names if n != self.binding.node_name]
            to = others[0] if others else END
        rules.append(GotoRule(to=to, condition=condition))
        self._commit(rules, len(rules) - 1)

    def remove_rule(self, row: int) -> None:
        rules = self.rules()
        if 0 <= row < len(rules):
            del rules[row]
            self._commit(rules, min(row, len(rules) - 1) if rules else None)

    def move_rule(self, row: int, delta: int) -> None:
        rules = self.rules()
        target = row + delta
        if 0 <= row < len(rules) and 0 <= target < len(rules):
            rules[row], rules[target] = rules[target], rules[row]
            self._commit(rules, target)

    def set_condition(self, row: int, condition: str | None) -> None:
        rules = self.rules()
        if 0 <= row < len(rules):
            condition = condition.strip() if condition and condition.strip() else None
            if rules[row].condition != condition:
                rules[row] = dataclasses.replace(rules[row], condition=condition)
                self._commit(rules, row)

    def set_target(self, row: int, to: str) -> None:
        rules = self.rules()
        if 0 <= row < len(rules) and to and rules[row].to != to:
            rules[row] = dataclasses.replace(rules[row], to=to)
            self._commit(rules, row)

    def _condition_edited(self, item: QTableWidgetItem) -> None:
        if item.column() == 0:
            self.set_condition(item.row(), item.text())
