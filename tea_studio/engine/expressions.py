"""Conditions and templates: Jinja2's sandboxed environment and the two truthiness rules of FORMAT.md §4.

- goto ``if:`` (:func:`goto_condition_holds`): the expression is rendered to text; false exactly when the
  lower-cased, stripped text is "", "false", "0", "no" or "none" (so ``[]`` renders "[]" and is true).
- edge ``when``/``condition`` (:func:`edge_condition_holds`): ``true``/``false`` constants, ``!key`` = not
  ``state.key``, a bare ``key`` = ``state.key`` is truthy, otherwise the expression's native value with Python
  truthiness (``[]`` is false).

Expressions see ``state``, ``variables``, ``secrets`` and ``env``; dict entries read with dots or brackets and a
missing key is None. An expression that raises is reported to the caller as :class:`ExpressionError`; the runner
counts it as false and emits a warning.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

from jinja2.sandbox import SandboxedEnvironment

FALSE_TEXTS = frozenset({"", "false", "0", "no", "none"})
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SINGLE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expr>.*?)\}\}\s*$", re.S)
_VARIABLE_REF = re.compile(r"\$\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}")


class ExpressionError(Exception):
    """An expression failed to compile or to evaluate."""

    def __init__(self, expression: str, error: BaseException) -> None:
        super().__init__(f"{type(error).__name__}: {error}")
        self.expression = expression
        self.error = error


class _TeaEnvironment(SandboxedEnvironment):
    """Sandboxed Jinja2 where ``mapping.key`` reads the key first and a missing key is None."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, dict):
            if attribute in obj:
                return obj[attribute]
            if not hasattr(dict, attribute):
                return None
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, dict):
            try:
                return obj[argument] if argument in obj else None
            except TypeError:
                pass
        return super().getitem(obj, argument)


_ENV = _TeaEnvironment(autoescape=False, keep_trailing_newline=True)
_cache_lock = threading.Lock()
_expressions: dict[str, Any] = {}
_templates: dict[str, Any] = {}


_names: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("tea_template_names", default=None)


@contextlib.contextmanager
def template_names(names: dict[str, Any]) -> Iterator[None]:
    """Extra top-level names for every expression and template rendered in this thread meanwhile: a
    dynamic_parallel item's ``item_var``/``index_var`` (TEA's ``{{ url }}`` in an item's ``with:``)."""
    token = _names.set({**(_names.get() or {}), **names})
    try:
        yield
    finally:
        _names.reset(token)


def _context(state: dict[str, Any], variables: dict[str, Any] | None) -> dict[str, Any]:
    return {**(_names.get() or {}), "state": state, "variables": variables or {}, "secrets": {}, "env": os.environ}


def _compiled(cache: dict[str, Any], source: str, build: Any) -> Any:
    compiled = cache.get(source)
    if compiled is None:
        compiled = build(source)
        with _cache_lock:
            cache[source] = compiled
    return compiled


def evaluate(expression: str, state: dict[str, Any], variables: dict[str, Any] | None = None) -> Any:
    """The native value of a Jinja2 expression (``{{ expr }}`` around it is accepted)."""
    match = _SINGLE_EXPRESSION.match(expression)
    source = match.group("expr") if match else expression
    try:
        compiled = _compiled(_expressions, source, lambda s: _ENV.compile_expression(s, undefined_to_none=True))
        return compiled(**_context(state, variables))
    except Exception as exc:  # noqa: BLE001 - any failure of user code counts as false
        raise ExpressionError(expression, exc) from exc


def render(template: str, state: dict[str, Any], variables: dict[str, Any] | None = None) -> str:
    """Render a Jinja2 template to text (``${name}`` means ``variables[name]``)."""
    source = _VARIABLE_REF.sub(r"{{ variables.\1 }}", template)
    try:
        compiled = _compiled(_templates, source, _ENV.from_string)
        return compiled.render(**_context(state, variables))
    except Exception as exc:  # noqa: BLE001
        raise ExpressionError(template, exc) from exc


def render_value(value: Any, state: dict[str, Any], variables: dict[str, Any] | None = None) -> Any:
    """Templates inside ``with:``/``output:`` values: a string that is exactly one ``{{ expr }}`` keeps its type."""
    if isinstance(value, str):
        if _SINGLE_EXPRESSION.match(value):
            return evaluate(value, state, variables)
        if "{{" in value or "{%" in value or "${" in value:
            return render(value, state, variables)
        return value
    if isinstance(value, dict):
        return {k: render_value(v, state, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, state, variables) for v in value]
    return value


def text_is_true(text: str) -> bool:
    """The goto ``if:`` rule: false exactly for "", false, 0, no, none (lower-cased, stripped)."""
    return text.strip().lower() not in FALSE_TEXTS


def goto_condition_holds(expression: Any, state: dict[str, Any], variables: dict[str, Any] | None = None) -> bool:
    """Whether a goto rule's ``if:`` holds (renders to text). Raises :class:`ExpressionError`."""
    if expression is None:
        return True
    if isinstance(expression, bool):
        return expression
    if not isinstance(expression, str):
        return text_is_true(str(expression))
    template = expression if ("{{" in expression or "{%" in expression) else "{{ " + expression + " }}"
    try:
        return text_is_true(render(template, state, variables))
    except ExpressionError as exc:
        raise ExpressionError(expression, exc.error) from exc.error


def _edge_value_holds(expression: Any, state: dict[str, Any], variables: dict[str, Any] | None) -> bool:
    if isinstance(expression, bool):
        return expression
    if isinstance(expression, dict) and expression.get("type") == "expression" and "value" in expression:
        expression = expression["value"]  # TEA's `condition: {type: expression, value: expr}`
        if isinstance(expression, bool):
            return expression
    elif isinstance(expression, dict):
        raise ExpressionError(str(expression), ValueError("a condition mapping needs {type: expression, value: expr}"))
    if not isinstance(expression, str):
        return bool(expression)
    text = expression.strip()
    lowered = text.lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    if text.startswith("!") and not text.startswith("!="):
        return not _edge_value_holds(text[1:].strip(), state, variables)
    if _IDENTIFIER.match(text):
        return bool(state.get(text))
    if _SINGLE_EXPRESSION.match(text) or ("{{" not in text and "{%" not in text):
        return bool(evaluate(text, state, variables))
    return text_is_true(render(text, state, variables))


def edge_condition_holds(condition: Any, when: Any, state: dict[str, Any],
                         variables: dict[str, Any] | None = None,
                         on_error: Callable[[ExpressionError], None] | None = None) -> bool:
    """Whether a legacy edge is taken. ``condition`` + ``when: false`` is an else-edge.

    An expression that fails raises :class:`ExpressionError`, or, given ``on_error``, is reported to it and counts
    as false (so the else-edge of a failing condition is taken).
    """
    if condition is None and when is None:
        return True

    def holds(expression: Any) -> bool:
        try:
            return _edge_value_holds(expression, state, variables)
        except ExpressionError as exc:
            if on_error is None:
                raise
            on_error(exc)
            return False

    if condition is None:
        return holds(when)
    value = holds(condition)
    if when is None:
        return value
    if isinstance(when, bool):
        return value == when
    return value and holds(when)
