"""Live runs with the real engine: the main flow on a worker thread, branches on a QThreadPool, coalesced views."""

import threading
import time

from PySide6.QtCore import Qt, QThreadPool, QTimer

from tea_studio.engine.events import BranchStarted, ListSink, NodeStarted
from tea_studio.engine.record import DONE, FAILED, PAUSED, RUNNING, STOPPED
from tea_studio.studio.live_run import LiveRun, QtPoolExecutor
from tea_studio.studio.panels.log_view import LogView
from tea_studio.studio.panels.run_timeline import TimelineView
from tea_studio.studio.panels.state_view import FanInView, StateView
from tea_studio.workflow.yaml_io import load_workflow_text

FAN_OUT = """
name: fan-out
nodes:
  - name: split
    language: lua
    run: |
      return { base = 10 }
  - name: slow
    language: lua
    run: |
      local spin = 0
      for i = 1, 300000 do spin = spin + 1 end
      print("slow done")
      return { part = state.base * 2, tag = "slow" }
  - name: medium
    language: lua
    run: |
      local spin = 0
      for i = 1, 100000 do spin = spin + 1 end
      return { part = state.base * state.base, tag = "medium" }
  - name: fast
    language: lua
    run: |
      return { part = 1, tag = "fast" }
  - name: merge
    language: lua
    run: |
      local tags = {}
      for i, r in ipairs(state.parallel_results) do tags[i] = r.tag end
      return { order = table.concat(tags, ",") }
edges:
  - {from: split, to: slow, type: parallel, fan_in: merge}
  - {from: split, to: medium, type: parallel, fan_in: merge}
  - {from: split, to: fast, type: parallel, fan_in: merge}
  - {from: slow, to: merge}
  - {from: medium, to: merge}
  - {from: fast, to: merge}
  - {from: merge, to: __end__}
"""


def spin_and_sibling(spin_code: str, extra: str = "") -> str:
    return f"""
name: spin
{extra}
nodes:
  - name: split
    language: lua
    run: |
      return {{ n = 1 }}
  - name: spin
    language: lua
    run: |
{spin_code}
  - name: sibling
    language: lua
    run: |
      local s = 0
      for i = 1, 200000 do s = s + 1 end
      return {{ sibling = s }}
  - name: merge
    language: lua
    run: |
      return {{ joined = #state.parallel_results }}
edges:
  - {{from: split, to: spin, type: parallel, fan_in: merge}}
  - {{from: split, to: sibling, type: parallel, fan_in: merge}}
  - {{from: spin, to: merge}}
  - {{from: sibling, to: merge}}
  - {{from: merge, to: __end__}}
"""


class Views:
    """The run panels as standalone widgets, fed by a LiveRun's ticks."""

    def __init__(self, qtbot, live):
        self.timeline, self.fan_in, self.log, self.state = TimelineView(), FanInView(), LogView(), StateView()
        for widget in (self.timeline, self.fan_in, self.log, self.state):
            qtbot.addWidget(widget)
        self.timeline.resize(600, 200)
        self.ticks = 0
        for panel in (self.timeline, self.fan_in, self.log):
            panel.set_model(live.model)
            live.updated.connect(panel.apply)
        live.updated.connect(self._tick)

    def _tick(self, _delta):
        self.ticks += 1


def start(qtbot, text, inputs=None, **kwargs):
    live = LiveRun(load_workflow_text(text), inputs or {}, **kwargs)
    views = Views(qtbot, live)
    return live, views


