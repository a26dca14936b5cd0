"""Regenerate the README pictures under docs/ by running the studio offscreen on the examples.

    .venv/bin/python scripts/screenshots.py [--out docs]

Each picture comes from its own ``python -m tea_studio open EXAMPLE --screenshot OUT.png`` process with throwaway
settings and data folders. The run picture (``--run``) is skipped with a note if running fails.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "resources" / "examples"

# (picture, example, theme, extra arguments, optional)
PICTURES = (
    ("studio-parallel.png", "parallel_fanout", "light", (), False),
    ("studio-dark.png", "lua_pipeline", "dark", (), False),
    ("studio-loop.png", "loop", "light", (), False),
    ("studio-run.png", "parallel_fanout", "light", ("--run", "--input", '{"value": 7}'), True),
    ("studio-notes.png", "notes_and_groups", "light", (), False),
    ("studio-failed-run.png", "failing_run", "light", ("--run",), False),
    ("studio-big-graph.png", "support_triage", "light", (), False),
    ("studio-node-io.png", "parallel_fanout", "light", ("--node-io", "double"), False),
)

EXPECTED_EXIT = {"studio-failed-run.png": 1}  # the picture of a run that fails on purpose (exit 1 = run failed)


def take(out_dir: Path, picture: str, example: str, theme: str, extra: tuple[str, ...]) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="tea-studio-shot-") as scratch:
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", TEA_STUDIO_THEME=theme,
                   TEA_STUDIO_CONFIG_DIR=str(Path(scratch) / "config"), TEA_STUDIO_DATA_DIR=str(Path(scratch) / "data"))
        command = [sys.executable, "-m", "tea_studio", "open", str(EXAMPLES / f"{example}.yaml"),
                   "--screenshot", str(out_dir / picture), *extra]
        if extra[:1] == ("--node-io",):  # needs a scripted window: this script makes it in the child process
            command = [sys.executable, str(Path(__file__).resolve()), "--node-io", extra[1], "--example", example,
                       "--out", str(out_dir / picture)]
        return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def node_io_picture(example: Path, node: str, out: Path) -> int:
    """Run ``example`` in a window, select ``node`` and picture the Input / Output dock showing it."""
    from PySide6.QtCore import QEventLoop, QTimer

    from tea_studio.studio.app import SCREENSHOT_SIZE, create_application
    from tea_studio.studio.main_window import MainWindow

    app = create_application()
    window = MainWindow(restore_state=False)
    window.resize(*SCREENSHOT_SIZE)
    window.show()
    if not window.load_file(example):
        return 1
    tools = window.run_tools
    loop = QEventLoop()
    ended: list[bool] = []
    tools.run_ended.connect(lambda ok: (ended.append(ok), loop.quit()))
    tools.start_run({"value": 7}, trusted=True, auto_continue=True)
    if not ended:
        QTimer.singleShot(60_000, loop.quit)
        loop.exec()
    window.fit_all()
    window.select_node(node)
    dock = tools.presenter.docks["io"]
    dock.show()
    dock.raise_()
    for _ in range(10):
        app.processEvents()
    written = bool(ended and ended[0]) and window.grab().save(str(out), "PNG")
    window.autosaver.stop()
    return 0 if written else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "docs"), help="folder for the pictures (default: docs/)")
    parser.add_argument("--node-io", help=argparse.SUPPRESS)  # child process: picture the Input / Output dock
    parser.add_argument("--example", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.node_io:
        return node_io_picture(EXAMPLES / f"{args.example}.yaml", args.node_io, Path(args.out))
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    failed = 0
    for picture, example, theme, extra, optional in PICTURES:
        done = take(out_dir, picture, example, theme, extra)
        if done.returncode == EXPECTED_EXIT.get(picture, 0) and (out_dir / picture).is_file():
            print(f"wrote {out_dir / picture}")
        elif optional:
            print(f"skipped {picture}: {done.stderr.strip().splitlines()[-1:] or ['the run failed']}")
        else:
            failed += 1
            print(f"FAILED {picture} (exit {done.returncode}):\n{done.stderr}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
