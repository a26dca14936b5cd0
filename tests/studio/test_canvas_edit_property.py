"""Random edit sequences: undoing everything gives the original text back, redoing everything the final text."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tea_studio.studio.canvas.scene import WorkflowScene
from tea_studio.studio.document import EditableWorkflow
from tea_studio.workflow import yaml_io
from tea_studio.workflow.layout import auto_layout
from tea_studio.workflow.model import Edge, GotoRule

START_TEXT = """\
# a workflow the random edits start from
name: random-edits
config:
  interrupt_after: [b]
nodes:
  - name: a
    language: lua
    run: |
      return { n = 1 }   -- a comment kept
  - name: b
    goto:
      - if: "state.n > 1"
        to: c
      - to: a
  - name: c
    run: |
      x = 1
  - name: d
    fan_in: true
edges:
  - {from: a, to: b}
  - {from: c, to: [a, b], type: parallel, fan_in: d}
x-tea-studio:
  positions:
    a: [0, 0]
    b: [260, 0]
    c: [520, 0]
"""

OPS = ("add", "remove", "move", "rename", "code", "add_edge", "remove_edge", "goto", "layout", "paste", "connect",
       "condition", "breakpoint", "insert")
KINDS = ("lua", "python", "noop", "action", "fan_in")


def apply(document: EditableWorkflow, op: str, a: int, b: int, c: int) -> None:
    wf = document.workflow
    names = wf.node_names
    pick = names[a % len(names)] if names else None
    other = names[b % len(names)] if names else None
    if op == "add" or not names:
        document.add_node(KINDS[a % len(KINDS)], (a * 7.0, b * 3.0))
    elif op == "remove":
        document.remove_nodes([pick])
    elif op == "move":
        document.move_nodes({pick: (float(b), float(c))})
        if c % 3 == 0:
            document.close_merging()
    elif op == "rename":
        new = f"n{a}_{b}"
        if document.node(new) is None:
            document.rename_node(pick, new)
    elif op == "code":
        document.set_node_code(pick, f"return {{ v = {c} }}\n")
    elif op == "add_edge":
        document.add_edge(Edge(pick, other, condition=f"state.x == {c}" if c % 2 else None))
    elif op == "remove_edge" and wf.edges:
        document.remove_edges([a % len(wf.edges)])
    elif op == "goto":
        choice = c % 3
        document.set_goto(pick, None if choice == 0 else other if choice == 1 else
                          [GotoRule(other, "state.y"), GotoRule("__end__")])
    elif op == "layout":
        document.apply_layout(auto_layout(wf))
    elif op == "paste":
        chosen = set(names[: 1 + a % 3])
        nodes = [n for n in wf.nodes if n.name in chosen]
        edges = [e for e in wf.edges if e.source in chosen and all(t in chosen for t in e.targets)]
        text = yaml_io.fragment_to_text(nodes, edges, {n: document.position(n) for n in chosen})
        document.paste_fragment(*yaml_io.fragment_from_text(text), offset=(40.0, 40.0))
    elif op == "connect":
        document.connect(pick, other)
    elif op == "condition":
        routes = [r for r in document.routes() if r.kind.stored]
        if routes:
            document.set_route_condition(routes[a % len(routes)].id, f"state.k > {c}" if c % 2 else None)
    elif op == "breakpoint":
        document.set_breakpoint(pick, "before" if b % 2 else "after", bool(c % 2))
    elif op == "insert":
        routes = [r for r in document.routes() if r.kind.stored and r.target in names]
        if routes:
            document.insert_node_on_route(pick, routes[b % len(routes)].id)


def assert_scene_mirrors(scene: WorkflowScene, document: EditableWorkflow) -> None:
    assert sorted(item.name for item in scene.node_items()) == sorted(document.workflow.node_names)
    for item in scene.node_items():
        assert any(n is item.node for n in document.workflow.nodes)


operation = st.tuples(st.sampled_from(OPS), st.integers(0, 50), st.integers(0, 50), st.integers(0, 400))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(st.lists(operation, min_size=200, max_size=200))
def test_undo_all_gives_the_original_and_redo_all_the_final_text(qtbot, operations):
    document = EditableWorkflow(yaml_io.load_workflow_text(START_TEXT))
    scene = WorkflowScene(document)
    for op, a, b, c in operations:
        apply(document, op, a, b, c)
    final = yaml_io.dump_workflow(document.workflow)
    assert_scene_mirrors(scene, document)
    stack = document.undo_stack
    while stack.canUndo():
        stack.undo()
    assert yaml_io.dump_workflow(document.workflow) == START_TEXT
    assert_scene_mirrors(scene, document)
    while stack.canRedo():
        stack.redo()
    assert yaml_io.dump_workflow(document.workflow) == final
    assert_scene_mirrors(scene, document)
