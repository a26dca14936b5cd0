"""``tea-studio run``: run a workflow headless.

Exit codes: 0 success, 1 load/validation/run failure (one ``error: ...`` line on stderr), 2 usage error (bad
``--input``), 130 interrupted (Ctrl-C stops the run cleanly), 141 stdout closed by its reader (the run stops
quietly, as ``| head -1`` expects). stdout holds the final state as one JSON document,
or with ``--stream`` one JSON object per event (the last one ``run_finished`` with the state, or ``run_failed``),
written by a thread of its own in batches so the run never waits for the terminal.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import queue
import sys
import threading
from typing import Any

from tea_studio.engine.budget import DEFAULT_STATE_BUDGET_MB, EngineCaps
from tea_studio.engine.events import (
    LlmToken,
    LogLine,
    NodeFinished,
    Paused,
    RunEvent,
    RunStarted,
    RunWarning,
    event_to_dict,
)
from tea_studio.engine.executors import Strategies
from tea_studio.engine.runner import RunControl, RunError, WorkflowRun
from tea_studio.engine.start import FROM_NODE, ONLY_NODE, StartAt
from tea_studio.workflow.inputs import InputError, parse_inputs
from tea_studio.workflow.text import one_line, printable


def caps_from(args: Any) -> EngineCaps:
    """``--max-timeout``, ``--max-memory-mb`` and ``--max-state-mb`` as the run's caps."""
    state_mb = getattr(args, "max_state_mb", None)
    return EngineCaps(getattr(args, "max_timeout", None), getattr(args, "max_memory_mb", None),
                      DEFAULT_STATE_BUDGET_MB if state_mb is None else state_mb)


def to_json(value: Any, *, every_key: bool = False, **kwargs: Any) -> str:
    """Valid JSON that keeps types (ints stay ints); values JSON cannot hold (NaN, Infinity, bytes keys, objects)
    are written as text. Raises ValueError, naming where, for a value that contains itself, and with
    ``every_key`` for two keys that would become the same text (a Python node's ``{1: a, "1": b}``: JSON would
    lose one of them; checking costs a walk over the whole value, so only the final state pays it)."""
    if not every_key:
        try:
            return json.dumps(value, ensure_ascii=False, default=str, allow_nan=False, **kwargs)
        except (ValueError, TypeError, RecursionError):
            pass
    return json.dumps(_json_ready(value, "state", set()), ensure_ascii=False, default=str, **kwargs)


_MAX_JSON_DEPTH = 500


def _json_ready(value: Any, where: str, open_ids: set[int]) -> Any:
    """``value`` with what JSON cannot hold made text (the slow path of :func:`to_json`)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
    if not isinstance(value, dict | list | tuple):
        return value
    if id(value) in open_ids:
        raise ValueError(f"{where} contains itself")
    if len(open_ids) >= _MAX_JSON_DEPTH:
        raise ValueError(f"{where} is nested more than {_MAX_JSON_DEPTH} levels deep")
    open_ids.add(id(value))
    try:
        if not isinstance(value, dict):
            return [_json_ready(item, f"{where}[{i}]", open_ids) for i, item in enumerate(value)]
        out: dict[str, Any] = {}
        for key, item in value.items():
            text = _json_key(key)
            if text in out:
                raise ValueError(f"{where} has two keys that are both {text!r} in JSON")
            out[text] = _json_ready(item, f"{where}.{text}", open_ids)
        return out
    finally:
        open_ids.discard(id(value))


def _json_key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, bool):
        return json.dumps(key)
    if isinstance(key, float):
        return _json_ready(key, "", set()) if not math.isfinite(key) else repr(key)
    return str(key)


class _Writer:
    """Writes the command's output off the run's hot path: the run's threads only queue events; one thread
    turns them into text and writes them in batches (stream lines to stdout, log lines and warnings to stderr),
    in the order they were emitted, nothing dropped. A closed stdout (``| head -1``) stops the run quietly."""

    def __init__(self, stream: bool, progress: bool, on_broken_pipe: Any, out: Any = None) -> None:
        self.stream = stream
        self.out = out or sys.stdout  # the real stdout: node code's stray writes go to stderr meanwhile
        self.progress = progress
        self.on_broken_pipe = on_broken_pipe
        self.broken = False
        self.t0 = 0.0
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="tea-output", daemon=True)
        self._thread.start()

    def put(self, event: Any) -> None:
        self._queue.put(event)

    def sync(self) -> None:
        """Wait until everything queued so far is written."""
        done = threading.Event()
        self._queue.put(done)
        done.wait()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _loop(self) -> None:
        get = self._queue.get
        while True:
            batch = [get()]
            try:
                while len(batch) < 4096:
                    batch.append(self._queue.get_nowait())
            except queue.Empty:
                pass
            out: list[str] = []
            err: list[str] = []
            marks: list[threading.Event] = []
            end = False
            for item in batch:
                if item is None:
                    end = True
                elif isinstance(item, threading.Event):
                    marks.append(item)
                else:
                    self._format(item, out, err)
            self._write(sys.stderr, err)
            if not self.broken:
                self._write(self.out, out)
            for mark in marks:
                mark.set()
            if end:
                return

    def _format(self, event: RunEvent, out: list[str], err: list[str]) -> None:
        if isinstance(event, RunStarted):
            self.t0 = event.t
        if self.stream:
            try:
                out.append(to_json(event_to_dict(event, self.t0)) + "\n")
            except ValueError as exc:
                err.append(f"warning: a {type(event).__name__} event cannot be written as JSON: {one_line(str(exc))}\n")
        if isinstance(event, LogLine):
            where = f"{event.branch}/" if event.branch else ""
            err.append(printable(f"[{where}{event.node}] {event.text}") + "\n")
        elif isinstance(event, RunWarning):
            err.append(f"warning: {one_line(event.message)}\n")
        elif self.progress and isinstance(event, LlmToken):  # model output as it arrives, on a terminal
            err.append(event.text)
        elif self.progress and isinstance(event, NodeFinished):
            where = f"{event.branch}: " if event.branch else ""
            err.append(f"{where}{event.node} {'ok' if event.ok else 'failed'} ({event.timing_ms:.1f} ms)\n")

    def _write(self, target: Any, lines: list[str]) -> None:
        if not lines:
            return
        try:
            target.write("".join(lines))
            target.flush()
        except BrokenPipeError:
            if target is self.out:
                self.broken = True
                silence_stdout(target)
                self.on_broken_pipe()
        except (OSError, ValueError):
            pass


def silence_stdout(stdout: Any) -> None:
    """Point stdout at /dev/null once its reader has gone, so nothing complains at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


