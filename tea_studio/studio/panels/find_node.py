"""The toolbar's "Find node…" field: completes node names, and Enter selects the node that matches best."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCompleter, QLineEdit


def best_match(names: list[str], text: str) -> str | None:
    """The node called ``text``, else the one whose name equals it ignoring case, else the first containing it."""
    text = text.strip()
    if not text:
        return None
    lowered = text.lower()
    return (next((n for n in names if n == text), None)
            or next((n for n in names if n.lower() == lowered), None)
            or next((n for n in names if lowered in n.lower()), None))


class FindNodeField(QLineEdit):
    """Calls ``found(name)`` for the best match of the text on Enter, or ``missing(text)`` when none matches."""

    def __init__(self, names: Callable[[], list[str]], found: Callable[[str], object],
                 missing: Callable[[str], object], parent=None) -> None:
        super().__init__(parent)
        self._names = names
        self._found = found
        self._missing = missing
        self.setObjectName("findNode")
        self.setPlaceholderText("Find node…")
        self.setClearButtonEnabled(True)
        self.setMaximumWidth(220)
        self.completer_ = QCompleter([], self)
        self.completer_.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer_.setFilterMode(Qt.MatchFlag.MatchContains)
        self.setCompleter(self.completer_)
        self.returnPressed.connect(lambda: self.find(self.text()))

    def refresh_names(self) -> None:
        self.completer_.model().setStringList([n for n in self._names() if n])

    def find(self, text: str) -> str | None:
        """Select the best match of ``text``; its name, or None (and ``missing``) when nothing matches."""
        if not text.strip():
            return None
        match = best_match(self._names(), text)
        if match is None:
            self._missing(text.strip())
            return None
        self._found(match)
        return match

    def focus(self) -> None:
        self.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.selectAll()
