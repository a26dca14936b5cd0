"""Runs started from a node with a past run's state (or one node alone), and two runs compared node by node."""

from __future__ import annotations

import pathlib

import pytest
from engine_helpers import workflow

from tea_studio.engine import events as ev
from tea_studio.engine.compare import CHANGED, COUNT, ONLY_B, OUTPUT, SAME, STATUS, compare_runs
from tea_studio.engine.events import ListSink
from tea_studio.engine.plan import build_plan
from tea_studio.engine.record import FAILED, SKIPPED, RunModel, RunRecord
from tea_studio.engine.runner import RunError, WorkflowRun
from tea_studio.engine.start import ONLY_NODE, StartAt, enclosing_branch, recorded_input
from tea_studio.workflow.yaml_io import load_workflow

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "resources" / "examples"

CHAIN = """
name: chain
nodes:
  - name: a
    language: lua
    run: return { n = (state.n or 0) + 1, trail = (state.trail or "") .. "a" }
  - name: b
    language: lua
    run: return { n = state.n * 10, trail = state.trail .. "b" }
  - name: c
    language: lua
    run: return { n = state.n + 5, trail = state.trail .. "c" }
edges:
  - {from: __start__, to: a}
  - {from: a, to: b}
  - {from: b, to: c}
  - {from: c, to: __end__}
"""


def recorded(wf, inputs=None, start=None):
    """(final state or the RunError, the run's RunModel) of one run recorded as the studio records it."""
    sink = ListSink()
    run = WorkflowRun(wf, inputs, sink=sink, record_states=True, start=start)
    try:
        result = run.run()
    except RunError as exc:
        result = exc
    record = RunRecord(inputs=inputs)
    record.events = list(sink.events)
    return result, RunModel.replay(record, wf)


def nodes_run(model: RunModel) -> list[str]:
    return [x.node for lane in model.lanes.values() for x in lane.executions]


def test_a_run_from_a_node_runs_that_node_and_what_follows_with_the_given_state():
    wf = workflow(CHAIN)
    state, first = recorded(wf, {"n": 1})
    assert state["n"] == 25 and state["trail"] == "abc"
    given = recorded_input(first, first.last_execution("b"))
    assert given == {"n": 2, "trail": "a"}
    forked, model = recorded(wf, start=StartAt("b", {**given, "n": 3}, parent_run="parent-1"))
    assert forked == {"n": 35, "trail": "abc"}
    assert nodes_run(model) == ["b", "c"]
    assert model.nodes["a"].status == SKIPPED
    started = model.record.started
    assert (started.parent_run, started.start_node, started.start_mode) == ("parent-1", "b", "from")


def test_re_running_one_node_runs_it_alone_with_its_recorded_input():
    wf = workflow(CHAIN)
    _, first = recorded(wf, {"n": 1})
    state, model = recorded(wf, start=StartAt("b", recorded_input(first, first.last_execution("b")), ONLY_NODE))
    assert state == {"n": 20, "trail": "ab"}
    assert nodes_run(model) == ["b"]


def test_starting_at_a_node_the_workflow_lacks_is_one_located_error():
    with pytest.raises(RunError, match="cannot start at 'nope': the workflow has no node of that name"):
        WorkflowRun(workflow(CHAIN), start=StartAt("nope", {})).run()


def test_inside_a_parallel_branch_the_run_ends_before_the_fan_in():
    wf = load_workflow(EXAMPLES / "parallel_fanout.yaml")
    plan = build_plan(wf)
    assert enclosing_branch(plan, "square")[0].fan_in == "merge"
    assert enclosing_branch(plan, "merge") is None and enclosing_branch(plan, "split") is None
    state, model = recorded(wf, start=StartAt("square", {"value": 4}))
    assert state == {"value": 4, "part": 16, "label": "square"}  # the branch's result, as the fan-in gets it
    assert nodes_run(model) == ["square"]


