"""Actions that only touch the state: state.set, return / core.return, template, lua.eval, schema.merge."""

from __future__ import annotations

import json
from typing import Any

from tea_studio.engine.actions.context import ActionContext, ActionError, ActionStopped
from tea_studio.engine.actions.registry import builtin
from tea_studio.engine.lua_vm import LuaNodeError, discard_vm, take_vm


@builtin("state.set")
def state_set(params: dict[str, Any], state: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    """``with: {key: value, ...}`` merges those keys; the Rust form ``{key: name, value: v}`` sets one key."""
    if set(params) == {"key", "value"} and isinstance(params["key"], str):
        return {params["key"]: params["value"]}
    return dict(params)


@builtin("return")
def return_(params: dict[str, Any], state: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    return dict(params)


@builtin("template")
def template(params: dict[str, Any], state: dict[str, Any], context: ActionContext) -> Any:
    """The template was rendered with the other parameters; the text is the result."""
    return params["template"]


@builtin("lua.eval")
def lua_eval(params: dict[str, Any], state: dict[str, Any], context: ActionContext) -> Any:
    """Run the code in a fresh sandboxed VM (never the flow's own) with the run's Lua limits; the value the code
    returns is the result."""
    vm = take_vm().configure(context.lua_timeout, context.lua_max_memory_mb, context.stopped, context.log)
    # Wrapped so that any returned value (a number, a list...) comes back as it is; the code keeps line 1.
    wrapped = "return { value = (function() " + params["code"] + "\nend)() }"
    try:
        update = vm.run_node(context.node or "lua.eval", wrapped, state)
    except LuaNodeError as exc:
        if exc.kind == "stopped":
            raise ActionStopped() from None
        raise ActionError(f"lua.eval{f' line {exc.line}' if exc.line else ''}: {exc.message}") from None
    finally:
        discard_vm(vm)
    return (update or {}).get("value")


# -- schema.merge ----------------------------------------------------------------------------------------------------
def deep_merge(base: Any, overlay: Any) -> Any:
    """kubectl-style merge (TEA's rule): mappings merge key by key, arrays and scalars are replaced (last wins),
    and null can override a value."""
    if isinstance(base, dict) and isinstance(overlay, dict):
        merged = dict(base)
        for key, value in overlay.items():
            merged[key] = deep_merge(base[key], value) if key in base else value
        return merged
    return overlay


def _load_schema(spec: Any, context: ActionContext) -> Any:
    if not isinstance(spec, dict):
        raise ValueError(f"a schema source must be a mapping with inline or path, not {type(spec).__name__}")
    if "inline" in spec:
        return spec["inline"]
    if "path" in spec:
        path = context.resolve_path(str(spec["path"]))
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
        if path.endswith((".yaml", ".yml")):
            import yaml

            return yaml.safe_load(text)
        return json.loads(text)
    raise ValueError(f"a schema source needs 'inline' or 'path', got {sorted(spec)}")


@builtin("schema.merge")
def schema_merge(params: dict[str, Any], state: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    """Returns ``{success, <output_key>: merged}``; a source that cannot be loaded gives ``{success: false,
    error, errors}`` as TEA does."""
    loaded, errors = [], []
    for i, spec in enumerate(params["schemas"]):
        try:
            loaded.append(_load_schema(spec, context))
        except Exception as exc:  # noqa: BLE001 - reported in the result, as TEA does
            errors.append(f"Schema {i}: {exc}")
    if errors:
        return {"success": False, "error": "Failed to load schemas", "errors": errors}
    if not loaded:
        return {"success": False, "error": "No schemas provided"}
    merged: Any = {}
    for schema in loaded:
        merged = deep_merge(merged, schema)
    result: dict[str, Any] = {"success": True, params["output_key"]: merged}
    if params.get("validate"):
        import jsonschema

        try:
            jsonschema.Draft202012Validator.check_schema(merged)
            result["validation"] = {"valid": True, "errors": []}
        except jsonschema.SchemaError as exc:
            result["validation"] = {"valid": False, "errors": [exc.message]}
            result["success"] = False
            result["error"] = "Merged schema is not valid JSON Schema"
    return result
