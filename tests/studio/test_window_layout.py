"""The default dock layout, which bottom tab comes forward when, and the saved layout (with its version)."""

from fixtures_window import *  # noqa: F403
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTabBar

from tea_studio.engine.record import PAUSED
from tea_studio.studio.dock_layout import WINDOW_STATE_VERSION
from tea_studio.studio.panels.run_timeline import AXIS_H, LANE_H

RIGHT, BOTTOM, LEFT = (Qt.DockWidgetArea.RightDockWidgetArea, Qt.DockWidgetArea.BottomDockWidgetArea,
                       Qt.DockWidgetArea.LeftDockWidgetArea)

FOUR_BRANCHES = """\
name: wide
nodes:
  - {name: split, language: lua, run: "return {}"}
  - {name: a, language: lua, run: "return {part = 1}"}
  - {name: b, language: lua, run: "return {part = 2}"}
  - {name: c, language: lua, run: "return {part = 3}"}
  - {name: d, language: lua, run: "return {part = 4}"}
  - {name: merge, fan_in: true, language: lua, run: "return {n = #state.parallel_results}"}
edges:
  - {from: split, to: a, type: parallel, fan_in: merge}
  - {from: split, to: b, type: parallel, fan_in: merge}
  - {from: split, to: c, type: parallel, fan_in: merge}
  - {from: split, to: d, type: parallel, fan_in: merge}
  - {from: a, to: merge}
  - {from: b, to: merge}
  - {from: c, to: merge}
  - {from: d, to: merge}
  - {from: merge, to: __end__}
"""


def bottom_docks(window):
    docks = window.run_tools.presenter.docks
    return [docks["timeline"], docks["log"], docks["io"], window.problems_dock]


def run_to_end(qtbot, window, **kwargs):
    tools = window.run_tools
    with qtbot.waitSignal(tools.run_ended, timeout=20000) as ended:
        assert tools.start_run({}, **kwargs)
    return ended.args[0]


def tab_bars_seen(window):
    return [[bar.tabText(i) for i in range(bar.count())] for bar in window.findChildren(QTabBar)
            if bar.isVisible()]


def test_default_layout_inspector_over_state_and_tabbed_bottom_docks(qtbot, make_window, example_file):
    window = make_window(example_file("parallel_fanout"))
    docks = window.run_tools.presenter.docks
    assert window.dockWidgetArea(window.inspector_dock) == RIGHT
    assert window.dockWidgetArea(docks["state"]) == RIGHT
    assert window.inspector_dock.geometry().bottom() < docks["state"].geometry().top()
    assert docks["runs"] in window.tabifiedDockWidgets(docks["state"])
    # the state view is big by default: at least 40% of the right column
    column = docks["state"].geometry().bottom() - window.inspector_dock.geometry().top()
    assert docks["state"].height() >= 0.4 * column
    timeline, log, io, problems = bottom_docks(window)
    assert all(window.dockWidgetArea(dock) == BOTTOM for dock in (timeline, log, io, problems))
    assert set(window.tabifiedDockWidgets(timeline)) == {log, io, docks["compare"], problems}
    # editing comes first: Problems is in front, and the bottom row is tall and under the canvas only
    assert window.raised_bottom_dock() is problems
    assert problems.height() >= 200
    assert problems.geometry().right() < window.inspector_dock.geometry().left()
    assert window.view.height() > 350
    qtbot.waitUntil(lambda: len(tab_bars_seen(window)) == 2)  # one per tab group: no stray bars drawn through
    assert sorted(tab_bars_seen(window)) == [["State", "Runs"],
                                             ["Timeline", "Log", "Input / Output", "Compare", "Problems"]]


def test_a_run_raises_the_timeline_with_room_for_five_lanes(qtbot, make_window, tmp_path):
    path = tmp_path / "wide.yaml"
    path.write_text(FOUR_BRANCHES, encoding="utf-8")
    window = make_window(path)
    assert run_to_end(qtbot, window) is True
    timeline = window.run_tools.presenter.timeline
    assert window.raised_bottom_dock() is window.run_tools.presenter.docks["timeline"]
    assert timeline.lane_count == 5
    assert timeline.scroll.viewport().height() >= AXIS_H + 5 * LANE_H


def test_problems_come_forward_on_new_errors_but_not_over_a_live_run(qtbot, make_window, example_file):
    window = make_window(example_file("parallel_fanout"))
    tools = window.run_tools
    timeline = tools.presenter.docks["timeline"]
    assert run_to_end(qtbot, window) is True
    assert window.raised_bottom_dock() is timeline
    window.document.set_goto("double", "nowhere")
    window.validate_now()
    assert window.raised_bottom_dock() is window.problems_dock
    window.document.undo_stack.undo()
    window.validate_now()

    tools.set_breakpoint("merge", "before", True)
    assert tools.start_run({})
    qtbot.waitUntil(lambda: window.scene.node_item("merge").run_status == PAUSED, timeout=10000)
    assert window.raised_bottom_dock() is timeline
    window.document.set_goto("square", "nowhere")
    window.validate_now()
    assert window.problems.counts()[0] == 1
    assert window.raised_bottom_dock() is timeline  # the paused run stays in view
    with qtbot.waitSignal(tools.run_ended, timeout=10000):
        tools.stop()


def test_the_saved_layout_comes_back_and_an_older_one_is_ignored(qtbot, make_window, example_file):
    path = example_file("loop")
    first = make_window(path)
    first.addDockWidget(LEFT, first.problems_dock)
    first.save_window_state()
    again = make_window(path)
    assert again.dockWidgetArea(again.problems_dock) == LEFT
    qtbot.waitUntil(lambda: sorted(tab_bars_seen(again)) == [["State", "Runs"],
                                                            ["Timeline", "Log", "Input / Output", "Compare"]])
    # a layout saved before the current default layout existed
    again.settings.setValue("window/state", again.saveState(WINDOW_STATE_VERSION - 1))
    again.settings.sync()
    fresh = make_window(path)
    assert fresh.dockWidgetArea(fresh.problems_dock) == BOTTOM
    assert set(fresh.tabifiedDockWidgets(fresh.problems_dock)) == {*bottom_docks(fresh)[:3],
                                                                   fresh.run_tools.presenter.docks["compare"]}
