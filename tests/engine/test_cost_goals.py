"""What scaling out may cost: warm process workers keep a fork of 100 trivial branches within 5x of threads, and
``tea-studio run --stream`` serialises and writes its events on a thread of its own, never on the run's threads.

The stream's cost against the run without it (goal: 1.3x) is a figure of ``benchmarks/bench_executors.py``: with a
free core it is 1.0-1.2x, but on a machine whose cores are all busy the writer's work adds to the run's, so a wall
time ratio is no deterministic test there; where the work is done is."""

from __future__ import annotations

import contextlib
import io
import json
import statistics
import threading
import time

from engine_helpers import fan_out_yaml, workflow

from tea_studio.cli import main
from tea_studio.engine.executors import Strategies
from tea_studio.engine.runner import WorkflowRun

RUNS = 7


def _median_wall(run) -> float:
    """The median wall time of RUNS calls in a row (after one warm-up call that starts the workers)."""
    run()
    times = []
    for _ in range(RUNS):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def test_a_process_fork_of_100_trivial_branches_costs_at_most_five_times_threads():
    plan = workflow(fan_out_yaml(100))
    with contextlib.closing(Strategies()) as session:
        walls = {strategy: _median_wall(lambda s=strategy: WorkflowRun(plan, strategy=s, strategies=session).run())
                 for strategy in ("thread", "process")}
    assert walls["process"] <= 5 * walls["thread"], {k: f"{v * 1000:.0f} ms" for k, v in walls.items()}


class _Recorder(io.StringIO):
    """A stdout that notes which thread wrote each piece."""

    def __init__(self):
        super().__init__()
        self.writers: set[str] = set()

    def write(self, text):
        self.writers.add(threading.current_thread().name)
        return super().write(text)


def test_the_stream_is_written_off_the_runs_threads_every_event_in_order(tmp_path):
    path = tmp_path / "flow.yaml"
    path.write_text(fan_out_yaml(8, body='print("b{i}") return { part = {i} }'), encoding="utf-8")
    out, err = _Recorder(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert main(["run", str(path), "--stream"]) == 0
    assert out.writers == {"tea-output"}  # the run's threads only queued their events
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert events[0]["type"] == "run_started" and events[-1]["type"] == "run_finished"
    assert sorted(e["text"] for e in events if e["type"] == "log_line") == [f"b{i}" for i in range(8)]
    for i in range(8):
        mine = [e["type"] for e in events if e.get("branch") == f"b{i}"]
        assert mine[0] == "branch_started" and mine[-1] == "branch_finished"
