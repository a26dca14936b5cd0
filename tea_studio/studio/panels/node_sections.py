"""The inspector's node page, one section per concern: name/kind/fan-in, action fields, code, goto rules.

Each section shows one node (``show_node(node)``) and edits it through the document (one undo step per change).
Sections share a :class:`NodeBinding`: the document, the node shown, and whether the page is being filled (a
widget changed while filling must not write back). A new section (another kind's form) subclasses
:class:`NodeSection` and is added to the inspector's ``NodePage``.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from tea_studio.studio.panels.fields import error_label, yaml_text
from tea_studio.studio.panels.lua_editor import CodeEditor
from tea_studio.workflow.constructs import construct_keys, construct_label
from tea_studio.workflow.model import CODE_KINDS, LUA, PROLOG, RESERVED_NAMES, SWITCHABLE_KINDS, kind_label

_CODE_LABELS = {LUA: "Lua code (gets state; return a table to merge)",
                PROLOG: "Prolog code (state(Key, Value) reads, return(Key, Value) sets; sandboxed)"}


@dataclass
class NodeBinding:
    """What the node sections edit: ``document``, the node called ``node_name``; ``showing`` while filling."""

    document: object = None
    node_name: str | None = None
    showing: bool = False

    @property
    def workflow(self):
        return self.document.workflow if self.document is not None else None

    def node(self):
        """The shown node to edit, or None (nothing shown, or the page is being filled)."""
        if self.showing or self.workflow is None or self.node_name is None:
            return None
        return self.workflow.node(self.node_name)


class NodeSection(QWidget):
    """A part of the node page: ``show(node)`` fills it; edits go to ``self.binding.document``."""

    def __init__(self, binding: NodeBinding) -> None:
        super().__init__()
        self.binding = binding

    @property
    def document(self):
        return self.binding.document

    def show_node(self, node) -> None:
        raise NotImplementedError


class NodeForm(NodeSection):
    """Name (renamed on Enter or focus-out, refused with a reason), kind and the fan-in flag."""

    def __init__(self, binding: NodeBinding) -> None:
        super().__init__(binding)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("nodeName")
        self.shown_name: str | None = None
        self.name_edit.editingFinished.connect(self.commit_name)
        self.name_message = error_label()
        self.kind_combo = QComboBox()
        self.kind_combo.setObjectName("nodeKind")
        self.kind_combo.setToolTip("What the node runs; switching between Lua and Python keeps the code")
        for kind in SWITCHABLE_KINDS:
            self.kind_combo.addItem(kind_label(kind), kind)
        self.kind_combo.activated.connect(lambda _index: self.commit_kind(self.kind_combo.currentData()))
        self.fan_in_check = QCheckBox("collects parallel results (fan_in)")
        self.fan_in_check.toggled.connect(self.commit_fan_in)
        form.addRow("Name", self.name_edit)
        form.addRow("", self.name_message)
        form.addRow("Kind", self.kind_combo)
        form.addRow("", self.fan_in_check)

    def show_node(self, node) -> None:
        if not self.name_edit.hasFocus() or self.shown_name != node.name:  # never clobber a name being typed
            self.name_edit.setText(node.name)
        self.shown_name = node.name
        self._show_kind(node.kind)
        self.fan_in_check.setChecked(bool(node.fan_in))

    def _show_kind(self, kind: str) -> None:
        combo = self.kind_combo
        for index in range(combo.count() - 1, len(SWITCHABLE_KINDS) - 1, -1):
            combo.removeItem(index)  # a kind the combo cannot switch to, shown for the previous node
        index = combo.findData(kind)
        if index < 0:
            combo.addItem(kind_label(kind), kind)
            index = combo.count() - 1
        combo.setCurrentIndex(index)

    def rename_problem(self, old: str, new: str) -> str | None:
        """Why ``old`` cannot be renamed to ``new`` (None when it can)."""
        if not new:
            return "A node needs a name."
        if new in RESERVED_NAMES:
            return f"'{new}' is reserved by TEA for the start and end of the flow."
        if new != old and self.binding.workflow.has_node(new):
            return f"A node named '{new}' already exists."
        return None

    def commit_name(self) -> bool:
        node = self.binding.node()
        if node is None:
            return False
        new = self.name_edit.text().strip()
        if new == node.name:
            self.name_message.hide()
            return False
        problem = self.rename_problem(node.name, new)
        if problem is None:
            try:
                self.document.rename_node(node.name, new)
            except ValueError as exc:
                problem = str(exc)
        if problem is not None:
            self.name_message.setText(problem)
            self.name_message.show()
            self.name_edit.setText(node.name)
            return False
        self.name_message.hide()
        return True

    def commit_kind(self, kind: str) -> None:
        node = self.binding.node()
        if node is None or kind == node.kind:
            return
        if kind not in SWITCHABLE_KINDS:
            self._show_kind(node.kind)
            return
        self.document.set_node_kind(node.name, kind)

    def commit_fan_in(self, checked: bool) -> None:
        node = self.binding.node()
        if node is not None and bool(node.fan_in) != checked:
            self.document.set_node_fields(node.name, fan_in=checked)

    def focus_name(self) -> None:
        """Start renaming: focus the name field with the name selected."""
        self.name_edit.setFocus(Qt.FocusReason.OtherFocusReason)
        self.name_edit.selectAll()


class CodeForm(NodeSection):
    """The Lua or Python code of a node, with its syntax error under the editor (hidden for other kinds)."""

    def __init__(self, binding: NodeBinding) -> None:
        super().__init__(binding)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.code_label = QLabel("Code")
        self.code_editor = CodeEditor()
        self.code_editor.setObjectName("codeEditor")
        self.code_editor.setMinimumHeight(110)
        self.code_editor.code_edited.connect(self.commit_code)
        self.code_error = error_label()
        self.code_editor.syntax_checked.connect(self._show_code_error)
        layout.addWidget(self.code_label)
        layout.addWidget(self.code_editor, 1)
        layout.addWidget(self.code_error)

    def show_node(self, node) -> None:
        has_code = node.kind in CODE_KINDS
        self.setVisible(has_code)
        if not has_code:
            self.code_error.hide()
            return
        self.code_label.setText(_CODE_LABELS.get(node.kind, "Python code (trusted)"))
        self.code_editor.set_language(node.kind)
        self.code_editor.set_code(node.code)

    def commit_code(self, code: str) -> None:
        node = self.binding.node()
        if node is not None and code != (node.code or ""):
            self.document.set_node_code(node.name, code)

    def _show_code_error(self, error) -> None:
        self.code_error.setVisible(error is not None)
        if error is not None:
            self.code_error.setText(f"line {error[0]}: {error[1]}")

    def go_to_line(self, line: int) -> bool:
        """Put the cursor on ``line`` of the code and highlight it (False when the node has no code)."""
        if self.isHidden():
            return False
        self.code_editor.setFocus(Qt.FocusReason.OtherFocusReason)
        return self.code_editor.go_to_line(line)



class ConstructView(NodeSection):
    """What a loop, fan-out, steps or expression node runs, read-only (hidden for other kinds)."""

    def __init__(self, binding: NodeBinding) -> None:
        super().__init__(binding)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.construct_label = QLabel()
        self.construct_view = QPlainTextEdit()
        self.construct_view.setObjectName("constructView")
        self.construct_view.setReadOnly(True)
        self.construct_view.setMinimumHeight(110)
        layout.addWidget(self.construct_label)
        layout.addWidget(self.construct_view, 1)

    def show_node(self, node) -> None:
        inner = construct_keys(node)
        self.setVisible(bool(inner))
        if inner:
            self.construct_label.setText(f"{construct_label(node)} (read-only here; edit the file's YAML)")
            self.construct_view.setPlainText(yaml_text(inner))