class _CliSink:
    """Hands events to the writer; pauses go to a queue for the prompt."""

    def __init__(self, writer: _Writer, pauses: queue.Queue) -> None:
        self.writer = writer
        self.pauses = pauses

    def emit(self, event: RunEvent) -> None:
        self.writer.put(event)
        if type(event) is Paused:
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


def start_from(args: Any, state: dict[str, Any]) -> StartAt | None:
    """``--from NODE`` / ``--only NODE``: where the run starts, ``--input`` being the whole state there."""
    if getattr(args, "only_node", None):
        return StartAt(args.only_node, state, ONLY_NODE)
    if getattr(args, "from_node", None):
        return StartAt(args.from_node, state, FROM_NODE)
    return None


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
    control = RunControl(auto_continue=not interactive)
    stdout = sys.stdout
    writer = _Writer(stream, progress=sys.stderr.isatty() and not stream, on_broken_pipe=control.stop, out=stdout)
    # Process workers and the Dask cluster or connection serve this command's forks, and end with it.
    strategies = Strategies(dask_scheduler=getattr(args, "dask_scheduler", None))
    pins = workflow.layout.pins if getattr(args, "pins", False) else None
    run = WorkflowRun(workflow, inputs, sink=_CliSink(writer, pauses), control=control,
                      strategy=getattr(args, "strategy", None), strategies=strategies, pins=pins,
                      caps=caps_from(args), start=start_from(args, inputs))
    try:
        code, state = _run_and_wait(run, control, pauses, writer, interactive)
    finally:
        writer.close()
        strategies.close()
    if writer.broken:
        return 141  # stdout's reader went away (e.g. `| head -1`): stop quietly, as a pipe writer does
    if code == 130:
        print("error: stopped (interrupted)", file=sys.stderr)
        return code
    if code:
        print(f"error: {one_line(str(state))}", file=sys.stderr)
        return code
    try:
        text = to_json(state, indent=2, every_key=True)
    except ValueError as exc:
        print(f"error: the final state cannot be written as JSON: {one_line(str(exc))}", file=sys.stderr)
        return 1
    if not stream:
        try:
            stdout.write(text + "\n")
            stdout.flush()
        except BrokenPipeError:
            silence_stdout(stdout)
            return 141
    output = getattr(args, "output", None)
    if output:
        from tea_studio.workflow.files import write_atomic

        try:
            write_atomic(output, text + "\n")
        except OSError as exc:
            print(f"error: cannot write {output}: {exc.strerror or exc}", file=sys.stderr)
            return 1
    return 0


def _run_and_wait(run: WorkflowRun, control: RunControl, pauses: queue.Queue, writer: _Writer,
                  interactive: bool) -> tuple[int, Any]:
    """Run on a worker thread while this one answers pauses; (0, state), (1, error) or (130, None)."""
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
                writer.sync()
                print(f"paused {item.when} {item.node}" + (f" (branch {item.branch})" if item.branch else "")
                      + " — Enter to continue", file=sys.stderr, end="")
                sys.stderr.flush()
                sys.stdin.readline()
                control.resume()
    except KeyboardInterrupt:
        control.stop()
        if worker.is_alive():
            worker.join()
        return 130, None
    worker.join()
    if "error" in outcome:
        return 1, outcome["error"]
    return 0, outcome["state"]
