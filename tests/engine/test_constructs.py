"""while_loop, steps, expression and dynamic_parallel as a user sees them in events, and pinned outputs."""

from __future__ import annotations

import json
import threading

import pytest
from dask_fixtures import dask_local  # noqa: F401 - the fixture
from engine_helpers import run, workflow

from tea_studio.cli import main
from tea_studio.engine.events import (
    BranchStarted,
    DynamicParallelFinished,
    DynamicParallelStarted,
    LogLine,
    LoopFinished,
    LoopIteration,
    LoopStarted,
    NodeFinished,
    NodeStarted,
    StepFinished,
    StepStarted,
    event_from_dict,
    event_to_dict,
)
from tea_studio.engine.runner import RunControl, RunError, WorkflowRun
from tea_studio.workflow.yaml_io import dump_workflow, export_text, load_workflow_text

LOOP = """
nodes:
  - name: loop
    type: while_loop
    condition: "state.n < 3"
    max_iterations: 5
    body:
      - name: up
        language: lua
        run: return { n = state.n + 1 }
      - name: note
        run: |
          return {"seen": state.get("seen", []) + [state["n"]]}
"""


def test_loop_events_give_one_row_per_iteration_and_step():
    state, sink = run(LOOP, {"n": 0})
    assert state == {"n": 3, "seen": [1, 2, 3]}
    assert [(e.max_iterations,) for e in sink.of_type(LoopStarted)] == [(5,)]
    assert [(e.iteration, e.condition_result) for e in sink.of_type(LoopIteration)] == [
        (1, True), (2, True), (3, True), (4, False)]
    assert [(e.iterations_completed, e.exit_reason) for e in sink.of_type(LoopFinished)] == [(3, "condition_false")]
    assert [(e.step, e.iteration) for e in sink.of_type(StepStarted)] == [
        ("up", 1), ("note", 1), ("up", 2), ("note", 2), ("up", 3), ("note", 3)]
    finished = sink.of_type(StepFinished)
    assert all(e.ok and e.node == "loop" for e in finished) and finished[-1].update == {"seen": [1, 2, 3]}
    # the loop node itself is one node execution
    assert [e.node for e in sink.of_type(NodeStarted)] == ["loop"]
    for event in sink.events:  # new events survive the --stream / saved-run JSON form
        again = event_from_dict(json.loads(json.dumps(event_to_dict(event))))
        assert type(again) is type(event) and event_to_dict(again, again.t) == event_to_dict(event, event.t)


def test_stop_ends_a_loop_between_steps():
    control = RunControl()
    text = LOOP.replace('"state.n < 3"', '"true"').replace("max_iterations: 5", "max_iterations: 1000")
    text = text.replace("return { n = state.n + 1 }", "for i = 1, 200000 do end return { n = state.n + 1 }")

    class StopAtTen:
        def emit(self, event):
            if isinstance(event, LoopIteration) and event.iteration == 10:
                control.stop()

    with pytest.raises(RunError, match="stopped"):
        WorkflowRun(workflow(text), {"n": 0}, sink=StopAtTen(), control=control).run()


def test_dynamic_parallel_items_are_branches_with_fresh_vms_and_bounded_concurrency():
    text = """
    nodes:
      - name: fan
        type: dynamic_parallel
        items: "{{ state.items }}"
        max_concurrency: 2
        steps:
          - name: square
            language: lua
            run: |
              local before = counter
              counter = (counter or 0) + 1
              return { sq = state.item * state.item, fresh = before == nil, at = state.index }
    """
    running, peak, lock = [0], [0], threading.Lock()

    class Watch:
        def __init__(self):
            self.events = []

        def emit(self, event):
            with lock:
                self.events.append(event)
                if isinstance(event, BranchStarted):
                    running[0] += 1
                    peak[0] = max(peak[0], running[0])
                elif type(event).__name__ == "BranchFinished":
                    running[0] -= 1

    sink = Watch()
    state = WorkflowRun(workflow(text), {"items": list(range(10))}, sink=sink).run()
    results = state["parallel_results"]
    assert [r["state"]["sq"] for r in results] == [i * i for i in range(10)]
    assert all(r["state"]["fresh"] for r in results) and [r["index"] for r in results] == list(range(10))
    assert [r["branch"] for r in results[:2]] == ["fan[0]", "fan[1]"]
    assert peak[0] <= 2
    started = [e for e in sink.events if isinstance(e, BranchStarted)]
    assert sorted(e.branch for e in started) == sorted(f"fan[{i}]" for i in range(10))
    assert {(e.fork, e.fan_in) for e in started} == {("fan", "fan")}  # the node is its own fan-in (k/N)
    start = next(e for e in sink.events if isinstance(e, DynamicParallelStarted))
    end = next(e for e in sink.events if isinstance(e, DynamicParallelFinished))
    assert (start.item_count, start.max_concurrency) == (10, 2)
    assert (end.total, end.successful, end.failed) == (10, 10, 0)


