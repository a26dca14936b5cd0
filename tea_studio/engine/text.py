"""Text from a workflow shown on a terminal or in the studio: terminal control sequences removed.

A node's ``print`` output or error message could otherwise move the cursor, rewrite earlier lines, set the window
title or hide text (ESC/CSI/OSC sequences, carriage returns, C1 controls).
"""

from __future__ import annotations

import re

_CONTROLS = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]?|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[PX^_][^\x1b]*(?:\x1b\\)?|.)?"
    r"|\x9b[0-?]*[ -/]*[@-~]?|\x9d[^\x07\x9c]*[\x07\x9c]?|[\x00-\x08\x0b-\x1f\x7f-\x9f]",
    re.S,
)
_LINE_BREAKS = re.compile(r"[\r\n\t]+")


def printable(text: str) -> str:
    """``text`` without terminal control sequences (newlines and tabs stay)."""
    if text.isprintable():
        return text
    return _CONTROLS.sub("", text)


def one_line(text: str) -> str:
    """``text`` as one printable line (an error message)."""
    if text.isprintable():
        return text
    return printable(_LINE_BREAKS.sub(" ", text)).strip()
