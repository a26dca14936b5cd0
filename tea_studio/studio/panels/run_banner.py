"""The failed-run banner: a strip across the top of the canvas that stays until the next run or until closed.

A failure used to live six seconds in the status bar. The banner names the error and offers to show it in the log
and, when the error has a Lua line, to open the node's code at that line.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

from tea_studio.studio.actions import on_click

HEIGHT = 34


class RunBanner(QFrame):
    """Shown over the top of ``canvas`` (a QGraphicsView) after a failed run."""

    show_log_requested = Signal()
    line_requested = Signal(str, int)  # node, Lua line

    def __init__(self, canvas: QWidget) -> None:
        super().__init__(canvas)
        self.setObjectName("runBanner")
        self.setAutoFillBackground(True)  # its colours are the theme's (resources/themes/*.qss, #runBanner)
        self.canvas = canvas
        self.node: str | None = None
        self.line: int | None = None
        self.message = QLabel(self)
        self.message.setObjectName("runBannerText")
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.log_button = QPushButton("Show in Log", self)
        self.log_button.setObjectName("runBannerLog")
        self.line_button = QPushButton("Go to Line", self)
        self.line_button.setObjectName("runBannerLine")
        close = QToolButton(self)
        close.setObjectName("runBannerClose")
        close.setText("×")
        close.setAutoRaise(True)
        close.setToolTip("Hide (the next run hides it too)")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 3, 6, 3)
        layout.addWidget(self.message, 1)
        layout.addWidget(self.log_button)
        layout.addWidget(self.line_button)
        layout.addWidget(close)
        on_click(self.log_button.clicked, self.show_log_requested.emit)
        on_click(self.line_button.clicked, lambda: self.line_requested.emit(self.node, self.line))
        on_click(close.clicked, self.hide)
        canvas.installEventFilter(self)
        self.hide()

    def show_failure(self, error: str, node: str | None = None, line: int | None = None) -> None:
        """Show ``error`` (from ``node``, at its Lua ``line`` when known) until the next run or a click on ×."""
        self.node, self.line = node, line
        said = node is not None and f"'{node}'" in error  # engine errors usually name the node already
        where = f" at node '{node}'" + (f" line {line}" if line else "") if node and not said else ""
        text = f"Run failed{where}: {error}"
        self.setToolTip(text)
        self.message.setProperty("fullText", text)
        self.line_button.setVisible(bool(node and line))
        self._place()
        self.show()
        self.raise_()

    def text(self) -> str:
        return self.message.property("fullText") or ""

    def _place(self) -> None:
        self.setGeometry(0, 0, self.canvas.width(), HEIGHT)
        self._elide()

    def _elide(self) -> None:
        self.message.setText(QFontMetrics(self.message.font()).elidedText(
            self.text().replace("\n", " "), Qt.TextElideMode.ElideRight, max(40, self.message.width())))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if watched is self.canvas and event.type() == QEvent.Type.Resize and self.isVisible():
            self._place()
        return False

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._elide()