def test_dynamic_parallel_runs_items_in_worker_processes():
    text = """
    nodes:
      - name: fan
        type: dynamic_parallel
        items: "{{ state.items }}"
        item_var: word
        steps:
          - name: shout
            run: |
              import os
              return {"loud": state["word"].upper(), "pid": os.getpid()}
    """
    state, sink = run(text, {"items": ["a", "b", "c"]}, strategy="process")
    assert [r["state"]["loud"] for r in state["parallel_results"]] == ["A", "B", "C"]
    import os

    assert all(r["state"]["pid"] != os.getpid() for r in state["parallel_results"])
    assert len(sink.of_type(StepFinished)) == 3


def test_print_in_a_python_node_is_a_log_line_of_that_node():
    _, sink = run("nodes:\n  - name: talk\n    run: |\n      print('one', 2)\n      x = 1\n")
    assert [(e.node, e.text) for e in sink.of_type(LogLine)] == [("talk", "one 2")]


PINNED = """
nodes:
  - name: ask_llm
    uses: llm.call
    with: {model: gpt-4o, prompt: hello}
    output: answer
  - name: use
    language: lua
    run: return { shout = string.upper(state.answer.content) }
x-tea-studio:
  pins:
    ask_llm:
      answer: {content: pinned reply}
"""


def test_pins_replace_the_node_and_are_marked_in_events():
    state, sink = run(PINNED, pins=workflow(PINNED).layout.pins)
    assert state == {"answer": {"content": "pinned reply"}, "shout": "PINNED REPLY"}
    started = {e.node: e for e in sink.of_type(NodeStarted)}
    finished = {e.node: e for e in sink.of_type(NodeFinished)}
    assert started["ask_llm"].pinned and finished["ask_llm"].pinned and not finished["use"].pinned
    assert finished["ask_llm"].update == {"answer": {"content": "pinned reply"}}


def test_pins_live_in_the_studio_block_and_are_never_exported():
    wf = load_workflow_text(PINNED)
    assert wf.layout.pins == {"ask_llm": {"answer": {"content": "pinned reply"}}}
    assert dump_workflow(wf) == PINNED
    assert "pins" not in export_text(wf) and "x-tea-studio" not in export_text(wf)
    wf.layout.pins["use"] = {"shout": "X"}
    assert load_workflow_text(dump_workflow(wf)).layout.pins["use"] == {"shout": "X"}


