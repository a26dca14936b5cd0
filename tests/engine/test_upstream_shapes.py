"""Shapes seen in TEA's own example files load and run as TEA runs them."""

from __future__ import annotations

from engine_helpers import run

from tea_studio.engine.events import StepStarted

# examples/yaml_agent_example.yaml upstream: `language: python` on a node that runs `steps:`
STEPS_WITH_LANGUAGE = """
nodes:
  - name: summarize
    language: python
    steps:
      - name: prepare_context
        run: |
          return {"context": ", ".join(state["items"])}
      - name: create_summary
        run: |
          return {"summary": "Summary: " + state["context"]}
  - name: format_output
    language: python
    run: |
      return {"formatted": state["summary"].upper()}
"""


def test_a_node_with_a_language_and_steps_runs_its_steps():
    state, sink = run(STEPS_WITH_LANGUAGE, {"items": ["a", "b"]})

    assert state["summary"] == "Summary: a, b"
    assert state["formatted"] == "SUMMARY: A, B"
    assert [e.step for e in sink.of_type(StepStarted)] == ["prepare_context", "create_summary"]
