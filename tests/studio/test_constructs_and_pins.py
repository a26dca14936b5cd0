"""Composite nodes and pinned outputs in the real window: labels, pin badge and menu, the inspector's read-only
inner list, step rows and collapsed item groups on the timeline, and a run that uses a pin."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDialogButtonBox, QPlainTextEdit
from test_run_ui import open_text, run_to_end, window  # noqa: F401 - the window fixture

from tea_studio.studio.canvas.node_item import node_caption
from tea_studio.studio.panels.run_timeline import GROUP_LIMIT, lane_label
from tea_studio.studio.pins import PinDialog
from tea_studio.workflow.yaml_io import load_workflow

FLOW = """
name: composite
nodes:
  - name: ask
    language: lua
    run: |
      return { answer = "live" }
  - name: loop
    type: while_loop
    condition: "state.n < 2"
    max_iterations: 5
    body:
      - name: up
        language: lua
        run: return { n = state.n + 1 }
  - name: fan
    type: dynamic_parallel
    items: "{{ range(state.count) | list }}"
    steps:
      - name: square
        language: lua
        run: return { sq = state.item * state.item }
    output: squares
  - name: total
    language: lua
    run: |
      local t = 0
      for _, r in ipairs(state.squares) do t = t + r.state.sq end
      return { total = t, echoed = state.answer }
"""


def test_composite_nodes_are_labelled_and_listed_read_only(qtbot, window, tmp_path):  # noqa: F811 - the imported fixture
    open_text(window, tmp_path, FLOW)
    workflow = window.document.workflow
    assert node_caption(workflow.node("loop"), None) == "loop · 1 step · max 5"
    assert node_caption(workflow.node("fan"), None) == "fan-out · each item · steps"
    window.inspector.show_node("loop")
    view = window.inspector.findChild(QPlainTextEdit, "constructView")
    assert view.isVisibleTo(window.inspector) and view.isReadOnly()
    assert "max_iterations: 5" in view.toPlainText() and "name: up" in view.toPlainText()
    window.inspector.show_node("ask")
    assert not view.isVisibleTo(window.inspector)


def test_a_run_shows_step_rows_and_collapses_hundreds_of_items(qtbot, window, tmp_path):  # noqa: F811 - the imported fixture
    open_text(window, tmp_path, FLOW)
    tools = window.run_tools
    count = GROUP_LIMIT + 10
    assert run_to_end(qtbot, tools, {"n": 0, "count": count}) is True
    model = tools.model
    assert model.nodes["fan"].status == "done"
    assert model.fan_ins["fan"].progress == (count, count)  # the canvas's k/N on the fan-out node
    steps = model.lanes["▸loop"].executions
    assert [(x.node, x.iteration) for x in steps] == [("loop › up", 1), ("loop › up", 2)]
    assert [x.node for x in model.lanes["fan[3]"].executions] == ["fan › square"]
    timeline = tools.presenter.timeline
    canvas = timeline.canvas
    group = ("", "fan")
    assert canvas.lane_row("fan[3]") is None  # folded into its group's row
    assert canvas.group_label(group) == f"▸ fan: {count}"
    rows = len(canvas._rows)
    canvas.toggle_group(group)
    assert canvas.lane_row("fan[3]") is not None and len(canvas._rows) == rows + count
    # the loop's step row sits right under the flow that ran it, before the fan-out's branches, and is no branch
    assert [lane_label(row) if not isinstance(row, tuple) else "group" for row in canvas._rows[:4]] == [
        "main flow", "  › loop ×2", "group", "  fan[0]"]
    assert timeline.summary.text().startswith(f"{count} branches")
    image = timeline.grab().toImage()  # painted: the iteration marks and numbers do not break the paint
    assert not image.isNull() and image.width() > 0


def test_pin_output_from_the_menu_is_used_by_runs_and_saved_in_the_studio_block(qtbot, window, tmp_path):  # noqa: F811 - the imported fixture
    path = open_text(window, tmp_path, FLOW)
    tools = window.run_tools
    assert run_to_end(qtbot, tools, {"n": 0, "count": 2}) is True
    assert tools.model.record.events[-1].state["echoed"] == "live"

    offered = []  # the pin dialog's answer: what it was prefilled with is recorded, an edited output returned
    window.prompts.answers["pin_output"] = lambda name, output: offered.append(output) or {"answer": "pinned"}
    view = window.view
    item = window.scene.node_item("ask")
    point = view.mapFromScene(item.sceneBoundingRect().center())
    menu = view.context_menu.build(QPoint(point.x(), point.y()))
    menu.findChild(QAction, "pinOutput").trigger()
    assert offered[0]["answer"] == "live"  # prefilled from the last run
    assert window.document.pinned("ask")
    assert "output pinned" in item.toolTip()
    point = view.mapFromScene(item.sceneBoundingRect().center())
    menu = view.context_menu.build(QPoint(point.x(), point.y()))
    assert menu.findChild(QAction, "unpinOutput").isEnabled()

    assert run_to_end(qtbot, tools, {"n": 0, "count": 2}) is True
    assert tools.model.record.events[-1].state["echoed"] == "pinned"
    pinned = tools.model.last_execution("ask")  # the timeline marks the execution that used the pin
    assert pinned.pinned and tools.model.lanes[""].pinned == [pinned] and not tools.model.last_execution("total").pinned
    assert "pinned output" in tools.presenter.timeline.canvas.tooltip(pinned)
    assert window.files.save()
    saved = load_workflow(path)
    assert saved.layout.pins == {"ask": {"answer": "pinned"}}
    window.document.undo_stack.undo()
    assert not window.document.pinned("ask")


@pytest.mark.parametrize("text,ok", [('{"a": 1}', True), ("[1]", False), ("{oops", False), ('{"a": NaN}', False)])
def test_the_pin_dialog_accepts_only_a_json_object(qtbot, text, ok):
    dialog = PinDialog("n", {}, "typed")
    qtbot.addWidget(dialog)
    dialog.editor.setPlainText(text)
    assert dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled() is ok
    assert (dialog.output() is not None) is ok


INNER_PYTHON = """
name: inner-python
nodes:
  - name: loop
    type: while_loop
    condition: "state.n < 1"
    max_iterations: 3
    body:
      - name: py
        run: |
          return {"n": state["n"] + 1}
  - name: check
    run:
      type: expression
      value: state["n"] * 10