def test_headless_run_uses_pins_only_when_asked(tmp_path, capsys):
    path = tmp_path / "pinned.yaml"
    path.write_text(PINNED, encoding="utf-8")
    assert main(["run", str(path)]) == 1
    assert "ask_llm" in capsys.readouterr().err
    assert main(["run", str(path), "--pins", "--stream"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert events[-1]["state"]["shout"] == "PINNED REPLY"
    assert [e["pinned"] for e in events if e["type"] == "node_finished"] == [True, False]


@pytest.mark.parametrize("case", ["64-dynamic-parallel-fail-fast", "65-dynamic-parallel-subgraph-mode"])
def test_fail_fast_and_subgraphs_give_the_same_results_in_worker_processes(case, capsys):
    import pathlib

    path = pathlib.Path(__file__).parent / "cases" / f"{case}.yaml"
    results = []
    for strategy in ("thread", "process"):
        assert main(["run", str(path), "--strategy", strategy]) == 0
        state = json.loads(capsys.readouterr().out)
        results.append({key: state[key] for key in ("report", "summaries") if key in state})
    assert results[0] == results[1] and results[0]


def test_a_dynamic_parallel_inside_a_loop_fans_out_on_every_iteration():
    text = """
    nodes:
      - name: loop
        type: while_loop
        condition: "state.round < 2"
        max_iterations: 3
        body:
          - name: fan
            type: dynamic_parallel
            items: "{{ state.xs }}"
            steps:
              - name: sq
                language: lua
                run: return { sq = state.item * state.item * (state.round + 1) }
          - name: sum
            language: lua
            run: |
              local t = 0
              for _, r in ipairs(state.parallel_results) do t = t + r.state.sq end
              return { round = state.round + 1, totals = (state.totals or "") .. t .. ";" }
    """
    state, sink = run(text, {"round": 0, "xs": [1, 2, 3]})
    assert state["totals"] == "14;28;"
    assert [e.node for e in sink.of_type(DynamicParallelStarted)] == ["loop/fan", "loop/fan"]


FAN_OUT_EVENTS = """
nodes:
  - name: fan
    type: dynamic_parallel
    items: "{{ state.numbers }}"
    item_var: x
    parallel_config: {max_concurrency: 2}
    steps:
      - name: check
        language: lua
        run: |
          print("item " .. state.x)
          if state.x == 3 then error("three") end
          return { half = state.x / 2 }
      - name: double
        language: lua
        run: return { twice = state.x * 2 }
  - name: count
    language: lua
    run: 'return { n = #state.parallel_results }'
"""


def _signature(event) -> tuple:
    """What a user sees of an event on the timeline and canvas (no times, no worker names)."""
    return (type(event).__name__, getattr(event, "node", None), getattr(event, "branch", None),
            getattr(event, "step", None), getattr(event, "ok", None), getattr(event, "text", None))


@pytest.mark.parametrize("strategy", ["process", "dask"])
def test_dynamic_parallel_items_give_the_same_events_on_every_executor(strategy, dask_local):  # noqa: F811
    """Items are branches on whichever executor runs the forks: the same branch, node, step and log events
    (so the same lanes and k/N) as on threads, and the same results."""
    runs = {}
    for name in ("thread", strategy):
        state, sink = run(FAN_OUT_EVENTS, {"numbers": [1, 2, 3, 4, 5]}, strategy=name, strategies=dask_local)
        runs[name] = (state, sorted(map(_signature, sink.events), key=repr))
    (state, events), (other_state, other_events) = runs["thread"], runs[strategy]
    assert [r["success"] for r in other_state["parallel_results"]] == [True, True, False, True, True]
    assert [r["state"].get("twice") for r in other_state["parallel_results"]] == [2, 4, None, 8, 10]
    assert other_events == events
    started = [e for e in events if e[0] == "BranchStarted"]
    assert len(started) == 5 and ("LogLine", "fan", "fan[2]", None, None, "item 3") in events


def test_a_fan_in_named_by_a_dynamic_parallel_is_neither_implicit_chaining_nor_a_plain_route():
    """The quick-add snippet's shape: ``fan_in: collect`` on the fan-out, ``fan_in: true`` on the collector. It
    validates without notes, and without its ``fan_in:`` TEA would refuse it (a warning)."""
    from tea_studio.workflow.templates import template
    from tea_studio.workflow.validation import validate

    text = template("dynamic_parallel").text
    assert [p.code for p in validate(load_workflow_text(text))] == []
    state, _ = run(text)
    assert state["total"] == 12
    without = load_workflow_text(text.replace("    fan_in: collect_results\n", ""))
    assert "DYNAMIC_PARALLEL_WITHOUT_FAN_IN" in [p.code for p in validate(without)]


def test_step_rows_sit_under_the_flow_that_ran_them_and_fan_outs_in_loops_under_the_loop():
    """The run model's lane order (what the timeline draws top to bottom): the main flow, its loop's step row,
    then the branches; a fan-out run by a loop body lists its items under the loop's row."""
    from tea_studio.engine.record import RunModel, RunRecord

    text = """
    nodes:
      - name: loop
        type: while_loop
        condition: "state.round < 2"
        max_iterations: 3
        body:
          - name: fan
            type: dynamic_parallel
            items: "{{ [1, 2] }}"
            steps:
              - {name: sq, language: lua, run: "return { sq = state.item * state.item }"}
          - {name: next, language: lua, run: "return { round = state.round + 1 }"}
      - name: after
        type: dynamic_parallel
        items: "{{ [1, 2, 3] }}"
        fan_in: done
        steps:
          - {name: one, language: lua, run: "return { one = 1 }"}
      - {name: done, fan_in: true, language: lua, run: "return { n = 3 }"}
    """
    _, sink = run(text, {"round": 0}, pins={"done": {"pinned": True}})
    record = RunRecord()
    record.events = list(sink.events)
    model = RunModel.replay(record)
    assert model.lane_order == ["", "▸loop", "loop/fan[0]", "loop/fan[1]", "after[0]", "after[1]", "after[2]"]
    assert [(x.node, x.iteration) for x in model.lanes["▸loop"].executions] == [
        ("loop › fan", 1), ("loop › next", 1), ("loop › fan", 2), ("loop › next", 2)]
    assert [x.node for x in model.lanes[""].pinned] == ["done"]
