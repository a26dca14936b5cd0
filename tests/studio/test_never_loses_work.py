"""The studio never loses work: buttons write what they say, failed writes keep the edits, errors are shown, and
a killed studio gives its edits back on the next start."""

import os
import pathlib
import re
import selectors
import signal
import subprocess
import sys

from fixtures_window import *  # noqa: F403
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest

from tea_studio.studio import recovery
from tea_studio.studio.errors import error_log, install_exception_handler

STUDIO = pathlib.Path(__file__).resolve().parents[2] / "tea_studio" / "studio"


def click(button) -> None:
    QTest.mouseClick(button, Qt.MouseButton.LeftButton)


def test_goto_rules_add_on_a_node_without_goto_writes_a_node_name(make_window, small_file):
    window = make_window(small_file)
    window.select_node("finish")
    click(window.inspector.node_page.goto_rules.add_button)  # clicked(bool) once reached add_goto_rule(False)
    goto = window.workflow.node("finish").goto
    assert goto == "start"
    assert window.inspector.node_page.goto_rules.table.rowCount() == 1
    assert window.validate_now() is not None  # validation copes with the new rule
    window.actions["save"].trigger()
    assert not window.is_dirty() and "goto: start" in small_file.read_text(encoding="utf-8")


def test_every_button_and_action_connects_without_its_checked_flag():
    """``clicked(bool)``/``triggered(bool)`` reach slots only through ``on_click``, which drops the flag."""
    offenders = []
    for path in STUDIO.rglob("*.py"):
        if path.name == "actions.py":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"\b(clicked|triggered)\.connect\(", line):
                offenders.append(f"{path.relative_to(STUDIO)}:{number}: {line.strip()}")
    assert offenders == []


def test_saving_to_a_path_that_cannot_be_written_keeps_the_edits_and_the_old_path(make_window, small_file,
                                                                                 tmp_path):
    window = make_window(small_file)
    window.document.set_node_code("start", "return { n = 2 }")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be", encoding="utf-8")
    assert not window.files.save_as(blocker / "flow.yaml")
    assert window.prompts.shown and window.prompts.shown[-1][0] == "Cannot save workflow"
    assert "not-a-folder" in window.prompts.shown[-1][1]
    assert window.path == str(small_file) and window.is_dirty()
    assert window.windowTitle().startswith("small.yaml*")
    assert window.autosaver.save_now() is not None  # the recovery copy still holds the edits

    small_file.unlink()
    small_file.mkdir()  # Ctrl+S to the old path now fails too
    window.actions["save"].trigger()
    assert window.prompts.shown[-1][0] == "Cannot save workflow" and window.is_dirty()
    window.prompts.answers["save_changes"] = "save"
    assert not window.close()  # closing with Save: the failed save keeps the window open
    assert window.isVisible() and window.is_dirty()


def test_a_failed_export_shows_a_message(make_window, small_file, tmp_path):
    window = make_window(small_file)
    blocker = tmp_path / "blocker"
    blocker.write_text("", encoding="utf-8")
    assert not window.files.export_headless(blocker / "out.yaml")
    assert window.prompts.shown[-1][0] == "Cannot export"
    assert not window.files.export_image(blocker / "out.png")
    assert window.prompts.shown[-1][0] == "Cannot export image"


def test_a_run_that_cannot_be_stored_in_the_history_says_so(qtbot, make_window, small_file, studio_env):
    window = make_window(small_file)
    studio_env["data"].mkdir(parents=True, exist_ok=True)
    (studio_env["data"] / "runs").write_text("a file where the history folder should be", encoding="utf-8")
    tools = window.run_tools
    with qtbot.waitSignal(tools.run_stored, timeout=20000) as stored:
        assert tools.start_run({}, trusted=True)
    assert stored.args[1]  # the error text
    assert window.prompts.shown[-1][0] == "Cannot store the run"
    with qtbot.waitSignal(tools.run_ended, timeout=20000):
        assert tools.start_run({}, trusted=True)  # the studio goes on working


def test_an_exception_in_a_slot_is_logged_and_shown(qtbot, make_window, studio_env):
    window = make_window()
    uninstall = install_exception_handler(window.prompts.error)
    try:
        def broken_slot():
            raise ZeroDivisionError("a slot went wrong")

        QTimer.singleShot(0, broken_slot)
        qtbot.waitUntil(lambda: bool(window.prompts.shown), timeout=5000)
    finally:
        uninstall()
    title, message = window.prompts.shown[-1]
    assert title == "Unexpected error" and "ZeroDivisionError: a slot went wrong" in message
    assert "broken_slot" in error_log().read_text(encoding="utf-8")  # the traceback is kept