"""


def test_python_inside_loops_and_expressions_asks_for_trust(qtbot, window, tmp_path):  # noqa: F811 - the fixture
    open_text(window, tmp_path, INNER_PYTHON)
    asked = []
    window.prompts.answers["trust"] = lambda names: asked.append(names) or False
    assert window.run_tools.start_run({"n": 0}) is False
    assert asked == [["loop/py", "check"]]


def test_pinning_an_execution_from_the_timeline_uses_that_runs_output(qtbot, window, tmp_path):  # noqa: F811
    open_text(window, tmp_path, FLOW)
    tools = window.run_tools
    assert run_to_end(qtbot, tools, {"n": 0, "count": 2}) is True
    execution = tools.model.last_execution("loop")
    seen = []
    window.prompts.answers["pin_output"] = lambda name, output: seen.append(output) or output  # OK as offered
    tools.presenter.timeline.pin_requested.emit(execution)
    assert seen == [{"n": 2}] and window.document.workflow.layout.pins == {"loop": {"n": 2}}


def test_a_pin_follows_its_node_when_renamed(qtbot, window, tmp_path):  # noqa: F811 - the imported fixture
    open_text(window, tmp_path, FLOW)
    document = window.document
    document.set_pin("ask", {"answer": "x"})
    document.rename_node("ask", "question")
    assert document.workflow.layout.pins == {"question": {"answer": "x"}}
    document.undo_stack.undo()
    assert document.workflow.layout.pins == {"ask": {"answer": "x"}}
