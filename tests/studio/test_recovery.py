"""Autosave recovery copies: written only while there are unsaved edits, removed when clean, found after a crash."""

import json
import os

import shiboken6
from fixtures_window import *  # noqa: F403
from PySide6.QtCore import QObject

from tea_studio.studio import recovery


class Doc:
    """What an Autosaver needs from a document: a dirty flag and its text."""

    def __init__(self):
        self.dirty = False
        self.text = "name: draft\nnodes: []\n"

    def snapshot(self):
        return self.text, "/work/draft.yaml"


def test_autosave_writes_only_while_dirty_and_removes_when_clean(studio_env, qtbot):
    doc = Doc()
    saver = recovery.Autosaver(lambda: doc.dirty, doc.snapshot, interval_ms=20)
    assert saver.save_now() is None and not saver.file.exists()
    assert str(saver.file).startswith(str(studio_env["data"]))  # honours TEA_STUDIO_DATA_DIR
    doc.dirty = True
    qtbot.waitUntil(saver.file.exists, timeout=2000)  # the timer wrote it
    record = json.loads(saver.file.read_text(encoding="utf-8"))
    assert record["text"] == doc.text and record["original_path"] == "/work/draft.yaml"
    assert record["pid"] == os.getpid()
    assert recovery.find_recoveries() == []  # a live autosaver owns it: not a crash leftover
    doc.dirty = False
    qtbot.waitUntil(lambda: not saver.file.exists(), timeout=2000)
    saver.stop()


def test_a_copy_left_by_a_dead_owner_is_found_and_can_be_discarded(studio_env):
    doc = Doc()
    doc.dirty = True
    owner = QObject()
    saver = recovery.Autosaver(lambda: doc.dirty, doc.snapshot, interval_ms=60_000, parent=owner)
    written = saver.save_now()
    shiboken6.delete(owner)  # the window went away without a clean close
    found = recovery.find_recoveries()
    assert [r.file for r in found] == [written]
    assert found[0].text == doc.text and found[0].title == "draft.yaml"
    found[0].discard()
    assert recovery.find_recoveries() == []


def test_copies_of_another_running_studio_are_left_alone(studio_env):
    # The parent process (pytest's runner) is alive: its copy belongs to a running studio.
    other = recovery.recovery_dir() / f"other{recovery.SUFFIX}"
    other.write_text(json.dumps({"original_path": None, "saved_at": 1.0, "pid": os.getppid(), "text": "x"}))
    dead = recovery.recovery_dir() / f"dead{recovery.SUFFIX}"
    dead.write_text(json.dumps({"original_path": None, "saved_at": 2.0, "pid": 2**22 + 12345, "text": "y"}))
    (recovery.recovery_dir() / f"broken{recovery.SUFFIX}").write_text("{not json")
    found = recovery.find_recoveries()
    assert [r.file for r in found] == [dead]
    assert found[0].title == "Untitled"


def test_clean_stop_removes_the_copy(studio_env):
    doc = Doc()
    doc.dirty = True
    saver = recovery.Autosaver(lambda: doc.dirty, doc.snapshot, interval_ms=60_000)
    assert saver.save_now().exists()
    saver.stop()
    assert not saver.file.exists()
