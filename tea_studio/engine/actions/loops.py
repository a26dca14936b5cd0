"""retry.loop (validate -> correction node -> retry) and reflection.loop (generate -> evaluate -> correct), with
the state keys and results TEA documents."""

from __future__ import annotations

import json
from typing import Any

from tea_studio.engine import expressions
from tea_studio.engine.actions.context import ActionContext, ActionError, ActionStopped
from tea_studio.engine.actions.registry import builtin, get_action, run_action
from tea_studio.engine.python_node import PythonNodeError, run_python_node


@builtin("retry.loop")
def retry_loop(params: dict[str, Any], state: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    """Call the ``validate`` action; while its result is not ``valid`` and retries remain, run the ``correct``
    node on the loop's state (``_retry_errors`` set) and try again. Returns the loop's state with
    ``_retry_count``, ``_retry_errors``, ``_retry_result``, ``_retry_exhausted`` and the last validation result."""
    max_retries = params["max_retries"]
    if max_retries < 0:
        raise ActionError(f"retry.loop: max_retries must be a non-negative integer, got {max_retries}")
    validate = params["validate"]
    if get_action(validate) is None:
        raise ActionError(f"retry.loop: Unknown validation action: {validate}")
    if context.run_node is None:
        raise ActionError("retry.loop: correction nodes can only run inside a workflow run")
    loop_state = dict(state)
    count = 0
    while True:
        loop_state["_retry_count"] = count
        try:
            result = run_action(validate, params.get("validate_args") or {}, loop_state, context)
        except ActionError as exc:
            result = {"valid": False, "errors": [{"message": exc.message, "type": "validation_error"}]}
        result = result if isinstance(result, dict) else {"valid": bool(result)}
        errors = [] if result.get("valid") else list(result.get("errors") or [])
        exhausted = not result.get("valid") and count >= max_retries
        if result.get("valid") or exhausted:
            return {**loop_state, "_retry_count": count, "_retry_errors": errors, "_retry_result": result,
                    "_retry_exhausted": exhausted, **result}
        loop_state["_retry_errors"] = errors
        try:
            update = context.run_node(params["correct"], loop_state)
        except Exception as exc:  # noqa: BLE001 - TEA reports a failing correction in the result
            if context.stopped():
                raise ActionStopped() from None
            message = getattr(exc, "message", None) or str(exc)
            return {**loop_state, "_retry_count": count,
                    "_retry_errors": [*errors, {"message": f"Correction node '{params['correct']}' failed: {message}",
                                                "type": "correction_error"}],
                    "_retry_result": {"valid": False, "errors": errors, "correction_error": message},
                    "_retry_exhausted": False, "valid": False}
        if update:
            loop_state.update(update)
        context.pause(params["retry_delay"])
        count += 1


# -- reflection.loop ---------------------------------------------------------------------------------------------
def _value_of(update: dict[str, Any] | None) -> Any:
    """A code step's output: its ``result`` when that is all it returned, else the update itself."""
    if update is None:
        return None
    return update["result"] if set(update) == {"result"} else update


def _run_step(config: dict[str, Any], state: dict[str, Any], context: ActionContext, role: str) -> Any:
    """A generator or corrector: ``{action: name, ...parameters}`` or ``{run: python code}``."""
    if "action" in config:
        params = {k: v for k, v in config.items() if k not in ("action", "output")}
        result = run_action(str(config["action"]), params, state, context)
        if isinstance(result, dict) and result.get("success") is False:
            raise ActionError(f"reflection.loop {role}: {result.get('error')}")
        return result.get("content") if isinstance(result, dict) and "content" in result else result
    if "run" in config:
        try:
            return _value_of(run_python_node(f"{context.node}.{role}", str(config["run"]), state, context.variables))
        except PythonNodeError as exc:
            raise ActionError(f"reflection.loop {role}{f' line {exc.line}' if exc.line else ''}: "
                              f"{exc.message}") from None
    raise ActionError(f"reflection.loop: the {role} needs `action:` or `run:`")


def _parsed(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value.strip().removeprefix("```json").removeprefix("```").removesuffix("```"))
        except json.JSONDecodeError:
            return value
    return value


def _evaluate(config: dict[str, Any], output: Any, state: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    """``{valid, score, errors}`` from a schema, custom-code or LLM evaluator."""
    kind = config.get("type", "schema")
    if kind == "schema":
        import jsonschema

        validator = jsonschema.Draft202012Validator(config.get("schema") or {})
        problems = sorted(validator.iter_errors(_parsed(output)), key=lambda e: list(e.absolute_path))
        errors = [{"path": "/" + "/".join(str(p) for p in e.absolute_path), "message": e.message} for e in problems]
        return {"valid": not errors, "score": 1.0 if not errors else 0.0, "errors": errors}
    if kind == "custom":
        language = config.get("language", "python")
        code = str(config.get("run") or "")
        if language == "lua":
            value = run_action("lua.eval", {"code": "local output = state.reflection_output\n" + code}, state, context)
        elif language == "python":
            try:
                value = _value_of(run_python_node(f"{context.node}.evaluator", "output = state.get('reflection_output')"
                                                  "\n" + code, state, context.variables))
            except PythonNodeError as exc:
                raise ActionError(f"reflection.loop evaluator: {exc.message}") from None
        else:
            raise ActionError(f"reflection.loop: evaluator language {language!r} is not supported by TEA Studio")
        value = value if isinstance(value, dict) else {"valid": bool(value)}
        return {"valid": bool(value.get("valid")), "score": float(value.get("score", 1.0 if value.get("valid") else 0.0)),
                "errors": list(value.get("errors") or [])}
    if kind == "llm":
        prompt = expressions.render_value(str(config.get("prompt") or ""), state, context.variables)
        for example in config.get("examples") or []:
            prompt += f"\n\nExample input: {example.get('input')}\nExample output: {example.get('output')}"
        prompt += '\n\nAnswer only with JSON: {"valid": bool, "score": number, "reason": string}'
        params = {k: v for k, v in config.items() if k not in ("type", "prompt", "examples")}
        answer = run_action("llm.call", {**params, "messages": [{"role": "user", "content": prompt}]}, state, context)
        verdict = _parsed(answer.get("content") if isinstance(answer, dict) else answer)
        if not isinstance(verdict, dict):
            return {"valid": False, "score": 0.0, "errors": [{"message": f"the judge's answer is not JSON: {verdict}"}]}
        reason = verdict.get("reason")
        return {"valid": bool(verdict.get("valid")), "score": float(verdict.get("score", 0.0)),
                "errors": [] if verdict.get("valid") else [{"message": reason or "judged invalid"}]}
    raise ActionError(f"reflection.loop: evaluator type {kind!r} is not one of schema, custom, llm")


@builtin("reflection.loop")
def reflection_loop(params: dict[str, Any], state: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    max_iterations = params["max_iterations"]
    on_failure = params["on_failure"]
    if on_failure not in ("return_best", "return_last", "raise"):
        raise ActionError(f"reflection.loop: on_failure must be return_best, return_last or raise, not {on_failure!r}")
    loop_state = dict(state)
    history: list[dict[str, Any]] = []
    best: Any = None
    best_score = -1.0
    output: Any = None
    errors: list[Any] = []
    for iteration in range(1, max(1, max_iterations) + 1):
        loop_state["reflection_iteration"] = iteration
        corrector = params.get("corrector")
        if iteration > 1 and corrector:
            output = _run_step(corrector, loop_state, context, "corrector")
        else:
            output = _run_step(params["generator"], loop_state, context, "generator")
        output = _parsed(output)
        loop_state["reflection_output"] = output
        verdict = _evaluate(params["evaluator"], output, loop_state, context)
        errors = verdict["errors"]
        loop_state["reflection_errors"] = errors
        history.append({"iteration": iteration, "output": output, "score": verdict["score"],
                        "valid": verdict["valid"], "errors": errors})
        if verdict["score"] > best_score:
            best, best_score = output, verdict["score"]
        summary = {"reflection_iteration": iteration, "reflection_output": output, "reflection_errors": errors,
                   "reflection_history": history, "reflection_best": best, "reflection_best_score": best_score}
        if verdict["valid"]:
            return {"success": True, "valid": True, **summary, **(output if isinstance(output, dict) else {})}
    if on_failure == "raise":
        raise ActionError(f"reflection.loop: no valid output after {max_iterations} iterations; last errors: "
                          f"{json.dumps(errors, default=str)[:300]}")
    chosen = best if on_failure == "return_best" else output
    return {"success": False, "valid": False, "exhausted": True, "reflection_iteration": len(history),
            "reflection_output": chosen, "reflection_errors": errors, "reflection_history": history,
            "reflection_best": best, "reflection_best_score": best_score}
