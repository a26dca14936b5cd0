"""The state dock: the state after a node execution as a tree, coloured by its diff from the state before;
and the fan-in section, listing branch results as they land (arrival order) and in declaration order once joined.
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from tea_studio.engine.record import FanInInfo, FanInResult, RunDelta, RunModel, format_ms
from tea_studio.studio.canvas.theme import DIFF_TINTS, current_theme

ADDED, CHANGED, REMOVED, SAME = "added", "changed", "removed", "same"
DIFF_COLOURS = {kind: DIFF_TINTS[kind] for kind in (ADDED, CHANGED, REMOVED)}
MAX_CHILDREN = 500
_MISSING = object()


def preview(value: Any, limit: int = 80) -> str:
    """A one-line JSON-like rendering of a value, cut at ``limit`` characters (stops walking once it is long)."""
    parts: list[str] = []
    size = 0

    def put(text: str) -> bool:
        nonlocal size
        parts.append(text)
        size += len(text)
        return size <= limit

    def walk(item: Any) -> bool:
        if isinstance(item, dict):
            if not put("{"):
                return False
            for n, (key, child) in enumerate(item.items()):
                if not put((", " if n else "") + json.dumps(str(key), ensure_ascii=False) + ": ") or not walk(child):
                    return False
            return put("}")
        if isinstance(item, (list, tuple)):
            if not put("["):
                return False
            for n, child in enumerate(item):
                if (n and not put(", ")) or not walk(child):
                    return False
            return put("]")
        try:
            return put(json.dumps(item, ensure_ascii=False))
        except (TypeError, ValueError):
            return put(repr(item))

    walk(value)
    text = "".join(parts)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def diff_states(before: dict | None, after: dict | None) -> dict[str, str]:
    """Top-level keys -> added / changed / removed (unchanged keys are left out)."""
    before, after = before or {}, after or {}
    changes = {key: ADDED for key in after if key not in before}
    changes.update({key: REMOVED for key in before if key not in after})
    changes.update({key: CHANGED for key in after if key in before and before[key] != after[key]})
    return changes


def _children(value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [(str(k), v) for k, v in value.items()]
    if isinstance(value, (list, tuple)):
        return [(f"[{i + 1}]", v) for i, v in enumerate(value)]
    return []


class StateView(QWidget):
    """A state as a tree (key, value) with added / changed / removed keys coloured against the state before."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("Click a node or a timeline bar to see its state")
        self.title.setWordWrap(True)
        self.changes_only = QCheckBox("Changes only")
        self.changes_only.toggled.connect(self._render)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["key", "value"])
        self.tree.setColumnWidth(0, 160)
        self.tree.setUniformRowHeights(True)
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.changes_only)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.tree, 1)
        self.before: dict | None = None
        self.after: dict | None = None
        self.changes: dict[str, str] = {}

    def show_state(self, title: str, after: dict | None, before: dict | None = None) -> None:
        self.title.setText(title)
        self.before, self.after = before, after
        self.changes = diff_states(before, after) if before is not None else {}
        self._render()

    def clear(self) -> None:
        self.show_state("Click a node or a timeline bar to see its state", None)

    def counts(self) -> dict[str, int]:
        """How many top-level keys were added, changed and removed."""
        result = {ADDED: 0, CHANGED: 0, REMOVED: 0}
        for kind in self.changes.values():
            result[kind] += 1
        return result

    def item_for(self, key: str) -> QTreeWidgetItem | None:
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item.text(0) == key:
                return item
        return None

    def _render(self) -> None:
        self.tree.clear()
        after, before = self.after or {}, self.before or {}
        keys = list(after) + [k for k in before if k not in after]
        only = self.changes_only.isChecked()
        items = []
        for key in keys:
            kind = self.changes.get(key, SAME)
            if only and kind == SAME:
                continue
            value = before[key] if kind == REMOVED else after[key]
            item = self._item(str(key), value, kind)
            if kind == CHANGED:
                item.setToolTip(1, f"was: {preview(before.get(key), 400)}")
                self._add_children(item, value, before.get(key, _MISSING))
            else:
                self._add_children(item, value, _MISSING)
            items.append(item)
        self.tree.addTopLevelItems(items)
        if len(items) <= 20:
            for item in items:
                item.setExpanded(item.childCount() <= 10)

    def _item(self, key: str, value: Any, kind: str) -> QTreeWidgetItem:
        item = QTreeWidgetItem([key, preview(value, 200)])
        item.setData(0, Qt.ItemDataRole.UserRole, kind)
        colour = DIFF_COLOURS.get(kind)
        if colour is not None:
            for column in (0, 1):
                item.setBackground(column, QBrush(colour))
            item.setToolTip(0, kind)
        if kind == REMOVED:
            font = QFont(item.font(0))
            font.setStrikeOut(True)
            item.setFont(0, font)
            item.setFont(1, font)
        return item

    def _add_children(self, parent: QTreeWidgetItem, value: Any, old: Any) -> None:
        children = _children(value)
        old_map = dict(_children(old)) if old is not _MISSING else None
        for n, (key, child) in enumerate(children):
            if n >= MAX_CHILDREN:
                parent.addChild(QTreeWidgetItem([f"… {len(children) - MAX_CHILDREN} more", ""]))
                break
            kind = SAME
            if old_map is not None:
                kind = ADDED if key not in old_map else (CHANGED if old_map[key] != child else SAME)
            item = self._item(key, child, kind)
            parent.addChild(item)
            self._add_children(item, child, old_map.get(key, _MISSING) if old_map and kind == CHANGED else _MISSING)


