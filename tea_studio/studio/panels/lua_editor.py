"""The node code editor: Lua and Python highlighting, line numbers, live syntax errors.

``CodeEditor`` is a QPlainTextEdit with a line-number gutter. ~300 ms after the last keystroke it compiles Lua code
(``validation.lua_syntax_error``; Python is parsed with ``python_syntax_error``) and underlines the offending line
with a wave; the gutter marks it too. Typing emits ``code_edited(text)``; :meth:`CodeEditor.set_code` (programmatic) does not.
"""

from __future__ import annotations

import keyword
import re

from PySide6.QtCore import QRect, QRegularExpression, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QPainter,
    QPalette,
    QSyntaxHighlighter,
    QTextCharFormat,
    QTextCursor,
    QTextFormat,
)
from PySide6.QtWidgets import QPlainTextEdit, QTextEdit, QWidget

from tea_studio.studio.canvas.theme import canvas_theme, current_theme

LUA_KEYWORDS = (
    "and break do else elseif end false for function goto if in local nil not or repeat return then true "
    "until while"
).split()
LUA_BUILTINS = (
    "state print pairs ipairs next type tostring tonumber select error assert pcall xpcall setmetatable "
    "getmetatable rawget rawset rawequal rawlen unpack string table math utf8 coroutine"
).split()


PYTHON_BUILTINS = "state variables json print len range dict list str int float bool sum min max sorted".split()

SYNTAX_CHECK_DELAY_MS = 300

def _is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Base).lightness() < 128


def _format(colour: QColor, bold: bool = False, italic: bool = False) -> QTextCharFormat:
    fmt = QTextCharFormat()
    fmt.setForeground(colour)
    if bold:
        fmt.setFontWeight(QFont.Weight.Bold)
    fmt.setFontItalic(italic)
    return fmt


class CodeHighlighter(QSyntaxHighlighter):
    """Keyword, builtin, string, number and comment colouring for ``lua`` or ``python`` code."""

    # Block states for constructs spanning lines.
    NORMAL, LONG_COMMENT, LONG_STRING, TRIPLE_SINGLE, TRIPLE_DOUBLE = range(5)

    def __init__(self, document, language: str, dark: bool = False):
        super().__init__(document)
        self.language = language
        colours = canvas_theme("dark" if dark else "light").syntax_colours
        self.formats = {key: _format(colour, bold=key == "keyword", italic=key == "comment")
                        for key, colour in colours.items()}
        if language == "python":
            words, builtins, comment = keyword.kwlist, PYTHON_BUILTINS, r"#[^\n]*"
        else:
            words, builtins, comment = LUA_KEYWORDS, LUA_BUILTINS, r"--(?!\[\[)[^\n]*"
        self.rules = [
            (QRegularExpression(r"\b(" + "|".join(map(re.escape, words)) + r")\b"), self.formats["keyword"]),
            (QRegularExpression(r"\b(" + "|".join(map(re.escape, builtins)) + r")\b"), self.formats["builtin"]),
            (QRegularExpression(r"\b(0[xX][0-9a-fA-F]+|\d+\.?\d*([eE][-+]?\d+)?)\b"), self.formats["number"]),
            (QRegularExpression(r"\"([^\"\\]|\\.)*\"|'([^'\\]|\\.)*'"), self.formats["string"]),
            (QRegularExpression(comment), self.formats["comment"]),
        ]

    def highlightBlock(self, text: str) -> None:
        for pattern, fmt in self.rules:
            matches = pattern.globalMatch(text)
            while matches.hasNext():
                match = matches.next()
                self.setFormat(match.capturedStart(), match.capturedLength(), fmt)
        self.setCurrentBlockState(self.NORMAL)
        if self.language == "python":
            self._multiline(text, '"""', self.TRIPLE_DOUBLE, self.formats["string"])
            if self.currentBlockState() == self.NORMAL:
                self._multiline(text, "'''", self.TRIPLE_SINGLE, self.formats["string"])
        else:
            self._multiline(text, "--[[", self.LONG_COMMENT, self.formats["comment"], end="]]")
            if self.currentBlockState() == self.NORMAL:
                self._multiline(text, "[[", self.LONG_STRING, self.formats["string"], end="]]")

    def _multiline(self, text: str, start: str, state: int, fmt: QTextCharFormat, end: str | None = None) -> None:
        end = end or start
        index = 0 if self.previousBlockState() == state else text.find(start)
        skip = 0 if self.previousBlockState() == state else len(start)
        while index >= 0:
            close = text.find(end, index + skip)
            if close < 0:
                self.setCurrentBlockState(state)
                self.setFormat(index, len(text) - index, fmt)
                return
            length = close + len(end) - index
            self.setFormat(index, length, fmt)
            index = text.find(start, index + length)
            skip = len(start)


