"""The action registry: names -> (schema, code). Built-ins register here; plugins come from the entry-point group
``tea_studio.actions`` (see :mod:`tea_studio.workflow.action_schemas`)."""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tea_studio.engine import expressions
from tea_studio.engine.actions.context import ActionContext, ActionError, ActionStopped
from tea_studio.workflow.action_schemas import CATALOG, UNSUPPORTED_REASONS, ActionSchema, param_problems

# run(params, state, context) -> result
ActionFunction = Callable[[dict[str, Any], dict[str, Any], ActionContext], Any]


@dataclass(frozen=True)
class Action:
    """A runnable action: its declared schema and the function that runs it. A plugin's entry point loads one of
    these (or a list of them)."""

    schema: ActionSchema
    run: ActionFunction

    @property
    def name(self) -> str:
        return self.schema.name

    @property
    def requires_trust(self) -> bool:
        """Reaches outside the process (network, files, programs): runs only in a file the user trusts."""
        return self.schema.requires_trust


_BUILTINS: dict[str, Action] = {}
_LOADED = threading.Event()
BUILTIN_MODULES = ("core", "files", "http", "llm", "loops", "reasoning", "planning", "agents", "validation",
                   "execution", "memory", "a2a")


def builtin(name: str) -> Callable[[ActionFunction], ActionFunction]:
    """Register a built-in action's code under its schema from ``BUILTIN_SCHEMAS`` (and the schema's aliases)."""
    schema = CATALOG.builtins[name]

    def register(function: ActionFunction) -> ActionFunction:
        action = Action(schema, function)
        for key in (schema.name, *schema.aliases):
            _BUILTINS[key] = action
        return function

    return register


def get_action(name: str) -> Action | None:
    """The action registered under ``name`` (built-ins first, then plugins), or None."""
    _load_builtins()
    action = _BUILTINS.get(name)
    if action is not None:
        return action
    plugin = CATALOG.plugins().get(name)
    if plugin is None:
        return None
    return plugin if isinstance(plugin, Action) else Action(plugin.schema, plugin.run)


def _load_builtins() -> None:
    """Import every built-in module once (a module imported first on its own has registered only itself)."""
    if not _LOADED.is_set():
        for module in BUILTIN_MODULES:  # each registers its actions when imported
            importlib.import_module(f"tea_studio.engine.actions.{module}")
        _LOADED.set()


def render_params(schema: ActionSchema, params: dict[str, Any] | None, state: dict[str, Any],
                  context: ActionContext) -> dict[str, Any]:
    """``with:`` as TEA renders it: Jinja2 over state/variables/settings/data (TEA's template context; a lone
    ``{{ expr }}`` keeps its type); ``raw`` parameters are passed as written; defaults fill what is missing or
    rendered to null (a template over a missing state key gives null, where TEA's ``| default(...)`` would have
    given a value)."""
    rendered: dict[str, Any] = {}
    with template_context(context):
        for key, value in (params or {}).items():
            spec = schema.param(key)
            if spec is not None and spec.raw:
                rendered[key] = value
                continue
            try:
                rendered[key] = expressions.render_value(value, state, context.variables)
            except expressions.ExpressionError as exc:
                raise template_failed(f"parameter '{key}'", exc) from None
    for spec in schema.params:
        if rendered.get(spec.name) is None and spec.default is not None:
            rendered[spec.name] = spec.default
    return rendered


def template_context(context: ActionContext) -> contextlib.AbstractContextManager[None]:
    """TEA's template names beyond state/variables/secrets/env (``settings``, ``data``) for an action run outside
    a workflow run too (a run's flows set them for every template they render)."""
    return expressions.template_names(expressions.workflow_names(context.settings, context.sections))


TEMPLATE_SHOWN = 80  # characters of a failing template quoted in its error


