"""Ready-made snippets for quick add: a fork with its fan-in, a loop, an LLM call, a dynamic_parallel over a list.

Each snippet is TEA YAML (nodes and the edges among them), laid out with the auto-layout and handed to the canvas as
clipboard fragment text, so inserting one is a paste: one undo step, clashing names get free names, routes follow.
"""

from __future__ import annotations

from dataclasses import dataclass

from tea_studio.workflow.model import WHILE_LOOP, kind_label


@dataclass(frozen=True)
class Template:
    """A snippet offered by quick add: ``key`` names it, ``icon`` is a resources/icons name."""

    key: str
    label: str
    description: str
    icon: str
    text: str


TEMPLATES: tuple[Template, ...] = (
    Template("fork", "Fork with fan-in", "three parallel branches, each in its own Lua VM, joined by a fan-in",
             "template-fork", """\
nodes:
  - name: fork
    language: lua
    run: |
      return {}
  - name: branch_a
    language: lua
    run: |
      return { part = "a" }
  - name: branch_b
    language: lua
    run: |
      return { part = "b" }
  - name: branch_c
    language: lua
    run: |
      return { part = "c" }
  - name: join
    fan_in: true
    language: lua
    run: |
      local parts = {}
      for i, result in ipairs(state.parallel_results) do parts[i] = result.part end
      return { parts = parts }
edges:
  - {from: fork, to: branch_a, type: parallel, fan_in: join}
  - {from: fork, to: branch_b, type: parallel, fan_in: join}
  - {from: fork, to: branch_c, type: parallel, fan_in: join}
  - {from: branch_a, to: join}
  - {from: branch_b, to: join}
  - {from: branch_c, to: join}
"""),
    Template(WHILE_LOOP, kind_label(WHILE_LOOP), "TEA's while_loop: runs its body while a condition holds, at most "
             "max_iterations times", "template-loop", """\
nodes:
  - name: repeat_while
    type: while_loop
    condition: "(state.count or 0) < 3"
    max_iterations: 10
    body:
      - name: step
        language: lua
        run: |
          return { count = (state.count or 0) + 1 }
"""),
    Template("llm_call", "LLM call", "a TEA llm.call action: a prompt from the state, the answer into it "
             "(runs with tea)", "template-llm", """\
nodes:
  - name: ask_llm
    uses: llm.call
    with:
      model: gpt-4o-mini
      messages:
        - role: user
          content: "{{ state.question }}"
    output: answer
"""),
    Template("dynamic_parallel", "Dynamic parallel over a list", "one branch per item of a list known at run "
             "time, each in its own Lua VM; results collected by a fan-in node", "template-dynamic", """\
nodes:
  - name: for_each_item
    type: dynamic_parallel
    items: "{{ state.numbers or [1, 2, 3] }}"
    item_var: item
    max_concurrency: 4
    steps:
      - name: handle_item
        language: lua
        run: |
          return { result = state.item * 2 }
    output: results
    fan_in: collect_results
  - name: collect_results
    fan_in: true
    language: lua
    run: |
      local total = 0
      for _, r in ipairs(state.results) do total = total + r.state.result end
      return { total = total }
"""),
)


def template(key: str) -> Template:
    for candidate in TEMPLATES:
        if candidate.key == key:
            return candidate
    raise KeyError(f"no template {key!r}")


def template_fragment(key: str) -> str:
    """The snippet as clipboard fragment text, laid out with its top-left node at (0, 0)."""
    from tea_studio.workflow import yaml_io
    from tea_studio.workflow.layout import auto_layout

    workflow = yaml_io.load_workflow_text(template(key).text)
    return yaml_io.fragment_to_text(workflow.nodes, workflow.edges, auto_layout(workflow))
