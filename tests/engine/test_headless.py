"""`tea-studio run`: output, exit codes, --input forms, --stream, -o, strategies, errors located in the file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tea_studio.cli import main

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SIMPLE = """
name: simple
initial_state: {base: 1, over: "initial"}
nodes:
  - {name: add, language: lua, run: "print('adding') return { total = state.base + state.n, ratio = 0.5 }"}
"""


@pytest.fixture
def flow_file(tmp_path):
    def write(text: str, name: str = "flow.yaml") -> str:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return str(path)

    return write


def test_prints_the_final_state_as_one_json_document(flow_file, capsys):
    code = main(["run", flow_file(SIMPLE), "--input", '{"n": 2, "over": "input"}'])
    out, err = capsys.readouterr()
    assert code == 0
    assert json.loads(out) == {"base": 1, "over": "input", "n": 2, "total": 3, "ratio": 0.5}
    assert type(json.loads(out)["total"]) is int
    assert "adding" in err


def test_input_from_json_and_yaml_files_and_output_file(flow_file, tmp_path, capsys):
    (tmp_path / "in.json").write_text('{"n": 5}')
    (tmp_path / "in.yaml").write_text("n: 7\n")
    out_file = tmp_path / "out.json"
    assert main(["run", flow_file(SIMPLE), "--input", f"@{tmp_path / 'in.json'}", "-o", str(out_file)]) == 0
    assert json.loads(out_file.read_text())["total"] == 6
    assert main(["run", flow_file(SIMPLE), "--input", f"@{tmp_path / 'in.yaml'}"]) == 0
    assert json.loads(capsys.readouterr().out.split("\n}\n")[-2] + "\n}")["total"] == 8


@pytest.mark.parametrize("bad", ['{"n": ', "[1, 2]", "@/nonexistent/state.json"])
def test_usage_errors_exit_2(flow_file, capsys, bad):
    assert main(["run", flow_file(SIMPLE), "--input", bad]) == 2
    assert capsys.readouterr().err.startswith("error: ")


@pytest.mark.parametrize("address", ["localhost", "http://127.0.0.1:8786", "tcp://127.0.0.1:70000"])
def test_a_dask_scheduler_option_that_cannot_name_one_is_a_usage_error(flow_file, capsys, address):
    with pytest.raises(SystemExit) as exited:
        main(["run", flow_file(SIMPLE), "--dask-scheduler", address])
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith(
        f"argument --dask-scheduler: '{address}' is not a Dask scheduler address: write tcp://host:port")


def test_run_failure_exits_1_with_one_error_line(flow_file, capsys):
    path = flow_file("nodes:\n  - name: explode\n    language: lua\n    run: |\n      local a\n      return a.b\n")
    assert main(["run", path]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.strip().splitlines()[-1] == "error: node 'explode' line 2: attempt to index a nil value (local 'a')"


def test_load_error_is_located_in_the_file(flow_file, capsys):
    path = flow_file("nodes:\n  - name: a\n    run: [unclosed\n")
    assert main(["run", path]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{path}:") and err.split(":")[1].isdigit()


def test_validation_errors_stop_the_run_before_it_starts(flow_file, capsys):
    path = flow_file("nodes:\n  - {name: a, language: lua, run: \"return { ran = true }\", goto: nowhere}\n")
    assert main(["run", path]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "GOTO_UNDEFINED" in err and f"{path}:2:" in err


def test_stream_prints_one_event_per_line_ending_with_run_finished(flow_file, capsys):
    assert main(["run", flow_file(SIMPLE), "--input", '{"n": 1}', "--stream"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [e["type"] for e in lines] == ["run_started", "node_started", "log_line", "node_finished",
                                          "run_finished"]
    assert lines[-1]["state"]["total"] == 2 and lines[0]["t"] == 0.0
    assert all(e["t"] >= 0 for e in lines) and lines[2]["node"] == "add"


def test_stream_failure_ends_with_run_failed(flow_file, capsys):
    path = flow_file("nodes:\n  - {name: bad, language: lua, run: \"error('nope', 0)\"}\n")
    assert main(["run", path, "--stream"]) == 1
    out, err = capsys.readouterr()
    last = json.loads(out.splitlines()[-1])
    assert last["type"] == "run_failed" and last["node"] == "bad" and "nope" in last["error"]
    assert "error: node 'bad': nope" in err


def test_breakpoints_continue_without_a_terminal(flow_file, capsys):
    path = flow_file("config: {interrupt_before: [b]}\nnodes:\n  - {name: a}\n"
                     "  - {name: b, language: lua, run: \"return { b = 1 }\"}\n")
    assert main(["run", path, "--stream"]) == 0
    types = [json.loads(line)["type"] for line in capsys.readouterr().out.splitlines()]
    assert "paused" in types and "resumed" in types and types[-1] == "run_finished"


PARALLEL = """
nodes:
  - {name: fork, language: lua, run: "return { base = 2 }"}
  - {name: a, language: lua, run: "return { part = state.base + 1 }"}
  - {name: b, language: lua, run: "return { part = state.base * 10 }"}
  - {name: join, language: lua, run: "return { sum = state.parallel_results[1].part + state.parallel_results[2].part }"}
