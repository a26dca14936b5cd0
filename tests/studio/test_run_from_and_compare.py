"""Run from a node with a past run's state, re-run one node, and compare two runs, all through the real window:
keys, right-clicks on the canvas, the timeline and the Runs list, and clicks on the Runs and Compare docks."""

from __future__ import annotations

from fixtures_window import *  # noqa: F403
from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from tea_studio.studio.panels.run_compare import NODE_COLUMNS

NO_KEY = Qt.KeyboardModifier.NoModifier
LEFT = Qt.MouseButton.LeftButton


def choose_in_context_menu(widget, pos: QPoint, name: str) -> None:
    """Right-click ``widget`` at ``pos`` and pick the menu entry whose object name is ``name`` with the keyboard."""
    picked = []

    def pick() -> None:
        menu = QApplication.activePopupWidget()
        action = next(a for a in menu.actions() if a.objectName() == name)
        assert action.isEnabled(), name
        menu.setActiveAction(action)
        QTest.keyClick(menu, Qt.Key.Key_Return)
        picked.append(name)

    QTimer.singleShot(0, pick)  # runs inside the menu's own event loop, once it is shown
    QApplication.sendEvent(widget, QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos, widget.mapToGlobal(pos)))
    assert picked == [name]


def run_with_f5(window, qtbot) -> str:
    tools = window.run_tools
    with qtbot.waitSignals([tools.run_ended, tools.run_stored], timeout=20000):
        QTest.keyClick(window.view, Qt.Key.Key_F5)
    return tools.model.record.run_id


def node_point(window, name: str) -> QPoint:
    return window.view.mapFromScene(window.scene.node_item(name).centre())


def runs_item_point(panel, run_id: str) -> QPoint:
    return panel.tree.visualItemRect(panel.item_for(run_id)).center()


def test_run_from_the_fan_in_with_an_edited_state_and_re_run_a_branch_node(make_window, example_file, qtbot):
    window = make_window(example_file("parallel_fanout"))
    tools, prompts = window.run_tools, window.prompts
    prompts.answers["inputs"] = lambda path, text: ({"value": 3}, '{"value": 3}')
    given = {}

    def edit_state(node, state, mode):
        given[(node, mode)] = state
        if node == "merge":
            state["parallel_results"][1]["part"] = 100  # the user edits the square branch's result
        return state

    prompts.answers["start_state"] = edit_state
    first = run_with_f5(window, qtbot)
    assert tools.model.record.final_state["total"] == 6 + 9 - 3

    # right-click the fan-in on the canvas: Run From Here… with the state it received, edited
    with qtbot.waitSignals([tools.run_ended, tools.run_stored], timeout=20000):
        choose_in_context_menu(window.view.viewport(), node_point(window, "merge"), "runFromHere")
    child = tools.model.record.run_id
    received = given[("merge", "from")]
    assert [r["label"] for r in received["parallel_results"]] == ["double", "square", "negate"]
    assert tools.model.record.final_state["total"] == 6 + 100 - 3
    assert [x.node for x in tools.model.executions_of("merge")] == ["merge"]
    assert tools.model.nodes["split"].status == "skipped"  # nothing before the fan-in ran again

    panel = tools.presenter.runs_panel
    tools.presenter.docks["runs"].show()
    tools.presenter.docks["runs"].raise_()
    assert panel.children_of(first) == [child]  # listed under the run it came from
    assert panel.item_for(child).text(4).startswith("from merge: ")

    # open the first run again (Return on it in the Runs list), then re-run one branch node from its timeline bar
    QTest.mouseClick(panel.tree.viewport(), LEFT, NO_KEY, runs_item_point(panel, first))
    QTest.keyClick(panel.tree, Qt.Key.Key_Return)
    assert tools.model.record.run_id == first
    canvas = tools.presenter.timeline.canvas
    execution = tools.model.last_execution("square")
    bar = canvas.bar_rect(canvas.lane_row("square"), execution).center().toPoint()
    with qtbot.waitSignals([tools.run_ended, tools.run_stored], timeout=20000):
        choose_in_context_menu(canvas, bar, "rerunExecution")
    rerun = tools.model.record.run_id
    assert given[("square", "node")] == {"value": 3}  # the copy of the state its branch got at the fork
    assert tools.model.record.final_state == {"value": 3, "part": 9, "label": "square"}
    assert sorted(panel.children_of(first)) == sorted([child, rerun])
    assert panel.item_for(rerun).text(4).startswith("only square: ")


