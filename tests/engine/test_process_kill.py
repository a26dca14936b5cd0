"""The process strategy ends a branch stuck in one long C call (which no Lua hook can interrupt) by killing its
worker process: at the node's timeout plus a grace, or at a Stop. Sibling branches finish normally."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time

import pytest
from engine_helpers import fan_out_yaml, run, workflow
from support import CPU_BOUND_PROCESS_FORK, REPO

from tea_studio.engine.events import BranchFinished, BranchStarted, ListSink, NodeFinished, NodeStarted
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


def test_warm_workers_are_reused_and_each_branch_gets_a_fresh_vm():
    body = 'local seen = leaked; leaked = "dirty"; string.upper = nil; return { part = tostring(seen) }'
    text = fan_out_yaml(4, body=body, workers=1, extra_settings="  lua: {timeout: 5}\n").replace(
        "parallel: {max_workers: 1}", "parallel: {max_workers: 1, strategy: process}")
    state, sink = run(text)
    assert state["parts"] == ["nil"] * 4
    places = {e.where for e in sink.of_type(BranchStarted)}
    assert len(places) == 1 and places.pop().startswith("process ")  # one reused worker, four fresh VMs


def test_a_killed_worker_is_replaced_for_the_next_run():
    with pytest.raises(RunError, match="execution timeout"):
        run(stuck_fork_yaml())
    text = fan_out_yaml(3).replace("name: fan-out\n", "name: fan-out\nsettings: {parallel: {strategy: process}}\n")
    state, _ = run(text)
    assert state["parts"] == [100, 101, 102]




def _wait_gone(pid: int, timeout: float) -> bool:
    """Whether process ``pid`` has ended within ``timeout`` (waits on a pidfd, no polling)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([fd], [], [], timeout)[0])
    finally:
        os.close(fd)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_killed_run_leaves_no_worker_and_no_temporary_files(tmp_path, signum):
    path = tmp_path / "cpu.yaml"
    path.write_text(CPU_BOUND_PROCESS_FORK, encoding="utf-8")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    process = subprocess.Popen([sys.executable, "-m", "tea_studio", "run", str(path), "--stream"], cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    workers = []
    for line in process.stdout:
        event = json.loads(line)
        if event["type"] == "branch_started":
            workers.append(int(event["where"].split()[1]))
            if len(workers) == 2:
                break
    process.send_signal(signum)
    process.wait(10)
    process.stdout.close()
    for pid in workers:
        assert _wait_gone(pid, 10), f"worker {pid} outlived its run"
    assert os.listdir(scratch) == []
