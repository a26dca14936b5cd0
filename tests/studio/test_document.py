"""EditableWorkflow: every edit is one undo step, undo gives the original text back, routes follow renames."""

from __future__ import annotations

import pytest

from tea_studio.studio.canvas.scene import WorkflowScene
from tea_studio.studio.document import EditableWorkflow
from tea_studio.workflow import yaml_io
from tea_studio.workflow.model import Edge
from tea_studio.workflow.routes import RouteKind

ROUTED = """\
# every kind of route names `work`
name: routed
config:
  interrupt_before: [work]
nodes:
  - name: start
    goto: work
  - name: work
    language: lua
    run: |
      return { done = true }
  - name: check
    goto:
      - if: "state.again"
        to: work
      - to: merge
  - name: side
  - name: merge
    fan_in: true
edges:
  - {from: side, to: [work, check], type: parallel, fan_in: merge}
  - {from: work, to: merge}
  - {from: check, to: merge}
x-tea-studio:
  positions:
    start: [0, 0]
    work: [260, 0]
    check: [520, 0]
    side: [0, 200]
    merge: [780, 0]
"""


@pytest.fixture
def document(qtbot):
    return EditableWorkflow(yaml_io.load_workflow_text(ROUTED))


def text(document: EditableWorkflow) -> str:
    return yaml_io.dump_workflow(document.workflow)


def undo_all(document: EditableWorkflow) -> None:
    while document.undo_stack.canUndo():
        document.undo_stack.undo()


def test_rename_updates_every_route_that_names_the_node(document):
    document.rename_node("work", "compute")
    wf = document.workflow
    assert wf.node("start").goto == "compute"
    assert [r.to for r in wf.node("check").goto] == ["compute", "merge"]
    assert wf.edges[0].target == ["compute", "check"]
    assert wf.edges[1].source == "compute"
    assert list(wf.layout.positions) == ["start", "compute", "check", "side", "merge"]
    assert wf.config["interrupt_before"] == ["compute"]
    saved = text(document)
    assert "work" not in saved.replace("# every kind of route names `work`", "")
    document.rename_node("merge", "join")
    assert wf.edges[0].fan_in == "join" and wf.edges[2].target == "join"
    undo_all(document)
    assert text(document) == ROUTED


def test_rename_refuses_taken_reserved_and_empty_names(document):
    for bad in ("check", "__end__", "", "  "):
        with pytest.raises(ValueError):
            document.rename_node("work", bad)
    assert not document.undo_stack.canUndo()


def test_delete_removes_routes_and_undo_restores_the_exact_text(document):
    original_nodes = list(document.workflow.nodes)
    document.remove_nodes(["work"])
    wf = document.workflow
    assert wf.node_names == ["start", "check", "side", "merge"]
    assert wf.node("start").goto is None
    assert [r.to for r in wf.node("check").goto] == ["merge"]
    assert wf.edges[0].target == ["check"] and len(wf.edges) == 2
    assert "work" not in wf.layout.positions and wf.config["interrupt_before"] == []
    assert document.undo_stack.count() == 1
    document.undo_stack.undo()
    assert text(document) == ROUTED
    assert all(a is b for a, b in zip(document.workflow.nodes, original_nodes, strict=True))
    document.undo_stack.redo()
    assert document.workflow.node("work") is None


def test_add_node_gets_numbered_unique_names_and_one_undo_step(document):
    assert document.add_node("lua", (10, 20)) == "lua_1"
    assert document.add_node("lua", (10, 120)) == "lua_2"
    assert document.add_node("fan_in", (10, 220)) == "fan_in_1"
    assert document.workflow.node("fan_in_1").fan_in is True
    assert document.position("lua_2") == (10, 120)
    assert document.undo_stack.count() == 3
    undo_all(document)
    assert text(document) == ROUTED


def test_consecutive_moves_merge_until_the_drag_ends(document):
    for step in range(5):
        document.move_nodes({"work": (300 + step, 10)})
    assert document.undo_stack.count() == 1
    document.close_merging()
    document.move_nodes({"work": (400, 10)})
    assert document.undo_stack.count() == 2
    document.undo_stack.undo()
    assert document.position("work") == (304, 10)
    document.undo_stack.undo()
    assert text(document) == ROUTED


def test_typing_in_one_node_merges_into_one_step(document):
    for i in range(1, 6):
        document.set_node_code("work", "return { n = " + "1" * i + " }\n")
    document.set_node_code("check", "x")
    assert document.undo_stack.count() == 2
    document.undo_stack.undo()
    assert document.workflow.node("work").code == "return { n = 11111 }\n"
    document.undo_stack.undo()
    assert text(document) == ROUTED


