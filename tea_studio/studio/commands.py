"""The undo command: one :class:`~tea_studio.workflow.edits.Edit` applied through the document.

The changes themselves live in :mod:`tea_studio.workflow.edits` (Qt-free); this module only adapts them to
``QUndoCommand``.
"""

from __future__ import annotations

from typing import Protocol

from PySide6.QtGui import QUndoCommand

from tea_studio.workflow.edits import Change, Edit, merge_changes


class ChangeTarget(Protocol):
    """What a command applies its changes through (the document, which emits the signals)."""

    def _apply_changes(self, changes: list[Change], forward: bool) -> None: ...


class WorkflowCommand(QUndoCommand):
    """An undoable edit: applies its changes forward on redo and backward (in reverse order) on undo.

    Commands with a merge id merge with the next command of the same id and the same merge key (moves of
    the same nodes, typing in the same node) until :meth:`close` is called. Re-entrant use (an edit started
    from a slot while the document applies another command) is refused by the document.
    """

    def __init__(self, target: ChangeTarget, edit: Edit) -> None:
        super().__init__(edit.text)
        self.target = target
        self.edit = edit
        self.closed = False

    @property
    def changes(self) -> list[Change]:
        return self.edit.changes

    def id(self) -> int:  # noqa: A003 - Qt's name
        return self.edit.merge_id

    def close(self) -> None:
        """Stop merging later commands into this one (e.g. at the end of a drag)."""
        self.closed = True

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt's name
        if (self.closed or not isinstance(other, WorkflowCommand) or other.id() != self.id()
                or other.edit.merge_key != self.edit.merge_key):
            return False
        return merge_changes(self.edit.changes, other.edit.changes)

    def redo(self) -> None:
        self.target._apply_changes(self.edit.changes, forward=True)

    def undo(self) -> None:
        self.target._apply_changes(self.edit.changes, forward=False)
