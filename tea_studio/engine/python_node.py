"""TEA's inline-Python node rules (FORMAT.md §6). Python code is trusted: it is not sandboxed.

- The code is rendered as a Jinja2 template first when it contains ``{{``, ``{%`` or ``${`` (``${name}`` =
  ``variables[name]``).
- If the word ``return`` appears, the code is the body of a function; its result is the update.
- Otherwise the code runs as a block and every local not starting with ``_`` becomes the update (imported
  modules excepted: they cannot live in a state).
- A non-dict result becomes ``{"result": value}``; None changes nothing.
- Globals: ``state``, ``variables``, ``json``.
"""

from __future__ import annotations

import json
import re
import sys
import textwrap
import threading
import types
from typing import Any

from tea_studio.engine import expressions

_RETURN = re.compile(r"\breturn\b")
_FUNCTION = "__tea_node__"
_cache_lock = threading.Lock()
_compiled: dict[tuple[str, str], tuple[Any, int]] = {}


class PythonNodeError(Exception):
    """A Python node failed; ``line`` is counted from the node code's first line when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def needs_rendering(code: str) -> bool:
    return "{{" in code or "{%" in code or "${" in code


def _compile(node: str, code: str) -> tuple[Any, int]:
    """(code object, line offset). Function-body code is wrapped in ``def __tea_node__():``."""
    key = (node, code)
    hit = _compiled.get(key)
    if hit is not None:
        return hit
    filename = f"<node {node}>"
    if _RETURN.search(code):
        source = f"def {_FUNCTION}():\n" + textwrap.indent(textwrap.dedent(code), "    ") + "\n"
        offset = 1
    else:
        source = textwrap.dedent(code)
        offset = 0
    try:
        compiled = compile(source, filename, "exec")
    except SyntaxError as exc:
        line = (exc.lineno or 0) - offset
        raise PythonNodeError(f"SyntaxError: {exc.msg}", line if line > 0 else None) from None
    result = (compiled, offset)
    if len(_compiled) < 4096:
        with _cache_lock:
            _compiled[key] = result
    return result


def run_python_node(node: str, code: str, state: dict[str, Any],
                    variables: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Run a Python node; returns the update to merge into the state (None = no change)."""
    if needs_rendering(code):
        try:
            code = expressions.render(code, state, variables)
        except expressions.ExpressionError as exc:
            raise PythonNodeError(f"template error: {exc}") from None
    compiled, offset = _compile(node, code)
    scope: dict[str, Any] = {"state": state, "variables": variables or {}, "json": json,
                             "__builtins__": __builtins__, "__name__": f"tea_node_{node}"}
    try:
        if offset:
            exec(compiled, scope)
            result = scope[_FUNCTION]()
        else:
            local_scope: dict[str, Any] = {}
            exec(compiled, scope, local_scope)
            result = {key: value for key, value in local_scope.items()
                      if not key.startswith("_") and not isinstance(value, types.ModuleType)}
    except Exception as exc:  # noqa: BLE001 - user code
        raise PythonNodeError(f"{type(exc).__name__}: {exc}", _error_line(exc, f"<node {node}>", offset)) from None
    if result is None:
        return None
    if isinstance(result, dict):
        return result
    return {"result": result}


def _error_line(exc: BaseException, filename: str, offset: int) -> int | None:
    line = None
    tb = exc.__traceback__ or sys.exc_info()[2]
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno - offset
        tb = tb.tb_next
    return line if line and line > 0 else None
