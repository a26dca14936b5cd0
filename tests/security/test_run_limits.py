"""Limits from the file are checked, capped by the user, and always fire: every limited node ends within twice its
limit while its siblings finish correctly; states and results outside the VMs stay within the run's budget."""

import json
import textwrap
import time

import pytest
from security_helpers import run_cli, timed_cli

from tea_studio.engine.budget import BudgetExceeded, EngineCaps, FlowHeld, StateBudget
from tea_studio.engine.events import BranchFinished, ListSink, NodeFinished
from tea_studio.engine.runner import RunError, WorkflowRun
from tea_studio.workflow.validation import validate
from tea_studio.workflow.yaml_io import load_workflow_text


def load(text: str):
    return load_workflow_text(textwrap.dedent(text))


@pytest.mark.parametrize(("setting", "value"), [("timeout", ".nan"), ("timeout", "-1"), ("timeout", "0"),
                                                ("timeout", ".inf"), ("max_memory_mb", "0.0000001"),
                                                ("max_memory_mb", "-5"), ("max_memory_mb", ".nan")])
def test_limits_that_would_not_limit_are_validation_errors(setting, value):
    workflow = load(f"""
    name: limits
    settings:
      lua:
        {setting}: {value}
    nodes:
      - name: a
        language: lua
        run: return {{}}
    """)
    problems = [p for p in validate(workflow) if p.code == "INVALID_LIMIT"]
    assert len(problems) == 1 and problems[0].is_error and problems[0].line == 5


def test_the_command_line_caps_what_the_file_asks_for(workflow_file):
    path = workflow_file("name: greedy\nsettings:\n  lua: {timeout: 1000, max_memory_mb: 100000}\nnodes:\n"
                         "  - name: spin\n    language: lua\n    run: while true do end\n")
    code, _out, err, seconds = timed_cli("run", path, "--max-timeout", "0.5")
    assert code == 1 and "node 'spin': execution timeout (0.5 s)" in err
    assert seconds < 10
    path = workflow_file("name: greedy\nsettings:\n  lua: {max_memory_mb: 100000}\nnodes:\n"
                         "  - name: hog\n    language: lua\n    run: \"return {n = #string.rep('x', 200 * 1024 * 1024)}\"\n")
    code, _out, err = run_cli("run", path, "--max-memory-mb", "32")
    assert code == 1 and "node 'hog': memory limit exceeded" in err


def test_caps_are_an_engine_option():
    workflow = load("""
    name: capped
    settings:
      lua: {timeout: 1000}
    nodes:
      - {name: spin, language: lua, run: "while true do end"}
    """)
    began = time.monotonic()
    with pytest.raises(RunError, match=r"execution timeout \(0.3 s\)"):
        WorkflowRun(workflow, caps=EngineCaps(max_timeout_s=0.3)).run()
    assert time.monotonic() - began < 2 * 0.3 + 0.5  # twice the limit, plus building the run


HOSTILE_BRANCHES = {
    "spinner": "while true do end",
    "hog": "local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 4e6) .. i end",
    "rep_loop": "for i = 1, 1000 do local s = string.rep('x', 16 * 1024 * 1024) end",
    "concat_trick": "local t = setmetatable({}, {__index = rawlen}) return {n = #table.concat(t, '', 1, 3e8)}",
    "xpcall_hook": "local function f() return f() + 1 end\\nxpcall(f, function() while true do end end)",
    "cycle": "local t = {} t.me = t return t",
}


@pytest.mark.parametrize("strategy", ["thread", "process"])
def test_every_limit_ends_its_branch_in_time_while_siblings_finish(strategy):
    timeout = 1.0
    names = list(HOSTILE_BRANCHES) + ["healthy", "healthy_too"]
    bodies = {**HOSTILE_BRANCHES, "healthy": "local s = 0 for i = 1, 200000 do s = s + 1 end return {ok = s}",
              "healthy_too": "return {ok = 2}"}
    nodes = "".join(f"  - name: {name}\n    language: lua\n    run: \"{bodies[name]}\"\n" for name in names)
    edges = "".join(f"  - {{from: fork, to: {name}, type: parallel, fan_in: join}}\n  - {{from: {name}, to: join}}\n"
                    for name in names)
    text = (f"name: hostile-siblings\nsettings:\n  lua: {{timeout: {timeout}, max_memory_mb: 64}}\n"
            f"  parallel: {{strategy: {strategy}, max_workers: 8, on_branch_error: continue}}\n"
            f"nodes:\n  - name: fork\n{nodes}  - name: join\nedges:\n{edges}")
    sink = ListSink()
    state = WorkflowRun(load_workflow_text(text), sink=sink).run()
    assert sorted(r["ok"] for r in state["parallel_results"]) == [2, 200000]
    errors = {e["branch"]: e for e in state["parallel_errors"]}
    assert set(errors) == set(HOSTILE_BRANCHES)
    assert "execution timeout" in errors["spinner"]["error"]
    assert errors["hog"]["error"] in ("memory limit exceeded", f"execution timeout ({timeout:g} s)")
    assert "contains itself" in errors["cycle"]["error"]
    for name in ("spinner", "hog", "rep_loop", "concat_trick", "xpcall_hook"):
        assert errors[name]["timing_ms"] < 2 * timeout * 1000 + 500, (name, errors[name])
    finished = {e.branch: e for e in sink.of_type(BranchFinished)}
    assert finished["healthy"].ok and finished["healthy_too"].ok


