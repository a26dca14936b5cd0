"""The canvas's context menu (built for a point, then triggered), the quick-add after a route dropped on empty
canvas, the node texts beside a run badge, and the minimap overlay."""

from __future__ import annotations

from fixtures_window import *  # noqa: F403
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QAction
from PySide6.QtTest import QTest

from tea_studio.studio.canvas import minimap
from tea_studio.studio.canvas.node_item import NODE_H, NODE_W
from tea_studio.workflow.model import LUA, NOOP, Edge, Node, Workflow
from tea_studio.workflow.routes import RouteStyle


def menu_for(canvas, point: QPoint):
    return canvas.view.context_menu.build(point)


def menu_actions(menu) -> list[QAction]:
    """The menu's entries, submenus' included (shared window actions are not children of the menu)."""
    found = []
    for entry in menu.actions():
        found.append(entry)
        if entry.menu() is not None:
            found += menu_actions(entry.menu())
    return found


def action(menu, name: str) -> QAction:
    found = next((a for a in menu_actions(menu) if a.objectName() == name), None)
    assert found is not None, f"no action {name!r} in {[a.objectName() for a in menu_actions(menu)]}"
    return found


def route_point(canvas, source: str, target: str) -> QPoint:
    item = next(e for e in canvas.scene.edge_items() if e.route.source == source and e.route.target == target)
    return canvas.at(item.path().pointAtPercent(0.5))


def test_node_menu_duplicates_deletes_and_toggles_breakpoints_and_fan_in(canvas, qtbot):
    original = canvas.text()
    menu = menu_for(canvas, canvas.node_point("second"))
    assert canvas.scene.selected_node_names() == ["second"]  # the clicked node becomes the selection
    action(menu, "duplicateNodes").trigger()
    assert len(canvas.document.workflow.nodes) == 4
    canvas.document.undo_stack.undo()

    before = action(menu_for(canvas, canvas.node_point("second")), "breakpointBefore")
    assert before.isCheckable() and not before.isChecked()
    before.trigger()
    assert canvas.document.breakpoints("second") == (True, False)
    before = action(menu_for(canvas, canvas.node_point("second")), "breakpointBefore")
    assert before.isChecked()
    before.trigger()
    assert canvas.document.breakpoints("second") == (False, False)

    action(menu_for(canvas, canvas.node_point("third")), "makeFanIn").trigger()
    assert canvas.document.workflow.node("third").fan_in is True

    with qtbot.waitSignal(canvas.view.rename_requested) as renamed:
        action(menu_for(canvas, canvas.node_point("first")), "renameNode").trigger()
    assert renamed.args == ["first"]

    action(menu_for(canvas, canvas.node_point("first")), "deleteNodes").trigger()
    assert canvas.document.node("first") is None
    while canvas.document.undo_stack.canUndo():
        canvas.document.undo_stack.undo()
    assert canvas.text() == original


def test_route_menu_deletes_makes_parallel_and_plain_and_asks_for_the_condition(canvas, qtbot):
    original = canvas.text()
    menu = menu_for(canvas, route_point(canvas, "first", "second"))
    assert [r.id for r in canvas.scene.selected_routes()] == ["edge:first->second"]
    action(menu, "deleteRoute").trigger()
    assert canvas.document.workflow.edges == []
    canvas.document.undo_stack.undo()

    menu = menu_for(canvas, route_point(canvas, "first", "second"))
    assert not action(menu, "makePlain").isEnabled()  # already plain
    action(menu, "fanIn:third").trigger()
    edge = canvas.document.workflow.edges[0]
    assert (edge.parallel, edge.fan_in) == (True, "third")
    assert any(e.route.style is RouteStyle.FORK for e in canvas.scene.edge_items())

    menu = menu_for(canvas, route_point(canvas, "first", "second"))
    action(menu, "makePlain").trigger()
    assert not canvas.document.workflow.edges[0].parallel

    with qtbot.waitSignal(canvas.view.condition_edit_requested) as asked:
        action(menu_for(canvas, route_point(canvas, "first", "second")), "editCondition").trigger()
    assert asked.args == ["edge:first->second"]
    canvas.document.undo_stack.undo()
    canvas.document.undo_stack.undo()
    assert canvas.text() == original


def test_empty_canvas_menu_adds_nodes_at_the_click_point_pastes_and_lays_out(canvas):
    where = QPointF(300, 320)
    menu = menu_for(canvas, canvas.at(where))
    assert [a.objectName() for a in menu.actions() if a.objectName().startswith("add:")] == [
        "add:lua", "add:python", "add:fan_in", "add:noop", "add:action", "add:prolog"]  # the palette's order
    action(menu, "add:python").trigger()
    x, y = canvas.document.position("python_1")
    assert abs(x + NODE_W / 2 - where.x()) <= 2 and abs(y + NODE_H / 2 - where.y()) <= 2
    assert canvas.scene.selected_node_names() == ["python_1"]

    canvas.scene.copy_selection()
    action(menu_for(canvas, canvas.at(QPointF(600, 320))), "paste").trigger()
    assert len(canvas.document.workflow.nodes) == 5

    steps = canvas.document.undo_stack.count()
    action(menu_for(canvas, canvas.at(QPointF(300, 600))), "autoLayout").trigger()
    assert canvas.document.undo_stack.count() == steps + 1
    assert canvas.document.position("python_1") != (x, y)


