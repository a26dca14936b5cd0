"""How a run fails: :class:`RunError` (located at a branch, node and line) and :class:`RunStopped`.

Their own module so that the runner and the parts it calls (constructs, run-from-here) share them without
importing each other.
"""

from __future__ import annotations

from tea_studio.engine.branching import STOPPED


class RunError(Exception):
    """A run failed. ``message`` is the bare reason; ``str()`` names the branch, node and line."""

    def __init__(self, message: str, node: str | None = None, branch: str = "", line: int | None = None,
                 *, located: bool = True, detail: str | None = None) -> None:
        self.message = message
        self.node = node
        self.branch = branch
        self.line = line
        if detail is None:
            where = f"branch '{branch}' " if branch else ""
            if located and node is not None:
                where += f"node '{node}'" + (f" line {line}" if line else "") + ": "
            elif where:
                where = where.rstrip() + ": "
            detail = where + message
        self.detail = detail
        super().__init__(detail)

    def __str__(self) -> str:
        return self.detail

    def __reduce__(self):
        return (_rebuild_run_error, (self.message, self.node, self.branch, self.line, self.detail))


def _rebuild_run_error(message, node, branch, line, detail) -> RunError:
    return RunError(message, node, branch, line, detail=detail)


class RunStopped(RunError):
    def __init__(self, node: str | None = None, branch: str = "") -> None:
        super().__init__(STOPPED, node, branch, located=False, detail=STOPPED)