def _fat_fan_out(branches: int):
    """A fork whose branches each return 20 MiB of text to one fan-in."""
    nodes = "".join(f"  - name: b{i}\n    language: lua\n    run: return {{ s = string.rep('x', 20 * 1024 * 1024) }}\n"
                    for i in range(branches))
    edges = "".join(f"  - {{from: fork, to: b{i}, type: parallel, fan_in: join}}\n  - {{from: b{i}, to: join}}\n"
                    for i in range(branches))
    return load_workflow_text("name: fat\nsettings:\n  lua: {max_memory_mb: 64}\nnodes:\n  - name: fork\n"
                              f"{nodes}  - name: join\nedges:\n{edges}")


def test_results_beyond_the_run_budget_fail_the_run():
    workflow = _fat_fan_out(6)
    with pytest.raises(RunError, match="memory budget exceeded"):
        WorkflowRun(workflow, caps=EngineCaps(state_budget_mb=64)).run()
    state = WorkflowRun(workflow, caps=EngineCaps(state_budget_mb=512)).run()
    assert len(state["parallel_results"]) == 6


def test_a_node_whose_update_overruns_the_budget_fails_with_its_own_events():
    workflow = load("""
    name: grow
    nodes:
      - name: small
        language: lua
        run: return { s = 'x' }
      - name: fat
        language: python
        run: |
          return {"s": "x" * (2 << 20)}
    """)
    sink = ListSink()
    with pytest.raises(RunError, match="memory budget exceeded") as caught:
        WorkflowRun(workflow, caps=EngineCaps(state_budget_mb=1), sink=sink).run()
    assert (caught.value.node, caught.value.branch) == ("fat", "")
    finished = sink.of_type(NodeFinished)
    assert [(e.node, e.ok) for e in finished] == [("small", True), ("fat", False)]
    assert finished[-1].error.startswith("memory budget exceeded")


def test_the_run_budget_is_settable_on_the_command_line(workflow_file):
    nodes = "".join(f"  - name: b{i}\n    language: lua\n    run: return {{ s = string.rep('x', 8 * 1024 * 1024) }}\n"
                    for i in range(4))
    edges = "".join(f"  - {{from: fork, to: b{i}, type: parallel, fan_in: join}}\n  - {{from: b{i}, to: join}}\n"
                    for i in range(4))
    path = workflow_file(f"name: fat\nnodes:\n  - name: fork\n{nodes}  - name: join\n"
                         f"    language: lua\n    run: return {{ parallel_results = {{}} }}\nedges:\n{edges}")
    code, _out, err = run_cli("run", path, "--max-state-mb", "16")
    assert code == 1 and "memory budget exceeded" in err and "16 MiB" in err
    assert len(err.strip().splitlines()) == 1
    code, _out, err = run_cli("run", path, "--max-state-mb", "256")
    assert code == 0, err


def test_a_loop_that_replaces_its_state_stays_within_the_budget():
    workflow = load("""
    name: loop
    settings:
      max_iterations: 200
    nodes:
      - name: step
        language: lua
        run: return { i = (state.i or 0) + 1, blob = string.rep('x', 1024 * 1024) }  # 100 MiB made in all
        goto:
          - if: "state.i < 100"
            to: step
          - to: __end__
    """)
    state = WorkflowRun(workflow, caps=EngineCaps(state_budget_mb=16)).run()
    assert state["i"] == 100


