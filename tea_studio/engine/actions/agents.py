"""agent.dispatch, agent.parallel, agent.sequential, agent.coordinate: named agents from ``settings.agents`` (each
inheriting ``settings.llm``: model, system_prompt, temperature, max_tokens, timeout, provider...) asked through
llm.call, with TEA's retry, aggregation and result shapes. A failing agent is a result (``success: false``)."""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from tea_studio.engine.actions.context import ActionContext, ActionError
from tea_studio.engine.actions.llm import ask
from tea_studio.engine.actions.reasoning import render_raw
from tea_studio.engine.actions.registry import builtin

# settings.llm keys an agent inherits and passes to llm.call as they are
_INHERITED = ("model", "temperature", "max_tokens", "timeout", "provider", "api_base", "shell_provider")


@dataclass(frozen=True)
class Agent:
    name: str
    options: dict[str, Any]
    system_prompt: str | None
    attempts: int
    backoff: float


def _agent(name: Any, context: ActionContext) -> Agent:
    """The agent ``name`` of ``settings.agents``; raises KeyError with TEA's message when there is none."""
    settings = context.settings
    agents = settings.get("agents") if isinstance(settings.get("agents"), dict) else {}
    defaults = settings.get("llm") if isinstance(settings.get("llm"), dict) else {}
    config = agents.get(name)
    if not isinstance(config, dict):
        raise KeyError(f"Agent '{name}' not found. Available agents: {', '.join(agents) or '(none)'}")
    options = {key: config.get(key, defaults.get(key)) for key in _INHERITED}
    options["timeout"] = options["timeout"] or 60
    retry = config.get("retry") if isinstance(config.get("retry"), dict) else {}
    return Agent(str(name), options, config.get("system_prompt", defaults.get("system_prompt")),
                 int(retry.get("max_attempts", 3)), float(retry.get("backoff", 2.0)))


def _call(agent: Agent, task: str, context: ActionContext) -> dict[str, Any]:
    """One agent answering ``task``, retried with backoff: ``{content, response, agent, usage, success}`` or
    ``{error, agent, success: false}``."""
    messages = [*([{"role": "system", "content": agent.system_prompt}] if agent.system_prompt else []),
                {"role": "user", "content": task}]
    error, delay = "", 1.0
    for attempt in range(1, max(1, agent.attempts) + 1):
        if attempt > 1:
            context.pause(delay)
            delay *= agent.backoff
        try:
            answer = ask(context, messages, **agent.options)
        except ActionError as exc:
            answer = {"error": exc.message, "success": False}
        if answer.get("success") is not False:
            content = answer.get("content", "")
            return {"content": content, "response": content, "agent": agent.name, "usage": answer.get("usage") or {},
                    "success": True, "attempts": attempt}
        error = str(answer.get("error"))
    context.log(f"agent '{agent.name}' failed: {error}", "warning")
    return {"error": error, "agent": agent.name, "success": False, "attempts": agent.attempts}


def _with_timeout(agent: Agent, timeout: Any) -> Agent:
    return replace(agent, options={**agent.options, "timeout": timeout}) if timeout else agent