def test_the_recovery_copy_is_written_within_seconds_of_an_edit(qtbot, make_window, small_file):
    window = make_window(small_file)  # the periodic copy comes only every 30 s
    assert window.autosaver.timer.interval() >= 30_000
    window.document.set_node_code("start", "return { n = 3 } -- fresh edit")
    qtbot.waitUntil(window.autosaver.file.exists, timeout=recovery.EDIT_DELAY_MS + 3000)
    assert "fresh edit" in window.autosaver.file.read_text(encoding="utf-8")


CHILD = r"""
import sys
from PySide6.QtCore import QTimer
from PySide6.QtTest import QTest
from tea_studio.studio.app import create_application
from tea_studio.studio.main_window import MainWindow
from tea_studio.studio.prompts import AnsweredPrompts

app = create_application()
window = MainWindow(sys.argv[1], restore_state=False, prompts=AnsweredPrompts())
window.show()
window.autosaver.written.connect(lambda path: print("recovery-written", flush=True))


def edit():
    window.select_node("start")
    editor = window.inspector.node_page.code_form.code_editor
    editor.setFocus()
    editor.moveCursor(editor.textCursor().MoveOperation.End)
    QTest.keyClicks(editor, " -- typed before the crash")
    print("edited", flush=True)


QTimer.singleShot(0, edit)
app.exec()
"""


def _wait_for_line(process, expected: str, timeout: float) -> list[str]:
    """Lines the child printed, up to and including ``expected`` (waits on the pipe, not on a clock)."""
    seen = []
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while not seen or seen[-1] != expected:
            if not selector.select(timeout):
                raise AssertionError(f"the studio did not print {expected!r} in {timeout} s; printed {seen}")
            line = process.stdout.readline()
            if not line:
                raise AssertionError(f"the studio exited ({process.wait()}) before {expected!r}; printed {seen}")
            seen.append(line.strip())
    return seen


def test_a_studio_killed_mid_edit_gives_the_edits_back_on_the_next_start(make_window, small_file, studio_env):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", TEA_STUDIO_CONFIG_DIR=str(studio_env["config"]),
               TEA_STUDIO_DATA_DIR=str(studio_env["data"]))
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(small_file)], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
    try:
        printed = _wait_for_line(child, "recovery-written", timeout=60)
        assert "edited" in printed
    finally:
        child.send_signal(signal.SIGKILL)  # mid-edit: unsaved, no clean close
        child.wait()
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    assert "typed before the crash" not in small_file.read_text(encoding="utf-8")

    fresh = make_window()
    fresh.prompts.answers["restore"] = "restore"
    assert fresh.files.offer_recoveries() == ["restore"]
    assert fresh.path == str(small_file)
    assert fresh.workflow.node("start").code.rstrip().endswith("-- typed before the crash")
    assert fresh.is_dirty()


def test_offscreen_questions_get_the_answer_that_keeps_work(qtbot, studio_env, small_file, capfd):
    """With nobody to see a dialog (offscreen), the window's own prompts answer safely instead of blocking."""
    from tea_studio.studio.app import create_application
    from tea_studio.studio.main_window import MainWindow
    from tea_studio.studio.prompts import CANCEL, KEEP, LATER

    create_application()
    window = MainWindow(small_file, restore_state=False)  # the real prompts, not scripted ones
    qtbot.addWidget(window)
    prompts = window.prompts
    assert (prompts.save_changes(None), prompts.reload(None, True), prompts.restore(None)) == (CANCEL, KEEP, LATER)
    assert prompts.trust(None, ["py"]) is False and prompts.inputs(None, "{}") is None
    assert prompts.open_path(".") is None and prompts.save_path("Save", ".", "*") is None
    window.document.set_node_code("start", "return { n = 5 }")
    assert not window.close() and window.is_dirty()  # "save changes?" answered Cancel: the edits stay
    assert "no display to ask 'save changes?'" in capfd.readouterr().err
    window.document.undo_stack.setClean()


def test_opening_a_device_or_a_fifo_says_so_and_keeps_the_document(make_window, small_file, tmp_path):
    """A FIFO nobody writes or a link to /dev/zero (an unpacked archive can hold either) never freezes the studio."""
    window = make_window(small_file)
    window.document.set_node_code("start", "return { n = 4 }")
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    link = tmp_path / "zero.yaml"
    link.symlink_to("/dev/zero")
    for path in (fifo, link):
        assert not window.files.load_file(path)
        assert window.prompts.shown[-1][0] == "Cannot open workflow"
        assert window.path == str(small_file) and window.is_dirty()
    assert "not a regular file" in window.prompts.shown[-1][1]