def test_output_is_valid_json_and_terminal_controls_never_reach_the_terminal(workflow_file):
    path = workflow_file("name: noisy\nnodes:\n  - name: talk\n    language: lua\n    run: |\n"
                         "      print('\\27[2J\\27]0;owned\\7hello\\r\\27[31m')\n"
                         "      return { text = 'plain' }\n"
                         "  - name: fail\n    language: lua\n    run: error('bad\\27[31m\\nthing')\n"
                         "edges:\n  - {from: talk, to: fail}\n")
    code, out, err = run_cli("run", path)
    assert code == 1
    assert "\x1b" not in err and "\r" not in err and "\x07" not in err
    assert "[talk] hello" in err and "error: node 'fail' line 1: bad thing" in err
    path = workflow_file("name: nan\nnodes:\n  - name: n\n    language: lua\n    run: return { x = 0/0 }\n")
    code, out, err = run_cli("run", path)
    assert code == 1 and "node 'n': the result.x is NaN or infinite" in err
    assert len(err.strip().splitlines()) == 1


def test_hostile_results_name_the_node_in_a_real_run(workflow_file):
    path = workflow_file("name: keys\nnodes:\n  - name: clash\n    language: lua\n"
                         "    run: \"local t = {'a'} t['1'] = 'b' t.x = 1 return t\"\n")
    code, out, err = run_cli("run", path)
    assert code == 1 and err.strip() == "error: node 'clash': the result[1] and the key \"1\" would collide"
    path = workflow_file("name: ok\nnodes:\n  - name: fine\n    language: lua\n    run: return { v = 1.5, n = 3 }\n")
    code, out, err = run_cli("run", path)
    assert code == 0 and json.loads(out) == {"v": 1.5, "n": 3}


@pytest.mark.parametrize(("body", "memory", "error"), [
    ("for i = 1, 1000 do local s = string.rep('x', 64 * 1024 * 1024) end", 512, "execution timeout (1 s)"),
    ("local s = string.rep('x', 32 * 1024 * 1024) for i = 1, 1000 do local t = s:upper() end", 512,
     "execution timeout (1 s)"),
    ("local s = string.rep('x', 16 * 1024 * 1024) while true do local t = s .. 'y' end", 512,
     "execution timeout (1 s)"),
    ("local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 1e6) .. i end", 32, "memory limit exceeded"),
    ("return { s = string.rep('x', 1e9) }", 32, "memory limit exceeded"),
], ids=["rep loop", "upper loop", "concat loop", "growing table", "one huge string"])
def test_the_main_flow_honours_lua_limits_like_a_branch(body, memory, error):
    """The main flow runs in the caller's thread, never in a worker that could be killed: its VM's own limits
    must end the node in time, and the next run goes on normally."""
    workflow = load_workflow_text(f"name: main\nsettings:\n  lua: {{timeout: 1, max_memory_mb: {memory}}}\nnodes:\n"
                                  f"  - name: before\n    language: lua\n    run: return {{ a = 1 }}\n"
                                  f"  - name: hostile\n    language: lua\n    run: \"{body}\"\n"
                                  "edges:\n  - {from: before, to: hostile}\n")
    began = time.monotonic()
    with pytest.raises(RunError) as caught:
        WorkflowRun(workflow).run()
    assert time.monotonic() - began < 2 * 1 + 0.5
    assert str(caught.value) == f"node 'hostile': {error}" and caught.value.node == "hostile"
    assert WorkflowRun(load("""
    name: after
    nodes:
      - {name: fine, language: lua, run: "return { ok = true }"}
    """)).run() == {"ok": True}


def test_values_json_cannot_hold_still_give_valid_json_or_one_line(workflow_file):
    """Python nodes are trusted, but what they return still crosses the boundary: the output stays valid JSON,
    and a value JSON would silently lose or never finish is one error line."""
    path = workflow_file("name: py\nnodes:\n  - name: p\n    run: |\n"
                         "      return {'x': float('nan'), 'y': [float('-inf')], b'k': 1, 'd': {2.5: 'b', None: 1}}\n")
    code, out, err = run_cli("run", path)
    assert code == 0, err
    assert json.loads(out, parse_constant=lambda name: pytest.fail(f"{name} in the output")) == {
        "x": "NaN", "y": ["-Infinity"], "b'k'": 1, "d": {"2.5": "b", "null": 1}}
    path = workflow_file("name: py\nnodes:\n  - name: p\n    run: |\n      return {'d': {1: 'a', '1': 'b'}}\n")
    code, out, err = run_cli("run", path)
    assert code == 1 and err.strip() == ("error: the final state cannot be written as JSON: state.d has two keys "
                                         "that are both '1' in JSON")
    path = workflow_file("name: py\nnodes:\n  - name: p\n    run: |\n      d = {}\n      d['me'] = d\n"
                         "      return {'d': d}\n")
    code, out, err, seconds = timed_cli("run", path, "--max-state-mb", "16")
    assert code == 1 and err.strip().startswith("error: node 'p': memory budget exceeded"), err
    assert seconds < 30