def test_re_run_node_from_the_run_menu_uses_the_selected_node(make_window, small_file, qtbot):
    window = make_window(small_file)
    tools, prompts = window.run_tools, window.prompts
    prompts.answers["inputs"] = lambda path, text: ({}, "{}")
    prompts.answers["start_state"] = lambda node, state, mode: {**state, "n": 41}
    first = run_with_f5(window, qtbot)
    QTest.mouseClick(window.view.viewport(), LEFT, NO_KEY, node_point(window, "finish"))
    assert window.scene.selected_node_names() == ["finish"]
    action = window.actions["rerun_node"]
    assert action in window.menus["&Run"].actions()
    with qtbot.waitSignals([tools.run_ended, tools.run_stored], timeout=20000):
        action.trigger()
    assert prompts.asked[-1] == ("start_state", "finish", {"n": 1}, "node")  # its input in the run shown
    assert tools.model.record.final_state == {"n": 41, "done": True}
    assert tools.presenter.runs_panel.children_of(first) == [tools.model.record.run_id]


def test_select_two_runs_and_compare_them_node_by_node(make_window, example_file, qtbot):
    window = make_window(example_file("parallel_fanout"))
    tools, prompts = window.run_tools, window.prompts
    prompts.answers["inputs"] = lambda path, text: ({"value": 3}, '{"value": 3}')
    a = run_with_f5(window, qtbot)
    prompts.answers["inputs"] = lambda path, text: ({"value": 5}, '{"value": 5}')
    b = run_with_f5(window, qtbot)

    panel = tools.presenter.runs_panel
    tools.presenter.docks["runs"].show()
    tools.presenter.docks["runs"].raise_()
    assert not panel.compare_button.isEnabled()
    QTest.mouseClick(panel.tree.viewport(), LEFT, NO_KEY, runs_item_point(panel, b))
    QTest.mouseClick(panel.tree.viewport(), LEFT, Qt.KeyboardModifier.ControlModifier, runs_item_point(panel, a))
    assert panel.compare_button.isEnabled()
    QTest.mouseClick(panel.compare_button, LEFT)

    view = tools.presenter.compare_view
    qtbot.waitUntil(view.isVisible, timeout=2000)
    assert view.title.text().startswith(f"A: {a} (ok") and f"B: {b} (ok" in view.title.text()
    rows = {row[0]: dict(zip(NODE_COLUMNS, row, strict=True)) for row in view.node_rows()}
    assert set(rows) == {"split", "double", "square", "negate", "merge"}
    assert rows["merge"]["A"] == rows["merge"]["B"] == "done"
    assert '"total": 12' in rows["merge"]["output A"] and '"total": 30' in rows["merge"]["output B"]
    state = {row[0]: row[1:] for row in view.state_rows()}
    assert state["total"] == ["12", "30"] and state["order"] == ['"double,square,negate"'] * 2
    assert view.state_rows()[-1][0] == "order"  # keys that differ come first

    # the timeline: each flow of run A right above the same flow of run B, on one axis
    timeline = view.timeline
    lanes = [(side, lane) for side, _model, lane in timeline.rows]
    assert lanes[:4] == [("A", ""), ("B", ""), ("A", "double"), ("B", "double")]
    row = timeline.row_of("B", "square")
    bar = timeline.bar_rect(row, tools.presenter.compare_view.comparison.b.lanes["square"].executions[0])
    QTest.mouseClick(timeline, LEFT, NO_KEY, bar.center().toPoint())
    assert window.scene.selected_node_names() == ["square"]  # the bar's node is selected on the canvas

    # the same from the Runs list's right-click menu
    view.nodes.clear()
    panel.tree.customContextMenuRequested.emit(runs_item_point(panel, a))
    menu = panel.menu
    qtbot.waitUntil(menu.isVisible, timeout=2000)
    compare = next(action for action in menu.actions() if action.objectName() == "compareRuns")
    menu.setActiveAction(compare)
    QTest.keyClick(menu, Qt.Key.Key_Return)
    assert len(view.node_rows()) == 5
