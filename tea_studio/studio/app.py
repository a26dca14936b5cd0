"""The studio application: QApplication set-up and ``run_studio`` (the ``open`` command)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QEventLoop, Qt, QTimer
from PySide6.QtWidgets import QApplication

from tea_studio import __version__
from tea_studio.studio.errors import install_exception_handler
from tea_studio.studio.image_export import write_picture
from tea_studio.studio.prompts import AnsweredPrompts
from tea_studio.studio.resources import APPLICATION, ORGANIZATION, icon
from tea_studio.workflow.inputs import InputError, parse_inputs

SCREENSHOT_SIZE = (1400, 900)
RUN_TIMEOUT_MS = 120_000


def create_application(argv: list[str] | None = None) -> QApplication:
    """The QApplication (reused when one exists), named so that settings and data folders are the studio's."""
    QCoreApplication.setOrganizationName(ORGANIZATION)
    QCoreApplication.setApplicationName(APPLICATION)
    QCoreApplication.setApplicationVersion(__version__)
    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else [sys.argv[0]])
    app.setApplicationDisplayName("TEA Studio")
    app.setWindowIcon(icon("tea-studio"))
    return app


def _wait_for_run(window, inputs: dict[str, Any]) -> bool | None:
    """Start a run in the window and wait for its end; True/False = ok, None = no run happened."""
    tools = window.run_tools
    if tools is None:
        print("tea-studio: --run is not available (the live-run tools are missing)", file=sys.stderr)
        return None
    outcome: list[bool] = []
    loop = QEventLoop()

    def ended(ok: bool) -> None:
        outcome.append(bool(ok))
        loop.quit()

    tools.run_ended.connect(ended)
    tools.start_run(inputs, trusted=True, auto_continue=True)
    if not outcome:
        QTimer.singleShot(RUN_TIMEOUT_MS, loop.quit)
        loop.exec()
    if not outcome:
        print("tea-studio: the run did not end in time", file=sys.stderr)
        return False
    return outcome[0]


def _settle(app: QApplication, rounds: int = 5) -> None:
    for _ in range(rounds):
        app.processEvents()


def take_screenshot(window, out: str) -> bool:
    """Render the whole window to a PNG (the workflow fitted in the view)."""
    app = QApplication.instance()
    _settle(app)
    window.fit_all()
    _settle(app)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    picture = window.grab()
    return write_picture(str(path), lambda device: picture.save(device, "PNG"))


def _select_first_code_node(window) -> None:
    """For pictures: select the first node with code so the inspector shows the editor."""
    for node in window.workflow.nodes:
        if node.code:
            window.select_node(node.name, centre=False)
            return


def run_studio(args) -> int:
    """Open the studio (``tea-studio [open] [FILE] [--screenshot OUT.png] [--run] [--input JSON]``)."""
    from tea_studio.studio.main_window import MainWindow

    file = getattr(args, "file", None)
    screenshot = getattr(args, "screenshot", None)
    run = bool(getattr(args, "run", False))
    try:
        inputs = parse_inputs(getattr(args, "input", None))
    except InputError as exc:
        print(f"tea-studio: error: {exc}", file=sys.stderr)
        return 2
    if file is not None and not Path(file).is_file():
        print(f"tea-studio: {file}: no such file", file=sys.stderr)
        return 2

    app = create_application()
    if screenshot:
        app.setAttribute(Qt.ApplicationAttribute.AA_DontShowIconsInMenus, False)
        window = MainWindow(restore_state=False, prompts=AnsweredPrompts(echo=True))
        install_exception_handler(window.prompts.error)
        window.resize(*SCREENSHOT_SIZE)
        window.show()
        _settle(app)
        if file is not None and not window.load_file(file):
            return 1
        _select_first_code_node(window)
        ok = True
        if run:
            result = _wait_for_run(window, inputs)
            ok = bool(result)
            banner = window.run_tools.presenter.banner
            if not ok and banner.node:  # the picture of a failure shows the failed node's code at its line
                if banner.line:
                    banner.line_requested.emit(banner.node, banner.line)
                else:
                    window.select_node(banner.node, centre=False)
        written = take_screenshot(window, screenshot)
        window.autosaver.stop()
        if not written:
            print(f"tea-studio: could not write {screenshot}", file=sys.stderr)
            return 1
        print(screenshot)
        return 0 if ok else 1

    window = MainWindow()
    install_exception_handler(window.prompts.error)
    window.show()
    if file is not None:
        window.load_file(file)
    QTimer.singleShot(0, window.files.offer_recoveries)
    if run:
        QTimer.singleShot(0, lambda: window.run_tools and window.run_tools.start_run(inputs, trusted=True))
    return app.exec()