@pytest.mark.parametrize("strategy", ["thread", "process"])
def test_a_loop_of_prints_cannot_fill_the_memory_of_whoever_keeps_the_log(strategy):
    """The studio and the run history keep every log line: past the run's log budget lines are dropped, with
    one warning, whichever flow prints (main flow, thread or process branches)."""
    from tea_studio.engine.events import MAX_LOG_TEXT, LogLine

    spam = "local s = string.rep('x', 65536) for i = 1, 1e9 do print(s) end"
    workflow = load_workflow_text(
        f"name: noisy\nsettings:\n  lua: {{timeout: 1}}\n"
        f"  parallel: {{strategy: {strategy}, on_branch_error: continue}}\nnodes:\n"
        f"  - {{name: talk, language: lua, run: \"for i = 1, 100 do print(string.rep('y', 65536)) end\"}}\n"
        f"  - {{name: a, language: lua, run: \"{spam}\"}}\n  - {{name: b, language: lua, run: \"{spam}\"}}\n"
        "  - {name: join, language: lua, run: 'return {}'}\n"
        "edges:\n  - {from: talk, to: a, type: parallel, fan_in: join}\n"
        "  - {from: talk, to: b, type: parallel, fan_in: join}\n  - {from: a, to: join}\n  - {from: b, to: join}\n")
    sink = ListSink()
    state = WorkflowRun(workflow, sink=sink).run()
    assert {e["branch"] for e in state["parallel_errors"]} == {"a", "b"}
    lines = sink.of_type(LogLine)
    assert sum(len(line.text) for line in lines) <= MAX_LOG_TEXT + 200
    assert [line.text for line in lines if line.level == "warning"] == ["log output past 32 MiB in this run is dropped"]
    assert sum(line.node == "talk" for line in lines) == 100  # what came first is all there


def test_a_flow_is_charged_for_what_its_updates_change_and_a_refused_update_changes_nothing():
    budget = StateBudget(1)  # 1 MiB
    held = FlowHeld(budget)
    held.update({"n": 1, "text": "abc", "items": [1, 2]})
    first = budget.used
    assert first == held.total == sum(held.sizes.values()) > 0
    held.update({"n": 2, "text": "xyz"})  # same sizes: nothing charged
    assert budget.used == first
    held.update({"text": "abcdef", "n": "ab"})  # grows by 3 + (51 - 32) bytes
    assert budget.used == first + 3 + 19 == held.total
    sizes = dict(held.sizes)
    with pytest.raises(BudgetExceeded):
        held.update({"n": 1, "blob": "x" * (2 << 20)})
    assert held.sizes == sizes and budget.used == held.total  # the refused update left the flow as it was
    held.release()
    assert budget.used == 0 and not held.sizes


def test_branch_states_become_their_forks_results_without_being_counted_twice():
    budget = StateBudget(1)
    fork = FlowHeld(budget)
    fork.update({"base": "x" * 1000})
    branches = [FlowHeld(budget) for _ in range(3)]
    for branch in branches:
        branch.start_from(fork)  # a copy of the fork's state, sized once
        branch.update({"part": "y" * 2000})
    counted = sum(branch.total for branch in branches)
    assert budget.used == fork.total + counted
    fork.take_over("parallel_results", counted + 500, counted)  # the results hand their bytes over
    assert budget.used == fork.total == 1000 + 49 + counted + 500
    fork.release()
    assert budget.used == 0
    with pytest.raises(BudgetExceeded):  # results that do not fit: the branches' bytes are dropped with them
        FlowHeld(budget).take_over("parallel_results", 2 << 20, 0)
    assert budget.used == 0


def test_fan_in_results_that_fit_the_budget_once_are_counted_once():
    state = WorkflowRun(_fat_fan_out(3), caps=EngineCaps(state_budget_mb=80)).run()  # 60 MiB of results, not 120
    assert [len(result["s"]) for result in state["parallel_results"]] == [20 << 20] * 3
