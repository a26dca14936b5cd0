"""The inspector: properties of the selected node, the selected edge, or the workflow when nothing is selected.

Every change goes through the document's editing methods (one undo step each; code typing merges) and the forms
refresh from the document's signals, so undo/redo and edits made elsewhere show up here. The inspector never
mutates the workflow itself.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import yaml
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from tea_studio.studio.actions import on_click
from tea_studio.studio.document import SWITCHABLE_KINDS
from tea_studio.studio.panels.lua_editor import CodeEditor
from tea_studio.workflow.model import ACTION, END, LUA, PYTHON, RESERVED_NAMES, Edge, GotoRule

PARALLEL_STRATEGIES = ("thread", "process", "dask")
BRANCH_ERROR_POLICIES = ("fail", "continue")
KIND_LABELS = {LUA: "Lua", PYTHON: "Python", ACTION: "Action", "noop": "No-op", "while_loop": "While loop",
               "dynamic_parallel": "Dynamic parallel"}


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
        self.error = QLabel()
        self.error.setObjectName("fieldError")
        self.error.setWordWrap(True)
        self.error.hide()
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


def _node_combo(names: list[str], current: str | None, allow_none: bool = False) -> QComboBox:
    combo = QComboBox()
    items = ([""] if allow_none else []) + names
    if current is not None and current not in items:
        items.append(current)  # an undefined target stays visible (validation reports it)
    combo.addItems(items)
    combo.setCurrentText(current or "")
    return combo


class NodePage(QWidget):
    """Name, kind, code, fan-in flag, action fields and goto rules of one node."""

    def __init__(self, inspector: Inspector):
        super().__init__()
        self.inspector = inspector
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        form = QFormLayout()
        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("nodeName")
        self.shown_name: str | None = None
        self.name_edit.editingFinished.connect(inspector.commit_name)
        self.name_message = QLabel()
        self.name_message.setObjectName("fieldError")
        self.name_message.setWordWrap(True)
        self.name_message.hide()
        self.kind_combo = QComboBox()
        self.kind_combo.setObjectName("nodeKind")
        self.kind_combo.setToolTip("What the node runs; switching between Lua and Python keeps the code")
        for kind in SWITCHABLE_KINDS:
            self.kind_combo.addItem(KIND_LABELS[kind], kind)
        self.kind_combo.activated.connect(lambda _index: inspector.commit_kind(self.kind_combo.currentData()))
        self.fan_in_check = QCheckBox("collects parallel results (fan_in)")
        self.fan_in_check.toggled.connect(inspector.commit_fan_in)
        form.addRow("Name", self.name_edit)
        form.addRow("", self.name_message)
        form.addRow("Kind", self.kind_combo)
        form.addRow("", self.fan_in_check)
        self.uses_edit = QLineEdit()
        self.uses_edit.setPlaceholderText("action name, e.g. llm.call")
        self.uses_edit.editingFinished.connect(inspector.commit_uses)
        self.with_field = YamlField("with: arguments (YAML mapping)", mapping=True)
        self.with_field.committed.connect(inspector.commit_with)
        self.uses_label = QLabel("Uses")
        self.with_label = QLabel("With")
        form.addRow(self.uses_label, self.uses_edit)
        form.addRow(self.with_label, self.with_field)
        form.addRow("", self.with_field.error)
        layout.addLayout(form)

        self.code_label = QLabel("Code")
        self.code_editor = CodeEditor()
        self.code_editor.setObjectName("codeEditor")
        self.code_editor.setMinimumHeight(110)
        self.code_editor.code_edited.connect(inspector.commit_code)
        self.code_error = QLabel()
        self.code_error.setObjectName("fieldError")
        self.code_error.setWordWrap(True)
        self.code_error.hide()
        self.code_editor.syntax_checked.connect(self._show_code_error)
        layout.addWidget(self.code_label)
        layout.addWidget(self.code_editor, 3)
        layout.addWidget(self.code_error)

        routes = QGroupBox("Goto rules (tried in order; a rule without 'if' always holds)")
        routes_layout = QVBoxLayout(routes)
        self.goto_table = QTableWidget(0, 2)
        self.goto_table.setObjectName("gotoTable")
        self.goto_table.setHorizontalHeaderLabels(["if", "to"])
        self.goto_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.goto_table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        self.goto_table.setColumnWidth(1, 150)
        self.goto_table.verticalHeader().setVisible(False)
        self.goto_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.goto_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.goto_table.setMinimumHeight(70)
        self.goto_table.itemChanged.connect(inspector.goto_condition_edited)
        buttons = QHBoxLayout()
        self.add_rule_button = QPushButton("Add")
        self.remove_rule_button = QPushButton("Remove")
        self.rule_up_button = QPushButton("Up")
        self.rule_down_button = QPushButton("Down")
        on_click(self.add_rule_button.clicked, inspector.add_goto_rule)
        on_click(self.remove_rule_button.clicked, lambda: inspector.remove_goto_rule(self.goto_table.currentRow()))
        on_click(self.rule_up_button.clicked, lambda: inspector.move_goto_rule(self.goto_table.currentRow(), -1))
        on_click(self.rule_down_button.clicked, lambda: inspector.move_goto_rule(self.goto_table.currentRow(), 1))
        for button in (self.add_rule_button, self.remove_rule_button, self.rule_up_button, self.rule_down_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        routes_layout.addWidget(self.goto_table)
        routes_layout.addLayout(buttons)
        layout.addWidget(routes, 1)

    def _show_code_error(self, error) -> None:
        self.code_error.setVisible(error is not None)
        if error is not None:
            self.code_error.setText(f"line {error[0]}: {error[1]}")


class EdgePage(QWidget):
    """Condition, when, parallel flag and fan-in of one entry of ``edges``."""

    def __init__(self, inspector: Inspector):
        super().__init__()
        form = QFormLayout(self)
        form.setContentsMargins(6, 6, 6, 6)
        self.route_label = QLabel()
        self.route_label.setObjectName("edgeRoute")
        self.condition_edit = QLineEdit()
        self.condition_edit.setPlaceholderText("Jinja2 expression, e.g. state.count > 3")
        self.condition_edit.editingFinished.connect(inspector.commit_edge)
        self.when_edit = QLineEdit()
        self.when_edit.setPlaceholderText("true / false / !key / expression")
        self.when_edit.editingFinished.connect(inspector.commit_edge)
        self.parallel_check = QCheckBox("parallel branch (fork)")
        self.parallel_check.toggled.connect(inspector.commit_edge)
        self.fan_in_combo = QComboBox()
        self.fan_in_combo.activated.connect(inspector.commit_edge)
        form.addRow("Route", self.route_label)
        form.addRow("Condition", self.condition_edit)
        form.addRow("When", self.when_edit)
        form.addRow("", self.parallel_check)
        form.addRow("Fan-in", self.fan_in_combo)


class WorkflowPage(QWidget):
    """Name, description, variables, parallel and Lua settings, and the state schema of the workflow."""

    def __init__(self, inspector: Inspector):
        super().__init__()
        form = QFormLayout(self)
        form.setContentsMargins(6, 6, 6, 6)
        self.name_edit = QLineEdit()
        self.name_edit.editingFinished.connect(inspector.commit_workflow_name)
        self.description_edit = TextField("What this workflow does")
        self.description_edit.committed.connect(lambda value: inspector.commit_workflow_field("description", value))
        self.variables_field = YamlField("variables (YAML mapping), e.g.\nthreshold: 3", mapping=True)
        self.variables_field.committed.connect(lambda value: inspector.commit_workflow_field("variables", value))
        self.strategy_combo = QComboBox()
        self.strategy_combo.addItems(["(default: thread)", *PARALLEL_STRATEGIES])
        self.strategy_combo.activated.connect(inspector.commit_settings)
        self.max_workers_spin = QSpinBox()
        self.max_workers_spin.setRange(0, 1024)
        self.max_workers_spin.setSpecialValueText("(CPU count)")
        self.max_workers_spin.editingFinished.connect(inspector.commit_settings)
        self.branch_error_combo = QComboBox()
        self.branch_error_combo.addItems(["(default: fail)", *BRANCH_ERROR_POLICIES])
        self.branch_error_combo.activated.connect(inspector.commit_settings)
        self.lua_timeout_spin = QDoubleSpinBox()
        self.lua_timeout_spin.setRange(0, 86400)
        self.lua_timeout_spin.setDecimals(1)
        self.lua_timeout_spin.setSuffix(" s")
        self.lua_timeout_spin.setSpecialValueText("(default: 30 s)")
        self.lua_timeout_spin.editingFinished.connect(inspector.commit_settings)
        self.lua_memory_spin = QSpinBox()
        self.lua_memory_spin.setRange(0, 65536)
        self.lua_memory_spin.setSuffix(" MB")
        self.lua_memory_spin.setSpecialValueText("(default: 256 MB)")
        self.lua_memory_spin.editingFinished.connect(inspector.commit_settings)
        self.schema_field = YamlField("state_schema (YAML)")
        self.schema_field.committed.connect(lambda value: inspector.commit_workflow_field("state_schema", value))
        form.addRow("Name", self.name_edit)
        form.addRow("Description", self.description_edit)
        form.addRow("", self.description_edit.error)
        form.addRow("Variables", self.variables_field)
        form.addRow("", self.variables_field.error)
        form.addRow(QLabel("<b>Parallel</b>"))
        form.addRow("Strategy", self.strategy_combo)
        form.addRow("Max workers", self.max_workers_spin)
        form.addRow("On branch error", self.branch_error_combo)
        form.addRow(QLabel("<b>Lua</b>"))
        form.addRow("Timeout", self.lua_timeout_spin)
        form.addRow("Max memory", self.lua_memory_spin)
        form.addRow("State schema", self.schema_field)
        form.addRow("", self.schema_field.error)


class Inspector(QWidget):
    """Shows and edits the selection through an ``EditableWorkflow`` document."""

    NODE, EDGE, WORKFLOW = "node", "edge", "workflow"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("inspector")
        self.document = None
        self.mode = self.WORKFLOW
        self.node_name: str | None = None
        self.edge_index: int | None = None
        self._refreshing = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.title = QLabel()
        self.title.setObjectName("inspectorTitle")
        layout.addWidget(self.title)
        self.stack = QStackedWidget()
        self.node_page = NodePage(self)
        self.edge_page = EdgePage(self)
        self.workflow_page = WorkflowPage(self)
        self.stack.addWidget(self._scrolled(self.node_page))
        self.stack.addWidget(self._scrolled(self.edge_page))
        self.stack.addWidget(self._scrolled(self.workflow_page))
        layout.addWidget(self.stack)
        self.show_workflow()

    @staticmethod
    def _scrolled(page: QWidget) -> QScrollArea:
        area = QScrollArea()
        area.setWidgetResizable(True)
        area.setFrameShape(QScrollArea.Shape.NoFrame)
        area.setWidget(page)
        return area

    # -- document -------------------------------------------------------------------------------------------
    def set_document(self, document) -> None:
        if self.document is not None:
            for signal, slot in self._connections():
                try:
                    signal.disconnect(slot)
                except (RuntimeError, TypeError):
                    pass
        self.document = document
        if document is not None:
            for signal, slot in self._connections():
                signal.connect(slot)
        self.show_workflow()

    def _connections(self):
        doc = self.document
        return [(doc.node_changed, self._on_node_changed), (doc.node_renamed, self._on_node_renamed),
                (doc.node_removed, self._on_node_removed), (doc.routes_changed, self.refresh),
                (doc.node_added, self._on_node_added), (doc.settings_changed, self.refresh),
                (doc.workflow_changed, self._on_workflow_changed), (doc.reset, self._on_reset)]

    @property
    def workflow(self):
        return self.document.workflow if self.document is not None else None

    def _on_node_changed(self, name: str) -> None:
        if self.mode == self.NODE and name == self.node_name:
            self.refresh()

    def _on_node_renamed(self, old: str, new: str) -> None:
        if self.mode == self.NODE and self.node_name == old:
            self.node_name = new
        self.refresh()

    def _on_node_removed(self, name: str) -> None:
        if self.mode == self.NODE and name == self.node_name:
            self.show_workflow()
        else:
            self.refresh()

    def _on_node_added(self, _name: str) -> None:
        if self.mode != self.WORKFLOW:
            self.refresh()  # node pickers list the new name

    def _on_workflow_changed(self) -> None:
        if self.mode == self.WORKFLOW:
            self.refresh()
        elif self.mode == self.EDGE and (self.edge_index is None or self.edge_index >= len(self.workflow.edges)):
            self.show_workflow()

    def _on_reset(self) -> None:
        self.show_workflow()

    # -- what is shown ----------------------------------------------------------------------------------------
    def show_selection(self, node_names: list[str], edge_indexes: list[int] | None = None) -> None:
        """Show the single selected node, else the single selected edge, else the workflow."""
        edge_indexes = edge_indexes or []
        if len(node_names) == 1:
            self.show_node(node_names[0])
        elif not node_names and len(edge_indexes) == 1:
            self.show_edge(edge_indexes[0])
        else:
            self.show_workflow()

    def show_node(self, name: str) -> None:
        if self.workflow is None or self.workflow.node(name) is None:
            self.show_workflow()
            return
        if self.mode != self.NODE or self.node_name != name:
            self.node_page.name_message.hide()
        self.mode, self.node_name, self.edge_index = self.NODE, name, None
        self.stack.setCurrentIndex(0)
        self.refresh()

    def show_edge(self, index: int) -> None:
        if self.workflow is None or not 0 <= index < len(self.workflow.edges):
            self.show_workflow()
            return
        self.mode, self.node_name, self.edge_index = self.EDGE, None, index
        self.stack.setCurrentIndex(1)
        self.refresh()

    def show_workflow(self) -> None:
        self.mode, self.node_name, self.edge_index = self.WORKFLOW, None, None
        self.stack.setCurrentIndex(2)
        self.refresh()

    def refresh(self) -> None:
        """Reload the visible form from the document."""
        if self._refreshing:
            return
        self._refreshing = True
        try:
            self.setEnabled(self.workflow is not None)
            if self.workflow is None:
                self.title.setText("No workflow")
            elif self.mode == self.NODE:
                self._refresh_node()
            elif self.mode == self.EDGE:
                self._refresh_edge()
            else:
                self._refresh_workflow()
        finally:
            self._refreshing = False

    def _refresh_node(self) -> None:
        node = self.workflow.node(self.node_name)
        if node is None:
            self._refreshing = False
            self.show_workflow()
            return
        page = self.node_page
        self.title.setText(f"Node  {node.name}")
        if not page.name_edit.hasFocus() or page.shown_name != node.name:  # never clobber a name being typed
            page.name_edit.setText(node.name)
        page.shown_name = node.name
        self._show_kind(node.kind)
        page.fan_in_check.setChecked(bool(node.fan_in))
        has_code = node.kind in (LUA, PYTHON)
        page.code_label.setVisible(has_code)
        page.code_editor.setVisible(has_code)
        if has_code:
            page.code_label.setText("Lua code (gets state; return a table to merge)" if node.kind == LUA
                                    else "Python code (trusted)")
            page.code_editor.set_language(node.kind)
            page.code_editor.set_code(node.code)
        else:
            page.code_error.hide()
        is_action = node.kind == ACTION
        for widget in (page.uses_label, page.uses_edit, page.with_label, page.with_field):
            widget.setVisible(is_action)
        if is_action:
            page.uses_edit.setText(node.uses or "")
            page.with_field.show_value(node.with_args)
        self._refresh_goto_table(node)

    def _show_kind(self, kind: str) -> None:
        combo = self.node_page.kind_combo
        for index in range(combo.count() - 1, len(SWITCHABLE_KINDS) - 1, -1):
            combo.removeItem(index)  # a kind the combo cannot switch to, shown for the previous node
        index = combo.findData(kind)
        if index < 0:
            combo.addItem(KIND_LABELS.get(kind, kind), kind)
            index = combo.count() - 1
        combo.setCurrentIndex(index)

    def _refresh_goto_table(self, node) -> None:
        table = self.node_page.goto_table
        current = table.currentRow()
        table.blockSignals(True)
        try:
            table.setRowCount(0)
            names = [*self.workflow.node_names, END]
            for row, rule in enumerate(node.goto_rules):
                table.insertRow(row)
                table.setItem(row, 0, QTableWidgetItem(rule.condition if rule.condition is not None else ""))
                combo = _node_combo(names, rule.to)
                combo.activated.connect(lambda _i, r=row, c=combo: self.set_goto_target(r, c.currentText()))
                table.setCellWidget(row, 1, combo)
            if 0 <= current < table.rowCount():
                table.setCurrentCell(current, 0)
        finally:
            table.blockSignals(False)

    def _refresh_edge(self) -> None:
        if self.edge_index is None or not 0 <= self.edge_index < len(self.workflow.edges):
            self._refreshing = False
            self.show_workflow()  # the edge is gone (the selection owner shows what replaced it)
            return
        edge = self.workflow.edges[self.edge_index]
        page = self.edge_page
        self.title.setText("Edge")
        targets = ", ".join(edge.targets)
        page.route_label.setText(f"{edge.source} \u2192 {targets}")
        page.condition_edit.setText("" if edge.condition is None else str(edge.condition))
        page.when_edit.setText("" if edge.when is None else yaml.safe_dump(edge.when).removesuffix("\n...\n").strip())
        page.parallel_check.setChecked(edge.parallel)
        page.fan_in_combo.clear()
        page.fan_in_combo.addItems(["", *self.workflow.node_names])
        if edge.fan_in and page.fan_in_combo.findText(edge.fan_in) < 0:
            page.fan_in_combo.addItem(edge.fan_in)
        page.fan_in_combo.setCurrentText(edge.fan_in or "")
        page.fan_in_combo.setEnabled(edge.parallel)

    def _refresh_workflow(self) -> None:
        wf = self.workflow
        page = self.workflow_page
        self.title.setText("Workflow")
        page.name_edit.setText(wf.name or "")
        page.description_edit.show_value(wf.description)
        page.variables_field.show_value(wf.variables)
        page.schema_field.show_value(wf.state_schema)
        strategy = wf.setting("parallel", "strategy")
        page.strategy_combo.setCurrentIndex(PARALLEL_STRATEGIES.index(strategy) + 1
                                            if strategy in PARALLEL_STRATEGIES else 0)
        workers = wf.setting("parallel", "max_workers")
        page.max_workers_spin.setValue(workers if isinstance(workers, int) and workers > 0 else 0)
        policy = wf.setting("parallel", "on_branch_error")
        page.branch_error_combo.setCurrentIndex(BRANCH_ERROR_POLICIES.index(policy) + 1
                                                if policy in BRANCH_ERROR_POLICIES else 0)
        timeout = wf.setting("lua", "timeout")
        page.lua_timeout_spin.setValue(float(timeout) if isinstance(timeout, int | float) else 0.0)
        memory = wf.setting("lua", "max_memory_mb")
        page.lua_memory_spin.setValue(int(memory) if isinstance(memory, int | float) else 0)

    # -- node edits ---------------------------------------------------------------------------------------
    def _current_node(self):
        if self._refreshing or self.mode != self.NODE or self.workflow is None:
            return None
        return self.workflow.node(self.node_name)

    def rename_problem(self, old: str, new: str) -> str | None:
        """Why ``old`` cannot be renamed to ``new`` (None when it can)."""
        if not new:
            return "A node needs a name."
        if new in RESERVED_NAMES:
            return f"'{new}' is reserved by TEA for the start and end of the flow."
        if new != old and self.workflow.has_node(new):
            return f"A node named '{new}' already exists."
        return None

    def commit_name(self) -> bool:
        node = self._current_node()
        page = self.node_page
        if node is None:
            return False
        new = page.name_edit.text().strip()
        if new == node.name:
            page.name_message.hide()
            return False
        problem = self.rename_problem(node.name, new)
        if problem is None:
            try:
                self.document.rename_node(node.name, new)
            except ValueError as exc:
                problem = str(exc)
        if problem is not None:
            page.name_message.setText(problem)
            page.name_message.show()
            page.name_edit.setText(node.name)
            return False
        page.name_message.hide()
        return True

    def commit_code(self, code: str) -> None:
        node = self._current_node()
        if node is not None and code != (node.code or ""):
            self.document.set_node_code(node.name, code)

    def commit_kind(self, kind: str) -> None:
        node = self._current_node()
        if node is None or kind == node.kind:
            return
        if kind not in SWITCHABLE_KINDS:
            self._show_kind(node.kind)
            return
        self.document.set_node_kind(node.name, kind)

    def go_to_code_line(self, line: int) -> bool:
        """Put the code editor's cursor on ``line`` of the shown node's code and highlight it."""
        editor = self.node_page.code_editor
        if self.mode != self.NODE or not editor.isVisibleTo(self):
            return False
        editor.setFocus(Qt.FocusReason.OtherFocusReason)
        return editor.go_to_line(line)

    def focus_name(self) -> None:
        """Start renaming the shown node: focus its name field with the name selected."""
        edit = self.node_page.name_edit
        edit.setFocus(Qt.FocusReason.OtherFocusReason)
        edit.selectAll()

    def focus_condition(self) -> None:
        """Focus the condition field of the shown edge, or the goto rules of the shown node."""
        if self.mode == self.EDGE:
            self.edge_page.condition_edit.setFocus(Qt.FocusReason.OtherFocusReason)
            self.edge_page.condition_edit.selectAll()
        elif self.mode == self.NODE:
            self.node_page.goto_table.setFocus(Qt.FocusReason.OtherFocusReason)

    def commit_fan_in(self, checked: bool) -> None:
        node = self._current_node()
        if node is not None and bool(node.fan_in) != checked:
            self.document.set_node_fields(node.name, fan_in=checked)

    def commit_uses(self) -> None:
        node = self._current_node()
        uses = self.node_page.uses_edit.text().strip() or None
        if node is not None and uses != node.uses:
            self.document.set_node_fields(node.name, uses=uses)

    def commit_with(self, value: Any) -> None:
        node = self._current_node()
        if node is not None and value != node.with_args:
            self.document.set_node_fields(node.name, with_args=value)

    # -- goto rules -------------------------------------------------------------------------------------------
    def goto_rules(self) -> list[GotoRule]:
        node = self.workflow.node(self.node_name) if self.mode == self.NODE else None
        return [dataclasses.replace(rule, extra=copy.deepcopy(rule.extra)) for rule in node.goto_rules] if node else []

    def _commit_goto(self, rules: list[GotoRule], select_row: int | None = None) -> None:
        node = self._current_node()
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
        if select_row is not None and self.mode == self.NODE:
            self.node_page.goto_table.setCurrentCell(select_row, 0)

    def add_goto_rule(self, to: str | None = None, condition: str | None = None) -> None:
        rules = self.goto_rules()
        if to is None:
            others = [n for n in self.workflow.node_names if n != self.node_name]
            to = others[0] if others else END
        rules.append(GotoRule(to=to, condition=condition))
        self._commit_goto(rules, len(rules) - 1)

    def remove_goto_rule(self, row: int) -> None:
        rules = self.goto_rules()
        if 0 <= row < len(rules):
            del rules[row]
            self._commit_goto(rules, min(row, len(rules) - 1) if rules else None)

    def move_goto_rule(self, row: int, delta: int) -> None:
        rules = self.goto_rules()
        target = row + delta
        if 0 <= row < len(rules) and 0 <= target < len(rules):
            rules[row], rules[target] = rules[target], rules[row]
            self._commit_goto(rules, target)

    def set_goto_condition(self, row: int, condition: str | None) -> None:
        rules = self.goto_rules()
        if 0 <= row < len(rules):
            condition = condition.strip() if condition and condition.strip() else None
            if rules[row].condition != condition:
                rules[row] = dataclasses.replace(rules[row], condition=condition)
                self._commit_goto(rules, row)

    def set_goto_target(self, row: int, to: str) -> None:
        rules = self.goto_rules()
        if 0 <= row < len(rules) and to and rules[row].to != to:
            rules[row] = dataclasses.replace(rules[row], to=to)
            self._commit_goto(rules, row)

    def goto_condition_edited(self, item: QTableWidgetItem) -> None:
        if item.column() == 0:
            self.set_goto_condition(item.row(), item.text())

    # -- edge edits --------------------------------------------------------------------------------------------
    def commit_edge(self, *_args) -> None:
        if self._refreshing or self.mode != self.EDGE or self.workflow is None:
            return
        edge: Edge = self.workflow.edges[self.edge_index]
        page = self.edge_page
        parallel = page.parallel_check.isChecked()
        condition = page.condition_edit.text().strip() or None
        fan_in = (page.fan_in_combo.currentText() or None) if parallel else None
        changed = dataclasses.replace(edge, condition=condition, when=parse_scalar(page.when_edit.text()),
                                      parallel=parallel, fan_in=fan_in, extra=copy.deepcopy(edge.extra))
        if changed != edge:
            self.document.set_edge(self.edge_index, changed)

    # -- workflow edits ------------------------------------------------------------------------------------------
    def commit_workflow_field(self, field_name: str, value: Any) -> None:
        if self._refreshing or self.workflow is None:
            return
        if getattr(self.workflow, field_name) != value:
            self.document.set_workflow_fields(**{field_name: value})

    def commit_workflow_name(self) -> None:
        self.commit_workflow_field("name", self.workflow_page.name_edit.text().strip() or None)

    def commit_settings(self, *_args) -> None:
        """Write the parallel and Lua forms into ``settings`` (only the keys they show; the rest is kept)."""
        if self._refreshing or self.workflow is None:
            return
        page = self.workflow_page
        settings = copy.deepcopy(self.workflow.settings) if isinstance(self.workflow.settings, dict) else {}

        def put(section: str, key: str, value: Any) -> None:
            block = settings.get(section)
            if value is None:
                if isinstance(block, dict):
                    block.pop(key, None)
                    if not block:
                        settings.pop(section)
                return
            if not isinstance(block, dict):
                block = settings[section] = {}
            block[key] = value

        strategy = page.strategy_combo.currentIndex()
        put("parallel", "strategy", PARALLEL_STRATEGIES[strategy - 1] if strategy > 0 else None)
        put("parallel", "max_workers", page.max_workers_spin.value() or None)
        policy = page.branch_error_combo.currentIndex()
        put("parallel", "on_branch_error", BRANCH_ERROR_POLICIES[policy - 1] if policy > 0 else None)
        timeout = page.lua_timeout_spin.value()
        put("lua", "timeout", (int(timeout) if timeout == int(timeout) else timeout) if timeout else None)
        put("lua", "max_memory_mb", page.lua_memory_spin.value() or None)
        old = self.workflow.settings if isinstance(self.workflow.settings, dict) else {}
        if settings != old:
            self.document.set_workflow_fields(settings=settings or None)
