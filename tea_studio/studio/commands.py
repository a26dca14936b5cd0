"""Undo commands: every edit of a workflow is a list of reversible changes applied through the document.

A change records the old and the new value of one thing it replaces (a node attribute, the edges list, the
positions mapping, a top-level field) or the node it inserts/removes with its index. Changes never mutate a
captured value in place, so undoing restores exactly the objects (and hence the text) that were there before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QUndoCommand

from tea_studio.workflow.model import Node, Workflow

if TYPE_CHECKING:
    from tea_studio.studio.document import EditableWorkflow

# Command ids for QUndoCommand.id()/mergeWith(): consecutive commands with the same id may merge.
MOVE_ID = 1
CODE_ID = 2


@dataclass
class ChangeEvents:
    """What an applied list of changes touched, so the document can emit fine-grained signals."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    renamed: list[tuple[str, str]] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)
    nodes: bool = False  # the node list or a name changed (name index must be rebuilt)
    routes: bool = False
    settings: bool = False
    config: bool = False


class Change:
    """One reversible replacement inside a workflow."""

    def apply(self, workflow: Workflow, forward: bool, events: ChangeEvents) -> None:
        raise NotImplementedError

    def absorb(self, later: Change) -> bool:
        """Take ``later``'s end value when both change the same thing (used when merging commands)."""
        return False


@dataclass
class NodeInsert(Change):
    """Insert ``node`` at ``index`` (``insert=False``: remove it from there)."""

    index: int
    node: Node
    insert: bool = True

    def apply(self, workflow: Workflow, forward: bool, events: ChangeEvents) -> None:
        events.nodes = True
        events.routes = True
        if forward == self.insert:
            workflow.nodes.insert(self.index, self.node)
            events.added.append(self.node.name)
        else:
            taken = workflow.nodes.pop(self.index)
            assert taken is self.node, "node list out of step with the undo stack"
            events.removed.append(self.node.name)


@dataclass
class NodeAttr(Change):
    """Replace one attribute of a node object."""

    node: Node
    attr: str
    old: Any
    new: Any

    def apply(self, workflow: Workflow, forward: bool, events: ChangeEvents) -> None:
        value = self.new if forward else self.old
        setattr(self.node, self.attr, value)
        if self.attr == "name":
            events.nodes = True
            events.routes = True
            events.renamed.append((self.old, self.new) if forward else (self.new, self.old))
            return
        if self.attr == "goto":
            events.routes = True
        events.changed.append(self.node.name)

    def absorb(self, later: Change) -> bool:
        if isinstance(later, NodeAttr) and later.node is self.node and later.attr == self.attr:
            self.new = later.new
            return True
        return False


@dataclass
class EdgeList(Change):
    """Replace the whole ``edges`` list (the edge objects themselves are never mutated)."""

    old: list
    new: list

    def apply(self, workflow: Workflow, forward: bool, events: ChangeEvents) -> None:
        workflow.edges = list(self.new if forward else self.old)
        events.routes = True


@dataclass
class Positions(Change):
    """Replace the positions mapping; ``names`` are the nodes whose position differs."""

    old: dict
    new: dict
    names: list[str]

    def apply(self, workflow: Workflow, forward: bool, events: ChangeEvents) -> None:
        workflow.layout.positions = dict(self.new if forward else self.old)
        events.moved.extend(self.names)

    def absorb(self, later: Change) -> bool:
        if isinstance(later, Positions):
            self.new = later.new
            self.names = list(dict.fromkeys([*self.names, *later.names]))
            return True
        return False


@dataclass
class Pins(Change):
    """Replace the pinned outputs (``x-tea-studio`` pins); ``names`` are the nodes whose pin differs."""

    old: dict
    new: dict
    names: list[str]

    def apply(self, workflow: Workflow, forward: bool, events: ChangeEvents) -> None:
        workflow.layout.pins = dict(self.new if forward else self.old)
        events.changed.extend(self.names)


@dataclass
class WorkflowAttr(Change):
    """Replace a top-level field of the workflow (name, description, settings, config, ...)."""

    attr: str
    old: Any
    new: Any

    def apply(self, workflow: Workflow, forward: bool, events: ChangeEvents) -> None:
        setattr(workflow, self.attr, self.new if forward else self.old)
        if self.attr == "config":
            events.config = True
        events.settings = True


class WorkflowCommand(QUndoCommand):
    """An undoable edit: applies its changes forward on redo and backward (in reverse order) on undo.

    Commands with a merge id merge with the next command of the same id and the same ``merge_key`` (moves of
    the same nodes, typing in the same node) until :meth:`close` is called. Re-entrant use (an edit started
    from a slot while the document applies another command) is refused by the document.
    """

    def __init__(self, document: EditableWorkflow, text: str, changes: list[Change], merge_id: int = -1,
                 merge_key: Any = None) -> None:
        super().__init__(text)
        self.document = document
        self.changes = changes
        self._merge_id = merge_id
        self.merge_key = merge_key
        self.closed = False

    def id(self) -> int:  # noqa: A003 - Qt's name
        return self._merge_id

    def close(self) -> None:
        """Stop merging later commands into this one (e.g. at the end of a drag)."""
        self.closed = True

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt's name
        if (self.closed or not isinstance(other, WorkflowCommand) or other.id() != self.id()
                or other.merge_key != self.merge_key or len(other.changes) != len(self.changes)):
            return False
        if not all(type(mine) is type(theirs) for mine, theirs in zip(self.changes, other.changes, strict=True)):
            return False
        if isinstance(self.changes[0], NodeAttr) and any(
                mine.node is not theirs.node for mine, theirs in zip(self.changes, other.changes, strict=True)):
            return False
        for mine, theirs in zip(self.changes, other.changes, strict=True):
            mine.absorb(theirs)
        return True

    def redo(self) -> None:
        self.document._apply_changes(self.changes, forward=True)

    def undo(self) -> None:
        self.document._apply_changes(list(reversed(self.changes)), forward=False)
