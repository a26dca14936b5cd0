"""The Run menu in the real window: inputs, validation, trust, breakpoints, live statuses, history."""

import json
import pathlib
import shutil

import pytest
from PySide6.QtWidgets import QDialogButtonBox

from tea_studio.engine.record import DONE, FAILED, PAUSED, SKIPPED, RunRecord
from tea_studio.studio.panels.runs import RunHistory
from tea_studio.studio.run_inputs import InputDialog, InputStore, parse_inputs

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "resources" / "examples"

LOOP = """
name: loop
nodes:
  - name: start
    language: lua
    run: |
      return { i = 0 }
  - name: step
    language: lua
    run: |
      return { i = state.i + 1 }
    goto:
      - if: "state.i < 3"
        to: step
      - to: done
  - name: done
    language: lua
    run: |
      return { finished = true }
    goto: __end__
  - name: never
    language: lua
    run: |
      return { never = true }
"""

PYTHON = """
name: py
nodes:
  - name: compute
    run: |
      doubled = state["value"] * 2
"""


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("TEA_STUDIO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TEA_STUDIO_CONFIG_DIR", str(tmp_path / "config"))
    from tea_studio.studio.main_window import MainWindow
    from tea_studio.studio.prompts import AnsweredPrompts

    win = MainWindow(restore_state=False, prompts=AnsweredPrompts())
    qtbot.addWidget(win)
    yield win
    tools = win.run_tools
    if tools.running:
        with qtbot.waitSignal(tools.run_ended, timeout=5000):
            tools.stop()


