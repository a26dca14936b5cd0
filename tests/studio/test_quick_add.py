"""Quick add in the real window: Tab or a double-click opens a list of node kinds and snippets with icons and a
one-line description; Enter or a click inserts the chosen one as one undo step, where the popup was opened."""

from __future__ import annotations

from fixtures_window import *  # noqa: F403
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from tea_studio.studio.canvas.node_search import KIND, ROLE_DESCRIPTION, ROLE_KEY, TEMPLATE
from tea_studio.workflow.model import DYNAMIC_PARALLEL, WHILE_LOOP


def open_with_tab(window, qtbot, at: QPoint):
    view = window.view
    view.setFocus()
    QTest.mouseMove(view.viewport(), at)
    qtbot.keyClick(view, Qt.Key.Key_Tab)
    popup = view.search_popup
    assert popup.isVisible() and popup.edit.hasFocus()
    return popup


def test_the_list_shows_icons_descriptions_and_snippets(window, qtbot):
    popup = open_with_tab(window, qtbot, window.view.viewport().rect().center())
    entries = popup.entries()
    assert (KIND, "lua") in entries
    assert [key for what, key in entries if what == TEMPLATE] == ["fork", "while_loop", "llm_call",
                                                                  "dynamic_parallel"]
    for row in range(popup.list.count()):
        item = popup.list.item(row)
        assert not item.icon().isNull(), item.text()
        assert item.data(ROLE_DESCRIPTION) and "\n" not in item.data(ROLE_DESCRIPTION)
    qtbot.keyClicks(popup.edit, "parallel")  # filters on descriptions too
    shown = popup.entries()
    assert (TEMPLATE, "fork") in shown and (TEMPLATE, "dynamic_parallel") in shown and (KIND, "python") not in shown
    qtbot.keyClick(popup.edit, Qt.Key.Key_Escape)
    assert not popup.isVisible() and not window.workflow.nodes


def test_a_fork_with_its_fan_in_is_inserted_at_the_cursor_as_one_undo_step(window, qtbot):
    view = window.view
    at = view.viewport().rect().center() + QPoint(-200, -100)
    popup = open_with_tab(window, qtbot, at)
    qtbot.keyClicks(popup.edit, "fork")
    assert popup.list.currentItem().data(ROLE_KEY) == (TEMPLATE, "fork")
    qtbot.keyClick(popup.edit, Qt.Key.Key_Return)
    workflow = window.workflow
    assert [n.name for n in workflow.nodes] == ["fork", "branch_a", "branch_b", "branch_c", "join"]
    assert [(e.source, e.targets, e.parallel, e.fan_in) for e in workflow.edges][:3] == [
        ("fork", [b], True, "join") for b in ("branch_a", "branch_b", "branch_c")]
    assert window.scene.node_item("join").node.fan_in
    qtbot.waitUntil(lambda: window.problems.summary() == "No problems", timeout=3000)
    items = [window.scene.node_item(n.name) for n in workflow.nodes]
    corner = view.mapToScene(at)  # the snippet's top-left where the popup was opened
    assert abs(min(i.pos().x() for i in items) - corner.x()) < 2 and abs(min(i.pos().y() for i in items)
                                                                        - corner.y()) < 2
    assert sorted(window.scene.selected_node_names()) == sorted(n.name for n in workflow.nodes)
    window.actions["undo"].trigger()
    assert not workflow.nodes and not workflow.edges


def test_a_second_snippet_gets_free_names_and_its_routes_follow(window, qtbot):
    for _ in range(2):
        popup = open_with_tab(window, qtbot, window.view.viewport().rect().center())
        qtbot.keyClicks(popup.edit, "fork")
        qtbot.keyClick(popup.edit, Qt.Key.Key_Return)
    names = window.workflow.node_names
    assert len(names) == 10 and len(set(names)) == 10
    second = [e for e in window.workflow.edges if e.parallel][3:]
    assert {e.source for e in second} == {names[5]} and {e.fan_in for e in second} == {names[9]}


def test_loop_llm_call_and_dynamic_parallel_snippets_by_keys_and_by_click(window, qtbot):
    view = window.view
    QTest.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                      view.viewport().rect().center())
    popup = view.search_popup
    assert popup.isVisible()
    qtbot.keyClicks(popup.edit, "loop")
    qtbot.keyClick(popup.edit, Qt.Key.Key_Return)
    [loop] = window.workflow.nodes
    assert loop.kind == WHILE_LOOP and loop.extra["body"][0]["name"] == "step"
    popup = open_with_tab(window, qtbot, view.viewport().rect().center() + QPoint(0, 120))
    qtbot.keyClicks(popup.edit, "llm")
    qtbot.keyClick(popup.edit, Qt.Key.Key_Return)
    assert window.workflow.nodes[-1].uses == "llm.call"
    popup = open_with_tab(window, qtbot, view.viewport().rect().center() + QPoint(0, -120))
    row = next(r for r in range(popup.list.count())
               if popup.list.item(r).data(ROLE_KEY) == (TEMPLATE, "dynamic_parallel"))
    QTest.mouseClick(popup.list.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     popup.list.visualItemRect(popup.list.item(row)).center())
    fan_out, collector = window.workflow.nodes[-2:]  # TEA needs the fan-in node that collects the results
    assert fan_out.kind == DYNAMIC_PARALLEL and fan_out.extra["fan_in"] == collector.name and collector.fan_in
    assert window.document.undo_stack.count() == 3  # one step per snippet
