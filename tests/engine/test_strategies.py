"""Every branch strategy gives the same result: thread, process (warm workers), dask on a LocalCluster, and dask on
a real multi-process cluster (``dask scheduler`` + two ``dask worker`` on 127.0.0.1). Dask branches stream their
events while they run, obey Stop and timeouts, and a worker that dies fails only its branch."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from dask_fixtures import dask_cluster, dask_local  # noqa: F401 - fixtures
from engine_helpers import fan_out_yaml, workflow
from support import CONFORMANCE, REPO, case_files, case_slug, load_case, same_json

from tea_studio.cli import main
from tea_studio.engine.events import BranchFinished, BranchStarted, ListSink, LogLine, NodeStarted
from tea_studio.engine.executors import Strategies
from tea_studio.engine.runner import RunControl, RunError, WorkflowRun
from tea_studio.workflow.yaml_io import load_workflow

pytest.importorskip("distributed", reason="the dask extra is part of the test extra: pip install -e '.[test]'")

CASE_DIRS = [CONFORMANCE, REPO / "tests" / "engine" / "cases"]
PARALLEL_CASES = [path for folder in CASE_DIRS for path in case_files(folder, "run")
                  if "parallel" in path.with_name(case_slug(path) + ".yaml").read_text(encoding="utf-8")]


def _outcome(path, strategy: str, strategies: Strategies | None):
    case, file = load_case(path)
    try:
        state = WorkflowRun(load_workflow(file), case.get("input", {}), strategy=strategy,
                            strategies=strategies).run()
    except RunError as exc:
        return "error", str(exc)
    return "ok", _untimed(json.loads(json.dumps(state, default=str)))


def _untimed(value):
    """The value without ``timing_ms`` entries (they differ from run to run)."""
    if isinstance(value, dict):
        return {k: _untimed(v) for k, v in value.items() if k != "timing_ms"}
    if isinstance(value, list):
        return [_untimed(v) for v in value]
    return value


@pytest.fixture(scope="module")
def sessions(dask_local, dask_cluster):  # noqa: F811 - fixtures
    process = Strategies()
    yield {"process": process, "dask-local": dask_local, "dask-cluster": dask_cluster[1]}
    process.close()


def test_there_are_parallel_cases():
    assert len(PARALLEL_CASES) >= 15


@pytest.mark.parametrize("where", ["process", "dask-local", "dask-cluster"])
@pytest.mark.parametrize("path", PARALLEL_CASES, ids=case_slug)
def test_each_parallel_case_ends_as_on_threads(path, where, sessions):
    got = _outcome(path, where.split("-")[0], sessions[where])
    expect = load_case(path)[0]["expect"]
    if expect["exit"]:  # the case's own error (some fail only where state must be pickled)
        assert got[0] == "error", got
        assert all(fragment.lower() in got[1].lower() for fragment in expect.get("error_contains", [])), got
        return
    expected = _outcome(path, "thread", None)
    assert got[0] == expected[0], got
    assert same_json(got[1], expected[1])


PRINTER = """
name: printer
settings: {parallel: {strategy: dask}}
nodes:
  - {name: fork, language: lua, run: 'return {}'}
  - name: ticker
    language: lua
    run: |
      for k = 1, 12 do
        local s = 0
        for i = 1, 400000 do s = s + i % 3 end
        print("tick " .. k)
      end
      return { ticked = true }
  - {name: join, language: lua, run: 'return { n = #state.parallel_results }'}
edges:
  - {from: fork, to: ticker, type: parallel, fan_in: join}
  - {from: ticker, to: join}
  - {from: join, to: __end__}
