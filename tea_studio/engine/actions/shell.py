"""The shell LLM provider: a CLI agent (claude, gemini, qwen or one from ``settings.llm.shell_providers``) gets
the messages as plain text on stdin (``stdin_mode: pipe``) or in a temporary file (``stdin_mode: file``, its path
replacing ``{input_file}`` in the args); ``{prompt}`` in an arg is replaced by the text itself. Each line it prints
is an ``llm_token`` event. Failures are results, as in TEA: ``{error, success: false}``. Stop kills the process
group at once."""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

from tea_studio.engine.actions.context import ActionContext

DEFAULT_SHELL_PROVIDERS: dict[str, dict[str, Any]] = {
    "claude": {"command": "claude", "args": ["-p"], "stdin_mode": "pipe", "timeout": 300},
    "gemini": {"command": "gemini", "args": ["prompt"], "stdin_mode": "pipe", "timeout": 300},
    "qwen": {"command": "qwen", "args": [], "stdin_mode": "pipe", "timeout": 300},
}
_ENV_REF = re.compile(r"\$\{([^}]+)\}")


def expand_env(value: Any) -> Any:
    """``${VAR}`` -> the environment variable (empty when unset), as TEA expands shell provider settings."""
    return _ENV_REF.sub(lambda m: os.getenv(m.group(1), ""), value) if isinstance(value, str) else value


def cli_text(messages: list[dict[str, Any]]) -> str:
    """TEA's plain-text form: ``System: ...``, ``Assistant: ...``, user content as is; blank line between."""
    parts = []
    for message in messages:
        role = message.get("role", "user")
        content = message.get("content", "")
        parts.append(f"System: {content}" if role == "system" else f"Assistant: {content}" if role == "assistant"
                     else str(content))
    return "\n\n".join(parts)


def shell_providers(settings: dict[str, Any]) -> dict[str, dict[str, Any]]:
    llm = settings.get("llm") if isinstance(settings.get("llm"), dict) else {}
    configured = llm.get("shell_providers") if isinstance(llm.get("shell_providers"), dict) else {}
    return {**DEFAULT_SHELL_PROVIDERS, **{k: v for k, v in configured.items() if isinstance(v, dict)}}


def _failure(message: str) -> dict[str, Any]:
    return {"error": message, "success": False}


def run_shell_provider(params: dict[str, Any], messages: list[dict[str, Any]],
                       context: ActionContext) -> dict[str, Any]:
    name = params.get("shell_provider")
    if not name:
        return _failure("provider='shell' requires shell_provider parameter (e.g., shell_provider='claude')")
    providers = shell_providers(context.settings)
    config = providers.get(name)
    if config is None:
        return _failure(f"Shell provider '{name}' not configured. Available: {sorted(providers)}")
    command = expand_env(config.get("command", name))
    args = [expand_env(a) if isinstance(a, str) else str(a) for a in config.get("args") or []]
    explicit = params.get("timeout")  # the action's default (300) leaves the provider's own timeout in force
    timeout = float(config.get("timeout", 300) if explicit in (None, 300) else explicit)
    stdin_mode = config.get("stdin_mode", "pipe")
    if stdin_mode not in ("pipe", "file"):
        return _failure(f"Unknown stdin_mode: {stdin_mode}. Use 'pipe' or 'file'.")
    env = {**os.environ, **{str(k): str(expand_env(v)) for k, v in (config.get("env") or {}).items()}}
    text = cli_text(messages)
    stdin_text: str | None = None
    temp_path: str | None = None
    if any("{prompt}" in a for a in args):
        args = [a.replace("{prompt}", text) for a in args]
    elif stdin_mode == "file":
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as stream:
            stream.write(text)
            temp_path = stream.name
        args = [a.replace("{input_file}", temp_path) for a in args]
    else:
        stdin_text = text
    try:
        return _run(name, [command, *args], stdin_text, env, timeout, context)
    finally:
        if temp_path:
            os.unlink(temp_path)


class ProcessFailed(Exception):
    """A program could not start or ran past its time limit (TEA's wording in ``message``)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def run_process(argv: list[str], context: ActionContext, timeout: float, *, stdin_text: str | None = None,
                env: dict[str, str] | None = None, cwd: str | None = None,
                on_line: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run a program in its own process group: ``{returncode, stdout, stderr, lines}``, each stdout line handed to
    ``on_line`` as it comes. Stop kills the group at once (:class:`ActionStopped`); raises :class:`ProcessFailed`
    when it cannot start or outlives ``timeout``."""
    try:
        process = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin_text is not None else subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8",
                                   errors="replace", env=env, cwd=cwd, start_new_session=True)
    except FileNotFoundError:
        raise ProcessFailed(f"Shell command not found: {argv[0]}") from None
    except OSError as exc:
        raise ProcessFailed(f"Shell command execution error: {exc}") from None

    def kill() -> None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except OSError:
            pass

    def work() -> dict[str, Any]:
        stderr: list[str] = []
        reader = threading.Thread(target=lambda: stderr.append(process.stderr.read()), daemon=True)
        reader.start()
        if stdin_text is not None:
            try:
                process.stdin.write(stdin_text)
                process.stdin.close()
            except (BrokenPipeError, OSError):
                pass
        lines: list[str] = []
        for line in process.stdout:
            lines.append(line)
            if on_line is not None:
                on_line(line)
        process.wait()
        reader.join()
        return {"returncode": process.returncode, "stdout": "".join(lines), "stderr": "".join(stderr),
                "lines": len(lines)}

    deadline = time.monotonic() + timeout
    timed_out = []

    def stopped() -> bool:
        if time.monotonic() >= deadline:
            timed_out.append(True)
            return True
        return context.stopped()

    watcher = dataclasses.replace(context, stopped=stopped)
    try:
        return watcher.call_cancellable(work, kill)
    except Exception:
        kill()
        process.wait()
        if timed_out and not context.stopped():
            raise ProcessFailed(f"Shell command timed out after {timeout:g}s") from None
        raise


def _run(name: str, argv: list[str], stdin_text: str | None, env: dict[str, str], timeout: float,
         context: ActionContext) -> dict[str, Any]:
    try:
        outcome = run_process(argv, context, timeout, stdin_text=stdin_text, env=env,
                              cwd=context.workflow_dir or None, on_line=context.token)
    except ProcessFailed as exc:
        return _failure(exc.message)
    if outcome["returncode"] != 0:
        return _failure(f"Shell command failed (exit {outcome['returncode']}): {outcome['stderr']}")
    return {"content": outcome["stdout"].strip(), "usage": {}, "provider": "shell", "shell_provider": name,
            "chunk_count": outcome["lines"]}
