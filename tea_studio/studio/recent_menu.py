"""File › Open Recent: the files last opened or saved that still exist, newest first."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QMenu

from tea_studio.studio.actions import on_click


class RecentFilesMenu(QMenu):
    """Filled from ``files.recent_files()`` each time it opens; choosing one opens it through ``files``."""

    def __init__(self, files, parent=None) -> None:
        super().__init__("Open &Recent", parent)
        self.files = files
        self.aboutToShow.connect(self.fill)
        self.fill()

    def fill(self) -> None:
        self.clear()
        paths = [f for f in self.files.recent_files() if Path(f).is_file()]
        for path in paths:
            action = self.addAction(Path(path).name)
            action.setToolTip(path)
            action.setStatusTip(path)
            on_click(action.triggered, lambda p=path: self.files.open_file(p))
        if not paths:
            self.addAction("(none)").setEnabled(False)
        else:
            self.addSeparator()
            self.addAction("Clear list", self.files.clear_recent_files)
