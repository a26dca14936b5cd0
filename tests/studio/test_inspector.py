"""The inspector edits nodes, goto rules, edges and workflow settings through the document (undoable)."""

from fixtures_window import *  # noqa: F403
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tea_studio.workflow.model import GotoRule

PYTHON_FLOW = """\
name: py
nodes:
  - name: compute
    run: |
      total = state["a"] + 1
"""


def routes(window):
    return {(item.route.source, item.route.target, item.route.label) for item in window.scene.edge_items()}


def test_goto_rules_add_edit_reorder_remove(make_window, example_file):
    window = make_window(example_file("loop"))
    window.select_node("check")
    inspector = window.inspector
    table = inspector.node_page.goto_rules.table
    assert table.rowCount() == 2 and table.item(0, 0).text() == "state.n <= 1"
    assert table.cellWidget(0, 1).currentText() == "done"
    steps = window.document.undo_stack.count()

    inspector.node_page.goto_rules.add_button.click()
    assert table.rowCount() == 3 and len(window.workflow.node("check").goto) == 3
    combo = table.cellWidget(2, 1)
    assert "__end__" in [combo.itemText(i) for i in range(combo.count())]
    combo.setCurrentText("__end__")
    combo.activated.emit(combo.currentIndex())
    table.item(2, 0).setText("state.n > 1000")  # typing in the 'if' cell
    rules = window.workflow.node("check").goto
    assert rules[2] == GotoRule(to="__end__", condition="state.n > 1000")
    assert ("check", "__end__", "state.n > 1000") in routes(window)

    table.setCurrentCell(2, 0)
    inspector.node_page.goto_rules.up_button.click()
    assert [r.to for r in window.workflow.node("check").goto] == ["done", "__end__", "step"]
    assert table.currentRow() == 1  # the moved rule stays selected
    inspector.node_page.goto_rules.remove_button.click()
    assert [r.to for r in window.workflow.node("check").goto] == ["done", "step"]
    assert window.document.undo_stack.count() == steps + 5  # one undo step per change
    for _ in range(5):
        window.actions["undo"].trigger()
    assert [(r.to, r.condition) for r in window.workflow.node("check").goto] == [("done", "state.n <= 1"),
                                                                                ("step", None)]
    assert table.rowCount() == 2


def test_plain_goto_keeps_its_spelling_when_retargeted(make_window, example_file):
    window = make_window(example_file("loop"))
    window.select_node("step")
    combo = window.inspector.node_page.goto_rules.table.cellWidget(0, 1)
    combo.setCurrentText("done")
    combo.activated.emit(combo.currentIndex())
    assert window.workflow.node("step").goto == "done"


def test_edge_properties(make_window, example_file, qtbot):
    window = make_window(example_file("parallel_fanout"))
    window.scene.clearSelection()
    window.scene.edge_item("edge:split->double").setSelected(True)
    page = window.inspector.edge_page
    assert window.inspector.mode == "edge"
    assert page.route_label.text() == "split \u2192 double"
    assert page.parallel_check.isChecked() and page.fan_in_combo.currentText() == "merge"
    page.parallel_check.setChecked(False)
    edge = window.workflow.edges[0]
    assert not edge.parallel and edge.fan_in is None
    window.actions["undo"].trigger()
    assert window.workflow.edges[0].parallel and window.workflow.edges[0].fan_in == "merge"
    assert page.parallel_check.isChecked()

    window.scene.clearSelection()
    window.scene.edge_item("edge:double->merge").setSelected(True)
    page.condition_edit.setText("state.part > 3")
    page.when_edit.setText("false")
    page.when_edit.editingFinished.emit()
    edge = window.workflow.edges[3]
    assert edge.condition == "state.part > 3" and edge.when is False
    assert ("double", "merge", "not (state.part > 3)") in routes(window)


