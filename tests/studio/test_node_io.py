"""The Input / Output dock in the real window: select a node after a run and see the state it received, the update
it returned and the state after, the changed keys first."""

from __future__ import annotations

from fixtures_window import *  # noqa: F403
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tea_studio.studio.panels.state_view import ADDED


def test_selecting_a_node_after_a_run_shows_what_it_received_and_returned(make_window, example_file, qtbot):
    window = make_window(example_file("parallel_fanout"))
    tools = window.run_tools
    with qtbot.waitSignals([tools.run_ended, tools.run_stored], timeout=20000):
        assert tools.start_run({"value": 3})
    view = window.view
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     view.mapFromScene(window.scene.node_item("double").centre()))
    io = tools.presenter.io_view
    assert io.title.text().startswith("double")
    assert io.keys("received")[:1] == ["value"]
    assert sorted(io.keys("returned")) == ["label", "part"]
    after = io.keys("after")
    assert sorted(after[:2]) == ["label", "part"] and "value" in after  # what the node changed comes first
    assert io.after.item_for("part").data(0, Qt.ItemDataRole.UserRole) == ADDED
    assert io.returned.item_for("part").text(1) == "6"
    dock = tools.presenter.docks["io"]
    dock.show()
    dock.raise_()
    assert dock.windowTitle() == "Input / Output" and io.isVisible()
    timeline = tools.presenter.timeline.canvas  # a bar on the timeline: that execution
    tools.presenter.docks["timeline"].raise_()
    execution = tools.model.lanes["negate"].executions[0]
    bar = timeline.bar_rect(timeline.lane_row("negate"), execution)
    QTest.mouseClick(timeline, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, bar.center().toPoint())
    assert io.title.text().startswith("negate") and io.returned.item_for("part").text(1) == "-3"
    assert window.scene.selected_node_names() == ["negate"]
