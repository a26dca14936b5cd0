"""Conditions and templates: a sandboxed, immutable Jinja2 environment and the two truthiness rules of FORMAT.md §4.

- goto ``if:`` (:func:`goto_condition_holds`): the expression is rendered to text; false exactly when the
  lower-cased, stripped text is "", "false", "0", "no" or "none" (so ``[]`` renders "[]" and is true).
- edge ``when``/``condition`` (:func:`edge_condition_holds`): ``true``/``false`` constants, ``!key`` = not
  ``state.key``, a bare ``key`` = ``state.key`` is truthy, otherwise the expression's native value with Python
  truthiness (``[]`` is false).

Expressions see ``state``, ``variables``, ``secrets`` and ``env`` (a copy of the environment, never the live one);
dict entries read with dots or brackets and a missing key is None. Nothing an expression does changes what it
sees (no mutating methods), and only plain data comes out of :func:`render_value` (no ranges, cyclers, namespaces,
no value that contains itself). Each evaluation runs against a deadline (the node's timeout) and a memory budget:
whatever could grow a value (repeating, joining, replacing, formatting, padding, turning a value into text) has
its size predicted and checked before it runs, one evaluation builds a bounded total, and templates with loops
are watched while they run. An expression that fails is an :class:`ExpressionError` (the runner counts it as false
and warns); one that breaks a sandbox rule is an :class:`ExpressionLimitError` (the run fails).
"""

from __future__ import annotations

import contextvars
import math
import os
import re
import string
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from jinja2 import meta, nodes
from jinja2.compiler import CodeGenerator
from jinja2.exceptions import SecurityError
from jinja2.runtime import str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace

from tea_studio.workflow.text import one_line

FALSE_TEXTS = frozenset({"", "false", "0", "no", "none"})
DEFAULT_TIMEOUT_S = 30.0
MAX_TEXT = 16 << 20  # characters of a rendered template, a string or a list an expression builds
SPLIT_COST = 4  # items charged per character for splitting text: each piece is a Python string of its own
MAX_BUILT = 4 * MAX_TEXT  # items one evaluation may build in all, its intermediate values included
MAX_WIDTH = 100_000  # a format width or a padding
MAX_POWER_BITS = 1 << 20  # bits of an integer power
MAX_DEPTH = 64  # nesting of a value that leaves an expression
MAX_SORTED = 1 << 20  # items one sort/unique/dictsort/groupby may order: one such call runs to its end in C
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SINGLE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\}\}|\{\{).)*)\}\}\s*$", re.S)  # one {{ }} only
_VARIABLE_REF = re.compile(r"\$\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}")
_BIG_NUMBER = re.compile(r"\d{6,}|\*")  # a width of 100000 or more, or one taken from the arguments
_WIDTHS = re.compile(r"\d+")  # every number in a format template (each could be a width)
_FORMATTER = string.Formatter()


class ExpressionError(Exception):
    """An expression failed to compile or to evaluate."""

    def __init__(self, expression: str, error: BaseException) -> None:
        super().__init__(one_line(f"{type(error).__name__}: {error}"))
        self.expression = expression
        self.error = error


class ExpressionLimitError(ExpressionError):
    """An expression broke a sandbox rule (a limit, an unsafe access, a value that is not plain data)."""

    def __init__(self, expression: str, error: BaseException) -> None:
        super().__init__(expression, error)
        self.rule = one_line(str(error))
        self.args = (self.rule,)

    def __str__(self) -> str:
        return self.rule


class _Limit(Exception):
    """A sandbox rule, raised inside an evaluation."""


def _refuse(rule: str) -> None:
    raise _Limit(rule)


def _check_width(text: str) -> None:
    if _BIG_NUMBER.search(text):
        _refuse(f"format widths are limited to {MAX_WIDTH - 1} (and cannot come from the arguments)")


def _percent_size(template: str, arguments: Any) -> int:
    """At most the characters ``template % arguments`` makes (the ``format`` filter too): its text, every width
    it names, and the arguments' text (a mapping's biggest value once per field: ``%(a)s`` can repeat)."""
    _check_width(template)
    fields = template.count("%")
    if isinstance(arguments, dict):
        used = fields * max((_text_size(value) for value in arguments.values()), default=0)
    else:
        used = _text_size(arguments)
    return len(template) + sum(int(width) for width in _WIDTHS.findall(template)) + used


