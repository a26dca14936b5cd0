"""A known trap: PySide6 6.12.0 on CPython 3.11 drops a reference to None on every void Qt call.

Painting apps then abort with ``Fatal Python error: none_dealloc`` after enough calls. The studio pins
PySide6 below 6.12; these tests fail loudly if a broken build is installed.
"""

import sys

import PySide6
import pytest
from PySide6.QtCore import QRect
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QWidget

CALLS = 10_000
SLACK = 50  # other threads and caches may take or drop a few references meanwhile


def test_installed_pyside6_is_not_the_broken_release():
    assert PySide6.__version__ != "6.12.0", "PySide6 6.12.0 corrupts None's refcount on CPython 3.11"


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None is immortal from CPython 3.12 on")
def test_void_qt_calls_keep_the_refcount_of_none(qtbot):
    widget = QWidget()
    qtbot.addWidget(widget)
    image = QImage(64, 64, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    colour = QColor("#1a73e8")
    rect = QRect(2, 2, 20, 20)
    before = sys.getrefcount(None)
    for i in range(CALLS // 4):
        widget.setVisible(False)  # void calls on a widget ...
        widget.update()
        painter.fillRect(rect, colour)  # ... and on a painter
        painter.drawLine(0, 0, i % 64, 63)
    after = sys.getrefcount(None)
    painter.end()
    assert before - after <= SLACK, f"None lost {before - after} references over {CALLS} void Qt calls"
    assert image.pixelColor(5, 5) == colour  # the calls really painted
