"""Hostile workflow files and inputs: bounded YAML (aliases, depth), bounded --input, one located line each."""

import json

import pytest
from security_helpers import run_cli, timed_cli

from tea_studio.workflow.inputs import InputError, parse_inputs
from tea_studio.workflow.yaml_io import WorkflowError, load_workflow_text


def billion_laughs(levels: int = 9) -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        previous, current = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{current}: &{current} [" + ",".join([f"*{previous}"] * 9) + "]")
    return "name: laughs\n" + "\n".join(lines) + "\nnodes:\n  - name: n\n    run: return {}\n"


@pytest.mark.parametrize("command", ["validate", "run", "export", "layout"])
def test_billion_laughs_is_refused_in_well_under_a_second_with_one_located_line(workflow_file, command):
    path = workflow_file(billion_laughs())
    args = [command, path] + (["-o", "-"] if command == "export" else [])
    code, out, err, seconds = timed_cli(*args)
    assert code == 1
    lines = [line for line in (out + err).splitlines() if "aliases expand" in line]
    assert len(lines) == 1 and lines[0].startswith(f"{path}:7:4:"), out + err
    assert "Traceback" not in err
    assert seconds < 10  # a whole process start; the load itself is timed below


@pytest.mark.parametrize("depth", [200, 100_000])
@pytest.mark.parametrize("command", ["validate", "run", "export", "layout"])
def test_deep_nesting_is_refused_with_one_located_line(workflow_file, command, depth):
    path = workflow_file("name: deep\nnodes:\n  - name: n\n    run: return {}\ninitial_state: "
                         + "[" * depth + "]" * depth + "\n")
    args = [command, path] + (["-o", "-"] if command == "export" else [])
    code, out, err, seconds = timed_cli(*args)
    assert code == 1 and "Traceback" not in err
    lines = [line for line in (out + err).splitlines() if "invalid YAML" in line and "nest" in line]
    assert len(lines) == 1 and lines[0].startswith(f"{path}:5:"), out + err
    assert seconds < 10


def test_alias_and_depth_bounds_answer_fast_in_process():
    import time

    began = time.perf_counter()
    with pytest.raises(WorkflowError, match="aliases expand") as caught:
        load_workflow_text(billion_laughs())
    assert caught.value.line == 7
    deep = "name: x\nnodes: []\nstate: " + "[" * 500 + "]" * 500 + "\n"
    with pytest.raises(WorkflowError, match="nested more than 64 levels") as caught:
        load_workflow_text(deep)
    assert caught.value.line == 3
    cyclic = "name: x\nstate: &a {k: [*a]}\nnodes: []\n"
    with pytest.raises(WorkflowError, match="alias refers to a collection it is inside"):
        load_workflow_text(cyclic)
    assert time.perf_counter() - began < 0.5


def test_moderate_aliases_still_load():
    text = "name: x\ninitial_state:\n  base: &b {a: 1, b: [1, 2]}\n  copy: *b\nnodes:\n  - name: n\n    run: return {}\n"
    assert load_workflow_text(text).initial_state["copy"] == {"a": 1, "b": [1, 2]}


def test_input_from_dev_zero_is_a_bounded_read_and_exit_2(workflow_file):
    path = workflow_file("name: w\nnodes:\n  - name: a\n    run: return {}\n")
    code, _out, err = run_cli("run", path, "--input", "@/dev/zero")
    assert code == 2 and err.strip().startswith("error: input file /dev/zero is larger than")


def test_deep_json_input_exits_2_with_one_line(tmp_path, workflow_file):
    path = workflow_file("name: w\nnodes:\n  - name: a\n    run: return {}\n")
    deep = tmp_path / "deep.json"
    deep.write_text('{"a":' * 100_000 + "1" + "}" * 100_000)
    for given in (f"@{deep}", '{"a":' * 20_000 + "1" + "}" * 20_000):  # (one argument holds at most 128 KiB)
        code, _out, err = run_cli("run", path, "--input", given)
        assert code == 2, err
        assert len(err.strip().splitlines()) == 1 and "64 levels" in err


def test_a_yaml_error_in_an_input_file_does_not_echo_the_file(tmp_path):
    bad = tmp_path / "in.yaml"
    bad.write_text("password: hunter2-secret\n  bad: [x\n")
    with pytest.raises(InputError) as caught:
        parse_inputs(f"@{bad}")
    assert "hunter2" not in str(caught.value) and "line 2" in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("given", ['{"a": NaN}', '{"a": Infinity}', '{"a": -Infinity}', "[1]", '"text"', "{"])
def test_json_inputs_are_plain_json_objects(given):
    with pytest.raises(InputError):
        parse_inputs(given)


def test_yaml_nan_in_an_input_file_is_refused(tmp_path):
    path = tmp_path / "in.yml"
    path.write_text("a: .nan\n")
    with pytest.raises(InputError, match="not a JSON number"):
        parse_inputs(f"@{path}")
    path.write_text("a: [1, {b: 2}]\n")
    assert parse_inputs(f"@{path}") == {"a": [1, {"b": 2}]}
    assert json.dumps(parse_inputs('{"x": {"y": [1, 2.5]}}')) == '{"x": {"y": [1, 2.5]}}'


def test_names_with_terminal_controls_are_printed_plain(workflow_file):
    path = workflow_file('name: x\nnodes:\n  - name: "a\\e[31mred"\n    language: lua\n    run: return {}\n'
                         '    goto: "ghost\\e]0;title\\a"\n')
    for command in ("validate", "run"):
        code, out, err = run_cli(command, path)
        assert code == 1
        assert "\x1b" not in out + err and "\x07" not in out + err
        assert "node 'ared': goto target 'ghost' is not a node" in out + err


@pytest.mark.parametrize("given", ['{"a": "\\ud800"}', '{"k": {"\\udfff": 1}}', '{"a": ["x", "\\udc00y"]}'])
def test_lone_surrogates_in_input_are_refused_in_one_line(given, workflow_file):
    """JSON escapes can make text no UTF-8 file or Lua string can hold: refused at the boundary (exit 2), never
    an encoding error inside a node."""
    with pytest.raises(InputError, match="not valid Unicode"):
        parse_inputs(given)
    path = workflow_file("name: w\nnodes:\n  - name: a\n    language: lua\n    run: return { v = state.a }\n")
    code, _out, err = run_cli("run", path, "--input", given)
    assert code == 2 and err.strip() == "error: --input has text that is not valid Unicode (a lone surrogate such " \
                                         "as \\ud800)"
    assert parse_inputs('{"a": "\\ud83d\\ude00 é"}') == {"a": "\U0001f600 é"}  # a proper pair is one character
