"""Validation of the open document: shortly after each edit, and on demand (a run checks before it starts)."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

VALIDATION_DELAY_MS = 300


class Validator(QObject):
    """Validates ``document`` ``delay_ms`` after the last edit; ``validated(problems)`` follows each check.

    The last result is kept with the document revision it belongs to, so a run started right after does not
    check the same revision again.
    """

    validated = Signal(list)

    def __init__(self, document, delay_ms: int = VALIDATION_DELAY_MS, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(delay_ms)
        self.timer.timeout.connect(self.validate_now)
        self._checked: tuple[int, object, list] | None = None  # (revision, workflow, problems)
        document.workflow_changed.connect(self.timer.start)

    def validate_now(self) -> list:
        """Validate the document now; the problems (also sent as ``validated``)."""
        from tea_studio.workflow.validation import validate

        self.timer.stop()
        workflow = self.document.workflow
        problems = validate(workflow)
        self._checked = (self.document.revision, workflow, problems)
        self.validated.emit(problems)
        return problems

    def problems_for(self, workflow) -> list:
        """The problems of ``workflow``: the last check's when it was of this very revision, else checked now."""
        checked = self._checked
        if checked and checked[0] == self.document.revision and checked[1] is workflow:
            return checked[2]
        from tea_studio.workflow.validation import validate

        return validate(workflow)
