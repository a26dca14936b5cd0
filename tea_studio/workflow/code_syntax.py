"""Whether node code parses, without running it: Python under TEA's inline rules, Lua in a fresh Lua 5.4 runtime.

Used by validation and by the loader (which tells Lua written without a language from Python).
"""

from __future__ import annotations

import ast
import re
import textwrap

_LUA_CHUNK = "node"
_LUA_MESSAGE = re.compile(rf"^{_LUA_CHUNK}:(\d+): (.*)$", re.DOTALL)


class LuaSyntaxChecker:
    """Compiles Lua chunks without running them, in one fresh ``lupa.lua54`` runtime kept for its lifetime."""

    def __init__(self) -> None:
        import lupa.lua54

        self._load = lupa.lua54.LuaRuntime(register_eval=False).globals().load

    def __call__(self, code: str) -> tuple[int, str] | None:
        try:
            result = self._load(code, "=" + _LUA_CHUNK, "t")
        except (UnicodeError, MemoryError) as exc:  # e.g. a lone surrogate that cannot become UTF-8
            return 1, str(exc) or type(exc).__name__
        if not isinstance(result, tuple) or result[0] is not None:
            return None
        message = str(result[1])
        match = _LUA_MESSAGE.match(message)
        if match:
            return int(match.group(1)), match.group(2)
        return 1, message


def lua_syntax_error(code: str) -> tuple[int, str] | None:
    """``(line, message)`` when ``code`` (a node's Lua body, ``local state = ...``) does not compile, else None.

    The line counts from the code's first line. The code is compiled in a fresh Lua 5.4 runtime, never run.
    """
    return LuaSyntaxChecker()(code)


_TEMPLATE_MARKERS = ("{{", "{%", "${")


def python_syntax_error(code: str) -> tuple[int, str] | None:
    """``(line, message)`` when inline Python code does not parse under TEA's rules, else None.

    Code containing ``return`` is a function body; templated code (``{{``, ``{%``, ``${``) is only known after
    rendering and is not checked.
    """
    if any(marker in code for marker in _TEMPLATE_MARKERS):
        return None
    code = textwrap.dedent(code)
    as_function = "return" in code
    source = "def _node():\n" + "".join("    " + line for line in code.splitlines(True)) if as_function else code
    if as_function and not source.endswith("\n"):
        source += "\n"
    if as_function and not code.strip():
        source += "    pass\n"
    try:
        compile(source, "<node>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as exc:
        line = (exc.lineno or 1) - (1 if as_function else 0)
        return max(line, 1), exc.msg
    except (ValueError, RecursionError, MemoryError) as exc:  # e.g. a NUL character, absurd nesting
        return 1, str(exc) or type(exc).__name__
    return None