edges:
  - {from: fork, to: a, type: parallel, fan_in: join}
  - {from: fork, to: b, type: parallel, fan_in: join}
  - {from: a, to: join}
  - {from: b, to: join}
  - {from: join, to: __end__}
"""


def test_strategy_option(flow_file, capsys):
    path = flow_file(PARALLEL)
    assert main(["run", path, "--strategy", "thread"]) == 0
    assert json.loads(capsys.readouterr().out)["sum"] == 23
    assert main(["run", path, "--strategy", "process"]) == 0
    assert json.loads(capsys.readouterr().out)["sum"] == 23


def _subprocess(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tea_studio", "run", *args], capture_output=True, text=True,
                          input=stdin, cwd=REPO, timeout=60)


def test_subprocess_process_strategy(flow_file):
    result = _subprocess(flow_file(PARALLEL), "--strategy", "process")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["sum"] == 23


def test_subprocess_ctrl_c_stops_cleanly_with_130(flow_file):
    import signal
    import time

    path = flow_file("nodes:\n  - {name: spin, language: lua, run: \"while true do end\"}\n")
    # A shell's background job ignores SIGINT and children inherit that: give the child the default handling.
    process = subprocess.Popen([sys.executable, "-m", "tea_studio", "run", path, "--stream"], cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    for line in process.stdout:
        if json.loads(line)["type"] == "node_started":
            break
    began = time.monotonic()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=10)
    assert process.returncode == 130 and time.monotonic() - began < 5
    assert "stopped" in err


def test_stream_keeps_every_event_in_order_per_branch(flow_file, capsys):
    """The stream is written by its own thread in batches: nothing is lost and each branch reads in order."""
    nodes = ["  - {name: fork, language: lua, run: 'return {}'}"]
    edges = []
    for b in range(4):
        chain = [f"b{b}_{i}" for i in range(30)]
        nodes += [f"  - {{name: {n}, language: lua, run: 'print(\"{n}\") return {{ {n} = 1 }}'}}" for n in chain]
        edges.append(f"  - {{from: fork, to: {chain[0]}, type: parallel, fan_in: join}}")
        edges += [f"  - {{from: {x}, to: {y}}}" for x, y in zip(chain, chain[1:], strict=False)]
        edges.append(f"  - {{from: {chain[-1]}, to: join}}")
    nodes.append("  - {name: join, language: lua, run: 'return {}'}")
    edges.append("  - {from: join, to: __end__}")
    path = flow_file("nodes:\n" + "\n".join(nodes) + "\nedges:\n" + "\n".join(edges) + "\n")
    assert main(["run", path, "--stream"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert events[0]["type"] == "run_started" and events[-1]["type"] == "run_finished"
    for b in range(4):
        mine = [e for e in events if e.get("branch") == f"b{b}_0"]
        assert [e["type"] for e in mine[:2]] == ["branch_started", "node_started"]
        assert [e["node"] for e in mine if e["type"] == "node_finished"] == [f"b{b}_{i}" for i in range(30)]
        assert [e["text"] for e in mine if e["type"] == "log_line"] == [f"b{b}_{i}" for i in range(30)]
        assert mine[-1]["type"] == "branch_finished"


def test_stream_into_a_closed_pipe_stops_quietly(flow_file):
    """``tea-studio run --stream | head -1``: the reader goes away, the run stops, nothing on stderr."""
    path = flow_file("nodes:\n" + "".join(f"  - {{name: n{i}, language: lua, run: 'return {{ x = {i} }}'}}\n"
                                           for i in range(3000)))
    process = subprocess.Popen([sys.executable, "-m", "tea_studio", "run", path, "--stream"], cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    assert json.loads(process.stdout.readline())["type"] == "run_started"
    process.stdout.close()
    err = process.stderr.read()
    assert process.wait(30) == 141
    assert err == b""