def template_failed(where: str, exc: expressions.ExpressionError) -> ActionError:
    """One short line for a template that failed: where, why, then the template's start (a prompt can be long)."""
    text = " ".join(str(exc.expression).split())
    shown = text if len(text) <= TEMPLATE_SHOWN else text[:TEMPLATE_SHOWN - 1] + "…"
    return ActionError(f"{where}: template failed: {exc} (in {shown!r})")


def run_action(name: str, params: dict[str, Any] | None, state: dict[str, Any],
               context: ActionContext | None = None) -> Any:
    """Run action ``name`` with ``params`` (a node's ``with:``, not rendered yet) on ``state``; returns what the
    action returns. Raises :class:`ActionError` (unknown action, missing or mistyped parameter, failure) or
    :class:`~tea_studio.engine.actions.context.ActionStopped`."""
    context = context or ActionContext()
    action = available_action(name)
    params = with_llm_settings(action.schema, params, context)
    return _checked_run(action, render_params(action.schema, params, state, context), state, context)


LLM_SETTINGS_ACTIONS = frozenset({"llm.call", "llm.retry", "llm.chat", "llm.stream"})


def with_llm_settings(schema: ActionSchema, params: dict[str, Any] | None,
                      context: ActionContext) -> dict[str, Any] | None:
    """TEA's default LLM settings: each key of ``settings.llm`` that an llm.* action takes (provider, model,
    api_base, temperature, ...) fills the node's ``with:`` where the node does not give it (yaml_nodes.py)."""
    llm = context.settings.get("llm") if schema.name in LLM_SETTINGS_ACTIONS else None
    if not isinstance(llm, dict):
        return params
    defaults = {key: value for key, value in llm.items() if schema.param(key) is not None}
    return {**defaults, **(params or {})} if defaults else params


def call_action(name: str, values: dict[str, Any], state: dict[str, Any], context: ActionContext) -> Any:
    """Run action ``name`` with values that are never rendered as templates (a model's tool call: its text is
    data, not a template), defaults filled and types checked as for a node."""
    action = available_action(name)
    values = {**{p.name: p.default for p in action.schema.params if p.default is not None}, **values}
    return _checked_run(action, values, state, context)


def available_action(name: str) -> Action:
    """The action ``name``, or ActionError saying it is not available here (and why, when known)."""
    action = get_action(name)
    if action is None:
        raise ActionError(f"action '{name}' is not available in TEA Studio"
                          f"{f' ({UNSUPPORTED_REASONS[name]})' if name in UNSUPPORTED_REASONS else ''}; "
                          "export and run with tea")
    return action


def _checked_run(action: Action, values: dict[str, Any], state: dict[str, Any], context: ActionContext) -> Any:
    problems = param_problems(action.schema, values, rendered=True)
    if problems:
        raise ActionError("; ".join(message for _, message in problems))
    try:
        return action.run(values, state, context)
    except (ActionError, ActionStopped):
        raise
    except Exception as exc:  # noqa: BLE001 - a plugin's (or a library's) failure becomes one line
        raise ActionError(f"action '{action.name}' failed: {type(exc).__name__}: {exc}") from exc


def node_update(result: Any, output: Any, state: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    """What an action node merges into the state (TEA's rule): ``{output: result}`` when ``output`` names a key;
    when ``output`` (or the Rust spelling ``outputs``) is a mapping, each of its keys gets its template rendered
    with the result as ``result`` (and ``action_result``), null as ""; else the result itself when it is a
    mapping, else ``{"result": result}``."""
    if isinstance(output, dict):
        names = {"result": result, "action_result": result}
        update = {}
        with expressions.template_names(names), template_context(context):
            for key, template in output.items():
                try:
                    value = expressions.render_value(template, state, context.variables)
                except expressions.ExpressionError as exc:
                    raise template_failed(f"output '{key}'", exc) from None
                update[str(key)] = "" if value is None else value
        return update
    if output is not None:
        key = output
        if isinstance(output, str) and ("{{" in output or "{%" in output):
            key = expressions.render_value(output, state, context.variables)
        return {str(key): result}
    if isinstance(result, dict):
        return result
    return {"result": result}
