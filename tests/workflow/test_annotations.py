"""Notes and groups as stored under x-tea-studio: read, replaced, kept when unreadable, never exported."""

import dataclasses

from tea_studio.workflow import yaml_io
from tea_studio.workflow.annotations import (
    Group,
    Note,
    groups_of,
    notes_of,
    renamed_in_groups,
    with_annotations,
)

TEXT = """\
nodes:
  - name: a
    goto: b
  - name: b
x-tea-studio:
  positions:
    a: [0, 0]
  notes:
    - {id: note_1, text: hello, at: [10, 20], size: [200, 100], colour: green, pinned: true}
    - just a string the studio cannot read
  groups:
    - {id: group_1, title: Pair, colour: orange, nodes: [a, b]}
"""


def test_notes_and_groups_are_read_from_the_studio_block():
    extra = yaml_io.load_workflow_text(TEXT).layout.extra
    [note] = notes_of(extra)
    assert (note.id, note.text, note.x, note.y, note.width, note.height, note.colour) == (
        "note_1", "hello", 10, 20, 200, 100, "green")
    assert groups_of(extra) == [Group("group_1", "Pair", ("a", "b"), "orange")]


def test_an_edit_rewrites_only_its_entry_and_keeps_unknown_keys_and_unreadable_entries():
    workflow = yaml_io.load_workflow_text(TEXT)
    extra = workflow.layout.extra
    [note] = notes_of(extra)
    workflow.layout.extra = with_annotations(extra, notes=[dataclasses.replace(note, text="bye")])
    text = yaml_io.dump_workflow(workflow)
    assert text == TEXT.replace("text: hello", "text: bye")
    assert yaml_io.dump_workflow(yaml_io.load_workflow_text(TEXT)) == TEXT  # untouched: byte for byte


def test_removing_the_last_note_removes_the_key_and_export_never_has_annotations():
    workflow = yaml_io.load_workflow_text(TEXT.replace("    - just a string the studio cannot read\n", ""))
    workflow.layout.extra = with_annotations(workflow.layout.extra, notes=[])
    text = yaml_io.dump_workflow(workflow)
    assert "notes:" not in text and "groups:" in text
    assert "x-tea-studio" not in yaml_io.export_text(workflow)


def test_a_new_note_in_a_file_without_notes_and_renamed_members():
    workflow = yaml_io.load_workflow_text("nodes:\n  - name: a\n")
    workflow.layout.extra = with_annotations(workflow.layout.extra, notes=[Note("note_1", "hi", 1.25, 2)])
    reloaded = yaml_io.load_workflow_text(yaml_io.dump_workflow(workflow))
    assert notes_of(reloaded.layout.extra) == [Note("note_1", "hi", 1.2, 2)]
    groups = [Group("g", nodes=("a", "b")), Group("h", nodes=("c",))]
    renamed = renamed_in_groups(groups, {"a": "x"})
    assert renamed[0].nodes == ("x", "b") and renamed[1] is groups[1]
