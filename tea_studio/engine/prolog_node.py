"""TEA's Prolog nodes (``language: prolog``, ``run: {type: prolog}``, the ``% prolog`` marker), each run in a fresh
``swipl`` process.

A process per node, like a fresh Lua VM per branch: nothing carries over between nodes or branches, and a hang or a
crash ends that process, never the studio. The driver (``prolog_driver.pl``, beside this file) reads the state as
JSON on stdin, runs the code as TEA does (``state/2`` reads the state, ``return/2`` sets the update; lists, clpfd,
apply and aggregate preloaded; rules and directives in the code) with every goal checked by SWI-Prolog's
library(sandbox), and writes the update as JSON on stdout. What the node prints arrives on stderr: the run's log.

Limits: the node's timeout inside (``call_with_time_limit``) and outside (the process is killed shortly after),
the Prolog stacks capped with ``--stack-limit`` and the address space with RLIMIT_AS, and Stop kills the process.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from tea_studio.workflow.files import write_atomic
from tea_studio.workflow.validation import PROLOG_INSTALL_HINT, swipl_path

DEFAULT_TIMEOUT_S = 30.0  # TEA's prolog_timeout
DEFAULT_MAX_MEMORY_MB = 256.0
_GRACE_S = 2.0  # after the node's timeout, the driver's own time limit has had its chance: kill
_HEADROOM_MB = 256  # address space beyond the stacks: the system, the libraries, the clause store
_POLL_S = 0.05  # how often a waiting run looks at Stop


class PrologNodeError(Exception):
    """A Prolog node failed; ``line`` is counted from the node code's first line when swipl names one."""

    def __init__(self, message: str, line: int | None = None, kind: str = "error") -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.kind = kind  # error | syntax | sandbox | timeout | memory | stopped | missing


@dataclass(frozen=True)
class PrologResult:
    """A node's update (None when it returned nothing) and whether its goal failed (TEA: no error, the update
    holds what return/2 set before)."""

    update: dict[str, Any] | None
    failed: bool = False


def _driver() -> str:
    return str(resources.files("tea_studio.engine").joinpath("prolog_driver.pl"))


def _command(swipl: str, memory_mb: float) -> list[str]:
    state = _saved_state(swipl)
    program = ["-x", state] if state is not None else [_driver()]
    return [swipl, "--no-packs", "--no-tty", "-q", "-f", "none", f"--stack-limit={max(8, int(memory_mb))}m",
            *program]


_states_lock = threading.Lock()
_states: dict[str, str | None] = {}


def _saved_state(swipl: str) -> str | None:
    """The driver compiled into a SWI-Prolog saved state, built once per driver and swipl and kept in the user's
    cache folder: a node then starts in ~30 ms instead of ~200 ms of loading clpfd and the sandbox. None (run the
    source) when it cannot be built or kept."""
    with _states_lock:
        if swipl not in _states:
            _states[swipl] = _build_state(swipl)
        return _states[swipl]


