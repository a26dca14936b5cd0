"""The canvas from the keyboard, in the real window: arrows walk routes, Alt+arrows nudge, F2 renames, Ctrl+K
connects by name, Ctrl+Shift+Z redoes, F6 moves between panes, paste lands at the pointer, new nodes never land on
top of others."""

from __future__ import annotations

from fixtures_window import *  # noqa: F403
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

ALT = Qt.KeyboardModifier.AltModifier
CTRL = Qt.KeyboardModifier.ControlModifier


def click_node(window, name: str) -> None:
    view = window.view
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     view.mapFromScene(window.scene.node_item(name).centre()))
    view.setFocus()


def test_arrow_keys_walk_the_selection_along_routes(make_window, example_file, qtbot):
    window = make_window(example_file("parallel_fanout"))
    view, scene = window.view, window.scene
    click_node(window, "split")
    steps = [(Qt.Key.Key_Right, "square"), (Qt.Key.Key_Down, "negate"), (Qt.Key.Key_Up, "square"),
             (Qt.Key.Key_Up, "double"), (Qt.Key.Key_Right, "merge"), (Qt.Key.Key_Right, "merge"),
             (Qt.Key.Key_Left, "square"), (Qt.Key.Key_Left, "split")]
    for key, expected in steps:
        qtbot.keyClick(view, key)
        assert scene.selected_node_names() == [expected], (key, expected)


def test_alt_arrows_nudge_one_undo_step_per_press_and_ctrl_shift_z_redoes(make_window, example_file, qtbot):
    window = make_window(example_file("parallel_fanout"))
    view, document = window.view, window.document
    click_node(window, "merge")
    x, y = document.position("merge")
    qtbot.keyClick(view, Qt.Key.Key_Right, ALT)
    qtbot.keyClick(view, Qt.Key.Key_Down, ALT | Qt.KeyboardModifier.ShiftModifier)
    assert document.position("merge") == (x + 10, y + 50)
    qtbot.keyClick(view, Qt.Key.Key_Z, CTRL)
    assert document.position("merge") == (x + 10, y)
    qtbot.keyClick(view, Qt.Key.Key_Z, CTRL | Qt.KeyboardModifier.ShiftModifier)
    assert document.position("merge") == (x + 10, y + 50)


def test_f2_renames_and_ctrl_k_connects_by_name(make_window, small_file, qtbot):
    window = make_window(small_file)
    view = window.view
    click_node(window, "finish")
    qtbot.keyClick(view, Qt.Key.Key_F2)
    name_edit = QApplication.focusWidget()
    assert name_edit is not None and name_edit.text() == "finish"
    name_edit.selectAll()
    qtbot.keyClicks(name_edit, "wrap_up")
    qtbot.keyClick(name_edit, Qt.Key.Key_Return)
    assert window.document.node("wrap_up") is not None
    click_node(window, "wrap_up")
    qtbot.keyClick(view, Qt.Key.Key_K, CTRL)
    field = QApplication.focusWidget()
    assert field.objectName() == "connectTo" and field.isVisible()
    qtbot.keyClicks(field, "START")  # names match whatever the case
    qtbot.keyClick(field, Qt.Key.Key_Return)
    assert [(e.source, e.target) for e in window.workflow.edges] == [("wrap_up", "start")]
    assert not field.isVisible() and view.hasFocus()


def test_f6_moves_the_focus_between_panes_and_back(make_window, small_file, qtbot):
    window = make_window(small_file)
    window.view.setFocus()
    seen = []
    for _ in range(8):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_F6)
        widget = QApplication.focusWidget()
        seen.append(widget)
        if widget is window.view:
            break
    assert seen[-1] is window.view and len(seen) >= 3  # canvas -> inspector -> ... -> canvas
    assert window.inspector.isAncestorOf(seen[0])
    qtbot.keyClick(window.view, Qt.Key.Key_F6, Qt.KeyboardModifier.ShiftModifier)
    assert QApplication.focusWidget() is seen[-2]
    window.select_node("start")  # Ctrl+Tab leaves the code editor, which keeps Tab for indenting
    editor = window.inspector.node_page.code_form.code_editor
    editor.setFocus()
    qtbot.waitUntil(editor.hasFocus)
    code = editor.toPlainText()
    qtbot.keyClick(editor, Qt.Key.Key_Tab, CTRL)
    assert not window.inspector.isAncestorOf(QApplication.focusWidget()) and editor.toPlainText() == code
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Backtab, CTRL | Qt.KeyboardModifier.ShiftModifier)
    assert window.inspector.isAncestorOf(QApplication.focusWidget())


def test_paste_lands_at_the_pointer_and_new_nodes_never_land_on_top(make_window, small_file, qtbot):
    window = make_window(small_file)
    view, scene = window.view, window.scene
    click_node(window, "finish")
    qtbot.keyClick(view, Qt.Key.Key_C, CTRL)
    spot = view.viewport().rect().center() + QPoint(120, 160)
    QTest.mouseMove(view.viewport(), spot)
    qtbot.keyClick(view, Qt.Key.Key_V, CTRL)
    [pasted] = scene.selected_node_names()
    assert (scene.node_item(pasted).pos() - view.mapToScene(spot)).manhattanLength() < 3
    palette = window.palette
    item = palette.item_for_kind("lua")
    for _ in range(2):
        qtbot.mouseDClick(palette.viewport(), Qt.MouseButton.LeftButton, pos=palette.visualItemRect(item).center())
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_V, CTRL)  # the pointer is still over the first paste: this one goes below it
    qtbot.keyClick(view, Qt.Key.Key_D, CTRL)  # a duplicate, too, lands clear of what is there
    boxes = [i.sceneBoundingRect().adjusted(8, 8, -8, -8) for i in scene.node_items()]
    assert len(boxes) == 7
    for i, a in enumerate(boxes):
        assert not any(a.intersects(b) for b in boxes[i + 1:]), "two nodes on top of each other"



SPIN = """\
name: spin
nodes:
  - name: spin
    language: lua
    run: |
      while true do end
"""


def test_during_a_run_f6_still_moves_between_panes_and_f7_pauses(make_window, tmp_path, qtbot):
    path = tmp_path / "spin.yaml"
    path.write_text(SPIN, encoding="utf-8")
    window = make_window(path)
    window.prompts.answers["inputs"] = lambda *_args: ({}, "{}")
    tools, view = window.run_tools, window.view
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: window.scene.node_item("spin").run_status == "running", timeout=10000)
    assert window.actions["pause"].isEnabled()
    qtbot.keyClick(view, Qt.Key.Key_F6)  # Pause is enabled now: the keys must not clash
    assert window.inspector.isAncestorOf(QApplication.focusWidget())
    with qtbot.waitSignal(window.actions["pause"].triggered, timeout=2000):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_F7)
    with qtbot.waitSignal(tools.run_ended, timeout=10000):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_F5, Qt.KeyboardModifier.ShiftModifier)
