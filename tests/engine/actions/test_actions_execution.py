"""execution.run in TEA's sequential mode with real shell commands in the workflow's folder (upstream
examples/workflows/sequential-execution.yaml)."""

from __future__ import annotations

import textwrap
import threading
import time

import pytest

from tea_studio.engine.runner import RunControl, RunError, WorkflowRun
from tea_studio.workflow.yaml_io import load_workflow

FLOW = """
settings:
  execution: {mode: sequential}
initial_state:
  tasks:
    - {id: task-1, command: "mkdir -p src && echo 'Project initialized' > .initialized"}
    - {id: task-2, command: "echo 'def main(): pass' > src/main.py"}
    - {id: task-3, command: "echo broken >&2; exit 3"}
    - id: task-4
      steps: [{name: one, run: "echo one > steps.txt"}, {name: two, run: "echo two >> steps.txt"}]
    - {id: task-5, description: nothing to run}
nodes:
  - name: run_tasks
    uses: execution.run
    with: {tasks: "{{ state.tasks }}"}
    output: results
"""


def run_file(tmp_path, text, control=None):
    path = tmp_path / "flow.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return WorkflowRun(load_workflow(str(path)), control=control).run()


def test_sequential_tasks_run_their_commands_in_the_workflow_folder(tmp_path):
    results = run_file(tmp_path, FLOW)["results"]
    assert (tmp_path / ".initialized").read_text() == "Project initialized\n"
    assert (tmp_path / "src" / "main.py").exists() and (tmp_path / "steps.txt").read_text() == "one\ntwo\n"
    assert (results["status"], results["tasks_completed"], results["tasks_total"]) == ("partial", 4, 5)
    assert results["error"] == {"task_id": "task-3", "error": "broken\n"}
    assert [r["success"] for r in results["results"]] == [True, True, False, True, True]
    assert results["results"][2]["output"]["returncode"] == 3


def test_worktree_modes_are_a_located_error(tmp_path):
    with pytest.raises(RunError, match="mode 'parallel' .* is not supported by TEA Studio") as info:
        run_file(tmp_path, FLOW.replace("mode: sequential", "mode: parallel"))
    assert info.value.node == "run_tasks"


def test_stop_kills_a_running_task_within_a_second(tmp_path):
    control = RunControl()
    marker = tmp_path / "started"
    text = FLOW.replace('"mkdir -p src', f'"touch {marker} && sleep 30 && mkdir -p src')
    outcome = []
    worker = threading.Thread(target=lambda: outcome.append(_stopped(tmp_path, text, control)))
    worker.start()
    deadline = time.monotonic() + 10
    while not marker.exists() and time.monotonic() < deadline:
        worker.join(0.02)  # the marker says the task's command is running
    stopped_at = time.monotonic()
    control.stop()
    worker.join(10)
    assert outcome == ["stopped"] and time.monotonic() - stopped_at < 1.0
    assert not (tmp_path / ".initialized").exists()


def _stopped(tmp_path, text, control):
    try:
        run_file(tmp_path, text, control)
    except RunError as exc:
        return str(exc)
    return "finished"
