"""Uncaught exceptions in the studio: logged and shown, never lost.

An exception escaping a Qt slot or event handler does not reach any ``try`` of ours: PySide prints it through
``sys.excepthook`` and carries on, so without a handler the user sees nothing while the action silently did not
happen. :func:`install_exception_handler` writes the traceback to stderr and to ``errors.log`` in the data folder,
and shows one message per error (errors raised while a message is open are only logged).
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from tea_studio.studio.resources import app_data_dir

ERROR_LOG = "errors.log"


def error_log() -> Path:
    return app_data_dir() / ERROR_LOG


def _log(text: str) -> None:
    print(text, file=sys.stderr, end="" if text.endswith("\n") else "\n")
    try:
        with error_log().open("a", encoding="utf-8") as stream:
            stream.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')}\n{text}")
    except OSError as exc:
        print(f"tea-studio: cannot write {error_log()}: {exc.strerror or exc}", file=sys.stderr)


def install_exception_handler(show: Callable[[str, str], object]) -> Callable[[], None]:
    """Log every uncaught exception and ``show(title, message)`` it; returns a function that uninstalls it."""
    previous = sys.excepthook
    showing = False

    def handle(exc_type, exc, tb) -> None:
        nonlocal showing
        if issubclass(exc_type, KeyboardInterrupt):
            previous(exc_type, exc, tb)
            return
        _log("".join(traceback.format_exception(exc_type, exc, tb)))
        if showing:
            return
        showing = True
        try:
            show("Unexpected error", f"{exc_type.__name__}: {exc}\n\nThe action did not complete. "
                                     f"Details are in {error_log()}.")
        except Exception as inner:  # noqa: BLE001 - the report itself failed: keep the log line
            _log(f"could not show the error: {inner!r}\n")
        finally:
            showing = False

    sys.excepthook = handle

    def uninstall() -> None:
        if sys.excepthook is handle:
            sys.excepthook = previous

    return uninstall
