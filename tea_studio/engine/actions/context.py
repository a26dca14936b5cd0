"""What an action sees while it runs: where it is (node, branch, workflow folder), the workflow's variables and
settings, a way to emit events, and cancellation (Stop) that reaches a blocked HTTP request or CLI process."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tea_studio.engine.events import LlmToken, LogLine, RunEvent

POLL_S = 0.05  # how often a flow waiting on an action's worker looks at the stop flag


class ActionError(Exception):
    """An action failed; the run reports ``message`` on the node (one line, no traceback)."""

    def __init__(self, message: str, retryable: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable  # a try again may succeed: HTTP 429/5xx, a timeout, a refused connection
        self.retry_after = retry_after  # seconds the server asked to wait (Retry-After)


class ActionStopped(Exception):
    """The run was stopped while an action ran."""


@dataclass
class ActionContext:
    """The run around one action call. ``run_node`` runs another node of the workflow on a state and returns its
    update (used by retry.loop's correction node); ``stopped`` tells whether the run was stopped; ``sections`` holds
    the workflow's other top-level keys (validate.extraction reads ``extraction_schema`` and its siblings)."""

    node: str = ""
    branch: str = ""
    variables: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    workflow_dir: str | None = None
    emit: Callable[[RunEvent], None] = lambda event: None
    stopped: Callable[[], bool] = lambda: False
    run_node: Callable[[str, dict[str, Any]], dict[str, Any] | None] | None = None
    lua_timeout: float = 30.0
    lua_max_memory_mb: float = 256.0
    sections: dict[str, Any] = field(default_factory=dict)  # the workflow's other top-level keys

    def resolve_path(self, path: str) -> str:
        """A path as the workflow means it: relative paths start at the workflow's folder (FORMAT.md §7)."""
        path = os.path.expanduser(path[7:] if path.startswith("file://") else path)
        if os.path.isabs(path) or not self.workflow_dir:
            return path
        return os.path.join(self.workflow_dir, path)

    def token(self, text: str) -> None:
        """Report a piece of model output as it arrives."""
        if text and not self.stopped():
            self.emit(LlmToken(t=time.monotonic(), node=self.node, branch=self.branch, text=text))

    def log(self, text: str, level: str = "info") -> None:
        self.emit(LogLine(t=time.monotonic(), node=self.node, branch=self.branch, text=text, level=level))

    def pause(self, seconds: float) -> None:
        """Wait ``seconds`` (a retry's delay), raising :class:`ActionStopped` within ~50 ms of Stop."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if self.stopped():
                raise ActionStopped()
            time.sleep(min(POLL_S, left))

    def call_cancellable(self, work: Callable[[], Any], cancel: Callable[[], None]) -> Any:
        """Run ``work`` in a helper thread and return its result (or raise its exception). When the run is stopped
        meanwhile, ``cancel`` is called (close the connection, kill the process) and :class:`ActionStopped` is
        raised within ~50 ms, whether or not ``work`` has returned yet."""
        outcome: list[Any] = []
        done = threading.Event()

        def runner() -> None:
            try:
                outcome.append((True, work()))
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting flow
                outcome.append((False, exc))
            finally:
                done.set()

        thread = threading.Thread(target=runner, name=f"tea-action-{self.node}", daemon=True)
        thread.start()
        while not done.wait(POLL_S):
            if self.stopped():
                try:
                    cancel()
                finally:
                    done.wait(POLL_S)
                raise ActionStopped()
        ok, value = outcome[0]
        if self.stopped() and not ok:
            raise ActionStopped()
        if not ok:
            raise value
        return value
