"""Run history: the last runs of each file, kept in the app data folder, and the dock listing them.

Layout: ``<data dir>/runs/<hash of the file path>/index.json`` (newest first) and one ``<run id>.ndjson`` per
run in the ``--stream`` event format. Only the newest :data:`HISTORY_LIMIT` runs of a file are kept.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QMenu,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from tea_studio.engine.record import RunRecord, format_ms
from tea_studio.studio.actions import add_menu_item, on_click
from tea_studio.studio.panels.state_view import preview
from tea_studio.studio.resources import app_data_dir
from tea_studio.workflow.files import write_atomic

HISTORY_LIMIT = 20
INDEX = "index.json"


def _file_key(workflow_path: str | None) -> str:
    if not workflow_path:
        return "untitled"
    return hashlib.sha1(os.path.abspath(workflow_path).encode("utf-8")).hexdigest()[:16]


class RunHistory:
    """The stored runs of each workflow file."""

    def __init__(self, root: Path | None = None, limit: int = HISTORY_LIMIT) -> None:
        self._root = root
        self.limit = limit
        self._writing = threading.Lock()  # runs are stored from background threads: one index update at a time

    @property
    def root(self) -> Path:
        return self._root if self._root is not None else app_data_dir() / "runs"

    def folder(self, workflow_path: str | None) -> Path:
        return self.root / _file_key(workflow_path)

    def entries(self, workflow_path: str | None) -> list[dict[str, Any]]:
        """The runs of a file, newest first (what the index says)."""
        index = self.folder(workflow_path) / INDEX
        try:
            data = json.loads(index.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        runs = data.get("runs") if isinstance(data, dict) else None
        return [r for r in runs or [] if isinstance(r, dict) and "run_id" in r]

    def add(self, record: RunRecord, workflow_path: str | None = None, *, background: bool = False) -> dict[str, Any]:
        """Store a finished run and prune the file's history to the newest ``limit`` runs (thread-safe;
        ``background``: called off the GUI thread, see :meth:`RunRecord.save`)."""
        workflow_path = workflow_path if workflow_path is not None else record.path
        folder = self.folder(workflow_path)
        folder.mkdir(parents=True, exist_ok=True)
        record.save(folder / f"{record.run_id}.ndjson", background=background)
        with self._writing:
            return self._index(record, workflow_path, folder)

    def _index(self, record: RunRecord, workflow_path: str | None, folder: Path) -> dict[str, Any]:
        entry = {
            "run_id": record.run_id,
            "started_at": datetime.datetime.fromtimestamp(record.started_at).isoformat(timespec="seconds"),
            "ok": record.ok,
            "error": record.error,
            "duration_ms": round(record.duration_ms, 3),
            "events": len(record.events),
            "inputs": record.inputs,
        }
        started = record.started
        if started is not None and started.parent_run:  # started from a past run: listed under it
            entry.update(parent=started.parent_run, start_node=started.start_node, start_mode=started.start_mode)
        runs = [entry] + [r for r in self.entries(workflow_path) if r["run_id"] != record.run_id]
        kept, dropped = runs[: self.limit], runs[self.limit:]
        self._write_index(folder, workflow_path, kept)
        for old in dropped:
            (folder / f"{old['run_id']}.ndjson").unlink(missing_ok=True)
        return entry

    def load(self, workflow_path: str | None, run_id: str) -> RunRecord:
        record = RunRecord.load(self.folder(workflow_path) / f"{run_id}.ndjson", run_id=run_id)
        for entry in self.entries(workflow_path):
            if entry["run_id"] == run_id:
                record.inputs = dict(entry.get("inputs") or record.inputs)
        record.path = workflow_path
        return record

    def _write_index(self, folder: Path, workflow_path: str | None, runs: list[dict]) -> None:
        data = {"path": os.path.abspath(workflow_path) if workflow_path else None, "runs": runs}
        write_atomic(folder / INDEX, json.dumps(data, indent=1, default=repr, ensure_ascii=False))


class RunsPanel(QWidget):
    """The run history dock: the file's last runs, a run started from a past one listed under it. Open one onto
    the canvas, save it as NDJSON, or select two and compare them."""

    open_requested = Signal(str)  # run id
    save_requested = Signal(str)  # run id
    compare_requested = Signal(str, str)  # run ids: A (the older) and B

    def __init__(self, history: RunHistory, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.history = history
        self.workflow_path: str | None = None
        self.tree = QTreeWidget()
        self.tree.setObjectName("runsTree")
        self.tree.setHeaderLabels(["started", "result", "time", "events", "inputs"])
        self.tree.setUniformRowHeights(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._menu)
        self.tree.itemActivated.connect(lambda item, _c: self._emit(self.open_requested, item))  # double-click, Return
        self.tree.itemSelectionChanged.connect(self._selection_changed)
        self.open_button = QPushButton("Open")
        self.open_button.setToolTip("Show this run on the canvas, timeline, state and log")
        on_click(self.open_button.clicked, lambda: self._emit(self.open_requested, self.tree.currentItem()))
        self.compare_button = QPushButton("Compare")
        self.compare_button.setObjectName("compareRuns")
        self.compare_button.setToolTip("Select two runs (Ctrl+click) to compare them node by node")
        on_click(self.compare_button.clicked, self.compare_selected)
        self.save_button = QPushButton("Save as NDJSON…")
        on_click(self.save_button.clicked, lambda: self._emit(self.save_requested, self.tree.currentItem()))
        buttons = QHBoxLayout()
        for button in (self.open_button, self.compare_button, self.save_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tree, 1)
        layout.addLayout(buttons)
        self._selection_changed()

    def set_workflow_path(self, path: str | None) -> None:
        self.workflow_path = path
        self.refresh()

    def refresh(self) -> None:
        self.tree.clear()
        entries = self.history.entries(self.workflow_path)
        items: dict[str, QTreeWidgetItem] = {}
        for entry in reversed(entries):  # oldest first, so a parent is there before its children
            item = self._item(entry)
            items[entry["run_id"]] = item
            parent = items.get(entry.get("parent") or "")
            if parent is not None:
                parent.insertChild(0, item)  # newest child first, as at the top level
                parent.setExpanded(True)
            else:
                self.tree.insertTopLevelItem(0, item)
        for column in range(self.tree.columnCount() - 1):  # the inputs column stretches
            self.tree.resizeColumnToContents(column)
        self._selection_changed()

    @staticmethod
    def _item(entry: dict) -> QTreeWidgetItem:
        ok = entry.get("ok")
        start = entry.get("start_node")
        how = (f"only {start}: " if entry.get("start_mode") == "node" else f"from {start}: ") if start else ""
        item = QTreeWidgetItem([
            str(entry.get("started_at", "")).replace("T", " ")[:19],  # to the second
            "ok" if ok else ("failed" if ok is False else "?"),
            format_ms(float(entry.get("duration_ms") or 0)),
            str(entry.get("events", "")),
            how + preview(entry.get("inputs") or {}, 60),
        ])
        item.setData(0, Qt.ItemDataRole.UserRole, entry["run_id"])
        if start:
            item.setToolTip(0, f"Started {how[:-2]} with a state from run {entry.get('parent')}")
        if entry.get("error"):
            item.setToolTip(1, str(entry["error"]))
        return item

    def _all_items(self) -> list[QTreeWidgetItem]:
        found: list[QTreeWidgetItem] = []
        todo = [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]
        while todo:
            item = todo.pop(0)
            found.append(item)
            todo[:0] = [item.child(i) for i in range(item.childCount())]
        return found

    def run_ids(self) -> list[str]:
        """Every listed run, as shown from top to bottom (children under their parent)."""
        return [item.data(0, Qt.ItemDataRole.UserRole) for item in self._all_items()]

    def item_for(self, run_id: str) -> QTreeWidgetItem | None:
        return next((i for i in self._all_items() if i.data(0, Qt.ItemDataRole.UserRole) == run_id), None)

    def children_of(self, run_id: str) -> list[str]:
        item = self.item_for(run_id)
        return [item.child(i).data(0, Qt.ItemDataRole.UserRole) for i in range(item.childCount())] if item else []

    def selected_ids(self) -> list[str]:
        """The selected runs, oldest first (A of a comparison is the older run)."""
        order = {run_id: i for i, run_id in enumerate(e["run_id"] for e in self.history.entries(self.workflow_path))}
        ids = [item.data(0, Qt.ItemDataRole.UserRole) for item in self.tree.selectedItems()]
        return sorted(ids, key=lambda run_id: -order.get(run_id, 0))

    def compare_selected(self) -> bool:
        ids = self.selected_ids()
        if len(ids) != 2:
            return False
        self.compare_requested.emit(ids[0], ids[1])
        return True

    def _selection_changed(self) -> None:
        self.compare_button.setEnabled(len(self.tree.selectedItems()) == 2)

    def _menu(self, pos) -> None:
        item = self.tree.itemAt(pos)
        if item is None:
            return
        if not item.isSelected():
            self.tree.setCurrentItem(item)
        menu = QMenu(self)
        menu.setObjectName("runsMenu")
        for text, name, slot, enabled in (
                ("Open", "openRun", lambda: self._emit(self.open_requested, item), True),
                ("Compare Selected Runs", "compareRuns", self.compare_selected, len(self.tree.selectedItems()) == 2),
                ("Save as NDJSON…", "saveRun", lambda: self._emit(self.save_requested, item), True)):
            add_menu_item(menu, text, name, slot, enabled=enabled)
        self.menu = menu  # a test reaches the shown menu here
        menu.popup(self.tree.viewport().mapToGlobal(pos))

    def _emit(self, signal, item: QTreeWidgetItem | None) -> None:
        if item is not None:
            signal.emit(item.data(0, Qt.ItemDataRole.UserRole))
