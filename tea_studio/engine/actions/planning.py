"""plan.decompose, plan.execute, plan.status: a goal split by the model into subtasks whose dependencies form a
DAG, run in dependency order (one by one or in waves of ready subtasks), with TEA's failure strategies and result
shapes. Failures are results (``{error, success: false, planning_trace}``), as in TEA, and logged as warnings."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tea_studio.engine.actions.context import ActionContext, ActionError
from tea_studio.engine.actions.reasoning import ask_json, failed, llm_options, render_raw, trace_step
from tea_studio.engine.actions.registry import builtin, call_action

STATUSES = ("pending", "in_progress", "completed", "failed", "skipped")
STRATEGY_HINTS = {
    "flat": "a flat list of subtasks",
    "hierarchical": "subtasks grouped by phase, each a concrete step",
    "iterative": "the next few subtasks that can be done now",
}


def plan_of(value: Any) -> dict[str, Any] | None:
    """A plan, also when given as plan.decompose's whole result (``output: plan`` stores ``{plan: {...}}``)."""
    if isinstance(value, dict) and "subtasks" not in value and isinstance(value.get("plan"), dict):
        value = value["plan"]
    return value if isinstance(value, dict) and isinstance(value.get("subtasks"), list) else None


def dag_problem(subtasks: list[dict[str, Any]]) -> str | None:
    """Why the subtasks' dependencies are not a DAG over known ids, or None."""
    ids = [task["id"] for task in subtasks]
    if len(set(ids)) != len(ids):
        return f"Duplicate subtask id: {next(i for i in ids if ids.count(i) > 1)}"
    needs = {task["id"]: task["dependencies"] for task in subtasks}
    for task, deps in needs.items():
        unknown = [d for d in deps if d not in needs]
        if unknown:
            return f"Unknown subtask '{unknown[0]}' in the dependencies of '{task}'"
    state: dict[str, int] = {}

    def visit(task: str, path: list[str]) -> str | None:
        if state.get(task) == 1:
            return "Cycle detected: " + " -> ".join([*path[path.index(task):], task])
        if state.get(task) == 2:
            return None
        state[task] = 1
        for dep in needs[task]:
            problem = visit(dep, [*path, task])
            if problem:
                return problem
        state[task] = 2
        return None

    return next((p for p in (visit(t, []) for t in needs) if p), None)


def _subtasks(raw: Any, limit: int, fresh: bool = True) -> list[dict[str, Any]]:
    """Subtasks as copies with ``id``, ``description``, ``dependencies`` (ids as text), ``status`` and ``result``;
    a fresh plan starts pending, an existing one keeps its statuses."""
    subtasks = []
    for i, item in enumerate(raw if isinstance(raw, list) else [], 1):
        item = item if isinstance(item, dict) else {"description": str(item)}
        deps = item.get("dependencies") or []
        subtasks.append({**item, "id": str(item.get("id", f"subtask_{i}")), "description": item.get("description", ""),
                         "dependencies": [str(d) for d in (deps if isinstance(deps, list) else [deps])],
                         "status": "pending" if fresh else item.get("status", "pending"),
                         "result": None if fresh else item.get("result")})
    return subtasks[:limit]


