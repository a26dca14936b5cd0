"""``tea-studio run``: run a workflow headless.

Exit codes: 0 success, 1 load/validation/run failure (one ``error: ...`` line on stderr), 2 usage error (bad
``--input``), 130 interrupted (Ctrl-C stops the run cleanly). stdout holds the final state as one JSON document,
or with ``--stream`` one JSON object per event (the last one ``run_finished`` with the state, or ``run_failed``).
"""

from __future__ import annotations

import contextlib
import json
import queue
import sys
import threading
from typing import Any

from tea_studio.engine.budget import DEFAULT_STATE_BUDGET_MB, EngineCaps
from tea_studio.engine.events import (
    LogLine,
    NodeFinished,
    Paused,
    RunEvent,
    RunStarted,
    RunWarning,
    event_to_dict,
)
from tea_studio.engine.runner import RunControl, RunError, WorkflowRun
from tea_studio.workflow.inputs import InputError, parse_inputs
from tea_studio.workflow.text import one_line, printable


def caps_from(args: Any) -> EngineCaps:
    """``--max-timeout``, ``--max-memory-mb`` and ``--max-state-mb`` as the run's caps."""
    state_mb = getattr(args, "max_state_mb", None)
    return EngineCaps(getattr(args, "max_timeout", None), getattr(args, "max_memory_mb", None),
                      DEFAULT_STATE_BUDGET_MB if state_mb is None else state_mb)


def to_json(value: Any, **kwargs: Any) -> str:
    """JSON that keeps types (ints stay ints); values JSON cannot hold are written as text."""
    return json.dumps(value, ensure_ascii=False, default=str, **kwargs)


class _CliSink:
    """Prints events: NDJSON on stdout with --stream; log lines and warnings on stderr; pauses to a queue."""

    def __init__(self, stream: bool, progress: bool, pauses: queue.Queue, out: Any = None) -> None:
        self.stream = stream
        self.out = out or sys.stdout  # the real stdout: node code's stray writes go to stderr meanwhile
        self.progress = progress
        self.pauses = pauses
        self.t0 = 0.0
        self._lock = threading.Lock()

    def emit(self, event: RunEvent) -> None:
        if isinstance(event, RunStarted):
            self.t0 = event.t
        with self._lock:
            if self.stream:
                self.out.write(to_json(event_to_dict(event, self.t0)) + "\n")
                self.out.flush()
            if isinstance(event, LogLine):
                where = f"{event.branch}/" if event.branch else ""
                print(printable(f"[{where}{event.node}] {event.text}"), file=sys.stderr)
            elif isinstance(event, RunWarning):
                print(f"warning: {one_line(event.message)}", file=sys.stderr)
            elif self.progress and isinstance(event, NodeFinished):
                where = f"{event.branch}: " if event.branch else ""
                print(f"{where}{event.node} {'ok' if event.ok else 'failed'} ({event.timing_ms:.1f} ms)",
                      file=sys.stderr)
        if isinstance(event, Paused):
            self.pauses.put(event)


def _validation_errors(workflow: Any, path: str) -> int:
    """Print validation findings (errors stop the run); returns the number of errors."""
    try:
        from tea_studio.workflow.validation import validate
    except ImportError:
        return 0
    errors = 0
    for problem in validate(workflow):
        is_error = getattr(problem, "severity", "error") == "error"
        errors += is_error
        if hasattr(problem, "format"):
            text = problem.format(path)
        else:
            text = f"{path}:{max(problem.line, 1)}:{max(problem.col, 1)}: {problem.severity} [{problem.code}]: " \
                   f"{problem.message}"
        if is_error or sys.stderr.isatty():
            print(text, file=sys.stderr)
    return errors


def run_command(args: Any) -> int:
    """``tea-studio run FILE [--input ...] [-o OUT] [--stream] [--strategy ...] [--auto-continue]``."""
    try:
        inputs = parse_inputs(getattr(args, "input", None))
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    from tea_studio.workflow.yaml_io import WorkflowError, load_workflow

    path = args.file
    try:
        workflow = load_workflow(path)
    except WorkflowError as exc:
        print(one_line(str(exc)), file=sys.stderr)
        return 1
    if _validation_errors(workflow, path):
        print(f"error: {path} has validation errors; the run did not start", file=sys.stderr)
        return 1

    interactive = sys.stdin is not None and sys.stdin.isatty() and not getattr(args, "auto_continue", False)
    pauses: queue.Queue = queue.Queue()
    stream = bool(getattr(args, "stream", False))
    stdout = sys.stdout
    sink = _CliSink(stream, progress=sys.stderr.isatty() and not stream, pauses=pauses, out=stdout)
    control = RunControl(auto_continue=not interactive)
    pins = workflow.layout.pins if getattr(args, "pins", False) else None
    run = WorkflowRun(workflow, inputs, sink=sink, control=control, strategy=getattr(args, "strategy", None),
                      pins=pins, caps=caps_from(args))
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            with contextlib.redirect_stdout(sys.stderr):  # stdout holds only the JSON
                outcome["state"] = run.run()
        except RunError as exc:
            outcome["error"] = exc
        except BaseException as exc:  # noqa: BLE001 - reported as a failure, never a hang
            outcome["error"] = RunError(f"internal error: {type(exc).__name__}: {exc}", located=False)
        finally:
            pauses.put(None)

    worker = threading.Thread(target=work, name="tea-run", daemon=True)
    try:
        worker.start()
        while True:
            item = pauses.get()
            if item is None:
                break
            if interactive and not control.stopped:
                print(f"paused {item.when} {item.node}" + (f" (branch {item.branch})" if item.branch else "")
                      + " — Enter to continue", file=sys.stderr, end="")
                sys.stderr.flush()
                sys.stdin.readline()
                control.resume()
    except KeyboardInterrupt:
        control.stop()
        if worker.is_alive():
            worker.join()
        print("error: stopped (interrupted)", file=sys.stderr)
        return 130
    worker.join()

    error = outcome.get("error")
    if error is not None:
        print(f"error: {one_line(str(error))}", file=sys.stderr)
        return 1
    state = outcome["state"]
    text = to_json(state, indent=2)
    if not stream:
        stdout.write(text + "\n")
        stdout.flush()
    output = getattr(args, "output", None)
    if output:
        from tea_studio.workflow.files import write_atomic

        try:
            write_atomic(output, text + "\n")
        except OSError as exc:
            print(f"error: cannot write {output}: {exc.strerror or exc}", file=sys.stderr)
            return 1
    return 0
