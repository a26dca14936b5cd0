"""Sticky notes and group frames in the real window: made, edited, moved and deleted with the mouse and keys, each
gesture one undo step, saved under x-tea-studio and never exported."""

from __future__ import annotations

import pytest
from fixtures_window import *  # noqa: F403
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from tea_studio.workflow import yaml_io
from tea_studio.workflow.annotations import groups_of, notes_of


@pytest.fixture
def annotated(example_file):
    return example_file("notes_and_groups")


def drag(view, start: QPoint, end: QPoint, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    viewport = view.viewport()
    QTest.mouseMove(viewport, start)
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, modifier, start)
    for i in range(1, 7):
        QTest.mouseMove(viewport, QPoint(start.x() + (end.x() - start.x()) * i // 6,
                                         start.y() + (end.y() - start.y()) * i // 6))
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, modifier, end)


def action(menu, name):
    return next(a for a in menu.actions() if a.objectName() == name)


def test_notes_and_frames_open_from_the_file_and_save_back_byte_for_byte(make_window, annotated):
    window = make_window(annotated)
    layer = window.view.annotations
    [note] = layer.notes.values()
    [group] = layer.groups.values()
    assert note.note.text.startswith("Each branch runs") and group.group.title == "Parallel branches"
    for name in ("double", "square"):  # the frame is drawn around its members
        assert group.frame().contains(window.scene.node_item(name).sceneBoundingRect())
    assert not group.frame().intersects(window.scene.node_item("split").sceneBoundingRect())
    assert yaml_io.dump_workflow(window.workflow) == annotated.read_text(encoding="utf-8")
    assert "x-tea-studio:" not in yaml_io.export_text(window.workflow) and "note_1" not in yaml_io.export_text(
        window.workflow)


def test_add_a_note_write_in_it_and_undo_both(make_window, small_file, qtbot):
    window = make_window(small_file)
    original = small_file.read_text(encoding="utf-8")
    view, layer = window.view, window.view.annotations
    spot = view.viewport().rect().center() + QPoint(0, 150)
    action(view.context_menu.build(spot), "addNote").trigger()
    [item] = layer.notes.values()
    assert item.sceneBoundingRect().contains(view.mapToScene(spot))
    QTest.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                      view.mapFromScene(item.sceneBoundingRect().center()))
    editor = layer.editor.widget
    assert editor.hasFocus()
    qtbot.keyClicks(editor, "Check the inputs first")
    qtbot.keyClick(editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert layer.editor is None and item.note.text == "Check the inputs first"
    assert notes_of(window.workflow.layout.extra)[0].text == "Check the inputs first"
    window.actions["undo"].trigger()
    assert item.note.text == ""
    window.actions["undo"].trigger()
    assert not layer.notes and yaml_io.dump_workflow(window.workflow) == original  # nothing left behind


def test_group_selected_nodes_then_drag_the_frame_moves_its_nodes_and_notes_in_one_step(make_window, annotated,
                                                                                       qtbot):
    window = make_window(annotated)
    view, scene, layer = window.view, window.scene, window.view.annotations
    window.view.annotations.select([layer.groups["group_1"]])
    window.actions["delete"].trigger()  # ungroup: the nodes stay
    assert not layer.groups and window.document.node("double") is not None
    # select split and merge with real clicks, group them with Ctrl+G
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     view.mapFromScene(scene.node_item("split").centre()))
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier,
                     view.mapFromScene(scene.node_item("double").centre()))
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    [group] = layer.groups.values()
    assert group.group.nodes == ("split", "double")
    before = {n: window.document.position(n) for n in ("split", "double", "square")}
    note_before = layer.notes["note_1"].pos()
    title = view.mapFromScene(group.title_rect().center())
    drag(view, title, title + QPoint(0, -120))
    dy = window.document.position("split")[1] - before["split"][1]
    assert dy < -60
    assert window.document.position("double") == (before["double"][0], before["double"][1] + dy)
    assert window.document.position("square") == before["square"]  # not a member
    assert layer.notes["note_1"].pos() == note_before  # not on the frame
    assert group.frame().contains(scene.node_item("split").sceneBoundingRect())  # the frame came along
    window.actions["undo"].trigger()  # the whole drag is one step
    assert {n: window.document.position(n) for n in before} == before


def test_a_frame_follows_a_member_dragged_alone_and_notes_move_with_their_frame(make_window, annotated):
    window = make_window(annotated)
    view, scene, layer = window.view, window.scene, window.view.annotations
    group = layer.groups["group_1"]
    double = scene.node_item("double")
    start = view.mapFromScene(double.centre())
    drag(view, start, start + QPoint(0, -90))
    assert group.frame().contains(double.sceneBoundingRect())  # grew to keep its moved member
    note = layer.notes["note_1"]
    grab = view.mapFromScene(note.sceneBoundingRect().center())
    drag(view, grab, view.mapFromScene(group.frame().center()))  # drop the note onto the frame
    assert group.frame().contains(note.sceneBoundingRect().center())
    note_pos = note.pos()
    title = view.mapFromScene(group.title_rect().center())
    drag(view, title, title + QPoint(150, 0))
    assert note.pos().x() > note_pos.x() + 60 and note.pos().y() == note_pos.y()


def test_delete_key_removes_a_selected_note_and_save_keeps_annotations_out_of_export(make_window, annotated, qtbot,
                                                                                   tmp_path):
    window = make_window(annotated)
    view, layer = window.view, window.view.annotations
    note = layer.notes["note_1"]
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     view.mapFromScene(note.sceneBoundingRect().center()))
    assert note.isSelected()
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert not layer.notes and len(window.workflow.nodes) == 4
    window.actions["save"].trigger()
    saved = yaml_io.load_workflow(annotated)
    assert notes_of(saved.layout.extra) == [] and [g.title for g in groups_of(saved.layout.extra)] == [
        "Parallel branches"]
    assert "notes:" not in annotated.read_text(encoding="utf-8")
    assert "Parallel branches" not in yaml_io.export_text(saved)


def test_rename_a_frame_in_place_and_recolour_it_from_its_menu(make_window, annotated, qtbot):
    window = make_window(annotated)
    view, layer = window.view, window.view.annotations
    group = layer.groups["group_1"]
    title = view.mapFromScene(group.title_rect().center())
    QTest.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, title)
    editor = layer.editor.widget
    editor.selectAll()
    qtbot.keyClicks(editor, "Branches")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    assert group.group.title == "Branches"
    menu = view.context_menu.build(title)
    colours = next(a.menu() for a in menu.actions() if a.menu() is not None and
                   a.menu().objectName() == "annotationColour")
    action(colours, "colour:green").trigger()
    assert group.group.colour == "green"
    window.actions["undo"].trigger()
    assert group.group.colour == "purple" and group.group.title == "Branches"