@builtin("plan.decompose")
def plan_decompose(params: dict[str, Any], state: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    """``planner:`` (TEA's examples) may carry model, strategy, max_depth and prompt_template together."""
    planner = params.get("planner") if isinstance(params.get("planner"), dict) else {}
    template = planner.get("prompt_template", params.get("prompt_template"))
    chosen = {key: render_raw(planner[key], state, context) if key in planner else params[key]
              for key in ("model", "strategy", "max_depth", "max_subtasks")}
    goal, trace = params["goal"], []
    trace_step(trace, "decompose_start", goal=goal, strategy=chosen["strategy"], model=chosen["model"])
    if template:
        prompt = str(render_raw(template, state, context, goal=goal))
    else:
        prompt = (f"Goal: {goal}\n\nBreak the goal into {STRATEGY_HINTS.get(chosen['strategy'], 'subtasks')}, at "
                  f"most {chosen['max_subtasks']}, each specific and checkable.")
    system = ("You plan work. Answer with JSON only: "
              '{"subtasks": [{"id": "short_id", "description": "...", "dependencies": ["ids it waits for"]}]}. '
              "Dependencies must not form a cycle.")
    try:
        answer, _ = ask_json(context, llm_options(params, chosen["model"]), system, prompt)
    except (ActionError, ValueError) as exc:
        return failed(context, "Planning", exc, planning_trace=trace)
    subtasks = _subtasks(answer.get("subtasks") if isinstance(answer, dict) else answer, int(chosen["max_subtasks"]))
    problem = dag_problem(subtasks) if subtasks else "The plan has no subtasks"
    if problem:
        return failed(context, "Planning", ValueError(f"Invalid plan structure: {problem}"), planning_trace=trace)
    plan_id = f"plan_{uuid.uuid4().hex[:8]}"
    trace_step(trace, "decompose_complete", subtask_count=len(subtasks))
    plan = {"id": plan_id, "goal": goal, "strategy": chosen["strategy"], "subtasks": subtasks,
            "metadata": {"created_at": time.time(), "replan_count": 0, "max_replans": 3}}
    return {"plan": plan, "planning_trace": trace, "success": True, "plan_id": plan_id,
            "subtask_count": len(subtasks)}


def status_counts(plan: dict[str, Any]) -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    for task in plan["subtasks"]:
        status = task.get("status", "pending") if isinstance(task, dict) else "pending"
        counts[status if status in counts else "pending"] += 1
    return {"total": len(plan["subtasks"]), **counts}


class _PlanRun:
    """One plan.execute: the plan's subtasks, their results, and how each one is run."""

    def __init__(self, params: dict[str, Any], plan: dict[str, Any], state: dict[str, Any],
                 context: ActionContext) -> None:
        self.params, self.state, self.context = params, state, context
        self.plan = plan
        self.tasks = {task["id"]: task for task in self.plan["subtasks"]}
        self.results: dict[str, Any] = {}
        self.trace: list[dict[str, Any]] = []
        executor = params.get("subtask_executor") if isinstance(params.get("subtask_executor"), dict) else {}
        self.action = str(executor.get("action") or "llm.call")
        arguments = executor.get("with", executor.get("params"))
        self.arguments = arguments if isinstance(arguments, dict) else {}
        if self.action == "llm.call" and not {"messages", "prompt"} & set(self.arguments):
            self.arguments = {**self.arguments, "prompt": "{{ subtask.description }}"}

    def attempt(self, task: dict[str, Any]) -> Any:
        """Run the executor once for ``task``; raises ActionError when it fails."""
        view = {**self.state, "plan": self.plan, "subtask_results": dict(self.results), "current_subtask": task}
        values = render_raw(self.arguments, view, self.context, subtask=task)
        result = call_action(self.action, values, view, self.context)
        if isinstance(result, dict) and result.get("success") is False:
            raise ActionError(str(result.get("error") or "the subtask failed"))
        return result.get("content") if isinstance(result, dict) and "content" in result else result

    def run_one(self, task: dict[str, Any]) -> str | None:
        """Run a subtask under the failure strategy; None when it completed, else the failure."""
        strategy = self.params["on_subtask_failure"]
        tries = 1 + (self.params["max_retries"] if strategy == "retry" else 0)
        task["status"] = "in_progress"
        error = ""
        for number in range(tries):
            if number:
                self.context.pause(self.params["retry_delay"] * 2 ** (number - 1))
            try:
                task["result"] = self.results[task["id"]] = self.attempt(task)
                task["status"] = "completed"
                trace_step(self.trace, "subtask_completed", subtask=task["id"], attempts=number + 1)
                return None
            except ActionError as exc:
                error = exc.message
                trace_step(self.trace, "subtask_failed", subtask=task["id"], attempt=number + 1, error=error)
        task["status"] = "skipped" if strategy == "skip" else "failed"
        return f"Subtask '{task['id']}' failed: {error}"

    def run(self) -> dict[str, Any]:
        parallel = self.params["parallel"]
        width = max(1, self.params["max_concurrent"]) if parallel else 1
        while True:
            ready = [t for t in self.plan["subtasks"] if t["status"] == "pending"
                     and all(self.tasks[d]["status"] == "completed" for d in t["dependencies"])]
            blocked = [t for t in self.plan["subtasks"] if t["status"] == "pending" and t not in ready]
            if not ready:
                for task in blocked:  # waits for a failed or skipped subtask
                    task["status"] = "skipped"
                return self.outcome(None)
            wave = ready[:width]
            if parallel and len(wave) > 1:
                with ThreadPoolExecutor(len(wave), thread_name_prefix="tea-plan") as pool:
                    failures = list(pool.map(self.run_one, wave))
            else:
                failures = [self.run_one(wave[0])]
            failure = next((f for f in failures if f), None)
            if failure and self.params["on_subtask_failure"] in ("abort", "retry", "replan"):
                if self.params["on_subtask_failure"] == "replan":
                    failure += " (on_subtask_failure: replan is not supported by TEA Studio)"
                return self.outcome(failure)

    def outcome(self, failure: str | None) -> dict[str, Any]:
        result = {"plan": self.plan, "subtask_results": self.results, "plan_status": status_counts(self.plan),
                  "replan_count": 0, "planning_trace": self.trace, "success": failure is None}
        if failure:
            self.context.log(f"plan.execute: {failure}", "warning")
            result["error"] = failure
        return result


@builtin("plan.execute")
def plan_execute(params: dict[str, Any], state: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    plan = plan_of(params.get("plan") if params.get("plan") is not None else state.get("plan"))
    if plan is None:
        return failed(context, "plan.execute", ValueError("No plan provided"), planning_trace=[])
    plan = {**plan, "subtasks": _subtasks(plan["subtasks"], len(plan["subtasks"]), fresh=False)}
    problem = dag_problem(plan["subtasks"])
    if problem:
        return failed(context, "plan.execute", ValueError(f"Invalid plan structure: {problem}"), planning_trace=[])
    return _PlanRun(params, plan, state, context).run()


@builtin("plan.status")
def plan_status(params: dict[str, Any], state: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    plan = plan_of(params.get("plan") if params.get("plan") is not None else state.get("plan"))
    if plan is None:
        return {"error": "No plan provided", "success": False}
    counts = status_counts(plan)
    result = {"status": counts, "progress": counts["completed"] / counts["total"] if counts["total"] else 0.0,
              "plan_id": plan.get("id"), "goal": plan.get("goal"), "success": True}
    if params["include_details"]:
        result["subtasks"] = [t for t in plan["subtasks"]
                              if params["include_completed"] or not isinstance(t, dict)
                              or t.get("status") != "completed"]
    return result
