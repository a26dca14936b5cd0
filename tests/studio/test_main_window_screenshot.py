"""`tea-studio open FILE --screenshot OUT.png` renders the window in a separate process and exits 0."""

import os
import subprocess
import sys

from fixtures_window import *  # noqa: F403
from PySide6.QtGui import QImage

REPO = EXAMPLES.parent.parent  # noqa: F405


def screenshot(tmp_path, example: str, *extra: str, theme: str = "light") -> tuple[subprocess.CompletedProcess, str]:
    out = tmp_path / f"{example}-{theme}.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", TEA_STUDIO_CONFIG_DIR=str(tmp_path / "config"),
               TEA_STUDIO_DATA_DIR=str(tmp_path / "data"), TEA_STUDIO_THEME=theme)
    done = subprocess.run([sys.executable, "-m", "tea_studio", "open", str(EXAMPLES / f"{example}.yaml"),  # noqa: F405
                           "--screenshot", str(out), *extra], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)
    return done, str(out)


def colours(path: str) -> set:
    image = QImage(path)
    step_x, step_y = max(1, image.width() // 40), max(1, image.height() // 40)
    return {image.pixel(x, y) for x in range(0, image.width(), step_x) for y in range(0, image.height(), step_y)}


def test_screenshot_writes_a_real_picture_of_the_window(tmp_path, qapp):
    done, out = screenshot(tmp_path, "parallel_fanout")
    assert done.returncode == 0, done.stderr
    assert os.path.getsize(out) > 10_000
    image = QImage(out)
    assert (image.width(), image.height()) == (1400, 900)  # the docks never force the window taller
    assert len(colours(out)) > 20  # not a single colour: the canvas, docks and text are drawn
    assert not (tmp_path / "data" / "recovery").exists() or not list((tmp_path / "data" / "recovery").iterdir())


def test_dark_screenshot_is_dark(tmp_path, qapp):
    done, out = screenshot(tmp_path, "loop", theme="dark")
    assert done.returncode == 0, done.stderr
    image = QImage(out)
    centre = image.pixelColor(image.width() // 3, image.height() // 2)
    assert centre.lightness() < 80


def test_screenshot_of_a_missing_file_fails(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", TEA_STUDIO_CONFIG_DIR=str(tmp_path / "config"),
               TEA_STUDIO_DATA_DIR=str(tmp_path / "data"))
    done = subprocess.run([sys.executable, "-m", "tea_studio", "open", str(tmp_path / "nope.yaml"), "--screenshot",
                           str(tmp_path / "x.png")], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "no such file" in done.stderr
    assert not (tmp_path / "x.png").exists()
