"""The process strategy ends a branch stuck in one long C call (which no Lua hook can interrupt) by killing its
worker process: at the node's timeout plus a grace, or at a Stop. Sibling branches finish normally."""

from __future__ import annotations

import threading
import time

import pytest
from engine_helpers import run, workflow

from tea_studio.engine.events import BranchFinished, ListSink, NodeFinished, NodeStarted
from tea_studio.engine.runner import RunControl, RunError, WorkflowRun

STUCK = 'local s = string.rep("a", 40000); return { r = s:find(".-.-.-.-.-b") }'


def stuck_fork_yaml(*, timeout: float = 0.5, on_error: str = "fail", edge_strategy: bool = False) -> str:
    """A fork into a healthy branch, a stuck one and another healthy one (in that declaration order)."""
    strategy = "thread" if edge_strategy else "process"
    per_edge = ", parallel_strategy: process" if edge_strategy else ""
    return f"""
    name: stuck-branch
    settings:
      lua: {{timeout: {timeout}}}
      parallel: {{strategy: {strategy}, max_workers: 3, on_branch_error: {on_error}}}
    nodes:
      - name: fork
        language: lua
        run: 'return {{ base = 1 }}'
      - name: first
        language: lua
        run: 'return {{ r = "first" }}'
      - name: stuck
        language: lua
        run: '{STUCK}'
      - name: last
        language: lua
        run: 'return {{ r = "last" }}'
      - name: join
        language: lua
        run: |
          local rs = {{}}
          for i, r in ipairs(state.parallel_results) do rs[i] = r.r end
          return {{ rs = rs }}
    edges:
      - {{from: fork, to: first, type: parallel, fan_in: join{per_edge}}}
      - {{from: fork, to: stuck, type: parallel, fan_in: join{per_edge}}}
      - {{from: fork, to: last, type: parallel, fan_in: join{per_edge}}}
      - {{from: first, to: join}}
      - {{from: stuck, to: join}}
      - {{from: last, to: join}}
      - {{from: join, to: __end__}}
    """


@pytest.mark.parametrize("edge_strategy", [False, True], ids=["settings", "per-edge"])
def test_a_stuck_branch_times_out_and_the_siblings_reach_the_fan_in(edge_strategy):
    began = time.monotonic()
    state, sink = run(stuck_fork_yaml(on_error="continue", edge_strategy=edge_strategy))
    assert time.monotonic() - began < 5
    assert state["rs"] == ["first", "last"]
    assert [r["r"] for r in state["parallel_results"]] == ["first", "last"]
    [error] = state["parallel_errors"]
    assert error["branch"] == "stuck" and error["node"] == "stuck"
    assert "execution timeout" in error["error"]
    finished = {e.branch: e for e in sink.of_type(BranchFinished)}
    assert finished["first"].ok and finished["last"].ok and not finished["stuck"].ok
    [failed_node] = [e for e in sink.of_type(NodeFinished) if not e.ok]
    assert failed_node.node == "stuck" and "execution timeout" in failed_node.error


def test_a_stuck_branch_fails_the_run_naming_branch_and_node():
    began = time.monotonic()
    with pytest.raises(RunError, match=r"branch 'stuck' node 'stuck': execution timeout") as caught:
        run(stuck_fork_yaml())
    assert time.monotonic() - began < 5
    assert caught.value.branch == "stuck" and caught.value.node == "stuck"


def test_stop_kills_a_branch_stuck_in_a_c_call():
    control = RunControl()
    stuck_started = threading.Event()

    class Sink(ListSink):
        def emit(self, event):
            super().emit(event)
            if isinstance(event, NodeStarted) and event.node == "stuck":
                stuck_started.set()

    sink = Sink()
    outcome: dict[str, object] = {}
    done = threading.Event()

    def work():
        try:
            WorkflowRun(workflow(stuck_fork_yaml(timeout=60)), sink=sink, control=control).run()
        except RunError as exc:
            outcome["error"] = exc
        finally:
            done.set()

    thread = threading.Thread(target=work)
    thread.start()
    assert stuck_started.wait(10)
    stopped_at = time.monotonic()
    control.stop()
    assert done.wait(5)
    assert time.monotonic() - stopped_at < 2
    thread.join(5)
    assert str(outcome["error"]) == "stopped"
    finished = {e.branch: e for e in sink.of_type(BranchFinished)}
    assert not finished["stuck"].ok
