"""Routes that mislead, found as the user draws them: a false fan-out warns on the canvas and in the Problems dock;
reliance on list order is noted once, without marking any node; new and pasted nodes join no flow by list order;
dropping a node onto a route gives exactly a -> n -> b, side by side."""

from __future__ import annotations

from fixtures_window import *  # noqa: F403
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest

from tea_studio.workflow.routes import successors

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

    view = window.view  # the fix, offered on the node: one step, joining where the routes lead
    menu = view.context_menu.build(view.mapFromScene(split.centre()))
    submenu = next(a.menu() for a in menu.actions() if a.menu() is not None and a.menu().objectName() == "makeParallel")
    assert submenu.title() == "Make 3 Routes Parallel, Joining At"
    assert [a.text() for a in submenu.actions()] == ["merge"]  # never the fork or a branch itself
    steps = window.document.undo_stack.count()
    submenu.actions()[0].trigger()
    assert [(e.source, e.target, e.parallel, e.fan_in) for e in window.workflow.edges] == \
        [("split", t, True, "merge") for t in "abc"]
    assert window.document.undo_stack.count() == steps + 1
    qtbot.waitUntil(lambda: window.problems.row_for("MULTIPLE_UNCONDITIONAL_ROUTES", "split") is None, timeout=3000)
    assert window.problems.counts() == (0, 0)
    window.scene.clearSelection()
    window.scene.edge_item("edge:split->a").setSelected(True)
    combo = window.inspector.edge_page.fan_in_combo
    assert combo.currentText() == "merge" and [combo.itemText(i) for i in range(combo.count())] == ["", "merge"]


def test_reliance_on_list_order_is_one_note_that_marks_no_node(make_window, tmp_path, qtbot):
    path = tmp_path / "chain.yaml"
    path.write_text("nodes:\n  - name: a\n  - name: b\n  - name: c\n", encoding="utf-8")
    window = make_window(path)
    qtbot.waitUntil(lambda: window.problems.row_for("IMPLICIT_CHAINING") is not None, timeout=3000)
    assert window.problems.topLevelItemCount() == 1
    assert window.problems.counts() == (0, 0) and window.problems.summary() == "No problems"
    assert all(not item.problems for item in window.scene.node_items())


def flow(window) -> dict[str, list[str]]:
    return {name: [s.target for s in routes] for name, routes in successors(window.workflow).items()}


def run(window, qtbot) -> None:
    tools = window.run_tools
    with qtbot.waitSignals([tools.run_ended, tools.run_stored], timeout=20000):
        window.actions["run"].trigger()


def test_new_and_pasted_nodes_change_no_flow_and_insert_gives_a_then_n_then_b_side_by_side(make_window, small_file,
                                                                                           qtbot):
    window = make_window(small_file)
    window.prompts.answers["inputs"] = lambda *_args: ({}, "{}")
    window.fit_all()
    view, scene, palette = window.view, window.scene, window.palette
    entry = palette.item_for_kind("lua")
    qtbot.mouseDClick(palette.viewport(), Qt.MouseButton.LeftButton, pos=palette.visualItemRect(entry).center())
    [added] = scene.selected_node_names()
    scene.select_nodes(["start"])
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    QTest.mouseMove(view.viewport(), view.viewport().rect().center() + QPoint(0, 200))
    qtbot.keyClick(view, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    [pasted] = scene.selected_node_names()
    assert flow(window)["finish"] == ["__end__"]  # the last node did not start flowing into the new ones
    assert not any(added in targets or pasted in targets for targets in flow(window).values())
    run(window, qtbot)
    assert {name: scene.node_item(name).run_status for name in ("start", "finish", added, pasted)} == \
        {"start": "done", "finish": "done", added: "skipped", pasted: "skipped"}
    window.fit_all()  # the run docks took some of the canvas
    route = next(e for e in scene.edge_items() if (e.route.source, e.route.target) == ("start", "finish"))
    drag(view, scene.node_item(added).centre(), route.path().pointAtPercent(0.5))  # drop onto the route: insert
    assert flow(window)["start"] == [added] and flow(window)[added] == ["finish"]
    assert flow(window)["finish"] == ["__end__"]
    boxes = {name: scene.node_item(name).sceneBoundingRect() for name in ("start", added, "finish")}
    assert not boxes[added].intersects(boxes["start"]) and not boxes[added].intersects(boxes["finish"])
    run(window, qtbot)
    assert scene.node_item(added).run_status == "done"
    window.fit_all()
    drag(view, scene.node_item("finish").out_point(), scene.node_item(pasted).centre())  # a route replaces the end
    assert flow(window)["finish"] == [pasted]
