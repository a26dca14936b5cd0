"""While a run is paused inside one branch, the other branches finish: the canvas shows them done, the fan-in
count moves and the status bar counts the nodes by state, although a paused run sends no more ticks."""

from __future__ import annotations

from fixtures_window import *  # noqa: F403

from tea_studio.engine.record import DONE, PAUSED


def test_branches_that_finish_during_a_pause_are_painted_done(make_window, example_file, qtbot):
    window = make_window(example_file("parallel_fanout"))
    tools = window.run_tools
    window.select_node("square")
    window.actions["breakpoint_before"].trigger()
    assert tools.start_run({"value": 2})
    scene = window.scene
    qtbot.waitUntil(lambda: scene.node_item("square").run_status == PAUSED, timeout=10000)
    qtbot.waitUntil(lambda: scene.node_item("double").run_status == DONE
                    and scene.node_item("negate").run_status == DONE, timeout=5000)
    qtbot.waitUntil(lambda: scene.node_item("merge").fan_in_progress == (2, 3), timeout=5000)
    progress = tools.presenter.progress  # the status bar counts the nodes by state
    qtbot.waitUntil(lambda: "1 paused" in progress.text() and "3 done" in progress.text(), timeout=5000)
    assert progress.isVisible()
    with qtbot.waitSignal(tools.run_ended, timeout=10000):
        window.actions["continue"].trigger()
    assert scene.node_item("square").run_status == DONE and scene.node_item("merge").fan_in_progress == (3, 3)
    assert progress.text() == "5 done"