def test_fan_out_runs_off_the_gui_thread_and_fills_the_views(qtbot):
    tap = ListSink()
    live, views = start(qtbot, FAN_OUT, tap=tap)
    with qtbot.waitSignal(live.finished, timeout=20000) as ended:
        live.start()
    assert ended.args == [True]
    assert live.result["order"] == "slow,medium,fast"
    model = live.model
    assert {name: info.status for name, info in model.nodes.items()} == dict.fromkeys(
        ["split", "slow", "medium", "fast", "merge"], DONE)
    assert model.nodes["slow"].badge.endswith("ms") or model.nodes["slow"].badge.endswith(" s")
    assert views.timeline.lane_count == 4  # the main flow and one lane per branch
    assert [lane.branch for lane in model.branch_lanes] == ["slow", "medium", "fast"]
    assert all(lane.vm_ready is not None for lane in model.branch_lanes)
    assert [branch for branch, _ in views.fan_in.rows("merge")] == ["slow", "medium", "fast"]
    assert [result for _, result in views.fan_in.rows("merge")] == ["ok", "ok", "ok"]
    assert any(e.text == "slow done" and e.branch == "slow" for e in views.log.visible_entries())
    # every event is accounted for, and far fewer ticks than events
    assert len(tap.events) == len(live.record.events)
    assert views.ticks < len(live.record.events)
    assert live.worker_thread_id not in (None, threading.get_ident())  # the main flow ran on a worker thread


def test_a_live_run_of_a_file_that_asks_for_processes_runs_its_branches_in_processes(qtbot):
    tap = ListSink()
    live, _views = start(qtbot, FAN_OUT + "settings:\n  parallel: {strategy: process}\n", tap=tap)
    with qtbot.waitSignal(live.finished, timeout=30000) as ended:
        live.start()
    assert ended.args == [True] and live.result["order"] == "slow,medium,fast"
    assert {e.where.split()[0] for e in tap.of_type(BranchStarted)} == {"process"}


def test_clicking_a_timeline_bar_selects_that_execution_and_its_state_diff(qtbot):
    live, views = start(qtbot, FAN_OUT)
    with qtbot.waitSignal(live.finished, timeout=20000):
        live.start()
    canvas = views.timeline.canvas
    views.timeline.show()
    qtbot.waitExposed(views.timeline)
    canvas.fit()
    lane_row = canvas.lane_row("medium")
    execution = live.model.lanes["medium"].executions[0]
    rect = canvas.bar_rect(lane_row, execution)
    with qtbot.waitSignal(views.timeline.execution_clicked) as clicked:
        qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=rect.center().toPoint())
    assert clicked.args[0] is execution
    views.state.show_state("after", live.model.state_after(execution), live.model.state_before(execution))
    assert views.state.counts() == {"added": 2, "changed": 0, "removed": 0}  # part and tag
    assert views.state.item_for("part").text(1) == "100"
    assert "VM" in canvas.tooltip(execution)
    assert "ran on: thread " in canvas.tooltip(execution)  # the branch's worker thread


def test_stop_ends_an_endless_branch_within_a_second_and_the_gui_keeps_ticking(qtbot):
    live, _views = start(qtbot, spin_and_sibling("      while true do end"))
    ticks = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start()
    live.start()
    qtbot.waitUntil(lambda: live.model.nodes["spin"].status == RUNNING, timeout=10000)
    qtbot.waitUntil(lambda: len(ticks) >= 20, timeout=5000)  # the GUI thread runs while Lua spins
    stopped_at = time.monotonic()
    with qtbot.waitSignal(live.finished, timeout=1000) as ended:
        live.stop()
    assert time.monotonic() - stopped_at < 1.0
    timer.stop()
    assert ended.args == [False]
    assert "stop" in (live.record.error or "").lower()
    assert live.model.nodes["spin"].status == STOPPED  # interrupted by the user, not failed
    gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
    assert max(gaps) < 0.25  # the window stayed responsive


