"""The studio window driven like a user: menus, inspector edits, saving, prompts, recovery, problems, palette."""

import os

import shiboken6
from fixtures_window import *  # noqa: F403
from PySide6.QtCore import QMimeData, QPoint, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from tea_studio.studio import recovery
from tea_studio.studio.panels.palette import NODE_KIND_MIME
from tea_studio.workflow.yaml_io import load_workflow


def routes(window):
    """(source, target) of every route item drawn on the canvas."""
    return {(item.route.source, item.route.target) for item in window.scene.edge_items()}


def type_code(qtbot, window, node, text):
    window.select_node(node)
    editor = window.inspector.node_page.code_form.code_editor
    editor.setFocus()
    cursor = editor.textCursor()
    cursor.movePosition(cursor.MoveOperation.End)
    editor.setTextCursor(cursor)
    for i, line in enumerate(text.split("\n")):
        if i:
            qtbot.keyClick(editor, Qt.Key.Key_Return)
        qtbot.keyClicks(editor, line)
    return editor


def test_open_example_fills_canvas_status_and_title(make_window, example_file):
    path = example_file("lua_pipeline")
    window = make_window(path)
    names = window.workflow.node_names
    assert names and all(window.scene.node_item(n) is not None for n in names)
    assert window.node_count_label.text() == f"{len(names)} nodes"
    assert window.file_label.text() == path.name  # the name; the full path is in the tooltip
    assert window.file_label.toolTip() == str(path)
    assert window.zoom_label.text().startswith("Zoom ")
    assert window.windowTitle().startswith("lua_pipeline.yaml — ")
    assert window.files.recent_files()[0] == str(path)


def test_no_file_opens_an_empty_untitled_window(window):
    assert window.workflow.nodes == []
    assert window.windowTitle() == "Untitled — TEA Studio"
    assert window.menus["&Run"].title() == "&Run" and window.run_toolbar is not None


def test_rename_in_inspector_updates_routes_on_canvas(make_window, example_file, qtbot):
    window = make_window(example_file("loop"))
    assert ("step", "check") in routes(window)
    window.select_node("check")
    page = window.inspector.node_page.node_form
    assert page.name_edit.text() == "check"
    page.name_edit.setFocus()
    page.name_edit.selectAll()
    qtbot.keyClicks(page.name_edit, "test_n")
    qtbot.keyClick(page.name_edit, Qt.Key.Key_Return)
    assert window.workflow.node("step").goto == "test_n"
    assert ("step", "test_n") in routes(window) and ("step", "check") not in routes(window)
    assert window.scene.node_item("test_n") is not None
    window.actions["undo"].trigger()
    assert ("step", "check") in routes(window)
    assert window.inspector.node_page.node_form.name_edit.text() == "check"


def test_rename_refuses_clashes_and_reserved_names(make_window, small_file, qtbot):
    window = make_window(small_file)
    window.select_node("start")
    page = window.inspector.node_page.node_form
    for bad, words in (("finish", "already exists"), ("__end__", "reserved")):
        page.name_edit.setText(bad)
        page.name_edit.editingFinished.emit()
        assert words in page.name_message.text() and page.name_message.isVisible()
        assert page.name_edit.text() == "start"
    assert window.workflow.node_names == ["start", "finish"] and not window.is_dirty()


def test_code_typing_is_one_undo_step(make_window, small_file, qtbot):
    window = make_window(small_file)
    before = window.workflow.node("start").code
    steps = window.document.undo_stack.count()
    editor = type_code(qtbot, window, "start", "-- tuned")
    assert window.workflow.node("start").code == before + "-- tuned"
    assert window.document.undo_stack.count() == steps + 1
    window.actions["undo"].trigger()
    assert window.workflow.node("start").code == before
    assert editor.toPlainText() == before
    window.actions["redo"].trigger()
    assert editor.toPlainText() == before + "-- tuned"


def test_save_then_reopen_gives_the_same_document_and_keeps_comments(make_window, example_file, qtbot):
    path = example_file("loop")
    window = make_window(path)
    type_code(qtbot, window, "step", "-- one more line\n")
    window.select_node("done")
    window.inspector.node_page.node_form.name_edit.setText("finished")
    window.inspector.node_page.node_form.name_edit.editingFinished.emit()
    window.actions["save"].trigger()
    assert not window.is_dirty()
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# A loop built from goto rules")  # the file's comments survive
    assert "-- one more line" in text and "to: finished" in text
    assert load_workflow(path) == window.workflow
    again = make_window(path)
    assert again.workflow == window.workflow


