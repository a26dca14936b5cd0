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
    ("studio-big-graph.png", "support_triage", "light", ("--big-graph",), False),
    ("studio-node-io.png", "parallel_fanout", "light", ("--node-io", "double"), False),
    ("studio-compare.png", "parallel_fanout", "light", ("--compare",), False),
    ("studio-paused.png", "parallel_fanout", "light", ("--paused", "double"), False),
)

BIG_GRAPH_SIZE = (1680, 1100)  # the window of the big-graph picture: a 40-node graph fits it whole at 60%
EXPECTED_EXIT = {"studio-failed-run.png": 1}  # the picture of a run that fails on purpose (exit 1 = run failed)


def take(out_dir: Path, picture: str, example: str, theme: str, extra: tuple[str, ...]) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="tea-studio-shot-") as scratch:
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", TEA_STUDIO_THEME=theme,
                   TEA_STUDIO_CONFIG_DIR=str(Path(scratch) / "config"), TEA_STUDIO_DATA_DIR=str(Path(scratch) / "data"))
        command = [sys.executable, "-m", "tea_studio", "open", str(EXAMPLES / f"{example}.yaml"),
                   "--screenshot", str(out_dir / picture), *extra]
        if extra[:1] in (("--node-io",), ("--compare",), ("--paused",), ("--big-graph",)):  # a scripted window, made by this script in the child
            command = [sys.executable, str(Path(__file__).resolve()), *extra, "--example", example,
                       "--out", str(out_dir / picture)]
        return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def _scripted_window(example: Path):
    """(app, window) with ``example`` open, sized like the ``--screenshot`` pictures; None when it cannot load."""
    from tea_studio.studio.app import SCREENSHOT_SIZE, create_application
    from tea_studio.studio.main_window import MainWindow

    app = create_application()
    window = MainWindow(restore_state=False)
    window.resize(*SCREENSHOT_SIZE)
    window.show()
    return (app, window) if window.load_file(example) else None


def _run_stored(window, inputs: dict) -> str | None:
    """Run the open file with ``inputs`` until the run is in the history; its id, or None when it failed."""
    from PySide6.QtCore import QEventLoop, QTimer

    tools = window.run_tools
    loop = QEventLoop()
    ended: list[bool] = []
    stored: list[str] = []
    tools.run_ended.connect(ended.append)
    tools.run_stored.connect(lambda run_id, _error: (stored.append(run_id), loop.quit()))
    tools.start_run(inputs, trusted=True, auto_continue=True)
    if not stored:
        QTimer.singleShot(60_000, loop.quit)
        loop.exec()
    return stored[0] if stored and ended and ended[0] else None


def _grab(app, window, out: Path) -> bool:
    for _ in range(10):
        app.processEvents()
    written = window.grab().save(str(out), "PNG")
    window.autosaver.stop()
    return written


def node_io_picture(example: Path, node: str, out: Path) -> int:
    """Run ``example`` in a window, select ``node`` and picture the Input / Output dock showing it."""
    opened = _scripted_window(example)
    if opened is None or _run_stored(opened[1], {"value": 7}) is None:
        return 1
    app, window = opened
    window.fit_all()
    window.select_node(node)
    dock = window.run_tools.presenter.docks["io"]
    dock.show()
    dock.raise_()
    return 0 if _grab(app, window, out) else 1


def compare_picture(example: Path, out: Path) -> int:
    """Run ``example`` twice with different inputs and picture the Compare dock comparing the two runs."""
    from PySide6.QtCore import Qt

    opened = _scripted_window(example)
    if opened is None:
        return 1
    app, window = opened
    runs = [_run_stored(window, {"value": value}) for value in (3, 7)]
    if None in runs:
        return 1
    tools = window.run_tools
    tools.compare_runs(*runs)
    window.fit_all()
    dock = tools.presenter.docks["compare"]
    window.resizeDocks([dock], [460], Qt.Orientation.Vertical)
    window.fit_all()
    return 0 if _grab(app, window, out) else 1


def paused_picture(example: Path, node: str, out: Path) -> int:
    """Run ``example`` on one worker with a breakpoint before the branch ``node``: the picture shows the run paused
    there while the other branches are queued for the worker the paused one holds."""
    from PySide6.QtCore import QEventLoop, QTimer

    from tea_studio.engine.record import PAUSED, QUEUED

    with tempfile.TemporaryDirectory(prefix="tea-studio-paused-") as scratch:
        copy = Path(scratch) / example.name
        text = example.read_text(encoding="utf-8")
        copy.write_text(text.replace("\nnodes:", f"\nsettings:\n  parallel:\n    max_workers: 1\n"
                                                f"config:\n  interrupt_before: [{node}]\nnodes:", 1), encoding="utf-8")
        opened = _scripted_window(copy)
        if opened is None:
            return 1
        app, window = opened
        tools = window.run_tools
        loop = QEventLoop()
        statuses = lambda: {item.run_status for item in window.scene.node_items()}  # noqa: E731 - as painted
        poll = QTimer()
        poll.timeout.connect(lambda: {PAUSED, QUEUED} <= statuses() and loop.quit())
        poll.start(50)
        tools.start_run({"value": 7}, trusted=True)
        QTimer.singleShot(60_000, loop.quit)
        loop.exec()
        poll.stop()
        window.fit_all()
        written = _grab(app, window, out)
        tools.stop()
        return 0 if written else 1


def big_graph_picture(example: Path, out: Path) -> int:
    """Auto-layout ``example`` (Ctrl+L) with the canvas given the whole of a large window (the docks closed, as a user
    does to look at a big graph) and picture it fitted: all of it, at a zoom where the names read."""
    from PySide6.QtWidgets import QDockWidget

    opened = _scripted_window(example)
    if opened is None:
        return 1
    app, window = opened
    window.resize(*BIG_GRAPH_SIZE)
    for dock in window.findChildren(QDockWidget):
        dock.hide()
    app.processEvents()
    window.actions["layout"].trigger()
    window.fit_all()
    return 0 if _grab(app, window, out) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "docs"), help="folder for the pictures (default: docs/)")
    parser.add_argument("--node-io", help=argparse.SUPPRESS)  # child process: picture the Input / Output dock
    parser.add_argument("--compare", action="store_true", help=argparse.SUPPRESS)  # child: picture a comparison
    parser.add_argument("--paused", help=argparse.SUPPRESS)  # child: picture a run paused with queued branches
    parser.add_argument("--big-graph", action="store_true", help=argparse.SUPPRESS)  # child: a big graph, laid out
    parser.add_argument("--example", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.node_io:
        return node_io_picture(EXAMPLES / f"{args.example}.yaml", args.node_io, Path(args.out))
    if args.compare:
        return compare_picture(EXAMPLES / f"{args.example}.yaml", Path(args.out))
    if args.big_graph:
        return big_graph_picture(EXAMPLES / f"{args.example}.yaml", Path(args.out))
    if args.paused:
        return paused_picture(EXAMPLES / f"{args.example}.yaml", args.paused, Path(args.out))
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
