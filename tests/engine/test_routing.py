"""Routing, limits, unsupported nodes, initial state, events and pause control of the main flow."""

from __future__ import annotations

import threading

import pytest
from engine_helpers import run, workflow

from tea_studio.engine.events import (
    ListSink,
    LogLine,
    NodeFinished,
    NodeStarted,
    Paused,
    Resumed,
    RunFailed,
    RunFinished,
    RunStarted,
    RunWarning,
)
from tea_studio.engine.runner import RunControl, RunError, WorkflowRun
from tea_studio.workflow.model import Node, Workflow


def trail_node(name: str, extra: str = "") -> str:
    return (f"  - name: {name}\n    language: lua\n"
            f"    run: 'return {{ trail = (state.trail or \"\") .. \"{name},\" }}'\n{extra}")


def test_implicit_chaining_runs_nodes_in_list_order_and_ends_after_the_last():
    state, sink = run("nodes:\n" + trail_node("a") + trail_node("b") + "  - name: noop\n" + trail_node("c"))
    assert state["trail"] == "a,b,c,"
    assert [e.node for e in sink.of_type(NodeStarted)] == ["a", "b", "noop", "c"]


def test_workflow_built_in_python_runs():
    wf = Workflow(nodes=[Node("a", kind="lua", code="return { x = 1 }"),
                         Node("b", kind="python", code="return {'y': state['x'] + 1}")])
    assert WorkflowRun(wf).run() == {"x": 1, "y": 2}


def test_goto_string_jumps_and_end_stops():
    text = "nodes:\n" + trail_node("a", "    goto: c\n") + trail_node("b") + trail_node("c", "    goto: __end__\n") \
        + trail_node("d")
    assert run(text)[0]["trail"] == "a,c,"


def test_goto_rules_first_true_wins_and_rule_without_if_is_fallback():
    text = """
    nodes:
      - name: route
        goto:
          - {if: "state.x > 5", to: big}
          - {if: "state.x > 1", to: medium}
          - {to: small}
      - {name: big, language: lua, run: "return { size = 'big' }", goto: __end__}
      - {name: medium, language: lua, run: "return { size = 'medium' }", goto: __end__}
      - {name: small, language: lua, run: "return { size = 'small' }"}
    """
    assert run(text, {"x": 9})[0]["size"] == "big"
    assert run(text, {"x": 3})[0]["size"] == "medium"
    assert run(text, {"x": 0})[0]["size"] == "small"


def test_goto_rules_with_duplicate_targets_are_evaluated_as_written():
    text = """
    nodes:
      - name: route
        goto:
          - {if: "state.x == 1", to: one}
          - {if: "state.x == 2", to: two}
          - {if: "state.x == 3", to: one}
          - {to: two}
      - {name: one, language: lua, run: "return { hit = 'one' }", goto: __end__}
      - {name: two, language: lua, run: "return { hit = 'two' }"}
    """
    assert [run(text, {"x": x})[0]["hit"] for x in (1, 2, 3, 4)] == ["one", "two", "one", "two"]


def test_no_route_fails():
    text = """
    nodes:
      - name: route
        goto:
          - {if: "state.x", to: a}
      - {name: a}
    """
    with pytest.raises(RunError, match="no route from node route"):
        run(text, {"x": False})


def test_legacy_edges_start_edge_else_edge_and_file_order():
    text = """
    nodes:
      - {name: never, language: lua, run: "return { wrong = true }"}
      - {name: intake}
      - {name: hot, language: lua, run: "return { path = 'hot' }"}
      - {name: cold, language: lua, run: "return { path = 'cold' }"}
    edges:
      - {from: __start__, to: intake}
      - {from: intake, to: hot, condition: "state.t > 30"}
      - {from: intake, to: cold, condition: "state.t > 30", when: false}
      - {from: hot, to: __end__}
      - {from: cold, to: __end__}
    """
    assert run(text, {"t": 40})[0] == {"t": 40, "path": "hot"}
    assert run(text, {"t": 10})[0] == {"t": 10, "path": "cold"}


def test_goto_wins_over_edges():
    text = """
    nodes:
      - {name: a, goto: c}
      - {name: b, language: lua, run: "return { via = 'edge' }"}
      - {name: c, language: lua, run: "return { via = 'goto' }"}
    edges:
      - {from: a, to: b}
    """
    assert run(text)[0] == {"via": "goto"}


def test_raising_expression_counts_as_false_and_warns():
    text = """
    nodes:
      - name: route
        goto:
          - {if: "state.n > 3", to: big}
          - {to: small}
      - {name: big, language: lua, run: "return { r = 'big' }", goto: __end__}
      - {name: small, language: lua, run: "return { r = 'small' }"}
    edges: []
    """
    state, sink = run(text, {"n": None})
    assert state["r"] == "small"
    warnings = sink.of_type(RunWarning)
    assert len(warnings) == 1 and warnings[0].node == "route" and "state.n > 3" in warnings[0].message


