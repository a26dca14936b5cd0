"""Errors where the eye is, in the real window: after a failed run the failed node carries its error (a strip under
the box and the tooltip) and a banner over the canvas stays until the next run, with Show in Log and Go to Line."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QToolButton

BROKEN = """\
name: broken
nodes:
  - name: load
    language: lua
    run: |
      return { items = nil }
    goto: count
  - name: count
    language: lua
    run: |
      local n = 0
      for _, v in ipairs(state.items.list) do n = n + 1 end
      return { n = n }
    goto: __end__
"""


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("TEA_STUDIO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TEA_STUDIO_CONFIG_DIR", str(tmp_path / "config"))
    from tea_studio.studio.main_window import MainWindow
    from tea_studio.studio.prompts import AnsweredPrompts

    win = MainWindow(restore_state=False, prompts=AnsweredPrompts(inputs=lambda path, text: ({}, "{}")))
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    qtbot.waitExposed(win)
    open_text(win, tmp_path / "broken.yaml", BROKEN)
    yield win
    tools = win.run_tools
    if tools.running:
        with qtbot.waitSignal(tools.run_ended, timeout=5000):
            tools.stop()


def open_text(window, path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    assert window.load_file(path)


def run(window, qtbot) -> None:
    tools = window.run_tools
    with qtbot.waitSignals([tools.run_ended, tools.run_stored], timeout=20000):
        window.actions["run"].trigger()


def test_the_failed_node_carries_its_error_and_a_banner_stays_until_the_next_run(window, qtbot):
    run(window, qtbot)
    item = window.scene.node_item("count")
    assert item.run_status == "failed" and "attempt to index a nil value" in item.run_error
    assert "attempt to index a nil value" in item.toolTip()
    assert item.boundingRect().bottom() > item.box().bottom() + 16  # the strip under the box is painted
    assert window.scene.node_item("load").run_error is None
    banner = window.run_tools.presenter.banner
    assert banner.isVisible() and banner.geometry().top() == 0
    assert "count" in banner.text() and "attempt to index a nil value" in banner.text()
    log_dock = window.run_tools.presenter.docks["log"]
    QTest.mouseClick(banner.log_button, Qt.MouseButton.LeftButton)
    assert log_dock.isVisible()
    assert banner.line_button.isVisible()  # the error names its Lua line: open the code there
    QTest.mouseClick(banner.line_button, Qt.MouseButton.LeftButton)
    assert window.scene.selected_node_names() == ["count"]
    assert window.inspector.node_page.code_form.code_editor.marked_line == 2
    close = banner.findChild(QToolButton, "runBannerClose")
    QTest.mouseClick(close, Qt.MouseButton.LeftButton)
    assert not banner.isVisible()
    window.document.set_node_code("count", "return { n = 0 }\n")
    run(window, qtbot)
    assert not banner.isVisible() and window.scene.node_item("count").run_error is None


SPIN = """\
name: spin
nodes:
  - name: first
    language: lua
    run: |
      return { a = 1 }
    goto: spin
  - name: spin
    language: lua
    run: |
      while true do end
    goto: later
  - name: later
"""


def test_stop_marks_the_interrupted_node_stopped_not_failed_and_shows_no_failure(window, qtbot, tmp_path):
    open_text(window, tmp_path / "spin.yaml", SPIN)
    tools = window.run_tools
    window.actions["run"].trigger()
    qtbot.waitUntil(lambda: window.scene.node_item("spin").run_status == "running", timeout=10000)
    with qtbot.waitSignal(tools.run_ended, timeout=10000):
        window.actions["stop"].trigger()
    statuses = {name: window.scene.node_item(name).run_status for name in ("first", "spin", "later")}
    assert statuses == {"first": "done", "spin": "stopped", "later": "skipped"}
    assert window.scene.node_item("spin").run_error is None
    assert not tools.presenter.banner.isVisible()
    assert "1 stopped" in tools.presenter.progress.text()


def test_a_max_iterations_failure_marks_the_node_it_stopped_at(window, qtbot, tmp_path):
    open_text(window, tmp_path / "cycle.yaml",
              "settings:\n  max_iterations: 5\nnodes:\n  - name: a\n    goto: b\n  - name: b\n    goto: a\n")
    run(window, qtbot)
    item = window.scene.node_item("b")
    assert item.run_error is not None and "max iterations (5)" in item.run_error
    assert "max iterations (5)" in window.run_tools.presenter.banner.text()
    assert window.scene.node_item("a").run_error is None


C_FUNCTION = """\
name: cfunc
nodes:
  - name: count
    language: lua
    run: |
      local n = 0
      for _, v in ipairs(state.nothing) do n = n + 1 end
      return { n = n }
"""


def test_an_error_raised_inside_a_lua_library_function_still_names_its_line(window, qtbot, tmp_path):
    open_text(window, tmp_path / "cfunc.yaml", C_FUNCTION)
    run(window, qtbot)
    banner = window.run_tools.presenter.banner
    assert "line 2" in banner.text() and banner.line_button.isVisible()
    QTest.mouseClick(banner.line_button, Qt.MouseButton.LeftButton)
    assert window.inspector.node_page.code_form.code_editor.marked_line == 2


BRANCH_FAILS = """\
name: fork_fails
nodes:
  - name: split
  - name: bad
    language: lua
    run: |
      local x = nil
      return { y = x.field }
  - name: good
  - name: merge
    fan_in: true
edges:
  - {from: split, to: [bad, good], parallel: true, fan_in: merge}
  - {from: bad, to: merge}
  - {from: good, to: merge}
  - {from: merge, to: __end__}
"""


def test_a_failing_branch_is_one_entry_in_the_log(window, qtbot, tmp_path):
    open_text(window, tmp_path / "fork_fails.yaml", BRANCH_FAILS)
    run(window, qtbot)
    log = window.run_tools.presenter.log_view
    errors = [e for e in log.visible_entries() if e.level == "error"]
    assert [(e.node, e.branch, e.line) for e in errors] == [("bad", "bad", 2)]
    assert "attempt to index a nil value" in errors[0].text
    assert "bad" in window.run_tools.presenter.banner.text()