def test_dirty_star_follows_undo_redo_and_save(make_window, small_file, qtbot):
    window = make_window(small_file)
    assert "*" not in window.windowTitle()
    type_code(qtbot, window, "finish", " ")
    assert window.windowTitle().startswith("small.yaml*")
    window.actions["undo"].trigger()
    assert "*" not in window.windowTitle()
    window.actions["redo"].trigger()
    assert "*" in window.windowTitle()
    qtbot.keyClick(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)  # the standard Save shortcut
    assert "*" not in window.windowTitle()
    window.actions["undo"].trigger()
    assert "*" in window.windowTitle()  # back before the save: differs from the file again


def test_close_prompt_on_unsaved_changes(make_window, small_file, qtbot):
    window = make_window(small_file)
    type_code(qtbot, window, "start", "-- edit")
    window.prompts.answers["save_changes"] = "cancel"
    assert not window.close()
    assert window.isVisible() and window.prompts.asked == ["save_changes"]
    window.prompts.answers["save_changes"] = "save"
    assert window.close()
    assert "-- edit" in small_file.read_text(encoding="utf-8")


def test_close_without_edits_does_not_ask(make_window, small_file):
    window = make_window(small_file)
    assert window.close()
    assert window.prompts.asked == []


def test_external_change_with_unsaved_edits_keeps_them(make_window, small_file, qtbot):
    window = make_window(small_file)
    type_code(qtbot, window, "start", "-- mine")
    small_file.write_text(small_file.read_text(encoding="utf-8").replace("n = 1", "n = 2"), encoding="utf-8")
    window.prompts.answers["reload"] = "keep"
    assert window.files.on_file_changed_on_disk() == "keep"
    assert window.prompts.asked == [("reload", True)]  # the question said there are unsaved edits
    assert window.workflow.node("start").code.endswith("-- mine")
    assert window.is_dirty() and "*" in window.windowTitle()


def test_external_change_is_noticed_and_reloads_when_asked(make_window, small_file, qtbot):
    window = make_window(small_file)
    window.prompts.answers["reload"] = "reload"
    replacement = small_file.with_name("replacement.yaml")
    replacement.write_text(small_file.read_text(encoding="utf-8").replace("n = 1", "n = 2"), encoding="utf-8")
    os.replace(replacement, small_file)  # an atomic replace, as editors do
    qtbot.waitUntil(lambda: window.prompts.asked == [("reload", False)], timeout=5000)
    assert "n = 2" in window.workflow.node("start").code and not window.is_dirty()
    small_file.write_text(small_file.read_text(encoding="utf-8").replace("n = 2", "n = 3"), encoding="utf-8")
    qtbot.waitUntil(lambda: "n = 3" in window.workflow.node("start").code, timeout=5000)  # still watched


def test_own_save_is_not_an_external_change(make_window, small_file, qtbot):
    window = make_window(small_file)
    type_code(qtbot, window, "start", "-- saved")
    assert window.files.save()
    assert window.files.on_file_changed_on_disk() == "unchanged"
    assert window.prompts.asked == []


def test_autosave_writes_a_recovery_copy_that_a_new_window_offers(make_window, small_file, qtbot, studio_env):
    crashed = make_window(small_file, managed=False, autosave_interval_ms=50)
    type_code(qtbot, crashed, "start", "-- unsaved work")
    copy = crashed.autosaver.file
    qtbot.waitUntil(copy.exists, timeout=3000)
    assert str(copy).startswith(str(studio_env["data"]))
    shiboken6.delete(crashed)  # gone without a clean close, as in a crash
    fresh = make_window()
    fresh.prompts.answers["restore"] = "restore"
    assert fresh.files.offer_recoveries() == ["restore"]
    assert fresh.path == str(small_file)
    assert fresh.workflow.node("start").code.endswith("-- unsaved work")
    assert fresh.is_dirty() and fresh.windowTitle().startswith("small.yaml*")
    assert not copy.exists()
    assert "-- unsaved work" not in small_file.read_text(encoding="utf-8")  # nothing written until saved
    fresh.files.save()
    assert recovery.find_recoveries() == []


def test_clean_save_removes_the_recovery_copy(make_window, small_file, qtbot):
    window = make_window(small_file, autosave_interval_ms=50)
    type_code(qtbot, window, "start", "-- x")
    qtbot.waitUntil(window.autosaver.file.exists, timeout=3000)
    window.actions["save"].trigger()
    assert not window.autosaver.file.exists()


