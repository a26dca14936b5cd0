"""A killed ``tea-studio run`` leaves nothing behind: every process it started (branch workers, and any helper
such as a forkserver or resource tracker) ends with it, and no temporary folder stays, whether it is stopped
with Ctrl-C, SIGTERM or SIGKILL (which runs no handler: the workers must notice on their own)."""

import json
import os
import select
import signal
import subprocess
import sys

import pytest
from support import CPU_BOUND_PROCESS_FORK


def descendants(pid: int) -> set[int]:
    """Every living process below ``pid`` (children of all its threads, recursively)."""
    found, todo = set(), [pid]
    while todo:
        parent = todo.pop()
        try:
            threads = os.listdir(f"/proc/{parent}/task")
        except FileNotFoundError:
            continue
        for thread in threads:
            try:
                with open(f"/proc/{parent}/task/{thread}/children") as children:
                    kids = {int(child) for child in children.read().split()}
            except FileNotFoundError:
                continue
            todo.extend(kids - found)
            found |= kids
    return found


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["Ctrl-C", "SIGTERM",
                                                                                          "SIGKILL"])
def test_a_killed_run_leaves_no_process_and_no_temporary_folder(tmp_path, signum):
    path = tmp_path / "cpu.yaml"
    path.write_text(CPU_BOUND_PROCESS_FORK, encoding="utf-8")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    run = subprocess.Popen([sys.executable, "-m", "tea_studio", "run", str(path), "--stream"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    busy = set()
    for line in run.stdout:  # both CPU-bound branches are running in their workers
        event = json.loads(line)
        if event["type"] == "branch_started":
            busy.add(int(event["where"].split()[1]))
            if len(busy) == 2:
                break
    started = descendants(run.pid)
    assert busy <= started
    handles = {}
    for pid in started:
        try:
            handles[pid] = os.pidfd_open(pid)
        except ProcessLookupError:
            pass
    try:
        run.send_signal(signum)
        run.wait(30)
        run.stdout.close()
        for pid, handle in handles.items():  # waits on each process's end (pidfd), no polling
            assert select.select([handle], [], [], 15)[0], f"process {pid} outlived the killed run"
    finally:
        for handle in handles.values():
            os.close(handle)
    assert [name for name in os.listdir(scratch)] == []
