"""Parallel branches: isolation, order, failures and limits beside healthy siblings, nesting, executors."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Executor, Future, ThreadPoolExecutor

import pytest
from engine_helpers import fan_out_yaml, run, workflow

from tea_studio.engine.events import (
    BranchFinished,
    BranchStarted,
    FanInReady,
    ListSink,
    LogLine,
    NodeStarted,
)
from tea_studio.engine.runner import RunControl, RunError, WorkflowRun

ISOLATION = """
name: isolation
nodes:
  - {name: main_setup, language: lua, run: "main_only = 'main'\\nreturn { cfg = { tags = { 'base' } } }"}
  - name: fork
  - name: leaker
    language: lua
    run: |
      secret = 42
      function helper() return 1 end
      table.insert(state.cfg.tags, 'leaker')
      return { a_main = type(main_only), a_secret = type(secret), tags = state.cfg.tags }
  - name: peeker
    language: lua
    run: |
      return { b_secret = type(secret), b_helper = type(helper), b_main = type(main_only), b_tags = #state.cfg.tags }
  - name: py_mutator
    run: |
      state["cfg"]["tags"].append("py")
      return {"c_tags": len(state["cfg"]["tags"])}
  - name: collect
    language: lua
    run: |
      return { f_secret = type(secret), f_helper = type(helper), f_main = type(main_only),
               main_tags = #state.cfg.tags, branches = #state.parallel_results }
edges:
  - {from: fork, to: leaker, type: parallel, fan_in: collect}
  - {from: fork, to: peeker, type: parallel, fan_in: collect}
  - {from: fork, to: py_mutator, type: parallel, fan_in: collect}
  - {from: leaker, to: collect}
  - {from: peeker, to: collect}
  - {from: py_mutator, to: collect}
  - {from: collect, to: __end__}
"""


def test_globals_functions_and_state_are_isolated_between_branches_main_flow_and_runs():
    wf = workflow(ISOLATION)
    for _ in range(5):
        state = WorkflowRun(wf).run()
        leaker, peeker, py = state["parallel_results"]
        assert (leaker["a_main"], leaker["a_secret"], leaker["tags"]) == ("nil", "number", ["base", "leaker"])
        assert (peeker["b_secret"], peeker["b_helper"], peeker["b_main"], peeker["b_tags"]) == (
            "nil", "nil", "nil", 1)
        assert py["c_tags"] == 2
        assert (state["f_secret"], state["f_helper"], state["f_main"]) == ("nil", "nil", "string")
        assert state["main_tags"] == 1 and state["cfg"] == {"tags": ["base"]}


def test_each_branch_has_its_own_vm_for_all_its_nodes():
    text = """
    nodes:
      - {name: fork}
      - {name: a1, language: lua, run: "counter = (counter or 0) + 10"}
      - {name: a2, language: lua, run: "counter = (counter or 0) + 1\\nreturn { a = counter }"}
      - {name: b1, language: lua, run: "return { b = type(counter) }"}
      - {name: join, language: lua, run: "return { main = type(counter) }"}
    edges:
      - {from: fork, to: a1, type: parallel, fan_in: join}
      - {from: fork, to: b1, type: parallel, fan_in: join}
      - {from: a1, to: a2}
      - {from: a2, to: join}
      - {from: b1, to: join}
    """
    state, _ = run(text)
    assert [r.get("a", r.get("b")) for r in state["parallel_results"]] == [11, "nil"]
    assert state["main"] == "nil"


def test_twenty_branches_fifty_runs_exact_results_in_declaration_order():
    body = "local s = 0 for i = 1, (20 - {i}) * 2000 do s = s + 1 end return { part = {i} }"
    wf = workflow(fan_out_yaml(20, body, workers=4))
    for _ in range(50):
        sink = ListSink()
        state = WorkflowRun(wf, sink=sink).run()
        assert state["parts"] == list(range(20))
        assert len(state["parallel_results"]) == 20
        started = sink.of_type(BranchStarted)
        assert sorted(e.index for e in started) == list(range(20))
        assert sink.of_type(FanInReady)[0].results == 20


def test_failing_timing_out_and_memory_hungry_branches_beside_healthy_siblings():
    text = """
    settings:
      lua: {timeout: 0.3, max_memory_mb: 32}
      parallel: {max_workers: 4}
    nodes:
      - {name: fork}
      - {name: healthy, language: lua, run: "local s = 0 for i = 1, 2000000 do s = s + 1 end return { ok = s }"}
      - {name: broken, language: lua, run: "local x = nil\\nreturn x.y"}
      - {name: spinner, language: lua, run: "while true do end"}
      - {name: hog, language: lua, run: "local t = {} for i = 1, 1e9 do t[i] = i end"}
      - {name: healthy_too, language: lua, run: "return { ok = 2 }"}
      - {name: join}
    edges:
      - {from: fork, to: healthy, type: parallel, fan_in: join}
      - {from: fork, to: broken, type: parallel, fan_in: join}
      - {from: fork, to: spinner, type: parallel, fan_in: join}
      - {from: fork, to: hog, type: parallel, fan_in: join}
      - {from: fork, to: healthy_too, type: parallel, fan_in: join}
      - {from: healthy, to: join}
      - {from: broken, to: join}
      - {from: spinner, to: join}
      - {from: hog, to: join}
      - {from: healthy_too, to: join}
    """
    sink = ListSink()
    with pytest.raises(RunError) as info:
        WorkflowRun(workflow(text), sink=sink).run()
    message = str(info.value)
    assert "3 branches failed" in message
    assert "branch 'broken' node 'broken' line 2: attempt to index a nil value" in message
    assert "branch 'spinner' node 'spinner': execution timeout" in message
    assert "branch 'hog' node 'hog': memory limit exceeded" in message
    finished = {e.branch: e for e in sink.of_type(BranchFinished)}
    assert finished["healthy"].ok and finished["healthy_too"].ok
    assert not finished["spinner"].ok and finished["spinner"].node == "spinner"

    continuing = text.replace("parallel: {max_workers: 4}", "parallel: {max_workers: 4, on_branch_error: continue}")
    state, _ = run(continuing)
    assert state["parallel_results"] == [{"ok": 2000000}, {"ok": 2}]
    errors = state["parallel_errors"]
    assert [(e["branch"], e["node"]) for e in errors] == [("broken", "broken"), ("spinner", "spinner"),
                                                          ("hog", "hog")]
    assert "execution timeout" in errors[1]["error"] and errors[2]["error"] == "memory limit exceeded"
    assert all(isinstance(e["timing_ms"], float) for e in errors)


NESTED = """
settings: {parallel: {max_workers: WORKERS}}
nodes:
  - {name: top}
  - {name: left, language: lua, run: "return { side = 'left' }"}
  - {name: l1, language: lua, run: "local s = 0 for i = 1, 200000 do s = s + 1 end return { part = 1, g = type(lg) }"}
  - {name: l2, language: lua, run: "lg = 1 return { part = 2 }"}
  - {name: ljoin, language: lua, run: "local s = 0 for _, r in ipairs(state.parallel_results) do s = s + r.part end return { lsum = s }"}
  - {name: right, language: lua, run: "return { side = 'right' }"}
  - {name: r1, language: lua, run: "return { part = 10 }"}
  - {name: r2, language: lua, run: "return { part = 20 }"}
  - {name: r3, language: lua, run: "return { part = 30 }"}
  - {name: rjoin, language: lua, run: "local s = 0 for _, r in ipairs(state.parallel_results) do s = s + r.part end return { rsum = s }"}
  - {name: final, language: lua, run: "return { total = state.parallel_results[1].lsum + state.parallel_results[2].rsum }"}
edges:
  - {from: top, to: left, type: parallel, fan_in: final}
  - {from: top, to: right, type: parallel, fan_in: final}
  - {from: left, to: [l1, l2], type: parallel, fan_in: ljoin}
  - {from: l1, to: ljoin}
  - {from: l2, to: ljoin}
  - {from: ljoin, to: final}
  - {from: right, to: r1, type: parallel, fan_in: rjoin}
  - {from: right, to: r2, type: parallel, fan_in: rjoin}
  - {from: right, to: r3, type: parallel, fan_in: rjoin}
  - {from: r1, to: rjoin}
  - {from: r2, to: rjoin}
  - {from: r3, to: rjoin}
  - {from: rjoin, to: final}
  - {from: final, to: __end__}
"""


@pytest.mark.parametrize("workers", [1, 2])
def test_nested_forks_finish_with_one_or_two_workers(workers):
    wf = workflow(NESTED.replace("WORKERS", str(workers)))
    for _ in range(10):
        sink = ListSink()
        state = WorkflowRun(wf, sink=sink).run()
        assert state["total"] == 63
        left = state["parallel_results"][0]
        assert [r["g"] for r in left["parallel_results"] if "g" in r] == ["nil"]
        names = {e.branch for e in sink.of_type(BranchStarted)}
        assert names == {"left", "right", "left/l1", "left/l2", "right/r1", "right/r2", "right/r3"}


def test_nested_forks_on_a_shared_two_worker_pool_do_not_deadlock():
    wf = workflow(NESTED.replace("WORKERS", "2"))
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = [threading.Thread(target=WorkflowRun(wf, executor=pool).run) for _ in range(4)]
        for thread in runs:
            thread.start()
        for thread in runs:
            thread.join(timeout=30)
        assert not any(thread.is_alive() for thread in runs)


def test_fan_in_that_fans_out_again_and_branch_to_end():
    text = """
    nodes:
      - {name: fork1}
      - {name: a, language: lua, run: "return { p = 1 }"}
      - {name: b, language: lua, run: "return { p = 2 }"}
      - {name: join1, language: lua, run: "return { s1 = state.parallel_results[1].p + state.parallel_results[2].p }"}
      - {name: c, language: lua, run: "return { q = state.s1 * 10 }"}
      - {name: d, language: lua, run: "return { q = state.s1 * 100 }", goto: __end__}
      - {name: join2, language: lua, run: "return { s2 = state.parallel_results[1].q + state.parallel_results[2].q }"}
    edges:
      - {from: fork1, to: a, type: parallel, fan_in: join1}
      - {from: fork1, to: b, type: parallel, fan_in: join1}
      - {from: a, to: join1}
      - {from: b, to: join1}
      - {from: join1, to: [c, d], type: parallel, fan_in: join2}
      - {from: c, to: join2}
      - {from: join2, to: __end__}
    """
    state, _ = run(text)
    assert state["s1"] == 3 and state["s2"] == 330


def test_branch_events_carry_fork_index_vm_time_and_memory():
    sink = ListSink()
    WorkflowRun(workflow(fan_out_yaml(3)), sink=sink, record_states=True).run()
    started = sorted(sink.of_type(BranchStarted), key=lambda e: e.index)
    assert [(e.branch, e.fork, e.fan_in, e.index) for e in started] == [
        ("b0", "fork", "join", 0), ("b1", "fork", "join", 1), ("b2", "fork", "join", 2)]
    assert all(e.vm_ready_us > 0 for e in started)
    finished = sorted(sink.of_type(BranchFinished), key=lambda e: e.index)
    assert all(e.ok and e.vm_memory_kb is not None and e.vm_memory_kb > 0 for e in finished)
    assert [e.state["part"] for e in finished] == [100, 101, 102]
    node_branches = {e.node: e.branch for e in sink.of_type(NodeStarted)}
    assert node_branches == {"fork": "", "b0": "b0", "b1": "b1", "b2": "b2", "join": ""}


def test_print_in_a_branch_is_a_log_line_of_that_branch():
    sink = ListSink()
    WorkflowRun(workflow(fan_out_yaml(2, "print(\"from {i}\") return { part = {i} }")), sink=sink).run()
    assert sorted((e.branch, e.node, e.text) for e in sink.of_type(LogLine)) == [
        ("b0", "b0", "from 0"), ("b1", "b1", "from 1")]


class CountingExecutor(Executor):
    """A minimal custom executor (like the studio's QThreadPool one): plain threads, counts submissions."""

    def __init__(self) -> None:
        self.submitted = 0
        self._threads: list[threading.Thread] = []

    def submit(self, fn, /, *args, **kwargs):
        self.submitted += 1
        future: Future = Future()

        def work():
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args, **kwargs))
                except BaseException as exc:  # noqa: BLE001
                    future.set_exception(exc)

        thread = threading.Thread(target=work)
        self._threads.append(thread)
        thread.start()
        return future

    def shutdown(self, wait=True, *, cancel_futures=False):
        for thread in self._threads:
            thread.join()


def test_a_custom_executor_is_used_without_changes_to_the_runner():
    executor = CountingExecutor()
    state = WorkflowRun(workflow(fan_out_yaml(4)), executor=executor).run()
    executor.shutdown()
    assert state["parts"] == [100, 101, 102, 103]
    assert executor.submitted >= 1


def test_a_file_asking_for_processes_gets_them_even_when_the_caller_brings_a_thread_pool():
    """The studio passes its QThreadPool executor: it stands in for threads, never for the file's strategy."""
    text = fan_out_yaml(2) + "settings:\n  parallel: {strategy: process, max_workers: 2}\n"
    sink = ListSink()
    with ThreadPoolExecutor(max_workers=2) as pool:
        state = WorkflowRun(workflow(text), executor=pool, sink=sink).run()
    assert state["parts"] == [100, 101]
    assert [e.where.split()[0] for e in sink.of_type(BranchStarted)] == ["process", "process"]


def test_process_strategy_runs_branches_in_other_processes():
    text = fan_out_yaml(3, "print(\"p{i}\") return { part = {i} }") + "settings:\n  parallel: {strategy: process, max_workers: 2}\n"
    sink = ListSink()
    state = WorkflowRun(workflow(text), sink=sink).run()
    assert state["parts"] == [0, 1, 2]
    assert sorted(e.text for e in sink.of_type(LogLine)) == ["p0", "p1", "p2"]
    assert len(sink.of_type(BranchFinished)) == 3


def test_process_strategy_names_the_state_key_that_does_not_pickle():
    text = """
    settings: {parallel: {strategy: process}}
    nodes:
      - name: fork
        run: |
          import threading
          return {"cfg": {"handle": threading.Lock()}}
      - {name: a}
      - {name: join}
    edges:
      - {from: fork, to: a, type: parallel, fan_in: join}
      - {from: a, to: join}
    """
    with pytest.raises(RunError, match=r"state\.cfg\.handle \(lock\) does not pickle"):
        run(text)


def test_edge_parallel_strategy_overrides_the_run_strategy():
    text = fan_out_yaml(2).replace("type: parallel, fan_in: join}",
                                   "type: parallel, fan_in: join, parallel_strategy: process}")
    state, sink = run(text)
    assert state["parts"] == [100, 101]
    assert all(e.where.startswith("process ") for e in sink.of_type(BranchStarted))


def test_stop_ends_endless_loops_in_branches():
    text = fan_out_yaml(3, "while true do end", workers=3)
    control = RunControl()

    class Started(ListSink):
        def __init__(self):
            super().__init__()
            self.count = threading.Semaphore(0)

        def emit(self, event):
            super().emit(event)
            if isinstance(event, NodeStarted) and event.branch:
                self.count.release()

    sink = Started()
    outcome = {}

    def work():
        try:
            WorkflowRun(workflow(text), sink=sink, control=control).run()
        except RunError as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=work)
    thread.start()
    for _ in range(3):
        assert sink.count.acquire(timeout=5)
    began = time.monotonic()
    control.stop()
    thread.join(timeout=5)
    assert not thread.is_alive() and time.monotonic() - began < 1.0
    assert str(outcome["error"]) == "stopped"
