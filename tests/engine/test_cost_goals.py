"""What scaling out may cost, checked where the cost is decided rather than by the clock: warm process workers
serve every branch of a fork (no process per branch), and ``tea-studio run --stream`` serialises and writes its
events on a thread of its own, never on the run's threads.

The ratios themselves (100 trivial branches on process against threads, goal 5x; the stream against the run
without it, goal 1.3x) are figures of ``benchmarks/bench_executors.py``: on a machine whose cores are all busy a
wall-time ratio is no deterministic test."""

from __future__ import annotations

import contextlib
import io
import json
import os
import threading

from engine_helpers import fan_out_yaml, workflow

from tea_studio.cli import main
from tea_studio.engine.events import BranchStarted, ListSink
from tea_studio.engine.executors import Strategies
from tea_studio.engine.runner import WorkflowRun


def test_a_process_fork_of_100_trivial_branches_reuses_the_warm_workers():
    """What keeps 100 trivial branches on ``process`` within 5x of threads (the ratio is a figure of
    ``benchmarks/bench_executors.py``): no process is started per branch. Every branch of two forks in a row runs
    in the pool's warm workers, at most one per core, and the second fork finds the same ones."""
    plan = workflow(fan_out_yaml(100))
    with contextlib.closing(Strategies()) as session:
        places = []
        for _ in range(2):
            sink = ListSink()
            state = WorkflowRun(plan, strategy="process", strategies=session, sink=sink).run()
            assert state["parts"] == [100 + i for i in range(100)]
            places.append({e.where for e in sink.of_type(BranchStarted)})
    keep = os.cpu_count() or 2
    assert all(where.startswith("process ") for where in places[0] | places[1])
    assert len(places[0]) <= keep and places[1] <= places[0]  # no worker started for the second fork


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
