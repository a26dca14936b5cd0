"""The inputs a workflow declares: TEA's ``state_schema`` read as a template for a run's initial state.

``state_schema`` names the state's keys and their types (``word: str``, ``items: list``, or ``{type: int,
default: 3}``). A key the file neither sets in ``initial_state`` nor gives a default is something the user is
expected to pass; the run dialog starts from these keys so that a first run does not stop at a missing key.
"""

from __future__ import annotations

import copy
import re
from typing import Any

_EMPTY_OF_TYPE: dict[str, Any] = {
    "str": "", "string": "", "text": "", "int": 0, "integer": 0, "float": 0.0, "number": 0,
    "bool": False, "boolean": False, "list": [], "array": [], "tuple": [], "dict": {}, "object": {},
    "mapping": {},
}
_TYPE_WORD = re.compile(r"\s*([A-Za-z_]+)")


def _empty_value(type_name: Any) -> Any:
    """The empty value of a declared type (``list[str]`` → ``[]``); None for a type it does not know."""
    if not isinstance(type_name, str):
        return None
    match = _TYPE_WORD.match(type_name)
    return copy.deepcopy(_EMPTY_OF_TYPE.get(match.group(1).lower())) if match else None


def declared_inputs(workflow: Any) -> dict[str, Any]:
    """Each ``state_schema`` key missing from ``initial_state``, with its default or its type's empty value."""
    schema = getattr(workflow, "state_schema", None)
    if not isinstance(schema, dict):
        return {}
    initial = workflow.initial_state if isinstance(workflow.initial_state, dict) else {}
    inputs: dict[str, Any] = {}
    for key, spec in schema.items():
        if not isinstance(key, str) or key in initial:
            continue
        if isinstance(spec, dict):
            if "default" in spec:
                inputs[key] = copy.deepcopy(spec["default"])
                continue
            spec = spec.get("type")
        inputs[key] = _empty_value(spec)
    return inputs
