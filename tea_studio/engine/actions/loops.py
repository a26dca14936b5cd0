"""retry.loop (validate -> correction node -> retry) and reflection.loop (generate -> evaluate -> correct), with
the state keys and results TEA documents."""

from __future__ import annotations

import json
from typing import Any

from tea_studio.engine import expressions
from tea_studio.engine.actions.context import ActionContext, ActionError, ActionStopped
from tea_studio.engine.actions.registry import builtin, get_action, run_action, template_context
from tea_studio.engine.python_node import PythonNodeError, run_snippet


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
# As TEA's reflection_actions.py runs it: the generator runs on every iteration; after a failed evaluation (and
# while iterations remain) the corrector runs and a mapping it gives is merged into the loop's state, where the
# next generation reads it. Inline code sees state, output, reflection_output, reflection_errors,
# reflection_iteration, json and re; its value is its `result` variable.
def _inline(code: Any, state: dict[str, Any], context: ActionContext, role: str) -> Any:
    names = {"state": state, "output": state.get("output"), "reflection_output": state.get("reflection_output"),
             "reflection_errors": state.get("reflection_errors", []),
             "reflection_iteration": state.get("reflection_iteration", 0)}
    try:
        return run_snippet(f"{context.node}.{role}", str(code or ""), names, context.log)
    except PythonNodeError as exc:
        raise ActionError(f"reflection.loop {role}{f' line {exc.line}' if exc.line else ''}: {exc.message}") from None


def _run_step(config: dict[str, Any], state: dict[str, Any], context: ActionContext, role: str) -> Any:
    """A generator or corrector: ``{action: name, ...parameters}`` (or its parameters under ``with:``) or
    ``{run: python code}``. An action's result is kept whole, as TEA keeps it (llm.call: ``{content, usage}``)."""
    if "action" in config:
        params = config.get("with") if isinstance(config.get("with"), dict) else \
            {k: v for k, v in config.items() if k not in ("action", "output")}
        result = run_action(str(config["action"]), params, state, context)
        if isinstance(result, dict) and result.get("success") is False:
            raise ActionError(f"reflection.loop {role}: {result.get('error')}")
        return result
    if "run" in config:
        return _inline(config["run"], state, context, role)
    raise ActionError(f"reflection.loop: the {role} needs `action:` or `run:`")


def _parsed(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value.strip().removeprefix("```json").removeprefix("```").removesuffix("```"))
        except json.JSONDecodeError:
            return value
    return value


def _answer(output: Any) -> Any:
    """What a schema judges: a model's result (``{content, usage}``) by its content, parsed when it is JSON; any
    other output as it is (parsed when it is JSON text)."""
    if isinstance(output, dict) and "content" in output and "usage" in output:
        return _parsed(output["content"])
    return _parsed(output)


def _verdict(value: Any) -> dict[str, Any]:
    """A custom evaluator's value as TEA reads it: a mapping, a boolean, or a number (a score; valid from 0.5)."""
    if isinstance(value, dict):
        valid = bool(value.get("valid", False))
        return {"valid": valid, "score": float(value.get("score", 1.0 if valid else 0.0)),
                "errors": list(value.get("errors") or [])}
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        score = float(value)
        return {"valid": score >= 0.5, "score": score,
                "errors": [] if score >= 0.5 else [{"message": f"Score {score} below threshold"}]}
    return {"valid": bool(value), "score": 1.0 if value else 0.0,
            "errors": [] if value else [{"message": "Validation failed"}]}