"""


class _Arrivals(ListSink):
    """Records when each event reached the caller (the same monotonic clock as the worker's, one machine)."""

    def __init__(self):
        super().__init__()
        self.arrived: list[tuple[float, object]] = []

    def emit(self, event):
        self.arrived.append((time.monotonic(), event))
        super().emit(event)


@pytest.mark.parametrize("where", ["dask-local", "dask-cluster"])
def test_dask_branch_prints_reach_the_record_while_the_branch_runs(where, sessions):
    sink = _Arrivals()
    state = WorkflowRun(workflow(PRINTER), sink=sink, strategies=sessions[where]).run()
    assert state["n"] == 1
    ticks = [(at, e) for at, e in sink.arrived if isinstance(e, LogLine)]
    assert [e.text for _, e in ticks] == [f"tick {k}" for k in range(1, 13)]
    [finished] = sink.of_type(BranchFinished)
    assert ticks[0][0] < finished.t  # the first print was in the record before the branch ended on its worker
    [started] = sink.of_type(BranchStarted)
    assert started.where.startswith("dask tcp://127.0.0.1:")


@pytest.mark.parametrize("where", ["process", "dask-local"])
def test_unpicklable_state_fails_before_anything_is_submitted(where, sessions):
    text = """
    settings: {parallel: {strategy: STRATEGY}}
    nodes:
      - name: fork
        run: |
          import threading
          return {"cfg": {"items": [1, threading.Lock()]}}
      - {name: a}
      - {name: join}
    edges:
      - {from: fork, to: a, type: parallel, fan_in: join}
      - {from: a, to: join}
    """
    sink = ListSink()
    with pytest.raises(RunError, match=r"node 'fork'.*state\.cfg\.items\[1\] \(lock\) does not pickle"):
        WorkflowRun(workflow(text.replace("STRATEGY", where.split("-")[0])), sink=sink,
                    strategies=sessions[where]).run()
    assert not sink.of_type(BranchStarted)


def _dask_fork(body_a: str, body_b: str, settings: str = "") -> str:
    return f"""
    name: dask-fork
    settings: {{parallel: {{strategy: dask, on_branch_error: continue}}{settings}}}
    nodes:
      - {{name: fork, language: lua, run: 'return {{}}'}}
      - {{name: a, language: lua, run: '{body_a}'}}
      - {{name: b, language: lua, run: '{body_b}'}}
      - {{name: join, language: lua, run: 'return {{ n = #state.parallel_results }}'}}
    edges:
      - {{from: fork, to: a, type: parallel, fan_in: join}}
      - {{from: fork, to: b, type: parallel, fan_in: join}}
      - {{from: a, to: join}}
      - {{from: b, to: join}}
      - {{from: join, to: __end__}}
    """


def _run_in_thread(text: str, strategies: Strategies, sink: ListSink, control: RunControl):
    outcome: dict[str, object] = {}

    def work():
        try:
            outcome["state"] = WorkflowRun(workflow(text), sink=sink, control=control, strategies=strategies).run()
        except RunError as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=work)
    thread.start()
    return thread, outcome


class _WhenStarted(ListSink):
    """Calls ``action(event)`` once, when ``node`` starts."""

    def __init__(self, node: str, action):
        super().__init__()
        self.node = node
        self.action = action
        self.fired = threading.Event()

    def emit(self, event):
        super().emit(event)
        if isinstance(event, NodeStarted) and event.node == self.node and not self.fired.is_set():
            self.fired.set()
            self.action(event)


STUCK_IN_C = 'local s = string.rep("a", 40000); return { r = s:find(".-.-.-.-.-b") }'


@pytest.mark.parametrize("body", ["while true do end", STUCK_IN_C], ids=["lua-loop", "stuck-in-c"])
def test_stop_ends_dask_branches(body, sessions):
    control = RunControl()
    sink = _WhenStarted("a", lambda _: control.stop())
    thread, outcome = _run_in_thread(_dask_fork(body, "return { r = 1 }"), sessions["dask-local"], sink, control)
    thread.join(60)
    assert not thread.is_alive()
    assert str(outcome["error"]) == "stopped"
    finished = {e.branch: e for e in sink.of_type(BranchFinished)}
    assert not finished["a"].ok