def test_workflow_settings_form(window, small_file, qtbot):
    assert window.load_file(small_file)
    inspector = window.inspector
    assert inspector.mode == "workflow" and inspector.title.text() == "Workflow"
    page = inspector.workflow_page
    page.strategy_combo.setCurrentText("process")
    page.strategy_combo.activated.emit(page.strategy_combo.currentIndex())
    page.max_workers_spin.setValue(4)
    page.max_workers_spin.editingFinished.emit()
    page.branch_error_combo.setCurrentText("continue")
    page.branch_error_combo.activated.emit(page.branch_error_combo.currentIndex())
    page.lua_timeout_spin.setValue(2.5)
    page.lua_timeout_spin.editingFinished.emit()
    page.lua_memory_spin.setValue(64)
    page.lua_memory_spin.editingFinished.emit()
    assert window.workflow.settings == {
        "parallel": {"strategy": "process", "max_workers": 4, "on_branch_error": "continue"},
        "lua": {"timeout": 2.5, "max_memory_mb": 64},
    }
    page.max_workers_spin.setValue(0)  # back to the default: the key goes away
    page.max_workers_spin.editingFinished.emit()
    assert "max_workers" not in window.workflow.settings["parallel"]

    page.name_edit.setText("renamed")
    page.name_edit.editingFinished.emit()
    page.description_edit.setPlainText("Does: things")
    assert page.description_edit.commit()
    page.variables_field.setPlainText("threshold: 3\nlabels: [a, b]")
    assert page.variables_field.commit()
    page.schema_field.setPlainText("n: int")
    assert page.schema_field.commit()
    wf = window.workflow
    assert (wf.name, wf.description, wf.variables, wf.state_schema) == (
        "renamed", "Does: things", {"threshold": 3, "labels": ["a", "b"]}, {"n": "int"})

    page.variables_field.setPlainText("threshold: [unclosed")
    assert not page.variables_field.commit()
    assert "Not valid YAML" in page.variables_field.error.text()
    assert window.workflow.variables == {"threshold": 3, "labels": ["a", "b"]}
    window.actions["undo"].trigger()  # the state schema
    assert window.workflow.state_schema is None and page.schema_field.toPlainText() == ""


def test_lua_syntax_error_is_underlined_while_typing(make_window, small_file, qtbot):
    window = make_window(small_file)
    window.select_node("start")
    page = window.inspector.node_page
    editor = page.code_form.code_editor
    editor.setFocus()
    cursor = editor.textCursor()
    cursor.movePosition(cursor.MoveOperation.End)
    editor.setTextCursor(cursor)
    qtbot.keyClicks(editor, "local = ")
    assert editor.error is None  # checked only after a pause in typing
    qtbot.waitUntil(lambda: editor.error is not None, timeout=2000)
    line, message = editor.error
    assert line == 2 and message
    [underline] = editor.extraSelections()
    assert underline.cursor.block().blockNumber() == 1
    assert underline.format.underlineStyle() == underline.format.UnderlineStyle.WaveUnderline
    assert page.code_form.code_error.isVisible() and page.code_form.code_error.text().startswith("line 2:")
    for _ in range(len("local = ")):
        qtbot.keyClick(editor, Qt.Key.Key_Backspace)
    qtbot.waitUntil(lambda: editor.error is None, timeout=2000)
    assert editor.extraSelections() == [] and not page.code_form.code_error.isVisible()


def test_python_node_gets_python_highlighting(make_window, tmp_path):
    path = tmp_path / "py.yaml"
    path.write_text(PYTHON_FLOW, encoding="utf-8")
    window = make_window(path)
    window.select_node("compute")
    page = window.inspector.node_page
    assert page.code_form.code_label.text().startswith("Python")
    editor = page.code_form.code_editor
    assert editor.language == "python" and editor._highlighter.language == "python"
    block = editor.document().firstBlock()
    formats = block.layout().formats()
    assert formats, "the code is coloured"
    assert editor.error is None


def test_no_selection_or_many_shows_the_workflow(make_window, example_file):
    window = make_window(example_file("parallel_fanout"))
    window.select_node("merge")
    assert window.inspector.mode == "node"
    window.actions["select_all"].trigger()
    assert window.inspector.mode == "workflow"
    window.scene.clearSelection()
    assert window.inspector.workflow_page.name_edit.text() == "parallel-fanout"
    window.select_node("merge")
    window.actions["delete"].trigger()
    assert window.inspector.mode == "workflow"


def choose_kind(window, label: str) -> None:
    """Pick a kind in the inspector's kind combo with the arrow keys (each key press is a choice: go one step)."""
    combo = window.inspector.node_page.node_form.kind_combo
    combo.setFocus()
    target = combo.findText(label)
    assert target >= 0, label
    while combo.currentIndex() != target:
        QTest.keyClick(combo, Qt.Key.Key_Down if combo.currentIndex() < target else Qt.Key.Key_Up)


