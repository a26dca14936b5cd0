"""TEA's inline-Python node rules (FORMAT.md §6). Python code is trusted: it is not sandboxed.

- The code is rendered as a Jinja2 template first when it contains ``{{``, ``{%`` or ``${`` (``${name}`` =
  ``variables[name]``).
- If the word ``return`` appears, the code is the body of a function; its result is the update.
- Otherwise the code runs as a block and every name it sets not starting with ``_`` becomes the update
  (imported modules, functions and classes excepted: they cannot live in a state). Its top-level names are visible inside its
  comprehensions and functions (TEA's separate locals dict hides them: NameError there).
- A non-dict result becomes ``{"result": value}``; None changes nothing.
- In-place writes to top-level keys (``state["k"] = v``) are kept, as TEA keeps them (the result wins).
- Globals: ``state``, ``variables``, ``json`` and, when the state has it, ``parallel_results`` (a fan-in reads
  the bare name in TEA). ``print()`` without ``file=`` goes to the run's log, never to stdout (where the
  headless run prints its JSON).
- A node with ``streams:`` reads and writes its channels through ``import sys`` (engine/streams.py).
"""

from __future__ import annotations

import builtins
import json
import re
import sys
import textwrap
import threading
import types
from collections.abc import Callable
from typing import Any

from tea_studio.engine import expressions

_RETURN = re.compile(r"\breturn\b")
_NOT_DATA = (types.ModuleType, types.FunctionType, type)  # imports, helper functions, classes: never state
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


def _printer(on_print: Callable[[str], None] | None, stdout: Any = None) -> Callable[..., None]:
    """``print`` for node code: text goes to ``on_print`` (the run's log) unless a ``file`` is given, or to
    ``stdout`` (a stream node's channel) when there is one."""

    def node_print(*args: Any, sep: str | None = " ", end: str | None = "\n", file: Any = None,
                   flush: bool = False) -> None:
        if file is None and stdout is not None:
            file = stdout
        if file is not None and file is not sys.stdout and file is not sys.__stdout__:
            builtins.print(*args, sep=sep, end=end, file=file, flush=flush)
            return
        text = (" " if sep is None else sep).join(str(arg) for arg in args)
        if on_print is None:
            builtins.print(text, file=sys.stderr)
        else:
            on_print(text)

    return node_print


def _globals(node: str, state: dict[str, Any], variables: dict[str, Any] | None,
             on_print: Callable[[str], None] | None, stdio: Any = None) -> dict[str, Any]:
    scope: dict[str, Any] = {"state": state, "variables": variables or {}, "json": json,
                             "__builtins__": builtins, "__name__": f"tea_node_{node}", "print": _printer(on_print)}
    if stdio is not None:  # a stream node (engine/streams.py): its own `import sys`, and print() to its stdout
        scope["__builtins__"] = stdio.builtins
        scope["print"] = _printer(on_print, stdio.stdout)
    if "parallel_results" in state:
        scope["parallel_results"] = state["parallel_results"]
    return scope


def _render(code: str, state: dict[str, Any], variables: dict[str, Any] | None) -> str:
    if not needs_rendering(code):
        return code
    try:
        return expressions.render(code, state, variables)
    except expressions.ExpressionError as exc:
        raise PythonNodeError(f"template error: {exc}") from None


def run_python_node(node: str, code: str, state: dict[str, Any], variables: dict[str, Any] | None = None,
                    on_print: Callable[[str], None] | None = None, stdio: Any = None) -> dict[str, Any] | None:
    """Run a Python node on ``state`` (a copy the node may change); returns the update to merge (None = none).
    ``stdio``: a stream node's channels (:class:`tea_studio.engine.streams.NodeStdio`)."""
    code = _render(code, state, variables)
    compiled, offset = _compile(node, code)
    scope = _globals(node, state, variables, on_print, stdio)
    before = dict(state)
    try:
        if offset:
            exec(compiled, scope)
            result = scope[_FUNCTION]()
        else:  # one namespace, so that comprehensions and functions in the code see its top-level names
            given = dict(scope)
            exec(compiled, scope)
            result = {key: value for key, value in scope.items()
                      if not key.startswith("_") and not isinstance(value, _NOT_DATA)
                      and (key not in given or given[key] is not value)}
    except Exception as exc:  # noqa: BLE001 - user code
        raise PythonNodeError(f"{type(exc).__name__}: {exc}", _error_line(exc, f"<node {node}>", offset)) from None
    written = {key: value for key, value in state.items() if key not in before or before[key] is not value}
    if result is None:
        return written or None
    if not isinstance(result, dict):
        result = {"result": result}
    return {**written, **result} if written and result is not state else result


def run_snippet(label: str, code: str, names: dict[str, Any], on_print: Callable[[str], None] | None = None) -> Any:
    """TEA's inline code inside an action (reflection.loop's generator, evaluator, corrector): the code runs in one
    namespace holding ``names``; its value is the variable ``result`` when it sets one, else ``output`` when it
    changed it, else None. Code with a ``return`` statement (not merely the word) runs as a function body and its
    returned value counts."""
    filename = f"<node {label}>"
    try:
        compiled, offset = compile(textwrap.dedent(code), filename, "exec"), 0
    except SyntaxError as exc:
        if "outside function" not in str(exc.msg):
            line = exc.lineno or 0
            raise PythonNodeError(f"SyntaxError: {exc.msg}", line if line > 0 else None) from None
        compiled, offset = _compile(label, code)
    scope = {"json": json, "re": re, **names, "__builtins__": builtins, "__name__": f"tea_{label}",
             "print": _printer(on_print)}
    try:
        exec(compiled, scope)
        if offset:
            return scope[_FUNCTION]()
    except Exception as exc:  # noqa: BLE001 - user code
        raise PythonNodeError(f"{type(exc).__name__}: {exc}", _error_line(exc, filename, offset)) from None
    if "result" in scope:
        return scope["result"]
    if "output" in scope and scope["output"] is not names.get("output"):
        return scope["output"]
    return None


def evaluate_expression(node: str, expression: str, state: dict[str, Any],
                        variables: dict[str, Any] | None = None) -> Any:
    """TEA's ``run: {type: expression, value: ...}``: a Python expression over ``state`` (rendered first when it
    holds a template). Trusted code, like a Python node."""
    source = _render(expression, state, variables).strip()
    try:
        compiled = compile(source, f"<node {node}>", "eval")
    except SyntaxError as exc:
        raise PythonNodeError(f"SyntaxError in expression: {exc.msg}") from None
    try:
        return eval(compiled, _globals(node, state, variables, None))  # noqa: S307 - trusted, as TEA runs it
    except Exception as exc:  # noqa: BLE001 - user code
        raise PythonNodeError(f"{type(exc).__name__}: {exc}") from None


def _error_line(exc: BaseException, filename: str, offset: int) -> int | None:
    line = None
    tb = exc.__traceback__ or sys.exc_info()[2]
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno - offset
        tb = tb.tb_next
    return line if line and line > 0 else None
