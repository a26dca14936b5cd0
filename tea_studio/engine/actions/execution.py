"""execution.run in TEA's sequential mode: each task's shell ``command`` (or its ``steps``' ``run`` commands) in
the working folder, one after another, a failed task recorded and the next one run. TEA's parallel and graph modes
create git worktrees and ask CLI agents to plan; they stay a located error naming the mode."""

from __future__ import annotations

from typing import Any

from tea_studio.engine.actions.context import ActionContext, ActionError
from tea_studio.engine.actions.registry import builtin
from tea_studio.engine.actions.shell import ProcessFailed, run_process


def _command(command: str, cwd: str | None, timeout: float, context: ActionContext, task_id: str) -> dict[str, Any]:
    """One shell command as TEA reports it: ``{success, task_id, returncode, stdout, stderr, error}``."""
    try:
        outcome = run_process(["/bin/sh", "-c", command], context, timeout, cwd=cwd)
    except ProcessFailed as exc:
        return {"success": False, "task_id": task_id, "error": exc.message}
    success = outcome["returncode"] == 0
    return {"success": success, "task_id": task_id, "returncode": outcome["returncode"], "stdout": outcome["stdout"],
            "stderr": outcome["stderr"], "error": None if success else outcome["stderr"]}


def _task(task: dict[str, Any], cwd: str | None, timeout: float, context: ActionContext) -> dict[str, Any]:
    task_id = str(task.get("id", "unknown"))
    if "command" in task:
        return _command(str(task["command"]), cwd, timeout, context, task_id)
    if "workflow" in task:
        return {"success": False, "workflow": task["workflow"],
                "error": "running another workflow file from execution.run is not supported by TEA Studio"}
    if "steps" in task:
        results = []
        for i, step in enumerate(task["steps"] if isinstance(task["steps"], list) else []):
            step = step if isinstance(step, dict) else {}
            name = str(step.get("name", f"step-{i}"))
            result = (_command(str(step["run"]), cwd, timeout, context, name) if "run" in step
                      else {"success": True, "step": name, "message": "No-op"})
            results.append(result)
            if not result["success"]:
                return {"success": False, "steps_completed": i, "step_results": results,
                        "error": f"Step {name} failed: {result.get('error')}"}
        return {"success": True, "steps_completed": len(results), "step_results": results}
    return {"success": True, "task_id": task_id, "message": "Task completed (no execution required)"}


@builtin("execution.run")
def execution_run(params: dict[str, Any], state: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    """``{mode, status: success|partial|error, tasks_completed, tasks_total, results, final_state, error}``."""
    settings = context.settings.get("execution") if isinstance(context.settings.get("execution"), dict) else {}
    mode = str(params.get("mode") or settings.get("mode") or "sequential")
    if mode != "sequential":
        raise ActionError(f"execution.run: mode '{mode}' (git worktrees, CLI-agent planning) is not supported by "
                          "TEA Studio; use mode sequential, or export and run with tea")
    folder = settings.get("working_directory")
    cwd = context.resolve_path(str(folder)) if folder else context.workflow_dir
    results, current, completed, error = [], dict(state), 0, None
    for i, task in enumerate(params["tasks"]):
        task = task if isinstance(task, dict) else {"command": str(task)}
        task_id = str(task.get("id", f"task-{i}"))
        context.log(f"execution.run: task {i + 1}/{len(params['tasks'])}: {task_id}")
        result = _task(task, cwd, float(params["timeout"]), context)
        results.append({"task_id": task_id, "success": result.get("success", True), "output": result})
        if result.get("success", True):
            completed += 1
            current = {**current, **result}
        else:
            error = {"task_id": task_id, "error": result.get("error", "Unknown error")}
            context.log(f"execution.run: task {task_id} failed: {error['error']}", "warning")
    status = "error" if params["tasks"] and not completed else "success" if error is None else "partial"
    return {"mode": "sequential", "status": status, "tasks_completed": completed, "tasks_total": len(params["tasks"]),
            "results": results, "final_state": current, "error": error}