def _build_state(swipl: str) -> str | None:
    driver = _driver()
    try:
        binary = os.stat(os.path.realpath(swipl))
        with open(driver, "rb") as stream:
            source = stream.read()
    except OSError:
        return None
    key = hashlib.sha256(source + f"|{os.path.realpath(swipl)}|{binary.st_size}|{binary.st_mtime_ns}".encode())
    folder = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "tea-studio")
    target = os.path.join(folder, f"prolog-driver-{key.hexdigest()[:16]}.state")
    if os.path.isfile(target):
        return target
    try:
        with tempfile.TemporaryDirectory() as scratch:
            built = os.path.join(scratch, "driver.state")
            subprocess.run([swipl, "--no-packs", "-q", "-f", "none", "-o", built, "-c", driver],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=120, check=True)
            with open(built, "rb") as stream:
                data = stream.read()
        os.makedirs(folder, exist_ok=True)
        write_atomic(target, data, sync=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return target


def _cap_address_space(pid: int, memory_mb: float) -> None:
    """Cap what the process can allocate outside its stacks (asserted clauses, atoms): set before the node's
    code arrives on stdin, so no node code runs uncapped."""
    try:
        import resource

        limit = (int(memory_mb) + _HEADROOM_MB) * 1024 * 1024
        resource.prlimit(pid, resource.RLIMIT_AS, (limit, limit))
    except (ImportError, AttributeError, OSError, ValueError):
        pass  # no prlimit here: the stack limit and the timeout still hold


def run_prolog_node(node: str, code: str, state: dict[str, Any], *, timeout: float = DEFAULT_TIMEOUT_S,
                    memory_mb: float = DEFAULT_MAX_MEMORY_MB, stopped: Callable[[], bool] | None = None,
                    on_print: Callable[[str], None] | None = None) -> PrologResult:
    """Run one Prolog node over ``state``; raises :class:`PrologNodeError` (kind "stopped" after Stop)."""
    swipl = swipl_path()
    if swipl is None:
        raise PrologNodeError(PROLOG_INSTALL_HINT, kind="missing")
    try:
        request = json.dumps({"code": code, "state": state, "timeout": timeout}, default=str, allow_nan=False)
    except ValueError as exc:  # NaN/Infinity or a value that holds itself: nothing Prolog could be given
        raise PrologNodeError(f"the state cannot be handed to Prolog: {exc}") from None
    try:
        proc = subprocess.Popen(_command(swipl, memory_mb), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
    except OSError as exc:
        raise PrologNodeError(f"swipl could not start: {exc.strerror or exc}", kind="missing") from None
    _cap_address_space(proc.pid, memory_mb)
    out, err, ended = _exchange(proc, request.encode("utf-8"), timeout + _GRACE_S, stopped, on_print)
    if ended == "stopped":
        raise PrologNodeError("stopped", kind="stopped")
    if ended == "deadline":
        raise PrologNodeError(f"Prolog execution timeout ({timeout:g} s)", kind="timeout")
    return _reply(out, err, proc.returncode, timeout, memory_mb)


def _exchange(proc: subprocess.Popen, data: bytes, limit: float, stopped: Callable[[], bool] | None,
              on_print: Callable[[str], None] | None) -> tuple[bytes, list[str], str]:
    """Feed ``data``, pass each line the node prints to ``on_print`` as it comes, and wait for the process to
    end, for Stop or for the deadline (both kill it). Returns (stdout, stderr lines, how it ended: "exited",
    "stopped" or "deadline"). Pipes are served by threads, so a large reply or a chatty node never blocks."""
    out: list[bytes] = []
    err: list[str] = []

    def feed() -> None:
        try:
            proc.stdin.write(data)
            proc.stdin.close()
        except OSError:
            pass  # the process ended before reading it all: its exit says why

    def collect() -> None:
        out.append(proc.stdout.read())

    def relay() -> None:
        for raw in proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            err.append(line)
            if on_print is not None:
                on_print(line)

    threads = [threading.Thread(target=target, daemon=True) for target in (feed, collect, relay)]
    for thread in threads:
        thread.start()
    ended = _wait(proc, time.monotonic() + limit, stopped)
    for thread in threads:
        thread.join()
    return b"".join(out), err, ended


def _wait(proc: subprocess.Popen, deadline: float, stopped: Callable[[], bool] | None) -> str:
    while True:
        try:
            proc.wait(timeout=_POLL_S)
            return "exited"
        except subprocess.TimeoutExpired:
            pass
        if stopped is not None and stopped():
            ended = "stopped"
        elif time.monotonic() >= deadline:
            ended = "deadline"
        else:
            continue
        proc.kill()  # the sandbox lets the node start no process of its own: killing swipl ends everything
        proc.wait()
        return ended


def _reply(out: bytes, err: list[str], returncode: int, timeout: float, memory_mb: float) -> PrologResult:
    """The driver's one-line JSON reply as the node's result or error."""
    lines = out.decode("utf-8", "replace").strip().splitlines()
    try:
        reply = json.loads(lines[-1]) if lines else None
    except ValueError:
        reply = None
    if not isinstance(reply, dict):
        raise PrologNodeError(_no_reply(err, returncode, memory_mb), kind="error")
    if reply.get("ok"):
        update = reply.get("update") or None
        return PrologResult(update if isinstance(update, dict) else None, bool(reply.get("failed")))
    kind = str(reply.get("kind") or "error")
    message = str(reply.get("message") or "failed")
    if kind == "timeout":
        message = f"Prolog execution timeout ({timeout:g} s)"
    elif kind == "memory":
        message = f"Prolog {message}: a Prolog node may use {memory_mb:g} MB"
    elif kind in ("syntax", "error"):
        message = f"Prolog {message[:1].lower()}{message[1:]}" if kind == "syntax" else f"Prolog error: {message}"
    line = reply.get("line")
    raise PrologNodeError(message, line if isinstance(line, int) and line > 0 else None, kind)


def _no_reply(err: list[str], returncode: int, memory_mb: float) -> str:
    """Why the process ended without a reply, in one line."""
    last = next((line.strip() for line in reversed(err) if line.strip()), "")
    if returncode < 0:
        name = signal.Signals(-returncode).name if -returncode in signal.valid_signals() else str(-returncode)
        return f"the Prolog process was killed by {name} (out of memory? a Prolog node may use {memory_mb:g} MB)"
    return f"the Prolog process ended without a reply (exit {returncode})" + (f": {last}" if last else "")
