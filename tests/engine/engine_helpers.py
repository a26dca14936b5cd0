"""Helpers for engine tests: build workflows from YAML text and run them with a collecting sink."""

from __future__ import annotations

import textwrap

from tea_studio.engine.events import ListSink
from tea_studio.engine.runner import WorkflowRun
from tea_studio.workflow.yaml_io import load_workflow_text


def workflow(text: str):
    return load_workflow_text(textwrap.dedent(text))


def run(text: str, inputs=None, **kwargs):
    """(final state, sink) of one run of the YAML workflow ``text``."""
    sink = kwargs.pop("sink", None) or ListSink()
    state = WorkflowRun(workflow(text), inputs, sink=sink, **kwargs).run()
    return state, sink


def fan_out_yaml(count: int, body: str = "return { part = state.base + {i} }", workers: int | None = None,
                 extra_settings: str = "") -> str:
    """A fork into ``count`` one-node Lua branches joining at a Lua fan-in that lists their parts."""
    settings = f"settings:\n  parallel: {{max_workers: {workers}}}\n" if workers else ""
    if extra_settings:
        settings = (settings or "settings:\n") + extra_settings
    nodes = ["  - name: fork\n    language: lua\n    run: 'return { base = 100 }'\n"]
    for i in range(count):
        nodes.append(f"  - name: b{i}\n    language: lua\n    run: '{body.replace('{i}', str(i))}'\n")
    nodes.append(
        "  - name: join\n    language: lua\n    run: |\n"
        "      local parts = {}\n"
        "      for i, r in ipairs(state.parallel_results) do parts[i] = r.part end\n"
        "      return { parts = parts }\n")
    edges = [f"  - {{from: fork, to: b{i}, type: parallel, fan_in: join}}\n" for i in range(count)]
    edges += [f"  - {{from: b{i}, to: join}}\n" for i in range(count)]
    edges.append("  - {from: join, to: __end__}\n")
    return "name: fan-out\n" + settings + "nodes:\n" + "".join(nodes) + "edges:\n" + "".join(edges)
