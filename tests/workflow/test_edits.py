"""Edits without Qt: each user action is a list of reversible changes; undoing gives the original text back."""

import textwrap

from tea_studio.workflow import yaml_io
from tea_studio.workflow.annotations import Group, groups_of, with_annotations
from tea_studio.workflow.edits import NodeAttr, Positions, WorkflowEditor, apply_changes, merge_changes
from tea_studio.workflow.routes import list_routes

TEXT = textwrap.dedent("""\
    nodes:
      - name: a
        goto:
          - {if: "state.x", to: b}
          - {to: c}
      - name: b
      - name: c
    edges:
      - {from: b, to: c}
    """)


def routes_by_id(workflow):
    return {route.id: route for route in list_routes(workflow)}


def test_an_edit_applies_and_undoes_without_qt():
    workflow = yaml_io.load_workflow_text(TEXT)
    editor = WorkflowEditor(workflow)
    edit = editor.rename_node("b", "middle")
    apply_changes(workflow, edit.changes)
    editor.forget_names()
    assert workflow.node("a").goto[0].to == "middle" and workflow.edges[0].source == "middle"
    apply_changes(workflow, edit.changes, forward=False)
    assert yaml_io.dump_workflow(workflow) == TEXT


def test_a_renamed_node_stays_in_its_group_frame():
    workflow = yaml_io.load_workflow_text(TEXT)
    workflow.layout.extra = with_annotations(workflow.layout.extra, groups=[Group("g", nodes=("a", "b"))])
    before = yaml_io.dump_workflow(workflow)
    edit = WorkflowEditor(workflow).rename_node("b", "middle")
    apply_changes(workflow, edit.changes)
    assert [g.nodes for g in groups_of(workflow.layout.extra)] == [("a", "middle")]
    apply_changes(workflow, edit.changes, forward=False)
    assert yaml_io.dump_workflow(workflow) == before


def test_route_edits_address_routes_by_their_listing():
    workflow = yaml_io.load_workflow_text(TEXT)
    editor = WorkflowEditor(workflow)
    routes = routes_by_id(workflow)
    apply_changes(workflow, editor.remove_routes([routes["rule:a->b"]]).changes)
    assert [rule.to for rule in workflow.node("a").goto] == ["c"]
    routes = routes_by_id(workflow)
    apply_changes(workflow, editor.set_route_condition(routes["edge:b->c"], "state.ok").changes)
    assert workflow.edges[0].condition == "state.ok"
    assert routes_by_id(workflow)["rule:a->c"] == routes["rule:a->c"]  # other routes keep their id


def test_merging_takes_all_or_nothing():
    workflow = yaml_io.load_workflow_text(TEXT)
    a, b = workflow.node("a"), workflow.node("b")
    mine = [NodeAttr(a, "code", None, "x"), Positions({}, {"a": (1.0, 1.0)}, ["a"])]
    assert not merge_changes(mine, [NodeAttr(a, "code", "x", "y"), NodeAttr(b, "code", None, "z")])
    assert mine[0].new == "x"  # nothing was folded in
    assert merge_changes(mine, [NodeAttr(a, "code", "x", "y"), Positions({}, {"a": (2.0, 2.0)}, ["a"])])
    assert mine[0].new == "y" and mine[1].new == {"a": (2.0, 2.0)}


def test_a_tea_node_level_interrupt_is_a_breakpoint_that_clearing_removes():
    text = "nodes:\n  - name: a\n    interrupt_after: true  # checkpoint\n  - name: b\n"
    workflow = yaml_io.load_workflow_text(text)
    editor = WorkflowEditor(workflow)
    assert workflow.interrupts() == (frozenset(), frozenset({"a"}))
    assert not editor.set_breakpoint("a", "after", True).changes  # already there: nothing to add
    edit = editor.set_breakpoint("a", "after", False)
    apply_changes(workflow, edit.changes)
    assert workflow.interrupts() == (frozenset(), frozenset())
    assert "interrupt_after" not in yaml_io.dump_workflow(workflow)
    apply_changes(workflow, edit.changes, forward=False)
    assert yaml_io.dump_workflow(workflow) == text
