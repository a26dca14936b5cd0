"""Fixtures for main-window tests: isolated settings and data folders, and real windows with scripted prompts.

Import them in a test module with ``from fixtures_window import *  # noqa: F403``.
"""

from __future__ import annotations

import gc
import pathlib
import shutil

import pytest
import shiboken6

REPO = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "resources" / "examples"

SMALL_WORKFLOW = """\
# A small workflow written by the tests.
name: small
nodes:
  - name: start
    language: lua
    run: |
      return { n = 1 }
    goto: finish   # straight to the end

  - name: finish
    language: lua
    run: |
      return { done = true }
"""

__all__ = ["EXAMPLES", "SMALL_WORKFLOW", "studio_env", "make_window", "window", "example_file", "small_file"]


@pytest.fixture
def studio_env(tmp_path, monkeypatch):
    """Settings and app data under tmp_path (never the user's), and no theme override."""
    config = tmp_path / "config"
    data = tmp_path / "data"
    monkeypatch.setenv("TEA_STUDIO_CONFIG_DIR", str(config))
    monkeypatch.setenv("TEA_STUDIO_DATA_DIR", str(data))
    monkeypatch.delenv("TEA_STUDIO_THEME", raising=False)
    return {"config": config, "data": data}


@pytest.fixture
def make_window(qtbot, studio_env):
    """make_window(path=None, **kwargs) -> a shown MainWindow; ``window.prompts.answers`` scripts its questions
    (discard unsaved edits, keep a changed file, restore later) and ``window.prompts.asked`` records them."""
    from tea_studio.studio.app import create_application
    from tea_studio.studio.main_window import MainWindow
    from tea_studio.studio.prompts import AnsweredPrompts

    create_application()
    windows = []

    def make(path=None, managed=True, **kwargs):
        """``managed=False``: the test disposes of the window itself (e.g. deletes it to mimic a crash)."""
        kwargs.setdefault("prompts", AnsweredPrompts(save_changes="discard"))
        window = MainWindow(**kwargs)
        if managed:
            qtbot.addWidget(window)
        window.resize(1200, 800)
        window.show()
        qtbot.waitExposed(window)
        window.activateWindow()
        qtbot.waitUntil(window.isActiveWindow, timeout=2000)
        if path is not None:
            assert window.load_file(path), window.prompts.shown
        if managed:
            windows.append(window)
        return window

    yield make
    for window in windows:
        if shiboken6.isValid(window):
            window.prompts.answers["save_changes"] = "discard"  # teardown closes without asking anything of the test
            window.close()
            shiboken6.delete(window)  # now, on this thread: not later from a garbage collection pass
    gc.collect()


@pytest.fixture
def window(make_window):
    return make_window()


@pytest.fixture
def example_file(tmp_path):
    """example_file("loop") -> a copy of resources/examples/loop.yaml in tmp_path."""

    def copy(name: str) -> pathlib.Path:
        source = EXAMPLES / f"{name}.yaml"
        if not source.is_file():
            pytest.skip(f"example {source.name} is not there yet")
        target = tmp_path / source.name
        shutil.copyfile(source, target)
        return target

    return copy


@pytest.fixture
def small_file(tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text(SMALL_WORKFLOW, encoding="utf-8")
    return path
