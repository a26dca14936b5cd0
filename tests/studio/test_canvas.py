"""The canvas driven by real mouse and key gestures on the view's viewport."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from tea_studio.studio.canvas.node_item import NODE_H, NODE_W
from tea_studio.studio.canvas.view import NODE_KIND_MIME
from tea_studio.workflow.routes import RouteKind, RouteStyle

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "resources" / "examples"


def test_dragging_from_an_out_port_to_a_node_adds_a_route(canvas):
    before = len(canvas.document.workflow.edges)
    canvas.drag(canvas.out_port("third"), canvas.node_point("first"))
    edges = canvas.document.workflow.edges
    assert len(edges) == before + 1
    assert (edges[-1].source, edges[-1].target) == ("third", "first")
    assert any(e.route.source == "third" and e.route.target == "first" for e in canvas.scene.edge_items())
    canvas.document.undo_stack.undo()
    assert len(canvas.document.workflow.edges) == before


def test_port_drag_from_a_goto_node_adds_a_goto_rule(canvas):
    canvas.drag(canvas.out_port("second"), canvas.node_point("first"))
    assert [r.to for r in canvas.document.workflow.node("second").goto] == ["third", "__end__", "first"]


def test_dragging_a_node_moves_it_in_one_undo_step(canvas):
    start = canvas.document.position("first")
    canvas.drag(canvas.node_point("first"), canvas.node_point("first", dx=NODE_W / 2 + 60, dy=NODE_H / 2 + 150),
                steps=10)
    x, y = canvas.document.position("first")
    assert (round(x - start[0]), round(y - start[1])) == (60, 150)
    assert canvas.scene.node_item("first").pos() == QPointF(x, y)
    assert canvas.document.undo_stack.count() == 1
    canvas.document.undo_stack.undo()
    assert canvas.document.position("first") == start
    assert canvas.scene.node_item("first").pos() == QPointF(*start)


def test_snap_puts_dragged_nodes_on_the_grid(canvas):
    canvas.view.set_snap(True)
    canvas.drag(canvas.node_point("first"), canvas.node_point("first", dx=NODE_W / 2 + 47, dy=NODE_H / 2 + 33))
    x, y = canvas.document.position("first")
    assert x % 20 == 0 and y % 20 == 0 and (x, y) != (0, 0)


def test_rubber_band_selects_the_nodes_it_touches(canvas):
    item = canvas.scene.node_item
    start = canvas.at(item("first").pos() + QPointF(-30, -30))
    end = canvas.at(item("second").pos() + QPointF(40, NODE_H + 30))
    canvas.drag(start, end)
    assert canvas.scene.selected_node_names() == ["first", "second"]
    canvas.click(canvas.node_point("third"), Qt.KeyboardModifier.ControlModifier)
    assert canvas.scene.selected_node_names() == ["first", "second", "third"]
    canvas.click(canvas.at(QPointF(300, 400)))
    assert canvas.scene.selected_node_names() == []


def test_click_selects_and_delete_key_removes_with_exact_undo(canvas):
    original = canvas.text()
    canvas.click(canvas.node_point("second"))
    assert canvas.scene.selected_node_names() == ["second"]
    QTest.keyClick(canvas.view, Qt.Key.Key_Delete)
    assert canvas.document.workflow.node_names == ["first", "third"]
    assert canvas.scene.node_item("second") is None
    canvas.document.undo_stack.undo()
    assert canvas.text() == original
    assert canvas.scene.node_item("second") is not None


def test_tab_search_adds_the_node_under_the_cursor(canvas):
    where = canvas.at(QPointF(300, 260))
    QTest.mouseMove(canvas.view.viewport(), where)
    canvas.view.setFocus()
    QTest.keyClick(canvas.view, Qt.Key.Key_Tab)
    popup = canvas.view.search_popup
    assert popup.isVisible()
    QTest.keyClicks(popup.edit, "pyth")
    QTest.keyClick(popup.edit, Qt.Key.Key_Return)
    assert not popup.isVisible()
    assert canvas.document.workflow.node_names[-1] == "python_1"
    x, y = canvas.document.position("python_1")
    centre = QPointF(x + NODE_W / 2, y + NODE_H / 2)
    assert abs(centre.x() - 300) <= 2 and abs(centre.y() - 260) <= 2
    assert canvas.scene.selected_node_names() == ["python_1"]


def test_double_click_on_empty_canvas_opens_the_search(canvas):
    QTest.mouseDClick(canvas.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                      canvas.at(QPointF(100, 300)))
    assert canvas.view.search_popup.isVisible()
    QTest.keyClick(canvas.view.search_popup.edit, Qt.Key.Key_Return)
    assert canvas.document.workflow.node_names[-1] == "lua_1"


def test_palette_drop_creates_a_node_at_the_drop_point(canvas):
    mime = QMimeData()
    mime.setData(NODE_KIND_MIME, b"fan_in")
    point = canvas.at(QPointF(400, 300))
    enter = QDragEnterEvent(point, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(canvas.view.viewport(), enter)
    assert enter.isAccepted()
    event = QDropEvent(QPointF(point), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(canvas.view.viewport(), event)
    assert event.isAccepted()
    node = canvas.document.workflow.nodes[-1]
    assert node.name == "fan_in_1" and node.fan_in
    x, y = canvas.document.position(node.name)
    assert abs(x + NODE_W / 2 - 400) <= 2 and abs(y + NODE_H / 2 - 300) <= 2


def test_wheel_zoom_keeps_the_scene_point_under_the_cursor(canvas):
    view = canvas.view
    point = QPoint(700, 200)
    before = view.mapToScene(point)
    zooms = []
    view.zoom_changed.connect(zooms.append)
    for _ in range(3):
        event = QWheelEvent(QPointF(point), QPointF(view.viewport().mapToGlobal(point)), QPoint(), QPoint(0, 120),
                            Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
                            False)
        QApplication.sendEvent(view.viewport(), event)
    assert abs(view.zoom() - 1.2 ** 3) < 1e-6 and zooms[-1] == view.zoom()
    after = view.mapToScene(point)
    assert abs(after.x() - before.x()) <= 2 and abs(after.y() - before.y()) <= 2
    for _ in range(40):
        event = QWheelEvent(QPointF(point), QPointF(point), QPoint(), QPoint(0, -120), Qt.MouseButton.NoButton,
                            Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
        QApplication.sendEvent(view.viewport(), event)
    assert abs(view.zoom() - 0.1) < 1e-9


def test_middle_drag_pans_the_view(canvas):
    view = canvas.view
    before = view.mapToScene(QPoint(500, 350))
    canvas.drag(QPoint(500, 350), QPoint(400, 300), button=Qt.MouseButton.MiddleButton)
    after = view.mapToScene(QPoint(500, 350))
    assert (round(after.x() - before.x()), round(after.y() - before.y())) == (100, 50)
    assert canvas.document.undo_stack.count() == 0


def test_dropping_a_free_node_onto_a_route_inserts_it(canvas):
    document = canvas.document
    name = document.add_node("noop", (150, 300))
    document.close_merging()
    route = next(e for e in canvas.scene.edge_items() if e.route.source == "first" and e.route.target == "second")
    middle = route.path().pointAtPercent(0.5)
    grab = canvas.node_point(name)
    canvas.drag(grab, canvas.at(middle), steps=8)
    edges = document.workflow.edges
    assert (edges[0].source, edges[0].target) == ("first", name)
    assert (edges[-1].source, edges[-1].target) == (name, "second")
    document.undo_stack.undo()
    assert (document.workflow.edges[0].target, len(document.workflow.edges)) == ("second", 1)


def test_dragging_a_selected_route_end_reconnects_it(canvas):
    route = next(e for e in canvas.scene.edge_items() if e.route.source == "first" and e.route.target == "second")
    canvas.click(canvas.at(route.path().pointAtPercent(0.5)))
    assert canvas.scene.selected_routes() == [route.route]
    _, end = route.end_points()
    canvas.drag(canvas.at(end), canvas.node_point("third"))
    assert canvas.document.workflow.edges[0].target == "third"
    assert canvas.document.undo_stack.count() == 1


def test_copy_in_one_document_paste_into_another_renames_clashes(make_canvas):
    source = make_canvas()
    target = make_canvas()
    source.scene.select_nodes(["first", "second"])
    text = source.scene.copy_selection()
    assert QApplication.clipboard().text() == text
    names = target.scene.paste()
    assert names == ["first_1", "second_1"]
    wf = target.document.workflow
    assert (wf.edges[-1].source, wf.edges[-1].target) == ("first_1", "second_1")
    assert wf.node("second_1").goto[1].to == "__end__" and wf.node("second_1").goto[0].to == "third"
    assert target.scene.selected_node_names() == ["first_1", "second_1"]
    assert target.document.undo_stack.count() == 1


def test_cut_duplicate_and_select_all(canvas):
    canvas.scene.select_all()
    assert canvas.scene.selected_node_names() == ["first", "second", "third"]
    canvas.scene.select_nodes(["third"])
    assert canvas.scene.duplicate_selection() == ["third_1"]
    assert canvas.document.position("third_1") == (640, 90)  # offset, then down clear of "third"
    canvas.scene.select_nodes(["first"])
    canvas.scene.cut_selection()
    assert canvas.document.workflow.node("first") is None
    assert "first" in QApplication.clipboard().text()


def test_routes_are_drawn_by_kind(make_canvas):
    canvas = make_canvas((EXAMPLES_DIR / "parallel_fanout.yaml").read_text(encoding="utf-8"))
    styles = {(e.route.source, e.route.target): e.route.style for e in canvas.scene.edge_items()}
    assert styles[("split", "double")] is RouteStyle.FORK
    assert styles[("double", "merge")] is RouteStyle.JOIN
    assert canvas.scene.node_item("merge").fan_in_count == 3
    chain = make_canvas()
    styles = {(e.route.source, e.route.target): e.route.style for e in chain.scene.edge_items()}
    assert styles[("second", "third")] is RouteStyle.CONDITIONAL
    label = next(e for e in chain.scene.edge_items() if e.route.style is RouteStyle.CONDITIONAL)
    assert "state.n > 1" in label.toolTip()


def test_problem_markers_and_run_overlay_repaint_one_node(canvas):
    item = canvas.scene.node_item("second")
    item.set_problems([("error", "goto target 'nowhere' does not exist")])
    assert "does not exist" in item.toolTip()
    item.set_run_info("running", "12 ms", (1, 3))
    assert (item.run_status, item.run_badge, item.fan_in_progress) == ("running", "12 ms", (1, 3))
    canvas.scene.clear_run_info()
    assert item.run_status is None


def test_a_route_edit_updates_that_route_item_only(canvas, qtbot):
    edge = next(e for e in canvas.scene.edge_items() if e.route.kind is RouteKind.EDGE)
    others = {item.route.id: item for item in canvas.scene.edge_items() if item is not edge}
    canvas.scene.clearSelection()
    edge.setSelected(True)
    [route] = canvas.scene.selected_routes()
    with qtbot.waitSignal(canvas.document.routes_changed) as changed:
        canvas.document.set_route_condition(route.id, "state.n == 1")
    assert changed.args == [[route.id]]
    relabelled = canvas.scene.edge_item(route.id)
    assert relabelled is edge and relabelled.isSelected() and relabelled.route.style is RouteStyle.CONDITIONAL
    assert all(canvas.scene.edge_item(i) is item for i, item in others.items())