def test_breakpoints_are_written_to_config(document):
    document.set_breakpoint("check", "after", True)
    assert document.workflow.config["interrupt_after"] == ["check"]
    assert document.breakpoints("check") == (False, True)
    document.set_breakpoint("work", "before", False)
    assert document.breakpoints("work") == (False, False)
    undo_all(document)
    assert text(document) == ROUTED


def test_paste_renames_clashes_and_routes_follow(document):
    from tea_studio.workflow.model import GotoRule, Node

    nodes = [Node("work", goto=[GotoRule("check", "state.x"), GotoRule("__end__")]), Node("check")]
    edges = [Edge("check", "work")]
    names = document.paste_fragment(nodes, edges, {"work": (0, 0), "check": (200, 0)}, offset=(50, 500))
    assert names == ["work_1", "check_1"]
    wf = document.workflow
    assert [r.to for r in wf.node("work_1").goto] == ["check_1", "__end__"]
    assert (wf.edges[-1].source, wf.edges[-1].target) == ("check_1", "work_1")
    assert document.position("check_1") == (250, 500)
    document.undo_stack.undo()
    assert text(document) == ROUTED


def test_paste_renames_are_applied_at_once_not_in_a_chain(document):
    """Pasted `work` becomes `work_1` while the pasted `work_1` becomes `work_1_1`: routes keep their own targets."""
    from tea_studio.workflow.model import Node

    nodes = [Node("work", goto="work_1"), Node("work_1", goto="work")]
    edges = [Edge("work", "work_1"), Edge("work_1", "work", parallel=True, fan_in="work")]
    names = document.paste_fragment(nodes, edges, {})
    assert names == ["work_1", "work_1_1"]
    wf = document.workflow
    assert wf.node("work_1").goto == "work_1_1"
    assert wf.node("work_1_1").goto == "work_1"  # not a loop onto itself
    assert [(e.source, e.target, e.fan_in) for e in wf.edges[-2:]] == [("work_1", "work_1_1", None),
                                                                       ("work_1_1", "work_1", "work_1")]


def test_connect_uses_goto_rules_when_the_source_uses_goto(document):
    route = document.route(document.connect("side", "start"))
    assert route.kind is RouteKind.EDGE and document.workflow.edges[route.edge_index].target == "start"
    route = document.route(document.connect("start", "merge"))
    assert route.kind is RouteKind.RULE
    assert [r.to for r in document.workflow.node("start").goto] == ["work", "merge"]
    again = document.route(document.connect("start", "merge"))  # a second rule to the same node: its own id
    assert again.kind is RouteKind.RULE and again.rule_index == 2 and again.id != route.id
    undo_all(document)
    assert text(document) == ROUTED


def test_route_condition_parallel_and_plain(document):
    ref = "edge:work->merge"
    document.set_route_condition(ref, "state.done")
    assert document.workflow.edges[1].condition == "state.done"
    document.set_routes_parallel([ref], "merge")
    assert document.workflow.edges[1].parallel and document.workflow.edges[1].fan_in == "merge"
    document.set_route_plain(ref)
    edge = document.workflow.edges[1]
    assert not edge.parallel and edge.condition is None and edge.fan_in is None
    document.set_route_condition("rule:check->merge", "state.ok")
    assert document.workflow.node("check").goto[1].condition == "state.ok"
    assert document.undo_stack.count() == 4
    undo_all(document)
    assert text(document) == ROUTED


def test_insert_on_route_and_reconnect_are_single_steps(document):
    name = document.add_node("noop", (400, 300))
    assert document.insert_node_on_route(name, "edge:work->merge")
    wf = document.workflow
    assert (wf.edges[1].source, wf.edges[1].target) == ("work", name)
    assert (wf.edges[-1].source, wf.edges[-1].target) == (name, "merge")
    document.reconnect_route("rule:check->work", "target", "side")
    assert wf.node("check").goto[0].to == "side"
    assert document.undo_stack.count() == 3
    undo_all(document)
    assert text(document) == ROUTED


def test_layout_is_one_undo_step(document):
    from tea_studio.workflow.layout import auto_layout

    document.apply_layout(auto_layout(document.workflow))
    assert document.undo_stack.count() == 1
    document.undo_stack.undo()
    assert text(document) == ROUTED


