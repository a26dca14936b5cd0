"""One node execution side by side: the state it received, the update it returned and the state after it.

Select a node on the canvas or a bar on the timeline: the three trees show that execution, the keys the node changed
first (and tinted as the state dock tints them), so what a node did reads at a glance.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSplitter, QVBoxLayout, QWidget

from tea_studio.studio.panels.state_view import StateView, diff_states

PROMPT = "Select a node or a timeline bar to see what it received and returned"


def changed_first(state: dict | None, changed: list[str]) -> dict | None:
    """``state`` with the ``changed`` keys moved to the front (otherwise in its own order)."""
    if state is None:
        return None
    front = [k for k in changed if k in state]
    return {**{k: state[k] for k in front}, **{k: v for k, v in state.items() if k not in front}}


class NodeIOView(QWidget):
    """Received | Returned | After, for one execution."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel(PROMPT)
        self.title.setObjectName("nodeIOTitle")
        self.title.setWordWrap(True)
        self.received, self.returned, self.after = StateView(), StateView(), StateView()
        columns = QSplitter(Qt.Orientation.Horizontal)
        for view in (self.received, self.returned, self.after):
            view.changes_only.hide()
            columns.addWidget(view)
        columns.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addWidget(self.title)
        layout.addWidget(columns, 1)
        self.clear()

    def show_execution(self, title: str, received: dict | None, returned: Any, after: dict | None) -> None:
        """Show one execution; ``returned`` is the node's update (None when it failed or returned nothing)."""
        self.title.setText(title)
        changed = list(returned) if isinstance(returned, dict) else []
        changed += [k for k in diff_states(received, after) if k not in changed]
        self.received.show_state("Received", changed_first(received, changed))
        self.returned.show_state("Returned" if returned is not None else "Returned nothing",
                                 returned if isinstance(returned, dict) else
                                 ({"value": returned} if returned is not None else None))
        self.after.show_state("After", changed_first(after, changed), received)

    def clear(self) -> None:
        self.title.setText(PROMPT)
        for view, heading in ((self.received, "Received"), (self.returned, "Returned"), (self.after, "After")):
            view.show_state(heading, None)

    def keys(self, column: str) -> list[str]:
        """The top-level keys shown in ``column`` ("received", "returned" or "after"), top to bottom."""
        tree = getattr(self, column).tree
        return [tree.topLevelItem(i).text(0) for i in range(tree.topLevelItemCount())]