def test_right_click_in_the_window_renames_edits_conditions_and_sets_breakpoints(make_window, example_file):
    window = make_window(example_file("parallel_fanout"))
    view = window.view
    item = window.scene.node_item("square")
    point = view.mapFromScene(item.pos() + QPointF(NODE_W / 2, NODE_H / 2))
    action(view.context_menu.build(point), "renameNode").trigger()
    name_edit = window.inspector.node_page.node_form.name_edit
    assert name_edit.hasFocus() and name_edit.selectedText() == "square"

    action(view.context_menu.build(point), "breakpointAfter").trigger()
    assert view.breakpoint_handler == window.run_tools.set_breakpoint  # a live run would follow too
    assert window.document.breakpoints("square") == (False, True)

    edge = next(e for e in window.scene.edge_items() if e.route.source == "square" and e.route.target == "merge")
    action(view.context_menu.build(view.mapFromScene(edge.path().pointAtPercent(0.5))), "editCondition").trigger()
    assert window.inspector.mode == window.inspector.EDGE
    assert window.inspector.edge_page.condition_edit.hasFocus()


def test_dropping_a_new_route_on_empty_canvas_adds_a_connected_node_in_one_step(canvas):
    original = canvas.text()
    steps = canvas.document.undo_stack.count()
    start = canvas.out_port("third")
    drop = start + QPoint(160, 90)
    canvas.drag(start, drop)
    popup = canvas.view.search_popup
    assert popup.isVisible()
    QTest.keyClicks(popup.edit, "no-op")
    QTest.keyClick(popup.edit, Qt.Key.Key_Return)
    node = canvas.document.workflow.nodes[-1]
    assert (node.name, node.kind) == ("noop_1", NOOP)
    assert any(e.route.source == "third" and e.route.target == "noop_1" for e in canvas.scene.edge_items())
    x, y = canvas.document.position("noop_1")
    landed = canvas.view.mapToScene(drop)
    assert abs(x - landed.x()) <= 2 and abs(y + NODE_H / 2 - landed.y()) <= 2  # its in port where it was dropped
    assert canvas.document.undo_stack.count() == steps + 1
    canvas.document.undo_stack.undo()
    assert canvas.text() == original


def test_a_short_release_on_the_port_does_not_open_the_popup(canvas):
    start = canvas.out_port("third")
    canvas.drag(start, start + QPoint(3, 0), steps=1)
    assert not canvas.view.search_popup.isVisible()


def test_subtitle_is_elided_before_the_run_badge_and_long_names_elide_with_a_tooltip(make_canvas):
    long_name = "normalise_every_customer_address_field"
    workflow = Workflow(nodes=[Node(name="split", kind=LUA, code="return {}"),
                               Node(name=long_name, kind=LUA, code="return {}"),
                               Node(name="merge", kind=LUA, code="return {}", fan_in=True)],
                        edges=[Edge(source="split", target=t, parallel=True, fan_in="merge")
                               for t in ("a", "b", long_name)])
    canvas = make_canvas(workflow)
    merge = canvas.scene.node_item("merge")
    full = merge.text_layout().subtitle
    assert full == "Lua · fan-in of 3"
    merge.set_run_info("done", "0.4 ms", (3, 3))
    text = merge.text_layout()
    assert text.badge == "3/3 · 0.4 ms"
    assert text.subtitle_rect.right() <= text.badge_rect.left()
    assert text.subtitle != full and text.subtitle.endswith("…")
    assert full in merge.toolTip()
    merge.clear_run_info()
    assert merge.text_layout().subtitle == full

    item = canvas.scene.node_item(long_name)
    assert item.text_layout().name.endswith("…") and long_name in item.toolTip()
    assert item.text_layout().name_rect.right() <= item.width - 16  # clear of the problem marker


def test_minimap_is_a_small_translucent_corner_overlay_that_moves_the_view(canvas, qtbot):
    view = canvas.view
    view.set_minimap_visible(True)
    view.resize(1000, 700)
    mini = view.minimap
    view.fit_all()
    assert not mini.isVisible()  # everything in sight: no map over the nodes
    view.set_zoom(3.0)
    assert mini.isVisible()
    mini.place()
    assert mini.width() <= 200 and mini.height() <= 130
    assert mini.width() * mini.height() < view.viewport().width() * view.viewport().height() / 20
    viewport = view.viewport().geometry()
    assert viewport.right() - mini.geometry().right() == minimap.MARGIN
    assert viewport.bottom() - mini.geometry().bottom() == minimap.MARGIN
    assert mini.testAttribute(Qt.WidgetAttribute.WA_TranslucentBackground)
    mini.grab()  # paints (and frames) the map
    target = canvas.scene.node_center("third")
    QTest.mouseClick(mini, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     mini.to_map(target).toPoint())
    centre = view.mapToScene(view.viewport().rect().center())
    assert abs(centre.x() - target.x()) < 20 and abs(centre.y() - target.y()) < 20
    view.resize(400, 300)  # a small view gets a smaller map
    qtbot.waitUntil(lambda: mini.width() <= 100)