def _braces_size(template: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """At most the characters ``template.format(*args, **kwargs)`` makes: every field may repeat the biggest
    argument, padded to its width; a width taken from the arguments (``{:{}}``) is refused."""
    _check_width(template)
    fields = widths = 0
    for _text, name, spec, _conversion in _FORMATTER.parse(template):
        if name is None:
            continue
        if spec and "{" in spec:
            _refuse(f"format widths are limited to {MAX_WIDTH - 1} (and cannot come from the arguments)")
        fields += 1
        widths += sum(int(width) for width in _WIDTHS.findall(spec or ""))
    biggest = max((_text_size(value) for value in (*args, *kwargs.values())), default=0)
    return len(template) + widths + fields * biggest


_PADDING_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})


def _size(value: Any) -> int:
    return len(value) if isinstance(value, str | list | tuple | dict) else 0


def _held_size(value: Any) -> int:
    """The size of a value a template keeps between loop steps (a namespace's attributes count too)."""
    if isinstance(value, Namespace):
        return max((_size(item) for item in object.__getattribute__(value, "_Namespace__attrs").values()), default=0)
    return _size(value)


def _text_size(value: Any, limit: int = MAX_TEXT) -> int:
    """Roughly the characters ``str(value)`` takes, a part shared N times counted N times (as the text repeats
    it); stops counting past ``limit``."""
    total, stack = 0, [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item) + 2
        elif isinstance(item, dict):
            total += 2 + 4 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            total += 2 + 2 * len(item)
            stack.extend(item)
        elif isinstance(item, Namespace):
            total += 12
            stack.append(object.__getattribute__(item, "_Namespace__attrs"))
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 1
        else:
            total += 24
    return total


class _Spent:
    """What one evaluation has built so far, in items (characters, list entries)."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items = 0


_spent: contextvars.ContextVar[_Spent | None] = contextvars.ContextVar("tea_expression_spent", default=None)


def _build(items: int, what: str = "a string or list") -> None:
    """Charge ``items`` an operation is about to build: one value holds at most MAX_TEXT items, one evaluation
    builds at most MAX_BUILT in all (intermediate values count: they were allocated)."""
    if items > MAX_TEXT:
        _refuse(f"{what} is limited to {MAX_TEXT:,} items")
    spent = _spent.get()
    if spent is not None:
        spent.items += items
        if spent.items > MAX_BUILT:
            _refuse(f"an expression builds at most {MAX_BUILT:,} items in all")


def _replaced_size(text: Any, old: Any, new: Any, count: Any = None) -> int:
    text, old, new = str(text), str(old), str(new)
    times = text.count(old) if old else len(text) + 1
    if type(count) is int and count >= 0:
        times = min(times, count)
    return len(text) + times * max(len(new) - len(old), 0)


def _joined_items(items: Any, separator: Any) -> list[Any]:
    """``items`` as a list (an iterator is read once, so it can be measured), charged with the separators."""
    items = items if isinstance(items, list | tuple) else list(items)
    _build(_text_size(items) + len(str(separator)) * max(len(items) - 1, 0), "joined text")
    return items


def _check_join(value: Any, d: Any = "", attribute: Any = None) -> Any:
    return _joined_items(value, d)


def _check_replace(value: Any, old: Any, new: Any, count: Any = None) -> Any:
    _build(_replaced_size(value, old, new, count), "replaced text")
    return value


def _check_indent(value: Any, width: Any = 4, first: Any = False, blank: Any = False) -> Any:
    if type(width) is int and abs(width) >= MAX_WIDTH:
        _refuse(f"the 'indent' filter's width is limited to {MAX_WIDTH - 1}")
    text = str(value)
    step = len(width) if isinstance(width, str) else max(int(width), 0)
    _build(len(text) + (text.count("\n") + 1) * step, "indented text")
    return value


def _check_format(value: Any, *args: Any, **kwargs: Any) -> Any:
    _build(_percent_size(str(value), kwargs or args), "formatted text")
    return value


def _check_width_filter(name: str) -> Callable[..., Any]:
    def check(value: Any, *args: Any, **kwargs: Any) -> Any:
        for width in (*args, *kwargs.values()):
            if type(width) is int and abs(width) >= MAX_WIDTH:
                _refuse(f"the '{name}' filter's width is limited to {MAX_WIDTH - 1}")
        _build(_text_size(value), "text")
        return value
    return check


def _check_text(value: Any, *args: Any, **kwargs: Any) -> Any:
    """Filters that turn a value into text: the value's text must fit (a list that repeats one big string)."""
    _build(_text_size(value), "text")
    return value