def test_raising_edge_condition_counts_as_false():
    text = """
    nodes:
      - {name: a}
      - {name: b, language: lua, run: "return { r = 'b' }"}
      - {name: c, language: lua, run: "return { r = 'c' }"}
    edges:
      - {from: a, to: b, when: "state.n > 3"}
      - {from: a, to: c}
      - {from: b, to: __end__}
      - {from: c, to: __end__}
    """
    state, sink = run(text, {"n": None})
    assert state["r"] == "c" and sink.of_type(RunWarning)[0].node == "a"


def test_max_iterations_default_and_setting():
    loop = "nodes:\n  - {name: a, goto: b}\n  - {name: b, goto: a}\n"
    with pytest.raises(RunError, match=r"max iterations \(1000\) exceeded at node a"):
        run(loop)
    with pytest.raises(RunError, match=r"max iterations \(7\) exceeded at node b"):
        run("settings: {max_iterations: 7}\n" + loop)


def test_initial_state_merges_under_the_input():
    text = "initial_state: {a: 1, b: {x: 1}}\nnodes:\n  - {name: n}\n"
    assert run(text, {"b": {"y": 2}, "c": 3})[0] == {"a": 1, "b": {"y": 2}, "c": 3}


def test_actions_and_unsupported_kinds_fail_clearly():
    action = "nodes:\n  - {name: fetch, uses: ltm.store, with: {key: x}}\n"
    with pytest.raises(RunError) as info:
        run(action)
    assert "action 'ltm.store' is not available in TEA Studio; export and run with tea" in str(info.value)
    assert info.value.node == "fetch"
    loop = "nodes:\n  - {name: loop, type: while_loop, max_iterations: 3, body: []}\n"
    with pytest.raises(RunError, match="node 'loop': a while_loop needs `condition:`"):
        run(loop)


def test_lua_errors_name_node_and_line():
    text = "nodes:\n  - name: explode\n    language: lua\n    run: |\n      local a = nil\n      return a.b\n"
    with pytest.raises(RunError) as info:
        run(text)
    assert str(info.value) == "node 'explode' line 2: attempt to index a nil value (local 'a')"
    assert (info.value.node, info.value.line) == ("explode", 2)


def test_main_flow_globals_persist_within_a_run_but_not_across_runs():
    text = """
    nodes:
      - {name: read, language: lua, run: "return { before = type(g) }"}
      - {name: write, language: lua, run: "g = 1"}
      - {name: again, language: lua, run: "return { after = type(g) }"}
    """
    wf = workflow(text)
    for _ in range(3):
        assert WorkflowRun(wf).run() == {"before": "nil", "after": "number"}


def test_events_of_a_run():
    sink = ListSink()
    text = "nodes:\n  - {name: a, language: lua, run: \"print('hi') return { x = 1 }\"}\n  - {name: b}\n"
    state = WorkflowRun(workflow(text), {"in": 1}, sink=sink, record_states=True).run()
    kinds = [type(e).__name__ for e in sink.events]
    assert kinds == ["RunStarted", "NodeStarted", "LogLine", "NodeFinished", "NodeStarted", "NodeFinished",
                     "RunFinished"]
    times = [e.t for e in sink.events]
    assert times == sorted(times)
    finished = sink.of_type(NodeFinished)
    assert finished[0].update == {"x": 1} and finished[0].state == {"in": 1, "x": 1}
    assert sink.of_type(LogLine)[0].text == "hi" and sink.of_type(LogLine)[0].node == "a"
    assert sink.of_type(RunFinished)[0].state == state
    assert sink.of_type(RunStarted)[0].inputs == {"in": 1}


def test_states_are_not_recorded_by_default_and_snapshots_do_not_change_later():
    text = "nodes:\n  - {name: a, run: \"return {'l': [1]}\"}\n  - {name: b, run: \"state['l'].append(2)\"}\n"
    sink = ListSink()
    WorkflowRun(workflow(text), sink=sink).run()
    assert all(e.state is None for e in sink.of_type(NodeFinished))
    sink = ListSink()
    WorkflowRun(workflow(text), sink=sink, record_states=True).run()
    assert sink.of_type(NodeFinished)[0].state == {"l": [1]}


def test_run_failed_event():
    sink = ListSink()
    with pytest.raises(RunError):
        WorkflowRun(workflow("nodes:\n  - {name: a, language: lua, run: \"error('x', 0)\"}\n"), sink=sink).run()
    failed = sink.of_type(RunFailed)
    assert len(failed) == 1 and failed[0].node == "a" and "x" in failed[0].error


BREAKPOINTS = """
config: {interrupt_before: [b], interrupt_after: [c]}
nodes:
  - {name: a, language: lua, run: "return { n = 1 }"}
  - {name: b, language: lua, run: "return { n = state.n + 1 }"}
  - {name: c, language: lua, run: "return { n = state.n + 1 }", interrupt: after}
  - {name: d, language: lua, run: "return { n = state.n + 1 }", interrupt: before}
"""