def test_problems_dock_lists_goto_undefined_and_click_selects_the_node(make_window, small_file, qtbot):
    small_file.write_text(small_file.read_text(encoding="utf-8").replace("goto: finish", "goto: nowhere"),
                          encoding="utf-8")
    window = make_window(small_file)
    panel = window.problems
    row = panel.row_for("GOTO_UNDEFINED", "start")
    assert row is not None and "nowhere" in row.text(4)
    assert window.scene.node_item("start").problems  # the canvas marks the node
    window.select_node("finish")
    rect = panel.visualItemRect(row)
    qtbot.mouseClick(panel.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.scene.selected_node_names() == ["start"]
    assert window.inspector.node_page.node_form.name_edit.text() == "start"


def test_problems_follow_edits_after_a_short_delay(make_window, small_file, qtbot):
    window = make_window(small_file)
    assert window.problems.row_for("GOTO_UNDEFINED") is None
    window.select_node("start")
    window.inspector.node_page.goto_rules.set_target(0, "finish")  # unchanged: nothing to validate
    window.document.set_goto("start", "missing")
    qtbot.waitUntil(lambda: window.problems.row_for("GOTO_UNDEFINED", "start") is not None, timeout=2000)
    window.actions["undo"].trigger()
    qtbot.waitUntil(lambda: window.problems.row_for("GOTO_UNDEFINED") is None, timeout=2000)


def test_palette_drop_on_canvas_adds_the_node_there(make_window, small_file, qtbot):
    window = make_window(small_file)
    viewport = window.view.viewport()
    mime = QMimeData()
    mime.setData(NODE_KIND_MIME, b"python")
    mime.setText("python")
    where = QPoint(viewport.width() // 3, viewport.height() // 3)
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    enter = QDragEnterEvent(where, *args)
    QApplication.sendEvent(viewport, enter)
    assert enter.isAccepted()  # the canvas takes palette drags
    QApplication.sendEvent(viewport, QDragMoveEvent(where, *args))
    drop = QDropEvent(where.toPointF(), *args)
    QApplication.sendEvent(viewport, drop)
    assert drop.isAccepted()
    added = window.workflow.nodes[-1]
    assert added.kind == "python" and len(window.workflow.nodes) == 3
    item = window.scene.node_item(added.name)
    assert item.sceneBoundingRect().contains(window.view.mapToScene(where))
    assert window.scene.selected_node_names() == [added.name]
    window.actions["undo"].trigger()
    assert len(window.workflow.nodes) == 2


def test_palette_drag_carries_the_node_kind(window):
    palette = window.palette
    mime = palette.mimeData([palette.item_for_kind("fan_in")])
    assert bytes(mime.data(NODE_KIND_MIME).data()) == b"fan_in" and mime.text() == "fan_in"
    assert [palette.item(i).text() for i in range(palette.count())] == ["Lua", "Python", "Fan-in", "No-op", "Action"]
    assert all(not palette.item(i).icon().isNull() for i in range(palette.count()))


def test_palette_double_click_adds_at_the_view_centre(window, qtbot):
    palette = window.palette
    item = palette.item_for_kind("fan_in")
    qtbot.mouseDClick(palette.viewport(), Qt.MouseButton.LeftButton, pos=palette.visualItemRect(item).center())
    [node] = window.workflow.nodes
    assert node.kind == "lua" and node.fan_in
    centre = window.view.mapToScene(window.view.viewport().rect().center())
    assert window.scene.node_item(node.name).sceneBoundingRect().contains(centre)


def test_find_node_selects_and_centres(make_window, example_file, qtbot):
    window = make_window(example_file("lua_pipeline"))
    target = window.workflow.node_names[-1]
    window.actions["find"].trigger()
    assert window.find_edit.hasFocus()
    qtbot.keyClicks(window.find_edit, target.upper())
    qtbot.keyClick(window.find_edit, Qt.Key.Key_Return)
    assert window.scene.selected_node_names() == [target]
    centre = window.view.mapToScene(window.view.viewport().rect().center())
    assert window.scene.node_item(target).sceneBoundingRect().adjusted(-5, -5, 5, 5).contains(centre)


def test_auto_layout_is_one_undo_step(make_window, example_file):
    window = make_window(example_file("parallel_fanout"))
    before = {n: window.scene.node_item(n).pos() for n in window.workflow.node_names}
    window.document.move_nodes({"merge": (3000, 3000)})
    window.actions["layout"].trigger()
    assert window.scene.node_item("merge").pos().x() < 3000
    window.actions["undo"].trigger()
    assert window.scene.node_item("merge").pos().x() == 3000
    window.actions["undo"].trigger()
    assert {n: window.scene.node_item(n).pos() for n in before} == before


def test_edit_menu_copy_paste_delete(make_window, small_file, qtbot):
    window = make_window(small_file)
    window.select_node("finish")
    window.actions["copy"].trigger()
    window.actions["paste"].trigger()
    assert len(window.workflow.nodes) == 3
    pasted = window.scene.selected_node_names()
    assert pasted and pasted[0] != "finish"
    window.actions["delete"].trigger()
    assert window.workflow.node_names == ["start", "finish"]
    window.actions["select_all"].trigger()
    assert window.scene.selected_node_names() == ["start", "finish"]


def test_export_for_headless_and_images(make_window, example_file, tmp_path):
    window = make_window(example_file("parallel_fanout"))
    window.document.move_nodes({"merge": (900, 100)})
    headless = tmp_path / "headless.yaml"
    assert window.files.export_headless(headless)
    assert "x-tea-studio" not in headless.read_text(encoding="utf-8")
    assert "fan_in: merge" in headless.read_text(encoding="utf-8")
    png, svg = tmp_path / "canvas.png", tmp_path / "canvas.svg"
    assert window.files.export_image(png) and png.stat().st_size > 2000
    assert window.files.export_image(svg) and "<svg" in svg.read_text(encoding="utf-8")


def test_theme_switch_persists(make_window, studio_env):
    window = make_window()
    window.theme_actions["dark"].trigger()
    app = QApplication.instance()
    assert app.property("teaTheme") == "dark"
    assert window.scene.theme.name == "dark"
    assert app.palette().color(app.palette().ColorRole.Window).lightness() < 100
    assert (studio_env["config"] / "tea-studio.ini").read_text().count("dark") == 1
    again = make_window()
    assert again.theme == "dark" and again.theme_actions["dark"].isChecked()
    again.theme_actions["light"].trigger()
    assert make_window().theme == "light"


def test_window_state_and_recent_files_persist(make_window, small_file, example_file):
    window = make_window(small_file)
    window.problems_dock.hide()
    window.load_file(example_file("loop"))
    assert window.close()
    again = make_window()
    assert not again.problems_dock.isVisible()
    assert again.files.recent_files()[:2] == [str(example_file("loop")), str(small_file)]
    again.recent_menu.aboutToShow.emit()
    assert [a.text() for a in again.recent_menu.actions()][:2] == ["loop.yaml", "small.yaml"]


def test_view_menu_zoom_grid_snap_minimap(make_window, example_file):
    window = make_window(example_file("loop"))
    zoom = window.view.zoom()
    window.actions["zoom_in"].trigger()
    assert window.view.zoom() > zoom and window.zoom_label.text() == f"Zoom {round(window.view.zoom() * 100)}%"
    window.actions["zoom_out"].trigger()
    assert abs(window.view.zoom() - zoom) < 1e-6
    window.actions["grid"].setChecked(False)
    window.actions["snap"].setChecked(True)
    window.actions["minimap"].setChecked(False)
    assert not window.view.grid_visible and window.view.snap and not window.view.minimap.isVisible()
    again = make_window()
    assert not again.actions["grid"].isChecked() and again.actions["snap"].isChecked()
    assert not again.view.grid_visible and again.view.snap and not again.view.minimap.isVisible()


def test_open_node_line_selects_the_node_and_highlights_the_code_line(make_window, tmp_path):
    path = tmp_path / "lines.yaml"
    path.write_text("nodes:\n  - name: first\n    language: lua\n    run: return {}\n"
                    "  - name: count\n    language: lua\n    run: |\n      local a = 1\n      local b = 2\n"
                    "      return { n = a + b }\n", encoding="utf-8")
    window = make_window(path)
    window.inspector_dock.hide()
    assert window.open_node_line("count", 3)
    assert window.scene.selected_node_names() == ["count"]
    assert window.inspector_dock.isVisible() and window.inspector.node_name == "count"
    editor = window.inspector.node_page.code_form.code_editor
    assert editor.textCursor().blockNumber() == 2 and editor.textCursor().block().text().startswith("return")
    assert editor.marked_line == 3 and editor.hasFocus()
    assert not window.open_node_line("missing", 1)