def open_text(window, tmp_path, text, name="flow.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    assert window.load_file(path)
    return path


def run_to_end(qtbot, tools, inputs=None, **kwargs):
    """Run and wait until the run has ended and is stored in the history."""
    ok = []
    tools.run_ended.connect(ok.append)
    try:
        with qtbot.waitSignals([tools.run_ended, tools.run_stored], timeout=20000):
            assert tools.start_run(inputs or {}, **kwargs)
    finally:
        tools.run_ended.disconnect(ok.append)
    return ok[0]


def statuses(window):
    return {node.name: window.scene.node_item(node.name).run_status for node in window.document.workflow.nodes}


def test_the_parallel_example_runs_in_the_window(qtbot, window, tmp_path):
    path = tmp_path / "parallel_fanout.yaml"
    shutil.copy(EXAMPLES / "parallel_fanout.yaml", path)
    assert window.load_file(path)
    tools = window.run_tools
    assert run_to_end(qtbot, tools, {"value": 3}) is True
    assert set(statuses(window).values()) == {DONE}
    merge = window.scene.node_item("merge")
    assert merge.fan_in_progress == (3, 3)
    assert window.scene.node_item("split").run_badge.endswith("ms")
    assert tools.presenter.timeline.lane_count == 4
    assert [branch for branch, _ in tools.presenter.fan_in_view.rows("merge")] == ["double", "square", "negate"]
    assert tools.live.result["order"] == "double,square,negate"
    assert len(tools.presenter.runs_panel.run_ids()) == 1
    assert not window.actions["stop"].isEnabled() and window.actions["run"].isEnabled()


def test_loop_badge_and_skipped_nodes_and_state_of_a_selected_node(qtbot, window, tmp_path):
    open_text(window, tmp_path, LOOP)
    tools = window.run_tools
    assert run_to_end(qtbot, tools) is True
    step = window.scene.node_item("step")
    assert step.run_status == DONE and step.run_badge.startswith("x3 · ")
    assert window.scene.node_item("never").run_status == SKIPPED
    window.select_node("step")
    assert tools.presenter.state_view.title.text().startswith("State after step")
    assert tools.presenter.state_view.item_for("i").text(1) == "3"
    assert tools.presenter.state_view.counts()["changed"] == 1


def test_validation_errors_block_the_run_with_a_clear_message(qtbot, window, tmp_path):
    open_text(window, tmp_path, "nodes:\n  - name: a\n    goto: nowhere\n")
    tools = window.run_tools
    with qtbot.waitSignal(tools.run_blocked) as blocked:
        assert tools.start_run({}) is False
    assert "nowhere" in blocked.args[0]
    assert tools.live is None
    window.prompts.answers["inputs"] = lambda path, text: ({}, text)
    assert window.actions["run"].isEnabled()
    window.actions["run"].trigger()  # F5 shows the reason in a message box
    assert window.prompts.shown and window.prompts.shown[0][0] == "Cannot run" and "nowhere" in window.prompts.shown[0][1]


def test_an_edit_made_after_the_last_check_is_validated_before_the_run(qtbot, window, tmp_path):
    open_text(window, tmp_path, "nodes:\n  - name: a\n  - name: b\n")
    window.validate_now()  # the problems dock has checked this revision: no errors
    window.document.set_goto("a", "nowhere")  # F5 right after an edit, before the debounced check
    tools = window.run_tools
    with qtbot.waitSignal(tools.run_blocked) as blocked:
        assert tools.start_run({}) is False
    assert "nowhere" in blocked.args[0]
    window.document.undo_stack.undo()
    assert run_to_end(qtbot, tools) is True


def test_python_nodes_ask_for_trust_once_per_code(qtbot, window, tmp_path):
    open_text(window, tmp_path, PYTHON)
    tools = window.run_tools
    asked = []
    window.prompts.answers["trust"] = lambda names: asked.append(names) or False
    assert tools.start_run({"value": 2}) is False
    assert asked == [["compute"]]
    window.prompts.answers["trust"] = lambda names: asked.append(names) or True
    assert run_to_end(qtbot, tools, {"value": 2}) is True
    assert tools.live.result["doubled"] == 4
    assert run_to_end(qtbot, tools, {"value": 5}) is True  # remembered: not asked again
    assert len(asked) == 2
    window.document.set_node_code("compute", 'tripled = state["value"] * 3\n')
    assert run_to_end(qtbot, tools, {"value": 5}) is True
    assert len(asked) == 3  # the code changed: asked again
    window.document.set_node_code("compute", 'quad = state["value"] * 4\n')
    assert run_to_end(qtbot, tools, {"value": 1}, trusted=True) is True
    assert len(asked) == 3  # trusted=True (the --run flag) skips the question


def test_actions_that_reach_outside_ask_for_trust_like_python(qtbot, window, tmp_path):
    (tmp_path / "data.txt").write_text("hi", encoding="utf-8")
    open_text(window, tmp_path, "name: act\nnodes:\n  - {name: note, uses: state.set, with: {a: 1}}\n"
              "  - {name: load, uses: file.read, with: {path: data.txt}, output: loaded}\n")
    tools = window.run_tools
    asked = []
    window.prompts.answers["trust"] = lambda names: asked.append(names) or False
    assert tools.start_run({}) is False
    assert asked == [["load"]]  # state.set stays inside the run: no question for it
    window.prompts.answers["trust"] = lambda names: asked.append(names) or True
    assert run_to_end(qtbot, tools) is True
    assert tools.live.result["loaded"] == {"content": "hi", "success": True}


def test_breakpoint_pause_inspect_and_continue(qtbot, window, tmp_path):
    path = tmp_path / "parallel_fanout.yaml"
    shutil.copy(EXAMPLES / "parallel_fanout.yaml", path)
    window.load_file(path)
    tools = window.run_tools
    window.select_node("merge")
    window.actions["breakpoint_before"].trigger()
    assert window.document.breakpoints("merge") == (True, False)
    assert "merge" in window.document.workflow.config["interrupt_before"]
    assert tools.start_run({"value": 2})
    qtbot.waitUntil(lambda: window.scene.node_item("merge").run_status == PAUSED, timeout=10000)
    assert window.actions["continue"].isEnabled() and window.actions["step"].isEnabled()
    assert tools.presenter.state_view.title.text().startswith("Paused before merge")
    item = tools.presenter.state_view.item_for("parallel_results")
    assert item is not None and item.childCount() == 3
    with qtbot.waitSignal(tools.run_ended, timeout=10000) as ended:
        window.actions["continue"].trigger()
    assert ended.args == [True]
    assert window.scene.node_item("merge").run_status == DONE
    window.actions["breakpoint_before"].trigger()
    assert window.document.breakpoints("merge") == (False, False)


def test_auto_continue_runs_through_breakpoints(qtbot, window, tmp_path):
    open_text(window, tmp_path, LOOP + "config:\n  interrupt_after: [start]\n")
    assert run_to_end(qtbot, window.run_tools, auto_continue=True) is True


def test_a_failed_run_shows_the_failing_node_and_jumps_to_the_lua_line(qtbot, window, tmp_path):
    open_text(window, tmp_path, "nodes:\n  - name: bad\n    language: lua\n    run: |\n      local a = 1\n"
                                "      error('broken')\n  - name: after\n    language: lua\n    run: return {}\n")
    tools = window.run_tools
    assert run_to_end(qtbot, tools) is False
    assert statuses(window) == {"bad": FAILED, "after": SKIPPED}
    rows = [e for e in tools.presenter.log_view.visible_entries() if e.node == "bad" and e.line]
    assert rows and rows[0].line == 2
    tools.presenter.open_node_line("bad", 2)
    assert window.scene.selected_node_names() == ["bad"]
    editor = window.inspector.node_page.code_form.code_editor
    assert editor.textCursor().blockNumber() == 1
    assert editor.marked_line == 2  # the error line is highlighted
    assert any(s.cursor.blockNumber() == 1 for s in editor.extraSelections())


def test_reopen_a_past_run_from_the_history(qtbot, window, tmp_path):
    path = tmp_path / "parallel_fanout.yaml"
    shutil.copy(EXAMPLES / "parallel_fanout.yaml", path)
    window.load_file(path)
    tools = window.run_tools
    assert run_to_end(qtbot, tools, {"value": 4}) is True
    first_events = len(tools.live.record.events)
    assert run_to_end(qtbot, tools, {"value": 5}) is True
    ids = tools.presenter.runs_panel.run_ids()
    assert len(ids) == 2
    tools.clear_run_view()
    assert set(statuses(window).values()) == {None}
    assert tools.open_history_run(ids[-1])  # the older run
    assert set(statuses(window).values()) == {DONE}
    assert tools.presenter.timeline.lane_count == 4
    assert len(tools.model.record.events) == first_events
    assert tools.model.record.inputs == {"value": 4}
    assert tools.presenter.state_view.item_for("total").text(1) == str(8 + 16 - 4)
    saved = tools.save_run(str(tmp_path / "saved.ndjson"))
    lines = (tmp_path / "saved.ndjson").read_text().splitlines()
    assert saved and len(lines) == first_events
    assert json.loads(lines[0])["type"] == "run_started"


def test_run_history_keeps_the_last_twenty(tmp_path):
    history = RunHistory(tmp_path / "runs")
    path = str(tmp_path / "flow.yaml")
    from tea_studio.engine.events import RunFinished, RunStarted

    for i in range(23):
        record = RunRecord(run_id=f"run{i:02d}", path=path, inputs={"i": i})
        record.events += [RunStarted(t=1.0, run_id=record.run_id, workflow=path, inputs={"i": i}),
                          RunFinished(t=1.5, state={"i": i}, timing_ms=500)]
        history.add(record)
    entries = history.entries(path)
    assert [e["run_id"] for e in entries] == [f"run{i:02d}" for i in range(22, 2, -1)]
    assert len(list(history.folder(path).glob("*.ndjson"))) == 20
    assert history.load(path, "run05").final_state == {"i": 5}


def test_the_input_dialog_validates_json_and_inputs_are_remembered_per_file(qtbot, window, tmp_path):
    dialog = InputDialog("flow.yaml", '{"value": 1}')
    qtbot.addWidget(dialog)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert ok.isEnabled()
    dialog.editor.setPlainText('{"value": ')
    assert not ok.isEnabled() and "line 1" in dialog.error.text()
    dialog.editor.setPlainText("[1, 2]")
    assert not ok.isEnabled() and "object" in dialog.error.text()
    dialog.editor.setPlainText('{"x": NaN}')  # what --input refuses, the dialog refuses
    assert not ok.isEnabled() and dialog.inputs() is None
    assert parse_inputs("  ") == ({}, None)

    open_text(window, tmp_path, LOOP)
    tools = window.run_tools
    seen = []

    def prompt(path, text):
        seen.append(text)
        return {"i": 0}, '{"i": 0}'

    window.prompts.answers["inputs"] = prompt
    with qtbot.waitSignal(tools.run_ended, timeout=20000):
        window.actions["run"].trigger()
    with qtbot.waitSignal(tools.run_ended, timeout=20000):
        window.actions["run"].trigger()
    assert seen == ["{}", '{"i": 0}']
    assert InputStore().get(str(tmp_path / "other.yaml")) == "{}"


SCHEMA_FLOW = """name: count-letters
state_schema:
  word: str
  letter: {type: str, default: r}
  tries: int
  answer: str
initial_state:
  answer: none yet
nodes:
  - name: count
    language: lua
    run: |
      return { n = #state.word + state.tries }
"""


def test_a_file_never_run_starts_from_the_keys_its_state_schema_declares(qtbot, window, tmp_path):
    """TEA files declare their inputs in ``state_schema``: the first Run offers them, so the run does not stop at
    a missing key; what the user then types is what later runs offer."""
    open_text(window, tmp_path, SCHEMA_FLOW)
    seen = []

    def prompt(path, text):
        seen.append(text)
        return parse_inputs(text)[0], text

    window.prompts.answers["inputs"] = prompt
    with qtbot.waitSignal(window.run_tools.run_ended, timeout=20000) as ended:
        window.actions["run"].trigger()
    assert ended.args == [True]
    assert json.loads(seen[0]) == {"word": "", "letter": "r", "tries": 0}  # answer is set by initial_state
    assert window.run_tools.live.result == {"word": "", "letter": "r", "tries": 0, "answer": "none yet", "n": 0}