@builtin("agent.dispatch")
def agent_dispatch(params: dict[str, Any], state: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    try:
        agent = _with_timeout(_agent(params["agent"], context), params.get("timeout"))
    except KeyError as exc:
        return {"error": exc.args[0], "agent": params["agent"], "success": False}
    if params.get("max_retries") is not None:
        agent = replace(agent, attempts=params["max_retries"])
    return _call(agent, str(params["task"]), context)


def _valid_agents(names: list[Any], context: ActionContext) -> list[Agent]:
    found = []
    for name in names:
        try:
            found.append(_agent(name, context))
        except KeyError as exc:
            context.log(exc.args[0], "warning")
    return found


def _answers(results: list[dict[str, Any]]) -> list[str]:
    return [str(r.get("content", "")) for r in results if r.get("success", True)]


def aggregate(strategy: str, results: list[dict[str, Any]], threshold: float) -> dict[str, Any]:
    """TEA's aggregation strategies over the agents' results."""
    if strategy == "vote":
        votes = Counter(_answers(results))
        winner = votes.most_common(1)[0][0] if votes else None
        return {"result": winner, "votes": dict(votes), "unanimous": len(votes) == 1,
                "total_votes": sum(votes.values()), "aggregation": "vote"}
    if strategy == "first":
        first = next((r for r in results if r.get("success", True)), None)
        if first is None:
            return {"result": None, "error": "No successful responses", "aggregation": "first"}
        return {"result": first.get("content"), "agent": first.get("agent"), "aggregation": "first"}
    if strategy == "consensus":
        answers = _answers(results)
        winner, count = Counter(answers).most_common(1)[0] if answers else (None, 0)
        agreement = count / len(answers) if answers else 0.0
        return {"result": winner if agreement >= threshold else None, "agreement": agreement,
                "consensus_reached": bool(answers) and agreement >= threshold, "threshold": threshold,
                "aggregation": "consensus"}
    responses = [r.get("content", r.get("error")) for r in results]
    return {"responses": responses, "count": len(responses), "aggregation": "collect"}


def _fan_out(agents: list[Agent], tasks: list[str], width: int, context: ActionContext) -> list[dict[str, Any]]:
    """Each agent on its task at once (at most ``width`` together); results in the agents' order."""
    with ThreadPoolExecutor(max(1, min(width, len(agents))), thread_name_prefix="tea-agent") as pool:
        return list(pool.map(lambda pair: _call(pair[0], pair[1], context), zip(agents, tasks, strict=True)))


@builtin("agent.parallel")
def agent_parallel(params: dict[str, Any], state: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    agents = [_with_timeout(a, params.get("timeout")) for a in _valid_agents(params["agents"], context)]
    if not agents:
        return {"error": "No valid agents found", "agents_requested": params["agents"], "success": False}
    task, strategy = str(params["task"]), params["aggregation"]
    width = params.get("max_concurrent") or len(agents)
    results = _fan_out(agents, [task] * len(agents), width, context)
    result = aggregate(strategy, results, params["consensus_threshold"])
    rounds = 1
    while strategy == "consensus" and not result["consensus_reached"] and rounds < params["consensus_max_rounds"]:
        rounds += 1
        results = _fan_out(agents, [task] * len(agents), width, context)
        result = aggregate(strategy, results, params["consensus_threshold"])
    extra = {"rounds": rounds} if strategy == "consensus" else {"raw_results": results}
    return {**result, **extra, "success": True, "agents_called": [a.name for a in agents]}


@builtin("agent.sequential")
def agent_sequential(params: dict[str, Any], state: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    """Each task is rendered with the state and, as top-level names, ``previous_response``, ``chain_index`` and
    ``chain_length`` (the first agent's default task is ``{{ state.input }}``, later ones the previous answer)."""
    agents = _valid_agents(params["agents"], context)
    if len(agents) != len(params["agents"]) and params["early_exit_on_failure"]:
        missing = next(n for n in params["agents"] if n not in {a.name for a in agents})
        return {"error": f"Agent '{missing}' not found", "success": False, "chain": []}
    if not agents:
        return {"error": "No valid agents found", "success": False, "chain": []}
    tasks = params.get("tasks")
    if tasks and len(tasks) != len(agents):
        return {"error": f"Tasks count ({len(tasks)}) must match agents count ({len(agents)})", "success": False,
                "chain": []}
    chain: list[dict[str, Any]] = []
    current = dict(state)
    previous = ""
    for index, agent in enumerate(agents):
        current.update(previous_response=previous, chain_index=index, chain_length=len(agents))
        template = tasks[index] if tasks else params.get("task") or (
            "{{ previous_response }}" if index else "{{ state.input }}")
        task = render_raw(template, current, context, **current)
        result = _call(agent, "" if task is None else str(task), context)
        chain.append({"agent": agent.name, "response": result.get("content", ""), "success": result["success"]})
        if not result["success"]:
            if params["early_exit_on_failure"]:
                return {"error": result.get("error", "Agent failed"), "chain": chain, "success": False,
                        "failed_at": index}
            continue
        previous = result.get("content", "")
        if params.get("transform"):
            current["current_response"] = previous
            previous = str(render_raw(params["transform"], current, context, **current))
    return {"result": previous, params["output_key"]: previous, "chain": chain, "success": True,
            "agents_called": [a.name for a in agents]}


def _subtasks_from(answer: str, task: str, count: int) -> list[str]:
    """The leader's JSON list of subtasks (one per worker), else the task itself for each worker."""
    start, end = answer.find("["), answer.rfind("]") + 1
    try:
        subtasks = [str(s) for s in json.loads(answer[start:end])] if 0 <= start < end else []
    except json.JSONDecodeError:
        subtasks = []
    subtasks = subtasks or [task]
    return (subtasks + [subtasks[-1]] * count)[:count]


@builtin("agent.coordinate")
def agent_coordinate(params: dict[str, Any], state: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    """Each round: the leader splits the task among the workers, they answer (at once, or in turn), the leader
    checks the answers against ``validation_prompt``; a round whose check does not pass is redone."""
    try:
        leader = _agent(params["leader"], context)
    except KeyError as exc:
        return {"error": exc.args[0], "success": False}
    workers = _valid_agents(params["workers"], context)
    if not workers:
        return {"error": "No valid workers found", "success": False}
    task = str(params["task"])
    rounds, all_results, final = 0, [], None
    while rounds < params["max_rounds"]:
        rounds += 1
        plan = _call(leader, f"You coordinate {len(workers)} workers. Split this task into one subtask per worker."
                             f"\n\nTask: {task}\n\nAnswer with a JSON array of strings: [\"subtask 1\", ...]", context)
        if not plan["success"]:
            continue
        subtasks = _subtasks_from(plan["content"], task, len(workers))
        width = len(workers) if params["parallel_workers"] else 1
        results = _fan_out(workers, subtasks, width, context)
        all_results.append(results)
        answers = [r["content"] for r in results if r["success"]]
        if not answers:
            continue
        joined = "\n\n".join(f"[{r['agent']}]: {r['content']}" for r in results if r["success"])
        check = params.get("validation_prompt") or "Check that the results together complete the task."
        verdict = _call(leader, f"Task: {task}\n\nWorker results:\n{joined}\n\n{check}\n\nAnswer with JSON: "
                                '{"valid": true or false, "result": "the combined result", "feedback": "..."}',
                        context)
        if not verdict["success"]:
            continue
        try:
            parsed = json.loads(verdict["content"][verdict["content"].find("{"):verdict["content"].rfind("}") + 1])
        except json.JSONDecodeError:
            parsed = {"valid": True, "result": verdict["content"]}
        parsed = parsed if isinstance(parsed, dict) else {"valid": True, "result": verdict["content"]}
        final = parsed.get("result", verdict["content"])
        if parsed.get("valid", True):
            return {"result": final, "response": final, "rounds": rounds, "worker_results": all_results,
                    "success": True, "agents_called": [leader.name, *(w.name for w in workers)]}
    return {"result": final, "response": final, "rounds": rounds, "worker_results": all_results,
            "success": final is not None, **({} if final is not None else {"error": "No round produced a result"})}