def test_a_dask_branch_stuck_past_its_timeout_fails_and_its_sibling_finishes(sessions):
    sink = ListSink()
    state = WorkflowRun(workflow(_dask_fork(STUCK_IN_C, "return { r = 2 }", ", lua: {timeout: 0.5}")), sink=sink,
                        strategies=sessions["dask-local"]).run()
    [error] = state["parallel_errors"]
    assert error["branch"] == "a" and "execution timeout" in error["error"]
    assert state["parallel_results"] == [{"r": 2}]
    [started] = [e for e in sink.of_type(BranchStarted) if e.branch == "a"]
    assert _wait_gone(_pid(started.where), 30)  # it could not be cancelled inside C: its worker was restarted


def _dask_fan_out(count: int, body: str = "return { part = state.base + {i} }", scheduler: str = "") -> str:
    dask = f", dask: {{scheduler: '{scheduler}'}}" if scheduler else ""
    return fan_out_yaml(count, body).replace("name: fan-out\n",
                                             f"name: fan-out\nsettings: {{parallel: {{strategy: dask{dask}}}}}\n")


def _workers(address: str) -> set[str]:
    from distributed import Client

    with Client(address, timeout=30) as client:
        return set(client.scheduler_info()["workers"])


def _worker_addresses(wheres) -> set[str]:
    """The worker addresses in BranchStarted ``where`` texts (``dask tcp://127.0.0.1:PORT (process PID)``)."""
    return {where.split()[1] for where in wheres}


