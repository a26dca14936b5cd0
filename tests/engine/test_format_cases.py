"""FORMAT.md rule by rule: every case of tests/engine/cases through the real `tea-studio` command, in-process.

The folder uses the conformance format (NN-slug.yaml + NN-slug.case.json), so the shared runner runs it too:
``python3 ../shared/conformance/run_cases.py tests/engine/cases --prefix ".venv/bin/python -m tea_studio"``.
"""

from __future__ import annotations

import json
import pathlib
import time

import pytest
from support import case_files, case_slug, check_run_case, check_validate_case, load_case

from tea_studio.cli import main

CASES_DIR = pathlib.Path(__file__).parent / "cases"
RUN_CASES = case_files(CASES_DIR, "run")
VALIDATE_CASES = case_files(CASES_DIR, "validate")


@pytest.mark.parametrize("path", RUN_CASES, ids=case_slug)
def test_run_case(path, capsys):
    case, workflow = load_case(path)
    began = time.monotonic()
    code = main(["run", workflow, "--input", json.dumps(case.get("input", {}))])
    seconds = time.monotonic() - began
    out, err = capsys.readouterr()
    check_run_case(case, code, out, err, seconds)
    assert "Traceback" not in err and "internal error" not in err


@pytest.mark.parametrize("path", VALIDATE_CASES, ids=case_slug)
def test_validate_case(path, capsys):
    case, workflow = load_case(path)
    code = main(["validate", workflow])
    check_validate_case(case["expect"], code, capsys.readouterr().out, workflow)


def test_every_case_is_complete():
    """Each case has its workflow, says what it checks, and the folder covers FORMAT.md widely."""
    for path in RUN_CASES + VALIDATE_CASES:
        case, workflow = load_case(path)
        assert pathlib.Path(workflow).is_file(), workflow
        assert case["checks"] and "deviation" in case and "tea_parity" in case, path.name
    assert len(RUN_CASES) + len(VALIDATE_CASES) >= 40


def test_yaml_input_file_uses_yaml_11_and_merges_over_initial_state(tmp_path, capsys):
    """`--input @state.yaml` reads YAML 1.1 (an unquoted `on` is true) and wins over initial_state key by key."""
    workflow = tmp_path / "flow.yaml"
    workflow.write_text("name: merge\ninitial_state: {flag: false, kept: 1, cfg: {a: 1}}\nnodes:\n"
                        "  - name: read\n    language: lua\n    run: |\n"
                        "      return { flag_type = type(state.flag), has_a = state.cfg.a ~= nil }\n", encoding="utf-8")
    inputs = tmp_path / "state.yaml"
    inputs.write_text("flag: on\ncfg: {b: 2}\n", encoding="utf-8")
    assert main(["run", str(workflow), "--input", f"@{inputs}"]) == 0
    state = json.loads(capsys.readouterr().out)
    assert state == {"flag": True, "kept": 1, "cfg": {"b": 2}, "flag_type": "boolean", "has_a": False}


def test_stream_ends_with_the_state_that_output_file_holds(tmp_path, capsys):
    """`--stream -o OUT`: one JSON object per line, the last `run_finished` with the same state OUT.json holds;
    a warning for a failing condition is an event naming the node and the expression."""
    _, workflow = load_case(next(p for p in RUN_CASES if "else-edge-on-failing" in p.name))
    out_file = tmp_path / "out.json"
    assert main(["run", workflow, "--stream", "-o", str(out_file)]) == 0
    out, err = capsys.readouterr()
    events = [json.loads(line) for line in out.splitlines()]
    assert events[0]["type"] == "run_started" and events[-1]["type"] == "run_finished"
    assert events[-1]["state"] == json.loads(out_file.read_text(encoding="utf-8")) == {"size": "small"}
    warnings = [e for e in events if e["type"] == "warning"]
    assert warnings and all(w["node"] == "check" and "state.n > 3" in w["message"] for w in warnings)
    assert "warning: condition 'state.n > 3'" in err