def _syntax_checker(language: str | None):
    """validation's ``lua_syntax_error`` or ``python_syntax_error`` for ``language`` (None for plain text)."""
    try:
        from tea_studio.workflow import validation
    except ImportError:
        return None
    return {"lua": getattr(validation, "lua_syntax_error", None),
            "python": getattr(validation, "python_syntax_error", None)}.get(language or "")


class LineNumberArea(QWidget):
    """The gutter left of the editor."""

    def __init__(self, editor: CodeEditor):
        super().__init__(editor)
        self.editor = editor

    def sizeHint(self) -> QSize:
        return QSize(self.editor.line_number_width(), 0)

    def paintEvent(self, event) -> None:
        self.editor.paint_line_numbers(event)


class CodeEditor(QPlainTextEdit):
    """Code editor for a node; ``language`` is ``lua``, ``python`` or None (plain text)."""

    code_edited = Signal(str)
    syntax_checked = Signal(object)  # (line, message) or None

    def __init__(self, parent: QWidget | None = None, language: str | None = "lua"):
        super().__init__(parent)
        self.language: str | None = None
        self.error: tuple[int, str] | None = None
        self.marked_line: int | None = None  # a line shown on purpose (a jump from the run log), 1-based
        self._highlighter: CodeHighlighter | None = None
        self._setting = False
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        font.setPointSize(max(font.pointSize(), 10))
        self.setFont(font)
        self.setTabStopDistance(self.fontMetrics().horizontalAdvance(" ") * 4)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.line_numbers = LineNumberArea(self)
        self.blockCountChanged.connect(self._update_gutter_width)
        self.updateRequest.connect(self._update_gutter)
        self._update_gutter_width()
        self.check_timer = QTimer(self)
        self.check_timer.setSingleShot(True)
        self.check_timer.setInterval(SYNTAX_CHECK_DELAY_MS)
        self.check_timer.timeout.connect(self.check_syntax)
        self.textChanged.connect(self._on_text_changed)
        self.set_language(language)

    # -- content ---------------------------------------------------------------------------------------
    def set_language(self, language: str | None) -> None:
        if language == self.language and self._highlighter is not None:
            return
        self.language = language
        self._rehighlight()
        self.check_syntax()

    def set_code(self, code: str | None) -> None:
        """Show ``code`` without emitting ``code_edited`` (keeps the cursor when the text is unchanged)."""
        code = code or ""
        if code == self.toPlainText():
            return
        self._setting = True
        try:
            position = self.textCursor().position()
            self.setPlainText(code)
            cursor = self.textCursor()
            cursor.setPosition(min(position, len(code)))
            self.setTextCursor(cursor)
        finally:
            self._setting = False
        self.check_syntax()

    def code(self) -> str:
        return self.toPlainText()

    def go_to_line(self, line: int) -> bool:
        """Put the cursor at the start of ``line`` (1-based), scroll it into the middle and highlight it."""
        block = self.document().findBlockByNumber(max(1, line) - 1)
        if not block.isValid():
            return False
        cursor = self.textCursor()
        cursor.setPosition(block.position())
        self.setTextCursor(cursor)
        self.centerCursor()
        self.marked_line = block.blockNumber() + 1
        self._show_error()
        return True

    def _on_text_changed(self) -> None:
        self.marked_line = None
        if self._setting:
            return
        self.check_timer.start()
        self.code_edited.emit(self.toPlainText())

    # -- syntax errors ---------------------------------------------------------------------------------
    def check_syntax(self) -> tuple[int, str] | None:
        """Compile the code now (Lua, or parse Python); underline the error line. Returns ``(line, message)`` or None."""
        self.check_timer.stop()
        error = None
        checker = _syntax_checker(self.language)
        if checker is not None and self.toPlainText().strip():
            error = checker(self.toPlainText())
        self.error = error
        self._show_error()
        self.syntax_checked.emit(error)
        return error

    def _show_error(self) -> None:
        selections = []
        marked = self.document().findBlockByNumber(self.marked_line - 1) if self.marked_line else None
        if marked is not None and marked.isValid():
            selection = QTextEdit.ExtraSelection()
            selection.format.setBackground(current_theme().marked_line)
            selection.format.setProperty(QTextFormat.Property.FullWidthSelection, True)
            selection.cursor = QTextCursor(marked)
            selections.append(selection)
        if self.error is not None:
            block = self.document().findBlockByNumber(max(self.error[0], 1) - 1)
            if block.isValid():
                selection = QTextEdit.ExtraSelection()
                selection.format.setUnderlineStyle(QTextCharFormat.UnderlineStyle.WaveUnderline)
                selection.format.setUnderlineColor(current_theme().error)
                selection.format.setToolTip(self.error[1])
                cursor = QTextCursor(block)
                cursor.movePosition(QTextCursor.MoveOperation.EndOfBlock, QTextCursor.MoveMode.KeepAnchor)
                if not cursor.hasSelection():  # an empty line: underline the whole row
                    selection.format.setProperty(QTextFormat.Property.FullWidthSelection, True)
                    error = QColor(current_theme().error)
                    error.setAlpha(40)
                    selection.format.setBackground(error)
                selection.cursor = cursor
                selections.append(selection)
        self.setExtraSelections(selections)
        self.setToolTip(f"line {self.error[0]}: {self.error[1]}" if self.error else "")
        self.line_numbers.update()

    # -- theme -------------------------------------------------------------------------------------------
    def _rehighlight(self) -> None:
        if self._highlighter is not None:
            self._highlighter.setDocument(None)
            self._highlighter = None
        if self.language in ("lua", "python"):
            self._highlighter = CodeHighlighter(self.document(), self.language, _is_dark(self.palette()))

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() in (event.Type.PaletteChange, event.Type.StyleChange):
            self._rehighlight()

    # -- gutter ----------------------------------------------------------------------------------------
    def line_number_width(self) -> int:
        digits = len(str(max(1, self.blockCount())))
        return 12 + self.fontMetrics().horizontalAdvance("9") * max(digits, 2)

    def _update_gutter_width(self, *_args) -> None:
        self.setViewportMargins(self.line_number_width(), 0, 0, 0)

    def _update_gutter(self, rect: QRect, dy: int) -> None:
        if dy:
            self.line_numbers.scroll(0, dy)
        else:
            self.line_numbers.update(0, rect.y(), self.line_numbers.width(), rect.height())
        if rect.contains(self.viewport().rect()):
            self._update_gutter_width()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        area = self.contentsRect()
        self.line_numbers.setGeometry(QRect(area.left(), area.top(), self.line_number_width(), area.height()))

    def paint_line_numbers(self, event) -> None:
        painter = QPainter(self.line_numbers)
        palette = self.palette()
        painter.fillRect(event.rect(), palette.color(QPalette.ColorRole.AlternateBase))
        block = self.firstVisibleBlock()
        number = block.blockNumber()
        top = round(self.blockBoundingGeometry(block).translated(self.contentOffset()).top())
        bottom = top + round(self.blockBoundingRect(block).height())
        error_line = self.error[0] if self.error else None
        width = self.line_numbers.width() - 6
        height = self.fontMetrics().height()
        while block.isValid() and top <= event.rect().bottom():
            if block.isVisible() and bottom >= event.rect().top():
                if number + 1 == error_line:
                    error = current_theme().error
                    painter.fillRect(0, top, self.line_numbers.width(), height,
                                     QColor(error.red(), error.green(), error.blue(), 90))
                    painter.setPen(error)
                else:
                    painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
                painter.drawText(0, top, width, height, Qt.AlignmentFlag.AlignRight, str(number + 1))
            block = block.next()
            top = bottom
            bottom = top + round(self.blockBoundingRect(block).height())
            number += 1
        painter.end()
