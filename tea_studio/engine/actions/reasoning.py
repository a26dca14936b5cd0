"""reason.cot, reason.react, reason.self_correct, reason.decompose, and the DSPy spellings' documented fallback.

Each asks the model for a JSON answer of a fixed shape and returns TEA's documented result with a
``reasoning_trace`` (timestamped steps). As in TEA, a failing model call is a result, ``{error, success: false,
reasoning_trace}``, not a failed node; TEA Studio also logs it as a warning so that it is never silent.
"""

from __future__ import annotations

import json
import time
from typing import Any

from tea_studio.engine import expressions
from tea_studio.engine.actions.context import ActionContext, ActionError
from tea_studio.engine.actions.llm import ask, json_answer
from tea_studio.engine.actions.registry import builtin, call_action, get_action, template_context, template_failed

LLM_OPTIONS = ("provider", "api_base", "timeout", "shell_provider", "max_tokens", "temperature")

THINKING_FORMATS = {
    "step_by_step": "Reason step by step: name the parts of the problem, work through each one showing your "
                    "reasoning, then give the final answer.",
    "pros_cons": "Weigh the arguments for and against, compare their strength, then give a balanced conclusion.",
    "tree": "Split the analysis into branches, explore each branch, then combine what they show into an answer.",
    "first_principles": "Start from the basic facts that must hold, build the reasoning up from them while "
                        "questioning each assumption, then derive the answer.",
}


def llm_options(params: dict[str, Any], model: Any) -> dict[str, Any]:
    """The llm.call parameters an action passes on to each of its model calls."""
    return {**{key: params.get(key) for key in LLM_OPTIONS}, "model": model}


class NotJson(ValueError):
    """The model answered, but not with JSON; ``content`` is what it said."""

    def __init__(self, message: str, content: str) -> None:
        super().__init__(message)
        self.content = content


def ask_json(context: ActionContext, options: dict[str, Any], system: str, user: str | list[dict[str, Any]]
             ) -> tuple[Any, dict[str, Any]]:
    """Ask the model (a system prompt and a user message, or a whole conversation) and read its JSON answer.
    Raises ActionError when the call fails and :class:`NotJson` when the answer holds no JSON."""
    messages = [{"role": "system", "content": system},
                *([{"role": "user", "content": user}] if isinstance(user, str) else user)]
    answer = ask(context, messages, **options)
    if answer.get("success") is False:
        raise ActionError(str(answer.get("error")))
    content = str(answer.get("content") or "")
    try:
        return json_answer(content), answer
    except ValueError as exc:
        raise NotJson(str(exc), content) from None


def trace_step(trace: list[dict[str, Any]], step: str, **details: Any) -> None:
    trace.append({"step": step, "timestamp": time.time(), **details})


def failed(context: ActionContext, what: str, exc: Exception, **partial: Any) -> dict[str, Any]:
    """TEA's failure result of a reasoning action (logged as a warning too)."""
    message = f"{what} failed: {getattr(exc, 'message', None) or exc}"
    context.log(message, "warning")
    return {"error": message, "success": False, **partial}


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# -- reason.cot ------------------------------------------------------------------------------------------------------
def _few_shot(examples: list[Any] | None, question_key: str = "problem") -> str:
    lines = []
    for i, example in enumerate(examples or [], 1):
        example = _mapping(example)
        lines += [f"\nExample {i}:", f"Problem: {example.get(question_key, example.get('problem', ''))}",
                  f"Thinking: {example.get('thinking', '')}", f"Answer: {example.get('answer', '')}"]
    return "\n\nExamples:" + "\n".join(lines) if lines else ""


