"""A run's inputs (its initial state) as the user gives them: ``--input`` on the command line or the studio's
inputs dialog. One contract for every entry point:

- a JSON object, or ``@file`` (JSON, or YAML when the name ends in .yaml/.yml); blank means ``{}``;
- a file is read up to :data:`MAX_INPUT_BYTES` (``@/dev/zero`` fails at once, it is never read to the end);
- values nest at most :data:`MAX_DEPTH` levels; NaN and Infinity are refused (the output must stay JSON); YAML
  aliases are bounded like in workflow files;
- anything wrong is one :class:`InputError` line that never echoes the file's content.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_INPUT_BYTES = 64 << 20
MAX_DEPTH = 64


class InputError(ValueError):
    """Inputs that cannot start a run. ``where`` names the source, ``problem`` says what is wrong (located)."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where} {problem}")
        self.where = where
        self.problem = problem


def parse_inputs(text: str | None, *, where: str = "--input", files: bool = True) -> dict[str, Any]:
    """The inputs ``text`` describes (see the module docstring); ``files=False`` reads ``@...`` as JSON."""
    if text is None or not text.strip():
        return {}
    if files and text.startswith("@"):
        path = text[1:]
        where = f"input file {path}"
        content = _read_bounded(path, where)
        if path.lower().endswith((".yaml", ".yml")):
            value = _yaml_value(content, where)
        else:
            value = _json_value(content, where)
    else:
        value = _json_value(text, where)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError(where, f"must be a JSON object, e.g. {{\"value\": 7}} (got {_kind(value)})")
    _check_depth(value, where)
    return value


def _read_bounded(path: str, where: str) -> str:
    try:
        with open(path, "rb") as stream:
            data = stream.read(MAX_INPUT_BYTES + 1)
    except OSError as exc:
        raise InputError(where, f"cannot be read: {exc.strerror or exc}") from None
    if len(data) > MAX_INPUT_BYTES:
        raise InputError(where, f"is larger than {MAX_INPUT_BYTES >> 20} MiB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(where, f"is not UTF-8 text (byte {exc.start})") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _json_value(text: str, where: str) -> Any:
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise InputError(where, f"is not valid JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise InputError(where, f"is not valid JSON: values nest more than {MAX_DEPTH} levels deep") from None
    except ValueError as exc:
        raise InputError(where, f"is not valid JSON: {exc}") from None


def _yaml_value(text: str, where: str) -> Any:
    import yaml

    from tea_studio.workflow.yaml_io import WorkflowError, compose

    if not text.strip():
        return None
    try:
        root = compose(text)  # bounded depth and alias expansion; errors name line and column, not the text
        value = yaml.constructor.SafeConstructor().construct_document(root)
    except WorkflowError as exc:
        raise InputError(where, f"is not valid YAML: line {exc.line}, column {exc.col}: "
                                f"{exc.message.removeprefix('invalid YAML: ')}") from None
    except (yaml.YAMLError, ValueError, TypeError, RecursionError) as exc:
        raise InputError(where, f"is not valid YAML: {type(exc).__name__}") from None
    _check_numbers(value, where)
    return value


def _check_numbers(value: Any, where: str) -> None:
    """YAML's ``.nan``/``.inf``: refused like JSON's NaN/Infinity."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise InputError(where, f"holds {item}, which is not a JSON number")
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _check_depth(value: Any, where: str) -> None:
    """At most MAX_DEPTH levels, and text that is valid Unicode (JSON's ``"\\ud800"`` escapes make lone
    surrogates, which no UTF-8 text, Lua string or output file can hold)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InputError(where, f"nests values more than {MAX_DEPTH} levels deep")
        if isinstance(item, dict):
            for key in item:
                _check_text(key, where)
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
        else:
            _check_text(item, where)


def _check_text(item: Any, where: str) -> None:
    if isinstance(item, str) and _SURROGATE.search(item):
        raise InputError(where, "has text that is not valid Unicode (a lone surrogate such as \\ud800)")


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return type(value).__name__
