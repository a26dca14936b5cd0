"""Edit → Preferences…: the Dask scheduler studio runs use and the caps on what an opened file may ask for."""

import os
import sys
from pathlib import Path

import pytest
from fixtures_window import *  # noqa: F403
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDialogButtonBox

from tea_studio.engine.record import DONE, RUNNING
from tea_studio.studio.preferences import (
    PreferencesDialog,
    RunPreferences,
    load_preferences,
    scheduler_problem,
    strategies_for,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))

ASKS_FOR_A_LONG_TIMEOUT = """\
name: greedy
settings:
  lua: {timeout: 100}
nodes:
  - name: spin
    language: lua
    run: |
      while true do end
"""

DASK_FORK = """\
name: on_dask
settings:
  parallel: {strategy: dask}
nodes:
  - {name: split, language: lua, run: "return {}"}
  - {name: a, language: lua, run: "return {part = 1}"}
  - {name: b, language: lua, run: "return {part = 2}"}
  - {name: merge, fan_in: true, language: lua, run: "return {n = #state.parallel_results}"}
edges:
  - {from: split, to: [a, b], parallel: true, fan_in: merge}
  - {from: a, to: merge}
  - {from: b, to: merge}
  - {from: merge, to: __end__}
"""


def type_into(widget, text: str) -> None:
    widget.setFocus()
    QTest.keyClick(widget, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClicks(widget, text)


def run_to_end(qtbot, window) -> bool:
    tools = window.run_tools
    with qtbot.waitSignal(tools.run_ended, timeout=60000) as ended:
        assert tools.start_run({})
    return ended.args[0]


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:8786", "127.0.0.1:8786", "tls://[::1]:8786", ""])
def test_scheduler_addresses_dask_accepts_pass(address):
    assert scheduler_problem(address) is None


@pytest.mark.parametrize("address", ["localhost", "tcp://host", "tcp://a b:1", "http://x:1/path", "tcp://x:99999"])
def test_anything_else_is_refused_with_what_to_write(address):
    assert "tcp://host:port" in scheduler_problem(address)


def test_the_dialog_holds_ok_until_the_scheduler_is_an_address(qtbot, studio_env):
    dialog = PreferencesDialog(RunPreferences())
    qtbot.addWidget(dialog)
    dialog.show()
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert ok.isEnabled() and dialog.timeout.text() == "no cap"
    type_into(dialog.scheduler, "my-cluster")
    assert not ok.isEnabled() and dialog.problem.isVisible() and "tcp://host:port" in dialog.problem.text()
    type_into(dialog.scheduler, "tcp://10.0.0.5:8786")
    assert ok.isEnabled() and not dialog.problem.isVisible()
    type_into(dialog.timeout.lineEdit(), "2")
    type_into(dialog.memory.lineEdit(), "64")
    with qtbot.waitSignal(dialog.accepted):
        QTest.mouseClick(ok, Qt.MouseButton.LeftButton)
    assert dialog.preferences() == RunPreferences("tcp://10.0.0.5:8786", 2.0, 64.0)


def test_preferences_are_kept_and_cap_the_timeout_a_file_asks_for(make_window, qtbot, tmp_path):
    path = tmp_path / "greedy.yaml"
    path.write_text(ASKS_FOR_A_LONG_TIMEOUT, encoding="utf-8")
    window = make_window(path)
    assert window.actions["preferences"] in window.menus["&Edit"].actions()
    window.prompts.answers["preferences"] = lambda current: RunPreferences(max_timeout_s=0.5)
    window.actions["preferences"].trigger()
    assert window.prompts.asked[-1] == ("preferences", RunPreferences())
    assert load_preferences(window.settings).max_timeout_s == 0.5
    assert run_to_end(qtbot, window) is False
    assert "execution timeout (0.5 s)" in window.scene.node_item("spin").run_error
    again = make_window()  # the next session starts with them
    assert load_preferences(again.settings) == RunPreferences(max_timeout_s=0.5)


def test_a_hand_edited_settings_file_falls_back_to_defaults(make_window):
    window = make_window()
    for key, value in (("run/dask_scheduler", "no address"), ("run/max_timeout_s", "nan"),
                       ("run/max_memory_mb", "0.0000001"), ("run/state_budget_mb", "-5")):
        window.settings.setValue(key, value)
    assert load_preferences(window.settings) == RunPreferences()


def test_a_dask_fork_runs_on_the_scheduler_set_in_preferences(make_window, qtbot, tmp_path):
    from dask_fixtures import DaskCluster
    from distributed import Client

    cluster = DaskCluster(str(tmp_path))
    preferences = RunPreferences(dask_scheduler=cluster.address)
    try:
        with Client(cluster.address, timeout=60) as client:
            workers = set(client.scheduler_info()["workers"])
        path = tmp_path / "on_dask.yaml"
        path.write_text(DASK_FORK, encoding="utf-8")
        window = make_window(path)
        window.prompts.answers["preferences"] = lambda current: preferences
        assert window.edit_preferences()
        assert run_to_end(qtbot, window) is True
        timeline = window.run_tools.presenter.timeline.canvas  # its bars' tooltips say "ran on: …"
        for branch in ("a", "b"):
            where = timeline.where(branch)
            assert where.startswith("dask ") and any(worker in where for worker in workers), where
    finally:
        strategies_for(preferences).close()
        cluster.close()


HUNGRY = """\
name: hungry
settings:
  lua: {max_memory_mb: 512}
nodes:
  - name: grow
    language: lua
    run: |
      return { big = string.rep("x", 64 * 1024 * 1024) }
"""

BIG_STATE = """\
name: big_state
nodes:
  - name: grow
    language: lua
    run: |
      return { big = string.rep("x", 3 * 1024 * 1024) }
"""


@pytest.mark.parametrize("source, preferences, error", [
    (HUNGRY, RunPreferences(max_memory_mb=16), "memory limit exceeded"),
    (BIG_STATE, RunPreferences(state_budget_mb=1), "too large to leave Lua (over 1 MiB"),
], ids=["lua-memory", "state-memory"])
def test_the_memory_caps_bound_what_a_file_may_use(make_window, qtbot, tmp_path, source, preferences, error):
    path = tmp_path / "flow.yaml"
    path.write_text(source, encoding="utf-8")
    window = make_window(path)
    assert run_to_end(qtbot, window) is True  # without the cap the file gets what it asks for
    window.prompts.answers["preferences"] = lambda current: preferences
    assert window.edit_preferences()
    assert run_to_end(qtbot, window) is False
    assert error in window.run_tools.model.record.error


def test_without_a_scheduler_one_local_cluster_serves_every_run_of_the_session(make_window, qtbot, tmp_path):
    path = tmp_path / "on_dask.yaml"
    path.write_text(DASK_FORK, encoding="utf-8")
    window = make_window(path)
    wheres = []
    try:
        for _ in range(2):
            assert run_to_end(qtbot, window) is True
            timeline = window.run_tools.presenter.timeline.canvas
            wheres += [timeline.where(branch) for branch in ("a", "b")]
    finally:
        strategies_for(RunPreferences()).close()
    assert all(where.startswith("dask tcp://127.0.0.1:") for where in wheres), wheres
    assert len({where.split()[1] for where in wheres}) <= (os.cpu_count() or 2), wheres  # no second cluster's workers


LIVE_DASK = """\
name: live_dask
settings:
  parallel: {strategy: dask}
nodes:
  - {name: split, language: lua, run: "return {}"}
  - {name: fast, language: lua, run: "return {part = 1}"}
  - name: endless
    language: lua
    run: |
      local k = 0
      while true do
        k = k + 1
        if k % 3000000 == 0 then print("tick " .. k) end
      end
  - {name: merge, fan_in: true, language: lua, run: "return {n = #state.parallel_results}"}
edges:
  - {from: split, to: [fast, endless], parallel: true, fan_in: merge}
  - {from: fast, to: merge}
  - {from: endless, to: merge}
  - {from: merge, to: __end__}
"""


def test_a_dask_branch_is_live_on_the_canvas_fan_in_timeline_and_log_while_it_runs(make_window, qtbot, tmp_path):
    """The branch never ends by itself: whatever the views show before Stop arrived while it ran."""
    path = tmp_path / "live_dask.yaml"
    path.write_text(LIVE_DASK, encoding="utf-8")
    window = make_window(path)
    tools, scene = window.run_tools, window.scene
    presenter = tools.presenter
    try:
        assert tools.start_run({})

        def live() -> bool:
            ticks = [e for e in presenter.log_view.visible_entries() if e.branch == "endless" and "tick" in e.text]
            return (scene.node_item("endless").run_status == RUNNING and scene.node_item("fast").run_status == DONE
                    and scene.node_item("merge").badge_text().startswith("1/2")
                    and presenter.fan_in_view.rows("merge") == [("fast", "ok")] and bool(ticks))

        qtbot.waitUntil(live, timeout=60000)
        assert tools.running
        running = [e for e in tools.model.lanes["endless"].executions if e.end is None]
        assert [e.node for e in running] == ["endless"]  # an open bar on the timeline
        assert presenter.timeline.canvas.where("endless").startswith("dask tcp://127.0.0.1:")
        with qtbot.waitSignal(tools.run_ended, timeout=30000) as ended:
            tools.stop()
        assert ended.args == [False]
    finally:
        strategies_for(RunPreferences()).close()