def test_tea_node_level_interrupt_keys_are_breakpoints_too():
    """TEA also writes ``interrupt_before: true`` / ``interrupt_after: true`` on the node itself
    (examples/yaml/stream_hybrid.yaml); they pause the run as ``interrupt:`` does."""
    text = """
    nodes:
      - {name: a, language: lua, run: "return { n = 1 }", interrupt_after: true}
      - {name: b, language: lua, run: "return { n = state.n + 1 }", interrupt_before: true}
      - {name: c, language: lua, run: "return { n = state.n + 1 }", interrupt_after: false}
    """
    state, sink = run(text, control=RunControl(auto_continue=True))
    assert state["n"] == 3
    assert [(e.node, e.when) for e in sink.of_type(Paused)] == [("a", "after"), ("b", "before")]


def test_breakpoints_continue_automatically_when_auto_continue():
    state, sink = run(BREAKPOINTS, control=RunControl(auto_continue=True))
    assert state["n"] == 4
    assert [(e.node, e.when) for e in sink.of_type(Paused)] == [("b", "before"), ("c", "after"), ("d", "before")]
    assert len(sink.of_type(Resumed)) == 3


class PauseWatcher:
    """A sink that signals each Paused event."""

    def __init__(self) -> None:
        self.inner = ListSink()
        self.paused = threading.Semaphore(0)

    def emit(self, event) -> None:
        self.inner.emit(event)
        if isinstance(event, Paused):
            self.paused.release()


def _start(text: str, control: RunControl, sink) -> tuple[threading.Thread, dict]:
    outcome: dict = {}

    def work():
        try:
            outcome["state"] = WorkflowRun(workflow(text), sink=sink, control=control).run()
        except RunError as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=work)
    thread.start()
    return thread, outcome


def test_breakpoints_wait_for_resume_and_show_state():
    control, sink = RunControl(), PauseWatcher()
    thread, outcome = _start(BREAKPOINTS, control, sink)
    for expected in [("b", "before", 1), ("c", "after", 3), ("d", "before", 3)]:
        assert sink.paused.acquire(timeout=5)
        paused = sink.inner.of_type(Paused)[-1]
        assert (paused.node, paused.when, paused.state["n"]) == expected
        control.resume()
    thread.join(timeout=5)
    assert outcome["state"]["n"] == 4


def test_studio_breakpoints_pause_step_and_stop():
    text = "nodes:\n" + "".join(f"  - {{name: n{i}, language: lua, run: \"return {{ i = {i} }}\"}}\n"
                                for i in range(5))
    control, sink = RunControl(breakpoints={("n1", "before")}), PauseWatcher()
    thread, outcome = _start(text, control, sink)
    assert sink.paused.acquire(timeout=5)
    control.step()
    assert sink.paused.acquire(timeout=5)
    assert sink.inner.of_type(Paused)[-1].node == "n2"
    control.stop()
    thread.join(timeout=5)
    assert str(outcome["error"]) == "stopped"
    assert [e.node for e in sink.inner.of_type(NodeFinished)] == ["n0", "n1"]


def test_a_breakpoint_set_while_paused_is_honoured_and_a_cleared_one_is_not():
    text = "nodes:\n" + "".join(f"  - {{name: n{i}}}\n" for i in range(4))
    control, sink = RunControl(breakpoints={("n0", "before"), ("n3", "before")}), PauseWatcher()
    thread, outcome = _start(text, control, sink)
    assert sink.paused.acquire(timeout=5)
    control.set_breakpoint("n2", "before", True)
    control.set_breakpoint("n3", "before", False)
    control.resume()
    assert sink.paused.acquire(timeout=5)
    control.resume()
    thread.join(timeout=5)
    assert [e.node for e in sink.inner.of_type(Paused)] == ["n0", "n2"] and "error" not in outcome


def test_pause_request_pauses_before_the_next_node():
    text = "nodes:\n  - {name: a}\n  - {name: b}\n"
    control, sink = RunControl(), PauseWatcher()
    control.pause()
    thread, outcome = _start(text, control, sink)
    assert sink.paused.acquire(timeout=5)
    assert sink.inner.of_type(Paused)[0].node == "a"
    control.resume()
    thread.join(timeout=5)
    assert outcome["state"] == {}


def test_stop_ends_an_endless_lua_node():
    import time

    text = "nodes:\n  - {name: spin, language: lua, run: \"while true do end\"}\n"
    control = RunControl()

    class StartWatcher(ListSink):
        def __init__(self):
            super().__init__()
            self.started = threading.Event()

        def emit(self, event):
            super().emit(event)
            if isinstance(event, NodeStarted):
                self.started.set()

    sink = StartWatcher()
    thread, outcome = _start(text, control, sink)
    assert sink.started.wait(5)
    began = time.monotonic()
    control.stop()
    thread.join(timeout=5)
    assert not thread.is_alive() and time.monotonic() - began < 1.0
    assert str(outcome["error"]) == "stopped"