def _evaluate(config: dict[str, Any], output: Any, state: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    """``{valid, score, errors}`` from a schema, custom-code or LLM evaluator."""
    kind = config.get("type", "schema")
    if kind == "schema":
        import jsonschema

        validator = jsonschema.Draft202012Validator(config.get("schema") or {})
        problems = sorted(validator.iter_errors(_answer(output)), key=lambda e: list(e.absolute_path))
        errors = [{"path": "/" + "/".join(str(p) for p in e.absolute_path), "message": e.message} for e in problems]
        return {"valid": not errors, "score": 1.0 if not errors else 0.0, "errors": errors}
    if kind == "custom":
        language = config.get("language", "python")
        code = str(config.get("run") or "")
        try:
            if language == "lua":
                value = run_action("lua.eval", {"code": "local output = state.output\n" + code},
                                   {**state, "output": output}, context)
            elif language == "python":
                value = _inline(code, {**state, "output": output}, context, "evaluator")
            else:
                raise ActionError(f"reflection.loop: evaluator language {language!r} is not supported by TEA Studio")
        except ActionStopped:
            raise
        except ActionError as exc:
            if "not supported" in exc.message:
                raise
            return {"valid": False, "score": 0.0, "errors": [{"message": f"Custom evaluator error: {exc.message}"}]}
        return _verdict(value)
    if kind == "llm":
        judged = {**state, "output_to_evaluate": output}
        with template_context(context), expressions.template_names(judged):  # TEA: render(state=..., **state)
            prompt = expressions.render_value(str(config.get("prompt") or ""), judged, context.variables)
        for example in config.get("examples") or []:
            prompt += f"\n\nExample input: {example.get('input')}\nExample output: {example.get('output')}"
        prompt += '\n\nAnswer only with JSON: {"valid": bool, "score": number, "reason": string}'
        params = {k: v for k, v in config.items() if k not in ("type", "prompt", "examples", "score_threshold")}
        answer = run_action("llm.call", {**params, "messages": [{"role": "user", "content": prompt}]}, state, context)
        verdict = _parsed(answer.get("content") if isinstance(answer, dict) else answer)
        if not isinstance(verdict, dict):
            return {"valid": False, "score": 0.0, "errors": [{"message": f"the judge's answer is not JSON: {verdict}"}]}
        reason = verdict.get("reason")
        valid = bool(verdict.get("valid", False))
        return {"valid": valid, "score": float(verdict.get("score", 0.0)),
                "errors": [] if valid else [{"message": reason or "judged invalid"}]}
    raise ActionError(f"reflection.loop: evaluator type {kind!r} is not one of schema, custom, llm")


@builtin("reflection.loop")
def reflection_loop(params: dict[str, Any], state: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    max_iterations = params["max_iterations"]
    on_failure = params["on_failure"]
    if max_iterations < 1:
        raise ActionError("reflection.loop: max_iterations must be at least 1")
    if on_failure not in ("return_best", "return_last", "raise"):
        raise ActionError(f"reflection.loop: on_failure must be return_best, return_last or raise, not {on_failure!r}")
    loop_state = dict(state)
    history: list[dict[str, Any]] = []
    best: Any = None
    best_score = -1.0
    corrector = params.get("corrector")
    for iteration in range(1, max_iterations + 1):
        loop_state["reflection_iteration"] = iteration
        loop_state["reflection_history"] = history
        try:
            output = _parsed(_run_step(params["generator"], loop_state, context, "generator"))
        except ActionError as exc:  # TEA records a failing generation and goes on
            errors = [{"message": f"Generator failed: {exc.message}"}]
            history.append({"iteration": iteration, "output": None, "score": 0.0, "valid": False, "errors": errors})
            loop_state["reflection_errors"] = errors
            continue
        loop_state["reflection_output"] = output
        verdict = _evaluate(params["evaluator"], output, loop_state, context)
        history.append({"iteration": iteration, "output": output, "score": verdict["score"],
                        "valid": verdict["valid"], "errors": verdict["errors"]})
        if verdict["score"] > best_score:
            best, best_score = output, verdict["score"]
        loop_state.update(reflection_best=best, reflection_best_score=best_score,
                          reflection_errors=list(verdict["errors"]))
        if verdict["valid"]:
            return {"reflection_iteration": iteration, "reflection_output": output, "reflection_errors": [],
                    "reflection_history": history, "reflection_best": output,
                    "reflection_best_score": verdict["score"], "success": True, "valid": True, **_spread(output)}
        if iteration < max_iterations and corrector:
            try:
                corrected = _run_step(corrector, loop_state, context, "corrector")
            except ActionError as exc:
                loop_state["reflection_errors"].append({"message": f"Corrector failed: {exc.message}",
                                                        "type": "corrector_error"})
            else:
                if isinstance(corrected, dict):
                    loop_state.update(corrected)
    if on_failure == "raise":
        last = history[-1]["errors"] if history else []
        raise ActionError(f"reflection.loop: no valid output after {max_iterations} iterations; last errors: "
                          f"{json.dumps(last, default=str)[:300]}")
    chosen = best if on_failure == "return_best" else (history[-1]["output"] if history else None)
    return {"reflection_iteration": max_iterations, "reflection_output": chosen,
            "reflection_errors": history[-1]["errors"] if history else [], "reflection_history": history,
            "reflection_best": best, "reflection_best_score": best_score, "success": False, "valid": False,
            "exhausted": True, **_spread(chosen)}


def _spread(output: Any) -> dict[str, Any]:
    """TEA adds the output's keys to the result (or the output as ``result`` when it is not a mapping)."""
    return dict(output) if isinstance(output, dict) else {"result": output}
