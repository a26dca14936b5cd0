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
    QHBoxLayout,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from tea_studio.studio.actions import on_click
from tea_studio.studio.live_run import RunRecord, format_ms
from tea_studio.studio.panels.state_view import preview
from tea_studio.workflow.files import write_atomic

HISTORY_LIMIT = 20
INDEX = "index.json"


def data_dir() -> Path:
    """The studio's data folder (``TEA_STUDIO_DATA_DIR`` when set)."""
    from tea_studio.studio.resources import app_data_dir

    return app_data_dir()


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
        return self._root if self._root is not None else data_dir() / "runs"

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
    """The run history dock: the file's last runs; open one onto the canvas or save it as NDJSON."""

    open_requested = Signal(str)  # run id
    save_requested = Signal(str)  # run id

    def __init__(self, history: RunHistory, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.history = history
        self.workflow_path: str | None = None
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["started", "result", "time", "events", "inputs"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.itemDoubleClicked.connect(lambda item, _c: self._emit(self.open_requested, item))
        self.open_button = QPushButton("Open")
        self.open_button.setToolTip("Show this run on the canvas, timeline, state and log")
        on_click(self.open_button.clicked, lambda: self._emit(self.open_requested, self.tree.currentItem()))
        self.save_button = QPushButton("Save as NDJSON…")
        on_click(self.save_button.clicked, lambda: self._emit(self.save_requested, self.tree.currentItem()))
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.save_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tree, 1)
        layout.addLayout(buttons)

    def set_workflow_path(self, path: str | None) -> None:
        self.workflow_path = path
        self.refresh()

    def refresh(self) -> None:
        self.tree.clear()
        for entry in self.history.entries(self.workflow_path):
            ok = entry.get("ok")
            item = QTreeWidgetItem([
                str(entry.get("started_at", "")).replace("T", " "),
                "ok" if ok else ("failed" if ok is False else "?"),
                format_ms(float(entry.get("duration_ms") or 0)),
                str(entry.get("events", "")),
                preview(entry.get("inputs") or {}, 60),
            ])
            item.setData(0, Qt.ItemDataRole.UserRole, entry["run_id"])
            if entry.get("error"):
                item.setToolTip(1, str(entry["error"]))
            self.tree.addTopLevelItem(item)

    def run_ids(self) -> list[str]:
        return [self.tree.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole)
                for i in range(self.tree.topLevelItemCount())]

    def _emit(self, signal, item: QTreeWidgetItem | None) -> None:
        if item is not None:
            signal.emit(item.data(0, Qt.ItemDataRole.UserRole))
