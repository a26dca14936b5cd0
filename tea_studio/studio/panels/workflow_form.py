"""The inspector's workflow page: name, description, variables, parallel and Lua settings, state schema."""

from __future__ import annotations

import copy
from typing import Any

from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QFormLayout, QLabel, QLineEdit, QSpinBox, QWidget

from tea_studio.studio.panels.fields import TextField, YamlField
from tea_studio.workflow.model import DEFAULT_STRATEGY, STRATEGIES

BRANCH_ERROR_POLICIES = ("fail", "continue")


def _set_key(settings: dict, section: str, key: str, value: Any) -> None:
    """``settings[section][key] = value``; None removes the key (and the section once empty)."""
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


class WorkflowForm(QWidget):
    """Edits the workflow's own fields and the ``settings`` keys it shows (the others are kept)."""

    def __init__(self) -> None:
        super().__init__()
        self.document = None
        self._showing = False
        form = QFormLayout(self)
        form.setContentsMargins(6, 6, 6, 6)
        self.name_edit = QLineEdit()
        self.name_edit.editingFinished.connect(
            lambda: self.commit_field("name", self.name_edit.text().strip() or None))
        self.description_edit = TextField("What this workflow does")
        self.description_edit.committed.connect(lambda value: self.commit_field("description", value))
        self.variables_field = YamlField("variables (YAML mapping), e.g.\nthreshold: 3", mapping=True)
        self.variables_field.committed.connect(lambda value: self.commit_field("variables", value))
        self.schema_field = YamlField("state_schema (YAML)")
        self.schema_field.committed.connect(lambda value: self.commit_field("state_schema", value))
        self._build_settings()
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

    def _build_settings(self) -> None:
        self.strategy_combo = QComboBox()
        self.strategy_combo.addItems([f"(default: {DEFAULT_STRATEGY})", *STRATEGIES])
        self.strategy_combo.activated.connect(self.commit_settings)
        self.max_workers_spin = QSpinBox()
        self.max_workers_spin.setRange(0, 1024)
        self.max_workers_spin.setSpecialValueText("(CPU count)")
        self.max_workers_spin.editingFinished.connect(self.commit_settings)
        self.branch_error_combo = QComboBox()
        self.branch_error_combo.addItems(["(default: fail)", *BRANCH_ERROR_POLICIES])
        self.branch_error_combo.activated.connect(self.commit_settings)
        self.lua_timeout_spin = QDoubleSpinBox()
        self.lua_timeout_spin.setRange(0, 86400)
        self.lua_timeout_spin.setDecimals(1)
        self.lua_timeout_spin.setSuffix(" s")
        self.lua_timeout_spin.setSpecialValueText("(default: 30 s)")
        self.lua_timeout_spin.editingFinished.connect(self.commit_settings)
        self.lua_memory_spin = QSpinBox()
        self.lua_memory_spin.setRange(0, 65536)
        self.lua_memory_spin.setSuffix(" MB")
        self.lua_memory_spin.setSpecialValueText("(default: 256 MB)")
        self.lua_memory_spin.editingFinished.connect(self.commit_settings)

    @property
    def workflow(self):
        return self.document.workflow if self.document is not None else None

    def show_workflow(self, document) -> None:
        self.document = document
        wf = document.workflow
        self._showing = True
        try:
            self.name_edit.setText(wf.name or "")
            self.description_edit.show_value(wf.description)
            self.variables_field.show_value(wf.variables)
            self.schema_field.show_value(wf.state_schema)
            strategy = wf.setting("parallel", "strategy")
            self.strategy_combo.setCurrentIndex(STRATEGIES.index(strategy) + 1
                                                if strategy in STRATEGIES else 0)
            workers = wf.setting("parallel", "max_workers")
            self.max_workers_spin.setValue(workers if isinstance(workers, int) and workers > 0 else 0)
            policy = wf.setting("parallel", "on_branch_error")
            self.branch_error_combo.setCurrentIndex(BRANCH_ERROR_POLICIES.index(policy) + 1
                                                    if policy in BRANCH_ERROR_POLICIES else 0)
            timeout = wf.setting("lua", "timeout")
            self.lua_timeout_spin.setValue(float(timeout) if isinstance(timeout, int | float) else 0.0)
            memory = wf.setting("lua", "max_memory_mb")
            self.lua_memory_spin.setValue(int(memory) if isinstance(memory, int | float) else 0)
        finally:
            self._showing = False

    def commit_field(self, field_name: str, value: Any) -> None:
        if self._showing or self.workflow is None:
            return
        if getattr(self.workflow, field_name) != value:
            self.document.set_workflow_fields(**{field_name: value})

    def commit_settings(self, *_args) -> None:
        """Write the parallel and Lua forms into ``settings`` (only the keys they show; the rest is kept)."""
        if self._showing or self.workflow is None:
            return
        old = self.workflow.settings if isinstance(self.workflow.settings, dict) else {}
        settings = copy.deepcopy(old)
        strategy = self.strategy_combo.currentIndex()
        _set_key(settings, "parallel", "strategy", STRATEGIES[strategy - 1] if strategy > 0 else None)
        _set_key(settings, "parallel", "max_workers", self.max_workers_spin.value() or None)
        policy = self.branch_error_combo.currentIndex()
        _set_key(settings, "parallel", "on_branch_error", BRANCH_ERROR_POLICIES[policy - 1] if policy > 0 else None)
        timeout = self.lua_timeout_spin.value()
        _set_key(settings, "lua", "timeout", (int(timeout) if timeout == int(timeout) else timeout) if timeout else None)
        _set_key(settings, "lua", "max_memory_mb", self.lua_memory_spin.value() or None)
        if settings != old:
            self.document.set_workflow_fields(settings=settings or None)
