"""Running the real ``tea-studio`` command in a subprocess for the escape suite."""

import os
import subprocess
import sys
import time

TIMEOUT_S = 120


def run_cli(*args: str, stdin: str | None = None, env: dict | None = None) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``tea-studio ARGS`` in a fresh process."""
    code, out, err, _ = timed_cli(*args, stdin=stdin, env=env)
    return code, out, err


def timed_cli(*args: str, stdin: str | None = None, env: dict | None = None) -> tuple[int, str, str, float]:
    began = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "tea_studio.cli", *args], input=stdin, capture_output=True,
                          text=True, timeout=TIMEOUT_S, env={**os.environ, **(env or {})},
                          stdin=None if stdin is not None else subprocess.DEVNULL)
    return done.returncode, done.stdout, done.stderr, time.monotonic() - began
