"""The inspector's form for one entry of ``edges``: condition, when, parallel flag and fan-in (the nodes the branch
could join at, where it leads first; never the fork or the branch itself)."""

from __future__ import annotations

import copy
import dataclasses

import yaml
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QLabel, QLineEdit, QWidget

from tea_studio.studio.panels.fields import parse_scalar
from tea_studio.workflow.model import Edge


class EdgeForm(QWidget):
    """Shows the ``edges`` entry that writes one route (by the route's stable id, so edits of other edges never
    point it elsewhere) and writes changes back as one edit."""

    def __init__(self) -> None:
        super().__init__()
        self.document = None
        self.route_id: str | None = None
        self.shown: Edge | None = None  # the entry as the form shows it
        self._showing = False
        form = QFormLayout(self)
        form.setContentsMargins(6, 6, 6, 6)
        self.route_label = QLabel()
        self.route_label.setObjectName("edgeRoute")
        self.condition_edit = QLineEdit()
        self.condition_edit.setPlaceholderText("Jinja2 expression, e.g. state.count > 3")
        self.condition_edit.editingFinished.connect(self.commit)
        self.when_edit = QLineEdit()
        self.when_edit.setPlaceholderText("true / false / !key / expression")
        self.when_edit.editingFinished.connect(self.commit)
        self.parallel_check = QCheckBox("parallel branch (fork)")
        self.parallel_check.toggled.connect(self.commit)
        self.fan_in_combo = QComboBox()
        self.fan_in_combo.activated.connect(self.commit)
        form.addRow("Route", self.route_label)
        form.addRow("Condition", self.condition_edit)
        form.addRow("When", self.when_edit)
        form.addRow("", self.parallel_check)
        form.addRow("Fan-in", self.fan_in_combo)

    def _edge(self) -> Edge | None:
        """The ``edges`` entry writing the shown route as it is now (None when the route is gone)."""
        return self.document.edge_entry(self.route_id) if self.document is not None and self.route_id else None

    def is_current(self) -> bool:
        """Whether the form still shows its entry as the file has it (an undo may change what no route shows)."""
        return self.shown is not None and self._edge() == self.shown

    def show_edge(self, document, route_id: str) -> bool:
        """Fill the form from the entry writing route ``route_id``; False when there is no such route in
        ``edges``."""
        self.document, self.route_id = document, route_id
        self.shown = edge = self._edge()
        if edge is None:
            return False
        self._showing = True
        try:
            self.route_label.setText(f"{edge.source} \u2192 {', '.join(edge.targets)}")
            self.condition_edit.setText("" if edge.condition is None else str(edge.condition))
            self.when_edit.setText("" if edge.when is None
                                   else yaml.safe_dump(edge.when).removesuffix("\n...\n").strip())
            self.parallel_check.setChecked(edge.parallel)
            self.fan_in_combo.clear()
            self.fan_in_combo.addItems(["", *document.join_candidates(edge.source, edge.targets)])
            if edge.fan_in and self.fan_in_combo.findText(edge.fan_in) < 0:
                self.fan_in_combo.addItem(edge.fan_in)
            self.fan_in_combo.setCurrentText(edge.fan_in or "")
            self.fan_in_combo.setEnabled(edge.parallel)
        finally:
            self._showing = False
        return True

    def release(self) -> None:
        """The inspector shows something else: a late focus-out must not write this form into an edge."""
        self.route_id = self.shown = None

    def commit(self, *_args) -> None:
        """Write the form into the edge (one undo step; nothing when unchanged)."""
        edge = None if self._showing else self._edge()
        if edge is None:
            return
        parallel = self.parallel_check.isChecked()
        fan_in = None
        if parallel:  # ticking "parallel" joins where the branch leads at once: no step with a fork that has no fan-in
            fan_in = self.fan_in_combo.currentText() or (self.fan_in_combo.itemText(1) or None)
        changed = dataclasses.replace(edge, condition=self.condition_edit.text().strip() or None,
                                      when=parse_scalar(self.when_edit.text()), parallel=parallel, fan_in=fan_in,
                                      extra=copy.deepcopy(edge.extra))
        if changed != edge:
            self.document.set_edge(self.route_id, changed)

    def focus_condition(self) -> None:
        self.condition_edit.setFocus(Qt.FocusReason.OtherFocusReason)
        self.condition_edit.selectAll()
