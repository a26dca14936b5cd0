"""While a run is paused inside one branch, the other branches finish: the canvas shows them done, the fan-in
count moves and the status bar counts the nodes by state, although a paused run sends no more ticks. Branches
waiting for a worker show queued."""

from __future__ import annotations

from fixtures_window import *  # noqa: F403
from PySide6.QtCore import Qt

from tea_studio.engine.record import DONE, PAUSED, QUEUED
from tea_studio.studio.panels.run_timeline import lane_label


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


def test_branches_waiting_for_a_worker_show_queued_until_they_run(make_window, example_file, qtbot):
    path = example_file("parallel_fanout")
    path.write_text(path.read_text(encoding="utf-8").replace(
        "initial_state:", "settings:\n  parallel:\n    max_workers: 1\ninitial_state:"), encoding="utf-8")
    window = make_window(path)
    window.prompts.answers["inputs"] = lambda *_args: ({"value": 2}, '{"value": 2}')  # the Run dialog's answer
    tools, scene = window.run_tools, window.scene
    window.select_node("double")  # the first branch pauses and keeps the only worker
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_F9)
    qtbot.keyClick(window.view, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: scene.node_item("double").run_status == PAUSED, timeout=10000)
    qtbot.waitUntil(lambda: "2 queued" in tools.presenter.progress.text(), timeout=5000)
    assert tools.presenter.progress.text() == "1 done · 1 paused · 2 queued · 1 waiting"
    for name in ("square", "negate"):
        item = scene.node_item(name)
        assert item.run_status == QUEUED and item.badge_text() == "queued"
    assert scene.node_item("double").badge_text() == "paused"
    timeline = tools.presenter.timeline
    assert timeline.summary.text() == "3 branches"  # the queued ones have their rows, empty, saying so
    assert [lane_label(lane).strip() for lane in tools.model.branch_lanes] == \
        ["double", "square · queued", "negate · queued"]
    with qtbot.waitSignal(tools.run_ended, timeout=10000):
        qtbot.keyClick(window.view, Qt.Key.Key_F8)
    assert tools.presenter.progress.text() == "5 done"
    assert all(scene.node_item(n).badge_text() != "queued" for n in ("square", "negate"))
