"""Routes that mislead, found as the user draws them: a false fan-out warns on the canvas and in the Problems dock;
reliance on list order is noted once, without marking any node."""

from __future__ import annotations

from fixtures_window import *  # noqa: F403
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest

UNWIRED = """\
name: fan
nodes:
  - name: split
  - name: a
    goto: merge
  - name: b
    goto: merge
  - name: c
    goto: merge
  - name: merge
    fan_in: true
    goto: __end__
x-tea-studio:
  positions:
    split: [0, 100]
    a: [300, 0]
    b: [300, 100]
    c: [300, 200]
    merge: [600, 100]
"""


def drag(view, start: QPointF, end: QPointF) -> None:
    viewport = view.viewport()
    a, b = view.mapFromScene(start), view.mapFromScene(end)
    QTest.mouseMove(viewport, a)
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, a)
    for i in range(1, 7):
        QTest.mouseMove(viewport, QPoint(a.x() + (b.x() - a.x()) * i // 6, a.y() + (b.y() - a.y()) * i // 6))
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, b)


def test_drawing_three_plain_routes_out_of_one_node_warns_that_it_is_not_a_fork(make_window, tmp_path, qtbot):
    path = tmp_path / "fan.yaml"
    path.write_text(UNWIRED, encoding="utf-8")
    window = make_window(path)
    window.fit_all()
    split = window.scene.node_item("split")
    for target in ("a", "b", "c"):
        drag(window.view, split.out_point(), window.scene.node_item(target).centre())
    assert [(e.source, e.target) for e in window.workflow.edges] == [("split", t) for t in "abc"]
    qtbot.waitUntil(lambda: window.problems.row_for("MULTIPLE_UNCONDITIONAL_ROUTES", "split") is not None,
                    timeout=3000)
    assert window.problems.row_for("MULTIPLE_UNCONDITIONAL_ROUTES", "merge") is not None
    warnings = [message for _severity, message in split.problems]
    assert any("only the first, to 'a'" in message for message in warnings)
    assert "only the first" in split.toolTip()
    assert window.scene.node_item("merge").problems  # the fan-in the plain flow reaches
    assert window.problems.row_for("IMPLICIT_CHAINING") is None  # every route is written out


def test_reliance_on_list_order_is_one_note_that_marks_no_node(make_window, tmp_path, qtbot):
    path = tmp_path / "chain.yaml"
    path.write_text("nodes:\n  - name: a\n  - name: b\n  - name: c\n", encoding="utf-8")
    window = make_window(path)
    qtbot.waitUntil(lambda: window.problems.row_for("IMPLICIT_CHAINING") is not None, timeout=3000)
    assert window.problems.topLevelItemCount() == 1
    assert window.problems.counts() == (0, 0) and window.problems.summary() == "No problems"
    assert all(not item.problems for item in window.scene.node_items())
