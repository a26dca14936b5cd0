"""Run history follows the file: after Save As in the same session, runs are listed under the new file, and the
start times are shown whole."""

from __future__ import annotations

import pytest

from tea_studio.studio.panels.runs import RunHistory

FLOW = "name: flow\nnodes:\n  - name: only\n    language: lua\n    run: |\n      return { ok = true }\n"


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("TEA_STUDIO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TEA_STUDIO_CONFIG_DIR", str(tmp_path / "config"))
    from tea_studio.studio.main_window import MainWindow
    from tea_studio.studio.prompts import AnsweredPrompts

    renamed = tmp_path / "renamed.yaml"
    win = MainWindow(restore_state=False, prompts=AnsweredPrompts(inputs=lambda path, text: ({}, "{}"),
                                                                   save_path=str(renamed)))
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    qtbot.waitExposed(win)
    path = tmp_path / "flow.yaml"
    path.write_text(FLOW, encoding="utf-8")
    assert win.load_file(path)
    return win


def run(window, qtbot) -> None:
    tools = window.run_tools
    with qtbot.waitSignals([tools.run_ended, tools.run_stored], timeout=20000):
        window.actions["run"].trigger()


def test_runs_after_save_as_are_listed_under_the_new_file(window, qtbot, tmp_path):
    run(window, qtbot)
    panel = window.run_tools.presenter.runs_panel
    assert len(panel.run_ids()) == 1
    window.actions["save_as"].trigger()
    assert window.document.path == str(tmp_path / "renamed.yaml")
    assert panel.run_ids() == []  # the new file has no runs yet
    run(window, qtbot)
    assert len(panel.run_ids()) == 1
    assert panel.run_ids() == [e["run_id"] for e in RunHistory().entries(str(tmp_path / "renamed.yaml"))]
    item = panel.tree.topLevelItem(0)
    started = item.text(0)
    assert len(started) == len("2026-01-01 12:00:00")  # to the second, no microseconds
    metrics = panel.tree.fontMetrics()
    assert panel.tree.columnWidth(0) >= metrics.horizontalAdvance(started)  # not cut off