def test_kind_combo_switches_kind_in_one_undoable_step_each(make_window, small_file):
    from tea_studio.workflow.yaml_io import dump_workflow

    window = make_window(small_file)
    original = dump_workflow(window.workflow)
    window.select_node("start")
    page = window.inspector.node_page
    assert page.node_form.kind_combo.currentText() == "Lua"
    code = window.workflow.node("start").code
    steps = window.document.undo_stack.count()

    choose_kind(window, "Python")
    node = window.workflow.node("start")
    assert (node.kind, node.code, node.code_form) == ("python", code, "language")  # the code is kept
    assert window.document.undo_stack.count() == steps + 1
    assert page.code_form.code_editor.language == "python" and page.code_form.code_label.text().startswith("Python")
    assert "language: python" in dump_workflow(window.workflow)

    choose_kind(window, "No-op")
    node = window.workflow.node("start")
    assert (node.kind, node.code, node.code_form) == ("noop", None, None)
    assert window.scene.node_item("start").text_layout().subtitle == "No-op"

    choose_kind(window, "Action")
    node = window.workflow.node("start")
    assert (node.kind, node.code, node.uses, node.with_args) == ("action", None, "", {})
    assert page.action_form.uses_edit.isVisibleTo(page) and not page.code_form.code_editor.isVisibleTo(page)
    assert window.document.undo_stack.count() == steps + 3

    for _ in range(3):
        window.document.undo_stack.undo()
    assert dump_workflow(window.workflow) == original
    assert page.node_form.kind_combo.currentText() == "Lua"


def test_edge_form_follows_its_edge_when_an_earlier_edge_is_deleted(make_window, example_file):
    window = make_window(example_file("parallel_fanout"))
    edges = window.workflow.edges
    last = len(edges) - 1
    window.scene.clearSelection()
    window.scene.edge_item(f"edge:{edges[last].source}->{edges[last].target}").setSelected(True)
    shown = window.inspector.edge_page.route_label.text()
    route_id = window.inspector.route_id
    for index in (1, 0):  # the form must never show (or edit) another edge, nor fail on a stale index
        window.document.remove_edges([index])
        assert window.inspector.mode == "edge" and window.inspector.route_id == route_id
        assert window.inspector.edge_page.route_label.text() == shown
    window.inspector.edge_page.condition_edit.setText("state.ok")
    window.inspector.edge_page.commit()
    assert window.workflow.edges[-1].condition == "state.ok"


def test_the_edge_form_shows_what_undo_puts_back_even_when_no_route_looks_different(make_window, example_file):
    window = make_window(example_file("parallel_fanout"))
    window.document.add_node("lua", (0, 400), name="join2")
    window.scene.clearSelection()
    window.scene.edge_item("edge:split->square").setSelected(True)
    page = window.inspector.edge_page
    page.fan_in_combo.setCurrentText("join2")
    page.fan_in_combo.activated.emit(page.fan_in_combo.currentIndex())
    assert window.workflow.edges[1].fan_in == "join2"
    window.actions["undo"].trigger()  # the route is drawn the same either way: the form still follows the file
    assert window.workflow.edges[1].fan_in == "merge" and page.fan_in_combo.currentText() == "merge"


def test_selecting_a_goto_route_shows_the_node_whose_rules_write_it(make_window, example_file):
    window = make_window(example_file("loop"))
    window.scene.clearSelection()
    window.scene.edge_item("goto:step->check").setSelected(True)
    assert window.inspector.mode == "node" and window.inspector.node_name == "step"
    window.scene.clearSelection()
    assert window.inspector.mode == "workflow"


def test_yaml_fields_refuse_text_the_file_cannot_hold(make_window, small_file):
    window = make_window(small_file)
    page = window.inspector.workflow_page
    for field, text, message in ((page.variables_field, "[1, 2]", "mapping"),
                                 (page.schema_field, "loop: &a [*a]", "refers to itself"),
                                 (page.variables_field, "a: &a {b: *a}", "refers to itself")):
        field.setFocus()
        field.setPlainText(text)
        assert not field.commit()  # refused: the typed text stays for the user to fix
        assert message in field.error.text() and field.error.isVisibleTo(window)
        assert field.toPlainText() == text
    assert window.workflow.variables is None and window.workflow.state_schema is None
    assert window.files.save()  # nothing unsaveable got into the document
    page.variables_field.setPlainText("threshold: 3")
    assert page.variables_field.commit() and not page.variables_field.error.isVisibleTo(window)
    assert window.workflow.variables == {"threshold": 3}


def test_a_node_switched_to_prolog_starts_with_prolog_code_and_says_how_it_reads_state(make_window, small_file):
    from tea_studio.workflow.model import KINDS
    from tea_studio.workflow.yaml_io import dump_workflow

    window = make_window(small_file)
    window.select_node("start")
    page = window.inspector.node_page
    choose_kind(window, "Prolog")  # by way of No-op and Action, which drop the Lua code
    node = window.workflow.node("start")
    assert (node.kind, node.code, node.code_form) == ("prolog", KINDS["prolog"].new_code, "language")
    assert page.code_form.code_label.text().startswith("Prolog code (state(Key, Value) reads")
    assert page.code_form.code_editor.isVisibleTo(page) and "language: prolog" in dump_workflow(window.workflow)
