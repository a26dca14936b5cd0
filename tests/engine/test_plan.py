"""The plan's steps: what each node runs, built once per run."""

import textwrap

from tea_studio.engine.plan import UNSUPPORTED, Step, build_plan
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