def _check_split_text(value: Any, *args: Any, **kwargs: Any) -> Any:
    """Filters that split text into words or lines hold every piece at once (tens of bytes each)."""
    _build(SPLIT_COST * _text_size(value), "text split into words or lines")
    _check_width_filter("wordwrap")(value, *args, **kwargs)
    return value


def _check_sum(value: Any, attribute: Any = None, start: Any = 0) -> Any:
    if type(start) not in (int, float, bool):
        _refuse("the 'sum' filter adds numbers only (start must be a number)")
    return value


def _check_slices(value: Any, count: Any, fill_with: Any = None) -> Any:
    items = value if isinstance(value, list | tuple) else list(value)
    groups = count if type(count) is int else 0
    _build(len(items) + 8 * max(groups, 0), "sliced list")
    return items


def _check_batch(value: Any, linecount: Any, fill_with: Any = None) -> Any:
    items = value if isinstance(value, list | tuple) else list(value)
    per = linecount if type(linecount) is int and linecount > 0 else 1
    _build(len(items) + 8 * (len(items) // per + 1), "batched list")
    return items


def _check_ordered(value: Any, *args: Any, **kwargs: Any) -> Any:
    """Sorting is the one filter whose single call takes seconds on values within the sizes above (it runs inside
    C, past any deadline check): it orders at most MAX_SORTED items."""
    items = value if isinstance(value, list | tuple | dict | str) else list(value)
    if len(items) > MAX_SORTED:
        _refuse(f"sorting or grouping is limited to {MAX_SORTED:,} items")
    return items


_FILTER_CHECKS: dict[str, Callable[..., Any]] = {
    "join": _check_join, "replace": _check_replace, "indent": _check_indent, "format": _check_format,
    "center": _check_width_filter("center"), "wordwrap": _check_split_text, "title": _check_split_text,
    "wordcount": _check_split_text, "urlize": _check_split_text,
    "truncate": _check_width_filter("truncate"), "sum": _check_sum, "slice": _check_slices, "batch": _check_batch,
    **{name: _check_ordered for name in ("sort", "unique", "dictsort", "groupby")},
    **{name: _check_text for name in ("string", "tojson", "pprint", "escape", "e", "forceescape", "urlencode",
                                       "xmlattr")},
}


def _bounded_filter(original: Callable[..., Any], check: Callable[..., Any]) -> Callable[..., Any]:
    """``original`` behind ``check(value, *args, **kwargs)``, which refuses what would be too big and returns
    the value to use (an iterator becomes the list it was measured as)."""
    passed = 1 if "jinja_pass_arg" in original.__dict__ else 0  # jinja's context/eval context/environment

    def bounded(*args: Any, **kwargs: Any) -> Any:
        head, value, rest = args[:passed], args[passed], args[passed + 1:]
        return original(*head, check(value, *rest, **kwargs), *rest, **kwargs)

    bounded.__dict__.update(original.__dict__)  # keeps jinja's pass_context/pass_environment marks
    return bounded


class _TeaEnvironment(ImmutableSandboxedEnvironment):
    """Sandboxed, immutable Jinja2 where ``mapping.key`` reads the key first and a missing key is None; operators,
    methods and filters that could allocate without bound check their sizes first."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})

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

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for sequence, count in ((left, right), (right, left)):
                if _size(sequence) and type(count) is int:
                    _build(_size(sequence) * count, "a repeated string or list")
        elif operator == "+":
            _build(_size(left) + _size(right))
        elif operator == "**":
            if type(left) is int and type(right) is int and abs(left) > 1 and \
                    right * max(abs(left).bit_length(), 1) > MAX_POWER_BITS:
                _refuse(f"integer powers are limited to {MAX_POWER_BITS:,} bits")
        elif operator == "%" and isinstance(left, str):
            _build(_percent_size(left, right), "formatted text")
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 - jinja's form
        method = getattr(__obj, "__wrapped__", __obj)  # the sandbox wraps str.format
        owner = getattr(method, "__self__", None)
        if isinstance(owner, str):
            name = getattr(method, "__name__", "")
            if name in _PADDING_METHODS:
                if any(type(a) is int and abs(a) >= MAX_WIDTH for a in args):
                    _refuse(f"str.{name} widths are limited to {MAX_WIDTH - 1}")
                width = next((a for a in args if type(a) is int), 8)
                _build(len(owner) + max(width, 0) * (owner.count("\t") + 1 if name == "expandtabs" else 1), "text")
            elif name in ("format", "format_map"):
                _build(_braces_size(owner, args, kwargs), "formatted text")
            elif name == "replace" and len(args) >= 2:
                _build(_replaced_size(owner, *args[:3]), "replaced text")
            elif name in ("split", "rsplit", "splitlines"):
                _build(SPLIT_COST * len(owner), "text split into words or lines")
            elif name == "join" and len(args) == 1:
                args = (_joined_items(args[0], owner),)
        return super().call(__context, __obj, *args, **kwargs)

    def concat(self, parts: tuple[Any, ...]) -> str:
        """``a ~ b``: the parts' text is measured before it is joined."""
        _build(sum(_text_size(part) for part in parts), "joined text")
        return str_join(parts)


class _TeaCodeGenerator(CodeGenerator):
    """Compiles ``~`` to the environment's measured :meth:`_TeaEnvironment.concat`."""

    def visit_Concat(self, node: nodes.Concat, frame: Any) -> None:  # noqa: N802 - jinja's visitor name
        self.write("environment.concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


def _finalize(value: Any) -> Any:
    """What a ``{{ }}`` in a template prints: its text must fit before it is made."""
    if not isinstance(value, str):
        _build(_text_size(value), "rendered text")
    return value


_TeaEnvironment.code_generator_class = _TeaCodeGenerator
_ENV = _TeaEnvironment(autoescape=False, keep_trailing_newline=True, finalize=_finalize)
_ENV.globals.pop("lipsum", None)  # unbounded text on request; not part of what TEA documents
for _name, _check in _FILTER_CHECKS.items():
    _ENV.filters[_name] = _bounded_filter(_ENV.filters[_name], _check)
_cache_lock = threading.Lock()
_expressions: dict[str, Any] = {}
_templates: dict[str, Any] = {}


class _Compiled:
    """A compiled expression or template, and what running it needs."""

    __slots__ = ("run", "uses_env", "loops")

    def __init__(self, run: Any, ast: nodes.Template) -> None:
        self.run = run
        self.uses_env = "env" in meta.find_undeclared_variables(ast)
        self.loops = any(True for _ in ast.find_all((nodes.For, nodes.Macro, nodes.CallBlock)))


_names: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("tea_template_names", default=None)


class template_names:  # named as the function it replaced: `with template_names(names):`
    """Extra top-level names for every expression and template rendered in this thread meanwhile: a
    dynamic_parallel item's ``item_var``/``index_var`` (TEA's ``{{ url }}`` in an item's ``with:``). A class, not
    a generator: entered once per branch and per loop item, where contextlib's machinery costs more than the rest."""

    __slots__ = ("names", "token")

    def __init__(self, names: dict[str, Any]) -> None:
        self.names = names

    def __enter__(self) -> None:
        self.token = push_names(self.names)

    def __exit__(self, *exc_info: object) -> None:
        _names.reset(self.token)


def push_names(names: dict[str, Any]) -> contextvars.Token:
    """Add ``names`` for this thread until :func:`pop_names` (what ``with template_names(names)`` does, without
    the object: a walk does it once per branch)."""
    outer = _names.get()
    return _names.set(names if outer is None else {**outer, **names})


pop_names = _names.reset


def workflow_names(settings: dict[str, Any] | None, sections: dict[str, Any] | None) -> dict[str, Any]:
    """TEA's template names from the workflow itself (yaml_templates.py): ``settings`` (its ``settings:``) and
    ``data`` (its ``data:`` section of reusable prompts and constants)."""
    data = (sections or {}).get("data")
    return {"settings": settings or {}, "data": data if isinstance(data, dict) else {}}


def _compile_expression(source: str) -> _Compiled:
    ast = _ENV.parse("{{ " + source + " }}")
    return _Compiled(_ENV.compile_expression(source, undefined_to_none=True), ast)


def _compile_template(source: str) -> _Compiled:
    return _Compiled(_ENV.from_string(source), _ENV.parse(source))


def _compiled(cache: dict[str, Any], source: str, build: Any) -> _Compiled:
    compiled = cache.get(source)
    if compiled is None:
        compiled = build(source)
        with _cache_lock:
            cache[source] = compiled
    return compiled


def _context(compiled: _Compiled, state: dict[str, Any], variables: dict[str, Any] | None) -> dict[str, Any]:
    return {**(_names.get() or {}), "state": state, "variables": variables if variables is not None else {},
            "secrets": {}, "env": dict(os.environ) if compiled.uses_env else {}}


class _Watch:
    """Traces a template with loops while it runs: past the deadline, or once a local value grows past the
    budget, it stops the template. Only frames of template code are traced (Jinja's own helpers run at full
    speed)."""

    __slots__ = ("deadline", "events")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.events = 0

    def calls(self, frame: Any, event: str, arg: Any) -> Any:
        return self.lines if frame.f_code.co_filename == "<template>" else None

    def lines(self, frame: Any, event: str, arg: Any) -> Any:
        self.events += 1
        if not self.events & 3:
            if time.monotonic() > self.deadline:
                raise _Limit("execution timeout")
            for value in frame.f_locals.values():
                if _held_size(value) > MAX_TEXT:
                    raise _Limit(f"a string or list is limited to {MAX_TEXT:,} items")
        return self.lines


def _watched(compiled: _Compiled, deadline: float | None, work: Callable[[], Any]) -> Any:
    token = _spent.set(_Spent())
    try:
        return _traced(compiled, deadline, work)
    finally:
        _spent.reset(token)


def _traced(compiled: _Compiled, deadline: float | None, work: Callable[[], Any]) -> Any:
    if not compiled.loops:
        return work()
    watch = _Watch(time.monotonic() + DEFAULT_TIMEOUT_S if deadline is None else deadline)
    previous = sys.gettrace()
    sys.settrace(watch.calls)
    try:
        return work()
    finally:
        sys.settrace(previous)


def _evaluated(expression: str, work: Callable[[], Any]) -> Any:
    try:
        return work()
    except (_Limit, SecurityError, MemoryError, RecursionError) as exc:
        raise ExpressionLimitError(expression, exc) from None
    except ExpressionError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure of user code counts as false
        raise ExpressionError(expression, exc) from exc


def evaluate(expression: str, state: dict[str, Any], variables: dict[str, Any] | None = None, *,
             deadline: float | None = None) -> Any:
    """The native value of a Jinja2 expression (``{{ expr }}`` around it is accepted)."""
    match = _SINGLE_EXPRESSION.match(expression)
    source = match.group("expr") if match else expression

    def work() -> Any:
        compiled = _compiled(_expressions, source, _compile_expression)
        return _watched(compiled, deadline, lambda: compiled.run(**_context(compiled, state, variables)))

    return _evaluated(expression, work)


def render(template: str, state: dict[str, Any], variables: dict[str, Any] | None = None, *,
           deadline: float | None = None) -> str:
    """Render a Jinja2 template to text (``${name}`` means ``variables[name]``), at most MAX_TEXT characters."""
    source = _VARIABLE_REF.sub(r"{{ variables.\1 }}", template)

    def work() -> str:
        compiled = _compiled(_templates, source, _compile_template)

        def text() -> str:
            pieces, size = [], 0
            for piece in compiled.run.generate(**_context(compiled, state, variables)):
                size += len(piece)
                if size > MAX_TEXT:
                    _refuse(f"rendered text is limited to {MAX_TEXT:,} characters")
                pieces.append(piece)
            return "".join(pieces)

        return _watched(compiled, deadline, text)

    return _evaluated(template, work)


def plain_data(value: Any, depth: int = 0) -> Any:
    """``value`` as plain data (None, bool, int, finite float, str, list, dict), copied; raises _Limit for
    anything else (a range, a cycler, a namespace, a value that contains itself)."""
    kind = type(value)
    if value is None or kind is bool or kind is int or kind is str:
        return value
    if depth >= MAX_DEPTH:
        _refuse(f"values nest at most {MAX_DEPTH} levels deep (or the value contains itself)")
    if kind is float:
        if not math.isfinite(value):
            _refuse(f"{value} is not a JSON number")
        return value
    if isinstance(value, str):
        return str(value)  # Markup and other str subclasses
    if kind is list or kind is tuple:
        return [plain_data(item, depth + 1) for item in value]
    if kind is dict:
        out = {}
        for key, item in value.items():
            if type(key) not in (str, int, bool):
                _refuse(f"a key of type {type(key).__name__} is not plain data")
            out[key] = plain_data(item, depth + 1)
        return out
    if getattr(type(value), "__module__", "").startswith("jinja2") and type(value).__name__.endswith("Undefined"):
        return None
    _refuse(f"the value is a Python {type(value).__name__}, not plain data")


def render_value(value: Any, state: dict[str, Any], variables: dict[str, Any] | None = None, *,
                 deadline: float | None = None) -> Any:
    """Templates inside ``with:``/``output:`` values: a string that is exactly one ``{{ expr }}`` keeps its type
    (as plain data: an expression that yields anything else breaks a sandbox rule)."""
    if isinstance(value, str):
        if _SINGLE_EXPRESSION.match(value):
            result = evaluate(value, state, variables, deadline=deadline)
            return _evaluated(value, lambda: plain_data(result))
        if "{{" in value or "{%" in value or "${" in value:
            return render(value, state, variables, deadline=deadline)
        return value
    if isinstance(value, dict):
        return {k: render_value(v, state, variables, deadline=deadline) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, state, variables, deadline=deadline) for v in value]
    return value


def text_is_true(text: str) -> bool:
    """The goto ``if:`` rule: false exactly for "", false, 0, no, none (lower-cased, stripped)."""
    return text.strip().lower() not in FALSE_TEXTS


def goto_condition_holds(expression: Any, state: dict[str, Any], variables: dict[str, Any] | None = None, *,
                         deadline: float | None = None) -> bool:
    """Whether a goto rule's ``if:`` holds (renders to text). Raises :class:`ExpressionError`."""
    if expression is None:
        return True
    if isinstance(expression, bool):
        return expression
    if not isinstance(expression, str):
        return text_is_true(str(expression))
    template = expression if ("{{" in expression or "{%" in expression) else "{{ " + expression + " }}"
    try:
        return text_is_true(render(template, state, variables, deadline=deadline))
    except ExpressionError as exc:
        raise type(exc)(expression, exc.error) from exc.error


def _edge_value_holds(expression: Any, state: dict[str, Any], variables: dict[str, Any] | None,
                      deadline: float | None) -> bool:
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
        return not _edge_value_holds(text[1:].strip(), state, variables, deadline)
    if _IDENTIFIER.match(text):
        return bool(state.get(text))
    if _SINGLE_EXPRESSION.match(text) or ("{{" not in text and "{%" not in text):
        value = evaluate(text, state, variables, deadline=deadline)
        return _evaluated(text, lambda: bool(value))
    return text_is_true(render(text, state, variables, deadline=deadline))


def edge_condition_holds(condition: Any, when: Any, state: dict[str, Any],
                         variables: dict[str, Any] | None = None,
                         on_error: Callable[[ExpressionError], None] | None = None, *,
                         deadline: float | None = None) -> bool:
    """Whether a legacy edge is taken. ``condition`` + ``when: false`` is an else-edge.

    An expression that fails raises :class:`ExpressionError`, or, given ``on_error``, is reported to it and counts
    as false (so the else-edge of a failing condition is taken). A broken sandbox rule always raises
    :class:`ExpressionLimitError`.
    """
    if condition is None and when is None:
        return True

    def holds(expression: Any) -> bool:
        try:
            return _edge_value_holds(expression, state, variables, deadline)
        except ExpressionError as exc:
            if on_error is None or isinstance(exc, ExpressionLimitError):
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
