"""Autosave and crash recovery.

While a document has unsaved edits, :class:`Autosaver` writes a recovery copy of it into
``app_data_dir()/recovery`` within ``edit_delay_ms`` (2 s) of an edit, and every ``interval_ms`` (30 s). The copy is a small JSON file that records the original path,
the time, the process id and the YAML text. It is removed when the document is saved or closed cleanly (or undone
back to its saved state), so a recovery file that outlives its window means the studio did not close normally:
:func:`find_recoveries` lists those, and the window offers to restore them on the next start.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from tea_studio.studio.resources import app_data_dir
from tea_studio.workflow.files import write_atomic

SUFFIX = ".recovery.json"
DEFAULT_INTERVAL_MS = 30_000
EDIT_DELAY_MS = 2_000  # a kill loses at most this much of the user's work

# Recovery files owned by a live window of this process (they are not leftovers of a crash).
_owned: set[Path] = set()


@dataclass
class Recovery:
    """A recovery copy found on disk."""

    file: Path
    original_path: str | None
    saved_at: float
    text: str
    pid: int

    @property
    def title(self) -> str:
        return Path(self.original_path).name if self.original_path else "Untitled"

    def discard(self) -> None:
        remove_recovery(self.file)


def recovery_dir() -> Path:
    path = app_data_dir() / "recovery"
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_recovery(file: Path, text: str, original_path: str | None) -> Path:
    """Write (atomically) a recovery copy of ``text`` to ``file``."""
    record = {"original_path": original_path, "saved_at": time.time(), "pid": os.getpid(), "text": text}
    write_atomic(file, json.dumps(record))
    return file


def remove_recovery(file: Path) -> None:
    file.unlink(missing_ok=True)


def _process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def find_recoveries() -> list[Recovery]:
    """Recovery copies left behind by a studio that did not close normally, newest first."""
    found = []
    for file in recovery_dir().glob(f"*{SUFFIX}"):
        try:
            record = json.loads(file.read_text(encoding="utf-8"))
            recovery = Recovery(file=file, original_path=record.get("original_path"),
                                saved_at=float(record.get("saved_at", 0)), text=str(record["text"]),
                                pid=int(record.get("pid", 0)))
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if file in _owned and recovery.pid == os.getpid():
            continue  # a window of this process still works on it
        if recovery.pid != os.getpid() and _process_alive(recovery.pid):
            continue  # another running studio owns it
        found.append(recovery)
    return sorted(found, key=lambda r: r.saved_at, reverse=True)


class Autosaver(QObject):
    """Writes a recovery copy while ``is_dirty()`` holds: ``edit_delay_ms`` after an edit (:meth:`edited`; later
    edits in that time ride along) and every ``interval_ms``; removes it when clean.

    ``snapshot()`` returns ``(text, original_path)`` of the document. Call :meth:`discard` after a clean save or
    close; :meth:`save_now` writes (or removes) the copy immediately. ``failed(error)`` says a copy could not be
    written (editing goes on).
    """

    written = Signal(str)  # the recovery file
    failed = Signal(str)  # what went wrong

    def __init__(self, is_dirty: Callable[[], bool], snapshot: Callable[[], tuple[str, str | None]],
                 interval_ms: int = DEFAULT_INTERVAL_MS, parent: QObject | None = None, *,
                 edit_delay_ms: int = EDIT_DELAY_MS):
        super().__init__(parent)
        self._is_dirty = is_dirty
        self._snapshot = snapshot
        self.file = recovery_dir() / f"{uuid.uuid4().hex}{SUFFIX}"
        _owned.add(self.file)
        file = self.file
        # When the owner goes away without a clean close, the copy becomes a crash leftover.
        self.destroyed.connect(lambda *_: _owned.discard(file))
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.save_now)
        self.timer.start()
        self.edit_timer = QTimer(self)
        self.edit_timer.setSingleShot(True)
        self.edit_timer.setInterval(min(edit_delay_ms, interval_ms))
        self.edit_timer.timeout.connect(self.save_now)

    def edited(self) -> None:
        """The document changed: write the copy soon (not restarted by further edits, so typing cannot delay it)."""
        if not self.edit_timer.isActive():
            self.edit_timer.start()

    def set_interval(self, interval_ms: int) -> None:
        self.timer.setInterval(interval_ms)
        self.timer.start()

    def save_now(self) -> Path | None:
        """Write the recovery copy if there are unsaved edits (remove it otherwise); the file written or None."""
        if not self._is_dirty():
            self.discard()
            return None
        try:
            text, original_path = self._snapshot()
            written = write_recovery(self.file, text, original_path)
        except Exception as exc:  # noqa: BLE001 - reported; an autosave must never break editing
            self.failed.emit(str(exc) or type(exc).__name__)
            return None
        self.written.emit(str(written))
        return written

    def discard(self) -> None:
        remove_recovery(self.file)

    def stop(self) -> None:
        """Stop autosaving and remove the copy (the document was saved or closed cleanly)."""
        self.timer.stop()
        self.edit_timer.stop()
        self.discard()
        _owned.discard(self.file)