def test_a_failing_branch_is_shown_failed_while_its_sibling_finishes(qtbot):
    live, views = start(qtbot, spin_and_sibling('      local x = nil\n      return { y = x.field }'))
    with qtbot.waitSignal(live.finished, timeout=20000) as ended:
        live.start()
    assert ended.args == [False]
    model = live.model
    assert model.nodes["spin"].status == FAILED
    assert model.nodes["sibling"].status == DONE
    assert model.lanes["spin"].ok is False and model.lanes["sibling"].ok is True
    rows = dict(views.fan_in.rows("merge"))
    assert rows == {"spin": "error", "sibling": "ok"}
    errors = [e for e in views.log.visible_entries() if e.level == "error" and e.node == "spin"]
    assert errors and errors[0].line == 2
    views.log.set_filter("", 2)
    assert all(e.level == "error" for e in views.log.visible_entries())
    with qtbot.waitSignal(views.log.open_node_line) as jumped:
        views.log.activate_row(0)
    assert jumped.args == ["spin", 2]


def test_a_breakpoint_in_a_branch_pauses_that_branch_only(qtbot):
    text = spin_and_sibling("      return { spun = true }", extra="config:\n  interrupt_before: [spin]")
    live, _views = start(qtbot, text)
    paused = []
    live.updated.connect(lambda delta: paused.extend(delta.paused))
    live.start()
    qtbot.waitUntil(lambda: bool(paused), timeout=10000)
    assert (paused[0].node, paused[0].branch, paused[0].when) == ("spin", "spin", "before")
    assert live.model.nodes["spin"].status == PAUSED
    state = live.model.event(paused[0].event_index).state
    assert state["n"] == 1
    # the sibling branch is not held by the paused one
    qtbot.waitUntil(lambda: live.model.nodes["sibling"].status == DONE, timeout=10000)
    assert live.running
    with qtbot.waitSignal(live.finished, timeout=10000) as ended:
        live.resume()
    assert ended.args == [True]
    assert live.result["joined"] == 2
    assert live.model.nodes["spin"].status == DONE


def test_step_runs_one_node_then_pauses_again(qtbot):
    text = """
name: steps
config:
  interrupt_before: [a]
nodes:
  - {name: a, language: lua, run: "return { n = 1 }"}
  - {name: b, language: lua, run: "return { n = state.n + 1 }"}
  - {name: c, language: lua, run: "return { n = state.n + 1 }"}
"""
    live, _views = start(qtbot, text)
    pauses = []
    live.updated.connect(lambda delta: pauses.extend(p.node for p in delta.paused))
    live.start()
    qtbot.waitUntil(lambda: pauses == ["a"], timeout=10000)
    live.step()
    qtbot.waitUntil(lambda: len(pauses) == 2, timeout=10000)
    assert live.model.nodes["a"].status == DONE
    assert live.model.nodes["c"].status != DONE
    with qtbot.waitSignal(live.finished, timeout=10000) as ended:
        live.resume()
    assert ended.args == [True] and live.result["n"] == 3


def test_the_pool_executor_runs_fifty_parallel_runs_deterministically():
    from tea_studio.engine.runner import WorkflowRun

    workflow = load_workflow_text(FAN_OUT)
    pool = QThreadPool()
    pool.setMaxThreadCount(4)
    executor = QtPoolExecutor(pool)
    results, errors = [None] * 50, []

    def one(i):
        try:
            sink = ListSink()
            results[i] = (WorkflowRun(workflow, {"i": i}, executor=executor, sink=sink).run(),
                          len(sink.of_type(NodeStarted)))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    drivers = [threading.Thread(target=one, args=(i,)) for i in range(50)]
    for driver in drivers:
        driver.start()
    for driver in drivers:
        driver.join(timeout=60)
    executor.shutdown(wait=True)
    assert errors == []
    assert [r[0]["order"] for r in results] == ["slow,medium,fast"] * 50
    assert [r[0]["i"] for r in results] == list(range(50))
    assert {r[1] for r in results} == {5}


def test_a_run_that_reaches_an_unavailable_action_ends_failed(qtbot):
    from tea_studio.workflow.model import Node, Workflow

    workflow = Workflow(nodes=[Node("x", kind="action", uses="llm.call")])
    live = LiveRun(workflow, {})
    with qtbot.waitSignal(live.finished, timeout=10000) as ended:
        live.start()
    assert ended.args == [False]
    assert live.record.error
