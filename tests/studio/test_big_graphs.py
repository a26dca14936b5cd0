"""Big graphs in the real window: auto-layout and Fit keep names readable, Find node zooms to the node, and
node boxes grow with their names."""

from __future__ import annotations

from fixtures_window import *  # noqa: F403
from PySide6.QtCore import QRectF, Qt

from tea_studio.studio.app import SCREENSHOT_SIZE
from tea_studio.workflow.layout import NODE_MAX_W, NODE_W, READABLE_ZOOM


def pipeline_text(count: int) -> str:
    lines = ["name: pipeline", "nodes:"]
    for i in range(count):
        lines += [f"  - name: step_{i:02d}", "    language: lua", "    run: |", f"      return {{ n = {i} }}"]
    return "\n".join(lines) + "\n"


def forking_text(count: int) -> str:
    """TEA-like: stages of a three-way fork with its fan-in, then two plain nodes, until ``count`` nodes."""
    nodes, edges, i = [], [], 0
    while len(nodes) + 6 <= count:
        nodes += [f"fork_{i}", f"a_{i}", f"b_{i}", f"c_{i}", f"join_{i}", f"after_{i}"]
        edges += [f"  - {{from: fork_{i}, to: {b}_{i}, type: parallel, fan_in: join_{i}}}" for b in "abc"]
        edges += [f"  - {{from: {b}_{i}, to: join_{i}}}" for b in "abc"]
        i += 1
    nodes += [f"tail_{k}" for k in range(count - len(nodes))]
    body = "\n".join(f"  - name: {n}" for n in nodes)
    return f"name: big\nnodes:\n{body}\nedges:\n" + "\n".join(edges) + "\n"


def open_big(make_window, tmp_path, text: str):
    path = tmp_path / "big.yaml"
    path.write_text(text, encoding="utf-8")
    window = make_window(path)
    window.resize(*SCREENSHOT_SIZE)
    return window


def visible_rect(view) -> QRectF:
    return view.mapToScene(view.viewport().rect()).boundingRect()


def press_fit(window, qtbot) -> None:
    window.view.setFocus()
    with qtbot.waitSignal(window.view.zoom_changed):
        qtbot.keyClick(window.view, Qt.Key.Key_F)


def test_a_13_node_pipeline_is_laid_out_in_rows_and_fits_whole_at_a_readable_zoom(make_window, tmp_path, qtbot):
    window = open_big(make_window, tmp_path, pipeline_text(13))
    qtbot.keyClick(window.view, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)  # Auto-layout
    press_fit(window, qtbot)
    assert window.view.zoom() >= READABLE_ZOOM
    shown = visible_rect(window.view)
    for item in window.scene.node_items():
        assert shown.contains(item.sceneBoundingRect()), item.name
    assert len({item.pos().y() for item in window.scene.node_items()}) > 1  # wrapped, not one long row


def test_fit_never_goes_below_a_readable_zoom_and_shows_where_the_flow_starts(make_window, tmp_path, qtbot):
    window = open_big(make_window, tmp_path, forking_text(300))
    press_fit(window, qtbot)
    assert window.view.zoom() >= READABLE_ZOOM
    assert visible_rect(window.view).contains(window.scene.node_item("fork_0").sceneBoundingRect())
    # a selection too big for the window: the same floor, at the top-left of the selection
    names = [f"after_{i}" for i in range(20, 40)]
    window.scene.select_nodes(names)
    press_fit(window, qtbot)
    assert window.view.zoom() >= READABLE_ZOOM
    assert visible_rect(window.view).contains(window.scene.node_item("after_20").sceneBoundingRect())


def test_the_40_node_example_opens_laid_out_and_fits_at_a_readable_zoom(make_window, example_file, qtbot):
    window = make_window(example_file("support_triage"))
    window.resize(*SCREENSHOT_SIZE)
    assert len(window.workflow.nodes) == 40
    press_fit(window, qtbot)
    assert window.view.zoom() >= READABLE_ZOOM
    assert visible_rect(window.view).contains(window.scene.node_item("receive_ticket").sceneBoundingRect())


def test_with_the_docks_closed_auto_layout_uses_the_room_and_the_40_nodes_fit_whole_and_readable(
        make_window, example_file, qtbot):
    from PySide6.QtWidgets import QDockWidget

    window = make_window(example_file("support_triage"))
    window.resize(1680, 1100)  # the README picture's window
    for dock in window.findChildren(QDockWidget):
        dock.close()
    qtbot.waitUntil(lambda: window.view.viewport().height() > 900)
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)  # laid out for this canvas
    press_fit(window, qtbot)
    assert window.view.zoom() >= READABLE_ZOOM
    shown = visible_rect(window.view)
    assert all(shown.contains(item.sceneBoundingRect()) for item in window.scene.node_items())
    assert not window.view.minimap.isVisible()  # all in sight: no map over the nodes
    labels = [e.label for e in window.scene.edge_items() if e.label is not None]
    nodes = [item.mapRectToScene(item.box()) for item in window.scene.node_items()]
    assert labels and not any(label.sceneBoundingRect().intersects(box) for label in labels for box in nodes)


def test_find_node_zooms_to_the_node(make_window, tmp_path, qtbot):
    window = open_big(make_window, tmp_path, forking_text(300))
    window.view.set_zoom(0.2)
    window.actions["find"].trigger()
    qtbot.keyClicks(window.find_edit, "join_30")
    qtbot.keyClick(window.find_edit, Qt.Key.Key_Return)
    assert window.scene.selected_node_names() == ["join_30"]
    assert window.view.zoom() >= 1.0
    centre = window.view.mapToScene(window.view.viewport().rect().center())
    assert window.scene.node_item("join_30").sceneBoundingRect().adjusted(-5, -5, 5, 5).contains(centre)


def test_node_boxes_grow_with_their_names_and_only_very_long_names_are_elided(make_window, small_file, qtbot):
    window = make_window(small_file)
    item = window.scene.node_item("start")
    assert item.width == NODE_W
    window.start_rename("start")
    name_edit = window.inspector.node_page.node_form.name_edit
    assert name_edit.hasFocus()
    name_edit.selectAll()
    qtbot.keyClicks(name_edit, "normalise_customer_address")
    qtbot.keyClick(name_edit, Qt.Key.Key_Return)
    item = window.scene.node_item("normalise_customer_address")
    assert NODE_W < item.width < NODE_MAX_W
    assert item.text_layout().name == "normalise_customer_address"  # whole, not cut at a fixed width
    [route] = [edge for edge in item.edges if edge.source_item is item]
    assert route.end_points()[0] == item.out_point()  # its route leaves from the grown box's port
    window.actions["undo"].trigger()
    assert window.scene.node_item("start").width == NODE_W
    window.document.rename_node("start", "x" * 80)
    item = window.scene.node_item("x" * 80)
    assert item.width == NODE_MAX_W and item.text_layout().name.endswith("…") and "x" * 80 in item.toolTip()