def test_an_edit_from_a_change_slot_is_refused(document):
    errors = []

    def meddle(_name):
        try:
            document.add_node("lua", (0, 0))
        except RuntimeError as exc:
            errors.append(exc)

    document.node_added.connect(meddle)
    document.add_node("noop", (0, 0))
    assert len(errors) == 1 and document.workflow.node_names[-1] == "noop_1"
    assert document.undo_stack.count() == 1


def test_signals_are_per_item_and_other_items_survive(document):
    scene = WorkflowScene(document)
    before = {name: scene.node_item(name) for name in document.workflow.node_names}
    seen = []
    document.node_added.connect(lambda name: seen.append(("added", name)))
    document.node_moved.connect(lambda name: seen.append(("moved", name)))
    name = document.add_node("lua", (0, 400))
    assert seen == [("added", name), ("moved", name)]
    assert all(scene.node_item(n) is item for n, item in before.items())
    seen.clear()
    document.move_nodes({"work": (260, 50)})
    assert seen == [("moved", "work")]
    assert scene.node_item("work").pos().y() == 50


def test_nodes_with_empty_or_duplicate_names_open_unchanged(qtbot):
    source = "nodes:\n  - name: a\n  - name: a\n  - name: ''\n  - name: b\n"
    document = EditableWorkflow(yaml_io.load_workflow_text(source))
    scene = WorkflowScene(document)
    assert len(scene.node_items()) == 4
    assert [item.name for item in scene.node_items()] == ["a", "a", "", "b"]
    positions = {(item.pos().x(), item.pos().y()) for item in scene.node_items()}
    assert len(positions) == 4  # duplicates are offset so each can be seen
    assert yaml_io.dump_workflow(document.workflow) == source
    document.remove_nodes(["a"])
    assert len(scene.node_items()) == 2
    document.undo_stack.undo()
    assert len(scene.node_items()) == 4 and yaml_io.dump_workflow(document.workflow) == source


def test_implicit_chaining_is_listed_as_a_route(document):
    kinds = {(r.source, r.target): r.kind for r in document.routes()}
    assert kinds[("__start__", "start")] is RouteKind.ENTRY
    assert kinds[("merge", "__end__")] is RouteKind.NEXT


def test_set_node_kind_writes_the_language_form_and_undo_restores_the_text():
    text = ("nodes:\n  - name: calc\n    run:\n      type: lua\n      code: |\n        return { n = 1 }\n"
            "  - name: call\n    uses: http.get\n    with:\n      url: https://example.org\n")
    document = EditableWorkflow(yaml_io.load_workflow_text(text))
    document.set_node_kind("calc", "python")
    calc = document.node("calc")
    assert (calc.kind, calc.code_form, calc.code) == ("python", "language", "return { n = 1 }\n")
    document.set_node_kind("call", "lua")
    call = document.node("call")
    assert (call.kind, call.uses, call.with_args, call.code_form) == ("lua", None, None, "language")
    assert call.code
    assert document.undo_stack.count() == 2
    with pytest.raises(ValueError):
        document.set_node_kind("calc", "while_loop")
    document.undo_stack.undo()
    document.undo_stack.undo()
    assert yaml_io.dump_workflow(document.workflow) == text


def test_add_connected_node_follows_the_source_routing_in_one_step():
    document = EditableWorkflow(yaml_io.load_workflow_text(ROUTED))
    original = yaml_io.dump_workflow(document.workflow)
    name = document.add_connected_node("lua", (900.0, 0.0), "check")  # check uses goto: a new rule
    assert name == "lua_1" and document.node("check").goto[-1].to == "lua_1"
    assert document.position("lua_1") == (900.0, 0.0)
    name = document.add_connected_node("noop", (900.0, 200.0), "work")  # work has edges: a new edge
    assert (document.workflow.edges[-1].source, document.workflow.edges[-1].target) == ("work", name)
    assert document.undo_stack.count() == 2
    document.undo_stack.undo()
    document.undo_stack.undo()
    assert yaml_io.dump_workflow(document.workflow) == original


def test_making_a_route_parallel_adds_the_join_edge_tea_needs():
    document = EditableWorkflow(yaml_io.load_workflow_text("nodes:\n  - name: fork\n  - name: branch\n  - name: merge\n"))
    ref = document.connect("fork", "branch")
    document.set_routes_parallel([ref], "merge")
    edges = [(e.source, e.target, e.parallel, e.fan_in) for e in document.workflow.edges]
    assert edges == [("fork", "branch", True, "merge"), ("branch", "merge", False, None)]
    document.undo_stack.undo()  # one step: the fork edge and its join go together
    assert [(e.source, e.target, e.parallel) for e in document.workflow.edges] == [("fork", "branch", False)]