def test_the_file_setting_and_the_option_send_dask_branches_to_a_running_cluster(dask_cluster, tmp_path,  # noqa: F811
                                                                                 capsys):
    cluster, _strategies = dask_cluster
    workers = _workers(cluster.address)
    text = _dask_fan_out(2, scheduler=cluster.address)
    sink = ListSink()
    with contextlib.closing(Strategies()) as session:  # no address of its own: the file's is used
        assert WorkflowRun(workflow(text), sink=sink, strategies=session).run()["parts"] == [100, 101]
    assert _worker_addresses(e.where for e in sink.of_type(BranchStarted)) <= workers
    path = tmp_path / "flow.yaml"  # the option wins over a file naming a port where nothing listens
    path.write_text(text.replace(cluster.address, "tcp://127.0.0.1:9"), encoding="utf-8")
    assert main(["run", str(path), "--stream", "--dask-scheduler", cluster.address]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    used = _worker_addresses(e["where"] for e in events if e["type"] == "branch_started")
    assert len(used) >= 1 and used <= workers
    assert events[-1]["type"] == "run_finished"


@pytest.mark.parametrize("where", ["dask-local", "dask-cluster"])
def test_a_reused_dask_worker_gives_each_branch_a_fresh_vm(where, sessions):
    body = ('local seen, upper = leaked, type(string.upper); leaked = "dirty"; string.upper = nil; '
            'return { part = tostring(seen) .. "/" .. upper }')
    sink = ListSink()
    state = WorkflowRun(workflow(_dask_fan_out(6, body)), sink=sink, strategies=sessions[where]).run()
    assert state["parts"] == ["nil/function"] * 6
    assert len(_worker_addresses(e.where for e in sink.of_type(BranchStarted))) < 6  # some worker ran two or more


TWO_DASK_FORKS = """
name: two-forks
settings: {parallel: {strategy: dask}}
nodes:
  - {name: f1, language: lua, run: 'return {}'}
  - {name: a1, language: lua, run: 'return { r = 1 }'}
  - {name: b1, language: lua, run: 'return { r = 2 }'}
  - {name: j1, language: lua, run: 'return {}'}
  - {name: a2, language: lua, run: 'return { r = 3 }'}
  - {name: b2, language: lua, run: 'return { r = 4 }'}
  - {name: j2, language: lua, run: 'return { n = #state.parallel_results }'}
edges:
  - {from: f1, to: a1, type: parallel, fan_in: j1}
  - {from: f1, to: b1, type: parallel, fan_in: j1}
  - {from: a1, to: j1}
  - {from: b1, to: j1}
  - {from: j1, to: a2, type: parallel, fan_in: j2}
  - {from: j1, to: b2, type: parallel, fan_in: j2}
  - {from: a2, to: j2}
  - {from: b2, to: j2}
  - {from: j2, to: __end__}
"""


def _pid(where: str) -> int:
    """The process id in a BranchStarted ``where`` (``dask tcp://127.0.0.1:PORT (process PID)``)."""
    return int(where.rsplit(" ", 1)[1].rstrip(")"))


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


def test_tea_studio_run_starts_one_local_cluster_for_all_its_forks_and_closes_it_on_exit(tmp_path):
    path = tmp_path / "two-forks.yaml"
    path.write_text(TWO_DASK_FORKS, encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "tea_studio", "run", str(path), "--stream"], cwd=REPO,
                            capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    started = [e for e in events if e["type"] == "branch_started"]
    assert sorted(e["branch"] for e in started) == ["a1", "a2", "b1", "b2"]
    assert len(_worker_addresses(e["where"] for e in started)) <= (os.cpu_count() or 2)  # one cluster's workers
    for pid in {_pid(e["where"]) for e in started}:
        assert _wait_gone(pid, 15), f"Dask worker {pid} outlived tea-studio run"


def test_stop_ends_a_branch_on_the_multi_process_cluster(sessions):
    control = RunControl()
    sink = _WhenStarted("a", lambda _: control.stop())
    thread, outcome = _run_in_thread(_dask_fork("while true do end", "return { r = 1 }"), sessions["dask-cluster"],
                                     sink, control)
    thread.join(60)
    assert not thread.is_alive()
    assert str(outcome["error"]) == "stopped"
    assert not {e.branch: e for e in sink.of_type(BranchFinished)}["a"].ok


def test_a_killed_dask_worker_fails_only_its_branch(sessions):
    """Runs last on the multi-process cluster: it kills one of its workers (whose nanny starts it again)."""
    spin = "local s = 0 for i = 1, 5e9 do s = s + i end return { r = s }"

    def kill(event: NodeStarted) -> None:
        started = [e for e in sink.of_type(BranchStarted) if e.branch == "a"]
        os.kill(int(started[0].where.rsplit(" ", 1)[1].rstrip(")")), signal.SIGKILL)

    sink = _WhenStarted("a", kill)
    state = WorkflowRun(workflow(_dask_fork(spin, "return { r = 2 }")), sink=sink,
                        strategies=sessions["dask-cluster"]).run()
    [error] = state["parallel_errors"]
    assert error["branch"] == "a" and "Dask worker running it (tcp://127.0.0.1:" in error["error"]
    assert "died" in error["error"]
    assert state["parallel_results"] == [{"r": 2}]


@pytest.mark.parametrize("how", ["option", "file"])
def test_a_scheduler_nobody_answers_at_fails_the_fork_in_one_line_at_once(tmp_path, how):
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    path = tmp_path / "flow.yaml"
    path.write_text(_dask_fan_out(1, scheduler=address if how == "file" else ""), encoding="utf-8")
    option = ["--dask-scheduler", address] if how == "option" else []
    result = subprocess.run([sys.executable, "-m", "tea_studio", "run", str(path), *option], cwd=REPO,
                            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: branch 'b0': cannot reach the Dask scheduler {address}: nothing answers at 127.0.0.1:"
        f"{address.rsplit(':', 1)[1]} (Connection refused)"]


def test_without_dask_the_strategy_names_the_extra(tmp_path):
    path = tmp_path / "flow.yaml"
    path.write_text(fan_out_yaml(2).replace("name: fan-out\n", "name: fan-out\nsettings: {parallel: {strategy: dask}}\n"),
                    encoding="utf-8")
    code = ("import sys; sys.modules['distributed'] = None; from tea_studio.cli import main; "
            f"sys.exit(main(['run', {str(path)!r}]))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode == 1
    assert "node 'fork'" in result.stderr and 'pip install "tea-studio[dask]"' in result.stderr
    assert "Traceback" not in result.stderr
