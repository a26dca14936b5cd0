"""The studio's run bridge without the engine: the QThreadPool executor, the run record and the coalesced model."""

import concurrent.futures
import threading

import pytest
from PySide6.QtCore import QThreadPool

from tea_studio.engine import events as ev
from tea_studio.studio.live_run import (
    DONE,
    FAILED,
    PAUSED,
    RUNNING,
    SKIPPED,
    QtPoolExecutor,
    RunModel,
    RunRecord,
)


def fan_out_events(finish_order=("c", "a", "b")):
    """The events of split -> a, b, c (parallel) -> merge, with the branches finishing in ``finish_order``."""
    t = [100.0]

    def at(dt=0.01):
        t[0] += dt
        return t[0]

    events = [ev.RunStarted(t=at(0), run_id="r1", workflow="wf.yaml", inputs={"x": 1}),
              ev.NodeStarted(t=at(), node="split"),
              ev.NodeFinished(t=at(), node="split", timing_ms=10, update={"base": 1}, state={"x": 1, "base": 1})]
    for index, name in enumerate("abc"):
        events.append(ev.BranchStarted(t=at(), branch=name, fork="split", fan_in="merge", index=index,
                                       vm_ready_us=50))
        events.append(ev.NodeStarted(t=at(), node=name, branch=name))
    for name in finish_order:
        index = "abc".index(name)
        state = {"x": 1, "base": 1, "part": index}
        events.append(ev.NodeFinished(t=at(), node=name, branch=name, timing_ms=10, state=state))
        events.append(ev.BranchFinished(t=at(), branch=name, fork="split", fan_in="merge", index=index, ok=True,
                                        timing_ms=12, state=state, vm_memory_kb=34))
    events += [ev.FanInReady(t=at(), node="merge", results=3),
               ev.NodeStarted(t=at(), node="merge"),
               ev.NodeFinished(t=at(), node="merge", timing_ms=5, state={"total": 3}),
               ev.RunFinished(t=at(), state={"total": 3}, timing_ms=200)]
    return events


