"""The studio's preferences: where Dask branches run, and caps on what an opened file may ask for.

A workflow file is untrusted: its ``settings.lua.timeout`` and ``max_memory_mb`` are capped by what the user sets
here (as ``tea-studio run --max-timeout/--max-memory-mb/--max-state-mb`` does headless), and a Dask scheduler set
here wins over the file's ``settings.parallel.dask.scheduler`` (as ``--dask-scheduler``). They are kept in the
studio's settings file under ``run/`` and read when a run starts, so a change applies to the next run.
"""

from __future__ import annotations

import atexit
import math
import threading
from dataclasses import dataclass

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from tea_studio.engine.budget import DEFAULT_STATE_BUDGET_MB, MIN_MEMORY_MB, EngineCaps, valid_limit
from tea_studio.engine.executors import Strategies, session_strategies
from tea_studio.engine.plan import scheduler_problem as address_problem
from tea_studio.studio.canvas.theme import current_theme

MAX_CAP = 1_000_000.0  # seconds or MiB: far above any real limit, below what a spin box shows badly
NO_CAP = "no cap"


def scheduler_problem(address: str) -> str | None:
    """Why ``address`` is not a Dask scheduler address (None when it is one, or empty: a local cluster)."""
    problem = address_problem(address) if address.strip() else None
    return f"{problem}, or leave it empty for a local cluster" if problem else None


@dataclass(frozen=True)
class RunPreferences:
    """What the user set for every run: a Dask scheduler ("" = a LocalCluster) and the caps (None = no cap)."""

    dask_scheduler: str = ""
    max_timeout_s: float | None = None
    max_memory_mb: float | None = None
    state_budget_mb: float = DEFAULT_STATE_BUDGET_MB

    def caps(self) -> EngineCaps:
        return EngineCaps(max_timeout_s=self.max_timeout_s, max_memory_mb=self.max_memory_mb,
                          state_budget_mb=self.state_budget_mb)


def _number(settings: QSettings, key: str, minimum: float) -> float | None:
    """A stored number, or None when it is missing or not a limit (a hand-edited settings file)."""
    try:
        value = float(settings.value(key, None))
    except (TypeError, ValueError):
        return None
    return value if valid_limit(value, minimum) and value <= MAX_CAP else None


def load_preferences(settings: QSettings) -> RunPreferences:
    """The saved preferences; anything unreadable falls back to its default."""
    scheduler = str(settings.value("run/dask_scheduler", "") or "").strip()
    return RunPreferences(
        dask_scheduler="" if scheduler_problem(scheduler) else scheduler,
        max_timeout_s=_number(settings, "run/max_timeout_s", 0.0),
        max_memory_mb=_number(settings, "run/max_memory_mb", MIN_MEMORY_MB),
        state_budget_mb=_number(settings, "run/state_budget_mb", MIN_MEMORY_MB) or DEFAULT_STATE_BUDGET_MB)


def save_preferences(settings: QSettings, preferences: RunPreferences) -> bool:
    """Store ``preferences``; False when the settings file could not be written."""
    for key, value in (("run/dask_scheduler", preferences.dask_scheduler),
                       ("run/max_timeout_s", preferences.max_timeout_s),
                       ("run/max_memory_mb", preferences.max_memory_mb),
                       ("run/state_budget_mb", preferences.state_budget_mb)):
        if value is None:
            settings.remove(key)
        else:
            settings.setValue(key, value)
    settings.sync()
    return settings.status() == QSettings.Status.NoError


_BY_SCHEDULER: dict[str, Strategies] = {}
_BY_SCHEDULER_LOCK = threading.Lock()


def strategies_for(preferences: RunPreferences) -> Strategies:
    """The branch strategies studio runs use: the process's session (its LocalCluster and process workers reused
    run after run) or, with a scheduler set, a session connected to that cluster (kept until the studio exits)."""
    address = preferences.dask_scheduler
    if not address:
        return session_strategies()
    with _BY_SCHEDULER_LOCK:
        found = _BY_SCHEDULER.get(address)
        if found is None:
            found = _BY_SCHEDULER[address] = Strategies(dask_scheduler=address)
            atexit.register(found.close)
        return found


def _number_box(name: str, suffix: str, value: float | None, decimals: int, *,
                optional: bool = True) -> QDoubleSpinBox:
    """A spin box for a cap; an ``optional`` one shows "no cap" at 0."""
    box = QDoubleSpinBox()
    box.setObjectName(name)
    box.setRange(0.0 if optional else MIN_MEMORY_MB, MAX_CAP)
    box.setDecimals(decimals)
    box.setSuffix(suffix)
    if optional:
        box.setSpecialValueText(NO_CAP)
    box.setValue(value if value is not None and math.isfinite(value) else 0.0)
    return box


class PreferencesDialog(QDialog):
    """Edit → Preferences…: the Dask scheduler and the caps, checked as they are typed (OK waits for valid ones)."""

    def __init__(self, preferences: RunPreferences, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.setObjectName("preferencesDialog")
        self.scheduler = QLineEdit(preferences.dask_scheduler)
        self.scheduler.setObjectName("daskScheduler")
        self.scheduler.setPlaceholderText("empty: a local cluster on 127.0.0.1, started once per session")
        self.timeout = _number_box("maxTimeout", " s", preferences.max_timeout_s, 1)
        self.memory = _number_box("maxMemory", " MiB", preferences.max_memory_mb, 0)
        self.state_budget = _number_box("stateBudget", " MiB", preferences.state_budget_mb, 0, optional=False)
        self.problem = QLabel()
        self.problem.setObjectName("preferencesProblem")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet(f"color: {current_theme().error.name()};")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("Dask scheduler", self.scheduler)
        form.addRow("Longest Lua node timeout", self.timeout)
        form.addRow("Largest Lua memory limit", self.memory)
        form.addRow("Memory for a run's states", self.state_budget)
        note = QLabel("A file's own timeout and memory limit are lowered to these caps (0: no cap). The scheduler "
                      "wins over the file's settings.parallel.dask.scheduler. Applies from the next run.")
        note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        self.scheduler.textChanged.connect(self._check)
        self.resize(520, self.sizeHint().height())
        self._check()

    def _check(self) -> None:
        problem = scheduler_problem(self.scheduler.text())
        self.problem.setText(problem or "")
        self.problem.setVisible(problem is not None)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(problem is None)

    def preferences(self) -> RunPreferences:
        """What the dialog shows, as preferences (0 in a cap box: no cap)."""
        timeout, memory = self.timeout.value(), self.memory.value()
        return RunPreferences(dask_scheduler=self.scheduler.text().strip(),
                              max_timeout_s=timeout if timeout > 0 else None,
                              max_memory_mb=max(memory, MIN_MEMORY_MB) if memory > 0 else None,
                              state_budget_mb=max(self.state_budget.value(), MIN_MEMORY_MB))