def test_a_fan_in_starts_from_the_joined_state_of_the_past_run():
    wf = load_workflow(EXAMPLES / "parallel_fanout.yaml")
    state, first = recorded(wf, {"value": 3})
    assert state["total"] == 6 + 9 - 3
    given = recorded_input(first, first.last_execution("merge"))
    assert [r["label"] for r in given["parallel_results"]] == ["double", "square", "negate"]
    given["parallel_results"][1]["part"] = 100  # edited by the user
    again, model = recorded(wf, start=StartAt("merge", given))
    assert again["total"] == 6 + 100 - 3 and again["order"] == "double,square,negate"
    assert nodes_run(model) == ["merge"]


def test_from_the_fork_node_the_branches_and_the_join_run_again():
    wf = load_workflow(EXAMPLES / "parallel_fanout.yaml")
    state, model = recorded(wf, start=StartAt("split", {"value": 2}))
    assert state["total"] == 4 + 4 - 2
    assert sorted(nodes_run(model)) == ["double", "merge", "negate", "split", "square"]


def test_two_runs_compare_node_by_node_and_by_final_state():
    wf = workflow(CHAIN.replace("run: return { n = state.n + 5", "run: if state.n > 50 then error('too big') end\n"
                                "      return { n = state.n + 5").replace(
        "    run: if", "    run: |\n      if"))
    _, a = recorded(wf, {"n": 1})
    _, b = recorded(wf, {"n": 6})
    comparison = compare_runs(a, b)
    assert [row.node for row in comparison.nodes] == ["a", "b", "c"]
    c = comparison.node("c")
    assert STATUS in c.differences and c.b.status == FAILED and c.a.output == {"n": 25, "trail": "abc"}
    assert OUTPUT in comparison.node("a").differences and COUNT not in comparison.node("a").differences
    kinds = {row.key: row.kind for row in comparison.state}
    assert kinds == {"n": CHANGED, "trail": CHANGED}  # B failed: its state after its last node
    assert [row.kind for row in compare_runs(a, a).state] == [SAME, SAME]
    assert compare_runs(a, a).differing_nodes == []


def test_a_key_only_one_run_has_is_listed_first():
    wf = workflow(CHAIN)
    _, a = recorded(wf, {"n": 1})
    _, b = recorded(wf, {"n": 1, "extra": True})
    rows = compare_runs(a, b).state
    assert (rows[0].key, rows[0].kind, rows[0].b) == ("extra", ONLY_B, True)


def test_the_start_of_a_child_run_survives_the_ndjson_round_trip(tmp_path):
    _, model = recorded(workflow(CHAIN), start=StartAt("b", {"n": 1, "trail": ""}, parent_run="p0"))
    path = tmp_path / "child.ndjson"
    model.record.save(path)
    started = RunRecord.load(path).started
    assert isinstance(started, ev.RunStarted)
    assert (started.parent_run, started.start_node, started.inputs) == ("p0", "b", {"n": 1, "trail": ""})


def test_the_cli_runs_from_a_node_or_one_node_alone(tmp_path, capsys):
    import json

    from tea_studio.cli import main

    state = tmp_path / "state.json"
    state.write_text(json.dumps({"n": 2, "trail": "a"}), encoding="utf-8")
    path = tmp_path / "chain.yaml"
    path.write_text(CHAIN, encoding="utf-8")
    assert main(["run", str(path), "--from", "b", "--input", f"@{state}"]) == 0
    assert json.loads(capsys.readouterr().out) == {"n": 25, "trail": "abc"}
    assert main(["run", str(path), "--only", "b", "--input", f"@{state}"]) == 0
    assert json.loads(capsys.readouterr().out) == {"n": 20, "trail": "ab"}
    assert main(["run", str(path), "--only", "zz"]) == 1
    assert capsys.readouterr().err.strip() == "error: cannot start at 'zz': the workflow has no node of that name"