def test_executor_resolves_futures_in_pool_threads():
    pool = QThreadPool()
    pool.setMaxThreadCount(4)
    executor = QtPoolExecutor(pool)
    gui = threading.get_ident()
    futures = [executor.submit(lambda i=i: (i * i, threading.get_ident())) for i in range(200)]
    results = [f.result(timeout=10) for f in futures]
    assert [r[0] for r in results] == [i * i for i in range(200)]
    assert all(r[1] != gui for r in results)

    failing = executor.submit(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        failing.result(timeout=10)
    executor.shutdown(wait=True)
    assert executor.pending() == 0
    with pytest.raises(RuntimeError):
        executor.submit(print)


def test_executor_shutdown_waits_for_running_calls():
    executor = QtPoolExecutor(max_workers=2)
    release = threading.Event()
    started = threading.Barrier(3)

    def work(i):
        started.wait(timeout=10)
        release.wait(timeout=10)
        return i

    futures = [executor.submit(work, i) for i in range(2)]
    started.wait(timeout=10)
    assert executor.pending() == 2
    threading.Timer(0.05, release.set).start()
    executor.shutdown(wait=True)
    assert all(f.done() for f in futures)
    assert [f.result() for f in futures] == [0, 1]


def test_executor_maps_like_any_executor():
    with QtPoolExecutor(max_workers=3) as executor:
        assert list(executor.map(str.upper, ["a", "b", "c"])) == ["A", "B", "C"]
        done, _ = concurrent.futures.wait([executor.submit(sum, [1, 2]) for _ in range(10)])
        assert {f.result() for f in done} == {3}


def test_model_statuses_badges_lanes_and_fan_in_order():
    record = RunRecord()
    model = RunModel(record)
    events = fan_out_events()
    record.events.extend(events[:11])
    first = model.apply(events[:11])
    # while running: the first two branches finished out of order, in arrival order
    assert model.nodes["c"].status == DONE and model.nodes["a"].status == RUNNING
    assert [r.branch for r in model.fan_ins["merge"].listed()] == ["c"]
    assert model.fan_ins["merge"].progress == (1, 3)
    assert first.lanes and "merge" in first.fan_ins
    record.events.extend(events[11:])
    model.apply(events[11:])
    model.finish()
    assert [r.branch for r in model.fan_ins["merge"].listed()] == ["a", "b", "c"]  # declaration order once joined
    assert {name: info.status for name, info in model.nodes.items()} == dict.fromkeys(
        ["split", "a", "b", "c", "merge"], DONE)
    assert model.nodes["split"].badge == "10 ms"
    assert [lane.branch for lane in model.branch_lanes] == ["a", "b", "c"]
    assert model.lanes["a"].vm_ready == pytest.approx(model.lanes["a"].start + 50e-6)
    assert model.ok is True


def test_loop_badge_counts_executions_and_total_time():
    record = RunRecord()
    model = RunModel(record)
    events = [ev.RunStarted(t=0, run_id="r", workflow="w")]
    for i in range(3):
        events += [ev.NodeStarted(t=i + 0.1, node="loop", iteration=i + 1),
                   ev.NodeFinished(t=i + 0.2, node="loop", timing_ms=[10, 20, 10][i])]
    events.append(ev.RunFinished(t=4, state={}))
    record.events.extend(events)
    model.apply(events)
    assert model.nodes["loop"].badge == "x3 · 40 ms"
    assert len(model.executions_of("loop")) == 3


def test_pause_and_resume_restore_status_and_finish_marks_never_run_nodes_skipped():
    class Flow:
        node_names = ["a", "b", "later"]
        edges = []

    record = RunRecord()
    model = RunModel(record, Flow())
    events = [ev.RunStarted(t=0, run_id="r", workflow="w"),
              ev.NodeStarted(t=0.1, node="a"), ev.NodeFinished(t=0.2, node="a", timing_ms=100, state={"n": 1}),
              ev.Paused(t=0.3, node="b", when="before", state={"n": 1})]
    record.events.extend(events)
    delta = model.apply(events)
    assert model.nodes["b"].status == PAUSED and [p.node for p in delta.paused] == ["b"]
    more = [ev.Resumed(t=0.4, node="b"), ev.NodeStarted(t=0.5, node="b"),
            ev.NodeFinished(t=0.6, node="b", ok=False, error="boom", line=3, timing_ms=1),
            ev.RunFailed(t=0.7, error="node 'b' line 3: boom", node="b", line=3)]
    record.events.extend(more)
    delta = model.apply(more)
    model.finish(delta)
    assert model.nodes["b"].status == FAILED
    assert model.nodes["later"].status == SKIPPED
    assert any(e.level == "error" and e.node == "b" and e.line == 3 for e in model.logs)


def test_record_round_trips_through_ndjson(tmp_path):
    record = RunRecord(inputs={"x": 1})
    record.events.extend(fan_out_events())
    path = tmp_path / "run.ndjson"
    record.save(path)
    lines = path.read_text().splitlines()
    assert len(lines) == len(record.events)
    assert lines[0].startswith('{"type": "run_started", "t": 0.0')
    again = RunRecord.load(path)
    assert [ev.event_type(e) for e in again.events] == [ev.event_type(e) for e in record.events]
    assert again.inputs == {"x": 1} and again.ok is True and again.final_state == {"total": 3}
    replayed = RunModel.replay(again)
    assert [r.branch for r in replayed.fan_ins["merge"].listed()] == ["a", "b", "c"]
    assert replayed.nodes["merge"].status == DONE


def test_a_background_save_writes_the_same_file(tmp_path):
    record = RunRecord()
    record.events = loop_events()
    record.save(tmp_path / "direct.ndjson")
    saver = threading.Thread(target=record.save, args=(tmp_path / "background.ndjson",), kwargs={"background": True})
    saver.start()
    saver.join()
    assert (tmp_path / "background.ndjson").read_bytes() == (tmp_path / "direct.ndjson").read_bytes()
    assert len(RunRecord.load(tmp_path / "background.ndjson").events) == len(record.events)


def loop_events(runs=2000, gap_at=1500):
    """One node looping in the main flow: back-to-back 0.1 ms executions, the 1000th failing, a 1 s pause after
    execution ``gap_at``, and a last execution still running."""
    events = [ev.RunStarted(t=0.0, run_id="r", workflow="wf.yaml", inputs={})]
    t = 0.0
    for i in range(runs):
        t += 1.0 if i == gap_at else 1e-6
        events.append(ev.NodeStarted(t=t, node="step", iteration=i + 1))
        t += 1e-4
        events.append(ev.NodeFinished(t=t, node="step", timing_ms=0.1, ok=i != 1000, error="boom" if i == 1000 else None))
    events.append(ev.NodeStarted(t=t + 1e-6, node="step", iteration=runs + 1))
    return events


def test_touching_bars_merge_into_a_few_spans_and_visible_gaps_stay():
    record = RunRecord()
    record.events = loop_events()
    model = RunModel(record)
    model.apply(record.events)
    lane = model.lanes[""]
    spans = lane.spans(1e-3)
    # ok run, the failed execution, ok run up to the pause, ok run after it; the running bar is not folded in
    assert spans.oks == [True, False, True, True]
    assert spans.done == len(lane.executions) - 1
    assert spans.starts[3] - spans.ends[2] > 0.9
    assert len(lane.spans(1e-7).starts) == len(lane.executions) - 1  # zoomed in far: every bar is its own span


def test_the_timeline_paints_merged_bars_with_their_colours_and_gaps(qtbot):
    from tea_studio.studio.panels.run_timeline import AXIS_H, LABEL_W, LANE_H, TimelineView

    record = RunRecord()
    record.events = loop_events()
    model = RunModel(record)
    model.apply(record.events)
    view = TimelineView()
    qtbot.addWidget(view)
    view.resize(800, 200)
    view.show()
    qtbot.waitExposed(view)
    view.set_model(model)
    canvas = view.canvas
    image = canvas.grab().toImage()
    y = AXIS_H + LANE_H // 2

    def colour_at(seconds):
        return image.pixelColor(int(canvas.x_of(seconds)), y).name()

    colours = canvas.theme.status_colours  # the canvas's status colours
    assert colour_at(0.05) == colours["done"].name()  # before the pause: one green run
    assert colour_at(0.7) not in {c.name() for c in colours.values()}  # the 1 s pause shows as a gap
    assert colour_at(model.now - 0.02) == colours["done"].name()
    assert canvas.x_of(model.now) > LABEL_W
