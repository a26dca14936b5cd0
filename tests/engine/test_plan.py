"""The plan's steps: what each node runs, built once per run."""

import textwrap

from tea_studio.engine.plan import UNSUPPORTED, Step, build_plan
from tea_studio.workflow.model import Node
from tea_studio.workflow.streams import StreamSpec
from tea_studio.workflow.yaml_io import load_workflow_text


def test_code_nodes_become_steps_equal_to_those_the_named_tuple_builds():
    plan = build_plan(load_workflow_text(textwrap.dedent("""
        name: steps
        nodes:
          - name: a
            language: lua
            run: return { i = 1 }
          - name: b
            run: |
              return {"j": 2}
            streams: {stdout: out}
          - name: c
            language: cobol
            run: DISPLAY 'x'
    """)))
    a, b, c = plan.steps["a"], plan.steps["b"], plan.steps["c"]
    assert a == Step("a", "lua", "return { i = 1 }", None, 0) and type(a) is Step
    assert (a.construct, a.inner, a.subplan, a.params, a.output, a.streams) == (None, (), None, None, None, None)
    assert b == Step("b", "python", 'return {"j": 2}\n', None, 1, streams=StreamSpec(stdout="out"))
    assert c.kind == UNSUPPORTED and "cobol" in c.code


def test_every_step_has_its_routes_and_a_node_without_a_name_has_neither():
    workflow = load_workflow_text("name: r\nnodes:\n  - name: a\n    language: lua\n    run: return {}\n  - name: b\n")
    assert list(build_plan(workflow).routes) == ["a", "b"]
    workflow.nodes.insert(1, Node(name=""))
    plan = build_plan(workflow)
    assert list(plan.steps) == list(plan.routes) == ["a", "b"]
    assert [route.target for route in plan.routes["a"]] == [""]  # the next node in the list, nameless