@builtin("reason.cot")
def reason_cot(params: dict[str, Any], state: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    model, thinking_format = params["model"], params["thinking_format"]
    trace: list[dict[str, Any]] = []
    system = ("Think the problem through before answering. Answer with JSON only, exactly "
              '{"thinking": "your reasoning", "answer": "your final answer"}.\n\n'
              + THINKING_FORMATS.get(thinking_format, THINKING_FORMATS["step_by_step"])
              + _few_shot(params.get("few_shot_examples"), params.get("_question_key", "problem")))
    trace_step(trace, "cot_request", problem=params["problem"], thinking_format=thinking_format, model=model)
    started = time.monotonic()
    try:
        parsed, answer = ask_json(context, llm_options(params, model), system, f"Problem: {params['problem']}")
    except (ActionError, ValueError) as exc:
        return failed(context, "Chain-of-thought reasoning", exc, reasoning_trace=trace)
    parsed = _mapping(parsed)
    thinking, final = parsed.get("thinking", ""), parsed.get("answer", "")
    trace_step(trace, "cot_response", thinking=thinking, answer=final, elapsed_seconds=time.monotonic() - started,
               usage=answer.get("usage") or {})
    return {"thinking": thinking, "answer": final, "reasoning_trace": trace, "model": model,
            "thinking_format": thinking_format, "reasoning_thinking": thinking, "reasoning_answer": final}


# -- reason.react ----------------------------------------------------------------------------------------------------
def _tool_lines(tools: list[str]) -> str:
    lines = []
    for name in tools:
        action = get_action(name)
        lines.append(f"- {name}: {action.schema.description if action else f'run the {name} action'}")
    lines.append("- final_answer: give the answer to the goal (action_input: {\"answer\": ...})")
    return "\n".join(lines)


def _observe(tool: str, tool_input: Any, tools: list[str], state: dict[str, Any], context: ActionContext) -> str:
    """What the model is told after asking for ``tool``: the action's result as JSON, or why it did not run."""
    if tool not in tools:
        return f"Unknown action: {tool}. Available: {tools}"
    try:
        result = call_action(tool, tool_input if isinstance(tool_input, dict) else {"input": tool_input}, state,
                             context)
    except ActionError as exc:
        return f"Error executing {tool}: {exc.message}"
    return json.dumps(result, default=str)


@builtin("reason.react")
def reason_react(params: dict[str, Any], state: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    model, max_steps = params["model"], params["max_steps"]
    tools = [str(t) for t in params.get("tools") or []]
    trace: list[dict[str, Any]] = []
    steps: list[dict[str, Any]] = []
    system = ("You reach a goal in steps. In each step, think, then either use one tool or give the final answer. "
              "Answer with JSON only: "
              '{"thought": "...", "action": "tool name or final_answer", "action_input": {...}}.\n\n'
              "Tools:\n" + _tool_lines(tools))
    conversation: list[dict[str, Any]] = [{"role": "user", "content": f"Goal: {params['goal']}"}]
    trace_step(trace, "react_start", goal=params["goal"], tools=tools, max_steps=max_steps, model=model)
    started = time.monotonic()
    for number in range(1, max_steps + 1):
        try:
            parsed, answer = ask_json(context, llm_options(params, model), system, conversation)
        except NotJson as exc:
            trace_step(trace, f"step_{number}_parse_error", error=str(exc), raw_content=exc.content[:500])
            conversation += [{"role": "assistant", "content": exc.content},
                             {"role": "user", "content": "That was not valid JSON. Answer with the JSON object only."}]
            continue
        except ActionError as exc:
            return failed(context, "ReAct reasoning", exc, steps=steps, reasoning_trace=trace,
                          total_steps=len(steps))
        parsed = _mapping(parsed)
        tool, tool_input = parsed.get("action", ""), parsed.get("action_input", {})
        step = {"step": number, "thought": parsed.get("thought", ""), "action": tool, "action_input": tool_input,
                "timestamp": time.time()}
        if tool == "final_answer":
            final = tool_input.get("answer", tool_input) if isinstance(tool_input, dict) else tool_input
            steps.append({**step, "observation": "Goal achieved."})
            trace.append({**steps[-1], "step": f"step_{number}", "type": "final_answer"})
            trace_step(trace, "react_complete", elapsed_seconds=time.monotonic() - started, total_steps=number,
                       final_answer=final)
            return {"steps": steps, "final_answer": final, "reasoning_trace": trace, "react_steps": steps,
                    "reasoning_answer": final, "model": model, "total_steps": number}
        observation = _observe(str(tool), tool_input, tools, state, context)
        steps.append({**step, "observation": observation})
        trace.append({**steps[-1], "step": f"step_{number}", "type": "action"})
        conversation += [{"role": "assistant", "content": answer.get("content") or ""},
                         {"role": "user", "content": f"Observation: {observation}"}]
    trace_step(trace, "react_max_steps", elapsed_seconds=time.monotonic() - started, total_steps=max_steps,
               warning="Max steps reached without final answer")
    return {"steps": steps, "final_answer": None, "reasoning_trace": trace, "react_steps": steps, "model": model,
            "total_steps": max_steps, "warning": f"Max steps ({max_steps}) reached without achieving goal"}


# -- reason.self_correct ---------------------------------------------------------------------------------------------
def render_raw(template: Any, state: dict[str, Any], context: ActionContext, **names: Any) -> Any:
    """A parameter kept unrendered until the action knows more names (``output``, ``goal``, ``subtask``...)."""
    try:
        with template_context(context), expressions.template_names(names):
            return expressions.render_value(template, state, context.variables)
    except expressions.ExpressionError as exc:
        raise template_failed("prompt", exc) from None


@builtin("reason.self_correct")
def reason_self_correct(params: dict[str, Any], state: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    model, rounds = params["model"], params["improvement_rounds"]
    generator, critic = params.get("generator_model") or model, params.get("critic_model") or model
    task = params["task"]
    trace: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    trace_step(trace, "self_correct_start", task=task, generator_model=generator, critic_model=critic,
               improvement_rounds=rounds)
    started = time.monotonic()
    system = ('Do the task. Answer with JSON only: {"output": "your work", "confidence": 0.0-1.0, '
              '"potential_issues": ["..."]}.')
    try:
        answer = ask(context, [{"role": "system", "content": system}, {"role": "user", "content": f"Task: {task}"}],
                     **llm_options(params, generator))
        if answer.get("success") is False:
            raise ActionError(str(answer.get("error")))
    except ActionError as exc:
        return failed(context, "Self-correction", exc, improvement_history=history, reasoning_trace=trace)
    try:
        draft = _mapping(json_answer(answer.get("content") or ""))
        output = draft.get("output", answer.get("content") or "")
        confidence, issues = draft.get("confidence", 0.5), draft.get("potential_issues", [])
    except ValueError:
        output, confidence, issues = answer.get("content") or "", 0.5, []
    history.append({"round": 0, "type": "initial", "output": output, "confidence": confidence,
                    "potential_issues": issues, "timestamp": time.time()})
    trace_step(trace, "initial_generation", output=str(output)[:500], confidence=confidence)
    for number in range(1, rounds + 1):
        instructions = render_raw(params.get("critic_prompt"), state, context, output=output) or \
            "Find problems of correctness, clarity, completeness and style."
        system = (f"You review work critically.\n\n{instructions}\n\nAnswer with JSON only: "
                  '{"issues": ["..."], "suggestions": ["..."], "improved_output": "the improved work", '
                  '"improvement_score": 0.0-1.0}.')
        try:
            review, _ = ask_json(context, llm_options(params, critic), system,
                                 f"Task: {task}\n\nCurrent output:\n{output}")
        except (ActionError, ValueError) as exc:
            trace_step(trace, f"critique_round_{number}_error", error=getattr(exc, "message", None) or str(exc))
            continue
        review = _mapping(review)
        output = review.get("improved_output", output)
        history.append({"round": number, "type": "improvement", "issues_found": review.get("issues", []),
                        "suggestions": review.get("suggestions", []), "output": output,
                        "improvement_score": review.get("improvement_score", 0.5), "timestamp": time.time()})
        trace_step(trace, f"improvement_round_{number}", issues_count=len(review.get("issues") or []),
                   improvement_score=review.get("improvement_score", 0.5))
    trace_step(trace, "self_correct_complete", elapsed_seconds=time.monotonic() - started, rounds_completed=rounds)
    return {"output": output, "improvement_history": history, "reasoning_trace": trace, "reasoning_answer": output,
            "model": model, "generator_model": generator, "critic_model": critic, "rounds_completed": rounds}


# -- reason.decompose ------------------------------------------------------------------------------------------------
@builtin("reason.decompose")
def reason_decompose(params: dict[str, Any], state: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    """Decompose once (depth 1), answer each sub-problem with the main problem as context, then synthesize."""
    model, problem = params["model"], params["problem"]
    options = llm_options(params, model)
    trace: list[dict[str, Any]] = []
    trace_step(trace, "decompose_start", problem=problem, max_depth=params["max_depth"], model=model)
    try:
        plan, _ = ask_json(context, options, "Split the problem into smaller sub-problems. Answer with JSON only: "
                           '{"analysis": "...", "sub_problems": [{"id": 1, "description": "...", '
                           '"dependencies": []}], "synthesis_strategy": "..."}.', f"Problem: {problem}")
        sub_problems = [p for p in _mapping(plan).get("sub_problems") or [] if isinstance(p, dict)]
        trace_step(trace, "decomposition", sub_problem_count=len(sub_problems))
        sub_answers = []
        for sub in sub_problems:
            solved, _ = ask_json(context, options, f"You solve one part of a larger problem: {problem}\n\nAnswer "
                                 'with JSON only: {"reasoning": "...", "answer": "...", "confidence": 0.0-1.0}.',
                                 f"Sub-problem: {sub.get('description', '')}")
            solved = _mapping(solved)
            sub_answers.append({"id": sub.get("id"), "description": sub.get("description"),
                                "answer": solved.get("answer", ""), "reasoning": solved.get("reasoning", ""),
                                "confidence": solved.get("confidence", 0.5)})
            trace_step(trace, f"sub_problem_{sub.get('id')}", answer=solved.get("answer", ""))
        instructions = render_raw(params.get("synthesis_prompt"), state, context, sub_answers=sub_answers) or \
            "Combine the answers of the sub-problems into one answer to the problem."
        synthesis, _ = ask_json(context, options, f"{instructions}\n\nAnswer with JSON only: "
                                '{"reasoning": "...", "final_answer": "...", "confidence": 0.0-1.0}.',
                                f"Problem: {problem}\n\nSub-answers:\n{json.dumps(sub_answers, default=str)}")
    except (ActionError, ValueError) as exc:
        return failed(context, "Decomposition reasoning", exc, reasoning_trace=trace)
    synthesis = _mapping(synthesis)
    final = synthesis.get("final_answer", "")
    trace_step(trace, "synthesis", final_answer=final)
    return {"sub_problems": sub_problems, "sub_answers": sub_answers, "final_answer": final,
            "synthesis_reasoning": synthesis.get("reasoning", ""), "reasoning_trace": trace, "depth_used": 1,
            "model": model, "reasoning_answer": final}


# -- DSPy spellings: TEA documents the native fallback when DSPy is not installed ------------------------------------
def _dspy_model(params: dict[str, Any], context: ActionContext) -> str:
    settings = context.settings
    return (params.get("model") or _mapping(settings.get("dspy")).get("model")
            or _mapping(settings.get("llm")).get("model") or "gpt-4")


@builtin("reason.dspy.cot")
def reason_dspy_cot(params: dict[str, Any], state: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    values = {**params, "model": _dspy_model(params, context), "thinking_format": "step_by_step",
              "_question_key": "question"}
    result = reason_cot(values, state, context)
    return {**result, "dspy_module": "native_fallback", "dspy_available": False,
            "signature": params.get("signature") or "question -> thinking, answer"}


@builtin("reason.dspy.react")
def reason_dspy_react(params: dict[str, Any], state: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    result = reason_react({**params, "model": _dspy_model(params, context)}, state, context)
    return {**result, "dspy_module": "native_fallback", "dspy_available": False,
            "signature": params.get("signature") or "goal -> result"}