class FanInView(QTreeWidget):
    """Fan-in nodes with their branch results: branch, ok/error, time, state preview."""

    result_selected = Signal(object)  # FanInResult

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setHeaderLabels(["fan-in / branch", "result", "time", "state"])
        self.setColumnWidth(0, 150)
        self.setUniformRowHeights(True)
        self.model: RunModel | None = None
        self._items: dict[str, QTreeWidgetItem] = {}
        self._shown: dict[str, list[FanInResult]] = {}  # the rows under each fan-in, without asking the tree
        self.itemClicked.connect(self._clicked)

    def set_model(self, model: RunModel | None) -> None:
        self.model = model
        self.clear()
        self._items.clear()
        self._shown.clear()
        if model is not None:
            for fan_in in model.fan_ins.values():
                self._show(fan_in)

    def apply(self, delta: RunDelta) -> None:
        for fan_in in delta.fan_ins.values():
            self._show(fan_in)

    def rows(self, node: str) -> list[tuple[str, str]]:
        """(branch, ok|error) as listed under a fan-in node."""
        item = self._items.get(node)
        if item is None:
            return []
        return [(item.child(i).text(0), item.child(i).text(1)) for i in range(item.childCount())]

    def _show(self, fan_in: FanInInfo) -> None:
        """Add the results that landed since the last tick; re-order once, when the fan-in has joined."""
        item = self._items.get(fan_in.node)
        if item is None:
            item = self._items[fan_in.node] = QTreeWidgetItem(self)
            item.setExpanded(True)
        done, total = fan_in.progress
        item.setText(0, fan_in.node)
        item.setText(1, f"{done}/{total}" + (" joined" if fan_in.joined else ""))
        listed = fan_in.listed()
        shown = self._shown.setdefault(fan_in.node, [])
        if shown != listed[: len(shown)]:  # joined (declaration order) or a new fork of the same fan-in
            rows = {id(result): row for result, row in zip(shown, item.takeChildren(), strict=True)}
            kept = [result for result in listed if id(result) in rows]
            item.addChildren([rows[id(result)] for result in kept])  # re-ordered, not rebuilt
            shown[:] = kept
            if shown != listed[: len(shown)]:  # a new fork: results of the old one are gone
                item.takeChildren()
                shown.clear()
        if len(listed) > len(shown):
            item.addChildren([self._row(result) for result in listed[len(shown):]])
            shown.extend(listed[len(shown):])

    def _row(self, result: FanInResult) -> QTreeWidgetItem:
        state = self.model.branch_state(result) if self.model is not None and result.ok else None
        row = QTreeWidgetItem([result.branch, "ok" if result.ok else "error", format_ms(result.timing_ms),
                               preview(state) if result.ok else (result.error or "")])
        row.setData(0, Qt.ItemDataRole.UserRole, result)
        if not result.ok:
            row.setForeground(1, QBrush(current_theme().error))
            row.setToolTip(3, result.error or "")
        return row

    def _clicked(self, item: QTreeWidgetItem, _column: int) -> None:
        result = item.data(0, Qt.ItemDataRole.UserRole)
        if isinstance(result, FanInResult):
            self.result_selected.emit(result)


class StateDock(QSplitter):
    """The state dock's widget: the state tree above the fan-in results."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Vertical, parent)
        self.state = StateView()
        self.fan_in = FanInView()
        self.addWidget(self.state)
        self.addWidget(self.fan_in)
        self.setStretchFactor(0, 3)
        self.setStretchFactor(1, 2)
        self.setChildrenCollapsible(False)
